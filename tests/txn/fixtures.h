/* Shared test fixtures: sample messages and hop helpers. */
#ifndef SBC_TEST_TXN_FIXTURES_H
#define SBC_TEST_TXN_FIXTURES_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>

#include "sbc/sipmsg.h"

static const char invite_fmt[] =
    "INVITE sip:+15551230000@sbc.example.com;user=phone SIP/2.0\r\n"
    "Via: SIP/2.0/UDP %s;branch=%s%s\r\n"
    "Via: SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bKupstream\r\n"
    "Max-Forwards: %d\r\n"
    "From: \"Alice\" <sip:+15550001111@carrier.example>;tag=fromtag1\r\n"
    "To: <sip:+15551230000@sbc.example.com>\r\n"
    "Call-ID: callid-1@carrier.example\r\n"
    "CSeq: 10 INVITE\r\n"
    "Contact: <sip:alice@10.0.0.1:5060>\r\n"
    "Route: <sip:edge.example;lr>\r\n"
    "P-Asserted-Identity: <sip:+15550001111@carrier.example>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: %zu\r\n"
    "\r\n"
    "%s";

static const char sdp_body[] =
    "v=0\r\n"
    "o=- 1 1 IN IP4 10.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 10.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 40000 RTP/AVP 0 8 101\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n";

/* An INVITE text; sent_by like "10.0.0.1:5060", extra like ";rport". */
static inline char *make_invite_text(const char *sent_by, const char *branch, const char *extra,
                                     int max_forwards)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, invite_fmt, sent_by, branch, extra, max_forwards,
             strlen(sdp_body), sdp_body);
    return buf;
}

static inline msg_t *parse_ok(const char *text)
{
    msg_t *m = NULL;
    const char *reason = NULL;
    enum sbc_sipmsg_parse_result r = sbc_sipmsg_parse(text, strlen(text), &m, &reason);
    if (r != SBC_SIPMSG_OK)
        fprintf(stderr, "parse failed: %s\n", reason ? reason : "?");
    assert_int_equal(r, SBC_SIPMSG_OK);
    assert_non_null(m);
    return m;
}

static inline void hop_set(sbc_hop_t *hop, enum sbc_transport tp, const char *ip, uint16_t port)
{
    memset(hop, 0, sizeof *hop);
    hop->tp = tp;
    assert_int_equal(sbc_sipmsg_sockaddr(ip, port, &hop->peer, &hop->peer_len), 0);
    assert_int_equal(sbc_sipmsg_sockaddr("192.0.2.10", 5060, &hop->local, &hop->local_len), 0);
}

static inline void hop_peer(const sbc_hop_t *hop, char *ip, size_t size, unsigned *port)
{
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&hop->peer;
    assert_int_equal(sin->sin_family, AF_INET);
    inet_ntop(AF_INET, &sin->sin_addr, ip, (socklen_t)size);
    *port = ntohs(sin->sin_port);
}

#endif
