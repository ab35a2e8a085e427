/* Media relay benchmark: relayed packets per second per core.
 *
 * A generator process paces N streams at R packets/s each (160-byte payloads)
 * into the forwarder under test; a sink in the same process counts what comes
 * out. The forwarder is one of:
 *   relay     the sbc media relay (sessions set up through the session API,
 *             one worker thread), paths rtp-rtp, rtp-srtp, srtp-rtp
 *   bare      a minimal epoll + recvmmsg/sendmmsg forwarder over the same
 *             per-stream sockets (the ceiling)
 *   rtpengine an external rtpengine (userspace), driven over its ng protocol
 *   bare-uring the bare forwarder with its sends queued to io_uring and
 *             submitted once per epoll batch (how much batching sends across
 *             sockets into one kernel entry would save)
 *   churn     no packets: media sessions created (offer + answer) and
 *             destroyed in a loop with --streams of them alive, as sbcd does
 *             per call; --warm-pairs N keeps N freed pairs per pool bound
 * CPU time of the forwarder is measured over a window after a warm-up:
 * µs per packet and packets per second per core = 1 / (CPU per packet). */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/io_uring.h>
#include <time.h>
#include <unistd.h>

#include "media/sdes.h"
#include "media/session.h"
#include "media/srtp_ctx.h"

#define GEN_IP "127.0.5.100"
#define GEN_PORT 50000
#define SINK_IP "127.0.5.200"
#define SINK_PORT 50000
#define A_IP "127.0.5.1"
#define B_IP "127.0.5.2"
#define PAYLOAD 160
#define GEN_KEY "XaxeQiPAGkjo3zZbEFJqHEjKYkKflc97xfsjkXYF"
#define SINK_KEY "ytxYuPqaZZ41CkrxqxK2IQ6m5Jn0/s1LLdka1DTN"
#define BATCH 64

enum mode { M_RELAY, M_BARE, M_RTPENGINE, M_CHURN, M_BARE_URING };
enum path { P_RTP_RTP, P_RTP_SRTP, P_SRTP_RTP };

static struct {
    enum mode mode;
    enum path path;
    unsigned streams, rate, warm_s, measure_s;
    const char *ng;                       /* rtpengine ng address */
    int rtpengine_pid;
    unsigned procs;                       /* forwarder processes (one event loop each, like workers) */
    unsigned warm_pairs, quiet_ms;        /* churn: warm reuse per pool */
    unsigned batch_us;                    /* relay: sbcd's node.media_batch */
} cfg = { M_RELAY, P_RTP_RTP, 100, 50, 2, 5, NULL, 0, 1, 0, 0, SBC_RELAY_TICK_US_DEFAULT };

/* Shared with the forwarder processes. */
struct shared {
    volatile uint64_t t0_ns;
    volatile unsigned ready;
    volatile unsigned stop;               /* the generator has seen the pipeline empty */
    volatile uint64_t cpu_ns[64];
};
static struct shared *sh;

static struct sockaddr_in *dst;           /* per stream: where the generator sends */
static const char *path_name[] = { "rtp-rtp", "rtp-srtp", "srtp-rtp" };
static const char *mode_name[] = { "relay", "bare", "rtpengine", "churn", "bare-uring" };

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t proc_cpu_ns(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    /* fields after ")": state(3) ... utime(14) stime(15) */
    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
    return (uint64_t)(ut + st) * (1000000000u / (uint64_t)sysconf(_SC_CLK_TCK));
}

static struct sockaddr_in sa(const char *ip, uint16_t port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static int udp_bound(const char *ip, uint16_t port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = sa(ip, port);
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        fprintf(stderr, "bind %s:%u: %s\n", ip, port, strerror(errno));
        exit(1);
    }
    return fd;
}

/* ---- generator + sink (the child process) ---- */

#define LAT_BUCKETS 2000                  /* 10 us each: 0-20 ms */

struct gen_result {
    uint64_t sent, received, win_received, win_sent;
    uint64_t lat_p50_us, lat_p99_us, lat_p999_us, lat_max_us;   /* generator -> sink, in the window */
    uint64_t drain_ms;
    uint64_t lag_ms;                      /* how far behind its schedule the generator finished */
};

static uint64_t t0_ns;                    /* generator start; the window follows the warm-up */
static uint64_t drain_ms;                 /* packets still arrived this long after the last send */
static uint64_t lag_ms;
static volatile uint64_t sink_count, sink_win_start, sink_win_end;
static uint64_t lat_hist[LAT_BUCKETS + 1], lat_n, lat_max;

/* The generator stamps CLOCK_MONOTONIC in the payload; readable at the sink
 * unless the relay encrypted it (rtp-srtp). */
static void lat_record(const uint8_t *pkt, int len, bool in_window)
{
    uint64_t sent;
    if (!in_window || len < 20 || cfg.path == P_RTP_SRTP)
        return;
    memcpy(&sent, pkt + 12, sizeof(sent));
    uint64_t us = (mono_ns() - sent) / 1000u;
    lat_hist[us / 10 < LAT_BUCKETS ? us / 10 : LAT_BUCKETS]++;
    lat_n++;
    if (us > lat_max)
        lat_max = us;
}

