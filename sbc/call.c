/* The B2BUA. Leg A is the side that sent the initial INVITE, leg B the side
 * we call. Messages toward a leg are built as text from that leg's dialog
 * state and parsed once (sbc_sipmsg_parse), which keeps every header we send
 * under our control: no identifier of one leg can leak into the other. */
#include "sbc/call.h"
#include "sbc/call_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/url.h>

#include "media/session.h"
#include "sbc/admission.h"
#include "sbc/health.h"
#include "sbc/log.h"
#include "sbc/numbers.h"
#include "sbc/prack.h"
#include "sbc/dns.h"
#include "sbc/route.h"
#include "sbc/sipmsg.h"
#include "sbc/strcopy.h"
#include "sbc/transfer.h"

#define SETUP_TIMEOUT_MS (180 * 1000)   /* ring-no-answer bound */
#define MAX_BODY 16384

/* Option tags a peer may Require of us: reliable provisional responses
 * (sbc/prack.c) and session timers (sbc/session_timer.c). */
static const char *const supported_tags[] = { "100rel", "timer", NULL };

/* RFC 3261 §8.2.2.3: a Require we cannot honour gets 420 listing the tags.
 * True when answered. */
static bool refuse_unsupported(sbc_sig_t *s, sbc_txn_t *st, const sip_t *sip)
{
    char hdrs[256];
    if (!sbc_sipmsg_unsupported(sip, supported_tags, hdrs, sizeof hdrs))
        return false;
    LOG_CALL(SBC_LOG_INFO, sip->sip_call_id ? sip->sip_call_id->i_id : NULL, NULL, "%s refused: 420 %s",
             sip->sip_request->rq_method_name, hdrs);
    if (sip->sip_request->rq_method == sip_method_invite && !(sip->sip_to && sip->sip_to->a_tag))
        sbc_sig_stats(s)->rejected_other++;   /* a refused call, not an in-dialog refusal */
    sbc_sipmsg_resp_opt_t opt = { .extra = hdrs };
    sbc_txl_reply(sbc_sig_txl(s), st, 420, NULL, &opt);
    return true;
}

/* ---- helpers --------------------------------------------------------------- */

static const char *tp_via(enum sbc_transport tp)
{
    return tp == SBC_TP_TLS ? "TLS" : tp == SBC_TP_TCP ? "TCP" : "UDP";
}

static sip_t *sip_of(msg_t *m)
{
    return sip_object(m);
}

void call_url_text(const url_t *u, char *buf, size_t cap)
{
    su_home_t home[1] = { SU_HOME_INIT(home) };
    char *s = url_as_string(home, u);
    sbc_strcopy(buf, cap, s ? s : "");
    su_home_deinit(home);
}

/* '"Display" <uri>' of a From/To/Contact-like header, without parameters. */
static void addr_text(const sip_addr_t *a, char *buf, size_t cap)
{
    char u[320];
    call_url_text(a->a_url, u, sizeof u);
    if (a->a_display && *a->a_display)
        snprintf(buf, cap, "%s <%s>", a->a_display, u);
    else
        snprintf(buf, cap, "<%s>", u);
}

/* Route set from Record-Route: as received (we are UAS) or reversed (UAC). */
void call_route_set(const sip_t *sip, bool reverse, char *buf, size_t cap)
{
    const sip_record_route_t *rr[16];
    int n = 0;
    for (const sip_record_route_t *r = sip->sip_record_route; r && n < 16; r = r->r_next)
        rr[n++] = r;
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && off < cap; i++) {
        const sip_record_route_t *r = rr[reverse ? n - 1 - i : i];
        char u[320];
        call_url_text(r->r_url, u, sizeof u);
        off += (size_t)snprintf(buf + off, cap - off, "%s<%s>", i ? ", " : "", u);
    }
}

/* The next hop toward a URI on a leg. Toward Teams a host that names a
 * configured proxy uses its pinned address; TLS always carries the name for
 * SNI and the certificate check. */
int call_hop_for_uri(sbc_call_t *c, leg_t *leg, const char *uri_text)
{
    su_home_t home[1] = { SU_HOME_INIT(home) };
    url_t *u = url_make(home, uri_text);
    int rc = -1;
    if (!u || !u->url_host)
        goto out;
    char tpbuf[16] = "";
    url_param(u->url_params, "transport", tpbuf, sizeof tpbuf);
    enum sbc_transport tp = leg->hop.tp;
    if (!strcasecmp(tpbuf, "tls"))
        tp = SBC_TP_TLS;
    else if (!strcasecmp(tpbuf, "tcp"))
        tp = SBC_TP_TCP;
    else if (!strcasecmp(tpbuf, "udp"))
        tp = SBC_TP_UDP;
    if (leg->teams)
        tp = SBC_TP_TLS;        /* R1: nothing but TLS toward Teams */
    uint16_t port = u->url_port ? (uint16_t)atoi(u->url_port) : (tp == SBC_TP_TLS ? 5061 : 5060);
    char host[256];
    sbc_strcopy(host, sizeof host, u->url_host);
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2) {      /* IPv6 literal */
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    const char *addr = host;
    if (leg->teams)
        for (size_t i = 0; i < c->cfg->teams.n_proxies; i++)
            if (!strcasecmp(c->cfg->teams.proxies[i].host, host) && c->cfg->teams.proxies[i].address)
                addr = c->cfg->teams.proxies[i].address;
    sbc_hop_t h = leg->hop;
    h.tp = tp;
    h.conn_id = 0;
    if (sbc_dns_resolve(sbc_sig_dns(c->sig), addr, port, &h.peer, &h.peer_len) < 0)
        goto out;
    struct sockaddr_storage lit;
    socklen_t litlen;
    bool literal = sbc_sipmsg_sockaddr(host, port, &lit, &litlen) == 0;
    if (tp != SBC_TP_TLS)
        h.tls_name[0] = '\0';
    else if (!literal || !leg->teams || !leg->hop.tls_name[0])
        sbc_strcopy(h.tls_name, sizeof h.tls_name, host);
    /* else: a Teams Contact with an IP keeps the proxy identity we verified. */
    leg->hop = h;
    rc = 0;
out:
    su_home_deinit(home);
    return rc;
}

/* Where in-dialog requests of a leg go: the first Route if there is a route
 * set (loose routing), else the peer's Contact. */
int call_leg_update_hop(sbc_call_t *c, leg_t *leg)
{
    char first[512];
    const char *next = leg->target;
    if (leg->route[0]) {
        const char *lt = strchr(leg->route, '<'), *gt = lt ? strchr(lt, '>') : NULL;
        if (lt && gt && (size_t)(gt - lt - 1) < sizeof first) {
            memcpy(first, lt + 1, (size_t)(gt - lt - 1));
            first[gt - lt - 1] = '\0';
            next = first;
        }
    }
    return next[0] ? call_hop_for_uri(c, leg, next) : -1;
}

/* The text of one request on a leg (malloc'd, length in *len). ruri NULL =
 * the leg's target. */
static char *format_request(sbc_call_t *c, leg_t *leg, const char *method, const char *ruri, uint32_t cseq,
                            const char *extra, const char *ctype, const char *body, size_t blen, size_t *len)
{
    sbc_sig_t *s = c->sig;
    char branch[SBC_SIPMSG_ID_MAX];
    sbc_sipmsg_make_branch(branch, sizeof branch, sbc_sig_index(s));
    size_t cap = 8192 + blen;   /* Refer-To targets and Referred-By reach 400+ chars */
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    int n = snprintf(buf, cap,
                     "%s %s SIP/2.0\r\n"
                     "Via: SIP/2.0/%s %s:%u;branch=%s;rport\r\n"
                     "Max-Forwards: 70\r\n"
                     "From: %s;tag=%s\r\n"
                     "To: %s%s%s\r\n"
                     "Call-ID: %s\r\n"
                     "CSeq: %u %s\r\n"
                     "%s%s%s"
                     "Contact: %s\r\n"
                     "Allow: " CALL_ALLOW "\r\n"
                     "%s%s%s"
                     "%s"
                     "%s%s%s"
                     "Content-Length: %zu\r\n\r\n",
                     method, ruri ? ruri : leg->target, tp_via(leg->hop.tp), leg->via_host, leg->via_port, branch,
                     leg->local_uri, leg->local_tag, leg->remote_uri, leg->remote_tag[0] ? ";tag=" : "",
                     leg->remote_tag, leg->call_id, cseq, method, leg->route[0] ? "Route: " : "", leg->route,
                     leg->route[0] ? "\r\n" : "", leg->contact,
                     leg->teams && c->cfg->teams.user_agent ? "User-Agent: " : "",
                     leg->teams && c->cfg->teams.user_agent ? c->cfg->teams.user_agent : "",
                     leg->teams && c->cfg->teams.user_agent ? "\r\n" : "", extra ? extra : "",
                     ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "", blen);
    if (n < 0 || (size_t)n + blen >= cap) {
        free(buf);
        return NULL;
    }
    memcpy(buf + n, body ? body : "", blen);
    *len = (size_t)n + blen;
    return buf;
}

