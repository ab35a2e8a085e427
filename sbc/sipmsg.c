/* SIP message helpers: see sipmsg.h. Sofia-SIP is the parser and printer;
 * everything here is per-message and thread-agnostic (one owner per msg_t). */
#include "sbc/sipmsg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <sofia-sip/sip_extra.h>
#include <sofia-sip/su_alloc.h>

#include "sbc/log.h"

/* msg_iovec_t is Sofia's own iovec; on POSIX it has struct iovec's layout. */
_Static_assert(sizeof(msg_iovec_t) == sizeof(struct iovec), "msg_iovec_t layout");
_Static_assert(offsetof(msg_iovec_t, siv_base) == offsetof(struct iovec, iov_base),
               "msg_iovec_t base");
_Static_assert(offsetof(msg_iovec_t, siv_len) == offsetof(struct iovec, iov_len),
               "msg_iovec_t len");

#define PARSE_FLAGS MSG_FLG_EXTRACT_COPY  /* ~15 % faster re-serialization */

static void global_init_once(void)
{
    sip_update_default_mclass(sip_extend_mclass(NULL));
}

void sbc_sipmsg_global_init(void)
{
    /* the extended class is cloned on each call: only the first is kept */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, global_init_once);
}

/* ---- parsing ---------------------------------------------------------- */

msg_t *sbc_sipmsg_create_for_recv(void)
{
    msg_t *msg = msg_create(sip_default_mclass(), PARSE_FLAGS);
    if (msg)
        msg_maxsize(msg, SBC_SIPMSG_MAXSIZE);
    return msg;
}

static int method_matches(const sip_request_t *rq, const sip_cseq_t *cs)
{
    if (rq->rq_method != cs->cs_method)
        return 0;
    if (rq->rq_method != sip_method_unknown)
        return 1;
    return rq->rq_method_name && cs->cs_method_name &&
           strcmp(rq->rq_method_name, cs->cs_method_name) == 0;
}

int sbc_sipmsg_check(msg_t *msg, const char **reason, int *answerable)
{
    const char *dummy;
    int dummy_ans;
    if (!reason)
        reason = &dummy;
    if (!answerable)
        answerable = &dummy_ans;
    *answerable = 0;
    sip_t *sip = msg ? sip_object(msg) : NULL;
    if (!sip || (!sip->sip_request && !sip->sip_status)) {
        *reason = "Not a SIP message";
        return -1;
    }
    if (msg_get_flags(msg, MSG_FLG_ERROR | MSG_FLG_TOOLARGE | MSG_FLG_TRUNC)) {
        *reason = msg_get_flags(msg, MSG_FLG_TOOLARGE) ? "Message Too Large" : "Malformed Message";
        return -1;
    }
    *answerable = sip->sip_request && sip->sip_via && sip->sip_from && sip->sip_to &&
                  sip->sip_call_id && sip->sip_cseq;
    if (!sip->sip_via)
        *reason = "Missing or Bad Via";
    else if (!sip->sip_from)
        *reason = "Missing or Bad From";
    else if (!sip->sip_to)
        *reason = "Missing or Bad To";
    else if (!sip->sip_call_id)
        *reason = "Missing or Bad Call-ID";
    else if (!sip->sip_cseq)
        *reason = "Missing or Bad CSeq";
    else if (sip->sip_request && !method_matches(sip->sip_request, sip->sip_cseq))
        *reason = "CSeq Method Does Not Match";
    else if (sip->sip_request && sip->sip_request->rq_url->url_type == url_invalid)
        *reason = "Bad Request-URI";
    else if (sip->sip_content_length && sip->sip_payload &&
             sip->sip_payload->pl_len < sip->sip_content_length->l_length)
        *reason = "Content-Length Mismatch";
    else if (sip->sip_content_length && !sip->sip_payload && sip->sip_content_length->l_length > 0)
        *reason = "Content-Length Mismatch";
    else
        return 0;
    return -1;
}

