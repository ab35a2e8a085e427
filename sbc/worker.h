/* Per-core workers: one thread and one event_base each. Everything a worker
 * touches (sockets, transactions, calls, media) is its own; other threads
 * reach it only through its inbox (a wait-free queue plus an eventfd). */
#ifndef SBC_WORKER_H
#define SBC_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
typedef struct sbc_config sbc_config_t;

typedef struct sbc_worker sbc_worker_t;
typedef struct sbc_workers sbc_workers_t;

typedef void (*sbc_worker_job_fn)(sbc_worker_t *w, void *arg);

/* Called in the worker's own thread: after the base exists and before the
 * loop runs (start, may fail with -1), and after the loop ended (stop). */
typedef struct sbc_worker_hooks {
    int (*start)(sbc_worker_t *w, void *arg);
    void (*stop)(sbc_worker_t *w, void *arg);
    void (*config_changed)(sbc_worker_t *w, void *arg);
    void *arg;
} sbc_worker_hooks_t;

typedef struct sbc_worker_stats {
    uint64_t jobs;              /* inbox jobs run */
    uint64_t wakeups;           /* times another thread woke it for its inbox */
    uint64_t config_generation; /* snapshot the worker holds now */
} sbc_worker_stats_t;

sbc_workers_t *sbc_workers_create(int n, const sbc_worker_hooks_t *hooks, char *err, size_t errlen);
/* Starts every thread; each takes the current config snapshot. */
int sbc_workers_start(sbc_workers_t *ws, char *err, size_t errlen);
/* Ends every loop and joins the threads. */
void sbc_workers_stop(sbc_workers_t *ws);
void sbc_workers_destroy(sbc_workers_t *ws);

int sbc_workers_count(const sbc_workers_t *ws);
sbc_worker_t *sbc_workers_get(sbc_workers_t *ws, int index);
/* Tells every worker a new snapshot is published (each re-reads it). */
void sbc_workers_config_changed(sbc_workers_t *ws);

/* From any thread: run fn(w, arg) on w's thread, in posting order. A worker
 * posting to another wakes it at the end of its current loop turn. Returns
 * -1 only when w stopped. */
int sbc_worker_post(sbc_worker_t *w, sbc_worker_job_fn fn, void *arg);

int sbc_worker_index(const sbc_worker_t *w);
sbc_workers_t *sbc_worker_pool(sbc_worker_t *w);
struct event_base *sbc_worker_base(sbc_worker_t *w);
/* The snapshot this worker holds (valid on its own thread until the next
 * config_changed); take your own reference to keep it longer. */
sbc_config_t *sbc_worker_config(sbc_worker_t *w);
void sbc_worker_stats(const sbc_worker_t *w, sbc_worker_stats_t *out);
/* Per-worker state of upper layers (signalling, media). */
void sbc_worker_set_user(sbc_worker_t *w, void *user);
void *sbc_worker_user(const sbc_worker_t *w);
/* The worker running on the calling thread, or NULL. */
sbc_worker_t *sbc_worker_self(void);

#endif
