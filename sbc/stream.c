/* SIP over TCP/TLS: listeners, connections, framing, keep-alives and the
 * outbound connection table of one worker.
 *
 * Socket I/O is our own rather than libevent's bufferevents: one recv per
 * readable event (OpenSSL reads records through a BIO over the bytes that
 * recv returned, never from the socket), one sendmsg per message when the
 * socket takes it all, and the write event is armed only while output
 * waits. A bufferevent cost three reads and two epoll_ctl per message. */
#include "sbc/stream.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/msg_buffer.h>
#include <sofia-sip/sip_header.h>

#include "sbc/log.h"
#include "sbc/udp.h"

#define FEED_MAX 16384          /* bytes handed to the parser at a time */
#define ID_SHIFT 48             /* worker index lives above this bit */
#define RBUF_SIZE 65536         /* bytes taken from a socket per readable event */
#define WBUF_SIZE 65536         /* plaintext taken for SSL_write, or SSL_read's output */

struct iface_reg {
    const sbc_interface_t *iface;
    enum sbc_transport tp;
    sbc_tls_t *tls;             /* TLS only; one reference */
    struct evconnlistener *listener;
    struct sbc_stream *owner;
};

struct conn {
    uint64_t id;
    struct sbc_stream *s;
    struct conn *hnext;         /* id hash chain */
    struct conn *prev, *next;   /* all connections */
    int fd;
    struct event *rev;          /* readable; added once connected */
    struct event *wev;          /* writable; added while connecting or output waits */
    struct evbuffer *in;        /* plaintext received, not yet framed */
    struct evbuffer *out;       /* bytes for the socket (TLS: whole records) */
    struct evbuffer *held;      /* plaintext not yet written: the connection is not up,
                                 * or the loop turn's flush has not run yet */
    struct conn *dnext;         /* flush list */
    bool dirty;                 /* on the flush list */
    SSL *ssl;
    struct event *timer;
    sbc_tls_t *tls;             /* reference held while the SSL lives */
    sbc_hop_t hop;              /* peer, local, tp, tls_name, iface, conn_id */
    char peer_cert_name[256];
    bool outbound, established, retired;
    bool tcp_up, wev_on;
    int err;                    /* errno of a failed write; closed from the loop */
    bool reading, close_pending, report_on_close;
    msg_t *rx;                  /* message being received */
    size_t rx_fed;              /* bytes of it handed to the parser */
    uint64_t created, last_activity, last_msg, last_tx;   /* monotonic ms */
};

struct sbc_stream {
    struct event_base *base;
    int worker_index;
    uint64_t next_seq;
    struct sbc_stream_opts o;
    struct sbc_stream_cbs cbs;
    struct sbc_stream_stats stats;
    struct iface_reg **regs;    /* stable addresses: listeners point at them */
    size_t n_regs;
    struct conn *conns;         /* list head */
    struct conn **buckets;      /* id -> conn */
    size_t n_buckets, n_conns;
    unsigned char *rbuf;        /* RBUF_SIZE: the last recv */
    const unsigned char *tls_in;    /* unread part of rbuf for OpenSSL's BIO */
    size_t tls_in_len;
    unsigned char *wbuf;        /* WBUF_SIZE */
    struct event *flush_ev;     /* runs once per loop turn with output waiting */
    struct conn *dirty;         /* connections with plaintext in held */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *tp_name(enum sbc_transport tp)
{
    return tp == SBC_TP_TLS ? "tls" : tp == SBC_TP_TCP ? "tcp" : "udp";
}

/* ---- id table ---------------------------------------------------------- */

static size_t bucket_of(const sbc_stream_t *s, uint64_t id)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) & (s->n_buckets - 1);
}

static int table_grow(sbc_stream_t *s)
{
    size_t n = s->n_buckets ? s->n_buckets * 2 : 256;
    struct conn **b = calloc(n, sizeof *b);
    if (!b) {
        return -1;
    }
    struct conn **old = s->buckets;
    size_t old_n = s->n_buckets;
    s->buckets = b;
    s->n_buckets = n;
    for (size_t i = 0; i < old_n; i++) {
        for (struct conn *c = old[i], *nx; c; c = nx) {
            nx = c->hnext;
            size_t k = bucket_of(s, c->id);
            c->hnext = b[k];
            b[k] = c;
        }
    }
    free(old);
    return 0;
}

static struct conn *conn_find(const sbc_stream_t *s, uint64_t id)
{
    if (!id || !s->n_buckets) {
        return NULL;
    }
    for (struct conn *c = s->buckets[bucket_of(s, id)]; c; c = c->hnext) {
        if (c->id == id) {
            return c;
        }
    }
    return NULL;
}

static int conn_link(sbc_stream_t *s, struct conn *c)
{
    if (s->n_conns + 1 > s->n_buckets && table_grow(s) < 0) {
        return -1;
    }
    size_t k = bucket_of(s, c->id);
    c->hnext = s->buckets[k];
    s->buckets[k] = c;
    c->next = s->conns;
    if (s->conns) {
        s->conns->prev = c;
    }
    s->conns = c;
    s->n_conns++;
    return 0;
}

