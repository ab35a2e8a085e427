/* Scalar syntaxes and the number / CIDR building blocks, without YAML. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "config/cidr.h"
#include "config/numbers.h"
#include "config/values.h"

static void test_durations(void **state)
{
    uint32_t ms;
    assert_true(sbc_parse_duration_ms("60s", &ms));
    assert_int_equal(ms, 60000);
    assert_true(sbc_parse_duration_ms("2m", &ms));
    assert_int_equal(ms, 120000);
    assert_true(sbc_parse_duration_ms("500ms", &ms));
    assert_int_equal(ms, 500);
    assert_true(sbc_parse_duration_ms("1h", &ms));
    assert_int_equal(ms, 3600000);
    assert_true(sbc_parse_duration_ms("45", &ms));
    assert_int_equal(ms, 45000);
    assert_true(sbc_parse_duration_ms("0", &ms));
    assert_int_equal(ms, 0);
    const char *bad[] = { "", "s", "5x", "-1s", "1.5s", "10 s", "5000h", "99999999999999999999999s" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(sbc_parse_duration_ms(bad[i], &ms));
}

static void test_sizes(void **state)
{
    uint64_t b;
    assert_true(sbc_parse_size("64KiB", &b));
    assert_int_equal(b, 65536);
    assert_true(sbc_parse_size("1MiB", &b));
    assert_int_equal(b, 1048576);
    assert_true(sbc_parse_size("2GiB", &b));
    assert_int_equal(b, 2147483648ull);
    assert_true(sbc_parse_size("1500", &b));
    assert_int_equal(b, 1500);
    assert_true(sbc_parse_size("10kB", &b));
    assert_int_equal(b, 10000);
    assert_false(sbc_parse_size("KiB", &b));
    assert_false(sbc_parse_size("1XiB", &b));
    assert_false(sbc_parse_size("99999999999999999999GiB", &b));
}

static void test_ports(void **state)
{
    uint16_t p, lo, hi;
    assert_true(sbc_parse_port("1", &p));
    assert_true(sbc_parse_port("65535", &p));
    assert_int_equal(p, 65535);
    assert_false(sbc_parse_port("0", &p));
    assert_false(sbc_parse_port("65536", &p));
    assert_false(sbc_parse_port("80a", &p));
    assert_true(sbc_parse_port_range("20000-29999", &lo, &hi));
    assert_int_equal(lo, 20000);
    assert_int_equal(hi, 29999);
    assert_true(sbc_parse_port_range("5060-5060", &lo, &hi));
    assert_false(sbc_parse_port_range("30000-20000", &lo, &hi));
    assert_false(sbc_parse_port_range("0-10", &lo, &hi));
    assert_false(sbc_parse_port_range("20000", &lo, &hi));
    assert_false(sbc_parse_port_range("-20000", &lo, &hi));
    assert_false(sbc_parse_port_range("1-70000", &lo, &hi));
}

static void test_hostport(void **state)
{
    char h[64];
    uint16_t p;
    assert_true(sbc_parse_hostport("sip.pstnhub.microsoft.com:5061", 5060, h, sizeof(h), &p));
    assert_string_equal(h, "sip.pstnhub.microsoft.com");
    assert_int_equal(p, 5061);
    assert_true(sbc_parse_hostport("10.0.0.1", 5060, h, sizeof(h), &p));
    assert_int_equal(p, 5060);
    assert_true(sbc_parse_hostport("[2001:db8::1]:5070", 5060, h, sizeof(h), &p));
    assert_string_equal(h, "2001:db8::1");
    assert_int_equal(p, 5070);
    assert_true(sbc_parse_hostport("2001:db8::1", 5060, h, sizeof(h), &p));
    assert_string_equal(h, "2001:db8::1");
    assert_false(sbc_parse_hostport(":5060", 5060, h, sizeof(h), &p));
    assert_false(sbc_parse_hostport("host:0", 5060, h, sizeof(h), &p));
    assert_false(sbc_parse_hostport("[::1", 5060, h, sizeof(h), &p));
}

static void test_cidr(void **state)
{
    sbc_cidr_t c;
    assert_int_equal(sbc_cidr_parse("10.0.1.0/24", &c), SBC_CIDR_OK);
    assert_int_equal(c.family, AF_INET);
    assert_int_equal(c.prefix, 24);
    assert_int_equal(sbc_cidr_parse("10.0.1.1/24", &c), SBC_CIDR_HOST_BITS);
    assert_int_equal(sbc_cidr_parse("10.0.1.1", &c), SBC_CIDR_OK);
    assert_int_equal(c.prefix, 32);
    assert_int_equal(sbc_cidr_parse("0.0.0.0/0", &c), SBC_CIDR_OK);
    assert_int_equal(sbc_cidr_parse("2001:db8::/32", &c), SBC_CIDR_OK);
    assert_int_equal(c.family, AF_INET6);
    assert_int_equal(sbc_cidr_parse("2001:db8::1/32", &c), SBC_CIDR_HOST_BITS);
    assert_int_equal(sbc_cidr_parse("2001:db8::/129", &c), SBC_CIDR_SYNTAX);
    assert_int_equal(sbc_cidr_parse("10.0.0.0/", &c), SBC_CIDR_SYNTAX);
    assert_int_equal(sbc_cidr_parse("10.0.0/8", &c), SBC_CIDR_SYNTAX);
    assert_int_equal(sbc_cidr_parse("/8", &c), SBC_CIDR_SYNTAX);

    struct sockaddr_in in = { .sin_family = AF_INET };
    assert_int_equal(sbc_cidr_parse("10.0.1.0/24", &c), SBC_CIDR_OK);
    inet_pton(AF_INET, "10.0.1.200", &in.sin_addr);
    assert_true(sbc_cidr_contains(&c, (struct sockaddr *)&in));
    inet_pton(AF_INET, "10.0.2.1", &in.sin_addr);
    assert_false(sbc_cidr_contains(&c, (struct sockaddr *)&in));
    struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
    inet_pton(AF_INET6, "::ffff:10.0.1.7", &in6.sin6_addr);   /* v4-mapped counts as v4 */
    assert_true(sbc_cidr_contains(&c, (struct sockaddr *)&in6));
}

