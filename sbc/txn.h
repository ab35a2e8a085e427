/* RFC 3261 §17 transaction layer, one per worker (no locks: the worker's
 * thread owns it), with RFC 6026's Accepted state for INVITE 2xx.
 *
 * Input: sbc_txl_receive() for every parsed message of the worker.
 * Output: ops->send() for every message the layer or the TU sends, and the
 * TU callbacks below. Timers run on an sbc_clock_t (libevent or fake).
 *
 * Lifetimes (callbacks never come re-entrantly from a call into the layer,
 * except ops->send):
 * - a client transaction (sbc_txl_request) may be used by the TU until it
 *   got the final response (non-2xx; for INVITE 2xx: until it stops caring),
 *   the timeout or the transport_error callback; the layer frees it later;
 * - a server transaction is valid until its terminated callback;
 * - sbc_txn_detach() ends all callbacks of one transaction early (a call that
 *   goes away); the transaction still finishes its RFC duties.
 * msg_t passed to callbacks are borrowed: msg_ref() to keep one. */
#ifndef SBC_TXN_H
#define SBC_TXN_H

#include <stddef.h>
#include <stdint.h>

#include "sbc/hop.h"
#include "sbc/sipmsg.h"
#include "sbc/timers.h"

typedef struct sbc_txl sbc_txl_t;
typedef struct sbc_txn sbc_txn_t;

typedef struct sbc_txl_conf {
    unsigned t1_ms;   /* RTT estimate, default 500 */
    unsigned t2_ms;   /* max non-INVITE / response retransmit interval, default 4000 */
    unsigned t4_ms;   /* max message lifetime in the network, default 5000 */
    /* An INVITE gets 100 Trying only if the TU has not answered within this
     * (RFC 3261 §17.2.1; default 200 ms, < 0 = at once): a B2BUA relaying a
     * quick 18x saves a datagram per call; a retransmitted INVITE gets it at once. */
    int trying_ms;
} sbc_txl_conf_t;

enum sbc_txn_kind {
    SBC_TXN_ICT = 0,   /* client INVITE */
    SBC_TXN_NICT,      /* client non-INVITE */
    SBC_TXN_IST,       /* server INVITE */
    SBC_TXN_NIST,      /* server non-INVITE */
};

enum sbc_txn_state {
    SBC_TXN_CALLING = 0,
    SBC_TXN_TRYING,
    SBC_TXN_PROCEEDING,
    SBC_TXN_COMPLETED,
    SBC_TXN_CONFIRMED,
    SBC_TXN_ACCEPTED,   /* RFC 6026: after a 2xx to/from an INVITE */
    SBC_TXN_TERMINATED,
};

enum sbc_txn_end {
    SBC_TXN_END_NORMAL = 0,
    SBC_TXN_END_TIMEOUT,     /* server INVITE: Timer H, the ACK never came */
    SBC_TXN_END_TRANSPORT,   /* a response could not be sent */
};

typedef struct sbc_txl_ops {
    /* Sends one message; 0 or -1. Must not destroy msg (serialize it, or
     * msg_ref it for an asynchronous write). On success hop->conn_id names
     * the connection it went on, so that connection's failure reaches the
     * transaction. 0, or a negative errno. Required. */
    int (*send)(void *arg, msg_t *msg, sbc_hop_t *hop);
    /* A request that matches no transaction. st is the new server
     * transaction (INVITE: 100 Trying already sent); answer with
     * sbc_txl_respond(). For an ACK (2xx ACK, or one matching nothing)
     * st is NULL. For a CANCEL, st is the CANCEL's own transaction; find the
     * INVITE with sbc_txl_find_invite_for_cancel(). Required. */
    void (*request)(void *arg, sbc_txn_t *st, msg_t *msg, const sbc_hop_t *hop);
    /* A response of a client transaction: provisional, final, and every
     * 2xx of an INVITE (retransmissions too: the TU sends the ACK). */
    void (*response)(void *arg, sbc_txn_t *ct, void *ctx, msg_t *msg, const sbc_hop_t *hop);
    /* Timer B/F: no (final) response; also 64*T1 after a CANCEL without
     * a final response to the INVITE. */
    void (*timeout)(void *arg, sbc_txn_t *ct, void *ctx);
    /* A client transaction could not send (retransmission, ACK, or its
     * connection failed). */
    void (*transport_error)(void *arg, sbc_txn_t *ct, void *ctx);
    /* A server transaction ended. Optional. */
    void (*terminated)(void *arg, sbc_txn_t *st, void *ctx, enum sbc_txn_end why);
    /* A response that matches no client transaction (e.g. a 2xx retransmitted
     * after Timer M). Optional. */
    void (*stray_response)(void *arg, msg_t *msg, const sbc_hop_t *hop);
    /* A hop stored in a client transaction or 2xx retransmitter, which may
     * outlive the config snapshot its interface pointer came from: the TU
     * rebinds it to something that lives as long as the layer. Optional. */
    void (*adopt_hop)(void *arg, sbc_hop_t *hop);
} sbc_txl_ops_t;