static void conn_unlink(sbc_stream_t *s, struct conn *c)
{
    for (struct conn **pp = &s->buckets[bucket_of(s, c->id)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == c) {
            *pp = c->hnext;
            break;
        }
    }
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        s->conns = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    s->n_conns--;
}

/* ---- socket I/O ---------------------------------------------------------- */

/* One sendmsg of what is queued (up to 64 chains). Returns 0, or -errno for
 * an error other than a full socket buffer. */
static int conn_send_out(struct conn *c)
{
    struct evbuffer_iovec v[64];
    int n = evbuffer_peek(c->out, -1, NULL, v, 64);
    if (n <= 0) {
        return 0;
    }
    if (n > 64) {
        n = 64;
    }
    struct iovec iov[64];
    for (int i = 0; i < n; i++) {
        iov[i].iov_base = v[i].iov_base;
        iov[i].iov_len = v[i].iov_len;
    }
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
    ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
    }
    evbuffer_drain(c->out, (size_t)w);
    c->s->stats.tx_writes++;
    return 0;
}

static void want_write(struct conn *c, bool on)
{
    if (on == c->wev_on) {
        return;
    }
    c->wev_on = on;
    if (on) {
        event_add(c->wev, NULL);
    } else {
        event_del(c->wev);
    }
}

/* A write failed where the connection cannot be closed (inside a send or
 * the read loop): the write event closes it from the loop. */
static void conn_fail_later(struct conn *c, int err)
{
    if (!c->err) {
        c->err = err;
        event_active(c->wev, EV_WRITE, 1);
    }
}

/* Sends what is queued; arms the write event for what the socket did not
 * take. */
static void conn_flush(struct conn *c)
{
    if (!c->tcp_up || c->err) {
        return;
    }
    int rc = conn_send_out(c);
    if (rc < 0) {
        conn_fail_later(c, -rc);
        return;
    }
    want_write(c, evbuffer_get_length(c->out) != 0);
}

/* OpenSSL's transport: records it writes are queued on c->out; it reads from
 * the bytes of the current recv (s->tls_in), so a whole flight of records
 * costs one system call. */
static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static int bio_write(BIO *b, const char *data, int len)
{
    struct conn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    return evbuffer_add(c->out, data, (size_t)len) == 0 ? len : -1;
}

