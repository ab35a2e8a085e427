/* TCP transport: framing (1-byte chunks, pipelining), size cap, garbage,
 * CRLF ping/keep-alive, idle timeout, connection rules for requests and
 * responses, reuse, connect failure, a peer that does not read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>

#include "sbc/transport.h"
#include "tp_helpers.h"

#define SBC_IP "127.0.3.1"
#define PEER_IP "127.0.3.5"

struct fx {
    struct event_base *base;
    struct recorder rec;
    sbc_transport_t *t;
    sbc_interface_t *ifc;
    uint16_t port;
};

static void fx_open(struct fx *f, uint16_t port, const struct sbc_stream_opts *opts)
{
    memset(f, 0, sizeof *f);
    f->base = event_base_new();
    rec_init(&f->rec);
    struct sbc_transport_cbs cbs = rec_cbs(&f->rec);
    f->t = sbc_transport_create(f->base, 0, &cbs, opts);
    f->port = port;
    f->ifc = iface_new("core", SBC_IP, port, SBC_TP_TCP, NULL);
    char err[256];
    int rc = sbc_transport_listen(f->t, f->ifc, NULL, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
    }
    assert_int_equal(rc, 0);
}

static void fx_close(struct fx *f)
{
    rec_clear(&f->rec);
    sbc_transport_destroy(f->t);
    iface_free(f->ifc);
    event_base_free(f->base);
}

static void pump(struct fx *f)
{
    event_base_loop(f->base, EVLOOP_NONBLOCK);
}

static int listener(const char *ip, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage ss;
    socklen_t len;
    addr_make(&ss, &len, ip, port);
    assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
    assert_int_equal(listen(fd, 16), 0);
    return fd;
}

/* Accepts while the SBC's loop runs (its connect needs the loop). */
static int accept_pumping(struct fx *f, int lfd, int timeout_ms)
{
    for (int i = 0; i < timeout_ms; i++) {
        pump(f);
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        if (poll(&p, 1, 1) == 1) {
            return accept(lfd, NULL, NULL);
        }
    }
    return -1;
}

static const char *call_id_of(msg_t *m)
{
    sip_t *sip = sip_object(m);
    return sip && sip->sip_call_id ? sip->sip_call_id->i_id : "";
}

static void test_tcp_one_byte_chunks(void **state)
{
    struct fx f;
    fx_open(&f, 15070, NULL);
    int fd = tcp_connect(SBC_IP, f.port, PEER_IP);
    assert_true(fd >= 0);
    char text[1024];
    options_text(text, sizeof text, "chunks-1", 11);
    for (size_t i = 0; text[i]; i++) {
        assert_int_equal(write(fd, &text[i], 1), 1);
        pump(&f);
    }
    assert_true(loop_until(f.base, &f.rec.n_msgs, 2000));
    assert_int_equal(f.rec.n_msgs, 1);
    assert_string_equal(call_id_of(f.rec.msgs[0]), "chunks-1");
    sip_t *sip = sip_object(f.rec.msgs[0]);
    assert_non_null(sip->sip_payload);
    assert_int_equal(sip->sip_payload->pl_len, 11);
    assert_int_equal(f.rec.hops[0].tp, SBC_TP_TCP);
    assert_true(f.rec.hops[0].conn_id != 0);
    struct sbc_conn_info ci;
    assert_int_equal(sbc_transport_conn_info(f.t, f.rec.hops[0].conn_id, &ci), 0);
    assert_false(ci.outbound);
    close(fd);
    fx_close(&f);
}

