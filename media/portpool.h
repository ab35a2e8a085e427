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
    SBC_PORTPOOL_E_EXHAUSTED = -1,   /* no free pair could be bound: the B2BUA answers 503 */
    SBC_PORTPOOL_E_SYSTEM = -2,      /* socket() failed (fd limit, memory) */
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
/* Closes the sockets and returns the pair to the back of the queue (so a
 * just-freed port is reused last and stray packets of the old call die out). */
void sbc_portpool_free(struct sbc_portpool *p, struct sbc_port_pair *pp);

unsigned sbc_portpool_capacity(const struct sbc_portpool *p);
unsigned sbc_portpool_available(const struct sbc_portpool *p);
const char *sbc_portpool_address(const struct sbc_portpool *p);
const struct in_addr *sbc_portpool_in_addr(const struct sbc_portpool *p);

#endif