static int bio_read(BIO *b, char *data, int len)
{
    struct conn *c = BIO_get_data(b);
    sbc_stream_t *s = c->s;
    BIO_clear_retry_flags(b);
    if (s->tls_in_len == 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    size_t n = s->tls_in_len < (size_t)len ? s->tls_in_len : (size_t)len;
    memcpy(data, s->tls_in, n);
    s->tls_in += n;
    s->tls_in_len -= n;
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void bio_method_init(void)
{
    bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sbc stream");
    if (bio_method) {
        BIO_meth_set_write(bio_method, bio_write);
        BIO_meth_set_read(bio_method, bio_read);
        BIO_meth_set_ctrl(bio_method, bio_ctrl);
        BIO_meth_set_create(bio_method, bio_create);
    }
}

/* Moves the plaintext waiting in held onto the socket's output (TLS: as
 * records of up to 16 KiB) and sends it. Errors surface from the loop. */
static void conn_push(struct conn *c)
{
    sbc_stream_t *s = c->s;
    if (!c->established || c->err || evbuffer_get_length(c->held) == 0) {
        return;
    }
    if (c->ssl) {
        ERR_clear_error();
        int n;
        while ((n = evbuffer_remove(c->held, s->wbuf, WBUF_SIZE)) > 0) {
            if (SSL_write(c->ssl, s->wbuf, n) <= 0) {
                ERR_clear_error();
                conn_fail_later(c, EPROTO);
                return;
            }
        }
    } else if (evbuffer_add_buffer(c->out, c->held) < 0) {
        conn_fail_later(c, ENOMEM);
        return;
    }
    conn_flush(c);
}

/* Every message a loop turn sends on one connection leaves in one write
 * (TLS: one record): the peer gets one segment, not one per message. */
static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    sbc_stream_t *s = arg;
    (void)fd;
    (void)what;
    while (s->dirty) {
        struct conn *c = s->dirty;
        s->dirty = c->dnext;
        c->dnext = NULL;
        c->dirty = false;
        conn_push(c);
    }
}

static void flush_later(struct conn *c)
{
    sbc_stream_t *s = c->s;
    if (c->dirty) {
        return;
    }
    if (!s->dirty) {
        event_active(s->flush_ev, 0, 0);
    }
    c->dirty = true;
    c->dnext = s->dirty;
    s->dirty = c;
}

static void flush_forget(struct conn *c)
{
    if (!c->dirty) {
        return;
    }
    for (struct conn **pp = &c->s->dirty; *pp; pp = &(*pp)->dnext) {
        if (*pp == c) {
            *pp = c->dnext;
            break;
        }
    }
    c->dirty = false;
}

/* Queues a message; it leaves at the end of the loop turn, or once the
 * connection is up. */
static int conn_write(struct conn *c, const struct iovec *iov, int iovcnt)
{
    for (int i = 0; i < iovcnt; i++) {
        if (evbuffer_add(c->held, iov[i].iov_base, iov[i].iov_len) < 0) {
            return -ENOMEM;
        }
    }
    if (c->established) {
        flush_later(c);
    }
    return 0;
}

static void conn_write_bytes(struct conn *c, const char *p, size_t len)
{
    struct iovec v = { .iov_base = (void *)p, .iov_len = len };
    conn_write(c, &v, 1);
}

/* ---- lifecycle --------------------------------------------------------- */

static void conn_free(struct conn *c)
{
    sbc_stream_t *s = c->s;
    flush_forget(c);
    if (c->established && !c->err && c->wev) {
        /* best effort: what is queued, then close_notify; never blocks */
        conn_push(c);
        if (c->ssl && !c->err) {
            SSL_shutdown(c->ssl);
            ERR_clear_error();
        }
        if (!c->err) {
            conn_send_out(c);
        }
    }
    conn_unlink(s, c);
    if (c->outbound) {
        s->stats.conns_out_open--;
    } else {
        s->stats.conns_in_open--;
    }
    if (c->timer) {
        event_free(c->timer);
    }
    if (c->rev) {
        event_free(c->rev);
    }
    if (c->wev) {
        event_free(c->wev);
    }
    if (c->ssl) {
        SSL_free(c->ssl);
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    if (c->in) {
        evbuffer_free(c->in);
    }
    if (c->out) {
        evbuffer_free(c->out);
    }
    if (c->held) {
        evbuffer_free(c->held);
    }
    if (c->rx) {
        msg_destroy(c->rx);
    }
    sbc_tls_unref(c->tls);
    free(c);
}

/* Closes now, or right after the read loop when called from inside it. */
static void conn_close(struct conn *c, const char *reason)
{
    if (c->reading) {
        c->close_pending = true;
        return;
    }
    LOG_DEBUG("%s conn %llu %s closed: %s", tp_name(c->hop.tp), (unsigned long long)c->id,
              c->outbound ? "out" : "in", reason);
    if (c->report_on_close && c->s->cbs.on_send_error) {
        sbc_hop_t hop = c->hop;
        c->report_on_close = false;
        c->s->cbs.on_send_error(c->s->cbs.arg, &hop, reason);
    }
    conn_free(c);
}

static void timer_arm(struct conn *c, uint64_t in_ms)
{
    struct timeval tv = { .tv_sec = (time_t)(in_ms / 1000), .tv_usec = (suseconds_t)(in_ms % 1000) * 1000 };
    evtimer_add(c->timer, &tv);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static bool keepalive_on(const struct conn *c)
{
    return c->outbound && c->s->o.keepalive_ms != SBC_STREAM_OFF;
}

/* One lazily re-armed timer per connection: activity only updates
 * timestamps; the timer works out what is due when it fires. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    sbc_stream_t *s = c->s;
    uint64_t now = now_ms();
    uint64_t next = UINT64_MAX;

    if (!c->established) {
        uint64_t due = c->created + s->o.connect_timeout_ms;
        if (now >= due) {
            if (c->hop.tp == SBC_TP_TLS) {
                s->stats.tls_handshake_failed++;
            } else {
                s->stats.connect_failed++;
            }
            conn_close(c, c->hop.tp == SBC_TP_TLS ? "connect/handshake timeout" : "connect timeout");
            return;
        }
        timer_arm(c, due - now);
        return;
    }
    if (c->outbound && !c->retired && s->o.max_age_ms != SBC_STREAM_OFF) {
        uint64_t due = c->created + s->o.max_age_ms;
        if (now >= due) {
            c->retired = true;
            s->stats.retired++;
        } else {
            next = min_u64(next, due);
        }
    }
    if (c->retired) {
        uint64_t due = c->last_msg + s->o.retire_linger_ms;
        if (now >= due) {
            c->report_on_close = false;     /* our decision: nothing was lost */
            conn_close(c, "max age");
            return;
        }
        next = min_u64(next, due);
    }
    if (!keepalive_on(c) && s->o.idle_timeout_ms != SBC_STREAM_OFF) {
        uint64_t due = c->last_activity + s->o.idle_timeout_ms;
        if (now >= due) {
            s->stats.idle_closed++;
            c->report_on_close = false;
            conn_close(c, "idle timeout");
            return;
        }
        next = min_u64(next, due);
    }
    if (keepalive_on(c)) {
        uint64_t due = c->last_tx + s->o.keepalive_ms;
        if (now >= due) {
            conn_write_bytes(c, "\r\n\r\n", 4);
            c->last_tx = now;
            s->stats.keepalives_sent++;
            due = now + s->o.keepalive_ms;
        }
        next = min_u64(next, due);
    }
    if (next != UINT64_MAX) {
        timer_arm(c, next > now ? next - now : 1);
    }
}

