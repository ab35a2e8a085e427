/* sbc_srtp_t behaviour: round trip, tag sizes, wrong key, replay, re-key
 * restarting the ROC (R32), MKI, misuse, two threads, no OpenSSL allocation
 * per packet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "media/srtp_ctx.h"
#include "tests/srtp/rtp_build.h"

#define BUF (1500 + SBC_SRTP_MAX_TRAILER)

static uint8_t key_a[SBC_SRTP_KEY_LEN];
static uint8_t key_b[SBC_SRTP_KEY_LEN];

static long ossl_allocs;
static void *count_malloc(size_t n, const char *f, int l)
{
    (void)f, (void)l;
    __atomic_add_fetch(&ossl_allocs, 1, __ATOMIC_RELAXED);
    return malloc(n);
}
static void *count_realloc(void *p, size_t n, const char *f, int l)
{
    (void)f, (void)l;
    __atomic_add_fetch(&ossl_allocs, 1, __ATOMIC_RELAXED);
    return realloc(p, n);
}
static void count_free(void *p, const char *f, int l)
{
    (void)f, (void)l;
    free(p);
}

static int setup(void **state)
{
    char err[256];
    (void)state;
    for (int i = 0; i < SBC_SRTP_KEY_LEN; i++) {
        key_a[i] = (uint8_t)(i * 7 + 1);
        key_b[i] = (uint8_t)(i * 13 + 5);
    }
    if (sbc_srtp_global_init(err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sbc_srtp_global_shutdown();
    return 0;
}

static sbc_srtp_t *mk(enum sbc_srtp_suite suite, const uint8_t *key, bool out)
{
    char err[256] = "";
    sbc_srtp_t *s = sbc_srtp_create(suite, key, out, err, sizeof(err));
    if (s == NULL)
        fail_msg("create: %s", err);
    return s;
}

static void test_global(void **state)
{
    (void)state;
    char err[256] = "";
    assert_string_equal(sbc_srtp_crypto_name(), "openssl");
    assert_int_equal(sbc_srtp_global_init(err, sizeof(err)), -1);
    assert_non_null(strstr(err, "already"));
    assert_null(sbc_srtp_create((enum sbc_srtp_suite)9, key_a, true, err, sizeof(err)));
    assert_non_null(strstr(err, "suite"));
    sbc_srtp_destroy(NULL);
}

static void round_trip(enum sbc_srtp_suite suite, int tag_len)
{
    sbc_srtp_t *tx = mk(suite, key_a, true), *rx = mk(suite, key_a, false);
    uint64_t rng = 42;
    uint8_t pkt[BUF], orig[BUF];
    for (int i = 0; i < 600; i++) {
        int plen = (int)(tr_next(&rng) % 1200);
        int n = tr_rtp(orig, &rng, 0x11223344, (uint16_t)(65000 + i), (uint32_t)i * 160, plen, i % 3, i % 5 == 0);
        int len = n;
        memcpy(pkt, orig, (size_t)n);
        assert_int_equal(sbc_srtp_protect(tx, pkt, &len), SBC_SRTP_OK);
        assert_int_equal(len, n + tag_len);
        assert_memory_equal(pkt, orig, 12);                    /* header in clear */
        if (plen >= 8)
            assert_memory_not_equal(pkt + n - plen, orig + n - plen, (size_t)plen);
        assert_int_equal(sbc_srtp_unprotect(rx, pkt, &len), SBC_SRTP_OK);
        assert_int_equal(len, n);
        assert_memory_equal(pkt, orig, (size_t)n);

        /* RTCP: 4-byte SRTCP index + 80-bit tag with either suite (RFC 4568 §6.2) */
        n = tr_rtcp(orig, &rng, 0x11223344, i % 7);
        len = n;
        memcpy(pkt, orig, (size_t)n);
        assert_int_equal(sbc_srtp_protect_rtcp(tx, pkt, &len), SBC_SRTP_OK);
        assert_int_equal(len, n + 4 + 10);
        assert_int_equal(sbc_srtp_unprotect_rtcp(rx, pkt, &len), SBC_SRTP_OK);
        assert_int_equal(len, n);
        assert_memory_equal(pkt, orig, (size_t)n);
    }
    uint32_t roc = 99;
    assert_int_equal(sbc_srtp_get_roc(tx, 0x11223344, &roc), 0);
    assert_int_equal(roc, 1);                                  /* 65000 + 600 wrapped */
    assert_int_equal(sbc_srtp_get_roc(rx, 0x11223344, &roc), 0);
    assert_int_equal(roc, 1);
    assert_int_equal(sbc_srtp_get_roc(rx, 0x55, &roc), -1);
    sbc_srtp_destroy(tx);
    sbc_srtp_destroy(rx);
}

