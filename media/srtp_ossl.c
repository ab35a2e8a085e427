/* OpenSSL-backed AES-ICM-128 and HMAC-SHA1 types for libsrtp2 (see srtp_ossl.h).
 *
 * AES-ICM (RFC 3711 §4.1.1): counter block = (salt || 0x0000) XOR iv, where
 * libsrtp builds iv = 0^32 || SSRC || index << 16 (RTP) and byte 7 = label
 * (key derivation). The per-packet counter lives in the last two bytes, so
 * OpenSSL's 128-bit big-endian CTR increment equals ICM's 16-bit one for
 * any packet under 2^16 blocks (1 MiB).
 *
 * HMAC-SHA1 (RFC 2104): OpenSSL 3.0's EVP_MAC re-init duplicates a digest
 * context (2 heap allocations per packet, measured, plus reference-count
 * atomics) and costs ~2.3x the low-level path. So the default keeps two
 * SHA_CTX with the key's ipad/opad block absorbed and copies them per packet
 * (plain struct copies: no allocation, no shared state). The low-level SHA-1
 * API is deprecated in OpenSSL 3; where it is compiled out
 * (OPENSSL_NO_DEPRECATED_3_0) or SBC_SRTP_HMAC_EVP is defined, EVP_MAC is
 * used instead, with the algorithm fetched once. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "media/srtp_ossl.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslconf.h>

#include <srtp2/crypto_types.h>
#include <srtp2/srtp.h>

#if defined(OPENSSL_NO_DEPRECATED_3_0) && !defined(SBC_SRTP_HMAC_EVP)
#define SBC_SRTP_HMAC_EVP 1
#endif

#ifdef SBC_SRTP_HMAC_EVP
#include <openssl/core_names.h>
#include <openssl/params.h>
#else
#include <openssl/sha.h>
#endif

#define ICM_BLOCK 16
#define ICM_SALT_LEN 14
#define ICM_KEY_LEN 16
#define SHA1_LEN 20
#define SHA1_BLOCK 64

/* Fetched once at registration: per-packet fetches take provider locks. */
static EVP_CIPHER *g_aes128ctr;
#ifdef SBC_SRTP_HMAC_EVP
static EVP_MAC *g_hmac;
#endif

/* ---------- AES-ICM-128 ---------- */

struct ossl_icm {
    srtp_cipher_t base;             /* libsrtp sees this; state points back to us */
    EVP_CIPHER_CTX *ctx;            /* key schedule kept; only the IV changes per packet */
    uint8_t offset[ICM_BLOCK];      /* salt || 0x0000 */
};

static const srtp_cipher_type_t ossl_icm_type;

static srtp_err_status_t icm_alloc(srtp_cipher_t **cp, int key_len, int tag_len)
{
    (void)tag_len;
    /* Only the 30-byte key+salt form: libsrtp2 2.5 allocates AES-ICM-128
     * (sessions and key derivation) with SRTP_AES_ICM_128_KEY_LEN_WSALT. */
    if (key_len != SRTP_AES_ICM_128_KEY_LEN_WSALT || g_aes128ctr == NULL)
        return srtp_err_status_bad_param;
    struct ossl_icm *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return srtp_err_status_alloc_fail;
    c->ctx = EVP_CIPHER_CTX_new();
    if (c->ctx == NULL) {
        free(c);
        return srtp_err_status_alloc_fail;
    }
    c->base.type = &ossl_icm_type;
    c->base.state = c;
    c->base.key_len = key_len;
    c->base.algorithm = SRTP_AES_ICM_128;  /* srtp.c picks the non-AEAD path by this */
    *cp = &c->base;
    return srtp_err_status_ok;
}

static srtp_err_status_t icm_dealloc(srtp_cipher_t *cp)
{
    if (cp == NULL)
        return srtp_err_status_ok;
    struct ossl_icm *c = cp->state;
    EVP_CIPHER_CTX_free(c->ctx);
    OPENSSL_cleanse(c, sizeof(*c));
    free(c);
    return srtp_err_status_ok;
}