/* Builds and parses one request on a leg. ruri NULL = the leg's target. */
msg_t *call_build_request(sbc_call_t *c, leg_t *leg, const char *method, const char *ruri, uint32_t cseq,
                            const char *extra, const char *ctype, const char *body, size_t blen)
{
    size_t len = 0;
    char *buf = format_request(c, leg, method, ruri, cseq, extra, ctype, body, blen, &len);
    if (!buf)
        return NULL;
    msg_t *m = NULL;
    const char *why = NULL;
    if (sbc_sipmsg_parse(buf, len, &m, &why) != SBC_SIPMSG_OK) {
        LOG_CALL(SBC_LOG_ERROR, leg->call_id, c->tenant ? c->tenant->name : NULL, "built %s unparsable: %s",
                 method, why ? why : "?");
        if (m)
            msg_destroy(m);
        m = NULL;
    }
    free(buf);
    return m;
}

/* Adds Contact and a body to a response built by sbc_sipmsg_response. */
msg_t *call_build_response(sbc_call_t *c, leg_t *leg, msg_t *req, int status, const char *phrase,
                             const char *extra, const char *ctype, const char *body, size_t blen)
{
    char hdrs[1024];
    snprintf(hdrs, sizeof hdrs, "%s%s%s%s%s", status > 100 && status < 300 ? "Contact: " : "",
             status > 100 && status < 300 ? leg->contact : "", status > 100 && status < 300 ? "\r\n" : "",
             status >= 200 && status < 300 ? "Allow: " CALL_ALLOW "\r\n" : "", extra ? extra : "");
    sbc_sipmsg_resp_opt_t opt = { .to_tag = leg->local_tag, .extra = hdrs, .ctype = ctype, .body = body,
                                  .body_len = blen };
    return sbc_sipmsg_response(req, status, phrase, &opt);
}

void call_body_of(msg_t *m, const char **ctype, const char **body, size_t *blen)
{
    sip_t *sip = sip_of(m);
    *ctype = NULL;
    *body = NULL;
    *blen = 0;
    if (sip->sip_payload && sip->sip_payload->pl_len && sip->sip_payload->pl_len <= MAX_BODY) {
        *body = sip->sip_payload->pl_data;
        *blen = sip->sip_payload->pl_len;
        *ctype = sip->sip_content_type ? sip->sip_content_type->c_type : "application/sdp";
    }
}

bool call_is_sdp(const char *ctype)
{
    return ctype && !strncasecmp(ctype, "application/sdp", 15);
}

int call_leg_index(const sbc_call_t *c, const leg_t *l)
{
    return l == &c->a ? 0 : 1;
}

/* The SIP answer to a media failure (ARCHITECTURE: 488 for SDP, 503 for ports). */
static int media_status_code(enum sbc_media_status st)
{
    switch (st) {
    case SBC_MEDIA_E_PORTS:
        return 503;
    case SBC_MEDIA_E_STATE:
    case SBC_MEDIA_E_INTERNAL:
        return 500;
    default:
        return 488;
    }
}

static void keep_sdp(char **slot, size_t *len, const char *body, size_t blen)
{
    char *copy = malloc(blen + 1);   /* body may be *slot itself: copy first */
    if (!copy)
        return;
    memcpy(copy, body, blen);
    copy[blen] = '\0';
    free(*slot);
    *slot = copy;
    *len = blen;
}

/* Runs an SDP body received on leg `from` through the media session (offer
 * or answer) into out; a non-SDP body is copied as is. */
enum sbc_media_status call_media_apply(sbc_call_t *c, int from, bool offer, const char *ctype, const char *body,
                                         size_t blen, sdp_out_t *out)
{
    out->len = 0;
    if (!body || !blen)
        return SBC_MEDIA_OK;
    char err[256] = "";
    enum sbc_media_status st;
    if (!call_is_sdp(ctype)) {
        if (blen >= sizeof out->text)
            return SBC_MEDIA_E_SDP;
        memcpy(out->text, body, blen);
        out->len = blen;
        return SBC_MEDIA_OK;
    }
    if (!c->ms)
        return SBC_MEDIA_E_INTERNAL;    /* the call ended */
    if (offer)
        st = sbc_media_session_offer(c->ms, from, body, blen, out->text, sizeof out->text, &out->len, err, sizeof err);
    else
        st = sbc_media_session_answer(c->ms, from, body, blen, out->text, sizeof out->text, &out->len, err, sizeof err);
    if (st != SBC_MEDIA_OK) {
        LOG_CALL(SBC_LOG_WARN, c->a.call_id, c->tenant ? c->tenant->name : NULL, "SDP %s from leg %c refused: %s (%s)",
                 offer ? "offer" : "answer", from ? 'B' : 'A', sbc_media_status_name(st), err);
        return st;
    }
    /* Kept for offers the SBC makes on its own (transfer, session refresh). */
    keep_sdp(&c->sdp_in[from], &c->sdp_in_len[from], body, blen);
    keep_sdp(&c->sdp_out[from ^ 1], &c->sdp_out_len[from ^ 1], out->text, out->len);
    return st;
}

const char *call_tenant_name(const sbc_call_t *c)
{
    return c->tenant ? c->tenant->name : NULL;
}

/* ---- lifetime -------------------------------------------------------------- */

static void call_index(sbc_call_t *c)
{
    sbc_sig_call_index(c->sig, c->a.local_tag, c);
    sbc_sig_call_index(c->sig, c->b.local_tag, c);
}

static void detach(sbc_txn_t **t)
{
    if (*t) {
        sbc_txn_detach(*t);
        *t = NULL;
    }
}

static const char *state_name(enum call_state st)
{
    static const char *const names[] = { "routing", "early", "confirmed", "ending" };
    return names[st];
}

/* One leg's media counters summed over its streams; the released session's
 * last figures once the call ended. */
static void leg_media_sum(const sbc_call_t *c, int leg, struct call_media_sum *out)
{
    if (!c->ms) {
        *out = c->media_final[leg];
        return;
    }
    memset(out, 0, sizeof *out);
    unsigned n = sbc_media_session_streams(c->ms);
    for (unsigned i = 0; i < n; i++) {
        const struct sbc_relay_leg_stats *st = sbc_media_session_stats(c->ms, i, leg);
        if (!st)
            continue;
        out->rx += st->rx_packets;
        out->tx += st->tx_packets;
        out->rxb += st->rx_bytes;
        out->txb += st->tx_bytes;
        out->auth += st->srtp_auth_fail;
        out->replay += st->srtp_replay;
        if (st->latched && !out->latched[0]) {
            char ip[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &st->latched_addr.sin_addr, ip, sizeof ip);
            snprintf(out->latched, sizeof out->latched, "%s:%u", ip, ntohs(st->latched_addr.sin_port));
        }
    }
}

static json_t *leg_media_json(const sbc_call_t *c, int leg)
{
    struct call_media_sum m;
    leg_media_sum(c, leg, &m);
    json_t *o = json_object();
    json_object_set_new(o, "rx_packets", json_integer((json_int_t)m.rx));
    json_object_set_new(o, "tx_packets", json_integer((json_int_t)m.tx));
    json_object_set_new(o, "rx_bytes", json_integer((json_int_t)m.rxb));
    json_object_set_new(o, "tx_bytes", json_integer((json_int_t)m.txb));
    json_object_set_new(o, "srtp_auth_failures", json_integer((json_int_t)m.auth));
    json_object_set_new(o, "srtp_replays", json_integer((json_int_t)m.replay));
    json_object_set_new(o, "latched", m.latched[0] ? json_string(m.latched) : json_null());
    return o;
}