static void test_round_trip_80(void **state)
{
    (void)state;
    round_trip(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, 10);
}

static void test_round_trip_32(void **state)
{
    (void)state;
    round_trip(SBC_SRTP_AES_CM_128_HMAC_SHA1_32, 4);
}

static void test_wrong_key_and_tamper(void **state)
{
    (void)state;
    sbc_srtp_t *tx = mk(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_a, true);
    sbc_srtp_t *rx_wrong = mk(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_b, false);
    sbc_srtp_t *rx = mk(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_a, false);
    uint64_t rng = 7;
    uint8_t pkt[BUF], copy[BUF];
    int n = tr_rtp(pkt, &rng, 0xabcdef01, 100, 0, 160, 0, false), len = n;
    assert_int_equal(sbc_srtp_protect(tx, pkt, &len), SBC_SRTP_OK);
    memcpy(copy, pkt, (size_t)len);
    int l2 = len;
    assert_int_equal(sbc_srtp_unprotect(rx_wrong, copy, &l2), SBC_SRTP_E_AUTH);
    for (int pos = 0; pos < len; pos += 17) {                 /* header, payload and tag bits */
        memcpy(copy, pkt, (size_t)len);
        copy[pos] ^= 0x04;
        l2 = len;
        enum sbc_srtp_status st = sbc_srtp_unprotect(rx, copy, &l2);
        assert_true(st == SBC_SRTP_E_AUTH || st == SBC_SRTP_E_OTHER);   /* V bit flip: malformed */
    }
    l2 = len;
    assert_int_equal(sbc_srtp_unprotect(rx, pkt, &l2), SBC_SRTP_OK);  /* untouched still fine */

    n = tr_rtcp(pkt, &rng, 0xabcdef01, 2);
    len = n;
    assert_int_equal(sbc_srtp_protect_rtcp(tx, pkt, &len), SBC_SRTP_OK);
    l2 = len;
    assert_int_equal(sbc_srtp_unprotect_rtcp(rx_wrong, pkt, &l2), SBC_SRTP_E_AUTH);
    sbc_srtp_destroy(tx);
    sbc_srtp_destroy(rx_wrong);
    sbc_srtp_destroy(rx);
}