/* conf NULL = defaults. ops is copied. The clock must outlive the layer. */
sbc_txl_t *sbc_txl_create(const sbc_txl_conf_t *conf, const sbc_txl_ops_t *ops, void *arg,
                          sbc_clock_t *clock);
/* Frees every transaction without callbacks. Accepts NULL. Not from
 * inside one of the layer's callbacks. */
void sbc_txl_destroy(sbc_txl_t *txl);

/* Feeds one parsed message (takes it over: the layer destroys it). For
 * requests it first sets received/rport on the top Via (RFC 3581). */
void sbc_txl_receive(sbc_txl_t *txl, msg_t *msg, const sbc_hop_t *hop);

/* Starts a client transaction and sends req (taken over even on failure).
 * req must carry our top Via with a unique z9hG4bK branch
 * (sbc_sipmsg_via_add_hop + sbc_sipmsg_make_branch); not for ACK (use
 * sbc_txl_send). NULL when the first send fails or req is unusable. */
sbc_txn_t *sbc_txl_request(sbc_txl_t *txl, msg_t *req, const sbc_hop_t *hop, void *ctx);

/* Cancels a client INVITE transaction (§9.1): CANCEL with the INVITE's
 * Request-URI, Call-ID, From, To, CSeq number and top Via, sent on its own
 * internal transaction; before any provisional response it is held back
 * until one arrives. reason: a Reason header value or NULL. 0 or -1 (not an
 * INVITE, already final, or send failure). */
int sbc_txl_cancel(sbc_txl_t *txl, sbc_txn_t *ict, const char *reason);

/* Sends a response on a server transaction (resp taken over). The layer
 * keeps the last one for retransmissions. 0, or -1 when the state does not
 * allow it or sending failed (then the transaction ends with
 * SBC_TXN_END_TRANSPORT). */
int sbc_txl_respond(sbc_txl_t *txl, sbc_txn_t *st, msg_t *resp);
/* Builds and sends a response in one go (see sbc_sipmsg_response). */
int sbc_txl_reply(sbc_txl_t *txl, sbc_txn_t *st, int status, const char *phrase,
                  const sbc_sipmsg_resp_opt_t *opt);

/* Stateless send (ACK for 2xx, responses without a transaction); msg is not
 * taken over. 0 or -1. */
int sbc_txl_send(sbc_txl_t *txl, msg_t *msg, const sbc_hop_t *hop);

/* The INVITE server transaction a CANCEL request targets, or NULL. */
sbc_txn_t *sbc_txl_find_invite_for_cancel(sbc_txl_t *txl, msg_t *cancel);

/* A stream connection died: its client transactions fail (transport_error),
 * its server transactions will send responses on a new connection. */
void sbc_txl_conn_failed(sbc_txl_t *txl, uint64_t conn_id);

/* Live transactions (all states), for metrics and tests. */
size_t sbc_txl_count(const sbc_txl_t *txl);
const sbc_txl_conf_t *sbc_txl_conf(const sbc_txl_t *txl);

/* ---- transaction accessors ---------------------------------------------- */
void *sbc_txn_ctx(const sbc_txn_t *t);
void sbc_txn_set_ctx(sbc_txn_t *t, void *ctx);
/* No more TU callbacks for this transaction. */
void sbc_txn_detach(sbc_txn_t *t);
enum sbc_txn_kind sbc_txn_kind(const sbc_txn_t *t);
enum sbc_txn_state sbc_txn_state(const sbc_txn_t *t);
/* The request (borrowed): received (server) or sent (client). */
msg_t *sbc_txn_request(const sbc_txn_t *t);
/* Client: where the request goes. Server: where responses go (§18.2.2). */
const sbc_hop_t *sbc_txn_hop(const sbc_txn_t *t);
/* Last status sent (server) or received (client), 0 if none. */
int sbc_txn_status(const sbc_txn_t *t);
/* The branch of the transaction (our Via for clients, theirs for servers). */
const char *sbc_txn_branch(const sbc_txn_t *t);

/* ---- 2xx retransmission (RFC 3261 §13.3.1.4, a UAS core duty) -----------
 * Resends resp over UDP at T1, 2*T1, ... capped at T2 until stopped (ACK
 * received); after 64*T1 calls timeout(arg) and frees itself (stop may be
 * called from inside timeout; not after it). On reliable hops it only runs
 * the 64*T1 timeout. The caller sends the first 2xx (sbc_txl_respond);
 * resp is referenced, not taken over. NULL on failure. */
typedef struct sbc_txl_2xx sbc_txl_2xx_t;
sbc_txl_2xx_t *sbc_txl_2xx_retransmit_start(sbc_txl_t *txl, msg_t *resp, const sbc_hop_t *hop,
                                            void (*timeout)(void *arg), void *arg);
/* Accepts NULL. */
void sbc_txl_2xx_retransmit_stop(sbc_txl_2xx_t *r);

#endif
