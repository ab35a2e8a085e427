/* Loading: the CONFIG.md example, includes, defaults, relative paths, and
 * every class of validation error with its exact text and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <unistd.h>

#include "test_util.h"

/* Asserts the load fails with exactly these lines (NULL-terminated), in order. */
static void expect_errors(const char *file, ...)
{
    sbc_diag_t d;
    sbc_diag_init(&d);
    sbc_config_t *c = tu_load(file, &d);
    assert_null(c);
    va_list ap;
    va_start(ap, file);
    size_t i = 0;
    bool ok = true;
    for (const char *want; (want = va_arg(ap, const char *)); i++) {
        if (i >= d.n || strcmp(d.lines[i], want) != 0) {
            fprintf(stderr, "line %zu: want: %s\n", i, want);
            fprintf(stderr, "line %zu: got:  %s\n", i, i < d.n ? d.lines[i] : "(none)");
            ok = false;
        }
    }
    va_end(ap);
    if (i != d.n || !ok) {
        tu_print_diag(file, &d);
        fail_msg("%s: expected %zu lines, got %zu", file, i, d.n);
    }
    sbc_diag_clear(&d);
}

static char *certpath(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tu_certs(), name);
    return buf;
}

static void test_lab_example(void **state)
{
    sbc_diag_t d;
    sbc_diag_init(&d);
    sbc_config_t *c = tu_load("lab.yaml", &d);
    if (!c)
        tu_print_diag("lab.yaml", &d);
    assert_non_null(c);
    assert_int_equal(d.n, 0);
    char p[512];

    assert_string_equal(c->node.name, "sbc-lab-1");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(c->node.workers, cpus > 256 ? 256 : cpus);
    assert_string_equal(c->node.control_socket, "/run/sbc/sbc.sock");
    assert_string_equal(c->node.metrics_listen, "127.0.0.1:9091");
    assert_string_equal(c->node.cdr_file, "/var/log/sbc/cdr.jsonl");
    assert_int_equal(c->node.log_level, SBC_LOG_INFO);
    assert_int_equal(c->node.log_format, SBC_LOG_TEXT);
    assert_int_equal(c->node.drain_timeout_ms, 300000);

    assert_int_equal(c->n_interfaces, 2);
    const sbc_interface_t *t = &c->interfaces[0];
    assert_string_equal(t->name, "teams");
    assert_string_equal(t->sip_address, "0.0.0.0");
    assert_int_equal(t->sip_port, 5061);
    assert_int_equal(t->transports, SBC_TP_TLS);
    assert_string_equal(t->advertise, "203.0.113.10");
    assert_string_equal(t->media_address, "0.0.0.0");
    assert_int_equal(t->media_port_min, 20000);
    assert_int_equal(t->media_port_max, 29999);
    assert_int_equal(t->n_allow, 2);
    assert_int_equal(t->allow[0].family, AF_INET);
    assert_int_equal(t->allow[0].prefix, 14);
    assert_int_equal(t->allow[1].prefix, 15);
    assert_non_null(t->tls);
    assert_string_equal(t->tls->certificate, certpath(p, sizeof(p), "sbc.pem"));
    assert_string_equal(t->tls->private_key, certpath(p, sizeof(p), "sbc.key"));
    assert_string_equal(t->tls->ca_file, certpath(p, sizeof(p), "ca.pem"));
    assert_int_equal(t->tls->min_version, 0x0303);
    assert_string_equal(t->where.file, "lab.yaml");
    assert_int_equal(t->where.line, 13);
    const sbc_interface_t *core = &c->interfaces[1];
    assert_int_equal(core->transports, SBC_TP_UDP | SBC_TP_TCP);
    assert_null(core->tls);
    assert_null(core->advertise);
    assert_int_equal(core->n_allow, 0);

    assert_ptr_equal(c->teams.interface, t);
    assert_string_equal(c->teams.base_fqdn, "sbc.lab.example");
    assert_int_equal(c->teams.n_proxies, 3);
    assert_string_equal(c->teams.proxies[0].host, "sip.pstnhub.microsoft.com");
    assert_int_equal(c->teams.proxies[0].port, 5061);
    assert_null(c->teams.proxies[0].address);
    assert_string_equal(c->teams.proxies[2].host, "sip3.pstnhub.microsoft.com");
    assert_string_equal(c->teams.proxies[2].address, "127.0.0.43");
    assert_int_equal(c->teams.options_interval_ms, 60000);
    assert_int_equal(c->teams.srtp, SBC_SRTP_REQUIRED);
    assert_string_equal(c->teams.user_agent, "sbc/1.0");

    assert_int_equal(c->n_trunks, 2);
    const sbc_trunk_t *e = &c->trunks[0];
    assert_string_equal(e->name, "core-east");
    assert_ptr_equal(e->interface, core);
    assert_int_equal(e->n_targets, 2);
    assert_string_equal(e->targets[0].host, "10.0.1.5");
    assert_int_equal(e->targets[0].priority, 1);
    assert_int_equal(e->targets[1].priority, 2);
    assert_int_equal(e->targets[0].transport, SBC_TP_UDP);
    assert_int_equal(e->to_trunk, SBC_NUM_NATIONAL);
    assert_int_equal(e->from_trunk, SBC_NUM_E164);
    assert_string_equal(e->country_code, "1");
    assert_int_equal(e->media_srtp, SBC_SRTP_OFF);
    assert_int_equal(e->max_calls, 5000);
    assert_int_equal(e->max_cps, 200);
    assert_int_equal(e->options_interval_ms, 30000);
    const sbc_trunk_t *w = &c->trunks[1];           /* "host:port" targets and defaults */
    assert_string_equal(w->targets[0].host, "10.9.0.5");
    assert_int_equal(w->targets[0].port, 5070);
    assert_int_equal(w->targets[1].port, 5060);
    assert_int_equal(w->targets[1].weight, 1);
    assert_int_equal(w->options_interval_ms, 30000);
    assert_int_equal(w->n_allow, 3);
    assert_int_equal(w->allow[2].family, AF_INET6);

    /* acme + globex (single mapping) + initech, umbrella (list), in glob order */
    assert_int_equal(c->n_tenants, 4);
    const sbc_tenant_t *acme = &c->tenants[0];
    assert_string_equal(acme->name, "acme");
    assert_string_equal(acme->id, "3f2a9c1e-0b7d-4e55-9a51-2c6d8e4f7a10");
    assert_string_equal(acme->fqdn, "acme.sbc.lab.example");
    assert_ptr_equal(acme->trunk, e);
    assert_int_equal(acme->n_numbers, 2);
    assert_string_equal(acme->numbers[0], "+15551230000-+15551239999");
    assert_int_equal(acme->max_calls, 200);
    assert_string_equal(c->tenants[1].name, "globex");
    assert_string_equal(c->tenants[1].fqdn, "globex.sbc.lab.example");   /* lower-cased */
    assert_string_equal(c->tenants[1].where.file, "tenants.d/10-globex.yaml");
    assert_int_equal(c->tenants[1].where.line, 2);
    assert_string_equal(c->tenants[2].name, "initech");
    assert_string_equal(c->tenants[3].name, "umbrella");
    assert_string_equal(c->tenants[3].where.file, "tenants.d/20-more.yaml");
    assert_int_equal(c->tenants[3].where.line, 6);

    sbc_config_unref(c);
    sbc_diag_clear(&d);
}

