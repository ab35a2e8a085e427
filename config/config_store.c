/* The published snapshot behind an RCU-protected pointer (liburcu, memb
 * flavour: readers pay no barrier, the writer uses membarrier). A reader takes
 * a counted reference inside a read-side section, so the snapshot it got can
 * outlive the section: a call keeps the snapshot it started with. */
#include "config/config_store.h"

#include <urcu/urcu-memb.h>

static sbc_config_t *g_current;
static uint64_t g_generation;

void sbc_config_store_thread_online(void)
{
    urcu_memb_register_thread();
}

void sbc_config_store_thread_offline(void)
{
    urcu_memb_unregister_thread();
}

uint64_t sbc_config_publish(sbc_config_t *c)
{
    c->generation = ++g_generation;
    sbc_config_t *old = rcu_xchg_pointer(&g_current, c);
    if (old) {
        /* After the grace period no reader can still be between loading
         * the old pointer and taking its reference. */
        urcu_memb_synchronize_rcu();
        sbc_config_unref(old);
    }
    return c->generation;
}

sbc_config_t *sbc_config_current(void)
{
    urcu_memb_read_lock();
    sbc_config_t *c = rcu_dereference(g_current);
    if (c)
        sbc_config_ref(c);
    urcu_memb_read_unlock();
    return c;
}

void sbc_config_store_shutdown(void)
{
    sbc_config_t *old = rcu_xchg_pointer(&g_current, NULL);
    if (old) {
        urcu_memb_synchronize_rcu();
        sbc_config_unref(old);
    }
}
