/* Media session: SDP offer/answer on two legs -> ports, keys and relay
 * streams. See session.h for the key rules. */
#include "media/session.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media/sdes.h"
#include "media/sdp_rewrite.h"

#define CRYPTO_TXT 160

struct sbc_media_ctx {
    struct event_base *base;
    struct sbc_relay *relay;
    struct sbc_media_ctx_cfg cfg;
    uint64_t n_sessions;                 /* seeds o= session ids */
};

/* One leg of one stream. */
struct leg_stream {
    struct sbc_port_pair ports;
    bool tx_key_set;                     /* our key toward the leg (kept across re-offers) */
    sbc_sdes_t tx_key;
    bool tx_on, rx_on;                   /* SRTP contexts installed, with these keys */
    sbc_sdes_t tx_on_key, rx_on_key;
};

struct stream {
    bool audio;                          /* ports and a relay stream exist */
    struct sbc_relay_stream *rs;
    struct leg_stream leg[2];
    bool inactive;                       /* held: inactivity timer suspended */
    bool live;                           /* answered with a port: counts for the timer */
    /* the pending offer */
    bool off_enabled;
    bool off_crypto, off_mux;
    sbc_sdes_t off_key;
    char off_proto[16];
    struct sockaddr_in off_rtp, off_rtcp;
    enum sbc_sdp_dir off_dir;
    bool to_crypto, to_mux;              /* what we offered to the answerer */
};

struct sbc_media_session {
    struct sbc_media_ctx *ctx;
    struct sbc_media_leg_desc legs[2];
    char addr[2][64];
    struct stream st[SBC_SDP_MAX_MEDIA];
    unsigned n_streams;                  /* m-lines ever offered */
    unsigned off_n;                      /* m-lines in the pending offer */
    int offer_from;                      /* -1: no offer yet */
    uint64_t sess_id[2], sess_ver[2], last_hash[2];
    bool sent[2];
    sbc_media_timeout_cb on_timeout;
    void *arg;
    unsigned timeout_ms;
    struct event *timer;
    bool media_up;
    uint64_t activity_ns;
};

const char *sbc_media_status_name(enum sbc_media_status st)
{
    switch (st) {
    case SBC_MEDIA_OK: return "ok";
    case SBC_MEDIA_E_SRTP_REQUIRED: return "srtp-required";
    case SBC_MEDIA_E_NO_MEDIA: return "no-media";
    case SBC_MEDIA_E_PORTS: return "ports-exhausted";
    case SBC_MEDIA_E_SDP: return "bad-sdp";
    case SBC_MEDIA_E_STATE: return "bad-state";
    case SBC_MEDIA_E_INTERNAL: return "internal";
    }
    return "?";
}

struct sbc_media_ctx *sbc_media_ctx_create(struct event_base *base, const struct sbc_media_ctx_cfg *cfg, char *err,
                                           size_t errlen)
{
    struct sbc_media_ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "media: out of memory");
        return NULL;
    }
    c->base = base;
    if (cfg)
        c->cfg = *cfg;
    c->relay = sbc_relay_create(base, c->cfg.batch_us, err, errlen);
    if (!c->relay) {
        free(c);
        return NULL;
    }
    return c;
}

void sbc_media_ctx_destroy(struct sbc_media_ctx *c)
{
    if (!c)
        return;
    sbc_relay_destroy(c->relay);
    free(c);
}

static void warm_closing(void *arg, int fd)
{
    sbc_relay_unwatch_fd(arg, fd);
}

static uint64_t warm_last_rx(void *arg, int fd)
{
    return sbc_relay_parked_last_rx(arg, fd);
}

int sbc_media_ctx_warm_pool(struct sbc_media_ctx *c, struct sbc_portpool *pool, unsigned cap, unsigned quiet_ms,
                            char *err, size_t errlen)
{
    struct sbc_portpool_warm w = { .cap = cap, .quiet_ms = quiet_ms, .closing = warm_closing,
                                   .last_rx = warm_last_rx, .arg = c->relay };
    return sbc_portpool_set_warm(pool, &w, err, errlen);
}

uint64_t sbc_media_ctx_parked_drops(const struct sbc_media_ctx *c)
{
    return sbc_relay_parked_drops(c->relay);
}

