/* Test helpers: build RTP and RTCP packets, a deterministic generator. */
#ifndef SBC_TEST_RTP_BUILD_H
#define SBC_TEST_RTP_BUILD_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* xorshift64*: the same sequence on every run and in every process. */
static inline uint64_t tr_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static inline void tr_fill(uint64_t *s, uint8_t *p, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(tr_next(s) >> 32);
}

static inline void tr_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void tr_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* RTP with csrc_count CSRCs, an optional one-word RFC 8285 extension and a
 * payload from the generator. Returns the length. */
static inline int tr_rtp(uint8_t *buf, uint64_t *rng, uint32_t ssrc, uint16_t seq, uint32_t ts,
                         int payload_len, int csrc_count, bool ext)
{
    int n = 12;
    buf[0] = (uint8_t)(0x80 | (ext ? 0x10 : 0) | (csrc_count & 0x0f));
    buf[1] = (uint8_t)((seq & 1) ? 0 : 8);   /* PCMU / PCMA */
    tr_be16(buf + 2, seq);
    tr_be32(buf + 4, ts);
    tr_be32(buf + 8, ssrc);
    for (int i = 0; i < csrc_count; i++, n += 4)
        tr_be32(buf + n, 0x1000u + (uint32_t)i);
    if (ext) {
        tr_be16(buf + n, 0xBEDE);
        tr_be16(buf + n + 2, 1);
        tr_fill(rng, buf + n + 4, 4);
        n += 8;
    }
    tr_fill(rng, buf + n, payload_len);
    return n + payload_len;
}

/* RTCP sender report with extra_words of random report body. */
static inline int tr_rtcp(uint8_t *buf, uint64_t *rng, uint32_t ssrc, int extra_words)
{
    int words = 6 + extra_words;     /* SSRC + sender info, after the first word */
    buf[0] = 0x80;
    buf[1] = 200;
    tr_be16(buf + 2, (uint16_t)words);
    tr_be32(buf + 4, ssrc);
    tr_fill(rng, buf + 8, 4 * (words - 1));
    return 4 * (words + 1);
}

#endif
