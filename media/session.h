/* Media session: the API the B2BUA drives for one call. Everything runs on
 * the call's home worker (one thread, its event_base).
 *
 * Flow: create the session with the two legs' descriptions; for each SDP
 * offer received on a leg call sbc_media_session_offer() and send the text it
 * writes on the other leg; for the answer that comes back call
 * sbc_media_session_answer() and send its text to the offerer. Provisional
 * answers (183), forks and the final answer may each be applied: the latest
 * one wins. Destroy with the call.
 *
 * Keys (SDES, RFC 4568):
 * - A crypto line equal to the one in force keeps the SRTP context (ROC and
 *   replay state continue): an identical re-INVITE changes nothing (R32).
 * - A new key from a leg is a re-key: a fresh context with ROC 0 for what that
 *   leg sends, and, when that leg offered it, a fresh key of ours toward it
 *   too (fresh context, ROC 0), because a peer that re-keys resets its own
 *   receive state as well (one-way audio after a ~27-min re-INVITE otherwise).
 * - Otherwise our key toward a leg never changes: re-offers we send repeat it.
 * Ports and addresses toward a leg never change during the call (R30). */
#ifndef SBC_MEDIA_SESSION_H
#define SBC_MEDIA_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/portpool.h"
#include "media/relay.h"

#define SBC_MEDIA_SDP_MAX 4096           /* room the caller gives for the SDP we write */

enum sbc_media_leg_kind {
    SBC_MEDIA_LEG_TEAMS = 0,             /* RTP/SAVP, SDES AES_CM_128_HMAC_SHA1_80, rtcp-mux */
    SBC_MEDIA_LEG_CARRIER,               /* RTP/AVP (SRTP per trunk), RTCP on port + 1 unless it offers mux */
};

enum sbc_media_srtp {
    SBC_MEDIA_SRTP_OFF = 0,              /* plain RTP offered; SRTP accepted if the peer offers it */
    SBC_MEDIA_SRTP_OPTIONAL,             /* RTP/AVP offered with a=crypto; SRTP if the answer has it */
    SBC_MEDIA_SRTP_REQUIRED,             /* RTP/SAVP; an offer or answer without crypto is refused */
};

enum sbc_media_status {
    SBC_MEDIA_OK = 0,
    SBC_MEDIA_E_SRTP_REQUIRED = -1,      /* -> 488 (Teams: 531000 "SrtpEncryptionRequired") */
    SBC_MEDIA_E_NO_MEDIA = -2,           /* no usable audio stream -> 488 */
    SBC_MEDIA_E_PORTS = -3,              /* port pool exhausted or no descriptor left -> 503 */
    SBC_MEDIA_E_SDP = -4,                /* malformed or unsupported SDP -> 488 (400 if unparsable) */
    SBC_MEDIA_E_STATE = -5,              /* answer without an offer to that leg -> 500 */
    SBC_MEDIA_E_INTERNAL = -6,           /* sockets, SRTP, memory -> 500 */
};

/* One leg of a call. */
struct sbc_media_leg_desc {
    enum sbc_media_leg_kind kind;
    struct sbc_portpool *pool;           /* the worker's slice of the leg interface's range */
    const char *advertise;               /* address written in SDP; NULL = the pool's address */
    enum sbc_media_srtp srtp;            /* carrier legs only: Teams legs always require SRTP */
};

struct sbc_media_ctx_cfg {
    unsigned timeout_ms;                 /* RTP inactivity before the timeout callback; 0 = never */
    unsigned batch_us;                   /* busy relay: packets picked up every batch_us; 0 = at once */
};

struct sbc_media_ctx;                    /* per worker */
struct sbc_media_session;

typedef void (*sbc_media_timeout_cb)(struct sbc_media_session *ms, void *arg);

/* Per worker, on its thread: the relay and the defaults. */
struct sbc_media_ctx *sbc_media_ctx_create(struct event_base *base, const struct sbc_media_ctx_cfg *cfg, char *err,
                                           size_t errlen);
void sbc_media_ctx_destroy(struct sbc_media_ctx *ctx);

/* Warm socket reuse on one of this worker's pools (portpool.h): up to cap
 * freed pairs stay bound and watched by this ctx's relay, reused once quiet
 * for quiet_ms. Every pool a session uses should be warm, or none; destroy
 * the pool before the ctx. */
#define SBC_MEDIA_WARM_QUIET_MS 200
int sbc_media_ctx_warm_pool(struct sbc_media_ctx *ctx, struct sbc_portpool *pool, unsigned cap, unsigned quiet_ms,
                            char *err, size_t errlen);
/* Packets that reached warm sockets between calls, dropped. */
uint64_t sbc_media_ctx_parked_drops(const struct sbc_media_ctx *ctx);
/* The relay's io_uring counters (NULL: on epoll). */
const struct sbc_relay_tx_stats *sbc_media_ctx_tx_stats(const struct sbc_media_ctx *ctx);
/* A new batch interval (config reload); the relay's next tick uses it. */
void sbc_media_ctx_set_batch(struct sbc_media_ctx *ctx, unsigned batch_us);
/* Sets the relay up on the calling thread, the worker's (sbc_relay_start). */
void sbc_media_ctx_start(struct sbc_media_ctx *ctx);
/* How the relay moves packets: "io_uring", or why not (sbc_relay_io). */
const char *sbc_media_ctx_io(const struct sbc_media_ctx *ctx);

/* legs[0] and legs[1] (leg ids 0 and 1; the B2BUA's A and B). on_timeout
 * fires once when no packet arrived on any stream for the timeout, except
 * while a stream is held inactive (R40); it may destroy the session. */
struct sbc_media_session *sbc_media_session_create(struct sbc_media_ctx *ctx,
                                                   const struct sbc_media_leg_desc legs[2],
                                                   sbc_media_timeout_cb on_timeout, void *arg, char *err,
                                                   size_t errlen);
void sbc_media_session_destroy(struct sbc_media_session *ms);

/* An offer received on leg `from`: writes into out (cap bytes, NUL-terminated)
 * the offer to send on the other leg. Ports are allocated here (both legs). */
enum sbc_media_status sbc_media_session_offer(struct sbc_media_session *ms, int from, const char *sdp, size_t len,
                                              char *out, size_t cap, size_t *out_len, char *err, size_t errlen);
/* The answer received on leg `from` to the last offer sent to it: writes the
 * answer for the offering leg and starts (or updates) forwarding. */
enum sbc_media_status sbc_media_session_answer(struct sbc_media_session *ms, int from, const char *sdp, size_t len,
                                               char *out, size_t cap, size_t *out_len, char *err, size_t errlen);

/* Override the context's inactivity timeout for this call (0 = never). */
void sbc_media_session_set_timeout(struct sbc_media_session *ms, unsigned timeout_ms);

/* Streams (one per m-line ever offered) and their relay counters, for CDRs
 * and metrics; NULL for an m-line that never carried audio. */
unsigned sbc_media_session_streams(const struct sbc_media_session *ms);
const struct sbc_relay_leg_stats *sbc_media_session_stats(const struct sbc_media_session *ms, unsigned stream,
                                                          int leg);
/* Our RTP port on a leg for a stream (0 if none): tests and diagnostics. */
uint16_t sbc_media_session_local_port(const struct sbc_media_session *ms, unsigned stream, int leg);

const char *sbc_media_status_name(enum sbc_media_status st);

#endif