const struct sbc_relay_tx_stats *sbc_media_ctx_tx_stats(const struct sbc_media_ctx *c)
{
    return sbc_relay_tx_stats(c->relay);
}

void sbc_media_ctx_set_batch(struct sbc_media_ctx *c, unsigned batch_us)
{
    c->cfg.batch_us = batch_us;
    sbc_relay_set_tick(c->relay, batch_us);
}

void sbc_media_ctx_start(struct sbc_media_ctx *c)
{
    sbc_relay_start(c->relay);
}

const char *sbc_media_ctx_io(const struct sbc_media_ctx *c)
{
    return sbc_relay_io(c->relay);
}

/* ---- timer ---- */

static void arm_timer(struct sbc_media_session *ms)
{
    if (!ms->timer || !ms->timeout_ms || !ms->media_up)
        return;
    unsigned tick = ms->timeout_ms / 4;
    tick = tick < 20 ? 20 : tick > 1000 ? 1000 : tick;
    struct timeval tv = { tick / 1000, (tick % 1000) * 1000 };
    event_add(ms->timer, &tv);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct sbc_media_session *ms = arg;
    uint64_t now = sbc_relay_now_ns();
    uint64_t last = ms->activity_ns;
    bool any_live = false;
    for (unsigned i = 0; i < ms->n_streams; i++) {
        struct stream *st = &ms->st[i];
        if (!st->audio || !st->live)
            continue;
        if (st->inactive) {          /* R40: a held call must not time out */
            ms->activity_ns = now;
            return;
        }
        any_live = true;
        uint64_t t = sbc_relay_stream_last_rx(st->rs);
        if (t > last)
            last = t;
    }
    if (!any_live || now - last < (uint64_t)ms->timeout_ms * 1000000u)
        return;
    event_del(ms->timer);
    ms->media_up = false;
    if (ms->on_timeout)
        ms->on_timeout(ms, ms->arg);     /* may destroy ms */
}

/* ---- create / destroy ---- */

struct sbc_media_session *sbc_media_session_create(struct sbc_media_ctx *ctx,
                                                   const struct sbc_media_leg_desc legs[2],
                                                   sbc_media_timeout_cb on_timeout, void *arg, char *err,
                                                   size_t errlen)
{
    for (int i = 0; i < 2; i++)
        if (!legs[i].pool) {
            snprintf(err, errlen, "media session: leg %d has no port pool", i);
            return NULL;
        }
    struct sbc_media_session *ms = calloc(1, sizeof(*ms));
    if (!ms) {
        snprintf(err, errlen, "media session: out of memory");
        return NULL;
    }
    ms->ctx = ctx;
    ms->offer_from = -1;
    ms->on_timeout = on_timeout;
    ms->arg = arg;
    ms->timeout_ms = ctx->cfg.timeout_ms;
    uint64_t seed = (uint64_t)time(NULL) * 1000u + (++ctx->n_sessions % 1000u);
    for (int i = 0; i < 2; i++) {
        ms->legs[i] = legs[i];
        const char *a = legs[i].advertise ? legs[i].advertise : sbc_portpool_address(legs[i].pool);
        snprintf(ms->addr[i], sizeof(ms->addr[i]), "%s", a);
        ms->sess_id[i] = seed * 2 + (uint64_t)i;
        ms->sess_ver[i] = 1;
    }
    ms->timer = event_new(ctx->base, -1, EV_PERSIST, on_tick, ms);
    if (!ms->timer) {
        snprintf(err, errlen, "media session: no timer event");
        free(ms);
        return NULL;
    }
    return ms;
}

static void stream_release(struct sbc_media_session *ms, struct stream *st)
{
    if (!st->audio)
        return;
    /* Pools that keep sockets warm unwatch them when they close them. */
    if (sbc_portpool_warm_cap(ms->legs[0].pool) && sbc_portpool_warm_cap(ms->legs[1].pool))
        sbc_relay_stream_park(st->rs);
    else
        sbc_relay_stream_destroy(st->rs);
    st->rs = NULL;
    for (int l = 0; l < 2; l++)
        sbc_portpool_free(ms->legs[l].pool, &st->leg[l].ports);
    st->audio = false;
}

