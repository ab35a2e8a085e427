/* Shared helpers for the transport tests: hand-built interfaces, a loop
 * runner with a deadline, blocking peers on their own threads, and a
 * recorder for the transport callbacks. Addresses: 127.0.3.0/24 only. */
#ifndef TP_HELPERS_H
#define TP_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <sofia-sip/msg.h>

#include "config/config.h"
#include "sbc/hop.h"
#include "sbc/transport.h"

struct event_base;

#define REC_MAX 64

/* What the callbacks saw. */
struct recorder {
    int n_msgs;
    msg_t *msgs[REC_MAX];
    sbc_hop_t hops[REC_MAX];
    int n_errors;
    sbc_hop_t err_hops[REC_MAX];
    char err_reasons[REC_MAX][320];
};

void rec_init(struct recorder *r);
void rec_clear(struct recorder *r);       /* destroys held messages */
void rec_on_message(void *arg, msg_t *msg, const sbc_hop_t *src);
void rec_on_send_error(void *arg, const sbc_hop_t *hop, const char *reason);
struct sbc_transport_cbs rec_cbs(struct recorder *r);

/* Interface on addr:port with transports; tls may be NULL. Fields point at
 * storage inside the returned struct's owner: free with iface_free. */
sbc_interface_t *iface_new(const char *name, const char *addr, uint16_t port, unsigned tps,
                           const sbc_tls_conf_t *tls);
void iface_add_allow(sbc_interface_t *i, const char *v4, int prefix);
void iface_free(sbc_interface_t *i);

/* TLS material from the certificate directory (argv[1] of the TLS test). */
sbc_tls_conf_t tls_conf(const char *dir, const char *name, bool with_ca);
const char *cert_path(const char *dir, const char *file);   /* static buffer rotation */

/* Runs base until *flag becomes true (checked every 2 ms) or timeout_ms
 * passes. Returns *flag. flag may point at an int (nonzero = done). */
bool loop_until(struct event_base *base, volatile int *flag, int timeout_ms);
/* Runs base for ms milliseconds. */
void loop_for(struct event_base *base, int ms);

/* A blocking peer on its own thread; done is set when fn returns. */
struct job {
    void *(*fn)(void *);
    void *arg;
    volatile int done;
    void *result;
    unsigned long tid;
};
void job_start(struct job *j, void *(*fn)(void *), void *arg);
void job_join(struct job *j);

void addr_make(struct sockaddr_storage *ss, socklen_t *len, const char *ip, uint16_t port);
/* Blocking TCP socket connected to ip:port (bound to from_ip when given). */
int tcp_connect(const char *ip, uint16_t port, const char *from_ip);
/* Reads until close or timeout; returns bytes read (NUL-terminated in buf). */
int read_all(int fd, char *buf, size_t cap, int timeout_ms);
/* Reads at least want bytes or until timeout/close. */
int read_some(int fd, char *buf, size_t cap, size_t want, int timeout_ms);

msg_t *make_msg(const char *text);      /* parsed with Sofia, NULL on error */
/* An OPTIONS request text with a given Call-ID and an optional body size. */
void options_text(char *buf, size_t cap, const char *call_id, size_t body_len);

#endif
