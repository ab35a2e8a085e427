/* The node: everything the main thread owns. Signals arrive through
 * libevent's signal events (the handler only writes to libevent's internal
 * socketpair); work happens in the loop. */
#include "sbc/node.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config/config.h"
#include "config/config_store.h"
#include "sbc/alloc.h"
#include "sbc/control.h"
#include "sbc/health.h"
#include "sbc/log.h"
#include "sbc/metrics.h"
#include "sbc/sig.h"
#include "sbc/worker.h"

struct sbc_node_rt {
    char *config_path;
    struct event_base *base;
    struct event *ev_hup, *ev_term, *ev_int;
    sbc_workers_t *workers;
    sbc_control_t *control;
    sbc_metrics_t *metrics;
    sbc_metrics_node_t mnode;   /* what /metrics reads of the node */
    time_t started;
    int stop_requests;
    struct event *drain_timer;
    struct timespec drain_started;
    bool drain_hangup;          /* BYEs sent at the drain timeout */
    uint64_t reloads_ok, reloads_failed;
    char last_reload[160];
};

static json_t *diag_to_json(const sbc_diag_t *d)
{
    json_t *a = json_array();
    for (size_t i = 0; i < d->n; i++)
        json_array_append_new(a, json_string(d->lines[i]));
    return a;
}

json_t *sbc_node_reload(sbc_node_rt_t *n, const char *source)
{
    sbc_diag_t diag;
    sbc_diag_init(&diag);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sbc_config_t *next = sbc_config_load(n->config_path, &diag);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    json_t *reply;
    if (!next) {
        n->reloads_failed++;
        n->mnode.reloads_failed = n->reloads_failed;
        LOG_ERR("reload (%s) of %s refused, %zu error(s); the running config is unchanged",
                source, n->config_path, diag.n);
        for (size_t i = 0; i < diag.n; i++)
            LOG_ERR("  %s", diag.lines[i]);
        reply = json_pack("{s:b, s:s, s:o}", "ok", 0, "error", "config refused; nothing changed",
                          "errors", diag_to_json(&diag));
        snprintf(n->last_reload, sizeof n->last_reload, "refused (%s): %zu error(s)", source, diag.n);
        sbc_diag_clear(&diag);
        return reply;
    }
    sbc_config_t *cur = sbc_config_current();
    sbc_diag_t changes;
    sbc_diag_init(&changes);
    sbc_config_diff(cur, next, &changes);
    if (cur)
        sbc_config_unref(cur);
    uint64_t gen = sbc_config_publish(next);
    sbc_workers_config_changed(n->workers);
    n->reloads_ok++;
    n->mnode.reloads_ok = n->reloads_ok;
    LOG_INFO("reload (%s): generation %llu loaded in %.1f ms, %zu change(s)", source,
             (unsigned long long)gen, ms, changes.n);
    for (size_t i = 0; i < changes.n; i++)
        LOG_INFO("  %s", changes.lines[i]);
    reply = json_pack("{s:b, s:I, s:f, s:o}", "ok", 1, "generation", (json_int_t)gen, "load_ms", ms,
                      "changes", diag_to_json(&changes));
    snprintf(n->last_reload, sizeof n->last_reload, "generation %llu (%s): %zu change(s)",
             (unsigned long long)gen, source, changes.n);
    sbc_diag_clear(&changes);
    sbc_diag_clear(&diag);
    return reply;
}

static json_t *cmd_reload(void *arg, json_t *req)
{
    return sbc_node_reload(arg, "control");
}

/* Node-wide call counters: the sum over workers. */
static void calls_add(json_t *o, const sbc_sig_stats_t *ss)
{
#define ADD(f) json_object_set_new(o, #f, json_integer(json_integer_value(json_object_get(o, #f)) + (json_int_t)ss->f))
    ADD(calls_active);
    ADD(calls_total);
    ADD(calls_answered);
    ADD(calls_failed);
    ADD(handoffs_out);
    ADD(drop_unknown_source);
    ADD(rejected_no_route);
    ADD(rejected_capacity);
    ADD(rejected_other);
    ADD(failovers);
    ADD(unknown_dialog);
    ADD(options_answered);
    ADD(rejected_media);
    ADD(media_timeouts);
    ADD(rejected_draining);
    ADD(bad_requests);
    ADD(sip_udp_overflows);
    ADD(media_warm_hits);
    ADD(media_cold_allocs);
    ADD(media_warm_evicted);
    ADD(media_parked_drops);
    ADD(media_tx_submits);
    ADD(media_tx_packets);
    ADD(media_ticks);
    ADD(media_rx_nobufs);
    ADD(dns_hits);
    ADD(dns_stale);
    ADD(dns_blocking);
    ADD(dns_failed);
#undef ADD
}

