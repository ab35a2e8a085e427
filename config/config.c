/* Loading a snapshot (config.h): YAML tree -> parse -> validate -> TLS
 * checks -> indexes; reference counting and the lookups. */
#include "config/arena.h"
#include "config/cidr.h"
#include "config/loader.h"
#include "config/numbers.h"
#include "config/yaml_tree.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sbc_loader_error(struct sbc_loader *ld, const struct sbc_ynode *at, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sbc_report_error(&ld->report, at ? at->file : NULL, at ? at->line : 0, "%s", msg);
}

static sbc_config_t *load(const char *path, const char *name, const char *base_dir,
                          const char *buf, size_t len, unsigned flags, sbc_diag_t *diag)
{
    struct sbc_arena *a = sbc_arena_create();
    struct sbc_loader ld = {
        .report = { .diag = diag },
        .a = a,
        .tree = sbc_arena_create(),
        .no_files = (flags & SBC_LOAD_NO_FILES) != 0,
    };
    sbc_config_t *c = sbc_arena_alloc(a, sizeof(*c));
    c->index = sbc_arena_alloc(a, sizeof(*c->index));
    c->index->arena = a;
    ld.cfg = c;

    struct sbc_ytree_ctx y = {
        .tree = ld.tree, .names = a, .report = &ld.report, .no_files = ld.no_files,
    };
    const struct sbc_ynode *root;
    if (path) {
        root = sbc_ytree_load_file(&y, path);
        c->path = sbc_arena_strdup(a, path);
    } else {
        root = sbc_ytree_load_buffer(&y, name, base_dir, buf ? buf : "", buf ? len : 0);
        c->path = sbc_arena_strdup(a, name ? name : "<buffer>");
    }
    if (root) {
        sbc_config_parse(&ld, root);
        sbc_config_validate(&ld);
        sbc_config_check_tls(&ld);
        if (ld.report.errors == 0)
            sbc_config_build_indexes(&ld);
    }
    sbc_config_tls_release(&ld);
    sbc_report_flush(&ld.report);
    sbc_arena_destroy(ld.tree);
    if (!root || ld.report.errors) {
        sbc_arena_destroy(a);
        return NULL;
    }
    c->refs = 1;
    return c;
}

sbc_config_t *sbc_config_load(const char *path, sbc_diag_t *diag)
{
    if (!path) {
        sbc_diag_add(diag, NULL, 0, "no configuration file given");
        return NULL;
    }
    return load(path, NULL, NULL, NULL, 0, 0, diag);
}

sbc_config_t *sbc_config_load_buffer(const char *name, const char *base_dir, const char *yaml,
                                     size_t len, sbc_diag_t *diag)
{
    return load(NULL, name, base_dir, yaml, len, 0, diag);
}

sbc_config_t *sbc_config_load_buffer_flags(const char *name, const char *base_dir,
                                           const char *yaml, size_t len, unsigned flags,
                                           sbc_diag_t *diag)
{
    return load(NULL, name, base_dir, yaml, len, flags, diag);
}

sbc_config_t *sbc_config_ref(sbc_config_t *c)
{
    if (c)
        __atomic_fetch_add(&c->refs, 1, __ATOMIC_RELAXED);
    return c;
}

void sbc_config_unref(sbc_config_t *c)
{
    if (!c)
        return;
    if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
        sbc_arena_destroy(c->index->arena);     /* the snapshot lives in its own arena */
}

/* ---- lookups ---- */

static bool map_get(const struct sbc_strmap *m, const char *s, uint32_t *idx)
{
    if (!s)
        return false;
    size_t len = strlen(s);
    return sbc_strmap_get(m, s, len, idx);
}

const sbc_tenant_t *sbc_config_tenant_by_fqdn(const sbc_config_t *c, const char *fqdn)
{
    uint32_t i;
    if (!c || !fqdn)
        return NULL;
    size_t len = strlen(fqdn);
    if (len && fqdn[len - 1] == '.')            /* absolute form from DNS or a header */
        len--;
    return sbc_strmap_get(&c->index->tenant_by_fqdn, fqdn, len, &i) ? &c->tenants[i] : NULL;
}

const sbc_tenant_t *sbc_config_tenant_by_id(const sbc_config_t *c, const char *id)
{
    uint32_t i;
    return c && map_get(&c->index->tenant_by_id, id, &i) ? &c->tenants[i] : NULL;
}

const sbc_tenant_t *sbc_config_tenant_by_name(const sbc_config_t *c, const char *name)
{
    uint32_t i;
    return c && map_get(&c->index->tenant_by_name, name, &i) ? &c->tenants[i] : NULL;
}

const sbc_tenant_t *sbc_config_tenant_by_number(const sbc_config_t *c, const char *e164)
{
    uint32_t i;
    return c && sbc_numindex_lookup(c->index->numbers, e164, &i) ? &c->tenants[i] : NULL;
}

const sbc_trunk_t *sbc_config_trunk_by_addr(const sbc_config_t *c, const struct sockaddr *sa)
{
    uint32_t i;
    return c && sbc_cidr_index_lookup(c->index->trunk_cidrs, sa, &i) ? &c->trunks[i] : NULL;
}

const sbc_trunk_t *sbc_config_trunk_by_name(const sbc_config_t *c, const char *name)
{
    uint32_t i;
    return c && map_get(&c->index->trunk_by_name, name, &i) ? &c->trunks[i] : NULL;
}

const sbc_interface_t *sbc_config_interface_by_name(const sbc_config_t *c, const char *name)
{
    uint32_t i;
    return c && map_get(&c->index->iface_by_name, name, &i) ? &c->interfaces[i] : NULL;
}
