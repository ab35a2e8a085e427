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

/* ---- capped error reporting for the loader (report.h) ---- */
#include "config/report.h"

void sbc_report_error(struct sbc_report *r, const char *file, int line, const char *fmt, ...)
{
    r->errors++;
    if (!r->diag || r->errors > SBC_REPORT_MAX + 1)
        return;
    if (r->errors == SBC_REPORT_MAX + 1) {
        sbc_diag_add(r->diag, file, line, "too many errors; the rest are not shown");
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sbc_diag_add(r->diag, file, line, "%s", msg);
}
