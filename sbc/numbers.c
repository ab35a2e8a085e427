/* Number normalization: pure string work, no allocation. */
#include "sbc/numbers.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define E164_MAX_DIGITS 15

int sbc_numbers_is_e164(const char *s)
{
    if (!s || *s++ != '+')
        return 0;
    size_t n = 0;
    for (; *s; s++, n++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return n >= 1 && n <= E164_MAX_DIGITS;
}

/* Copies the digits of in (and a leading '+') dropping visual separators;
 * -1 on any other character or when too long. */
static int clean(const char *in, char *out, size_t cap, int *plus)
{
    size_t n = 0;
    *plus = 0;
    for (const char *p = in; *p; p++) {
        if (*p == '+' && p == in) {
            *plus = 1;
        } else if (isdigit((unsigned char)*p)) {
            if (n + 1 >= cap)
                return -1;
            out[n++] = *p;
        } else if (!strchr("-. ()", *p)) {
            return -1;
        }
    }
    out[n] = '\0';
    return n > 0 ? 0 : -1;
}

int sbc_numbers_from_trunk(const sbc_trunk_t *t, const char *in, char *out, size_t cap)
{
    char digits[64];
    int plus;
    if (clean(in, digits, sizeof digits, &plus) < 0)
        return -1;
    const char *cc = t->country_code;
    int w;
    if (plus)
        w = snprintf(out, cap, "+%s", digits);
    else if (t->from_trunk == SBC_NUM_INTERNATIONAL)
        w = snprintf(out, cap, "+%s", digits);
    else if (t->from_trunk == SBC_NUM_NATIONAL && cc[0])
        w = snprintf(out, cap, "+%s%s", cc, digits);
    else
        return -1;   /* e164 trunk without '+', or national without a country code: ambiguous */
    if (w < 0 || (size_t)w >= cap)
        return -1;
    return sbc_numbers_is_e164(out) ? 0 : -1;
}

int sbc_numbers_to_trunk(const sbc_trunk_t *t, const char *e164, char *out, size_t cap)
{
    const char *digits = e164[0] == '+' ? e164 + 1 : e164;
    char check[32];
    if (snprintf(check, sizeof check, "+%s", digits) >= (int)sizeof check || !sbc_numbers_is_e164(check))
        return -1;
    size_t cl = strlen(t->country_code);
    int w;
    switch (t->to_trunk) {
    case SBC_NUM_E164:
        w = snprintf(out, cap, "+%s", digits);
        break;
    case SBC_NUM_INTERNATIONAL:
        w = snprintf(out, cap, "%s", digits);
        break;
    case SBC_NUM_NATIONAL:
    default:
        if (cl && strncmp(digits, t->country_code, cl) == 0 && digits[cl])
            w = snprintf(out, cap, "%s", digits + cl);
        else
            w = snprintf(out, cap, "+%s", digits);
        break;
    }
    return w < 0 || (size_t)w >= cap ? -1 : 0;
}
