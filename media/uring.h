/* The relay's io_uring: datagrams received by multishot RECVMSG into a ring of
 * provided buffers and sent by SEND (sendto) straight from those buffers, through
 * one ring per worker thread (raw system calls, no liburing).
 *
 * The ring is set up with DEFER_TASKRUN: the kernel runs the receive work
 * (copying queued datagrams into buffers) only when the owning thread enters
 * the ring. The caller therefore chooses when packets are picked up: at once
 * when the eventfd says work waits (notifications on), or on its own tick
 * with notifications off, so a busy worker takes many packets of many
 * sockets per kernel entry instead of one wake-up and one recvmmsg each.
 *
 * Not thread-safe: the first thread that submits owns the ring (the kernel
 * refuses entries from any other), so create it on the worker thread. */
#ifndef SBC_URING_H
#define SBC_URING_H

#include <linux/io_uring.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct sbc_uring;

struct sbc_uring_cfg {
    unsigned sq_entries;                 /* submissions queued at most between two entries */
    unsigned cq_entries;
    unsigned bufs;                       /* receive buffers (a power of two) */
    unsigned buf_size;                   /* bytes each, header and source address included */
};

/* NULL (with the reason) where the kernel lacks what the ring needs
 * (io_uring disabled, or older than 6.1): the caller uses plain sockets. */
struct sbc_uring *sbc_uring_create(const struct sbc_uring_cfg *cfg, char *err, size_t errlen);
void sbc_uring_destroy(struct sbc_uring *u);

/* Readable when receive work waits, while notifications are on. */
int sbc_uring_eventfd(const struct sbc_uring *u);
/* Off: arriving datagrams wake nobody; they wait in the kernel for the next
 * sbc_uring_enter. A flag in the shared ring, no system call. */
void sbc_uring_notify(struct sbc_uring *u, bool on);

/* Registers fd in the ring's file table (slot fd) so requests on it skip the
 * file lookup: pass fixed = true to them. False: not registered (no table,
 * fd too high); use it unregistered. A registered socket stays open until
 * sbc_uring_file_del, whatever close() does. */
bool sbc_uring_file_add(struct sbc_uring *u, int fd);
void sbc_uring_file_del(struct sbc_uring *u, int fd);

/* Queues a multishot receive on a datagram socket: one completion per
 * datagram until it ends (a completion without IORING_CQE_F_MORE: re-arm). */
void sbc_uring_recv(struct sbc_uring *u, int fd, bool fixed, uint64_t user_data);
/* Ends the receive queued with user_data synchronously; needed before its
 * socket is closed, as the pending request holds the socket open. 0 or
 * -errno (EEXIST: not the ring's thread). */
int sbc_uring_recv_cancel(struct sbc_uring *u, uint64_t user_data);

/* Queues sendto(fd, buf, len, MSG_DONTWAIT, to); buf and to stay valid until
 * its completion is reaped. A full queue is submitted first. False: the ring
 * takes nothing more (broken). */
bool sbc_uring_sendto(struct sbc_uring *u, int fd, bool fixed, const void *buf, unsigned len,
                      const struct sockaddr_in *to, uint64_t user_data);
unsigned sbc_uring_queued(const struct sbc_uring *u);
/* Receive work or completions wait (read from the shared ring, no system
 * call): false means an entry now would find nothing. */
bool sbc_uring_pending(const struct sbc_uring *u);

/* Submits what is queued, returns the buffers given back and runs the receive
 * work that waits; completions are then in the queue for sbc_uring_reap. UDP
 * sends complete within the call. Returns -errno when the ring is unusable. */
int sbc_uring_enter(struct sbc_uring *u);

/* Calls fn for each completion present; fn may queue submissions and give
 * buffers back. Returns how many. */
unsigned sbc_uring_reap(struct sbc_uring *u, void (*fn)(void *arg, const struct io_uring_cqe *c), void *arg);

/* A received datagram, read from a receive completion that carries a buffer. */
struct sbc_uring_dgram {
    unsigned bid;                        /* the buffer: give it back with sbc_uring_buf_put */
    uint8_t *data;                       /* payload, in place */
    unsigned len;
    unsigned room;                       /* bytes writable from data (trailers added in place) */
    struct sockaddr_in from;
    bool bad;                            /* truncated, or a source that is not IPv4 */
};
/* False when the completion carries no datagram (an error, the end of a
 * receive); a buffer it carries is then given back here. */
bool sbc_uring_dgram(struct sbc_uring *u, const struct io_uring_cqe *c, struct sbc_uring_dgram *d);
void sbc_uring_buf_put(struct sbc_uring *u, unsigned bid);

#endif
