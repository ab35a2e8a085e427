/* RFC 3261 §17 transactions (+ RFC 6026 Accepted): see txn.h.
 *
 * Every transaction has two timers: retx (A, E, G) and end (B, D, F, H, I,
 * J, K, L, M, and a zero-delay "reap" after termination). Transactions are
 * freed only from the end timer or by sbc_txl_destroy, so a pointer handed
 * to the TU never dies under its feet during a call into the layer. */
#include "sbc/txn.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sbc/hash.h"
#include "sbc/log.h"
#include "sbc/strcopy.h"

#define DEFAULT_T1 500u
#define DEFAULT_TRYING 200
#define DEFAULT_T2 4000u
#define DEFAULT_T4 5000u
#define HASH_MIN 256u

struct sbc_txn {
    sbc_txl_t *txl;
    struct sbc_txn *hnext;          /* hash chain */
    struct sbc_txn *lnext, *lprev;  /* list of all (for conn_failed, destroy) */
    uint32_t hash;
    enum sbc_txn_kind kind;
    enum sbc_txn_state state;
    enum sbc_txn_end end_why;
    sip_method_t method;            /* INVITE for ICT/IST; ACK never */
    const char *method_name;        /* in req */
    msg_t *req;
    msg_t *last;                    /* server: last response sent; ICT: ACK for non-2xx */
    char *last_wire;                /* `last` as sent, once only retransmissions need it */
    size_t last_len;
    sbc_hop_t hop;
    int reliable;
    int detached;
    int status;
    int cancel_state;               /* ICT: 0 none, 1 pending (wait for 1xx), 2 sent */
    char *cancel_reason;
    int internal;                   /* CANCEL sent by the layer: no TU callbacks */
    unsigned retx_ms;
    sbc_timer_t t_retx, t_end;
    void *ctx;
    const char *sent_by;            /* server: "host:port" of the top Via (in key) */
    char key[];                     /* branch, NUL, sent-by, NUL */
};

struct sbc_txl_2xx {
    sbc_txl_t *txl;
    struct sbc_txl_2xx *next, *prev;
    msg_t *resp;
    sbc_hop_t hop;
    unsigned retx_ms;
    sbc_timer_t t_retx, t_end;
    void (*timeout)(void *arg);
    void *arg;
    int firing, stopped;
};

struct sbc_txl {
    sbc_txl_conf_t conf;
    sbc_txl_ops_t ops;
    void *arg;
    sbc_clock_t *clock;
    sbc_txn_t **buckets;
    size_t n_buckets, count;
    sbc_txn_t *all;
    struct sbc_txl_2xx *rtx;
};

static unsigned t64(const sbc_txl_t *txl) { return 64u * txl->conf.t1_ms; }

/* ---- hash table ----------------------------------------------------------- */

static uint32_t hash_str(const char *s)
{
    uint64_t h = sbc_fnv1a(s);
    return (uint32_t)(h ^ (h >> 32));
}

static int table_grow(sbc_txl_t *txl)
{
    size_t n = txl->n_buckets ? txl->n_buckets * 2 : HASH_MIN;
    sbc_txn_t **b = calloc(n, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < txl->n_buckets; i++) {
        sbc_txn_t *t = txl->buckets[i], *next;
        for (; t; t = next) {
            next = t->hnext;
            t->hnext = b[t->hash & (n - 1)];
            b[t->hash & (n - 1)] = t;
        }
    }
    free(txl->buckets);
    txl->buckets = b;
    txl->n_buckets = n;
    return 0;
}

/* At most one transaction per two buckets: most lookups miss (every new
 * request, the ACK of a 2xx) and walk a whole chain, and under load the
 * lingering transactions are cold, so every node visited is a cache miss
 * (the lookup was the costliest function of sbcd at 2,000 calls/s). */
static int table_add(sbc_txl_t *txl, sbc_txn_t *t)
{
    if (txl->count + 1 > txl->n_buckets / 2 && table_grow(txl) < 0 && !txl->n_buckets)
        return -1;
    size_t i = t->hash & (txl->n_buckets - 1);
    t->hnext = txl->buckets[i];
    txl->buckets[i] = t;
    t->lnext = txl->all;
    t->lprev = NULL;
    if (txl->all)
        txl->all->lprev = t;
    txl->all = t;
    txl->count++;
    return 0;
}

static void table_del(sbc_txl_t *txl, sbc_txn_t *t)
{
    sbc_txn_t **pp = &txl->buckets[t->hash & (txl->n_buckets - 1)];
    for (; *pp; pp = &(*pp)->hnext)
        if (*pp == t) {
            *pp = t->hnext;
            break;
        }
    if (t->lprev)
        t->lprev->lnext = t->lnext;
    else
        txl->all = t->lnext;
    if (t->lnext)
        t->lnext->lprev = t->lprev;
    txl->count--;
}

static int method_eq(const sbc_txn_t *t, sip_method_t m, const char *name)
{
    if (t->method != m)
        return 0;
    if (m != sip_method_unknown)
        return 1;
    return t->method_name && name && strcmp(t->method_name, name) == 0;
}

