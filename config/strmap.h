/* A read-mostly, case-insensitive string -> index map (open addressing),
 * built once per snapshot: names and FQDNs are looked up per call. */
#ifndef SBC_CONFIG_STRMAP_H
#define SBC_CONFIG_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sbc_arena;

struct sbc_strmap {
    const char **keys;      /* NULL = empty slot */
    uint32_t *vals;
    size_t mask;            /* capacity - 1; capacity is a power of two */
};

/* Sized for n keys; storage comes from the arena. */
void sbc_strmap_init(struct sbc_strmap *m, struct sbc_arena *a, size_t n);
/* Inserts key -> val (key must outlive the map). If the key is present
 * already, returns false and leaves *old set to its value. */
bool sbc_strmap_put(struct sbc_strmap *m, const char *key, uint32_t val, uint32_t *old);
/* Looks up the first len bytes of s; returns false when absent. */
bool sbc_strmap_get(const struct sbc_strmap *m, const char *s, size_t len, uint32_t *val);

#endif
