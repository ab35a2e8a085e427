/* Collected diagnostics: "file:line: message" lines (config.h). */
#include "config/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sbc_diag_init(sbc_diag_t *d)
{
    memset(d, 0, sizeof(*d));
}

static void diag_push(sbc_diag_t *d, char *line)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        char **lines = realloc(d->lines, cap * sizeof(*lines));
        if (!lines) {
            free(line);         /* dropping a line beats crashing the reload */
            return;
        }
        d->lines = lines;
        d->cap = cap;
    }
    d->lines[d->n++] = line;
}

void sbc_diag_add(sbc_diag_t *d, const char *file, int line, const char *fmt, ...)
{
    if (!d)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    char *out = NULL;
    int r;
    if (file && line > 0)
        r = asprintf(&out, "%s:%d: %s", file, line, msg);
    else if (file)
        r = asprintf(&out, "%s: %s", file, msg);
    else
        r = asprintf(&out, "%s", msg);
    if (r < 0)
        return;
    diag_push(d, out);
}

void sbc_diag_clear(sbc_diag_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        free(d->lines[i]);
    free(d->lines);
    memset(d, 0, sizeof(*d));
}

/* ---- ordered, capped error reporting for the loader (report.h) ---- */
#include "config/report.h"

struct sbc_report_entry {
    const char *file;
    int line;
    size_t seq;
    char *msg;
};

void sbc_report_file(struct sbc_report *r, const char *file)
{
    if (r->n_files == r->cap_files) {
        size_t cap = r->cap_files ? r->cap_files * 2 : 8;
        const char **f = realloc(r->files, cap * sizeof(*f));
        if (!f)
            return;
        r->files = f;
        r->cap_files = cap;
    }
    r->files[r->n_files++] = file;
}

void sbc_report_error(struct sbc_report *r, const char *file, int line, const char *fmt, ...)
{
    r->errors++;
    if (!r->diag || r->n >= SBC_REPORT_MAX)
        return;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct sbc_report_entry *e = realloc(r->e, cap * sizeof(*e));
        if (!e)
            return;
        r->e = e;
        r->cap = cap;
    }
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int rc = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (rc < 0)
        return;
    r->e[r->n] = (struct sbc_report_entry){ file, line, r->n, msg };
    r->n++;
}

static size_t file_rank(const struct sbc_report *r, const char *file)
{
    if (!file)
        return 0;
    for (size_t i = 0; i < r->n_files; i++)
        if (r->files[i] == file)
            return i + 1;
    return r->n_files + 1;
}

void sbc_report_flush(struct sbc_report *r)
{
    /* insertion sort on (rank, line, seq): at most SBC_REPORT_MAX entries */
    size_t *rank = calloc(r->n + 1, sizeof(*rank));
    for (size_t i = 0; rank && i < r->n; i++)
        rank[i] = file_rank(r, r->e[i].file);
    for (size_t i = 1; rank && i < r->n; i++) {
        struct sbc_report_entry x = r->e[i];
        size_t rx = rank[i], j = i;
        while (j > 0 && (rank[j - 1] > rx || (rank[j - 1] == rx && r->e[j - 1].line > x.line))) {
            r->e[j] = r->e[j - 1];
            rank[j] = rank[j - 1];
            j--;
        }
        r->e[j] = x;
        rank[j] = rx;
    }
    free(rank);
    for (size_t i = 0; i < r->n; i++) {
        sbc_diag_add(r->diag, r->e[i].file, r->e[i].line, "%s", r->e[i].msg);
        free(r->e[i].msg);
    }
    if (r->diag && r->errors > r->n)
        sbc_diag_add(r->diag, NULL, 0, "%zu more errors not shown", r->errors - r->n);
    free(r->e);
    free(r->files);
    r->e = NULL;
    r->files = NULL;
    r->n = r->cap = r->n_files = r->cap_files = 0;
}
