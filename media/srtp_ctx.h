/* One SRTP direction of one stream: a thin owner of a libsrtp2 session.
 * An sbc_srtp_t belongs to one thread (the call's home worker). */
#ifndef SBC_SRTP_CTX_H
#define SBC_SRTP_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SBC_SRTP_KEY_LEN 30          /* 16-byte master key + 14-byte salt */
#define SBC_SRTP_MAX_TRAILER 144     /* spare bytes a protect may append */

enum sbc_srtp_suite {
    SBC_SRTP_AES_CM_128_HMAC_SHA1_80 = 0,
    SBC_SRTP_AES_CM_128_HMAC_SHA1_32,
};

enum sbc_srtp_status {
    SBC_SRTP_OK = 0,
    SBC_SRTP_E_AUTH = -1,            /* authentication tag mismatch */
    SBC_SRTP_E_REPLAY = -2,          /* replayed or too old */
    SBC_SRTP_E_OTHER = -3,           /* malformed, too short, internal */
};

typedef struct sbc_srtp sbc_srtp_t;

/* Once in main, before any worker starts: srtp_init() and registration of the
 * OpenSSL-backed AES-ICM-128 and HMAC-SHA1 types. */
int sbc_srtp_global_init(char *err, size_t errlen);
void sbc_srtp_global_shutdown(void);

/* Which crypto libsrtp2 runs on. STOCK is the distribution's own (NSS in
 * Debian's build): kept for the byte-identity tests and the benchmark. */
enum sbc_srtp_crypto {
    SBC_SRTP_CRYPTO_OPENSSL = 0,
    SBC_SRTP_CRYPTO_STOCK,
};
/* sbc_srtp_global_init with a choice of crypto. Init and shutdown may be
 * cycled (no sbc_srtp_t may be alive across a shutdown). */
int sbc_srtp_global_init_crypto(enum sbc_srtp_crypto crypto, char *err, size_t errlen);
const char *sbc_srtp_crypto_name(void);

/* outbound = this context protects (SBC -> peer); else it unprotects.
 * Any SSRC is accepted (one context per direction per stream); replay
 * window 128 packets; an outbound context may send the same packet twice.
 * Re-key (R32): destroy and create a new context; the ROC and the replay
 * window then restart at 0 (srtp_update would keep them). */
sbc_srtp_t *sbc_srtp_create(enum sbc_srtp_suite suite, const uint8_t key[SBC_SRTP_KEY_LEN],
                            bool outbound, char *err, size_t errlen);
/* The same with an MKI (RFC 4568 "|value:length", length 1-128 bytes): the
 * packets then carry the MKI before the tag (protect adds mki_len bytes). */
sbc_srtp_t *sbc_srtp_create_mki(enum sbc_srtp_suite suite, const uint8_t key[SBC_SRTP_KEY_LEN],
                                uint32_t mki_value, unsigned int mki_len, bool outbound,
                                char *err, size_t errlen);
void sbc_srtp_destroy(sbc_srtp_t *s);

/* The rollover counter of one SSRC (host order) seen by this context;
 * -1 if the context has not seen that SSRC yet. */
int sbc_srtp_get_roc(const sbc_srtp_t *s, uint32_t ssrc, uint32_t *roc);

/* In place; *len grows by the tag (buffer must have SBC_SRTP_MAX_TRAILER spare). */
enum sbc_srtp_status sbc_srtp_protect(sbc_srtp_t *s, uint8_t *pkt, int *len);
enum sbc_srtp_status sbc_srtp_unprotect(sbc_srtp_t *s, uint8_t *pkt, int *len);
enum sbc_srtp_status sbc_srtp_protect_rtcp(sbc_srtp_t *s, uint8_t *pkt, int *len);
enum sbc_srtp_status sbc_srtp_unprotect_rtcp(sbc_srtp_t *s, uint8_t *pkt, int *len);

#endif
