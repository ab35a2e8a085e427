/* Byte identity of the OpenSSL crypto types with the stock libsrtp2 types.
 *
 * Registration replaces the types inside libsrtp2's global crypto kernel, so
 * both cannot be live at once. This one binary runs the same workload twice:
 *   1. sbc_srtp_global_init_crypto(STOCK): the distribution's types (NSS in
 *      Debian's build); every protect output, and every unprotect output and
 *      status, is recorded in memory; then sbc_srtp_global_shutdown();
 *   2. sbc_srtp_global_init_crypto(OPENSSL): the same workload, each output
 *      compared byte for byte with the record.
 * The unprotect inputs of both runs are the packets the stock run protected,
 * with reordering, replays and tampered copies mixed in. Streams cross the
 * 2^16 sequence wrap (one twice, ROC 0 -> 2), use both suites, an MKI, two
 * SSRCs on one context, CSRCs, header extensions, and payloads of 0-1400
 * bytes; SRTCP rides along. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <srtp2/cipher.h>

#include "media/srtp_ctx.h"
#include "media/srtp_ossl.h"
#include "tests/srtp/rtp_build.h"

/* Exported by libsrtp2.so but declared only in its private crypto_kernel.h:
 * used here to prove which implementation each run used. */
const srtp_cipher_type_t *srtp_crypto_kernel_get_cipher_type(srtp_cipher_type_id_t id);

#define BUF (1500 + SBC_SRTP_MAX_TRAILER)

struct stream_def {
    enum sbc_srtp_suite suite;
    uint64_t seed;
    uint32_t ssrc, ssrc2;           /* ssrc2 != 0: alternate two SSRCs on one context */
    uint32_t seq0;
    int count;
    int max_payload;                /* random 0..max; 0 = the fixed size list */
    unsigned int mki_len;
};

static const struct stream_def streams[] = {
    {SBC_SRTP_AES_CM_128_HMAC_SHA1_80, 1, 0x11111111, 0x22222222, 64000, 4000, 0, 0},
    {SBC_SRTP_AES_CM_128_HMAC_SHA1_32, 2, 0x33333333, 0, 0, 2000, 400, 0},
    {SBC_SRTP_AES_CM_128_HMAC_SHA1_80, 3, 0x44444444, 0, 65500, 66000, 32, 0},
    {SBC_SRTP_AES_CM_128_HMAC_SHA1_80, 4, 0x55555555, 0, 65530, 600, 200, 1},
    {SBC_SRTP_AES_CM_128_HMAC_SHA1_32, 5, 0x66666666, 0, 32767, 1500, 1400, 4},
};
#define N_STREAMS (sizeof(streams) / sizeof(streams[0]))

static const int fixed_sizes[] = {0, 1, 2, 15, 16, 17, 31, 32, 33, 160, 172, 320, 1000, 1400};

/* One record per operation: status, length, bytes (when OK). */
struct journal {
    uint8_t *buf;
    size_t used, cap, cursor;
    bool checking;
    long ops, bytes;
    long by_status[4];              /* OK, E_AUTH, E_REPLAY, E_OTHER */
};

/* The stock run's protected packets: the unprotect inputs of both runs. */
struct wire {
    uint8_t *pkt;
    int len;
};

static struct journal J;
static struct wire *rtp_wire[N_STREAMS], *rtcp_wire[N_STREAMS];
static int rtcp_count[N_STREAMS];

static void journal_put(const void *p, size_t n)
{
    if (J.used + n > J.cap) {
        J.cap = (J.cap + n) * 2;
        J.buf = realloc(J.buf, J.cap);
        assert_non_null(J.buf);
    }
    memcpy(J.buf + J.used, p, n);
    J.used += n;
}