enum sbc_sipmsg_parse_result sbc_sipmsg_parse(const void *buf, size_t len, msg_t **out,
                                              const char **reason)
{
    const char *dummy;
    if (!reason)
        reason = &dummy;
    *out = NULL;
    if (!buf || len == 0) {
        *reason = "Empty Message";
        return SBC_SIPMSG_DROP;
    }
    if (len > SBC_SIPMSG_MAXSIZE) {
        *reason = "Message Too Large";
        return SBC_SIPMSG_DROP;
    }
    msg_t *msg = msg_make(sip_default_mclass(), PARSE_FLAGS, buf, (ssize_t)len);
    if (!msg) {
        *reason = "Malformed Message";
        return SBC_SIPMSG_DROP;
    }
    int answerable = 0;
    if (sbc_sipmsg_check(msg, reason, &answerable) == 0) {
        *out = msg;
        return SBC_SIPMSG_OK;
    }
    if (answerable) {
        *out = msg;
        return SBC_SIPMSG_REJECT;
    }
    msg_destroy(msg);
    return SBC_SIPMSG_DROP;
}

/* ---- serialization ---------------------------------------------------- */

int sbc_sipmsg_iovec(msg_t *msg, struct iovec *iov, size_t n)
{
    if (!msg || msg_serialize(msg, msg_object(msg)) < 0 || msg_prepare(msg) < 0)
        return -1;
    isize_t k = msg_iovec(msg, (msg_iovec_t *)iov, (isize_t)n);
    if (k <= 0 || (size_t)k > n)
        return -1;
    return (int)k;
}

#define IOV_MAX_PARTS 64

ssize_t sbc_sipmsg_serialize(msg_t *msg, char *buf, size_t size)
{
    struct iovec iov[IOV_MAX_PARTS];
    int n = sbc_sipmsg_iovec(msg, iov, IOV_MAX_PARTS);
    if (n < 0)
        return -1;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        if (off + iov[i].iov_len > size)
            return -1;
        memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    return (ssize_t)off;
}

