/* Parse tree -> sbc_config_t: every key of CONFIG.md, its type, its
 * default and its syntax. Cross-object rules (references, uniqueness,
 * overlaps, certificates) are validate.c's and tls_check.c's. Parsing
 * goes on after an error so that one run reports every mistake. */
#include "config/arena.h"
#include "config/cidr.h"
#include "config/loader.h"
#include "config/numbers.h"
#include "config/values.h"
#include "config/yaml_tree.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SBC_VERSION
#define SBC_VERSION "0"
#endif

#define MAX_WORKERS 256
#define DEFAULT_CONTROL_SOCKET "/run/sbc/sbc.sock"

typedef const struct sbc_ynode ynode;

/* ---- generic field access ---- */

static void check_keys(struct sbc_loader *ld, ynode *map, const char *what, const char *const *valid)
{
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        ynode *k = map->items[i];
        bool ok = false;
        for (const char *const *v = valid; *v && !ok; v++)
            ok = strcmp(k->str, *v) == 0;
        if (ok)
            continue;
        char list[512] = "";
        size_t used = 0;
        for (const char *const *v = valid; *v && used < sizeof(list); v++)
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", v == valid ? "" : ", ", *v);
        sbc_loader_error(ld, k, "unknown key '%.64s' in %s (valid: %s)", k->str, what, list);
    }
}

static bool want_kind(struct sbc_loader *ld, ynode *n, enum sbc_ykind kind, const char *key)
{
    if (n->kind == kind)
        return true;
    sbc_loader_error(ld, n, "'%s' must be %s, not %s", key, sbc_ykind_name(kind),
                     sbc_ykind_name(n->kind));
    return false;
}

/* The value of key with the wanted kind, or NULL (absent, null or wrong). */
static ynode *field(struct sbc_loader *ld, ynode *map, const char *key, enum sbc_ykind kind,
                    bool required, const char *what)
{
    ynode *v = sbc_ynode_get(map, key);
    if (!v) {
        if (required)
            sbc_loader_error(ld, map, "missing required key '%s' in %s", key, what);
        return NULL;
    }
    return want_kind(ld, v, kind, key) ? v : NULL;
}

static char *str_field(struct sbc_loader *ld, ynode *map, const char *key, bool required,
                       const char *what)
{
    ynode *v = field(ld, map, key, SBC_Y_SCALAR, required, what);
    return v ? sbc_arena_strndup(ld->a, v->str, v->len) : NULL;
}

static void duration_field(struct sbc_loader *ld, ynode *map, const char *key, uint32_t *ms)
{
    ynode *v = field(ld, map, key, SBC_Y_SCALAR, false, NULL);
    if (v && !sbc_parse_duration_ms(v->str, ms))
        sbc_loader_error(ld, v, "bad duration '%.64s' for '%s' (use e.g. 500ms, 60s, 2m, 1h)",
                         v->str, key);
}

static void uint_field(struct sbc_loader *ld, ynode *map, const char *key, uint64_t min,
                       uint64_t max, uint64_t *out)
{
    ynode *v = field(ld, map, key, SBC_Y_SCALAR, false, NULL);
    if (v && !sbc_parse_uint(v->str, min, max, out))
        sbc_loader_error(ld, v, "bad value '%.64s' for '%s' (use an integer from %llu to %llu)",
                         v->str, key, (unsigned long long)min, (unsigned long long)max);
}

static void u32_field(struct sbc_loader *ld, ynode *map, const char *key, uint32_t *out)
{
    uint64_t v = *out;
    uint_field(ld, map, key, 0, UINT32_MAX, &v);
    *out = (uint32_t)v;
}

static void port_field(struct sbc_loader *ld, ynode *map, const char *key, uint16_t *port)
{
    ynode *v = field(ld, map, key, SBC_Y_SCALAR, false, NULL);
    if (v && !sbc_parse_port(v->str, port))
        sbc_loader_error(ld, v, "bad port '%.64s' for '%s' (use 1-65535)", v->str, key);
}

/* names: NULL-terminated; *out is left alone when the key is absent. */
static void enum_field(struct sbc_loader *ld, ynode *map, const char *key,
                       const char *const *names, int *out)
{
    ynode *v = field(ld, map, key, SBC_Y_SCALAR, false, NULL);
    if (!v)
        return;
    for (int i = 0; names[i]; i++)
        if (strcmp(v->str, names[i]) == 0) {
            *out = i;
            return;
        }
    char list[256] = "";
    size_t used = 0;
    for (int i = 0; names[i] && used < sizeof(list); i++)
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", names[i]);
    sbc_loader_error(ld, v, "bad value '%.64s' for '%s' (use one of: %s)", v->str, key, list);
}

