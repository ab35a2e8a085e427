/* Rules across objects: names unique and references resolved, transports
 * consistent, tenant FQDNs one label under the base, numbers and trunk
 * source blocks not shared between owners. Builds the lookup maps on the
 * way and the number and CIDR indexes once everything passed. */
#include "config/arena.h"
#include "config/cidr.h"
#include "config/loader.h"
#include "config/numbers.h"
#include "config/yaml_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef const struct sbc_ynode ynode;

/* Inserts name -> idx; a duplicate is reported naming the first place. */
static void unique(struct sbc_loader *ld, struct sbc_strmap *m, const char *name, uint32_t idx,
                   const char *what, const sbc_where_t *here, const sbc_where_t *first_of,
                   size_t stride, ynode *at)
{
    uint32_t old;
    if (!name || sbc_strmap_put(m, name, idx, &old))
        return;
    const sbc_where_t *f = (const sbc_where_t *)((const char *)first_of + stride * old);
    if (at)
        sbc_loader_error(ld, at, "duplicate %s '%.64s' (first defined at %s:%d)", what, name,
                         f->file, f->line);
    else
        sbc_report_error(&ld->report, here->file, here->line, "duplicate %s '%.64s' (first defined at %s:%d)",
                         what, name, f->file, f->line);
}

static int cidr_owner_cmp(const void *pa, const void *pb)
{
    const struct sbc_cidr_entry *a = pa, *b = pb;
    if (a->cidr.family != b->cidr.family)
        return a->cidr.family < b->cidr.family ? -1 : 1;
    if (a->cidr.prefix != b->cidr.prefix)
        return a->cidr.prefix < b->cidr.prefix ? -1 : 1;
    int c = memcmp(a->cidr.addr, b->cidr.addr, 16);
    if (c)
        return c;
    return a->owner < b->owner ? -1 : a->owner > b->owner;
}

static const char *transport_name(unsigned bit)
{
    return bit == SBC_TP_UDP ? "udp" : bit == SBC_TP_TCP ? "tcp" : "tls";
}

static void check_interfaces(struct sbc_loader *ld)
{
    sbc_config_t *c = ld->cfg;
    struct sbc_config_index *ix = c->index;
    sbc_strmap_init(&ix->iface_by_name, ld->a, c->n_interfaces);
    for (size_t i = 0; i < c->n_interfaces; i++) {
        sbc_interface_t *f = &c->interfaces[i];
        unique(ld, &ix->iface_by_name, f->name, (uint32_t)i, "interface name", &f->where,
               &c->interfaces[0].where, sizeof(*f), NULL);
        if ((f->transports & SBC_TP_TLS) && !f->tls && f->name)
            sbc_report_error(&ld->report, f->where.file, f->where.line,
                             "interface '%s' offers transport tls but has no 'tls' section", f->name);
    }
}

static const sbc_interface_t *iface_ref(struct sbc_loader *ld, ynode *ref, const char *by)
{
    uint32_t i;
    if (!ref)
        return NULL;
    if (sbc_strmap_get(&ld->cfg->index->iface_by_name, ref->str, ref->len, &i))
        return &ld->cfg->interfaces[i];
    sbc_loader_error(ld, ref, "interface '%.64s' referenced by %s does not exist", ref->str, by);
    return NULL;
}

static void check_teams(struct sbc_loader *ld)
{
    sbc_teams_t *t = &ld->cfg->teams;
    t->interface = iface_ref(ld, ld->teams_iface_ref, "teams.interface");
    if (!t->interface)
        return;
    if (!(t->interface->transports & SBC_TP_TLS))
        sbc_loader_error(ld, ld->teams_iface_ref,
                         "teams interface '%s' must offer transport tls (Teams speaks SIP over TLS only)",
                         t->interface->name);
}

static void check_trunks(struct sbc_loader *ld)
{
    sbc_config_t *c = ld->cfg;
    struct sbc_config_index *ix = c->index;
    sbc_strmap_init(&ix->trunk_by_name, ld->a, c->n_trunks);
    size_t n_cidrs = 0;
    for (size_t i = 0; i < c->n_trunks; i++)
        n_cidrs += c->trunks[i].n_allow;
    ld->cidrs = sbc_arena_array(ld->tree, n_cidrs + 1, sizeof(*ld->cidrs));

    for (size_t i = 0; i < c->n_trunks; i++) {
        sbc_trunk_t *t = &c->trunks[i];
        unique(ld, &ix->trunk_by_name, t->name, (uint32_t)i, "trunk name", &t->where,
               &c->trunks[0].where, sizeof(*t), NULL);
        char by[96];
        snprintf(by, sizeof(by), "trunk '%s'", t->name ? t->name : "?");
        t->interface = iface_ref(ld, ld->trunk_iface_ref[i], by);
        if (t->interface) {
            for (size_t k = 0; k < t->n_targets; k++)
                if (t->targets[k].host && !(t->interface->transports & t->targets[k].transport))
                    sbc_report_error(&ld->report, t->where.file, t->where.line,
                                     "trunk '%s' target %s uses transport %s, which interface '%s' does not offer",
                                     t->name ? t->name : "?", t->targets[k].host,
                                     transport_name(t->targets[k].transport), t->interface->name);
        }
        for (size_t k = 0; k < t->n_allow; k++)
            ld->cidrs[ld->n_cidrs++] = (struct sbc_cidr_entry){ t->allow[k], (uint32_t)i };
    }

    /* A source block must name one trunk, or inbound calls would be ambiguous:
     * sort a copy and compare neighbours. */
    struct sbc_cidr_entry *e = sbc_arena_array(ld->tree, ld->n_cidrs + 1, sizeof(*e));
    memcpy(e, ld->cidrs, ld->n_cidrs * sizeof(*e));
    qsort(e, ld->n_cidrs, sizeof(*e), cidr_owner_cmp);
    for (size_t i = 1, first = 0; i < ld->n_cidrs; i++) {
        if (!sbc_cidr_equal(&e[i].cidr, &e[first].cidr)) {
            first = i;
            continue;
        }
        if (e[i].owner == e[first].owner || e[i].owner == e[i - 1].owner)
            continue;
        const sbc_trunk_t *t = &c->trunks[e[i].owner], *o = &c->trunks[e[first].owner];
        char net[64];
        sbc_cidr_format(&e[i].cidr, net, sizeof(net));
        sbc_report_error(&ld->report, t->where.file, t->where.line,
                         "allow %s of trunk '%s' already belongs to trunk '%s' (%s:%d)", net,
                         t->name ? t->name : "?", o->name ? o->name : "?", o->where.file, o->where.line);
    }
}