char *sbc_sipmsg_to_string(msg_t *msg, size_t *len)
{
    struct iovec iov[IOV_MAX_PARTS];
    int n = sbc_sipmsg_iovec(msg, iov, IOV_MAX_PARTS);
    if (n < 0)
        return NULL;
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    char *s = malloc(total + 1);
    if (!s)
        return NULL;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        memcpy(s + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    s[total] = '\0';
    if (len)
        *len = total;
    return s;
}

void sbc_sipmsg_touch(msg_t *msg, msg_header_t *h)
{
    (void)msg;
    if (h)
        msg_fragment_clear(h->sh_common);
}

/* ---- identifiers -------------------------------------------------------- */

static const char b32[] = "0123456789abcdefghijklmnopqrstuv";
#define ID_RAND_CHARS 16
#define ID_SUM_CHARS 3
static const char cookie[] = "z9hG4bK";

/* xoshiro256** per thread, seeded from getrandom(): ids must be unique and
 * unguessable enough, not secret keys; a syscall per id would cost more
 * than the rest of building a message. */
static __thread uint64_t rng_s[4];
static __thread int rng_ready;

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(void)
{
    if (!rng_ready) {
        if (getrandom(rng_s, sizeof rng_s, 0) != (ssize_t)sizeof rng_s) {
            /* no entropy source: fall back to address and time mixing */
            uint64_t seed = (uint64_t)(uintptr_t)&rng_s ^ (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;
            for (int i = 0; i < 4; i++) {
                seed += 0x9e3779b97f4a7c15ull;
                uint64_t z = seed;
                z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
                z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
                rng_s[i] = z ^ (z >> 31);
            }
        }
        if (!(rng_s[0] | rng_s[1] | rng_s[2] | rng_s[3]))
            rng_s[0] = 1;
        rng_ready = 1;
    }
    uint64_t r = rotl(rng_s[1] * 5, 7) * 9, t = rng_s[1] << 17;
    rng_s[2] ^= rng_s[0];
    rng_s[3] ^= rng_s[1];
    rng_s[1] ^= rng_s[2];
    rng_s[0] ^= rng_s[3];
    rng_s[2] ^= t;
    rng_s[3] = rotl(rng_s[3], 45);
    return r;
}

static uint32_t fnv1a(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static int b32_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'v')
        return c - 'a' + 10;
    return -1;
}

/* Writes the id (without cookie) at buf; returns its length or -1. */
static int write_id(char *buf, size_t size, int home)
{
    char tmp[SBC_SIPMSG_ID_MAX];
    int n = 0;
    if (home >= 0) {
        if (home > SBC_SIPMSG_HOME_MAX)
            return -1;
        /* "w<home>." by hand: ids are made several times per call */
        char dig[4];
        int nd = 0, h = home;
        do
            dig[nd++] = (char)('0' + h % 10);
        while ((h /= 10) > 0);
        tmp[n++] = 'w';
        while (nd > 0)
            tmp[n++] = dig[--nd];
        tmp[n++] = '.';
    }
    uint64_t r1 = rng_next(), r2 = rng_next();
    for (int i = 0; i < ID_RAND_CHARS; i++) {
        uint64_t *r = i < 8 ? &r1 : &r2;
        tmp[n++] = b32[*r & 31];
        *r >>= 5;
    }
    if (home >= 0) {
        uint32_t sum = fnv1a(tmp, (size_t)n);
        for (int i = 0; i < ID_SUM_CHARS; i++) {
            tmp[n++] = b32[sum & 31];
            sum >>= 5;
        }
    }
    if ((size_t)n + 1 > size)
        return -1;
    memcpy(buf, tmp, (size_t)n);
    buf[n] = '\0';
    return n;
}

int sbc_sipmsg_make_id(char *buf, size_t size, int home)
{
    return write_id(buf, size, home) < 0 ? -1 : 0;
}

int sbc_sipmsg_make_branch(char *buf, size_t size, int home)
{
    if (size < sizeof cookie)
        return -1;
    memcpy(buf, cookie, sizeof cookie - 1);
    return write_id(buf + sizeof cookie - 1, size - (sizeof cookie - 1), home) < 0 ? -1 : 0;
}

int sbc_sipmsg_make_tag(char *buf, size_t size, int home)
{
    return sbc_sipmsg_make_id(buf, size, home);
}

int sbc_sipmsg_make_call_id(char *buf, size_t size, int home)
{
    return sbc_sipmsg_make_id(buf, size, home);
}

int sbc_sipmsg_home_from_id(const char *id)
{
    if (!id)
        return -1;
    if (strncmp(id, cookie, sizeof cookie - 1) == 0)
        id += sizeof cookie - 1;
    const char *p = id;
    if (*p++ != 'w')
        return -1;
    int home = 0, digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 4) {
        home = home * 10 + (*p++ - '0');
        digits++;
    }
    if (digits == 0 || digits > 3 || (digits > 1 && id[1] == '0') || *p++ != '.')
        return -1;
    for (int i = 0; i < ID_RAND_CHARS; i++)
        if (b32_val(*p++) < 0)
            return -1;
    size_t body = (size_t)(p - id);
    uint32_t sum = fnv1a(id, body);
    for (int i = 0; i < ID_SUM_CHARS; i++) {
        if (b32_val(*p++) != (int)(sum & 31))
            return -1;
        sum >>= 5;
    }
    if (*p != '\0' && *p != '@')
        return -1;
    return home;
}

/* ---- responses ---------------------------------------------------------- */

static int add_dup(msg_t *msg, sip_t *sip, const void *h)
{
    return h ? sip_add_dup(msg, sip, (const sip_header_t *)h) : 0;
}

