/* Batched datagram sends through io_uring: sendmsg calls on many sockets are
 * queued and handed to the kernel in one io_uring_enter, where each would
 * otherwise be its own sendmmsg (a kernel entry costs ~1.2 us on a
 * paravirtualized VM). One per worker thread; not thread-safe. */
#ifndef SBC_URING_TX_H
#define SBC_URING_TX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct sbc_uring_tx;

/* room: sends queued at most between two submissions. NULL (with the
 * reason) where io_uring is not available: the caller sends directly. */
struct sbc_uring_tx *sbc_uring_tx_create(unsigned room, char *err, size_t errlen);
void sbc_uring_tx_destroy(struct sbc_uring_tx *u);

/* Queues sendmsg(fd, msg, MSG_DONTWAIT); msg and what it points to must stay
 * valid until the next submit. The caller keeps the count under room. */
void sbc_uring_tx_queue(struct sbc_uring_tx *u, int fd, const struct msghdr *msg, uint64_t user_data);
unsigned sbc_uring_tx_queued(const struct sbc_uring_tx *u);

/* Submits everything queued and waits for it (UDP sends complete inline);
 * done(arg, user_data, result) per send: bytes sent or -errno. */
void sbc_uring_tx_submit(struct sbc_uring_tx *u, void (*done)(void *arg, uint64_t user_data, int res), void *arg);

#endif
