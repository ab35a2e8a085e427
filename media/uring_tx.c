/* io_uring through its system calls (no liburing): one SQ/CQ ring pair,
 * SENDMSG entries only. */
#include "media/uring_tx.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct sbc_uring_tx {
    int fd;
    unsigned queued, room;
    unsigned *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    void *ring;
    size_t ring_len, sqes_len;
};

struct sbc_uring_tx *sbc_uring_tx_create(unsigned room, char *err, size_t errlen)
{
    struct sbc_uring_tx *u = calloc(1, sizeof(*u));
    if (!u) {
        snprintf(err, errlen, "io_uring: out of memory");
        return NULL;
    }
    struct io_uring_params p = { 0 };
    u->fd = (int)syscall(SYS_io_uring_setup, room, &p);
    if (u->fd < 0) {
        snprintf(err, errlen, "io_uring_setup: %s", strerror(errno));
        free(u);
        return NULL;
    }
    if (!(p.features & IORING_FEAT_SINGLE_MMAP) || p.sq_entries < room) {
        snprintf(err, errlen, "io_uring: kernel too old (features %#x)", p.features);
        close(u->fd);
        free(u);
        return NULL;
    }
    size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    u->ring_len = sq_len > cq_len ? sq_len : cq_len;
    u->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
    u->ring = mmap(NULL, u->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQ_RING);
    u->sqes = mmap(NULL, u->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQES);
    if (u->ring == MAP_FAILED || u->sqes == MAP_FAILED) {
        snprintf(err, errlen, "io_uring mmap: %s", strerror(errno));
        if (u->ring != MAP_FAILED)
            munmap(u->ring, u->ring_len);
        if (u->sqes != MAP_FAILED)
            munmap(u->sqes, u->sqes_len);
        close(u->fd);
        free(u);
        return NULL;
    }
    uint8_t *r = u->ring;
    u->sq_tail = (unsigned *)(r + p.sq_off.tail);
    u->sq_mask = (unsigned *)(r + p.sq_off.ring_mask);
    u->sq_array = (unsigned *)(r + p.sq_off.array);
    u->cq_head = (unsigned *)(r + p.cq_off.head);
    u->cq_tail = (unsigned *)(r + p.cq_off.tail);
    u->cq_mask = (unsigned *)(r + p.cq_off.ring_mask);
    u->cqes = (struct io_uring_cqe *)(r + p.cq_off.cqes);
    u->room = room;
    return u;
}

void sbc_uring_tx_destroy(struct sbc_uring_tx *u)
{
    if (!u)
        return;
    munmap(u->ring, u->ring_len);
    munmap(u->sqes, u->sqes_len);
    close(u->fd);
    free(u);
}

void sbc_uring_tx_queue(struct sbc_uring_tx *u, int fd, const struct msghdr *msg, uint64_t user_data)
{
    unsigned idx = (*u->sq_tail + u->queued) & *u->sq_mask;
    struct io_uring_sqe *sqe = &u->sqes[idx];
    memset(sqe, 0, sizeof(*sqe));
    sqe->opcode = IORING_OP_SENDMSG;
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)msg;
    sqe->len = 1;
    sqe->msg_flags = MSG_DONTWAIT;       /* a full send buffer fails the send, as sendmmsg would */
    sqe->user_data = user_data;
    u->sq_array[idx] = idx;
    u->queued++;
}

unsigned sbc_uring_tx_queued(const struct sbc_uring_tx *u)
{
    return u->queued;
}

void sbc_uring_tx_submit(struct sbc_uring_tx *u, void (*done)(void *arg, uint64_t user_data, int res), void *arg)
{
    unsigned n = u->queued;
    if (!n)
        return;
    __atomic_store_n(u->sq_tail, *u->sq_tail + n, __ATOMIC_RELEASE);
    u->queued = 0;
    unsigned reaped = 0;
    while (reaped < n) {
        long rc = syscall(SYS_io_uring_enter, u->fd, reaped ? 0 : n, n - reaped, IORING_ENTER_GETEVENTS, NULL, 0);
        if (rc < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY)
            break;                       /* ring unusable: nothing more will complete */
        unsigned head = *u->cq_head, tail = __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE);
        for (; head != tail; head++, reaped++) {
            const struct io_uring_cqe *c = &u->cqes[head & *u->cq_mask];
            done(arg, c->user_data, c->res);
        }
        __atomic_store_n(u->cq_head, head, __ATOMIC_RELEASE);
    }
}