msg_t *sbc_sipmsg_response(msg_t *req, int status, const char *phrase,
                           const sbc_sipmsg_resp_opt_t *opt)
{
    sip_t *rq = req ? sip_object(req) : NULL;
    if (!rq || !rq->sip_request || status < 100 || status > 699)
        return NULL;
    if (!rq->sip_via || !rq->sip_from || !rq->sip_to || !rq->sip_call_id || !rq->sip_cseq)
        return NULL;
    if (!phrase)
        phrase = sip_status_phrase(status);
    if (!phrase)
        phrase = "Unknown";

    msg_t *msg = msg_create(sip_default_mclass(), 0);
    if (!msg)
        return NULL;
    su_home_t *home = msg_home(msg);
    sip_t *sip = sip_object(msg);
    /* Sofia keeps the phrase pointer: copy it, the response may be encoded
     * after the message the phrase came from is gone (a held 2xx). */
    sip_status_t *st = sip_status_create(home, (unsigned)status, su_strdup(home, phrase), NULL);
    if (!st || msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)st) < 0)
        goto fail;
    if (add_dup(msg, sip, rq->sip_via) < 0 || add_dup(msg, sip, rq->sip_from) < 0 ||
        add_dup(msg, sip, rq->sip_to) < 0 || add_dup(msg, sip, rq->sip_call_id) < 0 ||
        add_dup(msg, sip, rq->sip_cseq) < 0)
        goto fail;
    if (status > 100 && !sip->sip_to->a_tag) {
        char tag[SBC_SIPMSG_ID_MAX];
        const char *t = opt && opt->to_tag ? opt->to_tag : NULL;
        if (!t) {
            if (sbc_sipmsg_make_tag(tag, sizeof tag, -1) < 0)
                goto fail;
            t = tag;
        }
        if (sip_to_tag(home, sip->sip_to, su_strdup(home, t)) < 0)
            goto fail;
    }
    if (opt && opt->reason && sip_add_make(msg, sip, sip_reason_class, opt->reason) < 0)
        goto fail;
    if (opt && opt->retry_after) {
        char ra[16];
        snprintf(ra, sizeof ra, "%u", opt->retry_after);
        if (sip_add_make(msg, sip, sip_retry_after_class, ra) < 0)
            goto fail;
    }
    if (opt && opt->extra && *opt->extra) {
        char *s = su_strdup(home, opt->extra);
        if (!s || msg_header_parse_str(msg, (msg_pub_t *)sip, s) < 0)
            goto fail;
    }
    if (opt && opt->ctype && opt->body && opt->body_len) {
        sip_payload_t *pl = sip_payload_create(home, opt->body, (isize_t)opt->body_len);
        if (sip_add_make(msg, sip, sip_content_type_class, opt->ctype) < 0 || !pl ||
            msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)pl) < 0)
            goto fail;
    }
    if (sip_complete_message(msg) < 0)
        goto fail;
    return msg;
fail:
    LOG_ERR("sip: cannot build %d response", status);
    msg_destroy(msg);
    return NULL;
}

/* ---- requests derived from another (ACK, CANCEL) ------------------------ */

msg_t *sbc_sipmsg_request_from(msg_t *orig, sip_method_t method, const char *method_name,
                               const sip_to_t *to)
{
    sip_t *o = orig ? sip_object(orig) : NULL;
    if (!o || !o->sip_request || !o->sip_via || !o->sip_from || !o->sip_to ||
        !o->sip_call_id || !o->sip_cseq)
        return NULL;
    msg_t *msg = msg_create(sip_default_mclass(), 0);
    if (!msg)
        return NULL;
    su_home_t *home = msg_home(msg);
    sip_t *sip = sip_object(msg);
    sip_request_t *rq = sip_request_create(home, method, method_name,
                                           (url_string_t const *)o->sip_request->rq_url, NULL);
    sip_via_t *via = sip_via_dup(home, o->sip_via);  /* dups the chain; keep only the top */
    if (via)
        via->v_next = NULL;
    sip_cseq_t *cs = sip_cseq_create(home, o->sip_cseq->cs_seq, method, method_name);
    if (!rq || !via || !cs)
        goto fail;
    if (msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)rq) < 0 ||
        msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)via) < 0 ||
        sip_add_make(msg, sip, sip_max_forwards_class, "70") < 0 ||
        add_dup(msg, sip, o->sip_route) < 0 ||
        add_dup(msg, sip, o->sip_from) < 0 ||
        add_dup(msg, sip, to ? to : o->sip_to) < 0 ||
        add_dup(msg, sip, o->sip_call_id) < 0 ||
        msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)cs) < 0)
        goto fail;
    if (sip_complete_message(msg) < 0)
        goto fail;
    return msg;