static json_t *cmd_status(void *arg, json_t *req)
{
    json_t *calls = json_object();
    sbc_node_rt_t *n = arg;
    sbc_config_t *c = sbc_config_current();
    sbc_alloc_info_t ai;
    sbc_alloc_info(&ai);
    json_t *workers = json_array();
    for (int i = 0; i < sbc_workers_count(n->workers); i++) {
        sbc_worker_stats_t st;
        sbc_worker_t *w = sbc_workers_get(n->workers, i);
        sbc_worker_stats(w, &st);
        sbc_sig_stats_t ss;
        sbc_sig_stats_read(w, &ss);
        json_array_append_new(workers, json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I}", "index", i, "jobs",
                                                 (json_int_t)st.jobs, "config_generation",
                                                 (json_int_t)st.config_generation, "calls_active",
                                                 (json_int_t)ss.calls_active, "calls_total", (json_int_t)ss.calls_total,
                                                 "handoffs_in", (json_int_t)ss.handoffs_in, "handoffs_out",
                                                 (json_int_t)ss.handoffs_out));
        calls_add(calls, &ss);
    }
    json_t *r = json_pack("{s:s, s:s, s:i, s:I, s:s, s:I, s:i, s:i, s:i, s:o, s:{s:s, s:b, s:I, s:I},"
                          " s:{s:I, s:I, s:s}, s:o}",
                          "node", c->node.name, "version", SBC_VERSION, "pid", (int)getpid(),
                          "uptime_s", (json_int_t)(time(NULL) - n->started),
                          "config", n->config_path, "generation", (json_int_t)c->generation,
                          "tenants", (int)c->n_tenants, "trunks", (int)c->n_trunks,
                          "interfaces", (int)c->n_interfaces, "workers", workers,
                          "allocator", "name", ai.name, "jemalloc_active", ai.jemalloc_active,
                          "allocated", (json_int_t)ai.allocated, "resident", (json_int_t)ai.resident,
                          "reloads", "ok", (json_int_t)n->reloads_ok, "failed", (json_int_t)n->reloads_failed,
                          "last", n->last_reload, "calls", calls);
    json_object_set_new(r, "draining", json_boolean(sbc_sig_draining()));
    sbc_config_unref(c);
    return r;
}

static json_t *cmd_tenants(void *arg, json_t *req)
{
    sbc_config_t *c = sbc_config_current();
    json_t *list = json_array();
    for (size_t i = 0; i < c->n_tenants; i++) {
        const sbc_tenant_t *t = &c->tenants[i];
        json_t *nums = json_array();
        for (size_t k = 0; k < t->n_numbers; k++)
            json_array_append_new(nums, json_string(t->numbers[k]));
        json_array_append_new(list, json_pack("{s:s, s:s?, s:s, s:s, s:o, s:I}", "name", t->name, "id", t->id,
                                              "fqdn", t->fqdn, "trunk", t->trunk ? t->trunk->name : "",
                                              "numbers", nums, "max_calls", (json_int_t)t->max_calls));
    }
    json_t *r = json_pack("{s:I, s:o}", "generation", (json_int_t)c->generation, "tenants", list);
    sbc_config_unref(c);
    return r;
}

static json_t *cmd_trunks(void *arg, json_t *req)
{
    sbc_config_t *c = sbc_config_current();
    static const char *const tp_names[] = { [SBC_TP_UDP] = "udp", [SBC_TP_TCP] = "tcp", [SBC_TP_TLS] = "tls" };
    json_t *list = json_array();
    for (size_t i = 0; i < c->n_trunks; i++) {
        const sbc_trunk_t *t = &c->trunks[i];
        json_t *targets = json_array();
        for (size_t k = 0; k < t->n_targets; k++) {
            const sbc_target_t *g = &t->targets[k];
            sbc_health_info_t h;
            sbc_health_get(g->host, g->port, &h);
            json_array_append_new(targets, json_pack("{s:s, s:i, s:s, s:i, s:s, s:i}", "host", g->host, "port", g->port,
                                                     "transport", tp_names[g->transport & 7] ? tp_names[g->transport & 7] : "?",
                                                     "priority", g->priority, "health", sbc_health_state_name(h.state),
                                                     "rtt_ms", (int)h.rtt_ms));
        }
        json_array_append_new(list, json_pack("{s:s, s:s, s:o, s:I, s:I}", "name", t->name,
                                              "interface", t->interface ? t->interface->name : "",
                                              "targets", targets, "max_calls", (json_int_t)t->max_calls,
                                              "max_cps", (json_int_t)t->max_cps));
    }
    json_t *proxies = json_array();
    for (size_t i = 0; i < c->teams.n_proxies; i++) {
        const sbc_proxy_t *p = &c->teams.proxies[i];
        sbc_health_info_t h;
        sbc_health_get(p->host, p->port, &h);
        json_array_append_new(proxies, json_pack("{s:s, s:i, s:s, s:i, s:i, s:I, s:I}", "host", p->host, "port", p->port,
                                                 "health", sbc_health_state_name(h.state), "rtt_ms", (int)h.rtt_ms,
                                                 "last_status", h.last_status, "probes", (json_int_t)h.probes,
                                                 "failures", (json_int_t)h.failures));
    }
    json_t *r = json_pack("{s:I, s:o, s:o}", "generation", (json_int_t)c->generation, "trunks", list,
                          "teams_proxies", proxies);
    sbc_config_unref(c);
    return r;
}

