/* Which allocator serves malloc() in this process, proven rather than
 * assumed: jemalloc is the production allocator (STACK.md §8). */
#ifndef SBC_ALLOC_H
#define SBC_ALLOC_H

#include <stddef.h>
#include <stdint.h>

typedef struct sbc_alloc_info {
    char name[64];          /* "jemalloc 5.3.0-0-g..." or "glibc malloc" / "sanitizer" */
    int jemalloc_active;    /* 1 when malloc() provably goes to jemalloc */
    uint64_t allocated;     /* bytes in use per jemalloc's stats, 0 if unknown */
    uint64_t resident;
} sbc_alloc_info_t;

void sbc_alloc_info(sbc_alloc_info_t *out);

#endif