/* ---- receive ----------------------------------------------------------- */

/* RFC 5626 §4.4.1 at a message boundary: "\r\n\r\n" is a ping (answer
 * "\r\n"), a lone "\r\n" a pong. Returns false when more bytes are needed. */
static bool eat_crlf(struct conn *c, struct evbuffer *in)
{
    for (;;) {
        size_t len = evbuffer_get_length(in);
        if (len < 2) {
            return true;
        }
        unsigned char *p = evbuffer_pullup(in, len < 4 ? (ev_ssize_t)len : 4);
        if (p[0] != '\r' || p[1] != '\n') {
            return true;
        }
        if (len >= 4 && p[2] == '\r' && p[3] == '\n') {
            evbuffer_drain(in, 4);
            conn_write_bytes(c, "\r\n", 2);
            c->s->stats.pings_answered++;
            continue;
        }
        if (len == 2 && !c->outbound) {
            return false;   /* maybe the first half of a ping */
        }
        if (len == 3 && p[2] == '\r') {
            return false;
        }
        evbuffer_drain(in, 2);      /* pong, or a stray CRLF */
    }
}

static void deliver(struct conn *c, msg_t *msg)
{
    sbc_stream_t *s = c->s;
    s->stats.rx_msgs++;
    s->stats.rx_bytes += msg_size(msg);
    c->last_msg = now_ms();
    sbc_hop_t hop = c->hop;
    s->cbs.on_message(s->cbs.arg, msg, &hop);
}

/* Hands buffered bytes to Sofia's stream parser, message by message. Bytes
 * the parser read past the end of a message go back to the evbuffer, so
 * pings between pipelined messages are seen and each message starts fresh
 * against the size cap. Returns a close reason, or NULL. */
static const char *read_messages(struct conn *c, struct evbuffer *in)
{
    sbc_stream_t *s = c->s;
    while (!c->close_pending) {
        if (c->rx_fed == 0 && !eat_crlf(c, in)) {
            return NULL;
        }
        size_t len = evbuffer_get_length(in);
        if (len == 0) {
            return NULL;
        }
        if (!c->rx) {
            c->rx = msg_create(sip_default_mclass(), s->o.msg_flags);
            if (!c->rx) {
                return "out of memory";
            }
            msg_maxsize(c->rx, SBC_SIP_MAX_MSG);
        }
        size_t feed = len < FEED_MAX ? len : FEED_MAX;
        msg_iovec_t iov[2];
        issize_t n = msg_recv_iovec(c->rx, iov, 2, feed, 0);
        if (n < 0 || msg_get_flags(c->rx, MSG_FLG_TOOLARGE)) {
            s->stats.too_large++;
            return "message too large";
        }
        size_t got = 0;
        for (issize_t i = 0; i < n; i++) {
            got += (size_t)evbuffer_remove(in, iov[i].mv_base, iov[i].mv_len);
        }
        msg_recv_commit(c->rx, got, 0);
        c->rx_fed += got;
        int r = msg_extract(c->rx);
        if (msg_get_flags(c->rx, MSG_FLG_TOOLARGE)) {
            s->stats.too_large++;
            return "message too large";
        }
        if (r < 0 || msg_get_flags(c->rx, MSG_FLG_ERROR)) {
            s->stats.parse_errors++;
            return "parse error";
        }
        if (r == 0) {
            continue;
        }
        msg_t *next = msg_next(c->rx);
        if (next) {
            size_t extra = msg_buf_committed(next);
            if (extra) {
                evbuffer_prepend(in, msg_buf_committed_data(next), extra);
            }
            msg_destroy(next);
        }
        msg_t *msg = c->rx;
        c->rx = NULL;
        c->rx_fed = 0;
        deliver(c, msg);
    }
    return NULL;
}

static void conn_established(struct conn *c)
{
    c->established = true;
    c->last_activity = c->last_msg = now_ms();
    if (c->ssl) {
        sbc_tls_peer_name(c->ssl, c->peer_cert_name, sizeof c->peer_cert_name);
        if (!c->outbound) {
            snprintf(c->hop.tls_name, sizeof c->hop.tls_name, "%s", sbc_tls_sni(c->ssl));
        }
    }
    if (evbuffer_get_length(c->held)) {
        flush_later(c);
    }
    /* re-evaluate deadlines now that the connect timeout is over */
    timer_arm(c, 0);
}

/* The peer closed (err 0) or the connection failed (errno, or an OpenSSL
 * error code): the reason names the stage it failed in. */
