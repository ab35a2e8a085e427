/* Lookups: tenant by FQDN, id, name and called number (most specific wins,
 * range edges), trunk by source address (longest CIDR match), names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "config/arena.h"
#include "config/numbers.h"
#include "test_util.h"

static int setup(void **state)
{
    sbc_diag_t d;
    sbc_diag_init(&d);
    sbc_config_t *c = tu_load("lab.yaml", &d);
    if (!c)
        tu_print_diag("lab.yaml", &d);
    sbc_diag_clear(&d);
    *state = c;
    return c ? 0 : -1;
}

static int teardown(void **state)
{
    sbc_config_unref(*state);
    return 0;
}

static const char *tenant_name(const sbc_config_t *c, const char *number)
{
    const sbc_tenant_t *t = sbc_config_tenant_by_number(c, number);
    return t ? t->name : "(none)";
}

static void test_by_fqdn_id_name(void **state)
{
    const sbc_config_t *c = *state;
    assert_string_equal(sbc_config_tenant_by_fqdn(c, "acme.sbc.lab.example")->name, "acme");
    assert_string_equal(sbc_config_tenant_by_fqdn(c, "ACME.Sbc.Lab.Example")->name, "acme");
    assert_string_equal(sbc_config_tenant_by_fqdn(c, "acme.sbc.lab.example.")->name, "acme");
    assert_string_equal(sbc_config_tenant_by_fqdn(c, "globex.sbc.lab.example")->name, "globex");
    assert_null(sbc_config_tenant_by_fqdn(c, "acme.sbc.lab"));
    assert_null(sbc_config_tenant_by_fqdn(c, "acme.sbc.lab.example.com"));
    assert_null(sbc_config_tenant_by_fqdn(c, ""));
    assert_null(sbc_config_tenant_by_fqdn(c, NULL));
    assert_string_equal(sbc_config_tenant_by_id(c, "3F2A9C1E-0B7D-4E55-9A51-2C6D8E4F7A10")->name, "acme");
    assert_string_equal(sbc_config_tenant_by_id(c, "0d5e2f3a-1111-4222-8333-444455556666")->name, "globex");
    assert_null(sbc_config_tenant_by_id(c, "0d5e2f3a-1111-4222-8333-444455556667"));
    assert_string_equal(sbc_config_tenant_by_name(c, "initech")->name, "initech");
    assert_null(sbc_config_tenant_by_name(c, "nobody"));
    assert_string_equal(sbc_config_trunk_by_name(c, "core-west")->name, "core-west");
    assert_null(sbc_config_trunk_by_name(c, "core-north"));
    assert_string_equal(sbc_config_interface_by_name(c, "core")->name, "core");
    assert_null(sbc_config_interface_by_name(c, "edge"));
    assert_null(sbc_config_tenant_by_fqdn(NULL, "x"));
}

/* lab.yaml: acme +15551230000-+15551239999 and +15557770001; globex +1555*;
 * initech +15551240000-+15551249999 and +155512*; umbrella
 * +15551250000-+15551259999 and +15551250123. */
