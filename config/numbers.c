/* Number entries, overlap detection and the lookup index (see numbers.h). */
#include "config/numbers.h"

#include "config/arena.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DIGITS 15

static const uint64_t pow10_tab[MAX_DIGITS + 1] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
    100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
    10000000000000ull, 100000000000000ull, 1000000000000000ull,
};

/* Up to 15 digits at s; returns how many (0 when none or more than 15). */
static size_t digits(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    size_t i = 0;
    while (s[i] >= '0' && s[i] <= '9') {
        if (i == MAX_DIGITS)
            return 0;
        x = x * 10 + (uint64_t)(s[i] - '0');
        i++;
    }
    *v = x;
    return i;
}

enum sbc_numspec_result sbc_numspec_parse(const char *s, struct sbc_numspec *out)
{
    if (s[0] != '+')
        return SBC_NUMSPEC_MALFORMED;
    uint64_t a, b;
    size_t n = digits(s + 1, &a);
    if (n == 0)
        return SBC_NUMSPEC_MALFORMED;
    const char *rest = s + 1 + n;
    out->len = (uint8_t)n;
    out->lo = out->hi = a;
    if (rest[0] == '\0') {
        out->kind = SBC_NUMK_EXACT;
        return SBC_NUMSPEC_OK;
    }
    if (rest[0] == '*' && rest[1] == '\0') {
        out->kind = SBC_NUMK_PREFIX;
        return SBC_NUMSPEC_OK;
    }
    if (rest[0] != '-' || rest[1] != '+')
        return SBC_NUMSPEC_MALFORMED;
    size_t m = digits(rest + 2, &b);
    if (m == 0 || rest[2 + m] != '\0')
        return SBC_NUMSPEC_MALFORMED;
    if (m != n)
        return SBC_NUMSPEC_RANGE_LENGTH;
    if (a > b)
        return SBC_NUMSPEC_RANGE_ORDER;
    out->kind = SBC_NUMK_RANGE;
    out->hi = b;
    return SBC_NUMSPEC_OK;
}

bool sbc_number_parse(const char *s, uint8_t *len, uint64_t *value)
{
    if (!s)
        return false;
    if (*s == '+')
        s++;
    size_t n = digits(s, value);
    if (n == 0 || s[n] != '\0')
        return false;
    *len = (uint8_t)n;
    return true;
}

/* Intervals (exact and range) first, by length and start; prefixes after. */
static int entry_cmp(const void *pa, const void *pb)
{
    const struct sbc_num_entry *a = pa, *b = pb;
    int pfa = a->spec.kind == SBC_NUMK_PREFIX, pfb = b->spec.kind == SBC_NUMK_PREFIX;
    if (pfa != pfb)
        return pfa - pfb;
    if (a->spec.len != b->spec.len)
        return a->spec.len < b->spec.len ? -1 : 1;
    if (a->spec.lo != b->spec.lo)
        return a->spec.lo < b->spec.lo ? -1 : 1;
    if (a->spec.hi != b->spec.hi)
        return a->spec.hi < b->spec.hi ? -1 : 1;
    if (a->ref != b->ref)
        return a->ref < b->ref ? -1 : 1;
    return 0;
}

static void report(const struct sbc_num_entry *a, const struct sbc_num_entry *b,
                   void (*cb)(void *, const struct sbc_num_entry *, const struct sbc_num_entry *),
                   void *arg)
{
    if (!cb)
        return;
    if (a->ref < b->ref)
        cb(arg, a, b);
    else
        cb(arg, b, a);
}

size_t sbc_num_overlaps(struct sbc_num_entry *e, size_t n,
                        void (*cb)(void *arg, const struct sbc_num_entry *earlier,
                                   const struct sbc_num_entry *later),
                        void *arg)
{
    qsort(e, n, sizeof(*e), entry_cmp);
    size_t found = 0;
    const struct sbc_num_entry *cur = NULL;     /* the interval reaching furthest */
    for (size_t i = 0; i < n; i++) {
        const struct sbc_num_entry *x = &e[i];
        if (x->spec.kind == SBC_NUMK_PREFIX) {
            if (i > 0 && e[i - 1].spec.kind == SBC_NUMK_PREFIX &&
                e[i - 1].spec.len == x->spec.len && e[i - 1].spec.lo == x->spec.lo &&
                e[i - 1].owner != x->owner) {
                report(&e[i - 1], x, cb, arg);
                found++;
            }
            continue;
        }
        if (cur && cur->spec.len == x->spec.len && x->spec.lo <= cur->spec.hi) {
            if (cur->owner != x->owner) {
                report(cur, x, cb, arg);
                found++;
            }
            if (x->spec.hi > cur->spec.hi)
                cur = x;
        } else {
            cur = x;
        }
    }
    return found;
}

/* ---- the index ---- */

struct range_set {
    uint64_t *lo, *hi;
    uint32_t *owner;
    size_t n;
};

/* Key and value side by side: a probe touches one cache line. */
struct slot {
    uint64_t key;               /* 0 = empty */
    uint32_t val;
};

