/* SIP message helpers on top of Sofia-SIP's message layer (msg_t/sip_t):
 * parsing with sanity checks, serialization, responses, identifiers that
 * carry the home worker, Via/rport handling and Max-Forwards.
 *
 * Ownership: functions taking a msg_t never destroy it unless they say so;
 * functions returning a msg_t give the caller one reference (msg_destroy). */
#ifndef SBC_SIPMSG_H
#define SBC_SIPMSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <sofia-sip/su_config.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>

#include "sbc/hop.h"

#define SBC_SIPMSG_MAXSIZE 65536u  /* bytes; larger messages are rejected */
#define SBC_SIPMSG_ID_MAX 48       /* buffer size for any generated identifier */
#define SBC_SIPMSG_HOME_MAX 999    /* largest home worker index an id can carry */

/* Once in main, before any thread parses: types the extension headers
 * (P-Asserted-Identity, ...) instead of leaving them in sip_unknown.
 * Later calls do nothing. */
void sbc_sipmsg_global_init(void);

/* ---- parsing ---------------------------------------------------------- */

enum sbc_sipmsg_parse_result {
    SBC_SIPMSG_OK = 0,      /* *out is a sane request or response */
    SBC_SIPMSG_REJECT,      /* *out is a request that deserves a 400 with *reason */
    SBC_SIPMSG_DROP,        /* garbage, oversized, or unanswerable: *out is NULL */
};

/* Parses one complete message (a UDP datagram, or a framed stream message).
 * On REJECT the caller answers with sbc_sipmsg_response(*out, 400, *reason, ...)
 * and destroys *out. *reason is a static string (also set on DROP). */
enum sbc_sipmsg_parse_result sbc_sipmsg_parse(const void *buf, size_t len, msg_t **out,
                                              const char **reason);

/* An empty message for stream framing (msg_recv_iovec/msg_recv_commit/
 * msg_extract), with the 64 KiB cap and the flags the datagram path uses. */
msg_t *sbc_sipmsg_create_for_recv(void);

/* Sanity checks of RFC 3261 §8.2/§16.3 on a parsed message: Via, From, To,
 * Call-ID, CSeq present, CSeq method equal to the request method, no
 * unparsable required header. 0 = sane; -1 = not, *reason says why; for a
 * request, *answerable tells whether a response can be built (Via, From, To,
 * Call-ID and CSeq all parsed). */
int sbc_sipmsg_check(msg_t *msg, const char **reason, int *answerable);

/* ---- serialization ---------------------------------------------------- */

/* Encodes the message (re-encoding edited headers) and returns the number of
 * iovec entries filled (pointing into the message, valid until it changes or
 * is destroyed), or -1 when it cannot be encoded or n is too small. */
int sbc_sipmsg_iovec(msg_t *msg, struct iovec *iov, size_t n);
/* Same into one contiguous buffer; returns the length, or -1 (too small). */
ssize_t sbc_sipmsg_serialize(msg_t *msg, char *buf, size_t size);
/* Same, allocated with malloc() (NUL-terminated); caller frees. */
char *sbc_sipmsg_to_string(msg_t *msg, size_t *len);

/* After changing fields of a parsed header in place, so that the edit is
 * sent instead of the received bytes (STACK.md §10). */
void sbc_sipmsg_touch(msg_t *msg, msg_header_t *h);

/* ---- identifiers --------------------------------------------------------
 * Every id the SBC generates carries its home worker: "w<home>." + 16 random
 * chars + 3-char checksum, all [0-9a-v]. Branches add the z9hG4bK cookie.
 * home < 0 makes a plain random id that carries no home. */
int sbc_sipmsg_make_id(char *buf, size_t size, int home);
int sbc_sipmsg_make_branch(char *buf, size_t size, int home);
int sbc_sipmsg_make_tag(char *buf, size_t size, int home);
int sbc_sipmsg_make_call_id(char *buf, size_t size, int home);
/* The home worker of an id we generated (a tag, Call-ID, branch, or a
 * Contact user part; anything after '@' is ignored), or -1 if not ours. */