static uint64_t lat_pct(double q)
{
    uint64_t want = (uint64_t)(q * (double)lat_n), acc = 0;
    for (unsigned i = 0; i <= LAT_BUCKETS; i++)
        if ((acc += lat_hist[i]) > want)
            return (uint64_t)i * 10u + 10u;
    return lat_max;
}
static volatile bool sink_stop;

static void *sink_main(void *arg)
{
    int fd = *(int *)arg;
    static uint8_t buf[BATCH][2048];
    struct mmsghdr m[BATCH];
    struct iovec iov[BATCH];
    uint64_t w0 = t0_ns + (uint64_t)cfg.warm_s * 1000000000u, w1 = w0 + (uint64_t)cfg.measure_s * 1000000000u;
    bool in0 = false, in1 = false;
    while (!sink_stop) {
        struct pollfd p = { fd, POLLIN, 0 };
        poll(&p, 1, 10);
        for (;;) {
            for (int i = 0; i < BATCH; i++) {
                iov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
                m[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
            }
            int n = recvmmsg(fd, m, BATCH, MSG_DONTWAIT, NULL);
            if (n <= 0)
                break;
            sink_count += (uint64_t)n;
            for (int i = 0; i < n; i++)
                lat_record(buf[i], (int)m[i].msg_len, in0 && !in1);
        }
        uint64_t t = mono_ns();
        if (!in0 && t >= w0) {
            sink_win_start = sink_count;
            in0 = true;
        }
        if (!in1 && t >= w1) {
            sink_win_end = sink_count;
            in1 = true;
        }
    }
    return NULL;
}

static void run_generator(int result_fd)
{
    int gfd = udp_bound(GEN_IP, GEN_PORT, 0);
    int sfd = udp_bound(SINK_IP, SINK_PORT, 64 << 20);
    int sndbuf = 16 << 20;
    setsockopt(gfd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
    unsigned n = cfg.streams;
    sbc_srtp_t **tx = NULL;
    if (cfg.path == P_SRTP_RTP && cfg.mode != M_BARE) {
        char line[96], e[128];
        sbc_sdes_t k;
        snprintf(line, sizeof(line), "1 AES_CM_128_HMAC_SHA1_80 inline:%s", GEN_KEY);
        sbc_sdes_parse(line, strlen(line), &k, e, sizeof(e));
        tx = calloc(n, sizeof(*tx));
        for (unsigned i = 0; i < n; i++)
            tx[i] = sbc_srtp_create(SBC_SRTP_AES_CM_128_HMAC_SHA1_80, k.key, true, e, sizeof(e));
    }
    pthread_t sink;
    pthread_create(&sink, NULL, sink_main, &sfd);

    static uint8_t buf[BATCH][256];
    struct mmsghdr m[BATCH];
    struct iovec iov[BATCH];
    uint16_t *seq = calloc(n, sizeof(*seq));
    uint64_t sent = 0;
    const uint64_t tick = 2000000;        /* 2 ms: each tick sends n * rate / 500 packets */
    uint64_t end = t0_ns + (uint64_t)(cfg.warm_s + cfg.measure_s + 1) * 1000000000u;
    double per_tick = (double)n * cfg.rate * tick / 1e9, acc = 0;
    unsigned next = 0;
    while (mono_ns() < t0_ns)
        usleep(1000);
    uint64_t gw0 = t0_ns + (uint64_t)cfg.warm_s * 1000000000u, gw1 = gw0 + (uint64_t)cfg.measure_s * 1000000000u;
    uint64_t sent_w0 = 0, sent_w1 = 0;
    for (uint64_t t = t0_ns; t < end; t += tick) {
        if (t >= gw0 && !sent_w0)
            sent_w0 = sent;
        if (t >= gw1 && !sent_w1)
            sent_w1 = sent;
        uint64_t now = mono_ns();
        if (now < t) {
            struct timespec ts = { 0, (long)(t - now) };
            nanosleep(&ts, NULL);
        }
        acc += per_tick;
        unsigned todo = (unsigned)acc;
        acc -= todo;
        while (todo) {
            unsigned k = todo < BATCH ? todo : BATCH;
            for (unsigned j = 0; j < k; j++) {
                unsigned s = next;
                next = (next + 1) % n;
                uint8_t *p = buf[j];
                uint32_t ssrc = htonl(0x10000u + s), ts = htonl(160u * seq[s]);
                uint16_t sq = htons(seq[s]++);
                p[0] = 0x80;
                p[1] = 0;
                memcpy(p + 2, &sq, 2);
                memcpy(p + 4, &ts, 4);
                memcpy(p + 8, &ssrc, 4);
                memset(p + 12, 0x55, PAYLOAD);
                uint64_t stamp = mono_ns();
                memcpy(p + 12, &stamp, sizeof(stamp));
                int len = 12 + PAYLOAD;
                if (tx)
                    sbc_srtp_protect(tx[s], p, &len);
                iov[j] = (struct iovec){ p, (size_t)len };
                m[j].msg_hdr = (struct msghdr){ .msg_name = &dst[s], .msg_namelen = sizeof(dst[s]),
                                                .msg_iov = &iov[j], .msg_iovlen = 1 };
            }
            unsigned done = 0;
            while (done < k) {
                int r = sendmmsg(gfd, m + done, k - done, 0);
                if (r <= 0) {
                    if (errno == EAGAIN || errno == ENOBUFS)
                        continue;
                    done++;
                    continue;
                }
                done += (unsigned)r;
            }
            sent += k;
            todo -= k;
        }
    }
    /* Drain: until nothing arrived for 300 ms (at most 10 s), so a forwarder
     * that fell behind shows as drain time, not as loss. */
    uint64_t quiet_since = mono_ns(), last_count = sink_count, drain0 = quiet_since;
    while (mono_ns() - quiet_since < 300000000u && mono_ns() - drain0 < 10000000000u) {
        usleep(10000);
        if (sink_count != last_count) {
            last_count = sink_count;
            quiet_since = mono_ns();
        }
    }
    drain_ms = (quiet_since - drain0) / 1000000u;
    lag_ms = drain0 > end ? (drain0 - end) / 1000000u : 0;
    sh->stop = 1;
    sink_stop = true;
    pthread_join(sink, NULL);
    struct gen_result r = { sent, sink_count, sink_win_end - sink_win_start, sent_w1 - sent_w0,
                            lat_pct(0.5), lat_pct(0.99), lat_pct(0.999), lat_max, drain_ms, lag_ms };
    if (write(result_fd, &r, sizeof(r)) != sizeof(r))
        perror("write");
    _exit(0);
}

/* ---- forwarders ---- */

static uint64_t cpu_w0, cpu_w1;
static struct event_base *base;

static void on_w0(evutil_socket_t fd, short w, void *a) { cpu_w0 = thread_cpu_ns(); }
static void on_w1(evutil_socket_t fd, short w, void *a) { cpu_w1 = thread_cpu_ns(); }
static void on_end(evutil_socket_t fd, short w, void *a)
{
    if (sh->stop)
        event_base_loopbreak(base);
}

static void at(uint64_t when_ns, event_callback_fn fn)
{
    uint64_t now = mono_ns();
    uint64_t d = when_ns > now ? when_ns - now : 0;
    struct timeval tv = { (time_t)(d / 1000000000u), (suseconds_t)(d % 1000000000u / 1000u) };
    event_base_once(base, -1, EV_TIMEOUT, fn, NULL, &tv);
}

static struct sbc_media_session **sessions;
static struct sbc_media_ctx *mctx;
static struct sbc_portpool *pool_a, *pool_b;
static char offer[1024], answer[1024];

/* One call's media: session, offer from leg 0, answer from leg 1. */
static struct sbc_media_session *session_new(unsigned i)
{
    char err[256], out[SBC_MEDIA_SDP_MAX];
    size_t out_len;
    struct sbc_media_leg_desc legs[2] = {
        { .kind = cfg.path == P_SRTP_RTP ? SBC_MEDIA_LEG_TEAMS : SBC_MEDIA_LEG_CARRIER, .pool = pool_a },
        { .kind = cfg.path == P_RTP_SRTP ? SBC_MEDIA_LEG_TEAMS : SBC_MEDIA_LEG_CARRIER, .pool = pool_b },
    };
    struct sbc_media_session *ms = sbc_media_session_create(mctx, legs, NULL, NULL, err, sizeof(err));
    if (!ms || sbc_media_session_offer(ms, 0, offer, strlen(offer), out, sizeof(out), &out_len, err,
                                       sizeof(err)) != SBC_MEDIA_OK ||
        sbc_media_session_answer(ms, 1, answer, strlen(answer), out, sizeof(out), &out_len, err, sizeof(err)) !=
            SBC_MEDIA_OK) {
        fprintf(stderr, "session %u: %s\n", i, err);
        exit(1);
    }
    return ms;
}

/* Streams [first, first + count) on forwarder process `proc`. */
static void setup_relay(unsigned proc, unsigned first, unsigned count)
{
    char err[256];
    base = event_base_new();
    mctx = sbc_media_ctx_create(base, &(struct sbc_media_ctx_cfg){ .batch_us = cfg.batch_us }, err, sizeof(err));
    pool_a = sbc_portpool_create(A_IP, 10000, 49999, proc, cfg.procs, err, sizeof(err));
    pool_b = sbc_portpool_create(B_IP, 10000, 49999, proc, cfg.procs, err, sizeof(err));
    if (!mctx || !pool_a || !pool_b ||
        (cfg.warm_pairs && (sbc_media_ctx_warm_pool(mctx, pool_a, cfg.warm_pairs, cfg.quiet_ms, err, sizeof(err)) ||
                            sbc_media_ctx_warm_pool(mctx, pool_b, cfg.warm_pairs, cfg.quiet_ms, err, sizeof(err))))) {
        fprintf(stderr, "setup: %s\n", err);
        exit(1);
    }
    const char *crypto_a = "a=rtcp-mux\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" GEN_KEY "\r\n";
    const char *crypto_b = "a=rtcp-mux\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" SINK_KEY "\r\n";
    snprintf(offer, sizeof(offer),
             "v=0\r\no=- 1 1 IN IP4 " GEN_IP "\r\ns=-\r\nc=IN IP4 " GEN_IP "\r\nt=0 0\r\n"
             "m=audio %u %s 0 101\r\n%sa=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n",
             GEN_PORT, cfg.path == P_SRTP_RTP ? "RTP/SAVP" : "RTP/AVP", cfg.path == P_SRTP_RTP ? crypto_a : "");
    snprintf(answer, sizeof(answer),
             "v=0\r\no=- 2 1 IN IP4 " SINK_IP "\r\ns=-\r\nc=IN IP4 " SINK_IP "\r\nt=0 0\r\n"
             "m=audio %u %s 0 101\r\n%sa=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n",
             SINK_PORT, cfg.path == P_RTP_SRTP ? "RTP/SAVP" : "RTP/AVP", cfg.path == P_RTP_SRTP ? crypto_b : "");
    sessions = calloc(cfg.streams, sizeof(*sessions));
    for (unsigned i = first; i < first + count; i++) {
        sessions[i] = session_new(i);
        dst[i] = sa(A_IP, sbc_media_session_local_port(sessions[i], 0, 0));
    }
}

/* Media set-up cost per call: --streams sessions alive; the oldest is
 * destroyed and a new one created (offer + answer) in a loop. */
static void run_churn(void)
{
    cfg.procs = 1;
    setup_relay(0, 0, cfg.streams);
    uint64_t end = mono_ns() + (uint64_t)cfg.measure_s * 1000000000u, c0 = thread_cpu_ns(), n = 0;
    while (mono_ns() < end) {
        for (unsigned k = 0; k < 64; k++, n++) {
            unsigned i = (unsigned)(n % cfg.streams);
            sbc_media_session_destroy(sessions[i]);
            sessions[i] = session_new(i);
        }
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
    double cpu_s = (double)(thread_cpu_ns() - c0) / 1e9;
    const struct sbc_portpool_stats *st = sbc_portpool_stats(pool_a);
    printf("churn     %-8s alive=%-6u warm=%-4u quiet=%ums  %8.0f sessions/s per CPU-second  %6.2f us/session  "
           "warm hits %.0f%%\n",
           path_name[cfg.path], cfg.streams, cfg.warm_pairs, cfg.quiet_ms, (double)n / cpu_s, cpu_s * 1e6 / (double)n,
           100.0 * (double)st->warm_hits / (double)(st->warm_hits + st->cold_allocs));
}

/* Where the relay dropped packets (stderr, only when it did): tells relay
 * losses from kernel ones (socket buffers, see nstat). */
static void report_drops(unsigned first, unsigned count)
{
    struct sbc_relay_leg_stats t = { 0 };
    for (unsigned i = first; i < first + count; i++)
        for (int l = 0; l < 2; l++) {
            const struct sbc_relay_leg_stats *st = sbc_media_session_stats(sessions[i], 0, l);
            t.rx_packets += st->rx_packets;
            t.srtp_auth_fail += st->srtp_auth_fail;
            t.srtp_replay += st->srtp_replay;
            t.foreign += st->foreign;
            t.malformed += st->malformed;
            t.no_dest += st->no_dest;
            t.send_fail += st->send_fail;
        }
    const struct sbc_relay_tx_stats *tx = sbc_media_ctx_tx_stats(mctx);
    if (tx && tx->submits)
        fprintf(stderr, "  relay io_uring: %.1f packets per send submission, %llu wake-ups, %llu ticks, "
                        "%llu receives out of buffers, %llu failed\n",
                (double)tx->packets / (double)tx->submits, (unsigned long long)tx->wakeups,
                (unsigned long long)tx->ticks, (unsigned long long)tx->rx_nobufs, (unsigned long long)tx->rx_errors);
    else
        fprintf(stderr, "  relay io: %s\n", sbc_media_ctx_io(mctx));
    uint64_t drops = t.srtp_auth_fail + t.srtp_replay + t.foreign + t.malformed + t.no_dest + t.send_fail;
    if (drops)
        fprintf(stderr, "relay drops: rx=%llu auth=%llu replay=%llu foreign=%llu malformed=%llu no_dest=%llu "
                        "send_fail=%llu\n",
                (unsigned long long)t.rx_packets, (unsigned long long)t.srtp_auth_fail,
                (unsigned long long)t.srtp_replay, (unsigned long long)t.foreign, (unsigned long long)t.malformed,
                (unsigned long long)t.no_dest, (unsigned long long)t.send_fail);
}

struct bare_pair {
    int in, out;
};

static struct bare_pair *bare;
static int bare_ep;

static void setup_bare(unsigned first, unsigned count)
{
    bare = calloc(cfg.streams, sizeof(*bare));
    bare_ep = epoll_create1(0);
    for (unsigned i = first; i < first + count; i++) {
        uint16_t port = (uint16_t)(10000 + 2 * i);
        bare[i].in = udp_bound(A_IP, port, 0);
        bare[i].out = udp_bound(B_IP, port, 0);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &bare[i] };
        epoll_ctl(bare_ep, EPOLL_CTL_ADD, bare[i].in, &ev);
        dst[i] = sa(A_IP, port);
    }
}

/* The bare forwarders' measuring window: CPU read once at each edge;
 * true once past the end and told to stop. */
static bool bare_window(uint64_t w0, uint64_t w1, uint64_t end, bool *s0, bool *s1)
{
    uint64_t t = mono_ns();
    if (!*s0 && t >= w0) {
        cpu_w0 = thread_cpu_ns();
        *s0 = true;
    }
    if (!*s1 && t >= w1) {
        cpu_w1 = thread_cpu_ns();
        *s1 = true;
    }
    return t >= end && sh->stop;
}

static void run_bare(uint64_t w0, uint64_t w1, uint64_t end)
{
    static uint8_t buf[32][2048];
    struct mmsghdr m[32];
    struct iovec iov[32];
    struct sockaddr_in to = sa(SINK_IP, SINK_PORT);
    bool s0 = false, s1 = false;
    for (;;) {
        struct epoll_event ev[128];
        int n = epoll_wait(bare_ep, ev, 128, 5);
        for (int e = 0; e < n; e++) {
            struct bare_pair *p = ev[e].data.ptr;
            for (int i = 0; i < 32; i++) {
                iov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
                m[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
            }
            int k = recvmmsg(p->in, m, 32, MSG_DONTWAIT, NULL);
            if (k <= 0)
                continue;
            for (int i = 0; i < k; i++) {
                iov[i].iov_len = m[i].msg_len;
                m[i].msg_hdr.msg_name = &to;
                m[i].msg_hdr.msg_namelen = sizeof(to);
            }
            sendmmsg(p->out, m, (unsigned)k, MSG_DONTWAIT);
        }
        if (bare_window(w0, w1, end, &s0, &s1))
            return;
    }
}

/* ---- bare-uring: sends through io_uring, one submission per batch ---- */

#define UQ 512                            /* sends queued before a forced submit */

static struct {
    int fd;
    unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
} ur;

static void uring_setup(void)
{
    struct io_uring_params p = { 0 };
    ur.fd = (int)syscall(SYS_io_uring_setup, UQ, &p);
    if (ur.fd < 0) {
        perror("io_uring_setup");
        exit(1);
    }
    size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    size_t len = sq_len > cq_len ? sq_len : cq_len;     /* IORING_FEAT_SINGLE_MMAP (5.4+) */
    uint8_t *r = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ur.fd, IORING_OFF_SQ_RING);
    ur.sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_POPULATE, ur.fd, IORING_OFF_SQES);
    if (r == MAP_FAILED || ur.sqes == MAP_FAILED) {
        perror("io_uring mmap");
        exit(1);
    }
    ur.sq_tail = (unsigned *)(r + p.sq_off.tail);
    ur.sq_mask = (unsigned *)(r + p.sq_off.ring_mask);
    ur.sq_array = (unsigned *)(r + p.sq_off.array);
    ur.cq_head = (unsigned *)(r + p.cq_off.head);
    ur.cq_tail = (unsigned *)(r + p.cq_off.tail);
    ur.cq_mask = (unsigned *)(r + p.cq_off.ring_mask);
    ur.cqes = (struct io_uring_cqe *)(r + p.cq_off.cqes);
}

/* Submits the n queued sends and waits for them (UDP completes inline). */
static void uring_flush(unsigned n)
{
    if (!n)
        return;
    __atomic_store_n(ur.sq_tail, *ur.sq_tail + n, __ATOMIC_RELEASE);
    syscall(SYS_io_uring_enter, ur.fd, n, n, IORING_ENTER_GETEVENTS, NULL, 0);
    unsigned head = *ur.cq_head, tail = __atomic_load_n(ur.cq_tail, __ATOMIC_ACQUIRE);
    __atomic_store_n(ur.cq_head, head + (tail - head), __ATOMIC_RELEASE);
}

static void run_bare_uring(uint64_t w0, uint64_t w1, uint64_t end)
{
    static uint8_t buf[UQ][2048];
    static struct mmsghdr m[UQ];
    static struct iovec iov[UQ];
    struct sockaddr_in to = sa(SINK_IP, SINK_PORT);
    bool s0 = false, s1 = false;
    uring_setup();
    for (;;) {
        struct epoll_event ev[128];
        int n = epoll_wait(bare_ep, ev, 128, 5);
        unsigned q = 0;
        for (int e = 0; e < n; e++) {
            struct bare_pair *p = ev[e].data.ptr;
            if (q + 32 > UQ) {
                uring_flush(q);
                q = 0;
            }
            for (unsigned i = q; i < q + 32; i++) {
                iov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
                m[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
            }
            int k = recvmmsg(p->in, m + q, 32, MSG_DONTWAIT, NULL);
            for (int i = 0; i < k; i++, q++) {
                iov[q].iov_len = m[q].msg_len;
                m[q].msg_hdr.msg_name = &to;
                m[q].msg_hdr.msg_namelen = sizeof(to);
                unsigned t = *ur.sq_tail + q, idx = t & *ur.sq_mask;
                struct io_uring_sqe *sqe = &ur.sqes[idx];
                memset(sqe, 0, sizeof(*sqe));
                sqe->opcode = IORING_OP_SENDMSG;
                sqe->fd = p->out;
                sqe->addr = (uint64_t)(uintptr_t)&m[q].msg_hdr;
                sqe->len = 1;
                sqe->msg_flags = MSG_DONTWAIT;
                ur.sq_array[idx] = idx;
            }
        }
        uring_flush(q);
        if (bare_window(w0, w1, end, &s0, &s1))
            return;
    }
}

/* ---- rtpengine over ng (bencode over UDP) ---- */

static int ng_fd;
static struct sockaddr_in ng_addr;

static int bstr(char *p, const char *s)
{
    return sprintf(p, "%zu:%s", strlen(s), s);
}

static void ng_call(const char *cmd, unsigned i, const char *sdp, char *resp_sdp, size_t cap)
{
    static char msg[4096], resp[8192];
    char cookie[32], callid[32];
    snprintf(cookie, sizeof(cookie), "c%u%s", i, cmd);
    snprintf(callid, sizeof(callid), "bench-%u", i);
    char *p = msg;
    p += sprintf(p, "%s ", cookie);
    p += sprintf(p, "d");
    p += bstr(p, "command");
    p += bstr(p, cmd);
    p += bstr(p, "call-id");
    p += bstr(p, callid);
    p += bstr(p, "from-tag");
    p += bstr(p, "ft");
    if (!strcmp(cmd, "answer")) {
        p += bstr(p, "to-tag");
        p += bstr(p, "tt");
    }
    if (cfg.path != P_RTP_RTP) {
        p += bstr(p, "transport-protocol");
        p += bstr(p, !strcmp(cmd, "offer") ? (cfg.path == P_SRTP_RTP ? "RTP/AVP" : "RTP/SAVP")
                                           : (cfg.path == P_SRTP_RTP ? "RTP/SAVP" : "RTP/AVP"));
    }
    p += bstr(p, "sdp");
    p += bstr(p, sdp);
    p += sprintf(p, "e");
    for (int attempt = 0; attempt < 5; attempt++) {
        sendto(ng_fd, msg, (size_t)(p - msg), 0, (struct sockaddr *)&ng_addr, sizeof(ng_addr));
        struct pollfd pf = { ng_fd, POLLIN, 0 };
        if (poll(&pf, 1, 1000) <= 0)
            continue;
        ssize_t n = recv(ng_fd, resp, sizeof(resp) - 1, 0);
        if (n <= 0)
            continue;
        resp[n] = 0;
        char *s = strstr(resp, "3:sdp");
        if (!s) {
            fprintf(stderr, "ng %s: %s\n", cmd, resp);
            exit(1);
        }
        s += 5;
        size_t len = strtoul(s, &s, 10);
        s++;
        snprintf(resp_sdp, cap, "%.*s", (int)len, s);
        return;
    }
    fprintf(stderr, "ng %s: no answer from %s\n", cmd, cfg.ng);
    exit(1);
}

static void setup_rtpengine(void)
{
    char host[64];
    unsigned port;
    if (sscanf(cfg.ng, "%63[^:]:%u", host, &port) != 2) {
        fprintf(stderr, "--ng ADDR:PORT\n");
        exit(1);
    }
    ng_addr = sa(host, (uint16_t)port);
    ng_fd = socket(AF_INET, SOCK_DGRAM, 0);
    char ng_offer[1024], ng_answer[1024], out[4096];
    snprintf(ng_offer, sizeof(ng_offer),
             "v=0\r\no=- 1 1 IN IP4 " GEN_IP "\r\ns=-\r\nc=IN IP4 " GEN_IP "\r\nt=0 0\r\n"
             "m=audio %u %s 0\r\n%sa=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n",
             GEN_PORT, cfg.path == P_SRTP_RTP ? "RTP/SAVP" : "RTP/AVP",
             cfg.path == P_SRTP_RTP ? "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" GEN_KEY "\r\n" : "");
    snprintf(ng_answer, sizeof(ng_answer),
             "v=0\r\no=- 2 1 IN IP4 " SINK_IP "\r\ns=-\r\nc=IN IP4 " SINK_IP "\r\nt=0 0\r\n"
             "m=audio %u %s 0\r\n%sa=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n",
             SINK_PORT, cfg.path == P_RTP_SRTP ? "RTP/SAVP" : "RTP/AVP",
             cfg.path == P_RTP_SRTP ? "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" SINK_KEY "\r\n" : "");
    for (unsigned i = 0; i < cfg.streams; i++) {
        ng_call("offer", i, ng_offer, out, sizeof(out));
        ng_call("answer", i, ng_answer, out, sizeof(out));
        char *m = strstr(out, "m=audio ");
        char *c = strstr(out, "c=IN IP4 ");
        if (!m || !c) {
            fprintf(stderr, "rtpengine answer without m=/c=: %s\n", out);
            exit(1);
        }
        char ip[32];
        sscanf(c + 9, "%31[0-9.]", ip);
        dst[i] = sa(ip, (uint16_t)atoi(m + 8));
    }
}

static void delete_rtpengine(void)
{
    static char msg[256], resp[1024];
    for (unsigned i = 0; i < cfg.streams; i++) {
        char callid[32];
        snprintf(callid, sizeof(callid), "bench-%u", i);
        int n = snprintf(msg, sizeof(msg), "d%u delete d7:command6:delete7:call-id%zu:%se", i, strlen(callid), callid);
        sendto(ng_fd, msg, (size_t)n, 0, (struct sockaddr *)&ng_addr, sizeof(ng_addr));
        struct pollfd pf = { ng_fd, POLLIN, 0 };
        if (poll(&pf, 1, 200) > 0 && recv(ng_fd, resp, sizeof(resp), 0) < 0)
            break;
    }
}

/* ---- main ---- */


int main(int argc, char **argv)
{
    static const struct option lo[] = {
        { "mode", 1, 0, 'm' }, { "path", 1, 0, 'p' },    { "streams", 1, 0, 'n' }, { "rate", 1, 0, 'r' },
        { "warm", 1, 0, 'w' }, { "seconds", 1, 0, 's' }, { "ng", 1, 0, 'g' },      { "rtpengine-pid", 1, 0, 'P' },
        { "procs", 1, 0, 'j' }, { "warm-pairs", 1, 0, 'W' }, { "quiet-ms", 1, 0, 'Q' },
        { "batch-us", 1, 0, 'B' }, { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'm':
            cfg.mode = !strcmp(optarg, "bare")        ? M_BARE
                       : !strcmp(optarg, "rtpengine") ? M_RTPENGINE
                       : !strcmp(optarg, "churn")     ? M_CHURN
                       : !strcmp(optarg, "bare-uring") ? M_BARE_URING
                                                      : M_RELAY;
            break;
        case 'p': cfg.path = !strcmp(optarg, "rtp-srtp") ? P_RTP_SRTP : !strcmp(optarg, "srtp-rtp") ? P_SRTP_RTP : P_RTP_RTP; break;
        case 'n': cfg.streams = (unsigned)atoi(optarg); break;
        case 'r': cfg.rate = (unsigned)atoi(optarg); break;
        case 'w': cfg.warm_s = (unsigned)atoi(optarg); break;
        case 's': cfg.measure_s = (unsigned)atoi(optarg); break;
        case 'g': cfg.ng = optarg; break;
        case 'P': cfg.rtpengine_pid = atoi(optarg); break;
        case 'j': cfg.procs = (unsigned)atoi(optarg); break;
        case 'W': cfg.warm_pairs = (unsigned)atoi(optarg); break;
        case 'Q': cfg.quiet_ms = (unsigned)atoi(optarg); break;
        case 'B': cfg.batch_us = (unsigned)atoi(optarg); break;
        default:
            fprintf(stderr, "usage: media_bench --mode relay|bare|rtpengine|churn --path rtp-rtp|rtp-srtp|srtp-rtp "
                            "--streams N [--rate PPS] [--warm S] [--seconds S] [--procs N] [--ng ADDR:PORT "
                            "--rtpengine-pid PID] [--warm-pairs N --quiet-ms MS] [--batch-us US]\n");
            return 2;
        }
    }
    struct rlimit rl;                     /* soft up to hard: sockets are the limit at 10k streams */
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    char err[256];
    if (sbc_srtp_global_init(err, sizeof(err)) != 0) {
        fprintf(stderr, "srtp: %s\n", err);
        return 1;
    }
    if (cfg.mode == M_CHURN) {
        dst = calloc(cfg.streams, sizeof(*dst));
        run_churn();
        return 0;
    }
    dst = mmap(NULL, cfg.streams * sizeof(*dst), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (cfg.procs < 1 || cfg.procs > 64 || cfg.mode == M_RTPENGINE)
        cfg.procs = 1;
    pid_t fwd[64];
    unsigned nfwd = 0;
    if (cfg.mode == M_RTPENGINE) {
        setup_rtpengine();
        sh->ready = 1;
    } else {
        for (unsigned j = 0; j < cfg.procs; j++) {
            unsigned first = cfg.streams * j / cfg.procs, last = cfg.streams * (j + 1) / cfg.procs;
            pid_t pid = fork();
            if (pid == 0) {
                if (cfg.mode == M_RELAY)
                    setup_relay(j, first, last - first);
                else
                    setup_bare(first, last - first);
                __sync_fetch_and_add(&sh->ready, 1);
                while (!sh->t0_ns)
                    usleep(1000);
                uint64_t w0 = sh->t0_ns + (uint64_t)cfg.warm_s * 1000000000u;
                uint64_t w1 = w0 + (uint64_t)cfg.measure_s * 1000000000u;
                uint64_t end = sh->t0_ns + (uint64_t)(cfg.warm_s + cfg.measure_s + 2) * 1000000000u;
                if (cfg.mode == M_RELAY) {
                    at(w0, on_w0);
                    at(w1, on_w1);
                    struct event *stop = event_new(base, -1, EV_PERSIST, on_end, NULL);
                    event_add(stop, &(struct timeval){ 0, 50000 });
                    event_base_dispatch(base);
                } else {
                    (cfg.mode == M_BARE_URING ? run_bare_uring : run_bare)(w0, w1, end);
                }
                sh->cpu_ns[j] = cpu_w1 - cpu_w0;
                if (cfg.mode == M_RELAY)
                    report_drops(first, last - first);
                _exit(0);
            }
            fwd[nfwd++] = pid;
        }
    }
    while (sh->ready < cfg.procs)
        usleep(10000);

    t0_ns = mono_ns() + 300000000u;
    uint64_t w0 = t0_ns + (uint64_t)cfg.warm_s * 1000000000u, w1 = w0 + (uint64_t)cfg.measure_s * 1000000000u;
    sh->t0_ns = t0_ns;
    int pfd[2];
    if (pipe(pfd) < 0)
        return 1;
    pid_t child = fork();
    if (child == 0) {
        close(pfd[0]);
        run_generator(pfd[1]);
    }
    close(pfd[1]);
    if (cfg.mode == M_RTPENGINE) {
        while (mono_ns() < w0)
            usleep(1000);
        cpu_w0 = proc_cpu_ns(cfg.rtpengine_pid);
        while (mono_ns() < w1)
            usleep(1000);
        cpu_w1 = proc_cpu_ns(cfg.rtpengine_pid);
        sh->cpu_ns[0] = cpu_w1 - cpu_w0;
    }
    for (unsigned j = 0; j < nfwd; j++)
        waitpid(fwd[j], NULL, 0);
    struct gen_result r = { 0 };
    if (read(pfd[0], &r, sizeof(r)) != sizeof(r))
        fprintf(stderr, "no result from the generator\n");
    waitpid(child, NULL, 0);
    if (cfg.mode == M_RTPENGINE)
        delete_rtpengine();

    uint64_t cpu_total = 0;
    for (unsigned j = 0; j < cfg.procs; j++)
        cpu_total += sh->cpu_ns[j];
    double cpu_s = (double)cpu_total / 1e9;
    /* Packets handled in the window: the generator's paced count (exact); the
     * sink's own window count samples every 10 ms, and loss is from totals. */
    /* Packets out of the forwarder during the CPU window (wall clock, sampled
     * every 10 ms): right even when the generator falls behind its schedule
     * (then fewer than offered went through in the window). */
    double pkts = (double)r.win_received;
    if (r.lag_ms > 100)
        fprintf(stderr, "  generator %llu ms behind schedule: offered rate not reached\n",
                (unsigned long long)r.lag_ms);
    double us_per_pkt = pkts > 0 ? cpu_s * 1e6 / pkts : 0;
    double loss = r.sent ? 100.0 * (double)(r.sent - (r.received < r.sent ? r.received : r.sent)) / (double)r.sent : 0;
    if (cfg.path != P_RTP_SRTP)
        fprintf(stderr, "  latency generator->sink us: p50 %llu p99 %llu p99.9 %llu max %llu; drain %llu ms\n",
                (unsigned long long)r.lat_p50_us, (unsigned long long)r.lat_p99_us,
                (unsigned long long)r.lat_p999_us, (unsigned long long)r.lat_max_us, (unsigned long long)r.drain_ms);
    printf("%-9s %-8s procs=%u streams=%-6u offered=%7.0f pps  relayed=%7.0f pps  cpu=%5.1f%%  %6.2f us/pkt  "
           "%8.0f pkt/s/core  loss=%.3f%%\n",
           mode_name[cfg.mode], path_name[cfg.path], cfg.procs, cfg.streams, (double)cfg.streams * cfg.rate,
           pkts / cfg.measure_s, 100.0 * cpu_s / cfg.measure_s, us_per_pkt, us_per_pkt > 0 ? 1e6 / us_per_pkt : 0,
           loss);
    return 0;
}
