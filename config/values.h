/* Scalar syntaxes of the configuration: durations, sizes, ports, port
 * ranges, bounded integers, IP literals, host:port. Pure functions, no
 * messages: the caller knows the key and the line. */
#ifndef SBC_CONFIG_VALUES_H
#define SBC_CONFIG_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "500ms", "60s", "2m", "1h"; a bare integer is seconds. */
bool sbc_parse_duration_ms(const char *s, uint32_t *ms);
/* "64KiB", "1MiB", "2GiB", "10kB", "1MB"; a bare integer is bytes. */
bool sbc_parse_size(const char *s, uint64_t *bytes);
/* Decimal integer within [min, max], no sign, no junk. */
bool sbc_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
bool sbc_parse_port(const char *s, uint16_t *port);                 /* 1-65535 */
bool sbc_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi); /* "20000-29999" */
/* IPv4 or IPv6 literal; family is AF_INET or AF_INET6. */
bool sbc_parse_ip(const char *s, int *family, uint8_t addr[16]);
/* "host:port", "[v6]:port" or "host" (port = dflt). host is copied into
 * hostbuf (NUL-terminated). False on an empty host or a bad port. */
bool sbc_parse_hostport(const char *s, uint16_t dflt, char *hostbuf, size_t hostlen, uint16_t *port);
/* A DNS name: labels of [A-Za-z0-9-] (and '_'), 1-63 bytes, no leading or
 * trailing '-', 253 bytes in all. */
bool sbc_valid_hostname(const char *s);

#endif
