/* RFC 3262 reliable provisional responses, per leg. See prack.h. */
#include "sbc/prack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <sofia-sip/sip_header.h>

#include "sbc/log.h"
#include "sbc/sig.h"
#include "sbc/sipmsg.h"
#include "sbc/strcopy.h"

#define QUEUE_MAX 4       /* 18x waiting behind the outstanding one */
#define EARLY_MAX 4       /* early dialogs (forks) of our INVITE that sent reliable 18x */
#define PRACKS_MAX 8      /* our PRACKs awaiting their answer */

/* An 18x for A, waiting for the PRACK of the one before. */
typedef struct queued {
    int status;
    char phrase[64];
    char ctype[64];
    char *body;
    size_t blen;
} queued_t;

typedef struct uas {
    bool on;
    uint32_t invite_cseq;
    uint32_t next_rseq;
    msg_t *out;                 /* the outstanding reliable 18x */
    uint32_t out_rseq;
    bool out_sdp;
    bool abandoned;             /* a final went while `out` was unacknowledged */
    uint32_t abandoned_rseq;
    int last_status;            /* of the last 18x sent or queued */
    unsigned retx_ms;
    sbc_timer_t retx, give_up;
    queued_t queue[QUEUE_MAX];
    size_t n_queued;
    msg_t *held;                /* a 2xx waiting for the PRACK of `out` */
} uas_t;

typedef struct early {
    bool used;
    char tag[128];
    uint32_t rseq;              /* last in-order RSeq */
    bool reprack;               /* the PRACK of rseq failed: PRACK its retransmission again */
} early_t;

typedef struct prack_ct {
    sbc_txn_t *ct;
    int early;
    uint32_t rseq;
} prack_ct_t;

struct sbc_prack {
    sbc_call_t *c;
    uas_t uas;
    early_t early[EARLY_MAX];
    prack_ct_t cts[PRACKS_MAX];
};

static void retx_fired(void *arg);
static void give_up_fired(void *arg);

static struct sbc_prack *get(sbc_call_t *c)
{
    if (c->prack)
        return c->prack;
    struct sbc_prack *p = calloc(1, sizeof *p);
    if (!p) {
        LOG_CALL(SBC_LOG_ERROR, c->a.call_id, call_tenant_name(c), "prack: out of memory");
        return NULL;
    }
    p->c = c;
    sbc_timer_init(&p->uas.retx, sbc_sig_clock(c->sig), retx_fired, p);
    sbc_timer_init(&p->uas.give_up, sbc_sig_clock(c->sig), give_up_fired, p);
    c->prack = p;
    return p;
}

static unsigned t1_ms(const sbc_call_t *c)
{
    return sbc_txl_conf(sbc_sig_txl(c->sig))->t1_ms;
}

/* ---- UAS ----------------------------------------------------------------------- */

void sbc_prack_uas_init(sbc_call_t *c, const sip_t *invite)
{
    if (!invite->sip_require || !sip_has_feature(invite->sip_require, "100rel"))
        return;   /* Supported: 100rel alone: our 18x stay unreliable */
    struct sbc_prack *p = get(c);
    if (!p)
        return;
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = (uint32_t)random();
    p->uas.on = true;
    p->uas.invite_cseq = invite->sip_cseq->cs_seq;
    p->uas.next_rseq = r % 0x7fffffffu + 1;   /* 1..2^31-1 (§3), room to count up */
}

static void queued_free(queued_t *q)
{
    free(q->body);
    q->body = NULL;
}

static void drop_queue(uas_t *u)
{
    for (size_t i = 0; i < u->n_queued; i++)
        queued_free(&u->queue[i]);
    u->n_queued = 0;
}

static void stop_out(uas_t *u)
{
    sbc_timer_stop(&u->retx);
    sbc_timer_stop(&u->give_up);
    if (u->out)
        msg_destroy(u->out);
    u->out = NULL;
}

static void send_reliable(struct sbc_prack *p, int status, const char *phrase, const char *ctype, const char *body,
                          size_t blen)
{
    sbc_call_t *c = p->c;
    uas_t *u = &p->uas;
    char extra[64];
    snprintf(extra, sizeof extra, "Require: 100rel\r\nRSeq: %u\r\n", u->next_rseq);
    msg_t *r = call_build_response(c, &c->a, sbc_txn_request(c->a_ist), status, phrase, extra, ctype, body, blen);
    if (!r) {
        LOG_CALL(SBC_LOG_ERROR, c->a.call_id, call_tenant_name(c), "prack: cannot build reliable %d", status);
        return;
    }
    u->out = msg_ref_create(r);
    u->out_rseq = u->next_rseq++;
    u->out_sdp = blen && call_is_sdp(ctype);
    u->retx_ms = t1_ms(c);
    if (sbc_txn_hop(c->a_ist)->tp == SBC_TP_UDP)
        sbc_timer_start(&u->retx, u->retx_ms);
    sbc_timer_start(&u->give_up, 64 * t1_ms(c));
    LOG_CALL(SBC_LOG_DEBUG, c->a.call_id, call_tenant_name(c), "reliable %d RSeq %u%s", status, u->out_rseq,
             u->out_sdp ? " with SDP" : "");
    sbc_txl_respond(sbc_sig_txl(c->sig), c->a_ist, r);
}

