/* Host name or literal to a socket address. */
#ifndef SBC_RESOLVE_H
#define SBC_RESOLVE_H

#include <stdint.h>
#include <sys/socket.h>

/* IP literals (IPv6 with or without brackets) directly; names with
 * getaddrinfo, which blocks: labs pin addresses in the config, production
 * wants evdns on the worker's base (docs/architecture.md). 0 or -1. */
int sbc_resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len);

#endif
