/* sbc/txn: the four state machines on a fake clock and a fake transport. */
#include "fixtures.h"

#include <event2/event.h>

#include "sbc/timers.h"
#include "sbc/txn.h"

#define MAX_SENT 128

typedef struct sent {
    char *text;
    sbc_hop_t hop;
    uint64_t at;
} sent_t;

typedef struct env {
    sbc_clock_t *clock;
    sbc_txl_t *txl;
    sent_t sent[MAX_SENT];
    size_t n_sent;
    int fail_sends;          /* fail the next n sends */
    /* TU view */
    int n_request, n_ack, n_response, n_timeout, n_transport, n_terminated, n_stray;
    int last_status;
    enum sbc_txn_end last_end;
    sbc_txn_t *last_st;
    sbc_txn_t *last_terminated;
    sbc_txn_t *cancel_target;
    int auto_reply;          /* reply to new requests with this status inside the callback */
    int n_2xx_timeout;
    int n_overflow;
} env_t;

static int fake_send(void *arg, msg_t *msg, sbc_hop_t *hop)
{
    env_t *e = arg;
    if (e->fail_sends > 0) {
        e->fail_sends--;
        return -1;
    }
    if (e->n_sent == MAX_SENT) {
        e->n_overflow++;     /* bulk tests only: the others assert exact counts */
        return 0;
    }
    sent_t *s = &e->sent[e->n_sent++];
    s->text = sbc_sipmsg_to_string(msg, NULL);
    assert_non_null(s->text);
    s->hop = *hop;
    s->at = sbc_clock_now_ms(e->clock);
    return 0;
}

static void tu_request(void *arg, sbc_txn_t *st, msg_t *msg, const sbc_hop_t *hop)
{
    env_t *e = arg;
    sip_t *sip = sip_object(msg);
    if (!st) {
        assert_int_equal(sip->sip_request->rq_method, sip_method_ack);
        e->n_ack++;
        return;
    }
    assert_ptr_equal(sbc_txn_request(st), msg);
    e->n_request++;
    e->last_st = st;
    if (sip->sip_request->rq_method == sip_method_cancel)
        e->cancel_target = sbc_txl_find_invite_for_cancel(e->txl, msg);
    if (e->auto_reply)
        assert_int_equal(sbc_txl_reply(e->txl, st, e->auto_reply, NULL, NULL), 0);
}

static void tu_response(void *arg, sbc_txn_t *ct, void *ctx, msg_t *msg, const sbc_hop_t *hop)
{
    env_t *e = arg;
    assert_ptr_equal(ctx, e);
    e->n_response++;
    e->last_status = sip_object(msg)->sip_status->st_status;
}

static void tu_timeout(void *arg, sbc_txn_t *ct, void *ctx)
{
    env_t *e = arg;
    e->n_timeout++;
}

static void tu_transport(void *arg, sbc_txn_t *ct, void *ctx)
{
    env_t *e = arg;
    e->n_transport++;
}

static void tu_terminated(void *arg, sbc_txn_t *st, void *ctx, enum sbc_txn_end why)
{
    env_t *e = arg;
    e->n_terminated++;
    e->last_end = why;
    e->last_terminated = st;
}

static void tu_stray(void *arg, msg_t *msg, const sbc_hop_t *hop)
{
    env_t *e = arg;
    e->n_stray++;
}

static const sbc_txl_ops_t ops = {
    .send = fake_send, .request = tu_request, .response = tu_response, .timeout = tu_timeout,
    .transport_error = tu_transport, .terminated = tu_terminated, .stray_response = tu_stray,
};

static int setup(void **state)
{
    sbc_sipmsg_global_init();
    env_t *e = calloc(1, sizeof *e);
    e->clock = sbc_clock_fake_create();
    /* 100 Trying at once here; its delayed default has its own test */
    sbc_txl_conf_t conf = { .trying_ms = -1 };
    e->txl = sbc_txl_create(&conf, &ops, e, e->clock);
    assert_non_null(e->txl);
    *state = e;
    return 0;
}

/* The default: 100 Trying only when the TU is slower than 200 ms. */
static int setup_delayed_trying(void **state)
{
    sbc_sipmsg_global_init();
    env_t *e = calloc(1, sizeof *e);
    e->clock = sbc_clock_fake_create();
    e->txl = sbc_txl_create(NULL, &ops, e, e->clock);
    assert_non_null(e->txl);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env_t *e = *state;
    sbc_txl_destroy(e->txl);
    assert_int_equal(sbc_clock_fake_pending(e->clock), 0);
    sbc_clock_destroy(e->clock);
    for (size_t i = 0; i < e->n_sent; i++)
        free(e->sent[i].text);
    free(e);
    return 0;
}

static void advance(env_t *e, uint64_t ms) { sbc_clock_fake_advance(e->clock, ms); }

static const char *sent_text(env_t *e, size_t i)
{
    assert_true(i < e->n_sent);
    return e->sent[i].text;
}

static int starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* ---- message builders --------------------------------------------------- */

static const char *our_branch = "z9hG4bKw0.client";

/* A request we send: top Via ours. */
static msg_t *our_request(const char *method, const char *branch)
{
    char buf[2048];
    snprintf(buf, sizeof buf,
             "%s sip:+15551230000@carrier.example SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=%s;rport\r\n"
             "Max-Forwards: 69\r\n"
             "From: <sip:+15550001111@sbc.example.com>;tag=w0.ourtag\r\n"
             "To: <sip:+15551230000@carrier.example>\r\n"
             "Call-ID: w0.ourcallid\r\n"
             "CSeq: 1 %s\r\n"
             "Route: <sip:core.carrier.example;lr>\r\n"
             "Content-Length: 0\r\n\r\n", method, branch, method);
    return parse_ok(buf);
}

