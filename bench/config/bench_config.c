/* Config benchmark: load-and-validate time (median of 5), max RSS, and
 * called number -> tenant lookups per second on one core (median of 5).
 * Usage: bench_config CONFIG [TENANTS]  (the file gen_config wrote) */
#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define RUNS 5
#define LOOKUPS 4000000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v)
{
    qsort(v, RUNS, sizeof(*v), cmp_double);
    return v[RUNS / 2];
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CONFIG [TENANTS]\n", argv[0]);
        return 2;
    }
    long tenants = argc > 2 ? strtol(argv[2], NULL, 10) : 10000;
    double t[RUNS];
    sbc_config_t *c = NULL;
    for (int r = 0; r < RUNS; r++) {
        sbc_diag_t d;
        sbc_diag_init(&d);
        sbc_config_unref(c);
        double t0 = now();
        c = sbc_config_load(argv[1], &d);
        t[r] = now() - t0;
        if (!c) {
            for (size_t i = 0; i < d.n && i < 20; i++)
                fprintf(stderr, "%s\n", d.lines[i]);
            return 1;
        }
        sbc_diag_clear(&d);
    }
    size_t numbers = 0;
    for (size_t i = 0; i < c->n_tenants; i++)
        numbers += c->tenants[i].n_numbers;
    printf("config: %zu tenants, %zu number entries\n", c->n_tenants, numbers);
    printf("load+validate: median %.1f ms (of %d)\n", median(t) * 1e3, RUNS);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("max RSS: %.1f MiB\n", (double)ru.ru_maxrss / 1024.0);

    /* Called numbers: 90% owned (range or single), 10% unowned. */
    char(*q)[16] = malloc((size_t)LOOKUPS * sizeof(*q));
    for (long i = 0; i < LOOKUPS; i++) {
        unsigned long long base = 12000000000ull + (next_rand() % (uint64_t)tenants) * 1000;
        uint64_t k = next_rand() % 10;
        unsigned long long n = k < 8 ? base + next_rand() % 90
                             : k < 9 ? base + 100 + (next_rand() % 10) * 7
                                     : base + 500 + next_rand() % 400;
        snprintf(q[i], sizeof(q[i]), "+%llu", n);
    }
    size_t found = 0;
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        for (long i = 0; i < LOOKUPS; i++)
            found += sbc_config_tenant_by_number(c, q[i]) != NULL;
        t[r] = LOOKUPS / (now() - t0);
    }
    printf("number->tenant lookups: median %.2f M/s on one core (%d x %d lookups, %.0f%% found)\n",
           median(t) / 1e6, RUNS, LOOKUPS, 100.0 * (double)found / ((double)RUNS * LOOKUPS));
    free(q);
    sbc_config_unref(c);
    return 0;
}
