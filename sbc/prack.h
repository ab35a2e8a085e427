/* Reliable provisional responses (RFC 3262: 100rel, RSeq, PRACK/RAck),
 * terminated on each leg of the B2BUA: a PRACK is answered or sent by the
 * SBC on its own leg and never relayed, and Require: 100rel, RSeq and RAck of
 * one leg never appear on the other.
 *
 * As UAS (leg A, whose INVITE has Require: 100rel): every 18x toward A
 * carries Require: 100rel and an RSeq (random start in 1..2^31-1, +1 each)
 * and is retransmitted over UDP at T1, 2*T1, 4*T1, ... until its PRACK. One
 * is outstanding at a time; later ones wait in order (one that repeats the
 * last status without SDP is dropped: it says nothing new). A 2xx waits for
 * the PRACK of an outstanding 18x that carried SDP (§3); other finals go at
 * once. No PRACK within 64*T1: A gets 500 and the call ends.
 *
 * As UAC (leg B, toward a peer that sends reliable 18x): each new in-order
 * reliable 18x is PRACKed in its early dialog (Request-URI from its Contact,
 * route set from its Record-Route, RAck = RSeq + INVITE CSeq) and relayed to
 * A once; retransmissions and RSeq gaps are neither PRACKed nor relayed.
 *
 * The state hangs off the call (c->prack), made on first use; everything
 * runs on the call's home worker. */
#ifndef SBC_PRACK_H
#define SBC_PRACK_H

#include <stdbool.h>
#include <stddef.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>

#include "sbc/call_int.h"

/* ---- the SBC as UAS on leg A ------------------------------------------------ */

/* A's INVITE: when it requires 100rel, 18x toward A become reliable. */
void sbc_prack_uas_init(sbc_call_t *c, const sip_t *invite);

/* An 18x for A: true when leg A is reliable and the 18x was sent (or queued
 * or dropped) here; false: the caller sends it as usual. */
bool sbc_prack_uas_provisional(sbc_call_t *c, int status, const char *phrase, const char *ctype, const char *body,
                               size_t blen);

/* A 2xx for A (taken over when true) that must wait for the PRACK of an
 * outstanding 18x with SDP; call_send_final_a() sends it when that comes. */
bool sbc_prack_uas_hold_2xx(sbc_call_t *c, msg_t *resp);

/* A final response goes to A now: no more retransmissions, queued 18x and a
 * held 2xx dropped; a PRACK for the 18x left unacknowledged still gets 200. */
void sbc_prack_uas_final(sbc_call_t *c);

/* A PRACK received on one of the call's legs: answered here (200, 481, 488). */
void sbc_prack_on_request(sbc_call_t *c, leg_t *leg, sbc_txn_t *st, msg_t *msg);

/* ---- the SBC as UAC on leg B ------------------------------------------------ */

/* A 101-199 to our INVITE on leg B: PRACKs it when reliable. True when it
 * must be relayed to A (unreliable, or a new in-order reliable one). */
bool sbc_prack_uac_provisional(sbc_call_t *c, msg_t *msg);

/* Our INVITE goes to another target: the early dialogs of the last are gone. */
void sbc_prack_uac_reset(sbc_call_t *c);

/* A response / failure of a client transaction: true when it was a PRACK of ours. */
bool sbc_prack_on_response(sbc_call_t *c, sbc_txn_t *ct, msg_t *msg);
bool sbc_prack_on_failure(sbc_call_t *c, sbc_txn_t *ct, int status);

/* Frees the state with the call (accepts c->prack == NULL). */
void sbc_prack_destroy(sbc_call_t *c);

#endif
