/* Workers: threads, event bases and the cross-thread inbox. */
#define _LGPL_SOURCE
#include "sbc/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>
#include <urcu/wfcqueue.h>

#include "config/config_store.h"
#include "sbc/log.h"

typedef struct job {
    struct cds_wfcq_node node;
    sbc_worker_job_fn fn;
    void *arg;
} job_t;

struct sbc_worker {
    sbc_workers_t *owner;
    int index;
    pthread_t thread;
    bool running;
    struct event_base *base;
    int wake_fd;
    struct event *wake_ev;
    struct event *turn_ev;      /* end of a loop turn: the wake-ups it deferred */
    int *wakes;                 /* workers to wake at the end of this turn */
    int n_wakes;
    struct __cds_wfcq_head inbox_head;
    struct cds_wfcq_tail inbox_tail;
    sbc_config_t *config;
    uint64_t config_generation;   /* mirrored so other threads never touch config */
    uint64_t jobs;
    uint64_t wakeups;           /* eventfd writes aimed at this worker */
    void *user;
    int start_rc;
    pthread_mutex_t start_mu;   /* start-up handshake only, never on the hot path */
    pthread_cond_t start_cv;
    bool started;
};

struct sbc_workers {
    int n;
    sbc_worker_hooks_t hooks;
    sbc_worker_t *w;
};

static __thread sbc_worker_t *t_self;

static void run_inbox(sbc_worker_t *w)
{
    struct cds_wfcq_node *node;
    while ((node = __cds_wfcq_dequeue_blocking(&w->inbox_head, &w->inbox_tail)) != NULL) {
        job_t *j = caa_container_of(node, job_t, node);
        j->fn(w, j->arg);
        free(j);
        __atomic_store_n(&w->jobs, w->jobs + 1, __ATOMIC_RELAXED);
    }
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof v);
    (void)r;
    run_inbox(arg);
}

static void wake(sbc_worker_t *w)
{
    uint64_t one = 1;
    __atomic_fetch_add(&w->wakeups, 1, __ATOMIC_RELAXED);
    ssize_t r = write(w->wake_fd, &one, sizeof one);
    (void)r;   /* EAGAIN means the counter is already non-zero: a wake-up is pending */
}

static void on_turn_end(evutil_socket_t fd, short what, void *arg)
{
    sbc_worker_t *self = arg;
    (void)fd;
    (void)what;
    for (int i = 0; i < self->n_wakes; i++)
        wake(&self->owner->w[self->wakes[i]]);
    self->n_wakes = 0;
}

static void refresh_config(sbc_worker_t *w)
{
    sbc_config_t *c = sbc_config_current();
    sbc_config_t *old = w->config;
    w->config = c;
    __atomic_store_n(&w->config_generation, c ? c->generation : 0, __ATOMIC_RELAXED);
    if (old)
        sbc_config_unref(old);
}

static void *worker_main(void *arg)
{
    sbc_worker_t *w = arg;
    char name[16];
    snprintf(name, sizeof name, "w%d", w->index);
    sbc_log_thread_name(name);
    t_self = w;
    sbc_config_store_thread_online();
    refresh_config(w);

    const sbc_worker_hooks_t *h = &w->owner->hooks;
    int rc = h->start ? h->start(w, h->arg) : 0;
    pthread_mutex_lock(&w->start_mu);
    w->start_rc = rc;
    w->started = true;
    pthread_cond_signal(&w->start_cv);
    pthread_mutex_unlock(&w->start_mu);

    if (rc == 0) {
        event_base_dispatch(w->base);
        run_inbox(w);   /* jobs posted while stopping still run (they may own memory) */
        if (h->stop)
            h->stop(w, h->arg);
    }
    if (w->config) {
        sbc_config_unref(w->config);
        w->config = NULL;
    }
    sbc_config_store_thread_offline();
    return NULL;
}

sbc_workers_t *sbc_workers_create(int n, const sbc_worker_hooks_t *hooks, char *err, size_t errlen)
{
    if (n < 1 || n > 256) {
        snprintf(err, errlen, "worker count %d out of range 1..256", n);
        return NULL;
    }
    sbc_workers_t *ws = calloc(1, sizeof *ws);
    if (!ws)
        goto oom;
    ws->n = n;
    if (hooks)
        ws->hooks = *hooks;
    ws->w = calloc((size_t)n, sizeof *ws->w);
    if (!ws->w)
        goto oom;
    for (int i = 0; i < n; i++) {
        sbc_worker_t *w = &ws->w[i];
        w->owner = ws;
        w->index = i;
        w->wake_fd = -1;
        __cds_wfcq_init(&w->inbox_head, &w->inbox_tail);
        pthread_mutex_init(&w->start_mu, NULL);
        pthread_cond_init(&w->start_cv, NULL);
        w->base = event_base_new();
        if (!w->base) {
            snprintf(err, errlen, "worker %d: event_base_new failed", i);
            sbc_workers_destroy(ws);
            return NULL;
        }
        w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->wake_fd < 0) {
            snprintf(err, errlen, "worker %d: eventfd: %s", i, strerror(errno));
            sbc_workers_destroy(ws);
            return NULL;
        }
        w->wake_ev = event_new(w->base, w->wake_fd, EV_READ | EV_PERSIST, on_wake, w);
        w->turn_ev = event_new(w->base, -1, 0, on_turn_end, w);
        w->wakes = calloc((size_t)n, sizeof *w->wakes);
        if (!w->wake_ev || !w->turn_ev || !w->wakes)
            goto oom;
        event_add(w->wake_ev, NULL);
    }
    return ws;
