/* Health of next hops (Teams proxies, trunk targets) as seen by the OPTIONS
 * pinger, shared by all workers: one writer (the pinger), lock-free readers
 * (failover ordering, sbcctl). Keyed by "host:port", slots never freed. */
#ifndef SBC_HEALTH_H
#define SBC_HEALTH_H

#include <stdint.h>

enum sbc_health_state { SBC_HEALTH_UNKNOWN = 0, SBC_HEALTH_UP, SBC_HEALTH_DOWN };

typedef struct sbc_health_info {
    enum sbc_health_state state;
    uint32_t rtt_ms;        /* last OPTIONS round trip */
    int last_status;        /* last final status, 0 = timeout or transport failure */
    uint64_t probes, failures;
} sbc_health_info_t;

/* host as configured (FQDN or IP literal). */
void sbc_health_report(const char *host, uint16_t port, int status, uint32_t rtt_ms);
void sbc_health_get(const char *host, uint16_t port, sbc_health_info_t *out);
const char *sbc_health_state_name(enum sbc_health_state s);

#endif
