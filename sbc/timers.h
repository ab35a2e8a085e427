/* One-shot millisecond timers on a clock that is either a libevent
 * event_base (production) or a fake clock advanced by hand (tests).
 * A clock and its timers belong to one thread. */
#ifndef SBC_TIMERS_H
#define SBC_TIMERS_H

#include <stdint.h>

struct event_base;
struct event;

typedef struct sbc_clock sbc_clock_t;
typedef void (*sbc_timer_cb)(void *arg);

/* Embeddable timer; fields are private to timers.c. */
typedef struct sbc_timer {
    sbc_clock_t *clock;
    sbc_timer_cb cb;
    void *arg;
    struct event *ev;           /* libevent clock */
    uint64_t due, seq;          /* fake clock */
    struct sbc_timer *next, *prev;
    int armed;
} sbc_timer_t;

/* A clock on an event_base (monotonic time, libevent timers). */
sbc_clock_t *sbc_clock_event_create(struct event_base *base);
/* A fake clock starting at 0 ms; timers fire only in sbc_clock_fake_advance. */
sbc_clock_t *sbc_clock_fake_create(void);
/* All timers must be cleaned up first. Accepts NULL. */
void sbc_clock_destroy(sbc_clock_t *clock);

uint64_t sbc_clock_now_ms(sbc_clock_t *clock);
/* Tells the clock that many timers will use this duration: on libevent it
 * becomes a common timeout (O(1) queue instead of the heap). */
void sbc_clock_common(sbc_clock_t *clock, unsigned ms);
/* Fake clock: moves time forward by ms, firing due timers in time order
 * (equal times in arming order), each with now = its due time. Timers armed
 * by callbacks fire too if they fall within the interval. */
void sbc_clock_fake_advance(sbc_clock_t *clock, uint64_t ms);
/* Fake clock: number of armed timers. */
unsigned sbc_clock_fake_pending(sbc_clock_t *clock);

void sbc_timer_init(sbc_timer_t *t, sbc_clock_t *clock, sbc_timer_cb cb, void *arg);
/* (Re)arms to fire once after ms; 0 fires on the next loop turn. 0 or -1. */
int sbc_timer_start(sbc_timer_t *t, unsigned ms);
void sbc_timer_stop(sbc_timer_t *t);
int sbc_timer_pending(const sbc_timer_t *t);
/* Stops and releases; init may be called again afterwards. */
void sbc_timer_cleanup(sbc_timer_t *t);

#endif
