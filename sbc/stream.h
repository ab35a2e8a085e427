/* SIP over TCP and TLS for one worker: listeners (SO_REUSEPORT, one per
 * worker on the shared port), accepted and opened connections on
 * bufferevents, Content-Length framing with Sofia's stream parser, RFC 5626
 * CRLF keep-alives, idle and age limits.
 *
 * Connection rules (TEAMS.md §1.1, R22, R23):
 * - a connection belongs to the worker that accepted or opened it;
 * - requests go only on connections this SBC opened (outbound), found by
 *   (peer address, transport, tls_name), never by peer alone; an inbound
 *   connection is used only for responses (hop.conn_id);
 * - outbound connections send "\r\n\r\n" when idle (keepalive interval) and
 *   are retired after max age (no new requests; closed once quiet).
 * Everything runs on the owning worker's thread. */
#ifndef SBC_STREAM_H
#define SBC_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <sofia-sip/msg.h>

#include "config/config.h"
#include "sbc/hop.h"
#include "sbc/tls.h"

struct event_base;

typedef struct sbc_stream sbc_stream_t;

#define SBC_STREAM_OFF UINT32_MAX       /* disables a timer option */

struct sbc_stream_opts {
    uint32_t idle_timeout_ms;       /* 0 = 120 s; inbound, and outbound without keep-alive */
    uint32_t keepalive_ms;          /* 0 = 30 s; CRLF keep-alive on outbound connections */
    uint32_t max_age_ms;            /* 0 = 1 h; outbound: no new requests after this */
    uint32_t retire_linger_ms;      /* 0 = 32 s; a retired connection closes after this much quiet */
    uint32_t connect_timeout_ms;    /* 0 = 10 s; TCP connect + TLS handshake */
    size_t max_output;              /* 0 = 4 MiB; refuse to queue more for a slow peer */
    int msg_flags;                  /* Sofia parser flags for received messages */
};

struct sbc_stream_cbs {
    /* A complete message; msg is owned by the callee. */
    void (*on_message)(void *arg, msg_t *msg, const sbc_hop_t *src);
    /* A connection we were sending on failed (connect, handshake, reset with
     * data queued): once per connection; hop names it (conn_id, peer, tp,
     * tls_name, iface). Messages queued on it are lost. */
    void (*on_send_error)(void *arg, const sbc_hop_t *hop, const char *reason);
    void *arg;
};

struct sbc_stream_stats {
    uint64_t rx_msgs, rx_bytes, tx_msgs, tx_bytes;
    uint64_t tx_writes;             /* sendmsg calls: a loop turn's messages share one */
    uint64_t conns_in_open, conns_out_open;     /* gauges */
    uint64_t accepted, opened;                  /* totals */
    uint64_t drop_acl;              /* inbound connection refused by the allow list */
    uint64_t parse_errors;          /* closed: unparsable stream */
    uint64_t too_large;             /* closed: message over 64 KiB */
    uint64_t idle_closed;
    uint64_t retired;               /* outbound connections that reached max age */
    uint64_t connect_failed;        /* outbound TCP connect failures or timeouts */
    uint64_t tls_handshake_failed;
    uint64_t peer_closed;           /* EOF or reset from the peer */
    uint64_t keepalives_sent, pings_answered;
    uint64_t tx_refused;            /* send refused: output queue full */
};

/* What is known about one connection (for logs, tenant checks, tests). */
struct sbc_conn_info {
    uint64_t id;
    enum sbc_transport tp;
    bool outbound;
    bool established;               /* TCP connected / TLS handshake done */
    bool retired;
    const sbc_interface_t *iface;
    struct sockaddr_storage peer, local;
    socklen_t peer_len, local_len;
    char tls_name[256];             /* outbound: requested name; inbound: SNI received */
    char peer_cert_name[256];       /* TLS: name of the verified peer certificate, or "" */
    char cipher[64];                /* TLS: negotiated suite */
    char tls_version[16];
};

/* worker_index goes into the top bits of connection ids (routing hints). */
sbc_stream_t *sbc_stream_create(struct event_base *base, int worker_index,
                                const struct sbc_stream_opts *opts,
                                const struct sbc_stream_cbs *cbs);
void sbc_stream_destroy(sbc_stream_t *s);       /* closes everything; NULL is fine */

/* Registers iface (with its TLS material for tp == SBC_TP_TLS) and, when
 * listen is true, opens the SO_REUSEPORT listener on sip_address:sip_port.
 * Registration alone lets outbound connections use the interface. */
int sbc_stream_add_iface(sbc_stream_t *s, const sbc_interface_t *iface, enum sbc_transport tp,
                         sbc_tls_t *tls, bool listen, char *err, size_t errlen);
/* Certificate reload: new connections use tls; existing ones keep theirs.
 * Outbound connections of iface are retired so requests move to new ones. */
int sbc_stream_set_tls(sbc_stream_t *s, const sbc_interface_t *iface, sbc_tls_t *tls);

/* Queues one serialized message (copied into one contiguous buffer so TLS
 * sends it as few records). Responses: on hop->conn_id; -ENOTCONN when that
 * connection is gone (resend with conn_id 0 toward the Via sent-by).
 * Requests, and responses with conn_id 0: an outbound connection for
 * (hop->peer, hop->tp, hop->tls_name) is reused or opened, and
 * hop->conn_id/local are set. 0, or a negative errno. */
int sbc_stream_send(sbc_stream_t *s, sbc_hop_t *hop, const struct iovec *iov, int iovcnt,
                    bool is_request);

/* Closes a connection (e.g. after a 503 with Retry-After, R8); safe from
 * inside on_message. 0, or -ENOENT. */
int sbc_stream_close(sbc_stream_t *s, uint64_t conn_id);
/* Marks outbound connections (of iface, or all with NULL) retired. */
void sbc_stream_retire_outbound(sbc_stream_t *s, const sbc_interface_t *iface);

int sbc_stream_conn_info(const sbc_stream_t *s, uint64_t conn_id, struct sbc_conn_info *out);
const struct sbc_stream_stats *sbc_stream_stats(const sbc_stream_t *s);

#endif