static json_t *cmd_lookup(void *arg, json_t *req)
{
    const char *number = json_string_value(json_object_get(req, "number"));
    const char *fqdn = json_string_value(json_object_get(req, "fqdn"));
    if (!number && !fqdn)
        return json_pack("{s:b, s:s}", "ok", 0, "error", "lookup needs \"number\" or \"fqdn\"");
    sbc_config_t *c = sbc_config_current();
    const sbc_tenant_t *t = number ? sbc_config_tenant_by_number(c, number) : sbc_config_tenant_by_fqdn(c, fqdn);
    json_t *r = t ? json_pack("{s:s, s:s}", "tenant", t->name, "fqdn", t->fqdn)
                  : json_pack("{s:b, s:s}", "ok", 0, "error", "no tenant");
    sbc_config_unref(c);
    return r;
}

static json_t *cmd_calls(void *arg, json_t *req)
{
    sbc_node_rt_t *n = arg;
    return json_pack("{s:o}", "calls", sbc_sig_calls_json(n->workers));
}

static void stop_loop(sbc_node_rt_t *n, const char *why)
{
    n->stop_requests++;
    LOG_INFO("%s: stopping", why);
    /* A moment for the control reply to leave before the loop ends. */
    struct timeval tv = { 0, 50 * 1000 };
    event_base_loopexit(n->base, &tv);
}

static json_t *cmd_stop(void *arg, json_t *req)
{
    stop_loop(arg, "stop command");
    return json_pack("{s:b}", "ok", 1);
}

static uint64_t calls_active(sbc_node_rt_t *n)
{
    uint64_t total = 0;
    for (int i = 0; i < sbc_workers_count(n->workers); i++) {
        sbc_sig_stats_t ss;
        sbc_sig_stats_read(sbc_workers_get(n->workers, i), &ss);
        total += ss.calls_active;
    }
    return total;
}

/* Every 200 ms while draining: stop once the last call ended or the
 * drain timeout ran out. */
static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    sbc_node_rt_t *n = arg;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t ms = (uint64_t)(now.tv_sec - n->drain_started.tv_sec) * 1000 +
                  (uint64_t)((now.tv_nsec - n->drain_started.tv_nsec) / 1000000);
    sbc_config_t *c = sbc_config_current();
    uint32_t limit = c->node.drain_timeout_ms;
    sbc_config_unref(c);
    uint64_t active = calls_active(n);
    if (active == 0)
        stop_loop(n, "drained");
    else if (ms >= limit + 2000) {
        LOG_WARN("drain timeout: %llu call(s) did not end after BYE, stopping", (unsigned long long)active);
        stop_loop(n, "drain timeout");
    } else if (ms >= limit && !n->drain_hangup) {
        /* Hang up properly rather than vanish: both legs get a BYE. */
        n->drain_hangup = true;
        LOG_WARN("drain timeout: hanging up %llu call(s)", (unsigned long long)active);
        sbc_sig_hangup_all(n->workers);
    }
}

/* First stop request: refuse new calls, let the others finish. */
static void start_drain(sbc_node_rt_t *n, const char *why)
{
    if (sbc_sig_draining())
        return;
    sbc_sig_set_draining(true);
    clock_gettime(CLOCK_MONOTONIC, &n->drain_started);
    LOG_INFO("%s: draining, %llu call(s) up; new calls and OPTIONS get 503 (send it again to stop at once)", why,
             (unsigned long long)calls_active(n));
    struct timeval tv = { 0, 200 * 1000 };
    n->drain_timer = event_new(n->base, -1, EV_PERSIST, on_drain_tick, n);
    event_add(n->drain_timer, &tv);
}

