/* Helpers for the config tests: data files with @CERTS@ replaced by the
 * directory scripts/gen-certs.sh wrote (env SBC_TEST_CERTS), loaded with
 * their own name so messages read "file:line: ...". The tests run inside
 * tests/config/data (env SBC_TEST_DATA). */
#ifndef SBC_TEST_CONFIG_UTIL_H
#define SBC_TEST_CONFIG_UTIL_H

#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline const char *tu_certs(void)
{
    const char *d = getenv("SBC_TEST_CERTS");
    return d ? d : "certs";
}

static inline void tu_enter_data_dir(void)
{
    const char *d = getenv("SBC_TEST_DATA");
    if (d && chdir(d) != 0) {
        perror(d);
        exit(2);
    }
}

/* The file's text with every @CERTS@ replaced; malloc'ed. */
static inline char *tu_read_subst(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *in = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 > cap) {
            cap = (cap + 4096) * 2;
            in = realloc(in, cap);
        }
        size_t r = fread(in + n, 1, cap - n - 1, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    in[n] = '\0';
    const char *certs = tu_certs();
    size_t cl = strlen(certs);
    char *out = malloc(n * (cl + 1) + 1), *o = out;
    for (const char *p = in; *p;) {
        if (strncmp(p, "@CERTS@", 7) == 0) {
            memcpy(o, certs, cl);
            o += cl;
            p += 7;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    free(in);
    *len = (size_t)(o - out);
    return out;
}

static inline sbc_config_t *tu_load(const char *name, sbc_diag_t *d)
{
    size_t len = 0;
    char *buf = tu_read_subst(name, &len);
    if (!buf) {
        fprintf(stderr, "cannot read test data %s\n", name);
        return NULL;
    }
    sbc_config_t *c = sbc_config_load_buffer(name, NULL, buf, len, d);
    free(buf);
    return c;
}

static inline void tu_print_diag(const char *title, const sbc_diag_t *d)
{
    fprintf(stderr, "--- %s (%zu lines)\n", title, d->n);
    for (size_t i = 0; i < d->n; i++)
        fprintf(stderr, "  %s\n", d->lines[i]);
}

#endif
