/* Relay: packets from one leg's socket are translated in place (unprotect,
 * protect) and sent on the other leg. The buffers belong to the worker's
 * relay, so the packet path allocates nothing.
 *
 * Two ways to move packets (docs/media-relay.md):
 * - io_uring (Linux 6.1+, tick_us > 0, the default): every watched socket
 *   has a multishot receive into the ring's provided buffers; a packet is
 *   sent from the buffer it arrived in. The kernel does the receive work only
 *   when the worker enters the ring, and arriving packets wake nobody: while
 *   media flows a tick every tick_us picks up everything that arrived on all
 *   sockets with one kernel entry and sends it with one more. With no stream
 *   live, or no packet for RING_IDLE_TICKS ticks, the tick stops and the
 *   ring's eventfd reports the next packet (it may lag by a few ms: once, as
 *   media starts, or for parked sockets, whose packets are dropped).
 * - epoll (tick_us 0, older kernels, SBC_RELAY_URING=0): one wake-up and
 *   recvmmsg per readable socket, one sendmmsg per batch. */
#include "media/relay.h"

#include "media/uring.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (SBC_RELAY_MTU + SBC_SRTP_MAX_TRAILER + 64)
#define MAX_ROUNDS 4                 /* epoll: batches per wake-up before yielding to other sockets */

#define RING_SQ 1024                 /* sends and re-arms queued between two entries */
#define RING_CQ 16384                /* a receive and a send completion per buffer, and margin */
/* Packets in flight: 80 ms of 1,000 streams at 50 pkt/s (a worker held up
 * that long). Fewer would end every socket's receive on a burst (ENOBUFS),
 * each then re-armed. 7 MB per worker. */
#define RING_BUFS 4096
#define RING_BUF_SIZE 1728           /* header and source address (32 bytes), a datagram up to the MTU, a trailer */
_Static_assert(RING_BUF_SIZE >= 32 + SBC_RELAY_MTU + SBC_SRTP_MAX_TRAILER, "ring buffers too small");
#define RING_ROUNDS 4                /* enter + reap rounds per poll before yielding to signalling */
#define RING_IDLE_TICKS 20           /* ticks without a packet before the eventfd takes over */
#define RING_RX_ERRORS 8             /* consecutive receive failures before a socket is given up */
#define UD_SEND (1ull << 63)         /* user_data: a send (low bits: buffer); else a receive: fd | gen << 32 */

struct watch {
    struct sbc_relay_stream *s;
    uint8_t leg;
    bool rtcp;
};

/* The relay's watch of one socket, indexed by fd: the leg it feeds, or none
 * while parked (warm, between calls). */
struct relay_sock {
    struct event *ev;                    /* epoll */
    bool on_ring;                        /* io_uring: watched through the ring */
    bool armed;                          /* io_uring: a receive is pending (else given up) */
    bool fixed;                          /* io_uring: in the ring's file table */
    uint8_t rx_errors;                   /* io_uring: consecutive failed receives */
    uint32_t gen;                        /* io_uring: tells this watch's completions from an earlier one's */
    struct watch *owner;
    uint64_t last_rx;                    /* parked: last packet dropped */
};

struct relay_leg {
    int rtp_fd, rtcp_fd;
    struct watch w_rtp, w_rtcp;
    struct sockaddr_in sig_rtp, sig_rtcp;    /* signalled */
    bool mux;
    bool rtcp_latched;
    struct sockaddr_in latched_rtcp;
    sbc_srtp_t *rx, *rx_old, *tx;
    struct sbc_relay_leg_stats st;
};

struct sbc_relay_stream {
    struct sbc_relay *r;
    struct relay_leg leg[2];
    uint64_t last_rx;
    unsigned inflight;                   /* io_uring sends not yet reaped: they count into this stream */
    bool on_ring;                        /* has a socket on the ring: keeps the tick going */
};

struct tx_batch {
    int fd;
    unsigned n;
    struct mmsghdr msg[SBC_RELAY_BATCH];
    struct iovec iov[SBC_RELAY_BATCH];
    struct sockaddr_in to[SBC_RELAY_BATCH];
};

/* io_uring: the send of the packet in buffer i, and whose counters its
 * outcome goes to. */
struct ring_slot {
    struct sockaddr_in to;
    struct sbc_relay_stream *s;
    struct relay_leg *in, *out;
};