fail:
    LOG_ERR("sip: cannot build %s request", method_name ? method_name : "derived");
    msg_destroy(msg);
    return NULL;
}

/* ---- addresses ---------------------------------------------------------- */

int sbc_sipmsg_sockaddr(const char *host, uint16_t port, struct sockaddr_storage *ss,
                        socklen_t *len)
{
    char buf[INET6_ADDRSTRLEN + 2];
    if (!host)
        return -1;
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, host, n);
    buf[n] = '\0';
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        *len = sizeof *sin;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        *len = sizeof *sin6;
        return 0;
    }
    return -1;
}

/* Numeric host and port of a sockaddr; -1 for other families. */
static int addr_str(const struct sockaddr_storage *ss, char *host, size_t size, uint16_t *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        *port = ntohs(sin->sin_port);
        return inet_ntop(AF_INET, &sin->sin_addr, host, (socklen_t)size) ? 0 : -1;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        *port = ntohs(sin6->sin6_port);
        return inet_ntop(AF_INET6, &sin6->sin6_addr, host, (socklen_t)size) ? 0 : -1;
    }
    return -1;
}

/* Compares a Via host (maybe bracketed) with a numeric address. */
static int host_equals(const char *via_host, const char *ip)
{
    size_t n = strlen(via_host);
    if (n >= 2 && via_host[0] == '[' && via_host[n - 1] == ']')
        return strlen(ip) == n - 2 && strncasecmp(via_host + 1, ip, n - 2) == 0;
    return strcasecmp(via_host, ip) == 0;
}

static const char *tp_name(enum sbc_transport tp)
{
    switch (tp) {
    case SBC_TP_TCP: return "TCP";
    case SBC_TP_TLS: return "TLS";
    default: return "UDP";
    }
}

/* ---- Via ---------------------------------------------------------------- */

int sbc_sipmsg_via_add(msg_t *msg, enum sbc_transport tp, const char *host, uint16_t port,
                       const char *branch)
{
    sip_t *sip = msg ? sip_object(msg) : NULL;
    if (!sip || !host || !branch)
        return -1;
    char buf[512];
    int v6 = strchr(host, ':') && host[0] != '[';
    int n = snprintf(buf, sizeof buf, "SIP/2.0/%s %s%s%s:%u;branch=%s;rport", tp_name(tp),
                     v6 ? "[" : "", host, v6 ? "]" : "", (unsigned)port, branch);
    if (n < 0 || (size_t)n >= sizeof buf)
        return -1;
    sip_via_t *via = sip_via_make(msg_home(msg), buf);
    if (!via || msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)via) < 0) {
        LOG_ERR("sip: cannot add Via '%s'", buf);
        return -1;
    }
    return 0;
}

int sbc_sipmsg_via_add_hop(msg_t *msg, const sbc_hop_t *hop, const char *branch)
{
    char host[INET6_ADDRSTRLEN];
    uint16_t port = 0;
    if (!hop)
        return -1;
    if (hop->iface && hop->iface->sip_address)
        return sbc_sipmsg_via_add(msg, hop->tp, hop->iface->sip_address, hop->iface->sip_port,
                                  branch);
    if (addr_str(&hop->local, host, sizeof host, &port) < 0)
        return -1;
    return sbc_sipmsg_via_add(msg, hop->tp, host, port, branch);
}

