/* Helpers for the transport tests (see tp_helpers.h). */
#include "tp_helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sofia-sip/sip_header.h>

void rec_init(struct recorder *r)
{
    memset(r, 0, sizeof *r);
}

void rec_clear(struct recorder *r)
{
    for (int i = 0; i < r->n_msgs && i < REC_MAX; i++) {
        msg_destroy(r->msgs[i]);
    }
    rec_init(r);
}

void rec_on_message(void *arg, msg_t *msg, const sbc_hop_t *src)
{
    struct recorder *r = arg;
    if (r->n_msgs >= REC_MAX) {
        msg_destroy(msg);
        return;
    }
    r->msgs[r->n_msgs] = msg;
    r->hops[r->n_msgs] = *src;
    r->n_msgs++;
}

void rec_on_send_error(void *arg, const sbc_hop_t *hop, const char *reason)
{
    struct recorder *r = arg;
    if (r->n_errors >= REC_MAX) {
        return;
    }
    r->err_hops[r->n_errors] = *hop;
    snprintf(r->err_reasons[r->n_errors], sizeof r->err_reasons[0], "%s", reason);
    r->n_errors++;
}

struct sbc_transport_cbs rec_cbs(struct recorder *r)
{
    struct sbc_transport_cbs c = {
        .on_message = rec_on_message,
        .on_send_error = rec_on_send_error,
        .arg = r,
    };
    return c;
}

sbc_interface_t *iface_new(const char *name, const char *addr, uint16_t port, unsigned tps,
                           const sbc_tls_conf_t *tls)
{
    sbc_interface_t *i = calloc(1, sizeof *i);
    i->name = strdup(name);
    i->sip_address = strdup(addr);
    i->sip_port = port;
    i->transports = tps;
    if (tls) {
        i->tls = calloc(1, sizeof *i->tls);
        *i->tls = *tls;
    }
    return i;
}

void iface_add_allow(sbc_interface_t *i, const char *v4, int prefix)
{
    i->allow = realloc(i->allow, (i->n_allow + 1) * sizeof *i->allow);
    sbc_cidr_t *c = &i->allow[i->n_allow++];
    memset(c, 0, sizeof *c);
    c->family = AF_INET;
    c->prefix = (uint8_t)prefix;
    struct in_addr a;
    inet_pton(AF_INET, v4, &a);
    uint32_t h = ntohl(a.s_addr);
    h = prefix ? h & (0xffffffffu << (32 - prefix)) : 0;
    a.s_addr = htonl(h);
    memcpy(c->addr, &a, 4);
}

void iface_free(sbc_interface_t *i)
{
    if (!i) {
        return;
    }
    free(i->name);
    free(i->sip_address);
    free(i->allow);
    if (i->tls) {
        free(i->tls->certificate);
        free(i->tls->private_key);
        free(i->tls->ca_file);
        free(i->tls);
    }
    free(i);
}

sbc_tls_conf_t tls_conf(const char *dir, const char *name, bool with_ca)
{
    char buf[512];
    sbc_tls_conf_t c = { 0 };
    snprintf(buf, sizeof buf, "%s/%s.pem", dir, name);
    c.certificate = strdup(buf);
    snprintf(buf, sizeof buf, "%s/%s.key", dir, name);
    c.private_key = strdup(buf);
    if (with_ca) {
        snprintf(buf, sizeof buf, "%s/ca.pem", dir);
        c.ca_file = strdup(buf);
    }
    c.min_version = 0x0303;
    return c;
}

const char *cert_path(const char *dir, const char *file)
{
    static char bufs[4][512];
    static int k;
    char *b = bufs[k++ & 3];
    snprintf(b, 512, "%s/%s", dir, file);
    return b;
}

struct poll_ctx {
    struct event_base *base;
    volatile int *flag;
};

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
    struct poll_ctx *p = arg;
    if (p->flag && *p->flag) {
        event_base_loopbreak(p->base);
    }
}

bool loop_until(struct event_base *base, volatile int *flag, int timeout_ms)
{
    struct poll_ctx p = { base, flag };
    struct event *tick = event_new(base, -1, EV_PERSIST, poll_cb, &p);
    struct timeval tv = { 0, 2000 };
    event_add(tick, &tv);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!(flag && *flag)) {
        struct timeval slice = { 0, 50000 };
        event_base_loopexit(base, &slice);
        event_base_dispatch(base);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long el = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (el >= timeout_ms) {
            break;
        }
    }
    event_free(tick);
    return flag && *flag;
}

void loop_for(struct event_base *base, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

static void *job_main(void *arg)
{
    struct job *j = arg;
    j->result = j->fn(j->arg);
    __atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

void job_start(struct job *j, void *(*fn)(void *), void *arg)
{
    j->fn = fn;
    j->arg = arg;
    j->done = 0;
    pthread_t t;
    pthread_create(&t, NULL, job_main, j);
    j->tid = (unsigned long)t;
}

void job_join(struct job *j)
{
    pthread_join((pthread_t)j->tid, NULL);
}

void addr_make(struct sockaddr_storage *ss, socklen_t *len, const char *ip, uint16_t port)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    inet_pton(AF_INET, ip, &sin->sin_addr);
    *len = sizeof *sin;
}

int tcp_connect(const char *ip, uint16_t port, const char *from_ip)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_storage ss;
    socklen_t len;
    if (from_ip) {
        addr_make(&ss, &len, from_ip, 0);
        bind(fd, (struct sockaddr *)&ss, len);
    }
    addr_make(&ss, &len, ip, port);
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int read_some(int fd, char *buf, size_t cap, size_t want, int timeout_ms)
{
    size_t got = 0;
    while (got < want && got + 1 < cap) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, timeout_ms) <= 0) {
            break;
        }
        ssize_t n = read(fd, buf + got, cap - 1 - got);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    return (int)got;
}

int read_all(int fd, char *buf, size_t cap, int timeout_ms)
{
    return read_some(fd, buf, cap, cap, timeout_ms);
}

msg_t *make_msg(const char *text)
{
    msg_t *m = msg_make(sip_default_mclass(), 0, text, (ssize_t)strlen(text));
    if (m && msg_get_flags(m, MSG_FLG_ERROR)) {
        msg_destroy(m);
        return NULL;
    }
    return m;
}

void options_text(char *buf, size_t cap, const char *call_id, size_t body_len)
{
    int n = snprintf(buf, cap,
                     "OPTIONS sip:sbc@127.0.3.1 SIP/2.0\r\n"
                     "Via: SIP/2.0/TCP 127.0.3.200:5060;branch=z9hG4bK-%s\r\n"
                     "Max-Forwards: 70\r\n"
                     "From: <sip:peer@127.0.3.200>;tag=t1\r\n"
                     "To: <sip:sbc@127.0.3.1>\r\n"
                     "Call-ID: %s\r\n"
                     "CSeq: 1 OPTIONS\r\n"
                     "Content-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n"
                     "\r\n",
                     call_id, call_id, body_len);
    for (size_t i = 0; i < body_len && (size_t)n + 1 < cap; i++) {
        buf[n++] = 'x';
    }
    buf[n] = '\0';
}
