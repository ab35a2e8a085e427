/* SRTP throughput: protect and unprotect of 172-byte RTP packets (160-byte
 * payload, AES_CM_128_HMAC_SHA1_80) on 1 and 2 threads, each thread with its
 * own contexts as the workers have; and the srtp_create + destroy rate with
 * no other context alive. Stock libsrtp2 types (NSS in Debian's build) vs the
 * OpenSSL types, in one process: global init, measure, shutdown, next.
 *
 * Every figure is the median of --runs runs. Rates are per thread, from wall
 * time and from the thread's CPU time (another process on the machine
 * inflates wall time, not CPU time). NSS_InitContext is interposed to count
 * whether srtp_create still reaches NSS. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media/srtp_ctx.h"
#include "media/srtp_ossl.h"

#define PAYLOAD 160
#define PKT_LEN (12 + PAYLOAD)
#define BATCH 1024
#define MAX_THREADS 8

/* ---- NSS probe: counts libsrtp2's NSS_InitContext calls, then forwards. ---- */
static long nss_inits;
void *NSS_InitContext(const char *configdir, const char *cert_prefix, const char *key_prefix,
                      const char *secmod_name, void *init_params, unsigned int flags);
void *NSS_InitContext(const char *configdir, const char *cert_prefix, const char *key_prefix,
                      const char *secmod_name, void *init_params, unsigned int flags)
{
    static void *(*real)(const char *, const char *, const char *, const char *, void *, unsigned int);
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "NSS_InitContext");
    __atomic_add_fetch(&nss_inits, 1, __ATOMIC_RELAXED);
    return real ? real(configdir, cert_prefix, key_prefix, secmod_name, init_params, flags) : NULL;
}

static double now(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const uint8_t key[SBC_SRTP_KEY_LEN] = {
    0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41,
    0x39, 0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6,
};

static void rtp(uint8_t *p, uint32_t ssrc, uint16_t seq)
{
    memset(p, 0, PKT_LEN);
    p[0] = 0x80;
    p[2] = (uint8_t)(seq >> 8);
    p[3] = (uint8_t)seq;
    p[8] = (uint8_t)(ssrc >> 24);
    p[9] = (uint8_t)(ssrc >> 16);
    p[10] = (uint8_t)(ssrc >> 8);
    p[11] = (uint8_t)ssrc;
    for (int i = 12; i < PKT_LEN; i++)
        p[i] = (uint8_t)(i * 37 + seq);
}

enum op { OP_PROTECT, OP_UNPROTECT };

struct job {
    enum op op;
    long packets;
    uint32_t ssrc;
    pthread_barrier_t *go;
    double wall, cpu;
    long errors;
};

static void *run_job(void *arg)
{
    struct job *j = arg;
    char err[256];
    static __thread uint8_t ring[BATCH][PKT_LEN + SBC_SRTP_MAX_TRAILER];
    static __thread int lens[BATCH];
    uint8_t p[PKT_LEN + SBC_SRTP_MAX_TRAILER];
    sbc_srtp_t *tx = sbc_srtp_create(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key, true, err, sizeof(err));
    sbc_srtp_t *rx = sbc_srtp_create(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key, false, err, sizeof(err));
    if (tx == NULL || rx == NULL) {
        fprintf(stderr, "bench: %s\n", err);
        exit(1);
    }
    uint32_t seq = 0;
    pthread_barrier_wait(j->go);
    for (long done = 0; done < j->packets; done += BATCH) {
        if (j->op == OP_PROTECT) {
            double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_THREAD_CPUTIME_ID);
            for (int i = 0; i < BATCH; i++) {
                int len = PKT_LEN;
                rtp(p, j->ssrc, (uint16_t)seq++);
                if (sbc_srtp_protect(tx, p, &len) != SBC_SRTP_OK)
                    j->errors++;
            }
            j->wall += now(CLOCK_MONOTONIC) - w0;
            j->cpu += now(CLOCK_THREAD_CPUTIME_ID) - c0;
        } else {
            for (int i = 0; i < BATCH; i++) {       /* untimed: the sender side */
                lens[i] = PKT_LEN;
                rtp(ring[i], j->ssrc, (uint16_t)seq++);
                if (sbc_srtp_protect(tx, ring[i], &lens[i]) != SBC_SRTP_OK)
                    j->errors++;
            }
            double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_THREAD_CPUTIME_ID);
            for (int i = 0; i < BATCH; i++) {
                int len = lens[i];
                if (sbc_srtp_unprotect(rx, ring[i], &len) != SBC_SRTP_OK || len != PKT_LEN)
                    j->errors++;
            }
            j->wall += now(CLOCK_MONOTONIC) - w0;
            j->cpu += now(CLOCK_THREAD_CPUTIME_ID) - c0;
        }
    }
    sbc_srtp_destroy(tx);
    sbc_srtp_destroy(rx);
    return NULL;
}