void sbc_media_session_destroy(struct sbc_media_session *ms)
{
    if (!ms)
        return;
    for (unsigned i = 0; i < SBC_SDP_MAX_MEDIA; i++)
        stream_release(ms, &ms->st[i]);
    if (ms->timer)
        event_free(ms->timer);
    free(ms);
}

void sbc_media_session_set_timeout(struct sbc_media_session *ms, unsigned timeout_ms)
{
    ms->timeout_ms = timeout_ms;
    event_del(ms->timer);
    arm_timer(ms);
}

unsigned sbc_media_session_streams(const struct sbc_media_session *ms)
{
    return ms->n_streams;
}

const struct sbc_relay_leg_stats *sbc_media_session_stats(const struct sbc_media_session *ms, unsigned stream,
                                                          int leg)
{
    if (stream >= ms->n_streams || !ms->st[stream].audio)
        return NULL;
    return sbc_relay_stream_stats(ms->st[stream].rs, leg & 1);
}

uint16_t sbc_media_session_local_port(const struct sbc_media_session *ms, unsigned stream, int leg)
{
    if (stream >= ms->n_streams || !ms->st[stream].audio)
        return 0;
    return ms->st[stream].leg[leg & 1].ports.rtp_port;
}

/* ---- helpers ---- */

static bool leg_requires_srtp(const struct sbc_media_session *ms, int leg)
{
    return ms->legs[leg].kind == SBC_MEDIA_LEG_TEAMS || ms->legs[leg].srtp == SBC_MEDIA_SRTP_REQUIRED;
}

static bool proto_supported(struct sbc_sdp_str p)
{
    return sbc_sdp_str_eq(p, "RTP/AVP") || sbc_sdp_str_eq(p, "RTP/SAVP") || sbc_sdp_str_eq(p, "RTP/AVPF") ||
           sbc_sdp_str_eq(p, "RTP/SAVPF");
}

static bool proto_secure(struct sbc_sdp_str p)
{
    return sbc_sdp_str_eq(p, "RTP/SAVP") || sbc_sdp_str_eq(p, "RTP/SAVPF");
}

/* The first crypto line we can use, in the sender's order of preference. */
static bool pick_crypto(const struct sbc_sdp_media *m, sbc_sdes_t *out)
{
    char e[128];
    for (unsigned j = 0; j < m->n_crypto; j++) {
        sbc_sdes_t k;
        if (sbc_sdes_parse(m->crypto[j].p, m->crypto[j].n, &k, e, sizeof(e)) != 0)
            continue;
        if (k.suite != SBC_SRTP_AES_CM_128_HMAC_SHA1_80 && k.suite != SBC_SRTP_AES_CM_128_HMAC_SHA1_32)
            continue;
        if (k.mki_len)               /* the SRTP layer has no MKI support: prefer a line without */
            continue;
        *out = k;
        return true;
    }
    return false;
}

static bool key_eq(const sbc_sdes_t *a, const sbc_sdes_t *b)
{
    return a->suite == b->suite && memcmp(a->key, b->key, SBC_SRTP_KEY_LEN) == 0;
}

static void new_key(const struct sbc_media_session *ms, int leg, int tag, enum sbc_srtp_suite suite, sbc_sdes_t *k)
{
    sbc_sdes_generate(k, tag, suite);
    /* Microsoft's examples carry |2^31; some carrier stacks choke on it. */
    snprintf(k->lifetime, sizeof(k->lifetime), "%s", ms->legs[leg].kind == SBC_MEDIA_LEG_TEAMS ? "2^31" : "");
    k->mki_len = 0;
    k->mki_value = 0;
}

static void sockaddr_of(struct sockaddr_in *sa, struct in_addr a, uint16_t port)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_addr = a;
    sa->sin_port = htons(port);
}

/* Signalled RTP and RTCP destinations of an m-line. */
static void peer_of(const struct sbc_sdp_media *m, bool mux, struct sockaddr_in *rtp, struct sockaddr_in *rtcp)
{
    sockaddr_of(rtp, m->addr, m->port);
    if (mux)
        *rtcp = *rtp;
    else
        sockaddr_of(rtcp, m->has_rtcp_addr ? m->rtcp_addr : m->addr,
                    m->rtcp_port ? m->rtcp_port : (uint16_t)(m->port + 1));
}