static void journal(const char *what, int si, int i, enum sbc_srtp_status st, const uint8_t *p, int len)
{
    int32_t hdr[2] = {(int32_t)st, st == SBC_SRTP_OK ? len : 0};
    J.ops++;
    J.by_status[-(int)st]++;
    if (!J.checking) {
        journal_put(hdr, sizeof(hdr));
        if (st == SBC_SRTP_OK)
            journal_put(p, (size_t)len);
        return;
    }
    int32_t want[2];
    assert_true(J.cursor + sizeof(want) <= J.used);
    memcpy(want, J.buf + J.cursor, sizeof(want));
    J.cursor += sizeof(want);
    if (want[0] != hdr[0] || want[1] != hdr[1])
        fail_msg("%s stream %d op %d: stock status %d len %d, openssl status %d len %d", what, si, i, want[0],
                 want[1], hdr[0], hdr[1]);
    if (st == SBC_SRTP_OK) {
        if (memcmp(J.buf + J.cursor, p, (size_t)len) != 0)
            fail_msg("%s stream %d op %d: %d bytes differ", what, si, i, len);
        J.cursor += (size_t)len;
        J.bytes += len;
    }
}

static sbc_srtp_t *ctx(const struct stream_def *d, const uint8_t *key, bool out)
{
    char err[256] = "";
    sbc_srtp_t *s = d->mki_len ? sbc_srtp_create_mki(d->suite, key, 1, d->mki_len, out, err, sizeof(err))
                               : sbc_srtp_create(d->suite, key, out, err, sizeof(err));
    if (s == NULL)
        fail_msg("create: %s", err);
    return s;
}

static void store(struct wire *w, const uint8_t *p, int len)
{
    w->pkt = malloc((size_t)len);
    assert_non_null(w->pkt);
    memcpy(w->pkt, p, (size_t)len);
    w->len = len;
}

static void protect_stream(int si, bool record_wire)
{
    const struct stream_def *d = &streams[si];
    uint64_t rng = d->seed * 0x9E3779B97F4A7C15ULL + 1;
    uint8_t key[SBC_SRTP_KEY_LEN], p[BUF];
    tr_fill(&rng, key, sizeof(key));
    sbc_srtp_t *tx = ctx(d, key, true);
    int nrtcp = 0;
    if (record_wire) {
        rtp_wire[si] = calloc((size_t)d->count, sizeof(struct wire));
        rtcp_wire[si] = calloc((size_t)d->count / 10 + 1, sizeof(struct wire));
    }
    for (int i = 0; i < d->count; i++) {
        uint32_t ssrc = (d->ssrc2 && (i & 1)) ? d->ssrc2 : d->ssrc;
        uint32_t seq = d->seq0 + (uint32_t)(d->ssrc2 ? i / 2 : i);
        int plen = d->max_payload ? (int)(tr_next(&rng) % (uint64_t)(d->max_payload + 1))
                                  : fixed_sizes[i % (int)(sizeof(fixed_sizes) / sizeof(fixed_sizes[0]))];
        int len = tr_rtp(p, &rng, ssrc, (uint16_t)seq, (uint32_t)i * 160, plen, i % 4, i % 3 == 0);
        enum sbc_srtp_status st = sbc_srtp_protect(tx, p, &len);
        journal("protect", si, i, st, p, len);
        if (record_wire)
            store(&rtp_wire[si][i], p, len);
        if (i % 10 == 0) {
            len = tr_rtcp(p, &rng, ssrc, (int)(tr_next(&rng) % 20));
            st = sbc_srtp_protect_rtcp(tx, p, &len);
            journal("protect_rtcp", si, i, st, p, len);
            if (record_wire)
                store(&rtcp_wire[si][nrtcp], p, len);
            nrtcp++;
        }
    }
    rtcp_count[si] = nrtcp;
    sbc_srtp_destroy(tx);
}

