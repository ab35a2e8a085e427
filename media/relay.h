/* The packet path: RTP/RTCP forwarding between the two legs of a stream on
 * the home worker's event_base, SRTP <-> RTP translation, symmetric-RTP
 * latching, per-leg counters. One sbc_relay per worker; all calls on that
 * worker's thread. */
#ifndef SBC_RELAY_H
#define SBC_RELAY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/srtp_ctx.h"

#define SBC_RELAY_BATCH 32
#define SBC_RELAY_MTU 1500           /* largest datagram relayed; bigger ones are dropped */

struct event_base;
struct sbc_relay;
struct sbc_relay_stream;

/* Counters of one leg, as seen by the relay. */
struct sbc_relay_leg_stats {
    uint64_t rx_packets, rx_bytes;       /* accepted from this leg (RTP + RTCP, as received) */
    uint64_t tx_packets, tx_bytes;       /* sent to this leg (as sent, tags included) */
    uint64_t rx_rtcp;                    /* of rx_packets, RTCP */
    uint64_t srtp_auth_fail;             /* dropped: SRTP/SRTCP tag mismatch */
    uint64_t srtp_replay;                /* dropped: replayed or too old */
    uint64_t foreign;                    /* dropped: source other than the latched one */
    uint64_t malformed;                  /* dropped: not RTP/RTCP, too big */
    uint64_t no_dest;                    /* dropped: the other leg has no address yet (or on hold) */
    uint64_t send_fail;                  /* dropped: sendmmsg refused */
    bool latched;
    struct sockaddr_in latched_addr;     /* RTP source latched to */
};

/* tick_us: with io_uring, how often a busy relay picks up packets (the most
 * a packet waits for it); 0 = at once on every wake-up. */
#define SBC_RELAY_TICK_US_DEFAULT 1000
struct sbc_relay *sbc_relay_create(struct event_base *base, unsigned tick_us, char *err, size_t errlen);
void sbc_relay_destroy(struct sbc_relay *r);
struct event_base *sbc_relay_base(const struct sbc_relay *r);

/* A stream joins leg 0 and leg 1. The fds stay owned by the caller (the port
 * pool); the stream only watches them. rtcp_fd may be -1. */
struct sbc_relay_stream *sbc_relay_stream_create(struct sbc_relay *r, int rtp_fd0, int rtcp_fd0, int rtp_fd1,
                                                 int rtcp_fd1, char *err, size_t errlen);
void sbc_relay_stream_destroy(struct sbc_relay_stream *s);

/* Warm sockets. Destroys the stream but keeps its sockets watched ("parked"):
 * whatever reaches a parked socket is read and dropped (counted in
 * sbc_relay_parked_drops), so a stream created later on the same fd needs no
 * epoll_ctl; it takes the watch over after draining what is queued, with
 * fresh latches, counters and SRTP contexts. A parked fd must be unwatched
 * before it is closed. */
void sbc_relay_stream_park(struct sbc_relay_stream *s);
/* Stops watching fd (parked or not); a no-op for an fd the relay never saw. */
void sbc_relay_unwatch_fd(struct sbc_relay *r, int fd);
/* CLOCK_MONOTONIC ns of the last packet dropped on parked fd (0 = none). */
uint64_t sbc_relay_parked_last_rx(struct sbc_relay *r, int fd);
uint64_t sbc_relay_parked_drops(const struct sbc_relay *r);

/* Starts watching an RTCP socket bound later (a leg that turned out not muxed). */
int sbc_relay_stream_set_rtcp_fd(struct sbc_relay_stream *s, int leg, int fd, char *err, size_t errlen);

/* The signalled addresses of a leg (sin_port 0 or INADDR_ANY = do not send).
 * mux: RTCP shares the RTP port. A changed RTP address drops the latch so the
 * leg latches again (a re-INVITE moved the far end). */
void sbc_relay_stream_set_peer(struct sbc_relay_stream *s, int leg, const struct sockaddr_in *rtp,
                               const struct sockaddr_in *rtcp, bool mux);

/* SRTP contexts of a leg; the stream takes ownership and destroys the ones it
 * replaces. rx unprotects what the leg sends, tx protects what we send to it.
 * NULL = plain RTP. A replaced rx context is kept as a fallback until the new
 * one authenticates a packet, so packets in flight during a re-key still pass. */
void sbc_relay_stream_set_srtp_rx(struct sbc_relay_stream *s, int leg, sbc_srtp_t *rx);
void sbc_relay_stream_set_srtp_tx(struct sbc_relay_stream *s, int leg, sbc_srtp_t *tx);

/* Drops the latch of a leg: the next valid packet latches again. */
void sbc_relay_stream_unlatch(struct sbc_relay_stream *s, int leg);

const struct sbc_relay_leg_stats *sbc_relay_stream_stats(const struct sbc_relay_stream *s, int leg);
/* CLOCK_MONOTONIC ns of the last packet accepted from either leg (0 = none). */
uint64_t sbc_relay_stream_last_rx(const struct sbc_relay_stream *s);

uint64_t sbc_relay_now_ns(void);

/* io_uring batches: kernel entries that submitted sends, packets sent that
 * way, eventfd wake-ups (idle) and ticks (busy), receives that ran out of
 * buffers or failed. NULL when the relay uses epoll. */
struct sbc_relay_tx_stats {
    uint64_t submits, packets;
    uint64_t wakeups, ticks;
    uint64_t rx_nobufs, rx_errors;
};
const struct sbc_relay_tx_stats *sbc_relay_tx_stats(const struct sbc_relay *r);
void sbc_relay_set_tick(struct sbc_relay *r, unsigned tick_us);
/* Sets the io_uring up now, on the calling thread (the one that runs the
 * relay), so sbc_relay_io can tell at start; the first stream does it too. */
void sbc_relay_start(struct sbc_relay *r);
/* "io_uring", or why the relay uses epoll ("not started" before its first stream). */
const char *sbc_relay_io(const struct sbc_relay *r);

#endif