bool sbc_prack_uas_provisional(sbc_call_t *c, int status, const char *phrase, const char *ctype, const char *body,
                               size_t blen)
{
    struct sbc_prack *p = c->prack;
    if (!p || !p->uas.on)
        return false;
    uas_t *u = &p->uas;
    bool sdp = blen && call_is_sdp(ctype);
    if (!c->a_ist || u->held)
        return true;
    if (!u->out) {
        u->last_status = status;
        send_reliable(p, status, phrase, ctype, body, blen);
        return true;
    }
    /* One outstanding at a time (§3): this one waits, unless it repeats
     * the last status without SDP and so says nothing new. */
    if (!sdp && status == u->last_status)
        return true;
    queued_t *q;
    if (u->n_queued < QUEUE_MAX) {
        q = &u->queue[u->n_queued++];
    } else if (sdp) {
        q = &u->queue[QUEUE_MAX - 1];   /* full: early media matters more than a ringing update */
        queued_free(q);
    } else {
        return true;
    }
    memset(q, 0, sizeof *q);
    q->status = status;
    sbc_strcopy(q->phrase, sizeof q->phrase, phrase ? phrase : "");
    sbc_strcopy(q->ctype, sizeof q->ctype, ctype ? ctype : "");
    if (blen && (q->body = malloc(blen))) {
        memcpy(q->body, body, blen);
        q->blen = blen;
    }
    u->last_status = status;
    return true;
}

bool sbc_prack_uas_hold_2xx(sbc_call_t *c, msg_t *resp)
{
    struct sbc_prack *p = c->prack;
    if (!p || !p->uas.on || !p->uas.out || !p->uas.out_sdp || p->uas.held)
        return false;
    /* §3: no 2xx before the PRACK of a reliable 18x with a session description. */
    p->uas.held = resp;
    drop_queue(&p->uas);
    LOG_CALL(SBC_LOG_DEBUG, c->a.call_id, call_tenant_name(c), "2xx waits for the PRACK of RSeq %u",
             p->uas.out_rseq);
    return true;
}

void sbc_prack_uas_final(sbc_call_t *c)
{
    struct sbc_prack *p = c->prack;
    if (!p || !p->uas.on)
        return;
    uas_t *u = &p->uas;
    if (u->out) {
        /* §3: no more retransmissions, but its PRACK is still answered. */
        u->abandoned = true;
        u->abandoned_rseq = u->out_rseq;
    }
    stop_out(u);
    drop_queue(u);
    if (u->held)
        msg_destroy(u->held);
    u->held = NULL;
}

/* The outstanding 18x was PRACKed: the held 2xx or the next 18x may go. */
static void acknowledged(struct sbc_prack *p)
{
    sbc_call_t *c = p->c;
    uas_t *u = &p->uas;
    stop_out(u);
    if (u->held) {
        msg_t *h = u->held;
        u->held = NULL;
        call_send_final_a(c, h);
        return;
    }
    if (u->n_queued && c->a_ist) {
        queued_t q = u->queue[0];
        memmove(&u->queue[0], &u->queue[1], (u->n_queued - 1) * sizeof u->queue[0]);
        u->n_queued--;
        send_reliable(p, q.status, q.phrase[0] ? q.phrase : NULL, q.ctype[0] ? q.ctype : NULL, q.body, q.blen);
        queued_free(&q);
    }
}

static void retx_fired(void *arg)
{
    struct sbc_prack *p = arg;
    sbc_call_t *c = p->c;
    uas_t *u = &p->uas;
    if (!u->out || !c->a_ist)
        return;
    if (sbc_txl_send(sbc_sig_txl(c->sig), u->out, sbc_txn_hop(c->a_ist)) < 0)
        LOG_CALL(SBC_LOG_WARN, c->a.call_id, call_tenant_name(c), "prack: cannot retransmit RSeq %u", u->out_rseq);
    u->retx_ms *= 2;   /* §3: doubles each time, no T2 cap */
    sbc_timer_start(&u->retx, u->retx_ms);
}

static void give_up_fired(void *arg)
{
    struct sbc_prack *p = arg;
    sbc_call_t *c = p->c;
    LOG_CALL(SBC_LOG_WARN, c->a.call_id, call_tenant_name(c), "no PRACK for RSeq %u within 64*T1",
             p->uas.out_rseq);
    stop_out(&p->uas);
    call_unacknowledged(c);   /* may free the call: nothing after this */
}

