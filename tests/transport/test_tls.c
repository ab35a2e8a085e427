/* TLS transport: mutual TLS, SNI, peer-name checks, certificate choice by
 * SNI, version and cipher policy, reuse by (peer, tp, tls_name).
 * argv[1]: directory made by scripts/gen-certs.sh (ctest fixture). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>

#include "sbc/tls.h"
#include "sbc/transport.h"
#include "tp_helpers.h"

static const char *g_dir;

#define EDGE_IP "127.0.3.10"
#define SBC_IP "127.0.3.11"
#define TEAMS "sip.pstnhub.microsoft.com"

/* Two transports on one loop: the SBC (client side, sbc.pem) and a fake
 * Teams edge (server side, its own certificate). */
struct fx {
    struct event_base *base;
    struct recorder srec, crec;
    sbc_transport_t *edge, *sbc;
    sbc_interface_t *edge_if, *sbc_if;
    sbc_tls_t *edge_tls, *sbc_tls;
    uint16_t port;
};

static void fx_open_with(struct fx *f, uint16_t port, const char *edge_cert)
{
    memset(f, 0, sizeof *f);
    f->base = event_base_new();
    f->port = port;
    rec_init(&f->srec);
    rec_init(&f->crec);
    char err[512];
    sbc_tls_conf_t ec = tls_conf(g_dir, edge_cert, true);
    f->edge_if = iface_new("edge", EDGE_IP, port, SBC_TP_TLS, &ec);
    f->edge_tls = sbc_tls_create(f->edge_if->tls, err, sizeof err);
    if (!f->edge_tls) {
        fprintf(stderr, "%s\n", err);
    }
    assert_non_null(f->edge_tls);
    sbc_tls_conf_t sc = tls_conf(g_dir, "sbc", true);
    f->sbc_if = iface_new("teams", SBC_IP, 0, SBC_TP_TLS, &sc);
    f->sbc_tls = sbc_tls_create(f->sbc_if->tls, err, sizeof err);
    assert_non_null(f->sbc_tls);

    struct sbc_transport_cbs scb = rec_cbs(&f->srec), ccb = rec_cbs(&f->crec);
    f->edge = sbc_transport_create(f->base, 1, &scb, NULL);
    f->sbc = sbc_transport_create(f->base, 0, &ccb, NULL);
}

