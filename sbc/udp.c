/* SIP over UDP: per-worker SO_REUSEPORT socket, recvmmsg batches, one Sofia
 * parse per datagram, allow-list check before any parsing. */
#include "sbc/udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/sip_header.h>

#include "sbc/log.h"

/* Room for IP_PKTINFO or IPV6_PKTINFO, and SO_RXQ_OVFL. */
#define CMSG_ROOM 96
#define OVERFLOW_LOG_MS 10000   /* at most one overflow warning per socket per 10 s */

struct sbc_udp {
    struct event_base *base;
    struct event *ev;
    const sbc_interface_t *iface;
    int fd;
    int msg_flags;
    struct sockaddr_storage local;
    socklen_t local_len;
    sbc_udp_recv_cb cb;
    void *arg;
    struct sbc_udp_stats stats;
    /* receive batch: SBC_UDP_BATCH buffers of SBC_SIP_MAX_MSG bytes */
    char *bufs;
    struct mmsghdr hdrs[SBC_UDP_BATCH];
    struct iovec iovs[SBC_UDP_BATCH];
    struct sockaddr_storage from[SBC_UDP_BATCH];
    _Alignas(struct cmsghdr) char cmsg[SBC_UDP_BATCH][CMSG_ROOM];
    uint32_t kernel_drops;      /* SO_RXQ_OVFL: the kernel's count for this socket */
    sbc_udp_overflow_cb overflow_cb;
    void *overflow_arg;
    uint64_t overflow_logged;   /* monotonic ms of the last warning */
    int rcvbuf;
};

int sbc_sockaddr_parse(const char *addr, uint16_t port, struct sockaddr_storage *ss,
                       socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    char buf[64];
    /* accept "[v6]" as written in URIs */
    if (addr && addr[0] == '[') {
        size_t n = strcspn(addr + 1, "]");
        if (n >= sizeof buf) {
            return -1;
        }
        memcpy(buf, addr + 1, n);
        buf[n] = '\0';
        addr = buf;
    }
    if (addr && inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        *len = sizeof *sin;
        return 0;
    }
    if (addr && inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        *len = sizeof *sin6;
        return 0;
    }
    return -1;
}

int sbc_iface_allows(const sbc_interface_t *iface, const struct sockaddr *sa)
{
    if (!iface || iface->n_allow == 0) {
        return 1;
    }
    for (size_t i = 0; i < iface->n_allow; i++) {
        if (sbc_cidr_contains(&iface->allow[i], sa)) {
            return 1;
        }
    }
    return 0;
}

static msg_t *parse_datagram(const sbc_udp_t *u, const char *data, size_t len)
{
    msg_t *msg = msg_create(sip_default_mclass(), u->msg_flags);
    if (!msg) {
        return NULL;
    }
    msg_maxsize(msg, SBC_SIP_MAX_MSG);
    msg_iovec_t iov[2];
    issize_t n = msg_recv_iovec(msg, iov, 2, len, 1);
    if (n != 1 || iov[0].mv_len != len) {
        msg_destroy(msg);
        return NULL;
    }
    memcpy(iov[0].mv_base, data, len);
    msg_recv_commit(msg, len, 1);
    if (msg_extract(msg) <= 0 || msg_get_flags(msg, MSG_FLG_ERROR | MSG_FLG_TOOLARGE)) {
        msg_destroy(msg);
        return NULL;
    }
    return msg;
}