/* An ending call relays no more media: its ports go back to the pool now,
 * not when the last BYE is answered (up to 32 s from a carrier that does
 * not answer, descriptors that new calls need). */
static void call_release_media(sbc_call_t *c)
{
    if (!c->ms)
        return;
    for (int leg = 0; leg < 2; leg++)
        leg_media_sum(c, leg, &c->media_final[leg]);
    sbc_media_session_destroy(c->ms);
    c->ms = NULL;
}

/* One call as JSON: the line of a CDR, an entry of `sbcctl calls`. */
static json_t *call_json(const sbc_call_t *c, time_t now)
{
    const leg_t *teams = c->to_teams ? &c->b : &c->a, *carrier = c->to_teams ? &c->a : &c->b;
    json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:o, s:o}", "version", 1,
                     "direction", c->to_teams ? "to_teams" : "from_teams", "tenant", c->tenant->name, "trunk",
                     c->trunk->name, "calling", c->calling, "called", c->called, "teams_call_id", teams->call_id,
                     "carrier_call_id", carrier->call_id, "start", (json_int_t)c->started, "answer",
                     (json_int_t)c->answered, "duration_s", (json_int_t)(c->answered ? now - c->answered : 0),
                     "state", state_name(c->state), "media_teams", leg_media_json(c, teams == &c->a ? 0 : 1),
                     "media_carrier", leg_media_json(c, carrier == &c->a ? 0 : 1));
    if (o)
        sbc_transfer_json(c, o);
    return o;
}

json_t *sbc_call_list_json(sbc_sig_t *s)
{
    json_t *a = json_array();
    time_t now = time(NULL);
    for (sbc_call_t *c = *sbc_sig_call_list(s); c; c = c->next)
        json_array_append_new(a, call_json(c, now));
    return a;
}

static void write_cdr(sbc_call_t *c)
{
    if (!sbc_sig_cdr_enabled(c->sig))
        return;
    json_t *o = call_json(c, time(NULL));
    json_object_set_new(o, "end", json_integer((json_int_t)time(NULL)));
    json_object_set_new(o, "end_reason", json_string(c->end_reason[0] ? c->end_reason : "normal"));
    json_object_set_new(o, "status", json_integer(c->answered ? 200 : c->end_status));
    json_object_del(o, "state");
    sbc_sig_cdr(c->sig, o);
    json_decref(o);
}

static void call_free(sbc_call_t *c)
{
    sbc_sig_t *s = c->sig;
    sbc_sig_stats_t *st = sbc_sig_stats(s);
    LOG_CALL(SBC_LOG_INFO, c->a.call_id, call_tenant_name(c), "call %s -> %s ended: %s", c->calling, c->called,
             c->end_reason[0] ? c->end_reason : "normal");
    write_cdr(c);
    sbc_sig_call_unindex(s, c->a.local_tag);
    sbc_sig_call_unindex(s, c->b.local_tag);
    detach(&c->a_ist);
    detach(&c->b_ict);
    detach(&c->b_cancel_wait);
    detach(&c->bye_ct[0]);
    detach(&c->bye_ct[1]);
    detach(&c->fwd.st);
    detach(&c->fwd.ct);
    detach(&c->a.refresh_ct);
    detach(&c->b.refresh_ct);
    sbc_stimer_cleanup(&c->a.stimer);
    sbc_stimer_cleanup(&c->b.stimer);
    sbc_transfer_destroy(c);
    sbc_prack_destroy(c);
    for (int i = 0; i < 2; i++) {
        free(c->sdp_in[i]);
        free(c->sdp_out[i]);
    }
    sbc_txl_2xx_retransmit_stop(c->a_2xx);
    sbc_txl_2xx_retransmit_stop(c->fwd_2xx);
    sbc_timer_cleanup(&c->setup_timer);
    sbc_timer_cleanup(&c->target_timer);
    sbc_media_session_destroy(c->ms);
    free(c->b_offer);
    sbc_admission_release(c->adm_tenant);
    sbc_admission_release(c->adm_trunk);
    if (c->a_invite)
        msg_destroy(c->a_invite);
    sbc_call_t **head = sbc_sig_call_list(s);
    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    st->calls_active--;
    sbc_config_unref(c->cfg);
    free(c);
}

/* Ends the call once nothing is outstanding. */
void call_maybe_free(sbc_call_t *c)
{
    if (c->state == CS_ENDING && !c->bye_ct[0] && !c->bye_ct[1] && !c->b_ict && !c->b_cancel_wait &&
        !c->fwd.ct && !sbc_transfer_pending(c))
        call_free(c);
}

static void send_bye(sbc_call_t *c, leg_t *leg, int slot)
{
    msg_t *bye = call_build_request(c, leg, "BYE", NULL, ++leg->cseq, NULL, NULL, NULL, 0);
    c->bye_ct[slot] = bye ? sbc_txl_request(sbc_sig_txl(c->sig), bye, &leg->hop, c) : NULL;
}

static void reply_a(sbc_call_t *c, int status, const char *phrase, const char *extra, const char *ctype,
                    const char *body, size_t blen);

/* Hangs up both legs (those that have a dialog) except `except`. */
void call_end(sbc_call_t *c, const char *reason, leg_t *except)
{
    if (c->state == CS_ENDING)
        return;
    snprintf(c->end_reason, sizeof c->end_reason, "%s", reason);
    bool confirmed = c->state == CS_CONFIRMED;
    c->state = CS_ENDING;
    sbc_timer_stop(&c->setup_timer);
    if (c->fwd.st) {
        sbc_txl_reply(sbc_sig_txl(c->sig), c->fwd.st, 487, "Request Terminated", NULL);
        detach(&c->fwd.st);
    }
    detach(&c->fwd.ct);
    detach(&c->a.refresh_ct);
    detach(&c->b.refresh_ct);
    sbc_stimer_stop(&c->a.stimer);
    sbc_stimer_stop(&c->b.stimer);
    sbc_transfer_abort(c, confirmed && except != call_teams_leg(c));
    /* B answered while A's 2xx waited for a PRACK: A has no dialog to BYE,
     * its INVITE gets a final answer instead. */
    if (c->a_ist && !c->a_final_sent) {
        c->answered = 0;
        reply_a(c, 487, "Request Terminated", NULL, NULL, NULL, 0);
    }
    call_release_media(c);
    bool a_up = confirmed && c->end_status >= 200 && c->end_status < 300;
    if (confirmed) {
        if (except != &c->a && a_up)
            send_bye(c, &c->a, 0);
        if (except != &c->b)
            send_bye(c, &c->b, 1);
    }
    call_maybe_free(c);
}

/* ---- answering leg A ---------------------------------------------------------- */

static void a_2xx_timeout(void *arg)
{
    sbc_call_t *c = arg;
    c->a_2xx = NULL;
    call_end(c, "no ACK for 2xx", NULL);
}

void call_send_final_a(sbc_call_t *c, msg_t *r)
{
    int status = sip_of(r)->sip_status->st_status;
    sbc_prack_uas_final(c);
    if (!c->a_ist || c->a_final_sent) {
        msg_destroy(r);
        return;
    }
    c->a_final_sent = true;
    c->end_status = status;
    /* A failure for A after B answered (B's 2xx held for a PRACK, then
     * CANCEL or 64*T1): the call was never answered, whatever B did. */
    if (status >= 300)
        c->answered = 0;
    if (status < 300)
        c->a_2xx = sbc_txl_2xx_retransmit_start(sbc_sig_txl(c->sig), r, sbc_txn_hop(c->a_ist), a_2xx_timeout, c);
    sbc_txl_respond(sbc_sig_txl(c->sig), c->a_ist, r);
    detach(&c->a_ist);
}

static void reply_a(sbc_call_t *c, int status, const char *phrase, const char *extra, const char *ctype,
                    const char *body, size_t blen)
{
    if (!c->a_ist || c->a_final_sent)
        return;
    /* A's INVITE required 100rel: its 18x go reliably, in turn. */
    if (status < 200 && sbc_prack_uas_provisional(c, status, phrase, ctype, body, blen))
        return;
    msg_t *r = call_build_response(c, &c->a, sbc_txn_request(c->a_ist), status, phrase, extra, ctype, body, blen);
    if (!r)
        return;
    if (status < 200) {
        sbc_txl_respond(sbc_sig_txl(c->sig), c->a_ist, r);
        return;
    }
    if (status < 300 && sbc_prack_uas_hold_2xx(c, r))
        return;
    call_send_final_a(c, r);
}