/* sbc_config_load from a path; relative certificate paths resolve against
 * the file's directory and are stored absolute. */
static void test_load_path_relative_certs(void **state)
{
    char path[512], want[1100];
    snprintf(path, sizeof(path), "%s/relative.yaml", tu_certs());
    size_t len;
    char *yaml = tu_read_subst("mini.yaml", &len);
    assert_non_null(yaml);
    char *rel = strdup(yaml);
    /* turn "<certs>/sbc.pem" into "sbc.pem" */
    char *o = rel;
    size_t cl = strlen(tu_certs());
    for (const char *s = yaml; *s;) {
        if (strncmp(s, tu_certs(), cl) == 0 && s[cl] == '/')
            s += cl + 1;
        else
            *o++ = *s++;
    }
    *o = '\0';
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(rel, f);
    fclose(f);
    free(yaml);
    free(rel);

    sbc_diag_t d;
    sbc_diag_init(&d);
    sbc_config_t *c = sbc_config_load(path, &d);
    if (!c)
        tu_print_diag(path, &d);
    assert_non_null(c);
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    if (tu_certs()[0] == '/')
        snprintf(want, sizeof(want), "%s/sbc.pem", tu_certs());
    else
        snprintf(want, sizeof(want), "%s/%s/sbc.pem", cwd, tu_certs());
    assert_string_equal(c->interfaces[0].tls->certificate, want);
    assert_string_equal(c->path, path);
    /* defaults */
    assert_int_equal(c->interfaces[1].sip_port, 5060);
    assert_int_equal(c->interfaces[1].transports, SBC_TP_UDP);
    assert_string_equal(c->interfaces[1].media_address, "10.0.0.10");
    assert_int_equal(c->interfaces[0].tls->min_version, 0x0303);
    assert_int_equal(c->teams.options_interval_ms, 60000);
    assert_int_equal(c->trunks[0].targets[0].port, 5060);
    assert_int_equal(c->trunks[0].targets[0].priority, 1);
    assert_int_equal(c->trunks[0].targets[0].weight, 1);
    assert_int_equal(c->trunks[0].targets[0].transport, SBC_TP_UDP);
    assert_int_equal(c->node.drain_timeout_ms, 300000);
    assert_string_equal(c->node.control_socket, "/run/sbc/sbc.sock");
    sbc_config_unref(c);
    sbc_diag_clear(&d);
    unlink(path);

    sbc_diag_init(&d);
    assert_null(sbc_config_load("no-such-config.yaml", &d));
    assert_int_equal(d.n, 1);
    assert_string_equal(d.lines[0], "no-such-config.yaml: cannot read file: No such file or directory");
    sbc_diag_clear(&d);
}

