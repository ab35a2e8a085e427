/* CIDR blocks: parsing, matching, and the longest-match index that maps a
 * source address to the trunk it belongs to. */
#ifndef SBC_CONFIG_CIDR_H
#define SBC_CONFIG_CIDR_H

#include "config/config.h"

struct sbc_arena;

enum sbc_cidr_result { SBC_CIDR_OK = 0, SBC_CIDR_SYNTAX, SBC_CIDR_HOST_BITS };

/* "10.0.1.0/24", "2001:db8::/32"; a bare address is a host route. */
enum sbc_cidr_result sbc_cidr_parse(const char *s, sbc_cidr_t *out);
/* Writes "addr/prefix" into buf. */
void sbc_cidr_format(const sbc_cidr_t *c, char *buf, size_t len);
bool sbc_cidr_equal(const sbc_cidr_t *a, const sbc_cidr_t *b);

/* Family and 16 address bytes of a socket address; IPv4-mapped IPv6
 * addresses count as IPv4. False for other families. */
bool sbc_sockaddr_key(const struct sockaddr *sa, int *family, uint8_t addr[16]);

struct sbc_cidr_entry {
    sbc_cidr_t cidr;
    uint32_t owner;
};

struct sbc_cidr_index;

/* Entries are copied; blocks equal in family, prefix and address must have
 * the same owner (checked by the caller). */
struct sbc_cidr_index *sbc_cidr_index_build(struct sbc_arena *a, const struct sbc_cidr_entry *e,
                                            size_t n);
/* Longest match; false when no block contains the address. */
bool sbc_cidr_index_lookup(const struct sbc_cidr_index *ix, const struct sockaddr *sa,
                           uint32_t *owner);

#endif
