/* Metrics: read-only sums of the workers' counters and the shared health
 * table; nothing here is on the call path. */
#include "sbc/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "config/config_store.h"
#include "sbc/admission.h"
#include "sbc/health.h"
#include "sbc/sig.h"
#include "sbc/worker.h"

struct sbc_metrics {
    struct evhttp *http;
    sbc_workers_t *ws;
    const sbc_metrics_node_t *node;
};

/* One X-macro table: counter name, help, field of sbc_sig_stats_t. */
#define SIG_COUNTERS(X)                                                                       \
    X(calls_total, "Calls admitted", calls_total)                                             \
    X(calls_answered_total, "Calls answered", calls_answered)                                 \
    X(calls_failed_total, "Calls that ended before answer", calls_failed)                    \
    X(rejected_no_route_total, "INVITEs refused with 404 (unknown number or tenant)", rejected_no_route) \
    X(rejected_capacity_total, "INVITEs refused with 503 (max_calls, max_cps)", rejected_capacity) \
    X(rejected_media_total, "INVITEs refused for their media (488, 503 ports)", rejected_media) \
    X(rejected_other_total, "INVITEs refused for other reasons", rejected_other)             \
    X(dropped_unknown_source_total, "Requests dropped: source matches no trunk", drop_unknown_source) \
    X(failovers_total, "INVITEs retried on the next proxy or target", failovers)              \
    X(unknown_dialog_total, "In-dialog requests answered 481", unknown_dialog)                \
    X(options_answered_total, "OPTIONS answered", options_answered)                           \
    X(media_timeouts_total, "Calls ended by the media inactivity timeout", media_timeouts)   \
    X(handoffs_total, "Messages handed to the call's home worker", handoffs_out)                \
    X(rejected_draining_total, "INVITEs refused with 503 while draining", rejected_draining)  \
    X(bad_requests_total, "Messages breaking RFC 3261 (answered 400 or dropped)", bad_requests) \
    X(sip_udp_overflows_total, "SIP datagrams dropped by the kernel: a UDP socket's receive buffer was full", sip_udp_overflows) \
    X(media_warm_reuses_total, "Media port pairs reused still bound", media_warm_hits)        \
    X(media_cold_binds_total, "Media port pairs bound afresh", media_cold_allocs)             \
    X(media_warm_evicted_total, "Warm media port pairs closed for lack of descriptors", media_warm_evicted) \
    X(media_parked_drops_total, "Packets to media ports between calls, dropped", media_parked_drops) \
    X(media_send_batches_total, "Batched media send submissions", media_tx_submits)          \
    X(media_batched_packets_total, "Media packets sent in batches", media_tx_packets)        \
    X(media_ticks_total, "Relay ticks (one pickup of all sockets' packets)", media_ticks)     \
    X(media_rx_nobufs_total, "Relay receives ended out of buffers (overload)", media_rx_nobufs) \
    X(dns_cache_hits_total, "Names answered from the worker DNS cache", dns_hits)            \
    X(dns_stale_answers_total, "Stale DNS answers served while refreshed", dns_stale)        \
    X(dns_blocking_lookups_total, "Names never seen, looked up synchronously", dns_blocking) \
    X(dns_failures_total, "DNS lookups that found nothing", dns_failed)