/* A response the peer sends to our request. */
static msg_t *peer_response(const char *method, const char *branch, int status, const char *to_tag)
{
    char buf[2048];
    const char *phrase = sip_status_phrase(status);
    snprintf(buf, sizeof buf,
             "SIP/2.0 %d %s\r\n"
             "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=%s;rport=5060;received=192.0.2.10\r\n"
             "From: <sip:+15550001111@sbc.example.com>;tag=w0.ourtag\r\n"
             "To: <sip:+15551230000@carrier.example>%s%s\r\n"
             "Call-ID: w0.ourcallid\r\n"
             "CSeq: 1 %s\r\n"
             "Content-Length: 0\r\n\r\n", status, phrase ? phrase : "X",
             branch, to_tag ? ";tag=" : "", to_tag ? to_tag : "", method);
    return parse_ok(buf);
}

/* A request the peer sends us. */
static msg_t *peer_request(const char *method, const char *branch, const char *to_tag)
{
    char buf[2048];
    snprintf(buf, sizeof buf,
             "%s sip:+15551230000@sbc.example.com SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=%s;rport\r\n"
             "Max-Forwards: 70\r\n"
             "From: <sip:+15550001111@carrier.example>;tag=peertag\r\n"
             "To: <sip:+15551230000@sbc.example.com>%s%s\r\n"
             "Call-ID: peer-callid\r\n"
             "CSeq: 5 %s\r\n"
             "Content-Length: 0\r\n\r\n", method, branch, to_tag ? ";tag=" : "",
             to_tag ? to_tag : "", method);
    return parse_ok(buf);
}

static sbc_hop_t udp_hop(void)
{
    sbc_hop_t h;
    hop_set(&h, SBC_TP_UDP, "198.51.100.7", 5099);
    return h;
}

static sbc_hop_t tcp_hop(uint64_t conn)
{
    sbc_hop_t h;
    hop_set(&h, SBC_TP_TCP, "198.51.100.7", 40000);
    h.conn_id = conn;
    return h;
}

