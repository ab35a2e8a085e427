/* Per-core rate of the message work a B2BUA does for each INVITE: parse the
 * received one, build the other leg's INVITE (new Request-URI, Via, Call-ID,
 * From-tag, Contact, Max-Forwards - 1; From/To/PAI/body copied), serialize.
 * Reports the median of 5 runs, per CPU-second of this thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sofia-sip/sip_extra.h>

#include "sbc/sipmsg.h"

static const char invite[] =
    "INVITE sip:+15551230000@sbc.example.com:5060;user=phone SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 203.0.113.20:5060;branch=z9hG4bK-524287-1---3f4e5d6c7b8a;rport\r\n"
    "Max-Forwards: 70\r\n"
    "Contact: <sip:+15550001111@203.0.113.20:5060;transport=udp>\r\n"
    "To: <sip:+15551230000@sbc.example.com;user=phone>\r\n"
    "From: \"Alice Example\" <sip:+15550001111@carrier.example;user=phone>;tag=4f2c1a9e\r\n"
    "Call-ID: 8c4f1d2e-77aa-4b3c-9d1e-0a1b2c3d4e5f@203.0.113.20\r\n"
    "CSeq: 1 INVITE\r\n"
    "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, UPDATE, PRACK\r\n"
    "Supported: replaces, timer, 100rel\r\n"
    "Session-Expires: 1800\r\n"
    "P-Asserted-Identity: <sip:+15550001111@carrier.example;user=phone>\r\n"
    "User-Agent: CarrierCore 9.1\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 280\r\n"
    "\r\n"
    "v=0\r\n"
    "o=core 123456 654321 IN IP4 203.0.113.21\r\n"
    "s=-\r\n"
    "c=IN IP4 203.0.113.21\r\n"
    "t=0 0\r\n"
    "m=audio 30000 RTP/AVP 0 8 18 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:18 G729/8000\r\n"
    "a=fmtp:18 annexb=no\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=ptime:20\r\n"
    "a=sendrecv\r\n";

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dup_hdr(msg_t *msg, sip_t *sip, const void *h)
{
    return h ? sip_add_dup(msg, sip, (const sip_header_t *)h) : 0;
}

/* The other leg's INVITE, as the B2BUA builds it. */
static msg_t *build_leg(msg_t *in, int home, uint32_t cseq)
{
    sip_t *is = sip_object(in);
    msg_t *out = msg_create(sip_default_mclass(), 0);
    su_home_t *h = msg_home(out);
    sip_t *os = sip_object(out);
    char branch[SBC_SIPMSG_ID_MAX], tag[SBC_SIPMSG_ID_MAX], cid[SBC_SIPMSG_ID_MAX];
    sbc_sipmsg_make_branch(branch, sizeof branch, home);
    sbc_sipmsg_make_tag(tag, sizeof tag, home);
    sbc_sipmsg_make_call_id(cid, sizeof cid, home);
    int mf = sbc_sipmsg_max_forwards_next(is);
    char buf[256];

    snprintf(buf, sizeof buf, "sip:%s@tenant1.example.com;transport=tls",
             is->sip_request->rq_url->url_user);
    sip_request_t *rq = sip_request_create(h, sip_method_invite, "INVITE",
                                           (url_string_t *)buf, NULL);
    msg_header_insert(out, (msg_pub_t *)os, (msg_header_t *)rq);
    sbc_sipmsg_via_add(out, SBC_TP_TLS, "192.0.2.10", 5061, branch);
    snprintf(buf, sizeof buf, "%d", mf < 0 ? 0 : mf);
    sip_add_make(out, os, sip_max_forwards_class, buf);
    sip_from_t *from = sip_from_dup(h, is->sip_from);
    msg_header_remove_param(from->a_common, "tag");
    sip_from_tag(h, from, tag);
    msg_header_insert(out, (msg_pub_t *)os, (msg_header_t *)from);
    sip_to_t *to = sip_to_create(h, (url_string_t *)"sip:+15551230000@tenant1.example.com;user=phone");
    msg_header_insert(out, (msg_pub_t *)os, (msg_header_t *)to);
    msg_header_insert(out, (msg_pub_t *)os, (msg_header_t *)sip_call_id_make(h, cid));
    msg_header_insert(out, (msg_pub_t *)os,
                      (msg_header_t *)sip_cseq_create(h, cseq, sip_method_invite, "INVITE"));
    snprintf(buf, sizeof buf, "<sip:%s@sbc1.tenant1.example.com:5061;transport=tls>", tag);
    sip_add_make(out, os, sip_contact_class, buf);
    dup_hdr(out, os, is->sip_allow);
    dup_hdr(out, os, is->sip_supported);
    dup_hdr(out, os, is->sip_session_expires);
    dup_hdr(out, os, sip_p_asserted_identity(is));
    dup_hdr(out, os, is->sip_content_type);
    dup_hdr(out, os, is->sip_payload);
    sip_complete_message(out);
    return out;
}

static double run_once(double seconds, int b2bua, size_t *bytes)
{
    char wire[8192];
    double t0 = cpu_now(), t;
    unsigned long n = 0;
    do {
        for (int i = 0; i < 1000; i++) {
            msg_t *in = NULL;
            if (sbc_sipmsg_parse(invite, sizeof invite - 1, &in, NULL) != SBC_SIPMSG_OK) {
                fprintf(stderr, "bench: sample does not parse\n");
                exit(1);
            }
            if (b2bua) {
                msg_t *out = build_leg(in, i & 3, (uint32_t)i + 1);
                ssize_t len = sbc_sipmsg_serialize(out, wire, sizeof wire);
                if (len <= 0) {
                    fprintf(stderr, "bench: serialize failed\n");
                    exit(1);
                }
                *bytes = (size_t)len;
                msg_destroy(out);
            }
            msg_destroy(in);
        }
        n += 1000;
        t = cpu_now();
    } while (t - t0 < seconds);
    return (double)n / (t - t0);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    sbc_sipmsg_global_init();
    size_t bytes = 0;
    if (argc > 2 && strcmp(argv[2], "--print") == 0) {
        msg_t *in = NULL;
        sbc_sipmsg_parse(invite, sizeof invite - 1, &in, NULL);
        msg_t *out = build_leg(in, 3, 1);
        char *s = sbc_sipmsg_to_string(out, NULL);
        fputs(s, stdout);
        free(s);
        msg_destroy(out);
        msg_destroy(in);
        return 0;
    }
    const char *names[2] = { "parse", "parse+build+serialize" };
    for (int mode = 0; mode < 2; mode++) {
        double r[5];
        run_once(0.2, mode, &bytes);   /* warm-up */
        for (int i = 0; i < 5; i++)
            r[i] = run_once(seconds, mode, &bytes);
        qsort(r, 5, sizeof r[0], cmp);
        printf("%-22s median %8.0f msg/s per CPU-s (%.2f us), min %.0f, max %.0f\n",
               names[mode], r[2], 1e6 / r[2], r[0], r[4]);
    }
    printf("input INVITE %zu bytes, built INVITE %zu bytes\n", sizeof invite - 1, bytes);
    return 0;
}
