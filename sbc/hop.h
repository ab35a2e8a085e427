/* Where a SIP message came from, or where it goes: shared by the transports
 * (which fill it on receive and honour it on send) and the transaction layer. */
#ifndef SBC_HOP_H
#define SBC_HOP_H

#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"

typedef struct sbc_hop {
    enum sbc_transport tp;                /* SBC_TP_UDP, SBC_TP_TCP or SBC_TP_TLS */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    struct sockaddr_storage local;        /* local address it arrived on / leaves from */
    socklen_t local_len;
    uint64_t conn_id;                     /* stream connection (worker-local id); 0 = none/open one */
    char tls_name[256];                   /* outbound TLS: SNI and expected peer name; "" = none */
    const sbc_interface_t *iface;         /* interface the hop belongs to */
} sbc_hop_t;

#endif
