/* Bounded string copy for the signalling hot path. snprintf(dst, n, "%s",
 * src) does the same but costs ~1,000 instructions of format parsing per
 * copy, a few percent of sbcd's CPU per call with a dozen copies each. */
#ifndef SBC_STRCOPY_H
#define SBC_STRCOPY_H

#include <stddef.h>
#include <string.h>

/* Copies src into dst of size bytes (size > 0), truncating like snprintf
 * and always NUL-terminating. Returns strlen(src), as snprintf would: a
 * result >= size means the copy was truncated. */
static inline size_t sbc_strcopy(char *dst, size_t size, const char *src)
{
    size_t len = strlen(src);
    size_t n = len < size ? len : size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return len;
}

#endif