static enum sbc_media_status alloc_stream(struct sbc_media_session *ms, struct stream *st, char *err, size_t errlen)
{
    memset(st->leg, 0, sizeof(st->leg));     /* a fresh stream: no keys yet */
    for (int l = 0; l < 2; l++)
        st->leg[l].ports.rtp_fd = st->leg[l].ports.rtcp_fd = -1;
    for (int l = 0; l < 2; l++) {
        bool rtcp = ms->legs[l].kind == SBC_MEDIA_LEG_CARRIER;
        enum sbc_portpool_status ps = sbc_portpool_alloc(ms->legs[l].pool, rtcp, &st->leg[l].ports, err, errlen);
        if (ps != SBC_PORTPOOL_OK) {
            if (l == 1)
                sbc_portpool_free(ms->legs[0].pool, &st->leg[0].ports);
            return ps == SBC_PORTPOOL_E_EXHAUSTED ? SBC_MEDIA_E_PORTS : SBC_MEDIA_E_INTERNAL;
        }
    }
    st->rs = sbc_relay_stream_create(ms->ctx->relay, st->leg[0].ports.rtp_fd, st->leg[0].ports.rtcp_fd,
                                     st->leg[1].ports.rtp_fd, st->leg[1].ports.rtcp_fd, err, errlen);
    if (!st->rs) {
        for (int l = 0; l < 2; l++)
            sbc_portpool_free(ms->legs[l].pool, &st->leg[l].ports);
        return SBC_MEDIA_E_INTERNAL;
    }
    st->audio = true;
    return SBC_MEDIA_OK;
}