static void test_replay(void **state)
{
    (void)state;
    sbc_srtp_t *tx = mk(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_a, true);
    sbc_srtp_t *rx = mk(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_a, false);
    uint64_t rng = 9;
    static uint8_t pkts[300][BUF];
    int lens[300];
    for (int i = 0; i < 300; i++) {
        lens[i] = tr_rtp(pkts[i], &rng, 0x01020304, (uint16_t)(1000 + i), 0, 40, 0, false);
        assert_int_equal(sbc_srtp_protect(tx, pkts[i], &lens[i]), SBC_SRTP_OK);
    }
    uint8_t p[BUF];
    int l;
    /* the same packet twice */
    memcpy(p, pkts[0], (size_t)lens[0]);
    l = lens[0];
    assert_int_equal(sbc_srtp_unprotect(rx, p, &l), SBC_SRTP_OK);
    memcpy(p, pkts[0], (size_t)lens[0]);
    l = lens[0];
    assert_int_equal(sbc_srtp_unprotect(rx, p, &l), SBC_SRTP_E_REPLAY);
    /* reordering inside the window is fine; behind the window is refused */
    for (int i = 299; i >= 180; i--) {
        memcpy(p, pkts[i], (size_t)lens[i]);
        l = lens[i];
        assert_int_equal(sbc_srtp_unprotect(rx, p, &l), SBC_SRTP_OK);
    }
    memcpy(p, pkts[100], (size_t)lens[100]);                  /* 199 behind the newest */
    l = lens[100];
    assert_int_equal(sbc_srtp_unprotect(rx, p, &l), SBC_SRTP_E_REPLAY);

    /* SRTCP replay */
    int n = tr_rtcp(p, &rng, 0x01020304, 1);
    l = n;
    assert_int_equal(sbc_srtp_protect_rtcp(tx, p, &l), SBC_SRTP_OK);
    uint8_t q[BUF];
    memcpy(q, p, (size_t)l);
    int l2 = l;
    assert_int_equal(sbc_srtp_unprotect_rtcp(rx, p, &l), SBC_SRTP_OK);
    assert_int_equal(sbc_srtp_unprotect_rtcp(rx, q, &l2), SBC_SRTP_E_REPLAY);

    /* an outbound context may send the same packet again (allow_repeat_tx) */
    n = tr_rtp(p, &rng, 0x01020304, 1299, 0, 40, 0, false);
    l = n;
    assert_int_equal(sbc_srtp_protect(tx, p, &l), SBC_SRTP_OK);
    n = tr_rtp(p, &rng, 0x01020304, 1299, 0, 40, 0, false);
    l = n;
    assert_int_equal(sbc_srtp_protect(tx, p, &l), SBC_SRTP_OK);
    sbc_srtp_destroy(tx);
    sbc_srtp_destroy(rx);
}

static void send_range(sbc_srtp_t *tx, sbc_srtp_t *rx, uint64_t *rng, uint32_t seq0, int count,
                       enum sbc_srtp_status want)
{
    uint8_t p[BUF];
    for (int i = 0; i < count; i++) {
        int n = tr_rtp(p, rng, 0xfeedf00d, (uint16_t)(seq0 + (uint32_t)i), 0, 160, 0, false), l = n;
        assert_int_equal(sbc_srtp_protect(tx, p, &l), SBC_SRTP_OK);
        assert_int_equal(sbc_srtp_unprotect(rx, p, &l), want);
    }
}

/* R32: a re-key in a re-INVITE restarts the ROC at 0 on both sides. */
static void test_rekey_resets_roc(void **state)
{
    (void)state;
    uint64_t rng = 3;
    uint32_t roc;
    sbc_srtp_t *tx = mk(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_a, true);
    sbc_srtp_t *rx = mk(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_a, false);
    send_range(tx, rx, &rng, 65500, 100, SBC_SRTP_OK);         /* wraps: ROC 1 */
    assert_int_equal(sbc_srtp_get_roc(tx, 0xfeedf00d, &roc), 0);
    assert_int_equal(roc, 1);

    /* re-key: destroy + create on both sides; the stream continues at seq 64 */
    sbc_srtp_destroy(tx);
    sbc_srtp_destroy(rx);
    tx = mk(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_b, true);
    rx = mk(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_b, false);
    send_range(tx, rx, &rng, 64, 50, SBC_SRTP_OK);
    assert_int_equal(sbc_srtp_get_roc(tx, 0xfeedf00d, &roc), 0);
    assert_int_equal(roc, 0);
    assert_int_equal(sbc_srtp_get_roc(rx, 0xfeedf00d, &roc), 0);
    assert_int_equal(roc, 0);

    /* a receiver that kept its state (ROC 1) cannot follow a restarted sender:
     * why both legs must be re-created together */
    sbc_srtp_t *stale = mk(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_b, false);
    sbc_srtp_destroy(tx);
    tx = mk(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_b, true);
    send_range(tx, stale, &rng, 65500, 100, SBC_SRTP_OK);      /* stale now at ROC 1 */
    sbc_srtp_destroy(tx);
    tx = mk(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_b, true);    /* restarts at ROC 0 */
    send_range(tx, stale, &rng, 100, 3, SBC_SRTP_E_AUTH);
    sbc_srtp_destroy(stale);
    sbc_srtp_destroy(tx);
    sbc_srtp_destroy(rx);
}