int sbc_sipmsg_home_from_id(const char *id);

/* ---- responses ---------------------------------------------------------- */

typedef struct sbc_sipmsg_resp_opt {
    const char *to_tag;       /* To-tag when the request has none (status > 100);
                                 NULL = a random one */
    const char *reason;       /* Reason header value ("Q.850;cause=16"), or NULL */
    unsigned retry_after;     /* Retry-After seconds, 0 = none */
    const char *extra;        /* extra header lines "Name: value\r\n...", or NULL */
    const char *ctype;        /* Content-Type of body, or NULL = no body */
    const char *body;
    size_t body_len;
} sbc_sipmsg_resp_opt_t;

/* A response to req: all Vias, From, To (+ To-tag), Call-ID, CSeq copied;
 * phrase NULL = the standard one; opt may be NULL. NULL on failure. */
msg_t *sbc_sipmsg_response(msg_t *req, int status, const char *phrase,
                           const sbc_sipmsg_resp_opt_t *opt);

/* ---- Via ---------------------------------------------------------------- */

/* Puts our Via on top: "SIP/2.0/<tp> host:port;branch=<branch>;rport".
 * host may be an IPv6 literal with or without brackets. */
int sbc_sipmsg_via_add(msg_t *msg, enum sbc_transport tp, const char *host, uint16_t port,
                       const char *branch);
/* Same with sent-by taken from the hop's interface (sip_address/sip_port),
 * or from hop->local when it has no interface. */
int sbc_sipmsg_via_add_hop(msg_t *msg, const sbc_hop_t *hop, const char *branch);
/* RFC 3261 §18.2.1 + RFC 3581 on an incoming request: received=<source ip>
 * when sent-by differs (always when rport is asked), rport=<source port>. */
int sbc_sipmsg_via_received(msg_t *msg, const sbc_hop_t *src);
/* Where a response to a request goes (RFC 3261 §18.2.2 + RFC 3581): reliable
 * transports reuse src's connection; otherwise maddr, then received +
 * rport/sent-by port, then sent-by (IP literals only). out keeps src's
 * transport, local address and interface. 0, or -1 (no usable address). */
int sbc_sipmsg_response_hop(const sip_via_t *via, const sbc_hop_t *src, sbc_hop_t *out);

/* Fills the host/port of a sockaddr ("1.2.3.4"/"[2001:db8::1]" or without
 * brackets). 0 or -1. */
int sbc_sipmsg_sockaddr(const char *host, uint16_t port, struct sockaddr_storage *ss,
                        socklen_t *len);

/* ---- Max-Forwards ------------------------------------------------------- */

/* The value to put in a request sent on because of req: Max-Forwards - 1
 * (70 - 1 when absent), or -1 when it is 0 (answer 483 Too Many Hops). */
int sbc_sipmsg_max_forwards_next(const sip_t *sip);
/* In place: decrements (or adds Max-Forwards: 69) and returns the new value;
 * -1 when it was already 0, message unchanged. */
int sbc_sipmsg_max_forwards_decrement(msg_t *msg);

/* ---- extensions (RFC 3261 §8.2.2.3) -------------------------------------- */

/* The option tags of req's Require that are not in `supported` (a NULL-ended
 * list), written as "Unsupported: a, b\r\n" into hdrs for the 420 answer
 * ("" when all are known). Returns how many are unknown. */
int sbc_sipmsg_unsupported(const sip_t *req, const char *const *supported, char *hdrs, size_t cap);

/* ---- small accessors ---------------------------------------------------- */

static inline sip_t *sbc_sipmsg_sip(msg_t *msg) { return msg ? sip_object(msg) : NULL; }

/* Builds a new request with the given method, Request-URI and the first
 * copied from a template (Call-ID, From, To, CSeq number, Route, top Via),
 * as for ACK and CANCEL (§17.1.1.3, §9.1). to may replace the To header
 * (the response's, for an ACK). NULL on failure. */
msg_t *sbc_sipmsg_request_from(msg_t *orig, sip_method_t method, const char *method_name,
                               const sip_to_t *to);

#endif