static void test_unknown_key(void **state)
{
    expect_errors("err-unknown-key.yaml",
                  "err-unknown-key.yaml:24: unknown key 'max_call' in tenant (valid: name, id, fqdn, trunk, numbers, max_calls)",
                  NULL);
}

static void test_wrong_type(void **state)
{
    expect_errors("err-type.yaml", "err-type.yaml:9: 'sip' must be a mapping, not a scalar", NULL);
}

static void test_missing_key(void **state)
{
    expect_errors("err-missing.yaml", "err-missing.yaml:21: missing required key 'fqdn' in tenant", NULL);
}

static void test_missing_references(void **state)
{
    expect_errors("err-refs.yaml",
                  "err-refs.yaml:12: interface 'teamz' referenced by teams.interface does not exist",
                  "err-refs.yaml:17: interface 'kore' referenced by trunk 'east' does not exist",
                  "err-refs.yaml:23: trunk 'west' referenced by tenant 'acme' does not exist", NULL);
}

static void test_duplicates(void **state)
{
    expect_errors("err-dup.yaml",
                  "err-dup.yaml:25: duplicate tenant name 'acme' (first defined at err-dup.yaml:21)",
                  "err-dup.yaml:27: duplicate tenant fqdn 'acme.sbc.lab.example' (first defined at err-dup.yaml:21)",
                  "err-dup.yaml:30: duplicate tenant id '3F2A9C1E-0B7D-4E55-9A51-2C6D8E4F7A10' (first defined at err-dup.yaml:25)",
                  "dup.d/a.yaml:1: duplicate tenant name 'acme' (first defined at err-dup.yaml:21)", NULL);
    expect_errors("err-dup-names.yaml",
                  "err-dup-names.yaml:11: duplicate interface name 'core' (first defined at err-dup-names.yaml:8)",
                  "err-dup-names.yaml:23: duplicate trunk name 'east' (first defined at err-dup-names.yaml:19)",
                  "err-dup-names.yaml:23: allow 10.0.1.0/24 of trunk 'east' already belongs to trunk 'east' (err-dup-names.yaml:19)",
                  NULL);
}