static char *ip_field(struct sbc_loader *ld, ynode *map, const char *key, bool required,
                      const char *what)
{
    ynode *v = field(ld, map, key, SBC_Y_SCALAR, required, what);
    if (!v)
        return NULL;
    int family;
    uint8_t addr[16];
    if (!sbc_parse_ip(v->str, &family, addr)) {
        sbc_loader_error(ld, v, "bad address '%.64s' for '%s' (use an IPv4 or IPv6 literal)",
                         v->str, key);
        return NULL;
    }
    return sbc_arena_strndup(ld->a, v->str, v->len);
}

/* A file path; relative paths resolve against the naming file's directory. */
static char *path_field(struct sbc_loader *ld, ynode *map, const char *key, bool required,
                        const char *what)
{
    ynode *v = field(ld, map, key, SBC_Y_SCALAR, required, what);
    if (!v)
        return NULL;
    if (v->str[0] == '/')
        return sbc_arena_strndup(ld->a, v->str, v->len);
    return sbc_arena_printf(ld->a, "%s/%s", v->dir, v->str);
}

/* Names of interfaces, trunks and tenants appear in logs, metrics labels
 * and CLI output: keep them to a safe alphabet. */
static char *name_field(struct sbc_loader *ld, ynode *map, const char *what)
{
    ynode *v = field(ld, map, "name", SBC_Y_SCALAR, true, what);
    if (!v)
        return NULL;
    bool ok = v->len > 0 && v->len <= 64;
    for (size_t i = 0; ok && i < v->len; i++)
        ok = isalnum((unsigned char)v->str[i]) || strchr("-_.", v->str[i]);
    if (!ok) {
        sbc_loader_error(ld, v, "bad %s name '%.64s' (use 1-64 letters, digits, '-', '_', '.')",
                         what, v->str);
        return NULL;
    }
    return sbc_arena_strndup(ld->a, v->str, v->len);
}

static void cidr_list(struct sbc_loader *ld, ynode *map, const char *key, sbc_cidr_t **out,
                      size_t *n_out)
{
    ynode *l = field(ld, map, key, SBC_Y_SEQ, false, NULL);
    *out = NULL;
    *n_out = 0;
    if (!l)
        return;
    *out = sbc_arena_array(ld->a, l->n ? l->n : 1, sizeof(**out));
    for (size_t i = 0; i < l->n; i++) {
        ynode *it = l->items[i];
        if (!want_kind(ld, it, SBC_Y_SCALAR, key))
            continue;
        sbc_cidr_t c;
        enum sbc_cidr_result r = sbc_cidr_parse(it->str, &c);
        if (r == SBC_CIDR_SYNTAX) {
            sbc_loader_error(ld, it, "bad CIDR '%.64s' (use address/prefix, e.g. 10.0.0.0/24)", it->str);
            continue;
        }
        if (r == SBC_CIDR_HOST_BITS) {
            char net[64];
            sbc_cidr_t m = c;
            /* name the network the operator probably meant */
            for (unsigned b = m.prefix; b < (m.family == AF_INET ? 32u : 128u); b++)
                m.addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
            sbc_cidr_format(&m, net, sizeof(net));
            sbc_loader_error(ld, it, "bad CIDR '%.64s': host bits are set (network is %s)", it->str, net);
            continue;
        }
        (*out)[(*n_out)++] = c;
    }
}

static unsigned transport_bit(const char *s)
{
    if (strcmp(s, "udp") == 0)
        return SBC_TP_UDP;
    if (strcmp(s, "tcp") == 0)
        return SBC_TP_TCP;
    if (strcmp(s, "tls") == 0)
        return SBC_TP_TLS;
    return 0;
}

/* ---- node ---- */

static const char *const LEVELS[] = { "error", "warn", "info", "debug", NULL };
static const char *const FORMATS[] = { "text", "json", NULL };
static const char *const SRTP_MODES[] = { "off", "optional", "required", NULL };
static const char *const NUMFMTS[] = { "e164", "international", "national", NULL };

