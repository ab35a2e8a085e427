/* Levelled logging to stderr, as text or JSON lines (node.log). Thread-safe:
 * each line is formatted into a local buffer and written with one write(2). */
#ifndef SBC_LOG_H
#define SBC_LOG_H

#include "config/config.h"

void sbc_log_setup(enum sbc_log_level level, enum sbc_log_format format);
enum sbc_log_level sbc_log_level(void);
/* Names the calling thread in every line it logs ("main", "w0", ...). */
void sbc_log_thread_name(const char *name);

/* call_id and tenant may be NULL; they become fields of the line. */
void sbc_log_write(enum sbc_log_level level, const char *call_id, const char *tenant,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define LOG_AT(lvl, ...) do { if ((lvl) <= sbc_log_level()) sbc_log_write((lvl), NULL, NULL, __VA_ARGS__); } while (0)
#define LOG_ERR(...)   LOG_AT(SBC_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...)  LOG_AT(SBC_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...)  LOG_AT(SBC_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) LOG_AT(SBC_LOG_DEBUG, __VA_ARGS__)
/* For call-related lines: Call-ID and tenant travel with the message. */
#define LOG_CALL(lvl, cid, tenant, ...) do { if ((lvl) <= sbc_log_level()) sbc_log_write((lvl), (cid), (tenant), __VA_ARGS__); } while (0)

#endif
