/* B2BUA calls: two dialogs per call, each with its own Call-ID, tags, Via,
 * Contact and route set, so nothing of one side appears on the other.
 * Everything runs on the call's home worker; these are the transaction
 * layer's TU callbacks for that worker. */
#ifndef SBC_CALL_H
#define SBC_CALL_H

#include <jansson.h>
#include <sofia-sip/msg.h>

#include "sbc/hop.h"
#include "sbc/sig.h"
#include "sbc/txn.h"

void sbc_call_on_request(sbc_sig_t *s, sbc_txn_t *st, msg_t *msg, const sbc_hop_t *hop);
void sbc_call_on_response(sbc_sig_t *s, sbc_txn_t *ct, void *ctx, msg_t *msg, const sbc_hop_t *hop);
void sbc_call_on_timeout(sbc_sig_t *s, sbc_txn_t *ct, void *ctx);
void sbc_call_on_transport_error(sbc_sig_t *s, sbc_txn_t *ct, void *ctx);
void sbc_call_on_terminated(sbc_sig_t *s, sbc_txn_t *st, void *ctx, enum sbc_txn_end why);

/* The worker's live calls as a JSON array (for `sbcctl calls`): legs,
 * tenant, trunk, state, age and per-leg media counters. */
json_t *sbc_call_list_json(sbc_sig_t *s);

/* Drain timeout: hangs up every call of the worker (BYE on confirmed legs,
 * 503 to calls still being set up). */
void sbc_call_hangup_all(sbc_sig_t *s, const char *reason);

/* Shutdown: frees every call of the worker without signalling. */
void sbc_call_destroy_all(sbc_sig_t *s);

#endif