static uint64_t hash_body(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;     /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

/* Prints, bumping the o= version only when the body toward that leg changed. */
static enum sbc_media_status write_sdp(struct sbc_media_session *ms, int leg, const struct sbc_sdp *src,
                                       struct sbc_sdp_out *o, char *out, size_t cap, size_t *out_len, char *err,
                                       size_t errlen)
{
    o->addr = ms->addr[leg];
    o->sess_id = ms->sess_id[leg];
    for (int pass = 0; pass < 2; pass++) {
        o->sess_version = ms->sess_ver[leg];
        int n = sbc_sdp_write(src, o, out, cap);
        if (n < 0) {
            snprintf(err, errlen, "media: rewritten SDP exceeds %zu bytes", cap);
            return SBC_MEDIA_E_SDP;
        }
        const char *body = strstr(out, "\r\ns=");    /* all but v= and o= */
        uint64_t h = hash_body(body, (size_t)(out + n - body));
        if (!ms->sent[leg] || h == ms->last_hash[leg] || pass == 1) {
            ms->sent[leg] = true;
            ms->last_hash[leg] = h;
            *out_len = (size_t)n;
            return SBC_MEDIA_OK;
        }
        ms->sess_ver[leg]++;
    }
    return SBC_MEDIA_OK;
}

static int format_key(const sbc_sdes_t *k, char *buf, size_t cap, char *err, size_t errlen)
{
    if (sbc_sdes_format(k, buf, cap) < 0) {
        snprintf(err, errlen, "media: cannot format crypto attribute");
        return -1;
    }
    return 0;
}

/* ---- offer ---- */

enum sbc_media_status sbc_media_session_offer(struct sbc_media_session *ms, int from, const char *sdp, size_t len,
                                              char *out, size_t cap, size_t *out_len, char *err, size_t errlen)
{
    int x = from & 1, y = x ^ 1;
    struct sbc_sdp *s = malloc(sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "media: out of memory");
        return SBC_MEDIA_E_INTERNAL;
    }
    enum sbc_media_status rc = SBC_MEDIA_OK;
    unsigned fresh = 0;                  /* streams given ports by this offer */
    struct stream saved[SBC_SDP_MAX_MEDIA];
    memcpy(saved, ms->st, sizeof(saved));    /* a refused offer changes nothing */

    if (sbc_sdp_parse(sdp, len, s, err, errlen) < 0) {
        rc = SBC_MEDIA_E_SDP;
        goto out;
    }
    if (s->n_media < ms->n_streams) {
        snprintf(err, errlen, "media: offer has %u m-lines, the session %u (m-lines cannot be removed)",
                 s->n_media, ms->n_streams);
        rc = SBC_MEDIA_E_SDP;
        goto out;
    }
    unsigned n_audio = 0;
    for (unsigned i = 0; i < s->n_media; i++) {
        const struct sbc_sdp_media *m = &s->media[i];
        struct stream *st = &ms->st[i];
        st->off_enabled = false;
        /* R38: only audio is relayed; anything else goes on with port 0. */
        if (!sbc_sdp_str_eq(m->type, "audio") || m->port == 0 || !proto_supported(m->proto))
            continue;
        if (ms->legs[y].kind == SBC_MEDIA_LEG_TEAMS && !sbc_sdp_teams_codecs(s, i))
            continue;                    /* R36: nothing Teams could decode */
        st->off_crypto = pick_crypto(m, &st->off_key);
        if (!st->off_crypto && leg_requires_srtp(ms, x)) {
            snprintf(err, errlen, "media: offer on leg %d has no usable SRTP crypto line (SRTP required)", x);
            rc = SBC_MEDIA_E_SRTP_REQUIRED;
            goto out;
        }
        if (!st->off_crypto && proto_secure(m->proto))
            continue;                    /* SAVP with keys we cannot use: refuse this stream */
        if (!st->audio) {
            rc = alloc_stream(ms, st, err, errlen);
            if (rc != SBC_MEDIA_OK)
                goto out;
            fresh |= 1u << i;
        }
        st->off_enabled = true;
        st->off_mux = m->rtcp_mux;
        snprintf(st->off_proto, sizeof(st->off_proto), "%.*s", (int)m->proto.n, m->proto.p);
        peer_of(m, m->rtcp_mux, &st->off_rtp, &st->off_rtcp);
        st->off_dir = sbc_sdp_media_dir(s, i);
        n_audio++;
    }
    if (!n_audio) {
        snprintf(err, errlen, "media: offer on leg %d has no usable audio stream", x);
        rc = SBC_MEDIA_E_NO_MEDIA;
        goto out;
    }

    struct sbc_sdp_media_out mo[SBC_SDP_MAX_MEDIA];
    char crypto[SBC_SDP_MAX_MEDIA][CRYPTO_TXT];
    bool teams = ms->legs[y].kind == SBC_MEDIA_LEG_TEAMS;
    enum sbc_media_srtp mode = teams ? SBC_MEDIA_SRTP_REQUIRED : ms->legs[y].srtp;
    for (unsigned i = 0; i < s->n_media; i++) {
        struct stream *st = &ms->st[i];
        memset(&mo[i], 0, sizeof(mo[i]));
        mo[i].disabled = !st->off_enabled;
        if (mo[i].disabled)
            continue;
        struct leg_stream *ly = &st->leg[y];
        mo[i].port = ly->ports.rtp_port;
        mo[i].proto = mode == SBC_MEDIA_SRTP_REQUIRED ? "RTP/SAVP" : "RTP/AVP";
        mo[i].rtcp_mux = teams;          /* carriers: port + 1 unless they offer mux */
        mo[i].dir = st->off_dir;
        mo[i].teams_codecs = teams;
        st->to_mux = mo[i].rtcp_mux;
        st->to_crypto = mode != SBC_MEDIA_SRTP_OFF;
        if (st->to_crypto) {
            if (!ly->tx_key_set || ly->tx_key.suite != SBC_SRTP_AES_CM_128_HMAC_SHA1_80) {
                new_key(ms, y, 1, SBC_SRTP_AES_CM_128_HMAC_SHA1_80, &ly->tx_key);
                ly->tx_key_set = true;
            }
            if (format_key(&ly->tx_key, crypto[i], sizeof(crypto[i]), err, errlen) < 0) {
                rc = SBC_MEDIA_E_INTERNAL;
                goto out;
            }
            mo[i].crypto = crypto[i];
        }
    }
    struct sbc_sdp_out o = { .media = mo };
    rc = write_sdp(ms, y, s, &o, out, cap, out_len, err, errlen);
    if (rc != SBC_MEDIA_OK)
        goto out;
    if (s->n_media > ms->n_streams)
        ms->n_streams = s->n_media;
    ms->off_n = s->n_media;
    ms->offer_from = x;
out:
    if (rc != SBC_MEDIA_OK) {
        for (unsigned i = 0; i < SBC_SDP_MAX_MEDIA; i++)
            if (fresh & (1u << i))
                stream_release(ms, &ms->st[i]);
        memcpy(ms->st, saved, sizeof(saved));
    }
    free(s);
    return rc;
}

