#include "sbc/resolve.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "sbc/sipmsg.h"

int sbc_resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    if (sbc_sipmsg_sockaddr(host, port, ss, len) == 0)
        return 0;
    struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res = NULL;
    char ps[8];
    snprintf(ps, sizeof ps, "%u", port);
    if (getaddrinfo(host, ps, &hints, &res) != 0 || !res)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}