static void test_tcp_pipelining_and_ping(void **state)
{
    struct fx f;
    fx_open(&f, 15071, NULL);
    int fd = tcp_connect(SBC_IP, f.port, PEER_IP);
    assert_true(fd >= 0);
    char a[1024], b[1024], c[1024], all[4096];
    options_text(a, sizeof a, "pipe-1", 0);
    options_text(b, sizeof b, "pipe-2", 5);
    options_text(c, sizeof c, "pipe-3", 0);
    /* three messages and a ping in one segment, leading keep-alive too */
    snprintf(all, sizeof all, "\r\n\r\n%s%s\r\n\r\n%s", a, b, c);
    assert_int_equal(write(fd, all, strlen(all)), (ssize_t)strlen(all));
    volatile int *n = &f.rec.n_msgs;
    for (int i = 0; i < 200 && *n < 3; i++) {
        loop_for(f.base, 5);
    }
    assert_int_equal(f.rec.n_msgs, 3);
    assert_string_equal(call_id_of(f.rec.msgs[0]), "pipe-1");
    assert_string_equal(call_id_of(f.rec.msgs[1]), "pipe-2");
    assert_string_equal(call_id_of(f.rec.msgs[2]), "pipe-3");
    assert_int_equal(sip_object(f.rec.msgs[1])->sip_payload->pl_len, 5);
    char buf[16];
    assert_int_equal(read_some(fd, buf, sizeof buf, 4, 500), 4);
    assert_memory_equal(buf, "\r\n\r\n", 4);    /* two pongs */
    sbc_transport_stats_t st;
    sbc_transport_stats(f.t, &st);
    assert_int_equal(st.stream.pings_answered, 2);
    assert_int_equal(st.stream.rx_msgs, 3);
    close(fd);
    fx_close(&f);
}

static void expect_closed(struct fx *f, int fd)
{
    char buf[256];
    int got = -1;
    for (int i = 0; i < 400; i++) {
        pump(f);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 5) == 1) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0) {
                got = 0;
                break;
            }
        }
    }
    assert_int_equal(got, 0);
}

static void test_tcp_oversized_closes(void **state)
{
    struct fx f;
    fx_open(&f, 15072, NULL);
    int fd = tcp_connect(SBC_IP, f.port, PEER_IP);
    char head[1024];
    options_text(head, sizeof head, "big", 0);
    /* claim 100 000 bytes of body */
    char *cl = strstr(head, "Content-Length: 0");
    assert_non_null(cl);
    snprintf(cl, sizeof head - (size_t)(cl - head), "Content-Length: 100000\r\n\r\n");
    assert_true(write(fd, head, strlen(head)) > 0);
    static char body[20000];
    memset(body, 'y', sizeof body);
    for (int i = 0; i < 5; i++) {
        if (write(fd, body, sizeof body) < 0) {
            break;
        }
        pump(&f);
    }
    expect_closed(&f, fd);
    sbc_transport_stats_t st;
    sbc_transport_stats(f.t, &st);
    assert_int_equal(st.stream.too_large, 1);
    assert_int_equal(st.stream.conns_in_open, 0);
    assert_int_equal(f.rec.n_msgs, 0);
    close(fd);
    fx_close(&f);
}

static void test_tcp_garbage_closes(void **state)
{
    struct fx f;
    fx_open(&f, 15073, NULL);
    int fd = tcp_connect(SBC_IP, f.port, PEER_IP);
    const char junk[] = "\x01\x02 GARBAGE !!\r\nno: colon here\r\n\x7f\xff\r\n\r\n";
    assert_true(write(fd, junk, sizeof junk - 1) > 0);
    expect_closed(&f, fd);
    sbc_transport_stats_t st;
    sbc_transport_stats(f.t, &st);
    assert_int_equal(st.stream.parse_errors, 1);
    assert_int_equal(f.rec.n_msgs, 0);
    close(fd);
    /* the listener still works */
    fd = tcp_connect(SBC_IP, f.port, PEER_IP);
    char text[1024];
    options_text(text, sizeof text, "after-garbage", 0);
    assert_true(write(fd, text, strlen(text)) > 0);
    assert_true(loop_until(f.base, &f.rec.n_msgs, 2000));
    close(fd);
    fx_close(&f);
}

