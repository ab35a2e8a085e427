/* Called-number -> owner (tenant) index.
 *
 * A number entry is written one of three ways (docs/config.md):
 *   "+15557770001"                exact number
 *   "+15551230000-+15551239999"   inclusive range, both ends the same length
 *   "+1555*"                      prefix: every number starting with these digits
 * Numbers are E.164: '+' then 1 to 15 digits. A number is kept as its digit
 * count and its value (uint64), so ranges of one length are plain integer
 * intervals. Lookup order, most specific first: exact number, range, longest
 * prefix. Exact numbers and prefixes live in one hash, ranges in one sorted
 * array per digit count (binary search); nothing is allocated per lookup. */
#ifndef SBC_CONFIG_NUMBERS_H
#define SBC_CONFIG_NUMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sbc_arena;

enum sbc_numkind { SBC_NUMK_EXACT = 0, SBC_NUMK_RANGE, SBC_NUMK_PREFIX };

enum sbc_numspec_result {
    SBC_NUMSPEC_OK = 0,
    SBC_NUMSPEC_MALFORMED,
    SBC_NUMSPEC_RANGE_LENGTH,   /* ends of different length */
    SBC_NUMSPEC_RANGE_ORDER,    /* start above end */
};

struct sbc_numspec {
    enum sbc_numkind kind;
    uint8_t len;                /* digits */
    uint64_t lo, hi;            /* exact: lo == hi; prefix: the prefix value */
};

enum sbc_numspec_result sbc_numspec_parse(const char *s, struct sbc_numspec *out);
/* A called number as looked up: optional '+', then 1-15 digits. */
bool sbc_number_parse(const char *s, uint8_t *len, uint64_t *value);

struct sbc_num_entry {
    struct sbc_numspec spec;
    uint32_t owner;             /* tenant index */
    uint32_t ref;               /* caller's id, increasing in config order */
};

/* Sorts e and calls cb once for each entry that overlaps an entry of another
 * owner (earlier = the one with the smaller ref). Exact numbers and ranges
 * overlap when they share a number; prefixes only when equal (a longer
 * prefix or an exact number under a prefix is "more specific", not a
 * conflict). Returns the number of overlaps. */
size_t sbc_num_overlaps(struct sbc_num_entry *e, size_t n,
                        void (*cb)(void *arg, const struct sbc_num_entry *earlier,
                                   const struct sbc_num_entry *later),
                        void *arg);

struct sbc_numindex;

/* e must be free of cross-owner overlaps (sbc_num_overlaps); it is sorted. */
struct sbc_numindex *sbc_numindex_build(struct sbc_arena *a, struct sbc_num_entry *e, size_t n);
bool sbc_numindex_lookup(const struct sbc_numindex *ix, const char *number, uint32_t *owner);

#endif
