/* Known-answer tests of the OpenSSL-backed SRTP crypto types, called through
 * their libsrtp2 type tables: RFC 3711 B.2 (AES-CM keystream), B.3 (key
 * derivation), RFC 2202 (HMAC-SHA1), libsrtp's own self tests, and random
 * keys checked against an independent OpenSSL computation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "media/srtp_ctx.h"
#include "media/srtp_ossl.h"

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        unsigned v;
        assert_true(n < cap);
        assert_int_equal(sscanf(hex, "%2x", &v), 1);
        out[n++] = (uint8_t)v;
    }
    return n;
}

static int setup(void **state)
{
    char err[256];
    (void)state;
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

static srtp_cipher_t *icm_new(const uint8_t key[30])
{
    const srtp_cipher_type_t *ct = sbc_srtp_ossl_cipher_type();
    srtp_cipher_t *c = NULL;
    assert_int_equal(ct->alloc(&c, 30, 0), srtp_err_status_ok);
    assert_int_equal(c->algorithm, SRTP_AES_ICM_128);
    assert_int_equal(c->key_len, 30);
    assert_ptr_equal(c->type, ct);
    assert_int_equal(ct->init(c->state, key), srtp_err_status_ok);
    return c;
}

static void icm_keystream(srtp_cipher_t *c, uint8_t iv[16], uint8_t *out, unsigned int len)
{
    memset(out, 0, len);
    assert_int_equal(c->type->set_iv(c->state, iv, srtp_direction_encrypt), srtp_err_status_ok);
    assert_int_equal(c->type->encrypt(c->state, out, &len), srtp_err_status_ok);
}

/* RFC 3711 B.2: keystream blocks 0000-0002 and FEFF-FF01 of one 2^16-block run. */
static void test_rfc3711_b2_keystream(void **state)
{
    (void)state;
    uint8_t key[30], iv[16] = {0}, want[16];
    unhex("2B7E151628AED2A6ABF7158809CF4F3C" "F0F1F2F3F4F5F6F7F8F9FAFBFCFD", key, sizeof(key));
    static const struct { unsigned block; const char *ks; } v[] = {
        {0x0000, "E03EAD0935C95E80E166B16DD92B4EB4"},
        {0x0001, "D23513162B02D0F72A43A2FE4A5F97AB"},
        {0x0002, "41E95B3BB0A2E8DD477901E4FCA894C0"},
        {0xFEFF, "EC8CDF7398607CB0F2D21675EA9EA1E4"},
        {0xFF00, "362B7C3C6773516318A077D7FC5073AE"},
        {0xFF01, "6A2CC3787889374FBEB4C81B17BA6C44"},
    };
    unsigned int len = 0xFF02 * 16;
    uint8_t *ks = malloc(len);
    assert_non_null(ks);
    srtp_cipher_t *c = icm_new(key);
    icm_keystream(c, iv, ks, len);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        unhex(v[i].ks, want, sizeof(want));
        assert_memory_equal(ks + 16 * v[i].block, want, 16);
    }
    /* The same keystream again after a re-IV: nothing carries over. */
    uint8_t again[48];
    icm_keystream(c, iv, again, 48);
    assert_memory_equal(again, ks, 48);
    /* In pieces of odd sizes: the partial block state continues the stream. */
    memset(again, 0, sizeof(again));
    assert_int_equal(c->type->set_iv(c->state, iv, srtp_direction_decrypt), srtp_err_status_ok);
    unsigned int a = 5, b = 27, d = 16;
    assert_int_equal(c->type->decrypt(c->state, again, &a), srtp_err_status_ok);
    assert_int_equal(c->type->decrypt(c->state, again + 5, &b), srtp_err_status_ok);
    assert_int_equal(c->type->decrypt(c->state, again + 32, &d), srtp_err_status_ok);
    assert_memory_equal(again, ks, 48);
    c->type->dealloc(c);
    free(ks);
}

/* RFC 3711 B.3: session keys from a master key, labels 0 (cipher key),
 * 1 (auth key, all 94 listed bytes) and 2 (salt); kdr 0, index 0. The KDF
 * input is label at byte 7 of the IV, exactly what libsrtp2's srtp_kdf_generate
 * hands the AES-ICM-128 type. */