struct sbc_numindex {
    struct slot *slots;
    size_t mask;
    uint32_t prefix_lens;       /* bit k set: some prefix has k digits */
    struct range_set ranges[MAX_DIGITS + 1];
};

#define KEY_PREFIX (1ull << 63)

static inline uint64_t make_key(bool prefix, unsigned len, uint64_t v)
{
    return (prefix ? KEY_PREFIX : 0) | ((uint64_t)len << 56) | v;
}

static inline uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static void hash_put(struct sbc_numindex *ix, uint64_t key, uint32_t owner)
{
    for (size_t i = mix(key) & ix->mask;; i = (i + 1) & ix->mask) {
        if (ix->slots[i].key == 0) {
            ix->slots[i].key = key;
            ix->slots[i].val = owner;
            return;
        }
        if (ix->slots[i].key == key)
            return;                 /* same number twice: the first stays */
    }
}

static inline bool hash_get(const struct sbc_numindex *ix, uint64_t key, uint32_t *owner)
{
    for (size_t i = mix(key) & ix->mask;; i = (i + 1) & ix->mask) {
        uint64_t k = ix->slots[i].key;
        if (k == key) {
            *owner = ix->slots[i].val;
            return true;
        }
        if (k == 0)
            return false;
    }
}

struct sbc_numindex *sbc_numindex_build(struct sbc_arena *a, struct sbc_num_entry *e, size_t n)
{
    struct sbc_numindex *ix = sbc_arena_alloc(a, sizeof(*ix));
    qsort(e, n, sizeof(*e), entry_cmp);

    size_t n_hash = 0, n_range[MAX_DIGITS + 1] = { 0 };
    for (size_t i = 0; i < n; i++) {
        if (e[i].spec.kind == SBC_NUMK_RANGE)
            n_range[e[i].spec.len]++;
        else
            n_hash++;
    }
    size_t cap = 16;
    while (cap < n_hash * 2)
        cap <<= 1;
    ix->slots = sbc_arena_array(a, cap, sizeof(*ix->slots));
    ix->mask = cap - 1;
    for (unsigned l = 1; l <= MAX_DIGITS; l++) {
        struct range_set *rs = &ix->ranges[l];
        size_t c = n_range[l] ? n_range[l] : 1;
        rs->lo = sbc_arena_array(a, c, sizeof(*rs->lo));
        rs->hi = sbc_arena_array(a, c, sizeof(*rs->hi));
        rs->owner = sbc_arena_array(a, c, sizeof(*rs->owner));
    }

    for (size_t i = 0; i < n; i++) {
        const struct sbc_numspec *s = &e[i].spec;
        if (s->kind != SBC_NUMK_RANGE) {
            hash_put(ix, make_key(s->kind == SBC_NUMK_PREFIX, s->len, s->lo), e[i].owner);
            if (s->kind == SBC_NUMK_PREFIX)
                ix->prefix_lens |= 1u << s->len;
            continue;
        }
        /* Sorted by start: overlapping ranges of one owner merge into one. */
        struct range_set *rs = &ix->ranges[s->len];
        if (rs->n && rs->owner[rs->n - 1] == e[i].owner && s->lo <= rs->hi[rs->n - 1]) {
            if (s->hi > rs->hi[rs->n - 1])
                rs->hi[rs->n - 1] = s->hi;
            continue;
        }
        rs->lo[rs->n] = s->lo;
        rs->hi[rs->n] = s->hi;
        rs->owner[rs->n] = e[i].owner;
        rs->n++;
    }
    return ix;
}

bool sbc_numindex_lookup(const struct sbc_numindex *ix, const char *number, uint32_t *owner)
{
    uint8_t len;
    uint64_t v;
    if (!ix || !sbc_number_parse(number, &len, &v))
        return false;
    /* Ranges before exact numbers: validation keeps an exact number of one
     * tenant out of another tenant's range, so the order cannot change the
     * answer, and the range arrays are small and cache-resident while the
     * hash is not. Branch-free lower bound: last range starting <= v. */
    const struct range_set *rs = &ix->ranges[len];
    if (rs->n && rs->lo[0] <= v) {
        const uint64_t *base = rs->lo;
        size_t n = rs->n;
        while (n > 1) {
            size_t half = n / 2;
            base = base[half] <= v ? base + half : base;
            n -= half;
        }
        size_t i = (size_t)(base - rs->lo);
        if (rs->hi[i] >= v) {
            *owner = rs->owner[i];
            return true;
        }
    }
    if (hash_get(ix, make_key(false, len, v), owner))
        return true;

    /* Prefix lengths present, longest first. */
    uint32_t lens = ix->prefix_lens & ((2u << len) - 1);
    while (lens) {
        unsigned k = 31u - (unsigned)__builtin_clz(lens);
        if (hash_get(ix, make_key(true, k, v / pow10_tab[len - k]), owner))
            return true;
        lens &= ~(1u << k);
    }
    return false;
}
