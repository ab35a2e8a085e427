/* Chunked bump allocator (see arena.h). */
#include "config/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_SIZE (1024u * 1024u)
#define ALIGN 16u

struct chunk {
    struct chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

struct sbc_arena {
    struct chunk *head;
    size_t total;
};

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) {
        fputs("sbc: out of memory while building the configuration\n", stderr);
        abort();
    }
    return p;
}

struct sbc_arena *sbc_arena_create(void)
{
    return xcalloc(1, sizeof(struct sbc_arena));
}

void sbc_arena_destroy(struct sbc_arena *a)
{
    if (!a)
        return;
    for (struct chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

void *sbc_arena_alloc(struct sbc_arena *a, size_t size)
{
    size = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (size == 0)
        size = ALIGN;
    struct chunk *c = a->head;
    if (!c || c->size - c->used < size) {
        /* Big blocks get a chunk of their own behind the head, so the
         * current chunk's free space is not wasted. */
        size_t cap = size > CHUNK_SIZE / 4 ? size : CHUNK_SIZE;
        struct chunk *n = xcalloc(1, sizeof(*n) + cap);
        n->size = cap;
        if (cap != CHUNK_SIZE && c) {
            n->next = c->next;
            c->next = n;
        } else {
            n->next = c;
            a->head = n;
        }
        c = n;
    }
    void *p = c->data + c->used;
    c->used += size;
    a->total += size;
    return p;
}

void *sbc_arena_array(struct sbc_arena *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        fputs("sbc: configuration array too large\n", stderr);
        abort();
    }
    return sbc_arena_alloc(a, n * size);
}

char *sbc_arena_strndup(struct sbc_arena *a, const char *s, size_t n)
{
    char *p = sbc_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *sbc_arena_strdup(struct sbc_arena *a, const char *s)
{
    return s ? sbc_arena_strndup(a, s, strlen(s)) : NULL;
}

char *sbc_arena_printf(struct sbc_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *p = sbc_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

size_t sbc_arena_used(const struct sbc_arena *a)
{
    return a ? a->total : 0;
}
