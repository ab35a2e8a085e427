/* SDES a=crypto attributes (RFC 4568 §9.1 grammar), see sdes.h.
 *
 *   value      = tag 1*WSP suite 1*WSP key-params *(1*WSP session-param)
 *   key-params = "inline:" base64(key||salt) ["|" lifetime] ["|" mki-value ":" mki-length]
 *
 * Teams sends "inline:KEY|2^31|1:1", "inline:KEY|1:1" and plain "inline:KEY";
 * lifetime and MKI are told apart by the ':' so either order is accepted.
 * Session parameters that change packet processing (unencrypted or
 * unauthenticated SRTP, a key derivation rate) are refused: libsrtp2 would
 * silently fail every packet; the rest (WSH, FEC_*) are ignored. */
#include "media/sdes.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

static const char *const suite_names[] = {
    [SBC_SRTP_AES_CM_128_HMAC_SHA1_80] = "AES_CM_128_HMAC_SHA1_80",
    [SBC_SRTP_AES_CM_128_HMAC_SHA1_32] = "AES_CM_128_HMAC_SHA1_32",
};
#define N_SUITES (sizeof(suite_names) / sizeof(suite_names[0]))

#define B64_KEY_LEN 40              /* 30 bytes, no padding */

struct span {
    const char *p;
    size_t n;
};

