/* SDES a=crypto values: the forms Teams and carriers send (R33, R34), the
 * errors we must give, and parse(format(x)) == x. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "media/sdes.h"

/* 30 bytes 0x00..0x1d, base64 */
#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"

static int parse(const char *v, sbc_sdes_t *out, char *err, size_t errlen)
{
    err[0] = '\0';
    return sbc_sdes_parse(v, strlen(v), out, err, errlen);
}

static void assert_key_0_to_29(const sbc_sdes_t *s)
{
    for (int i = 0; i < SBC_SRTP_KEY_LEN; i++)
        assert_int_equal(s->key[i], i);
}

static void test_plain(void **state)
{
    (void)state;
    sbc_sdes_t s;
    char err[128];
    assert_int_equal(parse("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64, &s, err, sizeof(err)), 0);
    assert_int_equal(s.tag, 1);
    assert_int_equal(s.suite, SBC_SRTP_AES_CM_128_HMAC_SHA1_80);
    assert_key_0_to_29(&s);
    assert_string_equal(s.lifetime, "");
    assert_int_equal(s.mki_len, 0);
    assert_int_equal(s.mki_value, 0);
}

static void test_teams_forms(void **state)
{
    (void)state;
    sbc_sdes_t s;
    char err[128];

    assert_int_equal(parse("2 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|2^31|1:1", &s, err, sizeof(err)), 0);
    assert_int_equal(s.tag, 2);
    assert_string_equal(s.lifetime, "2^31");
    assert_int_equal(s.mki_value, 1);
    assert_int_equal(s.mki_len, 1);
    assert_key_0_to_29(&s);

    assert_int_equal(parse("3 AES_CM_128_HMAC_SHA1_32 inline:" KEY_B64 "|1:1", &s, err, sizeof(err)), 0);
    assert_int_equal(s.suite, SBC_SRTP_AES_CM_128_HMAC_SHA1_32);
    assert_string_equal(s.lifetime, "");
    assert_int_equal(s.mki_value, 1);
    assert_int_equal(s.mki_len, 1);

    assert_int_equal(parse("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|2^31", &s, err, sizeof(err)), 0);
    assert_string_equal(s.lifetime, "2^31");
    assert_int_equal(s.mki_len, 0);

    /* decimal lifetime, 4-byte MKI, MKI before lifetime, CRLF left on */
    assert_int_equal(parse("9 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|1048576|258:4\r\n", &s, err,
                           sizeof(err)), 0);
    assert_string_equal(s.lifetime, "1048576");
    assert_int_equal(s.mki_value, 258);
    assert_int_equal(s.mki_len, 4);
    assert_int_equal(parse("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|7:2|2^20", &s, err, sizeof(err)), 0);
    assert_string_equal(s.lifetime, "2^20");
    assert_int_equal(s.mki_value, 7);
    assert_int_equal(s.mki_len, 2);
}

static void test_session_params(void **state)
{
    (void)state;
    sbc_sdes_t s;
    char err[128];
    assert_int_equal(parse("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|2^31 KDR=0 WSH=64 FEC_ORDER=FEC_SRTP",
                           &s, err, sizeof(err)), 0);
    assert_key_0_to_29(&s);
    assert_int_equal(parse("1  AES_CM_128_HMAC_SHA1_80\tinline:" KEY_B64 "  ", &s, err, sizeof(err)), 0);
    /* those that would make every packet fail are refused with a reason */
    assert_int_equal(parse("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 " UNENCRYPTED_SRTP", &s, err,
                           sizeof(err)), -1);
    assert_non_null(strstr(err, "UNENCRYPTED_SRTP"));
    assert_int_equal(parse("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 " KDR=24", &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "KDR=24"));
}

static void expect_error(const char *value, const char *needle)
{
    sbc_sdes_t s;
    char err[128];
    assert_int_equal(parse(value, &s, err, sizeof(err)), -1);
    if (strstr(err, needle) == NULL)
        fail_msg("\"%s\": error \"%s\" lacks \"%s\"", value, err, needle);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("1 AES_256_CM_HMAC_SHA1_80 inline:" KEY_B64, "unsupported crypto suite AES_256_CM_HMAC_SHA1_80");
    expect_error("1 AEAD_AES_128_GCM inline:" KEY_B64, "unsupported crypto suite AEAD_AES_128_GCM");
    expect_error("1 aes_cm_128_hmac_sha1_80 inline:" KEY_B64, "unsupported crypto suite");
    /* bad base64: alphabet, padding in the middle, url-safe alphabet, length not a multiple of 4 */
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw!", "bad base64");
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0=DxAREhMUFRYXGBkaGxwd", "bad base64");
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGx-_", "bad base64");
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw", "bad base64");
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:", "0 bytes, want 30");
    /* wrong length: 24 and 33 bytes, and 30 bytes written with padding-like tail */
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", "24 bytes, want 30");
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g",
                 "33 bytes, want 30");
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",
                 "31 bytes, want 30");
    /* structure */
    expect_error("", "tag");
    expect_error("x AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64, "tag");
    expect_error("1", "missing crypto suite");
    expect_error("1 AES_CM_128_HMAC_SHA1_80", "missing key parameters");
    expect_error("1 AES_CM_128_HMAC_SHA1_80 uri:" KEY_B64, "not inline");
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|2^31|1:1;inline:" KEY_B64 "|2^31|2:1",
                 "several master keys");
    /* lifetime and MKI */
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|2^", "lifetime");
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|2^99", "lifetime");
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|0", "lifetime");
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|forever", "lifetime");
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|2^31|2^20", "lifetime");
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|1:0", "MKI");
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|1:129", "MKI");
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|256:1", "MKI");
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|:1", "MKI");
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|1:1|2:1", "MKI");
    expect_error("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|", "lifetime");
}

static void test_format_and_round_trip(void **state)
{
    (void)state;
    sbc_sdes_t s, back;
    char buf[160], err[128];
    int n;

    assert_int_equal(parse("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|2^31", &s, err, sizeof(err)), 0);
    n = sbc_sdes_format(&s, buf, sizeof(buf));
    assert_int_equal(n, (int)strlen(buf));
    assert_string_equal(buf, "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|2^31");

    assert_int_equal(parse("5 AES_CM_128_HMAC_SHA1_32 inline:" KEY_B64 "|2^31|1:1", &s, err, sizeof(err)), 0);
    assert_true(sbc_sdes_format(&s, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "5 AES_CM_128_HMAC_SHA1_32 inline:" KEY_B64 "|2^31|1:1");

    /* too small a buffer: -1, never a truncated attribute */
    assert_int_equal(sbc_sdes_format(&s, buf, 20), -1);
    assert_int_equal(sbc_sdes_format(&s, buf, strlen("5 AES_CM_128_HMAC_SHA1_32 inline:" KEY_B64 "|2^31|1:1")),
                     -1);

    /* fresh keys: ours is "1 AES_CM_128_HMAC_SHA1_80 inline:<40>|2^31", and parses back */
    for (int i = 0; i < 100; i++) {
        enum sbc_srtp_suite suite = i % 2 ? SBC_SRTP_AES_CM_128_HMAC_SHA1_32 : SBC_SRTP_AES_CM_128_HMAC_SHA1_80;
        assert_int_equal(sbc_sdes_generate(&s, 1 + i, suite), 0);
        n = sbc_sdes_format(&s, buf, sizeof(buf));
        assert_true(n > 0);
        const char *inl = strstr(buf, "inline:");
        assert_non_null(inl);
        assert_int_equal(strlen(inl), strlen("inline:") + 40 + strlen("|2^31"));
        assert_int_equal(sbc_sdes_parse(buf, (size_t)n, &back, err, sizeof(err)), 0);
        assert_int_equal(back.tag, s.tag);
        assert_int_equal(back.suite, s.suite);
        assert_memory_equal(back.key, s.key, SBC_SRTP_KEY_LEN);
        assert_string_equal(back.lifetime, "2^31");
        assert_int_equal(back.mki_len, 0);
    }
    sbc_sdes_t other;
    assert_int_equal(sbc_sdes_generate(&other, 1, SBC_SRTP_AES_CM_128_HMAC_SHA1_80), 0);
    assert_memory_not_equal(other.key, s.key, SBC_SRTP_KEY_LEN);
    assert_int_equal(sbc_sdes_generate(&other, 1, (enum sbc_srtp_suite)7), -1);
}

/* Keys come from a pool refilled every ~68 keys: 300 keys (4 refills) are
 * all different, and a forked child does not hand out its parent's next key. */
static void test_key_pool(void **state)
{
    (void)state;
    enum { N = 300 };
    static uint8_t keys[N][SBC_SRTP_KEY_LEN];
    sbc_sdes_t s;
    for (int i = 0; i < N; i++) {
        assert_int_equal(sbc_sdes_generate(&s, 1, SBC_SRTP_AES_CM_128_HMAC_SHA1_80), 0);
        memcpy(keys[i], s.key, SBC_SRTP_KEY_LEN);
        for (int j = 0; j < i; j++)
            assert_memory_not_equal(keys[i], keys[j], SBC_SRTP_KEY_LEN);
    }
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sbc_sdes_t k;
        int ok = sbc_sdes_generate(&k, 1, SBC_SRTP_AES_CM_128_HMAC_SHA1_80) == 0;
        ssize_t w = ok ? write(fds[1], k.key, SBC_SRTP_KEY_LEN) : -1;
        _exit(w == SBC_SRTP_KEY_LEN ? 0 : 1);
    }
    uint8_t child[SBC_SRTP_KEY_LEN];
    assert_int_equal(read(fds[0], child, sizeof(child)), (ssize_t)sizeof(child));
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(sbc_sdes_generate(&s, 1, SBC_SRTP_AES_CM_128_HMAC_SHA1_80), 0);
    assert_memory_not_equal(child, s.key, SBC_SRTP_KEY_LEN);
    close(fds[0]);
    close(fds[1]);
}

/* The value need not be NUL-terminated: parse stops at len. */
static void test_length_bounded(void **state)
{
    (void)state;
    sbc_sdes_t s;
    char err[128];
    const char *line = "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B64 "|2^31GARBAGE";
    assert_int_equal(sbc_sdes_parse(line, strlen(line) - strlen("GARBAGE"), &s, err, sizeof(err)), 0);
    assert_string_equal(s.lifetime, "2^31");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_teams_forms),
        cmocka_unit_test(test_session_params),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_format_and_round_trip),
        cmocka_unit_test(test_length_bounded), cmocka_unit_test(test_key_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
