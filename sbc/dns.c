#include "sbc/dns.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sbc/log.h"
#include "sbc/resolve.h"
#include "sbc/sipmsg.h"

#define N_BUCKETS 256
#define MAX_ENTRIES 4096          /* past this, new names are looked up but not kept */
#define NAME_MAX_LEN 255

typedef struct entry {
    struct entry *next;
    struct sbc_dns *d;
    struct sockaddr_storage addr;   /* port 0 */
    socklen_t addr_len;
    bool have_addr;
    bool pending;
    uint64_t expires_ms;
    uint64_t retry_after_ms;
    struct evdns_getaddrinfo_request *req;
    char name[NAME_MAX_LEN + 1];
} entry_t;

struct sbc_dns {
    struct evdns_base *evdns;     /* NULL: refreshes use getaddrinfo */
    sbc_dns_conf_t conf;
    entry_t *buckets[N_BUCKETS];
    size_t n_entries;
    sbc_dns_stats_t st;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static unsigned bucket_of(const char *name)
{
    uint32_t h = 2166136261u;
    for (; *name; name++) {
        unsigned char c = (unsigned char)*name;
        h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32 : c)) * 16777619u;
    }
    return h % N_BUCKETS;
}

static entry_t *find(sbc_dns_t *d, const char *name)
{
    for (entry_t *e = d->buckets[bucket_of(name)]; e; e = e->next)
        if (!strcasecmp(e->name, name))
            return e;
    return NULL;
}

static entry_t *add(sbc_dns_t *d, const char *name)
{
    if (d->n_entries >= MAX_ENTRIES || strlen(name) > NAME_MAX_LEN)
        return NULL;
    entry_t *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->d = d;
    snprintf(e->name, sizeof e->name, "%s", name);
    unsigned b = bucket_of(name);
    e->next = d->buckets[b];
    d->buckets[b] = e;
    d->n_entries++;
    return e;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
    else if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static void store(entry_t *e, const struct sockaddr *sa, socklen_t len, uint64_t now)
{
    if (len > sizeof e->addr)
        return;
    memcpy(&e->addr, sa, len);
    e->addr_len = len;
    set_port(&e->addr, 0);
    e->have_addr = true;
    e->expires_ms = now + e->d->conf.ttl_ms;
    e->retry_after_ms = 0;
}

static void copy_out(const entry_t *e, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    memcpy(ss, &e->addr, e->addr_len);
    *len = e->addr_len;
    set_port(ss, port);
}

/* IPv4 first: the media relay and most carrier cores are IPv4. */
static const struct evutil_addrinfo *pick(const struct evutil_addrinfo *res)
{
    for (const struct evutil_addrinfo *a = res; a; a = a->ai_next)
        if (a->ai_family == AF_INET)
            return a;
    return res;
}

static void failed(entry_t *e, const char *why, uint64_t now)
{
    sbc_dns_t *d = e->d;
    d->st.failed++;
    e->retry_after_ms = now + d->conf.negative_ttl_ms;
    if (e->have_addr)
        LOG_WARN("dns: %s: %s; the last known address stays in use", e->name, why);
    else
        LOG_WARN("dns: %s: %s", e->name, why);
}

static void on_answer(int result, struct evutil_addrinfo *res, void *arg)
{
    if (result == EVUTIL_EAI_CANCEL) {    /* destroy: the entry is going */
        if (res)
            evutil_freeaddrinfo(res);
        return;
    }
    entry_t *e = arg;
    uint64_t now = now_ms();
    e->pending = false;
    e->req = NULL;
    const struct evutil_addrinfo *a = result == 0 ? pick(res) : NULL;
    if (a) {
        store(e, a->ai_addr, (socklen_t)a->ai_addrlen, now);
        e->d->st.refreshed++;
    } else {
        failed(e, result ? evutil_gai_strerror(result) : "no address", now);
    }
    if (res)
        evutil_freeaddrinfo(res);
}

static void refresh(sbc_dns_t *d, entry_t *e, uint64_t now)
{
    if (e->pending || now < e->retry_after_ms)
        return;
    if (!d->evdns) {
        struct sockaddr_storage ss;
        socklen_t len;
        if (sbc_resolve(e->name, 0, &ss, &len) == 0) {
            store(e, (struct sockaddr *)&ss, len, now);
            d->st.refreshed++;
        } else {
            failed(e, "lookup failed", now);
        }
        return;
    }
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    e->pending = true;
    struct evdns_getaddrinfo_request *r = evdns_getaddrinfo(d->evdns, e->name, NULL, &hints, on_answer, e);
    if (e->pending)               /* else answered at once (hosts file) */
        e->req = r;
}

sbc_dns_t *sbc_dns_create(struct event_base *base, const sbc_dns_conf_t *conf, char *err, size_t errlen)
{
    sbc_dns_t *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "dns: out of memory");
        return NULL;
    }
    const char *ns = conf ? conf->nameserver : NULL;
    if (conf)
        d->conf = *conf;
    else
        d->conf.use_evdns = 1;
    d->conf.nameserver = NULL;   /* used here only: the caller's string may go */
    if (!d->conf.ttl_ms)
        d->conf.ttl_ms = 60000;
    if (!d->conf.negative_ttl_ms)
        d->conf.negative_ttl_ms = 5000;
    if (d->conf.use_evdns && base) {
        /* nameservers and /etc/hosts as the system has them; an idle base
         * keeps no socket open */
        int flags = EVDNS_BASE_DISABLE_WHEN_INACTIVE;
        if (!ns)
            flags |= EVDNS_BASE_INITIALIZE_NAMESERVERS;
        d->evdns = evdns_base_new(base, flags);
        if (d->evdns && ns &&
            (evdns_base_nameserver_ip_add(d->evdns, ns) != 0 ||
             evdns_base_load_hosts(d->evdns, NULL) != 0)) {
            evdns_base_free(d->evdns, 0);
            d->evdns = NULL;
        }
        if (!d->evdns)
            LOG_WARN("dns: no usable resolver configuration; names are refreshed with blocking lookups");
    }
    return d;
}