static srtp_err_status_t icm_init(void *state, const uint8_t *key)
{
    struct ossl_icm *c = state;
    memcpy(c->offset, key + ICM_KEY_LEN, ICM_SALT_LEN);
    c->offset[14] = c->offset[15] = 0;
    if (EVP_EncryptInit_ex2(c->ctx, g_aes128ctr, key, NULL, NULL) != 1) {
        ERR_clear_error();
        return srtp_err_status_init_fail;
    }
    return srtp_err_status_ok;
}

static srtp_err_status_t icm_set_iv(void *state, uint8_t *iv, srtp_cipher_direction_t dir)
{
    (void)dir;                      /* counter mode: the same keystream both ways */
    struct ossl_icm *c = state;
    uint8_t ctr[ICM_BLOCK];
    for (int i = 0; i < ICM_BLOCK; i++)
        ctr[i] = c->offset[i] ^ iv[i];
    /* NULL cipher and key: keeps the schedule, resets IV and partial block. */
    if (EVP_EncryptInit_ex2(c->ctx, NULL, NULL, ctr, NULL) != 1) {
        ERR_clear_error();
        return srtp_err_status_cipher_fail;
    }
    return srtp_err_status_ok;
}

static srtp_err_status_t icm_encrypt(void *state, uint8_t *buf, unsigned int *len)
{
    struct ossl_icm *c = state;
    int out = 0;
    if (*len > INT_MAX)
        return srtp_err_status_bad_param;
    if (*len == 0)
        return srtp_err_status_ok;
    if (EVP_EncryptUpdate(c->ctx, buf, &out, buf, (int)*len) != 1 || (unsigned int)out != *len) {
        ERR_clear_error();
        return srtp_err_status_cipher_fail;
    }
    return srtp_err_status_ok;
}

/* RFC 3711 Appendix B.2: session key and salt, keystream from counter 0
 * (blocks 0000-0001) and across the 0xFF carry (blocks FEFF-FF01). */
static const uint8_t icm_key_b2[SRTP_AES_ICM_128_KEY_LEN_WSALT] = {
    0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd,
};
static uint8_t icm_iv_zero[ICM_BLOCK];
static uint8_t icm_iv_feff[ICM_BLOCK] = {[14] = 0xfe, [15] = 0xff};
static const uint8_t icm_zero[48];
static const uint8_t icm_ks_0000[32] = {
    0xe0, 0x3e, 0xad, 0x09, 0x35, 0xc9, 0x5e, 0x80, 0xe1, 0x66, 0xb1, 0x6d, 0xd9, 0x2b, 0x4e, 0xb4,
    0xd2, 0x35, 0x13, 0x16, 0x2b, 0x02, 0xd0, 0xf7, 0x2a, 0x43, 0xa2, 0xfe, 0x4a, 0x5f, 0x97, 0xab,
};
static const uint8_t icm_ks_feff[48] = {
    0xec, 0x8c, 0xdf, 0x73, 0x98, 0x60, 0x7c, 0xb0, 0xf2, 0xd2, 0x16, 0x75, 0xea, 0x9e, 0xa1, 0xe4,
    0x36, 0x2b, 0x7c, 0x3c, 0x67, 0x73, 0x51, 0x63, 0x18, 0xa0, 0x77, 0xd7, 0xfc, 0x50, 0x73, 0xae,
    0x6a, 0x2c, 0xc3, 0x78, 0x78, 0x89, 0x37, 0x4f, 0xbe, 0xb4, 0xc8, 0x1b, 0x17, 0xba, 0x6c, 0x44,
};
static const srtp_cipher_test_case_t icm_test_feff = {
    SRTP_AES_ICM_128_KEY_LEN_WSALT, icm_key_b2, icm_iv_feff, 48, icm_zero, 48, icm_ks_feff,
    0, NULL, 0, NULL,
};
static const srtp_cipher_test_case_t icm_test_0000 = {
    SRTP_AES_ICM_128_KEY_LEN_WSALT, icm_key_b2, icm_iv_zero, 32, icm_zero, 32, icm_ks_0000,
    0, NULL, 0, &icm_test_feff,
};

static const srtp_cipher_type_t ossl_icm_type = {
    .alloc = icm_alloc,
    .dealloc = icm_dealloc,
    .init = icm_init,
    .set_aad = NULL,
    .encrypt = icm_encrypt,
    .decrypt = icm_encrypt,
    .set_iv = icm_set_iv,
    .get_tag = NULL,
    .description = "AES-128 integer counter mode (OpenSSL EVP)",
    .test_data = &icm_test_0000,
    .id = SRTP_AES_ICM_128,
};

