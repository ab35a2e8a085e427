/* io_uring through its system calls: one SQ/CQ ring pair, a provided-buffer
 * ring (group 0) for multishot receives, an eventfd for wake-ups. */
#include "media/uring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BGID 0

struct sbc_uring {
    int fd, efd;
    unsigned sq_entries;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array, *sq_flags;
    unsigned sq_local;                   /* our tail: entries written, not yet published */
    unsigned *cq_head, *cq_tail, *cq_mask, *cq_flags;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    void *ring;
    size_t ring_len, sqes_len;

    struct io_uring_buf_ring *br;
    size_t br_len;
    unsigned bufs, buf_size;
    uint16_t br_tail;                    /* published tail */
    unsigned br_puts;                    /* given back since */
    uint8_t *mem;
    size_t mem_len;
    struct msghdr recv_msg;              /* the receive template: IPv4 source, no control data */
    unsigned nfixed;                     /* registered file table: slot = fd, for fds below this */
};

static int uring_register(int fd, unsigned op, void *arg, unsigned n)
{
    return (int)syscall(SYS_io_uring_register, fd, op, arg, n);
}

static void *map_anon(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

struct sbc_uring *sbc_uring_create(const struct sbc_uring_cfg *cfg, char *err, size_t errlen)
{
    if (!cfg->bufs || (cfg->bufs & (cfg->bufs - 1)) || cfg->bufs > 32768 || cfg->buf_size < 256) {
        snprintf(err, errlen, "io_uring: %u buffers of %u bytes: need a power of two up to 32768, 256 bytes or more",
                 cfg->bufs, cfg->buf_size);
        return NULL;
    }
    struct sbc_uring *u = calloc(1, sizeof(*u));
    if (!u) {
        snprintf(err, errlen, "io_uring: out of memory");
        return NULL;
    }
    u->fd = u->efd = -1;
    struct io_uring_params p = { 0 };
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL |
              IORING_SETUP_TASKRUN_FLAG;
    p.cq_entries = cfg->cq_entries;
    u->fd = (int)syscall(SYS_io_uring_setup, cfg->sq_entries, &p);
    if (u->fd < 0) {
        snprintf(err, errlen, "io_uring_setup (deferred task work needs Linux 6.1): %s", strerror(errno));
        goto fail;
    }
    const unsigned need = IORING_FEAT_SINGLE_MMAP | IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG;
    if ((p.features & need) != need) {
        snprintf(err, errlen, "io_uring: kernel too old (features %#x)", p.features);
        goto fail;
    }
    size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    u->ring_len = sq_len > cq_len ? sq_len : cq_len;
    u->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
    u->ring = mmap(NULL, u->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQ_RING);
    if (u->ring == MAP_FAILED) {
        u->ring = NULL;
        snprintf(err, errlen, "io_uring mmap: %s", strerror(errno));
        goto fail;
    }
    u->sqes = mmap(NULL, u->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQES);
    if (u->sqes == MAP_FAILED) {
        u->sqes = NULL;
        snprintf(err, errlen, "io_uring mmap: %s", strerror(errno));
        goto fail;
    }
    uint8_t *r = u->ring;
    u->sq_entries = p.sq_entries;
    u->sq_head = (unsigned *)(r + p.sq_off.head);
    u->sq_tail = (unsigned *)(r + p.sq_off.tail);
    u->sq_mask = (unsigned *)(r + p.sq_off.ring_mask);
    u->sq_array = (unsigned *)(r + p.sq_off.array);
    u->sq_flags = (unsigned *)(r + p.sq_off.flags);
    u->sq_local = *u->sq_tail;
    u->cq_head = (unsigned *)(r + p.cq_off.head);
    u->cq_tail = (unsigned *)(r + p.cq_off.tail);
    u->cq_mask = (unsigned *)(r + p.cq_off.ring_mask);
    u->cq_flags = (unsigned *)(r + p.cq_off.flags);
    u->cqes = (struct io_uring_cqe *)(r + p.cq_off.cqes);

    u->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (u->efd < 0 || uring_register(u->fd, IORING_REGISTER_EVENTFD, &u->efd, 1) < 0) {
        snprintf(err, errlen, "io_uring eventfd: %s", strerror(errno));
        goto fail;
    }

    u->bufs = cfg->bufs;
    u->buf_size = cfg->buf_size;
    u->br_len = (size_t)cfg->bufs * sizeof(struct io_uring_buf);
    u->mem_len = (size_t)cfg->bufs * cfg->buf_size;
    u->br = map_anon(u->br_len);
    u->mem = map_anon(u->mem_len);
    if (!u->br || !u->mem) {
        snprintf(err, errlen, "io_uring: no memory for %u receive buffers", cfg->bufs);
        goto fail;
    }
    struct io_uring_buf_reg reg = { .ring_addr = (uint64_t)(uintptr_t)u->br, .ring_entries = cfg->bufs, .bgid = BGID };
    if (uring_register(u->fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0) {
        snprintf(err, errlen, "io_uring provided buffers (Linux 5.19): %s", strerror(errno));
        goto fail;
    }
    for (unsigned i = 0; i < cfg->bufs; i++)
        sbc_uring_buf_put(u, i);
    /* A sparse table of registered files, indexed by fd: a request on a
     * registered socket skips the file lookup and reference count. Optional. */
    struct rlimit rl;
    unsigned n = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max < 65536 ? (unsigned)rl.rlim_max : 65536;
    struct io_uring_rsrc_register fr = { .nr = n, .flags = IORING_RSRC_REGISTER_SPARSE };
    if (uring_register(u->fd, IORING_REGISTER_FILES2, &fr, sizeof(fr)) >= 0)
        u->nfixed = n;
    u->recv_msg.msg_namelen = sizeof(struct sockaddr_in);
    return u;

fail:
    sbc_uring_destroy(u);
    return NULL;
}

void sbc_uring_destroy(struct sbc_uring *u)
{
    if (!u)
        return;
    if (u->fd >= 0)
        close(u->fd);                    /* cancels what is pending, releases the sockets it held */
    if (u->efd >= 0)
        close(u->efd);
    if (u->ring)
        munmap(u->ring, u->ring_len);
    if (u->sqes)
        munmap(u->sqes, u->sqes_len);
    if (u->br)
        munmap(u->br, u->br_len);
    if (u->mem)
        munmap(u->mem, u->mem_len);
    free(u);
}

int sbc_uring_eventfd(const struct sbc_uring *u)
{
    return u->efd;
}

void sbc_uring_notify(struct sbc_uring *u, bool on)
{
    unsigned f = __atomic_load_n(u->cq_flags, __ATOMIC_RELAXED);
    f = on ? f & ~IORING_CQ_EVENTFD_DISABLED : f | IORING_CQ_EVENTFD_DISABLED;
    /* Seq-cst: a caller turning notifications on re-checks for work after. */
    __atomic_store_n(u->cq_flags, f, __ATOMIC_SEQ_CST);
}

bool sbc_uring_pending(const struct sbc_uring *u)
{
    return (__atomic_load_n(u->sq_flags, __ATOMIC_ACQUIRE) & IORING_SQ_TASKRUN) ||
           *u->cq_head != __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE);
}

unsigned sbc_uring_queued(const struct sbc_uring *u)
{
    return u->sq_local - __atomic_load_n(u->sq_head, __ATOMIC_ACQUIRE);
}

static struct io_uring_sqe *sqe_get(struct sbc_uring *u)
{
    if (sbc_uring_queued(u) >= u->sq_entries)
        sbc_uring_enter(u);
    if (sbc_uring_queued(u) >= u->sq_entries)
        return NULL;                     /* the kernel takes nothing: the ring is broken */
    unsigned idx = u->sq_local & *u->sq_mask;
    struct io_uring_sqe *sqe = &u->sqes[idx];
    memset(sqe, 0, sizeof(*sqe));
    u->sq_array[idx] = idx;
    u->sq_local++;
    return sqe;
}

static bool file_update(struct sbc_uring *u, int fd, int32_t v)
{
    if (fd < 0 || (unsigned)fd >= u->nfixed)
        return false;
    struct io_uring_rsrc_update2 up = { .offset = (uint32_t)fd, .data = (uint64_t)(uintptr_t)&v, .nr = 1 };
    return uring_register(u->fd, IORING_REGISTER_FILES_UPDATE2, &up, sizeof(up)) == 1;
}

bool sbc_uring_file_add(struct sbc_uring *u, int fd)
{
    return file_update(u, fd, fd);
}

void sbc_uring_file_del(struct sbc_uring *u, int fd)
{
    file_update(u, fd, -1);
}

void sbc_uring_recv(struct sbc_uring *u, int fd, bool fixed, uint64_t user_data)
{
    struct io_uring_sqe *sqe = sqe_get(u);
    if (!sqe)
        return;
    sqe->opcode = IORING_OP_RECVMSG;
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)&u->recv_msg;
    sqe->len = 1;
    sqe->flags = IOSQE_BUFFER_SELECT | (fixed ? IOSQE_FIXED_FILE : 0);
    sqe->buf_group = BGID;
    sqe->ioprio = IORING_RECV_MULTISHOT;
    sqe->user_data = user_data;
}

