/* Number normalization between a trunk's declared format and E.164
 * (CONFIG.md, "Number formats on a trunk"). Toward Teams numbers are always
 * E.164 with '+'. */
#ifndef SBC_NUMBERS_H
#define SBC_NUMBERS_H

#include <stddef.h>

#include "config/config.h"

/* A number the trunk sent (user part of R-URI, To, From or PAI) to E.164
 * "+<digits>". Visual separators ('-', '.', ' ', '(', ')') are dropped. A
 * '+' number is E.164 whatever the trunk declares (unambiguous); otherwise
 * the trunk's from_trunk format applies. Returns 0, or -1 when the number
 * does not fit (the caller answers 484 Address Incomplete). */
int sbc_numbers_from_trunk(const sbc_trunk_t *t, const char *in, char *out, size_t cap);

/* An E.164 number ("+..." or bare digits) in the trunk's to_trunk format.
 * A foreign number (not in the trunk's country) on a national trunk keeps
 * its '+' rather than becoming ambiguous. Returns 0 or -1. */
int sbc_numbers_to_trunk(const sbc_trunk_t *t, const char *e164, char *out, size_t cap);

/* '+' followed by 1..15 digits. */
int sbc_numbers_is_e164(const char *s);

#endif