static void parse_node(struct sbc_loader *ld, ynode *m)
{
    static const char *const keys[] = { "name", "workers", "control_socket", "metrics_listen",
                                        "cdr_file", "log", "drain_timeout", "media_timeout",
                                        "session_expires", "min_se", "media_batch", NULL };
    sbc_node_t *n = &ld->cfg->node;
    check_keys(ld, m, "node", keys);
    n->name = str_field(ld, m, "name", true, "node");

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    n->workers = cpus < 1 ? 1 : cpus > MAX_WORKERS ? MAX_WORKERS : (int)cpus;
    ynode *w = field(ld, m, "workers", SBC_Y_SCALAR, false, NULL);
    uint64_t wn;
    if (w && strcmp(w->str, "auto") != 0) {
        if (sbc_parse_uint(w->str, 1, MAX_WORKERS, &wn))
            n->workers = (int)wn;
        else
            sbc_loader_error(ld, w, "bad value '%.64s' for 'workers' (use auto or 1-%d)", w->str,
                             MAX_WORKERS);
    }

    n->control_socket = str_field(ld, m, "control_socket", false, "node");
    if (!n->control_socket)
        n->control_socket = sbc_arena_strdup(ld->a, DEFAULT_CONTROL_SOCKET);
    ynode *ml = field(ld, m, "metrics_listen", SBC_Y_SCALAR, false, NULL);
    if (ml) {
        char host[256];
        uint16_t port;
        if (!sbc_parse_hostport(ml->str, 0, host, sizeof(host), &port) || port == 0)
            sbc_loader_error(ld, ml, "bad address '%.64s' for 'metrics_listen' (use host:port)", ml->str);
        else
            n->metrics_listen = sbc_arena_strndup(ld->a, ml->str, ml->len);
    }
    n->cdr_file = path_field(ld, m, "cdr_file", false, "node");

    n->log_level = SBC_LOG_INFO;
    n->log_format = SBC_LOG_TEXT;
    ynode *log = field(ld, m, "log", SBC_Y_MAP, false, NULL);
    if (log) {
        static const char *const lkeys[] = { "level", "format", NULL };
        check_keys(ld, log, "node.log", lkeys);
        int v = (int)n->log_level;
        enum_field(ld, log, "level", LEVELS, &v);
        n->log_level = (enum sbc_log_level)v;
        v = (int)n->log_format;
        enum_field(ld, log, "format", FORMATS, &v);
        n->log_format = (enum sbc_log_format)v;
    }
    n->drain_timeout_ms = 300 * 1000;
    duration_field(ld, m, "drain_timeout", &n->drain_timeout_ms);
    /* No RTP from either side for this long ends the call (held legs excepted). */
    n->media_timeout_ms = 60 * 1000;
    duration_field(ld, m, "media_timeout", &n->media_timeout_ms);
    /* A busy worker picks up media every media_batch (one kernel entry for
     * all its sockets) instead of waking per packet: the most a packet waits
     * for it; 0ms = at once. */
    n->media_batch_ms = 1;
    duration_field(ld, m, "media_batch", &n->media_batch_ms);
    ynode *mb = sbc_ynode_get(m, "media_batch");
    if (mb && mb->kind == SBC_Y_SCALAR && n->media_batch_ms > 20)
        sbc_loader_error(ld, mb, "bad value '%.64s' for 'media_batch' (0ms to 20ms)", mb->str);
    /* RFC 4028: 1800 s recommended, 90 s the smallest Min-SE it allows;
     * lower values are for labs that want to watch a refresh. */
    n->session_expires_ms = 1800 * 1000;
    duration_field(ld, m, "session_expires", &n->session_expires_ms);
    n->min_se_ms = 90 * 1000;
    duration_field(ld, m, "min_se", &n->min_se_ms);
    ynode *mse = sbc_ynode_get(m, "min_se");   /* kind errors: reported by duration_field */
    if (mse && mse->kind == SBC_Y_SCALAR && (n->min_se_ms < 1000 || n->min_se_ms % 1000))
        sbc_loader_error(ld, mse, "bad value '%.64s' for 'min_se' (whole seconds, at least 1s)", mse->str);
    ynode *se = sbc_ynode_get(m, "session_expires");
    if (se && se->kind == SBC_Y_SCALAR && n->session_expires_ms && (n->session_expires_ms % 1000 || n->session_expires_ms < n->min_se_ms))
        sbc_loader_error(ld, se, "bad value '%.64s' for 'session_expires' (whole seconds, 0s or at least min_se %us)",
                         se->str, n->min_se_ms / 1000);
}

/* ---- interfaces ---- */

