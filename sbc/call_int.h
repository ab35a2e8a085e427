/* Internals of the B2BUA shared by its parts: call.c (set-up, relaying,
 * teardown), transfer.c (REFER), prack.c (RFC 3262) and call_refresh.c (session timers). Not for any
 * other module: they go through call.h. */
#ifndef SBC_CALL_INT_H
#define SBC_CALL_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <sofia-sip/sip.h>
#include <sofia-sip/url.h>

#include "config/config.h"
#include "media/session.h"
#include "sbc/admission.h"
#include "sbc/call.h"
#include "sbc/session_timer.h"


enum call_state { CS_ROUTING = 0, CS_EARLY, CS_CONFIRMED, CS_ENDING };

typedef struct leg {
    bool teams;                 /* faces the Teams edge */
    char call_id[96];
    char local_tag[64];
    char remote_tag[128];
    char local_uri[384];        /* name-addr without tag */
    char remote_uri[640];
    char contact[384];          /* our Contact on this leg */
    char target[640];           /* peer's Contact URI: where in-dialog requests go */
    char route[1024];           /* Route header value, "" = none */
    char via_host[256];
    uint16_t via_port;
    uint32_t cseq;              /* our last CSeq on this leg */
    uint32_t invite_cseq;       /* CSeq of the INVITE to ACK */
    sbc_hop_t hop;              /* next hop for our requests */
    sbc_stimer_t stimer;        /* RFC 4028 on this dialog */
    sbc_txn_t *refresh_ct;      /* our session refresh in progress */
    bool refresh_invite;        /* ... a re-INVITE (else UPDATE) */
} leg_t;

/* One relayed in-dialog request: st on one leg, ct on the other. */
typedef struct fwd {
    sbc_txn_t *st, *ct;
    leg_t *from, *to;
    bool invite;
} fwd_t;

struct sbc_call {
    sbc_call_t *next, *prev;
    sbc_sig_t *sig;
    sbc_config_t *cfg;          /* the snapshot the call started with */
    const sbc_tenant_t *tenant;
    const sbc_trunk_t *trunk;
    sbc_adm_slot_t *adm_tenant, *adm_trunk;
    bool to_teams;
    enum call_state state;
    leg_t a, b;
    msg_t *a_invite;            /* kept for failover and the answer's headers */
    sbc_txn_t *a_ist, *b_ict, *b_cancel_wait;
    sbc_txn_t *bye_ct[2];
    sbc_txl_2xx_t *a_2xx;       /* our 2xx toward A until its ACK */
    size_t next_target;         /* failover position in order[] */
    uint8_t order[32];          /* targets to try: healthy and unknown first, down last */
    size_t n_order;
    bool b_provisional, a_final_sent, cancelled;
    int fail_status;
    fwd_t fwd;
    sbc_txl_2xx_t *fwd_2xx;
    sbc_timer_t setup_timer;
    sbc_timer_t target_timer;   /* failover_timeout of the current target */
    struct sbc_media_session *ms;   /* NULL once the call ends (ports freed at once) */
    struct call_media_sum {
        uint64_t rx, tx, rxb, txb, auth, replay;
        char latched[64];
    } media_final[2];           /* each leg's counters when the session was released */
    char *b_offer;              /* our SDP offer toward B (kept for failover) */
    size_t b_offer_len;
    char called[32], calling[64];
    char end_reason[64];
    int end_status;             /* final SIP status of the set-up (0 while none) */
    time_t started, answered;
    unsigned b_session_expires; /* Session-Expires asked on B's INVITE (raised by a 422) */
    char *sdp_in[2];            /* last SDP received from each leg (offer or answer) */
    size_t sdp_in_len[2];
    char *sdp_out[2];           /* last SDP we produced for each leg */
    size_t sdp_out_len[2];
    struct sbc_transfer *xfer;  /* REFER in progress or done, or NULL */
    struct sbc_prack *prack;    /* RFC 3262 state of either leg, or NULL */
};

struct sbc_transfer;

