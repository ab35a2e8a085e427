/* What a reload changes (config.h: sbc_config_diff). Listening sockets and
 * the worker count are fixed at start; everything else applies live. */
#include "config/config.h"

#include <string.h>

static bool streq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool cidrs_eq(const sbc_cidr_t *a, size_t na, const sbc_cidr_t *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (a[i].family != b[i].family || a[i].prefix != b[i].prefix ||
            memcmp(a[i].addr, b[i].addr, 16) != 0)
            return false;
    return true;
}

static bool tls_eq(const sbc_tls_conf_t *a, const sbc_tls_conf_t *b)
{
    if (!a || !b)
        return a == b;
    return streq(a->certificate, b->certificate) && streq(a->private_key, b->private_key) &&
           streq(a->ca_file, b->ca_file) && a->min_version == b->min_version &&
           memcmp(a->certificate_sha256, b->certificate_sha256, 32) == 0 &&
           memcmp(a->private_key_sha256, b->private_key_sha256, 32) == 0 &&
           memcmp(a->ca_file_sha256, b->ca_file_sha256, 32) == 0;
}

static const char *name_of(const void *obj)
{
    return obj ? *(const char *const *)obj : NULL;  /* name is the first member */
}

static bool listeners_eq(const sbc_interface_t *a, const sbc_interface_t *b)
{
    return streq(a->sip_address, b->sip_address) && a->sip_port == b->sip_port &&
           a->transports == b->transports;
}

static bool interface_eq(const sbc_interface_t *a, const sbc_interface_t *b)
{
    return listeners_eq(a, b) && streq(a->advertise, b->advertise) &&
           streq(a->media_address, b->media_address) && a->media_port_min == b->media_port_min &&
           a->media_port_max == b->media_port_max &&
           cidrs_eq(a->allow, a->n_allow, b->allow, b->n_allow) && tls_eq(a->tls, b->tls);
}

static bool teams_eq(const sbc_teams_t *a, const sbc_teams_t *b)
{
    if (!streq(name_of(a->interface), name_of(b->interface)) || !streq(a->base_fqdn, b->base_fqdn) ||
        a->n_proxies != b->n_proxies || a->options_interval_ms != b->options_interval_ms ||
        a->failover_timeout_ms != b->failover_timeout_ms ||
        a->srtp != b->srtp || !streq(a->user_agent, b->user_agent))
        return false;
    for (size_t i = 0; i < a->n_proxies; i++)
        if (!streq(a->proxies[i].host, b->proxies[i].host) || a->proxies[i].port != b->proxies[i].port ||
            !streq(a->proxies[i].address, b->proxies[i].address))
            return false;
    return true;
}

static bool trunk_eq(const sbc_trunk_t *a, const sbc_trunk_t *b)
{
    if (!streq(name_of(a->interface), name_of(b->interface)) || a->n_targets != b->n_targets ||
        !cidrs_eq(a->allow, a->n_allow, b->allow, b->n_allow) || a->to_trunk != b->to_trunk ||
        a->from_trunk != b->from_trunk || strcmp(a->country_code, b->country_code) != 0 ||
        a->media_srtp != b->media_srtp || a->max_calls != b->max_calls || a->max_cps != b->max_cps ||
        a->options_interval_ms != b->options_interval_ms || a->failover_timeout_ms != b->failover_timeout_ms)
        return false;
    for (size_t i = 0; i < a->n_targets; i++) {
        const sbc_target_t *x = &a->targets[i], *y = &b->targets[i];
        if (!streq(x->host, y->host) || x->port != y->port || x->transport != y->transport ||
            x->priority != y->priority || x->weight != y->weight)
            return false;
    }
    return true;
}

static bool tenant_eq(const sbc_tenant_t *a, const sbc_tenant_t *b)
{
    if (!streq(a->id, b->id) || !streq(a->fqdn, b->fqdn) ||
        !streq(name_of(a->trunk), name_of(b->trunk)) || a->n_numbers != b->n_numbers ||
        a->max_calls != b->max_calls)
        return false;
    for (size_t i = 0; i < a->n_numbers; i++)
        if (strcmp(a->numbers[i], b->numbers[i]) != 0)
            return false;
    return true;
}

/* The old file at the same path, by content hash; NULL when none. */
static const uint8_t *old_file_hash(const sbc_config_t *old, const char *path)
{
    for (size_t i = 0; old && i < old->n_interfaces; i++) {
        const sbc_tls_conf_t *t = old->interfaces[i].tls;
        if (!t)
            continue;
        if (streq(t->certificate, path))
            return t->certificate_sha256;
        if (streq(t->private_key, path))
            return t->private_key_sha256;
        if (t->ca_file && streq(t->ca_file, path))
            return t->ca_file_sha256;
    }
    return NULL;
}

static bool path_seen_before(const sbc_config_t *c, size_t upto_iface, int upto_slot, const char *path)
{
    for (size_t i = 0; i <= upto_iface; i++) {
        const sbc_tls_conf_t *t = c->interfaces[i].tls;
        if (!t)
            continue;
        const char *slots[3] = { t->certificate, t->private_key, t->ca_file };
        for (int s = 0; s < 3 && (i < upto_iface || s < upto_slot); s++)
            if (streq(slots[s], path))
                return true;
    }
    return false;
}

