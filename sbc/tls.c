/* TLS contexts for one interface: policy in one place (versions, suites,
 * mutual TLS, SNI) so transports only ask for SSL objects. */
#include "sbc/tls.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sbc/log.h"

struct sni_entry {
    char *pattern;
    SSL_CTX *ctx;
};

struct sbc_tls {
    int refs;                   /* atomic */
    SSL_CTX *server;
    SSL_CTX *client;
    struct sni_entry *sni;      /* extra server certificates, first match wins */
    size_t n_sni;
    bool verify_clients;
    int min_version;
    char *ca_file;
};

/* Latest OpenSSL error as text, clearing the queue. */
static const char *ossl_errstr(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0) {
        snprintf(buf, len, "no OpenSSL error");
    } else {
        ERR_error_string_n(e, buf, len);
    }
    ERR_clear_error();
    return buf;
}

static void set_err(char *err, size_t errlen, const char *file, const char *what)
{
    char ebuf[256];
    if (err && errlen) {
        snprintf(err, errlen, "%s: %s (%s)", file ? file : "tls", what,
                 ossl_errstr(ebuf, sizeof ebuf));
    } else {
        ERR_clear_error();
    }
}

static bool is_ip_literal(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

bool sbc_tls_name_match(const char *pattern, const char *name)
{
    if (!pattern || !name || !*pattern || !*name) {
        return false;
    }
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = strchr(name, '.');
        /* the star stands for exactly one non-empty label */
        if (!dot || dot == name) {
            return false;
        }
        return strcasecmp(dot + 1, pattern + 2) == 0;
    }
    return strcasecmp(pattern, name) == 0;
}

static int tls_min_version(int v)
{
    /* Anything below 1.2 is raised to 1.2 (TEAMS.md §1.1). */
    if (v == TLS1_3_VERSION) {
        return TLS1_3_VERSION;
    }
    return TLS1_2_VERSION;
}