static void test_by_number_most_specific(void **state)
{
    const sbc_config_t *c = *state;
    assert_string_equal(tenant_name(c, "+15557770001"), "acme");     /* exact beats prefix +1555* */
    assert_string_equal(tenant_name(c, "15557770001"), "acme");      /* '+' optional */
    assert_string_equal(tenant_name(c, "+15557770002"), "globex");   /* prefix */
    assert_string_equal(tenant_name(c, "+1555"), "globex");          /* the prefix itself */
    assert_string_equal(tenant_name(c, "+15551200000"), "initech");  /* longest prefix +155512* */
    assert_string_equal(tenant_name(c, "+15551234567"), "acme");     /* range beats prefixes */
    assert_string_equal(tenant_name(c, "+15551250123"), "umbrella");
    assert_string_equal(tenant_name(c, "+4930123456"), "globex");
    assert_string_equal(tenant_name(c, "+16000000000"), "(none)");
    assert_string_equal(tenant_name(c, "+155"), "(none)");
    /* range edges: lo-1, lo, hi, hi+1 */
    assert_string_equal(tenant_name(c, "+15551229999"), "initech");  /* prefix +155512* */
    assert_string_equal(tenant_name(c, "+15551230000"), "acme");
    assert_string_equal(tenant_name(c, "+15551239999"), "acme");
    assert_string_equal(tenant_name(c, "+15551240000"), "initech");  /* next range */
    assert_string_equal(tenant_name(c, "+15551259999"), "umbrella");
    assert_string_equal(tenant_name(c, "+15551260000"), "initech");  /* back to +155512* */
    /* same digits, other length: a different number */
    assert_string_equal(tenant_name(c, "+155512300000"), "initech");
    const char *bad[] = { "", "+", "++15551230000", "+1555123000a", "+1234567890123456", "tel:+1555" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_null(sbc_config_tenant_by_number(c, bad[i]));
    assert_null(sbc_config_tenant_by_number(c, NULL));
}

/* The index alone against a brute-force reference on random data. */
static uint64_t rnd_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static void test_index_edges_random(void **state)
{
    enum { N = 3000 };
    struct sbc_num_entry *e = calloc(N, sizeof(*e)), *ref = calloc(N, sizeof(*e));
    size_t n = 0;
    /* disjoint ranges of 8 digits, exact numbers in gaps, a few prefixes */
    uint64_t next = 10000000;
    while (n < N - 40) {
        next += 1 + rnd() % 500;
        uint64_t lo = next, hi = lo + rnd() % 300;
        next = hi + 1;
        bool exact = rnd() % 3 == 0;
        e[n] = (struct sbc_num_entry){ { exact ? SBC_NUMK_EXACT : SBC_NUMK_RANGE, 8, lo, exact ? lo : hi },
                                       (uint32_t)(n % 97), (uint32_t)n };
        n++;
    }
    for (unsigned k = 0; k < 40; k++, n++)
        e[n] = (struct sbc_num_entry){ { SBC_NUMK_PREFIX, (uint8_t)(2 + k % 5), 10 + rnd() % 80, 0 },
                                       1000 + k, (uint32_t)n };
    for (size_t i = N - 40; i < N; i++) {   /* prefix value must have len digits */
        uint64_t p = 1;
        for (unsigned d = 1; d < e[i].spec.len; d++)
            p *= 10;
        e[i].spec.lo = p + e[i].spec.lo % (9 * p);
        e[i].spec.hi = e[i].spec.lo;
    }
    /* drop duplicate prefixes so the set is valid */
    for (size_t i = N - 40; i < N; i++)
        for (size_t j = N - 40; j < i; j++)
            if (e[i].spec.len == e[j].spec.len && e[i].spec.lo == e[j].spec.lo)
                e[i].owner = e[j].owner;
    memcpy(ref, e, sizeof(*e) * N);

    struct sbc_arena *a = sbc_arena_create();
    assert_int_equal(sbc_num_overlaps(e, n, NULL, NULL), 0);
    struct sbc_numindex *ix = sbc_numindex_build(a, e, n);

    for (int q = 0; q < 20000; q++) {
        uint64_t v;
        if (q % 2) {    /* around an edge */
            const struct sbc_num_entry *r = &ref[rnd() % (N - 40)];
            v = (q % 4 == 1 ? r->spec.lo : r->spec.hi) + (rnd() % 3) - 1;
        } else {
            v = 10000000 + rnd() % (next - 10000000 + 10);
        }
        char num[32];
        snprintf(num, sizeof(num), "+%llu", (unsigned long long)v);
        int64_t want = -1;
        for (size_t i = 0; i < N - 40 && want < 0; i++)
            if (v >= ref[i].spec.lo && v <= ref[i].spec.hi)
                want = ref[i].owner;
        unsigned best = 0;
        if (want < 0) {
            for (size_t i = N - 40; i < N; i++) {
                uint64_t p = v;
                for (unsigned d = ref[i].spec.len; d < 8; d++)
                    p /= 10;
                if (p == ref[i].spec.lo && ref[i].spec.len > best) {
                    best = ref[i].spec.len;
                    want = ref[i].owner;
                }
            }
        }
        uint32_t got;
        bool found = sbc_numindex_lookup(ix, num, &got);
        if (want < 0)
            assert_false(found);
        else {
            assert_true(found);
            assert_int_equal(got, want);
        }
    }
    sbc_arena_destroy(a);
    free(e);
    free(ref);
}

static const char *trunk_at(const sbc_config_t *c, int family, const char *ip)
{
    struct sockaddr_storage ss = { 0 };
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        inet_pton(AF_INET, ip, &in->sin_addr);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &in6->sin6_addr);
    }
    const sbc_trunk_t *t = sbc_config_trunk_by_addr(c, (struct sockaddr *)&ss);
    return t ? t->name : "(none)";
}

/* core-east: 10.0.1.0/24, 10.0.2.0/24, 10.9.1.128/25;
 * core-west: 10.9.0.0/16, 10.9.1.0/24, 2001:db8::/32 */
static void test_trunk_by_addr(void **state)
{
    const sbc_config_t *c = *state;
    assert_string_equal(trunk_at(c, AF_INET, "10.0.1.9"), "core-east");
    assert_string_equal(trunk_at(c, AF_INET, "10.0.2.255"), "core-east");
    assert_string_equal(trunk_at(c, AF_INET, "10.9.1.200"), "core-east");   /* /25 beats /24 and /16 */
    assert_string_equal(trunk_at(c, AF_INET, "10.9.1.128"), "core-east");
    assert_string_equal(trunk_at(c, AF_INET, "10.9.1.127"), "core-west");   /* /24 */
    assert_string_equal(trunk_at(c, AF_INET, "10.9.7.7"), "core-west");     /* /16 */
    assert_string_equal(trunk_at(c, AF_INET, "10.10.0.1"), "(none)");
    assert_string_equal(trunk_at(c, AF_INET, "52.112.0.1"), "(none)");     /* interface allow, not a trunk */
    assert_string_equal(trunk_at(c, AF_INET6, "2001:db8::5"), "core-west");
    assert_string_equal(trunk_at(c, AF_INET6, "2001:db9::5"), "(none)");
    assert_string_equal(trunk_at(c, AF_INET6, "::ffff:10.0.2.3"), "core-east");
    assert_null(sbc_config_trunk_by_addr(c, NULL));
}

int main(void)
{
    tu_enter_data_dir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_fqdn_id_name),
        cmocka_unit_test(test_by_number_most_specific),
        cmocka_unit_test(test_trunk_by_addr),
    };
    const struct CMUnitTest plain[] = {
        cmocka_unit_test(test_index_edges_random),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    return rc | cmocka_run_group_tests(plain, NULL, NULL);
}