/* ---------- HMAC-SHA1 ---------- */

struct ossl_hmac {
    srtp_auth_t base;
#ifdef SBC_SRTP_HMAC_EVP
    EVP_MAC_CTX *mac;
#else
    SHA_CTX inner;                  /* after absorbing key XOR ipad */
    SHA_CTX outer;                  /* after absorbing key XOR opad */
    SHA_CTX work;                   /* the packet being authenticated */
#endif
};

static const srtp_auth_type_t ossl_hmac_type;

static srtp_err_status_t hmac_alloc(srtp_auth_t **ap, int key_len, int out_len)
{
    if (out_len < 0 || out_len > SHA1_LEN || key_len < 0)
        return srtp_err_status_bad_param;
    struct ossl_hmac *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return srtp_err_status_alloc_fail;
#ifdef SBC_SRTP_HMAC_EVP
    a->mac = g_hmac ? EVP_MAC_CTX_new(g_hmac) : NULL;
    if (a->mac == NULL) {
        free(a);
        return srtp_err_status_alloc_fail;
    }
#endif
    a->base.type = &ossl_hmac_type;
    a->base.state = a;
    a->base.out_len = out_len;
    a->base.key_len = key_len;
    a->base.prefix_len = 0;
    *ap = &a->base;
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_dealloc(srtp_auth_t *ap)
{
    if (ap == NULL)
        return srtp_err_status_ok;
    struct ossl_hmac *a = ap->state;
#ifdef SBC_SRTP_HMAC_EVP
    EVP_MAC_CTX_free(a->mac);
#endif
    OPENSSL_cleanse(a, sizeof(*a));
    free(a);
    return srtp_err_status_ok;
}

#ifdef SBC_SRTP_HMAC_EVP

static srtp_err_status_t hmac_init(void *state, const uint8_t *key, int key_len)
{
    struct ossl_hmac *a = state;
    char digest[] = "SHA1";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(a->mac, key, (size_t)key_len, params) != 1) {
        ERR_clear_error();
        return srtp_err_status_init_fail;
    }
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_start(void *state)
{
    struct ossl_hmac *a = state;
    if (EVP_MAC_init(a->mac, NULL, 0, NULL) != 1) {   /* same key, fresh message */
        ERR_clear_error();
        return srtp_err_status_auth_fail;
    }
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_update(void *state, const uint8_t *buf, int len)
{
    struct ossl_hmac *a = state;
    if (len < 0 || EVP_MAC_update(a->mac, buf, (size_t)len) != 1) {
        ERR_clear_error();
        return srtp_err_status_auth_fail;
    }
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_compute(void *state, const uint8_t *buf, int len, int tag_len,
                                      uint8_t *tag)
{
    struct ossl_hmac *a = state;
    uint8_t h[SHA1_LEN];
    size_t hl = 0;
    if (tag_len < 0 || tag_len > SHA1_LEN)
        return srtp_err_status_bad_param;
    if (hmac_update(state, buf, len) != srtp_err_status_ok)
        return srtp_err_status_auth_fail;
    if (EVP_MAC_final(a->mac, h, &hl, sizeof(h)) != 1 || hl != SHA1_LEN) {
        ERR_clear_error();
        return srtp_err_status_auth_fail;
    }
    memcpy(tag, h, (size_t)tag_len);
    return srtp_err_status_ok;
}

#else

static srtp_err_status_t hmac_init(void *state, const uint8_t *key, int key_len)
{
    struct ossl_hmac *a = state;
    uint8_t k[SHA1_BLOCK] = {0};
    uint8_t pad[SHA1_BLOCK];
    if (key_len < 0)
        return srtp_err_status_bad_param;
    if (key_len > SHA1_BLOCK)       /* RFC 2104: long keys are hashed first */
        SHA1(key, (size_t)key_len, k);
    else if (key_len > 0)
        memcpy(k, key, (size_t)key_len);
    for (int i = 0; i < SHA1_BLOCK; i++)
        pad[i] = k[i] ^ 0x36;
    SHA1_Init(&a->inner);
    SHA1_Update(&a->inner, pad, SHA1_BLOCK);
    for (int i = 0; i < SHA1_BLOCK; i++)
        pad[i] = k[i] ^ 0x5c;
    SHA1_Init(&a->outer);
    SHA1_Update(&a->outer, pad, SHA1_BLOCK);
    a->work = a->inner;
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_start(void *state)
{
    struct ossl_hmac *a = state;
    a->work = a->inner;
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_update(void *state, const uint8_t *buf, int len)
{
    struct ossl_hmac *a = state;
    if (len < 0)
        return srtp_err_status_bad_param;
    SHA1_Update(&a->work, buf, (size_t)len);
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_compute(void *state, const uint8_t *buf, int len, int tag_len,
                                      uint8_t *tag)
{
    struct ossl_hmac *a = state;
    uint8_t h[SHA1_LEN];
    if (tag_len < 0 || tag_len > SHA1_LEN || len < 0)
        return srtp_err_status_bad_param;
    SHA1_Update(&a->work, buf, (size_t)len);
    SHA1_Final(h, &a->work);
    a->work = a->outer;
    SHA1_Update(&a->work, h, SHA1_LEN);
    SHA1_Final(h, &a->work);
    memcpy(tag, h, (size_t)tag_len);
    a->work = a->inner;             /* a compute without start is a fresh message */
    return srtp_err_status_ok;
}

#endif

/* RFC 2202 §3 test cases 1-7 (case 5 also truncated to 96 bits). */
static const uint8_t k_0b[20] = {
    0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
    0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
};
static const uint8_t t_1[20] = {
    0xb6, 0x17, 0x31, 0x86, 0x55, 0x05, 0x72, 0x64, 0xe2, 0x8b,
    0xc0, 0xb6, 0xfb, 0x37, 0x8c, 0x8e, 0xf1, 0x46, 0xbe, 0x00,
};
static const uint8_t t_2[20] = {
    0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74,
    0x16, 0xd5, 0xf1, 0x84, 0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79,
};
static const uint8_t k_aa20[20] = {
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
};
static const uint8_t d_dd50[50] = {
    0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd,
    0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd,
    0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd,
    0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd,
};
static const uint8_t t_3[20] = {
    0x12, 0x5d, 0x73, 0x42, 0xb9, 0xac, 0x11, 0xcd, 0x91, 0xa3,
    0x9a, 0xf4, 0x8a, 0xa1, 0x7b, 0x4f, 0x63, 0xf1, 0x75, 0xd3,
};
static const uint8_t k_4[25] = {
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
    0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19,
};
static const uint8_t d_cd50[50] = {
    0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd,
    0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd,
    0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd,
    0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd,
};
static const uint8_t t_4[20] = {
    0x4c, 0x90, 0x07, 0xf4, 0x02, 0x62, 0x50, 0xc6, 0xbc, 0x84,
    0x14, 0xf9, 0xbf, 0x50, 0xc8, 0x6c, 0x2d, 0x72, 0x35, 0xda,
};
static const uint8_t k_0c[20] = {
    0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
    0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
};
static const uint8_t t_5[20] = {
    0x4c, 0x1a, 0x03, 0x42, 0x4b, 0x55, 0xe0, 0x7f, 0xe7, 0xf2,
    0x7b, 0xe1, 0xd5, 0x8b, 0xb9, 0x32, 0x4a, 0x9a, 0x5a, 0x04,
};
static const uint8_t k_aa80[80] = {
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
};
static const uint8_t t_6[20] = {
    0xaa, 0x4a, 0xe5, 0xe1, 0x52, 0x72, 0xd0, 0x0e, 0x95, 0x70,
    0x56, 0x37, 0xce, 0x8a, 0x3b, 0x55, 0xed, 0x40, 0x21, 0x12,
};
static const uint8_t t_7[20] = {
    0xe8, 0xe9, 0x9d, 0x0f, 0x45, 0x23, 0x7d, 0x78, 0x6d, 0x6b,
    0xba, 0xa7, 0x96, 0x5c, 0x78, 0x08, 0xbb, 0xff, 0x1a, 0x91,
};
static const char d_1[] = "Hi There";
static const char d_2[] = "what do ya want for nothing?";
static const char d_5[] = "Test With Truncation";
static const char d_6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
static const char d_7[] = "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data";

#define D(s) (int)(sizeof(s) - 1), (const uint8_t *)(s)
static const srtp_auth_test_case_t hmac_test_7 = {80, k_aa80, D(d_7), 20, t_7, NULL};
static const srtp_auth_test_case_t hmac_test_6 = {80, k_aa80, D(d_6), 20, t_6, &hmac_test_7};
static const srtp_auth_test_case_t hmac_test_5t = {20, k_0c, D(d_5), 12, t_5, &hmac_test_6};
static const srtp_auth_test_case_t hmac_test_5 = {20, k_0c, D(d_5), 20, t_5, &hmac_test_5t};
static const srtp_auth_test_case_t hmac_test_4 = {25, k_4, 50, d_cd50, 20, t_4, &hmac_test_5};
static const srtp_auth_test_case_t hmac_test_3 = {20, k_aa20, 50, d_dd50, 20, t_3, &hmac_test_4};
static const srtp_auth_test_case_t hmac_test_2 = {4, (const uint8_t *)"Jefe", D(d_2), 20, t_2,
                                                  &hmac_test_3};
static const srtp_auth_test_case_t hmac_test_1 = {20, k_0b, D(d_1), 20, t_1, &hmac_test_2};
#undef D

static const srtp_auth_type_t ossl_hmac_type = {
    .alloc = hmac_alloc,
    .dealloc = hmac_dealloc,
    .init = hmac_init,
    .compute = hmac_compute,
    .update = hmac_update,
    .start = hmac_start,
#ifdef SBC_SRTP_HMAC_EVP
    .description = "HMAC-SHA1 (OpenSSL EVP_MAC)",
#else
    .description = "HMAC-SHA1 (OpenSSL SHA-1, precomputed pads)",
#endif
    .test_data = &hmac_test_1,
    .id = SRTP_HMAC_SHA1,
};

/* ---------- registration ---------- */

static void ossl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    if (e == 0)
        snprintf(buf, len, "no OpenSSL error queued");
    else
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
}

int sbc_srtp_ossl_register(char *err, size_t errlen)
{
    char why[160];
    srtp_err_status_t st;

    if (g_aes128ctr == NULL)
        g_aes128ctr = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
    if (g_aes128ctr == NULL) {
        ossl_reason(why, sizeof(why));
        snprintf(err, errlen, "srtp: OpenSSL cannot fetch AES-128-CTR: %s", why);
        return -1;
    }
#ifdef SBC_SRTP_HMAC_EVP
    if (g_hmac == NULL)
        g_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (g_hmac == NULL) {
        ossl_reason(why, sizeof(why));
        snprintf(err, errlen, "srtp: OpenSSL cannot fetch HMAC: %s", why);
        return -1;
    }
#endif
    /* libsrtp runs our test_data and then the stock type's before swapping. */
    st = srtp_replace_cipher_type(&ossl_icm_type, SRTP_AES_ICM_128);
    if (st != srtp_err_status_ok) {
        snprintf(err, errlen,
                 "srtp: replacing AES-ICM-128 with the OpenSSL type failed (libsrtp status %d)",
                 (int)st);
        return -1;
    }
    st = srtp_replace_auth_type(&ossl_hmac_type, SRTP_HMAC_SHA1);
    if (st != srtp_err_status_ok) {
        snprintf(err, errlen,
                 "srtp: replacing HMAC-SHA1 with the OpenSSL type failed (libsrtp status %d)",
                 (int)st);
        return -1;
    }
    return 0;
}

void sbc_srtp_ossl_release(void)
{
    EVP_CIPHER_free(g_aes128ctr);
    g_aes128ctr = NULL;
#ifdef SBC_SRTP_HMAC_EVP
    EVP_MAC_free(g_hmac);
    g_hmac = NULL;
#endif
}

const srtp_cipher_type_t *sbc_srtp_ossl_cipher_type(void)
{
    return &ossl_icm_type;
}

const srtp_auth_type_t *sbc_srtp_ossl_auth_type(void)
{
    return &ossl_hmac_type;
}

const char *sbc_srtp_ossl_hmac_impl(void)
{
#ifdef SBC_SRTP_HMAC_EVP
    return "evp-mac";
#else
    return "sha1-precomputed";
#endif
}
