/* FNV-1a over a NUL-terminated string: the hash of the signalling tables
 * (transactions, tags, home worker by Call-ID). Not for adversarial keys
 * beyond what chained tables tolerate. */
#ifndef SBC_HASH_H
#define SBC_HASH_H

#include <stdint.h>

static inline uint64_t sbc_fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

#endif