oom:
    snprintf(err, errlen, "out of memory creating %d workers", n);
    sbc_workers_destroy(ws);
    return NULL;
}

int sbc_workers_start(sbc_workers_t *ws, char *err, size_t errlen)
{
    for (int i = 0; i < ws->n; i++) {
        sbc_worker_t *w = &ws->w[i];
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc != 0) {
            snprintf(err, errlen, "worker %d: pthread_create: %s", i, strerror(rc));
            sbc_workers_stop(ws);
            return -1;
        }
        w->running = true;
        pthread_mutex_lock(&w->start_mu);
        while (!w->started)
            pthread_cond_wait(&w->start_cv, &w->start_mu);
        pthread_mutex_unlock(&w->start_mu);
        if (w->start_rc != 0) {
            snprintf(err, errlen, "worker %d failed to start (see log)", i);
            sbc_workers_stop(ws);
            return -1;
        }
    }
    return 0;
}

void sbc_workers_stop(sbc_workers_t *ws)
{
    if (!ws)
        return;
    for (int i = 0; i < ws->n; i++)
        if (ws->w[i].running)
            event_base_loopexit(ws->w[i].base, NULL);
    for (int i = 0; i < ws->n; i++) {
        if (ws->w[i].running) {
            pthread_join(ws->w[i].thread, NULL);
            ws->w[i].running = false;
        }
    }
}

void sbc_workers_destroy(sbc_workers_t *ws)
{
    if (!ws)
        return;
    sbc_workers_stop(ws);
    for (int i = 0; ws->w && i < ws->n; i++) {
        sbc_worker_t *w = &ws->w[i];
        struct cds_wfcq_node *node;
        while ((node = __cds_wfcq_dequeue_blocking(&w->inbox_head, &w->inbox_tail)) != NULL)
            free(caa_container_of(node, job_t, node));
        if (w->wake_ev)
            event_free(w->wake_ev);
        if (w->turn_ev)
            event_free(w->turn_ev);
        free(w->wakes);
        if (w->wake_fd >= 0)
            close(w->wake_fd);
        if (w->base)
            event_base_free(w->base);
        pthread_mutex_destroy(&w->start_mu);
        pthread_cond_destroy(&w->start_cv);
    }
    free(ws->w);
    free(ws);
}

int sbc_workers_count(const sbc_workers_t *ws)
{
    return ws->n;
}

sbc_worker_t *sbc_workers_get(sbc_workers_t *ws, int index)
{
    return index >= 0 && index < ws->n ? &ws->w[index] : NULL;
}

static void job_config_changed(sbc_worker_t *w, void *arg)
{
    refresh_config(w);
    const sbc_worker_hooks_t *h = &w->owner->hooks;
    if (h->config_changed)
        h->config_changed(w, h->arg);
}

void sbc_workers_config_changed(sbc_workers_t *ws)
{
    for (int i = 0; i < ws->n; i++)
        sbc_worker_post(&ws->w[i], job_config_changed, NULL);
}

int sbc_worker_post(sbc_worker_t *w, sbc_worker_job_fn fn, void *arg)
{
    job_t *j = malloc(sizeof *j);
    if (!j)
        return -1;
    cds_wfcq_node_init(&j->node);
    j->fn = fn;
    j->arg = arg;
    /* Only the job that finds the inbox empty wakes the worker: the worker
     * drains until empty (blocking dequeue waits out a half-done enqueue),
     * so later jobs ride on that wake-up and cost no syscall. A worker
     * posting to another wakes it once at the end of its loop turn, so the
     * hand-overs of one turn (a receive batch) cost one wake-up, not one
     * each as the target empties its inbox in between. */
    if (cds_wfcq_enqueue(&w->inbox_head, &w->inbox_tail, &j->node))
        return 0;
    sbc_worker_t *self = t_self;
    if (!self || self == w || self->owner != w->owner) {
        wake(w);
        return 0;
    }
    for (int i = 0; i < self->n_wakes; i++)
        if (self->wakes[i] == w->index)
            return 0;
    if (self->n_wakes == 0)
        event_active(self->turn_ev, 0, 0);
    self->wakes[self->n_wakes++] = w->index;
    return 0;
}

int sbc_worker_index(const sbc_worker_t *w)
{
    return w->index;
}

sbc_workers_t *sbc_worker_pool(sbc_worker_t *w)
{
    return w->owner;
}

struct event_base *sbc_worker_base(sbc_worker_t *w)
{
    return w->base;
}

sbc_config_t *sbc_worker_config(sbc_worker_t *w)
{
    return w->config;
}

void sbc_worker_stats(const sbc_worker_t *w, sbc_worker_stats_t *out)
{
    out->jobs = __atomic_load_n(&w->jobs, __ATOMIC_RELAXED);
    out->wakeups = __atomic_load_n(&w->wakeups, __ATOMIC_RELAXED);
    out->config_generation = __atomic_load_n(&w->config_generation, __ATOMIC_RELAXED);
}

void sbc_worker_set_user(sbc_worker_t *w, void *user)
{
    w->user = user;
}

void *sbc_worker_user(const sbc_worker_t *w)
{
    return w->user;
}

sbc_worker_t *sbc_worker_self(void)
{
    return t_self;
}