void sbc_prack_on_request(sbc_call_t *c, leg_t *leg, sbc_txn_t *st, msg_t *msg)
{
    sbc_txl_t *txl = sbc_sig_txl(c->sig);
    sip_t *sip = sip_object(msg);
    struct sbc_prack *p = c->prack;
    uas_t *u = p ? &p->uas : NULL;
    const sip_rack_t *ra = sip->sip_rack;
    bool ours = u && u->on && leg == &c->a && ra && ra->ra_cseq == u->invite_cseq &&
                ra->ra_method == sip_method_invite;
    bool outstanding = ours && u->out && ra->ra_response == u->out_rseq;
    bool abandoned = ours && u->abandoned && ra->ra_response == u->abandoned_rseq;
    if (!outstanding && !abandoned) {
        LOG_CALL(SBC_LOG_INFO, c->a.call_id, call_tenant_name(c), "PRACK matching no reliable response (RAck %s): 481",
                 ra ? "mismatch" : "missing");
        sbc_txl_reply(txl, st, 481, NULL, NULL);
        return;
    }
    if (sip->sip_payload && sip->sip_payload->pl_len) {
        /* An offer in PRACK cannot be relayed (the other leg's dialog is
         * early and has its own exchange): refused, and like any refused
         * request it has no effect: the 18x stays unacknowledged until a
         * PRACK without a body comes. */
        char warn[320];
        snprintf(warn, sizeof warn, "Warning: 399 %s \"no session description in PRACK\"\r\n", leg->via_host);
        sbc_sipmsg_resp_opt_t opt = { .extra = warn };
        sbc_txl_reply(txl, st, 488, NULL, &opt);
        return;
    }
    sbc_txl_reply(txl, st, 200, NULL, NULL);
    if (abandoned) {
        u->abandoned = false;
        return;
    }
    acknowledged(p);
}

/* ---- UAC ----------------------------------------------------------------------- */

static int early_find(struct sbc_prack *p, const char *tag, bool add)
{
    int free_slot = -1;
    for (int i = 0; i < EARLY_MAX; i++) {
        if (p->early[i].used && !strcmp(p->early[i].tag, tag))
            return i;
        if (!p->early[i].used && free_slot < 0)
            free_slot = i;
    }
    if (!add)
        return -1;
    if (free_slot < 0)
        free_slot = EARLY_MAX - 1;   /* more forks than slots: the last one is reused */
    memset(&p->early[free_slot], 0, sizeof p->early[free_slot]);
    p->early[free_slot].used = true;
    sbc_strcopy(p->early[free_slot].tag, sizeof p->early[free_slot].tag, tag);
    return free_slot;
}

/* PRACK in the early dialog of a reliable 18x on leg B (§4): Request-URI
 * its Contact, route set its Record-Route, our next CSeq on the leg. */
static void send_prack(struct sbc_prack *p, int ei, const sip_t *sip, uint32_t rseq)
{
    sbc_call_t *c = p->c;
    leg_t *dlg = malloc(sizeof *dlg);
    if (!dlg)
        return;
    *dlg = c->b;
    sbc_strcopy(dlg->remote_tag, sizeof dlg->remote_tag, p->early[ei].tag);
    const sip_t *inv = c->b_ict ? sip_object(sbc_txn_request(c->b_ict)) : NULL;
    if (sip->sip_contact)
        call_url_text(sip->sip_contact->m_url, dlg->target, sizeof dlg->target);
    else if (inv && inv->sip_request)
        call_url_text(inv->sip_request->rq_url, dlg->target, sizeof dlg->target);
    call_route_set(sip, true, dlg->route, sizeof dlg->route);
    if (call_leg_update_hop(c, dlg) < 0 && c->b_ict)
        dlg->hop = *sbc_txn_hop(c->b_ict);
    char rack[64];
    snprintf(rack, sizeof rack, "RAck: %u %u INVITE\r\n", rseq, c->b.invite_cseq);
    msg_t *m = call_build_request(c, dlg, "PRACK", NULL, ++c->b.cseq, rack, NULL, NULL, 0);
    int slot = -1;
    for (int i = 0; i < PRACKS_MAX && slot < 0; i++)
        if (!p->cts[i].ct)
            slot = i;
    /* Without a free slot the PRACK still goes; only its answer is not followed. */
    sbc_txn_t *ct = m ? sbc_txl_request(sbc_sig_txl(c->sig), m, &dlg->hop, slot >= 0 ? c : NULL) : NULL;
    free(dlg);
    if (!ct) {
        LOG_CALL(SBC_LOG_WARN, c->a.call_id, call_tenant_name(c), "prack: PRACK for RSeq %u could not be sent", rseq);
        p->early[ei].reprack = true;
        return;
    }
    if (slot >= 0)
        p->cts[slot] = (prack_ct_t){ .ct = ct, .early = ei, .rseq = rseq };
}

