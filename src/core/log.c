/* SPDX-License-Identifier: MIT */
/* The error log; see log.h. */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http/date.h"

static _Atomic int log_level = LOG_INFO;
static _Atomic int log_fd = STDERR_FILENO;
static bool log_fd_owned;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* Creates the directory part of path when it is missing (one level, like logs/). */
static void make_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return;
    char dir[4096];
    size_t n = (size_t)(slash - path);
    if (n >= sizeof(dir))
        return;
    memcpy(dir, path, n);
    dir[n] = '\0';
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return; /* open() will report the real problem */
}

int log_open(enum log_level level, const char *path, char err[256])
{
    int fd = -1;
    if (strcmp(path, "off") == 0) {
        fd = -1;
    } else if (strcmp(path, "-") == 0) {
        fd = STDERR_FILENO;
    } else {
        make_parent(path);
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            snprintf(err, 256, "error log \"%s\": %s", path, strerror(errno));
            return -1;
        }
    }
    log_close();
    atomic_store(&log_fd, fd);
    log_fd_owned = fd > STDERR_FILENO;
    atomic_store(&log_level, (int)level);
    return 0;
}

void log_close(void)
{
    int fd = atomic_exchange(&log_fd, STDERR_FILENO);
    if (log_fd_owned && fd >= 0)
        close(fd);
    log_fd_owned = false;
}

bool log_enabled(enum log_level level)
{
    return (int)level >= atomic_load_explicit(&log_level, memory_order_relaxed) &&
           atomic_load_explicit(&log_fd, memory_order_relaxed) >= 0;
}

void log_write(enum log_level level, const char *fmt, ...)
{
    char line[1024];
    char when[DATE_ISO_LEN + 1];
    date_iso(time(NULL), when);
    int n = snprintf(line, sizeof(line), "%s [%s] ", when, level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2; /* truncated: keep the newline */
    line[len++] = '\n';
    int fd = atomic_load_explicit(&log_fd, memory_order_relaxed);
    if (fd >= 0 && write(fd, line, len) < 0) {
        /* Nowhere left to report a failing error log; serving goes on regardless. */
    }
}

size_t log_escape(char *out, size_t cap, struct slice in)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (cap == 0)
        return 0;
    for (size_t i = 0; i < in.len; i++) {
        unsigned char c = (unsigned char)in.ptr[i];
        bool plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
        size_t need = plain ? 1 : 4;
        if (o + need >= cap)
            break;
        if (plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return o;
}

bool log_limit_allow(struct log_limit *l, uint64_t now_s, uint64_t *suppressed)
{
    if (l->last_s != 0 && now_s == l->last_s) {
        l->suppressed++;
        return false;
    }
    l->last_s = now_s;
    *suppressed = l->suppressed;
    l->suppressed = 0;
    return true;
}
