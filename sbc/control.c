/* Control socket server: accept, read a line, dispatch by "cmd", reply. */
#include "sbc/control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "sbc/log.h"

#define CONTROL_MAX_LINE (64 * 1024)
#define CONTROL_MAX_CMDS 32

typedef struct command {
    char name[32];
    sbc_control_fn fn;
    void *arg;
} command_t;

struct sbc_control {
    struct event_base *base;
    struct evconnlistener *listener;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    command_t cmds[CONTROL_MAX_CMDS];
    int n_cmds;
};

static json_t *error_reply(const char *what, const char *detail)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s%s", what, detail);
    return json_pack("{s:b, s:s}", "ok", 0, "error", buf);
}

static json_t *dispatch(sbc_control_t *c, const char *line, size_t len)
{
    json_error_t jerr;
    json_t *req = json_loadb(line, len, 0, &jerr);
    if (!req || !json_is_object(req)) {
        json_decref(req);
        return error_reply("request is not a JSON object: ", req ? "wrong type" : jerr.text);
    }
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    json_t *reply = NULL;
    if (!cmd) {
        reply = error_reply("request has no \"cmd\"", "");
    } else {
        for (int i = 0; i < c->n_cmds; i++) {
            if (strcmp(c->cmds[i].name, cmd) == 0) {
                reply = c->cmds[i].fn(c->cmds[i].arg, req);
                break;
            }
        }
        if (!reply && cmd)
            reply = error_reply("unknown command: ", cmd);
    }
    json_decref(req);
    if (!json_object_get(reply, "ok"))
        json_object_set_new(reply, "ok", json_true());
    return reply;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    sbc_control_t *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t len;
        char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
        if (!line) {
            if (evbuffer_get_length(in) > CONTROL_MAX_LINE) {
                LOG_WARN("control: request over %d bytes, closing", CONTROL_MAX_LINE);
                bufferevent_free(bev);
            }
            return;
        }
        json_t *reply = dispatch(c, line, len);
        free(line);
        char *text = json_dumps(reply, JSON_COMPACT);
        json_decref(reply);
        if (text) {
            evbuffer_add(bufferevent_get_output(bev), text, strlen(text));
            evbuffer_add(bufferevent_get_output(bev), "\n", 1);
            free(text);
        }
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        bufferevent_free(bev);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    /* Nothing to do: the client closes when it has its reply. */
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
    sbc_control_t *c = arg;
    struct bufferevent *bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        close(fd);
        return;
    }
    bufferevent_setcb(bev, on_read, on_write, on_event, c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* A socket file left by a crashed run is removed; one that still answers is
 * another sbcd and is an error. */
static int clear_stale_socket(const struct sockaddr_un *sun, char *err, size_t errlen)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "control socket: %s", strerror(errno));
        return -1;
    }
    int rc = connect(fd, (const struct sockaddr *)sun, sizeof *sun);
    close(fd);
    if (rc == 0) {
        snprintf(err, errlen, "control socket %s is in use by another process", sun->sun_path);
        return -1;
    }
    unlink(sun->sun_path);
    return 0;
}

static void make_parent_dir(const char *path)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return;
    *slash = '\0';
    mkdir(dir, 0750);   /* one level, like /run/sbc; EEXIST is fine */
}

sbc_control_t *sbc_control_create(struct event_base *base, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof sun.sun_path) {
        snprintf(err, errlen, "control socket path too long: %s", path);
        return NULL;
    }
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    make_parent_dir(path);
    if (clear_stale_socket(&sun, err, errlen) < 0)
        return NULL;

    sbc_control_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->base = base;
    snprintf(c->path, sizeof c->path, "%s", path);
    mode_t old = umask(0117);   /* srw-rw----: root and the sbc group */
    c->listener = evconnlistener_new_bind(base, on_accept, c, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                          16, (struct sockaddr *)&sun, sizeof sun);
    umask(old);
    if (!c->listener) {
        snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
        free(c);
        return NULL;
    }
    return c;
}

void sbc_control_destroy(sbc_control_t *c)
{
    if (!c)
        return;
    evconnlistener_free(c->listener);
    unlink(c->path);
    free(c);
}

int sbc_control_register(sbc_control_t *c, const char *cmd, sbc_control_fn fn, void *arg)
{
    if (c->n_cmds == CONTROL_MAX_CMDS || strlen(cmd) >= sizeof c->cmds[0].name)
        return -1;
    command_t *k = &c->cmds[c->n_cmds++];
    snprintf(k->name, sizeof k->name, "%s", cmd);
    k->fn = fn;
    k->arg = arg;
    return 0;
}
