/* Logging: one write(2) per line so lines from workers never interleave. */
#include "sbc/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum sbc_log_level g_level = SBC_LOG_INFO;
static enum sbc_log_format g_format = SBC_LOG_TEXT;
static __thread char t_name[16] = "main";

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void sbc_log_setup(enum sbc_log_level level, enum sbc_log_format format)
{
    __atomic_store_n(&g_level, level, __ATOMIC_RELAXED);
    __atomic_store_n(&g_format, format, __ATOMIC_RELAXED);
}

enum sbc_log_level sbc_log_level(void)
{
    return __atomic_load_n(&g_level, __ATOMIC_RELAXED);
}

void sbc_log_thread_name(const char *name)
{
    snprintf(t_name, sizeof t_name, "%s", name);
}

/* Appends s to buf as a JSON string body (without quotes). */
static size_t json_escape(char *buf, size_t cap, size_t at, const char *s)
{
    for (; *s && at + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            buf[at++] = '\\';
            buf[at++] = (char)ch;
        } else if (ch < 0x20) {
            at += (size_t)snprintf(buf + at, cap - at, "\\u%04x", ch);
        } else {
            buf[at++] = (char)ch;
        }
    }
    return at;
}

void sbc_log_write(enum sbc_log_level level, const char *call_id, const char *tenant,
                   const char *fmt, ...)
{
    char msg[2048], line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t tl = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, sizeof ts - tl, ".%03dZ", (int)(tv.tv_usec / 1000));

    const char *lv = level_names[level <= SBC_LOG_DEBUG ? level : SBC_LOG_DEBUG];
    size_t n;
    if (__atomic_load_n(&g_format, __ATOMIC_RELAXED) == SBC_LOG_JSON) {
        n = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"thread\":\"%s\"",
                             ts, lv, t_name);
        if (call_id) {
            n += (size_t)snprintf(line + n, sizeof line - n, ",\"call_id\":\"");
            n = json_escape(line, sizeof line, n, call_id);
            n += (size_t)snprintf(line + n, sizeof line - n, "\"");
        }
        if (tenant) {
            n += (size_t)snprintf(line + n, sizeof line - n, ",\"tenant\":\"");
            n = json_escape(line, sizeof line, n, tenant);
            n += (size_t)snprintf(line + n, sizeof line - n, "\"");
        }
        n += (size_t)snprintf(line + n, sizeof line - n, ",\"msg\":\"");
        n = json_escape(line, sizeof line, n, msg);
        n += (size_t)snprintf(line + n, sizeof line - n, "\"}\n");
    } else {
        n = (size_t)snprintf(line, sizeof line, "%s %-5s [%s]%s%s%s%s %s\n", ts, lv, t_name,
                             call_id ? " call=" : "", call_id ? call_id : "",
                             tenant ? " tenant=" : "", tenant ? tenant : "", msg);
    }
    if (n >= sizeof line) {
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