static void prepare_batch(sbc_udp_t *u)
{
    for (int i = 0; i < SBC_UDP_BATCH; i++) {
        u->iovs[i].iov_base = u->bufs + (size_t)i * SBC_SIP_MAX_MSG;
        u->iovs[i].iov_len = SBC_SIP_MAX_MSG;
        struct msghdr *mh = &u->hdrs[i].msg_hdr;
        mh->msg_name = &u->from[i];
        mh->msg_namelen = sizeof u->from[i];
        mh->msg_iov = &u->iovs[i];
        mh->msg_iovlen = 1;
        mh->msg_control = u->cmsg[i];
        mh->msg_controllen = CMSG_ROOM;
        mh->msg_flags = 0;
        u->hdrs[i].msg_len = 0;
    }
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* SO_RXQ_OVFL: the kernel's running count of datagrams it dropped on this
 * socket; a rise means the worker fell behind its receive buffer. */
static void note_overflow(sbc_udp_t *u, uint32_t total)
{
    uint32_t fresh = total - u->kernel_drops;
    if (fresh == 0) {
        return;
    }
    u->kernel_drops = total;
    u->stats.rx_overflows += fresh;
    if (u->overflow_cb) {
        u->overflow_cb(u->overflow_arg, fresh);
    }
    uint64_t now = mono_ms();
    if (!u->overflow_logged || now - u->overflow_logged >= OVERFLOW_LOG_MS) {
        u->overflow_logged = now;
        LOG_WARN("udp %s: the kernel dropped %llu datagrams so far, receive buffer (%d KiB) full: "
                 "the worker falls behind",
                 u->iface->name ? u->iface->name : "?",
                 (unsigned long long)u->stats.rx_overflows, u->rcvbuf / 1024);
    }
}

/* One pass over a datagram's control messages: the address it was sent to
 * (matters when bound to 0.0.0.0) into hop->local, and the kernel's drop
 * count. */
static void read_cmsgs(sbc_udp_t *u, struct msghdr *mh, sbc_hop_t *hop)
{
    memcpy(&hop->local, &u->local, u->local_len);
    hop->local_len = u->local_len;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
            hop->local.ss_family == AF_INET) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            ((struct sockaddr_in *)&hop->local)->sin_addr = pi.ipi_addr;
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
                   hop->local.ss_family == AF_INET6) {
            struct in6_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            ((struct sockaddr_in6 *)&hop->local)->sin6_addr = pi.ipi6_addr;
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
            uint32_t total;
            memcpy(&total, CMSG_DATA(c), sizeof total);
            note_overflow(u, total);
        }
    }
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    sbc_udp_t *u = arg;
    /* bounded work per wake-up so one busy socket cannot starve the loop */
    for (int round = 0; round < 8; round++) {
        prepare_batch(u);
        int n = recvmmsg(fd, u->hdrs, SBC_UDP_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                LOG_WARN("udp %s: recvmmsg: %s", u->iface->name ? u->iface->name : "?",
                         strerror(errno));
            }
            return;
        }
        for (int i = 0; i < n; i++) {
            struct msghdr *mh = &u->hdrs[i].msg_hdr;
            const struct sockaddr *src = (const struct sockaddr *)&u->from[i];
            size_t len = u->hdrs[i].msg_len;
            sbc_hop_t hop;
            memset(&hop, 0, sizeof hop);
            read_cmsgs(u, mh, &hop);    /* drop counts ride on any datagram */
            if (!sbc_iface_allows(u->iface, src)) {
                u->stats.drop_acl++;
                continue;
            }
            if (mh->msg_flags & MSG_TRUNC) {
                u->stats.drop_truncated++;
                continue;
            }
            msg_t *msg = parse_datagram(u, u->iovs[i].iov_base, len);
            if (!msg) {
                u->stats.drop_parse++;
                continue;
            }
            hop.tp = SBC_TP_UDP;
            memcpy(&hop.peer, &u->from[i], mh->msg_namelen);
            hop.peer_len = mh->msg_namelen;
            hop.iface = u->iface;
            u->stats.rx_datagrams++;
            u->stats.rx_bytes += len;
            u->cb(u->arg, msg, &hop);
        }
        if (n < SBC_UDP_BATCH) {
            return;
        }
    }
}

