/* The control socket: a Unix stream socket speaking line-delimited JSON.
 * A request is {"cmd": "...", ...}; the reply is one JSON object per line
 * with "ok": true|false. Runs on the main thread's event base. */
#ifndef SBC_CONTROL_H
#define SBC_CONTROL_H

#include <stddef.h>

#include <jansson.h>

struct event_base;
typedef struct sbc_control sbc_control_t;

/* Returns a new reference to the reply object (its "ok" defaults to true). */
typedef json_t *(*sbc_control_fn)(void *arg, json_t *request);

sbc_control_t *sbc_control_create(struct event_base *base, const char *path, char *err, size_t errlen);
void sbc_control_destroy(sbc_control_t *c);
int sbc_control_register(sbc_control_t *c, const char *cmd, sbc_control_fn fn, void *arg);

#endif