static void diff_certificates(const sbc_config_t *old, const sbc_config_t *nw, sbc_diag_t *out)
{
    for (size_t i = 0; i < nw->n_interfaces; i++) {
        const sbc_tls_conf_t *t = nw->interfaces[i].tls;
        if (!t)
            continue;
        const char *paths[3] = { t->certificate, t->private_key, t->ca_file };
        const uint8_t *hashes[3] = { t->certificate_sha256, t->private_key_sha256, t->ca_file_sha256 };
        for (int s = 0; s < 3; s++) {
            if (!paths[s] || path_seen_before(nw, i, s, paths[s]))
                continue;
            const uint8_t *h = old_file_hash(old, paths[s]);
            if (!h || memcmp(h, hashes[s], 32) != 0)
                sbc_diag_add(out, NULL, 0, "certificate changed: %s", paths[s]);
        }
    }
}

void sbc_config_diff(const sbc_config_t *old, const sbc_config_t *nw, sbc_diag_t *out)
{
    if (!nw || !out)
        return;
    if (old) {
        if (old->node.workers != nw->node.workers)
            sbc_diag_add(out, NULL, 0, "restart needed: node.workers");
        if (!streq(old->node.control_socket, nw->node.control_socket))
            sbc_diag_add(out, NULL, 0, "restart needed: node.control_socket");
        if (!streq(old->node.metrics_listen, nw->node.metrics_listen))
            sbc_diag_add(out, NULL, 0, "restart needed: node.metrics_listen");
        if (!streq(old->node.name, nw->node.name) || !streq(old->node.cdr_file, nw->node.cdr_file) ||
            old->node.log_level != nw->node.log_level || old->node.log_format != nw->node.log_format ||
            old->node.drain_timeout_ms != nw->node.drain_timeout_ms ||
            old->node.media_timeout_ms != nw->node.media_timeout_ms || old->node.media_batch_ms != nw->node.media_batch_ms ||
            old->node.session_expires_ms != nw->node.session_expires_ms || old->node.min_se_ms != nw->node.min_se_ms)
            sbc_diag_add(out, NULL, 0, "node changed");
    }

    for (size_t i = 0; i < nw->n_interfaces; i++) {
        const sbc_interface_t *n = &nw->interfaces[i];
        const sbc_interface_t *o = sbc_config_interface_by_name(old, n->name);
        if (!o) {
            sbc_diag_add(out, NULL, 0, "interface added: %s", n->name);
            if (old)
                sbc_diag_add(out, NULL, 0, "restart needed: interface %s sip address/port/transports", n->name);
        } else if (!interface_eq(o, n)) {
            sbc_diag_add(out, NULL, 0, "interface changed: %s", n->name);
            if (!listeners_eq(o, n))
                sbc_diag_add(out, NULL, 0, "restart needed: interface %s sip address/port/transports", n->name);
        }
    }
    for (size_t i = 0; old && i < old->n_interfaces; i++)
        if (!sbc_config_interface_by_name(nw, old->interfaces[i].name)) {
            sbc_diag_add(out, NULL, 0, "interface removed: %s", old->interfaces[i].name);
            sbc_diag_add(out, NULL, 0, "restart needed: interface %s sip address/port/transports",
                         old->interfaces[i].name);
        }

    if (!old || !teams_eq(&old->teams, &nw->teams))
        sbc_diag_add(out, NULL, 0, "teams changed");

    for (size_t i = 0; i < nw->n_trunks; i++) {
        const sbc_trunk_t *o = sbc_config_trunk_by_name(old, nw->trunks[i].name);
        if (!o)
            sbc_diag_add(out, NULL, 0, "trunk added: %s", nw->trunks[i].name);
        else if (!trunk_eq(o, &nw->trunks[i]))
            sbc_diag_add(out, NULL, 0, "trunk changed: %s", nw->trunks[i].name);
    }
    for (size_t i = 0; old && i < old->n_trunks; i++)
        if (!sbc_config_trunk_by_name(nw, old->trunks[i].name))
            sbc_diag_add(out, NULL, 0, "trunk removed: %s", old->trunks[i].name);

    for (size_t i = 0; i < nw->n_tenants; i++) {
        const sbc_tenant_t *o = sbc_config_tenant_by_name(old, nw->tenants[i].name);
        if (!o)
            sbc_diag_add(out, NULL, 0, "tenant added: %s", nw->tenants[i].name);
        else if (!tenant_eq(o, &nw->tenants[i]))
            sbc_diag_add(out, NULL, 0, "tenant changed: %s", nw->tenants[i].name);
    }
    for (size_t i = 0; old && i < old->n_tenants; i++)
        if (!sbc_config_tenant_by_name(nw, old->tenants[i].name))
            sbc_diag_add(out, NULL, 0, "tenant removed: %s", old->tenants[i].name);

    diff_certificates(old, nw, out);
}
