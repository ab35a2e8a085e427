/* A worker's slice of one interface's media port range: even RTP port, odd
 * RTCP port, handed out and returned in O(1). A pool belongs to one thread. */
#ifndef SBC_PORTPOOL_H
#define SBC_PORTPOOL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sbc_portpool_status {
    SBC_PORTPOOL_OK = 0,
    SBC_PORTPOOL_E_EXHAUSTED = -1,   /* no free pair could be bound, or no descriptor left: the B2BUA answers 503 */
    SBC_PORTPOOL_E_SYSTEM = -2,      /* socket() or bind() failed otherwise (memory) */
};

struct sbc_portpool;

/* A reserved pair. rtcp_fd is -1 until bound (muxed legs never need it). */
struct sbc_port_pair {
    uint16_t rtp_port;               /* even; RTCP is rtp_port + 1 */
    int rtp_fd;
    int rtcp_fd;
    uint32_t index;                  /* the pool's slot, for free */
};

/* Slice `worker` of `n_workers` equal contiguous slices of [port_min, port_max]
 * on bind_addr (IPv4 dotted quad). */
struct sbc_portpool *sbc_portpool_create(const char *bind_addr, uint16_t port_min, uint16_t port_max,
                                         unsigned worker, unsigned n_workers, char *err, size_t errlen);
void sbc_portpool_destroy(struct sbc_portpool *p);

/* Reserves a pair and binds its RTP socket (and the RTCP one if with_rtcp).
 * Pairs whose port another process holds are skipped and retried later. */
enum sbc_portpool_status sbc_portpool_alloc(struct sbc_portpool *p, bool with_rtcp, struct sbc_port_pair *out,
                                            char *err, size_t errlen);
/* Binds the odd port of an allocated pair (no-op if already bound). */
enum sbc_portpool_status sbc_portpool_bind_rtcp(struct sbc_portpool *p, struct sbc_port_pair *pp,
                                                char *err, size_t errlen);
/* Returns the pair: kept warm (see below) or its sockets closed and the pair
 * put at the back of the queue (so a just-freed port is reused last and stray
 * packets of the old call die out). */
void sbc_portpool_free(struct sbc_portpool *p, struct sbc_port_pair *pp);

/* Warm reuse: up to `cap` freed pairs keep their bound sockets, so the next
 * call skips socket()+bind()+close() (and, with the relay's parked watches,
 * epoll_ctl). A warm pair is handed out again, oldest first, only once no
 * packet reached it for quiet_ms (as told by last_rx) since it was freed.
 * closing(arg, fd) runs before the pool closes a socket it kept (warm
 * eviction, destroy, fd shortage). When socket() fails for lack of
 * descriptors, warm pairs are closed first, so warm sockets never cost a call.
 * cap 0 disables it (the default). */
struct sbc_portpool_warm {
    unsigned cap;
    unsigned quiet_ms;
    void (*closing)(void *arg, int fd);
    uint64_t (*last_rx)(void *arg, int fd);  /* CLOCK_MONOTONIC ns of the last packet, 0 = none; may be NULL */
    void *arg;
};
int sbc_portpool_set_warm(struct sbc_portpool *p, const struct sbc_portpool_warm *w, char *err, size_t errlen);
unsigned sbc_portpool_warm_cap(const struct sbc_portpool *p);

/* Counters of warm reuse (tests, metrics). */
struct sbc_portpool_stats {
    uint64_t warm_hits;                  /* allocations served by a warm pair */
    uint64_t cold_allocs;                /* allocations that bound new sockets */
    uint64_t warm_evicted;               /* warm pairs closed for lack of descriptors */
};
const struct sbc_portpool_stats *sbc_portpool_stats(const struct sbc_portpool *p);

unsigned sbc_portpool_capacity(const struct sbc_portpool *p);
unsigned sbc_portpool_available(const struct sbc_portpool *p);   /* free + warm */
unsigned sbc_portpool_warm(const struct sbc_portpool *p);        /* warm pairs now */
const char *sbc_portpool_address(const struct sbc_portpool *p);
const struct in_addr *sbc_portpool_in_addr(const struct sbc_portpool *p);

#endif
