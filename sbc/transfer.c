/* REFER from Teams: the SBC places the new call itself. See transfer.h. */
#include "sbc/transfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/url.h>

#include "media/sdp_rewrite.h"
#include "sbc/health.h"
#include "sbc/log.h"
#include "sbc/sig.h"
#include "sbc/sipmsg.h"

#define RING_MS (60 * 1000)      /* the transfer target rings at most this long */
#define SUB_EXPIRES_S 60         /* implicit subscription of the REFER (RFC 3515 §2.4.4) */

enum xfer_state { XF_IDLE = 0, XF_CALLING, XF_DONE, XF_FAILED };

struct sbc_transfer {
    enum xfer_state state;
    leg_t nl;                    /* the new Teams dialog while it is set up */
    leg_t old;                   /* the replaced Teams dialog, after a success */
    bool nl_indexed, old_indexed;
    bool old_gone;               /* the transferor ended its dialog during the transfer */
    bool cancelled;
    sbc_txn_t *ict;              /* our INVITE to the Refer-To target */
    sbc_timer_t ring_timer;
    sbc_timer_t fo_timer;        /* no response at all from the proxy: the next one */
    uint8_t order[32];           /* Teams proxies to try: the one the Refer-To names, then call_hop_order */
    size_t n_order, next;
    int named;                   /* the proxy the Refer-To names, -1: none */
    bool provisional;            /* an 18x came: no failover any more */
    char *offer;                 /* our SDP offer and headers, kept for a failover */
    size_t offer_len;
    char extra[1400];
    unsigned n_refers;
    char event[40];              /* "refer" or "refer;id=<REFER CSeq>" */
    char target[640];
    char referred_by[1024];
    int status;                  /* final status of the transfer INVITE, 0 while none */
    time_t at;
};

static void failed(sbc_call_t *c, int status, const char *phrase);

static void reply(sbc_call_t *c, sbc_txn_t *st, int status, const char *phrase)
{
    sbc_txl_reply(sbc_sig_txl(c->sig), st, status, phrase, NULL);
}

/* NOTIFY of the REFER's implicit subscription with a sipfrag of the
 * target's status. Its answer changes nothing, so it has no context. */
static void send_notify(sbc_call_t *c, leg_t *leg, int status, const char *phrase, bool final)
{
    struct sbc_transfer *x = c->xfer;
    char extra[160], body[128];
    if (final)
        snprintf(extra, sizeof extra, "Event: %s\r\nSubscription-State: terminated;reason=noresource\r\n", x->event);
    else
        snprintf(extra, sizeof extra, "Event: %s\r\nSubscription-State: active;expires=%d\r\n", x->event,
                 SUB_EXPIRES_S);
    int n = snprintf(body, sizeof body, "SIP/2.0 %d %s\r\n", status, phrase && *phrase ? phrase : "Unknown");
    msg_t *m = call_build_request(c, leg, "NOTIFY", NULL, ++leg->cseq, extra, "message/sipfrag;version=2.0", body,
                                  (size_t)n);
    if (m && !sbc_txl_request(sbc_sig_txl(c->sig), m, &leg->hop, NULL))
        LOG_CALL(SBC_LOG_WARN, c->a.call_id, call_tenant_name(c), "transfer: NOTIFY %d could not be sent", status);
}

/* BYE on a dialog we leave: nobody waits for its answer. */
static void send_bye_detached(sbc_call_t *c, leg_t *leg)
{
    msg_t *bye = call_build_request(c, leg, "BYE", NULL, ++leg->cseq, NULL, NULL, NULL, 0);
    if (bye)
        sbc_txl_request(sbc_sig_txl(c->sig), bye, &leg->hop, NULL);
}

static void unindex_nl(sbc_call_t *c)
{
    struct sbc_transfer *x = c->xfer;
    if (x->nl_indexed) {
        sbc_sig_call_unindex(c->sig, x->nl.local_tag);
        x->nl_indexed = false;
    }
}