/* ---- answer ---- */

/* Installs (or keeps) the SRTP contexts of one leg. */
static enum sbc_media_status apply_srtp(struct stream *st, int leg, bool on, const sbc_sdes_t *rx,
                                        const sbc_sdes_t *tx, char *err, size_t errlen)
{
    struct leg_stream *l = &st->leg[leg];
    if (!on) {
        if (l->rx_on)
            sbc_relay_stream_set_srtp_rx(st->rs, leg, NULL);
        if (l->tx_on)
            sbc_relay_stream_set_srtp_tx(st->rs, leg, NULL);
        l->rx_on = l->tx_on = false;
        return SBC_MEDIA_OK;
    }
    if (!l->rx_on || !key_eq(&l->rx_on_key, rx)) {     /* new key: fresh context, ROC 0 */
        sbc_srtp_t *c = sbc_srtp_create(rx->suite, rx->key, false, err, errlen);
        if (!c)
            return SBC_MEDIA_E_INTERNAL;
        sbc_relay_stream_set_srtp_rx(st->rs, leg, c);
        l->rx_on = true;
        l->rx_on_key = *rx;
    }
    if (!l->tx_on || !key_eq(&l->tx_on_key, tx)) {
        sbc_srtp_t *c = sbc_srtp_create(tx->suite, tx->key, true, err, errlen);
        if (!c)
            return SBC_MEDIA_E_INTERNAL;
        sbc_relay_stream_set_srtp_tx(st->rs, leg, c);
        l->tx_on = true;
        l->tx_on_key = *tx;
    }
    return SBC_MEDIA_OK;
}

static enum sbc_media_status ensure_rtcp(struct sbc_media_session *ms, struct stream *st, int leg, char *err,
                                         size_t errlen)
{
    struct sbc_port_pair *pp = &st->leg[leg].ports;
    if (pp->rtcp_fd >= 0)
        return SBC_MEDIA_OK;
    enum sbc_portpool_status ps = sbc_portpool_bind_rtcp(ms->legs[leg].pool, pp, err, errlen);
    if (ps != SBC_PORTPOOL_OK)
        return ps == SBC_PORTPOOL_E_EXHAUSTED ? SBC_MEDIA_E_PORTS : SBC_MEDIA_E_INTERNAL;
    return sbc_relay_stream_set_rtcp_fd(st->rs, leg, pp->rtcp_fd, err, errlen) < 0 ? SBC_MEDIA_E_INTERNAL
                                                                                    : SBC_MEDIA_OK;
}

