/* Warm socket reuse: a freed port pair keeps its bound, watched sockets and
 * the next call gets them, with nothing of the previous call reaching it
 * (queued packets drained, late SRTP refused, fresh counters and latches),
 * quiet pairs only, and descriptors given back when they run short. One
 * thread: the test pumps the event_base itself. Addresses 127.0.5.0/24. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "media/sdes.h"
#include "media/session.h"
#include "media/srtp_ctx.h"
#include "sdp_samples.h"

#define A_IP "127.0.5.1"          /* the SBC, leg 0 */
#define B_IP "127.0.5.2"          /* the SBC, leg 1 */

struct fx {
    struct event_base *base;
    struct sbc_media_ctx *ctx;
    struct sbc_portpool *pa, *pb;
};

static char err[256], out[SBC_MEDIA_SDP_MAX];
static size_t out_len;

static struct fx *fx_new(unsigned cap, unsigned quiet_ms)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->base = event_base_new();
    f->ctx = sbc_media_ctx_create(f->base, &(struct sbc_media_ctx_cfg){ .batch_us = SBC_RELAY_TICK_US_DEFAULT }, err,
                                  sizeof(err));
    f->pa = sbc_portpool_create(A_IP, 23000, 23009, 0, 1, err, sizeof(err));
    f->pb = sbc_portpool_create(B_IP, 33000, 33009, 0, 1, err, sizeof(err));
    assert_non_null(f->ctx);
    assert_non_null(f->pa);
    assert_non_null(f->pb);
    assert_int_equal(sbc_media_ctx_warm_pool(f->ctx, f->pa, cap, quiet_ms, err, sizeof(err)), 0);
    assert_int_equal(sbc_media_ctx_warm_pool(f->ctx, f->pb, cap, quiet_ms, err, sizeof(err)), 0);
    return f;
}

static void fx_free(struct fx *f)
{
    sbc_portpool_destroy(f->pa);         /* before the ctx: it unwatches the warm sockets */
    sbc_portpool_destroy(f->pb);
    sbc_media_ctx_destroy(f->ctx);
    event_base_free(f->base);
    free(f);
}

/* Runs the worker loop for a few relay ticks. */
static void pump(struct fx *f)
{
    struct timeval t = { 0, 5 * SBC_RELAY_TICK_US_DEFAULT };
    event_base_loopexit(f->base, &t);
    event_base_dispatch(f->base);
}

/* Parked sockets are read when the relay's eventfd fires (with no call live
 * there is no tick), which can lag by some ms: pumps up to 1 s for them. */
static uint64_t parked_drops_reaching(struct fx *f, uint64_t want)
{
    for (int i = 0; i < 200 && sbc_media_ctx_parked_drops(f->ctx) < want; i++)
        pump(f);
    return sbc_media_ctx_parked_drops(f->ctx);
}

static uint16_t sdp_port(const char *sdp)
{
    const char *m = strstr(sdp, "m=audio ");
    assert_non_null(m);
    return (uint16_t)atoi(m + 8);
}

/* A call between two plain RTP legs (or a Teams leg 0 with key `tkey`).
 * Returns the session; *port0 is our port toward leg 0. */
