/* Port pool: a FIFO ring of free pair indices (O(1) alloc and free), and,
 * with warm reuse on, a FIFO of freed pairs whose sockets stay bound. */
#include "media/portpool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WARM_SCAN 4                      /* warm pairs looked at per allocation */

/* Sockets a slot keeps while warm; rtcp also while the pair is out without
 * RTCP (a muxed leg) so a later sbc_portpool_bind_rtcp() needs no bind. */
struct slot {
    int rtp, rtcp;
    uint64_t freed_ns;
};

struct sbc_portpool {
    char address[INET_ADDRSTRLEN];
    struct in_addr in;
    uint16_t first_port;             /* even port of slot 0 */
    uint32_t n;                      /* slots in this slice */
    uint32_t *ring;                  /* free slot indices, ring buffer */
    uint32_t head, count;
    uint8_t *used;                   /* per slot: 1 while allocated (catches double free) */
    struct sbc_portpool_warm warm;
    struct slot *slot;               /* NULL until warm reuse is set */
    uint32_t *wring;                 /* warm slot indices, oldest first */
    uint32_t whead, wcount;
    struct sbc_portpool_stats stats;
};

static uint64_t now_ns(void)
{
    struct timespec ts;                  /* the relay's clock: last_rx compares with it */
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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

static void close_kept(struct sbc_portpool *p, int fd)
{
    if (fd < 0)
        return;
    if (p->warm.closing)
        p->warm.closing(p->warm.arg, fd);
    close(fd);
}

void sbc_portpool_destroy(struct sbc_portpool *p)
{
    if (!p)
        return;
    for (uint32_t i = 0; p->slot && i < p->n; i++) {
        close_kept(p, p->slot[i].rtp);
        close_kept(p, p->slot[i].rtcp);
    }
    free(p->slot);
    free(p->wring);
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

static uint32_t warm_pop(struct sbc_portpool *p)
{
    uint32_t idx = p->wring[p->whead];
    p->whead = (p->whead + 1) % p->n;
    p->wcount--;
    return idx;
}

static void warm_push(struct sbc_portpool *p, uint32_t idx)
{
    p->wring[(p->whead + p->wcount) % p->n] = idx;
    p->wcount++;
}

/* Closes a warm slot's sockets and returns it to the free ring. */
static void warm_close(struct sbc_portpool *p, uint32_t idx)
{
    close_kept(p, p->slot[idx].rtp);
    close_kept(p, p->slot[idx].rtcp);
    p->slot[idx].rtp = p->slot[idx].rtcp = -1;
    push_free(p, idx);
}

/* Out of descriptors: give back the oldest warm pair. false if none. */
static bool evict_one(struct sbc_portpool *p)
{
    if (!p->wcount)
        return false;
    warm_close(p, warm_pop(p));
    p->stats.warm_evicted++;
    return true;
}

static int bind_or_evict(struct sbc_portpool *p, uint16_t port, int *fd)
{
    int e;
    while ((e = bind_udp(p, port, fd)) == EMFILE || e == ENFILE)
        if (!evict_one(p))
            break;
    return e;
}

static uint64_t last_rx_of(const struct sbc_portpool *p, int fd)
{
    return fd >= 0 && p->warm.last_rx ? p->warm.last_rx(p->warm.arg, fd) : 0;
}

/* The oldest quiet warm pair, if any. A pair that still gets packets (the old
 * peer has not stopped) goes to the back with its quiet time restarted. */
static bool take_warm(struct sbc_portpool *p, bool with_rtcp, struct sbc_port_pair *out)
{
    uint64_t now = now_ns(), quiet = (uint64_t)p->warm.quiet_ms * 1000000u;
    for (unsigned scan = 0; scan < WARM_SCAN && p->wcount; scan++) {
        uint32_t idx = p->wring[p->whead];
        struct slot *sl = &p->slot[idx];
        if (now - sl->freed_ns < quiet)
            return false;            /* the others were freed later still */
        warm_pop(p);
        uint64_t l1 = last_rx_of(p, sl->rtp), l2 = last_rx_of(p, sl->rtcp), last = l1 > l2 ? l1 : l2;
        if (last && now - last < quiet) {
            sl->freed_ns = now;
            warm_push(p, idx);
            continue;
        }
        uint16_t port = (uint16_t)(p->first_port + 2u * idx);
        if (with_rtcp && sl->rtcp < 0 && bind_udp(p, (uint16_t)(port + 1), &sl->rtcp) != 0) {
            sl->rtcp = -1;           /* RTCP port taken meanwhile: let the pair go */
            warm_close(p, idx);
            continue;
        }
        p->used[idx] = 1;
        out->rtp_port = port;
        out->rtp_fd = sl->rtp;
        out->rtcp_fd = with_rtcp ? sl->rtcp : -1;
        out->index = idx;
        sl->rtp = -1;
        if (with_rtcp)
            sl->rtcp = -1;           /* else held for sbc_portpool_bind_rtcp() */
        p->stats.warm_hits++;
        return true;
    }
    return false;
}

enum sbc_portpool_status sbc_portpool_alloc(struct sbc_portpool *p, bool with_rtcp, struct sbc_port_pair *out,
                                            char *err, size_t errlen)
{
    out->rtp_fd = out->rtcp_fd = -1;
    if (p->wcount && take_warm(p, with_rtcp, out))
        return SBC_PORTPOOL_OK;
    /* Each busy pair (held by another process) is tried once per call. */
    uint32_t tries = p->count;
    while (tries-- > 0) {
        uint32_t idx = p->ring[p->head];
        p->head = (p->head + 1) % p->n;
        p->count--;
        uint16_t port = (uint16_t)(p->first_port + 2u * idx);
        int rtp = -1, rtcp = -1;
        int e = bind_or_evict(p, port, &rtp);
        if (e == 0 && with_rtcp) {
            e = bind_or_evict(p, (uint16_t)(port + 1), &rtcp);
            if (e != 0)
                close(rtp);
        }
        if (e == 0) {
            p->used[idx] = 1;
            out->rtp_port = port;
            out->rtp_fd = rtp;
            out->rtcp_fd = rtcp;
            out->index = idx;
            p->stats.cold_allocs++;
            return SBC_PORTPOOL_OK;
        }
        push_free(p, idx);
        if (e == EMFILE || e == ENFILE) {
            snprintf(err, errlen, "port pool %s: no descriptor for port %u (open-files limit)", p->address, port);
            return SBC_PORTPOOL_E_EXHAUSTED;
        }
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
    if (p->slot && pp->index < p->n && p->slot[pp->index].rtcp >= 0) {
        pp->rtcp_fd = p->slot[pp->index].rtcp;   /* kept from the pair's last call */
        p->slot[pp->index].rtcp = -1;
        return SBC_PORTPOOL_OK;
    }
    int e = bind_or_evict(p, (uint16_t)(pp->rtp_port + 1), &pp->rtcp_fd);
    if (e == 0)
        return SBC_PORTPOOL_OK;
    snprintf(err, errlen, "port pool %s: RTCP port %u: %s", p->address, pp->rtp_port + 1, strerror(e));
    return e == EADDRINUSE || e == EMFILE || e == ENFILE ? SBC_PORTPOOL_E_EXHAUSTED : SBC_PORTPOOL_E_SYSTEM;
}

void sbc_portpool_free(struct sbc_portpool *p, struct sbc_port_pair *pp)
{
    if (!pp || pp->rtp_fd < 0)
        return;
    bool mine = pp->index < p->n && p->used[pp->index];
    struct slot *sl = mine && p->slot ? &p->slot[pp->index] : NULL;
    int rtcp = pp->rtcp_fd;
    if (sl && sl->rtcp >= 0) {           /* held while the pair was out */
        if (rtcp >= 0)
            close_kept(p, sl->rtcp);
        else
            rtcp = sl->rtcp;
        sl->rtcp = -1;
    }
    if (sl && p->wcount < p->warm.cap) {
        sl->rtp = pp->rtp_fd;
        sl->rtcp = rtcp;
        sl->freed_ns = now_ns();
        p->used[pp->index] = 0;
        warm_push(p, pp->index);
    } else {
        close_kept(p, pp->rtp_fd);
        close_kept(p, rtcp);
        if (mine) {
            p->used[pp->index] = 0;
            push_free(p, pp->index);
        }
    }
    pp->rtp_fd = pp->rtcp_fd = -1;
}

int sbc_portpool_set_warm(struct sbc_portpool *p, const struct sbc_portpool_warm *w, char *err, size_t errlen)
{
    if (!p->slot) {
        p->slot = malloc(sizeof(*p->slot) * p->n);
        p->wring = malloc(sizeof(*p->wring) * p->n);
        if (!p->slot || !p->wring) {
            free(p->slot);
            free(p->wring);
            p->slot = NULL;
            p->wring = NULL;
            snprintf(err, errlen, "port pool %s: out of memory for warm reuse", p->address);
            return -1;
        }
        for (uint32_t i = 0; i < p->n; i++)
            p->slot[i] = (struct slot){ -1, -1, 0 };
    }
    p->warm = *w;
    if (p->warm.cap > p->n)
        p->warm.cap = p->n;
    while (p->wcount > p->warm.cap)
        warm_close(p, warm_pop(p));
    return 0;
}

unsigned sbc_portpool_warm_cap(const struct sbc_portpool *p) { return p->slot ? p->warm.cap : 0; }
unsigned sbc_portpool_warm(const struct sbc_portpool *p) { return p->wcount; }
const struct sbc_portpool_stats *sbc_portpool_stats(const struct sbc_portpool *p) { return &p->stats; }

unsigned sbc_portpool_capacity(const struct sbc_portpool *p) { return p->n; }
unsigned sbc_portpool_available(const struct sbc_portpool *p) { return p->count + p->wcount; }
const char *sbc_portpool_address(const struct sbc_portpool *p) { return p->address; }
const struct in_addr *sbc_portpool_in_addr(const struct sbc_portpool *p) { return &p->in; }
