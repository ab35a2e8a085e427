/* Per-worker signalling glue: transports in, the transaction layer in the
 * middle, calls on top; handoff to the home worker when a message belongs to
 * a call (or a client transaction) another worker owns. */
#include "sbc/sig.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <sofia-sip/sip_header.h>

#include "config/config_store.h"
#include "media/portpool.h"
#include "media/session.h"
#include "sbc/call.h"
#include "sbc/dns.h"
#include "sbc/hash.h"
#include "sbc/log.h"
#include "sbc/options.h"
#include "sbc/route.h"
#include "sbc/sipmsg.h"
#include "sbc/strcopy.h"
#include "sbc/tls.h"
#include "sbc/transport.h"

typedef struct tag_entry {
    struct tag_entry *next;
    sbc_call_t *call;
    char tag[SBC_SIPMSG_ID_MAX];
} tag_entry_t;

struct sbc_sig {
    sbc_worker_t *w;
    sbc_workers_t *all;
    int index;
    sbc_clock_t *clock;
    sbc_dns_t *dns;
    sbc_transport_t *tp;
    sbc_txl_t *txl;
    sbc_config_t *listen_cfg;       /* interfaces the sockets were opened for */
    struct sbc_media_ctx *media;
    struct sbc_portpool **pools;    /* per listen_cfg interface */
    uint8_t (*tls_sha)[96];         /* per listen_cfg interface: certificate, key, CA in use */
    tag_entry_t **buckets;
    size_t n_buckets, n_tags;
    sbc_call_t *calls;
    int cdr_fd;                     /* node.cdr_file, O_APPEND; -1 = none */
    sbc_options_t *options;         /* the node's OPTIONS pinger (worker 0 only) */
    sbc_sig_stats_t stats;
};

static const sbc_interface_t *listen_iface(sbc_sig_t *s, const sbc_interface_t *iface);

static bool g_draining;

void sbc_sig_set_draining(bool on)
{
    __atomic_store_n(&g_draining, on, __ATOMIC_RELEASE);
}

bool sbc_sig_draining(void)
{
    return __atomic_load_n(&g_draining, __ATOMIC_ACQUIRE);
}

/* ---- tag index --------------------------------------------------------------- */

static size_t tag_hash(const char *s, size_t nb)
{
    return (size_t)(sbc_fnv1a(s) & (nb - 1));
}