static void test_number_overlaps(void **state)
{
    expect_errors("err-overlap.yaml",
                  "err-overlap.yaml:29: number '+15551239000-+15551240999' of tenant 'beta' overlaps '+15551230000-+15551239999' of tenant 'acme' (err-overlap.yaml:24)",
                  "err-overlap.yaml:30: number '+15551230042' of tenant 'beta' overlaps '+15551230000-+15551239999' of tenant 'acme' (err-overlap.yaml:24)",
                  NULL);
}

static void test_fqdn_rules(void **state)
{
    expect_errors("err-fqdn.yaml",
                  "err-fqdn.yaml:22: tenant fqdn 'acme.eu.sbc.lab.example' is not one label under teams.base_fqdn 'sbc.lab.example'",
                  "err-fqdn.yaml:26: tenant fqdn 'beta.example.com' is not one label under teams.base_fqdn 'sbc.lab.example'",
                  NULL);
}

static void test_bad_values(void **state)
{
    expect_errors("err-values.yaml",
                  "err-values.yaml:3: bad value '0' for 'workers' (use auto or 1-256)",
                  "err-values.yaml:4: bad value 'loud' for 'level' (use one of: error, warn, info, debug)",
                  "err-values.yaml:5: bad value '50ms' for 'media_batch' (0ms to 20ms)",
                  "err-values.yaml:12: bad port '70000' for 'port' (use 1-65535)",
                  "err-values.yaml:13: bad port range '39999-30000' for 'ports' (use MIN-MAX within 1-65535, MIN <= MAX)",
                  "err-values.yaml:18: bad duration '5x' for 'options_interval' (use e.g. 500ms, 60s, 2m, 1h)",
                  "err-values.yaml:23: bad CIDR '10.0.1.1/24': host bits are set (network is 10.0.1.0/24)",
                  "err-values.yaml:23: bad CIDR '10.0.1.0/33' (use address/prefix, e.g. 10.0.0.0/24)",
                  "err-values.yaml:23: bad CIDR '2001:db8::1/32': host bits are set (network is 2001:db8::/32)",
                  NULL);
}

static void test_bad_numbers(void **state)
{
    expect_errors("err-numbers.yaml",
                  "err-numbers.yaml:25: malformed number '15551230000' (use E.164 '+' and 1-15 digits, a prefix '+1555*' or a range '+15551230000-+15551239999')",
                  "err-numbers.yaml:26: malformed number '+1555123000012345' (use E.164 '+' and 1-15 digits, a prefix '+1555*' or a range '+15551230000-+15551239999')",
                  "err-numbers.yaml:27: malformed number range '+15551239999-+15551230000': start is above end",
                  "err-numbers.yaml:28: malformed number range '+1555123-+15551239999': both ends need the same number of digits",
                  "err-numbers.yaml:29: malformed number '+1555-123' (use E.164 '+' and 1-15 digits, a prefix '+1555*' or a range '+15551230000-+15551239999')",
                  NULL);
}

static void test_three_errors_at_once(void **state)
{
    expect_errors("err-three.yaml",
                  "err-three.yaml:19: unknown key 'colour' in trunk (valid: name, interface, targets, allow, numbers, media, max_calls, max_cps, options_interval, failover_timeout)",
                  "err-three.yaml:20: bad CIDR '10.0.1.0/23x' (use address/prefix, e.g. 10.0.0.0/24)",
                  "err-three.yaml:24: trunk 'nowhere' referenced by tenant 'acme' does not exist", NULL);
}