/* The Refer-To URI as the Request-URI: URI headers and the method
 * parameter removed (RFC 3515 §2.1), user=phone and x-m/x-t kept. */
static int target_uri(const sip_refer_to_t *rt, char *out, size_t cap, bool *replaces)
{
    su_home_t home[1] = { SU_HOME_INIT(home) };
    int rc = -1;
    url_t *u = url_hdup(home, rt->r_url);
    if (!u || !u->url_host)
        goto done;
    *replaces = u->url_headers && strcasestr(u->url_headers, "replaces=") != NULL;
    u->url_headers = NULL;
    if (u->url_params) {
        char *p = su_strdup(home, u->url_params);
        url_strip_param_string(p, "method");
        u->url_params = *p ? p : NULL;
    }
    call_url_text(u, out, cap);
    rc = strlen(out) + 1 < cap ? 0 : -1;
done:
    su_home_deinit(home);
    return rc;
}

/* The order proxies get the transfer INVITE in: the one the Refer-To names,
 * then the others as for a call's INVITE. */
static void plan_proxies(sbc_call_t *c, const url_t *refer_to)
{
    struct sbc_transfer *x = c->xfer;
    const sbc_teams_t *t = &c->cfg->teams;
    uint8_t all[sizeof x->order];
    size_t n = call_hop_order(c, true, all, sizeof all);
    x->named = -1;
    for (size_t i = 0; i < n && refer_to->url_host && x->named < 0; i++)
        if (!strcasecmp(t->proxies[all[i]].host, refer_to->url_host))
            x->named = all[i];
    x->n_order = x->next = 0;
    if (x->named >= 0)
        x->order[x->n_order++] = (uint8_t)x->named;
    for (size_t i = 0; i < n; i++)
        if (all[i] != x->named)
            x->order[x->n_order++] = all[i];
}

/* The Request-URI toward proxy p: the Refer-To URI, with p's host (and port,
 * if it had one) when it named another configured proxy. */
static void attempt_ruri(const struct sbc_transfer *x, int pi, const sbc_proxy_t *p, char *out, size_t cap)
{
    snprintf(out, cap, "%s", x->target);
    if (x->named < 0 || x->named == pi)
        return;
    su_home_t home[1] = { SU_HOME_INIT(home) };
    url_t *u = url_make(home, x->target);
    char port[8];
    if (u) {
        u->url_host = p->host;
        if (u->url_port) {
            snprintf(port, sizeof port, "%u", p->port);
            u->url_port = port;
        }
        char buf[640];
        call_url_text(u, buf, sizeof buf);
        if (strlen(buf) + 1 < sizeof buf && strlen(buf) < cap)
            snprintf(out, cap, "%s", buf);
    }
    su_home_deinit(home);
}

/* Sends the transfer INVITE to the next Teams proxy; a retry is a new
 * dialog attempt (new Call-ID). -1 when no proxy is left. */
