/* Snapshot store: readers on other threads look numbers up while the main
 * thread publishes new snapshots in a loop. Every reader must always see one
 * whole snapshot (never a mix), and every snapshot must be freed. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/config_store.h"

static const char *g_dir;
static char g_path[2][512];

/* Variant v maps +15551230000.. to tenant "t<v>" and names the node "n<v>":
 * a reader that finds t0 in a snapshot named n1 saw a torn state. */
static void write_variant(int v)
{
    snprintf(g_path[v], sizeof g_path[v], "%s/variant%d.yaml", g_dir, v);
    FILE *f = fopen(g_path[v], "w");
    assert_non_null(f);
    fprintf(f,
            "node: { name: n%d, workers: 1, control_socket: %s/unused.sock }\n"
            "interfaces:\n"
            "  - name: teams\n"
            "    sip: { address: 127.0.2.1, port: 5061, transports: [tls] }\n"
            "    media: { address: 127.0.2.1, ports: 20000-20999 }\n"
            "    tls: { certificate: tls/sbc.pem, private_key: tls/sbc.key, ca_file: tls/ca.pem }\n"
            "  - name: core\n"
            "    sip: { address: 127.0.2.1, port: 5060, transports: [udp] }\n"
            "    media: { address: 127.0.2.1, ports: 30000-30999 }\n"
            "teams: { interface: teams, base_fqdn: sbc.lab.example, proxies: [ \"sip.pstnhub.microsoft.com:5061\" ] }\n"
            "trunks:\n"
            "  - { name: core, interface: core, targets: [ { host: 127.0.2.21 } ], allow: [127.0.2.20/30] }\n"
            "tenants:\n"
            "  - { name: t%d, fqdn: t%d.sbc.lab.example, trunk: core, numbers: [\"+15551230000-+15551239999\"] }\n"
            "  - { name: other%d, fqdn: o%d.sbc.lab.example, trunk: core, numbers: [\"+1666%d\"] }\n",
            v, g_dir, v, v, v, v, v);
    fclose(f);
}

static sbc_config_t *load(int v)
{
    sbc_diag_t d;
    sbc_diag_init(&d);
    sbc_config_t *c = sbc_config_load(g_path[v], &d);
    for (size_t i = 0; i < d.n; i++)
        fprintf(stderr, "%s\n", d.lines[i]);
    sbc_diag_clear(&d);
    assert_non_null(c);
    return c;
}

typedef struct reader {
    pthread_t th;
    int stop;
    long lookups, torn, generations_seen;
} reader_t;

static void *reader_main(void *arg)
{
    reader_t *r = arg;
    sbc_config_store_thread_online();
    uint64_t last_gen = 0;
    while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
        sbc_config_t *c = sbc_config_current();
        if (!c)
            continue;
        const sbc_tenant_t *t = sbc_config_tenant_by_number(c, "+15551234567");
        char want[8];
        snprintf(want, sizeof want, "t%c", c->node.name[1]);
        if (!t || strcmp(t->name, want) != 0)
            r->torn++;
        if (c->generation < last_gen)
            r->torn++;   /* generations never go backwards for one reader */
        if (c->generation != last_gen)
            r->generations_seen++;
        last_gen = c->generation;
        r->lookups++;
        sbc_config_unref(c);
    }
    sbc_config_store_thread_offline();
    return NULL;
}

static void test_reload_while_reading(void **state)
{
    reader_t readers[2] = { 0 };
    sbc_config_publish(load(0));
    for (int i = 0; i < 2; i++)
        pthread_create(&readers[i].th, NULL, reader_main, &readers[i]);
    for (int k = 1; k <= 300; k++)
        sbc_config_publish(load(k & 1));
    for (int i = 0; i < 2; i++) {
        __atomic_store_n(&readers[i].stop, 1, __ATOMIC_RELEASE);
        pthread_join(readers[i].th, NULL);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(readers[i].torn, 0);
        assert_true(readers[i].lookups > 0);
        assert_true(readers[i].generations_seen > 1);
    }
    sbc_config_t *c = sbc_config_current();
    assert_int_equal(c->generation, 301);
    sbc_config_unref(c);
}

/* A call holding a snapshot keeps it valid across later publishes. */
static void test_holder_keeps_snapshot(void **state)
{
    sbc_config_t *held = sbc_config_current();
    assert_non_null(held);
    const char *name = held->node.name;
    char expect[8];
    snprintf(expect, sizeof expect, "%s", name);
    for (int k = 0; k < 5; k++)
        sbc_config_publish(load(k & 1));
    assert_string_equal(held->node.name, expect);
    assert_non_null(sbc_config_tenant_by_number(held, "+15551230000"));
    sbc_config_unref(held);
}

/* 1,000 reloads: the sanitizer build reports any snapshot not freed. */
static void test_thousand_reloads(void **state)
{
    for (int k = 0; k < 1000; k++)
        sbc_config_publish(load(k & 1));
    sbc_config_store_shutdown();
    assert_null(sbc_config_current());
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_store DIR (with DIR/tls from gen-certs.sh)\n");
        return 2;
    }
    g_dir = argv[1];
    write_variant(0);
    write_variant(1);
    sbc_config_store_thread_online();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reload_while_reading),
        cmocka_unit_test(test_holder_keeps_snapshot),
        cmocka_unit_test(test_thousand_reloads),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sbc_config_store_thread_offline();
    return rc;
}
