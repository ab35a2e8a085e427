/* Workers' inboxes: jobs run on the target's thread in posting order, from
 * any thread; a worker's hand-overs of one loop turn cost one wake-up. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/thread.h>

#include "config/config_store.h"
#include "sbc/worker.h"

#define JOBS 50

struct record {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ran;
    int order[JOBS];
    int wrong_thread;
    sbc_worker_t *expect;
};

static struct record rec = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void job_record(sbc_worker_t *w, void *arg)
{
    pthread_mutex_lock(&rec.mu);
    if (w != rec.expect || sbc_worker_self() != w)
        rec.wrong_thread++;
    if (rec.ran < JOBS)
        rec.order[rec.ran] = (int)(intptr_t)arg;
    rec.ran++;
    pthread_cond_broadcast(&rec.cv);
    pthread_mutex_unlock(&rec.mu);
}

static void reset(sbc_worker_t *expect)
{
    pthread_mutex_lock(&rec.mu);
    rec.ran = 0;
    rec.wrong_thread = 0;
    rec.expect = expect;
    pthread_mutex_unlock(&rec.mu);
}

/* Waits up to 5 s for n jobs; returns how many ran. */
static int wait_jobs(int n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&rec.mu);
    while (rec.ran < n && pthread_cond_timedwait(&rec.cv, &rec.mu, &until) == 0)
        ;
    int ran = rec.ran;
    pthread_mutex_unlock(&rec.mu);
    return ran;
}

static void check_order(void)
{
    assert_int_equal(rec.wrong_thread, 0);
    for (int i = 0; i < JOBS; i++)
        assert_int_equal(rec.order[i], i);
}

static sbc_workers_t *start(int n)
{
    char err[256];
    sbc_workers_t *ws = sbc_workers_create(n, NULL, err, sizeof err);
    assert_non_null(ws);
    assert_int_equal(sbc_workers_start(ws, err, sizeof err), 0);
    return ws;
}

static void test_post_from_other_thread(void **state)
{
    (void)state;
    sbc_workers_t *ws = start(2);
    sbc_worker_t *w1 = sbc_workers_get(ws, 1);
    reset(w1);
    for (int i = 0; i < JOBS; i++)
        assert_int_equal(sbc_worker_post(w1, job_record, (void *)(intptr_t)i), 0);
    assert_int_equal(wait_jobs(JOBS), JOBS);
    check_order();
    sbc_workers_destroy(ws);
}

/* Runs on worker 0: posts JOBS jobs to worker 1 with gaps long enough for
 * worker 1 to empty its inbox in between. */
static void job_post_spaced(sbc_worker_t *w, void *arg)
{
    sbc_worker_t *target = arg;
    (void)w;
    for (int i = 0; i < JOBS; i++) {
        sbc_worker_post(target, job_record, (void *)(intptr_t)i);
        usleep(200);
    }
}

static void test_one_wakeup_per_turn(void **state)
{
    (void)state;
    sbc_workers_t *ws = start(2);
    sbc_worker_t *w0 = sbc_workers_get(ws, 0), *w1 = sbc_workers_get(ws, 1);
    reset(w1);
    sbc_worker_stats_t before, after;
    sbc_worker_stats(w1, &before);
    assert_int_equal(sbc_worker_post(w0, job_post_spaced, w1), 0);
    assert_int_equal(wait_jobs(JOBS), JOBS);
    check_order();
    sbc_worker_stats(w1, &after);
    /* the whole turn's posts ride on the one wake-up sent when it ended */
    assert_int_equal(after.wakeups - before.wakeups, 1);
    assert_int_equal(after.jobs - before.jobs, JOBS);
    sbc_workers_destroy(ws);
}

int main(void)
{
    evthread_use_pthreads();   /* as sbcd: the main thread stops the loops */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_from_other_thread),
        cmocka_unit_test(test_one_wakeup_per_turn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