static int attempt(sbc_call_t *c)
{
    struct sbc_transfer *x = c->xfer;
    const sbc_teams_t *t = &c->cfg->teams;
    leg_t *nl = &x->nl;
    while (x->next < x->n_order) {
        int i = x->order[x->next++];
        const sbc_proxy_t *p = &t->proxies[i];
        char next[320], ruri[640];
        snprintf(next, sizeof next, "sip:%s:%u;transport=tls", p->host, p->port);
        if (call_hop_for_uri(c, nl, next) < 0) {
            LOG_CALL(SBC_LOG_WARN, c->a.call_id, call_tenant_name(c), "transfer: cannot resolve %s, trying the next",
                     p->host);
            continue;
        }
        attempt_ruri(x, i, p, ruri, sizeof ruri);
        if (nl->cseq) {                  /* an INVITE went to an earlier proxy */
            sbc_sipmsg_make_call_id(nl->call_id, sizeof nl->call_id, sbc_sig_index(c->sig));
            nl->cseq = 0;
            sbc_sig_stats(c->sig)->failovers++;
        }
        nl->remote_tag[0] = '\0';
        x->provisional = false;
        msg_t *inv = call_build_request(c, nl, "INVITE", ruri, ++nl->cseq, x->extra, "application/sdp", x->offer,
                                        x->offer_len);
        if (!inv)
            return -1;
        nl->invite_cseq = nl->cseq;
        x->ict = sbc_txl_request(sbc_sig_txl(c->sig), inv, &nl->hop, c);
        if (!x->ict)
            continue;
        LOG_CALL(SBC_LOG_INFO, c->a.call_id, call_tenant_name(c), "transfer: INVITE %s -> %s:%u", ruri, p->host,
                 p->port);
        if (t->failover_timeout_ms)
            sbc_timer_start(&x->fo_timer, t->failover_timeout_ms);
        return 0;
    }
    return -1;
}

/* 408, 503, 504 or no answer before any 18x: the proxy, not the target,
 * failed (TEAMS.md §4); the next proxy gets the INVITE. */
static bool try_next(sbc_call_t *c, int status)
{
    struct sbc_transfer *x = c->xfer;
    if (x->provisional || x->cancelled || c->state == CS_ENDING || (status != 408 && status != 503 && status != 504))
        return false;
    LOG_CALL(SBC_LOG_WARN, c->a.call_id, call_tenant_name(c), "transfer: %d from the proxy, failing over", status);
    return attempt(c) == 0;
}

static void failover_timeout(void *arg)
{
    sbc_call_t *c = arg;
    struct sbc_transfer *x = c->xfer;
    if (!x || !x->ict || x->provisional || x->cancelled || c->state == CS_ENDING)
        return;
    sbc_txn_detach(x->ict);    /* left to end on its own */
    x->ict = NULL;
    if (!try_next(c, 408))
        failed(c, 408, "Request Timeout");
}

static void ring_timeout(void *arg)
{
    sbc_call_t *c = arg;
    struct sbc_transfer *x = c->xfer;
    if (x && x->ict && !x->cancelled) {
        LOG_CALL(SBC_LOG_INFO, c->a.call_id, call_tenant_name(c), "transfer: no answer from %s, cancelling", x->target);
        sbc_txl_cancel(sbc_sig_txl(c->sig), x->ict, "SIP;cause=408;text=\"transfer target did not answer\"");
        x->cancelled = true;   /* the 487 ends the attempt */
    }
}

static void failed(sbc_call_t *c, int status, const char *phrase)
{
    struct sbc_transfer *x = c->xfer;
    x->state = XF_FAILED;
    x->status = status;
    sbc_timer_stop(&x->ring_timer);
    sbc_timer_stop(&x->fo_timer);
    unindex_nl(c);
    LOG_CALL(SBC_LOG_INFO, c->a.call_id, call_tenant_name(c), "transfer to %s failed: %d", x->target, status);
    if (c->state == CS_ENDING) {
        call_maybe_free(c);    /* the call only waited for this answer */
        return;
    }
    if (!x->old_gone) {
        send_notify(c, call_teams_leg(c), status, phrase, true);   /* the call goes on */
        return;
    }
    /* The transferor already left: nobody is left on the Teams side. */
    call_end(c, "transfer failed", call_teams_leg(c));
}