struct sbc_relay {
    struct event_base *base;
    struct relay_sock *socks;
    int n_socks;
    uint64_t parked_drops;
    struct sbc_relay_tx_stats txs;

    /* io_uring, made on first use by the worker thread (the ring's owner) */
    bool ring_tried;
    struct sbc_uring *ring;
    struct ring_slot *slots;
    struct event *ring_ev, *tick_ev;
    int tick_fd;                         /* timerfd: libevent's timers follow the coarse clock (jiffies) */
    unsigned tick;                       /* µs, of the ring's tick */
    unsigned tick_us;                    /* 0: new streams use epoll */
    unsigned ring_streams;               /* live streams on the ring: the tick may run */
    bool ticking;                        /* else the eventfd wakes the relay (notifications on) */
    unsigned idle_ticks;
    unsigned rx_seen;                    /* datagrams taken from the ring */
    uint64_t now;                        /* of the current poll */
    char ring_err[160];

    /* epoll */
    struct mmsghdr rx_msg[SBC_RELAY_BATCH];
    struct iovec rx_iov[SBC_RELAY_BATCH];
    struct sockaddr_in rx_from[SBC_RELAY_BATCH];
    struct tx_batch tx[2];               /* RTP socket, RTCP socket of the output leg */
    uint8_t buf[SBC_RELAY_BATCH][BUF_SIZE];
};

uint64_t sbc_relay_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* NULL-tolerant, whatever the SRTP layer's destroy accepts. */
static void srtp_drop(sbc_srtp_t *c)
{
    if (c)
        sbc_srtp_destroy(c);
}

static bool same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
}

static bool addr_usable(const struct sockaddr_in *a)
{
    return a->sin_port != 0 && a->sin_addr.s_addr != INADDR_ANY;
}

/* RFC 5761 section 4: on a muxed port, RTCP packet types 192-223 sit where an
 * RTP marker bit plus payload type 64-95 would. */
static bool looks_rtcp(const uint8_t *pkt)
{
    return pkt[1] >= 192 && pkt[1] <= 223;
}

/* Unprotects in place. Returns false (counted) when the packet must be dropped. */
static bool srtp_in(struct relay_leg *in, uint8_t *pkt, int *len, bool rtcp)
{
    enum sbc_srtp_status st = rtcp ? sbc_srtp_unprotect_rtcp(in->rx, pkt, len) : sbc_srtp_unprotect(in->rx, pkt, len);
    if (st == SBC_SRTP_OK) {
        if (in->rx_old) {            /* the new key works: the old one is done */
            srtp_drop(in->rx_old);
            in->rx_old = NULL;
        }
        return true;
    }
    if (st == SBC_SRTP_E_AUTH && in->rx_old) {
        st = rtcp ? sbc_srtp_unprotect_rtcp(in->rx_old, pkt, len) : sbc_srtp_unprotect(in->rx_old, pkt, len);
        if (st == SBC_SRTP_OK)
            return true;
    }
    if (st == SBC_SRTP_E_AUTH)
        in->st.srtp_auth_fail++;
    else if (st == SBC_SRTP_E_REPLAY)
        in->st.srtp_replay++;
    else
        in->st.malformed++;
    return false;
}

/* One packet from leg li of s: checks it, latches, translates it in place
 * (the buffer has room for an SRTP trailer). Returns the socket to send it on,
 * with *len and *dst set, or -1 when it is dropped (counted). */