sbc_udp_t *sbc_udp_create(struct event_base *base, const sbc_interface_t *iface, int msg_flags,
                          sbc_udp_recv_cb cb, void *arg, char *err, size_t errlen)
{
    const char *name = iface && iface->name ? iface->name : "?";
    sbc_udp_t *u = calloc(1, sizeof *u);
    if (!u) {
        snprintf(err, errlen, "udp %s: out of memory", name);
        return NULL;
    }
    u->fd = -1;
    u->base = base;
    u->iface = iface;
    u->cb = cb;
    u->arg = arg;
    u->msg_flags = msg_flags;
    u->bufs = malloc((size_t)SBC_UDP_BATCH * SBC_SIP_MAX_MSG);
    if (!u->bufs) {
        snprintf(err, errlen, "udp %s: out of memory", name);
        goto fail;
    }
    if (sbc_sockaddr_parse(iface->sip_address, iface->sip_port, &u->local, &u->local_len) < 0) {
        snprintf(err, errlen, "udp %s: bad address '%s'", name,
                 iface->sip_address ? iface->sip_address : "");
        goto fail;
    }
    int fam = u->local.ss_family;
    u->fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (u->fd < 0) {
        snprintf(err, errlen, "udp %s: socket: %s", name, strerror(errno));
        goto fail;
    }
    int one = 1;
    setsockopt(u->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(u->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        snprintf(err, errlen, "udp %s: SO_REUSEPORT: %s", name, strerror(errno));
        goto fail;
    }
    /* FORCE passes net.core.rmem_max when sbcd may (CAP_NET_ADMIN) */
    int want = SBC_UDP_RCVBUF;
    if (setsockopt(u->fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) < 0) {
        setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    }
    socklen_t rl = sizeof u->rcvbuf;
    getsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &u->rcvbuf, &rl);
    u->rcvbuf /= 2;     /* the kernel reports twice what it accounts as payload room */
    if (u->rcvbuf < SBC_UDP_RCVBUF) {
        LOG_WARN("udp %s: receive buffer %d KiB instead of %d KiB (net.core.rmem_max caps it; raise it "
                 "or give sbcd CAP_NET_ADMIN): bursts will be dropped sooner",
                 name, u->rcvbuf / 1024, SBC_UDP_RCVBUF / 1024);
    }
    setsockopt(u->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
    if (fam == AF_INET) {
        setsockopt(u->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
    } else {
        setsockopt(u->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
    }
    if (bind(u->fd, (struct sockaddr *)&u->local, u->local_len) < 0) {
        snprintf(err, errlen, "udp %s: bind %s:%u: %s", name, iface->sip_address,
                 iface->sip_port, strerror(errno));
        goto fail;
    }
    u->local_len = sizeof u->local;
    getsockname(u->fd, (struct sockaddr *)&u->local, &u->local_len);
    u->ev = event_new(base, u->fd, EV_READ | EV_PERSIST, on_readable, u);
    if (!u->ev || event_add(u->ev, NULL) < 0) {
        snprintf(err, errlen, "udp %s: cannot register the socket with the event loop", name);
        goto fail;
    }
    return u;
fail:
    sbc_udp_destroy(u);
    return NULL;
}

void sbc_udp_destroy(sbc_udp_t *u)
{
    if (!u) {
        return;
    }
    if (u->ev) {
        event_free(u->ev);
    }
    if (u->fd >= 0) {
        close(u->fd);
    }
    free(u->bufs);
    free(u);
}

static bool bound_to_any(const sbc_udp_t *u)
{
    if (u->local.ss_family == AF_INET) {
        return ((const struct sockaddr_in *)&u->local)->sin_addr.s_addr == htonl(INADDR_ANY);
    }
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)&u->local)->sin6_addr);
}

int sbc_udp_sendv(sbc_udp_t *u, const struct iovec *iov, int iovcnt, const struct sockaddr *to,
                  socklen_t tolen, const struct sockaddr *from)
{
    struct msghdr mh = {
        .msg_name = (void *)to,
        .msg_namelen = tolen,
        .msg_iov = (struct iovec *)iov,
        .msg_iovlen = (size_t)iovcnt,
    };
    union {
        char buf[CMSG_ROOM];
        struct cmsghdr align;
    } ctl;
    if (from && from->sa_family == u->local.ss_family && bound_to_any(u)) {
        memset(&ctl, 0, sizeof ctl);
        mh.msg_control = ctl.buf;
        struct cmsghdr *c = (struct cmsghdr *)ctl.buf;
        if (from->sa_family == AF_INET) {
            struct in_pktinfo pi = { .ipi_spec_dst = ((const struct sockaddr_in *)from)->sin_addr };
            c->cmsg_level = IPPROTO_IP;
            c->cmsg_type = IP_PKTINFO;
            c->cmsg_len = CMSG_LEN(sizeof pi);
            memcpy(CMSG_DATA(c), &pi, sizeof pi);
            mh.msg_controllen = CMSG_SPACE(sizeof pi);
        } else {
            struct in6_pktinfo pi = { .ipi6_addr = ((const struct sockaddr_in6 *)from)->sin6_addr };
            c->cmsg_level = IPPROTO_IPV6;
            c->cmsg_type = IPV6_PKTINFO;
            c->cmsg_len = CMSG_LEN(sizeof pi);
            memcpy(CMSG_DATA(c), &pi, sizeof pi);
            mh.msg_controllen = CMSG_SPACE(sizeof pi);
        }
    }
    ssize_t n = sendmsg(u->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
        u->stats.tx_errors++;
        return -1;
    }
    u->stats.tx_datagrams++;
    u->stats.tx_bytes += (uint64_t)n;
    return 0;
}

const sbc_interface_t *sbc_udp_iface(const sbc_udp_t *u)
{
    return u->iface;
}

const struct sockaddr *sbc_udp_local(const sbc_udp_t *u, socklen_t *len)
{
    if (len) {
        *len = u->local_len;
    }
    return (const struct sockaddr *)&u->local;
}

void sbc_udp_on_overflow(sbc_udp_t *u, sbc_udp_overflow_cb cb, void *arg)
{
    u->overflow_cb = cb;
    u->overflow_arg = arg;
}

const struct sbc_udp_stats *sbc_udp_stats(const sbc_udp_t *u)
{
    return &u->stats;
}