static void fx_start(struct fx *f)
{
    char err[512];
    int rc = sbc_transport_listen(f->edge, f->edge_if, f->edge_tls, err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(sbc_transport_register(f->sbc, f->sbc_if, f->sbc_tls, err, sizeof err), 0);
}

static void fx_open(struct fx *f, uint16_t port)
{
    fx_open_with(f, port, "teams");
    fx_start(f);
}

static void fx_close(struct fx *f)
{
    rec_clear(&f->srec);
    rec_clear(&f->crec);
    sbc_transport_destroy(f->edge);
    sbc_transport_destroy(f->sbc);
    sbc_tls_unref(f->edge_tls);
    sbc_tls_unref(f->sbc_tls);
    iface_free(f->edge_if);
    iface_free(f->sbc_if);
    event_base_free(f->base);
}

static msg_t *options(const char *cid)
{
    char text[1024];
    options_text(text, sizeof text, cid, 0);
    return make_msg(text);
}

static int send_options(struct fx *f, const char *cid, const char *name, sbc_hop_t *h)
{
    memset(h, 0, sizeof *h);
    h->tp = SBC_TP_TLS;
    h->iface = f->sbc_if;
    addr_make(&h->peer, &h->peer_len, EDGE_IP, f->port);
    snprintf(h->tls_name, sizeof h->tls_name, "%s", name);
    msg_t *m = options(cid);
    int rc = sbc_transport_send(f->sbc, m, h, true);
    msg_destroy(m);
    return rc;
}

static void test_name_match(void **state)
{
    assert_true(sbc_tls_name_match("*.sbc.lab.example", "acme.sbc.lab.example"));
    assert_true(sbc_tls_name_match("*.sbc.lab.example", "ACME.sbc.lab.EXAMPLE"));
    assert_false(sbc_tls_name_match("*.sbc.lab.example", "a.b.sbc.lab.example"));
    assert_false(sbc_tls_name_match("*.sbc.lab.example", "sbc.lab.example"));
    assert_false(sbc_tls_name_match("*.sbc.lab.example", ".sbc.lab.example"));
    assert_true(sbc_tls_name_match("sip.pstnhub.microsoft.com", "sip.pstnhub.microsoft.com"));
    assert_false(sbc_tls_name_match("sip.pstnhub.microsoft.com", "sip2.pstnhub.microsoft.com"));
}

static void test_create_errors(void **state)
{
    char err[512];
    sbc_tls_conf_t c = tls_conf(g_dir, "missing", true);
    assert_null(sbc_tls_create(&c, err, sizeof err));
    assert_non_null(strstr(err, "missing.pem"));
    free(c.certificate);
    free(c.private_key);
    c.certificate = strdup(cert_path(g_dir, "sbc.pem"));
    c.private_key = strdup(cert_path(g_dir, "stray.key"));
    assert_null(sbc_tls_create(&c, err, sizeof err));
    assert_non_null(strstr(err, "stray.key"));
    free(c.certificate);
    free(c.private_key);
    free(c.ca_file);
}

static void test_mutual_tls_and_sni(void **state)
{
    struct fx f;
    fx_open(&f, 15090);
    sbc_hop_t h;
    assert_int_equal(send_options(&f, "mtls-1", TEAMS, &h), 0);
    assert_true(loop_until(f.base, &f.srec.n_msgs, 3000));

    /* the edge saw our SNI and our client certificate */
    sbc_hop_t in = f.srec.hops[0];
    assert_int_equal(in.tp, SBC_TP_TLS);
    assert_string_equal(in.tls_name, TEAMS);
    struct sbc_conn_info ci;
    assert_int_equal(sbc_transport_conn_info(f.edge, in.conn_id, &ci), 0);
    assert_false(ci.outbound);
    assert_string_equal(ci.peer_cert_name, "*.sbc.lab.example");

    /* our side verified the edge's name */
    assert_int_equal(sbc_transport_conn_info(f.sbc, h.conn_id, &ci), 0);
    assert_true(ci.outbound);
    assert_true(ci.established);
    assert_string_equal(ci.peer_cert_name, TEAMS);
    assert_string_equal(ci.tls_version, "TLSv1.3");

    /* response back on the same connection */
    msg_t *resp = make_msg("SIP/2.0 200 OK\r\n"
                           "Via: SIP/2.0/TCP 127.0.3.200:5060;branch=z9hG4bK-mtls-1\r\n"
                           "From: <sip:peer@127.0.3.200>;tag=t1\r\n"
                           "To: <sip:sbc@127.0.3.1>;tag=e1\r\n"
                           "Call-ID: mtls-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(sbc_transport_send(f.edge, resp, &in, false), 0);
    msg_destroy(resp);
    assert_true(loop_until(f.base, &f.crec.n_msgs, 3000));
    assert_int_equal(f.crec.hops[0].conn_id, h.conn_id);
    assert_int_equal(sip_object(f.crec.msgs[0])->sip_status->st_status, 200);
    fx_close(&f);
}

static bool in_cipher_list(const char *name)
{
    char list[] = SBC_TLS12_CIPHERS;
    for (char *save, *tok = strtok_r(list, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
        if (strcmp(tok, name) == 0) {
            return true;
        }
    }
    return false;
}

static void test_tls12_cipher(void **state)
{
    struct fx f;
    fx_open(&f, 15091);
    /* a 1.2-only peer: what we negotiate must be one of Microsoft's suites */
    SSL_CTX_set_max_proto_version(sbc_tls_client_ctx(f.sbc_tls), TLS1_2_VERSION);
    sbc_hop_t h;
    assert_int_equal(send_options(&f, "tls12", TEAMS, &h), 0);
    assert_true(loop_until(f.base, &f.srec.n_msgs, 3000));
    struct sbc_conn_info ci;
    assert_int_equal(sbc_transport_conn_info(f.sbc, h.conn_id, &ci), 0);
    assert_string_equal(ci.tls_version, "TLSv1.2");
    assert_true(in_cipher_list(ci.cipher));
    assert_int_equal(sbc_transport_conn_info(f.edge, f.srec.hops[0].conn_id, &ci), 0);
    assert_true(in_cipher_list(ci.cipher));
    fx_close(&f);
}

static void test_wrong_peer_name_fails(void **state)
{
    struct fx f;
    fx_open(&f, 15092);
    sbc_hop_t h;
    assert_int_equal(send_options(&f, "wrong", "sip.wrong.example", &h), 0);
    assert_true(loop_until(f.base, &f.crec.n_errors, 3000));
    assert_int_equal(f.crec.err_hops[0].conn_id, h.conn_id);
    assert_string_equal(f.crec.err_hops[0].tls_name, "sip.wrong.example");
    assert_non_null(strstr(f.crec.err_reasons[0], "verif"));
    loop_for(f.base, 50);
    assert_int_equal(f.srec.n_msgs, 0);
    sbc_transport_stats_t st;
    sbc_transport_stats(f.sbc, &st);
    assert_int_equal(st.stream.tls_handshake_failed, 1);
    assert_int_equal(st.stream.conns_out_open, 0);

    /* an IP literal is checked against IP SANs, which the edge has none of */
    assert_int_equal(send_options(&f, "by-ip", EDGE_IP, &h), 0);
    volatile int *ne = &f.crec.n_errors;
    for (int i = 0; i < 300 && *ne < 2; i++) {
        loop_for(f.base, 10);
    }
    assert_int_equal(f.crec.n_errors, 2);
    assert_int_equal(f.crec.err_hops[1].conn_id, h.conn_id);
    assert_non_null(strstr(f.crec.err_reasons[1], "IP address mismatch"));
    fx_close(&f);
}

static void test_reuse_by_tls_name(void **state)
{
    struct fx f;
    fx_open(&f, 15093);
    sbc_hop_t a, b, c;
    assert_int_equal(send_options(&f, "r1", TEAMS, &a), 0);
    assert_int_equal(send_options(&f, "r2", TEAMS, &b), 0);
    assert_int_equal(send_options(&f, "r3", "sip2.pstnhub.microsoft.com", &c), 0);
    assert_int_equal(a.conn_id, b.conn_id);
    assert_true(c.conn_id != a.conn_id);
    volatile int *n = &f.srec.n_msgs;
    for (int i = 0; i < 300 && *n < 3; i++) {
        loop_for(f.base, 10);
    }
    assert_int_equal(f.srec.n_msgs, 3);
    int sni_teams = 0, sni_sip2 = 0;
    for (int i = 0; i < 3; i++) {
        sni_teams += strcmp(f.srec.hops[i].tls_name, TEAMS) == 0;
        sni_sip2 += strcmp(f.srec.hops[i].tls_name, "sip2.pstnhub.microsoft.com") == 0;
    }
    assert_int_equal(sni_teams, 2);
    assert_int_equal(sni_sip2, 1);
    sbc_transport_stats_t st;
    sbc_transport_stats(f.edge, &st);
    assert_int_equal(st.stream.accepted, 2);
    fx_close(&f);
}

static void test_server_cert_by_sni(void **state)
{
    struct fx f;
    fx_open_with(&f, 15094, "other");   /* main certificate: other.example */
    char err[512];
    assert_int_equal(sbc_tls_add_cert(f.edge_tls, NULL, cert_path(g_dir, "teams.pem"),
                                      cert_path(g_dir, "teams.key"), err, sizeof err), 0);
    assert_int_equal(sbc_tls_add_cert(f.edge_tls, "*.sbc.lab.example", cert_path(g_dir, "sbc.pem"),
                                      cert_path(g_dir, "sbc.key"), err, sizeof err), 0);
    fx_start(&f);
    sbc_hop_t h1, h2, h3, h4;
    assert_int_equal(send_options(&f, "s1", "sip3.pstnhub.microsoft.com", &h1), 0);
    assert_int_equal(send_options(&f, "s2", "other.example", &h2), 0);
    assert_int_equal(send_options(&f, "s3", "acme.sbc.lab.example", &h3), 0);
    /* two labels under the wildcard: no match, main certificate, name check fails */
    assert_int_equal(send_options(&f, "s4", "a.b.sbc.lab.example", &h4), 0);
    volatile int *n = &f.srec.n_msgs;
    for (int i = 0; i < 300 && (*n < 3 || f.crec.n_errors < 1); i++) {
        loop_for(f.base, 10);
    }
    assert_int_equal(f.srec.n_msgs, 3);
    assert_int_equal(f.crec.n_errors, 1);
    assert_int_equal(f.crec.err_hops[0].conn_id, h4.conn_id);
    struct sbc_conn_info ci;
    assert_int_equal(sbc_transport_conn_info(f.sbc, h1.conn_id, &ci), 0);
    assert_string_equal(ci.peer_cert_name, "sip3.pstnhub.microsoft.com");
    assert_int_equal(sbc_transport_conn_info(f.sbc, h2.conn_id, &ci), 0);
    assert_string_equal(ci.peer_cert_name, "other.example");
    fx_close(&f);
}

/* ---- raw OpenSSL peers on their own thread ----------------------------- */

struct raw_client {
    uint16_t port;
    bool with_cert;
    int max_version;
    int handshake_ok;       /* SSL_connect result */
    int got_reply;          /* bytes read back after sending OPTIONS */
};

static void *raw_client_main(void *arg)
{
    struct raw_client *rc = arg;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx, cert_path(g_dir, "ca.pem"), NULL);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (rc->max_version) {
        SSL_CTX_set_security_level(ctx, 0);
        SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
        SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
        SSL_CTX_set_max_proto_version(ctx, rc->max_version);
    }
    if (rc->with_cert) {
        SSL_CTX_use_certificate_chain_file(ctx, cert_path(g_dir, "sbc.pem"));
        SSL_CTX_use_PrivateKey_file(ctx, cert_path(g_dir, "sbc.key"), SSL_FILETYPE_PEM);
    }
    int fd = tcp_connect(EDGE_IP, rc->port, SBC_IP);
    /* TLS 1.3 tickets make the socket readable without SIP data: bound reads */
    struct timeval tv = { 1, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, TEAMS);
    rc->handshake_ok = SSL_connect(ssl) == 1;
    if (rc->handshake_ok) {
        char text[1024];
        options_text(text, sizeof text, "raw", 0);
        SSL_write(ssl, text, (int)strlen(text));
        char buf[256];
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 1000) == 1) {
            rc->got_reply = SSL_read(ssl, buf, sizeof buf);
        }
    }
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return NULL;
}

