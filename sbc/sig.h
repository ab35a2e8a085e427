/* Per-worker signalling: the worker's transports, its transaction layer, its
 * calls, and the handoff of messages that belong to another worker's call
 * (the home worker is encoded in the tags, Call-IDs and branches we make). */
#ifndef SBC_SIG_H
#define SBC_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config/config.h"
#include "sbc/hop.h"
#include "sbc/timers.h"
#include "sbc/txn.h"
#include "sbc/worker.h"

typedef struct sbc_sig sbc_sig_t;
typedef struct sbc_call sbc_call_t;

typedef struct sbc_sig_stats {
    uint64_t calls_active, calls_total;
    uint64_t calls_answered, calls_failed;
    uint64_t handoffs_in, handoffs_out;
    uint64_t drop_unknown_source;    /* carrier side: source matches no trunk */
    uint64_t rejected_no_route;      /* 404: unknown number or tenant */
    uint64_t rejected_capacity;      /* 503: max_calls / max_cps */
    uint64_t rejected_draining;      /* 503: the node is draining */
    uint64_t rejected_other;
    uint64_t failovers;
    uint64_t unknown_dialog;         /* 481 */
    uint64_t bad_requests;           /* 400 or dropped: breaks RFC 3261's rules */
    uint64_t sip_udp_overflows;      /* SIP datagrams the kernel dropped: receive buffer full */
    uint64_t options_answered;
    uint64_t rejected_media;         /* 488: offer or answer unusable */
    uint64_t media_timeouts;
    /* read from the worker's media and DNS layers when the stats are read */
    uint64_t media_warm_hits;        /* port pairs reused bound (no socket/bind/close) */
    uint64_t media_cold_allocs;      /* port pairs bound afresh */
    uint64_t media_warm_evicted;     /* warm pairs closed for lack of descriptors */
    uint64_t media_parked_drops;     /* packets to a port between calls, dropped */
    uint64_t media_tx_submits, media_tx_packets;   /* io_uring sends: submissions, packets */
    uint64_t media_ticks, media_rx_nobufs;         /* io_uring: ticks, receives out of buffers */
    uint64_t dns_hits, dns_stale, dns_blocking, dns_failed;
} sbc_sig_stats_t;

/* Worker hooks (see sbc_worker_hooks_t). */
int sbc_sig_worker_start(sbc_worker_t *w, void *arg);
void sbc_sig_worker_stop(sbc_worker_t *w, void *arg);
void sbc_sig_worker_config_changed(sbc_worker_t *w, void *arg);

/* Draining (SIGTERM, `sbcctl drain`): new calls and OPTIONS get 503 so
 * Teams and the carrier move elsewhere; calls in progress go on. */
void sbc_sig_set_draining(bool on);
bool sbc_sig_draining(void);

/* From the main thread: every worker hangs up its calls (BYE / 503). */
void sbc_sig_hangup_all(sbc_workers_t *ws);

/* From the main thread: every worker's live calls (blocks up to 2 s). */
json_t *sbc_sig_calls_json(sbc_workers_t *ws);

/* From any thread: a copy of a worker's counters (relaxed reads). */
void sbc_sig_stats_read(sbc_worker_t *w, sbc_sig_stats_t *out);

/* ---- for call.c (worker thread only) ------------------------------------ */
sbc_txl_t *sbc_sig_txl(sbc_sig_t *s);
int sbc_sig_index(const sbc_sig_t *s);
sbc_clock_t *sbc_sig_clock(sbc_sig_t *s);
/* The worker's name cache (sbc/dns.h); may be NULL (then lookups block). */
struct sbc_dns *sbc_sig_dns(sbc_sig_t *s);
sbc_config_t *sbc_sig_config(sbc_sig_t *s);
sbc_sig_stats_t *sbc_sig_stats(sbc_sig_t *s);
int sbc_sig_close_conn(sbc_sig_t *s, uint64_t conn_id);
/* Appends one finished call to node.cdr_file (one JSON object per line). */
void sbc_sig_cdr(sbc_sig_t *s, json_t *record);
/* Sends a message already in wire form on hop (from any of the worker's
 * transports, or through the worker owning hop's connection). 0 or -1. */
int sbc_sig_send_text(sbc_sig_t *s, const char *data, size_t len, const sbc_hop_t *hop, bool is_request);
/* Whether CDRs are written at all (node.cdr_file opened): the record costs a JSON build. */
bool sbc_sig_cdr_enabled(const sbc_sig_t *s);
/* The verified certificate name of a TLS peer on one of this worker's
 * connections; buf is left unchanged when unknown. */
void sbc_sig_conn_peer_name(sbc_sig_t *s, uint64_t conn_id, char *buf, size_t size);
/* The worker's media context and its port-range slice of an interface. */
struct sbc_media_ctx *sbc_sig_media(sbc_sig_t *s);
struct sbc_portpool *sbc_sig_portpool(sbc_sig_t *s, const sbc_interface_t *iface);
/* Calls are found by any local tag we generated for one of their legs. */
int sbc_sig_call_index(sbc_sig_t *s, const char *tag, sbc_call_t *c);
void sbc_sig_call_unindex(sbc_sig_t *s, const char *tag);
sbc_call_t *sbc_sig_call_find(sbc_sig_t *s, const char *tag);
/* Head of the worker's list of live calls (owned by call.c). */
sbc_call_t **sbc_sig_call_list(sbc_sig_t *s);

#endif