static int is_server(enum sbc_txn_kind k) { return k == SBC_TXN_IST || k == SBC_TXN_NIST; }

static sbc_txn_t *table_find(sbc_txl_t *txl, int server, const char *branch, const char *sent_by,
                             sip_method_t m, const char *mname)
{
    if (!txl->n_buckets)
        return NULL;
    uint32_t h = hash_str(branch);
    for (sbc_txn_t *t = txl->buckets[h & (txl->n_buckets - 1)]; t; t = t->hnext) {
        if (t->hash != h || is_server(t->kind) != server || !method_eq(t, m, mname) ||
            strcmp(t->key, branch) != 0)
            continue;
        if (server && strcasecmp(t->sent_by, sent_by) != 0)
            continue;
        return t;
    }
    return NULL;
}

/* ---- keys ----------------------------------------------------------------- */

#define KEY_MAX 512

static int has_cookie(const char *branch)
{
    return branch && strncmp(branch, "z9hG4bK", 7) == 0;
}

/* The server matching key: the branch when RFC 3261-compliant; otherwise
 * (RFC 2543 peers) Call-ID, CSeq number, From-tag and the Via branch/host,
 * which an INVITE, its CANCEL and its non-2xx ACK share. */
static int server_key(const sip_t *sip, char *branch, size_t bsize, char *sent_by, size_t ssize)
{
    const sip_via_t *v = sip->sip_via;
    if (!v || !v->v_host || !sip->sip_call_id || !sip->sip_cseq || !sip->sip_from)
        return -1;
    /* runs for every request received: plain copies, not snprintf */
    size_t hl = strlen(v->v_host), pl = v->v_port ? strlen(v->v_port) : 0;
    if (hl + 1 + pl >= ssize)
        return -1;
    memcpy(sent_by, v->v_host, hl);
    sent_by[hl] = ':';
    memcpy(sent_by + hl + 1, v->v_port ? v->v_port : "", pl);
    sent_by[hl + 1 + pl] = '\0';
    int n;
    if (has_cookie(v->v_branch))
        n = sbc_strcopy(branch, bsize, v->v_branch) >= bsize ? -1 : 0;
    else
        n = snprintf(branch, bsize, "2543|%s|%u|%s|%s", sip->sip_call_id->i_id,
                     (unsigned)sip->sip_cseq->cs_seq,
                     sip->sip_from->a_tag ? sip->sip_from->a_tag : "",
                     v->v_branch ? v->v_branch : "");
    return n < 0 || (size_t)n >= bsize ? -1 : 0;
}

/* ---- lifecycle ------------------------------------------------------------ */

/* Past its final response a transaction matches by its keys alone; the
 * request copy would only hold memory through Timers D/J/K/L/M (up to 32 s,
 * a third of a call's footprint under load). Unknown methods keep it: their
 * name lives in it. */
static void txn_drop_request(sbc_txn_t *t)
{
    if (t->req && t->method != sip_method_unknown) {
        msg_destroy(t->req);
        t->req = NULL;
    }
}

/* Past the final response the last message is only ever retransmitted
 * (rarely: a lost ACK or request retransmission). Its wire form is a few
 * hundred bytes against several KiB of parsed message; under load these
 * linger up to 32 s per transaction, so they are kept as text. */
static void txn_compact_last(sbc_txn_t *t)
{
    if (!t->last || t->last_wire)
        return;
    size_t len = 0;
    char *text = sbc_sipmsg_to_string(t->last, &len);
    if (!text)
        return;  /* keep the parsed copy: correct, just larger */
    msg_destroy(t->last);
    t->last = NULL;
    t->last_wire = text;
    t->last_len = len;
}

static void txn_retx_fired(void *arg);
static void txn_end_fired(void *arg);
static void send_trying(sbc_txn_t *t);

static sbc_txn_t *txn_new(sbc_txl_t *txl, enum sbc_txn_kind kind, const char *branch,
                          const char *sent_by)
{
    size_t bl = strlen(branch), sl = strlen(sent_by);
    sbc_txn_t *t = calloc(1, sizeof *t + bl + sl + 2);
    if (!t)
        return NULL;
    t->txl = txl;
    t->kind = kind;
    memcpy(t->key, branch, bl + 1);
    memcpy(t->key + bl + 1, sent_by, sl + 1);
    t->sent_by = t->key + bl + 1;
    t->hash = hash_str(branch);
    sbc_timer_init(&t->t_retx, txl->clock, txn_retx_fired, t);
    sbc_timer_init(&t->t_end, txl->clock, txn_end_fired, t);
    return t;
}

static void txn_free(sbc_txn_t *t)
{
    sbc_timer_cleanup(&t->t_retx);
    sbc_timer_cleanup(&t->t_end);
    if (t->req)
        msg_destroy(t->req);
    if (t->last)
        msg_destroy(t->last);
    free(t->last_wire);
    free(t->cancel_reason);
    free(t);
}

