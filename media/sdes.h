/* SDES (RFC 4568) a=crypto attributes: parse what Teams and carriers send
 * (lifetime and MKI forms included), generate fresh keys, format ours. */
#ifndef SBC_SDES_H
#define SBC_SDES_H

#include <stddef.h>
#include <stdint.h>

#include "media/srtp_ctx.h"

typedef struct sbc_sdes {
    int tag;                                  /* the a=crypto:<tag> number */
    enum sbc_srtp_suite suite;
    uint8_t key[SBC_SRTP_KEY_LEN];            /* master key || salt */
    char lifetime[24];                        /* as written ("2^31", "1048576"), "" = none */
    uint32_t mki_value;                       /* 0 with mki_len 0 = no MKI */
    uint8_t mki_len;
} sbc_sdes_t;

/* value: the text after "a=crypto:" (e.g. "1 AES_CM_128_HMAC_SHA1_80 inline:...|2^31|1:1").
 * Returns 0, or -1 with a reason in err (unknown suite, bad base64, wrong key length). */
int sbc_sdes_parse(const char *value, size_t len, sbc_sdes_t *out, char *err, size_t errlen);
/* Writes the attribute value (no "a=crypto:"); returns its length or -1 if cap is short. */
int sbc_sdes_format(const sbc_sdes_t *s, char *buf, size_t cap);
/* A fresh random key from OpenSSL's CSPRNG. */
int sbc_sdes_generate(sbc_sdes_t *out, int tag, enum sbc_srtp_suite suite);

#endif
