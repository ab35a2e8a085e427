#include "sbc/nametable.h"

static uint64_t mix(uint64_t h, const char *s, bool fold)
{
    for (; s && *s; s++)
        h = (h ^ (uint8_t)(fold ? (*s | 0x20) : *s)) * 1099511628211ull;
    return h * 1099511628211ull;   /* separator between parts */
}

uint64_t sbc_nametable_key(const char *kind, const char *name, uint32_t extra, bool fold_case)
{
    uint64_t h = mix(1469598103934665603ull, kind, false);
    h = mix(h, name, fold_case);
    h = (h ^ extra) * 1099511628211ull;
    return h ? h : 1;
}

long sbc_nametable_slot(uint64_t *keys, uint32_t n, uint64_t key, bool create)
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t at = (uint32_t)(key + i) & (n - 1);
        uint64_t cur = __atomic_load_n(&keys[at], __ATOMIC_ACQUIRE);
        if (cur == key)
            return at;
        if (cur != 0)
            continue;
        if (!create)
            return -1;
        uint64_t expected = 0;
        if (__atomic_compare_exchange_n(&keys[at], &expected, key, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) ||
            expected == key)
            return at;   /* ours, or another worker claimed it for the same name */
    }
    return -1;
}
