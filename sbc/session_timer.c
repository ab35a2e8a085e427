/* RFC 4028 session timers for one dialog. See session_timer.h. */
#include "sbc/session_timer.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/sip_header.h>

static bool has_timer(const sip_t *sip)
{
    return (sip->sip_supported && sip_has_feature(sip->sip_supported, "timer")) ||
           (sip->sip_require && sip_has_feature(sip->sip_require, "timer"));
}

/* Our timer fired: time to refresh, or the interval is over. */
static void fire(void *arg)
{
    sbc_stimer_t *t = arg;
    if (!t->interval_s)
        return;
    if (t->we_refresh && !t->refreshing) {
        /* The rest of the interval is what the refresh has to succeed in. */
        t->refreshing = true;
        sbc_timer_start(&t->timer, t->interval_s * 1000u - t->interval_s * 500u);
        t->refresh(t->arg);
        return;
    }
    t->expired(t->arg);
}

/* (Re)arms for the current interval and refresher. */
static void arm(sbc_stimer_t *t)
{
    t->refreshing = false;
    if (!t->interval_s) {
        sbc_timer_stop(&t->timer);
        return;
    }
    unsigned ms;
    if (t->we_refresh) {
        ms = t->interval_s * 500u;                       /* half the interval (§7.4, §9) */
    } else {
        unsigned margin = t->interval_s / 3 < 32 ? t->interval_s / 3 : 32;   /* §10 */
        ms = (t->interval_s - margin) * 1000u;
    }
    sbc_timer_start(&t->timer, ms);
}

void sbc_stimer_init(sbc_stimer_t *t, sbc_clock_t *clock, void (*refresh)(void *arg),
                     void (*expired)(void *arg), void *arg)
{
    memset(t, 0, sizeof *t);
    t->refresh = refresh;
    t->expired = expired;
    t->arg = arg;
    sbc_timer_init(&t->timer, clock, fire, t);
}

void sbc_stimer_cleanup(sbc_stimer_t *t)
{
    if (t->refresh || t->expired)
        sbc_timer_cleanup(&t->timer);
    t->interval_s = 0;
}

void sbc_stimer_stop(sbc_stimer_t *t)
{
    t->interval_s = 0;
    t->refreshing = false;
    sbc_timer_stop(&t->timer);
}

int sbc_stimer_check_request(const sip_t *req, unsigned min_se_s, char *hdrs, size_t cap)
{
    hdrs[0] = '\0';
    if (!req->sip_session_expires)
        return 0;
    unsigned long se = req->sip_session_expires->x_delta;
    unsigned long their_min = req->sip_min_se ? req->sip_min_se->min_delta : 0;
    if (se < min_se_s) {
        snprintf(hdrs, cap, "Min-SE: %u\r\n", min_se_s);
        return 422;
    }
    if (se < their_min)
        return 400;   /* asks for less than it accepts itself */
    return 0;
}

void sbc_stimer_uas(sbc_stimer_t *t, const sip_t *req, char *hdrs, size_t cap)
{
    hdrs[0] = '\0';
    sbc_stimer_peer_allow(t, req);
    t->peer_timer = has_timer(req);
    const sip_session_expires_t *x = req->sip_session_expires;
    if (!x || !x->x_delta) {
        /* The peer asked for nothing: a refresh without a timer leaves the
         * dialog without one (§9, the UAS may not impose it on a non-supporting UAC). */
        sbc_stimer_stop(t);
        return;
    }
    t->interval_s = (unsigned)x->x_delta;
    if (x->x_refresher)
        t->we_refresh = !strcasecmp(x->x_refresher, "uas");
    else
        t->we_refresh = !t->peer_timer;   /* §9: the UAC refreshes when it can */
    snprintf(hdrs, cap, "Session-Expires: %u;refresher=%s\r\n%s", t->interval_s, t->we_refresh ? "uas" : "uac",
             t->peer_timer ? "Require: timer\r\n" : "");
    arm(t);
}

void sbc_stimer_uac_headers(const sbc_stimer_t *t, unsigned se_s, unsigned min_se_s, char *hdrs, size_t cap)
{
    if (t && t->interval_s)   /* a refresh: keep what the dialog agreed (§7.4) */
        snprintf(hdrs, cap, "Supported: timer\r\nSession-Expires: %u;refresher=%s\r\nMin-SE: %u\r\n", t->interval_s,
                 t->we_refresh ? "uac" : "uas", min_se_s);
    else if (se_s)            /* the UAS picks the refresher (§7.1) */
        snprintf(hdrs, cap, "Supported: timer\r\nSession-Expires: %u\r\nMin-SE: %u\r\n", se_s, min_se_s);
    else
        snprintf(hdrs, cap, "Supported: timer\r\n");
}

void sbc_stimer_uac_answered(sbc_stimer_t *t, const sip_t *resp)
{
    sbc_stimer_peer_allow(t, resp);
    const sip_session_expires_t *x = resp->sip_session_expires;
    if (!x || !x->x_delta) {
        sbc_stimer_stop(t);   /* §7.2: no Session-Expires in the 2xx, no expiration */
        return;
    }
    t->peer_timer = true;
    t->interval_s = (unsigned)x->x_delta;
    /* §7.2: refresher=uac names us; a 2xx without the parameter cannot
     * happen from a compliant UAS, so we take the duty ourselves. */
    t->we_refresh = !x->x_refresher || !strcasecmp(x->x_refresher, "uac");
    arm(t);
}

unsigned sbc_stimer_retry_after_422(const sip_t *resp, unsigned asked_s)
{
    if (!resp->sip_min_se || resp->sip_min_se->min_delta <= asked_s || resp->sip_min_se->min_delta > 86400)
        return 0;
    return (unsigned)resp->sip_min_se->min_delta;
}

void sbc_stimer_refreshed(sbc_stimer_t *t)
{
    if (t->interval_s)
        arm(t);
}

void sbc_stimer_peer_allow(sbc_stimer_t *t, const sip_t *sip)
{
    if (!sip->sip_allow)
        return;
    t->peer_update = false;
    for (msg_param_t *p = sip->sip_allow->k_items; p && *p; p++)
        if (!strcasecmp(*p, "UPDATE"))
            t->peer_update = true;
}
