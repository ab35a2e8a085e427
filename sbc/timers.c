/* Timers on libevent or on a fake clock: see timers.h. */
#include "sbc/timers.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <event2/event.h>

#include "sbc/log.h"

#define COMMON_MAX 8

struct sbc_clock {
    struct event_base *base;     /* NULL: fake clock */
    uint64_t now;                /* fake clock time */
    uint64_t seq;
    sbc_timer_t *armed;          /* fake clock: armed timers, unsorted */
    unsigned n_armed;
    struct {
        unsigned ms;
        const struct timeval *tv;
    } common[COMMON_MAX];
    unsigned n_common;
};

sbc_clock_t *sbc_clock_event_create(struct event_base *base)
{
    if (!base)
        return NULL;
    sbc_clock_t *c = calloc(1, sizeof *c);
    if (c)
        c->base = base;
    return c;
}

sbc_clock_t *sbc_clock_fake_create(void)
{
    return calloc(1, sizeof(sbc_clock_t));
}

void sbc_clock_destroy(sbc_clock_t *clock)
{
    if (!clock)
        return;
    if (clock->n_armed)
        LOG_WARN("timers: clock destroyed with %u armed timers", clock->n_armed);
    free(clock);
}

uint64_t sbc_clock_now_ms(sbc_clock_t *clock)
{
    if (!clock->base)
        return clock->now;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void sbc_clock_common(sbc_clock_t *clock, unsigned ms)
{
    if (!clock->base || ms == 0)
        return;
    for (unsigned i = 0; i < clock->n_common; i++)
        if (clock->common[i].ms == ms)
            return;
    if (clock->n_common == COMMON_MAX)
        return;
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    const struct timeval *ct = event_base_init_common_timeout(clock->base, &tv);
    if (!ct)
        return;
    clock->common[clock->n_common].ms = ms;
    clock->common[clock->n_common].tv = ct;
    clock->n_common++;
}

/* ---- fake clock list ---------------------------------------------------- */

static void fake_unlink(sbc_timer_t *t)
{
    sbc_clock_t *c = t->clock;
    if (t->prev)
        t->prev->next = t->next;
    else
        c->armed = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->next = t->prev = NULL;
    c->n_armed--;
}

static void fake_link(sbc_timer_t *t)
{
    sbc_clock_t *c = t->clock;
    t->prev = NULL;
    t->next = c->armed;
    if (c->armed)
        c->armed->prev = t;
    c->armed = t;
    c->n_armed++;
}

void sbc_clock_fake_advance(sbc_clock_t *clock, uint64_t ms)
{
    if (clock->base)
        return;
    uint64_t target = clock->now + ms;
    for (;;) {
        sbc_timer_t *best = NULL;
        for (sbc_timer_t *t = clock->armed; t; t = t->next)
            if (t->due <= target &&
                (!best || t->due < best->due || (t->due == best->due && t->seq < best->seq)))
                best = t;
        if (!best)
            break;
        fake_unlink(best);
        best->armed = 0;
        if (best->due > clock->now)
            clock->now = best->due;
        best->cb(best->arg);
    }
    clock->now = target;
}

unsigned sbc_clock_fake_pending(sbc_clock_t *clock)
{
    return clock->n_armed;
}

/* ---- timers ------------------------------------------------------------- */

static void ev_trampoline(evutil_socket_t fd, short what, void *arg)
{
    sbc_timer_t *t = arg;
    t->armed = 0;
    t->cb(t->arg);
}

void sbc_timer_init(sbc_timer_t *t, sbc_clock_t *clock, sbc_timer_cb cb, void *arg)
{
    memset(t, 0, sizeof *t);
    t->clock = clock;
    t->cb = cb;
    t->arg = arg;
}

int sbc_timer_start(sbc_timer_t *t, unsigned ms)
{
    sbc_clock_t *c = t->clock;
    if (!c->base) {
        if (t->armed)
            fake_unlink(t);
        t->due = c->now + ms;
        t->seq = ++c->seq;
        t->armed = 1;
        fake_link(t);
        return 0;
    }
    if (!t->ev) {
        /* created on first use: most transactions never arm some timers */
        t->ev = evtimer_new(c->base, ev_trampoline, t);
        if (!t->ev) {
            LOG_ERR("timers: cannot create a libevent timer");
            return -1;
        }
    }
    const struct timeval *tvp = NULL;
    struct timeval tv;
    for (unsigned i = 0; i < c->n_common; i++)
        if (c->common[i].ms == ms)
            tvp = c->common[i].tv;
    if (!tvp) {
        tv.tv_sec = ms / 1000;
        tv.tv_usec = (ms % 1000) * 1000;
        tvp = &tv;
    }
    if (evtimer_add(t->ev, tvp) < 0) {
        LOG_ERR("timers: cannot arm a %u ms timer", ms);
        return -1;
    }
    t->armed = 1;
    return 0;
}

void sbc_timer_stop(sbc_timer_t *t)
{
    if (!t->clock || !t->armed)
        return;
    if (!t->clock->base)
        fake_unlink(t);
    else if (t->ev)
        evtimer_del(t->ev);
    t->armed = 0;
}

int sbc_timer_pending(const sbc_timer_t *t)
{
    return t->armed;
}

void sbc_timer_cleanup(sbc_timer_t *t)
{
    if (!t->clock)
        return;
    sbc_timer_stop(t);
    if (t->ev)
        event_free(t->ev);
    t->ev = NULL;
    t->clock = NULL;
}
