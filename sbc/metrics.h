/* Prometheus text exposition at http://node.metrics_listen/metrics, served
 * by libevent's evhttp on the main thread. */
#ifndef SBC_METRICS_H
#define SBC_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
typedef struct sbc_workers sbc_workers_t;
typedef struct sbc_metrics sbc_metrics_t;

/* Node-level values the main thread owns. */
typedef struct sbc_metrics_node {
    uint64_t reloads_ok, reloads_failed;
    int64_t started;
} sbc_metrics_node_t;

/* listen: "addr:port". NULL with err on failure. */
sbc_metrics_t *sbc_metrics_create(struct event_base *base, const char *listen, sbc_workers_t *ws,
                                  const sbc_metrics_node_t *node, char *err, size_t errlen);
void sbc_metrics_destroy(sbc_metrics_t *m);

#endif