static sbc_tls_conf_t *parse_tls(struct sbc_loader *ld, ynode *m)
{
    static const char *const keys[] = { "certificate", "private_key", "ca_file", "min_version",
                                        "extra_certificates", NULL };
    static const char *const ekeys[] = { "certificate", "private_key", NULL };
    check_keys(ld, m, "tls", keys);
    sbc_tls_conf_t *t = sbc_arena_alloc(ld->a, sizeof(*t));
    t->certificate = path_field(ld, m, "certificate", true, "tls");
    t->private_key = path_field(ld, m, "private_key", true, "tls");
    t->ca_file = path_field(ld, m, "ca_file", false, "tls");
    t->min_version = 0x0303;
    ynode *v = field(ld, m, "min_version", SBC_Y_SCALAR, false, NULL);
    if (v) {
        if (strcmp(v->str, "1.2") == 0)
            t->min_version = 0x0303;
        else if (strcmp(v->str, "1.3") == 0)
            t->min_version = 0x0304;
        else
            sbc_loader_error(ld, v, "bad value '%.64s' for 'min_version' (use \"1.2\" or \"1.3\")", v->str);
    }
    ynode *ex = field(ld, m, "extra_certificates", SBC_Y_SEQ, false, NULL);
    if (ex && ex->n) {
        t->extra = sbc_arena_alloc(ld->a, ex->n * sizeof(*t->extra));
        for (size_t i = 0; i < ex->n; i++) {
            ynode *e = ex->items[i];
            if (!want_kind(ld, e, SBC_Y_MAP, "extra_certificates"))
                continue;
            check_keys(ld, e, "tls extra_certificates", ekeys);
            sbc_tls_cert_t *x = &t->extra[t->n_extra++];
            x->certificate = path_field(ld, e, "certificate", true, "extra certificate");
            x->private_key = path_field(ld, e, "private_key", true, "extra certificate");
        }
    }
    return t;
}

static void parse_interface(struct sbc_loader *ld, ynode *m, size_t idx)
{
    static const char *const keys[] = { "name", "sip", "advertise", "media", "allow", "tls", NULL };
    static const char *const sip_keys[] = { "address", "port", "transports", NULL };
    static const char *const media_keys[] = { "address", "ports", NULL };
    sbc_interface_t *ifc = &ld->cfg->interfaces[idx];
    ifc->where = (sbc_where_t){ m->file, m->line };
    check_keys(ld, m, "interface", keys);
    ifc->name = name_field(ld, m, "interface");

    ifc->sip_port = 5060;
    ifc->transports = SBC_TP_UDP;
    ynode *sip = field(ld, m, "sip", SBC_Y_MAP, true, "interface");
    if (sip) {
        check_keys(ld, sip, "interface sip", sip_keys);
        ifc->sip_address = ip_field(ld, sip, "address", true, "interface sip");
        port_field(ld, sip, "port", &ifc->sip_port);
        ynode *tl = field(ld, sip, "transports", SBC_Y_SEQ, false, NULL);
        if (tl) {
            ifc->transports = 0;
            for (size_t i = 0; i < tl->n; i++) {
                ynode *t = tl->items[i];
                if (!want_kind(ld, t, SBC_Y_SCALAR, "transports"))
                    continue;
                unsigned bit = transport_bit(t->str);
                if (!bit)
                    sbc_loader_error(ld, t, "bad transport '%.64s' (use udp, tcp or tls)", t->str);
                ifc->transports |= bit;
            }
            if (tl->n == 0)
                sbc_loader_error(ld, tl, "'transports' must not be empty");
        }
    }
    ifc->advertise = ip_field(ld, m, "advertise", false, "interface");

    ynode *media = field(ld, m, "media", SBC_Y_MAP, true, "interface");
    if (media) {
        check_keys(ld, media, "interface media", media_keys);
        ifc->media_address = ip_field(ld, media, "address", false, "interface media");
        if (!ifc->media_address && ifc->sip_address)
            ifc->media_address = ifc->sip_address;
        ynode *pr = field(ld, media, "ports", SBC_Y_SCALAR, true, "interface media");
        if (pr && !sbc_parse_port_range(pr->str, &ifc->media_port_min, &ifc->media_port_max))
            sbc_loader_error(ld, pr, "bad port range '%.64s' for 'ports' (use MIN-MAX within 1-65535, MIN <= MAX)",
                             pr->str);
    }
    cidr_list(ld, m, "allow", &ifc->allow, &ifc->n_allow);
    ynode *tls = field(ld, m, "tls", SBC_Y_MAP, false, NULL);
    ld->iface_tls_node[idx] = tls;
    if (tls)
        ifc->tls = parse_tls(ld, tls);
}

/* ---- teams ---- */

