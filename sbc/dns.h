/* A worker's name cache. Calls never wait on DNS for a name the SBC already
 * knows: answers come from memory, and a stale answer is served while evdns
 * refreshes it in the background on the worker's loop (serve-stale, as
 * carrier SBCs do: a DNS outage must not drop traffic to known peers).
 * Names in the config are fetched ahead, at start and on every reload, so
 * only a name never seen before (e.g. a new Teams Contact host) costs one
 * blocking lookup, whose answer is then kept. */
#ifndef SBC_DNS_H
#define SBC_DNS_H

#include <stdint.h>
#include <sys/socket.h>

struct event_base;
typedef struct sbc_dns sbc_dns_t;

typedef struct sbc_dns_conf {
    uint32_t ttl_ms;             /* an answer is fresh this long (0: 60 s) */
    uint32_t negative_ttl_ms;    /* a failed name is not retried before (0: 5 s) */
    int use_evdns;               /* 0: refresh with getaddrinfo too (tests) */
    const char *nameserver;      /* "ip[:port]" instead of resolv.conf's, or NULL */
} sbc_dns_conf_t;

typedef struct sbc_dns_stats {
    uint64_t hits;               /* answered from memory (fresh or stale) */
    uint64_t stale;              /* of which stale: a refresh was started */
    uint64_t blocking;           /* names never seen: looked up synchronously */
    uint64_t refreshed;          /* background answers stored */
    uint64_t failed;             /* lookups (either kind) that found nothing */
} sbc_dns_stats_t;

/* conf NULL = defaults. Without a usable resolv.conf, refreshes fall back
 * to getaddrinfo; the cache still works. */
sbc_dns_t *sbc_dns_create(struct event_base *base, const sbc_dns_conf_t *conf, char *err, size_t errlen);
void sbc_dns_destroy(sbc_dns_t *d);

/* Starts a background lookup of host unless it is a literal or fresh. */
void sbc_dns_prefetch(sbc_dns_t *d, const char *host);
/* host:port to an address: IP literals directly, known names from memory,
 * unknown names by a blocking lookup (then kept). 0 or -1. */
int sbc_dns_resolve(sbc_dns_t *d, const char *host, uint16_t port, struct sockaddr_storage *ss,
                    socklen_t *len);
void sbc_dns_stats(const sbc_dns_t *d, sbc_dns_stats_t *out);

#endif