void sbc_transfer_on_refer(sbc_call_t *c, leg_t *leg, sbc_txn_t *st, msg_t *msg)
{
    sip_t *sip = sip_object(msg);
    struct sbc_transfer *x = c->xfer;
    if (!leg->teams)
        return reply(c, st, 403, "Forbidden (REFER is taken from Teams only)");
    if (sbc_transfer_is_old_leg(c, leg))
        return reply(c, st, 481, "Call/Transaction Does Not Exist (dialog transferred)");
    if (c->state != CS_CONFIRMED)
        return reply(c, st, 403, "Forbidden (dialog not confirmed)");
    if (!sip->sip_refer_to)
        return reply(c, st, 400, "Bad Request (no Refer-To)");
    if ((x && x->state == XF_CALLING) || c->fwd.st || c->fwd.ct)
        return reply(c, st, 491, "Request Pending");
    if (sip->sip_refer_to->r_url->url_type != url_sip)
        return reply(c, st, 416, "Unsupported URI Scheme (sip: only toward Teams)");
    char target[600];   /* fits leg_t's remote_uri with the brackets */
    bool replaces = false;
    if (target_uri(sip->sip_refer_to, target, sizeof target, &replaces) < 0)
        return reply(c, st, 400, "Bad Request (unusable Refer-To)");
    if (replaces)   /* attended transfer would put Replaces toward Teams (R16) */
        return reply(c, st, 501, "Not Implemented (Replaces in Refer-To)");
    int ci = call_leg_index(c, call_carrier_leg(c));
    if (!c->sdp_in[ci])
        return reply(c, st, 500, "Server Internal Error (no carrier SDP)");
    if (!x) {
        x = calloc(1, sizeof *x);
        if (!x)
            return reply(c, st, 500, "Server Internal Error");
        sbc_timer_init(&x->ring_timer, sbc_sig_clock(c->sig), ring_timeout, c);
        sbc_timer_init(&x->fo_timer, sbc_sig_clock(c->sig), failover_timeout, c);
        c->xfer = x;
    }

    /* The new Teams dialog: our identity and Contact of the Teams leg, new
     * Call-ID and tag; the target as To and Request-URI (TEAMS.md §1.10). */
    leg_t *nl = &x->nl;
    memset(nl, 0, sizeof *nl);
    nl->teams = true;
    nl->hop = leg->hop;
    memcpy(nl->via_host, leg->via_host, sizeof nl->via_host);
    nl->via_port = leg->via_port;
    memcpy(nl->contact, leg->contact, sizeof nl->contact);
    memcpy(nl->local_uri, leg->local_uri, sizeof nl->local_uri);
    snprintf(nl->remote_uri, sizeof nl->remote_uri, "<%s>", target);
    sbc_sipmsg_make_call_id(nl->call_id, sizeof nl->call_id, sbc_sig_index(c->sig));
    sbc_sipmsg_make_tag(nl->local_tag, sizeof nl->local_tag, sbc_sig_index(c->sig));
    plan_proxies(c, sip->sip_refer_to->r_url);
    if (!x->n_order)
        return reply(c, st, 503, "Service Unavailable (no Teams proxy for the target)");

    x->referred_by[0] = '\0';
    if (sip->sip_referred_by) {
        su_home_t home[1] = { SU_HOME_INIT(home) };
        char *rb = sip_header_as_string(home, (const sip_header_t *)sip->sip_referred_by);
        if (rb && strlen(rb) < sizeof x->referred_by)
            snprintf(x->referred_by, sizeof x->referred_by, "%s", rb);
        else
            LOG_CALL(SBC_LOG_WARN, c->a.call_id, call_tenant_name(c), "transfer: Referred-By too long, not copied");
        su_home_deinit(home);
    }

    /* Our offer to the target: the carrier's SDP through the media session,
     * so the carrier keeps its ports and keys (R30). */
    sdp_out_t *out = malloc(sizeof *out);
    enum sbc_media_status mst = out ? call_media_apply(c, ci, true, "application/sdp", c->sdp_in[ci],
                                                       c->sdp_in_len[ci], out)
                                    : SBC_MEDIA_E_INTERNAL;
    if (mst != SBC_MEDIA_OK || !out->len) {
        free(out);
        return reply(c, st, 488, "Not Acceptable Here (no offer for the target)");
    }
    char timer[160];
    sbc_stimer_uac_headers(NULL, c->cfg->node.session_expires_ms / 1000, c->cfg->node.min_se_ms / 1000, timer,
                           sizeof timer);
    snprintf(x->extra, sizeof x->extra, "%s%s%s%s", x->referred_by[0] ? "Referred-By: " : "", x->referred_by,
             x->referred_by[0] ? "\r\n" : "", timer);
    free(x->offer);
    x->offer = malloc(out->len);
    if (!x->offer) {
        free(out);
        return reply(c, st, 500, "Server Internal Error");
    }
    memcpy(x->offer, out->text, out->len);
    x->offer_len = out->len;
    free(out);

    x->n_refers++;
    if (x->n_refers > 1)
        snprintf(x->event, sizeof x->event, "refer;id=%u", sip->sip_cseq->cs_seq);
    else
        snprintf(x->event, sizeof x->event, "refer");
    snprintf(x->target, sizeof x->target, "%s", target);
    x->state = XF_CALLING;
    x->status = 0;
    x->old_gone = false;
    x->cancelled = false;
    x->at = time(NULL);
    msg_t *r = call_build_response(c, leg, sbc_txn_request(st), 202, "Accepted", NULL, NULL, NULL, 0);
    if (r)
        sbc_txl_respond(sbc_sig_txl(c->sig), st, r);
    send_notify(c, leg, 100, "Trying", false);
    LOG_CALL(SBC_LOG_INFO, c->a.call_id, call_tenant_name(c), "transfer: REFER to %s accepted", target);

    sbc_sig_call_index(c->sig, nl->local_tag, c);
    x->nl_indexed = true;
    if (attempt(c) < 0) {
        failed(c, 503, "Service Unavailable");
        return;
    }
    sbc_timer_start(&x->ring_timer, RING_MS);
}