static void test_syntax_error(void **state)
{
    expect_errors("err-syntax.yaml",
                  "err-syntax.yaml:6: YAML syntax error: did not find expected ',' or '}' (while parsing a flow mapping at line 5)",
                  NULL);
}

static void test_include_errors(void **state)
{
    expect_errors("err-include.yaml",
                  "err-include.yaml:26: cannot read include 'no-such-file.yaml': No such file or directory",
                  "bad-include.d/a.yaml:5: number '+15551230005' of tenant 'zeta' overlaps '+15551230000-+15551239999' of tenant 'acme' (err-include.yaml:24)",
                  "bad-include.d/a.yaml:6: bad value 'lots' for 'max_calls' (use an integer from 0 to 4294967295)",
                  NULL);
}

static void test_certificates(void **state)
{
    char line[1024], p1[512], p2[512], cwd[512];
    snprintf(line, sizeof(line), "err-cert-missing.yaml:7: cannot read certificate '%s': No such file or directory",
             certpath(p1, sizeof(p1), "missing.pem"));
    expect_errors("err-cert-missing.yaml", line, NULL);

    assert_non_null(getcwd(cwd, sizeof(cwd)));
    snprintf(line, sizeof(line), "err-cert-garbage.yaml:7: certificate '%s/mini.yaml' does not parse as PEM", cwd);
    expect_errors("err-cert-garbage.yaml", line, NULL);

    snprintf(line, sizeof(line), "err-cert-mismatch.yaml:7: certificate '%s' does not match private key '%s'",
             certpath(p1, sizeof(p1), "sbc.pem"), certpath(p2, sizeof(p2), "stray.key"));
    expect_errors("err-cert-mismatch.yaml", line, NULL);

    snprintf(line, sizeof(line),
             "err-cert-cover.yaml:22: tenant fqdn 'acme.sbc.lab.example' is not covered by certificate '%s' of teams interface 'teams'",
             certpath(p1, sizeof(p1), "other.pem"));
    expect_errors("err-cert-cover.yaml", line, NULL);
}

static void test_buffer_edge_cases(void **state)
{
    static const struct { const char *yaml, *want; } cases[] = {
        { "", "t.yaml:1: the configuration must be a mapping with node, interfaces, teams, trunks and tenants" },
        { "- a\n- b\n", "t.yaml:1: the configuration must be a mapping with node, interfaces, teams, trunks and tenants" },
        { "a: &x 1\nb: *x\n", "t.yaml:2: YAML aliases are not supported" },
        { "node: {}\nnode: {}\n", "t.yaml:2: duplicate key 'node' (first at line 1)" },
        { "--- {}\n--- {}\n", "t.yaml:2: only one YAML document per file" },
        { "tenants:\n  - include: x/*.yaml\n", "t.yaml:2: include of 'x/*.yaml' refused: file access is disabled" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sbc_diag_t d;
        sbc_diag_init(&d);
        unsigned flags = strstr(cases[i].yaml, "include") ? SBC_LOAD_NO_FILES : 0;
        assert_null(sbc_config_load_buffer_flags("t.yaml", NULL, cases[i].yaml, strlen(cases[i].yaml),
                                                 flags, &d));
        bool found = false;
        for (size_t k = 0; k < d.n; k++)
            found |= strcmp(d.lines[k], cases[i].want) == 0;
        if (!found) {
            tu_print_diag(cases[i].yaml, &d);
            fail_msg("case %zu: missing '%s'", i, cases[i].want);
        }
        sbc_diag_clear(&d);
    }
}

int main(void)
{
    tu_enter_data_dir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lab_example),
        cmocka_unit_test(test_load_path_relative_certs),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_missing_key),
        cmocka_unit_test(test_missing_references),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_number_overlaps),
        cmocka_unit_test(test_fqdn_rules),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_bad_numbers),
        cmocka_unit_test(test_three_errors_at_once),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_include_errors),
        cmocka_unit_test(test_certificates),
        cmocka_unit_test(test_buffer_edge_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
