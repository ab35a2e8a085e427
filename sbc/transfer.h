/* Call transfer requested by Teams (RFC 3515 REFER, RFC 5589 §6 with Teams
 * as the transferor, RFC 3892 Referred-By; TEAMS.md §1.10, R27/R28).
 *
 * Model: the carrier leg stays up and keeps its media ports; the SBC places
 * a new INVITE toward the Teams proxy to the Refer-To URI, offering the
 * carrier's SDP through the call's media session. When that dialog answers,
 * it replaces the Teams leg: the old Teams dialog gets the final NOTIFY and
 * our BYE (or sends its own BYE first: either order works). On failure the
 * old dialog is told by NOTIFY and the call goes on as before.
 *
 * The transfer state hangs off the call (c->xfer); it is driven from
 * call.c's request/response hooks on the call's home worker. */
#ifndef SBC_TRANSFER_H
#define SBC_TRANSFER_H

#include <stdbool.h>

#include <jansson.h>
#include <sofia-sip/msg.h>

#include "sbc/call_int.h"

/* An in-dialog REFER received on `leg`: answers it (202, or 403/481/491/
 * 501/... with the reason) and starts the transfer. */
void sbc_transfer_on_refer(sbc_call_t *c, leg_t *leg, sbc_txn_t *st, msg_t *msg);

/* A response / failure of a client transaction: true when it was the
 * transfer's INVITE (then handled here). */
bool sbc_transfer_on_response(sbc_call_t *c, sbc_txn_t *ct, msg_t *msg);
bool sbc_transfer_on_failure(sbc_call_t *c, sbc_txn_t *ct, int status);

/* The leg of a To-tag that only the transfer knows (the replaced Teams
 * dialog, or the new one being set up), or NULL. */
leg_t *sbc_transfer_leg_by_tag(sbc_call_t *c, const char *tag);

/* A BYE on a Teams dialog the transfer involves: true when the call goes on
 * (the BYE ended only the transferor's dialog); the caller answers 200. */
bool sbc_transfer_on_bye(sbc_call_t *c, leg_t *leg);

/* A request on the replaced dialog other than BYE: true (answer 481). */
bool sbc_transfer_is_old_leg(const sbc_call_t *c, const leg_t *leg);

/* The transfer INVITE is out: other offer/answer exchanges wait (491). */
bool sbc_transfer_busy(const sbc_call_t *c);

/* The call is ending: cancel the transfer INVITE; its final answer is still
 * awaited (a 2xx that raced the CANCEL gets ACK and BYE). notify: the
 * transferor's dialog is still up and gets the final NOTIFY (487). */
void sbc_transfer_abort(sbc_call_t *c, bool notify);
/* A transfer INVITE has no final answer yet: the call must not be freed. */
bool sbc_transfer_pending(const sbc_call_t *c);

/* Frees the transfer state with the call (accepts c->xfer == NULL). */
void sbc_transfer_destroy(sbc_call_t *c);

/* Adds "transferred": {target, referred_by, status, at} to a CDR/list entry. */
void sbc_transfer_json(const sbc_call_t *c, json_t *o);

#endif
