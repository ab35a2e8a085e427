/* A fixed open-addressing table claimed with compare-and-swap: slots are
 * never freed, so pointers to them stay valid for the process lifetime. */
#include "sbc/admission.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define SLOTS (1u << 16)

struct sbc_adm_slot {
    uint64_t key;          /* 0 = free */
    uint32_t calls;
    uint32_t cps_count;
    uint64_t cps_second;
};

static struct sbc_adm_slot g_slots[SLOTS];

/* FNV-1a over "kind\0name"; 0 is reserved for free slots. */
static uint64_t hash_name(const char *kind, const char *name)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = kind; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    h = (h ^ 0) * 1099511628211ull;
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    return h ? h : 1;
}

sbc_adm_slot_t *sbc_admission_slot(const char *kind, const char *name)
{
    uint64_t key = hash_name(kind, name);
    for (uint32_t i = 0; i < SLOTS; i++) {
        sbc_adm_slot_t *s = &g_slots[(key + i) & (SLOTS - 1)];
        uint64_t cur = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);
        if (cur == key)
            return s;
        if (cur == 0) {
            uint64_t expected = 0;
            if (__atomic_compare_exchange_n(&s->key, &expected, key, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return s;
            if (expected == key)
                return s;   /* another worker claimed it for the same name */
        }
    }
    return NULL;
}

static int cps_take(sbc_adm_slot_t *s, uint32_t max_cps, uint64_t now_s)
{
    if (max_cps == 0)
        return 0;
    uint64_t sec = __atomic_load_n(&s->cps_second, __ATOMIC_ACQUIRE);
    if (sec != now_s && __atomic_compare_exchange_n(&s->cps_second, &sec, now_s, false, __ATOMIC_ACQ_REL,
                                                    __ATOMIC_ACQUIRE))
        __atomic_store_n(&s->cps_count, 0, __ATOMIC_RELEASE);
    uint32_t n = __atomic_add_fetch(&s->cps_count, 1, __ATOMIC_ACQ_REL);
    return n <= max_cps ? 0 : -1;
}

enum sbc_adm_result sbc_admission_try(sbc_adm_slot_t *s, uint32_t max_calls, uint32_t max_cps, uint64_t now_s)
{
    if (!s)
        return SBC_ADM_FULL;
    uint32_t n = __atomic_add_fetch(&s->calls, 1, __ATOMIC_ACQ_REL);
    if (max_calls && n > max_calls) {
        __atomic_sub_fetch(&s->calls, 1, __ATOMIC_ACQ_REL);
        return SBC_ADM_MAX_CALLS;
    }
    if (cps_take(s, max_cps, now_s) < 0) {
        __atomic_sub_fetch(&s->calls, 1, __ATOMIC_ACQ_REL);
        return SBC_ADM_MAX_CPS;
    }
    return SBC_ADM_OK;
}

void sbc_admission_release(sbc_adm_slot_t *s)
{
    if (s)
        __atomic_sub_fetch(&s->calls, 1, __ATOMIC_ACQ_REL);
}

uint32_t sbc_admission_calls(const sbc_adm_slot_t *s)
{
    return s ? __atomic_load_n(&s->calls, __ATOMIC_ACQUIRE) : 0;
}
