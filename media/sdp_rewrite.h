/* SDP rewrite for an anchored relay: parse an SDP body into line views, then
 * print the body to send on the other leg with our address, ports, profile,
 * RTCP and crypto lines, passing codecs and the rest through.
 * Plain text processing (no allocation): the parsed form points into the
 * caller's buffer, which must outlive it. */
#ifndef SBC_SDP_REWRITE_H
#define SBC_SDP_REWRITE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SBC_SDP_MAX_LINES 256
#define SBC_SDP_MAX_MEDIA 8
#define SBC_SDP_MAX_CRYPTO 8

enum sbc_sdp_dir {
    SBC_SDP_SENDRECV = 0,
    SBC_SDP_SENDONLY,
    SBC_SDP_RECVONLY,
    SBC_SDP_INACTIVE,
};

struct sbc_sdp_str {
    const char *p;
    size_t n;
};

struct sbc_sdp_media {
    struct sbc_sdp_str type;             /* "audio", "video", ... */
    uint16_t port;
    struct sbc_sdp_str proto;            /* "RTP/SAVP", ... */
    struct sbc_sdp_str fmts;             /* format list as written */
    uint32_t first_line, n_lines;        /* lines after the m= line */
    bool has_addr;                       /* a media-level c= */
    struct in_addr addr;                 /* effective (media c= or session c=) */
    bool addr_known;                     /* some c= applied */
    uint16_t rtcp_port;                  /* a=rtcp, 0 = absent */
    bool has_rtcp_addr;
    struct in_addr rtcp_addr;
    bool rtcp_mux;
    bool ice;                            /* candidates or ufrag seen */
    enum sbc_sdp_dir dir;                /* effective (media over session) */
    bool dir_explicit;
    struct sbc_sdp_str crypto[SBC_SDP_MAX_CRYPTO];   /* a=crypto values */
    unsigned n_crypto;
};

struct sbc_sdp {
    struct sbc_sdp_str line[SBC_SDP_MAX_LINES];      /* without the line end */
    uint32_t n_lines;
    uint32_t n_session;                  /* lines before the first m= */
    struct sbc_sdp_str o_user, o_sess_id, o_version;
    bool has_session_addr;
    struct in_addr session_addr;
    enum sbc_sdp_dir session_dir;
    struct sbc_sdp_media media[SBC_SDP_MAX_MEDIA];
    unsigned n_media;
};

/* Parses and checks the lines the relay needs (v=, o=, c=, m=). IPv6
 * connection addresses are refused. Returns 0 or -1 with a reason. */
int sbc_sdp_parse(const char *text, size_t len, struct sbc_sdp *out, char *err, size_t errlen);

/* How to print one m-line of the source on the other leg. */
struct sbc_sdp_media_out {
    bool disabled;                       /* port 0, m= line only */
    uint16_t port;                       /* our RTP port */
    const char *proto;                   /* NULL = the source's */
    bool rtcp_mux;                       /* write a=rtcp-mux; a=rtcp names port or port + 1 */
    const char *crypto;                  /* an a=crypto value, or NULL */
    enum sbc_sdp_dir dir;                /* written when not sendrecv */
    bool teams_codecs;                   /* keep only codecs Teams accepts (R36) */
};

struct sbc_sdp_out {
    const char *addr;                    /* our address for o= and c= */
    uint64_t sess_id, sess_version;
    const struct sbc_sdp_media_out *media;   /* one per source m-line */
};

/* Prints the rewritten body. Dropped from the source: o=/c= values, i=, u=,
 * e=, p=, k=, ICE and DTLS attributes, a=group, a=rtcp, a=rtcp-mux, a=crypto
 * and direction attributes (rewritten from `out`). Everything else (codecs,
 * their order, fmtp, telephone-event, ptime, b=, unknown attributes) passes.
 * Returns the length, or -1 when cap is too small. */
int sbc_sdp_write(const struct sbc_sdp *src, const struct sbc_sdp_out *out, char *buf, size_t cap);

/* Effective direction of source m-line i; c=0.0.0.0 (old-style hold) reads
 * as inactive, or sendonly when the line says so. */
enum sbc_sdp_dir sbc_sdp_media_dir(const struct sbc_sdp *s, unsigned i);
const char *sbc_sdp_dir_name(enum sbc_sdp_dir d);
bool sbc_sdp_str_eq(struct sbc_sdp_str s, const char *lit);

/* Voice codecs of m-line k that Teams accepts (R36: SILK, G.711, G.722,
 * G.729; CN and telephone-event ride along but do not count). */
unsigned sbc_sdp_teams_codecs(const struct sbc_sdp *s, unsigned k);

#endif
