/* Media session offer/answer: SDP produced per leg, keys, re-INVITE, errors.
 * Sockets are bound on 127.0.5.x but no packets flow here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "media/session.h"
#include "media/srtp_ctx.h"
#include "sdp_samples.h"

struct fx {
    struct event_base *base;
    struct sbc_media_ctx *ctx;
    struct sbc_portpool *teams, *core, *tiny;
    struct sbc_media_leg_desc legs[2];
};

static char err[256];
static char out[SBC_MEDIA_SDP_MAX];
static size_t out_len;

static int setup(void **state)
{
    static struct fx f;
    memset(&f, 0, sizeof(f));
    f.base = event_base_new();
    f.ctx = sbc_media_ctx_create(f.base, &(struct sbc_media_ctx_cfg){ .timeout_ms = 0 }, err, sizeof(err));
    f.teams = sbc_portpool_create("127.0.5.1", 21000, 21099, 0, 1, err, sizeof(err));
    f.core = sbc_portpool_create("127.0.5.2", 31000, 31099, 0, 1, err, sizeof(err));
    f.tiny = sbc_portpool_create("127.0.5.3", 21200, 21201, 0, 1, err, sizeof(err));
    if (!f.ctx || !f.teams || !f.core || !f.tiny)
        return -1;
    f.legs[0] = (struct sbc_media_leg_desc){ .kind = SBC_MEDIA_LEG_TEAMS, .pool = f.teams, .advertise = "203.0.113.10" };
    f.legs[1] = (struct sbc_media_leg_desc){ .kind = SBC_MEDIA_LEG_CARRIER, .pool = f.core, .srtp = SBC_MEDIA_SRTP_OFF };
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sbc_portpool_destroy(f->teams);
    sbc_portpool_destroy(f->core);
    sbc_portpool_destroy(f->tiny);
    sbc_media_ctx_destroy(f->ctx);
    event_base_free(f->base);
    return 0;
}

static enum sbc_media_status offer(struct sbc_media_session *ms, int from, const char *sdp)
{
    err[0] = 0;
    return sbc_media_session_offer(ms, from, sdp, strlen(sdp), out, sizeof(out), &out_len, err, sizeof(err));
}

static enum sbc_media_status answer(struct sbc_media_session *ms, int from, const char *sdp)
{
    err[0] = 0;
    return sbc_media_session_answer(ms, from, sdp, strlen(sdp), out, sizeof(out), &out_len, err, sizeof(err));
}

/* The inline key of the first a=crypto line of s, or "". */
static void crypto_key(const char *s, char key[64])
{
    key[0] = 0;
    const char *p = strstr(s, "inline:");
    if (p)
        sscanf(p + 7, "%40[A-Za-z0-9+/=]", key);
}

static void assert_ok(enum sbc_media_status st)
{
    if (st != SBC_MEDIA_OK)
        fail_msg("status %s: %s", sbc_media_status_name(st), err);
}

static void test_teams_to_carrier(void **state)
{
    struct fx *f = *state;
    struct sbc_media_session *ms = sbc_media_session_create(f->ctx, f->legs, NULL, NULL, err, sizeof(err));
    assert_non_null(ms);
    assert_ok(offer(ms, 0, TEAMS_OFFER));
    char want[128];
    snprintf(want, sizeof(want), "m=audio %u RTP/AVP 104 9 103 111 18 0 8 97 101 13 118\r\n",
             sbc_media_session_local_port(ms, 0, 1));
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "c=IN IP4 127.0.5.2\r\n"));
    assert_non_null(strstr(out, "m=video 0 RTP/SAVP 122 121\r\n"));
    assert_null(strstr(out, "crypto"));
    assert_null(strstr(out, "rtcp-mux"));
    assert_null(strstr(out, "52.114"));

    assert_ok(answer(ms, 1, CARRIER_ANSWER_FMT("10.0.1.20", "40000", "sendrecv")));
    snprintf(want, sizeof(want), "m=audio %u RTP/SAVP 0 101\r\n", sbc_media_session_local_port(ms, 0, 0));
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "c=IN IP4 203.0.113.10\r\n"));
    assert_non_null(strstr(out, "a=rtcp-mux\r\n"));
    /* answered with the tag of the crypto line we took (3: line 2 has an MKI) */
    assert_non_null(strstr(out, "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:"));
    assert_non_null(strstr(out, "m=video 0 "));
    assert_null(strstr(out, "10.0.1."));
    sbc_media_session_destroy(ms);
}