static int translate(struct sbc_relay_stream *s, unsigned li, bool rtcp_sock, uint8_t *pkt, int *len,
                     const struct sockaddr_in *from, bool bad, const struct sockaddr_in **dst)
{
    struct relay_leg *in = &s->leg[li], *out = &s->leg[li ^ 1u];
    if (bad || *len < 8 || *len > SBC_RELAY_MTU || (pkt[0] >> 6) != 2) {
        in->st.malformed++;
        return -1;
    }
    bool rtcp = rtcp_sock || (in->mux && looks_rtcp(pkt));
    if (!rtcp && *len < 12) {
        in->st.malformed++;
        return -1;
    }
    bool sep = rtcp && !in->mux;             /* RTCP on its own port: its own latch */
    bool *latched = sep ? &in->rtcp_latched : &in->st.latched;
    struct sockaddr_in *latch = sep ? &in->latched_rtcp : &in->st.latched_addr;
    if (*latched && !same_addr(latch, from)) {
        in->st.foreign++;
        return -1;
    }
    int rxlen = *len;
    if (in->rx && !srtp_in(in, pkt, len, rtcp))
        return -1;
    if (!*latched) {                         /* symmetric RTP: answer where it comes from */
        *latch = *from;
        *latched = true;
    }
    in->st.rx_packets++;
    in->st.rx_bytes += (uint64_t)rxlen;
    in->st.rx_rtcp += rtcp;

    bool out_sep = rtcp && !out->mux;
    if (out_sep)
        *dst = out->rtcp_latched ? &out->latched_rtcp : &out->sig_rtcp;
    else
        *dst = out->st.latched ? &out->st.latched_addr : &out->sig_rtp;
    int fd = out_sep ? out->rtcp_fd : out->rtp_fd;
    if (fd < 0 || !addr_usable(*dst)) {
        in->st.no_dest++;
        return -1;
    }
    if (out->tx) {
        enum sbc_srtp_status st = rtcp ? sbc_srtp_protect_rtcp(out->tx, pkt, len) : sbc_srtp_protect(out->tx, pkt, len);
        if (st != SBC_SRTP_OK) {
            in->st.send_fail++;
            return -1;
        }
    }
    return fd;
}

/* ---- io_uring ---------------------------------------------------------------- */

static uint64_t recv_tag(int fd, uint32_t gen)
{
    return (uint64_t)(uint32_t)fd | (uint64_t)(gen & 0x3fffffffu) << 32;
}

static void ring_send_done(struct sbc_relay *r, unsigned bid, int res)
{
    struct ring_slot *t = &r->slots[bid];
    if (t->s) {
        if (res < 0) {
            t->in->st.send_fail++;
        } else {
            t->out->st.tx_packets++;
            t->out->st.tx_bytes += (uint64_t)res;
        }
        t->s->inflight--;
        t->s = NULL;
    }
    sbc_uring_buf_put(r->ring, bid);
}

static void ring_rx(struct sbc_relay *r, struct relay_sock *k, struct sbc_uring_dgram *d)
{
    r->rx_seen++;
    struct watch *w = k->owner;
    if (!w) {                                /* parked: what the last call's peer still sends */
        r->parked_drops++;
        k->last_rx = r->now;
        sbc_uring_buf_put(r->ring, d->bid);
        return;
    }
    struct sbc_relay_stream *s = w->s;
    int len = (int)d->len;
    const struct sockaddr_in *dst;
    int fd = translate(s, w->leg, w->rtcp, d->data, &len, &d->from, d->bad, &dst);
    if (fd < 0) {
        sbc_uring_buf_put(r->ring, d->bid);
        return;
    }
    s->last_rx = r->now;
    struct ring_slot *t = &r->slots[d->bid];
    t->to = *dst;
    t->s = s;
    t->in = &s->leg[w->leg];
    t->out = &s->leg[w->leg ^ 1u];
    s->inflight++;
    r->txs.packets++;
    if (!sbc_uring_sendto(r->ring, fd, fd < r->n_socks && r->socks[fd].fixed, d->data, (unsigned)len, &t->to,
                          UD_SEND | d->bid))
        ring_send_done(r, d->bid, -EIO);
}

static void ring_cqe(void *arg, const struct io_uring_cqe *c)
{
    struct sbc_relay *r = arg;
    if (c->user_data & UD_SEND) {
        ring_send_done(r, (unsigned)(c->user_data & 0xffffu), c->res);
        return;
    }
    int fd = (int)(uint32_t)c->user_data;
    struct relay_sock *k = fd < r->n_socks ? &r->socks[fd] : NULL;
    bool current = k && k->on_ring && recv_tag(fd, k->gen) == c->user_data;
    struct sbc_uring_dgram d;
    bool got = sbc_uring_dgram(r->ring, c, &d);
    if (current && !(c->flags & IORING_CQE_F_MORE)) {
        /* The receive ended: out of buffers (they are back by the next entry),
         * or a failure; a socket that keeps failing is given up. */
        if (c->res == -ENOBUFS)
            r->txs.rx_nobufs++;
        else if (c->res < 0)
            r->txs.rx_errors++;
        if (c->res >= 0 || c->res == -ENOBUFS)
            k->rx_errors = 0;
        if (c->res == -ECANCELED || c->res == -EBADF || ++k->rx_errors > RING_RX_ERRORS)
            k->armed = false;
        else
            sbc_uring_recv(r->ring, fd, k->fixed, c->user_data);
    }
    if (!got)
        return;
    if (!current) {                          /* a socket no longer watched */
        sbc_uring_buf_put(r->ring, d.bid);
        return;
    }
    ring_rx(r, k, &d);
}

