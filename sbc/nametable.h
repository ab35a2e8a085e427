/* Fixed-size, lock-free tables of names shared by all workers: a slot is
 * claimed with compare-and-swap on a 64-bit hash of the name and never freed,
 * so its index stays valid for the process lifetime (counters that survive
 * reloads: admission, hop health). */
#ifndef SBC_NAMETABLE_H
#define SBC_NAMETABLE_H

#include <stdbool.h>
#include <stdint.h>

/* FNV-1a over the parts; host names fold case. Never 0 (0 marks a free slot). */
uint64_t sbc_nametable_key(const char *kind, const char *name, uint32_t extra, bool fold_case);

/* The slot index of key in keys[n] (n a power of two), claiming a free one
 * when create is set; -1 when absent (or the table is full). */
long sbc_nametable_slot(uint64_t *keys, uint32_t n, uint64_t key, bool create);

#endif
