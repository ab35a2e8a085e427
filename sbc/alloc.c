/* Allocator introspection through jemalloc's mallctl, found at run time so
 * the sanitizer build (ASan's allocator) links without jemalloc. */
#include "sbc/alloc.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);

static uint64_t read_u64(mallctl_fn mallctl, const char *name)
{
    uint64_t v = 0;
    size_t sz = sizeof v;
    return mallctl(name, &v, &sz, NULL, 0) == 0 ? v : 0;
}

void sbc_alloc_info(sbc_alloc_info_t *out)
{
    memset(out, 0, sizeof *out);
    mallctl_fn mallctl = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
    if (!mallctl) {
#ifdef SBC_SANITIZE
        snprintf(out->name, sizeof out->name, "sanitizer allocator");
#else
        snprintf(out->name, sizeof out->name, "glibc malloc");
#endif
        return;
    }
    const char *version = NULL;
    size_t sz = sizeof version;
    if (mallctl("version", &version, &sz, NULL, 0) != 0)
        version = "unknown";
    snprintf(out->name, sizeof out->name, "jemalloc %s", version);

    /* jemalloc linked is not jemalloc used: check that a malloc() here shows
     * up in jemalloc's per-thread counter. */
    uint64_t before = read_u64(mallctl, "thread.allocated");
    void *volatile p = malloc(1 << 20);
    uint64_t after = read_u64(mallctl, "thread.allocated");
    free(p);
    out->jemalloc_active = after >= before + (1 << 20);

    uint64_t epoch = 1;
    sz = sizeof epoch;
    mallctl("epoch", &epoch, &sz, &epoch, sz);   /* refresh the stats */
    out->allocated = read_u64(mallctl, "stats.allocated");
    out->resident = read_u64(mallctl, "stats.resident");
}
