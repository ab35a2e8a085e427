/* TLS material: every certificate, key and CA file is read once, hashed
 * (reload diffs), parsed, and the certificate matched to its key. Tenant
 * FQDNs must be covered by the Teams interface's certificate, as Teams
 * checks that name on every connection. */
#include "config/fileio.h"
#include "config/loader.h"
#include "config/yaml_tree.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

typedef const struct sbc_ynode ynode;

/* Never prompt for a pass phrase: encrypted keys are refused. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    return 0;
}

/* A PEM file read into memory and hashed. */
struct pem {
    char *buf;
    BIO *bio;
};

static bool pem_open(struct sbc_loader *ld, ynode *at, const char *what, const char *path,
                     uint8_t sha[32], struct pem *p)
{
    memset(p, 0, sizeof(*p));
    size_t len = 0;
    int err = 0;
    p->buf = sbc_read_file(path, &len, &err);
    if (!p->buf) {
        sbc_loader_error(ld, at, "cannot read %s '%s': %s", what, path, strerror(err));
        return false;
    }
    unsigned int hl = 32;
    if (!EVP_Digest(p->buf, len, sha, &hl, EVP_sha256(), NULL))
        memset(sha, 0, 32);
    p->bio = BIO_new_mem_buf(p->buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (!p->bio) {
        free(p->buf);
        p->buf = NULL;
        sbc_loader_error(ld, at, "out of memory reading %s '%s'", what, path);
        return false;
    }
    return true;
}

static void pem_close(struct pem *p)
{
    BIO_free(p->bio);
    free(p->buf);
}

static ynode *key_node(struct sbc_loader *ld, size_t i, const char *key)
{
    ynode *n = sbc_ynode_get(ld->iface_tls_node[i], key);
    return n ? n : ld->iface_tls_node[i];
}

/* A certificate and its key: both must parse and match. Returns the leaf
 * X509 (caller frees) or NULL. sha: content hashes for the diff, or NULL. */
static X509 *load_pair(struct sbc_loader *ld, ynode *at_cert, ynode *at_key, const char *cert_path,
                       const char *key_path, uint8_t *cert_sha, uint8_t *key_sha)
{
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    uint8_t scratch[32];
    struct pem p;
    if (cert_path && pem_open(ld, at_cert, "certificate", cert_path, cert_sha ? cert_sha : scratch, &p)) {
        cert = PEM_read_bio_X509(p.bio, NULL, no_password, NULL);
        if (!cert)
            sbc_loader_error(ld, at_cert, "certificate '%s' does not parse as PEM", cert_path);
        pem_close(&p);
    }
    if (key_path && pem_open(ld, at_key, "private key", key_path, key_sha ? key_sha : scratch, &p)) {
        key = PEM_read_bio_PrivateKey(p.bio, NULL, no_password, NULL);
        if (!key)
            sbc_loader_error(ld, at_key, "private key '%s' does not parse as PEM (or is encrypted)", key_path);
        pem_close(&p);
    }
    if (cert && key && X509_check_private_key(cert, key) != 1)
        sbc_loader_error(ld, at_key, "certificate '%s' does not match private key '%s'", cert_path, key_path);
    EVP_PKEY_free(key);
    return cert;
}

static void check_interface(struct sbc_loader *ld, size_t i)
{
    sbc_tls_conf_t *t = ld->cfg->interfaces[i].tls;
    X509 *cert = load_pair(ld, key_node(ld, i, "certificate"), key_node(ld, i, "private_key"), t->certificate,
                           t->private_key, t->certificate_sha256, t->private_key_sha256);
    if (t->ca_file) {
        ynode *at = key_node(ld, i, "ca_file");
        struct pem p;
        if (pem_open(ld, at, "CA file", t->ca_file, t->ca_file_sha256, &p)) {
            X509 *ca = PEM_read_bio_X509(p.bio, NULL, no_password, NULL);
            if (!ca)
                sbc_loader_error(ld, at, "CA file '%s' holds no PEM certificate", t->ca_file);
            X509_free(ca);
            pem_close(&p);
        }
    }
    bool teams = &ld->cfg->interfaces[i] == ld->cfg->teams.interface;
    ynode *ex = sbc_ynode_get(ld->iface_tls_node[i], "extra_certificates");
    if (teams && t->n_extra)
        ld->teams_extra_cert = calloc(t->n_extra, sizeof(void *));
    for (size_t k = 0; k < t->n_extra; k++) {
        ynode *e = ex && k < ex->n ? ex->items[k] : key_node(ld, i, "extra_certificates");
        ynode *ec = sbc_ynode_get(e, "certificate"), *ek = sbc_ynode_get(e, "private_key");
        X509 *x = load_pair(ld, ec ? ec : e, ek ? ek : e, t->extra[k].certificate, t->extra[k].private_key, NULL,
                            NULL);
        if (teams && ld->teams_extra_cert)
            ld->teams_extra_cert[ld->n_teams_extra++] = x;
        else
            X509_free(x);
    }
    ld->iface_cert[i] = cert;
    ERR_clear_error();
}

static bool covers(X509 *cert, const char *fqdn)
{
    return cert && X509_check_host(cert, fqdn, strlen(fqdn), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
}

static void check_coverage(struct sbc_loader *ld)
{
    sbc_config_t *c = ld->cfg;
    const sbc_interface_t *ti = c->teams.interface;
    if (!ti || !ti->tls)
        return;
    X509 *cert = ld->iface_cert[ti - c->interfaces];
    if (!cert && !ld->n_teams_extra)
        return;
    for (size_t i = 0; i < c->n_tenants; i++) {
        const sbc_tenant_t *t = &c->tenants[i];
        if (!t->fqdn || !ld->tenant_fqdn_node[i])
            continue;
        bool ok = covers(cert, t->fqdn);
        for (size_t k = 0; !ok && k < ld->n_teams_extra; k++)
            ok = covers(ld->teams_extra_cert[k], t->fqdn);
        if (!ok)
            sbc_loader_error(ld, ld->tenant_fqdn_node[i],
                             "tenant fqdn '%s' is not covered by certificate '%s' of teams interface '%s'",
                             t->fqdn, ti->tls->certificate, ti->name);
    }
    ERR_clear_error();
}

void sbc_config_check_tls(struct sbc_loader *ld)
{
    sbc_config_t *c = ld->cfg;
    for (size_t i = 0; i < c->n_interfaces && !ld->no_files; i++)
        if (c->interfaces[i].tls && ld->iface_tls_node[i])
            check_interface(ld, i);
    const sbc_interface_t *ti = c->teams.interface;
    if (ti && !ti->tls)
        sbc_report_error(&ld->report, ti->where.file, ti->where.line,
                         "teams interface '%s' has no 'tls' section (Teams needs mutual TLS)", ti->name);
    check_coverage(ld);
}

void sbc_config_tls_release(struct sbc_loader *ld)
{
    for (size_t k = 0; k < ld->n_teams_extra; k++)
        X509_free(ld->teams_extra_cert[k]);
    free(ld->teams_extra_cert);
    ld->teams_extra_cert = NULL;
    ld->n_teams_extra = 0;
    if (!ld->iface_cert)
        return;
    for (size_t i = 0; i < ld->cfg->n_interfaces; i++) {
        X509_free(ld->iface_cert[i]);
        ld->iface_cert[i] = NULL;
    }
}
