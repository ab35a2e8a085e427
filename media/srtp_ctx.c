/* One SRTP direction of one stream over libsrtp2 (see srtp_ctx.h). */
#include "media/srtp_ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <srtp2/srtp.h>

#include "media/srtp_ossl.h"

_Static_assert(SBC_SRTP_KEY_LEN == SRTP_AES_ICM_128_KEY_LEN_WSALT, "key || salt length");
_Static_assert(SBC_SRTP_MAX_TRAILER >= SRTP_MAX_TRAILER_LEN, "protect trailer room");

/* Replay window in packets: 2.5 s at 20 ms ptime, far beyond real reordering. */
#define SBC_SRTP_WINDOW 128
#define SBC_SRTP_MAX_MKI 128        /* RFC 4568 mki-length is 1*3DIGIT, libsrtp caps at 128 */

struct sbc_srtp {
    srtp_t session;
    bool outbound;
    bool mki;                       /* packets carry an MKI (key index 0) */
};

/* Set once in main before the workers start; read-only afterwards. */
static bool g_inited;
static enum sbc_srtp_crypto g_crypto;

int sbc_srtp_global_init_crypto(enum sbc_srtp_crypto crypto, char *err, size_t errlen)
{
    srtp_err_status_t st;

    if (g_inited) {
        snprintf(err, errlen, "srtp: already initialised");
        return -1;
    }
    if (crypto != SBC_SRTP_CRYPTO_OPENSSL && crypto != SBC_SRTP_CRYPTO_STOCK) {
        snprintf(err, errlen, "srtp: unknown crypto choice %d", (int)crypto);
        return -1;
    }
    st = srtp_init();
    if (st != srtp_err_status_ok) {
        snprintf(err, errlen, "srtp: srtp_init failed (libsrtp status %d)", (int)st);
        return -1;
    }
    if (crypto == SBC_SRTP_CRYPTO_OPENSSL && sbc_srtp_ossl_register(err, errlen) != 0) {
        srtp_shutdown();
        sbc_srtp_ossl_release();
        return -1;
    }
    g_crypto = crypto;
    g_inited = true;
    return 0;
}

int sbc_srtp_global_init(char *err, size_t errlen)
{
    return sbc_srtp_global_init_crypto(SBC_SRTP_CRYPTO_OPENSSL, err, errlen);
}

void sbc_srtp_global_shutdown(void)
{
    if (!g_inited)
        return;
    srtp_shutdown();
    sbc_srtp_ossl_release();        /* after: libsrtp no longer holds our types */
    g_inited = false;
}

const char *sbc_srtp_crypto_name(void)
{
    if (!g_inited)
        return "none";
    return g_crypto == SBC_SRTP_CRYPTO_OPENSSL ? "openssl" : "stock";
}

static int set_suite(srtp_policy_t *p, enum sbc_srtp_suite suite, char *err, size_t errlen)
{
    switch (suite) {
    case SBC_SRTP_AES_CM_128_HMAC_SHA1_80:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtp);
        break;
    case SBC_SRTP_AES_CM_128_HMAC_SHA1_32:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p->rtp);
        break;
    default:
        snprintf(err, errlen, "srtp: unknown suite %d", (int)suite);
        return -1;
    }
    /* RFC 4568 §6.2: SRTCP keeps the 80-bit tag with both suites. */
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
    return 0;
}

static sbc_srtp_t *create(enum sbc_srtp_suite suite, const uint8_t key[SBC_SRTP_KEY_LEN],
                          const uint8_t *mki, unsigned int mki_len, bool outbound, char *err,
                          size_t errlen)
{
    srtp_policy_t p;
    srtp_master_key_t mk;
    srtp_master_key_t *mks[1] = {&mk};
    uint8_t k[SBC_SRTP_KEY_LEN];
    uint8_t mki_copy[SBC_SRTP_MAX_MKI];
    srtp_err_status_t st;

    if (!g_inited) {
        snprintf(err, errlen, "srtp: sbc_srtp_global_init was not called");
        return NULL;
    }
    memset(&p, 0, sizeof(p));
    if (set_suite(&p, suite, err, errlen) != 0)
        return NULL;
    sbc_srtp_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "srtp: out of memory");
        return NULL;
    }
    memcpy(k, key, sizeof(k));      /* libsrtp wants non-const; it derives and forgets */
    p.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
    if (mki != NULL) {
        memcpy(mki_copy, mki, mki_len);
        mk.key = k;
        mk.mki_id = mki_copy;
        mk.mki_size = mki_len;
        p.keys = mks;
        p.num_master_keys = 1;
    } else {
        p.key = k;
    }
    p.window_size = SBC_SRTP_WINDOW;
    p.allow_repeat_tx = 1;          /* a relay may forward a duplicate as is */
    p.next = NULL;
    st = srtp_create(&s->session, &p);
    OPENSSL_cleanse(k, sizeof(k));
    if (st != srtp_err_status_ok) {
        snprintf(err, errlen, "srtp: srtp_create failed (libsrtp status %d)", (int)st);
        free(s);
        return NULL;
    }
    s->outbound = outbound;
    s->mki = mki != NULL;
    return s;
}