static void emit(struct evbuffer *b, const char *name, const char *type, const char *help, uint64_t v)
{
    evbuffer_add_printf(b, "# HELP sbc_%s %s\n# TYPE sbc_%s %s\nsbc_%s %llu\n", name, help, name, type, name,
                        (unsigned long long)v);
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
    sbc_metrics_t *m = arg;
    struct evbuffer *b = evbuffer_new();
    sbc_sig_stats_t sum, one;
    memset(&sum, 0, sizeof sum);
    int n = sbc_workers_count(m->ws);
    for (int i = 0; i < n; i++) {
        sbc_sig_stats_read(sbc_workers_get(m->ws, i), &one);
#define ADD(name, help, field) sum.field += one.field;
        SIG_COUNTERS(ADD)
#undef ADD
        sum.calls_active += one.calls_active;
    }
#define EMIT(name, help, field) emit(b, #name, "counter", help, sum.field);
    SIG_COUNTERS(EMIT)
#undef EMIT
    emit(b, "calls_active", "gauge", "Calls in progress", sum.calls_active);
    emit(b, "workers", "gauge", "Worker threads", (uint64_t)n);
    emit(b, "draining", "gauge", "1 while the node refuses new calls before stopping", sbc_sig_draining());
    emit(b, "reloads_ok_total", "counter", "Configuration reloads applied", m->node->reloads_ok);
    emit(b, "reloads_failed_total", "counter", "Configuration reloads refused", m->node->reloads_failed);
    emit(b, "uptime_seconds", "gauge", "Seconds since start", (uint64_t)(time(NULL) - m->node->started));

    sbc_config_t *c = sbc_config_current();
    if (c) {
        emit(b, "config_generation", "gauge", "Generation of the running configuration", c->generation);
        /* Labels only for configured names: bounded cardinality. */
        evbuffer_add_printf(b, "# HELP sbc_tenant_calls_active Calls in progress per tenant\n"
                               "# TYPE sbc_tenant_calls_active gauge\n");
        for (size_t i = 0; i < c->n_tenants; i++)
            evbuffer_add_printf(b, "sbc_tenant_calls_active{tenant=\"%s\"} %u\n", c->tenants[i].name,
                                sbc_admission_calls(sbc_admission_slot("tenant", c->tenants[i].name)));
        evbuffer_add_printf(b, "# HELP sbc_trunk_calls_active Calls in progress per trunk\n"
                               "# TYPE sbc_trunk_calls_active gauge\n");
        for (size_t i = 0; i < c->n_trunks; i++)
            evbuffer_add_printf(b, "sbc_trunk_calls_active{trunk=\"%s\"} %u\n", c->trunks[i].name,
                                sbc_admission_calls(sbc_admission_slot("trunk", c->trunks[i].name)));
        evbuffer_add_printf(b, "# HELP sbc_teams_proxy_up OPTIONS health of a Teams proxy (1 up, 0 down, -1 unknown)\n"
                               "# TYPE sbc_teams_proxy_up gauge\n");
        for (size_t i = 0; i < c->teams.n_proxies; i++) {
            sbc_health_info_t h;
            sbc_health_get(c->teams.proxies[i].host, c->teams.proxies[i].port, &h);
            evbuffer_add_printf(b, "sbc_teams_proxy_up{proxy=\"%s:%u\"} %d\n", c->teams.proxies[i].host,
                                c->teams.proxies[i].port,
                                h.state == SBC_HEALTH_UP ? 1 : h.state == SBC_HEALTH_DOWN ? 0 : -1);
        }
        sbc_config_unref(c);
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

sbc_metrics_t *sbc_metrics_create(struct event_base *base, const char *listen, sbc_workers_t *ws,
                                  const sbc_metrics_node_t *node, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= sizeof host) {
        snprintf(err, errlen, "metrics_listen '%s': expected addr:port", listen);
        return NULL;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    sbc_metrics_t *m = calloc(1, sizeof *m);
    m->ws = ws;
    m->node = node;
    m->http = evhttp_new(base);
    if (!m->http || evhttp_bind_socket(m->http, host, (uint16_t)atoi(colon + 1)) != 0) {
        snprintf(err, errlen, "metrics_listen %s: cannot bind", listen);
        sbc_metrics_destroy(m);
        return NULL;
    }
    evhttp_set_cb(m->http, "/metrics", on_metrics, m);
    evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET);
    return m;
}

void sbc_metrics_destroy(sbc_metrics_t *m)
{
    if (!m)
        return;
    if (m->http)
        evhttp_free(m->http);
    free(m);
}
