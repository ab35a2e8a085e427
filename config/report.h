/* Error reporting while loading: "file:line: message" into an sbc_diag_t,
 * counted (a load fails when any error was reported) and capped, so a
 * hostile file cannot make the report itself exhaust memory. */
#ifndef SBC_CONFIG_REPORT_H
#define SBC_CONFIG_REPORT_H

#include "config/config.h"

#define SBC_REPORT_MAX 1000

struct sbc_report_entry;

struct sbc_report {
    sbc_diag_t *diag;       /* may be NULL: count only */
    size_t errors;
    /* Messages wait here so that they come out in file order (files in the
     * order they were read, then by line) whichever stage found them. */
    struct sbc_report_entry *e;
    size_t n, cap;
    const char **files;
    size_t n_files, cap_files;
};

/* Remembers the order files are read in (the pointer identifies the file). */
void sbc_report_file(struct sbc_report *r, const char *file);
void sbc_report_error(struct sbc_report *r, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Writes the messages into r->diag in order and frees them. */
void sbc_report_flush(struct sbc_report *r);

#endif