static void test_mki(void **state)
{
    (void)state;
    char err[256] = "";
    sbc_srtp_t *tx = sbc_srtp_create_mki(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_a, 1, 1, true, err, sizeof(err));
    sbc_srtp_t *rx = sbc_srtp_create_mki(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_a, 1, 1, false, err, sizeof(err));
    sbc_srtp_t *rx_other = sbc_srtp_create_mki(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_a, 2, 1, false, err,
                                               sizeof(err));
    assert_non_null(tx);
    assert_non_null(rx);
    assert_non_null(rx_other);
    uint64_t rng = 5;
    uint8_t p[BUF], orig[BUF], q[BUF];
    int n = tr_rtp(orig, &rng, 0x99, 7, 0, 160, 0, false), l = n;
    memcpy(p, orig, (size_t)n);
    assert_int_equal(sbc_srtp_protect(tx, p, &l), SBC_SRTP_OK);
    assert_int_equal(l, n + 1 + 10);
    assert_int_equal(p[n], 1);                                  /* MKI before the tag */
    memcpy(q, p, (size_t)l);
    int l2 = l;
    assert_int_equal(sbc_srtp_unprotect(rx, p, &l), SBC_SRTP_OK);
    assert_int_equal(l, n);
    assert_memory_equal(p, orig, (size_t)n);
    assert_int_not_equal(sbc_srtp_unprotect(rx_other, q, &l2), SBC_SRTP_OK);   /* unknown MKI */

    n = tr_rtcp(orig, &rng, 0x99, 1);
    l = n;
    memcpy(p, orig, (size_t)n);
    assert_int_equal(sbc_srtp_protect_rtcp(tx, p, &l), SBC_SRTP_OK);
    assert_int_equal(l, n + 4 + 1 + 10);
    assert_int_equal(sbc_srtp_unprotect_rtcp(rx, p, &l), SBC_SRTP_OK);
    assert_memory_equal(p, orig, (size_t)n);

    assert_null(sbc_srtp_create_mki(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_a, 256, 1, true, err, sizeof(err)));
    assert_non_null(strstr(err, "does not fit"));
    assert_null(sbc_srtp_create_mki(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_a, 1, 0, true, err, sizeof(err)));
    assert_non_null(strstr(err, "out of range"));
    sbc_srtp_destroy(tx);
    sbc_srtp_destroy(rx);
    sbc_srtp_destroy(rx_other);
}

static void test_misuse(void **state)
{
    (void)state;
    sbc_srtp_t *tx = mk(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_a, true);
    sbc_srtp_t *rx = mk(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_a, false);
    uint64_t rng = 11;
    uint8_t p[BUF];
    int n = tr_rtp(p, &rng, 1, 1, 0, 20, 0, false), l = n;
    assert_int_equal(sbc_srtp_unprotect(tx, p, &l), SBC_SRTP_E_OTHER);
    assert_int_equal(sbc_srtp_protect(rx, p, &l), SBC_SRTP_E_OTHER);
    assert_int_equal(sbc_srtp_protect_rtcp(rx, p, &l), SBC_SRTP_E_OTHER);
    assert_int_equal(sbc_srtp_unprotect_rtcp(tx, p, &l), SBC_SRTP_E_OTHER);
    l = 8;                                                      /* shorter than a header */
    assert_int_equal(sbc_srtp_unprotect(rx, p, &l), SBC_SRTP_E_OTHER);
    l = 14;                                                     /* header, no room for a tag */
    assert_int_not_equal(sbc_srtp_unprotect(rx, p, &l), SBC_SRTP_OK);
    sbc_srtp_destroy(tx);
    sbc_srtp_destroy(rx);
}

