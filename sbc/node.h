/* The running node on the main thread: config path, published snapshot,
 * workers, control socket, reloads and shutdown. */
#ifndef SBC_NODE_H
#define SBC_NODE_H

#include <stddef.h>

#include <jansson.h>

typedef struct sbc_node_rt sbc_node_rt_t;

/* Loads path, publishes it, starts workers and the control socket. */
sbc_node_rt_t *sbc_node_create(const char *config_path, char *err, size_t errlen);
/* Runs the main loop until SIGTERM/SIGINT (or a "stop" command); returns the exit code. */
int sbc_node_run(sbc_node_rt_t *n);
void sbc_node_destroy(sbc_node_rt_t *n);

/* Loads and validates the config file again; publishes it on success.
 * Returns a reply object: {ok, generation, changes[]} or {ok:false, errors[]}.
 * source names who asked ("SIGHUP", "control"). */
json_t *sbc_node_reload(sbc_node_rt_t *n, const char *source);

#endif
