/* Reload diffs, and many load/unref cycles (the ASan build checks leaks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

/* mini.yaml with each pair of (from, to) replaced once. */
static sbc_config_t *load_variant(const char *const *edits)
{
    size_t len;
    char *y = tu_read_subst("mini.yaml", &len);
    assert_non_null(y);
    for (size_t i = 0; edits && edits[i]; i += 2) {
        char *at = strstr(y, edits[i]);
        if (!at)
            fail_msg("edit '%s' does not apply", edits[i]);
        size_t fl = strlen(edits[i]), tl = strlen(edits[i + 1]);
        char *n = malloc(strlen(y) - fl + tl + 1);
        memcpy(n, y, (size_t)(at - y));
        memcpy(n + (at - y), edits[i + 1], tl);
        strcpy(n + (at - y) + tl, at + fl);
        free(y);
        y = n;
    }
    sbc_diag_t d;
    sbc_diag_init(&d);
    sbc_config_t *c = sbc_config_load_buffer("mini.yaml", NULL, y, strlen(y), &d);
    if (!c)
        tu_print_diag("variant", &d);
    assert_non_null(c);
    sbc_diag_clear(&d);
    free(y);
    return c;
}

static void expect_diff(const sbc_config_t *a, const sbc_config_t *b, const char *const *want)
{
    sbc_diag_t d;
    sbc_diag_init(&d);
    sbc_config_diff(a, b, &d);
    size_t n = 0;
    bool ok = true;
    for (; want[n]; n++)
        ok &= n < d.n && strcmp(d.lines[n], want[n]) == 0;
    if (!ok || n != d.n) {
        tu_print_diag("diff", &d);
        fail_msg("unexpected diff");
    }
    sbc_diag_clear(&d);
}

static void test_no_change(void **state)
{
    sbc_config_t *a = load_variant(NULL), *b = load_variant(NULL);
    expect_diff(a, b, (const char *[]){ NULL });
    sbc_config_unref(a);
    sbc_config_unref(b);
}

static void test_changes(void **state)
{
    static const char *const beta[] = {
        "    numbers: [\"+15551230000-+15551239999\"]\n",
        "    numbers: [\"+15551230000-+15551239999\"]\n"
        "  - name: beta\n    fqdn: beta.sbc.lab.example\n    trunk: east\n",
        NULL };
    static const char *const edits[] = {
        "  name: t1\n", "  name: t1\n  workers: 3\n",
        "    sip: { address: 10.0.0.10 }", "    sip: { address: 10.0.0.10, port: 5070 }",
        "    media: { ports: 20000-29999 }", "    media: { ports: 20000-20999 }",
        "  proxies: [sip.pstnhub.microsoft.com:5061]", "  proxies: [sip2.pstnhub.microsoft.com:5061]",
        "    targets: [10.0.1.5]", "    targets: [10.0.1.6]",
        "    trunk: east\n", "    trunk: east\n    max_calls: 10\n",
        NULL };
    sbc_config_t *a = load_variant(beta), *b = load_variant(edits);
    expect_diff(a, b, (const char *[]){
        "restart needed: node.workers",
        "interface changed: teams",
        "interface changed: core",
        "restart needed: interface core sip address/port/transports",
        "teams changed",
        "trunk changed: east",
        "tenant changed: acme",
        "tenant removed: beta",
        NULL });
    expect_diff(b, a, (const char *[]){
        "restart needed: node.workers",
        "interface changed: teams",
        "interface changed: core",
        "restart needed: interface core sip address/port/transports",
        "teams changed",
        "trunk changed: east",
        "tenant changed: acme",
        "tenant added: beta",
        NULL });
    sbc_config_unref(a);
    sbc_config_unref(b);
}

static void test_added_removed_objects(void **state)
{
    static const char *const more[] = {
        "teams:\n", "  - name: edge\n    sip: { address: 10.0.0.12 }\n    media: { ports: 41000-41999 }\nteams:\n",
        "tenants:\n", "  - name: west\n    interface: edge\n    targets: [10.0.3.5]\ntenants:\n",
        NULL };
    sbc_config_t *a = load_variant(NULL), *b = load_variant(more);
    expect_diff(a, b, (const char *[]){
        "interface added: edge",
        "restart needed: interface edge sip address/port/transports",
        "trunk added: west",
        NULL });
    expect_diff(b, a, (const char *[]){
        "interface removed: edge",
        "restart needed: interface edge sip address/port/transports",
        "trunk removed: west",
        NULL });
    sbc_config_unref(a);
    sbc_config_unref(b);
}

/* Same path, new content: the hash tells. */
static void test_certificate_content(void **state)
{
    char dir[] = "/tmp/sbc-config-diff-XXXXXX", ca[600], cmd[1400];
    assert_non_null(mkdtemp(dir));
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    snprintf(cmd, sizeof(cmd), "cp %s/ca.pem %s", tu_certs(), ca);
    assert_int_equal(system(cmd), 0);
    char caline[700];
    snprintf(caline, sizeof(caline), "private_key: %s/sbc.key, ca_file: %s }", tu_certs(), ca);
    char keyline[600];
    snprintf(keyline, sizeof(keyline), "private_key: %s/sbc.key }", tu_certs());
    const char *edits[] = { keyline, caline, NULL };
    sbc_config_t *a = load_variant(edits);
    snprintf(cmd, sizeof(cmd), "cp %s/teams.pem %s", tu_certs(), ca);
    assert_int_equal(system(cmd), 0);
    sbc_config_t *b = load_variant(edits);
    char want[700];
    snprintf(want, sizeof(want), "certificate changed: %s", ca);
    expect_diff(a, b, (const char *[]){ "interface changed: teams", want, NULL });
    sbc_config_t *c = load_variant(edits);
    expect_diff(b, c, (const char *[]){ NULL });
    sbc_config_unref(a);
    sbc_config_unref(b);
    sbc_config_unref(c);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_first_load(void **state)
{
    sbc_config_t *a = load_variant(NULL);
    char want[600];
    snprintf(want, sizeof(want), "certificate changed: %s/sbc.pem", tu_certs());
    char want2[600];
    snprintf(want2, sizeof(want2), "certificate changed: %s/sbc.key", tu_certs());
    expect_diff(NULL, a, (const char *[]){ "interface added: teams", "interface added: core",
                                           "teams changed", "trunk added: east", "tenant added: acme",
                                           want, want2, NULL });
    sbc_config_unref(a);
}

static void test_load_unref_cycles(void **state)
{
    for (int i = 0; i < 1000; i++) {
        sbc_diag_t d;
        sbc_diag_init(&d);
        sbc_config_t *c = tu_load(i % 10 == 9 ? "err-three.yaml" : "lab.yaml", &d);
        assert_true(i % 10 == 9 ? c == NULL && d.n == 3 : c != NULL);
        sbc_config_t *r = sbc_config_ref(c);
        sbc_config_unref(c);
        sbc_config_unref(r);
        sbc_diag_clear(&d);
    }
}

int main(void)
{
    tu_enter_data_dir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_change),
        cmocka_unit_test(test_changes),
        cmocka_unit_test(test_added_removed_objects),
        cmocka_unit_test(test_certificate_content),
        cmocka_unit_test(test_first_load),
        cmocka_unit_test(test_load_unref_cycles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