static void assert_times(env_t *e, size_t from, const uint64_t *want, size_t n)
{
    for (size_t i = 0; i < n && from + i < e->n_sent; i++)
        if (e->sent[from + i].at != want[i])
            fprintf(stderr, "send %zu at %llu, want %llu\n", i,
                    (unsigned long long)e->sent[from + i].at, (unsigned long long)want[i]);
    assert_int_equal(e->n_sent - from, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(e->sent[from + i].at, want[i]);
}

/* ---- client INVITE ------------------------------------------------------- */

static void test_ict_timer_a_b(void **state)
{
    env_t *e = *state;
    sbc_hop_t hop = udp_hop();
    sbc_txn_t *t = sbc_txl_request(e->txl, our_request("INVITE", our_branch), &hop, e);
    assert_non_null(t);
    assert_int_equal(sbc_txn_state(t), SBC_TXN_CALLING);
    advance(e, 40000);
    /* A: 0.5, 1, 2, 4, 8, 16 s apart; B at 64*T1 = 32 s */
    static const uint64_t want[] = { 0, 500, 1500, 3500, 7500, 15500, 31500 };
    assert_times(e, 0, want, 7);
    for (size_t i = 0; i < e->n_sent; i++)
        assert_true(starts(sent_text(e, i), "INVITE sip:"));
    assert_int_equal(e->n_timeout, 1);
    assert_int_equal(e->n_response, 0);
    assert_int_equal(sbc_txl_count(e->txl), 0);
}

static void test_ict_non2xx_ack(void **state)
{
    env_t *e = *state;
    sbc_hop_t hop = udp_hop();
    sbc_txn_t *t = sbc_txl_request(e->txl, our_request("INVITE", our_branch), &hop, e);
    advance(e, 600);                       /* one retransmission */
    assert_int_equal(e->n_sent, 2);
    sbc_txl_receive(e->txl, peer_response("INVITE", our_branch, 180, "peer1"), &hop);
    assert_int_equal(sbc_txn_state(t), SBC_TXN_PROCEEDING);
    assert_int_equal(e->last_status, 180);
    advance(e, 60000);                     /* Proceeding: no A, no B */
    assert_int_equal(e->n_sent, 2);
    assert_int_equal(e->n_timeout, 0);
    sbc_txl_receive(e->txl, peer_response("INVITE", our_branch, 486, "peer1"), &hop);
    assert_int_equal(e->n_response, 2);
    assert_int_equal(e->last_status, 486);
    assert_int_equal(e->n_sent, 3);
    const char *ack = sent_text(e, 2);
    /* §17.1.1.3: same R-URI, branch, Call-ID, From, CSeq number; To from the response */
    assert_true(starts(ack, "ACK sip:+15551230000@carrier.example SIP/2.0\r\n"));
    assert_non_null(strstr(ack, "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKw0.client;rport\r\n"));
    assert_non_null(strstr(ack, "To: <sip:+15551230000@carrier.example>;tag=peer1\r\n"));
    assert_non_null(strstr(ack, "From: <sip:+15550001111@sbc.example.com>;tag=w0.ourtag\r\n"));
    assert_non_null(strstr(ack, "Call-ID: w0.ourcallid\r\n"));
    assert_non_null(strstr(ack, "CSeq: 1 ACK\r\n"));
    assert_non_null(strstr(ack, "Route: <sip:core.carrier.example;lr>\r\n"));
    assert_int_equal(memcmp(&e->sent[2].hop.peer, &hop.peer, hop.peer_len), 0);
    /* a retransmitted final: ACK again, TU not told */
    sbc_txl_receive(e->txl, peer_response("INVITE", our_branch, 486, "peer1"), &hop);
    assert_int_equal(e->n_sent, 4);
    assert_string_equal(sent_text(e, 3), ack);
    assert_int_equal(e->n_response, 2);
    advance(e, 31999);                     /* Timer D */
    assert_int_equal(sbc_txl_count(e->txl), 1);
    advance(e, 1);
    assert_int_equal(sbc_txl_count(e->txl), 0);
    assert_int_equal(e->n_timeout, 0);
}

static void test_ict_2xx_to_tu(void **state)
{
    env_t *e = *state;
    sbc_hop_t hop = udp_hop();
    sbc_txn_t *t = sbc_txl_request(e->txl, our_request("INVITE", our_branch), &hop, e);
    sbc_txl_receive(e->txl, peer_response("INVITE", our_branch, 200, "peer1"), &hop);
    assert_int_equal(sbc_txn_state(t), SBC_TXN_ACCEPTED);
    assert_int_equal(e->n_response, 1);
    assert_int_equal(e->n_sent, 1);        /* no ACK from the transaction */
    sbc_txl_receive(e->txl, peer_response("INVITE", our_branch, 200, "peer1"), &hop);
    assert_int_equal(e->n_response, 2);    /* retransmitted 2xx reaches the TU (re-ACK) */
    advance(e, 40000);                     /* no retransmissions after 2xx; Timer M */
    assert_int_equal(e->n_sent, 1);
    assert_int_equal(e->n_timeout, 0);
    assert_int_equal(sbc_txl_count(e->txl), 0);
    sbc_txl_receive(e->txl, peer_response("INVITE", our_branch, 200, "peer1"), &hop);
    assert_int_equal(e->n_stray, 1);
}

static void test_ict_reliable(void **state)
{
    env_t *e = *state;
    sbc_hop_t hop = tcp_hop(5);
    sbc_txl_request(e->txl, our_request("INVITE", our_branch), &hop, e);
    advance(e, 31999);
    assert_int_equal(e->n_sent, 1);        /* no Timer A on TCP */
    advance(e, 1);
    assert_int_equal(e->n_timeout, 1);     /* B still applies */
    assert_int_equal(sbc_txl_count(e->txl), 0);
    /* non-2xx on TCP: ACK, then gone at once (D = 0) */
    sbc_txl_request(e->txl, our_request("INVITE", "z9hG4bKw0.second"), &hop, e);
    sbc_txl_receive(e->txl, peer_response("INVITE", "z9hG4bKw0.second", 503, "x"), &hop);
    assert_int_equal(e->n_sent, 3);
    assert_true(starts(sent_text(e, 2), "ACK "));
    advance(e, 0);
    assert_int_equal(sbc_txl_count(e->txl), 0);
}

static void test_ict_cancel(void **state)
{
    env_t *e = *state;
    sbc_hop_t hop = udp_hop();
    sbc_txn_t *t = sbc_txl_request(e->txl, our_request("INVITE", our_branch), &hop, e);
    assert_int_equal(sbc_txl_cancel(e->txl, t, "Q.850;cause=16"), 0);
    assert_int_equal(e->n_sent, 1);        /* §9.1: held until a provisional response */
    sbc_txl_receive(e->txl, peer_response("INVITE", our_branch, 100, NULL), &hop);
    assert_int_equal(e->n_sent, 2);
    const char *c = sent_text(e, 1);
    assert_true(starts(c, "CANCEL sip:+15551230000@carrier.example SIP/2.0\r\n"));
    assert_non_null(strstr(c, "branch=z9hG4bKw0.client"));
    assert_non_null(strstr(c, "CSeq: 1 CANCEL\r\n"));
    assert_non_null(strstr(c, "To: <sip:+15551230000@carrier.example>\r\n"));
    assert_non_null(strstr(c, "Call-ID: w0.ourcallid\r\n"));
    assert_non_null(strstr(c, "Reason: Q.850;cause=16\r\n"));
    assert_int_equal(sbc_txl_count(e->txl), 2);
    /* the CANCEL is retransmitted by its own transaction (Timer E) */
    advance(e, 500);
    assert_int_equal(e->n_sent, 3);
    assert_true(starts(sent_text(e, 2), "CANCEL "));
    /* 200 to the CANCEL is absorbed by the layer; 487 is the TU's */
    int before = e->n_response;
    sbc_txl_receive(e->txl, peer_response("CANCEL", our_branch, 200, "peer1"), &hop);
    assert_int_equal(e->n_response, before);
    sbc_txl_receive(e->txl, peer_response("INVITE", our_branch, 487, "peer1"), &hop);
    assert_int_equal(e->last_status, 487);
    assert_true(starts(sent_text(e, e->n_sent - 1), "ACK "));
    advance(e, 40000);
    assert_int_equal(sbc_txl_count(e->txl), 0);
    assert_int_equal(e->n_timeout, 0);
}

static void test_ict_cancel_no_final(void **state)
{
    env_t *e = *state;
    sbc_hop_t hop = udp_hop();
    sbc_txn_t *t = sbc_txl_request(e->txl, our_request("INVITE", our_branch), &hop, e);
    sbc_txl_receive(e->txl, peer_response("INVITE", our_branch, 180, "p"), &hop);
    advance(e, 10000);
    assert_int_equal(sbc_txl_cancel(e->txl, t, NULL), 0);
    assert_int_equal(sbc_txl_cancel(e->txl, t, NULL), 0);   /* idempotent */
    assert_int_equal(e->n_sent, 2);
    advance(e, 32000);   /* §9.1: 64*T1 without a final after CANCEL: timeout */
    assert_int_equal(e->n_timeout, 1);
    advance(e, 10);
    assert_int_equal(sbc_txl_count(e->txl), 0);
    /* cannot cancel a non-INVITE */
    sbc_txn_t *o = sbc_txl_request(e->txl, our_request("OPTIONS", "z9hG4bKw0.o"), &hop, e);
    assert_int_equal(sbc_txl_cancel(e->txl, o, NULL), -1);
}

/* ---- client non-INVITE --------------------------------------------------- */

static void test_nict_timer_e_f(void **state)
{
    env_t *e = *state;
    sbc_hop_t hop = udp_hop();
    sbc_txl_request(e->txl, our_request("OPTIONS", our_branch), &hop, e);
    advance(e, 40000);
    /* E doubles up to T2 = 4 s; F at 32 s */
    static const uint64_t want[] = { 0, 500, 1500, 3500, 7500, 11500, 15500, 19500,
                                     23500, 27500, 31500 };
    assert_times(e, 0, want, 11);
    assert_int_equal(e->n_timeout, 1);
    assert_int_equal(sbc_txl_count(e->txl), 0);
}

static void test_nict_proceeding_and_k(void **state)
{
    env_t *e = *state;
    sbc_hop_t hop = udp_hop();
    sbc_txn_t *t = sbc_txl_request(e->txl, our_request("BYE", our_branch), &hop, e);
    advance(e, 700);                         /* sent at 0, 500 */
    sbc_txl_receive(e->txl, peer_response("BYE", our_branch, 100, NULL), &hop);
    assert_int_equal(sbc_txn_state(t), SBC_TXN_PROCEEDING);
    advance(e, 9300);                        /* to 10 s: next at 1500, then T2 steps */
    static const uint64_t want[] = { 0, 500, 1500, 5500, 9500 };
    assert_times(e, 0, want, 5);
    sbc_txl_receive(e->txl, peer_response("BYE", our_branch, 200, "x"), &hop);
    assert_int_equal(e->n_response, 2);
    assert_int_equal(sbc_txn_state(t), SBC_TXN_COMPLETED);
    sbc_txl_receive(e->txl, peer_response("BYE", our_branch, 200, "x"), &hop);
    assert_int_equal(e->n_response, 2);      /* absorbed */
    advance(e, 4999);                        /* Timer K = T4 */
    assert_int_equal(sbc_txl_count(e->txl), 1);
    advance(e, 1);
    assert_int_equal(sbc_txl_count(e->txl), 0);
    assert_int_equal(e->n_sent, 5);
}

static void test_nict_reliable_and_transport_error(void **state)
{
    env_t *e = *state;
    sbc_hop_t hop = tcp_hop(9);
    sbc_txn_t *t = sbc_txl_request(e->txl, our_request("OPTIONS", our_branch), &hop, e);
    assert_non_null(t);
    sbc_txl_receive(e->txl, peer_response("OPTIONS", our_branch, 200, "x"), &hop);
    advance(e, 0);                           /* K = 0 on TCP */
    assert_int_equal(sbc_txl_count(e->txl), 0);
    assert_int_equal(e->n_sent, 1);
    /* connection lost: the TU hears of it */
    sbc_txl_request(e->txl, our_request("OPTIONS", "z9hG4bKw0.b2"), &hop, e);
    sbc_txl_conn_failed(e->txl, 8);
    assert_int_equal(e->n_transport, 0);
    sbc_txl_conn_failed(e->txl, 9);
    assert_int_equal(e->n_transport, 1);
    advance(e, 0);
    assert_int_equal(sbc_txl_count(e->txl), 0);
    /* first send fails: no transaction */
    e->fail_sends = 1;
    assert_null(sbc_txl_request(e->txl, our_request("OPTIONS", "z9hG4bKw0.b3"), &hop, e));
    /* a retransmission fails on UDP */
    sbc_hop_t u = udp_hop();
    sbc_txl_request(e->txl, our_request("OPTIONS", "z9hG4bKw0.b4"), &u, e);
    e->fail_sends = 1;
    advance(e, 500);
    assert_int_equal(e->n_transport, 2);
    advance(e, 0);
    assert_int_equal(sbc_txl_count(e->txl), 0);
    /* an ACK or a branch without the cookie is refused */
    assert_null(sbc_txl_request(e->txl, our_request("ACK", "z9hG4bKw0.b5"), &u, e));
    assert_null(sbc_txl_request(e->txl, our_request("OPTIONS", "old-branch"), &u, e));
    /* duplicate branch is refused */
    assert_non_null(sbc_txl_request(e->txl, our_request("OPTIONS", "z9hG4bKw0.b6"), &u, e));
    assert_null(sbc_txl_request(e->txl, our_request("OPTIONS", "z9hG4bKw0.b6"), &u, e));
}

/* ---- server INVITE ------------------------------------------------------- */

static void test_ist_trying_delayed(void **state)
{
    env_t *e = *state;
    sbc_hop_t src = udp_hop();
    /* the TU answers 180 within 200 ms: no 100 at all */
    sbc_txl_receive(e->txl, peer_request("INVITE", "z9hG4bKquick", NULL), &src);
    sbc_txn_t *quick = e->last_st;
    advance(e, 150);
    assert_int_equal(e->n_sent, 0);
    sbc_sipmsg_resp_opt_t opt = { .to_tag = "w0.q" };
    assert_int_equal(sbc_txl_reply(e->txl, quick, 180, NULL, &opt), 0);
    advance(e, 500);
    assert_int_equal(e->n_sent, 1);
    assert_true(starts(sent_text(e, 0), "SIP/2.0 180 Ringing\r\n"));
    /* a slow TU: 100 after 200 ms, once */
    sbc_txl_receive(e->txl, peer_request("INVITE", "z9hG4bKslow", NULL), &src);
    sbc_txn_t *slow = e->last_st;
    advance(e, 199);
    assert_int_equal(e->n_sent, 1);
    advance(e, 1);
    assert_int_equal(e->n_sent, 2);
    assert_true(starts(sent_text(e, 1), "SIP/2.0 100 Trying\r\n"));
    advance(e, 2000);
    assert_int_equal(e->n_sent, 2);
    /* a retransmission before 200 ms gets its 100 at once */
    sbc_txl_receive(e->txl, peer_request("INVITE", "z9hG4bKretx", NULL), &src);
    sbc_txn_t *retx = e->last_st;
    advance(e, 50);
    sbc_txl_receive(e->txl, peer_request("INVITE", "z9hG4bKretx", NULL), &src);
    assert_int_equal(e->n_sent, 3);
    assert_true(starts(sent_text(e, 2), "SIP/2.0 100 Trying\r\n"));
    advance(e, 500);
    assert_int_equal(e->n_sent, 3);      /* the timer went with it */
    assert_int_equal(e->n_request, 3);
    sbc_txl_reply(e->txl, quick, 486, NULL, &opt);
    sbc_txl_reply(e->txl, slow, 486, NULL, &opt);
    sbc_txl_reply(e->txl, retx, 486, NULL, &opt);
    sbc_txl_receive(e->txl, peer_request("ACK", "z9hG4bKquick", "w0.q"), &src);
    sbc_txl_receive(e->txl, peer_request("ACK", "z9hG4bKslow", "w0.q"), &src);
    sbc_txl_receive(e->txl, peer_request("ACK", "z9hG4bKretx", "w0.q"), &src);
    advance(e, 64000);
    assert_int_equal(sbc_txl_count(e->txl), 0);
}

static void test_ist_trying_and_absorb(void **state)
{
    env_t *e = *state;
    sbc_hop_t src = udp_hop();
    sbc_txl_receive(e->txl, peer_request("INVITE", "z9hG4bKpeer1", NULL), &src);
    assert_int_equal(e->n_request, 1);
    sbc_txn_t *st = e->last_st;
    assert_int_equal(sbc_txn_kind(st), SBC_TXN_IST);
    /* 100 Trying at once, to received/rport (RFC 3581) */
    assert_int_equal(e->n_sent, 1);
    const char *t100 = sent_text(e, 0);
    assert_true(starts(t100, "SIP/2.0 100 Trying\r\n"));
    assert_non_null(strstr(t100, "received=198.51.100.7"));
    assert_non_null(strstr(t100, "rport=5099"));
    assert_null(strstr(t100, "To: <sip:+15551230000@sbc.example.com>;tag="));
    char ip[64];
    unsigned port;
    hop_peer(&e->sent[0].hop, ip, sizeof ip, &port);
    assert_string_equal(ip, "198.51.100.7");
    assert_int_equal(port, 5099);
    /* retransmitted INVITE: absorbed, 100 again */
    sbc_txl_receive(e->txl, peer_request("INVITE", "z9hG4bKpeer1", NULL), &src);
    assert_int_equal(e->n_request, 1);
    assert_int_equal(e->n_sent, 2);
    assert_string_equal(sent_text(e, 1), t100);
    assert_int_equal(sbc_txl_reply(e->txl, st, 180, NULL,
                                   &(sbc_sipmsg_resp_opt_t){ .to_tag = "w0.mytag" }), 0);
    assert_true(starts(sent_text(e, 2), "SIP/2.0 180 Ringing\r\n"));
    sbc_txl_receive(e->txl, peer_request("INVITE", "z9hG4bKpeer1", NULL), &src);
    assert_int_equal(e->n_sent, 4);
    assert_string_equal(sent_text(e, 3), sent_text(e, 2));   /* last provisional again */
    /* a different branch is a new transaction */
    sbc_txl_receive(e->txl, peer_request("INVITE", "z9hG4bKpeer2", NULL), &src);
    assert_int_equal(e->n_request, 2);
    assert_int_equal(sbc_txl_count(e->txl), 2);
}

static void test_ist_non2xx_timer_g_h(void **state)
{
    env_t *e = *state;
    sbc_hop_t src = udp_hop();
    sbc_txl_receive(e->txl, peer_request("INVITE", "z9hG4bKpeer1", NULL), &src);
    sbc_txn_t *st = e->last_st;
    assert_int_equal(sbc_txl_reply(e->txl, st, 486, NULL,
                                   &(sbc_sipmsg_resp_opt_t){ .to_tag = "w0.t" }), 0);
    assert_int_equal(sbc_txn_state(st), SBC_TXN_COMPLETED);
    advance(e, 40000);
    /* the 486 at 0, then G: T1 doubling, capped at T2; H at 64*T1 */
    static const uint64_t want[] = { 0, 500, 1500, 3500, 7500, 11500, 15500, 19500,
                                     23500, 27500, 31500 };
    assert_times(e, 1, want, 11);
    for (size_t i = 1; i < e->n_sent; i++)
        assert_true(starts(sent_text(e, i), "SIP/2.0 486 Busy Here\r\n"));
    assert_int_equal(e->n_terminated, 1);
    assert_int_equal(e->last_end, SBC_TXN_END_TIMEOUT);
    assert_int_equal(sbc_txl_count(e->txl), 0);
}

static void test_ist_non2xx_ack(void **state)
{
    env_t *e = *state;
    sbc_hop_t src = udp_hop();
    sbc_txl_receive(e->txl, peer_request("INVITE", "z9hG4bKpeer1", NULL), &src);
    sbc_txn_t *st = e->last_st;
    sbc_txl_reply(e->txl, st, 404, NULL, &(sbc_sipmsg_resp_opt_t){ .to_tag = "w0.t" });
    advance(e, 600);                          /* one retransmission of the 404 */
    assert_int_equal(e->n_sent, 3);
    sbc_txl_receive(e->txl, peer_request("INVITE", "z9hG4bKpeer1", NULL), &src);
    assert_int_equal(e->n_sent, 4);           /* INVITE again: final again */
    sbc_txl_receive(e->txl, peer_request("ACK", "z9hG4bKpeer1", "w0.t"), &src);
    assert_int_equal(sbc_txn_state(st), SBC_TXN_CONFIRMED);
    assert_int_equal(e->n_ack, 0);            /* absorbed, not the TU's */
    sbc_txl_receive(e->txl, peer_request("ACK", "z9hG4bKpeer1", "w0.t"), &src);
    assert_int_equal(e->n_ack, 0);
    advance(e, 4999);                         /* I = T4: nothing sent, still there */
    assert_int_equal(e->n_sent, 4);
    assert_int_equal(e->n_terminated, 0);
    advance(e, 1);
    assert_int_equal(e->n_terminated, 1);
    assert_int_equal(e->last_end, SBC_TXN_END_NORMAL);
    assert_int_equal(sbc_txl_count(e->txl), 0);
}

static void test_ist_2xx_accepted(void **state)
{
    env_t *e = *state;
    sbc_hop_t src = udp_hop();
    sbc_txl_receive(e->txl, peer_request("INVITE", "z9hG4bKpeer1", NULL), &src);
    sbc_txn_t *st = e->last_st;
    sbc_sipmsg_resp_opt_t opt = { .to_tag = "w0.t" };
    msg_t *again = sbc_sipmsg_response(sbc_txn_request(st), 200, NULL, &opt);
    assert_non_null(again);
    assert_int_equal(sbc_txl_reply(e->txl, st, 200, NULL, &opt), 0);
    assert_int_equal(sbc_txn_state(st), SBC_TXN_ACCEPTED);
    assert_int_equal(e->n_sent, 2);
    /* Accepted matches by keys alone: the request copy is gone */
    assert_null(sbc_txn_request(st));
    /* RFC 6026: INVITE retransmissions absorbed; the TU resends its 2xx */
    sbc_txl_receive(e->txl, peer_request("INVITE", "z9hG4bKpeer1", NULL), &src);
    assert_int_equal(e->n_sent, 2);
    assert_int_equal(e->n_request, 1);
    assert_int_equal(sbc_txl_respond(e->txl, st, again), 0);
    assert_int_equal(e->n_sent, 3);
    assert_int_equal(sbc_txl_reply(e->txl, st, 486, NULL, NULL), -1);
    /* the 2xx ACK (own branch) goes to the TU without a transaction */
    sbc_txl_receive(e->txl, peer_request("ACK", "z9hG4bKpeerack", "w0.t"), &src);
    assert_int_equal(e->n_ack, 1);
    assert_int_equal(sbc_txl_count(e->txl), 1);
    advance(e, 32000);                        /* Timer L */
    assert_int_equal(e->n_terminated, 1);
    assert_int_equal(e->last_end, SBC_TXN_END_NORMAL);
    assert_int_equal(sbc_txl_count(e->txl), 0);
    assert_int_equal(e->n_sent, 3);
}

static void test_ist_reliable(void **state)
{
    env_t *e = *state;
    sbc_hop_t src = tcp_hop(3);
    sbc_txl_receive(e->txl, peer_request("INVITE", "z9hG4bKpeer1", NULL), &src);
    sbc_txn_t *st = e->last_st;
    assert_int_equal(e->sent[0].hop.conn_id, 3);   /* same connection */
    sbc_txl_reply(e->txl, st, 480, NULL, NULL);
    advance(e, 31999);
    assert_int_equal(e->n_sent, 2);                /* no Timer G on TCP */
    sbc_txl_receive(e->txl, peer_request("ACK", "z9hG4bKpeer1", "x"), &src);
    advance(e, 0);                                 /* I = 0 */
    assert_int_equal(e->n_terminated, 1);
    assert_int_equal(sbc_txl_count(e->txl), 0);
}

/* ---- server non-INVITE --------------------------------------------------- */

static void test_nist_timer_j(void **state)
{
    env_t *e = *state;
    sbc_hop_t src = udp_hop();
    sbc_txl_receive(e->txl, peer_request("OPTIONS", "z9hG4bKo1", NULL), &src);
    sbc_txn_t *st = e->last_st;
    assert_int_equal(sbc_txn_kind(st), SBC_TXN_NIST);
    assert_int_equal(e->n_sent, 0);               /* no 100 for non-INVITE */
    sbc_txl_receive(e->txl, peer_request("OPTIONS", "z9hG4bKo1", NULL), &src);
    assert_int_equal(e->n_sent, 0);               /* Trying: absorbed silently */
    assert_int_equal(e->n_request, 1);
    assert_int_equal(sbc_txl_reply(e->txl, st, 200, NULL, NULL), 0);
    assert_int_equal(e->n_sent, 1);
    sbc_txl_receive(e->txl, peer_request("OPTIONS", "z9hG4bKo1", NULL), &src);
    assert_int_equal(e->n_sent, 2);               /* Completed: final again */
    assert_string_equal(sent_text(e, 0), sent_text(e, 1));
    assert_int_equal(sbc_txl_reply(e->txl, st, 500, NULL, NULL), -1);
    advance(e, 31999);
    assert_int_equal(e->n_terminated, 0);
    advance(e, 1);                                /* J = 64*T1 */
    assert_int_equal(e->n_terminated, 1);
    assert_ptr_equal(e->last_terminated, st);
    assert_int_equal(sbc_txl_count(e->txl), 0);
}

static void test_nist_reply_inside_callback_reliable(void **state)
{
    env_t *e = *state;
    sbc_hop_t src = tcp_hop(4);
    e->auto_reply = 200;
    sbc_txl_receive(e->txl, peer_request("OPTIONS", "z9hG4bKo1", NULL), &src);
    assert_int_equal(e->n_sent, 1);
    assert_int_equal(e->n_terminated, 0);   /* never re-entrant */
    advance(e, 0);                          /* J = 0 on TCP */
    assert_int_equal(e->n_terminated, 1);
    assert_int_equal(sbc_txl_count(e->txl), 0);
    /* a failed response send ends the transaction with a transport reason */
    e->auto_reply = 0;
    sbc_txl_receive(e->txl, peer_request("OPTIONS", "z9hG4bKo2", NULL), &src);
    e->fail_sends = 1;
    assert_int_equal(sbc_txl_reply(e->txl, e->last_st, 200, NULL, NULL), -1);
    advance(e, 0);
    assert_int_equal(e->n_terminated, 2);
    assert_int_equal(e->last_end, SBC_TXN_END_TRANSPORT);
}

/* ---- CANCEL matching ----------------------------------------------------- */

static void test_cancel_matching(void **state)
{
    env_t *e = *state;
    sbc_hop_t src = udp_hop();
    sbc_txl_receive(e->txl, peer_request("INVITE", "z9hG4bKpeer1", NULL), &src);
    sbc_txn_t *ist = e->last_st;
    sbc_txl_receive(e->txl, peer_request("CANCEL", "z9hG4bKpeer1", NULL), &src);
    assert_int_equal(e->n_request, 2);
    sbc_txn_t *cst = e->last_st;
    assert_ptr_not_equal(cst, ist);
    assert_int_equal(sbc_txn_kind(cst), SBC_TXN_NIST);
    assert_ptr_equal(e->cancel_target, ist);
    /* the TU answers: 200 to CANCEL, 487 to INVITE */
    assert_int_equal(sbc_txl_reply(e->txl, cst, 200, NULL, NULL), 0);
    assert_int_equal(sbc_txl_reply(e->txl, ist, 487, NULL, NULL), 0);
    assert_true(starts(sent_text(e, 1), "SIP/2.0 200 OK\r\n"));
    assert_non_null(strstr(sent_text(e, 1), "CSeq: 5 CANCEL\r\n"));
    assert_true(starts(sent_text(e, 2), "SIP/2.0 487 Request Terminated\r\n"));
    /* a CANCEL for an unknown branch, or from another sent-by, matches nothing */
    sbc_txl_receive(e->txl, peer_request("CANCEL", "z9hG4bKother", NULL), &src);
    assert_null(e->cancel_target);
    msg_t *c = parse_ok("CANCEL sip:+15551230000@sbc.example.com SIP/2.0\r\n"
                        "Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKpeer1\r\n"
                        "From: <sip:a@b>;tag=peertag\r\nTo: <sip:c@d>\r\nCall-ID: peer-callid\r\n"
                        "CSeq: 5 CANCEL\r\nContent-Length: 0\r\n\r\n");
    assert_null(sbc_txl_find_invite_for_cancel(e->txl, c));
    msg_destroy(c);
    /* RFC 2543 peer (no cookie): matched on Call-ID, CSeq, From-tag, Via */
    sbc_txl_receive(e->txl, peer_request("INVITE", "oldstyle1", NULL), &src);
    sbc_txn_t *old = e->last_st;
    sbc_txl_receive(e->txl, peer_request("CANCEL", "oldstyle1", NULL), &src);
    assert_ptr_equal(e->cancel_target, old);
}

/* ---- 2xx retransmission helper ------------------------------------------- */

static void on_2xx_timeout(void *arg)
{
    env_t *e = arg;
    e->n_2xx_timeout++;
}

static void test_2xx_retransmit(void **state)
{
    env_t *e = *state;
    sbc_hop_t src = udp_hop();
    sbc_txl_receive(e->txl, peer_request("INVITE", "z9hG4bKpeer1", NULL), &src);
    sbc_txn_t *st = e->last_st;
    msg_t *req = msg_ref_create(sbc_txn_request(st));   /* st ends at Timer L */
    msg_t *ok = sbc_sipmsg_response(req, 200, NULL,
                                    &(sbc_sipmsg_resp_opt_t){ .to_tag = "w0.t" });
    sbc_txl_2xx_t *r = sbc_txl_2xx_retransmit_start(e->txl, ok, sbc_txn_hop(st), on_2xx_timeout, e);
    assert_non_null(r);
    assert_int_equal(sbc_txl_respond(e->txl, st, ok), 0);   /* the first 2xx; ok taken over */
    size_t first = e->n_sent;
    advance(e, 40000);
    /* 2xx: T1 doubling, capped at T2, until 64*T1 */
    static const uint64_t want[] = { 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500,
                                     27500, 31500 };
    assert_times(e, first, want, 10);
    for (size_t i = first; i < e->n_sent; i++)
        assert_true(starts(sent_text(e, i), "SIP/2.0 200 OK\r\n"));
    assert_int_equal(e->n_2xx_timeout, 1);

    /* stopped when the ACK comes */
    size_t before = e->n_sent;
    msg_t *again = sbc_sipmsg_response(req, 200, NULL, NULL);
    r = sbc_txl_2xx_retransmit_start(e->txl, again, &src, on_2xx_timeout, e);
    msg_destroy(again);
    advance(e, 1600);
    assert_int_equal(e->n_sent, before + 2);
    sbc_txl_2xx_retransmit_stop(r);
    advance(e, 40000);
    assert_int_equal(e->n_sent, before + 2);
    assert_int_equal(e->n_2xx_timeout, 1);

    /* reliable: no retransmissions, timeout only */
    sbc_hop_t tcp = tcp_hop(2);
    again = sbc_sipmsg_response(req, 200, NULL, NULL);
    r = sbc_txl_2xx_retransmit_start(e->txl, again, &tcp, on_2xx_timeout, e);
    msg_destroy(again);
    advance(e, 40000);
    assert_int_equal(e->n_sent, before + 2);
    assert_int_equal(e->n_2xx_timeout, 2);
    /* one left running is freed by destroy (teardown) */
    sbc_txl_receive(e->txl, peer_request("INVITE", "z9hG4bKpeer9", NULL), &src);
    again = sbc_sipmsg_response(sbc_txn_request(e->last_st), 200, NULL, NULL);
    sbc_txl_2xx_retransmit_start(e->txl, again, &src, on_2xx_timeout, e);
    msg_destroy(again);
    msg_destroy(req);
}

/* ---- robustness ---------------------------------------------------------- */

static void test_detach_and_garbage(void **state)
{
    env_t *e = *state;
    sbc_hop_t hop = udp_hop();
    sbc_txn_t *t = sbc_txl_request(e->txl, our_request("INVITE", our_branch), &hop, e);
    sbc_txn_detach(t);
    sbc_txl_receive(e->txl, peer_response("INVITE", our_branch, 404, "x"), &hop);
    assert_int_equal(e->n_response, 0);           /* detached: no TU callback */
    assert_true(starts(sent_text(e, 1), "ACK "));  /* but the ACK is still sent */
    /* a stray response and a Via-less message are dropped */
    sbc_txl_receive(e->txl, peer_response("INVITE", "z9hG4bKunknown", 200, "x"), &hop);
    assert_int_equal(e->n_stray, 1);
    msg_t *m = msg_make(sip_default_mclass(), 0, "OPTIONS sip:a@b SIP/2.0\r\n\r\n", 27);
    sbc_txl_receive(e->txl, m, &hop);
    sbc_txl_receive(e->txl, NULL, &hop);
    /* a sane-looking request mutated byte by byte never crashes the layer;
     * the TU answers whatever gets through (server transactions wait for it) */
    e->auto_reply = 500;
    srand(7);
    char base[4096];
    strcpy(base, make_invite_text("10.0.0.1:5060", "z9hG4bKfz", ";rport", 70));
    size_t n = strlen(base);
    char buf[4096];
    for (int i = 0; i < 500; i++) {
        memcpy(buf, base, n);
        for (int k = 0; k < 4; k++)
            buf[rand() % n] = (char)(32 + rand() % 95);
        msg_t *fm = NULL;
        enum sbc_sipmsg_parse_result r = sbc_sipmsg_parse(buf, n, &fm, NULL);
        if (r == SBC_SIPMSG_OK)
            sbc_txl_receive(e->txl, fm, &hop);
        else if (fm)
            msg_destroy(fm);
        /* keep the record small */
        for (size_t k = 0; k < e->n_sent; k++)
            free(e->sent[k].text);
        e->n_sent = 0;
    }
    advance(e, 100000);
    assert_int_equal(sbc_txl_count(e->txl), 0);
    assert_true(e->n_overflow > 0);   /* Timer G retransmitted the 500s */
}

static void test_conf_timers(void **state)
{
    env_t *e = *state;
    sbc_txl_conf_t conf = { .t1_ms = 100, .t2_ms = 400, .t4_ms = 1000 };
    sbc_txl_t *txl = sbc_txl_create(&conf, &ops, e, e->clock);
    sbc_hop_t hop = udp_hop();
    sbc_txl_request(txl, our_request("OPTIONS", our_branch), &hop, e);
    advance(e, 7000);
    /* E: 100, 200, 400, 400 ...; F at 6.4 s */
    static const uint64_t want[] = { 0, 100, 300, 700, 1100, 1500, 1900, 2300, 2700, 3100,
                                     3500, 3900, 4300, 4700, 5100, 5500, 5900, 6300 };
    assert_times(e, 0, want, sizeof want / sizeof want[0]);
    assert_int_equal(e->n_timeout, 1);
    assert_int_equal(sbc_txl_conf(txl)->t4_ms, 1000);
    sbc_txl_destroy(txl);
}

/* The production clock: the same schedule on libevent timers (T1 = 10 ms,
 * so 64*T1 is a libevent common timeout of 640 ms). */
static void lev_timeout(void *arg, sbc_txn_t *ct, void *ctx)
{
    env_t *e = arg;
    e->n_timeout++;
    event_base_loopbreak(ctx);
}

static void test_libevent_nict(void **state)
{
    env_t *e = *state;
    struct event_base *base = event_base_new();
    sbc_clock_t *clock = sbc_clock_event_create(base);
    sbc_clock_t *fake = e->clock;
    e->clock = clock;                       /* fake_send stamps with this clock */
    sbc_txl_ops_t lops = ops;
    lops.timeout = lev_timeout;
    sbc_txl_conf_t conf = { .t1_ms = 10, .t2_ms = 80, .t4_ms = 100 };
    sbc_txl_t *txl = sbc_txl_create(&conf, &lops, e, clock);
    sbc_hop_t hop = udp_hop();
    uint64_t t0 = sbc_clock_now_ms(clock);
    assert_non_null(sbc_txl_request(txl, our_request("OPTIONS", our_branch), &hop, base));
    event_base_dispatch(base);
    uint64_t took = sbc_clock_now_ms(clock) - t0;
    assert_int_equal(e->n_timeout, 1);
    /* 0, 10, 30, 70, 150, 230, ... 630: 11 sends (loaded machines may lose the last) */
    assert_true(e->n_sent >= 10 && e->n_sent <= 11);
    assert_true(took >= 600 && took < 2000);
    sbc_txl_destroy(txl);
    sbc_clock_destroy(clock);
    event_base_free(base);
    e->clock = fake;
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_ict_timer_a_b),
        T(test_ict_non2xx_ack),
        T(test_ict_2xx_to_tu),
        T(test_ict_reliable),
        T(test_ict_cancel),
        T(test_ict_cancel_no_final),
        T(test_nict_timer_e_f),
        T(test_nict_proceeding_and_k),
        T(test_nict_reliable_and_transport_error),
        cmocka_unit_test_setup_teardown(test_ist_trying_delayed, setup_delayed_trying, teardown),
        T(test_ist_trying_and_absorb),
        T(test_ist_non2xx_timer_g_h),
        T(test_ist_non2xx_ack),
        T(test_ist_2xx_accepted),
        T(test_ist_reliable),
        T(test_nist_timer_j),
        T(test_nist_reply_inside_callback_reliable),
        T(test_cancel_matching),
        T(test_2xx_retransmit),
        T(test_detach_and_garbage),
        T(test_conf_timers),
        T(test_libevent_nict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