static struct sbc_media_session *call(struct fx *f, const char *tkey, const char *a_port, const char *b_port,
                                      uint16_t *port0)
{
    struct sbc_media_leg_desc legs[2] = {
        { .kind = tkey ? SBC_MEDIA_LEG_TEAMS : SBC_MEDIA_LEG_CARRIER, .pool = f->pa },
        { .kind = SBC_MEDIA_LEG_CARRIER, .pool = f->pb },
    };
    struct sbc_media_session *ms = sbc_media_session_create(f->ctx, legs, NULL, NULL, err, sizeof(err));
    assert_non_null(ms);
    char offer[4096], answer[4096];
    if (tkey) {
        const char *ip = "127.0.5.21";   /* the format's order: o=, c=, m=, c=, a=rtcp, candidate, crypto */
        snprintf(offer, sizeof(offer), TEAMS_OFFER_FMT("%s", "%s", "%s"), ip, ip, a_port, ip, a_port, ip, a_port,
                 tkey);
        snprintf(answer, sizeof(answer), CARRIER_ANSWER_FMT("127.0.5.22", "%s", "sendrecv"), b_port);
    } else {
        snprintf(offer, sizeof(offer), CARRIER_OFFER_FMT("127.0.5.21", "%s", ""), a_port);
        snprintf(answer, sizeof(answer), CARRIER_OFFER_FMT("127.0.5.22", "%s", ""), b_port);
    }
    enum sbc_media_status st =
        sbc_media_session_offer(ms, 0, offer, strlen(offer), out, sizeof(out), &out_len, err, sizeof(err));
    if (st != SBC_MEDIA_OK)
        fail_msg("offer: %s", err);
    st = sbc_media_session_answer(ms, 1, answer, strlen(answer), out, sizeof(out), &out_len, err, sizeof(err));
    if (st != SBC_MEDIA_OK)
        fail_msg("answer: %s", err);
    *port0 = sdp_port(out);
    return ms;
}

static int ep(const char *ip, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, ip, &a.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        fail_msg("bind %s:%u: %s", ip, port, strerror(errno));
    return fd;
}

/* An RTP packet (SRTP when tx), sent from fd to A_IP:port. */
static void send_rtp(int fd, uint16_t port, uint16_t seq, sbc_srtp_t *tx)
{
    uint8_t pkt[256] = { 0x80, 0 };
    uint16_t sq = htons(seq);
    uint32_t ssrc = htonl(0x1234);
    memcpy(pkt + 2, &sq, 2);
    memcpy(pkt + 8, &ssrc, 4);
    int len = 12 + 160;
    if (tx)
        assert_int_equal(sbc_srtp_protect(tx, pkt, &len), SBC_SRTP_OK);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, A_IP, &to.sin_addr);
    assert_int_equal(sendto(fd, pkt, (size_t)len, 0, (struct sockaddr *)&to, sizeof(to)), len);
}

/* Packets waiting on fd (within wait_ms for the first). */
static int count_rx(int fd, int wait_ms)
{
    int n = 0;
    uint8_t buf[2048];
    struct pollfd p = { fd, POLLIN, 0 };
    while (poll(&p, 1, n ? 0 : wait_ms) > 0 && recv(fd, buf, sizeof(buf), 0) > 0)
        n++;
    return n;
}

static sbc_srtp_t *srtp_tx(const char *b64)
{
    char line[128], e[128];
    sbc_sdes_t k;
    snprintf(line, sizeof(line), "1 AES_CM_128_HMAC_SHA1_80 inline:%s", b64);
    assert_int_equal(sbc_sdes_parse(line, strlen(line), &k, e, sizeof(e)), 0);
    return sbc_srtp_create(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, k.key, true, e, sizeof(e));
}

/* The next call gets the same sockets; what the old peer sent in between is
 * dropped (while parked and at takeover), counters and latch start afresh. */