/* Removes and frees; tells the TU about the end of a server transaction. */
static void txn_reap(sbc_txn_t *t)
{
    sbc_txl_t *txl = t->txl;
    sbc_timer_stop(&t->t_retx);
    sbc_timer_stop(&t->t_end);
    if (is_server(t->kind) && !t->detached && !t->internal && txl->ops.terminated) {
        t->detached = 1;  /* no callback may reach it again */
        txl->ops.terminated(txl->arg, t, t->ctx, t->end_why);
    }
    table_del(txl, t);
    txn_free(t);
}

/* Ends the transaction; it is freed from the next timer turn. */
static void txn_terminate(sbc_txn_t *t, enum sbc_txn_end why)
{
    if (t->state == SBC_TXN_TERMINATED)
        return;
    t->state = SBC_TXN_TERMINATED;
    t->end_why = why;
    sbc_timer_stop(&t->t_retx);
    sbc_timer_start(&t->t_end, 0);
}

static int txn_send(sbc_txn_t *t, msg_t *msg)
{
    sbc_txl_t *txl = t->txl;
    return txl->ops.send(txl->arg, msg, &t->hop);
}

static bool txn_has_last(const sbc_txn_t *t) { return t->last || t->last_wire; }

/* Retransmits the last message, from its parsed or its compacted form. */
static int txn_send_last(sbc_txn_t *t)
{
    if (t->last)
        return txn_send(t, t->last);
    if (!t->last_wire)
        return -1;
    msg_t *m = NULL;
    const char *why = NULL;
    if (sbc_sipmsg_parse(t->last_wire, t->last_len, &m, &why) == SBC_SIPMSG_DROP || !m) {
        LOG_WARN("txn: kept message no longer parses (%s; branch %s)", why ? why : "?", t->key);
        if (m)
            msg_destroy(m);
        return -1;
    }
    int rc = txn_send(t, m);
    msg_destroy(m);
    return rc;
}

static int tu_ok(const sbc_txn_t *t) { return !t->detached && !t->internal; }

static void tu_transport_error(sbc_txn_t *t)
{
    sbc_txl_t *txl = t->txl;
    if (tu_ok(t) && txl->ops.transport_error)
        txl->ops.transport_error(txl->arg, t, t->ctx);
}

static void tu_timeout(sbc_txn_t *t)
{
    sbc_txl_t *txl = t->txl;
    if (tu_ok(t) && txl->ops.timeout)
        txl->ops.timeout(txl->arg, t, t->ctx);
}

/* ---- create / destroy ----------------------------------------------------- */

sbc_txl_t *sbc_txl_create(const sbc_txl_conf_t *conf, const sbc_txl_ops_t *ops, void *arg,
                          sbc_clock_t *clock)
{
    if (!ops || !ops->send || !ops->request || !clock) {
        LOG_ERR("txn: create needs send and request callbacks and a clock");
        return NULL;
    }
    sbc_txl_t *txl = calloc(1, sizeof *txl);
    if (!txl)
        return NULL;
    txl->conf.t1_ms = conf && conf->t1_ms ? conf->t1_ms : DEFAULT_T1;
    txl->conf.trying_ms = conf && conf->trying_ms ? conf->trying_ms : DEFAULT_TRYING;
    txl->conf.t2_ms = conf && conf->t2_ms ? conf->t2_ms : DEFAULT_T2;
    txl->conf.t4_ms = conf && conf->t4_ms ? conf->t4_ms : DEFAULT_T4;
    if (txl->conf.t2_ms < txl->conf.t1_ms)
        txl->conf.t2_ms = txl->conf.t1_ms;
    txl->ops = *ops;
    txl->arg = arg;
    txl->clock = clock;
    if (table_grow(txl) < 0) {
        free(txl);
        return NULL;
    }
    /* B, F, H, J, L, M and D all last 64*T1, every first retransmission
     * (A, E, G, 2xx) T1, the delayed 100 Trying trying_ms and K T4: O(1)
     * queues on libevent instead of heap inserts and removals (most of
     * these timers are stopped before they fire). */
    sbc_clock_common(clock, t64(txl));
    sbc_clock_common(clock, txl->conf.t1_ms);
    if (txl->conf.trying_ms > 0)         /* < 0: 100 Trying at once, no timer */
        sbc_clock_common(clock, (unsigned)txl->conf.trying_ms);
    sbc_clock_common(clock, txl->conf.t4_ms);
    return txl;
}

static void rtx_free(struct sbc_txl_2xx *r);

void sbc_txl_destroy(sbc_txl_t *txl)
{
    if (!txl)
        return;
    while (txl->all) {
        sbc_txn_t *t = txl->all;
        table_del(txl, t);
        txn_free(t);
    }
    while (txl->rtx)
        rtx_free(txl->rtx);
    free(txl->buckets);
    free(txl);
}