int sbc_uring_recv_cancel(struct sbc_uring *u, uint64_t user_data)
{
    if (sbc_uring_queued(u))
        sbc_uring_enter(u);              /* a receive still queued here would be missed */
    /* By user_data, not by fd: the kernel finds it in one bucket of its
     * cancel table instead of scanning every pending receive. */
    struct io_uring_sync_cancel_reg c = { .addr = user_data, .timeout = { -1, -1 } };
    if (uring_register(u->fd, IORING_REGISTER_SYNC_CANCEL, &c, 1) < 0 && errno != ENOENT)
        return -errno;
    /* The cancelled request lets go of the socket when it completes, which
     * is deferred work: run it, or the port stays bound after close. */
    return sbc_uring_enter(u);
}

bool sbc_uring_sendto(struct sbc_uring *u, int fd, bool fixed, const void *buf, unsigned len,
                      const struct sockaddr_in *to, uint64_t user_data)
{
    struct io_uring_sqe *sqe = sqe_get(u);
    if (!sqe)
        return false;
    sqe->opcode = IORING_OP_SEND;        /* with a destination: sendto (Linux 6.1), no msghdr to copy in */
    sqe->fd = fd;
    sqe->flags = fixed ? IOSQE_FIXED_FILE : 0;
    sqe->addr = (uint64_t)(uintptr_t)buf;
    sqe->len = len;
    sqe->addr2 = (uint64_t)(uintptr_t)to;
    sqe->addr_len = sizeof(*to);
    sqe->msg_flags = MSG_DONTWAIT;       /* a full send buffer fails the send, as sendmmsg would */
    sqe->user_data = user_data;
    return true;
}