/* ---- helpers of call.c ---------------------------------------------------- */
void call_url_text(const url_t *u, char *buf, size_t cap);
/* Route set from Record-Route: as received (we are UAS) or reversed (UAC). */
void call_route_set(const sip_t *sip, bool reverse, char *buf, size_t cap);
/* Sets leg->hop toward a URI (Teams: pinned proxy address, TLS name). 0/-1. */
int call_hop_for_uri(sbc_call_t *c, leg_t *leg, const char *uri_text);
int call_leg_update_hop(sbc_call_t *c, leg_t *leg);
/* A request on a leg, built as text and parsed once. ruri NULL = the
 * leg's target; extra = more header lines. NULL on failure. */
msg_t *call_build_request(sbc_call_t *c, leg_t *leg, const char *method, const char *ruri, uint32_t cseq,
                          const char *extra, const char *ctype, const char *body, size_t blen);
msg_t *call_build_response(sbc_call_t *c, leg_t *leg, msg_t *req, int status, const char *phrase,
                           const char *extra, const char *ctype, const char *body, size_t blen);
void call_send_ack(sbc_call_t *c, leg_t *leg, uint32_t cseq);
/* A 2xx to our INVITE on leg: dialog completed from it (remote tag, target,
 * route set, hop) and ACKed at once. */
void call_leg_confirm(sbc_call_t *c, leg_t *leg, const sip_t *sip);
void call_body_of(msg_t *m, const char **ctype, const char **body, size_t *blen);
bool call_is_sdp(const char *ctype);
int call_leg_index(const sbc_call_t *c, const leg_t *l);
const char *call_tenant_name(const sbc_call_t *c);

typedef struct sdp_out {
    char text[SBC_MEDIA_SDP_MAX];
    size_t len;
} sdp_out_t;

/* An SDP body received on leg `from` through the media session (offer or
 * answer) into out, for the other leg. */
enum sbc_media_status call_media_apply(sbc_call_t *c, int from, bool offer, const char *ctype, const char *body,
                                       size_t blen, sdp_out_t *out);
/* Hangs up both legs except `except` (NULL = both), with an end reason. */
void call_end(sbc_call_t *c, const char *reason, leg_t *except);
/* Indexes of the Teams proxies (teams) or the trunk's targets, config order
 * (priority) kept but the hops the OPTIONS pinger saw down last, as Teams
 * does with SBCs it finds unhealthy (TEAMS.md §4). Returns how many. */
size_t call_hop_order(const sbc_call_t *c, bool teams, uint8_t *order, size_t cap);
/* Sets up a leg's session timer with the call's refresh/expiry hooks. */
void call_stimer_init(sbc_call_t *c, leg_t *leg);
/* A re-INVITE on leg offering the other leg's current SDP through the media
 * session (its answer is applied as a refresh's is): the other side changed
 * codec. -1 when it cannot go now (another exchange runs). */
int call_reoffer(sbc_call_t *c, leg_t *leg);
/* The answer to our session refresh of leg (call_refresh.c). */
void call_on_refresh_response(sbc_call_t *c, leg_t *leg, msg_t *msg);
/* Sends a final response to A (r taken over): the answer or the failure of
 * the call; a 2xx also starts its retransmission until A's ACK. */
void call_send_final_a(sbc_call_t *c, msg_t *r);
/* A reliable 18x toward A got no PRACK within 64*T1 (RFC 3262 §3): A gets
 * 500, B is cancelled or hung up. May free the call. */
void call_unacknowledged(sbc_call_t *c);
/* Frees the call once it is ending and nothing is outstanding. */
void call_maybe_free(sbc_call_t *c);
/* The call's leg facing Teams / the carrier. */
static inline leg_t *call_teams_leg(sbc_call_t *c) { return c->to_teams ? &c->b : &c->a; }
static inline leg_t *call_carrier_leg(sbc_call_t *c) { return c->to_teams ? &c->a : &c->b; }

#define CALL_ALLOW "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, PRACK"

#endif