/* Whether what the carrier must send differs between the SDP in effect on
 * its leg and ours: an m= line's media or formats, or its direction (the
 * carrier's own SDP states it from its side, mirrored). Ports and the rest
 * are the relay's to absorb. Unparsable counts as changed. */
static bool carrier_media_changed(const char *now, size_t now_len, bool now_ours, const char *ours, size_t ours_len)
{
    static const enum sbc_sdp_dir mirror[] = { SBC_SDP_SENDRECV, SBC_SDP_RECVONLY, SBC_SDP_SENDONLY, SBC_SDP_INACTIVE };
    struct sbc_sdp *a = malloc(2 * sizeof *a), *b = a + 1;   /* ~6 KB each: not on the stack */
    char err[128];
    bool changed = !a || !now || sbc_sdp_parse(now, now_len, a, err, sizeof err) < 0 ||
                   sbc_sdp_parse(ours, ours_len, b, err, sizeof err) < 0 || a->n_media != b->n_media;
    for (unsigned i = 0; !changed && i < a->n_media; i++) {
        const struct sbc_sdp_media *m = &a->media[i], *n = &b->media[i];
        changed = m->type.n != n->type.n || memcmp(m->type.p, n->type.p, m->type.n) || m->fmts.n != n->fmts.n ||
                  memcmp(m->fmts.p, n->fmts.p, m->fmts.n) || (now_ours ? m->dir : mirror[m->dir]) != n->dir;
    }
    free(a);
    return changed;
}