static void parse_proxy(struct sbc_loader *ld, ynode *it, sbc_proxy_t *p)
{
    char host[256];
    p->port = 5061;
    if (it->kind == SBC_Y_SCALAR) {
        if (!sbc_parse_hostport(it->str, 5061, host, sizeof(host), &p->port) ||
            (!sbc_valid_hostname(host) && !sbc_parse_ip(host, &(int){ 0 }, (uint8_t[16]){ 0 })))
            sbc_loader_error(ld, it, "bad proxy '%.64s' (use host:port or { host, port, address })", it->str);
        else
            p->host = sbc_arena_strdup(ld->a, host);
        return;
    }
    if (!want_kind(ld, it, SBC_Y_MAP, "proxies"))
        return;
    static const char *const keys[] = { "host", "port", "address", NULL };
    check_keys(ld, it, "teams proxy", keys);
    ynode *h = field(ld, it, "host", SBC_Y_SCALAR, true, "teams proxy");
    if (h) {
        if (!sbc_valid_hostname(h->str) && !sbc_parse_ip(h->str, &(int){ 0 }, (uint8_t[16]){ 0 }))
            sbc_loader_error(ld, h, "bad host name '%.64s' for 'host'", h->str);
        else
            p->host = sbc_arena_strndup(ld->a, h->str, h->len);
    }
    port_field(ld, it, "port", &p->port);
    p->address = ip_field(ld, it, "address", false, "teams proxy");
}

static void parse_teams(struct sbc_loader *ld, ynode *m)
{
    static const char *const keys[] = { "interface", "base_fqdn", "proxies", "options_interval",
                                        "failover_timeout", "srtp", "user_agent", NULL };
    sbc_teams_t *t = &ld->cfg->teams;
    check_keys(ld, m, "teams", keys);
    ld->teams_iface_ref = field(ld, m, "interface", SBC_Y_SCALAR, true, "teams");
    ynode *b = field(ld, m, "base_fqdn", SBC_Y_SCALAR, true, "teams");
    if (b) {
        if (!sbc_valid_hostname(b->str) || !strchr(b->str, '.')) {
            sbc_loader_error(ld, b, "bad host name '%.64s' for 'base_fqdn'", b->str);
        } else {
            t->base_fqdn = sbc_arena_strndup(ld->a, b->str, b->len);
            for (char *c = t->base_fqdn; *c; c++)
                *c = (char)tolower((unsigned char)*c);
            ld->teams_base_node = b;
        }
    }
    ynode *pl = field(ld, m, "proxies", SBC_Y_SEQ, true, "teams");
    if (pl) {
        if (pl->n == 0)
            sbc_loader_error(ld, pl, "'proxies' must not be empty");
        t->proxies = sbc_arena_array(ld->a, pl->n ? pl->n : 1, sizeof(*t->proxies));
        t->n_proxies = pl->n;
        for (size_t i = 0; i < pl->n; i++)
            parse_proxy(ld, pl->items[i], &t->proxies[i]);
    }
    t->options_interval_ms = 60 * 1000;
    duration_field(ld, m, "options_interval", &t->options_interval_ms);
    /* Far below Timer B (32 s): a silent proxy should not hold the call. */
    t->failover_timeout_ms = 4 * 1000;
    duration_field(ld, m, "failover_timeout", &t->failover_timeout_ms);
    int srtp = SBC_SRTP_REQUIRED;
    enum_field(ld, m, "srtp", SRTP_MODES, &srtp);
    t->srtp = (enum sbc_srtp_mode)srtp;
    t->user_agent = str_field(ld, m, "user_agent", false, "teams");
    if (!t->user_agent)
        t->user_agent = sbc_arena_strdup(ld->a, "sbc/" SBC_VERSION);
}

/* ---- trunks ---- */