/* Common part of every context: versions, suites, our certificate. */
static SSL_CTX *ctx_build(bool server, int min_version, const char *cert, const char *key,
                          const char *ca_file, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) {
        set_err(err, errlen, NULL, "cannot create SSL_CTX");
        return NULL;
    }
    if (!SSL_CTX_set_min_proto_version(ctx, tls_min_version(min_version))) {
        set_err(err, errlen, NULL, "cannot set minimum TLS version");
        goto fail;
    }
    if (!SSL_CTX_set_cipher_list(ctx, SBC_TLS12_CIPHERS)) {
        set_err(err, errlen, NULL, "cannot set TLS 1.2 cipher list");
        goto fail;
    }
    /* Renegotiation only costs CPU and has a CVE history; SIP needs none. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);

    if (cert && key) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
            set_err(err, errlen, cert, "cannot load certificate chain");
            goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
            set_err(err, errlen, key, "cannot load private key");
            goto fail;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            set_err(err, errlen, key, "private key does not match the certificate");
            goto fail;
        }
    }

    if (ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
            set_err(err, errlen, ca_file, "cannot load trust anchors");
            goto fail;
        }
    } else if (!server) {
        SSL_CTX_set_default_verify_paths(ctx);
    }

    if (server) {
        static const unsigned char sid_ctx[] = "sbc";
        SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
        if (ca_file) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca_file);
            if (names) {
                SSL_CTX_set_client_CA_list(ctx, names);
            }
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        } else {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        }
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    ERR_clear_error();
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

/* Inbound SNI: switch to the certificate registered for that name. */
static int servername_cb(SSL *ssl, int *alert, void *arg)
{
    sbc_tls_t *tls = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name || !*name) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    for (size_t i = 0; i < tls->n_sni; i++) {
        if (sbc_tls_name_match(tls->sni[i].pattern, name)) {
            if (SSL_set_SSL_CTX(ssl, tls->sni[i].ctx) == NULL) {
                *alert = SSL_AD_INTERNAL_ERROR;
                return SSL_TLSEXT_ERR_ALERT_FATAL;
            }
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_OK;   /* main certificate */
}

sbc_tls_t *sbc_tls_create(const sbc_tls_conf_t *conf, char *err, size_t errlen)
{
    if (!conf || !conf->certificate || !conf->private_key) {
        if (err && errlen) {
            snprintf(err, errlen, "tls: certificate and private_key are required");
        }
        return NULL;
    }
    sbc_tls_t *tls = calloc(1, sizeof *tls);
    if (!tls) {
        snprintf(err, errlen, "tls: out of memory");
        return NULL;
    }
    tls->refs = 1;
    tls->min_version = conf->min_version;
    tls->verify_clients = conf->ca_file != NULL;
    if (conf->ca_file && !(tls->ca_file = strdup(conf->ca_file))) {
        goto fail;
    }
    tls->server = ctx_build(true, conf->min_version, conf->certificate, conf->private_key,
                            conf->ca_file, err, errlen);
    if (!tls->server) {
        goto fail;
    }
    tls->client = ctx_build(false, conf->min_version, conf->certificate, conf->private_key,
                            conf->ca_file, err, errlen);
    if (!tls->client) {
        goto fail;
    }
    SSL_CTX_set_tlsext_servername_callback(tls->server, servername_cb);
    SSL_CTX_set_tlsext_servername_arg(tls->server, tls);
    return tls;
fail:
    sbc_tls_unref(tls);
    return NULL;
}

static int add_entry(sbc_tls_t *tls, const char *pattern, SSL_CTX *ctx)
{
    struct sni_entry *n = realloc(tls->sni, (tls->n_sni + 1) * sizeof *n);
    if (!n) {
        return -1;
    }
    tls->sni = n;
    char *p = strdup(pattern);
    if (!p) {
        return -1;
    }
    SSL_CTX_up_ref(ctx);
    tls->sni[tls->n_sni].pattern = p;
    tls->sni[tls->n_sni].ctx = ctx;
    tls->n_sni++;
    return 0;
}

/* Registers every DNS SAN of the context's certificate (CN when none). */
static int add_cert_names(sbc_tls_t *tls, SSL_CTX *ctx, const char *file, char *err,
                          size_t errlen)
{
    X509 *x = SSL_CTX_get0_certificate(ctx);
    int added = 0;
    GENERAL_NAMES *sans = x ? X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL) : NULL;
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        if (gn->type != GEN_DNS) {
            continue;
        }
        const char *s = (const char *)ASN1_STRING_get0_data(gn->d.dNSName);
        if (add_entry(tls, s, ctx) < 0) {
            GENERAL_NAMES_free(sans);
            snprintf(err, errlen, "%s: out of memory", file);
            return -1;
        }
        added++;
    }
    GENERAL_NAMES_free(sans);
    if (added == 0 && x) {
        char cn[256];
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
                                      sizeof cn) > 0 && add_entry(tls, cn, ctx) == 0) {
            added++;
        }
    }
    if (added == 0) {
        snprintf(err, errlen, "%s: certificate has no DNS name to match SNI against", file);
        return -1;
    }
    return 0;
}

int sbc_tls_add_cert(sbc_tls_t *tls, const char *name_pattern, const char *cert_file,
                     const char *key_file, char *err, size_t errlen)
{
    SSL_CTX *ctx = ctx_build(true, tls->min_version, cert_file, key_file, tls->ca_file, err,
                             errlen);
    if (!ctx) {
        return -1;
    }
    int rc;
    if (name_pattern) {
        rc = add_entry(tls, name_pattern, ctx);
        if (rc < 0) {
            snprintf(err, errlen, "%s: out of memory", cert_file);
        }
    } else {
        rc = add_cert_names(tls, ctx, cert_file, err, errlen);
    }
    SSL_CTX_free(ctx);      /* the entries hold their own references */
    return rc;
}

