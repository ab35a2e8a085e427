/* SIP over UDP for one worker and one interface: an SO_REUSEPORT socket
 * (every worker binds the same address:port; the kernel spreads flows),
 * drained with recvmmsg in batches, each datagram parsed into a Sofia msg_t.
 * Used from the owning worker's thread only. */
#ifndef SBC_UDP_H
#define SBC_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <sofia-sip/msg.h>

#include "config/config.h"
#include "sbc/hop.h"

struct event_base;

typedef struct sbc_udp sbc_udp_t;

#define SBC_UDP_BATCH 32
/* Receive buffer asked of the kernel: ~2,000 small datagrams of slack while
 * a worker is busy (the default 208 KiB holds ~100 on loopback and overflows
 * within milliseconds at a few thousand calls/s). Capped by
 * net.core.rmem_max unless sbcd has CAP_NET_ADMIN. */
#define SBC_UDP_RCVBUF (4 << 20)
#define SBC_SIP_MAX_MSG (64 * 1024)     /* per-message cap, UDP and streams */

struct sbc_udp_stats {
    uint64_t rx_datagrams;      /* parsed and delivered */
    uint64_t rx_bytes;
    uint64_t drop_acl;          /* source not in the interface's allow list */
    uint64_t drop_parse;        /* not a SIP message */
    uint64_t drop_truncated;    /* larger than the receive buffer */
    uint64_t rx_overflows;      /* dropped by the kernel: socket receive buffer full */
    uint64_t tx_datagrams;
    uint64_t tx_bytes;
    uint64_t tx_errors;
};

/* msg: owned by the callee. src: valid during the call. */
typedef void (*sbc_udp_recv_cb)(void *arg, msg_t *msg, const sbc_hop_t *src);

/* Binds iface->sip_address:sip_port (SO_REUSEPORT) and starts reading.
 * msg_flags: Sofia parser flags for received messages (0 or e.g.
 * MSG_FLG_EXTRACT_COPY). NULL with the reason in err. */
sbc_udp_t *sbc_udp_create(struct event_base *base, const sbc_interface_t *iface, int msg_flags,
                          sbc_udp_recv_cb cb, void *arg, char *err, size_t errlen);
void sbc_udp_destroy(sbc_udp_t *u);     /* NULL is fine */

/* One datagram from this socket. from: the source address to use when the
 * socket is bound to a wildcard (e.g. the hop.local a request arrived on, so
 * the answer leaves from the address the peer used); NULL = kernel's choice.
 * 0, or -1 with errno (EMSGSIZE, EAGAIN...). */
int sbc_udp_sendv(sbc_udp_t *u, const struct iovec *iov, int iovcnt, const struct sockaddr *to,
                  socklen_t tolen, const struct sockaddr *from);

const sbc_interface_t *sbc_udp_iface(const sbc_udp_t *u);
/* Called with the number of datagrams the kernel newly reported dropped
 * (receive buffer full), from the owning worker's loop. */
typedef void (*sbc_udp_overflow_cb)(void *arg, uint64_t dropped);
void sbc_udp_on_overflow(sbc_udp_t *u, sbc_udp_overflow_cb cb, void *arg);
/* The bound address (port filled in when 0 was asked for). */
const struct sockaddr *sbc_udp_local(const sbc_udp_t *u, socklen_t *len);
const struct sbc_udp_stats *sbc_udp_stats(const sbc_udp_t *u);

/* Shared with the stream transport: parse address text + port. */
int sbc_sockaddr_parse(const char *addr, uint16_t port, struct sockaddr_storage *ss,
                       socklen_t *len);
/* True when iface has no allow list or sa is inside one of its CIDRs. */
int sbc_iface_allows(const sbc_interface_t *iface, const struct sockaddr *sa);

#endif