int sbc_uring_enter(struct sbc_uring *u)
{
    if (u->br_puts) {
        u->br_tail = (uint16_t)(u->br_tail + u->br_puts);
        u->br_puts = 0;
        __atomic_store_n(&u->br->tail, u->br_tail, __ATOMIC_RELEASE);
    }
    __atomic_store_n(u->sq_tail, u->sq_local, __ATOMIC_RELEASE);
    unsigned n = u->sq_local - __atomic_load_n(u->sq_head, __ATOMIC_ACQUIRE);
    for (int tries = 0; tries < 4; tries++) {
        long rc = syscall(SYS_io_uring_enter, u->fd, n, 0, IORING_ENTER_GETEVENTS, NULL, 0);
        if (rc >= 0)
            return 0;
        if (errno != EINTR)
            return -errno;               /* EBUSY/EAGAIN: reap, then enter again */
    }
    return -EINTR;
}

unsigned sbc_uring_reap(struct sbc_uring *u, void (*fn)(void *arg, const struct io_uring_cqe *c), void *arg)
{
    unsigned head = *u->cq_head, tail = __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE);
    unsigned n = tail - head;
    for (; head != tail; head++) {
        fn(arg, &u->cqes[head & *u->cq_mask]);
        __atomic_store_n(u->cq_head, head + 1, __ATOMIC_RELEASE);   /* fn may enter: free the slot only after */
    }
    return n;
}

void sbc_uring_buf_put(struct sbc_uring *u, unsigned bid)
{
    struct io_uring_buf *b = &u->br->bufs[(uint16_t)(u->br_tail + u->br_puts) & (u->bufs - 1)];
    b->addr = (uint64_t)(uintptr_t)(u->mem + (size_t)bid * u->buf_size);
    b->len = u->buf_size;
    b->bid = (uint16_t)bid;
    u->br_puts++;
}

bool sbc_uring_dgram(struct sbc_uring *u, const struct io_uring_cqe *c, struct sbc_uring_dgram *d)
{
    if (!(c->flags & IORING_CQE_F_BUFFER))
        return false;
    unsigned bid = c->flags >> IORING_CQE_BUFFER_SHIFT;
    if (c->res < 0 || bid >= u->bufs) {
        if (bid < u->bufs)
            sbc_uring_buf_put(u, bid);
        return false;
    }
    uint8_t *buf = u->mem + (size_t)bid * u->buf_size;
    const struct io_uring_recvmsg_out *o = (const void *)buf;
    size_t hdr = sizeof(*o) + u->recv_msg.msg_namelen;  /* the payload follows the space asked for the name */
    d->bid = bid;
    d->data = buf + hdr;
    d->room = u->buf_size - (unsigned)hdr;
    d->len = o->payloadlen < d->room ? o->payloadlen : d->room;
    d->bad = (o->flags & MSG_TRUNC) || o->namelen != sizeof(struct sockaddr_in);
    memcpy(&d->from, buf + sizeof(*o), sizeof(d->from));
    return true;
}
