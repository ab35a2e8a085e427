/* CIDR parsing and longest-prefix match (see cidr.h). */
#include "config/cidr.h"

#include "config/arena.h"
#include "config/values.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void mask_addr(uint8_t out[16], const uint8_t in[16], unsigned prefix)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned bits = prefix > i * 8 ? prefix - i * 8 : 0;
        uint8_t m = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
        out[i] = in[i] & m;
    }
}

enum sbc_cidr_result sbc_cidr_parse(const char *s, sbc_cidr_t *out)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof(buf))
        return SBC_CIDR_SYNTAX;
    memcpy(buf, s, alen);
    buf[alen] = '\0';
    memset(out, 0, sizeof(*out));
    int family;
    if (!sbc_parse_ip(buf, &family, out->addr))
        return SBC_CIDR_SYNTAX;
    unsigned maxp = family == AF_INET ? 32 : 128;
    uint64_t p = maxp;
    if (slash && !sbc_parse_uint(slash + 1, 0, maxp, &p))
        return SBC_CIDR_SYNTAX;
    if (slash && slash[1] == '0' && slash[2] != '\0')
        return SBC_CIDR_SYNTAX;                     /* "/024" */
    out->family = family;
    out->prefix = (uint8_t)p;
    uint8_t m[16];
    mask_addr(m, out->addr, out->prefix);
    if (memcmp(m, out->addr, 16) != 0)
        return SBC_CIDR_HOST_BITS;
    return SBC_CIDR_OK;
}

void sbc_cidr_format(const sbc_cidr_t *c, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN] = "?";
    inet_ntop(c->family, c->addr, a, sizeof(a));
    snprintf(buf, len, "%s/%u", a, c->prefix);
}

bool sbc_cidr_equal(const sbc_cidr_t *a, const sbc_cidr_t *b)
{
    return a->family == b->family && a->prefix == b->prefix && memcmp(a->addr, b->addr, 16) == 0;
}

bool sbc_sockaddr_key(const struct sockaddr *sa, int *family, uint8_t addr[16])
{
    memset(addr, 0, 16);
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        *family = AF_INET;
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            memcpy(addr, &a6->s6_addr[12], 4);
            *family = AF_INET;
        } else {
            memcpy(addr, a6->s6_addr, 16);
            *family = AF_INET6;
        }
        return true;
    }
    return false;
}

bool sbc_cidr_contains(const sbc_cidr_t *c, const struct sockaddr *sa)
{
    int family;
    uint8_t addr[16], m[16];
    if (!c || !sbc_sockaddr_key(sa, &family, addr) || family != c->family)
        return false;
    mask_addr(m, addr, c->prefix);
    return memcmp(m, c->addr, 16) == 0;
}

/* ---- longest-match index: one sorted array per (family, prefix) ---- */

struct cidr_group {
    int family;
    unsigned prefix;
    size_t start, n;
};

struct sbc_cidr_index {
    struct sbc_cidr_entry *e;
    struct cidr_group *groups;      /* family, then prefix descending */
    size_t n_groups;
};

static int entry_cmp(const void *pa, const void *pb)
{
    const struct sbc_cidr_entry *a = pa, *b = pb;
    if (a->cidr.family != b->cidr.family)
        return a->cidr.family < b->cidr.family ? -1 : 1;
    if (a->cidr.prefix != b->cidr.prefix)
        return a->cidr.prefix > b->cidr.prefix ? -1 : 1;
    return memcmp(a->cidr.addr, b->cidr.addr, 16);
}

struct sbc_cidr_index *sbc_cidr_index_build(struct sbc_arena *a, const struct sbc_cidr_entry *e,
                                            size_t n)
{
    struct sbc_cidr_index *ix = sbc_arena_alloc(a, sizeof(*ix));
    ix->e = sbc_arena_array(a, n ? n : 1, sizeof(*ix->e));
    if (n)
        memcpy(ix->e, e, n * sizeof(*e));
    qsort(ix->e, n, sizeof(*ix->e), entry_cmp);
    ix->groups = sbc_arena_array(a, n ? n : 1, sizeof(*ix->groups));
    for (size_t i = 0; i < n; i++) {
        struct cidr_group *g = ix->n_groups ? &ix->groups[ix->n_groups - 1] : NULL;
        if (!g || g->family != ix->e[i].cidr.family || g->prefix != ix->e[i].cidr.prefix) {
            g = &ix->groups[ix->n_groups++];
            g->family = ix->e[i].cidr.family;
            g->prefix = ix->e[i].cidr.prefix;
            g->start = i;
        }
        g->n++;
    }
    return ix;
}

bool sbc_cidr_index_lookup(const struct sbc_cidr_index *ix, const struct sockaddr *sa,
                           uint32_t *owner)
{
    int family;
    uint8_t addr[16], m[16];
    if (!ix || !sbc_sockaddr_key(sa, &family, addr))
        return false;
    for (size_t g = 0; g < ix->n_groups; g++) {
        const struct cidr_group *gr = &ix->groups[g];
        if (gr->family != family)
            continue;
        mask_addr(m, addr, gr->prefix);
        size_t lo = gr->start, hi = gr->start + gr->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = memcmp(ix->e[mid].cidr.addr, m, 16);
            if (c == 0) {
                *owner = ix->e[mid].owner;
                return true;
            }
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    return false;
}