/* The target answered: the new dialog becomes the call's Teams leg. */
static void succeeded(sbc_call_t *c, const sip_t *sip)
{
    struct sbc_transfer *x = c->xfer;
    leg_t *tl = call_teams_leg(c);
    if (!x->old_gone) {
        send_notify(c, tl, 200, "OK", true);
        send_bye_detached(c, tl);   /* Teams may send its own: the BYEs cross harmlessly */
    }
    if (tl->refresh_ct) {
        sbc_txn_detach(tl->refresh_ct);
        tl->refresh_ct = NULL;
    }
    sbc_stimer_cleanup(&tl->stimer);
    if (x->old_indexed)   /* an earlier transfer's dialog */
        sbc_sig_call_unindex(c->sig, x->old.local_tag);
    x->old = *tl;         /* its tag stays indexed: a late BYE still gets 200 */
    memset(&x->old.stimer, 0, sizeof x->old.stimer);
    x->old_indexed = true;
    *tl = x->nl;
    x->nl_indexed = false;   /* now the Teams leg's own tag */
    call_stimer_init(c, tl);
    sbc_stimer_uac_answered(&tl->stimer, sip);
    x->state = XF_DONE;
    x->status = 200;
    LOG_CALL(SBC_LOG_INFO, c->a.call_id, call_tenant_name(c), "transfer to %s done, Teams leg now %s", x->target,
             tl->call_id);
}

bool sbc_transfer_on_response(sbc_call_t *c, sbc_txn_t *ct, msg_t *msg)
{
    struct sbc_transfer *x = c->xfer;
    if (!x || !ct || ct != x->ict)
        return false;
    sip_t *sip = sip_object(msg);
    int status = sip->sip_status->st_status;
    leg_t *nl = &x->nl;
    sbc_timer_stop(&x->fo_timer);    /* the proxy answers */
    if (status < 200) {
        if (status > 100)
            x->provisional = true;
        if (status > 100 && sip->sip_to->a_tag)
            snprintf(nl->remote_tag, sizeof nl->remote_tag, "%s", sip->sip_to->a_tag);
        return true;
    }
    x->ict = NULL;
    if (status >= 300) {
        if (!try_next(c, status))
            failed(c, status, sip->sip_status->st_phrase);
        return true;
    }
    sbc_timer_stop(&x->ring_timer);
    call_leg_confirm(c, nl, sip);
    if (c->state == CS_ENDING) {
        /* answered although cancelled: that dialog is ended at once */
        send_bye_detached(c, nl);
        unindex_nl(c);
        x->state = XF_FAILED;
        x->status = 487;
        call_maybe_free(c);
        return true;
    }
    const char *ctype, *body;
    size_t blen;
    call_body_of(msg, &ctype, &body, &blen);
    int ti = call_leg_index(c, call_teams_leg(c)), ci = ti ^ 1;
    char *before = c->sdp_out[ci] ? strndup(c->sdp_out[ci], c->sdp_out_len[ci]) : NULL;
    sdp_out_t *out = malloc(sizeof *out);
    enum sbc_media_status mst = out ? call_media_apply(c, ti, false, ctype, body, blen, out) : SBC_MEDIA_E_INTERNAL;
    if (mst != SBC_MEDIA_OK || !out->len) {
        free(out);
        free(before);
        send_bye_detached(c, nl);
        failed(c, 488, "Not Acceptable Here");
        return true;
    }
    /* The carrier keeps its ports and gets nothing, unless the target's
     * answer changes what the carrier must send (a codec): then a re-INVITE
     * with it, which the relay cannot hide. What the carrier uses now is the
     * last answer on its leg: ours when it called, its own when we did. */
    const char *now = c->to_teams ? before : c->sdp_in[ci];
    size_t now_len = c->to_teams ? (before ? strlen(before) : 0) : c->sdp_in_len[ci];
    bool changed = carrier_media_changed(now, now_len, c->to_teams, out->text, out->len);
    free(before);
    free(out);
    succeeded(c, sip);
    if (changed) {
        LOG_CALL(SBC_LOG_INFO, c->a.call_id, call_tenant_name(c),
                 "transfer: the target's answer changes the carrier's codecs, re-offering");
        if (call_reoffer(c, call_carrier_leg(c)) < 0)
            LOG_CALL(SBC_LOG_WARN, c->a.call_id, call_tenant_name(c), "transfer: the carrier could not be re-offered now");
    }
    return true;
}