static void fail_call(sbc_call_t *c, int status, const char *phrase, const char *reason)
{
    sbc_sig_stats(c->sig)->calls_failed++;
    char extra[128] = "";
    if (status == 503)
        snprintf(extra, sizeof extra, "Retry-After: 5\r\n");
    if (status == 486 && c->to_teams)
        snprintf(extra, sizeof extra, "Reason: Q.850;cause=17\r\n");   /* R47 */
    reply_a(c, status, phrase, extra, NULL, NULL, 0);
    call_end(c, reason, NULL);
}

void call_unacknowledged(sbc_call_t *c)
{
    if (c->b_ict) {
        sbc_txl_cancel(sbc_sig_txl(c->sig), c->b_ict, NULL);
        c->b_cancel_wait = c->b_ict;
        c->b_ict = NULL;
    }
    c->answered = 0;   /* B may have answered; A never was */
    fail_call(c, 500, "Server Internal Error (no PRACK)", "no PRACK from the caller");
}

/* ---- leg B: the outgoing INVITE and failover ---------------------------------- */

size_t call_hop_order(const sbc_call_t *c, bool teams, uint8_t *order, size_t cap)
{
    size_t n = teams ? c->cfg->teams.n_proxies : c->trunk->n_targets, k = 0;
    if (n > cap)
        n = cap;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            const char *host = teams ? c->cfg->teams.proxies[i].host : c->trunk->targets[i].host;
            uint16_t port = teams ? c->cfg->teams.proxies[i].port : c->trunk->targets[i].port;
            sbc_health_info_t h;
            sbc_health_get(host, port, &h);
            if ((h.state == SBC_HEALTH_DOWN) == (pass == 1))
                order[k++] = (uint8_t)i;
        }
    }
    return k;
}

static void plan_targets(sbc_call_t *c)
{
    c->n_order = call_hop_order(c, c->to_teams, c->order, sizeof c->order);
}

/* Sends the INVITE to target index c->next_target; -1 when none is left. */
static int b_invite_next(sbc_call_t *c)
{
    sbc_txl_t *txl = sbc_sig_txl(c->sig);
    while (c->next_target < c->n_order) {
        size_t i = c->order[c->next_target++];
        leg_t *b = &c->b;
        char ruri[512], hostport[300];
        if (c->to_teams) {
            const sbc_proxy_t *p = &c->cfg->teams.proxies[i];
            snprintf(hostport, sizeof hostport, "%s:%u", p->host, p->port);
            snprintf(ruri, sizeof ruri, "sip:%s@%s;transport=tls;user=phone", c->called, hostport);
            snprintf(b->remote_uri, sizeof b->remote_uri, "<sip:%s@%s;user=phone>", c->called, p->host);
        } else {
            const sbc_target_t *t = &c->trunk->targets[i];
            char num[64];
            if (sbc_numbers_to_trunk(c->trunk, c->called, num, sizeof num) < 0)
                snprintf(num, sizeof num, "%s", c->called);
            snprintf(hostport, sizeof hostport, "%s%s%s:%u", strchr(t->host, ':') ? "[" : "", t->host,
                     strchr(t->host, ':') ? "]" : "", t->port);
            snprintf(ruri, sizeof ruri, "sip:%s@%s%s", num, hostport,
                     t->transport == SBC_TP_TCP ? ";transport=tcp" : t->transport == SBC_TP_TLS ? ";transport=tls" : "");
            snprintf(b->remote_uri, sizeof b->remote_uri, "<sip:%s@%s>", num, hostport);
            b->hop.tp = t->transport ? t->transport : SBC_TP_UDP;
        }
        if (c->b_ict || b->cseq) {
            /* A retry toward another server is a new dialog attempt: a new
             * Call-ID, so that server cannot mistake it for the first. */
            sbc_sipmsg_make_call_id(b->call_id, sizeof b->call_id, sbc_sig_index(c->sig));
            b->cseq = 0;
        }
        if (call_hop_for_uri(c, b, ruri) < 0) {
            LOG_CALL(SBC_LOG_WARN, c->a.call_id, call_tenant_name(c), "cannot resolve %s, trying the next", hostport);
            continue;
        }
        int mf = sbc_sipmsg_max_forwards_next(sip_of(c->a_invite));
        char timer[160], extra[200];
        sbc_stimer_uac_headers(NULL, c->b_session_expires, c->cfg->node.min_se_ms / 1000, timer, sizeof timer);
        /* Carriers may answer with reliable 18x; the Teams edge does not use
         * them (docs/prack.md). One Supported line with the timer's tag. */
        static const char sup_timer[] = "Supported: timer\r\n";
        if (c->to_teams)
            snprintf(extra, sizeof extra, "%s", timer);
        else if (!strncmp(timer, sup_timer, sizeof sup_timer - 1))
            snprintf(extra, sizeof extra, "Supported: timer, 100rel\r\n%s", timer + sizeof sup_timer - 1);
        else
            snprintf(extra, sizeof extra, "Supported: 100rel\r\n%s", timer);
        sbc_prack_uac_reset(c);
        msg_t *inv = call_build_request(c, b, "INVITE", ruri, ++b->cseq, extra, "application/sdp", c->b_offer,
                                        c->b_offer_len);
        if (!inv)
            return -1;
        /* Max-Forwards continues from A's value (loop protection across the B2BUA). */
        sip_t *isip = sip_of(inv);
        if (isip->sip_max_forwards && mf >= 0) {
            isip->sip_max_forwards->mf_count = (unsigned long)mf;
            sbc_sipmsg_touch(inv, (msg_header_t *)isip->sip_max_forwards);
        }
        b->invite_cseq = b->cseq;
        b->remote_tag[0] = '\0';
        c->b_provisional = false;
        if (c->next_target > 1)
            sbc_sig_stats(c->sig)->failovers++;
        LOG_CALL(SBC_LOG_INFO, c->a.call_id, call_tenant_name(c), "INVITE %s -> %s (target %zu)", c->called, hostport, i + 1);
        c->b_ict = sbc_txl_request(txl, inv, &b->hop, c);
        if (c->b_ict) {
            uint32_t t = c->to_teams ? c->cfg->teams.failover_timeout_ms : c->trunk->failover_timeout_ms;
            if (t)
                sbc_timer_start(&c->target_timer, t);
            return 0;
        }
    }
    return -1;
}

static void b_failed(sbc_call_t *c, int status, const char *why)
{
    c->b_ict = NULL;
    if (c->state != CS_ENDING && !c->cancelled && b_invite_next(c) == 0)
        return;
    if (c->state == CS_ENDING) {
        call_maybe_free(c);
        return;
    }
    fail_call(c, status, NULL, why);
}

/* The target said nothing at all, not even 100 Trying: leave that
 * transaction to finish on its own and try the next target. */
static void target_timeout(void *arg)
{
    sbc_call_t *c = arg;
    if (!c->b_ict || c->b_provisional || c->state == CS_ENDING)
        return;
    LOG_CALL(SBC_LOG_WARN, c->a.call_id, call_tenant_name(c), "no response from %s in time, failing over",
             c->b.hop.tls_name[0] ? c->b.hop.tls_name : "the target");
    detach(&c->b_ict);
    b_failed(c, 408, "no target answered");
}

static void setup_timeout(void *arg)
{
    sbc_call_t *c = arg;
    if (c->b_ict) {
        sbc_txl_cancel(sbc_sig_txl(c->sig), c->b_ict, "SIP;cause=408;text=\"no answer\"");
        c->b_cancel_wait = c->b_ict;
        c->b_ict = NULL;
    }
    fail_call(c, 408, "Request Timeout", "no answer");
}

/* ---- new calls -------------------------------------------------------------- */

static void leg_init_teams(sbc_call_t *c, leg_t *leg, const char *user)
{
    const sbc_interface_t *ti = c->cfg->teams.interface;
    leg->teams = true;
    leg->hop.tp = SBC_TP_TLS;
    leg->hop.iface = ti;
    sbc_strcopy(leg->via_host, sizeof leg->via_host, c->tenant->fqdn);
    leg->via_port = ti->sip_port;
    /* R13/R20: the tenant FQDN, never an IP, and transport=tls. */
    snprintf(leg->contact, sizeof leg->contact, "<sip:%s@%s:%u;transport=tls>", user, c->tenant->fqdn, ti->sip_port);
}