/* Per-thread rate (packets/s) of one run: mean over the threads. */
static void one_run(enum op op, int threads, long packets, double *wall_rate, double *cpu_rate)
{
    pthread_t th[MAX_THREADS];
    struct job jobs[MAX_THREADS];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)threads);
    for (int t = 0; t < threads; t++) {
        jobs[t] = (struct job){.op = op, .packets = packets, .ssrc = 0x1000u + (uint32_t)t, .go = &go};
        pthread_create(&th[t], NULL, run_job, &jobs[t]);
    }
    *wall_rate = *cpu_rate = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        if (jobs[t].errors) {
            fprintf(stderr, "bench: %ld SRTP errors\n", jobs[t].errors);
            exit(1);
        }
        *wall_rate += (double)packets / jobs[t].wall / threads;
        *cpu_rate += (double)packets / jobs[t].cpu / threads;
    }
    pthread_barrier_destroy(&go);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* srtp_create + destroy of one outbound context, for at most max_s seconds. */
static double create_rate(bool keeper, double max_s, long *nss_per_create)
{
    char err[256];
    sbc_srtp_t *keep = NULL;
    if (keeper)
        keep = sbc_srtp_create(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key, false, err, sizeof(err));
    long n = 0, nss0 = __atomic_load_n(&nss_inits, __ATOMIC_RELAXED);
    double t0 = now(CLOCK_MONOTONIC), t;
    do {
        for (int i = 0; i < 16; i++, n++) {
            sbc_srtp_t *s = sbc_srtp_create(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key, true, err, sizeof(err));
            if (s == NULL) {
                fprintf(stderr, "bench: %s\n", err);
                exit(1);
            }
            sbc_srtp_destroy(s);
        }
        t = now(CLOCK_MONOTONIC) - t0;
    } while (t < max_s && n < 2000000);
    *nss_per_create = (__atomic_load_n(&nss_inits, __ATOMIC_RELAXED) - nss0) / n;
    sbc_srtp_destroy(keep);
    return (double)n / t;
}

int main(int argc, char **argv)
{
    long packets = 1000000;
    int runs = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--packets") == 0)
            packets = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
    }
    if (runs < 1 || runs > 99 || packets < BATCH) {
        fprintf(stderr, "usage: bench_srtp [--packets N>=%d] [--runs 1-99]\n", BATCH);
        return 2;
    }
    static const struct { enum sbc_srtp_crypto c; const char *name; } cryptos[] = {
        {SBC_SRTP_CRYPTO_STOCK, "stock (NSS)"},
        {SBC_SRTP_CRYPTO_OPENSSL, "OpenSSL types"},
    };
    printf("# %ld packets of %d bytes per thread per run, median of %d runs; HMAC: %s\n", packets, PKT_LEN,
           runs, sbc_srtp_ossl_hmac_impl());
    printf("%-14s %-10s %3s %14s %14s %9s\n", "crypto", "op", "thr", "pkt/s/thread", "pkt/s/cpu-s", "us/pkt");
    for (size_t c = 0; c < 2; c++) {
        char err[256];
        if (sbc_srtp_global_init_crypto(cryptos[c].c, err, sizeof(err)) != 0) {
            fprintf(stderr, "bench: %s\n", err);
            return 1;
        }
        for (int threads = 1; threads <= 2; threads++) {
            for (int op = OP_PROTECT; op <= OP_UNPROTECT; op++) {
                double w[99], cpu[99];
                for (int r = 0; r < runs; r++)
                    one_run((enum op)op, threads, packets, &w[r], &cpu[r]);
                double mw = median(w, runs), mc = median(cpu, runs);
                printf("%-14s %-10s %3d %14.0f %14.0f %9.3f\n", cryptos[c].name,
                       op == OP_PROTECT ? "protect" : "unprotect", threads, mw, mc, 1e6 / mc);
                fflush(stdout);
            }
        }
        for (int keeper = 0; keeper <= 1; keeper++) {
            double v[99];
            long nss = 0;
            for (int r = 0; r < runs; r++)
                v[r] = create_rate(keeper, 1.0, &nss);
            printf("%-14s %-10s %3d %14.0f %14s %9s  (srtp_create+destroy/s, %s; NSS_InitContext per create: %ld)\n",
                   cryptos[c].name, "create", 1, median(v, runs), "-", "-",
                   keeper ? "one other context alive" : "no other context alive", nss);
            fflush(stdout);
        }
        sbc_srtp_global_shutdown();
    }
    return 0;
}
