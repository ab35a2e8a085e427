/* sbcctl: the NOC's client for sbcd's control socket.
 * Exit status: 0 done, 1 refused by sbcd (e.g. a config with errors), 2 usage
 * or connection error. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#define DEFAULT_SOCKET "/run/sbc/sbc.sock"

static void usage(FILE *f)
{
    fprintf(f, "usage: sbcctl [-s SOCKET] [--json] COMMAND\n"
               "commands:\n"
               "  status            node, workers, config generation, allocator\n"
               "  reload            reload the config file; prints what changed or every error\n"
               "  tenants           tenants of the running config\n"
               "  trunks            carrier trunks of the running config\n"
               "  lookup NUMBER     which tenant a called E.164 number routes to\n"
               "  calls             live calls with their media counters\n"
               "  drain             refuse new calls (503), stop when the last call ends\n"
               "  stop              stop sbcd\n"
               "SOCKET defaults to $SBC_CONTROL_SOCKET or " DEFAULT_SOCKET "\n");
}

static json_t *call(const char *path, json_t *req)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    struct timeval tv = { .tv_sec = 30 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
        fprintf(stderr, "sbcctl: cannot connect to %s: %s (is sbcd running?)\n", path, strerror(errno));
        close(fd);
        return NULL;
    }
    char *text = json_dumps(req, JSON_COMPACT);
    size_t len = strlen(text);
    text = realloc(text, len + 2);
    text[len++] = '\n';
    if (write(fd, text, len) != (ssize_t)len) {
        fprintf(stderr, "sbcctl: write to %s: %s\n", path, strerror(errno));
        free(text);
        close(fd);
        return NULL;
    }
    free(text);

    size_t cap = 65536, got = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (got + 1 >= cap)
            buf = realloc(buf, cap *= 2);
        ssize_t r = read(fd, buf + got, cap - got - 1);
        if (r <= 0) {
            fprintf(stderr, "sbcctl: no reply from sbcd: %s\n", r < 0 ? strerror(errno) : "connection closed");
            free(buf);
            close(fd);
            return NULL;
        }
        got += (size_t)r;
        if (buf[got - 1] == '\n')
            break;
    }
    close(fd);
    json_error_t jerr;
    json_t *reply = json_loadb(buf, got, 0, &jerr);
    free(buf);
    if (!reply)
        fprintf(stderr, "sbcctl: unreadable reply: %s\n", jerr.text);
    return reply;
}

static void print_list(json_t *a, const char *prefix)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) printf("%s%s\n", prefix, json_string_value(v));
}

static void print_status(json_t *r)
{
    printf("node        %s (sbcd %s, pid %lld, up %llds)\n", json_string_value(json_object_get(r, "node")),
           json_string_value(json_object_get(r, "version")), json_integer_value(json_object_get(r, "pid")),
           json_integer_value(json_object_get(r, "uptime_s")));
    printf("config      %s, generation %lld: %lld interface(s), %lld trunk(s), %lld tenant(s)\n",
           json_string_value(json_object_get(r, "config")), json_integer_value(json_object_get(r, "generation")),
           json_integer_value(json_object_get(r, "interfaces")), json_integer_value(json_object_get(r, "trunks")),
           json_integer_value(json_object_get(r, "tenants")));
    json_t *rl = json_object_get(r, "reloads");
    if (json_is_true(json_object_get(r, "draining")))
        printf("state       DRAINING: new calls and OPTIONS get 503\n");
    printf("reloads     %lld ok, %lld failed; last: %s\n", json_integer_value(json_object_get(rl, "ok")),
           json_integer_value(json_object_get(rl, "failed")), json_string_value(json_object_get(rl, "last")));
    json_t *al = json_object_get(r, "allocator");
    printf("allocator   %s%s, %lld bytes allocated\n", json_string_value(json_object_get(al, "name")),
           json_is_true(json_object_get(al, "jemalloc_active")) ? " (active)" : "",
           json_integer_value(json_object_get(al, "allocated")));
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(r, "workers"), i, w)
        printf("worker %-4lld jobs %lld, config generation %lld, calls %lld active / %lld total, handoffs %lld in\n",
               json_integer_value(json_object_get(w, "index")), json_integer_value(json_object_get(w, "jobs")),
               json_integer_value(json_object_get(w, "config_generation")),
               json_integer_value(json_object_get(w, "calls_active")),
               json_integer_value(json_object_get(w, "calls_total")),
               json_integer_value(json_object_get(w, "handoffs_in")));
    json_t *calls = json_object_get(r, "calls");
    if (calls) {
        printf("calls      ");
        const char *k;
        json_t *v;
        json_object_foreach(calls, k, v) printf(" %s=%lld", k, json_integer_value(v));
        printf("\n");
    }
}

static void print_tenants(json_t *r)
{
    printf("generation %lld\n%-20s %-36s %-16s %9s  %s\n", json_integer_value(json_object_get(r, "generation")),
           "TENANT", "FQDN", "TRUNK", "MAX_CALLS", "NUMBERS");
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(r, "tenants"), i, t) {
        printf("%-20s %-36s %-16s %9lld  ", json_string_value(json_object_get(t, "name")),
               json_string_value(json_object_get(t, "fqdn")), json_string_value(json_object_get(t, "trunk")),
               json_integer_value(json_object_get(t, "max_calls")));
        size_t k;
        json_t *num;
        json_array_foreach(json_object_get(t, "numbers"), k, num) printf("%s%s", k ? "," : "", json_string_value(num));
        printf("\n");
    }
}

static void print_media(const char *side, json_t *m)
{
    printf("    %-8s rx %lld pkts, tx %lld pkts, srtp auth failures %lld, replays %lld, latched %s\n", side,
           json_integer_value(json_object_get(m, "rx_packets")), json_integer_value(json_object_get(m, "tx_packets")),
           json_integer_value(json_object_get(m, "srtp_auth_failures")),
           json_integer_value(json_object_get(m, "srtp_replays")),
           json_is_string(json_object_get(m, "latched")) ? json_string_value(json_object_get(m, "latched")) : "-");
}

static void print_calls(json_t *r)
{
    json_t *calls = json_object_get(r, "calls");
    printf("%zu call(s)\n", json_array_size(calls));
    size_t i;
    json_t *c;
    json_array_foreach(calls, i, c) {
        printf("%s %s -> %s  tenant %s, trunk %s, %s, %llds\n", json_string_value(json_object_get(c, "direction")),
               json_string_value(json_object_get(c, "calling")), json_string_value(json_object_get(c, "called")),
               json_string_value(json_object_get(c, "tenant")), json_string_value(json_object_get(c, "trunk")),
               json_string_value(json_object_get(c, "state")), json_integer_value(json_object_get(c, "duration_s")));
        print_media("teams", json_object_get(c, "media_teams"));
        print_media("carrier", json_object_get(c, "media_carrier"));
    }
}

static void print_trunks(json_t *r)
{
    printf("generation %lld\n%-20s %-12s %9s %7s  %s\n", json_integer_value(json_object_get(r, "generation")),
           "TRUNK", "INTERFACE", "MAX_CALLS", "MAX_CPS", "TARGETS");
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(r, "trunks"), i, t) {
        printf("%-20s %-12s %9lld %7lld  ", json_string_value(json_object_get(t, "name")),
               json_string_value(json_object_get(t, "interface")), json_integer_value(json_object_get(t, "max_calls")),
               json_integer_value(json_object_get(t, "max_cps")));
        size_t k;
        json_t *g;
        json_array_foreach(json_object_get(t, "targets"), k, g)
            printf("%s%s:%lld/%s(p%lld, %s)", k ? "," : "", json_string_value(json_object_get(g, "host")),
                   json_integer_value(json_object_get(g, "port")), json_string_value(json_object_get(g, "transport")),
                   json_integer_value(json_object_get(g, "priority")),
                   json_string_value(json_object_get(g, "health")));
        printf("\n");
    }
    printf("%-36s %-8s %7s %6s %7s %8s\n", "TEAMS PROXY", "HEALTH", "RTT_MS", "LAST", "PROBES", "FAILURES");
    json_array_foreach(json_object_get(r, "teams_proxies"), i, t) {
        char hp[300];
        snprintf(hp, sizeof hp, "%s:%lld", json_string_value(json_object_get(t, "host")),
                 json_integer_value(json_object_get(t, "port")));
        printf("%-36s %-8s %7lld %6lld %7lld %8lld\n", hp, json_string_value(json_object_get(t, "health")),
               json_integer_value(json_object_get(t, "rtt_ms")), json_integer_value(json_object_get(t, "last_status")),
               json_integer_value(json_object_get(t, "probes")), json_integer_value(json_object_get(t, "failures")));
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = getenv("SBC_CONTROL_SOCKET");
    if (!path || !*path)
        path = DEFAULT_SOCKET;
    int as_json = 0, opt;
    while ((opt = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
        switch (opt) {
        case 's': path = optarg; break;
        case 'j': as_json = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind];
    json_t *req = json_pack("{s:s}", "cmd", cmd);
    if (strcmp(cmd, "lookup") == 0) {
        if (optind + 1 >= argc) {
            usage(stderr);
            return 2;
        }
        const char *arg = argv[optind + 1];
        json_object_set_new(req, strchr(arg, '.') ? "fqdn" : "number", json_string(arg));
    }
    json_t *reply = call(path, req);
    json_decref(req);
    if (!reply)
        return 2;
    int ok = json_is_true(json_object_get(reply, "ok"));
    if (as_json) {
        char *s = json_dumps(reply, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
    } else if (!ok) {
        fprintf(stderr, "sbcctl: %s: %s\n", cmd, json_string_value(json_object_get(reply, "error")));
        json_t *errors = json_object_get(reply, "errors");
        size_t i;
        json_t *e;
        json_array_foreach(errors, i, e) fprintf(stderr, "%s\n", json_string_value(e));
    } else if (strcmp(cmd, "status") == 0) {
        print_status(reply);
    } else if (strcmp(cmd, "tenants") == 0) {
        print_tenants(reply);
    } else if (strcmp(cmd, "trunks") == 0) {
        print_trunks(reply);
    } else if (strcmp(cmd, "calls") == 0) {
        print_calls(reply);
    } else if (strcmp(cmd, "reload") == 0) {
        json_t *changes = json_object_get(reply, "changes");
        printf("reloaded: generation %lld in %.1f ms, %zu change(s)\n",
               json_integer_value(json_object_get(reply, "generation")),
               json_real_value(json_object_get(reply, "load_ms")), json_array_size(changes));
        print_list(changes, "  ");
    } else if (strcmp(cmd, "lookup") == 0) {
        printf("%s -> %s (%s)\n", argv[optind + 1], json_string_value(json_object_get(reply, "tenant")),
               json_string_value(json_object_get(reply, "fqdn")));
    } else {
        printf("ok\n");
    }
    json_decref(reply);
    return ok ? 0 : 1;
}