/* Enters the ring (submitting sends and re-arms, running the receive work
 * that waits) and handles the completions, until nothing more is queued or
 * RING_ROUNDS rounds. Returns the datagrams taken. */
static unsigned ring_poll(struct sbc_relay *r)
{
    unsigned seen = r->rx_seen;
    r->now = sbc_relay_now_ns();
    for (unsigned round = 0;; round++) {
        unsigned had = sbc_uring_queued(r->ring);
        int rc = sbc_uring_enter(r->ring);
        if (had)
            r->txs.submits++;
        if (!sbc_uring_reap(r->ring, ring_cqe, r) && rc < 0)
            break;                           /* the ring takes nothing and gives nothing */
        if (!sbc_uring_queued(r->ring))
            break;
        if (round + 1 == RING_ROUNDS) {      /* leave the completions to the next poll */
            sbc_uring_enter(r->ring);
            r->txs.submits++;
            break;
        }
    }
    return r->rx_seen - seen;
}

/* Something to submit, receive work waiting or completions to reap: a
 * poll would find it (read from the shared ring, no system call). */
static bool ring_has_work(const struct sbc_relay *r)
{
    return sbc_uring_queued(r->ring) || sbc_uring_pending(r->ring);
}

static void tick_start(struct sbc_relay *r);

/* A poll outside the tick; packets it finds start the tick (not our own
 * completions, such as a cancelled receive's, which signal the eventfd too). */
static void ring_wake(struct sbc_relay *r)
{
    if (ring_poll(r) && r->ring_streams)
        tick_start(r);
}

/* Periodic while ticking; 0 stops it. */
static void tick_arm(struct sbc_relay *r, unsigned us)
{
    struct timespec ts = { .tv_sec = us / 1000000u, .tv_nsec = (long)(us % 1000000u) * 1000 };
    struct itimerspec it = { .it_interval = ts, .it_value = ts };
    timerfd_settime(r->tick_fd, 0, &it, NULL);
}

/* Busy: packets wake nobody, the tick picks them up. */
static void tick_start(struct sbc_relay *r)
{
    if (r->ticking)
        return;
    r->ticking = true;
    r->idle_ticks = 0;
    sbc_uring_notify(r->ring, false);
    tick_arm(r, r->tick);
}

/* Quiet (no stream, or no packet for RING_IDLE_TICKS ticks): the eventfd
 * reports the next packet. Notifications were off, so look once more. */
static void tick_stop(struct sbc_relay *r)
{
    if (!r->ticking)
        return;
    r->ticking = false;
    tick_arm(r, 0);
    sbc_uring_notify(r->ring, true);
    if (ring_has_work(r))
        ring_wake(r);
}

static void on_ring_tick(evutil_socket_t fd, short what, void *arg)
{
    struct sbc_relay *r = arg;
    uint64_t n;
    if (read(fd, &n, sizeof(n)) < 0)         /* the read also re-arms a periodic timerfd */
        return;
    r->txs.ticks++;
    if (ring_has_work(r)) {
        ring_poll(r);
        r->idle_ticks = 0;
    } else if (++r->idle_ticks >= RING_IDLE_TICKS) {
        tick_stop(r);                        /* calls without media: no wake-up per ms */
    }
}

/* The first packet after a quiet spell (the signal may lag by some ms), or
 * what parked sockets receive with no stream live. */
static void on_ring_event(evutil_socket_t fd, short what, void *arg)
{
    struct sbc_relay *r = arg;
    uint64_t v;
    if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return;
    r->txs.wakeups++;
    ring_wake(r);
}

static void ring_join(struct sbc_relay *r, struct sbc_relay_stream *s)
{
    if (s->on_ring)
        return;
    s->on_ring = true;
    if (r->ring_streams++ == 0)
        tick_start(r);                       /* a new call's media is about to start */
}

static void ring_leave(struct sbc_relay *r, struct sbc_relay_stream *s)
{
    if (!s->on_ring)
        return;
    s->on_ring = false;
    if (--r->ring_streams == 0)
        tick_stop(r);
}

