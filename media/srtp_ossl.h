/* OpenSSL-backed AES-ICM-128 cipher and HMAC-SHA1 auth types for libsrtp2's
 * crypto kernel. Debian's libsrtp2 is built on NSS (slow, locks per packet,
 * NSS init per context); replacing these two types keeps libsrtp2 for the
 * protocol (key derivation, ROC, replay, layout) and OpenSSL for the crypto. */
#ifndef SBC_SRTP_OSSL_H
#define SBC_SRTP_OSSL_H

#include <stddef.h>

#include <srtp2/auth.h>
#include <srtp2/cipher.h>

/* After srtp_init(), before any srtp_create() or worker thread: fetch the
 * OpenSSL algorithms once and replace SRTP_AES_ICM_128 and SRTP_HMAC_SHA1.
 * libsrtp2 runs our self tests and the stock types' tests before accepting.
 * Returns 0, or -1 with a reason in err. */
int sbc_srtp_ossl_register(char *err, size_t errlen);

/* After srtp_shutdown() (no srtp_t alive): free the fetched algorithms. */
void sbc_srtp_ossl_release(void);

/* The types themselves, for known-answer tests. Usable between register and
 * release (they need the fetched algorithms). */
const srtp_cipher_type_t *sbc_srtp_ossl_cipher_type(void);
const srtp_auth_type_t *sbc_srtp_ossl_auth_type(void);

/* How HMAC-SHA1 is computed: "sha1-precomputed" (no allocation per packet)
 * or "evp-mac" (used where the low-level SHA-1 API is compiled out). */
const char *sbc_srtp_ossl_hmac_impl(void);

#endif