static void test_tcp_idle_timeout(void **state)
{
    struct sbc_stream_opts o = { .idle_timeout_ms = 200 };
    struct fx f;
    fx_open(&f, 15074, &o);
    int fd = tcp_connect(SBC_IP, f.port, PEER_IP);
    pump(&f);
    sbc_transport_stats_t st;
    sbc_transport_stats(f.t, &st);
    assert_int_equal(st.stream.conns_in_open, 1);
    expect_closed(&f, fd);
    sbc_transport_stats(f.t, &st);
    assert_int_equal(st.stream.idle_closed, 1);
    assert_int_equal(st.stream.conns_in_open, 0);
    close(fd);
    fx_close(&f);
}

/* R22: a response goes back on the connection the request came in on; a
 * request toward the same peer opens our own connection. */
static void test_tcp_request_never_on_inbound(void **state)
{
    struct fx f;
    fx_open(&f, 15075, NULL);
    int lfd = listener(PEER_IP, 15175);
    int fd = tcp_connect(SBC_IP, f.port, PEER_IP);
    char text[1024];
    options_text(text, sizeof text, "in-1", 0);
    assert_true(write(fd, text, strlen(text)) > 0);
    assert_true(loop_until(f.base, &f.rec.n_msgs, 2000));
    sbc_hop_t in = f.rec.hops[0];
    uint64_t in_id = in.conn_id;

    msg_t *resp = make_msg("SIP/2.0 200 OK\r\n"
                           "Via: SIP/2.0/TCP 127.0.3.200:5060;branch=z9hG4bK-in-1\r\n"
                           "From: <sip:peer@127.0.3.200>;tag=t1\r\n"
                           "To: <sip:sbc@127.0.3.1>;tag=s1\r\n"
                           "Call-ID: in-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
    sbc_hop_t rh = in;
    assert_int_equal(sbc_transport_send(f.t, resp, &rh, false), 0);
    assert_int_equal(rh.conn_id, in_id);
    pump(&f);
    char buf[2048];
    assert_true(read_some(fd, buf, sizeof buf, 20, 1000) > 0);
    assert_memory_equal(buf, "SIP/2.0 200 OK", 14);

    /* the same hop (peer's connection) used for a request: not allowed */
    msg_t *req = make_msg("BYE sip:peer@127.0.3.5:15175;transport=tcp SIP/2.0\r\n"
                          "Via: SIP/2.0/TCP 127.0.3.1:15075;branch=z9hG4bK-bye\r\n"
                          "Max-Forwards: 70\r\n"
                          "From: <sip:sbc@127.0.3.1>;tag=s1\r\n"
                          "To: <sip:peer@127.0.3.200>;tag=t1\r\n"
                          "Call-ID: in-1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n");
    sbc_hop_t qh = in;
    addr_make(&qh.peer, &qh.peer_len, PEER_IP, 15175);     /* the peer's Contact */
    assert_int_equal(sbc_transport_send(f.t, req, &qh, true), 0);
    assert_true(qh.conn_id != 0);
    assert_true(qh.conn_id != in_id);
    struct sbc_conn_info ci;
    assert_int_equal(sbc_transport_conn_info(f.t, qh.conn_id, &ci), 0);
    assert_true(ci.outbound);
    int afd = accept_pumping(&f, lfd, 2000);
    assert_true(afd >= 0);
    assert_true(read_some(afd, buf, sizeof buf, 3, 1000) > 0);
    assert_memory_equal(buf, "BYE", 3);
    /* nothing extra arrived on the inbound connection */
    struct pollfd p = { .fd = fd, .events = POLLIN };
    assert_int_equal(poll(&p, 1, 50), 0);

    /* the peer closes its connection: a late response is refused */
    close(fd);
    fd = -1;
    for (int i = 0; i < 100; i++) {
        loop_for(f.base, 5);
        if (sbc_transport_conn_info(f.t, in_id, &ci) != 0) {
            break;
        }
    }
    sbc_hop_t late = in;
    assert_int_equal(sbc_transport_send(f.t, resp, &late, false), -ENOTCONN);

    msg_destroy(resp);
    msg_destroy(req);
    close(afd);
    close(lfd);
    fx_close(&f);
}

static void test_tcp_reuse_and_connect_failure(void **state)
{
    struct fx f;
    fx_open(&f, 15076, NULL);
    int lfd = listener(PEER_IP, 15176);
    char text[1024];
    options_text(text, sizeof text, "out-1", 0);
    msg_t *m = make_msg(text);
    sbc_hop_t h1 = { .tp = SBC_TP_TCP, .iface = f.ifc };
    addr_make(&h1.peer, &h1.peer_len, PEER_IP, 15176);
    sbc_hop_t h2 = h1;
    assert_int_equal(sbc_transport_send(f.t, m, &h1, true), 0);
    assert_int_equal(sbc_transport_send(f.t, m, &h2, true), 0);
    assert_true(h1.conn_id != 0);
    assert_int_equal(h1.conn_id, h2.conn_id);
    int afd = accept_pumping(&f, lfd, 2000);
    assert_true(afd >= 0);
    char buf[4096];
    int got = read_some(afd, buf, sizeof buf, 2 * strlen(text), 1000);
    assert_int_equal(got, (int)(2 * strlen(text)));

    /* nobody listens there: the failure comes back through on_send_error */
    sbc_hop_t h3 = { .tp = SBC_TP_TCP, .iface = f.ifc };
    addr_make(&h3.peer, &h3.peer_len, "127.0.3.9", 1);
    int rc = sbc_transport_send(f.t, m, &h3, true);
    assert_int_equal(rc, 0);
    assert_true(loop_until(f.base, &f.rec.n_errors, 3000));
    assert_int_equal(f.rec.err_hops[0].conn_id, h3.conn_id);
    assert_true(strstr(f.rec.err_reasons[0], "connect") != NULL);
    sbc_transport_stats_t st;
    sbc_transport_stats(f.t, &st);
    assert_int_equal(st.stream.connect_failed, 1);
    assert_int_equal(st.stream.opened, 2);
    assert_int_equal(st.stream.conns_out_open, 1);

    msg_destroy(m);
    close(afd);
    close(lfd);
    fx_close(&f);
}

static void test_tcp_keepalive_on_outbound(void **state)
{
    struct sbc_stream_opts o = { .keepalive_ms = 100, .idle_timeout_ms = 150 };
    struct fx f;
    fx_open(&f, 15077, &o);
    int lfd = listener(PEER_IP, 15177);
    char text[1024];
    options_text(text, sizeof text, "ka-1", 0);
    msg_t *m = make_msg(text);
    sbc_hop_t h = { .tp = SBC_TP_TCP, .iface = f.ifc };
    addr_make(&h.peer, &h.peer_len, PEER_IP, 15177);
    assert_int_equal(sbc_transport_send(f.t, m, &h, true), 0);
    int afd = accept_pumping(&f, lfd, 2000);
    char buf[4096];
    read_some(afd, buf, sizeof buf, strlen(text), 1000);
    /* 350 ms of quiet: keep-alives, and no idle close for our own connection */
    loop_for(f.base, 350);
    int n = read_some(afd, buf, sizeof buf, 8, 200);
    assert_true(n >= 8);
    assert_memory_equal(buf, "\r\n\r\n\r\n\r\n", 8);
    /* the peer answers a pong; it must not break framing */
    assert_int_equal(write(afd, "\r\n", 2), 2);
    loop_for(f.base, 20);
    sbc_transport_stats_t st;
    sbc_transport_stats(f.t, &st);
    assert_true(st.stream.keepalives_sent >= 2);
    assert_int_equal(st.stream.conns_out_open, 1);
    assert_int_equal(st.stream.idle_closed, 0);
    assert_int_equal(st.stream.parse_errors, 0);

    /* max age: retired connections are not used for new requests */
    sbc_transport_retire_outbound(f.t, NULL);
    sbc_hop_t h2 = { .tp = SBC_TP_TCP, .iface = f.ifc };
    addr_make(&h2.peer, &h2.peer_len, PEER_IP, 15177);
    assert_int_equal(sbc_transport_send(f.t, m, &h2, true), 0);
    assert_true(h2.conn_id != h.conn_id);
    int afd2 = accept_pumping(&f, lfd, 2000);
    assert_true(afd2 >= 0);

    msg_destroy(m);
    close(afd2);
    close(afd);
    close(lfd);
    fx_close(&f);
}

/* Max age: after it the connection takes no new requests and closes once
 * quiet, without reporting a send error (nothing was lost). */
static void test_tcp_max_age(void **state)
{
    struct sbc_stream_opts o = { .max_age_ms = 100, .retire_linger_ms = 100 };
    struct fx f;
    fx_open(&f, 15079, &o);
    int lfd = listener(PEER_IP, 15179);
    char text[1024];
    options_text(text, sizeof text, "age-1", 0);
    msg_t *m = make_msg(text);
    sbc_hop_t h = { .tp = SBC_TP_TCP, .iface = f.ifc };
    addr_make(&h.peer, &h.peer_len, PEER_IP, 15179);
    assert_int_equal(sbc_transport_send(f.t, m, &h, true), 0);
    int afd = accept_pumping(&f, lfd, 2000);
    assert_true(afd >= 0);
    expect_closed(&f, afd);
    sbc_transport_stats_t st;
    sbc_transport_stats(f.t, &st);
    assert_int_equal(st.stream.retired, 1);
    assert_int_equal(st.stream.conns_out_open, 0);
    assert_int_equal(f.rec.n_errors, 0);
    msg_destroy(m);
    close(afd);
    close(lfd);
    fx_close(&f);
}

static void test_tcp_acl(void **state)
{
    struct fx f;
    fx_open(&f, 15078, NULL);
    iface_add_allow(f.ifc, "127.0.3.32", 27);
    int fd = tcp_connect(SBC_IP, f.port, PEER_IP);
    expect_closed(&f, fd);
    sbc_transport_stats_t st;
    sbc_transport_stats(f.t, &st);
    assert_int_equal(st.stream.drop_acl, 1);
    close(fd);
    fx_close(&f);
}

/* Two workers with their own loops listen on one port (SO_REUSEPORT);
 * each accepted connection stays with the worker that accepted it. */
struct tworker {
    int index;
    const sbc_interface_t *ifc;
    volatile int ready, stop, ok;
    int msgs;
    uint64_t accepted;
    pthread_t th;
};

static void *tworker_main(void *arg)
{
    struct tworker *w = arg;
    struct event_base *base = event_base_new();
    struct recorder rec;
    rec_init(&rec);
    struct sbc_transport_cbs cbs = rec_cbs(&rec);
    sbc_transport_t *t = sbc_transport_create(base, w->index, &cbs, NULL);
    char err[256];
    w->ok = sbc_transport_listen(t, w->ifc, NULL, err, sizeof err) == 0;
    __atomic_store_n(&w->ready, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
        loop_for(base, 5);
    }
    for (int i = 0; i < rec.n_msgs; i++) {
        /* connection ids carry the owning worker */
        if (sbc_transport_conn_worker(rec.hops[i].conn_id) != w->index) {
            w->ok = 0;
        }
    }
    w->msgs = rec.n_msgs;
    sbc_transport_stats_t st;
    sbc_transport_stats(t, &st);
    w->accepted = st.stream.accepted;
    rec_clear(&rec);
    sbc_transport_destroy(t);
    event_base_free(base);
    return NULL;
}

#define N_CONNS 32

static void test_tcp_two_workers(void **state)
{
    sbc_interface_t *ifc = iface_new("core", SBC_IP, 15080, SBC_TP_TCP, NULL);
    struct tworker w[2];
    memset(w, 0, sizeof w);
    for (int i = 0; i < 2; i++) {
        w[i].index = i;
        w[i].ifc = ifc;
        pthread_create(&w[i].th, NULL, tworker_main, &w[i]);
    }
    for (int i = 0; i < 2; i++) {
        while (!__atomic_load_n(&w[i].ready, __ATOMIC_ACQUIRE)) {
            usleep(1000);
        }
        assert_true(w[i].ok);
    }
    int fds[N_CONNS];
    char text[1024];
    for (int i = 0; i < N_CONNS; i++) {
        fds[i] = tcp_connect(SBC_IP, 15080, PEER_IP);
        assert_true(fds[i] >= 0);
        char cid[32];
        snprintf(cid, sizeof cid, "tw-%d", i);
        options_text(text, sizeof text, cid, 0);
        assert_true(write(fds[i], text, strlen(text)) > 0);
    }
    usleep(300000);
    for (int i = 0; i < 2; i++) {
        __atomic_store_n(&w[i].stop, 1, __ATOMIC_RELEASE);
        pthread_join(w[i].th, NULL);
    }
    for (int i = 0; i < N_CONNS; i++) {
        close(fds[i]);
    }
    printf("worker 0: %d messages, worker 1: %d\n", w[0].msgs, w[1].msgs);
    assert_true(w[0].ok && w[1].ok);
    assert_int_equal(w[0].msgs + w[1].msgs, N_CONNS);
    assert_int_equal((int)(w[0].accepted + w[1].accepted), N_CONNS);
    assert_true(w[0].msgs > 0 && w[1].msgs > 0);
    iface_free(ifc);
}

/* A plain TCP peer connected to the fixture that has sent one OPTIONS:
 * its socket, and in *in the hop a response to it takes. rcvbuf > 0 fixes
 * a small receive window (set before connect, it also stops the kernel's
 * autotuning). */
static int peer_connect(struct fx *f, const char *call_id, int rcvbuf, sbc_hop_t *in)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_storage ss;
    socklen_t len;
    addr_make(&ss, &len, PEER_IP, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
    addr_make(&ss, &len, SBC_IP, f->port);
    assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), 0);
    char text[1024];
    options_text(text, sizeof text, call_id, 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_true(loop_until(f->base, &f->rec.n_msgs, 2000));
    *in = f->rec.hops[0];
    return fd;
}