size_t sbc_txl_count(const sbc_txl_t *txl) { return txl->count; }
const sbc_txl_conf_t *sbc_txl_conf(const sbc_txl_t *txl) { return &txl->conf; }

void *sbc_txn_ctx(const sbc_txn_t *t) { return t->ctx; }
void sbc_txn_set_ctx(sbc_txn_t *t, void *ctx) { t->ctx = ctx; }
void sbc_txn_detach(sbc_txn_t *t) { t->detached = 1; t->ctx = NULL; }
enum sbc_txn_kind sbc_txn_kind(const sbc_txn_t *t) { return t->kind; }
enum sbc_txn_state sbc_txn_state(const sbc_txn_t *t) { return t->state; }
msg_t *sbc_txn_request(const sbc_txn_t *t) { return t->req; }
const sbc_hop_t *sbc_txn_hop(const sbc_txn_t *t) { return &t->hop; }
int sbc_txn_status(const sbc_txn_t *t) { return t->status; }
const char *sbc_txn_branch(const sbc_txn_t *t) { return t->key; }

int sbc_txl_send(sbc_txl_t *txl, msg_t *msg, const sbc_hop_t *hop)
{
    sbc_hop_t h = *hop;     /* no transaction to record the connection in */
    return txl->ops.send(txl->arg, msg, &h);
}

/* ---- timers --------------------------------------------------------------- */

static void txn_retx_fired(void *arg)
{
    sbc_txn_t *t = arg;
    sbc_txl_t *txl = t->txl;
    msg_t *what = NULL;
    bool last = false;
    unsigned next = 0;
    switch (t->kind) {
    case SBC_TXN_ICT:          /* Timer A: doubles without cap */
        if (t->state != SBC_TXN_CALLING)
            return;
        what = t->req;
        next = t->retx_ms * 2;
        break;
    case SBC_TXN_NICT:         /* Timer E: doubles up to T2; T2 once proceeding */
        if (t->state == SBC_TXN_TRYING)
            next = t->retx_ms * 2 < txl->conf.t2_ms ? t->retx_ms * 2 : txl->conf.t2_ms;
        else if (t->state == SBC_TXN_PROCEEDING)
            next = txl->conf.t2_ms;
        else
            return;
        what = t->req;
        break;
    case SBC_TXN_IST:          /* Timer G: final response, doubles up to T2 */
        if (t->state == SBC_TXN_PROCEEDING && !t->status) {
            send_trying(t);        /* the TU took longer than trying_ms */
            return;
        }
        if (t->state != SBC_TXN_COMPLETED || !txn_has_last(t))
            return;
        last = true;
        next = t->retx_ms * 2 < txl->conf.t2_ms ? t->retx_ms * 2 : txl->conf.t2_ms;
        break;
    default:
        return;
    }
    if ((last ? txn_send_last(t) : txn_send(t, what)) < 0) {
        if (is_server(t->kind)) {
            txn_terminate(t, SBC_TXN_END_TRANSPORT);
        } else {
            tu_transport_error(t);
            txn_terminate(t, SBC_TXN_END_TRANSPORT);
        }
        return;
    }
    t->retx_ms = next;
    sbc_timer_start(&t->t_retx, next);
}

static void txn_end_fired(void *arg)
{
    sbc_txn_t *t = arg;
    switch (t->state) {
    case SBC_TXN_CALLING:      /* B */
    case SBC_TXN_TRYING:       /* F */
    case SBC_TXN_PROCEEDING:   /* F, or 64*T1 after our CANCEL */
        if (!is_server(t->kind)) {
            tu_timeout(t);
            t->end_why = SBC_TXN_END_TIMEOUT;
        }
        break;
    case SBC_TXN_COMPLETED:    /* D, K, J; H for a server INVITE */
        if (t->kind == SBC_TXN_IST) {
            LOG_INFO("txn: no ACK for %d response (branch %s)", t->status, t->key);
            t->end_why = SBC_TXN_END_TIMEOUT;
        }
        break;
    default:                   /* I, L, M, or reap after termination */
        break;
    }
    txn_reap(t);
}

/* ---- client transactions -------------------------------------------------- */

