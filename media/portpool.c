/* Port pool: a FIFO ring of free pair indices (O(1) alloc and free). */
#include "media/portpool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct sbc_portpool {
    char address[INET_ADDRSTRLEN];
    struct in_addr in;
    uint16_t first_port;             /* even port of slot 0 */
    uint32_t n;                      /* slots in this slice */
    uint32_t *ring;                  /* free slot indices, ring buffer */
    uint32_t head, count;
    uint8_t *used;                   /* per slot: 1 while allocated (catches double free) */
};

struct sbc_portpool *sbc_portpool_create(const char *bind_addr, uint16_t port_min, uint16_t port_max,
                                         unsigned worker, unsigned n_workers, char *err, size_t errlen)
{
    struct sbc_portpool *p = NULL;
    if (n_workers == 0 || worker >= n_workers) {
        snprintf(err, errlen, "port pool: worker %u of %u", worker, n_workers);
        return NULL;
    }
    uint32_t lo = (port_min + 1u) & ~1u;           /* first even port */
    if (port_max < lo + 1u || lo == 0) {
        snprintf(err, errlen, "port pool: range %u-%u holds no even/odd pair", port_min, port_max);
        return NULL;
    }
    uint32_t pairs = ((uint32_t)port_max - lo + 1u) / 2u;
    uint32_t per = pairs / n_workers;
    if (per == 0) {
        snprintf(err, errlen, "port pool: range %u-%u too small for %u workers", port_min, port_max, n_workers);
        return NULL;
    }
    p = calloc(1, sizeof(*p));
    if (!p)
        goto oom;
    if (inet_pton(AF_INET, bind_addr, &p->in) != 1) {
        snprintf(err, errlen, "port pool: bad IPv4 address '%s'", bind_addr);
        free(p);
        return NULL;
    }
    snprintf(p->address, sizeof(p->address), "%s", bind_addr);
    p->first_port = (uint16_t)(lo + 2u * per * worker);
    p->n = per;
    p->ring = malloc(sizeof(*p->ring) * per);
    p->used = calloc(per, 1);
    if (!p->ring || !p->used)
        goto oom;
    for (uint32_t i = 0; i < per; i++)
        p->ring[i] = i;
    p->count = per;
    return p;
oom:
    snprintf(err, errlen, "port pool: out of memory");
    sbc_portpool_destroy(p);
    return NULL;
}

void sbc_portpool_destroy(struct sbc_portpool *p)
{
    if (!p)
        return;
    free(p->ring);
    free(p->used);
    free(p);
}

/* 0 on success, else errno. */
static int bind_udp(const struct sbc_portpool *p, uint16_t port, int *fd_out)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = p->in };
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return e;
    }
    *fd_out = fd;
    return 0;
}

static void push_free(struct sbc_portpool *p, uint32_t idx)
{
    p->ring[(p->head + p->count) % p->n] = idx;
    p->count++;
}

enum sbc_portpool_status sbc_portpool_alloc(struct sbc_portpool *p, bool with_rtcp, struct sbc_port_pair *out,
                                            char *err, size_t errlen)
{
    /* Each busy pair (held by another process) is tried once per call. */
    uint32_t tries = p->count;
    out->rtp_fd = out->rtcp_fd = -1;
    while (tries-- > 0) {
        uint32_t idx = p->ring[p->head];
        p->head = (p->head + 1) % p->n;
        p->count--;
        uint16_t port = (uint16_t)(p->first_port + 2u * idx);
        int rtp = -1, rtcp = -1;
        int e = bind_udp(p, port, &rtp);
        if (e == 0 && with_rtcp) {
            e = bind_udp(p, (uint16_t)(port + 1), &rtcp);
            if (e != 0)
                close(rtp);
        }
        if (e == 0) {
            p->used[idx] = 1;
            out->rtp_port = port;
            out->rtp_fd = rtp;
            out->rtcp_fd = rtcp;
            out->index = idx;
            return SBC_PORTPOOL_OK;
        }
        push_free(p, idx);
        if (e != EADDRINUSE && e != EACCES) {
            snprintf(err, errlen, "port pool %s: socket for port %u: %s", p->address, port, strerror(e));
            return SBC_PORTPOOL_E_SYSTEM;
        }
    }
    snprintf(err, errlen, "port pool %s: no free port pair in %u-%u", p->address, p->first_port,
             p->first_port + 2u * p->n - 1u);
    return SBC_PORTPOOL_E_EXHAUSTED;
}

enum sbc_portpool_status sbc_portpool_bind_rtcp(struct sbc_portpool *p, struct sbc_port_pair *pp,
                                                char *err, size_t errlen)
{
    if (pp->rtcp_fd >= 0)
        return SBC_PORTPOOL_OK;
    int e = bind_udp(p, (uint16_t)(pp->rtp_port + 1), &pp->rtcp_fd);
    if (e == 0)
        return SBC_PORTPOOL_OK;
    snprintf(err, errlen, "port pool %s: RTCP port %u: %s", p->address, pp->rtp_port + 1, strerror(e));
    return e == EADDRINUSE ? SBC_PORTPOOL_E_EXHAUSTED : SBC_PORTPOOL_E_SYSTEM;
}

void sbc_portpool_free(struct sbc_portpool *p, struct sbc_port_pair *pp)
{
    if (!pp || pp->rtp_fd < 0)
        return;
    close(pp->rtp_fd);
    if (pp->rtcp_fd >= 0)
        close(pp->rtcp_fd);
    pp->rtp_fd = pp->rtcp_fd = -1;
    if (pp->index < p->n && p->used[pp->index]) {
        p->used[pp->index] = 0;
        push_free(p, pp->index);
    }
}

unsigned sbc_portpool_capacity(const struct sbc_portpool *p) { return p->n; }
unsigned sbc_portpool_available(const struct sbc_portpool *p) { return p->count; }
const char *sbc_portpool_address(const struct sbc_portpool *p) { return p->address; }
const struct in_addr *sbc_portpool_in_addr(const struct sbc_portpool *p) { return &p->in; }
