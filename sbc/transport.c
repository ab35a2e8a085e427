/* Per-worker transport facade: owns the worker's UDP sockets and its stream
 * manager, serializes outgoing messages once and picks the path. */
#include "sbc/transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/sip_header.h>

#include "sbc/log.h"

#define IOV_MAX_SEGS 128

struct udp_entry {
    const sbc_interface_t *iface;
    sbc_udp_t *udp;
};

struct sbc_tport {
    struct event_base *base;
    int worker;
    struct sbc_transport_cbs cbs;
    int msg_flags;
    struct udp_entry *udps;
    size_t n_udps;
    sbc_stream_t *stream;
};

static void on_udp_message(void *arg, msg_t *msg, const sbc_hop_t *src)
{
    sbc_transport_t *t = arg;
    t->cbs.on_message(t->cbs.arg, msg, src);
}

static void on_udp_overflow(void *arg, uint64_t dropped)
{
    sbc_transport_t *t = arg;
    if (t->cbs.on_rx_overflow) {
        t->cbs.on_rx_overflow(t->cbs.arg, dropped);
    }
}

sbc_transport_t *sbc_transport_create(struct event_base *base, int worker_index,
                                      const struct sbc_transport_cbs *cbs,
                                      const struct sbc_stream_opts *opts)
{
    if (!base || !cbs || !cbs->on_message) {
        return NULL;
    }
    sbc_transport_t *t = calloc(1, sizeof *t);
    if (!t) {
        return NULL;
    }
    t->base = base;
    t->worker = worker_index;
    t->cbs = *cbs;
    t->msg_flags = opts ? opts->msg_flags : 0;
    /* the stream layer calls the upper layer directly: same signatures */
    struct sbc_stream_cbs scbs = {
        .on_message = cbs->on_message,
        .on_send_error = cbs->on_send_error,
        .arg = cbs->arg,
    };
    t->stream = sbc_stream_create(base, worker_index, opts, &scbs);
    if (!t->stream) {
        free(t);
        return NULL;
    }
    return t;
}

void sbc_transport_destroy(sbc_transport_t *t)
{
    if (!t) {
        return;
    }
    for (size_t i = 0; i < t->n_udps; i++) {
        sbc_udp_destroy(t->udps[i].udp);
    }
    free(t->udps);
    sbc_stream_destroy(t->stream);
    free(t);
}

static int open_iface(sbc_transport_t *t, const sbc_interface_t *iface, sbc_tls_t *tls,
                      bool listen, char *err, size_t errlen)
{
    const char *name = iface->name ? iface->name : "?";
    unsigned tps = iface->transports;
    if ((tps & SBC_TP_TCP) && (tps & SBC_TP_TLS) && listen) {
        snprintf(err, errlen, "%s: tcp and tls cannot share port %u", name, iface->sip_port);
        return -1;
    }
    if ((tps & SBC_TP_TLS) && !tls) {
        snprintf(err, errlen, "%s: tls transport needs TLS material", name);
        return -1;
    }
    /* UDP needs its socket to send, so registering without listening binds it too */
    if (tps & SBC_TP_UDP) {
        struct udp_entry *n = realloc(t->udps, (t->n_udps + 1) * sizeof *n);
        if (!n) {
            snprintf(err, errlen, "%s: out of memory", name);
            return -1;
        }
        t->udps = n;
        sbc_udp_t *u = sbc_udp_create(t->base, iface, t->msg_flags, on_udp_message, t, err, errlen);
        if (!u) {
            return -1;
        }
        sbc_udp_on_overflow(u, on_udp_overflow, t);
        t->udps[t->n_udps].iface = iface;
        t->udps[t->n_udps].udp = u;
        t->n_udps++;
    }
    if ((tps & SBC_TP_TCP) &&
        sbc_stream_add_iface(t->stream, iface, SBC_TP_TCP, NULL, listen, err, errlen) < 0) {
        return -1;
    }
    if ((tps & SBC_TP_TLS) &&
        sbc_stream_add_iface(t->stream, iface, SBC_TP_TLS, tls, listen, err, errlen) < 0) {
        return -1;
    }
    return 0;
}

int sbc_transport_listen(sbc_transport_t *t, const sbc_interface_t *iface, sbc_tls_t *tls,
                         char *err, size_t errlen)
{
    return open_iface(t, iface, tls, true, err, errlen);
}

int sbc_transport_register(sbc_transport_t *t, const sbc_interface_t *iface, sbc_tls_t *tls,
                           char *err, size_t errlen)
{
    return open_iface(t, iface, tls, false, err, errlen);
}

