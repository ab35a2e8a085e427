/* The pinger: a 1 s tick checks which groups (Teams, each trunk) are due and
 * sends one OPTIONS per next hop as an ordinary client transaction. */
#include "sbc/options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbc/health.h"
#include "sbc/log.h"
#include "sbc/dns.h"
#include "sbc/sipmsg.h"
#include "sbc/txn.h"

#define ALLOW "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, PRACK"   /* as CALL_ALLOW */
#define MAX_GROUPS 1024

typedef struct probe {
    struct probe *next, *prev;
    sbc_txn_t *ct;
    char host[256];
    uint16_t port;
    uint64_t sent_ms;
} probe_t;

typedef struct group_due {
    char name[64];              /* "teams" or the trunk name */
    uint64_t due_ms;
} group_due_t;

struct sbc_options {
    sbc_sig_t *sig;
    sbc_timer_t tick;
    probe_t *probes;
    group_due_t groups[MAX_GROUPS];
    size_t n_groups;
    uint32_t cseq;
};

bool sbc_options_owns(const sbc_options_t *o, const void *ctx)
{
    for (const probe_t *p = o ? o->probes : NULL; p; p = p->next)
        if (p == ctx)
            return true;
    return false;
}

static void probe_free(sbc_options_t *o, probe_t *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        o->probes = p->next;
    if (p->next)
        p->next->prev = p->prev;
    free(p);
}

void sbc_options_on_final(sbc_options_t *o, void *ctx, int status)
{
    probe_t *p = ctx;
    uint64_t now = sbc_clock_now_ms(sbc_sig_clock(o->sig));
    sbc_health_report(p->host, p->port, status, (uint32_t)(now - p->sent_ms));
    if (status < 200 || status == 503 || status == 408 || status == 504)
        LOG_WARN("OPTIONS to %s:%u: %s", p->host, p->port, status ? "overloaded or failing" : "no answer");
    probe_free(o, p);
}

/* One OPTIONS toward host:port (connecting to addr), From/Contact our_host. */
static void ping(sbc_options_t *o, const sbc_interface_t *iface, enum sbc_transport tp, const char *host,
                 uint16_t port, const char *addr, const char *our_host, const char *user_agent)
{
    sbc_sig_t *s = o->sig;
    sbc_hop_t hop;
    memset(&hop, 0, sizeof hop);
    hop.tp = tp;
    hop.iface = iface;
    if (sbc_dns_resolve(sbc_sig_dns(s), addr ? addr : host, port, &hop.peer, &hop.peer_len) < 0) {
        sbc_health_report(host, port, 0, 0);
        return;
    }
    if (tp == SBC_TP_TLS)
        snprintf(hop.tls_name, sizeof hop.tls_name, "%s", host);
    char branch[SBC_SIPMSG_ID_MAX], tag[SBC_SIPMSG_ID_MAX], cid[SBC_SIPMSG_ID_MAX];
    sbc_sipmsg_make_branch(branch, sizeof branch, sbc_sig_index(s));
    sbc_sipmsg_make_tag(tag, sizeof tag, sbc_sig_index(s));
    sbc_sipmsg_make_call_id(cid, sizeof cid, sbc_sig_index(s));
    const char *tps = tp == SBC_TP_TLS ? ";transport=tls" : tp == SBC_TP_TCP ? ";transport=tcp" : "";
    const char *via = tp == SBC_TP_TLS ? "TLS" : tp == SBC_TP_TCP ? "TCP" : "UDP";
    char buf[2048];
    int n = snprintf(buf, sizeof buf,
                     "OPTIONS sip:%s:%u%s SIP/2.0\r\n"
                     "Via: SIP/2.0/%s %s:%u;branch=%s;rport\r\n"
                     "Max-Forwards: 70\r\n"
                     "From: <sip:%s:%u>;tag=%s\r\n"
                     "To: <sip:%s:%u>\r\n"
                     "Call-ID: %s\r\n"
                     "CSeq: %u OPTIONS\r\n"
                     "Contact: <sip:%s:%u%s>\r\n"
                     "Allow: " ALLOW "\r\n"
                     "%s%s%s"
                     "Content-Length: 0\r\n\r\n",
                     host, port, tps, via, our_host, iface->sip_port, branch, our_host, iface->sip_port, tag, host,
                     port, cid, ++o->cseq, our_host, iface->sip_port, tps, user_agent ? "User-Agent: " : "",
                     user_agent ? user_agent : "", user_agent ? "\r\n" : "");
    msg_t *m = NULL;
    const char *why;
    if (n < 0 || (size_t)n >= sizeof buf || sbc_sipmsg_parse(buf, (size_t)n, &m, &why) != SBC_SIPMSG_OK) {
        if (m)
            msg_destroy(m);
        return;
    }
    probe_t *p = calloc(1, sizeof *p);
    if (!p) {
        msg_destroy(m);
        return;
    }
    snprintf(p->host, sizeof p->host, "%s", host);
    p->port = port;
    p->sent_ms = sbc_clock_now_ms(sbc_sig_clock(s));
    p->next = o->probes;
    if (o->probes)
        o->probes->prev = p;
    o->probes = p;
    p->ct = sbc_txl_request(sbc_sig_txl(s), m, &hop, p);
    if (!p->ct)
        sbc_options_on_final(o, p, 0);
}