static void leg_init_carrier(sbc_call_t *c, leg_t *leg, const char *user, enum sbc_transport tp)
{
    const sbc_interface_t *ci = c->trunk->interface;
    leg->teams = false;
    leg->hop.tp = tp;
    leg->hop.iface = ci;
    const char *host = ci->advertise ? ci->advertise : ci->sip_address;
    bool v6 = strchr(host, ':') != NULL;
    snprintf(leg->via_host, sizeof leg->via_host, "%s%s%s", v6 ? "[" : "", host, v6 ? "]" : "");
    leg->via_port = ci->sip_port;
    snprintf(leg->contact, sizeof leg->contact, "<sip:%s@%s:%u%s>", user, leg->via_host, ci->sip_port,
             tp == SBC_TP_TCP ? ";transport=tcp" : tp == SBC_TP_TLS ? ";transport=tls" : "");
}

static void media_timeout(struct sbc_media_session *ms, void *arg)
{
    sbc_call_t *c = arg;
    sbc_sig_stats(c->sig)->media_timeouts++;
    LOG_CALL(SBC_LOG_INFO, c->a.call_id, call_tenant_name(c), "no media, ending the call");
    if (c->state == CS_CONFIRMED)
        call_end(c, "media timeout", NULL);
    else
        fail_call(c, 408, "Request Timeout", "media timeout");
}

static struct sbc_media_leg_desc leg_desc(sbc_call_t *c, const leg_t *leg)
{
    static const enum sbc_media_srtp srtp_map[] = {
        [SBC_SRTP_OFF] = SBC_MEDIA_SRTP_OFF,
        [SBC_SRTP_OPTIONAL] = SBC_MEDIA_SRTP_OPTIONAL,
        [SBC_SRTP_REQUIRED] = SBC_MEDIA_SRTP_REQUIRED,
    };
    return (struct sbc_media_leg_desc){
        .kind = leg->teams ? SBC_MEDIA_LEG_TEAMS : SBC_MEDIA_LEG_CARRIER,
        .pool = sbc_sig_portpool(c->sig, leg->hop.iface),
        .advertise = leg->hop.iface->advertise,
        .srtp = leg->teams ? SBC_MEDIA_SRTP_REQUIRED : srtp_map[c->trunk->media_srtp],
    };
}

/* Anchors the media: A's offer becomes our offer toward B. -1 when the call
 * was refused (already answered toward A). */
static int media_start(sbc_call_t *c, msg_t *invite)
{
    struct sbc_media_leg_desc legs[2] = { leg_desc(c, &c->a), leg_desc(c, &c->b) };
    char err[256];
    c->ms = sbc_media_session_create(sbc_sig_media(c->sig), legs, media_timeout, c, err, sizeof err);
    if (!c->ms) {
        LOG_CALL(SBC_LOG_ERROR, c->a.call_id, call_tenant_name(c), "media session: %s", err);
        fail_call(c, 500, "Server Internal Error", "media session failed");
        return -1;
    }
    sbc_media_session_set_timeout(c->ms, c->cfg->node.media_timeout_ms);   /* follows reloads */
    const char *ctype, *body;
    size_t blen;
    call_body_of(invite, &ctype, &body, &blen);
    sdp_out_t *out = malloc(sizeof *out);
    enum sbc_media_status st = out ? call_media_apply(c, 0, true, ctype, body, blen, out) : SBC_MEDIA_E_INTERNAL;
    if (st != SBC_MEDIA_OK || !out->len) {
        free(out);
        sbc_sig_stats(c->sig)->rejected_media++;
        int code = st == SBC_MEDIA_OK ? 488 : media_status_code(st);
        fail_call(c, code, NULL, code == 503 ? "media ports exhausted" : "offer refused");
        return -1;
    }
    c->b_offer = malloc(out->len);
    memcpy(c->b_offer, out->text, out->len);
    c->b_offer_len = out->len;
    free(out);
    return 0;
}

static void reject_initial(sbc_sig_t *s, sbc_txn_t *st, int status, const char *phrase, unsigned retry_after)
{
    sbc_sipmsg_resp_opt_t opt = { .retry_after = retry_after };
    sbc_txl_reply(sbc_sig_txl(s), st, status, phrase, &opt);
}

static void new_call(sbc_sig_t *s, sbc_txn_t *st, msg_t *msg, const sbc_hop_t *hop)
{
    sbc_sig_stats_t *stats = sbc_sig_stats(s);
    sbc_config_t *cfg = sbc_sig_config(s);
    sip_t *sip = sip_of(msg);
    if (sbc_sig_draining()) {
        stats->rejected_draining++;
        return reject_initial(s, st, 503, "Service Unavailable (draining)", 30);
    }
    if (sbc_sipmsg_max_forwards_next(sip) < 0) {
        stats->rejected_other++;
        return reject_initial(s, st, 483, "Too Many Hops", 0);
    }
    if (!sip->sip_payload || !sip->sip_payload->pl_len) {
        stats->rejected_other++;     /* R18: no delayed offer toward Teams, none accepted either */
        return reject_initial(s, st, 488, "Not Acceptable Here (offer required)", 0);
    }
    char minse[64];
    int se_status = sbc_stimer_check_request(sip, cfg->node.min_se_ms / 1000, minse, sizeof minse);
    if (se_status) {
        stats->rejected_other++;
        sbc_sipmsg_resp_opt_t opt = { .extra = minse };
        sbc_txl_reply(sbc_sig_txl(s), st, se_status, se_status == 422 ? "Session Interval Too Small" : NULL, &opt);
        return;
    }
    sbc_route_t r;
    sbc_route_initial(cfg, msg, hop, &r);
    if (r.status) {
        if (r.status == 404)
            stats->rejected_no_route++;
        else
            stats->rejected_other++;
        LOG_CALL(SBC_LOG_INFO, sip->sip_call_id ? sip->sip_call_id->i_id : NULL, NULL, "INVITE refused: %d %s",
                 r.status, r.phrase);
        return reject_initial(s, st, r.status, r.phrase, 0);
    }
    uint64_t now_s = (uint64_t)time(NULL);
    sbc_adm_slot_t *at = sbc_admission_slot("tenant", r.tenant->name);
    sbc_adm_slot_t *ak = sbc_admission_slot("trunk", r.trunk->name);
    if (sbc_admission_try(at, r.tenant->max_calls, 0, now_s) != SBC_ADM_OK) {
        stats->rejected_capacity++;
        return reject_initial(s, st, 503, "Service Unavailable (tenant at capacity)", 5);
    }
    if (sbc_admission_try(ak, r.trunk->max_calls, r.trunk->max_cps, now_s) != SBC_ADM_OK) {
        sbc_admission_release(at);
        stats->rejected_capacity++;
        return reject_initial(s, st, 503, "Service Unavailable (trunk at capacity)", 5);
    }

    sbc_call_t *c = calloc(1, sizeof *c);
    if (!c) {
        sbc_admission_release(at);
        sbc_admission_release(ak);
        return reject_initial(s, st, 500, "Server Internal Error", 0);
    }
    c->sig = s;
    c->cfg = sbc_config_ref(cfg);
    c->tenant = r.tenant;
    c->trunk = r.trunk;
    c->adm_tenant = at;
    c->adm_trunk = ak;
    c->to_teams = r.to_teams;
    c->started = time(NULL);
    sbc_strcopy(c->called, sizeof c->called, r.called);
    sbc_strcopy(c->calling, sizeof c->calling, r.calling);
    c->a_invite = msg_ref_create(msg);
    c->a_ist = st;
    sbc_txn_set_ctx(st, c);
    sbc_timer_init(&c->setup_timer, sbc_sig_clock(s), setup_timeout, c);
    sbc_timer_init(&c->target_timer, sbc_sig_clock(s), target_timeout, c);
    call_stimer_init(c, &c->a);
    call_stimer_init(c, &c->b);
    sbc_prack_uas_init(c, sip);
    c->b_session_expires = cfg->node.session_expires_ms / 1000;

    /* Leg A: the dialog the caller created; we answer with our own tag. */
    leg_t *a = &c->a, *b = &c->b;
    sbc_strcopy(a->call_id, sizeof a->call_id, sip->sip_call_id->i_id);
    sbc_sipmsg_make_tag(a->local_tag, sizeof a->local_tag, sbc_sig_index(s));
    sbc_strcopy(a->remote_tag, sizeof a->remote_tag, sip->sip_from->a_tag ? sip->sip_from->a_tag : "");
    addr_text(sip->sip_to, a->local_uri, sizeof a->local_uri);
    addr_text(sip->sip_from, a->remote_uri, sizeof a->remote_uri);
    call_route_set(sip, false, a->route, sizeof a->route);
    a->cseq = 0;
    a->hop = *hop;
    if (sip->sip_contact)
        call_url_text(sip->sip_contact->m_url, a->target, sizeof a->target);

    /* Leg B: a new dialog with identifiers of our own. */
    sbc_sipmsg_make_call_id(b->call_id, sizeof b->call_id, sbc_sig_index(s));
    sbc_sipmsg_make_tag(b->local_tag, sizeof b->local_tag, sbc_sig_index(s));
    b->cseq = 0;
    if (c->to_teams) {
        /* Carrier -> Teams: A is the carrier, B the Teams edge (E.164, R15). */
        leg_init_carrier(c, a, c->called, hop->tp);
        a->hop = *hop;
        leg_init_teams(c, b, c->calling);
        snprintf(b->local_uri, sizeof b->local_uri, "<sip:%s@%s;user=phone>", c->calling, c->tenant->fqdn);
    } else {
        /* Teams -> carrier: A is Teams, B the trunk in its number format. */
        leg_init_teams(c, a, c->called);
        a->hop = *hop;
        /* Our requests to Teams go on a connection we open (R22), checked
         * against the identity Teams proved on its own connection. */
        sbc_sig_conn_peer_name(s, hop->conn_id, a->hop.tls_name, sizeof a->hop.tls_name);
        char num[64];
        if (sbc_numbers_to_trunk(c->trunk, c->calling, num, sizeof num) < 0)
            snprintf(num, sizeof num, "%s", c->calling);
        enum sbc_transport tp = c->trunk->n_targets ? c->trunk->targets[0].transport : SBC_TP_UDP;
        leg_init_carrier(c, b, num, tp ? tp : SBC_TP_UDP);
        snprintf(b->local_uri, sizeof b->local_uri, "<sip:%s@%s>", num, b->via_host);
    }

    if (call_leg_update_hop(c, a) < 0)
        a->hop = *hop;   /* no usable Contact: answer where it came from */

    sbc_call_t **head = sbc_sig_call_list(s);
    c->next = *head;
    if (*head)
        (*head)->prev = c;
    *head = c;
    call_index(c);
    stats->calls_active++;
    stats->calls_total++;
    LOG_CALL(SBC_LOG_INFO, a->call_id, call_tenant_name(c), "new call %s -> %s %s (trunk %s)", c->calling, c->called,
             c->to_teams ? "to Teams" : "from Teams", c->trunk->name);
    sbc_timer_start(&c->setup_timer, SETUP_TIMEOUT_MS);
    if (media_start(c, msg) < 0)
        return;
    plan_targets(c);
    if (b_invite_next(c) < 0)
        fail_call(c, 503, "Service Unavailable", "no target reachable");
}

