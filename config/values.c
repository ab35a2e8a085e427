/* Scalar syntaxes (see values.h). */
#include "config/values.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

/* Leading decimal digits into *v; returns the number of digits (0 = none or overflow). */
static size_t parse_digits(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return 0;
        x = x * 10 + d;
    }
    *v = x;
    return i;
}

bool sbc_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v;
    size_t n = parse_digits(s, &v);
    if (n == 0 || n > 20 || s[n] != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool sbc_parse_duration_ms(const char *s, uint32_t *ms)
{
    uint64_t v;
    size_t n = parse_digits(s, &v);
    if (n == 0)
        return false;
    const char *u = s + n;
    uint64_t mul;
    if (*u == '\0' || strcmp(u, "s") == 0)
        mul = 1000;
    else if (strcmp(u, "ms") == 0)
        mul = 1;
    else if (strcmp(u, "m") == 0)
        mul = 60 * 1000;
    else if (strcmp(u, "h") == 0)
        mul = 3600 * 1000;
    else
        return false;
    if (v > UINT32_MAX / mul)
        return false;
    *ms = (uint32_t)(v * mul);
    return true;
}

bool sbc_parse_size(const char *s, uint64_t *bytes)
{
    static const struct { const char *unit; uint64_t mul; } units[] = {
        { "", 1 }, { "B", 1 },
        { "KiB", 1ull << 10 }, { "MiB", 1ull << 20 }, { "GiB", 1ull << 30 },
        { "kB", 1000 }, { "KB", 1000 }, { "MB", 1000 * 1000 }, { "GB", 1000 * 1000 * 1000 },
    };
    uint64_t v;
    size_t n = parse_digits(s, &v);
    if (n == 0)
        return false;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(s + n, units[i].unit) == 0) {
            if (v > UINT64_MAX / units[i].mul)
                return false;
            *bytes = v * units[i].mul;
            return true;
        }
    return false;
}

bool sbc_parse_port(const char *s, uint16_t *port)
{
    uint64_t v;
    if (!sbc_parse_uint(s, 1, 65535, &v))
        return false;
    *port = (uint16_t)v;
    return true;
}

bool sbc_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi)
{
    const char *dash = strchr(s, '-');
    if (!dash || dash == s || (size_t)(dash - s) > 5)
        return false;
    char a[6];
    memcpy(a, s, (size_t)(dash - s));
    a[dash - s] = '\0';
    uint16_t x, y;
    if (!sbc_parse_port(a, &x) || !sbc_parse_port(dash + 1, &y) || x > y)
        return false;
    *lo = x;
    *hi = y;
    return true;
}

bool sbc_parse_ip(const char *s, int *family, uint8_t addr[16])
{
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, s, addr) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, addr) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

bool sbc_parse_hostport(const char *s, uint16_t dflt, char *hostbuf, size_t hostlen, uint16_t *port)
{
    const char *h = s, *he, *p = NULL;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb)
            return false;
        h = s + 1;
        he = rb;
        if (rb[1] == ':')
            p = rb + 2;
        else if (rb[1] != '\0')
            return false;
    } else {
        const char *c = strchr(s, ':');
        if (c && strchr(c + 1, ':')) {         /* bare IPv6 literal, no port */
            he = s + strlen(s);
        } else if (c) {
            he = c;
            p = c + 1;
        } else {
            he = s + strlen(s);
        }
    }
    size_t n = (size_t)(he - h);
    if (n == 0 || n >= hostlen)
        return false;
    memcpy(hostbuf, h, n);
    hostbuf[n] = '\0';
    if (p)
        return sbc_parse_port(p, port);
    *port = dflt;
    return true;
}

bool sbc_valid_hostname(const char *s)
{
    size_t total = strlen(s);
    if (total == 0 || total > 253)
        return false;
    size_t lab = 0;
    char prev = '.';
    for (const char *c = s;; c++) {
        if (*c == '.' || *c == '\0') {
            if (lab == 0 || prev == '-')
                return false;
            if (*c == '\0')
                return true;
            lab = 0;
        } else {
            bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_';
            if (!ok || (lab == 0 && *c == '-') || ++lab > 63)
                return false;
        }
        prev = *c;
    }
}