sbc_srtp_t *sbc_srtp_create(enum sbc_srtp_suite suite, const uint8_t key[SBC_SRTP_KEY_LEN],
                            bool outbound, char *err, size_t errlen)
{
    return create(suite, key, NULL, 0, outbound, err, errlen);
}

sbc_srtp_t *sbc_srtp_create_mki(enum sbc_srtp_suite suite, const uint8_t key[SBC_SRTP_KEY_LEN],
                                uint32_t mki_value, unsigned int mki_len, bool outbound,
                                char *err, size_t errlen)
{
    uint8_t mki[SBC_SRTP_MAX_MKI] = {0};

    if (mki_len == 0 || mki_len > SBC_SRTP_MAX_MKI) {
        snprintf(err, errlen, "srtp: MKI length %u out of range 1-%d", mki_len, SBC_SRTP_MAX_MKI);
        return NULL;
    }
    if (mki_len < 4 && mki_value >> (8 * mki_len) != 0) {
        snprintf(err, errlen, "srtp: MKI value %u does not fit in %u byte(s)", mki_value, mki_len);
        return NULL;
    }
    /* Big-endian in the last mki_len bytes, as the MKI field is sent. */
    for (unsigned int i = 0; i < 4 && i < mki_len; i++)
        mki[mki_len - 1 - i] = (uint8_t)(mki_value >> (8 * i));
    return create(suite, key, mki, mki_len, outbound, err, errlen);
}

void sbc_srtp_destroy(sbc_srtp_t *s)
{
    if (s == NULL)
        return;
    srtp_dealloc(s->session);
    free(s);
}

int sbc_srtp_get_roc(const sbc_srtp_t *s, uint32_t ssrc, uint32_t *roc)
{
    return srtp_get_stream_roc(s->session, ssrc, roc) == srtp_err_status_ok ? 0 : -1;
}

static enum sbc_srtp_status map(srtp_err_status_t st)
{
    switch (st) {
    case srtp_err_status_ok:
        return SBC_SRTP_OK;
    case srtp_err_status_auth_fail:
        return SBC_SRTP_E_AUTH;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
        return SBC_SRTP_E_REPLAY;
    default:
        return SBC_SRTP_E_OTHER;
    }
}

/* A context serves one direction: using it the other way is a caller bug,
 * and libsrtp would only report it as an SSRC collision event. */

enum sbc_srtp_status sbc_srtp_protect(sbc_srtp_t *s, uint8_t *pkt, int *len)
{
    if (!s->outbound)
        return SBC_SRTP_E_OTHER;
    return map(srtp_protect_mki(s->session, pkt, len, s->mki, 0));
}

enum sbc_srtp_status sbc_srtp_unprotect(sbc_srtp_t *s, uint8_t *pkt, int *len)
{
    if (s->outbound)
        return SBC_SRTP_E_OTHER;
    return map(srtp_unprotect_mki(s->session, pkt, len, s->mki));
}

enum sbc_srtp_status sbc_srtp_protect_rtcp(sbc_srtp_t *s, uint8_t *pkt, int *len)
{
    if (!s->outbound)
        return SBC_SRTP_E_OTHER;
    return map(srtp_protect_rtcp_mki(s->session, pkt, len, s->mki, 0));
}

enum sbc_srtp_status sbc_srtp_unprotect_rtcp(sbc_srtp_t *s, uint8_t *pkt, int *len)
{
    if (s->outbound)
        return SBC_SRTP_E_OTHER;
    return map(srtp_unprotect_rtcp_mki(s->session, pkt, len, s->mki));
}