static void tags_grow(sbc_sig_t *s)
{
    size_t nb = s->n_buckets * 2;
    tag_entry_t **b = calloc(nb, sizeof *b);
    if (!b)
        return;   /* keep the old table: longer chains, still correct */
    for (size_t i = 0; i < s->n_buckets; i++) {
        for (tag_entry_t *e = s->buckets[i], *next; e; e = next) {
            next = e->next;
            size_t k = tag_hash(e->tag, nb);
            e->next = b[k];
            b[k] = e;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->n_buckets = nb;
}

int sbc_sig_call_index(sbc_sig_t *s, const char *tag, sbc_call_t *c)
{
    tag_entry_t *e = malloc(sizeof *e);
    if (!e)
        return -1;
    sbc_strcopy(e->tag, sizeof e->tag, tag);
    e->call = c;
    if (s->n_tags >= s->n_buckets)
        tags_grow(s);
    size_t k = tag_hash(e->tag, s->n_buckets);
    e->next = s->buckets[k];
    s->buckets[k] = e;
    s->n_tags++;
    return 0;
}

void sbc_sig_call_unindex(sbc_sig_t *s, const char *tag)
{
    for (tag_entry_t **p = &s->buckets[tag_hash(tag, s->n_buckets)]; *p; p = &(*p)->next) {
        if (!strcmp((*p)->tag, tag)) {
            tag_entry_t *e = *p;
            *p = e->next;
            free(e);
            s->n_tags--;
            return;
        }
    }
}

sbc_call_t *sbc_sig_call_find(sbc_sig_t *s, const char *tag)
{
    for (tag_entry_t *e = s->buckets[tag_hash(tag, s->n_buckets)]; e; e = e->next)
        if (!strcmp(e->tag, tag))
            return e->call;
    return NULL;
}

sbc_call_t **sbc_sig_call_list(sbc_sig_t *s)
{
    return &s->calls;
}

/* ---- accessors ------------------------------------------------------------------ */

sbc_txl_t *sbc_sig_txl(sbc_sig_t *s) { return s->txl; }
int sbc_sig_index(const sbc_sig_t *s) { return s->index; }
sbc_clock_t *sbc_sig_clock(sbc_sig_t *s) { return s->clock; }
sbc_dns_t *sbc_sig_dns(sbc_sig_t *s) { return s->dns; }

/* Every name the config makes us connect to is looked up ahead, so no call
 * waits for DNS (a pinned address replaces the name's lookup). */
static void prefetch_names(sbc_sig_t *s, const sbc_config_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->teams.n_proxies; i++)
        sbc_dns_prefetch(s->dns, c->teams.proxies[i].address ? c->teams.proxies[i].address
                                                             : c->teams.proxies[i].host);
    for (size_t i = 0; i < c->n_trunks; i++)
        for (size_t k = 0; k < c->trunks[i].n_targets; k++)
            sbc_dns_prefetch(s->dns, c->trunks[i].targets[k].host);
}
sbc_config_t *sbc_sig_config(sbc_sig_t *s) { return sbc_worker_config(s->w); }
sbc_sig_stats_t *sbc_sig_stats(sbc_sig_t *s) { return &s->stats; }

struct sbc_media_ctx *sbc_sig_media(sbc_sig_t *s)
{
    return s->media;
}

struct sbc_portpool *sbc_sig_portpool(sbc_sig_t *s, const sbc_interface_t *iface)
{
    const sbc_interface_t *li = listen_iface(s, iface);
    return li ? s->pools[li - s->listen_cfg->interfaces] : NULL;
}

bool sbc_sig_cdr_enabled(const sbc_sig_t *s)
{
    return s->cdr_fd >= 0;
}

void sbc_sig_cdr(sbc_sig_t *s, json_t *record)
{
    if (s->cdr_fd < 0)
        return;
    char *line = json_dumps(record, JSON_COMPACT);
    if (!line)
        return;
    size_t len = strlen(line);
    line[len++] = '\n';   /* json_dumps leaves room: it allocated len + 1 for the NUL */
    /* One write per record with O_APPEND: lines of several workers never mix. */
    if (write(s->cdr_fd, line, len) != (ssize_t)len)
        LOG_WARN("CDR write failed");
    free(line);
}

static void hangup_run(sbc_worker_t *w, void *arg)
{
    sbc_sig_t *s = sbc_worker_user(w);
    if (s)
        sbc_call_hangup_all(s, "drain timeout");
}

void sbc_sig_hangup_all(sbc_workers_t *ws)
{
    for (int i = 0; i < sbc_workers_count(ws); i++)
        sbc_worker_post(sbc_workers_get(ws, i), hangup_run, NULL);
}

/* ---- live calls across workers ---------------------------------------------------- */

typedef struct gather {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pending;
    json_t *calls;
} gather_t;

static void gather_run(sbc_worker_t *w, void *arg)
{
    gather_t *g = arg;
    sbc_sig_t *s = sbc_worker_user(w);
    json_t *mine = s ? sbc_call_list_json(s) : json_array();
    pthread_mutex_lock(&g->mu);
    json_array_extend(g->calls, mine);
    g->pending--;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    json_decref(mine);
}

json_t *sbc_sig_calls_json(sbc_workers_t *ws)
{
    gather_t *g = calloc(1, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->calls = json_array();
    int n = sbc_workers_count(ws);
    pthread_mutex_lock(&g->mu);
    for (int i = 0; i < n; i++)
        if (sbc_worker_post(sbc_workers_get(ws, i), gather_run, g) == 0)
            g->pending++;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    while (g->pending > 0 && pthread_cond_timedwait(&g->cv, &g->mu, &until) == 0)
        ;
    bool complete = g->pending == 0;
    json_t *out = json_deep_copy(g->calls);
    pthread_mutex_unlock(&g->mu);
    if (complete) {
        json_decref(g->calls);
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
        free(g);
    }   /* else a stuck worker still holds g: leaking it beats a use-after-free */
    return out;
}

void sbc_sig_conn_peer_name(sbc_sig_t *s, uint64_t conn_id, char *buf, size_t size)
{
    struct sbc_conn_info info;
    if (conn_id && sbc_transport_conn_info(s->tp, conn_id, &info) == 0 && info.peer_cert_name[0])
        snprintf(buf, size, "%s", info.peer_cert_name);
}

int sbc_sig_close_conn(sbc_sig_t *s, uint64_t conn_id)
{
    return sbc_transport_close_conn(s->tp, conn_id);
}

void sbc_sig_stats_read(sbc_worker_t *w, sbc_sig_stats_t *out)
{
    sbc_sig_t *s = sbc_worker_user(w);
    if (!s) {
        memset(out, 0, sizeof *out);
        return;
    }
    /* Counters are written by the worker only; torn reads are impossible for
     * aligned 64-bit words and staleness is fine for monitoring. */
    memcpy(out, (const void *)&s->stats, sizeof *out);
    for (size_t i = 0; s->pools && i < s->listen_cfg->n_interfaces; i++) {
        const struct sbc_portpool_stats *ps = s->pools[i] ? sbc_portpool_stats(s->pools[i]) : NULL;
        if (ps) {
            out->media_warm_hits += ps->warm_hits;
            out->media_cold_allocs += ps->cold_allocs;
            out->media_warm_evicted += ps->warm_evicted;
        }
    }
    if (s->media) {
        out->media_parked_drops = sbc_media_ctx_parked_drops(s->media);
        const struct sbc_relay_tx_stats *tx = sbc_media_ctx_tx_stats(s->media);
        if (tx) {
            out->media_tx_submits = tx->submits;
            out->media_tx_packets = tx->packets;
            out->media_ticks = tx->ticks;
            out->media_rx_nobufs = tx->rx_nobufs;
        }
    }
    sbc_dns_stats_t ds;
    sbc_dns_stats(s->dns, &ds);
    out->dns_hits = ds.hits;
    out->dns_stale = ds.stale;
    out->dns_blocking = ds.blocking;
    out->dns_failed = ds.failed;
}

/* ---- handoff ------------------------------------------------------------------- */

typedef struct handoff {
    msg_t *msg;
    sbc_hop_t hop;
} handoff_t;

static void handoff_run(sbc_worker_t *w, void *arg)
{
    handoff_t *h = arg;
    sbc_sig_t *s = sbc_worker_user(w);
    if (s) {
        s->stats.handoffs_in++;
        sbc_txl_receive(s->txl, h->msg, &h->hop);
    } else {
        msg_destroy(h->msg);
    }
    free(h);
}

/* The msg_t changes owner through the queue (one owner at a time). */
static int handoff(sbc_sig_t *s, int home, msg_t *msg, const sbc_hop_t *src)
{
    sbc_worker_t *target = sbc_workers_get(s->all, home);
    handoff_t *h = target ? malloc(sizeof *h) : NULL;
    if (!h)
        return -1;
    h->msg = msg;
    h->hop = *src;
    if (sbc_worker_post(target, handoff_run, h) < 0) {
        free(h);
        return -1;
    }
    s->stats.handoffs_out++;
    return 0;
}

/* A response for a connection another worker owns: the bytes travel, the
 * owner sends them as they are. */
typedef struct remote_send {
    sbc_hop_t hop;
    bool is_request;
    size_t len;
    char data[];
} remote_send_t;

static void remote_send_run(sbc_worker_t *w, void *arg)
{
    remote_send_t *r = arg;
    sbc_sig_t *s = sbc_worker_user(w);
    if (s)
        sbc_transport_send_bytes(s->tp, r->data, r->len, &r->hop, r->is_request);
    free(r);
}

/* ---- transaction layer ops ---------------------------------------------------- */

/* Hops made under a newer snapshot name interfaces of that snapshot; the
 * sockets belong to the snapshot they were opened for. */
static const sbc_interface_t *listen_iface(sbc_sig_t *s, const sbc_interface_t *iface)
{
    if (!iface)
        return NULL;
    const sbc_config_t *lc = s->listen_cfg;
    for (size_t i = 0; i < lc->n_interfaces; i++)
        if (&lc->interfaces[i] == iface || !strcmp(lc->interfaces[i].name, iface->name))
            return &lc->interfaces[i];
    return NULL;
}

/* Bytes for a stream connection another worker owns go to that worker. */
static int post_remote_send(sbc_sig_t *s, const sbc_hop_t *h, const char *data, size_t len, bool is_request)
{
    sbc_worker_t *owner = sbc_workers_get(s->all, sbc_transport_conn_worker(h->conn_id));
    remote_send_t *r = owner ? malloc(sizeof *r + len) : NULL;
    if (!r)
        return -1;
    r->hop = *h;
    r->is_request = is_request;
    r->len = len;
    memcpy(r->data, data, len);
    return sbc_worker_post(owner, remote_send_run, r);
}

int sbc_sig_send_text(sbc_sig_t *s, const char *data, size_t len, const sbc_hop_t *hop, bool is_request)
{
    sbc_hop_t h = *hop;
    h.iface = listen_iface(s, hop->iface);
    if (h.tp != SBC_TP_UDP && h.conn_id && sbc_transport_conn_worker(h.conn_id) != s->index)
        return post_remote_send(s, &h, data, len, is_request);
    return sbc_transport_send_bytes(s->tp, data, len, &h, is_request) < 0 ? -1 : 0;
}

static int op_send(void *arg, msg_t *msg, sbc_hop_t *hop)
{
    sbc_sig_t *s = arg;
    sbc_hop_t h = *hop;
    h.iface = listen_iface(s, hop->iface);
    bool is_request = sip_object(msg)->sip_request != NULL;
    if (h.tp != SBC_TP_UDP && h.conn_id && sbc_transport_conn_worker(h.conn_id) != s->index) {
        size_t len = 0;
        char *text = sbc_sipmsg_to_string(msg, &len);
        int rc = text ? post_remote_send(s, &h, text, len, is_request) : -ENOMEM;
        free(text);
        return rc < 0 ? -ENOMEM : 0;
    }
    int rc = sbc_transport_send(s->tp, msg, &h, is_request);
    if (rc == 0)
        hop->conn_id = h.conn_id;
    return rc < 0 ? rc : 0;
}

/* Transactions outlive calls and reloads (32 s): their hops name the
 * worker's listening snapshot, which lives as long as the worker. */
static void op_adopt_hop(void *arg, sbc_hop_t *hop)
{
    hop->iface = listen_iface(arg, hop->iface);
}

static void op_request(void *arg, sbc_txn_t *st, msg_t *msg, const sbc_hop_t *hop)
{
    sbc_call_on_request(arg, st, msg, hop);
}

static void op_response(void *arg, sbc_txn_t *ct, void *ctx, msg_t *msg, const sbc_hop_t *hop)
{
    sbc_sig_t *s = arg;
    if (sbc_options_owns(s->options, ctx)) {
        int status = sip_object(msg)->sip_status->st_status;
        if (status >= 200)
            sbc_options_on_final(s->options, ctx, status);
        return;
    }
    sbc_call_on_response(arg, ct, ctx, msg, hop);
}

static void op_timeout(void *arg, sbc_txn_t *ct, void *ctx)
{
    sbc_sig_t *s = arg;
    if (sbc_options_owns(s->options, ctx))
        sbc_options_on_final(s->options, ctx, 0);
    else
        sbc_call_on_timeout(arg, ct, ctx);
}

static void op_transport_error(void *arg, sbc_txn_t *ct, void *ctx)
{
    sbc_sig_t *s = arg;
    if (sbc_options_owns(s->options, ctx))
        sbc_options_on_final(s->options, ctx, 0);
    else
        sbc_call_on_transport_error(arg, ct, ctx);
}

static void op_terminated(void *arg, sbc_txn_t *st, void *ctx, enum sbc_txn_end why)
{
    sbc_call_on_terminated(arg, st, ctx, why);
}

/* ---- transport callbacks -------------------------------------------------------- */

/* High bits folded in: the worker count is small, FNV's low bits are weak. */
static uint64_t call_id_hash(const char *id)
{
    uint64_t h = sbc_fnv1a(id);
    return h ^ (h >> 29);
}

/* A request that parses but breaks RFC 3261's rules gets a 400 naming the
 * problem when a response can be built, and is dropped otherwise. */
static bool refuse_insane(sbc_sig_t *s, msg_t *msg, const sbc_hop_t *src)
{
    const char *reason = NULL;
    int answerable = 0;
    if (sbc_sipmsg_check(msg, &reason, &answerable) == 0)
        return false;
    s->stats.bad_requests++;
    sip_t *sip = sip_object(msg);
    sbc_hop_t to;
    if (answerable && sip->sip_request && sip->sip_request->rq_method != sip_method_ack &&
        sbc_sipmsg_response_hop(sip->sip_via, src, &to) == 0) {
        msg_t *r = sbc_sipmsg_response(msg, 400, reason, NULL);
        if (r) {
            op_send(s, r, &to);
            msg_destroy(r);
        }
    }
    LOG_DEBUG("bad message dropped: %s", reason ? reason : "?");
    msg_destroy(msg);
    return true;
}

static void on_message(void *arg, msg_t *msg, const sbc_hop_t *src)
{
    sbc_sig_t *s = arg;
    sip_t *sip = sip_object(msg);
    if (refuse_insane(s, msg, src))
        return;
    int home = -1;
    if (sip->sip_status) {
        if (sip->sip_via && sip->sip_via->v_branch)
            home = sbc_sipmsg_home_from_id(sip->sip_via->v_branch);
    } else if (sip->sip_request) {
        if (sip->sip_to && sip->sip_to->a_tag) {
            home = sbc_sipmsg_home_from_id(sip->sip_to->a_tag);
        } else {
            /* Out-of-dialog from the carrier side: only configured trunks. */
            sbc_config_t *cfg = sbc_worker_config(s->w);
            if (!sbc_route_from_teams(cfg, src) && !sbc_route_source_trunk(cfg, src)) {
                s->stats.drop_unknown_source++;
                msg_destroy(msg);
                return;
            }
            /* A carrier trunk is often one address:port, which SO_REUSEPORT
             * pins to one worker: spread new calls by Call-ID instead, so
             * every retransmission and CANCEL of a call finds the same home. */
            if (sip->sip_call_id)
                home = (int)(call_id_hash(sip->sip_call_id->i_id) % (uint64_t)sbc_workers_count(s->all));
        }
    }
    if (home >= 0 && home != s->index && home < sbc_workers_count(s->all)) {
        if (handoff(s, home, msg, src) == 0)
            return;
    }
    sbc_txl_receive(s->txl, msg, src);
}

static void on_send_error(void *arg, const sbc_hop_t *hop, const char *reason)
{
    sbc_sig_t *s = arg;
    LOG_WARN("connection %llx to %s failed: %s", (unsigned long long)hop->conn_id,
             hop->tls_name[0] ? hop->tls_name : "peer", reason);
    sbc_txl_conn_failed(s->txl, hop->conn_id);
}

static void on_rx_overflow(void *arg, uint64_t dropped)
{
    sbc_sig_t *s = arg;
    s->stats.sip_udp_overflows += dropped;
}

/* ---- worker hooks ----------------------------------------------------------------- */

/* Freed port pairs each pool keeps bound for the next calls: up to 256, and
 * all pools of all workers together within a tenth of the open-files limit
 * (2 sockets a pair), so warm sockets never crowd out live calls. */
#define WARM_PAIRS_MAX 256

static unsigned warm_pairs(const sbc_config_t *c, const sbc_sig_t *s)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || c->n_interfaces == 0)
        return 0;
    rlim_t per = rl.rlim_cur / 10 / 2 / ((rlim_t)c->n_interfaces * (rlim_t)sbc_workers_count(s->all));
    return per > WARM_PAIRS_MAX ? WARM_PAIRS_MAX : (unsigned)per;
}