static sbc_udp_t *udp_for(const sbc_transport_t *t, const sbc_interface_t *iface)
{
    for (size_t i = 0; i < t->n_udps; i++) {
        if (!iface || t->udps[i].iface == iface) {
            return t->udps[i].udp;
        }
    }
    return NULL;
}

static int transport_sendv(sbc_transport_t *t, struct iovec *iov, int n, sbc_hop_t *hop, bool is_request);

int sbc_transport_send(sbc_transport_t *t, msg_t *msg, sbc_hop_t *hop, bool is_request)
{
    if (!msg || !hop) {
        return -EINVAL;
    }
    if (msg_serialize(msg, NULL) < 0) {
        return -EINVAL;
    }
    int size = msg_prepare(msg);
    if (size <= 0) {
        return -EINVAL;
    }
    if (hop->tp == SBC_TP_UDP && size > SBC_UDP_MAX_SEND) {
        return -EMSGSIZE;
    }
    msg_iovec_t mv[IOV_MAX_SEGS];
    isize_t n = msg_iovec(msg, mv, IOV_MAX_SEGS);
    if (n <= 0 || n > IOV_MAX_SEGS) {
        return -E2BIG;
    }
    struct iovec iov[IOV_MAX_SEGS];
    for (isize_t i = 0; i < n; i++) {
        iov[i].iov_base = mv[i].mv_base;
        iov[i].iov_len = mv[i].mv_len;
    }
    return transport_sendv(t, iov, (int)n, hop, is_request);
}

int sbc_transport_send_bytes(sbc_transport_t *t, const void *data, size_t len, sbc_hop_t *hop, bool is_request)
{
    if (!data || !len || !hop) {
        return -EINVAL;
    }
    if (hop->tp == SBC_TP_UDP && len > SBC_UDP_MAX_SEND) {
        return -EMSGSIZE;
    }
    struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
    return transport_sendv(t, &iov, 1, hop, is_request);
}

static int transport_sendv(sbc_transport_t *t, struct iovec *iov, int n, sbc_hop_t *hop, bool is_request)
{
    if (hop->tp == SBC_TP_UDP) {
        sbc_udp_t *u = udp_for(t, hop->iface);
        if (!u) {
            return -ENETUNREACH;
        }
        const struct sockaddr *from = hop->local_len ? (struct sockaddr *)&hop->local : NULL;
        if (sbc_udp_sendv(u, iov, n, (struct sockaddr *)&hop->peer, hop->peer_len, from) < 0) {
            return -errno;
        }
        if (hop->local_len == 0) {
            const struct sockaddr *la = sbc_udp_local(u, &hop->local_len);
            memcpy(&hop->local, la, hop->local_len);
        }
        return 0;
    }
    return sbc_stream_send(t->stream, hop, iov, n, is_request);
}

int sbc_transport_close_conn(sbc_transport_t *t, uint64_t conn_id)
{
    return sbc_stream_close(t->stream, conn_id);
}

int sbc_transport_set_tls(sbc_transport_t *t, const sbc_interface_t *iface, sbc_tls_t *tls)
{
    return sbc_stream_set_tls(t->stream, iface, tls);
}

void sbc_transport_retire_outbound(sbc_transport_t *t, const sbc_interface_t *iface)
{
    sbc_stream_retire_outbound(t->stream, iface);
}

int sbc_transport_conn_info(const sbc_transport_t *t, uint64_t conn_id,
                            struct sbc_conn_info *out)
{
    return sbc_stream_conn_info(t->stream, conn_id, out);
}

void sbc_transport_stats(const sbc_transport_t *t, sbc_transport_stats_t *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < t->n_udps; i++) {
        const struct sbc_udp_stats *u = sbc_udp_stats(t->udps[i].udp);
        out->udp.rx_datagrams += u->rx_datagrams;
        out->udp.rx_bytes += u->rx_bytes;
        out->udp.drop_acl += u->drop_acl;
        out->udp.drop_parse += u->drop_parse;
        out->udp.drop_truncated += u->drop_truncated;
        out->udp.rx_overflows += u->rx_overflows;
        out->udp.tx_datagrams += u->tx_datagrams;
        out->udp.tx_bytes += u->tx_bytes;
        out->udp.tx_errors += u->tx_errors;
    }
    out->stream = *sbc_stream_stats(t->stream);
}

int sbc_transport_worker(const sbc_transport_t *t)
{
    return t->worker;
}

const struct sockaddr *sbc_transport_udp_local(const sbc_transport_t *t,
                                               const sbc_interface_t *iface, socklen_t *len)
{
    sbc_udp_t *u = udp_for(t, iface);
    return u ? sbc_udp_local(u, len) : NULL;
}