static sbc_txn_t *client_start(sbc_txl_t *txl, msg_t *req, const sbc_hop_t *hop, void *ctx,
                               int internal)
{
    sip_t *sip = sip_object(req);
    if (!sip || !sip->sip_request || !sip->sip_via || !has_cookie(sip->sip_via->v_branch) ||
        !sip->sip_cseq || sip->sip_request->rq_method == sip_method_ack || !hop) {
        LOG_ERR("txn: request without a z9hG4bK branch or an ACK; not sent");
        msg_destroy(req);
        return NULL;
    }
    sip_method_t m = sip->sip_request->rq_method;
    const char *mname = sip->sip_request->rq_method_name;
    if (table_find(txl, 0, sip->sip_via->v_branch, "", m, mname)) {
        LOG_ERR("txn: branch %s already in use for %s", sip->sip_via->v_branch, mname);
        msg_destroy(req);
        return NULL;
    }
    enum sbc_txn_kind kind = m == sip_method_invite ? SBC_TXN_ICT : SBC_TXN_NICT;
    sbc_txn_t *t = txn_new(txl, kind, sip->sip_via->v_branch, "");
    if (!t) {
        msg_destroy(req);
        return NULL;
    }
    t->req = req;
    t->method = m;
    t->method_name = mname;
    t->hop = *hop;
    if (txl->ops.adopt_hop)
        txl->ops.adopt_hop(txl->arg, &t->hop);
    t->reliable = hop->tp != SBC_TP_UDP;
    t->ctx = ctx;
    t->internal = internal;
    t->state = kind == SBC_TXN_ICT ? SBC_TXN_CALLING : SBC_TXN_TRYING;
    int rc = txn_send(t, req);
    if (rc < 0) {
        LOG_WARN("txn: cannot send %s (branch %s): %s", mname, t->key, strerror(-rc));
        txn_free(t);
        return NULL;
    }
    if (table_add(txl, t) < 0) {
        txn_free(t);
        return NULL;
    }
    if (!t->reliable) {
        t->retx_ms = txl->conf.t1_ms;
        sbc_timer_start(&t->t_retx, t->retx_ms);
    }
    sbc_timer_start(&t->t_end, t64(txl));
    return t;
}

sbc_txn_t *sbc_txl_request(sbc_txl_t *txl, msg_t *req, const sbc_hop_t *hop, void *ctx)
{
    if (!txl || !req)
        return NULL;
    return client_start(txl, req, hop, ctx, 0);
}

static int send_cancel(sbc_txn_t *ict)
{
    sbc_txl_t *txl = ict->txl;
    msg_t *c = sbc_sipmsg_request_from(ict->req, sip_method_cancel, "CANCEL", NULL);
    if (!c)
        return -1;
    if (ict->cancel_reason &&
        sip_add_make(c, sip_object(c), sip_reason_class, ict->cancel_reason) < 0) {
        msg_destroy(c);
        return -1;
    }
    ict->cancel_state = 2;
    if (!client_start(txl, c, &ict->hop, NULL, 1))
        return -1;
    /* §9.1: no final response within 64*T1 of the CANCEL: give up */
    sbc_timer_start(&ict->t_end, t64(txl));
    return 0;
}

int sbc_txl_cancel(sbc_txl_t *txl, sbc_txn_t *ict, const char *reason)
{
    if (!txl || !ict || ict->kind != SBC_TXN_ICT)
        return -1;
    if (ict->state != SBC_TXN_CALLING && ict->state != SBC_TXN_PROCEEDING)
        return -1;
    if (ict->cancel_state)
        return 0;
    if (reason && !(ict->cancel_reason = strdup(reason)))
        return -1;
    if (ict->state == SBC_TXN_CALLING) {
        ict->cancel_state = 1;  /* §9.1: not before a provisional response */
        return 0;
    }
    return send_cancel(ict);
}

static void ict_response(sbc_txn_t *t, msg_t *msg, int status, const sbc_hop_t *hop)
{
    sbc_txl_t *txl = t->txl;
    switch (t->state) {
    case SBC_TXN_CALLING:
    case SBC_TXN_PROCEEDING:
        sbc_timer_stop(&t->t_retx);
        t->status = status;
        if (status < 200) {
            int first = t->state == SBC_TXN_CALLING;
            t->state = SBC_TXN_PROCEEDING;
            if (first) {
                sbc_timer_stop(&t->t_end);  /* B runs only while Calling */
                if (t->cancel_state == 1 && send_cancel(t) < 0)
                    LOG_WARN("txn: cannot send the held CANCEL (branch %s)", t->key);
            }
        } else if (status < 300) {
            t->state = SBC_TXN_ACCEPTED;
            sbc_timer_start(&t->t_end, t64(txl));                 /* M */
        } else {
            /* §17.1.1.3: the transaction ACKs non-2xx itself */
            sip_t *rs = sip_object(msg);
            if (!t->last)
                t->last = sbc_sipmsg_request_from(t->req, sip_method_ack, "ACK", rs->sip_to);
            t->state = SBC_TXN_COMPLETED;
            if (!t->last || txn_send(t, t->last) < 0) {
                LOG_WARN("txn: cannot send ACK for %d (branch %s)", status, t->key);
                if (txl->ops.response && tu_ok(t))
                    txl->ops.response(txl->arg, t, t->ctx, msg, hop);
                txn_terminate(t, SBC_TXN_END_TRANSPORT);
                return;
            }
            /* D: >= 32 s whatever T1 is (§17.1.1.2), so late 3xx-6xx get ACKed */
            unsigned d = t64(txl) > 32000u ? t64(txl) : 32000u;
            sbc_timer_start(&t->t_end, t->reliable ? 0 : d);
            txn_compact_last(t);
        }
        if (txl->ops.response && tu_ok(t))
            txl->ops.response(txl->arg, t, t->ctx, msg, hop);
        if (status >= 200)
            txn_drop_request(t);
        break;
    case SBC_TXN_COMPLETED:
        if (status >= 300 && txn_has_last(t) && txn_send_last(t) < 0)
            LOG_WARN("txn: cannot resend ACK (branch %s)", t->key);
        break;
    case SBC_TXN_ACCEPTED:
        if (status >= 200 && status < 300 && txl->ops.response && tu_ok(t))
            txl->ops.response(txl->arg, t, t->ctx, msg, hop);
        break;
    default:
        break;
    }
}