static void test_rfc3711_b3_kdf(void **state)
{
    (void)state;
    uint8_t master[30], iv[16], got[94], want[94];
    unhex("E1F97A0D3E018BE0D64FA32C06DE4139" "0EC675AD498AFEEBB6960B3AABE6", master, sizeof(master));
    static const struct { uint8_t label; const char *out; } v[] = {
        {0x00, "C61E7A93744F39EE10734AFE3FF7A087"},
        {0x02, "30CBBC08863D8C85D49DB34A9AE1"},
        {0x01, "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE"
               "E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25"
               "6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2"},
    };
    srtp_cipher_t *c = icm_new(master);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t n = unhex(v[i].out, want, sizeof(want));
        memset(iv, 0, sizeof(iv));
        iv[7] = v[i].label;
        icm_keystream(c, iv, got, (unsigned)n);
        assert_memory_equal(got, want, n);
    }
    c->type->dealloc(c);
}

struct hmac_vec {
    const char *key_hex;            /* NULL: use key_str */
    const char *key_str;
    int key_rep;                    /* repeat the single byte key_hex this many times */
    const char *data;
    int data_rep;                   /* repeat byte data[0] this many times (0: text) */
    const char *tag_hex;
};

static size_t vec_bytes(const char *hex, const char *str, int rep, uint8_t *out, size_t cap)
{
    if (rep > 0) {
        uint8_t b;
        if (hex != NULL)
            unhex(hex, &b, 1);
        else
            b = (uint8_t)str[0];
        assert_true((size_t)rep <= cap);
        memset(out, b, (size_t)rep);
        return (size_t)rep;
    }
    if (hex != NULL)
        return unhex(hex, out, cap);
    memcpy(out, str, strlen(str));
    return strlen(str);
}

