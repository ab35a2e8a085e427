/* TLS material of one interface: a server context (with extra certificates
 * chosen by SNI) and a client context, built from sbc_tls_conf_t.
 *
 * Policy (TEAMS.md §1.1, R1–R3): TLS 1.2 minimum, the four ECDHE-RSA suites
 * Microsoft lists plus their ECDSA twins for 1.2, OpenSSL's default suites for
 * 1.3; mutual TLS both ways; outbound SNI and peer-name check.
 *
 * An sbc_tls_t is immutable once built (add extra certificates before the
 * first connection uses it) and refcounted with atomics: a reload builds a new
 * one on the main thread while connections keep a reference to theirs. The
 * SSL objects it creates belong to the worker that asked for them.
 * OpenSSL types are only forward-declared so the SIP core does not include
 * OpenSSL headers. */
#ifndef SBC_TLS_H
#define SBC_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

struct ssl_st;      /* SSL */
struct ssl_ctx_st;  /* SSL_CTX */

typedef struct sbc_tls sbc_tls_t;

/* The TLS 1.2 cipher list we offer and accept. */
#define SBC_TLS12_CIPHERS                                                              \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"                         \
    "ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256:"                                 \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:"                     \
    "ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA256"

/* Builds both contexts from conf (certificate, private_key required; ca_file
 * optional: with it, the server demands a client certificate and the client
 * verifies against it; without it the client uses the system trust store).
 * NULL on error with "file: reason (OpenSSL error)" in err. Refcount 1. */
sbc_tls_t *sbc_tls_create(const sbc_tls_conf_t *conf, char *err, size_t errlen);

/* Adds a certificate served to clients whose SNI matches name_pattern
 * ("host.example" or "*.example", wildcard one label deep). NULL pattern: every
 * DNS SAN of the certificate (its CN when it has none). Without a match the
 * interface's main certificate is served. 0 or -1 with err. */
int sbc_tls_add_cert(sbc_tls_t *tls, const char *name_pattern, const char *cert_file,
                     const char *key_file, char *err, size_t errlen);

sbc_tls_t *sbc_tls_ref(sbc_tls_t *tls);
void sbc_tls_unref(sbc_tls_t *tls);     /* NULL is fine */

struct ssl_ctx_st *sbc_tls_server_ctx(sbc_tls_t *tls);
struct ssl_ctx_st *sbc_tls_client_ctx(sbc_tls_t *tls);
bool sbc_tls_verifies_clients(const sbc_tls_t *tls);   /* ca_file configured */

/* A server-side SSL (accept state). NULL on allocation failure. */
struct ssl_st *sbc_tls_new_server_ssl(sbc_tls_t *tls);
/* A client-side SSL that sends SNI = peer_name (unless it is an IP literal or
 * empty) and checks the server certificate against peer_name (DNS name, or IP
 * SAN for an IP literal). Empty peer_name: chain check only. */
struct ssl_st *sbc_tls_new_client_ssl(sbc_tls_t *tls, const char *peer_name, char *err,
                                      size_t errlen);

/* After the handshake: the server name the client asked for (SNI), or "". */
const char *sbc_tls_sni(const struct ssl_st *ssl);
/* After the handshake: the name the verified peer certificate carries (the
 * checked host when one was set, else the first DNS SAN, else the CN);
 * "" when the peer sent no certificate or it was not verified. */
void sbc_tls_peer_name(struct ssl_st *ssl, char *buf, size_t len);
/* Why a handshake failed: verification result or the OpenSSL error queue
 * (drained). */
void sbc_tls_error_string(struct ssl_st *ssl, unsigned long ossl_err, char *buf, size_t len);

/* True when name matches pattern: exact (case-insensitive) or "*.rest" with
 * exactly one label in place of the star. */
bool sbc_tls_name_match(const char *pattern, const char *name);

#endif
