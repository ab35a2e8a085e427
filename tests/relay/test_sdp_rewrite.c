/* SDP rewrite: parsing realistic Teams and carrier bodies and printing the
 * other leg's body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "media/sdp_rewrite.h"
#include "sdp_samples.h"

static char err[256];

static void parse_ok(const char *text, struct sbc_sdp *s)
{
    int rc = sbc_sdp_parse(text, strlen(text), s, err, sizeof(err));
    if (rc != 0)
        fail_msg("parse: %s", err);
}

static void test_parse_teams_offer(void **state)
{
    static struct sbc_sdp s;
    parse_ok(TEAMS_OFFER, &s);
    assert_int_equal(s.n_media, 2);
    const struct sbc_sdp_media *a = &s.media[0];
    assert_true(sbc_sdp_str_eq(a->type, "audio"));
    assert_int_equal(a->port, 52884);
    assert_true(sbc_sdp_str_eq(a->proto, "RTP/SAVP"));
    assert_true(sbc_sdp_str_eq(a->fmts, "104 9 103 111 18 0 8 97 101 13 118"));
    assert_true(a->rtcp_mux);
    assert_true(a->ice);
    assert_int_equal(a->rtcp_port, 52884);
    assert_int_equal(a->n_crypto, 2);
    assert_int_equal(a->addr.s_addr, inet_addr("52.114.16.74"));
    assert_int_equal(sbc_sdp_media_dir(&s, 0), SBC_SDP_SENDRECV);
    assert_true(sbc_sdp_str_eq(s.media[1].type, "video"));
}

static void test_teams_to_carrier(void **state)
{
    static struct sbc_sdp s;
    char out[4096];
    parse_ok(TEAMS_OFFER, &s);
    struct sbc_sdp_media_out mo[2] = {
        { .port = 30000, .proto = "RTP/AVP" },
        { .disabled = true },
    };
    struct sbc_sdp_out o = { .addr = "10.0.0.10", .sess_id = 42, .sess_version = 1, .media = mo };
    int n = sbc_sdp_write(&s, &o, out, sizeof(out));
    assert_true(n > 0);
    assert_non_null(strstr(out, "v=0\r\no=- 42 1 IN IP4 10.0.0.10\r\ns=-\r\nc=IN IP4 10.0.0.10\r\nb=CT:10000000\r\nt=0 0\r\n"));
    assert_non_null(strstr(out, "m=audio 30000 RTP/AVP 104 9 103 111 18 0 8 97 101 13 118\r\n"));
    assert_non_null(strstr(out, "a=rtcp:30001\r\n"));
    assert_null(strstr(out, "a=rtcp-mux"));
    assert_null(strstr(out, "crypto"));
    assert_null(strstr(out, "candidate"));
    assert_null(strstr(out, "ice-"));
    assert_null(strstr(out, "52.114."));          /* topology hiding */
    assert_non_null(strstr(out, "a=rtpmap:104 SILK/16000\r\na=rtpmap:9 G722/8000\r\n"));
    assert_non_null(strstr(out, "a=fmtp:18 annexb=no\r\n"));
    assert_non_null(strstr(out, "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"));
    assert_non_null(strstr(out, "a=ptime:20\r\n"));
    assert_non_null(strstr(out, "a=maxptime:200\r\n"));
    assert_non_null(strstr(out, "m=video 0 RTP/SAVP 122 121\r\n"));
    assert_null(strstr(out, "X-H264UC"));        /* a disabled line carries no attributes */
    assert_int_equal((size_t)n, strlen(out));
    /* the printed body parses again */
    static struct sbc_sdp again;
    parse_ok(out, &again);
    assert_int_equal(again.n_media, 2);
    assert_int_equal(again.media[0].rtcp_port, 30001);
}

static void test_carrier_to_teams(void **state)
{
    static struct sbc_sdp s;
    char out[4096];
    const char *in = CARRIER_OFFER_FMT("10.0.1.20", "31000", "a=sendrecv\r\n");
    parse_ok(in, &s);
    struct sbc_sdp_media_out mo[1] = { {
        .port = 20000, .proto = "RTP/SAVP", .rtcp_mux = true,
        .crypto = "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_C1 "|2^31",
    } };
    struct sbc_sdp_out o = { .addr = "203.0.113.10", .sess_id = 7, .sess_version = 3, .media = mo };
    assert_true(sbc_sdp_write(&s, &o, out, sizeof(out)) > 0);
    assert_non_null(strstr(out, "m=audio 20000 RTP/SAVP 8 0 18 101\r\n"
                                "a=rtcp:20000\r\na=rtcp-mux\r\n"
                                "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_C1 "|2^31\r\n"
                                "a=rtpmap:8 PCMA/8000\r\n"));
    assert_null(strstr(out, "a=sendrecv"));       /* the default is not repeated */
    assert_null(strstr(out, "10.0.1."));
}