static void nict_response(sbc_txn_t *t, msg_t *msg, int status, const sbc_hop_t *hop)
{
    sbc_txl_t *txl = t->txl;
    if (t->state != SBC_TXN_TRYING && t->state != SBC_TXN_PROCEEDING)
        return;  /* Completed: retransmissions absorbed */
    t->status = status;
    if (status < 200) {
        t->state = SBC_TXN_PROCEEDING;
    } else {
        t->state = SBC_TXN_COMPLETED;
        sbc_timer_stop(&t->t_retx);
        sbc_timer_start(&t->t_end, t->reliable ? 0 : txl->conf.t4_ms);     /* K */
    }
    if (txl->ops.response && tu_ok(t))
        txl->ops.response(txl->arg, t, t->ctx, msg, hop);
    if (status >= 200)
        txn_drop_request(t);
}

static void receive_response(sbc_txl_t *txl, msg_t *msg, const sbc_hop_t *hop)
{
    sip_t *sip = sip_object(msg);
    sbc_txn_t *t = NULL;
    if (sip->sip_via && sip->sip_via->v_branch && sip->sip_cseq)
        t = table_find(txl, 0, sip->sip_via->v_branch, "", sip->sip_cseq->cs_method,
                       sip->sip_cseq->cs_method_name);
    if (!t || t->state == SBC_TXN_TERMINATED) {
        if (txl->ops.stray_response)
            txl->ops.stray_response(txl->arg, msg, hop);
        return;
    }
    int status = sip->sip_status->st_status;
    if (t->kind == SBC_TXN_ICT)
        ict_response(t, msg, status, hop);
    else
        nict_response(t, msg, status, hop);
}

/* ---- server transactions -------------------------------------------------- */

/* 100 Trying stops the INVITE retransmissions upstream. */
static void send_trying(sbc_txn_t *t)
{
    sbc_timer_stop(&t->t_retx);
    if (t->last || !t->req)
        return;
    t->last = sbc_sipmsg_response(t->req, 100, NULL, NULL);
    if (!t->last || txn_send(t, t->last) < 0)
        LOG_WARN("txn: cannot send 100 Trying (branch %s)", t->key);
    else
        t->status = 100;
}

static void resend_last(sbc_txn_t *t)
{
    if (t->kind == SBC_TXN_IST && t->state == SBC_TXN_PROCEEDING && !t->status) {
        send_trying(t);           /* a retransmission: the peer wants news now */
        return;
    }
    if (txn_has_last(t) && txn_send_last(t) < 0)
        txn_terminate(t, SBC_TXN_END_TRANSPORT);
}

static void receive_ack(sbc_txl_t *txl, msg_t *msg, const sbc_hop_t *hop, const char *branch,
                        const char *sent_by)
{
    sbc_txn_t *t = table_find(txl, 1, branch, sent_by, sip_method_invite, NULL);
    if (t && t->state == SBC_TXN_COMPLETED) {
        /* ACK for our non-2xx: stop G/H, absorb stray ACKs for T4 (I) */
        t->state = SBC_TXN_CONFIRMED;
        sbc_timer_stop(&t->t_retx);
        sbc_timer_start(&t->t_end, t->reliable ? 0 : txl->conf.t4_ms);
        return;
    }
    if (t && t->state != SBC_TXN_ACCEPTED)
        return;  /* Confirmed, or an ACK before any final: absorbed */
    txl->ops.request(txl->arg, NULL, msg, hop);
}

