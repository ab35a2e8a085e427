/* A call's session timers (RFC 4028): refreshing a leg ourselves (UPDATE,
 * or a re-INVITE re-offering the other leg's SDP), its expiry, and the answer
 * to our refresh. The timer mechanism itself is sbc/session_timer.c. */
#include <stdbool.h>
#include <stdlib.h>

#include <sofia-sip/sip_header.h>

#include "sbc/call_int.h"
#include "sbc/log.h"
#include "sbc/sig.h"
#include "sbc/transfer.h"
#include "sbc/txn.h"

/* Our refresh of one leg: UPDATE without a body when the peer allows it
 * (RFC 4028 §7.4 prefers it), else a re-INVITE re-offering the other
 * leg's last SDP through the media session (ports and keys unchanged). */
static int leg_refresh_with(sbc_call_t *c, leg_t *leg, bool invite)
{
    if (c->state != CS_CONFIRMED || leg->refresh_ct || c->fwd.ct || sbc_transfer_busy(c))
        return -1;   /* an exchange in progress refreshes the dialog itself */
    char timer[160];
    sbc_stimer_uac_headers(&leg->stimer, 0, c->cfg->node.min_se_ms / 1000, timer, sizeof timer);
    msg_t *req = NULL;
    if (invite) {
        int other = call_leg_index(c, leg) ^ 1;
        sdp_out_t *out = malloc(sizeof *out);
        if (out && c->sdp_in[other] &&
            call_media_apply(c, other, true, "application/sdp", c->sdp_in[other], c->sdp_in_len[other], out) ==
                SBC_MEDIA_OK &&
            out->len)
            req = call_build_request(c, leg, "INVITE", NULL, ++leg->cseq, timer, "application/sdp", out->text,
                                     out->len);
        free(out);
        leg->invite_cseq = leg->cseq;
    } else {
        req = call_build_request(c, leg, "UPDATE", NULL, ++leg->cseq, timer, NULL, NULL, 0);
    }
    LOG_CALL(SBC_LOG_DEBUG, c->a.call_id, call_tenant_name(c), "session refresh toward the %s side (%s)",
             leg->teams ? "Teams" : "carrier", invite ? "re-INVITE" : "UPDATE");
    leg->refresh_invite = invite;
    leg->refresh_ct = req ? sbc_txl_request(sbc_sig_txl(c->sig), req, &leg->hop, c) : NULL;
    return leg->refresh_ct ? 0 : -1;
}

static void leg_refresh(sbc_call_t *c, leg_t *leg)
{
    leg_refresh_with(c, leg, !leg->stimer.peer_update);
}

int call_reoffer(sbc_call_t *c, leg_t *leg)
{
    return leg_refresh_with(c, leg, true);
}

static void leg_expired(sbc_call_t *c, leg_t *leg)
{
    LOG_CALL(SBC_LOG_INFO, c->a.call_id, call_tenant_name(c), "session timer of the %s side expired",
             leg->teams ? "Teams" : "carrier");
    call_end(c, "session timer expired", NULL);
}

static void refresh_a(void *arg) { sbc_call_t *c = arg; leg_refresh(c, &c->a); }
static void refresh_b(void *arg) { sbc_call_t *c = arg; leg_refresh(c, &c->b); }
static void expired_a(void *arg) { sbc_call_t *c = arg; leg_expired(c, &c->a); }
static void expired_b(void *arg) { sbc_call_t *c = arg; leg_expired(c, &c->b); }

void call_stimer_init(sbc_call_t *c, leg_t *leg)
{
    bool a = leg == &c->a;
    sbc_stimer_init(&leg->stimer, sbc_sig_clock(c->sig), a ? refresh_a : refresh_b, a ? expired_a : expired_b, c);
}

/* The answer to our refresh. */
void call_on_refresh_response(sbc_call_t *c, leg_t *leg, msg_t *msg)
{
    sip_t *sip = sip_object(msg);
    int status = sip->sip_status->st_status;
    if (status < 200)
        return;
    leg->refresh_ct = NULL;
    if (status >= 300) {
        /* RFC 4028 §10: 408/481 end the session; otherwise it lasts until
         * the interval runs out. */
        if (status == 408 || status == 481)
            call_end(c, "session refresh failed", NULL);
        return;
    }
    if (leg->refresh_invite) {
        call_send_ack(c, leg, leg->invite_cseq);
        const char *ctype, *body;
        size_t blen;
        call_body_of(msg, &ctype, &body, &blen);
        sdp_out_t *out = malloc(sizeof *out);
        if (out && call_is_sdp(ctype))   /* for the other leg: unchanged, not sent */
            call_media_apply(c, call_leg_index(c, leg), false, ctype, body, blen, out);
        free(out);
    }
    sbc_stimer_uac_answered(&leg->stimer, sip);
}