static void on_overlap(void *arg, const struct sbc_num_entry *earlier, const struct sbc_num_entry *later)
{
    struct sbc_loader *ld = arg;
    ynode *a = ld->num_nodes[earlier->ref], *b = ld->num_nodes[later->ref];
    const sbc_tenant_t *ta = &ld->cfg->tenants[earlier->owner], *tb = &ld->cfg->tenants[later->owner];
    sbc_loader_error(ld, b, "number '%s' of tenant '%s' overlaps '%s' of tenant '%s' (%s:%d)", b->str,
                     tb->name ? tb->name : "?", a->str, ta->name ? ta->name : "?", a->file, a->line);
}

static void check_tenants(struct sbc_loader *ld)
{
    sbc_config_t *c = ld->cfg;
    struct sbc_config_index *ix = c->index;
    sbc_strmap_init(&ix->tenant_by_name, ld->a, c->n_tenants);
    sbc_strmap_init(&ix->tenant_by_fqdn, ld->a, c->n_tenants);
    sbc_strmap_init(&ix->tenant_by_id, ld->a, c->n_tenants);
    const char *base = c->teams.base_fqdn;
    size_t base_len = base ? strlen(base) : 0;

    size_t n_nums = 0;
    for (size_t i = 0; i < c->n_tenants; i++)
        n_nums += c->tenants[i].n_numbers;
    ld->nums = sbc_arena_array(ld->tree, n_nums + 1, sizeof(*ld->nums));
    ld->num_nodes = sbc_arena_array(ld->tree, n_nums + 1, sizeof(*ld->num_nodes));

    for (size_t i = 0; i < c->n_tenants; i++) {
        sbc_tenant_t *t = &c->tenants[i];
        const size_t st = sizeof(*t);
        unique(ld, &ix->tenant_by_name, t->name, (uint32_t)i, "tenant name", &t->where,
               &c->tenants[0].where, st, NULL);
        if (t->fqdn) {
            /* the FQDN's first place is the tenant's own line, as for names */
            unique(ld, &ix->tenant_by_fqdn, t->fqdn, (uint32_t)i, "tenant fqdn", &t->where,
                   &c->tenants[0].where, st, ld->tenant_fqdn_node[i]);
            size_t fl = strlen(t->fqdn);
            const char *dot = strchr(t->fqdn, '.');
            if (base && !(fl > base_len + 1 && dot == t->fqdn + (fl - base_len - 1) &&
                          strcmp(dot + 1, base) == 0))
{
                sbc_loader_error(ld, ld->tenant_fqdn_node[i],
                                 "tenant fqdn '%s' is not one label under teams.base_fqdn '%s'", t->fqdn,
                                 base);
                ld->tenant_fqdn_node[i] = NULL;     /* one message is enough */
            }
        }
        if (t->id)
            unique(ld, &ix->tenant_by_id, t->id, (uint32_t)i, "tenant id", &t->where,
                   &c->tenants[0].where, st, ld->tenant_id_node[i]);

        ynode *ref = ld->tenant_trunk_ref[i];
        uint32_t ti;
        if (ref) {
            if (sbc_strmap_get(&ix->trunk_by_name, ref->str, ref->len, &ti))
                t->trunk = &c->trunks[ti];
            else
                sbc_loader_error(ld, ref, "trunk '%.64s' referenced by tenant '%s' does not exist",
                                 ref->str, t->name ? t->name : "?");
        }

        /* Only numbers that parsed were kept; match them to their nodes. */
        ynode *nl = ld->tenant_numbers[i];
        size_t k = 0;
        for (size_t j = 0; nl && j < nl->n && k < t->n_numbers; j++) {
            ynode *it = nl->items[j];
            if (it->kind != SBC_Y_SCALAR || strcmp(it->str, t->numbers[k]) != 0)
                continue;
            struct sbc_num_entry *e = &ld->nums[ld->n_nums];
            sbc_numspec_parse(t->numbers[k], &e->spec);
            e->owner = (uint32_t)i;
            e->ref = (uint32_t)ld->n_nums;
            ld->num_nodes[ld->n_nums++] = it;
            k++;
        }
    }
    sbc_num_overlaps(ld->nums, ld->n_nums, on_overlap, ld);
}

void sbc_config_validate(struct sbc_loader *ld)
{
    check_interfaces(ld);
    check_teams(ld);
    check_trunks(ld);
    check_tenants(ld);
}

void sbc_config_build_indexes(struct sbc_loader *ld)
{
    struct sbc_config_index *ix = ld->cfg->index;
    ix->numbers = sbc_numindex_build(ld->a, ld->nums, ld->n_nums);
    ix->trunk_cidrs = sbc_cidr_index_build(ld->a, ld->cidrs, ld->n_cidrs);
}