static void receive_request(sbc_txl_t *txl, msg_t *msg, const sbc_hop_t *hop)
{
    sip_t *sip = sip_object(msg);
    char branch[KEY_MAX], sent_by[KEY_MAX];
    if (sbc_sipmsg_via_received(msg, hop) < 0 ||
        server_key(sip, branch, sizeof branch, sent_by, sizeof sent_by) < 0) {
        LOG_WARN("txn: request with an unusable Via dropped");
        msg_destroy(msg);
        return;
    }
    sip_method_t m = sip->sip_request->rq_method;
    const char *mname = sip->sip_request->rq_method_name;
    if (m == sip_method_ack) {
        receive_ack(txl, msg, hop, branch, sent_by);
        msg_destroy(msg);
        return;
    }
    sbc_txn_t *t = table_find(txl, 1, branch, sent_by, m, mname);
    if (t) {
        /* a retransmission: absorbed, the last response is sent again */
        if ((t->kind == SBC_TXN_IST &&
             (t->state == SBC_TXN_PROCEEDING || t->state == SBC_TXN_COMPLETED)) ||
            (t->kind == SBC_TXN_NIST &&
             (t->state == SBC_TXN_PROCEEDING || t->state == SBC_TXN_COMPLETED)))
            resend_last(t);
        msg_destroy(msg);
        return;
    }
    enum sbc_txn_kind kind = m == sip_method_invite ? SBC_TXN_IST : SBC_TXN_NIST;
    t = txn_new(txl, kind, branch, sent_by);
    if (!t) {
        msg_destroy(msg);
        return;
    }
    t->req = msg;
    t->method = m;
    t->method_name = mname;
    t->state = kind == SBC_TXN_IST ? SBC_TXN_PROCEEDING : SBC_TXN_TRYING;
    if (sbc_sipmsg_response_hop(sip->sip_via, hop, &t->hop) < 0 || table_add(txl, t) < 0) {
        LOG_WARN("txn: no route for responses to %s; dropped", mname);
        txn_free(t);
        return;
    }
    t->reliable = t->hop.tp != SBC_TP_UDP;
    if (kind == SBC_TXN_IST) {
        if (txl->conf.trying_ms < 0)
            send_trying(t);
        else
            sbc_timer_start(&t->t_retx, (unsigned)txl->conf.trying_ms);
    }
    txl->ops.request(txl->arg, t, msg, hop);
}

int sbc_txl_respond(sbc_txl_t *txl, sbc_txn_t *st, msg_t *resp)
{
    sip_t *rs = resp ? sip_object(resp) : NULL;
    if (!txl || !st || !rs || !rs->sip_status || !is_server(st->kind)) {
        if (resp)
            msg_destroy(resp);
        return -1;
    }
    int status = rs->sip_status->st_status;
    int ok;
    if (st->kind == SBC_TXN_IST)
        ok = st->state == SBC_TXN_PROCEEDING ||
             (st->state == SBC_TXN_ACCEPTED && status >= 200 && status < 300);
    else
        ok = st->state == SBC_TXN_TRYING || st->state == SBC_TXN_PROCEEDING;
    if (!ok) {
        LOG_WARN("txn: %d not allowed in state %d (branch %s)", status, st->state, st->key);
        msg_destroy(resp);
        return -1;
    }
    if (st->kind == SBC_TXN_IST && st->state == SBC_TXN_PROCEEDING)
        sbc_timer_stop(&st->t_retx);   /* the pending 100 Trying is not needed */
    if (txn_send(st, resp) < 0) {
        LOG_WARN("txn: cannot send %d (branch %s)", status, st->key);
        msg_destroy(resp);
        txn_terminate(st, SBC_TXN_END_TRANSPORT);
        return -1;
    }
    if (st->last)
        msg_destroy(st->last);
    free(st->last_wire);
    st->last_wire = NULL;
    st->last = resp;
    st->status = status;
    if (st->state == SBC_TXN_ACCEPTED)
        return 0;
    if (status < 200) {
        if (st->kind == SBC_TXN_NIST)
            st->state = SBC_TXN_PROCEEDING;
    } else if (st->kind == SBC_TXN_IST && status < 300) {
        st->state = SBC_TXN_ACCEPTED;                              /* RFC 6026 */
        sbc_timer_start(&st->t_end, t64(txl));                     /* L */
        /* Accepted absorbs INVITE retransmissions without answering (the
         * TU's 2xx retransmitter holds its own reference), by its keys. */
        msg_destroy(st->last);
        st->last = NULL;
        txn_drop_request(st);
    } else if (st->kind == SBC_TXN_IST) {
        st->state = SBC_TXN_COMPLETED;
        if (!st->reliable) {
            st->retx_ms = txl->conf.t1_ms;                        /* G */
            sbc_timer_start(&st->t_retx, st->retx_ms);
        }
        sbc_timer_start(&st->t_end, t64(txl));                     /* H */
    } else {
        st->state = SBC_TXN_COMPLETED;
        sbc_timer_start(&st->t_end, st->reliable ? 0 : t64(txl));  /* J */
    }
    if (st->state == SBC_TXN_COMPLETED) {
        txn_drop_request(st);
        txn_compact_last(st);
    }
    return 0;
}

int sbc_txl_reply(sbc_txl_t *txl, sbc_txn_t *st, int status, const char *phrase,
                  const sbc_sipmsg_resp_opt_t *opt)
{
    if (!st || !st->req)
        return -1;
    msg_t *resp = sbc_sipmsg_response(st->req, status, phrase, opt);
    if (!resp)
        return -1;
    return sbc_txl_respond(txl, st, resp);
}

sbc_txn_t *sbc_txl_find_invite_for_cancel(sbc_txl_t *txl, msg_t *cancel)
{
    sip_t *sip = cancel ? sip_object(cancel) : NULL;
    char branch[KEY_MAX], sent_by[KEY_MAX];
    if (!sip || !sip->sip_request || sip->sip_request->rq_method != sip_method_cancel ||
        server_key(sip, branch, sizeof branch, sent_by, sizeof sent_by) < 0)
        return NULL;
    sbc_txn_t *t = table_find(txl, 1, branch, sent_by, sip_method_invite, NULL);
    return t && t->state != SBC_TXN_TERMINATED ? t : NULL;
}

