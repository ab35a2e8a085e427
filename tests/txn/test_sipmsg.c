/* sbc/sipmsg: parsing, sanity checks, serialization, responses, ids, Via. */
#include "fixtures.h"

#include <sofia-sip/sip_extra.h>

static int setup(void **state)
{
    sbc_sipmsg_global_init();
    return 0;
}

static void test_parse_valid_invite(void **state)
{
    msg_t *m = parse_ok(make_invite_text("10.0.0.1:5060", "z9hG4bKa1", ";rport", 70));
    sip_t *sip = sip_object(m);
    assert_int_equal(sip->sip_request->rq_method, sip_method_invite);
    assert_string_equal(sip->sip_call_id->i_id, "callid-1@carrier.example");
    assert_non_null(sip->sip_payload);
    /* extension headers are typed, not unknown (global init) */
    assert_non_null(sip_p_asserted_identity(sip));
    assert_null(sip->sip_unknown);
    msg_destroy(m);
}

static void test_parse_rejects(void **state)
{
    static const char *cases[][2] = {
        { "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\n"
          "From: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 BYE\r\n"
          "Content-Length: 0\r\n\r\n", "CSeq Method Does Not Match" },
        { "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\n"
          "From: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n"
          "Content-Length: 50\r\n\r\nshort", "Content-Length Mismatch" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msg_t *m = NULL;
        const char *reason = NULL;
        enum sbc_sipmsg_parse_result r = sbc_sipmsg_parse(cases[i][0], strlen(cases[i][0]), &m,
                                                          &reason);
        if (r == SBC_SIPMSG_DROP) {
            /* Sofia may refuse a short body outright: acceptable for that case only */
            assert_null(m);
            assert_string_equal(cases[i][1], "Content-Length Mismatch");
            continue;
        }
        assert_int_equal(r, SBC_SIPMSG_REJECT);
        assert_string_equal(reason, cases[i][1]);
        msg_t *resp = sbc_sipmsg_response(m, 400, reason, NULL);
        assert_non_null(resp);
        char *s = sbc_sipmsg_to_string(resp, NULL);
        assert_true(strstr(s, "SIP/2.0 400 CSeq Method Does Not Match\r\n") ||
                    strstr(s, "SIP/2.0 400 Content-Length Mismatch\r\n"));
        free(s);
        msg_destroy(resp);
        msg_destroy(m);
    }
}

static void test_parse_drops_unanswerable(void **state)
{
    static const char *cases[] = {
        /* no Call-ID: a response cannot be built */
        "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\n"
        "From: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
        /* no Via */
        "OPTIONS sip:a@b SIP/2.0\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\n"
        "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        /* a response without CSeq */
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\n"
        "From: <sip:a@b>;tag=1\r\nTo: <sip:b@c>;tag=2\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n",
        "garbage\r\n\r\n",
        "\r\n\r\n",
        "SIP/2.0\r\n\r\n",
        "INVITE\r\n\r\n",
        "INVITE sip:a@b SIP/2.0\r\nCSeq: banana\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msg_t *m = (msg_t *)1;
        const char *reason = NULL;
        assert_int_equal(sbc_sipmsg_parse(cases[i], strlen(cases[i]), &m, &reason),
                         SBC_SIPMSG_DROP);
        assert_null(m);
        assert_non_null(reason);
    }
    msg_t *m;
    assert_int_equal(sbc_sipmsg_parse("", 0, &m, NULL), SBC_SIPMSG_DROP);
    assert_int_equal(sbc_sipmsg_parse(NULL, 10, &m, NULL), SBC_SIPMSG_DROP);
}

static void test_parse_oversized_and_garbage(void **state)
{
    size_t n = SBC_SIPMSG_MAXSIZE + 1000;
    char *big = malloc(n);
    const char *head = make_invite_text("10.0.0.1:5060", "z9hG4bKbig", "", 70);
    memset(big, 'a', n);
    memcpy(big, head, strlen(head));
    msg_t *m;
    const char *reason;
    assert_int_equal(sbc_sipmsg_parse(big, n, &m, &reason), SBC_SIPMSG_DROP);
    assert_string_equal(reason, "Message Too Large");
    /* random bytes, and every truncation of a valid message: no crash, no leak */
    srand(42);
    for (int i = 0; i < 2000; i++) {
        size_t len = 1 + (size_t)rand() % 1500;
        for (size_t k = 0; k < len; k++)
            big[k] = (char)(rand() % 256);
        if (sbc_sipmsg_parse(big, len, &m, &reason) != SBC_SIPMSG_DROP)
            msg_destroy(m);
    }
    size_t full = strlen(head);
    for (size_t len = 1; len <= full; len++) {
        enum sbc_sipmsg_parse_result r = sbc_sipmsg_parse(head, len, &m, &reason);
        if (r != SBC_SIPMSG_DROP)
            msg_destroy(m);
    }
    /* header lines mutated with random printable junk */
    for (int i = 0; i < 2000; i++) {
        memcpy(big, head, full);
        for (int k = 0; k < 8; k++)
            big[rand() % full] = (char)(32 + rand() % 95);
        if (sbc_sipmsg_parse(big, full, &m, &reason) != SBC_SIPMSG_DROP) {
            char *s = sbc_sipmsg_to_string(m, NULL);
            free(s);
            msg_destroy(m);
        }
    }
    free(big);
}

/* STACK.md §10: with MSG_FLG_EXTRACT_COPY an in-place edit must reach the
 * wire; msg_iovec shows what is really sent. */
static void test_edit_reaches_iovec(void **state)
{
    msg_t *m = parse_ok(make_invite_text("10.0.0.1:5060", "z9hG4bKa1", "", 70));
    assert_int_equal(sbc_sipmsg_max_forwards_decrement(m), 69);
    sip_t *sip = sip_object(m);
    sip->sip_cseq->cs_seq = 11;
    sbc_sipmsg_touch(m, (msg_header_t *)sip->sip_cseq);
    struct iovec iov[32];
    int n = sbc_sipmsg_iovec(m, iov, 32);
    assert_true(n > 0);
    char wire[4096];
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        memcpy(wire + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    wire[off] = '\0';
    assert_non_null(strstr(wire, "Max-Forwards: 69\r\n"));
    assert_null(strstr(wire, "Max-Forwards: 70"));
    assert_non_null(strstr(wire, "CSeq: 11 INVITE\r\n"));
    /* serialize() and to_string() agree with the iovec */
    char buf[4096];
    ssize_t len = sbc_sipmsg_serialize(m, buf, sizeof buf);
    assert_int_equal(len, (ssize_t)off);
    assert_memory_equal(buf, wire, off);
    assert_int_equal(sbc_sipmsg_serialize(m, buf, 10), -1);
    /* the serialized text parses back to the same message */
    msg_t *again = parse_ok(wire);
    assert_int_equal(sip_object(again)->sip_max_forwards->mf_count, 69);
    msg_destroy(again);
    msg_destroy(m);
}

static void test_response_builder(void **state)
{
    msg_t *req = parse_ok(make_invite_text("10.0.0.1:5060", "z9hG4bKa1", "", 70));
    sbc_sipmsg_resp_opt_t opt = {
        .to_tag = "w3.totag", .reason = "Q.850;cause=34;text=\"No circuit\"",
        .retry_after = 30, .extra = "X-Trace: abc\r\nWarning: 399 sbc \"busy\"\r\n",
    };
    msg_t *r = sbc_sipmsg_response(req, 503, NULL, &opt);
    assert_non_null(r);
    char *s = sbc_sipmsg_to_string(r, NULL);
    assert_non_null(strstr(s, "SIP/2.0 503 Service Unavailable\r\n"));
    assert_non_null(strstr(s, "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa1\r\n"));
    assert_non_null(strstr(s, "Via: SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bKupstream\r\n"));
    assert_non_null(strstr(s, "To: <sip:+15551230000@sbc.example.com>;tag=w3.totag\r\n"));
    assert_non_null(strstr(s, "From: \"Alice\" <sip:+15550001111@carrier.example>;tag=fromtag1\r\n"));
    assert_non_null(strstr(s, "Call-ID: callid-1@carrier.example\r\n"));
    assert_non_null(strstr(s, "CSeq: 10 INVITE\r\n"));
    assert_non_null(strstr(s, "Reason: Q.850;cause=34"));
    assert_non_null(strstr(s, "Retry-After: 30\r\n"));
    assert_non_null(strstr(s, "X-Trace: abc\r\n"));
    assert_non_null(strstr(s, "Warning: 399 sbc \"busy\"\r\n"));
    assert_non_null(strstr(s, "Content-Length: 0\r\n"));
    assert_null(strstr(s, "Contact:"));
    free(s);
    msg_destroy(r);
    /* 100 Trying has no To-tag; other responses get a random one */
    r = sbc_sipmsg_response(req, 100, NULL, NULL);
    assert_null(sip_object(r)->sip_to->a_tag);
    msg_destroy(r);
    r = sbc_sipmsg_response(req, 180, "Ringing", NULL);
    assert_non_null(sip_object(r)->sip_to->a_tag);
    msg_destroy(r);
    assert_null(sbc_sipmsg_response(req, 99, NULL, NULL));
    msg_destroy(req);
}

static void test_max_forwards_483(void **state)
{
    msg_t *req = parse_ok(make_invite_text("10.0.0.1:5060", "z9hG4bKa1", "", 0));
    assert_int_equal(sbc_sipmsg_max_forwards_next(sip_object(req)), -1);
    assert_int_equal(sbc_sipmsg_max_forwards_decrement(req), -1);
    assert_int_equal(sip_object(req)->sip_max_forwards->mf_count, 0);
    msg_t *r = sbc_sipmsg_response(req, 483, NULL, NULL);
    char *s = sbc_sipmsg_to_string(r, NULL);
    assert_non_null(strstr(s, "SIP/2.0 483 Too Many Hops\r\n"));
    free(s);
    msg_destroy(r);
    msg_destroy(req);
    req = parse_ok(make_invite_text("10.0.0.1:5060", "z9hG4bKa1", "", 1));
    assert_int_equal(sbc_sipmsg_max_forwards_next(sip_object(req)), 0);
    msg_destroy(req);
}

static void test_ids_home_round_trip(void **state)
{
    char id[SBC_SIPMSG_ID_MAX], prev[SBC_SIPMSG_ID_MAX] = "";
    for (int home = 0; home <= SBC_SIPMSG_HOME_MAX; home++) {
        assert_int_equal(sbc_sipmsg_make_tag(id, sizeof id, home), 0);
        assert_int_equal(sbc_sipmsg_home_from_id(id), home);
        assert_string_not_equal(id, prev);
        strcpy(prev, id);
        assert_int_equal(sbc_sipmsg_make_branch(id, sizeof id, home), 0);
        assert_memory_equal(id, "z9hG4bK", 7);
        assert_int_equal(sbc_sipmsg_home_from_id(id), home);
        assert_int_equal(sbc_sipmsg_make_call_id(id, sizeof id, home), 0);
        assert_int_equal(sbc_sipmsg_home_from_id(id), home);
        /* Contact user part or Call-ID with a host */
        strcat(id, "@sbc.example.com");
        assert_int_equal(sbc_sipmsg_home_from_id(id), home);
    }
    assert_int_equal(sbc_sipmsg_make_tag(id, sizeof id, SBC_SIPMSG_HOME_MAX + 1), -1);
    assert_int_equal(sbc_sipmsg_make_tag(id, 8, 1), -1);
    /* tampering breaks the checksum */
    assert_int_equal(sbc_sipmsg_make_tag(id, sizeof id, 7), 0);
    id[5] = id[5] == 'a' ? 'b' : 'a';
    assert_int_equal(sbc_sipmsg_home_from_id(id), -1);
    /* foreign ids */
    static const char *foreign[] = {
        "", "w", "w3", "w3.", "w3-abc", "fromtag1", "z9hG4bK776asdhds", "callid-1@carrier.example",
        "w03.0123456789abcdef012", "w1234.0123456789abcdef012", "W3.0123456789abcdef012",
        "w3.0123456789abcdef01", "w3.0123456789abcdefXYZ",
    };
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++)
        assert_int_equal(sbc_sipmsg_home_from_id(foreign[i]), -1);
    assert_int_equal(sbc_sipmsg_home_from_id(NULL), -1);
    /* random foreign ids in our alphabet are almost never taken for ours */
    int false_pos = 0;
    for (int i = 0; i < 20000; i++) {
        char f[32];
        snprintf(f, sizeof f, "w%d.", i % 10);
        for (int k = 0; k < 19; k++)
            f[3 + k] = "0123456789abcdefghijklmnopqrstuv"[rand() % 32];
        f[22] = '\0';
        false_pos += sbc_sipmsg_home_from_id(f) >= 0;
    }
    assert_true(false_pos < 10);
    /* home -1: plain random id */
    assert_int_equal(sbc_sipmsg_make_tag(id, sizeof id, -1), 0);
    assert_int_equal(sbc_sipmsg_home_from_id(id), -1);
}

static void test_via_add_and_received(void **state)
{
    msg_t *m = parse_ok(make_invite_text("10.0.0.1:5060", "z9hG4bKa1", ";rport", 70));
    sbc_hop_t src;
    hop_set(&src, SBC_TP_UDP, "198.51.100.7", 5099);
    assert_int_equal(sbc_sipmsg_via_received(m, &src), 0);
    sip_via_t *v = sip_object(m)->sip_via;
    assert_string_equal(v->v_received, "198.51.100.7");
    assert_string_equal(v->v_rport, "5099");
    char *s = sbc_sipmsg_to_string(m, NULL);
    assert_true(strstr(s, "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa1;rport=5099;"
                          "received=198.51.100.7\r\n") ||
                strstr(s, "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa1;"
                          "received=198.51.100.7;rport=5099\r\n"));
    free(s);
    /* our Via goes on top; IPv6 gets brackets */
    assert_int_equal(sbc_sipmsg_via_add(m, SBC_TP_TLS, "2001:db8::5", 5061, "z9hG4bKours"), 0);
    v = sip_object(m)->sip_via;
    assert_string_equal(v->v_branch, "z9hG4bKours");
    assert_string_equal(v->v_host, "[2001:db8::5]");
    assert_non_null(v->v_rport);
    s = sbc_sipmsg_to_string(m, NULL);
    assert_non_null(strstr(s, "Via: SIP/2.0/TLS [2001:db8::5]:5061;branch=z9hG4bKours;rport\r\n"));
    free(s);
    sbc_hop_t hop;
    hop_set(&hop, SBC_TP_UDP, "203.0.113.1", 5060);
    assert_int_equal(sbc_sipmsg_via_add_hop(m, &hop, "z9hG4bKhop"), 0);
    assert_string_equal(sip_object(m)->sip_via->v_host, "192.0.2.10");
    msg_destroy(m);

    /* same host, no rport: no received */
    m = parse_ok(make_invite_text("198.51.100.7:5060", "z9hG4bKa2", "", 70));
    assert_int_equal(sbc_sipmsg_via_received(m, &src), 0);
    assert_null(sip_object(m)->sip_via->v_received);
    msg_destroy(m);
}

static void test_response_hop(void **state)
{
    struct { const char *sent_by, *extra; const char *src_ip; uint16_t src_port;
             const char *want_ip; unsigned want_port; } cases[] = {
        { "10.0.0.1:5060", ";rport", "198.51.100.7", 5099, "198.51.100.7", 5099 },   /* RFC 3581 */
        { "10.0.0.1:5070", "", "198.51.100.7", 5099, "198.51.100.7", 5070 },         /* received */
        { "198.51.100.7:5080", "", "198.51.100.7", 5099, "198.51.100.7", 5080 },     /* sent-by */
        { "198.51.100.7", "", "198.51.100.7", 5099, "198.51.100.7", 5060 },          /* default port */
        { "10.0.0.1:5060", ";maddr=203.0.113.9", "198.51.100.7", 5099, "203.0.113.9", 5060 },
        { "host.example:5062", "", "198.51.100.7", 5099, "198.51.100.7", 5062 },     /* name */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msg_t *m = parse_ok(make_invite_text(cases[i].sent_by, "z9hG4bKr", cases[i].extra, 70));
        sbc_hop_t src, out;
        hop_set(&src, SBC_TP_UDP, cases[i].src_ip, cases[i].src_port);
        assert_int_equal(sbc_sipmsg_via_received(m, &src), 0);
        assert_int_equal(sbc_sipmsg_response_hop(sip_object(m)->sip_via, &src, &out), 0);
        char ip[64];
        unsigned port;
        hop_peer(&out, ip, sizeof ip, &port);
        assert_string_equal(ip, cases[i].want_ip);
        assert_int_equal(port, cases[i].want_port);
        msg_destroy(m);
    }
    /* reliable: back on the same connection to the source */
    msg_t *m = parse_ok(make_invite_text("10.0.0.1:5060", "z9hG4bKr", "", 70));
    sbc_hop_t src, out;
    hop_set(&src, SBC_TP_TLS, "198.51.100.7", 40123);
    src.conn_id = 77;
    strcpy(src.tls_name, "x");
    assert_int_equal(sbc_sipmsg_response_hop(sip_object(m)->sip_via, &src, &out), 0);
    assert_int_equal(out.conn_id, 77);
    assert_string_equal(out.tls_name, "");
    char ip[64];
    unsigned port;
    hop_peer(&out, ip, sizeof ip, &port);
    assert_int_equal(port, 40123);
    msg_destroy(m);
}

static void test_request_from(void **state)
{
    msg_t *inv = parse_ok(make_invite_text("10.0.0.1:5060", "z9hG4bKa1", "", 70));
    msg_t *c = sbc_sipmsg_request_from(inv, sip_method_cancel, "CANCEL", NULL);
    char *s = sbc_sipmsg_to_string(c, NULL);
    assert_non_null(strstr(s, "CANCEL sip:+15551230000@sbc.example.com;user=phone SIP/2.0\r\n"));
    assert_non_null(strstr(s, "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa1\r\n"));
    assert_null(strstr(s, "z9hG4bKupstream"));
    assert_non_null(strstr(s, "CSeq: 10 CANCEL\r\n"));
    assert_non_null(strstr(s, "Route: <sip:edge.example;lr>\r\n"));
    assert_non_null(strstr(s, "Max-Forwards: 70\r\n"));
    assert_null(strstr(s, "Content-Type"));
    free(s);
    msg_destroy(c);
    msg_destroy(inv);
}

static void test_unsupported_require(void **state)
{
    static const char *const ours[] = { "100rel", "timer", NULL };
    static const char fmt[] = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKu1\r\n"
                              "From: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: u1\r\nCSeq: 1 OPTIONS\r\n"
                              "%sContent-Length: 0\r\n\r\n";
    char text[512], hdrs[128];
    snprintf(text, sizeof text, fmt, "Require: 100rel, Timer\r\n");
    msg_t *m = parse_ok(text);
    assert_int_equal(sbc_sipmsg_unsupported(sip_object(m), ours, hdrs, sizeof hdrs), 0);
    assert_string_equal(hdrs, "");
    msg_destroy(m);
    /* two Require lines, two unknown tags: both listed, case kept */
    snprintf(text, sizeof text, fmt, "Require: 100rel, precondition\r\nRequire: sec-agree\r\n");
    m = parse_ok(text);
    assert_int_equal(sbc_sipmsg_unsupported(sip_object(m), ours, hdrs, sizeof hdrs), 2);
    assert_string_equal(hdrs, "Unsupported: precondition, sec-agree\r\n");
    /* no room for the list: counted all the same, never a broken header line */
    char small[20];
    assert_int_equal(sbc_sipmsg_unsupported(sip_object(m), ours, small, sizeof small), 2);
    assert_true(small[0] == '\0' || strstr(small, "\r\n"));
    msg_destroy(m);
    snprintf(text, sizeof text, fmt, "");
    m = parse_ok(text);
    assert_int_equal(sbc_sipmsg_unsupported(sip_object(m), ours, hdrs, sizeof hdrs), 0);
    msg_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid_invite),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_parse_drops_unanswerable),
        cmocka_unit_test(test_parse_oversized_and_garbage),
        cmocka_unit_test(test_edit_reaches_iovec),
        cmocka_unit_test(test_response_builder),
        cmocka_unit_test(test_max_forwards_483),
        cmocka_unit_test(test_ids_home_round_trip),
        cmocka_unit_test(test_via_add_and_received),
        cmocka_unit_test(test_response_hop),
        cmocka_unit_test(test_request_from),
        cmocka_unit_test(test_unsupported_require),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
