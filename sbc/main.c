/* sbcd: the session border controller daemon. Runs in the foreground (for
 * systemd and containers); SIGHUP reloads, SIGTERM stops. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/thread.h>

#include "config/config.h"
#include "sbc/alloc.h"
#include "sbc/log.h"
#include "sbc/node.h"
#include "sbc/sipmsg.h"
#include "media/srtp_ctx.h"

#ifndef SBC_SANITIZE
/* jemalloc's start-up options (MALLOC_CONF in the environment still wins).
 * Transactions linger 32 s, so under load the heap grows all the time and
 * every fresh 4 KiB page costs a page fault, which on a paravirtualized VM
 * was ~15 % of sbcd's CPU at 2,000 calls/s; huge pages for jemalloc's
 * extents make that one fault per 2 MiB. */
const char *malloc_conf = "thp:always,metadata_thp:always";
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sbcd -c FILE            run with the configuration FILE (foreground)\n"
            "       sbcd --check-config FILE validate FILE, print every error as file:line: message\n"
            "       sbcd --version\n");
}

static int check_config(const char *path)
{
    sbc_diag_t diag;
    sbc_diag_init(&diag);
    sbc_config_t *c = sbc_config_load(path, &diag);
    if (!c) {
        for (size_t i = 0; i < diag.n; i++)
            fprintf(stderr, "%s\n", diag.lines[i]);
        fprintf(stderr, "%s: %zu error(s)\n", path, diag.n);
        sbc_diag_clear(&diag);
        return 1;
    }
    printf("%s: ok (%zu interface(s), %zu trunk(s), %zu tenant(s))\n", path, c->n_interfaces, c->n_trunks,
           c->n_tenants);
    sbc_config_unref(c);
    sbc_diag_clear(&diag);
    return 0;
}

/* Every call holds sockets (media, connections): take all the descriptors
 * the hard limit allows rather than fail calls at the soft default. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536)
        LOG_WARN("open files limited to %llu: about %llu concurrent calls with media (raise LimitNOFILE)",
                 (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_cur / 5);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", required_argument, NULL, 'C' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config = optarg;
            break;
        case 'C':
            return check_config(optarg);
        case 'V': {
            sbc_alloc_info_t ai;
            sbc_alloc_info(&ai);
            printf("sbcd %s (allocator: %s%s)\n", SBC_VERSION, ai.name,
                   ai.jemalloc_active ? ", active" : "");
            return 0;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!config || optind != argc) {
        usage(stderr);
        return 2;
    }

    /* Workers wake each other and the main loop exits them from another thread. */
    evthread_use_pthreads();
    raise_fd_limit();
    sbc_sipmsg_global_init();
    char serr[256];
    if (sbc_srtp_global_init(serr, sizeof serr) < 0) {
        fprintf(stderr, "sbcd: SRTP: %s\n", serr);
        return 1;
    }

    char err[8192];
    sbc_node_rt_t *node = sbc_node_create(config, err, sizeof err);
    if (!node) {
        fprintf(stderr, "sbcd: %s\n", err);
        return 1;
    }
    int rc = sbc_node_run(node);
    sbc_node_destroy(node);
    sbc_srtp_global_shutdown();
    LOG_INFO("stopped");
    return rc;
}
