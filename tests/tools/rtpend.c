/* rtpend: an RTP/SRTP test endpoint. Sends a known stream (SSRC, count,
 * pacing, a payload carrying a packet counter) from one UDP socket and/or
 * receives on the same socket, verifying content, order and loss. SRTP uses
 * stock libsrtp2, independent of the relay's own SRTP layer.
 * Prints one summary line; exits 0 when the received stream is as expected. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <poll.h>
#include <srtp2/srtp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KEY_LEN 30
#define MAX_PKT 1600

struct opts {
    struct sockaddr_in local, remote;
    bool have_remote;
    unsigned send, recv, payload, interval_ms, timeout_ms, max_loss, max_reorder, pt;
    uint32_t ssrc, expect_ssrc;
    bool have_expect_ssrc;
    const char *tx_key, *rx_key;
    unsigned start_delay_ms;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof(host))
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)atoi(colon + 1));
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static srtp_t make_srtp(const char *b64, bool outbound)
{
    unsigned char key[64];
    size_t n = strlen(b64);
    if (n != 40 || EVP_DecodeBlock(key, (const unsigned char *)b64, (int)n) != KEY_LEN) {
        fprintf(stderr, "rtpend: key must be 40 base64 characters (30 bytes)\n");
        exit(2);
    }
    srtp_policy_t p;
    memset(&p, 0, sizeof(p));
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtcp);
    p.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
    p.key = key;
    p.window_size = 128;
    srtp_t s;
    if (srtp_create(&s, &p) != srtp_err_status_ok) {
        fprintf(stderr, "rtpend: srtp_create failed\n");
        exit(2);
    }
    return s;
}

/* Payload: 4-byte counter, then (counter + i) & 0xff. */
static void fill_payload(uint8_t *p, unsigned len, uint32_t ctr)
{
    p[0] = (uint8_t)(ctr >> 24);
    p[1] = (uint8_t)(ctr >> 16);
    p[2] = (uint8_t)(ctr >> 8);
    p[3] = (uint8_t)ctr;
    for (unsigned i = 4; i < len; i++)
        p[i] = (uint8_t)(ctr + i);
}