/* After the first packet of a stream (libsrtp clones the template stream),
 * the packet path makes no OpenSSL allocation. */
static void test_no_alloc_per_packet(void **state)
{
    (void)state;
    long at_start = __atomic_load_n(&ossl_allocs, __ATOMIC_RELAXED);
    sbc_srtp_t *tx = mk(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_a, true);
    sbc_srtp_t *rx = mk(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_a, false);
    assert_true(__atomic_load_n(&ossl_allocs, __ATOMIC_RELAXED) > at_start);   /* the counter counts */
    uint64_t rng = 13;
    uint8_t p[BUF];
    send_range(tx, rx, &rng, 0, 1, SBC_SRTP_OK);
    int n = tr_rtcp(p, &rng, 0xfeedf00d, 1), l = n;
    assert_int_equal(sbc_srtp_protect_rtcp(tx, p, &l), SBC_SRTP_OK);
    assert_int_equal(sbc_srtp_unprotect_rtcp(rx, p, &l), SBC_SRTP_OK);
    long before = __atomic_load_n(&ossl_allocs, __ATOMIC_RELAXED);
    send_range(tx, rx, &rng, 1, 2000, SBC_SRTP_OK);
    for (int i = 0; i < 200; i++) {
        n = tr_rtcp(p, &rng, 0xfeedf00d, 1);
        l = n;
        assert_int_equal(sbc_srtp_protect_rtcp(tx, p, &l), SBC_SRTP_OK);
        assert_int_equal(sbc_srtp_unprotect_rtcp(rx, p, &l), SBC_SRTP_OK);
    }
    assert_int_equal(__atomic_load_n(&ossl_allocs, __ATOMIC_RELAXED) - before, 0);
    sbc_srtp_destroy(tx);
    sbc_srtp_destroy(rx);
}

struct thr {
    uint32_t ssrc;
    int ok;
    uint8_t digest;
};

static void *thread_main(void *arg)
{
    struct thr *t = arg;
    char err[256];
    sbc_srtp_t *tx = sbc_srtp_create(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_a, true, err, sizeof(err));
    sbc_srtp_t *rx = sbc_srtp_create(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, key_a, false, err, sizeof(err));
    uint64_t rng = 77;
    uint8_t p[BUF], orig[BUF];
    if (tx == NULL || rx == NULL)
        goto out;
    for (int i = 0; i < 20000; i++) {
        int n = tr_rtp(orig, &rng, t->ssrc, (uint16_t)i, 0, 160, 0, false), l = n;
        memcpy(p, orig, (size_t)n);
        if (sbc_srtp_protect(tx, p, &l) != SBC_SRTP_OK)
            goto out;
        t->digest ^= p[l - 1];
        if (sbc_srtp_unprotect(rx, p, &l) != SBC_SRTP_OK || l != n || memcmp(p, orig, (size_t)n) != 0)
            goto out;
    }
    t->ok = 1;
out:
    sbc_srtp_destroy(tx);
    sbc_srtp_destroy(rx);
    return NULL;
}

/* Two workers with their own contexts, as in production: same results as
 * one thread alone. */
static void test_two_threads(void **state)
{
    (void)state;
    struct thr ref = {0x1234, 0, 0}, t[2] = {{0x1234, 0, 0}, {0x1234, 0, 0}};
    pthread_t th[2];
    thread_main(&ref);
    assert_true(ref.ok);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, &t[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_true(t[i].ok);
        assert_int_equal(t[i].digest, ref.digest);
    }
}

int main(void)
{
    /* Before any OpenSSL call: count its allocations. */
    if (!CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free)) {
        fprintf(stderr, "CRYPTO_set_mem_functions refused\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_global),
        cmocka_unit_test(test_round_trip_80),
        cmocka_unit_test(test_round_trip_32),
        cmocka_unit_test(test_wrong_key_and_tamper),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_rekey_resets_roc),
        cmocka_unit_test(test_mki),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_no_alloc_per_packet),
        cmocka_unit_test(test_two_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
