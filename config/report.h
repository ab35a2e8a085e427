/* Error reporting while loading: "file:line: message" into an sbc_diag_t,
 * counted (a load fails when any error was reported) and capped, so a
 * hostile file cannot make the report itself exhaust memory. */
#ifndef SBC_CONFIG_REPORT_H
#define SBC_CONFIG_REPORT_H

#include "config/config.h"

#define SBC_REPORT_MAX 1000

struct sbc_report {
    sbc_diag_t *diag;       /* may be NULL: count only */
    size_t errors;
};

void sbc_report_error(struct sbc_report *r, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