int sbc_sipmsg_via_received(msg_t *msg, const sbc_hop_t *src)
{
    sip_t *sip = msg ? sip_object(msg) : NULL;
    if (!sip || !sip->sip_via || !src)
        return -1;
    sip_via_t *via = sip->sip_via;
    char ip[INET6_ADDRSTRLEN];
    uint16_t port;
    if (addr_str(&src->peer, ip, sizeof ip, &port) < 0)
        return -1;
    /* the parameter list keeps the string itself: allocate it in the message */
    su_home_t *home = msg_home(msg);
    int changed = 0;
    if (via->v_rport || !via->v_host || !host_equals(via->v_host, ip)) {
        char *param = su_sprintf(home, "received=%s", ip);
        if (!param || msg_header_replace_param(home, via->v_common, param) < 0)
            return -1;
        changed = 1;
    }
    if (via->v_rport) {
        char *param = su_sprintf(home, "rport=%u", (unsigned)port);
        if (!param || msg_header_replace_param(home, via->v_common, param) < 0)
            return -1;
        changed = 1;
    }
    if (changed)
        msg_fragment_clear(via->v_common);
    return 0;
}

static uint16_t via_port(const char *p, uint16_t dflt)
{
    if (!p || !*p)
        return dflt;
    char *end;
    unsigned long v = strtoul(p, &end, 10);
    if (*end || v == 0 || v > 65535)
        return dflt;
    return (uint16_t)v;
}

int sbc_sipmsg_response_hop(const sip_via_t *via, const sbc_hop_t *src, sbc_hop_t *out)
{
    if (!via || !src || !out)
        return -1;
    *out = *src;
    out->tls_name[0] = '\0';
    if (src->tp != SBC_TP_UDP)
        return 0;  /* §18.2.2: back on the connection the request came on */
    out->conn_id = 0;
    uint16_t dflt = via_port(via->v_port, 5060);
    const char *host;
    uint16_t port;
    if (via->v_maddr) {
        host = via->v_maddr;
        port = dflt;
    } else if (via->v_received) {
        host = via->v_received;
        port = via_port(via->v_rport, dflt);
    } else {
        host = via->v_host;
        port = dflt;
    }
    if (sbc_sipmsg_sockaddr(host, port, &out->peer, &out->peer_len) == 0)
        return 0;
    /* a name we would have to resolve: answer the source instead */
    if (src->peer_len == 0)
        return -1;
    out->peer = src->peer;
    out->peer_len = src->peer_len;
    return 0;
}

/* ---- Max-Forwards ------------------------------------------------------- */

int sbc_sipmsg_max_forwards_next(const sip_t *sip)
{
    if (!sip || !sip->sip_max_forwards)
        return 69;
    unsigned long mf = sip->sip_max_forwards->mf_count;
    if (mf == 0)
        return -1;
    return mf > 256 ? 255 : (int)mf - 1;
}

int sbc_sipmsg_max_forwards_decrement(msg_t *msg)
{
    sip_t *sip = msg ? sip_object(msg) : NULL;
    if (!sip)
        return -1;
    int next = sbc_sipmsg_max_forwards_next(sip);
    if (next < 0)
        return -1;
    if (!sip->sip_max_forwards) {
        char v[16];
        snprintf(v, sizeof v, "%d", next);
        return sip_add_make(msg, sip, sip_max_forwards_class, v) < 0 ? -1 : next;
    }
    sip->sip_max_forwards->mf_count = (unsigned long)next;
    msg_fragment_clear(sip->sip_max_forwards->mf_common);
    return next;
}

/* ---- extensions ------------------------------------------------------------ */

int sbc_sipmsg_unsupported(const sip_t *req, const char *const *supported, char *hdrs, size_t cap)
{
    int n = 0;
    size_t off = 0;
    if (cap)
        hdrs[0] = '\0';
    for (const sip_require_t *k = req ? req->sip_require : NULL; k; k = k->k_next) {
        for (const char *const *item = k->k_items; item && *item; item++) {
            bool known = false;
            for (const char *const *s = supported; s && *s && !known; s++)
                known = strcasecmp(*item, *s) == 0;
            if (known)
                continue;
            int w = snprintf(hdrs + off, off < cap ? cap - off : 0, "%s%s", off ? ", " : "Unsupported: ", *item);
            if (w > 0 && off + (size_t)w + 2 < cap)
                off += (size_t)w;
            else if (off < cap)
                hdrs[off] = '\0';   /* no room: the 420 lists the ones that fit */
            n++;
        }
    }
    if (off)
        memcpy(hdrs + off, "\r\n", 3);
    return n;
}