bool sbc_transfer_on_failure(sbc_call_t *c, sbc_txn_t *ct, int status)
{
    struct sbc_transfer *x = c->xfer;
    if (!x || !ct || ct != x->ict)
        return false;
    x->ict = NULL;
    sbc_timer_stop(&x->fo_timer);
    if (!try_next(c, status == 408 ? 408 : 503))   /* timeout, or the connection failed */
        failed(c, status, status == 408 ? "Request Timeout" : "Service Unavailable");
    return true;
}

leg_t *sbc_transfer_leg_by_tag(sbc_call_t *c, const char *tag)
{
    struct sbc_transfer *x = c->xfer;
    if (x && tag && x->old_indexed && !strcmp(tag, x->old.local_tag))
        return &x->old;
    return NULL;
}

bool sbc_transfer_on_bye(sbc_call_t *c, leg_t *leg)
{
    struct sbc_transfer *x = c->xfer;
    if (!x)
        return false;
    if (x->old_indexed && leg == &x->old)
        return true;   /* the replaced dialog: the call lives on in the new one */
    if (x->state == XF_CALLING && leg == call_teams_leg(c)) {
        /* RFC 5589: the transferor may hang up once the REFER is accepted. */
        x->old_gone = true;
        sbc_stimer_stop(&leg->stimer);
        LOG_CALL(SBC_LOG_INFO, c->a.call_id, call_tenant_name(c), "transfer: the transferor left, target still ringing");
        return true;
    }
    return false;
}

bool sbc_transfer_is_old_leg(const sbc_call_t *c, const leg_t *leg)
{
    return c->xfer && c->xfer->old_indexed && leg == &c->xfer->old;
}

bool sbc_transfer_busy(const sbc_call_t *c)
{
    return c->xfer && c->xfer->state == XF_CALLING;
}

void sbc_transfer_abort(sbc_call_t *c, bool notify)
{
    struct sbc_transfer *x = c->xfer;
    if (!x)
        return;
    sbc_timer_stop(&x->ring_timer);
    sbc_timer_stop(&x->fo_timer);
    /* The INVITE stays ours until its final answer (the call waits, see
     * sbc_transfer_pending): a 2xx racing our CANCEL is ACKed and BYEd. */
    if (x->ict && !x->cancelled) {
        sbc_txl_cancel(sbc_sig_txl(c->sig), x->ict, NULL);
        x->cancelled = true;
    }
    if (x->state == XF_CALLING) {
        x->state = XF_FAILED;
        x->status = 487;
        /* the transferor learns the outcome before its dialog's BYE */
        if (notify && !x->old_gone)
            send_notify(c, call_teams_leg(c), 487, "Request Terminated", true);
    }
}

bool sbc_transfer_pending(const sbc_call_t *c)
{
    return c->xfer && c->xfer->ict;
}

void sbc_transfer_destroy(sbc_call_t *c)
{
    struct sbc_transfer *x = c->xfer;
    if (!x)
        return;
    sbc_transfer_abort(c, false);
    if (x->ict) {              /* shutdown: nobody is left to wait for it */
        sbc_txn_detach(x->ict);
        x->ict = NULL;
    }
    unindex_nl(c);
    if (x->old_indexed)
        sbc_sig_call_unindex(c->sig, x->old.local_tag);
    sbc_timer_cleanup(&x->ring_timer);
    sbc_timer_cleanup(&x->fo_timer);
    free(x->offer);
    free(x);
    c->xfer = NULL;
}

void sbc_transfer_json(const sbc_call_t *c, json_t *o)
{
    const struct sbc_transfer *x = c->xfer;
    if (!x || !x->at)
        return;
    json_object_set_new(o, "transferred",
                        json_pack("{s:s, s:o, s:i, s:I}", "target", x->target, "referred_by",
                                  x->referred_by[0] ? json_string(x->referred_by) : json_null(), "status",
                                  x->status, "at", (json_int_t)x->at));
}