void sbc_dns_destroy(sbc_dns_t *d)
{
    if (!d)
        return;
    for (unsigned b = 0; b < N_BUCKETS; b++)
        for (entry_t *e = d->buckets[b]; e; e = e->next)
            if (e->req) {
                struct evdns_getaddrinfo_request *r = e->req;
                e->req = NULL;
                evdns_getaddrinfo_cancel(r);
            }
    if (d->evdns)
        evdns_base_free(d->evdns, 0);
    for (unsigned b = 0; b < N_BUCKETS; b++)
        for (entry_t *e = d->buckets[b], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(d);
}

static bool literal(const char *host)
{
    struct sockaddr_storage ss;
    socklen_t len;
    return sbc_sipmsg_sockaddr(host, 0, &ss, &len) == 0;
}

void sbc_dns_prefetch(sbc_dns_t *d, const char *host)
{
    if (!d || !host || !*host || literal(host))
        return;
    entry_t *e = find(d, host);
    if (!e && !(e = add(d, host)))
        return;
    uint64_t now = now_ms();
    if (!e->have_addr || now >= e->expires_ms)
        refresh(d, e, now);
}

int sbc_dns_resolve(sbc_dns_t *d, const char *host, uint16_t port, struct sockaddr_storage *ss,
                    socklen_t *len)
{
    if (sbc_sipmsg_sockaddr(host, port, ss, len) == 0)
        return 0;
    if (!d)
        return sbc_resolve(host, port, ss, len);
    uint64_t now = now_ms();
    entry_t *e = find(d, host);
    if (e && e->have_addr) {
        d->st.hits++;
        if (now >= e->expires_ms) {
            d->st.stale++;
            refresh(d, e, now);
        }
        copy_out(e, port, ss, len);
        return 0;
    }
    if (e && now < e->retry_after_ms) {
        d->st.failed++;
        return -1;                 /* failed a moment ago: answer at once */
    }
    /* never answered: this one caller waits (an in-flight prefetch is
     * left to complete and will refresh the entry) */
    d->st.blocking++;
    struct sockaddr_storage a;
    socklen_t al;
    if (sbc_resolve(host, 0, &a, &al) < 0) {
        if (e || (e = add(d, host)))
            failed(e, "lookup failed", now);
        else
            d->st.failed++;
        return -1;
    }
    if (e || (e = add(d, host))) {
        store(e, (struct sockaddr *)&a, al, now);
        copy_out(e, port, ss, len);
        return 0;
    }
    memcpy(ss, &a, al);
    *len = al;
    set_port(ss, port);
    return 0;
}

void sbc_dns_stats(const sbc_dns_t *d, sbc_dns_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (d)
        *out = d->st;
}