/* Messages sent on a connection within one loop turn leave in one write:
 * the peer gets them in order, in one segment. */
static void test_tcp_one_write_per_turn(void **state)
{
    struct fx f;
    fx_open(&f, 15086, NULL);
    sbc_hop_t in;
    int fd = peer_connect(&f, "turn-1", 0, &in);
    sbc_transport_stats_t before, after;
    sbc_transport_stats(f.t, &before);
    for (int i = 1; i <= 5; i++) {      /* one turn: no loop in between */
        char resp[512];
        snprintf(resp, sizeof resp,
                 "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK-turn\r\n"
                 "From: <sip:a@%s>;tag=f\r\nTo: <sip:b@%s>;tag=t\r\nCall-ID: turn-1\r\n"
                 "CSeq: %d OPTIONS\r\nContent-Length: 0\r\n\r\n", PEER_IP, PEER_IP, SBC_IP, i);
        msg_t *m = make_msg(resp);
        assert_non_null(m);
        assert_int_equal(sbc_transport_send(f.t, m, &in, false), 0);
        msg_destroy(m);
    }
    sbc_transport_stats(f.t, &after);
    assert_int_equal(after.stream.tx_writes, before.stream.tx_writes);   /* nothing left yet */
    pump(&f);
    static char all[8192];
    size_t got = 0;
    int seen = 0;
    for (int idle = 0; idle < 100 && seen < 5;) {
        pump(&f);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 5) != 1) {
            idle++;
            continue;
        }
        ssize_t n = read(fd, all + got, sizeof all - 1 - got);
        assert_true(n > 0);
        got += (size_t)n;
        all[got] = '\0';
        seen = 0;
        for (char *q = all; (q = strstr(q, "CSeq: ")); q += 6)
            assert_int_equal(atoi(q + 6), ++seen);
    }
    assert_int_equal(seen, 5);
    sbc_transport_stats(f.t, &after);
    assert_int_equal(after.stream.tx_msgs - before.stream.tx_msgs, 5);
    assert_int_equal(after.stream.tx_writes - before.stream.tx_writes, 1);
    close(fd);
    fx_close(&f);
}