static void conn_lost(struct conn *c, int err, unsigned long ossl_err)
{
    sbc_stream_t *s = c->s;
    char reason[320];
    /* nothing was lost unless output was still queued */
    bool queued = evbuffer_get_length(c->out) || evbuffer_get_length(c->held);
    if (c->ssl && !c->established) {
        char ebuf[256];
        if (ossl_err == 0 && SSL_get_verify_result(c->ssl) == X509_V_OK) {
            snprintf(ebuf, sizeof ebuf, "%s", err && err != EPROTO ? strerror(err) : "closed by peer");
            ERR_clear_error();
        } else {
            sbc_tls_error_string(c->ssl, ossl_err, ebuf, sizeof ebuf);
        }
        snprintf(reason, sizeof reason, "TLS handshake failed: %s", ebuf);
        s->stats.tls_handshake_failed++;
        LOG_INFO("tls conn %llu %s: %s", (unsigned long long)c->id, c->outbound ? "out" : "in",
                 reason);
    } else if (!c->established) {
        snprintf(reason, sizeof reason, "connect failed: %s", strerror(err ? err : ECONNRESET));
        s->stats.connect_failed++;
    } else {
        if (err == 0) {
            snprintf(reason, sizeof reason, "closed by peer");
        } else if (ossl_err) {
            char ebuf[256];
            ERR_error_string_n(ossl_err, ebuf, sizeof ebuf);
            snprintf(reason, sizeof reason, "TLS error: %s", ebuf);
        } else {
            snprintf(reason, sizeof reason, "connection error: %s", strerror(err));
        }
        ERR_clear_error();
        s->stats.peer_closed++;
        if (!queued) {
            c->report_on_close = false;
        }
    }
    conn_close(c, reason);
}

/* Runs the handshake on the bytes just received (s->tls_in), then decrypts
 * records into c->in. 0: needs more bytes; 1: the peer's close_notify;
 * -1: failed (*ossl_err). */
static int tls_take(struct conn *c, unsigned long *ossl_err)
{
    sbc_stream_t *s = c->s;
    if (!c->established) {
        ERR_clear_error();
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                return 0;
            }
            *ossl_err = ERR_get_error();
            return -1;
        }
        conn_established(c);
    }
    for (;;) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, s->wbuf, WBUF_SIZE);
        if (r > 0) {
            if (evbuffer_add(c->in, s->wbuf, (size_t)r) < 0) {
                return -1;
            }
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            return 0;
        }
        if (e == SSL_ERROR_ZERO_RETURN) {
            return 1;
        }
        *ossl_err = ERR_get_error();
        return -1;
    }
}

/* One recv per readable event: level-triggered epoll reports the rest. */
static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    sbc_stream_t *s = c->s;
    (void)what;
    ssize_t n = recv(fd, s->rbuf, RBUF_SIZE, 0);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            return;
        }
        conn_lost(c, n < 0 ? errno : 0, 0);
        return;
    }
    c->last_activity = now_ms();
    int tls = 0;
    unsigned long ossl_err = 0;
    c->reading = true;
    if (c->ssl) {
        s->tls_in = s->rbuf;
        s->tls_in_len = (size_t)n;
        tls = tls_take(c, &ossl_err);
        s->tls_in_len = 0;
        if (tls < 0) {
            conn_send_out(c);   /* the alert, best effort */
        } else {
            conn_flush(c);      /* handshake records, tickets */
        }
    } else if (evbuffer_add(c->in, s->rbuf, (size_t)n) < 0) {
        tls = -1;
    }
    const char *why = c->established && tls >= 0 ? read_messages(c, c->in) : NULL;
    c->reading = false;
    if (why) {
        LOG_INFO("%s conn %llu: %s, closing", tp_name(c->hop.tp), (unsigned long long)c->id, why);
        conn_close(c, why);
    } else if (c->close_pending) {
        conn_close(c, "closed by the SIP layer");
    } else if (tls != 0) {
        conn_lost(c, tls > 0 ? 0 : EPROTO, ossl_err);
    }
}

/* Connect finished, or the socket takes output again, or a write failed. */
static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)what;
    if (c->err) {
        conn_lost(c, c->err, 0);
        return;
    }
    if (!c->tcp_up) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
            err = errno;
        }
        if (err) {
            conn_lost(c, err, 0);
            return;
        }
        c->tcp_up = true;
        event_add(c->rev, NULL);
        if (!c->ssl) {
            conn_established(c);
        } else {
            unsigned long ossl_err = 0;
            if (tls_take(c, &ossl_err) < 0) {     /* writes the ClientHello */
                conn_lost(c, EPROTO, ossl_err);
                return;
            }
        }
    }
    conn_flush(c);
}

/* Gives a connection its socket and TLS session (both owned from here on):
 * events, buffers, the BIO. connecting: outbound, connect() in progress. */
static int conn_attach(struct conn *c, int fd, SSL *ssl, bool connecting)
{
    sbc_stream_t *s = c->s;
    c->fd = fd;
    c->ssl = ssl;
    c->rev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_readable, c);
    c->wev = event_new(s->base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
    c->in = evbuffer_new();
    c->out = evbuffer_new();
    c->held = evbuffer_new();
    if (!c->rev || !c->wev || !c->in || !c->out || !c->held) {
        return -1;
    }
    if (ssl) {
        pthread_once(&bio_once, bio_method_init);
        BIO *b = bio_method ? BIO_new(bio_method) : NULL;
        if (!b) {
            return -1;
        }
        BIO_set_data(b, c);
        SSL_set_bio(ssl, b, b);
        if (connecting) {
            SSL_set_connect_state(ssl);
        } else {
            SSL_set_accept_state(ssl);
        }
    }
    if (connecting) {
        want_write(c, true);
    } else {
        c->tcp_up = true;
        event_add(c->rev, NULL);
    }
    return 0;
}

