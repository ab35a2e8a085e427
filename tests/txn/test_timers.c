/* sbc/timers: fake clock order and the libevent backend. */
#include "fixtures.h"

#include <event2/event.h>

#include "sbc/timers.h"

static char order[64];
static size_t n_order;
static sbc_clock_t *g_clock;
static uint64_t fired_at[8];

static void cb(void *arg)
{
    char c = (char)(uintptr_t)arg;
    order[n_order++] = c;
    fired_at[(c - 'a') & 7] = sbc_clock_now_ms(g_clock);
}

static sbc_timer_t rearm_t;
static int rearm_left;
static void rearm_cb(void *arg)
{
    order[n_order++] = 'r';
    if (--rearm_left > 0)
        sbc_timer_start(&rearm_t, 100);
}

static void test_fake_clock_order(void **state)
{
    sbc_clock_t *c = g_clock = sbc_clock_fake_create();
    sbc_timer_t t[4];
    n_order = 0;
    sbc_timer_init(&t[0], c, cb, (void *)(uintptr_t)'a');
    sbc_timer_init(&t[1], c, cb, (void *)(uintptr_t)'b');
    sbc_timer_init(&t[2], c, cb, (void *)(uintptr_t)'c');
    sbc_timer_init(&t[3], c, cb, (void *)(uintptr_t)'d');
    sbc_timer_start(&t[0], 300);
    sbc_timer_start(&t[1], 100);
    sbc_timer_start(&t[2], 100);   /* same time as b: armed later, fires later */
    sbc_timer_start(&t[3], 50);
    sbc_timer_stop(&t[3]);
    assert_int_equal(sbc_clock_fake_pending(c), 3);
    sbc_clock_fake_advance(c, 99);
    assert_int_equal(n_order, 0);
    sbc_clock_fake_advance(c, 1000);
    order[n_order] = '\0';
    assert_string_equal(order, "bca");
    assert_int_equal(fired_at[0], 300);
    assert_int_equal(fired_at[1], 100);
    assert_int_equal(sbc_clock_now_ms(c), 1099);
    /* restart moves the due time; callbacks may re-arm within the interval */
    n_order = 0;
    sbc_timer_start(&t[0], 10);
    sbc_timer_start(&t[0], 500);
    sbc_timer_init(&rearm_t, c, rearm_cb, NULL);
    rearm_left = 3;
    sbc_timer_start(&rearm_t, 100);
    sbc_clock_fake_advance(c, 1000);
    order[n_order] = '\0';
    assert_string_equal(order, "rrra");
    assert_int_equal(fired_at[0], 1599);
    for (int i = 0; i < 4; i++)
        sbc_timer_cleanup(&t[i]);
    sbc_timer_cleanup(&rearm_t);
    assert_int_equal(sbc_clock_fake_pending(c), 0);
    sbc_clock_destroy(c);
}

static void stop_loop(void *arg)
{
    order[n_order++] = 'x';
    event_base_loopbreak(arg);
}

static void test_libevent_clock(void **state)
{
    struct event_base *base = event_base_new();
    sbc_clock_t *c = g_clock = sbc_clock_event_create(base);
    sbc_clock_common(c, 32000);
    sbc_clock_common(c, 20);
    sbc_timer_t a, b, never;
    n_order = 0;
    sbc_timer_init(&a, c, cb, (void *)(uintptr_t)'a');
    sbc_timer_init(&b, c, stop_loop, base);
    sbc_timer_init(&never, c, cb, (void *)(uintptr_t)'n');
    uint64_t t0 = sbc_clock_now_ms(c);
    assert_int_equal(sbc_timer_start(&a, 20), 0);       /* a common timeout */
    assert_int_equal(sbc_timer_start(&b, 40), 0);
    assert_int_equal(sbc_timer_start(&never, 32000), 0);
    assert_true(sbc_timer_pending(&never));
    event_base_dispatch(base);
    order[n_order] = '\0';
    assert_string_equal(order, "ax");
    /* libevent may use the coarse monotonic clock: a few ms of slack */
    assert_true(sbc_clock_now_ms(c) - t0 >= 30);
    assert_false(sbc_timer_pending(&a));
    sbc_timer_cleanup(&a);
    sbc_timer_cleanup(&b);
    sbc_timer_cleanup(&never);
    sbc_clock_destroy(c);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_clock_order),
        cmocka_unit_test(test_libevent_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