static void parse_target(struct sbc_loader *ld, ynode *it, sbc_target_t *t)
{
    char host[256];
    t->port = 5060;
    t->transport = SBC_TP_UDP;
    t->priority = 1;
    t->weight = 1;
    if (it->kind == SBC_Y_SCALAR) {
        if (!sbc_parse_hostport(it->str, 5060, host, sizeof(host), &t->port))
            sbc_loader_error(ld, it, "bad target '%.64s' (use host:port or { host, port, transport, priority, weight })",
                             it->str);
        else
            t->host = sbc_arena_strdup(ld->a, host);
        return;
    }
    if (!want_kind(ld, it, SBC_Y_MAP, "targets"))
        return;
    static const char *const keys[] = { "host", "port", "transport", "priority", "weight", NULL };
    check_keys(ld, it, "trunk target", keys);
    ynode *h = field(ld, it, "host", SBC_Y_SCALAR, true, "trunk target");
    if (h) {
        if (!sbc_valid_hostname(h->str) && !sbc_parse_ip(h->str, &(int){ 0 }, (uint8_t[16]){ 0 }))
            sbc_loader_error(ld, h, "bad host name '%.64s' for 'host'", h->str);
        else
            t->host = sbc_arena_strndup(ld->a, h->str, h->len);
    }
    port_field(ld, it, "port", &t->port);
    ynode *tp = field(ld, it, "transport", SBC_Y_SCALAR, false, NULL);
    if (tp) {
        unsigned bit = transport_bit(tp->str);
        if (!bit)
            sbc_loader_error(ld, tp, "bad transport '%.64s' (use udp, tcp or tls)", tp->str);
        else
            t->transport = (enum sbc_transport)bit;
    }
    uint64_t v = (uint64_t)t->priority;
    uint_field(ld, it, "priority", 0, 65535, &v);
    t->priority = (int)v;
    v = (uint64_t)t->weight;
    uint_field(ld, it, "weight", 0, 65535, &v);
    t->weight = (int)v;
}

/* Lower priority first, then higher weight; stable (config order breaks ties). */
static void sort_targets(sbc_target_t *t, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        sbc_target_t x = t[i];
        size_t j = i;
        while (j > 0 && (t[j - 1].priority > x.priority ||
                         (t[j - 1].priority == x.priority && t[j - 1].weight < x.weight))) {
            t[j] = t[j - 1];
            j--;
        }
        t[j] = x;
    }
}

static void parse_trunk(struct sbc_loader *ld, ynode *m, size_t idx)
{
    static const char *const keys[] = { "name", "interface", "targets", "allow", "numbers", "media",
                                        "max_calls", "max_cps", "options_interval", "failover_timeout", NULL };
    sbc_trunk_t *t = &ld->cfg->trunks[idx];
    t->where = (sbc_where_t){ m->file, m->line };
    check_keys(ld, m, "trunk", keys);
    t->name = name_field(ld, m, "trunk");
    ld->trunk_iface_ref[idx] = field(ld, m, "interface", SBC_Y_SCALAR, true, "trunk");

    ynode *tl = field(ld, m, "targets", SBC_Y_SEQ, true, "trunk");
    ld->trunk_target_nodes[idx] = tl;
    if (tl) {
        if (tl->n == 0)
            sbc_loader_error(ld, tl, "'targets' must not be empty");
        t->targets = sbc_arena_array(ld->a, tl->n ? tl->n : 1, sizeof(*t->targets));
        t->n_targets = tl->n;
        for (size_t i = 0; i < tl->n; i++)
            parse_target(ld, tl->items[i], &t->targets[i]);
    }
    ld->trunk_allow_nodes[idx] = sbc_ynode_get(m, "allow");
    cidr_list(ld, m, "allow", &t->allow, &t->n_allow);

    t->to_trunk = t->from_trunk = SBC_NUM_E164;
    ynode *nm = field(ld, m, "numbers", SBC_Y_MAP, false, NULL);
    if (nm) {
        static const char *const nkeys[] = { "to_trunk", "from_trunk", "country_code", NULL };
        check_keys(ld, nm, "trunk numbers", nkeys);
        int v = (int)t->to_trunk;
        enum_field(ld, nm, "to_trunk", NUMFMTS, &v);
        t->to_trunk = (enum sbc_numfmt)v;
        v = (int)t->from_trunk;
        enum_field(ld, nm, "from_trunk", NUMFMTS, &v);
        t->from_trunk = (enum sbc_numfmt)v;
        ynode *cc = field(ld, nm, "country_code", SBC_Y_SCALAR, false, NULL);
        uint64_t ccv;
        if (cc) {
            if (cc->len > 3 || !sbc_parse_uint(cc->str, 1, 999, &ccv) || cc->str[0] == '0')
                sbc_loader_error(ld, cc, "bad country code '%.64s' (use 1-3 digits, e.g. \"1\" or \"44\")", cc->str);
            else
                memcpy(t->country_code, cc->str, cc->len + 1);
        }
        if ((t->to_trunk == SBC_NUM_NATIONAL || t->from_trunk == SBC_NUM_NATIONAL) &&
            !t->country_code[0] && !cc)
            sbc_loader_error(ld, nm, "missing required key 'country_code' in trunk numbers (needed by the national format)");
    }
    t->media_srtp = SBC_SRTP_OFF;
    ynode *md = field(ld, m, "media", SBC_Y_MAP, false, NULL);
    if (md) {
        static const char *const mkeys[] = { "srtp", NULL };
        check_keys(ld, md, "trunk media", mkeys);
        int v = (int)t->media_srtp;
        enum_field(ld, md, "srtp", SRTP_MODES, &v);
        t->media_srtp = (enum sbc_srtp_mode)v;
    }
    u32_field(ld, m, "max_calls", &t->max_calls);
    u32_field(ld, m, "max_cps", &t->max_cps);
    t->options_interval_ms = 30 * 1000;
    duration_field(ld, m, "options_interval", &t->options_interval_ms);
    t->failover_timeout_ms = 4 * 1000;
    duration_field(ld, m, "failover_timeout", &t->failover_timeout_ms);
    sort_targets(t->targets, t->n_targets);
}