/* Is the group due? Re-arms it for `interval` when it is. */
static bool due(sbc_options_t *o, const char *name, uint32_t interval_ms, uint64_t now)
{
    if (!interval_ms)
        return false;
    for (size_t i = 0; i < o->n_groups; i++) {
        if (!strcmp(o->groups[i].name, name)) {
            if (now < o->groups[i].due_ms)
                return false;
            o->groups[i].due_ms = now + interval_ms;
            return true;
        }
    }
    if (o->n_groups == MAX_GROUPS)
        return false;
    group_due_t *g = &o->groups[o->n_groups++];
    snprintf(g->name, sizeof g->name, "%s", name);
    g->due_ms = now + interval_ms;
    return true;   /* first sight: ping at once so health is known early */
}

static void on_tick(void *arg)
{
    sbc_options_t *o = arg;
    sbc_config_t *c = sbc_sig_config(o->sig);
    uint64_t now = sbc_clock_now_ms(sbc_sig_clock(o->sig));
    const sbc_teams_t *t = &c->teams;
    if (t->interface && due(o, " teams", t->options_interval_ms, now))
        for (size_t i = 0; i < t->n_proxies; i++)
            ping(o, t->interface, SBC_TP_TLS, t->proxies[i].host, t->proxies[i].port, t->proxies[i].address,
                 t->base_fqdn, t->user_agent);
    for (size_t k = 0; k < c->n_trunks; k++) {
        const sbc_trunk_t *tr = &c->trunks[k];
        if (!due(o, tr->name, tr->options_interval_ms, now))
            continue;
        const sbc_interface_t *ci = tr->interface;
        const char *our = ci->advertise ? ci->advertise : ci->sip_address;
        for (size_t i = 0; i < tr->n_targets; i++)
            ping(o, ci, tr->targets[i].transport ? tr->targets[i].transport : SBC_TP_UDP, tr->targets[i].host,
                 tr->targets[i].port, NULL, our, NULL);
    }
    sbc_timer_start(&o->tick, 1000);
}

sbc_options_t *sbc_options_create(sbc_sig_t *s)
{
    sbc_options_t *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->sig = s;
    sbc_timer_init(&o->tick, sbc_sig_clock(s), on_tick, o);
    sbc_timer_start(&o->tick, 200);
    return o;
}

void sbc_options_destroy(sbc_options_t *o)
{
    if (!o)
        return;
    sbc_timer_cleanup(&o->tick);
    while (o->probes) {
        if (o->probes->ct)
            sbc_txn_detach(o->probes->ct);
        probe_free(o, o->probes);
    }
    free(o);
}
