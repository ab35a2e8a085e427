/* Routing decisions from the config snapshot (ARCHITECTURE.md, Signalling):
 * carrier -> Teams by the source trunk and the called number's tenant;
 * Teams -> carrier by the tenant FQDN Teams addressed and its trunk. */
#ifndef SBC_ROUTE_H
#define SBC_ROUTE_H

#include <stdbool.h>
#include <sofia-sip/msg.h>

#include "config/config.h"
#include "sbc/hop.h"

typedef struct sbc_route {
    int status;                 /* 0 = route found; else the SIP code to answer */
    const char *phrase;         /* reason phrase for status */
    bool to_teams;              /* carrier -> Teams */
    const sbc_tenant_t *tenant;
    const sbc_trunk_t *trunk;
    char called[32];            /* E.164 with '+' */
    char calling[64];           /* E.164 with '+', or the From user as received */
} sbc_route_t;

/* Does the message come in on the Teams interface? */
bool sbc_route_from_teams(const sbc_config_t *c, const sbc_hop_t *src);
/* Carrier side: the trunk a source address belongs to, NULL = not allowed. */
const sbc_trunk_t *sbc_route_source_trunk(const sbc_config_t *c, const sbc_hop_t *src);
/* Decides where an initial INVITE goes. Always fills out; out->status != 0
 * means reject with that code (404 unknown number/tenant, 484 bad number,
 * 403 source not allowed). */
void sbc_route_initial(const sbc_config_t *c, msg_t *invite, const sbc_hop_t *src, sbc_route_t *out);

/* Maps a final failure received on one leg to the code sent on the other. */
int sbc_route_map_failure(int status, bool toward_teams);

#endif
