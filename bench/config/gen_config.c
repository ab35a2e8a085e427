/* Writes a large configuration for the benchmark: OUTDIR/sbc.yaml (node,
 * interfaces, teams, trunks) including OUTDIR/tenants.d/NNN.yaml, 10,000
 * tenants by default, each holding 100 numbers: one range of 90 and 10
 * single numbers (1,000,000 numbers in all).
 * Usage: gen_config OUTDIR CERTDIR [TENANTS] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PER_FILE 1000

static FILE *open_out(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    return f;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s OUTDIR CERTDIR [TENANTS]\n", argv[0]);
        return 2;
    }
    const char *out = argv[1], *certs = argv[2];
    long tenants = argc > 3 ? strtol(argv[3], NULL, 10) : 10000;
    char sub[4096];
    snprintf(sub, sizeof(sub), "%s/tenants.d", out);
    if ((mkdir(out, 0755) && errno != EEXIST) || (mkdir(sub, 0755) && errno != EEXIST)) {
        perror("mkdir");
        return 1;
    }

    FILE *m = open_out(out, "sbc.yaml");
    fprintf(m,
            "node:\n  name: bench\n  workers: 2\n"
            "interfaces:\n"
            "  - name: teams\n"
            "    sip: { address: 0.0.0.0, port: 5061, transports: [tls] }\n"
            "    media: { address: 0.0.0.0, ports: 20000-29999 }\n"
            "    tls: { certificate: %s/sbc.pem, private_key: %s/sbc.key, ca_file: %s/ca.pem }\n"
            "  - name: core\n"
            "    sip: { address: 10.0.0.10, transports: [udp, tcp] }\n"
            "    media: { ports: 30000-39999 }\n"
            "teams:\n  interface: teams\n  base_fqdn: sbc.lab.example\n"
            "  proxies: [sip.pstnhub.microsoft.com:5061, sip2.pstnhub.microsoft.com:5061]\n"
            "trunks:\n",
            certs, certs, certs);
    for (int t = 0; t < 100; t++)
        fprintf(m,
                "  - name: trunk-%d\n    interface: core\n    targets: [ \"10.%d.0.5:5060\" ]\n"
                "    allow: [10.%d.0.0/16, 10.%d.%d.0/24]\n",
                t, t, t, t, t);
    fprintf(m, "tenants:\n  - include: tenants.d/*.yaml\n");
    fclose(m);

    FILE *f = NULL;
    for (long i = 0; i < tenants; i++) {
        if (i % PER_FILE == 0) {
            if (f)
                fclose(f);
            char name[64];
            snprintf(name, sizeof(name), "tenants.d/%03ld.yaml", i / PER_FILE);
            f = open_out(out, name);
        }
        /* tenant i owns +1 2iii iii 000 .. +1 2iii iii 999; uses 100 of them */
        unsigned long long base = 12000000000ull + (unsigned long long)i * 1000;
        fprintf(f, "- name: t%06ld\n  fqdn: t%06ld.sbc.lab.example\n  trunk: trunk-%ld\n"
                   "  numbers:\n    - \"+%llu-+%llu\"\n",
                i, i, i % 100, base, base + 89);
        for (int k = 0; k < 10; k++)
            fprintf(f, "    - \"+%llu\"\n", base + 100 + (unsigned long long)k * 7);
    }
    if (f)
        fclose(f);
    printf("wrote %s/sbc.yaml: %ld tenants, %ld numbers\n", out, tenants, tenants * 100);
    return 0;
}