void sbc_txl_receive(sbc_txl_t *txl, msg_t *msg, const sbc_hop_t *hop)
{
    sip_t *sip = msg ? sip_object(msg) : NULL;
    if (!txl || !sip || !hop || !sip->sip_via || !sip->sip_cseq || !sip->sip_call_id ||
        !sip->sip_from || !sip->sip_to || (!sip->sip_request && !sip->sip_status)) {
        LOG_WARN("txn: message without transaction headers dropped");
        if (msg)
            msg_destroy(msg);
        return;
    }
    if (sip->sip_request) {
        receive_request(txl, msg, hop);  /* takes msg */
        return;
    }
    receive_response(txl, msg, hop);
    msg_destroy(msg);
}

void sbc_txl_conn_failed(sbc_txl_t *txl, uint64_t conn_id)
{
    if (!txl || conn_id == 0)
        return;
    /* collect first: TU callbacks may start transactions (table changes) */
    size_t n = 0, cap = 16;
    sbc_txn_t **hit = malloc(cap * sizeof *hit);
    if (!hit)
        return;
    for (sbc_txn_t *t = txl->all; t; t = t->lnext) {
        if (t->hop.conn_id != conn_id || t->state == SBC_TXN_TERMINATED)
            continue;
        if (n == cap) {
            sbc_txn_t **nh = realloc(hit, 2 * cap * sizeof *hit);
            if (!nh)
                break;
            hit = nh;
            cap *= 2;
        }
        hit[n++] = t;
    }
    for (size_t i = 0; i < n; i++) {
        sbc_txn_t *t = hit[i];
        if (is_server(t->kind)) {
            t->hop.conn_id = 0;  /* §18.2.2: responses go on a new connection */
            continue;
        }
        if (t->state == SBC_TXN_CALLING || t->state == SBC_TXN_TRYING ||
            t->state == SBC_TXN_PROCEEDING)
            tu_transport_error(t);
        txn_terminate(t, SBC_TXN_END_TRANSPORT);
    }
    free(hit);
}

/* ---- 2xx retransmission --------------------------------------------------- */

static void rtx_free(struct sbc_txl_2xx *r)
{
    sbc_txl_t *txl = r->txl;
    if (r->prev)
        r->prev->next = r->next;
    else
        txl->rtx = r->next;
    if (r->next)
        r->next->prev = r->prev;
    sbc_timer_cleanup(&r->t_retx);
    sbc_timer_cleanup(&r->t_end);
    msg_destroy(r->resp);
    free(r);
}

static void rtx_retx_fired(void *arg)
{
    struct sbc_txl_2xx *r = arg;
    sbc_txl_t *txl = r->txl;
    if (txl->ops.send(txl->arg, r->resp, &r->hop) < 0)
        LOG_WARN("txn: cannot retransmit 2xx");
    r->retx_ms = r->retx_ms * 2 < txl->conf.t2_ms ? r->retx_ms * 2 : txl->conf.t2_ms;
    sbc_timer_start(&r->t_retx, r->retx_ms);
}

static void rtx_end_fired(void *arg)
{
    struct sbc_txl_2xx *r = arg;
    sbc_timer_stop(&r->t_retx);
    r->firing = 1;
    if (r->timeout)
        r->timeout(r->arg);
    rtx_free(r);
}

sbc_txl_2xx_t *sbc_txl_2xx_retransmit_start(sbc_txl_t *txl, msg_t *resp, const sbc_hop_t *hop,
                                            void (*timeout)(void *arg), void *arg)
{
    if (!txl || !resp || !hop)
        return NULL;
    struct sbc_txl_2xx *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->txl = txl;
    r->resp = msg_ref_create(resp);
    r->hop = *hop;
    if (txl->ops.adopt_hop)
        txl->ops.adopt_hop(txl->arg, &r->hop);
    r->timeout = timeout;
    r->arg = arg;
    sbc_timer_init(&r->t_retx, txl->clock, rtx_retx_fired, r);
    sbc_timer_init(&r->t_end, txl->clock, rtx_end_fired, r);
    r->next = txl->rtx;
    if (txl->rtx)
        txl->rtx->prev = r;
    txl->rtx = r;
    if (hop->tp == SBC_TP_UDP) {
        r->retx_ms = txl->conf.t1_ms;
        sbc_timer_start(&r->t_retx, r->retx_ms);
    }
    sbc_timer_start(&r->t_end, t64(txl));
    return r;
}

void sbc_txl_2xx_retransmit_stop(sbc_txl_2xx_t *r)
{
    if (!r)
        return;
    if (r->firing) {
        r->stopped = 1;  /* freed when timeout() returns */
        return;
    }
    rtx_free(r);
}