static void test_srtp_required(void **state)
{
    struct fx *f = *state;
    unsigned before = sbc_portpool_available(f->teams);
    struct sbc_media_session *ms = sbc_media_session_create(f->ctx, f->legs, NULL, NULL, err, sizeof(err));
    /* Teams offering plain RTP: 488 */
    enum sbc_media_status st = offer(ms, 0, CARRIER_OFFER_FMT("52.114.16.74", "52884", ""));
    if (st != SBC_MEDIA_E_SRTP_REQUIRED)
        fail_msg("status %s: %s", sbc_media_status_name(st), err);
    assert_true(strlen(err) > 0);
    assert_int_equal(sbc_portpool_available(f->teams), before);   /* nothing kept */
    /* A carrier offer goes to Teams as RTP/SAVP; a Teams answer without crypto is refused. */
    assert_ok(offer(ms, 1, CARRIER_OFFER_FMT("10.0.1.20", "40000", "")));
    assert_non_null(strstr(out, "RTP/SAVP 8 0 18 101\r\n"));
    assert_non_null(strstr(out, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"));
    assert_non_null(strstr(out, "|2^31\r\n"));
    assert_non_null(strstr(out, "a=rtcp-mux\r\n"));
    assert_int_equal(answer(ms, 0, CARRIER_OFFER_FMT("52.114.16.74", "52884", "")), SBC_MEDIA_E_SRTP_REQUIRED);
    sbc_media_session_destroy(ms);
}

static void test_carrier_to_teams(void **state)
{
    struct fx *f = *state;
    struct sbc_media_session *ms = sbc_media_session_create(f->ctx, f->legs, NULL, NULL, err, sizeof(err));
    assert_ok(offer(ms, 1, CARRIER_OFFER_FMT("10.0.1.20", "40000", "")));
    char ours[64];
    crypto_key(out, ours);
    assert_int_equal(strlen(ours), 40);
    char want[64];
    snprintf(want, sizeof(want), "a=rtcp:%u\r\n", sbc_media_session_local_port(ms, 0, 0));
    assert_non_null(strstr(out, want));
    assert_ok(answer(ms, 0, TEAMS_ANSWER_FMT("52.114.16.74", "52884", KEY_T1, "sendrecv")));
    snprintf(want, sizeof(want), "m=audio %u RTP/AVP 8 101\r\n", sbc_media_session_local_port(ms, 0, 1));
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof(want), "a=rtcp:%u\r\n", sbc_media_session_local_port(ms, 0, 1) + 1);
    assert_non_null(strstr(out, want));
    assert_null(strstr(out, "crypto"));
    assert_null(strstr(out, "ice"));
    /* Teams puts the call on hold: a=inactive passes to the carrier. */
    assert_ok(offer(ms, 0, TEAMS_ANSWER_FMT("52.114.16.74", "52884", KEY_T1, "inactive")));
    assert_non_null(strstr(out, "a=inactive\r\n"));
    sbc_media_session_destroy(ms);
}

/* R36: toward Teams only the codecs it accepts are offered (with CN and
 * telephone-event); an offer with none of them is refused. */
static void test_teams_codec_filter(void **state)
{
    struct fx *f = *state;
    struct sbc_media_session *ms = sbc_media_session_create(f->ctx, f->legs, NULL, NULL, err, sizeof(err));
    static const char mixed[] = "v=0\r\no=core 1 1 IN IP4 10.0.1.20\r\ns=-\r\nc=IN IP4 10.0.1.20\r\nt=0 0\r\n"
                                "m=audio 40000 RTP/AVP 96 0 97 8 3 101 13\r\n"
                                "a=rtpmap:96 opus/48000/2\r\na=fmtp:96 useinbandfec=1\r\n"
                                "a=rtpmap:0 PCMU/8000\r\na=rtpmap:97 AMR/8000\r\na=fmtp:97 octet-align=1\r\n"
                                "a=rtpmap:8 PCMA/8000\r\na=rtpmap:3 GSM/8000\r\n"
                                "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n";
    assert_ok(offer(ms, 1, mixed));
    char want[64];
    snprintf(want, sizeof(want), "m=audio %u RTP/SAVP 0 8 101 13\r\n", sbc_media_session_local_port(ms, 0, 0));
    if (!strstr(out, want))
        fail_msg("offer toward Teams:\n%s", out);
    assert_null(strstr(out, "opus"));
    assert_null(strstr(out, "AMR"));
    assert_null(strstr(out, "GSM"));
    assert_null(strstr(out, "fmtp:96"));
    assert_non_null(strstr(out, "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"));
    assert_non_null(strstr(out, "a=ptime:20"));
    sbc_media_session_destroy(ms);

    ms = sbc_media_session_create(f->ctx, f->legs, NULL, NULL, err, sizeof(err));
    static const char none[] = "v=0\r\no=core 1 1 IN IP4 10.0.1.20\r\ns=-\r\nc=IN IP4 10.0.1.20\r\nt=0 0\r\n"
                               "m=audio 40000 RTP/AVP 96 101\r\na=rtpmap:96 opus/48000/2\r\n"
                               "a=rtpmap:101 telephone-event/8000\r\n";
    assert_int_equal(offer(ms, 1, none), SBC_MEDIA_E_NO_MEDIA);
    sbc_media_session_destroy(ms);
}

/* R32: an identical re-INVITE keeps keys and the o= version; a new key from
 * Teams gets a new key of ours; ports never move (R30). */
static void test_reinvite_rekey(void **state)
{
    struct fx *f = *state;
    struct sbc_media_session *ms = sbc_media_session_create(f->ctx, f->legs, NULL, NULL, err, sizeof(err));
    static char first_offer[SBC_MEDIA_SDP_MAX], first_answer[SBC_MEDIA_SDP_MAX];
    const char *ans = CARRIER_ANSWER_FMT("10.0.1.20", "40000", "sendrecv");
    assert_ok(offer(ms, 0, TEAMS_OFFER));
    strcpy(first_offer, out);
    assert_ok(answer(ms, 1, ans));
    strcpy(first_answer, out);
    uint16_t port = sbc_media_session_local_port(ms, 0, 0);

    assert_ok(offer(ms, 0, TEAMS_OFFER));
    assert_string_equal(out, first_offer);
    assert_ok(answer(ms, 1, ans));
    assert_string_equal(out, first_answer);

    /* 183 then 200 with the same body: same answer */
    assert_ok(answer(ms, 1, ans));
    assert_string_equal(out, first_answer);

    assert_ok(offer(ms, 0, TEAMS_OFFER_FMT("52.114.16.74", "52884", KEY_C1)));
    assert_ok(answer(ms, 1, ans));
    char k1[64], k2[64];
    crypto_key(first_answer, k1);
    crypto_key(out, k2);
    assert_string_not_equal(k1, k2);
    assert_non_null(strstr(out, " 2 IN IP4 203.0.113.10\r\n"));  /* version bumped */
    assert_int_equal(sbc_media_session_local_port(ms, 0, 0), port);

    /* A re-offer from the carrier side keeps our key toward Teams. */
    assert_ok(offer(ms, 1, CARRIER_OFFER_FMT("10.0.1.20", "40000", "m=video 0 RTP/AVP 122\r\n")));
    char k3[64];
    crypto_key(out, k3);
    assert_string_equal(k2, k3);
    sbc_media_session_destroy(ms);
}

static void test_port_exhaustion(void **state)
{
    struct fx *f = *state;
    struct sbc_media_leg_desc legs[2] = { f->legs[0], f->legs[1] };
    legs[0].pool = f->tiny;                   /* one pair */
    struct sbc_media_session *a = sbc_media_session_create(f->ctx, legs, NULL, NULL, err, sizeof(err));
    struct sbc_media_session *b = sbc_media_session_create(f->ctx, legs, NULL, NULL, err, sizeof(err));
    unsigned core_before = sbc_portpool_available(f->core);
    assert_ok(offer(a, 0, TEAMS_OFFER));
    assert_int_equal(offer(b, 0, TEAMS_OFFER), SBC_MEDIA_E_PORTS);     /* -> 503 */
    assert_int_equal(sbc_portpool_available(f->core), core_before - 1);
    sbc_media_session_destroy(a);
    assert_ok(offer(b, 0, TEAMS_OFFER));
    sbc_media_session_destroy(b);
    assert_int_equal(sbc_portpool_available(f->tiny), 1);
    assert_int_equal(sbc_portpool_available(f->core), core_before);
}

static void test_bad_state(void **state)
{
    struct fx *f = *state;
    struct sbc_media_session *ms = sbc_media_session_create(f->ctx, f->legs, NULL, NULL, err, sizeof(err));
    assert_int_equal(answer(ms, 1, CARRIER_ANSWER_FMT("10.0.1.20", "40000", "sendrecv")), SBC_MEDIA_E_STATE);
    assert_int_equal(offer(ms, 0, "garbage"), SBC_MEDIA_E_SDP);
    const char *video_only = "v=0\r\no=- 1 1 IN IP4 52.114.16.74\r\ns=-\r\nc=IN IP4 52.114.16.74\r\nt=0 0\r\n"
                             "m=video 5000 RTP/SAVP 122\r\n";
    assert_int_equal(offer(ms, 0, video_only), SBC_MEDIA_E_NO_MEDIA);
    assert_ok(offer(ms, 0, TEAMS_OFFER));
    /* answer with the wrong number of m-lines */
    assert_int_equal(answer(ms, 1, CARRIER_OFFER_FMT("10.0.1.20", "40000", "")), SBC_MEDIA_E_SDP);
    sbc_media_session_destroy(ms);
}

static void test_carrier_srtp_required(void **state)
{
    struct fx *f = *state;
    struct sbc_media_leg_desc legs[2] = { f->legs[0], f->legs[1] };
    legs[1].srtp = SBC_MEDIA_SRTP_REQUIRED;
    struct sbc_media_session *ms = sbc_media_session_create(f->ctx, legs, NULL, NULL, err, sizeof(err));
    assert_ok(offer(ms, 0, TEAMS_OFFER));
    assert_non_null(strstr(out, "RTP/SAVP 104"));
    assert_non_null(strstr(out, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"));
    assert_null(strstr(out, "|2^31"));           /* carriers get no lifetime */
    assert_int_equal(answer(ms, 1, CARRIER_ANSWER_FMT("10.0.1.20", "40000", "sendrecv")),
                     SBC_MEDIA_E_SRTP_REQUIRED);
    sbc_media_session_destroy(ms);
}

int main(void)
{
    char e[256];
    if (sbc_srtp_global_init(e, sizeof(e)) != 0) {
        fprintf(stderr, "srtp init: %s\n", e);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_teams_to_carrier), cmocka_unit_test(test_srtp_required),
        cmocka_unit_test(test_carrier_to_teams), cmocka_unit_test(test_reinvite_rekey),
        cmocka_unit_test(test_port_exhaustion),  cmocka_unit_test(test_bad_state),
        cmocka_unit_test(test_carrier_srtp_required), cmocka_unit_test(test_teams_codec_filter),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    sbc_srtp_global_shutdown();
    return rc;
}