/* ---- tenants ---- */

static bool is_uuid(const char *s)
{
    static const int dash[] = { 8, 13, 18, 23 };
    if (strlen(s) != 36)
        return false;
    for (int i = 0, d = 0; i < 36; i++) {
        if (d < 4 && i == dash[d]) {
            if (s[i] != '-')
                return false;
            d++;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

static void parse_tenant(struct sbc_loader *ld, ynode *m, size_t idx)
{
    static const char *const keys[] = { "name", "id", "fqdn", "trunk", "numbers", "max_calls", NULL };
    sbc_tenant_t *t = &ld->cfg->tenants[idx];
    t->where = (sbc_where_t){ m->file, m->line };
    check_keys(ld, m, "tenant", keys);
    t->name = name_field(ld, m, "tenant");

    ynode *id = field(ld, m, "id", SBC_Y_SCALAR, false, NULL);
    if (id) {
        if (!is_uuid(id->str))
            sbc_loader_error(ld, id, "bad tenant id '%.64s' (use the Teams tenant GUID, e.g. 3f2a9c1e-0b7d-4e55-9a51-2c6d8e4f7a10)",
                             id->str);
        else
            t->id = sbc_arena_strndup(ld->a, id->str, id->len);
        ld->tenant_id_node[idx] = id;
    }
    ynode *fq = field(ld, m, "fqdn", SBC_Y_SCALAR, true, "tenant");
    if (fq) {
        if (!sbc_valid_hostname(fq->str)) {
            sbc_loader_error(ld, fq, "bad host name '%.64s' for 'fqdn'", fq->str);
        } else {
            t->fqdn = sbc_arena_strndup(ld->a, fq->str, fq->len);
            for (char *c = t->fqdn; *c; c++)
                *c = (char)tolower((unsigned char)*c);
            ld->tenant_fqdn_node[idx] = fq;
        }
    }
    ld->tenant_trunk_ref[idx] = field(ld, m, "trunk", SBC_Y_SCALAR, true, "tenant");

    ynode *nl = field(ld, m, "numbers", SBC_Y_SEQ, false, NULL);
    if (nl) {
        t->numbers = sbc_arena_array(ld->a, nl->n ? nl->n : 1, sizeof(*t->numbers));
        for (size_t i = 0; i < nl->n; i++) {
            ynode *it = nl->items[i];
            if (!want_kind(ld, it, SBC_Y_SCALAR, "numbers"))
                continue;
            struct sbc_numspec spec;
            switch (sbc_numspec_parse(it->str, &spec)) {
            case SBC_NUMSPEC_OK:
                t->numbers[t->n_numbers++] = sbc_arena_strndup(ld->a, it->str, it->len);
                break;
            case SBC_NUMSPEC_MALFORMED:
                sbc_loader_error(ld, it, "malformed number '%.64s' (use E.164 '+' and 1-15 digits, "
                                 "a prefix '+1555*' or a range '+15551230000-+15551239999')", it->str);
                break;
            case SBC_NUMSPEC_RANGE_LENGTH:
                sbc_loader_error(ld, it, "malformed number range '%.64s': both ends need the same number of digits",
                                 it->str);
                break;
            case SBC_NUMSPEC_RANGE_ORDER:
                sbc_loader_error(ld, it, "malformed number range '%.64s': start is above end", it->str);
                break;
            }
        }
        ld->tenant_numbers[idx] = nl;
    }
    u32_field(ld, m, "max_calls", &t->max_calls);
}

/* ---- top level ---- */

typedef void (*item_fn)(struct sbc_loader *, ynode *, size_t);

/* Allocates *arr for the list's items and parses each mapping. */
static size_t parse_list(struct sbc_loader *ld, ynode *root, const char *key, bool required,
                         size_t elem, void **arr)
{
    ynode *l = field(ld, root, key, SBC_Y_SEQ, required, "the top level");
    size_t n = l ? l->n : 0;
    *arr = sbc_arena_array(ld->a, n ? n : 1, elem);
    if (!l)
        return 0;
    if (required && n == 0)
        sbc_loader_error(ld, l, "'%s' must not be empty", key);
    return n;
}

void sbc_config_parse(struct sbc_loader *ld, const struct sbc_ynode *root)
{
    static const char *const keys[] = { "node", "interfaces", "teams", "trunks", "tenants", NULL };
    sbc_config_t *c = ld->cfg;
    if (root->kind != SBC_Y_MAP) {
        sbc_loader_error(ld, root, "the configuration must be a mapping with node, interfaces, teams, trunks and tenants");
        root = NULL;
    } else {
        check_keys(ld, root, "the top level", keys);
    }

    ynode *node = root ? field(ld, root, "node", SBC_Y_MAP, true, "the top level") : NULL;
    if (node) {
        parse_node(ld, node);
    } else {
        c->node.workers = 1;
        c->node.control_socket = sbc_arena_strdup(ld->a, DEFAULT_CONTROL_SOCKET);
    }

    ynode *lists[3] = { 0 };
    const char *names[3] = { "interfaces", "trunks", "tenants" };
    for (int i = 0; root && i < 3; i++)
        lists[i] = sbc_ynode_get(root, names[i]);

    c->n_interfaces = root ? parse_list(ld, root, "interfaces", true, sizeof(*c->interfaces),
                                        (void **)&c->interfaces) : 0;
    if (!c->interfaces)
        c->interfaces = sbc_arena_alloc(ld->a, sizeof(*c->interfaces));
    c->n_trunks = root ? parse_list(ld, root, "trunks", false, sizeof(*c->trunks), (void **)&c->trunks) : 0;
    if (!c->trunks)
        c->trunks = sbc_arena_alloc(ld->a, sizeof(*c->trunks));
    c->n_tenants = root ? parse_list(ld, root, "tenants", false, sizeof(*c->tenants),
                                     (void **)&c->tenants) : 0;
    if (!c->tenants)
        c->tenants = sbc_arena_alloc(ld->a, sizeof(*c->tenants));

    size_t ni = c->n_interfaces, nt = c->n_trunks, nn = c->n_tenants;
    ld->iface_tls_node = sbc_arena_array(ld->tree, ni + 1, sizeof(void *));
    ld->iface_cert = sbc_arena_array(ld->tree, ni + 1, sizeof(void *));
    ld->trunk_iface_ref = sbc_arena_array(ld->tree, nt + 1, sizeof(void *));
    ld->trunk_allow_nodes = sbc_arena_array(ld->tree, nt + 1, sizeof(void *));
    ld->trunk_target_nodes = sbc_arena_array(ld->tree, nt + 1, sizeof(void *));
    ld->tenant_trunk_ref = sbc_arena_array(ld->tree, nn + 1, sizeof(void *));
    ld->tenant_fqdn_node = sbc_arena_array(ld->tree, nn + 1, sizeof(void *));
    ld->tenant_id_node = sbc_arena_array(ld->tree, nn + 1, sizeof(void *));
    ld->tenant_numbers = sbc_arena_array(ld->tree, nn + 1, sizeof(void *));

    static const char *const whats[3] = { "interface", "trunk", "tenant" };
    static const item_fn fns[3] = { parse_interface, parse_trunk, parse_tenant };
    size_t counts[3] = { ni, nt, nn };
    for (int l = 0; l < 3; l++)
        for (size_t i = 0; i < counts[l]; i++) {
            ynode *it = lists[l]->items[i];
            if (it->kind == SBC_Y_MAP)
                fns[l](ld, it, i);
            else
                sbc_loader_error(ld, it, "each item of '%s' must be a mapping (a %s), not %s",
                                 names[l], whats[l], sbc_ykind_name(it->kind));
        }

    ynode *teams = root ? field(ld, root, "teams", SBC_Y_MAP, true, "the top level") : NULL;
    if (teams)
        parse_teams(ld, teams);
    else
        c->teams.user_agent = sbc_arena_strdup(ld->a, "sbc/" SBC_VERSION);
    if (!c->teams.proxies)
        c->teams.proxies = sbc_arena_alloc(ld->a, sizeof(*c->teams.proxies));
}