/* ---- in-dialog requests ---------------------------------------------------- */

static leg_t *leg_by_tag(sbc_call_t *c, const char *tag)
{
    if (tag && !strcmp(tag, c->a.local_tag))
        return &c->a;
    if (tag && !strcmp(tag, c->b.local_tag))
        return &c->b;
    return sbc_transfer_leg_by_tag(c, tag);
}

static leg_t *other(sbc_call_t *c, leg_t *l)
{
    return l == &c->a ? &c->b : &c->a;
}

static void fwd_2xx_timeout(void *arg)
{
    sbc_call_t *c = arg;
    c->fwd_2xx = NULL;
}

static void forward_request(sbc_call_t *c, leg_t *from, sbc_txn_t *st, msg_t *msg)
{
    sbc_txl_t *txl = sbc_sig_txl(c->sig);
    sip_t *sip = sip_of(msg);
    const char *method = sip->sip_request->rq_method_name;
    bool is_invite = sip->sip_request->rq_method == sip_method_invite;
    if (c->fwd.st || c->state != CS_CONFIRMED || !c->a_final_sent || sbc_transfer_busy(c) ||
        other(c, from)->refresh_ct) {
        if (is_invite || sip->sip_request->rq_method == sip_method_update)
            sbc_txl_reply(txl, st, 491, "Request Pending", NULL);
        else {
            sbc_sipmsg_resp_opt_t opt = { .retry_after = 1 };
            sbc_txl_reply(txl, st, 500, "Server Internal Error (request pending)", &opt);
        }
        return;
    }
    leg_t *to = other(c, from);
    bool refresh = is_invite || sip->sip_request->rq_method == sip_method_update;
    char timer[160] = "";
    if (refresh) {
        int se_status = sbc_stimer_check_request(sip, c->cfg->node.min_se_ms / 1000, timer, sizeof timer);
        if (se_status) {
            sbc_sipmsg_resp_opt_t opt = { .extra = timer };
            sbc_txl_reply(txl, st, se_status, se_status == 422 ? "Session Interval Too Small" : NULL, &opt);
            return;
        }
        /* Toward the other dialog, its own interval and refresher (RFC 4028 §7.4). */
        sbc_stimer_uac_headers(&to->stimer, 0, c->cfg->node.min_se_ms / 1000, timer, sizeof timer);
    }
    const char *ctype, *body;
    size_t blen;
    call_body_of(msg, &ctype, &body, &blen);
    sdp_out_t *out = malloc(sizeof *out);
    bool offer = is_invite || sip->sip_request->rq_method == sip_method_update;
    enum sbc_media_status mst = out ? call_media_apply(c, call_leg_index(c, from), offer, ctype, body, blen, out)
                                    : SBC_MEDIA_E_INTERNAL;
    if (mst != SBC_MEDIA_OK) {
        free(out);
        sbc_txl_reply(txl, st, media_status_code(mst), NULL, NULL);
        return;
    }
    if (!call_is_sdp(ctype) && blen)
        ctype = ctype ? ctype : "application/octet-stream";
    char extra[768] = "";
    size_t off = (size_t)snprintf(extra, sizeof extra, "%s", timer);
    /* Event packages for NOTIFY/SUBSCRIBE and the refer target travel as is. */
    if (sip->sip_event)
        off += (size_t)snprintf(extra + off, sizeof extra - off, "Event: %s\r\n", sip->sip_event->o_type);
    if (sip->sip_subscription_state)
        off += (size_t)snprintf(extra + off, sizeof extra - off, "Subscription-State: %s\r\n",
                                sip->sip_subscription_state->ss_substate);
    msg_t *req = call_build_request(c, to, method, NULL, ++to->cseq, extra, out->len ? (call_is_sdp(ctype) ? "application/sdp" : ctype) : NULL,
                               out->text, out->len);
    free(out);
    if (is_invite)
        to->invite_cseq = to->cseq;
    sbc_txn_t *ct = req ? sbc_txl_request(txl, req, &to->hop, c) : NULL;
    if (!ct) {
        sbc_txl_reply(txl, st, 503, "Service Unavailable", NULL);
        return;
    }
    sbc_txn_set_ctx(st, c);
    c->fwd = (fwd_t){ .st = st, .ct = ct, .from = from, .to = to, .invite = is_invite };
}

/* An ACK is sent once and never kept: its text goes out as built, unparsed. */
void call_send_ack(sbc_call_t *c, leg_t *leg, uint32_t cseq)
{
    size_t len = 0;
    char *ack = format_request(c, leg, "ACK", NULL, cseq, NULL, NULL, NULL, 0, &len);
    if (ack) {
        sbc_sig_send_text(c->sig, ack, len, &leg->hop, true);
        free(ack);
    }
}

