/* Functional relay tests: a media session driven through its API on an
 * event_base thread of this process, with rtpend processes or in-process
 * sockets as the Teams and carrier endpoints (127.0.5.0/24). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "media/sdes.h"
#include "media/session.h"
#include "media/srtp_ctx.h"
#include "sdp_samples.h"

extern char **environ;

#define TEAMS_IP "127.0.5.1"     /* the SBC's Teams-side media address */
#define CORE_IP "127.0.5.2"      /* the SBC's carrier-side media address */
#define TEP_IP "127.0.5.11"      /* the Teams endpoint */
#define CEP_IP "127.0.5.12"      /* the carrier endpoint */

static const char *rtpend_path;

/* ---- the worker thread ---- */

static struct event_base *base;
static pthread_t loop_thread;
static struct sbc_media_ctx *mctx;
static struct sbc_portpool *pool_teams, *pool_core, *pool_tiny;

struct loop_job {
    void (*fn)(void *);
    void *arg;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void run_job(evutil_socket_t fd, short what, void *arg)
{
    struct loop_job *j = arg;
    j->fn(j->arg);
    pthread_mutex_lock(&j->mu);
    j->done = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

/* Runs fn on the worker thread and waits for it. */
static void on_loop(void (*fn)(void *), void *arg)
{
    struct loop_job j = { fn, arg, false, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };
    struct timeval zero = { 0, 0 };
    assert_int_equal(event_base_once(base, -1, EV_TIMEOUT, run_job, &j, &zero), 0);
    pthread_mutex_lock(&j.mu);
    while (!j.done)
        pthread_cond_wait(&j.cv, &j.mu);
    pthread_mutex_unlock(&j.mu);
}

static void *loop_main(void *arg)
{
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

/* ---- session calls, marshalled to the worker ---- */

struct call {
    struct sbc_media_session *ms;
    struct sbc_media_leg_desc legs[2];
    unsigned timeout_ms;
    int timeouts;                    /* callback count, read under timeout_mu */
    /* one operation */
    int op, from;
    const char *sdp;
    char out[SBC_MEDIA_SDP_MAX];
    size_t out_len;
    enum sbc_media_status st;
    char err[256];
    struct sbc_relay_leg_stats stats[2];
};

static pthread_mutex_t timeout_mu = PTHREAD_MUTEX_INITIALIZER;

static void on_timeout(struct sbc_media_session *ms, void *arg)
{
    struct call *c = arg;
    pthread_mutex_lock(&timeout_mu);
    c->timeouts++;
    pthread_mutex_unlock(&timeout_mu);
}

enum { OP_CREATE, OP_OFFER, OP_ANSWER, OP_STATS, OP_DESTROY };

static void do_op(void *arg)
{
    struct call *c = arg;
    switch (c->op) {
    case OP_CREATE:
        c->ms = sbc_media_session_create(mctx, c->legs, on_timeout, c, c->err, sizeof(c->err));
        if (c->ms && c->timeout_ms)
            sbc_media_session_set_timeout(c->ms, c->timeout_ms);
        break;
    case OP_OFFER:
        c->st = sbc_media_session_offer(c->ms, c->from, c->sdp, strlen(c->sdp), c->out, sizeof(c->out), &c->out_len,
                                        c->err, sizeof(c->err));
        break;
    case OP_ANSWER:
        c->st = sbc_media_session_answer(c->ms, c->from, c->sdp, strlen(c->sdp), c->out, sizeof(c->out),
                                         &c->out_len, c->err, sizeof(c->err));
        break;
    case OP_STATS:
        for (int l = 0; l < 2; l++) {
            const struct sbc_relay_leg_stats *s = sbc_media_session_stats(c->ms, 0, l);
            if (s)
                c->stats[l] = *s;
        }
        break;
    case OP_DESTROY:
        sbc_media_session_destroy(c->ms);
        c->ms = NULL;
        break;
    }
}

static struct call *call_new(enum sbc_media_leg_kind k0, enum sbc_media_leg_kind k1, unsigned timeout_ms)
{
    struct call *c = calloc(1, sizeof(*c));
    c->legs[0] = (struct sbc_media_leg_desc){ .kind = k0, .pool = pool_teams };
    c->legs[1] = (struct sbc_media_leg_desc){ .kind = k1, .pool = pool_core };
    c->timeout_ms = timeout_ms;
    c->op = OP_CREATE;
    on_loop(do_op, c);
    if (!c->ms)
        fail_msg("create: %s", c->err);
    return c;
}

static void call_free(struct call *c)
{
    c->op = OP_DESTROY;
    on_loop(do_op, c);
    free(c);
}

static enum sbc_media_status call_sdp(struct call *c, int op, int from, const char *sdp)
{
    c->op = op;
    c->from = from;
    c->sdp = sdp;
    c->err[0] = 0;
    on_loop(do_op, c);
    return c->st;
}

static void sdp_ok(struct call *c, int op, int from, const char *sdp)
{
    if (call_sdp(c, op, from, sdp) != SBC_MEDIA_OK)
        fail_msg("%s from leg %d: %s: %s", op == OP_OFFER ? "offer" : "answer", from, sbc_media_status_name(c->st),
                 c->err);
}

static void stats(struct call *c)
{
    c->op = OP_STATS;
    on_loop(do_op, c);
}

/* The m=audio port and the first crypto key of an SDP body we produced. */
static uint16_t sdp_port(const char *sdp)
{
    const char *m = strstr(sdp, "m=audio ");
    assert_non_null(m);
    return (uint16_t)atoi(m + 8);
}

static void sdp_key(const char *sdp, char b64[41], sbc_sdes_t *k)
{
    const char *a = strstr(sdp, "a=crypto:");
    assert_non_null(a);
    a += 9;
    size_t n = strcspn(a, "\r\n");
    char e[128];
    assert_int_equal(sbc_sdes_parse(a, n, k, e, sizeof(e)), 0);
    const char *in = strstr(a, "inline:") + 7;
    memcpy(b64, in, 40);
    b64[40] = 0;
}

/* ---- in-process endpoints ---- */

struct ep {
    int fd;
    struct sockaddr_in addr;
    sbc_srtp_t *tx, *rx;
    uint32_t ssrc;
};

static struct sockaddr_in sa(const char *ip, uint16_t port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static void ep_open(struct ep *e, const char *ip, uint16_t port, uint32_t ssrc)
{
    memset(e, 0, sizeof(*e));
    e->addr = sa(ip, port);
    e->ssrc = ssrc;
    e->fd = socket(AF_INET, SOCK_DGRAM, 0);
    int one = 1;
    setsockopt(e->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(e->fd, (struct sockaddr *)&e->addr, sizeof(e->addr)) < 0)
        fail_msg("bind %s:%u: %s", ip, port, strerror(errno));
}

static void ep_close(struct ep *e)
{
    close(e->fd);
    if (e->tx)
        sbc_srtp_destroy(e->tx);
    if (e->rx)
        sbc_srtp_destroy(e->rx);
}

static void ep_keys(struct ep *e, const uint8_t *tx, const uint8_t *rx)
{
    char err[128];
    if (e->tx)
        sbc_srtp_destroy(e->tx);
    if (e->rx)
        sbc_srtp_destroy(e->rx);
    e->tx = tx ? sbc_srtp_create(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, tx, true, err, sizeof(err)) : NULL;
    e->rx = rx ? sbc_srtp_create(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, rx, false, err, sizeof(err)) : NULL;
}

/* Builds packet ctr (RTP, or an RTCP receiver report) and sends it; returns
 * the bytes sent so a test can replay them. */
static int ep_send(struct ep *e, struct sockaddr_in to, uint32_t ctr, bool rtcp, uint8_t *pkt)
{
    int len;
    if (rtcp) {
        uint8_t rr[8] = { 0x80, 201, 0, 1 };
        memcpy(pkt, rr, 8);
        uint32_t s = htonl(e->ssrc);
        memcpy(pkt + 4, &s, 4);
        len = 8;
        if (e->tx)
            assert_int_equal(sbc_srtp_protect_rtcp(e->tx, pkt, &len), SBC_SRTP_OK);
    } else {
        pkt[0] = 0x80;
        pkt[1] = 0;
        uint16_t seq = htons((uint16_t)(100 + ctr));
        uint32_t ts = htonl(160u * ctr), s = htonl(e->ssrc), c = htonl(ctr);
        memcpy(pkt + 2, &seq, 2);
        memcpy(pkt + 4, &ts, 4);
        memcpy(pkt + 8, &s, 4);
        memcpy(pkt + 12, &c, 4);
        memset(pkt + 16, (int)(ctr & 0xff), 156);
        len = 172;
        if (e->tx)
            assert_int_equal(sbc_srtp_protect(e->tx, pkt, &len), SBC_SRTP_OK);
    }
    assert_int_equal(sendto(e->fd, pkt, (size_t)len, 0, (struct sockaddr *)&to, sizeof(to)), len);
    return len;
}

/* Receives one packet within timeout_ms: 1 RTP (ctr set), 2 RTCP, 0 none,
 * -1 failed to unprotect or bad content. */
static int ep_recv(struct ep *e, int timeout_ms, uint32_t *ctr, struct sockaddr_in *from)
{
    uint8_t pkt[2048];
    struct pollfd p = { e->fd, POLLIN, 0 };
    if (poll(&p, 1, timeout_ms) <= 0)
        return 0;
    socklen_t fl = sizeof(*from);
    int len = (int)recvfrom(e->fd, pkt, sizeof(pkt), 0, (struct sockaddr *)from, &fl);
    bool rtcp = len >= 2 && pkt[1] >= 192 && pkt[1] <= 223;
    if (e->rx) {
        enum sbc_srtp_status st = rtcp ? sbc_srtp_unprotect_rtcp(e->rx, pkt, &len) : sbc_srtp_unprotect(e->rx, pkt, &len);
        if (st != SBC_SRTP_OK)
            return -1;
    }
    if (rtcp)
        return len == 8 && pkt[1] == 201 ? 2 : -1;
    if (len != 172)
        return -1;
    uint32_t c;
    memcpy(&c, pkt + 12, 4);
    *ctr = ntohl(c);
    for (int i = 16; i < 172; i++)
        if (pkt[i] != (uint8_t)(*ctr & 0xff))
            return -1;
    return 1;
}

/* Sends n packets from a to the relay and expects them all at b, in order. */
static void flow(struct ep *a, struct sockaddr_in to, struct ep *b, uint32_t first, unsigned n)
{
    uint8_t pkt[2048];
    for (unsigned i = 0; i < n; i++) {
        ep_send(a, to, first + i, false, pkt);
        uint32_t ctr = 0;
        struct sockaddr_in from;
        int r = ep_recv(b, 1000, &ctr, &from);
        if (r != 1 || ctr != first + i)
            fail_msg("packet %u: recv %d ctr %u", first + i, r, ctr);
    }
}

/* ---- rtpend processes ---- */

static pid_t spawn(char *const argv[])
{
    pid_t pid;
    if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
        fail_msg("spawn %s", argv[0]);
    return pid;
}

static int reap(pid_t pid)
{
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* ---- setup ---- */

static int group_setup(void **state)
{
    char err[256];
    evthread_use_pthreads();
    if (sbc_srtp_global_init(err, sizeof(err)) != 0)
        return -1;
    base = event_base_new();
    mctx = sbc_media_ctx_create(base, &(struct sbc_media_ctx_cfg){ .batch_us = SBC_RELAY_TICK_US_DEFAULT }, err,
                                sizeof(err));
    pool_teams = sbc_portpool_create(TEAMS_IP, 22000, 22199, 0, 1, err, sizeof(err));
    pool_core = sbc_portpool_create(CORE_IP, 32000, 32199, 0, 1, err, sizeof(err));
    pool_tiny = sbc_portpool_create(TEAMS_IP, 22400, 22401, 0, 1, err, sizeof(err));
    if (!mctx || !pool_teams || !pool_core || !pool_tiny) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    return pthread_create(&loop_thread, NULL, loop_main, NULL);
}

static void stop_loop(void *arg)
{
    event_base_loopbreak(base);
}

static int group_teardown(void **state)
{
    on_loop(stop_loop, NULL);
    pthread_join(loop_thread, NULL);
    sbc_portpool_destroy(pool_teams);
    sbc_portpool_destroy(pool_core);
    sbc_portpool_destroy(pool_tiny);
    sbc_media_ctx_destroy(mctx);
    event_base_free(base);
    sbc_srtp_global_shutdown();
    libevent_global_shutdown();
    return 0;
}

/* ---- tests ---- */

static void key_bytes(const char *b64, uint8_t out[SBC_SRTP_KEY_LEN])
{
    char line[96], e[128];
    sbc_sdes_t k;
    snprintf(line, sizeof(line), "1 AES_CM_128_HMAC_SHA1_80 inline:%s", b64);
    assert_int_equal(sbc_sdes_parse(line, strlen(line), &k, e, sizeof(e)), 0);
    memcpy(out, k.key, SBC_SRTP_KEY_LEN);
}

/* Teams offers; returns our ports and our key toward Teams. */
static struct call *teams_call(unsigned timeout_ms, const char *tep_port, const char *cep_port, uint16_t *teams_port,
                               uint16_t *core_port, uint8_t ours[SBC_SRTP_KEY_LEN], char ours_b64[41])
{
    static char offer[4096], ans[4096];
    snprintf(offer, sizeof(offer), TEAMS_OFFER_FMT(TEP_IP, "%s", KEY_T1), tep_port, tep_port, tep_port);
    snprintf(ans, sizeof(ans), CARRIER_ANSWER_FMT(CEP_IP, "%s", "sendrecv"), cep_port);
    struct call *c = call_new(SBC_MEDIA_LEG_TEAMS, SBC_MEDIA_LEG_CARRIER, timeout_ms);
    sdp_ok(c, OP_OFFER, 0, offer);
    *core_port = sdp_port(c->out);
    sdp_ok(c, OP_ANSWER, 1, ans);
    *teams_port = sdp_port(c->out);
    sbc_sdes_t k;
    char b64[41];
    sdp_key(c->out, ours_b64 ? ours_b64 : b64, &k);
    memcpy(ours, k.key, SBC_SRTP_KEY_LEN);
    return c;
}

static void run_pair(char *const a[], char *const b[])
{
    pid_t pa = spawn(a), pb = spawn(b);
    int ra = reap(pa), rb = reap(pb);
    assert_int_equal(ra, 0);
    assert_int_equal(rb, 0);
}

/* SRTP on the Teams leg <-> RTP on the carrier leg, both directions, content
 * checked end to end by two rtpend processes (stock libsrtp2). */
static void test_srtp_rtp_both_ways(void **state)
{
    uint16_t tp, cp;
    uint8_t ours[SBC_SRTP_KEY_LEN];
    char ours_b64[41], remote_t[32], remote_c[32];
    struct call *c = teams_call(0, "40000", "40010", &tp, &cp, ours, ours_b64);
    snprintf(remote_t, sizeof(remote_t), TEAMS_IP ":%u", tp);
    snprintf(remote_c, sizeof(remote_c), CORE_IP ":%u", cp);
    char *teams[] = { (char *)rtpend_path, "--local", TEP_IP ":40000", "--remote", remote_t, "--send", "200",
                      "--recv", "200", "--tx-key", KEY_T1, "--rx-key", ours_b64, "--ssrc", "0x11110000",
                      "--expect-ssrc", "0x22220000", "--interval-ms", "5", "--start-delay-ms", "300",
                      "--timeout-ms", "3000", NULL };
    char *core[] = { (char *)rtpend_path, "--local", CEP_IP ":40010", "--remote", remote_c, "--send", "200",
                     "--recv", "200", "--ssrc", "0x22220000", "--expect-ssrc", "0x11110000", "--interval-ms", "5",
                     "--start-delay-ms", "300", "--timeout-ms", "3000", NULL };
    run_pair(teams, core);
    stats(c);
    assert_int_equal(c->stats[0].rx_packets, 200);
    assert_int_equal(c->stats[1].rx_packets, 200);
    assert_int_equal(c->stats[0].tx_packets, 200);
    assert_int_equal(c->stats[1].tx_packets, 200);
    assert_int_equal(c->stats[0].rx_bytes, 200 * (12 + 160 + 10));   /* SRTP tag included */
    assert_int_equal(c->stats[1].rx_bytes, 200 * (12 + 160));
    assert_int_equal(c->stats[0].srtp_auth_fail, 0);
    assert_true(c->stats[0].latched);
    call_free(c);
}

/* RTP <-> RTP (two carrier-style legs), rtpend at both ends. */
static void test_rtp_rtp(void **state)
{
    struct call *c = call_new(SBC_MEDIA_LEG_CARRIER, SBC_MEDIA_LEG_CARRIER, 0);
    sdp_ok(c, OP_OFFER, 0, CARRIER_OFFER_FMT(TEP_IP, "40020", ""));
    uint16_t cp = sdp_port(c->out);
    assert_null(strstr(c->out, "crypto"));
    sdp_ok(c, OP_ANSWER, 1, CARRIER_OFFER_FMT(CEP_IP, "40030", ""));
    uint16_t tp = sdp_port(c->out);
    char remote_t[32], remote_c[32];
    snprintf(remote_t, sizeof(remote_t), TEAMS_IP ":%u", tp);
    snprintf(remote_c, sizeof(remote_c), CORE_IP ":%u", cp);
    char *a[] = { (char *)rtpend_path, "--local", TEP_IP ":40020", "--remote", remote_t, "--send", "150", "--recv",
                  "150", "--interval-ms", "2", "--start-delay-ms", "300", "--timeout-ms", "3000", NULL };
    char *b[] = { (char *)rtpend_path, "--local", CEP_IP ":40030", "--remote", remote_c, "--send", "150", "--recv",
                  "150", "--interval-ms", "2", "--start-delay-ms", "300", "--timeout-ms", "3000", NULL };
    run_pair(a, b);
    stats(c);
    assert_int_equal(c->stats[0].rx_packets, 150);
    assert_int_equal(c->stats[1].rx_packets, 150);
    call_free(c);
}

/* The carrier sends from ports other than the signalled ones: the relay
 * latches to them (RTP and RTCP), ignores other sources, and RTCP crosses
 * between port + 1 and the Teams leg's muxed port as SRTCP. */
static void test_latching_and_rtcp(void **state)
{
    uint16_t tp, cp;
    uint8_t ours[SBC_SRTP_KEY_LEN], kt[SBC_SRTP_KEY_LEN], pkt[2048];
    struct call *c = teams_call(0, "41100", "41000", &tp, &cp, ours, NULL);
    key_bytes(KEY_T1, kt);
    struct ep t, cr, cc, sig, stray;
    ep_open(&t, TEP_IP, 41100, 0x1111);
    ep_keys(&t, kt, ours);
    ep_open(&cr, CEP_IP, 41500, 0x2222);    /* actual RTP source */
    ep_open(&cc, CEP_IP, 41501, 0x2222);    /* actual RTCP source */
    ep_open(&sig, CEP_IP, 41000, 0x3333);   /* the signalled address */
    ep_open(&stray, CEP_IP, 41700, 0x4444);
    struct sockaddr_in to_t = sa(TEAMS_IP, tp), to_c = sa(CORE_IP, cp), to_c_rtcp = sa(CORE_IP, (uint16_t)(cp + 1));

    flow(&cr, to_c, &t, 0, 5);             /* latches leg 1 to 41500 */
    flow(&t, to_t, &cr, 0, 10);            /* comes back to 41500 */
    uint32_t ctr;
    struct sockaddr_in from;
    assert_int_equal(ep_recv(&sig, 100, &ctr, &from), 0);

    ep_send(&stray, to_c, 99, false, pkt);  /* another source: dropped */
    assert_int_equal(ep_recv(&t, 200, &ctr, &from), 0);

    ep_send(&cc, to_c_rtcp, 0, true, pkt);  /* RTCP from port + 1 -> SRTCP muxed to Teams */
    assert_int_equal(ep_recv(&t, 1000, &ctr, &from), 2);
    assert_int_equal(ntohs(from.sin_port), tp);
    ep_send(&t, to_t, 0, true, pkt);        /* SRTCP from Teams -> RTCP to the latched port + 1 source */
    assert_int_equal(ep_recv(&cc, 1000, &ctr, &from), 2);
    assert_int_equal(ntohs(from.sin_port), cp + 1);

    stats(c);
    assert_true(c->stats[1].latched);
    assert_int_equal(ntohs(c->stats[1].latched_addr.sin_port), 41500);
    assert_int_equal(c->stats[1].foreign, 1);
    assert_int_equal(c->stats[1].rx_rtcp, 1);
    assert_int_equal(c->stats[0].rx_rtcp, 1);
    ep_close(&t);
    ep_close(&cr);
    ep_close(&cc);
    ep_close(&sig);
    ep_close(&stray);
    call_free(c);
}

static int timeouts_of(struct call *c)
{
    pthread_mutex_lock(&timeout_mu);
    int n = c->timeouts;
    pthread_mutex_unlock(&timeout_mu);
    return n;
}

static bool wait_timeout(struct call *c, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        if (timeouts_of(c))
            return true;
        usleep(10000);
    }
    return timeouts_of(c) > 0;
}

/* Media stops: the callback fires (once); a held (a=inactive) call does not
 * time out (R40) until it is resumed. */
static void test_media_timeout(void **state)
{
    uint16_t tp, cp;
    uint8_t ours[SBC_SRTP_KEY_LEN], pkt[2048];
    struct call *c = teams_call(300, "42100", "42000", &tp, &cp, ours, NULL);
    struct ep ce;
    ep_open(&ce, CEP_IP, 42000, 0x2222);
    for (uint32_t i = 0; i < 5; i++)
        ep_send(&ce, sa(CORE_IP, cp), i, false, pkt);
    assert_true(wait_timeout(c, 3000));
    usleep(400000);
    assert_int_equal(timeouts_of(c), 1);
    call_free(c);

    /* carrier-originated call, then hold from the carrier (c=0.0.0.0) */
    c = call_new(SBC_MEDIA_LEG_TEAMS, SBC_MEDIA_LEG_CARRIER, 300);
    static char ans[4096];
    sdp_ok(c, OP_OFFER, 1, CARRIER_OFFER_FMT(CEP_IP, "42000", ""));
    snprintf(ans, sizeof(ans), TEAMS_ANSWER_FMT(TEP_IP, "42100", KEY_T1, "sendrecv"));
    sdp_ok(c, OP_ANSWER, 0, ans);
    sdp_ok(c, OP_OFFER, 1, CARRIER_OFFER_FMT("0.0.0.0", "42000", ""));
    assert_non_null(strstr(c->out, "a=inactive\r\n"));
    assert_null(strstr(c->out, "0.0.0.0"));
    snprintf(ans, sizeof(ans), TEAMS_ANSWER_FMT(TEP_IP, "42100", KEY_T1, "inactive"));
    sdp_ok(c, OP_ANSWER, 0, ans);
    usleep(1200000);
    assert_int_equal(timeouts_of(c), 0);
    sdp_ok(c, OP_OFFER, 1, CARRIER_OFFER_FMT(CEP_IP, "42000", ""));   /* resume */
    snprintf(ans, sizeof(ans), TEAMS_ANSWER_FMT(TEP_IP, "42100", KEY_T1, "sendrecv"));
    sdp_ok(c, OP_ANSWER, 0, ans);
    assert_true(wait_timeout(c, 3000));
    ep_close(&ce);
    call_free(c);
}

/* A re-INVITE with a new key from Teams mid-stream: packets in flight with the
 * old key still pass, the new key (ROC 0) takes over, our new key toward
 * Teams works from a fresh context, and the old key is refused afterwards. */
static void test_rekey_mid_stream(void **state)
{
    uint16_t tp, cp, tp2, cp2;
    uint8_t ours[SBC_SRTP_KEY_LEN], ours2[SBC_SRTP_KEY_LEN], k1[SBC_SRTP_KEY_LEN], k2[SBC_SRTP_KEY_LEN];
    uint8_t pkt[2048];
    struct call *c = teams_call(0, "43100", "43000", &tp, &cp, ours, NULL);
    key_bytes(KEY_T1, k1);
    key_bytes(KEY_C1, k2);
    struct ep t, ce;
    ep_open(&t, TEP_IP, 43100, 0x1111);
    ep_open(&ce, CEP_IP, 43000, 0x2222);
    ep_keys(&t, k1, ours);
    struct sockaddr_in to_t = sa(TEAMS_IP, tp), to_c = sa(CORE_IP, cp);
    flow(&t, to_t, &ce, 0, 50);
    flow(&ce, to_c, &t, 0, 50);

    static char offer[4096], ans[4096];
    snprintf(offer, sizeof(offer), TEAMS_OFFER_FMT(TEP_IP, "43100", KEY_C1));
    snprintf(ans, sizeof(ans), CARRIER_ANSWER_FMT(CEP_IP, "43000", "sendrecv"));
    sdp_ok(c, OP_OFFER, 0, offer);
    cp2 = sdp_port(c->out);
    sdp_ok(c, OP_ANSWER, 1, ans);
    tp2 = sdp_port(c->out);
    assert_int_equal(tp, tp2);              /* R30 */
    assert_int_equal(cp, cp2);
    char b64[41];
    sbc_sdes_t k;
    sdp_key(c->out, b64, &k);
    memcpy(ours2, k.key, sizeof(ours2));
    assert_memory_not_equal(ours, ours2, sizeof(ours));

    flow(&t, to_t, &ce, 50, 3);              /* still the old key: in flight */
    ep_keys(&t, k2, ours2);                  /* Teams switches: fresh contexts, ROC 0 */
    flow(&t, to_t, &ce, 53, 100);
    flow(&ce, to_c, &t, 50, 100);

    struct ep old;                           /* the old key once the new one is in use */
    ep_open(&old, TEP_IP, 43101, 0x1111);
    ep_keys(&old, k1, NULL);
    close(old.fd);
    old.fd = t.fd;
    ep_send(&old, to_t, 500, false, pkt);
    uint32_t ctr;
    struct sockaddr_in from;
    assert_int_equal(ep_recv(&ce, 200, &ctr, &from), 0);
    old.fd = -1;
    stats(c);
    assert_int_equal(c->stats[0].srtp_auth_fail, 1);
    assert_int_equal(c->stats[0].rx_packets, 153);
    ep_close(&old);
    ep_close(&t);
    ep_close(&ce);
    call_free(c);
}

/* Wrong key: dropped, counted, no latching. Replayed packet: dropped, counted. */
static void test_wrong_key_and_replay(void **state)
{
    uint16_t tp, cp;
    uint8_t ours[SBC_SRTP_KEY_LEN], k1[SBC_SRTP_KEY_LEN], bad[SBC_SRTP_KEY_LEN], pkt[2048];
    struct call *c = teams_call(0, "44100", "44000", &tp, &cp, ours, NULL);
    key_bytes(KEY_T1, k1);
    key_bytes(KEY_C1, bad);
    struct ep t, ce, evil;
    ep_open(&t, TEP_IP, 44100, 0x1111);
    ep_open(&ce, CEP_IP, 44000, 0x2222);
    ep_open(&evil, TEP_IP, 44200, 0x1111);
    ep_keys(&evil, bad, NULL);
    ep_keys(&t, k1, ours);
    struct sockaddr_in to_t = sa(TEAMS_IP, tp);
    uint32_t ctr;
    struct sockaddr_in from;

    for (uint32_t i = 0; i < 5; i++)
        ep_send(&evil, to_t, i, false, pkt);
    assert_int_equal(ep_recv(&ce, 300, &ctr, &from), 0);
    stats(c);
    assert_int_equal(c->stats[0].srtp_auth_fail, 5);
    assert_false(c->stats[0].latched);     /* an unauthenticated packet never latches */

    int len = ep_send(&t, to_t, 0, false, pkt);
    assert_int_equal(ep_recv(&ce, 1000, &ctr, &from), 1);
    assert_int_equal(sendto(t.fd, pkt, (size_t)len, 0, (struct sockaddr *)&to_t, sizeof(to_t)), len);
    assert_int_equal(ep_recv(&ce, 300, &ctr, &from), 0);
    stats(c);
    assert_int_equal(c->stats[0].srtp_replay, 1);
    assert_int_equal(c->stats[0].rx_packets, 1);
    assert_true(c->stats[0].latched);
    assert_int_equal(ntohs(c->stats[0].latched_addr.sin_port), 44100);
    ep_close(&t);
    ep_close(&ce);
    ep_close(&evil);
    call_free(c);
}

/* The pool runs out: the offer fails with the status the B2BUA maps to 503. */
static void test_port_exhaustion(void **state)
{
    struct call *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    for (struct call *x = a; x; x = x == a ? b : NULL) {
        x->legs[0] = (struct sbc_media_leg_desc){ .kind = SBC_MEDIA_LEG_TEAMS, .pool = pool_tiny };
        x->legs[1] = (struct sbc_media_leg_desc){ .kind = SBC_MEDIA_LEG_CARRIER, .pool = pool_core };
        x->op = OP_CREATE;
        on_loop(do_op, x);
        assert_non_null(x->ms);
    }
    sdp_ok(a, OP_OFFER, 0, TEAMS_OFFER);
    assert_int_equal(call_sdp(b, OP_OFFER, 0, TEAMS_OFFER), SBC_MEDIA_E_PORTS);
    assert_non_null(strstr(b->err, "no free port pair"));
    call_free(a);
    sdp_ok(b, OP_OFFER, 0, TEAMS_OFFER);
    call_free(b);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-RTPEND\n", argv[0]);
        return 2;
    }
    rtpend_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_srtp_rtp_both_ways), cmocka_unit_test(test_rtp_rtp),
        cmocka_unit_test(test_latching_and_rtcp),  cmocka_unit_test(test_media_timeout),
        cmocka_unit_test(test_rekey_mid_stream),   cmocka_unit_test(test_wrong_key_and_replay),
        cmocka_unit_test(test_port_exhaustion),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