static void run_raw(struct fx *f, struct raw_client *rc)
{
    struct job j;
    job_start(&j, raw_client_main, rc);
    assert_true(loop_until(f->base, &j.done, 5000));
    job_join(&j);
    loop_for(f->base, 20);
}

static void test_client_without_cert_rejected(void **state)
{
    struct fx f;
    fx_open(&f, 15095);
    struct raw_client rc = { .port = f.port, .with_cert = false };
    run_raw(&f, &rc);
    /* with TLS 1.3 the client may finish its side first; the server's alert
     * then ends the connection before any SIP is read */
    assert_true(rc.got_reply <= 0);
    assert_int_equal(f.srec.n_msgs, 0);
    sbc_transport_stats_t st;
    sbc_transport_stats(f.edge, &st);
    assert_int_equal(st.stream.tls_handshake_failed, 1);
    assert_int_equal(st.stream.conns_in_open, 0);

    /* control: the same client with a certificate gets through */
    struct raw_client ok = { .port = f.port, .with_cert = true };
    run_raw(&f, &ok);
    assert_true(ok.handshake_ok);
    assert_true(loop_until(f.base, &f.srec.n_msgs, 2000));
    fx_close(&f);
}

static void test_tls11_refused(void **state)
{
    struct fx f;
    fx_open(&f, 15096);
    struct raw_client rc = { .port = f.port, .with_cert = true, .max_version = TLS1_1_VERSION };
    run_raw(&f, &rc);
    assert_false(rc.handshake_ok);
    assert_int_equal(f.srec.n_msgs, 0);
    sbc_transport_stats_t st;
    sbc_transport_stats(f.edge, &st);
    assert_int_equal(st.stream.tls_handshake_failed, 1);
    fx_close(&f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CERT_DIR\n", argv[0]);
        return 2;
    }
    g_dir = argv[1];
    evthread_use_pthreads();
    sip_update_default_mclass(sip_extend_mclass(NULL));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_match),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_mutual_tls_and_sni),
        cmocka_unit_test(test_tls12_cipher),
        cmocka_unit_test(test_wrong_peer_name_fails),
        cmocka_unit_test(test_reuse_by_tls_name),
        cmocka_unit_test(test_server_cert_by_sni),
        cmocka_unit_test(test_client_without_cert_rejected),
        cmocka_unit_test(test_tls11_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