static bool span_eq(struct span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool span_prefix(struct span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n >= n && memcmp(s.p, lit, n) == 0;
}

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* Next whitespace-separated token of [*pos, end); false at the end. */
static bool next_token(const char **pos, const char *end, struct span *tok)
{
    const char *p = *pos;
    while (p < end && is_wsp(*p))
        p++;
    if (p == end)
        return false;
    tok->p = p;
    while (p < end && !is_wsp(*p))
        p++;
    tok->n = (size_t)(p - tok->p);
    *pos = p;
    return true;
}

/* Decimal digits only, at most maxdig of them, value <= max. */
static bool parse_uint(struct span s, size_t maxdig, unsigned long long max,
                       unsigned long long *out)
{
    unsigned long long v = 0;
    if (s.n == 0 || s.n > maxdig)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return false;
        v = v * 10 + (unsigned long long)(s.p[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict RFC 4648 base64: the standard alphabet, '=' padding only at the end
 * of a length that is a multiple of 4, no stray bits. Returns the decoded
 * length (which may exceed cap: only cap bytes are written), or -1. */
static long b64_decode(struct span s, uint8_t *out, size_t cap)
{
    size_t pad = 0, n = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (s.n % 4 != 0)
        return -1;
    if (s.n >= 1 && s.p[s.n - 1] == '=')
        pad = (s.n >= 2 && s.p[s.n - 2] == '=') ? 2 : 1;
    for (size_t i = 0; i < s.n - pad; i++) {
        int v = b64_val(s.p[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n < cap)
                out[n] = (uint8_t)(acc >> bits);
            n++;
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)                   /* non-canonical: leftover bits must be zero */
        return -1;
    return (long)n;
}

static size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = abc[(v >> 6) & 63];
        out[o++] = abc[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

/* "2^n" (1 <= n <= 64) or a positive decimal count of packets. */
static bool valid_lifetime(struct span s)
{
    unsigned long long v;
    if (s.n >= sizeof(((sbc_sdes_t *)0)->lifetime))
        return false;
    if (span_prefix(s, "2^")) {
        struct span e = {s.p + 2, s.n - 2};
        return parse_uint(e, 2, 64, &v) && v >= 1;
    }
    return parse_uint(s, 20, ~0ULL, &v) && v >= 1 && s.p[0] != '0';
}

static int parse_key_params(struct span kp, sbc_sdes_t *out, char *err, size_t errlen)
{
    const char *end = kp.p + kp.n;
    const char *bar;
    struct span key;
    bool have_life = false, have_mki = false;
    long n;

    if (memchr(kp.p, ';', kp.n) != NULL) {
        snprintf(err, errlen, "sdes: several master keys in one crypto line are not supported");
        return -1;
    }
    if (!span_prefix(kp, "inline:")) {
        snprintf(err, errlen, "sdes: key method is not inline: \"%.*s\"", (int)(kp.n > 16 ? 16 : kp.n),
                 kp.p);
        return -1;
    }
    key.p = kp.p + 7;
    bar = memchr(key.p, '|', (size_t)(end - key.p));
    key.n = (size_t)((bar ? bar : end) - key.p);
    n = b64_decode(key, out->key, sizeof(out->key));
    if (n < 0) {
        snprintf(err, errlen, "sdes: bad base64 in inline key");
        return -1;
    }
    if (n != SBC_SRTP_KEY_LEN || key.n != B64_KEY_LEN) {
        snprintf(err, errlen, "sdes: inline key is %ld bytes, want %d", n, SBC_SRTP_KEY_LEN);
        return -1;
    }
    while (bar != NULL) {
        struct span f;
        f.p = bar + 1;
        bar = memchr(f.p, '|', (size_t)(end - f.p));
        f.n = (size_t)((bar ? bar : end) - f.p);
        const char *colon = memchr(f.p, ':', f.n);
        if (colon != NULL) {
            struct span v = {f.p, (size_t)(colon - f.p)};
            struct span l = {colon + 1, (size_t)(f.p + f.n - colon - 1)};
            unsigned long long mv, ml;
            /* mki-value is 1*DIGIT: we keep up to 32 bits; mki-length 1..128 */
            if (have_mki || !parse_uint(v, 10, 0xffffffffULL, &mv) ||
                !parse_uint(l, 3, 128, &ml) || ml == 0 || (ml < 4 && mv >> (8 * ml) != 0)) {
                snprintf(err, errlen, "sdes: bad MKI \"%.*s\"", (int)(f.n > 24 ? 24 : f.n), f.p);
                return -1;
            }
            out->mki_value = (uint32_t)mv;
            out->mki_len = (uint8_t)ml;
            have_mki = true;
        } else {
            if (have_life || !valid_lifetime(f)) {
                snprintf(err, errlen, "sdes: bad key lifetime \"%.*s\"", (int)(f.n > 24 ? 24 : f.n),
                         f.p);
                return -1;
            }
            memcpy(out->lifetime, f.p, f.n);
            out->lifetime[f.n] = '\0';
            have_life = true;
        }
    }
    return 0;
}

static int check_session_param(struct span sp, char *err, size_t errlen)
{
    static const char *const refused[] = {"UNENCRYPTED_SRTP", "UNENCRYPTED_SRTCP",
                                          "UNAUTHENTICATED_SRTP"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        if (span_eq(sp, refused[i])) {
            snprintf(err, errlen, "sdes: session parameter %s is not supported", refused[i]);
            return -1;
        }
    }
    /* KDR=0 is the default; any other rate needs re-derivation libsrtp2 lacks. */
    if (span_prefix(sp, "KDR=") && !span_eq(sp, "KDR=0")) {
        snprintf(err, errlen, "sdes: key derivation rate \"%.*s\" is not supported",
                 (int)(sp.n > 16 ? 16 : sp.n), sp.p);
        return -1;
    }
    return 0;
}

int sbc_sdes_parse(const char *value, size_t len, sbc_sdes_t *out, char *err, size_t errlen)
{
    const char *pos = value, *end = value + len;
    struct span tag, suite, kp, sp;
    unsigned long long t;
    size_t i;

    memset(out, 0, sizeof(*out));
    while (end > pos && (end[-1] == '\r' || end[-1] == '\n'))
        end--;
    if (!next_token(&pos, end, &tag) || !parse_uint(tag, 9, 999999999ULL, &t)) {
        snprintf(err, errlen, "sdes: missing or bad tag");
        return -1;
    }
    out->tag = (int)t;
    if (!next_token(&pos, end, &suite)) {
        snprintf(err, errlen, "sdes: missing crypto suite");
        return -1;
    }
    for (i = 0; i < N_SUITES; i++) {
        if (span_eq(suite, suite_names[i]))
            break;
    }
    if (i == N_SUITES) {
        snprintf(err, errlen, "sdes: unsupported crypto suite %.*s", (int)(suite.n > 48 ? 48 : suite.n),
                 suite.p);
        return -1;
    }
    out->suite = (enum sbc_srtp_suite)i;
    if (!next_token(&pos, end, &kp)) {
        snprintf(err, errlen, "sdes: missing key parameters");
        return -1;
    }
    if (parse_key_params(kp, out, err, errlen) != 0)
        goto fail;
    while (next_token(&pos, end, &sp)) {
        if (check_session_param(sp, err, errlen) != 0)
            goto fail;
    }
    return 0;
fail:
    memset(out->key, 0, sizeof(out->key));
    return -1;
}

int sbc_sdes_format(const sbc_sdes_t *s, char *buf, size_t cap)
{
    char key[B64_KEY_LEN + 1];
    char mki[24] = "";
    int n;

    if ((unsigned)s->suite >= N_SUITES || s->tag < 0)
        return -1;
    b64_encode(s->key, sizeof(s->key), key);
    if (s->mki_len > 0)
        snprintf(mki, sizeof(mki), "|%u:%u", s->mki_value, (unsigned)s->mki_len);
    n = snprintf(buf, cap, "%d %s inline:%s%s%s%s", s->tag, suite_names[s->suite], key,
                 s->lifetime[0] ? "|" : "", s->lifetime, mki);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return n;
}

/* Master keys come from a per-thread pool refilled 2 KiB at a time: one
 * RAND_bytes (with its fork check, a getpid system call) per ~68 keys
 * instead of per call. Each byte is handed out once and wiped; a forked
 * child starts with an empty pool, so it never repeats its parent's keys. */
#define KEY_POOL 2048
static __thread uint8_t key_pool[KEY_POOL];
static __thread size_t key_pool_left;
static pthread_once_t key_pool_once = PTHREAD_ONCE_INIT;

static void key_pool_forked(void)
{
    OPENSSL_cleanse(key_pool, sizeof(key_pool));
    key_pool_left = 0;
}

static void key_pool_init(void)
{
    pthread_atfork(NULL, NULL, key_pool_forked);
}

static int random_bytes(uint8_t *out, size_t n)
{
    pthread_once(&key_pool_once, key_pool_init);
    if (n > KEY_POOL)
        return RAND_bytes(out, (int)n) == 1 ? 0 : -1;
    if (key_pool_left < n) {
        if (RAND_bytes(key_pool, KEY_POOL) != 1)
            return -1;
        key_pool_left = KEY_POOL;
    }
    uint8_t *src = key_pool + KEY_POOL - key_pool_left;
    memcpy(out, src, n);
    OPENSSL_cleanse(src, n);
    key_pool_left -= n;
    return 0;
}

int sbc_sdes_generate(sbc_sdes_t *out, int tag, enum sbc_srtp_suite suite)
{
    memset(out, 0, sizeof(*out));
    if ((unsigned)suite >= N_SUITES || tag < 0)
        return -1;
    if (random_bytes(out->key, sizeof(out->key)) != 0)
        return -1;
    out->tag = tag;
    out->suite = suite;
    /* The lifetime Teams' own offers carry (TEAMS.md §3, R33). */
    snprintf(out->lifetime, sizeof(out->lifetime), "2^31");
    return 0;
}