/* R29: old-style hold (c=0.0.0.0) reaches Teams as a=inactive with a real address. */
static void test_hold_toward_teams(void **state)
{
    static struct sbc_sdp s;
    char out[4096];
    parse_ok(CARRIER_OFFER_FMT("0.0.0.0", "31000", ""), &s);
    assert_int_equal(sbc_sdp_media_dir(&s, 0), SBC_SDP_INACTIVE);
    struct sbc_sdp_media_out mo[1] = { { .port = 20000, .proto = "RTP/SAVP", .rtcp_mux = true,
                                         .dir = sbc_sdp_media_dir(&s, 0) } };
    struct sbc_sdp_out o = { .addr = "203.0.113.10", .sess_id = 7, .sess_version = 4, .media = mo };
    assert_true(sbc_sdp_write(&s, &o, out, sizeof(out)) > 0);
    assert_null(strstr(out, "0.0.0.0"));
    assert_non_null(strstr(out, "a=inactive\r\n"));

    parse_ok(CARRIER_OFFER_FMT("0.0.0.0", "31000", "a=sendonly\r\n"), &s);
    assert_int_equal(sbc_sdp_media_dir(&s, 0), SBC_SDP_SENDONLY);
    parse_ok(CARRIER_OFFER_FMT("10.0.1.20", "31000", "a=recvonly\r\n"), &s);
    assert_int_equal(sbc_sdp_media_dir(&s, 0), SBC_SDP_RECVONLY);
}

/* Session-level direction applies to every m-line; a=group and ICE go. */
static void test_session_attributes(void **state)
{
    static struct sbc_sdp s;
    char out[4096];
    const char *in = "v=0\r\no=x 1 1 IN IP4 10.1.1.1\r\ns=call\r\ni=secret info\r\nc=IN IP4 10.1.1.1\r\n"
                     "t=0 0\r\na=group:BUNDLE 0\r\na=ice-options:trickle\r\na=sendonly\r\na=x-custom:1\r\n"
                     "m=audio 4000 RTP/AVP 0\r\na=mid:0\r\n";
    parse_ok(in, &s);
    assert_int_equal(sbc_sdp_media_dir(&s, 0), SBC_SDP_SENDONLY);
    struct sbc_sdp_media_out mo[1] = { { .port = 30010, .dir = SBC_SDP_SENDONLY } };
    struct sbc_sdp_out o = { .addr = "10.0.0.10", .sess_id = 1, .sess_version = 1, .media = mo };
    assert_true(sbc_sdp_write(&s, &o, out, sizeof(out)) > 0);
    assert_null(strstr(out, "group"));
    assert_null(strstr(out, "ice-options"));
    assert_null(strstr(out, "secret"));
    assert_non_null(strstr(out, "t=0 0\r\na=x-custom:1\r\nm=audio 30010 RTP/AVP 0\r\n"));
    assert_non_null(strstr(out, "a=mid:0\r\na=sendonly\r\n"));
}

static void test_bad_input(void **state)
{
    static struct sbc_sdp s;
    static const char *bad[] = {
        "o=- 1 1 IN IP4 1.2.3.4\r\n",
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 99999 RTP/AVP 0\r\n",
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP\r\n",
        "v=0\r\nthis is not sdp\r\n",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        assert_int_equal(sbc_sdp_parse(bad[i], strlen(bad[i]), &s, err, sizeof(err)), -1);
        assert_true(err[0] != 0);
    }
    /* found by fuzz_sdp: a NUL in a field was printed shorter than parsed
     * ("m= 20000 ..."); a bare CR would be a line end to some peers, so an
     * attribute could smuggle a c= line past the rewrite */
    static const char nul[] = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n"
                              "m=\0audio 4000 RTP/AVP 0\r\n";
    assert_int_equal(sbc_sdp_parse(nul, sizeof(nul) - 1, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "NUL"));
    static const char cr[] = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n"
                             "m=audio 4000 RTP/AVP 0\r\na=x\rc=IN IP4 6.6.6.6\r\n";
    assert_int_equal(sbc_sdp_parse(cr, sizeof(cr) - 1, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bare CR"));
}

static void test_overflow(void **state)
{
    static struct sbc_sdp s;
    char out[64];
    parse_ok(TEAMS_OFFER, &s);
    struct sbc_sdp_media_out mo[2] = { { .port = 30000 }, { .disabled = true } };
    struct sbc_sdp_out o = { .addr = "10.0.0.10", .sess_id = 1, .sess_version = 1, .media = mo };
    assert_int_equal(sbc_sdp_write(&s, &o, out, sizeof(out)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_teams_offer), cmocka_unit_test(test_teams_to_carrier),
        cmocka_unit_test(test_carrier_to_teams),  cmocka_unit_test(test_hold_toward_teams),
        cmocka_unit_test(test_session_attributes), cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
