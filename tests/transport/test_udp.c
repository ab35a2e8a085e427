/* UDP transport: round trip with parse, allow list, garbage, size limit,
 * two workers sharing one port with SO_REUSEPORT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>

#include "sbc/transport.h"
#include "tp_helpers.h"

static const char *OPTIONS_UDP =
    "OPTIONS sip:sbc@127.0.3.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.3.2:5060;branch=z9hG4bK-1\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:peer@127.0.3.2>;tag=a\r\n"
    "To: <sip:sbc@127.0.3.1>\r\n"
    "Call-ID: udp-1\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "Content-Length: 0\r\n\r\n";

static int udp_client(const char *ip)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_storage ss;
    socklen_t len;
    addr_make(&ss, &len, ip, 0);
    bind(fd, (struct sockaddr *)&ss, len);
    return fd;
}

static void send_to(int fd, const char *ip, uint16_t port, const void *data, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    addr_make(&ss, &sl, ip, port);
    assert_int_equal(sendto(fd, data, len, 0, (struct sockaddr *)&ss, sl), (ssize_t)len);
}

static void test_udp_roundtrip(void **state)
{
    struct event_base *base = event_base_new();
    struct recorder rec;
    rec_init(&rec);
    struct sbc_transport_cbs cbs = rec_cbs(&rec);
    sbc_transport_t *t = sbc_transport_create(base, 0, &cbs, NULL);
    sbc_interface_t *ifc = iface_new("carrier", "127.0.3.1", 15060, SBC_TP_UDP, NULL);
    char err[256];
    assert_int_equal(sbc_transport_listen(t, ifc, NULL, err, sizeof err), 0);

    int cfd = udp_client("127.0.3.2");
    send_to(cfd, "127.0.3.1", 15060, OPTIONS_UDP, strlen(OPTIONS_UDP));
    assert_true(loop_until(base, &rec.n_msgs, 2000));

    sip_t *sip = sip_object(rec.msgs[0]);
    assert_non_null(sip);
    assert_non_null(sip->sip_request);
    assert_int_equal(sip->sip_request->rq_method, sip_method_options);
    assert_string_equal(sip->sip_call_id->i_id, "udp-1");
    sbc_hop_t hop = rec.hops[0];
    assert_int_equal(hop.tp, SBC_TP_UDP);
    assert_ptr_equal(hop.iface, ifc);
    assert_int_equal(hop.conn_id, 0);
    char ip[64];
    inet_ntop(AF_INET, &((struct sockaddr_in *)&hop.peer)->sin_addr, ip, sizeof ip);
    assert_string_equal(ip, "127.0.3.2");
    inet_ntop(AF_INET, &((struct sockaddr_in *)&hop.local)->sin_addr, ip, sizeof ip);
    assert_string_equal(ip, "127.0.3.1");

    /* answer back along the hop */
    msg_t *resp = make_msg("SIP/2.0 200 OK\r\n"
                           "Via: SIP/2.0/UDP 127.0.3.2:5060;branch=z9hG4bK-1\r\n"
                           "From: <sip:peer@127.0.3.2>;tag=a\r\n"
                           "To: <sip:sbc@127.0.3.1>;tag=b\r\n"
                           "Call-ID: udp-1\r\n"
                           "CSeq: 1 OPTIONS\r\n"
                           "Content-Length: 0\r\n\r\n");
    assert_non_null(resp);
    assert_int_equal(sbc_transport_send(t, resp, &hop, false), 0);
    char buf[2048];
    struct pollfd p = { .fd = cfd, .events = POLLIN };
    assert_int_equal(poll(&p, 1, 2000), 1);
    ssize_t n = recv(cfd, buf, sizeof buf - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    msg_t *back = make_msg(buf);
    assert_non_null(back);
    assert_int_equal(sip_object(back)->sip_status->st_status, 200);
    msg_destroy(back);

    /* too big for UDP: the caller must switch to TCP */
    char big[4096];
    options_text(big, sizeof big, "big", 2000);
    msg_t *bm = make_msg(big);
    assert_non_null(bm);
    assert_int_equal(sbc_transport_send(t, bm, &hop, true), -EMSGSIZE);
    msg_destroy(bm);
    msg_destroy(resp);

    sbc_transport_stats_t st;
    sbc_transport_stats(t, &st);
    assert_int_equal(st.udp.rx_datagrams, 1);
    assert_int_equal(st.udp.tx_datagrams, 1);

    close(cfd);
    rec_clear(&rec);
    sbc_transport_destroy(t);
    iface_free(ifc);
    event_base_free(base);
}