bool sbc_prack_uac_provisional(sbc_call_t *c, msg_t *msg)
{
    sip_t *sip = sip_object(msg);
    if (!sip->sip_require || !sip_has_feature(sip->sip_require, "100rel"))
        return true;
    const char *tag = sip->sip_to ? sip->sip_to->a_tag : NULL;
    if (!sip->sip_rseq || !tag || !*tag) {
        LOG_CALL(SBC_LOG_WARN, c->a.call_id, call_tenant_name(c),
                 "reliable %u without %s: relayed, cannot be acknowledged", sip->sip_status->st_status,
                 sip->sip_rseq ? "To-tag" : "RSeq");
        return true;
    }
    struct sbc_prack *p = get(c);
    if (!p)
        return true;
    uint32_t rseq = (uint32_t)sip->sip_rseq->rs_response;
    int ei = early_find(p, tag, false);
    if (ei < 0) {
        ei = early_find(p, tag, true);   /* the first RSeq of a dialog may be anything */
    } else if (rseq == p->early[ei].rseq) {
        /* A retransmission: our PRACK is on its way (its own transaction
         * retransmits it, §4), unless that one failed. */
        if (p->early[ei].reprack) {
            p->early[ei].reprack = false;
            send_prack(p, ei, sip, rseq);
        }
        return false;
    } else if (rseq != p->early[ei].rseq + 1) {
        if (rseq > p->early[ei].rseq)
            LOG_CALL(SBC_LOG_INFO, c->a.call_id, call_tenant_name(c),
                     "reliable %u with RSeq %u after %u: out of order, not acknowledged", sip->sip_status->st_status,
                     rseq, p->early[ei].rseq);
        return false;
    }
    p->early[ei].rseq = rseq;
    p->early[ei].reprack = false;
    send_prack(p, ei, sip, rseq);
    return true;
}

void sbc_prack_uac_reset(sbc_call_t *c)
{
    struct sbc_prack *p = c->prack;
    if (!p)
        return;
    for (int i = 0; i < PRACKS_MAX; i++)
        if (p->cts[i].ct)
            sbc_txn_detach(p->cts[i].ct);
    memset(p->cts, 0, sizeof p->cts);
    memset(p->early, 0, sizeof p->early);
}

static int ct_slot(const struct sbc_prack *p, const sbc_txn_t *ct)
{
    for (int i = 0; p && ct && i < PRACKS_MAX; i++)
        if (p->cts[i].ct == ct)
            return i;
    return -1;
}

bool sbc_prack_on_response(sbc_call_t *c, sbc_txn_t *ct, msg_t *msg)
{
    struct sbc_prack *p = c->prack;
    int i = ct_slot(p, ct);
    if (i < 0)
        return false;
    int status = sip_object(msg)->sip_status->st_status;
    if (status < 200)
        return true;
    prack_ct_t pc = p->cts[i];
    p->cts[i].ct = NULL;
    if (status >= 300) {
        /* The peer keeps retransmitting its 18x and gives up on the call
         * after 64*T1 if it must; a PRACK lost on the way is tried again. */
        LOG_CALL(SBC_LOG_WARN, c->a.call_id, call_tenant_name(c), "PRACK for RSeq %u answered %d", pc.rseq, status);
        if ((status == 408 || status == 503) && p->early[pc.early].rseq == pc.rseq)
            p->early[pc.early].reprack = true;
    }
    return true;
}

bool sbc_prack_on_failure(sbc_call_t *c, sbc_txn_t *ct, int status)
{
    struct sbc_prack *p = c->prack;
    int i = ct_slot(p, ct);
    if (i < 0)
        return false;
    prack_ct_t pc = p->cts[i];
    p->cts[i].ct = NULL;
    LOG_CALL(SBC_LOG_WARN, c->a.call_id, call_tenant_name(c), "PRACK for RSeq %u failed (%d)", pc.rseq, status);
    if (p->early[pc.early].rseq == pc.rseq)
        p->early[pc.early].reprack = true;
    return true;
}

void sbc_prack_destroy(sbc_call_t *c)
{
    struct sbc_prack *p = c->prack;
    if (!p)
        return;
    sbc_prack_uac_reset(c);
    stop_out(&p->uas);
    drop_queue(&p->uas);
    if (p->uas.held)
        msg_destroy(p->uas.held);
    sbc_timer_cleanup(&p->uas.retx);
    sbc_timer_cleanup(&p->uas.give_up);
    free(p);
    c->prack = NULL;
}