static void test_reuse_drops_stale(void **state)
{
    struct fx *f = fx_new(4, 0);
    int a = ep("127.0.5.21", 43000), a2 = ep("127.0.5.23", 43000), b = ep("127.0.5.22", 43010);
    uint16_t p1, p2;
    struct sbc_media_session *ms = call(f, NULL, "43000", "43010", &p1);
    for (uint16_t i = 0; i < 3; i++)
        send_rtp(a, p1, i, NULL);
    pump(f);
    assert_int_equal(count_rx(b, 500), 3);
    assert_int_equal(sbc_media_session_stats(ms, 0, 1)->tx_packets, 3);   /* batched or direct, counted */
    const char *io = sbc_media_ctx_io(f->ctx), *env = getenv("SBC_RELAY_URING");
    if (env && !strcmp(env, "0"))
        assert_string_not_equal(io, "io_uring");
    else if (strcmp(io, "io_uring") != 0)    /* this kernel cannot: the epoll path is what was tested */
        print_message("relay on epoll here: %s\n", io);
    const struct sbc_relay_tx_stats *tx = sbc_media_ctx_tx_stats(f->ctx);
    if (tx)                              /* io_uring: all 3 went in submissions */
        assert_int_equal(tx->packets, 3);
    sbc_media_session_destroy(ms);
    assert_int_equal(sbc_portpool_warm(f->pa), 1);
    assert_int_equal(sbc_portpool_warm(f->pb), 1);

    send_rtp(a, p1, 3, NULL);            /* the old peer goes on: parked, dropped */
    send_rtp(a, p1, 4, NULL);
    assert_int_equal(parked_drops_reaching(f, 2), 2);
    for (uint16_t i = 5; i < 8; i++)     /* queued when the next call takes the socket */
        send_rtp(a, p1, i, NULL);

    ms = call(f, NULL, "43000", "43010", &p2);
    assert_int_equal(p2, p1);
    assert_int_equal(sbc_portpool_stats(f->pa)->warm_hits, 1);
    assert_int_equal(sbc_portpool_stats(f->pb)->warm_hits, 1);
    assert_int_equal(sbc_media_ctx_parked_drops(f->ctx), 5);
    pump(f);
    assert_int_equal(count_rx(b, 50), 0);
    const struct sbc_relay_leg_stats *st = sbc_media_session_stats(ms, 0, 0);
    assert_int_equal(st->rx_packets, 0);
    assert_false(st->latched);
    assert_int_equal(sbc_media_session_stats(ms, 0, 1)->tx_packets, 0);

    send_rtp(a2, p2, 100, NULL);         /* the new peer latches */
    send_rtp(a2, p2, 101, NULL);
    pump(f);
    assert_int_equal(count_rx(b, 500), 2);
    assert_int_equal(st->rx_packets, 2);
    assert_true(st->latched);
    assert_int_equal(st->latched_addr.sin_addr.s_addr, inet_addr("127.0.5.23"));
    sbc_media_session_destroy(ms);
    close(a);
    close(a2);
    close(b);
    fx_free(f);
}

/* SRTP contexts are the new call's: a late packet under the old key fails
 * authentication and latches nothing. */
static void test_reuse_srtp_old_key_refused(void **state)
{
    struct fx *f = fx_new(4, 0);
    int t = ep("127.0.5.21", 43100), c = ep("127.0.5.22", 43110);
    sbc_srtp_t *k1 = srtp_tx(KEY_T1), *k2 = srtp_tx(KEY_C1);
    uint16_t p1, p2;
    struct sbc_media_session *ms = call(f, KEY_T1, "43100", "43110", &p1);
    send_rtp(t, p1, 1, k1);
    pump(f);
    assert_int_equal(count_rx(c, 500), 1);
    sbc_media_session_destroy(ms);

    ms = call(f, KEY_C1, "43100", "43110", &p2);
    assert_int_equal(p2, p1);
    send_rtp(t, p2, 2, k1);              /* the old call's key */
    pump(f);
    assert_int_equal(count_rx(c, 50), 0);
    const struct sbc_relay_leg_stats *st = sbc_media_session_stats(ms, 0, 0);
    assert_int_equal(st->srtp_auth_fail, 1);
    assert_false(st->latched);
    send_rtp(t, p2, 1, k2);
    pump(f);
    assert_int_equal(count_rx(c, 500), 1);
    assert_int_equal(st->rx_packets, 1);
    sbc_media_session_destroy(ms);
    sbc_srtp_destroy(k1);
    sbc_srtp_destroy(k2);
    close(t);
    close(c);
    fx_free(f);
}

/* A pair is reused only once quiet: not right after its call, and not while
 * the old peer keeps sending to it. */
