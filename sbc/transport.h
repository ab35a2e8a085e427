/* The SIP transports of one worker behind one small API: UDP sockets, TCP
 * and TLS listeners and connections. Created, used and destroyed on the
 * worker's thread (its event_base); nothing here is shared between workers
 * except sbc_tls_t objects (refcounted, read-only).
 *
 * Receive: every parsed message reaches on_message with an sbc_hop_t naming
 * its origin (tp, peer, local, conn_id for streams, SNI as tls_name for
 * inbound TLS, interface). Send: sbc_transport_send() honours the same hop:
 * responses go back on hop.conn_id; requests go on a connection the SBC
 * opened (never on one the peer opened, TEAMS.md §1.1 / R22). */
#ifndef SBC_TRANSPORT_H
#define SBC_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sofia-sip/msg.h>

#include "config/config.h"
#include "sbc/hop.h"
#include "sbc/stream.h"
#include "sbc/tls.h"
#include "sbc/udp.h"

struct event_base;

typedef struct sbc_tport sbc_transport_t;   /* "sbc_transport" is the config enum */

/* Above this a message is not sent over UDP (RFC 3261 §18.1.1); the send
 * returns -EMSGSIZE and the caller switches to TCP. */
#define SBC_UDP_MAX_SEND 1300

struct sbc_transport_cbs {
    /* ownership of msg passes to the callee; src is valid during the call */
    void (*on_message)(void *arg, msg_t *msg, const sbc_hop_t *src);
    /* a stream connection we sent on failed (connect, TLS handshake, reset
     * with data queued): once per connection, hop.conn_id names it */
    void (*on_send_error)(void *arg, const sbc_hop_t *hop, const char *reason);
    /* optional: datagrams the kernel dropped on a UDP socket (buffer full) */
    void (*on_rx_overflow)(void *arg, uint64_t dropped);
    void *arg;
};

typedef struct sbc_transport_stats {
    struct sbc_udp_stats udp;       /* summed over the worker's UDP sockets */
    struct sbc_stream_stats stream;
} sbc_transport_stats_t;

/* opts may be NULL (defaults: idle 120 s, keep-alive 30 s, max age 1 h). */
sbc_transport_t *sbc_transport_create(struct event_base *base, int worker_index,
                                      const struct sbc_transport_cbs *cbs,
                                      const struct sbc_stream_opts *opts);
/* Closes every socket and connection, frees everything. NULL is fine. */
void sbc_transport_destroy(sbc_transport_t *t);

/* Opens this worker's sockets for iface: UDP and/or TCP on sip_port, TLS on
 * sip_port (tcp and tls on one interface cannot share the port: error).
 * tls: required when iface->transports has SBC_TP_TLS (a reference is taken).
 * 0, or -1 with the reason in err. */
int sbc_transport_listen(sbc_transport_t *t, const sbc_interface_t *iface, sbc_tls_t *tls,
                         char *err, size_t errlen);
/* Same without listening: outbound-only use of iface (e.g. TLS client only). */
int sbc_transport_register(sbc_transport_t *t, const sbc_interface_t *iface, sbc_tls_t *tls,
                           char *err, size_t errlen);

/* Serializes msg (msg_serialize + msg_prepare + msg_iovec; the caller keeps
 * ownership, so retransmissions resend the same msg) and sends it along hop:
 * - UDP: from hop->iface's socket (first UDP socket when NULL) to hop->peer;
 *   more than SBC_UDP_MAX_SEND bytes -> -EMSGSIZE.
 * - TCP/TLS responses: on hop->conn_id; -ENOTCONN if it closed (resend
 *   with conn_id 0 to the Via sent-by, RFC 3261 §18.2.2).
 * - TCP/TLS requests (and responses with conn_id 0): never on an inbound or
 *   retired connection; an outbound one for (peer, tp, tls_name) is reused
 *   or opened; hop->conn_id and hop->local are set. A connection failure
 *   later arrives through on_send_error.
 * Returns 0 or a negative errno. */
int sbc_transport_send(sbc_transport_t *t, msg_t *msg, sbc_hop_t *hop, bool is_request);
/* The same for a message already serialized (e.g. handed over by another
 * worker), so it is not parsed again just to be sent. */
int sbc_transport_send_bytes(sbc_transport_t *t, const void *data, size_t len, sbc_hop_t *hop, bool is_request);

/* Closes a stream connection (e.g. 503 + Retry-After from Teams, R8). */
int sbc_transport_close_conn(sbc_transport_t *t, uint64_t conn_id);
/* Certificate reload for iface: new connections use tls, outbound
 * connections are renewed (R23, R50); open ones keep their old context. */
int sbc_transport_set_tls(sbc_transport_t *t, const sbc_interface_t *iface, sbc_tls_t *tls);
/* Hourly renewal on demand, or after a reload: NULL = every interface. */
void sbc_transport_retire_outbound(sbc_transport_t *t, const sbc_interface_t *iface);

int sbc_transport_conn_info(const sbc_transport_t *t, uint64_t conn_id,
                            struct sbc_conn_info *out);
void sbc_transport_stats(const sbc_transport_t *t, sbc_transport_stats_t *out);
int sbc_transport_worker(const sbc_transport_t *t);
/* The worker that owns a stream connection id (ids carry it). */
static inline int sbc_transport_conn_worker(uint64_t conn_id)
{
    return (int)(conn_id >> 48);
}

/* The local address of iface's UDP socket on this worker (NULL if none). */
const struct sockaddr *sbc_transport_udp_local(const sbc_transport_t *t,
                                               const sbc_interface_t *iface, socklen_t *len);

#endif
