/* OPTIONS keep-alive toward the Teams proxies (TEAMS.md §1.5, R10/R11) and
 * health checks of trunk targets (trunks[].options_interval). One pinger per
 * node, on worker 0; results go to the shared health table (sbc/health.h),
 * which failover ordering and sbcctl read. */
#ifndef SBC_OPTIONS_H
#define SBC_OPTIONS_H

#include <stdbool.h>

#include "sbc/sig.h"

typedef struct sbc_options sbc_options_t;

sbc_options_t *sbc_options_create(sbc_sig_t *s);
void sbc_options_destroy(sbc_options_t *o);

/* Transaction callbacks for the pinger's client transactions. */
bool sbc_options_owns(const sbc_options_t *o, const void *ctx);
void sbc_options_on_final(sbc_options_t *o, void *ctx, int status);

#endif
