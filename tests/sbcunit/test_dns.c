/* The worker name cache: literals untouched, names answered from memory,
 * stale answers served while refreshed, failures remembered, and a prefetch
 * through evdns on a real event loop making the first lookup free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include "sbc/dns.h"

static uint16_t port_of(const struct sockaddr_storage *ss)
{
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void test_literals_bypass_the_cache(void **state)
{
    (void)state;
    sbc_dns_conf_t conf = { .use_evdns = 0 };
    char err[128];
    sbc_dns_t *d = sbc_dns_create(NULL, &conf, err, sizeof err);
    assert_non_null(d);
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(sbc_dns_resolve(d, "127.0.7.9", 5070, &ss, &len), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(port_of(&ss), 5070);
    assert_int_equal(sbc_dns_resolve(d, "[::1]", 5061, &ss, &len), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    sbc_dns_stats_t st;
    sbc_dns_stats(d, &st);
    assert_int_equal(st.hits + st.blocking + st.failed, 0);
    sbc_dns_destroy(d);
}

static void test_name_kept_after_first_lookup(void **state)
{
    (void)state;
    sbc_dns_conf_t conf = { .use_evdns = 0 };
    char err[128];
    sbc_dns_t *d = sbc_dns_create(NULL, &conf, err, sizeof err);
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(sbc_dns_resolve(d, "localhost", 5060, &ss, &len), 0);
    assert_int_equal(port_of(&ss), 5060);
    assert_int_equal(sbc_dns_resolve(d, "LOCALHOST", 5080, &ss, &len), 0);  /* names are case-blind */
    assert_int_equal(port_of(&ss), 5080);
    char ip[64];
    assert_non_null(inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof ip));
    assert_string_equal(ip, "127.0.0.1");
    sbc_dns_stats_t st;
    sbc_dns_stats(d, &st);
    assert_int_equal(st.blocking, 1);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.stale, 0);
    sbc_dns_destroy(d);
}

static void test_stale_answer_served_and_refreshed(void **state)
{
    (void)state;
    sbc_dns_conf_t conf = { .ttl_ms = 20, .use_evdns = 0 };
    char err[128];
    sbc_dns_t *d = sbc_dns_create(NULL, &conf, err, sizeof err);
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(sbc_dns_resolve(d, "localhost", 5060, &ss, &len), 0);
    sleep_ms(60);   /* past the TTL (coarse clock: a few ms granularity) */
    assert_int_equal(sbc_dns_resolve(d, "localhost", 5060, &ss, &len), 0);
    sbc_dns_stats_t st;
    sbc_dns_stats(d, &st);
    assert_int_equal(st.blocking, 1);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.stale, 1);
    assert_int_equal(st.refreshed, 1);
    sbc_dns_destroy(d);
}

static void test_failure_remembered(void **state)
{
    (void)state;
    sbc_dns_conf_t conf = { .negative_ttl_ms = 60000, .use_evdns = 0 };
    char err[128];
    sbc_dns_t *d = sbc_dns_create(NULL, &conf, err, sizeof err);
    struct sockaddr_storage ss;
    socklen_t len;
    /* an empty label: refused by the resolver without a query */
    assert_int_equal(sbc_dns_resolve(d, "bad..name", 5060, &ss, &len), -1);
    assert_int_equal(sbc_dns_resolve(d, "bad..name", 5060, &ss, &len), -1);
    sbc_dns_stats_t st;
    sbc_dns_stats(d, &st);
    assert_int_equal(st.blocking, 1);   /* the second answer came from memory */
    assert_int_equal(st.failed, 2);
    sbc_dns_destroy(d);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

static void test_prefetch_on_the_loop(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    assert_non_null(base);
    char err[128];
    /* localhost comes from /etc/hosts; the nameserver (loopback, silent)
     * is never needed */
    sbc_dns_conf_t conf = { .use_evdns = 1, .nameserver = "127.0.7.99:53" };
    sbc_dns_t *d = sbc_dns_create(base, &conf, err, sizeof err);
    assert_non_null(d);
    sbc_dns_prefetch(d, "localhost");
    sbc_dns_prefetch(d, "127.0.0.1");   /* literals: nothing to do */
    struct event *t = evtimer_new(base, on_timeout, base);
    sbc_dns_stats_t st;
    for (int i = 0; i < 100; i++) {      /* up to 2 s */
        sbc_dns_stats(d, &st);
        if (st.refreshed)
            break;
        struct timeval tv = { 0, 20000 };
        evtimer_add(t, &tv);
        event_base_loop(base, EVLOOP_ONCE);
    }
    sbc_dns_stats(d, &st);
    assert_int_equal(st.refreshed, 1);
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(sbc_dns_resolve(d, "localhost", 5061, &ss, &len), 0);
    assert_int_equal(port_of(&ss), 5061);
    sbc_dns_stats(d, &st);
    assert_int_equal(st.blocking, 0);    /* the call path never waited */
    assert_int_equal(st.hits, 1);
    event_free(t);
    sbc_dns_destroy(d);
    event_base_free(base);
}

static void test_destroy_with_lookup_in_flight(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    char err[128];
    /* a loopback nameserver that never answers: the lookup stays pending */
    sbc_dns_conf_t conf = { .use_evdns = 1, .nameserver = "127.0.7.99:53" };
    sbc_dns_t *d = sbc_dns_create(base, &conf, err, sizeof err);
    assert_non_null(d);
    sbc_dns_prefetch(d, "pending.sbc-test.example");
    event_base_loop(base, EVLOOP_NONBLOCK);
    sbc_dns_stats_t st;
    sbc_dns_stats(d, &st);
    assert_int_equal(st.refreshed + st.failed + st.blocking, 0);   /* really in flight */
    sbc_dns_destroy(d);                  /* cancels; ASan checks nothing dangles */
    event_base_loop(base, EVLOOP_NONBLOCK);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals_bypass_the_cache),
        cmocka_unit_test(test_name_kept_after_first_lookup),
        cmocka_unit_test(test_stale_answer_served_and_refreshed),
        cmocka_unit_test(test_failure_remembered),
        cmocka_unit_test(test_prefetch_on_the_loop),
        cmocka_unit_test(test_destroy_with_lookup_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