/* Made on first use, on the thread that will run it. */
static bool ring_ready(struct sbc_relay *r)
{
    if (r->ring_tried)
        return r->ring != NULL;
    r->ring_tried = true;
    const char *env = getenv("SBC_RELAY_URING");     /* "0": epoll (comparisons, old kernels) */
    if (env && strcmp(env, "0") == 0) {
        snprintf(r->ring_err, sizeof(r->ring_err), "io_uring off (SBC_RELAY_URING=0)");
        return false;
    }
    struct sbc_uring_cfg cfg = { .sq_entries = RING_SQ, .cq_entries = RING_CQ, .bufs = RING_BUFS,
                                 .buf_size = RING_BUF_SIZE };
    r->ring = sbc_uring_create(&cfg, r->ring_err, sizeof(r->ring_err));
    if (!r->ring)
        return false;
    r->slots = calloc(RING_BUFS, sizeof(*r->slots));
    r->ring_ev = event_new(r->base, sbc_uring_eventfd(r->ring), EV_READ | EV_PERSIST, on_ring_event, r);
    r->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (r->tick_fd >= 0)
        r->tick_ev = event_new(r->base, r->tick_fd, EV_READ | EV_PERSIST, on_ring_tick, r);
    if (!r->slots || !r->ring_ev || !r->tick_ev || event_add(r->ring_ev, NULL) < 0 || event_add(r->tick_ev, NULL) < 0) {
        snprintf(r->ring_err, sizeof(r->ring_err), "io_uring: out of memory");
        if (r->ring_ev)
            event_free(r->ring_ev);
        if (r->tick_ev)
            event_free(r->tick_ev);
        free(r->slots);
        r->ring_ev = r->tick_ev = NULL;
        if (r->tick_fd >= 0)
            close(r->tick_fd);
        r->tick_fd = -1;
        r->slots = NULL;
        sbc_uring_destroy(r->ring);
        r->ring = NULL;
        return false;
    }
    return true;
}

/* Until s's sends are reaped their completions point at its counters. UDP
 * sends complete within the entry that submits them, so this takes one or
 * two rounds; a send that does not is detached from s. */
static void ring_settle(struct sbc_relay *r, struct sbc_relay_stream *s)
{
    for (unsigned i = 0; s->inflight && i < 8; i++)
        ring_poll(r);
    for (unsigned i = 0; s->inflight && i < RING_BUFS; i++)
        if (r->slots[i].s == s) {
            r->slots[i].s = NULL;
            s->inflight--;
        }
}

/* ---- epoll ------------------------------------------------------------------- */

static void flush(struct tx_batch *b, struct relay_leg *out, struct relay_leg *in)
{
    unsigned done = 0;
    while (done < b->n) {
        int k = sendmmsg(b->fd, b->msg + done, b->n - done, MSG_DONTWAIT);
        if (k <= 0) {
            if (k < 0 && errno == EINTR)
                continue;
            /* Skip the packet the kernel refused (e.g. ICMP unreachable
             * reported as ECONNREFUSED) and keep going. */
            in->st.send_fail++;
            done++;
            continue;
        }
        for (int i = 0; i < k; i++) {
            out->st.tx_packets++;
            out->st.tx_bytes += b->iov[done + (unsigned)i].iov_len;
        }
        done += (unsigned)k;
    }
    b->n = 0;
}

static void process(struct sbc_relay *r, struct sbc_relay_stream *s, unsigned li, bool rtcp_sock, unsigned n)
{
    struct relay_leg *in = &s->leg[li], *out = &s->leg[li ^ 1u];
    r->tx[0].fd = out->rtp_fd;
    r->tx[1].fd = out->rtcp_fd;
    bool any = false;
    for (unsigned i = 0; i < n; i++) {
        int len = (int)r->rx_msg[i].msg_len;
        bool bad = (r->rx_msg[i].msg_hdr.msg_flags & MSG_TRUNC) ||
                   r->rx_msg[i].msg_hdr.msg_namelen != sizeof(struct sockaddr_in);
        const struct sockaddr_in *dst;
        int fd = translate(s, li, rtcp_sock, r->buf[i], &len, &r->rx_from[i], bad, &dst);
        if (fd < 0)
            continue;
        any = true;
        struct tx_batch *b = &r->tx[fd == out->rtp_fd ? 0 : 1];
        b->iov[b->n].iov_base = r->buf[i];
        b->iov[b->n].iov_len = (size_t)len;
        b->to[b->n] = *dst;
        b->n++;
    }
    if (any)
        s->last_rx = sbc_relay_now_ns();
    for (unsigned t = 0; t < 2; t++)
        if (r->tx[t].n)
            flush(&r->tx[t], out, in);
}

