/* Relay: recvmmsg a batch from one leg's socket, translate each packet in
 * place (unprotect, protect) and send it on the other leg. The batch
 * buffers belong to the worker's relay, so the packet path allocates nothing.
 *
 * Sends: with io_uring, packets to send are copied to a queue and all of a
 * loop turn's sends go to the kernel in one io_uring_enter at the end of the
 * turn (an event activated by the first queued packet runs after the turn's
 * ready events), or sooner when TXQ_FLUSH packets wait or the oldest has
 * waited TXQ_MAX_WAIT_NS. Without io_uring, one sendmmsg per batch as it is
 * processed. See docs/media-relay.md for the latency bound. */
#include "media/relay.h"

#include "media/uring_tx.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BUF_SIZE (SBC_RELAY_MTU + SBC_SRTP_MAX_TRAILER + 64)
#define MAX_ROUNDS 4                 /* batches per wake-up before yielding to other sockets */
#define TXQ 256                      /* queued sends at most */
#define TXQ_FLUSH (TXQ - SBC_RELAY_BATCH) /* submit before a batch could overflow the queue */
#define TXQ_MAX_WAIT_NS 200000       /* oldest queued packet: submit after 200 us */

struct watch {
    struct sbc_relay_stream *s;
    uint8_t leg;
    bool rtcp;
};

/* The relay's watch of one socket, indexed by fd: the leg it feeds, or none
 * while parked (warm, between calls). */
struct relay_sock {
    struct event *ev;
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
};

struct tx_batch {
    int fd;
    unsigned n;
    struct mmsghdr msg[SBC_RELAY_BATCH];
    struct iovec iov[SBC_RELAY_BATCH];
    struct sockaddr_in to[SBC_RELAY_BATCH];
};

/* A queued send and whose counters its outcome goes to. */
struct txq_slot {
    struct relay_leg *in, *out;
    struct msghdr msg;
    struct iovec iov;
    struct sockaddr_in to;
    uint8_t buf[BUF_SIZE];
};

struct sbc_relay {
    struct event_base *base;
    struct sbc_uring_tx *uring;          /* NULL: sendmmsg at once */
    struct event *flush_ev;
    unsigned txq_n;
    uint64_t txq_first_ns;               /* when the oldest queued packet was queued */
    struct sbc_relay_tx_stats txs;
    struct txq_slot *txq;
    struct mmsghdr rx_msg[SBC_RELAY_BATCH];
    struct iovec rx_iov[SBC_RELAY_BATCH];
    struct sockaddr_in rx_from[SBC_RELAY_BATCH];
    struct tx_batch tx[2];               /* RTP socket, RTCP socket of the output leg */
    uint8_t buf[SBC_RELAY_BATCH][BUF_SIZE];
    struct relay_sock *socks;
    int n_socks;
    uint64_t parked_drops;
};

uint64_t sbc_relay_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void txq_done(void *arg, uint64_t i, int res)
{
    struct sbc_relay *r = arg;
    struct txq_slot *q = &r->txq[i];
    if (res < 0) {
        q->in->st.send_fail++;
    } else {
        q->out->st.tx_packets++;
        q->out->st.tx_bytes += (uint64_t)res;
    }
}

/* Hands the queue to the kernel. Runs before anything that could free a
 * queued packet's stream or close its socket. */
static void txq_submit(struct sbc_relay *r)
{
    if (!r->txq_n)
        return;
    uint64_t wait = mono_ns() - r->txq_first_ns;
    r->txs.submits++;
    r->txs.packets += r->txq_n;
    r->txs.wait_ns_sum += wait;
    if (wait > r->txs.wait_ns_max)
        r->txs.wait_ns_max = wait;
    sbc_uring_tx_submit(r->uring, txq_done, r);
    r->txq_n = 0;
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    txq_submit(arg);
}

static void txq_add(struct sbc_relay *r, int fd, const uint8_t *pkt, int len, const struct sockaddr_in *to,
                    struct relay_leg *in, struct relay_leg *out)
{
    if (r->txq_n == TXQ)
        txq_submit(r);
    struct txq_slot *q = &r->txq[r->txq_n];
    memcpy(q->buf, pkt, (size_t)len);
    q->iov.iov_len = (size_t)len;
    q->to = *to;
    q->in = in;
    q->out = out;
    sbc_uring_tx_queue(r->uring, fd, &q->msg, r->txq_n);
    if (r->txq_n++ == 0) {
        r->txq_first_ns = mono_ns();
        event_active(r->flush_ev, EV_TIMEOUT, 1);
    }
}

struct sbc_relay *sbc_relay_create(struct event_base *base, char *err, size_t errlen)
{
    struct sbc_relay *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "relay: out of memory");
        return NULL;
    }
    r->base = base;
    const char *env = getenv("SBC_RELAY_URING");     /* "0": sendmmsg (comparisons, old kernels) */
    char uerr[128];
    if (!env || strcmp(env, "0") != 0)
        r->uring = sbc_uring_tx_create(TXQ, uerr, sizeof(uerr));
    if (r->uring) {
        r->txq = calloc(TXQ, sizeof(*r->txq));
        r->flush_ev = event_new(base, -1, 0, on_flush, r);
        if (!r->txq || !r->flush_ev) {
            sbc_relay_destroy(r);
            snprintf(err, errlen, "relay: out of memory");
            return NULL;
        }
        for (unsigned i = 0; i < TXQ; i++) {
            struct txq_slot *q = &r->txq[i];
            q->iov.iov_base = q->buf;
            q->msg = (struct msghdr){ .msg_name = &q->to, .msg_namelen = sizeof(q->to), .msg_iov = &q->iov,
                                      .msg_iovlen = 1 };
        }
    }
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
    txq_submit(r);
    if (r->flush_ev)
        event_free(r->flush_ev);
    free(r->txq);
    sbc_uring_tx_destroy(r->uring);
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