static void test_numspec(void **state)
{
    struct sbc_numspec s;
    assert_int_equal(sbc_numspec_parse("+15557770001", &s), SBC_NUMSPEC_OK);
    assert_int_equal(s.kind, SBC_NUMK_EXACT);
    assert_int_equal(s.len, 11);
    assert_int_equal(s.lo, 15557770001ull);
    assert_int_equal(sbc_numspec_parse("+1555*", &s), SBC_NUMSPEC_OK);
    assert_int_equal(s.kind, SBC_NUMK_PREFIX);
    assert_int_equal(s.len, 4);
    assert_int_equal(sbc_numspec_parse("+15551230000-+15551239999", &s), SBC_NUMSPEC_OK);
    assert_int_equal(s.kind, SBC_NUMK_RANGE);
    assert_int_equal(s.hi, 15551239999ull);
    assert_int_equal(sbc_numspec_parse("+999999999999999", &s), SBC_NUMSPEC_OK);   /* 15 digits */
    assert_int_equal(sbc_numspec_parse("+9999999999999999", &s), SBC_NUMSPEC_MALFORMED);
    assert_int_equal(sbc_numspec_parse("+", &s), SBC_NUMSPEC_MALFORMED);
    assert_int_equal(sbc_numspec_parse("1555", &s), SBC_NUMSPEC_MALFORMED);
    assert_int_equal(sbc_numspec_parse("+1555*1", &s), SBC_NUMSPEC_MALFORMED);
    assert_int_equal(sbc_numspec_parse("+1555-1556", &s), SBC_NUMSPEC_MALFORMED);
    assert_int_equal(sbc_numspec_parse("+1556-+1555", &s), SBC_NUMSPEC_RANGE_ORDER);
    assert_int_equal(sbc_numspec_parse("+1556-+15559", &s), SBC_NUMSPEC_RANGE_LENGTH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations), cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_ports),     cmocka_unit_test(test_hostport),
        cmocka_unit_test(test_cidr),      cmocka_unit_test(test_numspec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