enum sbc_media_status sbc_media_session_answer(struct sbc_media_session *ms, int from, const char *sdp, size_t len,
                                               char *out, size_t cap, size_t *out_len, char *err, size_t errlen)
{
    int y = from & 1, x = y ^ 1;
    if (ms->offer_from != x) {
        snprintf(err, errlen, "media: answer on leg %d but no offer was sent to it", y);
        return SBC_MEDIA_E_STATE;
    }
    struct sbc_sdp *s = malloc(sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "media: out of memory");
        return SBC_MEDIA_E_INTERNAL;
    }
    enum sbc_media_status rc = SBC_MEDIA_OK;
    struct sbc_sdp_media_out mo[SBC_SDP_MAX_MEDIA];
    char crypto[SBC_SDP_MAX_MEDIA][CRYPTO_TXT];
    sbc_sdes_t ans_key[SBC_SDP_MAX_MEDIA];
    bool ans_crypto[SBC_SDP_MAX_MEDIA];

    if (sbc_sdp_parse(sdp, len, s, err, errlen) < 0) {
        rc = SBC_MEDIA_E_SDP;
        goto out;
    }
    if (s->n_media != ms->off_n) {
        snprintf(err, errlen, "media: answer has %u m-lines, the offer %u", s->n_media, ms->off_n);
        rc = SBC_MEDIA_E_SDP;
        goto out;
    }
    /* Check everything before changing anything. */
    for (unsigned i = 0; i < s->n_media; i++) {
        struct stream *st = &ms->st[i];
        const struct sbc_sdp_media *m = &s->media[i];
        ans_crypto[i] = false;
        if (!st->off_enabled || m->port == 0)
            continue;
        ans_crypto[i] = st->to_crypto && pick_crypto(m, &ans_key[i]);
        if (!ans_crypto[i] && leg_requires_srtp(ms, y)) {
            snprintf(err, errlen, "media: answer on leg %d has no usable SRTP crypto line (SRTP required)", y);
            rc = SBC_MEDIA_E_SRTP_REQUIRED;
            goto out;
        }
    }

    for (unsigned i = 0; i < s->n_media; i++) {
        struct stream *st = &ms->st[i];
        const struct sbc_sdp_media *m = &s->media[i];
        memset(&mo[i], 0, sizeof(mo[i]));
        if (!st->off_enabled || m->port == 0) {
            mo[i].disabled = true;
            if (st->audio) {             /* rejected: stop forwarding, keep the ports (R30) */
                struct sockaddr_in none = { .sin_family = AF_INET };
                sbc_relay_stream_set_peer(st->rs, 0, &none, &none, false);
                sbc_relay_stream_set_peer(st->rs, 1, &none, &none, false);
            }
            st->live = false;
            continue;
        }
        struct leg_stream *lx = &st->leg[x], *ly = &st->leg[y];

        /* Answerer's leg: its key in, the key we offered out. */
        bool ymux = st->to_mux && m->rtcp_mux;
        if (!ymux && (rc = ensure_rtcp(ms, st, y, err, errlen)) != SBC_MEDIA_OK)
            goto out;
        rc = apply_srtp(st, y, ans_crypto[i], &ans_key[i], &ly->tx_key, err, errlen);
        if (rc != SBC_MEDIA_OK)
            goto out;
        struct sockaddr_in rtp, rtcp;
        peer_of(m, ymux, &rtp, &rtcp);
        sbc_relay_stream_set_peer(st->rs, y, &rtp, &rtcp, ymux);

        /* Offerer's leg: its offered key in, ours out (same tag and suite). */
        if (!st->off_mux && (rc = ensure_rtcp(ms, st, x, err, errlen)) != SBC_MEDIA_OK)
            goto out;
        if (st->off_crypto) {
            bool rekey = lx->rx_on && !key_eq(&lx->rx_on_key, &st->off_key);
            if (rekey || !lx->tx_key_set || lx->tx_key.suite != st->off_key.suite) {
                new_key(ms, x, st->off_key.tag, st->off_key.suite, &lx->tx_key);
                lx->tx_key_set = true;
            }
            lx->tx_key.tag = st->off_key.tag;
            if (format_key(&lx->tx_key, crypto[i], sizeof(crypto[i]), err, errlen) < 0) {
                rc = SBC_MEDIA_E_INTERNAL;
                goto out;
            }
            mo[i].crypto = crypto[i];
        }
        rc = apply_srtp(st, x, st->off_crypto, &st->off_key, &lx->tx_key, err, errlen);
        if (rc != SBC_MEDIA_OK)
            goto out;
        sbc_relay_stream_set_peer(st->rs, x, &st->off_rtp, &st->off_rtcp, st->off_mux);

        enum sbc_sdp_dir adir = sbc_sdp_media_dir(s, i);
        st->inactive = st->off_dir == SBC_SDP_INACTIVE || adir == SBC_SDP_INACTIVE;
        st->live = true;
        mo[i].port = lx->ports.rtp_port;
        mo[i].proto = st->off_proto;
        mo[i].rtcp_mux = st->off_mux;
        mo[i].dir = adir;
    }
    struct sbc_sdp_out o = { .media = mo };
    rc = write_sdp(ms, x, s, &o, out, cap, out_len, err, errlen);
    if (rc != SBC_MEDIA_OK)
        goto out;
    ms->media_up = true;
    ms->activity_ns = sbc_relay_now_ns();
    arm_timer(ms);
out:
    free(s);
    return rc;
}