static void options_reply(sbc_sig_t *s, sbc_txn_t *st, const sbc_hop_t *hop)
{
    sbc_config_t *cfg = sbc_sig_config(s);
    char extra[512];
    if (sbc_route_from_teams(cfg, hop))
        snprintf(extra, sizeof extra, "Allow: " CALL_ALLOW "\r\nAccept: application/sdp\r\nContact: <sip:%s:%u;transport=tls>\r\n",
                 cfg->teams.base_fqdn, cfg->teams.interface->sip_port);
    else
        snprintf(extra, sizeof extra, "Allow: " CALL_ALLOW "\r\nAccept: application/sdp\r\n");
    sbc_sipmsg_resp_opt_t opt = { .extra = extra };
    sbc_sig_stats(s)->options_answered++;
    if (sbc_sig_draining()) {
        /* Teams and trunk health checks see us down and move traffic away. */
        opt.retry_after = 30;
        sbc_txl_reply(sbc_sig_txl(s), st, 503, "Service Unavailable (draining)", &opt);
        return;
    }
    sbc_txl_reply(sbc_sig_txl(s), st, 200, NULL, &opt);
}

void sbc_call_on_request(sbc_sig_t *s, sbc_txn_t *st, msg_t *msg, const sbc_hop_t *hop)
{
    sbc_txl_t *txl = sbc_sig_txl(s);
    sip_t *sip = sip_of(msg);
    sip_method_t m = sip->sip_request->rq_method;
    const char *to_tag = sip->sip_to ? sip->sip_to->a_tag : NULL;

    if (m == sip_method_cancel) {
        sbc_txn_t *ist = sbc_txl_find_invite_for_cancel(txl, msg);
        sbc_txl_reply(txl, st, ist ? 200 : 481, NULL, NULL);
        sbc_call_t *c = ist ? sbc_txn_ctx(ist) : NULL;
        if (c && c->a_ist == ist && !c->a_final_sent) {
            c->cancelled = true;
            reply_a(c, 487, "Request Terminated", NULL, NULL, NULL, 0);
            if (c->b_ict) {
                sbc_txl_cancel(txl, c->b_ict, NULL);
                c->b_cancel_wait = c->b_ict;
                c->b_ict = NULL;
            }
            call_end(c, "cancelled", NULL);
        }
        return;
    }

    /* Initial and in-dialog alike. ACK and CANCEL are never refused
     * (§8.2.2.3); nor is BYE: the peer ends its dialog anyway. */
    if (m != sip_method_ack && m != sip_method_bye && refuse_unsupported(s, st, sip))
        return;
    if (!to_tag || !*to_tag) {
        if (m == sip_method_invite)
            return new_call(s, st, msg, hop);
        if (m == sip_method_options)
            return options_reply(s, st, hop);
        if (m == sip_method_ack)
            return;
        if (m == sip_method_prack) {
            sbc_txl_reply(txl, st, 481, NULL, NULL);   /* no early dialog without a To-tag */
            return;
        }
        sbc_sipmsg_resp_opt_t opt = { .extra = "Allow: " CALL_ALLOW "\r\n" };
        sbc_txl_reply(txl, st, 405, NULL, &opt);
        return;
    }

    sbc_call_t *c = sbc_sig_call_find(s, to_tag);
    leg_t *leg = c ? leg_by_tag(c, to_tag) : NULL;
    if (!leg) {
        if (m != sip_method_ack) {
            sbc_sig_stats(s)->unknown_dialog++;
            sbc_txl_reply(txl, st, 481, NULL, NULL);
        }
        return;
    }
    if (m == sip_method_ack) {
        if (leg == &c->a && c->a_2xx) {
            sbc_txl_2xx_retransmit_stop(c->a_2xx);
            c->a_2xx = NULL;
        } else if (c->fwd_2xx) {
            sbc_txl_2xx_retransmit_stop(c->fwd_2xx);
            c->fwd_2xx = NULL;
        }
        return;
    }
    if (m == sip_method_prack) {
        sbc_prack_on_request(c, leg, st, msg);   /* terminated per leg, never relayed */
        return;
    }
    if (m == sip_method_bye) {
        sbc_txl_reply(txl, st, 200, NULL, NULL);
        if (sbc_transfer_on_bye(c, leg))
            return;   /* only the transferor's dialog ended */
        LOG_CALL(SBC_LOG_INFO, c->a.call_id, call_tenant_name(c), "BYE from the %s side",
                 leg->teams ? "Teams" : "carrier");
        if (c->state == CS_EARLY || c->state == CS_ROUTING) {
            /* BYE in an early dialog from B: treat as a failure of the call. */
            if (c->b_ict) {
                sbc_txl_cancel(txl, c->b_ict, NULL);
                c->b_cancel_wait = c->b_ict;
                c->b_ict = NULL;
            }
            fail_call(c, 487, "Request Terminated", "BYE before answer");
            return;
        }
        call_end(c, leg->teams ? "BYE from Teams" : "BYE from carrier", leg);
        return;
    }
    if (sbc_transfer_is_old_leg(c, leg)) {
        sbc_txl_reply(txl, st, 481, "Call/Transaction Does Not Exist (dialog transferred)", NULL);
        return;
    }
    if (m == sip_method_refer) {
        sbc_transfer_on_refer(c, leg, st, msg);
        return;
    }
    forward_request(c, leg, st, msg);
}

/* ---- responses -------------------------------------------------------------- */

/* A 2xx to our INVITE confirms that leg's dialog: take the peer's tag, target and route
 * set, and ACK at once (we hold the answer; A's ACK is not waited for). */
void call_leg_confirm(sbc_call_t *c, leg_t *leg, const sip_t *sip)
{
    sbc_strcopy(leg->remote_tag, sizeof leg->remote_tag, sip->sip_to->a_tag ? sip->sip_to->a_tag : "");
    if (sip->sip_contact)
        call_url_text(sip->sip_contact->m_url, leg->target, sizeof leg->target);
    call_route_set(sip, true, leg->route, sizeof leg->route);
    call_leg_update_hop(c, leg);
    call_send_ack(c, leg, leg->invite_cseq);
}

static void on_b_invite_response(sbc_call_t *c, msg_t *msg)
{
    sip_t *sip = sip_of(msg);
    int status = sip->sip_status->st_status;
    leg_t *b = &c->b;
    sbc_timer_stop(&c->target_timer);   /* the target is alive */
    if (status == 100)
        return;
    if (status < 200) {
        if (!sbc_prack_uac_provisional(c, msg))
            return;   /* a retransmitted or out-of-order reliable 18x */
        c->b_provisional = true;
        if (c->state == CS_ROUTING)
            c->state = CS_EARLY;
        if (sip->sip_to->a_tag)
            snprintf(b->remote_tag, sizeof b->remote_tag, "%s", sip->sip_to->a_tag);
        const char *ctype, *body;
        size_t blen;
        call_body_of(msg, &ctype, &body, &blen);
        sdp_out_t out;
        /* Early media: an unusable provisional answer is relayed without SDP. */
        if (call_media_apply(c, 1, false, ctype, body, blen, &out) != SBC_MEDIA_OK)
            out.len = 0;
        reply_a(c, status, sip->sip_status->st_phrase, NULL, out.len ? "application/sdp" : NULL, out.text, out.len);
        return;
    }
    if (status < 300) {
        call_leg_confirm(c, &c->b, sip);
        if (c->state == CS_ENDING) {
            send_bye(c, b, 1);   /* answered after we gave up (CANCEL race) */
            c->b_ict = NULL;
            c->b_cancel_wait = NULL;
            call_maybe_free(c);
            return;
        }
        c->b_ict = NULL;
        const char *ctype, *body;
        size_t blen;
        call_body_of(msg, &ctype, &body, &blen);
        sdp_out_t out;
        enum sbc_media_status mst = call_media_apply(c, 1, false, ctype, body, blen, &out);
        if (mst != SBC_MEDIA_OK || (!out.len && !c->b_provisional)) {
            /* Answered with media we cannot use: hang up B, refuse A. */
            sbc_sig_stats(c->sig)->rejected_media++;
            send_bye(c, b, 1);
            fail_call(c, mst == SBC_MEDIA_OK ? 488 : media_status_code(mst), NULL, "answer refused");
            return;
        }
        c->state = CS_CONFIRMED;
        c->answered = time(NULL);
        sbc_timer_stop(&c->setup_timer);
        sbc_sig_stats(c->sig)->calls_answered++;
        /* Each leg its own session timer: B's from its 2xx, A's from A's INVITE. */
        sbc_stimer_uac_answered(&b->stimer, sip);
        char timer[160];
        sbc_stimer_uas(&c->a.stimer, sip_of(c->a_invite), timer, sizeof timer);
        reply_a(c, 200, sip->sip_status->st_phrase, timer, out.len ? "application/sdp" : NULL, out.text, out.len);
        LOG_CALL(SBC_LOG_INFO, c->a.call_id, call_tenant_name(c), "answered");
        return;
    }
    /* Final failure. Failover before any provisional: 408/503/504 (R8). */
    if (c->state == CS_ENDING) {
        c->b_ict = NULL;
        c->b_cancel_wait = NULL;
        call_maybe_free(c);
        return;
    }
    unsigned se = status == 422 ? sbc_stimer_retry_after_422(sip, c->b_session_expires) : 0;
    if (se) {
        /* RFC 4028 §7.4: retry with the interval the target demands. */
        LOG_CALL(SBC_LOG_INFO, c->a.call_id, call_tenant_name(c), "422: retrying with Session-Expires %u", se);
        c->b_session_expires = se;
        c->next_target--;
        c->b_ict = NULL;
        if (b_invite_next(c) == 0)
            return;
    }
    if (!c->b_provisional && (status == 408 || status == 503 || status == 504)) {
        LOG_CALL(SBC_LOG_WARN, c->a.call_id, call_tenant_name(c), "target answered %d, failing over", status);
        if (status == 503 && b->hop.conn_id && c->to_teams)
            sbc_sig_close_conn(c->sig, b->hop.conn_id);   /* R8: drop that connection */
        b_failed(c, status, "all targets failed");
        return;
    }
    c->b_ict = NULL;
    int mapped = sbc_route_map_failure(status, !c->to_teams);
    char reason[64];
    snprintf(reason, sizeof reason, "%d from the %s", status, c->to_teams ? "Teams edge" : "carrier");
    fail_call(c, mapped, mapped == status ? sip->sip_status->st_phrase : NULL, reason);
}

