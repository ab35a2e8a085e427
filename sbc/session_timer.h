/* RFC 4028 session timers, one per dialog: each leg of a B2BUA call is its
 * own dialog, so each has its own interval and its own refresher.
 *
 * Negotiation helpers read Session-Expires/Min-SE/Supported from a request
 * or a 2xx and write the header lines we send. The timer then either calls
 * refresh() at half the interval (we are the refresher) and expired() if no
 * refresh succeeded by the end of the interval, or calls expired() shortly
 * before the end of the interval (the peer refreshes, RFC 4028 §10:
 * interval - min(32 s, interval / 3)). sbc_stimer_refreshed() restarts it
 * after any successful re-INVITE or UPDATE on the dialog. */
#ifndef SBC_SESSION_TIMER_H
#define SBC_SESSION_TIMER_H

#include <stdbool.h>
#include <stddef.h>

#include <sofia-sip/sip.h>

#include "sbc/timers.h"

typedef struct sbc_stimer {
    unsigned interval_s;        /* 0 = no session timer on this dialog */
    bool we_refresh;            /* we are the refresher */
    bool peer_timer;            /* the peer supports the extension (Supported/Require: timer) */
    bool peer_update;           /* the peer allows UPDATE: refresh without SDP */
    bool refreshing;            /* refresh() was called; the end of the interval is armed */
    sbc_timer_t timer;
    void (*refresh)(void *arg);
    void (*expired)(void *arg);
    void *arg;
} sbc_stimer_t;

void sbc_stimer_init(sbc_stimer_t *t, sbc_clock_t *clock, void (*refresh)(void *arg),
                     void (*expired)(void *arg), void *arg);
void sbc_stimer_cleanup(sbc_stimer_t *t);

/* A request carrying Session-Expires below min_se_s must be answered 422
 * (RFC 4028 §9): returns 422 and writes "Min-SE: N\r\n" into hdrs, else 0.
 * Also 400 for an unparsable Session-Expires or one below Min-SE. */
int sbc_stimer_check_request(const sip_t *req, unsigned min_se_s, char *hdrs, size_t cap);

/* We are the UAS of an INVITE/UPDATE on this dialog: takes the interval
 * and refresher from the request (the peer's choice, or the peer when it
 * supports timers, else us) and writes the 2xx's Session-Expires/Require
 * lines into hdrs ("" when the request asked for no timer). Starts the timer. */
void sbc_stimer_uas(sbc_stimer_t *t, const sip_t *req, char *hdrs, size_t cap);

/* We are the UAC: the lines for our INVITE/UPDATE. For the first INVITE
 * se_s is our configured interval (0 = ask for none); for a refresh, the
 * dialog's own interval and refresher are repeated. */
void sbc_stimer_uac_headers(const sbc_stimer_t *t, unsigned se_s, unsigned min_se_s, char *hdrs, size_t cap);

/* The 2xx to our INVITE/UPDATE: interval and refresher from its
 * Session-Expires (none = no timer on the dialog, RFC 4028 §7.2). Starts or
 * restarts the timer. */
void sbc_stimer_uac_answered(sbc_stimer_t *t, const sip_t *resp);

/* A 422 to our request: the Min-SE to retry with, or 0 when there is none
 * usable (larger than what we asked). */
unsigned sbc_stimer_retry_after_422(const sip_t *resp, unsigned asked_s);

/* A successful refresh the dialog saw without renegotiating: restart. */
void sbc_stimer_refreshed(sbc_stimer_t *t);

/* Stops the timer (the dialog ends or is replaced). */
void sbc_stimer_stop(sbc_stimer_t *t);

/* Notes from a request or response of the peer whether it allows UPDATE. */
void sbc_stimer_peer_allow(sbc_stimer_t *t, const sip_t *sip);

#endif
