/* The published snapshot: one atomic pointer, read without locks by the
 * workers (RCU), replaced by the main thread on reload. */
#ifndef SBC_CONFIG_STORE_H
#define SBC_CONFIG_STORE_H

#include "config/config.h"

/* Every thread that calls sbc_config_current() registers once. */
void sbc_config_store_thread_online(void);
void sbc_config_store_thread_offline(void);

/* Takes over the caller's reference to c; returns the new generation. The old
 * snapshot is released after every reader has moved past it, and freed when
 * its last holder (a call) lets go. */
uint64_t sbc_config_publish(sbc_config_t *c);

/* A new reference to the current snapshot (NULL before the first publish). */
sbc_config_t *sbc_config_current(void);

/* Drops the store's reference at shutdown. */
void sbc_config_store_shutdown(void);

#endif