static bool check_payload(const uint8_t *p, unsigned len, uint32_t *ctr)
{
    if (len < 4)
        return false;
    *ctr = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    for (unsigned i = 4; i < len; i++)
        if (p[i] != (uint8_t)(*ctr + i))
            return false;
    return true;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: rtpend --local ADDR:PORT [--remote ADDR:PORT] [--send N] [--recv N]\n"
            "              [--ssrc X] [--expect-ssrc X] [--tx-key B64] [--rx-key B64]\n"
            "              [--payload BYTES] [--pt N] [--interval-ms MS (0 = no pacing)]\n"
            "              [--timeout-ms MS] [--max-loss N] [--max-reorder N] [--start-delay-ms MS]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct opts o = { .payload = 160, .interval_ms = 20, .timeout_ms = 5000, .ssrc = 0x1234abcd };
    static const struct option lo[] = {
        { "local", 1, 0, 'l' },       { "remote", 1, 0, 'r' },      { "send", 1, 0, 's' },
        { "recv", 1, 0, 'R' },        { "ssrc", 1, 0, 'S' },        { "expect-ssrc", 1, 0, 'E' },
        { "tx-key", 1, 0, 'k' },      { "rx-key", 1, 0, 'K' },      { "payload", 1, 0, 'p' },
        { "pt", 1, 0, 'P' },          { "interval-ms", 1, 0, 'i' }, { "timeout-ms", 1, 0, 't' },
        { "max-loss", 1, 0, 'm' },    { "max-reorder", 1, 0, 'o' }, { "start-delay-ms", 1, 0, 'd' },
        { 0, 0, 0, 0 },
    };
    int c;
    bool have_local = false;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'l': if (parse_addr(optarg, &o.local) < 0) usage(); have_local = true; break;
        case 'r': if (parse_addr(optarg, &o.remote) < 0) usage(); o.have_remote = true; break;
        case 's': o.send = (unsigned)strtoul(optarg, NULL, 0); break;
        case 'R': o.recv = (unsigned)strtoul(optarg, NULL, 0); break;
        case 'S': o.ssrc = (uint32_t)strtoul(optarg, NULL, 0); break;
        case 'E': o.expect_ssrc = (uint32_t)strtoul(optarg, NULL, 0); o.have_expect_ssrc = true; break;
        case 'k': o.tx_key = optarg; break;
        case 'K': o.rx_key = optarg; break;
        case 'p': o.payload = (unsigned)strtoul(optarg, NULL, 0); break;
        case 'P': o.pt = (unsigned)strtoul(optarg, NULL, 0) & 0x7f; break;
        case 'i': o.interval_ms = (unsigned)strtoul(optarg, NULL, 0); break;
        case 't': o.timeout_ms = (unsigned)strtoul(optarg, NULL, 0); break;
        case 'm': o.max_loss = (unsigned)strtoul(optarg, NULL, 0); break;
        case 'o': o.max_reorder = (unsigned)strtoul(optarg, NULL, 0); break;
        case 'd': o.start_delay_ms = (unsigned)strtoul(optarg, NULL, 0); break;
        default: usage();
        }
    }
    if (!have_local || (o.send && !o.have_remote) || o.payload < 4 || o.payload > 1200)
        usage();

    srtp_init();
    srtp_t tx = o.tx_key ? make_srtp(o.tx_key, true) : NULL;
    srtp_t rx = o.rx_key ? make_srtp(o.rx_key, false) : NULL;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int one = 1, big = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    if (fd < 0 || bind(fd, (struct sockaddr *)&o.local, sizeof(o.local)) < 0) {
        fprintf(stderr, "rtpend: bind: %s\n", strerror(errno));
        return 2;
    }

    uint8_t *seen = calloc(o.recv ? o.recv : 1, 1);
    unsigned sent = 0, got = 0, uniq = 0, dup = 0, reorder = 0, bad = 0, auth = 0, foreign_ssrc = 0;
    uint32_t highest = 0;
    bool any = false;
    char first_from[32] = "-";
    uint64_t start = now_ms() + o.start_delay_ms, next = start, last_rx = now_ms();
    uint8_t pkt[MAX_PKT];

    for (;;) {
        uint64_t t = now_ms();
        bool send_done = sent >= o.send;
        bool recv_done = uniq >= o.recv;
        if (send_done && recv_done)
            break;
        if (t - last_rx > o.timeout_ms && (send_done || !o.send) && t >= start)
            break;
        if (!send_done && t >= next) {
            unsigned burst = o.interval_ms ? 1 : 32;
            for (unsigned b = 0; b < burst && sent < o.send; b++) {
                uint16_t seq = (uint16_t)(1000 + sent);
                uint32_t ts = 160u * sent;
                pkt[0] = 0x80;
                pkt[1] = (uint8_t)o.pt;
                pkt[2] = (uint8_t)(seq >> 8);
                pkt[3] = (uint8_t)seq;
                pkt[4] = (uint8_t)(ts >> 24); pkt[5] = (uint8_t)(ts >> 16); pkt[6] = (uint8_t)(ts >> 8); pkt[7] = (uint8_t)ts;
                pkt[8] = (uint8_t)(o.ssrc >> 24); pkt[9] = (uint8_t)(o.ssrc >> 16); pkt[10] = (uint8_t)(o.ssrc >> 8); pkt[11] = (uint8_t)o.ssrc;
                fill_payload(pkt + 12, o.payload, sent);
                int len = 12 + (int)o.payload;
                if (tx && srtp_protect(tx, pkt, &len) != srtp_err_status_ok) {
                    fprintf(stderr, "rtpend: protect failed\n");
                    return 2;
                }
                if (sendto(fd, pkt, (size_t)len, 0, (struct sockaddr *)&o.remote, sizeof(o.remote)) < 0 &&
                    errno != ECONNREFUSED)
                    fprintf(stderr, "rtpend: sendto: %s\n", strerror(errno));
                sent++;
            }
            next += o.interval_ms ? o.interval_ms : 1;
            if (!o.interval_ms && sent % 256 == 0)
                next = now_ms() + 1;    /* let the receiver breathe */
        }
        int wait = (int)(sent < o.send ? (next > t ? next - t : 0) : 20);
        struct pollfd pfd = { fd, POLLIN, 0 };
        if (poll(&pfd, 1, wait) <= 0)
            continue;
        for (;;) {
            struct sockaddr_in from;
            socklen_t fl = sizeof(from);
            ssize_t n = recvfrom(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&from, &fl);
            if (n < 0)
                break;
            last_rx = now_ms();
            int len = (int)n;
            if (len < 12 || (pkt[0] >> 6) != 2 || (pkt[1] >= 192 && pkt[1] <= 223))
                continue;                   /* RTCP or noise: not part of the check */
            if (rx && srtp_unprotect(rx, pkt, &len) != srtp_err_status_ok) {
                auth++;
                continue;
            }
            if (!any) {
                snprintf(first_from, sizeof(first_from), "%s:%u", inet_ntoa(from.sin_addr), ntohs(from.sin_port));
                any = true;
            }
            got++;
            uint32_t ssrc = (uint32_t)pkt[8] << 24 | (uint32_t)pkt[9] << 16 | (uint32_t)pkt[10] << 8 | pkt[11];
            if (o.have_expect_ssrc && ssrc != o.expect_ssrc) {
                foreign_ssrc++;
                continue;
            }
            uint32_t ctr;
            if ((unsigned)len != 12 + o.payload || !check_payload(pkt + 12, o.payload, &ctr) ||
                (uint16_t)((unsigned)pkt[2] << 8 | pkt[3]) != (uint16_t)(1000 + ctr) || ctr >= o.recv) {
                bad++;
                continue;
            }
            if (seen[ctr]) {
                dup++;
                continue;
            }
            seen[ctr] = 1;
            uniq++;
            if (uniq > 1 && ctr < highest)
                reorder++;
            if (ctr > highest)
                highest = ctr;
        }
    }
    unsigned lost = o.recv > uniq ? o.recv - uniq : 0;
    bool ok = lost <= o.max_loss && bad == 0 && dup == 0 && reorder <= o.max_reorder && foreign_ssrc == 0;
    printf("rtpend: sent=%u received=%u expected=%u lost=%u dup=%u reordered=%u bad=%u auth_fail=%u "
           "first_from=%s result=%s\n",
           sent, got, o.recv, lost, dup, reorder, bad, auth, first_from, ok ? "ok" : "FAIL");
    free(seen);
    close(fd);
    if (tx)
        srtp_dealloc(tx);
    if (rx)
        srtp_dealloc(rx);
    srtp_shutdown();
    return ok ? 0 : 1;
}
