/* Counters in a sbc/nametable.h table: slots are never freed, so pointers to
 * them stay valid for the process lifetime. */
#include "sbc/admission.h"

#include "sbc/nametable.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define SLOTS (1u << 16)

struct sbc_adm_slot {
    uint32_t calls;
    uint32_t cps_count;
    uint64_t cps_second;
};

static uint64_t g_keys[SLOTS];
static struct sbc_adm_slot g_slots[SLOTS];

sbc_adm_slot_t *sbc_admission_slot(const char *kind, const char *name)
{
    long i = sbc_nametable_slot(g_keys, SLOTS, sbc_nametable_key(kind, name, 0, false), true);
    return i < 0 ? NULL : &g_slots[i];
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