static void rx_prepare(struct sbc_relay *r)
{
    for (unsigned i = 0; i < SBC_RELAY_BATCH; i++) {
        r->rx_iov[i].iov_len = SBC_RELAY_MTU;
        r->rx_msg[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
        r->rx_msg[i].msg_hdr.msg_flags = 0;
    }
}

/* Reads and drops what waits on a parked socket: one batch, or all of it
 * (before a stream takes the socket over). */
static void drain(struct sbc_relay *r, int fd, bool all)
{
    int n;
    do {
        rx_prepare(r);
        n = recvmmsg(fd, r->rx_msg, SBC_RELAY_BATCH, MSG_DONTWAIT, NULL);
        if (n > 0) {
            r->parked_drops += (uint64_t)n;
            r->socks[fd].last_rx = sbc_relay_now_ns();
        }
    } while (all && n == SBC_RELAY_BATCH);
}

/* Level-triggered: one recvmmsg per readiness unless the batch came back
 * full, so a wake-up carrying one packet costs one recvmmsg + one sendmmsg. */
static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct sbc_relay *r = arg;
    struct watch *w = r->socks[fd].owner;
    if (!w) {
        drain(r, fd, false);
        return;
    }
    struct sbc_relay_stream *s = w->s;
    for (unsigned round = 0; round < MAX_ROUNDS; round++) {
        rx_prepare(r);
        int n = recvmmsg(fd, r->rx_msg, SBC_RELAY_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        process(r, s, w->leg, w->rtcp, (unsigned)n);
        if (n < SBC_RELAY_BATCH)
            return;
    }
}

/* ---- the relay ----------------------------------------------------------------- */

struct sbc_relay *sbc_relay_create(struct event_base *base, unsigned tick_us, char *err, size_t errlen)
{
    struct sbc_relay *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "relay: out of memory");
        return NULL;
    }
    r->base = base;
    r->tick = SBC_RELAY_TICK_US_DEFAULT;
    r->tick_fd = -1;
    sbc_relay_set_tick(r, tick_us);
    for (unsigned i = 0; i < SBC_RELAY_BATCH; i++) {
        r->rx_iov[i].iov_base = r->buf[i];
        r->rx_msg[i].msg_hdr.msg_iov = &r->rx_iov[i];
        r->rx_msg[i].msg_hdr.msg_iovlen = 1;
        r->rx_msg[i].msg_hdr.msg_name = &r->rx_from[i];
        for (unsigned t = 0; t < 2; t++) {
            r->tx[t].msg[i].msg_hdr.msg_iov = &r->tx[t].iov[i];
            r->tx[t].msg[i].msg_hdr.msg_iovlen = 1;
            r->tx[t].msg[i].msg_hdr.msg_name = &r->tx[t].to[i];
            r->tx[t].msg[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
        }
    }
    return r;
}

void sbc_relay_destroy(struct sbc_relay *r)
{
    if (!r)
        return;
    if (r->ring_ev)
        event_free(r->ring_ev);
    if (r->tick_ev)
        event_free(r->tick_ev);
    if (r->tick_fd >= 0)
        close(r->tick_fd);
    sbc_uring_destroy(r->ring);          /* cancels the receives */
    free(r->slots);
    for (int fd = 0; fd < r->n_socks; fd++)
        if (r->socks[fd].ev)
            event_free(r->socks[fd].ev);
    free(r->socks);
    free(r);
}

struct event_base *sbc_relay_base(const struct sbc_relay *r)
{
    return r->base;
}

void sbc_relay_start(struct sbc_relay *r)
{
    if (r->tick_us)
        ring_ready(r);
}

void sbc_relay_set_tick(struct sbc_relay *r, unsigned tick_us)
{
    r->tick_us = tick_us;
    if (tick_us && tick_us != r->tick) {    /* 0: streams already on the ring keep the last tick */
        r->tick = tick_us;
        if (r->ticking)
            tick_arm(r, tick_us);
    }
}

const char *sbc_relay_io(const struct sbc_relay *r)
{
    if (!r->ring_tried)
        return "not started";
    return r->ring ? "io_uring" : r->ring_err;
}