/* RFC 2202 §3, all seven HMAC-SHA1 cases, one-shot and fed in pieces. */
static void test_rfc2202_hmac_sha1(void **state)
{
    (void)state;
    static const struct hmac_vec v[] = {
        {"0b", NULL, 20, "Hi There", 0, "b617318655057264e28bc0b6fb378c8ef146be00"},
        {NULL, "Jefe", 0, "what do ya want for nothing?", 0, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
        {"aa", NULL, 20, "\xdd", 50, "125d7342b9ac11cd91a39af48aa17b4f63f175d3"},
        {"0102030405060708090a0b0c0d0e0f10111213141516171819", NULL, 0, "\xcd", 50,
         "4c9007f4026250c6bc8414f9bf50c86c2d7235da"},
        {"0c", NULL, 20, "Test With Truncation", 0, "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"},
        {"aa", NULL, 80, "Test Using Larger Than Block-Size Key - Hash Key First", 0,
         "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
        {"aa", NULL, 80, "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data", 0,
         "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"},
    };
    const srtp_auth_type_t *at = sbc_srtp_ossl_auth_type();
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t key[80], data[80], want[20], tag[20];
        size_t kl = vec_bytes(v[i].key_hex, v[i].key_str, v[i].key_rep, key, sizeof(key));
        size_t dl = v[i].data_rep ? vec_bytes(NULL, v[i].data, v[i].data_rep, data, sizeof(data))
                                  : vec_bytes(NULL, v[i].data, 0, data, sizeof(data));
        unhex(v[i].tag_hex, want, sizeof(want));
        for (int tag_len = 20; tag_len >= 10; tag_len -= 8) {   /* full, then 96 bits (case 5) */
            srtp_auth_t *a = NULL;
            assert_int_equal(at->alloc(&a, (int)kl, tag_len), srtp_err_status_ok);
            assert_int_equal(a->prefix_len, 0);
            assert_int_equal(at->init(a->state, key, a->key_len), srtp_err_status_ok);
            /* one shot */
            memset(tag, 0, sizeof(tag));
            assert_int_equal(at->start(a->state), srtp_err_status_ok);
            assert_int_equal(at->compute(a->state, data, (int)dl, a->out_len, tag), srtp_err_status_ok);
            assert_memory_equal(tag, want, (size_t)tag_len);
            /* as libsrtp does it: start, update over the packet, compute over the ROC */
            memset(tag, 0, sizeof(tag));
            size_t split = dl > 4 ? dl - 4 : 0;
            assert_int_equal(at->start(a->state), srtp_err_status_ok);
            assert_int_equal(at->update(a->state, data, (int)(split / 2)), srtp_err_status_ok);
            assert_int_equal(at->update(a->state, data + split / 2, (int)(split - split / 2)),
                             srtp_err_status_ok);
            assert_int_equal(at->compute(a->state, data + split, (int)(dl - split), a->out_len, tag),
                             srtp_err_status_ok);
            assert_memory_equal(tag, want, (size_t)tag_len);
            at->dealloc(a);
        }
    }
}

/* libsrtp's own known-answer and random invertibility tests over our tables. */
static void test_libsrtp_self_tests(void **state)
{
    (void)state;
    assert_int_equal(srtp_cipher_type_self_test(sbc_srtp_ossl_cipher_type()), srtp_err_status_ok);
    assert_int_equal(srtp_auth_type_self_test(sbc_srtp_ossl_auth_type()), srtp_err_status_ok);
    /* Wrong sizes are refused, not mis-handled. */
    srtp_cipher_t *c = NULL;
    srtp_auth_t *a = NULL;
    assert_int_not_equal(sbc_srtp_ossl_cipher_type()->alloc(&c, 16, 0), srtp_err_status_ok);
    assert_int_not_equal(sbc_srtp_ossl_cipher_type()->alloc(&c, 46, 0), srtp_err_status_ok);
    assert_int_not_equal(sbc_srtp_ossl_auth_type()->alloc(&a, 20, 21), srtp_err_status_ok);
}

/* Random keys, salts and SRTP-shaped IVs against AES-128-ECB over the
 * counter blocks and OpenSSL's one-shot HMAC(). */
static void test_random_against_openssl(void **state)
{
    (void)state;
    EVP_CIPHER_CTX *ecb = EVP_CIPHER_CTX_new();
    assert_non_null(ecb);
    for (int round = 0; round < 200; round++) {
        uint8_t key[30], iv[16] = {0}, ks[1500], blk[16], want[16];
        unsigned int len = 1 + (unsigned)round * 7 % 1500;
        int ol;
        assert_int_equal(RAND_bytes(key, sizeof(key)), 1);
        assert_int_equal(RAND_bytes(iv + 4, 10), 1);     /* SSRC and index; low 16 bits 0 */
        srtp_cipher_t *c = icm_new(key);
        icm_keystream(c, iv, ks, len);
        c->type->dealloc(c);
        assert_int_equal(EVP_EncryptInit_ex2(ecb, EVP_aes_128_ecb(), key, NULL, NULL), 1);
        EVP_CIPHER_CTX_set_padding(ecb, 0);
        for (unsigned int b = 0; b * 16 < len; b++) {
            for (int i = 0; i < 16; i++)
                blk[i] = (uint8_t)((i < 14 ? key[16 + i] : 0) ^ iv[i]);
            blk[14] = (uint8_t)(b >> 8);
            blk[15] = (uint8_t)b;
            assert_int_equal(EVP_EncryptUpdate(ecb, want, &ol, blk, 16), 1);
            unsigned int n = len - b * 16 < 16 ? len - b * 16 : 16;
            assert_memory_equal(ks + b * 16, want, n);
        }

        uint8_t akey[20], data[1500], tag[20], ref[20];
        unsigned int rl = 0;
        assert_int_equal(RAND_bytes(akey, sizeof(akey)), 1);
        assert_int_equal(RAND_bytes(data, (int)len), 1);
        srtp_auth_t *a = NULL;
        const srtp_auth_type_t *at = sbc_srtp_ossl_auth_type();
        assert_int_equal(at->alloc(&a, 20, 10), srtp_err_status_ok);
        assert_int_equal(at->init(a->state, akey, 20), srtp_err_status_ok);
        assert_int_equal(at->start(a->state), srtp_err_status_ok);
        assert_int_equal(at->compute(a->state, data, (int)len, 10, tag), srtp_err_status_ok);
        at->dealloc(a);
        assert_non_null(HMAC(EVP_sha1(), akey, 20, data, len, ref, &rl));
        assert_memory_equal(tag, ref, 10);
    }
    EVP_CIPHER_CTX_free(ecb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3711_b2_keystream),
        cmocka_unit_test(test_rfc3711_b3_kdf),
        cmocka_unit_test(test_rfc2202_hmac_sha1),
        cmocka_unit_test(test_libsrtp_self_tests),
        cmocka_unit_test(test_random_against_openssl),
    };
    printf("# HMAC-SHA1 implementation: %s\n", sbc_srtp_ossl_hmac_impl());
    return cmocka_run_group_tests(tests, setup, teardown);
}