static void on_fwd_response(sbc_call_t *c, msg_t *msg)
{
    sip_t *sip = sip_of(msg);
    int status = sip->sip_status->st_status;
    if (status < 200)
        return;
    fwd_t f = c->fwd;
    if (f.invite && status < 300) {
        /* Re-INVITE answered: refresh the target, ACK, pass the 2xx back. */
        if (sip->sip_contact) {
            call_url_text(sip->sip_contact->m_url, f.to->target, sizeof f.to->target);
            call_leg_update_hop(c, f.to);
        }
        call_send_ack(c, f.to, f.to->invite_cseq);
    }
    const char *ctype, *body;
    size_t blen;
    call_body_of(msg, &ctype, &body, &blen);
    sdp_out_t out;
    out.len = 0;
    if (status < 300 && call_media_apply(c, call_leg_index(c, f.to), false, ctype, body, blen, &out) != SBC_MEDIA_OK)
        out.len = 0;
    /* A 2xx to a re-INVITE/UPDATE refreshes both dialogs' session timers. */
    char timer[160] = "";
    sip_t *rq = sip_of(sbc_txn_request(f.st));
    if (status < 300 && (rq->sip_request->rq_method == sip_method_invite ||
                         rq->sip_request->rq_method == sip_method_update)) {
        sbc_stimer_uac_answered(&f.to->stimer, sip);
        sbc_stimer_uas(&f.from->stimer, rq, timer, sizeof timer);
    }
    msg_t *r = call_build_response(c, f.from, sbc_txn_request(f.st), status, sip->sip_status->st_phrase, timer,
                              out.len ? (call_is_sdp(ctype) ? "application/sdp" : ctype) : NULL, out.text, out.len);
    if (r) {
        if (f.invite && status < 300)
            c->fwd_2xx = sbc_txl_2xx_retransmit_start(sbc_sig_txl(c->sig), r, sbc_txn_hop(f.st), fwd_2xx_timeout, c);
        sbc_txl_respond(sbc_sig_txl(c->sig), f.st, r);
    }
    sbc_txn_detach(f.st);
    memset(&c->fwd, 0, sizeof c->fwd);
    call_maybe_free(c);
}

static int bye_slot(sbc_call_t *c, sbc_txn_t *ct)
{
    return ct == c->bye_ct[0] ? 0 : ct == c->bye_ct[1] ? 1 : -1;
}

void sbc_call_on_response(sbc_sig_t *s, sbc_txn_t *ct, void *ctx, msg_t *msg, const sbc_hop_t *hop)
{
    sbc_call_t *c = ctx;
    if (!c)
        return;
    sip_t *sip = sip_of(msg);
    int status = sip->sip_status->st_status;
    if (ct == c->b_ict) {
        on_b_invite_response(c, msg);
        return;
    }
    if (ct == c->b_cancel_wait) {
        if (status >= 200) {
            if (status < 300) {
                call_leg_confirm(c, &c->b, sip);
                send_bye(c, &c->b, 1);   /* answered although cancelled */
            }
            c->b_cancel_wait = NULL;
            call_maybe_free(c);
        }
        return;
    }
    if (ct == c->fwd.ct) {
        on_fwd_response(c, msg);
        return;
    }
    if (sbc_transfer_on_response(c, ct, msg))
        return;
    if (ct == c->a.refresh_ct || ct == c->b.refresh_ct) {
        call_on_refresh_response(c, ct == c->a.refresh_ct ? &c->a : &c->b, msg);
        return;
    }
    if (sbc_prack_on_response(c, ct, msg))
        return;
    int slot = bye_slot(c, ct);
    if (slot >= 0 && status >= 200) {
        c->bye_ct[slot] = NULL;
        call_maybe_free(c);
    }
}

static void client_failed(sbc_call_t *c, sbc_txn_t *ct, int status, const char *why)
{
    if (ct == c->b_ict) {
        LOG_CALL(SBC_LOG_WARN, c->a.call_id, call_tenant_name(c), "target %s: %s, failing over", c->b.hop.tls_name, why);
        b_failed(c, status, why);
        return;
    }
    if (ct == c->b_cancel_wait)
        c->b_cancel_wait = NULL;
    if (sbc_prack_on_failure(c, ct, status))
        return;
    if (sbc_transfer_on_failure(c, ct, status))
        return;
    if (ct == c->a.refresh_ct || ct == c->b.refresh_ct) {
        (ct == c->a.refresh_ct ? &c->a : &c->b)->refresh_ct = NULL;
        if (status == 408)   /* RFC 4028 §10: no answer to a refresh ends the session */
            call_end(c, "session refresh failed", NULL);
        return;
    }
    if (ct == c->fwd.ct) {
        sbc_txl_reply(sbc_sig_txl(c->sig), c->fwd.st, status, NULL, NULL);
        sbc_txn_detach(c->fwd.st);
        memset(&c->fwd, 0, sizeof c->fwd);
    }
    int slot = bye_slot(c, ct);
    if (slot >= 0)
        c->bye_ct[slot] = NULL;
    call_maybe_free(c);
}

void sbc_call_on_timeout(sbc_sig_t *s, sbc_txn_t *ct, void *ctx)
{
    if (ctx)
        client_failed(ctx, ct, 408, "timeout");
}

void sbc_call_on_transport_error(sbc_sig_t *s, sbc_txn_t *ct, void *ctx)
{
    if (ctx)
        client_failed(ctx, ct, 503, "transport failure");
}

void sbc_call_on_terminated(sbc_sig_t *s, sbc_txn_t *st, void *ctx, enum sbc_txn_end why)
{
    sbc_call_t *c = ctx;
    if (!c)
        return;
    if (st == c->a_ist)
        c->a_ist = NULL;
    if (st == c->fwd.st)
        c->fwd.st = NULL;
}

void sbc_call_hangup_all(sbc_sig_t *s, const char *reason)
{
    sbc_call_t *c = *sbc_sig_call_list(s), *next;
    for (; c; c = next) {
        next = c->next;   /* ending a call may free it */
        if (c->state == CS_ENDING)
            continue;
        if (c->state == CS_CONFIRMED) {
            call_end(c, reason, NULL);
        } else {
            if (c->b_ict) {
                sbc_txl_cancel(sbc_sig_txl(s), c->b_ict, NULL);
                c->b_cancel_wait = c->b_ict;
                c->b_ict = NULL;
            }
            fail_call(c, 503, "Service Unavailable (shutting down)", reason);
        }
    }
}

void sbc_call_destroy_all(sbc_sig_t *s)
{
    sbc_call_t **head = sbc_sig_call_list(s);
    while (*head) {
        snprintf((*head)->end_reason, sizeof (*head)->end_reason, "shutdown");
        call_free(*head);
    }
}