/* A peer that does not read: what its socket does not take waits in order
 * (the write event takes over), sends past max_output are refused, and once
 * the peer reads, every accepted response arrives whole and in order. */
static void test_tcp_slow_peer(void **state)
{
    struct sbc_stream_opts o = { .max_output = 128 * 1024 };
    struct fx f;
    fx_open(&f, 15085, &o);
    sbc_hop_t in;
    int fd = peer_connect(&f, "slow-1", 4096, &in);

    static char body[1001];
    memset(body, 'x', sizeof body - 1);
    int sent = 0, rc = 0;
    for (int i = 1; i <= 10000 && rc == 0; i++) {   /* the kernel alone takes a few MB */
        static char resp[2048];
        snprintf(resp, sizeof resp,
                 "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK-slow\r\n"
                 "From: <sip:a@%s>;tag=f\r\nTo: <sip:b@%s>;tag=t\r\nCall-ID: slow-1\r\n"
                 "CSeq: %d OPTIONS\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
                 PEER_IP, PEER_IP, SBC_IP, i, sizeof body - 1, body);
        msg_t *m = make_msg(resp);
        assert_non_null(m);
        rc = sbc_transport_send(f.t, m, &in, false);
        msg_destroy(m);
        if (rc == 0)
            sent++;
        pump(&f);
    }
    assert_int_equal(rc, -ENOBUFS);
    assert_true(sent >= 100);   /* 128 KiB queued plus what the socket took */
    sbc_transport_stats_t st;
    sbc_transport_stats(f.t, &st);
    assert_int_equal(st.stream.tx_refused, 1);

    static char all[16 << 20];
    size_t got = 0;
    for (int idle = 0; idle < 100 && got < sizeof all;) {
        pump(&f);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 5) != 1) {
            idle++;
            continue;
        }
        ssize_t n = read(fd, all + got, sizeof all - got);
        assert_true(n > 0);
        got += (size_t)n;
        idle = 0;
    }
    int seen = 0;
    for (char *q = all; (q = memmem(q, (size_t)(all + got - q), "CSeq: ", 6)); q += 6) {
        assert_int_equal(atoi(q + 6), seen + 1);
        seen++;
    }
    assert_int_equal(seen, sent);
    char *last = all + got - (sizeof body - 1);
    assert_true(got > sizeof body && memcmp(last, body, sizeof body - 1) == 0);   /* whole */
    close(fd);
    fx_close(&f);
}

int main(void)
{
    /* like sbcd: a peer's write to a connection the SBC closed must fail, not kill */
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads();
    sip_update_default_mclass(sip_extend_mclass(NULL));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_one_byte_chunks),
        cmocka_unit_test(test_tcp_pipelining_and_ping),
        cmocka_unit_test(test_tcp_oversized_closes),
        cmocka_unit_test(test_tcp_garbage_closes),
        cmocka_unit_test(test_tcp_idle_timeout),
        cmocka_unit_test(test_tcp_request_never_on_inbound),
        cmocka_unit_test(test_tcp_reuse_and_connect_failure),
        cmocka_unit_test(test_tcp_keepalive_on_outbound),
        cmocka_unit_test(test_tcp_max_age),
        cmocka_unit_test(test_tcp_acl),
        cmocka_unit_test(test_tcp_two_workers),
        cmocka_unit_test(test_tcp_slow_peer),
        cmocka_unit_test(test_tcp_one_write_per_turn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