static void test_quiet_period(void **state)
{
    struct fx *f = fx_new(4, 200);
    int a = ep("127.0.5.21", 43200);
    uint16_t p1, p2, p3, p4;
    struct sbc_media_session *ms = call(f, NULL, "43200", "43210", &p1);
    sbc_media_session_destroy(ms);
    ms = call(f, NULL, "43200", "43210", &p2);   /* too soon: another pair */
    assert_int_not_equal(p2, p1);
    assert_int_equal(sbc_portpool_stats(f->pa)->warm_hits, 0);
    sbc_media_session_destroy(ms);
    for (int i = 0; i < 8; i++) {                /* p1's old peer keeps on for 320 ms */
        send_rtp(a, p1, (uint16_t)i, NULL);
        pump(f);
        usleep(40000);
    }
    ms = call(f, NULL, "43200", "43210", &p3);
    assert_int_equal(p3, p2);                    /* quiet one first */
    assert_int_equal(sbc_portpool_stats(f->pa)->warm_hits, 1);
    sbc_media_session_destroy(ms);
    usleep(250000);
    pump(f);
    struct sbc_media_session *ms4 = call(f, NULL, "43200", "43210", &p4);
    assert_int_equal(p4, p1);                    /* quiet now */
    sbc_media_session_destroy(ms4);
    close(a);
    fx_free(f);
}

static unsigned open_fds(void)
{
    unsigned n = 0;
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;                        /* the DIR's own */
}

/* Out of descriptors: warm pairs are closed to make room; with none left the
 * offer fails with the status that becomes 503. */
static void test_fd_shortage(void **state)
{
    struct fx *f = fx_new(4, 60000);     /* never quiet: no warm hit */
    uint16_t p1, p2;
    struct sbc_media_session *ms = call(f, NULL, "43300", "43310", &p1);
    sbc_media_session_destroy(ms);
    assert_int_equal(sbc_portpool_warm(f->pa), 1);
    struct rlimit old, rl;
    getrlimit(RLIMIT_NOFILE, &old);
    rl = old;
    rl.rlim_cur = open_fds();
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);

    ms = call(f, NULL, "43300", "43310", &p2);
    assert_int_equal(sbc_portpool_stats(f->pa)->warm_evicted, 1);
    assert_int_equal(sbc_portpool_stats(f->pb)->warm_evicted, 1);
    assert_int_equal(sbc_portpool_warm(f->pa), 0);

    struct sbc_media_leg_desc legs[2] = { { .kind = SBC_MEDIA_LEG_CARRIER, .pool = f->pa },
                                          { .kind = SBC_MEDIA_LEG_CARRIER, .pool = f->pb } };
    struct sbc_media_session *none = sbc_media_session_create(f->ctx, legs, NULL, NULL, err, sizeof(err));
    const char *offer = CARRIER_OFFER_FMT("127.0.5.21", "43320", "");
    assert_int_equal(sbc_media_session_offer(none, 0, offer, strlen(offer), out, sizeof(out), &out_len, err,
                                             sizeof(err)),
                     SBC_MEDIA_E_PORTS);
    assert_non_null(strstr(err, "open-files limit"));
    sbc_media_session_destroy(none);
    setrlimit(RLIMIT_NOFILE, &old);
    /* the evicted pair's receives were cancelled: nothing holds its port */
    if (p2 != p1) {
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(p1) };
        inet_pton(AF_INET, A_IP, &a.sin_addr);
        if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
            fail_msg("evicted port %u still bound: %s", p1, strerror(errno));
        close(fd);
    }
    sbc_media_session_destroy(ms);
    fx_free(f);
}

int main(void)
{
    char e[128];
    if (sbc_srtp_global_init(e, sizeof(e)) != 0) {
        fprintf(stderr, "srtp: %s\n", e);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_drops_stale),
        cmocka_unit_test(test_reuse_srtp_old_key_refused),
        cmocka_unit_test(test_quiet_period),
        cmocka_unit_test(test_fd_shortage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
