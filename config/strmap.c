/* Case-insensitive open-addressing map (see strmap.h). */
#include "config/strmap.h"

#include "config/arena.h"

#include <string.h>
#include <strings.h>

static inline unsigned char lc(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static uint64_t hash_ci(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;            /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= lc((unsigned char)s[i]);
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static bool key_eq(const char *key, const char *s, size_t len)
{
    return strncasecmp(key, s, len) == 0 && key[len] == '\0';
}

void sbc_strmap_init(struct sbc_strmap *m, struct sbc_arena *a, size_t n)
{
    size_t cap = 8;
    while (cap < n * 2)
        cap <<= 1;
    m->keys = sbc_arena_array(a, cap, sizeof(*m->keys));
    m->vals = sbc_arena_array(a, cap, sizeof(*m->vals));
    m->mask = cap - 1;
}

bool sbc_strmap_put(struct sbc_strmap *m, const char *key, uint32_t val, uint32_t *old)
{
    size_t len = strlen(key);
    for (size_t i = hash_ci(key, len) & m->mask;; i = (i + 1) & m->mask) {
        if (!m->keys[i]) {
            m->keys[i] = key;
            m->vals[i] = val;
            return true;
        }
        if (key_eq(m->keys[i], key, len)) {
            if (old)
                *old = m->vals[i];
            return false;
        }
    }
}

bool sbc_strmap_get(const struct sbc_strmap *m, const char *s, size_t len, uint32_t *val)
{
    if (!m->keys)
        return false;
    for (size_t i = hash_ci(s, len) & m->mask;; i = (i + 1) & m->mask) {
        if (!m->keys[i])
            return false;
        if (key_eq(m->keys[i], s, len)) {
            *val = m->vals[i];
            return true;
        }
    }
}