static json_t *cmd_drain(void *arg, json_t *req)
{
    sbc_node_rt_t *n = arg;
    start_drain(n, "drain command");
    return json_pack("{s:b, s:I}", "ok", 1, "calls_active", (json_int_t)calls_active(n));
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    sbc_node_rt_t *n = arg;
    const char *name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
    if (sig == SIGHUP) {
        json_decref(sbc_node_reload(n, "SIGHUP"));
        return;
    }
    if (sbc_sig_draining())
        stop_loop(n, name);
    else
        start_drain(n, name);
}

sbc_node_rt_t *sbc_node_create(const char *config_path, char *err, size_t errlen)
{
    sbc_node_rt_t *n = calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    n->config_path = strdup(config_path);
    sbc_config_store_thread_online();
    n->started = time(NULL);
    snprintf(n->last_reload, sizeof n->last_reload, "none");

    sbc_diag_t diag;
    sbc_diag_init(&diag);
    sbc_config_t *c = sbc_config_load(config_path, &diag);
    if (!c) {
        size_t off = (size_t)snprintf(err, errlen, "%zu config error(s):", diag.n);
        for (size_t i = 0; i < diag.n && off < errlen; i++)
            off += (size_t)snprintf(err + off, errlen - off, "\n%s", diag.lines[i]);
        sbc_diag_clear(&diag);
        sbc_node_destroy(n);
        return NULL;
    }
    sbc_diag_clear(&diag);
    sbc_log_setup(c->node.log_level, c->node.log_format);
    sbc_config_publish(c);

    n->base = event_base_new();
    n->ev_hup = evsignal_new(n->base, SIGHUP, on_signal, n);
    n->ev_term = evsignal_new(n->base, SIGTERM, on_signal, n);
    n->ev_int = evsignal_new(n->base, SIGINT, on_signal, n);
    event_add(n->ev_hup, NULL);
    event_add(n->ev_term, NULL);
    event_add(n->ev_int, NULL);
    signal(SIGPIPE, SIG_IGN);

    n->control = sbc_control_create(n->base, c->node.control_socket, err, errlen);
    if (!n->control) {
        sbc_node_destroy(n);
        return NULL;
    }
    sbc_control_register(n->control, "status", cmd_status, n);
    sbc_control_register(n->control, "reload", cmd_reload, n);
    sbc_control_register(n->control, "tenants", cmd_tenants, n);
    sbc_control_register(n->control, "trunks", cmd_trunks, n);
    sbc_control_register(n->control, "lookup", cmd_lookup, n);
    sbc_control_register(n->control, "stop", cmd_stop, n);
    sbc_control_register(n->control, "calls", cmd_calls, n);
    sbc_control_register(n->control, "drain", cmd_drain, n);

    static const sbc_worker_hooks_t hooks = {
        .start = sbc_sig_worker_start,
        .stop = sbc_sig_worker_stop,
        .config_changed = sbc_sig_worker_config_changed,
    };
    n->workers = sbc_workers_create(c->node.workers, &hooks, err, errlen);
    if (!n->workers || sbc_workers_start(n->workers, err, errlen) < 0) {
        sbc_node_destroy(n);
        return NULL;
    }
    n->mnode.started = n->started;
    if (c->node.metrics_listen) {
        n->metrics = sbc_metrics_create(n->base, c->node.metrics_listen, n->workers, &n->mnode, err, errlen);
        if (!n->metrics) {
            sbc_node_destroy(n);
            return NULL;
        }
    }
    sbc_alloc_info_t ai;
    sbc_alloc_info(&ai);
    LOG_INFO("sbcd %s node %s: %d worker(s), %zu tenant(s), %zu trunk(s), control %s, allocator %s%s",
             SBC_VERSION, c->node.name, c->node.workers, c->n_tenants, c->n_trunks, c->node.control_socket,
             ai.name, ai.jemalloc_active ? " (active)" : "");
    return n;
}

int sbc_node_run(sbc_node_rt_t *n)
{
    event_base_dispatch(n->base);
    return 0;
}

void sbc_node_destroy(sbc_node_rt_t *n)
{
    if (!n)
        return;
    if (n->workers) {
        sbc_workers_stop(n->workers);
        sbc_workers_destroy(n->workers);
    }
    if (n->drain_timer)
        event_free(n->drain_timer);
    sbc_metrics_destroy(n->metrics);
    sbc_control_destroy(n->control);
    if (n->ev_hup) {
        event_free(n->ev_hup);
        event_free(n->ev_term);
        event_free(n->ev_int);
    }
    if (n->base)
        event_base_free(n->base);
    sbc_config_store_shutdown();
    sbc_config_store_thread_offline();
    free(n->config_path);
    free(n);
}
