/* SDP rewrite: line views over the received body, and a printer for the body
 * the other leg gets. Text processing keeps unknown lines byte for byte. */
#include "media/sdp_rewrite.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const dir_names[] = { "sendrecv", "sendonly", "recvonly", "inactive" };

/* Attributes never forwarded: they describe the far side's transport or
 * security, which the relay terminates. Direction is rewritten separately. */
static const char *const dropped_attrs[] = {
    "candidate", "ice-ufrag", "ice-pwd", "ice-options", "ice-lite", "ice-mismatch",
    "remote-candidates", "end-of-candidates", "ice-pacing", "fingerprint", "setup",
    "tls-id", "group", "rtcp", "rtcp-mux", "crypto", "sendrecv", "sendonly", "recvonly",
    "inactive", NULL,
};

const char *sbc_sdp_dir_name(enum sbc_sdp_dir d)
{
    return (unsigned)d < 4 ? dir_names[d] : "sendrecv";
}

bool sbc_sdp_str_eq(struct sbc_sdp_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool str_ieq(struct sbc_sdp_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

/* Splits the next space-separated token off *rest. */
static bool next_tok(struct sbc_sdp_str *rest, struct sbc_sdp_str *tok)
{
    while (rest->n && *rest->p == ' ') {
        rest->p++;
        rest->n--;
    }
    if (!rest->n)
        return false;
    tok->p = rest->p;
    while (rest->n && *rest->p != ' ') {
        rest->p++;
        rest->n--;
    }
    tok->n = (size_t)(rest->p - tok->p);
    return true;
}

static bool tok_u16(struct sbc_sdp_str t, uint16_t *out)
{
    unsigned v = 0;
    if (!t.n || t.n > 5)
        return false;
    for (size_t i = 0; i < t.n; i++) {
        if (t.p[i] < '0' || t.p[i] > '9')
            return false;
        v = v * 10 + (unsigned)(t.p[i] - '0');
    }
    if (v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

static bool tok_ipv4(struct sbc_sdp_str t, struct in_addr *out)
{
    char buf[INET_ADDRSTRLEN];
    size_t n = t.n;
    const char *slash = memchr(t.p, '/', t.n);     /* multicast TTL */
    if (slash)
        n = (size_t)(slash - t.p);
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, t.p, n);
    buf[n] = 0;
    return inet_pton(AF_INET, buf, out) == 1;
}

/* "IN IP4 <addr>" */
static int parse_addr_triplet(struct sbc_sdp_str rest, struct in_addr *out, const char *what, char *err,
                              size_t errlen)
{
    struct sbc_sdp_str net, type, addr;
    if (!next_tok(&rest, &net) || !next_tok(&rest, &type) || !next_tok(&rest, &addr) || !str_ieq(net, "IN")) {
        snprintf(err, errlen, "SDP %s: expected 'IN IP4 <address>'", what);
        return -1;
    }
    if (!str_ieq(type, "IP4")) {
        snprintf(err, errlen, "SDP %s: address type %.*s not supported", what, (int)type.n, type.p);
        return -1;
    }
    if (!tok_ipv4(addr, out)) {
        snprintf(err, errlen, "SDP %s: bad IPv4 address '%.*s'", what, (int)addr.n, addr.p);
        return -1;
    }
    return 0;
}

static struct sbc_sdp_str attr_name(struct sbc_sdp_str line, struct sbc_sdp_str *value)
{
    struct sbc_sdp_str name = { line.p + 2, line.n - 2 };
    const char *colon = memchr(name.p, ':', name.n);
    if (colon) {
        value->p = colon + 1;
        value->n = name.n - (size_t)(colon + 1 - name.p);
        name.n = (size_t)(colon - name.p);
    } else {
        value->p = name.p + name.n;
        value->n = 0;
    }
    return name;
}

static bool dir_from_name(struct sbc_sdp_str name, enum sbc_sdp_dir *d)
{
    for (unsigned i = 0; i < 4; i++)
        if (sbc_sdp_str_eq(name, dir_names[i])) {
            *d = (enum sbc_sdp_dir)i;
            return true;
        }
    return false;
}

static int parse_media_attr(struct sbc_sdp_media *m, struct sbc_sdp_str line, char *err, size_t errlen)
{
    struct sbc_sdp_str value, name = attr_name(line, &value);
    enum sbc_sdp_dir d;
    if (sbc_sdp_str_eq(name, "rtcp")) {
        struct sbc_sdp_str port;
        if (!next_tok(&value, &port) || !tok_u16(port, &m->rtcp_port)) {
            snprintf(err, errlen, "SDP a=rtcp: bad port");
            return -1;
        }
        if (value.n) {
            if (parse_addr_triplet(value, &m->rtcp_addr, "a=rtcp", err, errlen) < 0)
                return -1;
            m->has_rtcp_addr = true;
        }
    } else if (sbc_sdp_str_eq(name, "rtcp-mux")) {
        m->rtcp_mux = true;
    } else if (sbc_sdp_str_eq(name, "crypto")) {
        if (m->n_crypto < SBC_SDP_MAX_CRYPTO)
            m->crypto[m->n_crypto++] = value;
    } else if (sbc_sdp_str_eq(name, "candidate") || sbc_sdp_str_eq(name, "ice-ufrag")) {
        m->ice = true;
    } else if (dir_from_name(name, &d)) {
        m->dir = d;
        m->dir_explicit = true;
    }
    return 0;
}

static int parse_mline(struct sbc_sdp_media *m, struct sbc_sdp_str v, char *err, size_t errlen)
{
    struct sbc_sdp_str port;
    if (!next_tok(&v, &m->type) || !next_tok(&v, &port) || !next_tok(&v, &m->proto)) {
        snprintf(err, errlen, "SDP m=: expected '<media> <port> <proto> <fmt>...'");
        return -1;
    }
    const char *slash = memchr(port.p, '/', port.n);   /* port/count */
    if (slash)
        port.n = (size_t)(slash - port.p);
    if (!tok_u16(port, &m->port)) {
        snprintf(err, errlen, "SDP m=: bad port '%.*s'", (int)port.n, port.p);
        return -1;
    }
    while (v.n && *v.p == ' ') {
        v.p++;
        v.n--;
    }
    while (v.n && v.p[v.n - 1] == ' ')
        v.n--;
    if (!v.n) {
        snprintf(err, errlen, "SDP m=%.*s: no formats", (int)m->type.n, m->type.p);
        return -1;
    }
    m->fmts = v;
    return 0;
}

int sbc_sdp_parse(const char *text, size_t len, struct sbc_sdp *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    const char *p = text, *end = text + len;
    struct sbc_sdp_media *m = NULL;
    bool have_o = false;

    /* RFC 4566 text never holds NUL or a CR outside a line end. Either would
     * be printed differently than parsed (a NUL cuts a field short; a bare CR
     * is a line end to some peers, smuggling a line past the rewrite). */
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\0' || (text[i] == '\r' && (i + 1 == len || text[i + 1] != '\n'))) {
            snprintf(err, errlen, "SDP: %s at byte %zu", text[i] ? "bare CR" : "NUL", i);
            return -1;
        }

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        struct sbc_sdp_str line = { p, (size_t)(le - p) };
        p = nl ? nl + 1 : end;
        if (line.n && line.p[line.n - 1] == '\r')
            line.n--;
        if (!line.n)
            continue;
        if (line.n < 2 || line.p[1] != '=') {
            snprintf(err, errlen, "SDP line %u: not '<type>=<value>'", s->n_lines + 1);
            return -1;
        }
        if (s->n_lines == SBC_SDP_MAX_LINES) {
            snprintf(err, errlen, "SDP: more than %d lines", SBC_SDP_MAX_LINES);
            return -1;
        }
        if (s->n_lines == 0 && !sbc_sdp_str_eq(line, "v=0")) {
            snprintf(err, errlen, "SDP: does not start with v=0");
            return -1;
        }
        uint32_t idx = s->n_lines++;
        s->line[idx] = line;
        struct sbc_sdp_str v = { line.p + 2, line.n - 2 };
        char t = line.p[0];

        if (t == 'm') {
            if (s->n_media == SBC_SDP_MAX_MEDIA) {
                snprintf(err, errlen, "SDP: more than %d m= lines", SBC_SDP_MAX_MEDIA);
                return -1;
            }
            if (!m)
                s->n_session = idx;
            m = &s->media[s->n_media++];
            if (parse_mline(m, v, err, errlen) < 0)
                return -1;
            m->first_line = idx + 1;
            m->dir = s->session_dir;
            if (s->has_session_addr) {
                m->addr = s->session_addr;
                m->addr_known = true;
            }
            continue;
        }
        if (m)
            m->n_lines++;
        if (t == 'o' && !m) {
            struct sbc_sdp_str addr_part = v;
            if (!next_tok(&addr_part, &s->o_user) || !next_tok(&addr_part, &s->o_sess_id) ||
                !next_tok(&addr_part, &s->o_version)) {
                snprintf(err, errlen, "SDP o=: expected '<user> <sess-id> <version> IN IP4 <address>'");
                return -1;
            }
            have_o = true;
        } else if (t == 'c') {
            struct in_addr a;
            if (parse_addr_triplet(v, &a, "c=", err, errlen) < 0)
                return -1;
            if (m) {
                m->addr = a;
                m->has_addr = m->addr_known = true;
            } else {
                s->session_addr = a;
                s->has_session_addr = true;
            }
        } else if (t == 'a') {
            if (m) {
                if (parse_media_attr(m, line, err, errlen) < 0)
                    return -1;
            } else {
                struct sbc_sdp_str value, name = attr_name(line, &value);
                dir_from_name(name, &s->session_dir);
            }
        }
    }
    if (!s->n_lines) {
        snprintf(err, errlen, "SDP: empty body");
        return -1;
    }
    if (!have_o) {
        snprintf(err, errlen, "SDP: no o= line");
        return -1;
    }
    if (!m)
        s->n_session = s->n_lines;
    for (unsigned i = 0; i < s->n_media; i++)
        if (s->media[i].port && !s->media[i].addr_known) {
            snprintf(err, errlen, "SDP m=%.*s: no c= line", (int)s->media[i].type.n, s->media[i].type.p);
            return -1;
        }
    return 0;
}

enum sbc_sdp_dir sbc_sdp_media_dir(const struct sbc_sdp *s, unsigned i)
{
    const struct sbc_sdp_media *m = &s->media[i];
    if (m->addr_known && m->addr.s_addr == INADDR_ANY)
        return m->dir == SBC_SDP_SENDONLY ? SBC_SDP_SENDONLY : SBC_SDP_INACTIVE;
    return m->dir;
}

/* Output buffer with overflow tracking: one check at the end. */
struct wbuf {
    char *p;
    size_t cap, len;
    bool overflow;
};

static void w_raw(struct wbuf *w, const char *s, size_t n)
{
    if (w->len + n > w->cap) {
        w->overflow = true;
        return;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

static void w_line(struct wbuf *w, struct sbc_sdp_str l)
{
    w_raw(w, l.p, l.n);
    w_raw(w, "\r\n", 2);
}

__attribute__((format(printf, 2, 3))) static void w_fmt(struct wbuf *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = w->cap > w->len ? w->cap - w->len : 0;
    int n = vsnprintf(w->p + w->len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        w->overflow = true;
        return;
    }
    w->len += (size_t)n;
}

/* The encoding name of payload type pt in m-line m (its a=rtpmap), or the
 * static assignment of RFC 3551 for the PTs Teams knows. */
static struct sbc_sdp_str pt_encoding(const struct sbc_sdp *src, const struct sbc_sdp_media *m, struct sbc_sdp_str pt)
{
    for (uint32_t i = m->first_line; i < m->first_line + m->n_lines; i++) {
        struct sbc_sdp_str value, name = attr_name(src->line[i], &value);
        struct sbc_sdp_str num;
        if (src->line[i].p[0] != 'a' || !sbc_sdp_str_eq(name, "rtpmap") || !next_tok(&value, &num) ||
            num.n != pt.n || memcmp(num.p, pt.p, pt.n) != 0)
            continue;
        struct sbc_sdp_str enc;
        if (!next_tok(&value, &enc))
            break;
        const char *slash = memchr(enc.p, '/', enc.n);
        if (slash)
            enc.n = (size_t)(slash - enc.p);
        return enc;
    }
    static const struct { const char *pt, *name; } fixed[] = {
        { "0", "PCMU" }, { "8", "PCMA" }, { "9", "G722" }, { "13", "CN" }, { "18", "G729" },
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (sbc_sdp_str_eq(pt, fixed[i].pt))
            return (struct sbc_sdp_str){ fixed[i].name, strlen(fixed[i].name) };
    return (struct sbc_sdp_str){ "", 0 };
}

/* 1: a voice codec Teams takes; 2: CN or telephone-event; 0: not for Teams. */
static int teams_kind(struct sbc_sdp_str enc)
{
    static const char *const voice[] = { "PCMU", "PCMA", "G722", "G729", "SILK", NULL };
    for (const char *const *v = voice; *v; v++)
        if (str_ieq(enc, *v))
            return 1;
    return str_ieq(enc, "CN") || str_ieq(enc, "telephone-event") ? 2 : 0;
}

unsigned sbc_sdp_teams_codecs(const struct sbc_sdp *s, unsigned k)
{
    const struct sbc_sdp_media *m = &s->media[k];
    struct sbc_sdp_str rest = m->fmts, pt;
    unsigned n = 0;
    while (next_tok(&rest, &pt))
        n += teams_kind(pt_encoding(s, m, pt)) == 1;
    return n;
}

/* An a=rtpmap/a=fmtp line of a payload type the Teams filter dropped. */
static bool attr_of_dropped_pt(const struct sbc_sdp *src, const struct sbc_sdp_media *m, struct sbc_sdp_str line)
{
    struct sbc_sdp_str value, name = attr_name(line, &value), pt;
    if ((!sbc_sdp_str_eq(name, "rtpmap") && !sbc_sdp_str_eq(name, "fmtp")) || !next_tok(&value, &pt))
        return false;
    return teams_kind(pt_encoding(src, m, pt)) == 0;
}

static bool attr_dropped(struct sbc_sdp_str line)
{
    struct sbc_sdp_str value, name = attr_name(line, &value);
    for (const char *const *d = dropped_attrs; *d; d++)
        if (sbc_sdp_str_eq(name, *d))
            return true;
    return false;
}

int sbc_sdp_write(const struct sbc_sdp *src, const struct sbc_sdp_out *out, char *buf, size_t cap)
{
    struct wbuf w = { buf, cap, 0, false };
    w_fmt(&w, "v=0\r\no=- %" PRIu64 " %" PRIu64 " IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\n", out->sess_id,
          out->sess_version, out->addr, out->addr);
    /* Session part in RFC 4566 order: b=, then t=/r=, then a=. */
    static const char order[][3] = { "b", "tr", "a" };
    for (unsigned pass = 0; pass < 3; pass++)
        for (uint32_t i = 1; i < src->n_session; i++) {
            struct sbc_sdp_str l = src->line[i];
            if (!strchr(order[pass], l.p[0]))
                continue;
            if (l.p[0] == 'a' && attr_dropped(l))
                continue;
            w_line(&w, l);
        }
    for (unsigned k = 0; k < src->n_media; k++) {
        const struct sbc_sdp_media *m = &src->media[k];
        const struct sbc_sdp_media_out *mo = &out->media[k];
        w_fmt(&w, "m=%.*s %u ", (int)m->type.n, m->type.p, mo->disabled ? 0u : mo->port);
        if (mo->proto)
            w_raw(&w, mo->proto, strlen(mo->proto));
        else
            w_raw(&w, m->proto.p, m->proto.n);
        w_raw(&w, " ", 1);
        if (mo->teams_codecs && !mo->disabled) {
            struct sbc_sdp_str rest = m->fmts, pt;
            bool first = true;
            while (next_tok(&rest, &pt)) {
                if (!teams_kind(pt_encoding(src, m, pt)))
                    continue;
                if (!first)
                    w_raw(&w, " ", 1);
                w_raw(&w, pt.p, pt.n);
                first = false;
            }
            w_raw(&w, "\r\n", 2);
        } else {
            w_line(&w, m->fmts);
        }
        if (mo->disabled)
            continue;
        for (uint32_t i = m->first_line; i < m->first_line + m->n_lines; i++)
            if (src->line[i].p[0] == 'b')
                w_line(&w, src->line[i]);
        w_fmt(&w, "a=rtcp:%u\r\n", mo->rtcp_mux ? mo->port : mo->port + 1u);
        if (mo->rtcp_mux)
            w_raw(&w, "a=rtcp-mux\r\n", 12);
        if (mo->crypto)
            w_fmt(&w, "a=crypto:%s\r\n", mo->crypto);
        for (uint32_t i = m->first_line; i < m->first_line + m->n_lines; i++) {
            struct sbc_sdp_str l = src->line[i];
            if (l.p[0] != 'a' || attr_dropped(l) || (mo->teams_codecs && attr_of_dropped_pt(src, m, l)))
                continue;
            w_line(&w, l);
        }
        if (mo->dir != SBC_SDP_SENDRECV)
            w_fmt(&w, "a=%s\r\n", sbc_sdp_dir_name(mo->dir));
    }
    if (w.overflow)
        return -1;
    if (w.len < cap)
        buf[w.len] = 0;
    return (int)w.len;
}
