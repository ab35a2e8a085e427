/* Hop health in a sbc/nametable.h table; values are single atomic words. */
#include "sbc/health.h"

#include "sbc/nametable.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define SLOTS 4096u

typedef struct slot {
    uint32_t state, rtt_ms;
    int32_t last_status;
    uint64_t probes, failures;
} slot_t;

static uint64_t g_keys[SLOTS];
static slot_t g_slots[SLOTS];

static slot_t *find(const char *host, uint16_t port, bool create)
{
    long i = sbc_nametable_slot(g_keys, SLOTS, sbc_nametable_key("hop", host, port, true), create);
    return i < 0 ? NULL : &g_slots[i];
}

void sbc_health_report(const char *host, uint16_t port, int status, uint32_t rtt_ms)
{
    slot_t *s = find(host, port, true);
    if (!s)
        return;
    /* Any final answer proves the hop alive, except the overload codes that
     * Teams uses to shed traffic. */
    bool up = status >= 200 && status != 503 && status != 408 && status != 504;
    __atomic_store_n(&s->rtt_ms, rtt_ms, __ATOMIC_RELAXED);
    __atomic_store_n(&s->last_status, status, __ATOMIC_RELAXED);
    __atomic_add_fetch(&s->probes, 1, __ATOMIC_RELAXED);
    if (!up)
        __atomic_add_fetch(&s->failures, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&s->state, up ? SBC_HEALTH_UP : SBC_HEALTH_DOWN, __ATOMIC_RELEASE);
}

void sbc_health_get(const char *host, uint16_t port, sbc_health_info_t *out)
{
    memset(out, 0, sizeof *out);
    slot_t *s = find(host, port, false);
    if (!s)
        return;
    out->state = (enum sbc_health_state)__atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
    out->rtt_ms = __atomic_load_n(&s->rtt_ms, __ATOMIC_RELAXED);
    out->last_status = __atomic_load_n(&s->last_status, __ATOMIC_RELAXED);
    out->probes = __atomic_load_n(&s->probes, __ATOMIC_RELAXED);
    out->failures = __atomic_load_n(&s->failures, __ATOMIC_RELAXED);
}

const char *sbc_health_state_name(enum sbc_health_state s)
{
    return s == SBC_HEALTH_UP ? "up" : s == SBC_HEALTH_DOWN ? "down" : "unknown";
}