static int grow_socks(struct sbc_relay *r, int fd)
{
    if (fd < r->n_socks)
        return 0;
    int n = r->n_socks ? r->n_socks : 256;
    while (n <= fd)
        n *= 2;
    struct relay_sock *t = realloc(r->socks, sizeof(*t) * (size_t)n);
    if (!t)
        return -1;
    memset(t + r->n_socks, 0, sizeof(*t) * (size_t)(n - r->n_socks));
    r->socks = t;
    r->n_socks = n;
    return 0;
}

static bool watched(const struct relay_sock *k)
{
    return k->ev || k->on_ring;
}

/* A multishot receive on fd (again, after a socket was given up). */
static void ring_arm(struct sbc_relay *r, struct relay_sock *k, int fd)
{
    k->armed = true;
    k->rx_errors = 0;
    sbc_uring_recv(r->ring, fd, k->fixed, recv_tag(fd, k->gen));
}

/* Stops feeding fd's packets to its stream: parked (still watched, dropped)
 * or unwatched. */
static void release_fd(struct sbc_relay *r, int fd, bool park)
{
    if (fd < 0 || fd >= r->n_socks || !watched(&r->socks[fd]))
        return;
    struct relay_sock *k = &r->socks[fd];
    k->owner = NULL;
    k->last_rx = 0;
    if (park)
        return;
    if (k->ev) {
        event_free(k->ev);
        k->ev = NULL;
    }
    /* The cancel fails only off the worker thread (at shutdown): closing
     * the ring then releases the socket. */
    if (k->armed)
        sbc_uring_recv_cancel(r->ring, recv_tag(fd, k->gen));
    if (k->fixed)
        sbc_uring_file_del(r->ring, fd);
    k->on_ring = k->armed = k->fixed = false;
    k->gen++;                            /* completions still queued for fd are stale */
}

static int watch_fd(struct sbc_relay_stream *s, unsigned li, bool rtcp, int fd, char *err, size_t errlen)
{
    struct sbc_relay *r = s->r;
    struct relay_leg *l = &s->leg[li];
    struct watch *w = rtcp ? &l->w_rtcp : &l->w_rtp;
    *w = (struct watch){ s, (uint8_t)li, rtcp };
    if (fd < 0)
        return 0;
    if (grow_socks(r, fd) < 0) {
        snprintf(err, errlen, "relay: out of memory watching socket %d", fd);
        return -1;
    }
    struct relay_sock *k = &r->socks[fd];
    if (k->owner) {
        snprintf(err, errlen, "relay: socket %d already feeds a stream", fd);
        return -1;
    }
    if (k->ev) {                         /* parked: what the last call left is not ours */
        drain(r, fd, true);
    } else if (k->on_ring) {
        if (sbc_uring_pending(r->ring))
            ring_poll(r);                /* nothing waits (the usual, after the quiet time): no entry */
        if (!k->armed)
            ring_arm(r, k, fd);
        ring_join(r, s);
    } else if (r->tick_us && ring_ready(r)) {
        k->on_ring = true;
        k->fixed = sbc_uring_file_add(r->ring, fd);
        ring_arm(r, k, fd);
        ring_join(r, s);
    } else {
        k->ev = event_new(r->base, fd, EV_READ | EV_PERSIST, on_readable, r);
        if (!k->ev || event_add(k->ev, NULL) < 0) {
            if (k->ev)
                event_free(k->ev);
            k->ev = NULL;
            snprintf(err, errlen, "relay: cannot watch socket %d", fd);
            return -1;
        }
    }
    k->owner = w;
    k->last_rx = 0;
    if (rtcp)
        l->rtcp_fd = fd;
    else
        l->rtp_fd = fd;
    return 0;
}

/* New receives go to the kernel now, one entry for all of a stream's
 * sockets: nothing else would enter the ring while it is quiet. */
static void ring_kick(struct sbc_relay *r)
{
    if (r->ring && sbc_uring_queued(r->ring))
        ring_poll(r);
}

struct sbc_relay_stream *sbc_relay_stream_create(struct sbc_relay *r, int rtp_fd0, int rtcp_fd0, int rtp_fd1,
                                                 int rtcp_fd1, char *err, size_t errlen)
{
    struct sbc_relay_stream *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "relay: out of memory");
        return NULL;
    }
    s->r = r;
    s->leg[0].rtp_fd = s->leg[0].rtcp_fd = s->leg[1].rtp_fd = s->leg[1].rtcp_fd = -1;
    if (watch_fd(s, 0, false, rtp_fd0, err, errlen) < 0 || watch_fd(s, 0, true, rtcp_fd0, err, errlen) < 0 ||
        watch_fd(s, 1, false, rtp_fd1, err, errlen) < 0 || watch_fd(s, 1, true, rtcp_fd1, err, errlen) < 0) {
        sbc_relay_stream_destroy(s);
        return NULL;
    }
    ring_kick(r);
    return s;
}