static void flush(struct sbc_relay *r, struct tx_batch *b, struct relay_leg *out, struct relay_leg *in)
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

static void process(struct sbc_relay *r, struct sbc_relay_stream *s, unsigned li, bool rtcp_sock, unsigned n)
{
    struct relay_leg *in = &s->leg[li], *out = &s->leg[li ^ 1u];
    r->tx[0].fd = out->rtp_fd;
    r->tx[1].fd = out->rtcp_fd;
    bool any = false;

    for (unsigned i = 0; i < n; i++) {
        uint8_t *pkt = r->buf[i];
        int len = (int)r->rx_msg[i].msg_len;
        const struct sockaddr_in *from = &r->rx_from[i];
        if ((r->rx_msg[i].msg_hdr.msg_flags & MSG_TRUNC) || len < 8 || (pkt[0] >> 6) != 2 ||
            r->rx_msg[i].msg_hdr.msg_namelen != sizeof(struct sockaddr_in)) {
            in->st.malformed++;
            continue;
        }
        bool rtcp = rtcp_sock || (in->mux && looks_rtcp(pkt));
        if (!rtcp && len < 12) {
            in->st.malformed++;
            continue;
        }
        bool sep = rtcp && !in->mux;         /* RTCP on its own port: its own latch */
        bool *latched = sep ? &in->rtcp_latched : &in->st.latched;
        struct sockaddr_in *latch = sep ? &in->latched_rtcp : &in->st.latched_addr;
        if (*latched && !same_addr(latch, from)) {
            in->st.foreign++;
            continue;
        }
        int rxlen = len;
        if (in->rx && !srtp_in(in, pkt, &len, rtcp))
            continue;
        if (!*latched) {             /* symmetric RTP: answer where it comes from */
            *latch = *from;
            *latched = true;
        }
        in->st.rx_packets++;
        in->st.rx_bytes += (uint64_t)rxlen;
        in->st.rx_rtcp += rtcp;
        any = true;

        bool out_sep = rtcp && !out->mux;
        const struct sockaddr_in *dst;
        if (out_sep)
            dst = out->rtcp_latched ? &out->latched_rtcp : &out->sig_rtcp;
        else
            dst = out->st.latched ? &out->st.latched_addr : &out->sig_rtp;
        struct tx_batch *b = &r->tx[out_sep];
        if (b->fd < 0 || !addr_usable(dst)) {
            in->st.no_dest++;
            continue;
        }
        if (out->tx) {
            enum sbc_srtp_status st = rtcp ? sbc_srtp_protect_rtcp(out->tx, pkt, &len)
                                           : sbc_srtp_protect(out->tx, pkt, &len);
            if (st != SBC_SRTP_OK) {
                in->st.send_fail++;
                continue;
            }
        }
        if (r->uring) {
            txq_add(r, b->fd, pkt, len, dst, in, out);
            continue;
        }
        b->iov[b->n].iov_base = pkt;
        b->iov[b->n].iov_len = (size_t)len;
        b->to[b->n] = *dst;
        b->n++;
    }
    if (any)
        s->last_rx = sbc_relay_now_ns();
    for (unsigned t = 0; t < 2; t++)
        if (r->tx[t].n)
            flush(r, &r->tx[t], out, in);
    if (r->txq_n >= TXQ_FLUSH || (r->txq_n && mono_ns() - r->txq_first_ns >= TXQ_MAX_WAIT_NS))
        txq_submit(r);
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

/* Stops feeding fd's packets to its stream: parked (still watched, drained)
 * or unwatched. */
static void release_fd(struct sbc_relay *r, int fd, bool park)
{
    if (fd < 0 || fd >= r->n_socks || !r->socks[fd].ev)
        return;
    txq_submit(r);                   /* queued packets may name this socket */
    if (park) {
        r->socks[fd].owner = NULL;
        r->socks[fd].last_rx = 0;
        return;
    }
    event_free(r->socks[fd].ev);
    memset(&r->socks[fd], 0, sizeof(r->socks[fd]));
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
    if (k->ev) {                     /* parked: what the last call left is not ours */
        drain(r, fd, true);
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
    return s;
}

static void stream_free(struct sbc_relay_stream *s, bool park)
{
    if (!s)
        return;
    txq_submit(s->r);                /* queued packets point at this stream's counters */
    for (unsigned i = 0; i < 2; i++) {
        struct relay_leg *l = &s->leg[i];
        release_fd(s->r, l->rtp_fd, park);
        release_fd(s->r, l->rtcp_fd, park);
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

uint64_t sbc_relay_parked_last_rx(const struct sbc_relay *r, int fd)
{
    return fd >= 0 && fd < r->n_socks && r->socks[fd].ev && !r->socks[fd].owner ? r->socks[fd].last_rx : 0;
}

uint64_t sbc_relay_parked_drops(const struct sbc_relay *r)
{
    return r->parked_drops;
}

const struct sbc_relay_tx_stats *sbc_relay_tx_stats(const struct sbc_relay *r)
{
    return r->uring ? &r->txs : NULL;
}

int sbc_relay_stream_set_rtcp_fd(struct sbc_relay_stream *s, int leg, int fd, char *err, size_t errlen)
{
    struct relay_leg *l = &s->leg[leg & 1];
    release_fd(s->r, l->rtcp_fd, false);
    l->rtcp_fd = -1;
    return watch_fd(s, (unsigned)leg & 1u, true, fd, err, errlen);
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
