/* Host name or literal to a socket address. */
#ifndef SBC_RESOLVE_H
#define SBC_RESOLVE_H

#include <stdint.h>
#include <sys/socket.h>

/* IP literals (IPv6 with or without brackets) directly; names with
 * getaddrinfo, which blocks: callers on a worker go through the worker's
 * cache (sbc/dns.h) instead. 0 or -1. */
int sbc_resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len);

#endif