static void stream_free(struct sbc_relay_stream *s, bool park)
{
    if (!s)
        return;
    struct sbc_relay *r = s->r;
    for (unsigned i = 0; i < 2; i++) {
        release_fd(r, s->leg[i].rtp_fd, park);
        release_fd(r, s->leg[i].rtcp_fd, park);
    }
    if (s->inflight)
        ring_settle(r, s);
    if (s->on_ring)
        ring_leave(r, s);
    for (unsigned i = 0; i < 2; i++) {
        struct relay_leg *l = &s->leg[i];
        srtp_drop(l->rx);
        srtp_drop(l->rx_old);
        srtp_drop(l->tx);
    }
    free(s);
}

void sbc_relay_stream_destroy(struct sbc_relay_stream *s)
{
    stream_free(s, false);
}

void sbc_relay_stream_park(struct sbc_relay_stream *s)
{
    stream_free(s, true);
}

void sbc_relay_unwatch_fd(struct sbc_relay *r, int fd)
{
    release_fd(r, fd, false);
}

uint64_t sbc_relay_parked_last_rx(struct sbc_relay *r, int fd)
{
    if (r->ring && sbc_uring_pending(r->ring))
        ring_poll(r);                    /* what parked sockets received since the last tick */
    return fd >= 0 && fd < r->n_socks && watched(&r->socks[fd]) && !r->socks[fd].owner ? r->socks[fd].last_rx : 0;
}

uint64_t sbc_relay_parked_drops(const struct sbc_relay *r)
{
    return r->parked_drops;
}

const struct sbc_relay_tx_stats *sbc_relay_tx_stats(const struct sbc_relay *r)
{
    return r->ring ? &r->txs : NULL;
}

int sbc_relay_stream_set_rtcp_fd(struct sbc_relay_stream *s, int leg, int fd, char *err, size_t errlen)
{
    struct relay_leg *l = &s->leg[leg & 1];
    release_fd(s->r, l->rtcp_fd, false);
    l->rtcp_fd = -1;
    int rc = watch_fd(s, (unsigned)leg & 1u, true, fd, err, errlen);
    ring_kick(s->r);
    return rc;
}

void sbc_relay_stream_set_peer(struct sbc_relay_stream *s, int leg, const struct sockaddr_in *rtp,
                               const struct sockaddr_in *rtcp, bool mux)
{
    struct relay_leg *l = &s->leg[leg & 1];
    if (!same_addr(&l->sig_rtp, rtp) || !same_addr(&l->sig_rtcp, rtcp) || l->mux != mux)
        sbc_relay_stream_unlatch(s, leg);
    l->sig_rtp = *rtp;
    l->sig_rtcp = *rtcp;
    l->mux = mux;
}

void sbc_relay_stream_unlatch(struct sbc_relay_stream *s, int leg)
{
    struct relay_leg *l = &s->leg[leg & 1];
    l->st.latched = false;
    l->rtcp_latched = false;
    memset(&l->st.latched_addr, 0, sizeof(l->st.latched_addr));
    memset(&l->latched_rtcp, 0, sizeof(l->latched_rtcp));
}

void sbc_relay_stream_set_srtp_rx(struct sbc_relay_stream *s, int leg, sbc_srtp_t *rx)
{
    struct relay_leg *l = &s->leg[leg & 1];
    srtp_drop(l->rx_old);
    l->rx_old = NULL;
    if (rx && l->rx)
        l->rx_old = l->rx;
    else
        srtp_drop(l->rx);
    l->rx = rx;
}

void sbc_relay_stream_set_srtp_tx(struct sbc_relay_stream *s, int leg, sbc_srtp_t *tx)
{
    struct relay_leg *l = &s->leg[leg & 1];
    srtp_drop(l->tx);
    l->tx = tx;
}

const struct sbc_relay_leg_stats *sbc_relay_stream_stats(const struct sbc_relay_stream *s, int leg)
{
    return &s->leg[leg & 1].st;
}

uint64_t sbc_relay_stream_last_rx(const struct sbc_relay_stream *s)
{
    return s->last_rx;
}