sbc_tls_t *sbc_tls_ref(sbc_tls_t *tls)
{
    if (tls) {
        __atomic_add_fetch(&tls->refs, 1, __ATOMIC_RELAXED);
    }
    return tls;
}

void sbc_tls_unref(sbc_tls_t *tls)
{
    if (!tls || __atomic_sub_fetch(&tls->refs, 1, __ATOMIC_ACQ_REL) != 0) {
        return;
    }
    for (size_t i = 0; i < tls->n_sni; i++) {
        free(tls->sni[i].pattern);
        SSL_CTX_free(tls->sni[i].ctx);
    }
    free(tls->sni);
    SSL_CTX_free(tls->server);
    SSL_CTX_free(tls->client);
    free(tls->ca_file);
    free(tls);
}

struct ssl_ctx_st *sbc_tls_server_ctx(sbc_tls_t *tls)
{
    return tls->server;
}

struct ssl_ctx_st *sbc_tls_client_ctx(sbc_tls_t *tls)
{
    return tls->client;
}

bool sbc_tls_verifies_clients(const sbc_tls_t *tls)
{
    return tls->verify_clients;
}

struct ssl_st *sbc_tls_new_server_ssl(sbc_tls_t *tls)
{
    return SSL_new(tls->server);
}

struct ssl_st *sbc_tls_new_client_ssl(sbc_tls_t *tls, const char *peer_name, char *err,
                                      size_t errlen)
{
    SSL *ssl = SSL_new(tls->client);
    if (!ssl) {
        set_err(err, errlen, NULL, "cannot create SSL");
        return NULL;
    }
    if (peer_name && *peer_name) {
        if (is_ip_literal(peer_name)) {
            /* no SNI for addresses (RFC 6066 §3); the IP must be an IP SAN */
            if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), peer_name) != 1) {
                set_err(err, errlen, peer_name, "cannot set expected peer address");
                SSL_free(ssl);
                return NULL;
            }
        } else {
            SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            if (SSL_set1_host(ssl, peer_name) != 1 ||
                SSL_set_tlsext_host_name(ssl, peer_name) != 1) {
                set_err(err, errlen, peer_name, "cannot set SNI / expected peer name");
                SSL_free(ssl);
                return NULL;
            }
        }
    }
    return ssl;
}

const char *sbc_tls_sni(const struct ssl_st *ssl)
{
    const char *s = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    return s ? s : "";
}

void sbc_tls_peer_name(struct ssl_st *ssl, char *buf, size_t len)
{
    if (!len) {
        return;
    }
    buf[0] = '\0';
    X509 *x = SSL_get0_peer_certificate(ssl);
    if (!x || SSL_get_verify_result(ssl) != X509_V_OK) {
        return;
    }
    const char *checked = SSL_get0_peername(ssl);
    if (checked) {
        snprintf(buf, len, "%s", checked);
        return;
    }
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        if (gn->type == GEN_DNS) {
            snprintf(buf, len, "%s", (const char *)ASN1_STRING_get0_data(gn->d.dNSName));
            break;
        }
    }
    GENERAL_NAMES_free(sans);
    if (!buf[0]) {
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, (int)len);
    }
}

void sbc_tls_error_string(struct ssl_st *ssl, unsigned long ossl_err, char *buf, size_t len)
{
    long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    char ebuf[256] = "";
    if (ossl_err) {
        ERR_error_string_n(ossl_err, ebuf, sizeof ebuf);
    } else if (ERR_peek_last_error()) {
        ossl_errstr(ebuf, sizeof ebuf);
    }
    if (vr != X509_V_OK) {
        snprintf(buf, len, "certificate verification failed: %s%s%s",
                 X509_verify_cert_error_string(vr), ebuf[0] ? "; " : "", ebuf);
    } else {
        snprintf(buf, len, "%s", ebuf[0] ? ebuf : "handshake failed");
    }
    ERR_clear_error();
}