/* ---- connection setup -------------------------------------------------- */

static struct conn *conn_new(sbc_stream_t *s, const sbc_interface_t *iface, enum sbc_transport tp,
                             bool outbound)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        return NULL;
    }
    c->s = s;
    c->id = ((uint64_t)(s->worker_index & 0xffff) << ID_SHIFT) | ++s->next_seq;
    c->fd = -1;
    c->outbound = outbound;
    c->hop.tp = tp;
    c->hop.iface = iface;
    c->hop.conn_id = c->id;
    c->created = c->last_activity = c->last_msg = c->last_tx = now_ms();
    c->timer = evtimer_new(s->base, on_timer, c);
    if (!c->timer || conn_link(s, c) < 0) {
        if (c->timer) {
            event_free(c->timer);
        }
        free(c);
        return NULL;
    }
    if (outbound) {
        s->stats.conns_out_open++;
        s->stats.opened++;
    } else {
        s->stats.conns_in_open++;
        s->stats.accepted++;
    }
    return c;
}

static void sock_tune(evutil_socket_t fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    struct iface_reg *r = arg;
    sbc_stream_t *s = r->owner;
    if (!sbc_iface_allows(r->iface, sa)) {
        s->stats.drop_acl++;
        close(fd);
        return;
    }
    struct conn *c = conn_new(s, r->iface, r->tp, false);
    if (!c) {
        close(fd);
        return;
    }
    memcpy(&c->hop.peer, sa, (size_t)salen);
    c->hop.peer_len = (socklen_t)salen;
    c->hop.local_len = sizeof c->hop.local;
    getsockname(fd, (struct sockaddr *)&c->hop.local, &c->hop.local_len);
    sock_tune(fd);
    SSL *ssl = NULL;
    if (r->tp == SBC_TP_TLS) {
        ssl = sbc_tls_new_server_ssl(r->tls);
        c->tls = sbc_tls_ref(r->tls);
        if (!ssl) {
            close(fd);
            conn_free(c);
            return;
        }
    }
    if (conn_attach(c, fd, ssl, false) < 0) {
        conn_free(c);
        return;
    }
    c->established = !ssl;
    timer_arm(c, c->established ? s->o.idle_timeout_ms : s->o.connect_timeout_ms);
}

static struct iface_reg *reg_find(sbc_stream_t *s, const sbc_interface_t *iface,
                                  enum sbc_transport tp)
{
    for (size_t i = 0; i < s->n_regs; i++) {
        if (s->regs[i]->tp == tp && (!iface || s->regs[i]->iface == iface)) {
            return s->regs[i];
        }
    }
    return NULL;
}

/* Outbound: bind to the interface address (unless a wildcard), connect. */
static struct conn *conn_open(sbc_stream_t *s, const sbc_hop_t *hop, int *err)
{
    struct iface_reg *r = reg_find(s, hop->iface, hop->tp);
    if (!r || (hop->tp == SBC_TP_TLS && !r->tls)) {
        *err = -ENETUNREACH;
        return NULL;
    }
    evutil_socket_t fd = socket(hop->peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = -errno;
        return NULL;
    }
    sock_tune(fd);
    struct sockaddr_storage la;
    socklen_t ll;
    if (r->iface && sbc_sockaddr_parse(r->iface->sip_address, 0, &la, &ll) == 0 &&
        la.ss_family == hop->peer.ss_family) {
        int one = 1;
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&la, ll) < 0) {
            LOG_WARN("stream: bind %s for outbound: %s", r->iface->sip_address, strerror(errno));
        }
    }
    struct conn *c = conn_new(s, r->iface, hop->tp, true);
    if (!c) {
        close(fd);
        *err = -ENOMEM;
        return NULL;
    }
    memcpy(&c->hop.peer, &hop->peer, hop->peer_len);
    c->hop.peer_len = hop->peer_len;
    snprintf(c->hop.tls_name, sizeof c->hop.tls_name, "%s", hop->tls_name);
    c->report_on_close = true;

    SSL *ssl = NULL;
    if (hop->tp == SBC_TP_TLS) {
        char ebuf[256];
        ssl = sbc_tls_new_client_ssl(r->tls, hop->tls_name, ebuf, sizeof ebuf);
        if (!ssl) {
            LOG_WARN("stream: %s", ebuf);
            close(fd);
            c->report_on_close = false;
            conn_free(c);
            *err = -EINVAL;
            return NULL;
        }
        c->tls = sbc_tls_ref(r->tls);
    }
    /* the write event reports the end of connect(); the handshake follows */
    if (connect(fd, (struct sockaddr *)&hop->peer, hop->peer_len) < 0 && errno != EINPROGRESS) {
        *err = -errno;
        if (hop->tp == SBC_TP_TCP) {
            s->stats.connect_failed++;
        }
        SSL_free(ssl);
        close(fd);
        c->report_on_close = false;
        conn_free(c);
        return NULL;
    }
    if (conn_attach(c, fd, ssl, true) < 0) {
        c->report_on_close = false;
        conn_free(c);
        *err = -ENOMEM;
        return NULL;
    }
    c->hop.local_len = sizeof c->hop.local;
    getsockname(fd, (struct sockaddr *)&c->hop.local, &c->hop.local_len);
    timer_arm(c, s->o.connect_timeout_ms);
    return c;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family) {
        return false;
    }
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

