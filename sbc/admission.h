/* Call admission: concurrent calls and calls per second per tenant and per
 * trunk, node-wide (all workers share the counters; atomics, no locks).
 * Counters are keyed by name, so they survive reloads: a call admitted under
 * one snapshot is released under whichever is current when it ends. */
#ifndef SBC_ADMISSION_H
#define SBC_ADMISSION_H

#include <stdint.h>

typedef struct sbc_adm_slot sbc_adm_slot_t;

enum sbc_adm_result { SBC_ADM_OK = 0, SBC_ADM_MAX_CALLS, SBC_ADM_MAX_CPS, SBC_ADM_FULL };

/* The slot of ("tenant"|"trunk", name), created on first use; NULL when the
 * table is full (65,536 names). */
sbc_adm_slot_t *sbc_admission_slot(const char *kind, const char *name);
/* Counts a new call unless max_calls (0 = no limit) or max_cps (per whole
 * second of now_s) is reached. */
enum sbc_adm_result sbc_admission_try(sbc_adm_slot_t *s, uint32_t max_calls, uint32_t max_cps, uint64_t now_s);
void sbc_admission_release(sbc_adm_slot_t *s);
uint32_t sbc_admission_calls(const sbc_adm_slot_t *s);

#endif