static void test_udp_drops(void **state)
{
    struct event_base *base = event_base_new();
    struct recorder rec;
    rec_init(&rec);
    struct sbc_transport_cbs cbs = rec_cbs(&rec);
    sbc_transport_t *t = sbc_transport_create(base, 0, &cbs, NULL);
    sbc_interface_t *ifc = iface_new("carrier", "127.0.3.1", 15061, SBC_TP_UDP, NULL);
    iface_add_allow(ifc, "127.0.3.16", 28);     /* .16 - .31 */
    char err[256];
    assert_int_equal(sbc_transport_listen(t, ifc, NULL, err, sizeof err), 0);

    int bad = udp_client("127.0.3.2");
    int good = udp_client("127.0.3.20");
    send_to(bad, "127.0.3.1", 15061, OPTIONS_UDP, strlen(OPTIONS_UDP));
    send_to(good, "127.0.3.1", 15061, "garbage\r\n\r\n", 11);
    send_to(good, "127.0.3.1", 15061, OPTIONS_UDP, strlen(OPTIONS_UDP));
    assert_true(loop_until(base, &rec.n_msgs, 2000));
    loop_for(base, 50);

    sbc_transport_stats_t st;
    sbc_transport_stats(t, &st);
    assert_int_equal(rec.n_msgs, 1);
    assert_int_equal(st.udp.drop_acl, 1);
    assert_int_equal(st.udp.drop_parse, 1);
    assert_int_equal(st.udp.rx_datagrams, 1);

    close(bad);
    close(good);
    rec_clear(&rec);
    sbc_transport_destroy(t);
    iface_free(ifc);
    event_base_free(base);
}

struct flood {
    int received;
    uint64_t overflows;
    int expect;
    int complete;       /* received + overflows reached expect */
};

static void flood_count(struct flood *f)
{
    f->complete = f->received + (int)f->overflows >= f->expect;
}

static void flood_on_message(void *arg, msg_t *msg, const sbc_hop_t *src)
{
    struct flood *f = arg;
    (void)src;
    msg_destroy(msg);
    f->received++;
    flood_count(f);
}

static void flood_on_overflow(void *arg, uint64_t dropped)
{
    struct flood *f = arg;
    f->overflows += dropped;
    flood_count(f);
}

/* A burst while the worker is not reading: the socket's enlarged receive
 * buffer holds thousands of datagrams (the default held ~150), and what the
 * kernel still dropped is counted exactly. */
static void test_udp_burst_overflow(void **state)
{
    enum { N = 30000 };
    struct event_base *base = event_base_new();
    struct flood f = { .expect = N + 1 };
    struct sbc_transport_cbs cbs = { .on_message = flood_on_message, .on_rx_overflow = flood_on_overflow,
                                     .arg = &f };
    sbc_transport_t *t = sbc_transport_create(base, 0, &cbs, NULL);
    sbc_interface_t *ifc = iface_new("carrier", "127.0.3.1", 15064, SBC_TP_UDP, NULL);
    char err[256];
    assert_int_equal(sbc_transport_listen(t, ifc, NULL, err, sizeof err), 0);
    int fd = udp_client("127.0.3.2");
    for (int i = 0; i < N; i++)
        send_to(fd, "127.0.3.1", 15064, OPTIONS_UDP, strlen(OPTIONS_UDP));
    loop_for(base, 300);
    /* the kernel tells its drop count with the next datagram it queues */
    send_to(fd, "127.0.3.1", 15064, OPTIONS_UDP, strlen(OPTIONS_UDP));
    assert_true(loop_until(base, &f.complete, 5000));
    loop_for(base, 50);
    sbc_transport_stats_t st;
    sbc_transport_stats(t, &st);
    assert_int_equal(f.received + (int)f.overflows, N + 1);
    assert_true(f.overflows > 0);
    assert_true(f.received > 2000);
    assert_int_equal(st.udp.rx_overflows, f.overflows);
    assert_int_equal(st.udp.rx_datagrams, (uint64_t)f.received);
    close(fd);
    sbc_transport_destroy(t);
    iface_free(ifc);
    event_base_free(base);
}

/* Bound to 0.0.0.0 (on an odd port, only for a moment): the hop names the address the datagram was sent to, and
 * the answer leaves from that address. */