/* Reuse: same peer, transport, TLS name (and interface when given). */
static struct conn *find_outbound(sbc_stream_t *s, const sbc_hop_t *hop)
{
    for (struct conn *c = s->conns; c; c = c->next) {
        if (c->outbound && !c->retired && !c->close_pending && c->hop.tp == hop->tp &&
            (!hop->iface || c->hop.iface == hop->iface) && same_addr(&c->hop.peer, &hop->peer) &&
            strcmp(c->hop.tls_name, hop->tls_name) == 0) {
            return c;
        }
    }
    return NULL;
}

/* ---- public API -------------------------------------------------------- */

sbc_stream_t *sbc_stream_create(struct event_base *base, int worker_index,
                                const struct sbc_stream_opts *opts,
                                const struct sbc_stream_cbs *cbs)
{
    sbc_stream_t *s = calloc(1, sizeof *s);
    if (!s) {
        return NULL;
    }
    s->base = base;
    s->worker_index = worker_index;
    if (opts) {
        s->o = *opts;
    }
    if (!s->o.idle_timeout_ms) {
        s->o.idle_timeout_ms = 120000;
    }
    if (!s->o.keepalive_ms) {
        s->o.keepalive_ms = 30000;
    }
    if (!s->o.max_age_ms) {
        s->o.max_age_ms = 3600000;
    }
    if (!s->o.retire_linger_ms) {
        s->o.retire_linger_ms = 32000;
    }
    if (!s->o.connect_timeout_ms) {
        s->o.connect_timeout_ms = 10000;
    }
    /* a worker writes ~3 MB/s to one Teams connection at 3,000 calls/s:
     * 4 MiB rides out a peer's stall of about a second */
    if (!s->o.max_output) {
        s->o.max_output = 4u << 20;
    }
    s->cbs = *cbs;
    s->rbuf = malloc(RBUF_SIZE);
    s->wbuf = malloc(WBUF_SIZE);
    s->flush_ev = event_new(base, -1, 0, on_flush, s);
    if (!s->rbuf || !s->wbuf || !s->flush_ev || table_grow(s) < 0) {
        if (s->flush_ev) {
            event_free(s->flush_ev);
        }
        free(s->rbuf);
        free(s->wbuf);
        free(s);
        return NULL;
    }
    return s;
}

void sbc_stream_destroy(sbc_stream_t *s)
{
    if (!s) {
        return;
    }
    while (s->conns) {
        s->conns->report_on_close = false;
        s->conns->reading = false;
        conn_free(s->conns);
    }
    for (size_t i = 0; i < s->n_regs; i++) {
        if (s->regs[i]->listener) {
            evconnlistener_free(s->regs[i]->listener);
        }
        sbc_tls_unref(s->regs[i]->tls);
        free(s->regs[i]);
    }
    event_free(s->flush_ev);
    free(s->regs);
    free(s->buckets);
    free(s->rbuf);
    free(s->wbuf);
    free(s);
}

int sbc_stream_add_iface(sbc_stream_t *s, const sbc_interface_t *iface, enum sbc_transport tp,
                         sbc_tls_t *tls, bool listen, char *err, size_t errlen)
{
    const char *name = iface->name ? iface->name : "?";
    if (tp != SBC_TP_TCP && tp != SBC_TP_TLS) {
        snprintf(err, errlen, "%s: stream transport must be tcp or tls", name);
        return -1;
    }
    if (tp == SBC_TP_TLS && !tls) {
        snprintf(err, errlen, "%s: tls transport without TLS material", name);
        return -1;
    }
    if (reg_find(s, iface, tp)) {
        snprintf(err, errlen, "%s: %s already registered", name, tp_name(tp));
        return -1;
    }
    struct iface_reg **regs = realloc(s->regs, (s->n_regs + 1) * sizeof *regs);
    if (!regs) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    s->regs = regs;
    struct iface_reg *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    r->iface = iface;
    r->tp = tp;
    r->owner = s;
    if (listen) {
        struct sockaddr_storage ss;
        socklen_t sl;
        if (sbc_sockaddr_parse(iface->sip_address, iface->sip_port, &ss, &sl) < 0) {
            snprintf(err, errlen, "%s: bad address '%s'", name,
                     iface->sip_address ? iface->sip_address : "");
            free(r);
            return -1;
        }
        r->listener = evconnlistener_new_bind(
            s->base, on_accept, r,
            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT |
                LEV_OPT_CLOSE_ON_EXEC,
            1024, (struct sockaddr *)&ss, (int)sl);
        if (!r->listener) {
            snprintf(err, errlen, "%s: %s listen on %s:%u: %s", name, tp_name(tp),
                     iface->sip_address, iface->sip_port, strerror(errno));
            free(r);
            return -1;
        }
    }
    r->tls = sbc_tls_ref(tls);
    s->regs[s->n_regs++] = r;
    return 0;
}