static void sig_free(sbc_sig_t *s)
{
    if (!s)
        return;
    sbc_call_destroy_all(s);
    sbc_options_destroy(s->options);
    sbc_txl_destroy(s->txl);
    sbc_transport_destroy(s->tp);
    sbc_dns_destroy(s->dns);
    for (size_t i = 0; s->pools && i < s->listen_cfg->n_interfaces; i++)
        sbc_portpool_destroy(s->pools[i]);     /* before the media ctx: warm sockets are unwatched */
    free(s->pools);
    sbc_media_ctx_destroy(s->media);
    free(s->tls_sha);
    sbc_clock_destroy(s->clock);
    for (size_t i = 0; i < s->n_buckets; i++)
        for (tag_entry_t *e = s->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(s->buckets);
    if (s->listen_cfg)
        sbc_config_unref(s->listen_cfg);
    if (s->cdr_fd >= 0)
        close(s->cdr_fd);
    free(s);
}

static int tls_add_extra(sbc_tls_t *tls, const sbc_tls_conf_t *conf, char *err, size_t errlen)
{
    for (size_t k = 0; k < conf->n_extra; k++)
        if (sbc_tls_add_cert(tls, NULL, conf->extra[k].certificate, conf->extra[k].private_key, err, errlen) < 0)
            return -1;
    return 0;
}

/* What identifies the TLS material in use: the contents of certificate,
 * key and CA (the loader hashed them), so a renewal at the same path counts. */
static void tls_fingerprint(const sbc_tls_conf_t *conf, uint8_t out[96])
{
    memcpy(out, conf->certificate_sha256, 32);
    memcpy(out + 32, conf->private_key_sha256, 32);
    memcpy(out + 64, conf->ca_file_sha256, 32);
}

int sbc_sig_worker_start(sbc_worker_t *w, void *arg)
{
    sbc_sig_t *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->w = w;
    s->cdr_fd = -1;
    s->all = sbc_worker_pool(w);
    s->index = sbc_worker_index(w);
    s->n_buckets = 1024;
    s->buckets = calloc(s->n_buckets, sizeof *s->buckets);
    s->listen_cfg = sbc_config_ref(sbc_worker_config(w));
    s->clock = sbc_clock_event_create(sbc_worker_base(w));
    char dns_err[128];
    s->dns = sbc_dns_create(sbc_worker_base(w), NULL, dns_err, sizeof dns_err);
    if (!s->dns)
        LOG_WARN("worker %d: %s; names are looked up without a cache", s->index, dns_err);
    prefetch_names(s, s->listen_cfg);
    struct sbc_transport_cbs cbs = { .on_message = on_message, .on_send_error = on_send_error,
                                     .on_rx_overflow = on_rx_overflow, .arg = s };
    s->tp = sbc_transport_create(sbc_worker_base(w), s->index, &cbs, NULL);
    sbc_txl_ops_t ops = {
        .send = op_send, .request = op_request, .response = op_response, .timeout = op_timeout,
        .adopt_hop = op_adopt_hop,
        .transport_error = op_transport_error, .terminated = op_terminated,
    };
    s->txl = sbc_txl_create(NULL, &ops, s, s->clock);
    if (!s->buckets || !s->clock || !s->tp || !s->txl) {
        LOG_ERR("worker %d: signalling set-up failed", s->index);
        sig_free(s);
        return -1;
    }
    const sbc_config_t *c = s->listen_cfg;
    if (c->node.cdr_file) {
        s->cdr_fd = open(c->node.cdr_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (s->cdr_fd < 0)
            LOG_ERR("cdr_file %s: %m; no CDRs will be written", c->node.cdr_file);
    }
    char merr[256];
    struct sbc_media_ctx_cfg mcfg = { .timeout_ms = c->node.media_timeout_ms, .batch_us = c->node.media_batch_ms * 1000u };
    s->media = sbc_media_ctx_create(sbc_worker_base(w), &mcfg, merr, sizeof merr);
    s->pools = calloc(c->n_interfaces, sizeof *s->pools);
    s->tls_sha = calloc(c->n_interfaces, sizeof *s->tls_sha);
    if (!s->media || !s->pools || !s->tls_sha) {
        LOG_ERR("worker %d: media set-up failed: %s", s->index, s->media ? "out of memory" : merr);
        sig_free(s);
        return -1;
    }
    sbc_media_ctx_start(s->media);
    if (c->node.media_batch_ms && strcmp(sbc_media_ctx_io(s->media), "io_uring") != 0)
        LOG_WARN("worker %d: media relay on epoll, a wake-up per packet: %s", s->index, sbc_media_ctx_io(s->media));
    for (size_t i = 0; i < c->n_interfaces; i++) {
        const sbc_interface_t *iface = &c->interfaces[i];
        char err[512];
        s->pools[i] = sbc_portpool_create(iface->media_address, iface->media_port_min, iface->media_port_max,
                                          (unsigned)s->index, (unsigned)sbc_workers_count(s->all), err, sizeof err);
        if (!s->pools[i] || sbc_media_ctx_warm_pool(s->media, s->pools[i], warm_pairs(c, s), SBC_MEDIA_WARM_QUIET_MS,
                                                     err, sizeof err) < 0) {
            LOG_ERR("interface %s media ports: %s", iface->name, err);
            sig_free(s);
            return -1;
        }
        sbc_tls_t *tls = NULL;
        if (iface->tls && !(tls = sbc_tls_create(iface->tls, err, sizeof err))) {
            LOG_ERR("interface %s: %s", iface->name, err);
            sig_free(s);
            return -1;
        }
        if (tls && tls_add_extra(tls, iface->tls, err, sizeof err) < 0) {
            LOG_ERR("interface %s: %s", iface->name, err);
            sbc_tls_unref(tls);
            sig_free(s);
            return -1;
        }
        if (iface->tls)
            tls_fingerprint(iface->tls, s->tls_sha[i]);
        int rc = sbc_transport_listen(s->tp, iface, tls, err, sizeof err);
        sbc_tls_unref(tls);
        if (rc < 0) {
            LOG_ERR("interface %s: %s", iface->name, err);
            sig_free(s);
            return -1;
        }
    }
    if (s->index == 0)
        s->options = sbc_options_create(s);
    sbc_worker_set_user(w, s);
    return 0;
}

void sbc_sig_worker_stop(sbc_worker_t *w, void *arg)
{
    sbc_sig_t *s = sbc_worker_user(w);
    sbc_worker_set_user(w, NULL);
    sig_free(s);
}

void sbc_sig_worker_config_changed(sbc_worker_t *w, void *arg)
{
    /* New calls read the worker's new snapshot; calls in progress keep
     * theirs. Sockets stay on the interfaces they were opened for (a change
     * of listening address is reported as needing a restart); renewed TLS
     * material is taken at once: new connections use it and our outbound
     * connections are renewed (R50), open ones keep their context. */
    sbc_sig_t *s = sbc_worker_user(w);
    if (!s)
        return;
    const sbc_config_t *c = sbc_worker_config(w);
    prefetch_names(s, c);
    sbc_media_ctx_set_batch(s->media, c->node.media_batch_ms * 1000u);
    for (size_t i = 0; i < s->listen_cfg->n_interfaces; i++) {
        const sbc_interface_t *li = &s->listen_cfg->interfaces[i];
        const sbc_interface_t *ni = sbc_config_interface_by_name(c, li->name);
        if (!li->tls || !ni || !ni->tls)
            continue;
        uint8_t sha[96];
        tls_fingerprint(ni->tls, sha);
        if (!memcmp(sha, s->tls_sha[i], sizeof sha))
            continue;
        char err[512];
        sbc_tls_t *tls = sbc_tls_create(ni->tls, err, sizeof err);
        if (!tls || tls_add_extra(tls, ni->tls, err, sizeof err) < 0) {
            LOG_ERR("interface %s: new certificate not taken, the old one stays: %s", li->name, err);
            sbc_tls_unref(tls);
            continue;
        }
        sbc_transport_set_tls(s->tp, li, tls);
        sbc_tls_unref(tls);
        memcpy(s->tls_sha[i], sha, sizeof sha);
        if (s->index == 0)
            LOG_INFO("interface %s: new TLS certificate in use; outbound connections renewed", li->name);
    }
}
