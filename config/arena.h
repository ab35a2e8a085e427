/* A bump allocator: a config snapshot (and a parse tree) is built once and
 * freed as a whole, so every string and array lives in one arena and freeing
 * cannot leak or double free. Allocation failure aborts: a half-built
 * snapshot has no useful recovery. */
#ifndef SBC_CONFIG_ARENA_H
#define SBC_CONFIG_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct sbc_arena;

struct sbc_arena *sbc_arena_create(void);
void sbc_arena_destroy(struct sbc_arena *a);            /* accepts NULL */

/* Zeroed, 16-byte aligned. */
void *sbc_arena_alloc(struct sbc_arena *a, size_t size);
void *sbc_arena_array(struct sbc_arena *a, size_t n, size_t size);
char *sbc_arena_strndup(struct sbc_arena *a, const char *s, size_t n);
char *sbc_arena_strdup(struct sbc_arena *a, const char *s);   /* NULL -> NULL */
char *sbc_arena_printf(struct sbc_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Bytes handed out, for tests and benchmarks. */
size_t sbc_arena_used(const struct sbc_arena *a);

#endif