/* Deliver the stock run's packets with reordering, replays and tampering. */
static void unprotect_stream(int si, bool rtcp)
{
    const struct stream_def *d = &streams[si];
    uint64_t rng = d->seed * 0x9E3779B97F4A7C15ULL + 1;
    uint8_t key[SBC_SRTP_KEY_LEN], p[BUF];
    tr_fill(&rng, key, sizeof(key));
    sbc_srtp_t *rx = ctx(d, key, false);
    struct wire *w = rtcp ? rtcp_wire[si] : rtp_wire[si];
    int n = rtcp ? rtcp_count[si] : d->count;
    const char *what = rtcp ? "unprotect_rtcp" : "unprotect";
    enum sbc_srtp_status (*fn)(sbc_srtp_t *, uint8_t *, int *) = rtcp ? sbc_srtp_unprotect_rtcp : sbc_srtp_unprotect;

    for (int i = 0; i < n; i++) {
        int j = i;
        if (i % 7 == 3 && i + 1 < n)           /* swap with the next one */
            j = i + 1;
        else if (i % 7 == 4)
            j = i - 1;
        memcpy(p, w[j].pkt, (size_t)w[j].len);
        int len = w[j].len;
        journal(what, si, i, fn(rx, p, &len), p, len);
        if (i % 11 == 5 && i >= 3) {            /* replay an earlier packet */
            memcpy(p, w[i - 3].pkt, (size_t)w[i - 3].len);
            len = w[i - 3].len;
            journal(what, si, i, fn(rx, p, &len), p, len);
        }
        if (i % 13 == 6 && i + 2 < n) {         /* a tampered copy of a future packet */
            memcpy(p, w[i + 2].pkt, (size_t)w[i + 2].len);
            len = w[i + 2].len;
            p[(size_t)(i * 31) % (size_t)len] ^= (uint8_t)(1u << (i % 8));
            journal(what, si, i, fn(rx, p, &len), p, len);
        }
    }
    sbc_srtp_destroy(rx);
}

static void workload(bool record_wire)
{
    for (int si = 0; si < (int)N_STREAMS; si++)
        protect_stream(si, record_wire);
    for (int si = 0; si < (int)N_STREAMS; si++) {
        unprotect_stream(si, false);
        unprotect_stream(si, true);
    }
}

static void test_stock_vs_openssl(void **state)
{
    (void)state;
    char err[256] = "";

    /* 1. stock types: record */
    if (sbc_srtp_global_init_crypto(SBC_SRTP_CRYPTO_STOCK, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    const srtp_cipher_type_t *stock = srtp_crypto_kernel_get_cipher_type(SRTP_AES_ICM_128);
    assert_non_null(stock);
    assert_ptr_not_equal(stock, sbc_srtp_ossl_cipher_type());
    printf("# stock run: %s\n", stock->description);
    workload(true);
    sbc_srtp_global_shutdown();
    long stock_ops = J.ops;
    /* the workload must exercise the failure paths too */
    assert_true(J.by_status[-SBC_SRTP_E_AUTH] > 100);
    assert_true(J.by_status[-SBC_SRTP_E_REPLAY] > 100);
    printf("# stock: %ld ok, %ld auth failures, %ld replays, %ld other\n", J.by_status[0], J.by_status[1],
           J.by_status[2], J.by_status[3]);

    /* 2. OpenSSL types: compare */
    J.checking = true;
    J.ops = 0;
    if (sbc_srtp_global_init_crypto(SBC_SRTP_CRYPTO_OPENSSL, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_ptr_equal(srtp_crypto_kernel_get_cipher_type(SRTP_AES_ICM_128), sbc_srtp_ossl_cipher_type());
    printf("# openssl run: %s\n", sbc_srtp_ossl_cipher_type()->description);
    workload(false);
    sbc_srtp_global_shutdown();
    assert_int_equal(J.ops, stock_ops);
    assert_int_equal(J.cursor, J.used);
    printf("# %ld operations, %ld output bytes identical\n", J.ops, J.bytes);

    for (size_t si = 0; si < N_STREAMS; si++) {
        for (int i = 0; i < streams[si].count; i++)
            free(rtp_wire[si][i].pkt);
        for (int i = 0; i < rtcp_count[si]; i++)
            free(rtcp_wire[si][i].pkt);
        free(rtp_wire[si]);
        free(rtcp_wire[si]);
    }
    free(J.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stock_vs_openssl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
