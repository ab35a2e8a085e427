/* Routing: lookups only, no state. */
#include "sbc/route.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>

#include "sbc/numbers.h"

bool sbc_route_from_teams(const sbc_config_t *c, const sbc_hop_t *src)
{
    return src->iface && c->teams.interface && strcmp(src->iface->name, c->teams.interface->name) == 0;
}

const sbc_trunk_t *sbc_route_source_trunk(const sbc_config_t *c, const sbc_hop_t *src)
{
    return sbc_config_trunk_by_addr(c, (const struct sockaddr *)&src->peer);
}

static void reject(sbc_route_t *r, int status, const char *phrase)
{
    r->status = status;
    r->phrase = phrase;
}

/* The tenant Teams addressed: Request-URI host, then To host (R19). */
static const sbc_tenant_t *tenant_of_teams_request(const sbc_config_t *c, const sip_t *sip)
{
    const sbc_tenant_t *t = NULL;
    if (sip->sip_request->rq_url->url_host)
        t = sbc_config_tenant_by_fqdn(c, sip->sip_request->rq_url->url_host);
    if (!t && sip->sip_to && sip->sip_to->a_url->url_host)
        t = sbc_config_tenant_by_fqdn(c, sip->sip_to->a_url->url_host);
    return t;
}

/* Teams sends E.164 with '+'; tolerate a missing '+' (R15 is about what we send). */
static int teams_number(const char *user, char *out, size_t cap)
{
    if (!user)
        return -1;
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%s%s", user[0] == '+' ? "" : "+", user);
    char *semi = strchr(tmp, ';');   /* tel-style parameters in the user part */
    if (semi)
        *semi = '\0';
    if (!sbc_numbers_is_e164(tmp))
        return -1;
    snprintf(out, cap, "%.31s", tmp);   /* validated E.164: at most 16 characters */
    return 0;
}

void sbc_route_initial(const sbc_config_t *c, msg_t *invite, const sbc_hop_t *src, sbc_route_t *r)
{
    memset(r, 0, sizeof *r);
    sip_t *sip = sip_object(invite);
    const char *ruser = sip->sip_request->rq_url->url_user;
    const char *fuser = sip->sip_from ? sip->sip_from->a_url->url_user : NULL;

    if (sbc_route_from_teams(c, src)) {
        r->to_teams = false;
        r->tenant = tenant_of_teams_request(c, sip);
        if (!r->tenant)
            return reject(r, 404, "Not Found (unknown tenant)");
        r->trunk = r->tenant->trunk;
        if (teams_number(ruser, r->called, sizeof r->called) < 0)
            return reject(r, 484, "Address Incomplete");
        if (teams_number(fuser, r->calling, sizeof r->calling) < 0)
            snprintf(r->calling, sizeof r->calling, "%s", fuser ? fuser : "anonymous");
        return;
    }

    r->to_teams = true;
    r->trunk = sbc_route_source_trunk(c, src);
    if (!r->trunk)
        return reject(r, 403, "Forbidden");
    if (!ruser || sbc_numbers_from_trunk(r->trunk, ruser, r->called, sizeof r->called) < 0)
        return reject(r, 484, "Address Incomplete");
    r->tenant = sbc_config_tenant_by_number(c, r->called);
    if (!r->tenant)
        return reject(r, 404, "Not Found");
    if (!fuser || sbc_numbers_from_trunk(r->trunk, fuser, r->calling, sizeof r->calling) < 0)
        snprintf(r->calling, sizeof r->calling, "%s", fuser ? fuser : "anonymous");
}

int sbc_route_map_failure(int status, bool toward_teams)
{
    if (status < 300 || status > 699)
        return 500;
    if (status < 400)
        return 480;             /* redirects are not followed; their Contact must not cross */
    if (status == 401 || status == 407)
        return 403;             /* a challenge from one side means nothing to the other */
    return status;
}