int sbc_stream_set_tls(sbc_stream_t *s, const sbc_interface_t *iface, sbc_tls_t *tls)
{
    struct iface_reg *r = reg_find(s, iface, SBC_TP_TLS);
    if (!r || !tls) {
        return -1;
    }
    sbc_tls_ref(tls);
    sbc_tls_unref(r->tls);
    r->tls = tls;
    sbc_stream_retire_outbound(s, iface);
    return 0;
}

int sbc_stream_send(sbc_stream_t *s, sbc_hop_t *hop, const struct iovec *iov, int iovcnt,
                    bool is_request)
{
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        total += iov[i].iov_len;
    }
    if (hop->tp != SBC_TP_TCP && hop->tp != SBC_TP_TLS) {
        return -EINVAL;
    }
    struct conn *c = conn_find(s, hop->conn_id);
    if (c && (c->close_pending || c->hop.tp != hop->tp)) {
        c = NULL;
    }
    /* a response whose connection is gone: the caller picks the new target
     * (Via sent-by, RFC 3261 §18.2.2) and resends with conn_id 0 */
    if (!c && !is_request && hop->conn_id) {
        return -ENOTCONN;
    }
    /* R22: requests never ride a connection the peer opened, nor a retired one */
    if (c && is_request && (!c->outbound || c->retired)) {
        c = NULL;
    }
    if (!c) {
        if (hop->peer_len == 0) {
            return -EDESTADDRREQ;
        }
        c = find_outbound(s, hop);
    }
    if (!c) {
        int err = 0;
        c = conn_open(s, hop, &err);
        if (!c) {
            return err ? err : -EIO;
        }
    }
    if (evbuffer_get_length(c->out) + evbuffer_get_length(c->held) + total > s->o.max_output) {
        s->stats.tx_refused++;
        return -ENOBUFS;
    }
    int rc = conn_write(c, iov, iovcnt);
    if (rc < 0) {
        return rc;
    }
    uint64_t now = now_ms();
    c->last_tx = c->last_msg = c->last_activity = now;
    s->stats.tx_msgs++;
    s->stats.tx_bytes += total;
    hop->conn_id = c->id;
    memcpy(&hop->local, &c->hop.local, sizeof hop->local);
    hop->local_len = c->hop.local_len;
    if (!hop->iface) {
        hop->iface = c->hop.iface;
    }
    return 0;
}

int sbc_stream_close(sbc_stream_t *s, uint64_t conn_id)
{
    struct conn *c = conn_find(s, conn_id);
    if (!c) {
        return -ENOENT;
    }
    c->report_on_close = false;
    conn_close(c, "closed by the SIP layer");
    return 0;
}

void sbc_stream_retire_outbound(sbc_stream_t *s, const sbc_interface_t *iface)
{
    for (struct conn *c = s->conns; c; c = c->next) {
        if (c->outbound && !c->retired && (!iface || c->hop.iface == iface)) {
            c->retired = true;
            s->stats.retired++;
            if (c->established) {
                timer_arm(c, 0);
            }
        }
    }
}

int sbc_stream_conn_info(const sbc_stream_t *s, uint64_t conn_id, struct sbc_conn_info *out)
{
    struct conn *c = conn_find(s, conn_id);
    if (!c) {
        return -ENOENT;
    }
    memset(out, 0, sizeof *out);
    out->id = c->id;
    out->tp = c->hop.tp;
    out->outbound = c->outbound;
    out->established = c->established;
    out->retired = c->retired;
    out->iface = c->hop.iface;
    out->peer = c->hop.peer;
    out->peer_len = c->hop.peer_len;
    out->local = c->hop.local;
    out->local_len = c->hop.local_len;
    snprintf(out->tls_name, sizeof out->tls_name, "%s", c->hop.tls_name);
    snprintf(out->peer_cert_name, sizeof out->peer_cert_name, "%s", c->peer_cert_name);
    SSL *ssl = c->ssl;
    if (ssl && c->established) {
        snprintf(out->cipher, sizeof out->cipher, "%s", SSL_get_cipher_name(ssl));
        snprintf(out->tls_version, sizeof out->tls_version, "%s", SSL_get_version(ssl));
    }
    return 0;
}

const struct sbc_stream_stats *sbc_stream_stats(const sbc_stream_t *s)
{
    return &s->stats;
}