static void test_udp_wildcard_source(void **state)
{
    struct event_base *base = event_base_new();
    struct recorder rec;
    rec_init(&rec);
    struct sbc_transport_cbs cbs = rec_cbs(&rec);
    sbc_transport_t *t = sbc_transport_create(base, 0, &cbs, NULL);
    sbc_interface_t *ifc = iface_new("any", "0.0.0.0", 47163, SBC_TP_UDP, NULL);
    char err[256];
    assert_int_equal(sbc_transport_listen(t, ifc, NULL, err, sizeof err), 0);
    int cfd = udp_client("127.0.3.2");
    send_to(cfd, "127.0.3.7", 47163, OPTIONS_UDP, strlen(OPTIONS_UDP));
    assert_true(loop_until(base, &rec.n_msgs, 2000));
    sbc_hop_t hop = rec.hops[0];
    char ip[64];
    inet_ntop(AF_INET, &((struct sockaddr_in *)&hop.local)->sin_addr, ip, sizeof ip);
    assert_string_equal(ip, "127.0.3.7");
    assert_int_equal(ntohs(((struct sockaddr_in *)&hop.local)->sin_port), 47163);

    assert_int_equal(sbc_transport_send(t, rec.msgs[0], &hop, false), 0);
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    char buf[2048];
    struct pollfd p = { .fd = cfd, .events = POLLIN };
    assert_int_equal(poll(&p, 1, 2000), 1);
    assert_true(recvfrom(cfd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl) > 0);
    inet_ntop(AF_INET, &from.sin_addr, ip, sizeof ip);
    assert_string_equal(ip, "127.0.3.7");
    close(cfd);
    rec_clear(&rec);
    sbc_transport_destroy(t);
    iface_free(ifc);
    event_base_free(base);
}

/* Two workers, each with its own event_base on its own thread, bound to the
 * same address:port; the kernel hashes flows across them. */
struct worker {
    struct event_base *base;
    sbc_transport_t *t;
    struct recorder rec;
    volatile int stop;
    int received;
    const sbc_interface_t *ifc;
    int ok;
    int index;
    pthread_t th;
    volatile int ready;
};

static void stop_check(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < w->rec.n_msgs; i++) {
        msg_destroy(w->rec.msgs[i]);
    }
    w->rec.n_msgs = 0;
    if (w->stop) {
        event_base_loopbreak(w->base);
    }
}

#define N_FLOWS 64

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->base = event_base_new();
    rec_init(&w->rec);
    struct sbc_transport_cbs cbs = rec_cbs(&w->rec);
    w->t = sbc_transport_create(w->base, w->index, &cbs, NULL);
    char err[256];
    w->ok = sbc_transport_listen(w->t, w->ifc, NULL, err, sizeof err) == 0;
    struct event *tick = event_new(w->base, -1, EV_PERSIST, stop_check, w);
    struct timeval tv = { 0, 5000 };
    event_add(tick, &tv);
    __atomic_store_n(&w->ready, 1, __ATOMIC_RELEASE);
    event_base_dispatch(w->base);
    event_free(tick);
    sbc_transport_stats_t st;
    sbc_transport_stats(w->t, &st);
    w->received = (int)st.udp.rx_datagrams;
    sbc_transport_destroy(w->t);
    event_base_free(w->base);
    return NULL;
}

static void test_udp_two_workers(void **state)
{
    sbc_interface_t *ifc = iface_new("carrier", "127.0.3.1", 15062, SBC_TP_UDP, NULL);
    struct worker w[2];
    memset(w, 0, sizeof w);
    for (int i = 0; i < 2; i++) {
        w[i].ifc = ifc;
        w[i].index = i;
        pthread_create(&w[i].th, NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < 2; i++) {
        while (!__atomic_load_n(&w[i].ready, __ATOMIC_ACQUIRE)) {
            usleep(1000);
        }
        assert_true(w[i].ok);
    }
    int fds[N_FLOWS];
    for (int i = 0; i < N_FLOWS; i++) {
        fds[i] = udp_client("127.0.3.3");
        send_to(fds[i], "127.0.3.1", 15062, OPTIONS_UDP, strlen(OPTIONS_UDP));
    }
    usleep(300000);
    for (int i = 0; i < 2; i++) {
        w[i].stop = 1;
        pthread_join(w[i].th, NULL);
    }
    for (int i = 0; i < N_FLOWS; i++) {
        close(fds[i]);
    }
    printf("worker 0: %d datagrams, worker 1: %d\n", w[0].received, w[1].received);
    assert_int_equal(w[0].received + w[1].received, N_FLOWS);
    assert_true(w[0].received > 0);
    assert_true(w[1].received > 0);
    iface_free(ifc);
}

int main(void)
{
    evthread_use_pthreads();
    sip_update_default_mclass(sip_extend_mclass(NULL));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_roundtrip),
        cmocka_unit_test(test_udp_drops),
        cmocka_unit_test(test_udp_burst_overflow),
        cmocka_unit_test(test_udp_wildcard_source),
        cmocka_unit_test(test_udp_two_workers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
