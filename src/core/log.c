/* SPDX-License-Identifier: MIT */
/*
 * The logs; see log.h for the design. The logger thread owns the files; everyone else
 * only appends to buffers.
 */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http/date.h"
#include "util/buf.h"

enum {
    WAKE_BYTES = 64 * 1024,          /* a buffer this full wakes the logger at once */
    BUF_MAX_BYTES = 4 * 1024 * 1024, /* past this a line is dropped (counted as lost) */
    LINE_MAX_BYTES = 2048,           /* one error.log line */
    LOST_REPORT_S = 60,              /* how often lost lines are reported */
};

enum { LOG_ACCESS, LOG_ERRORS, LOG_KINDS };

struct log_buf {
    pthread_mutex_t lock;
    struct buf pending[LOG_KINDS]; /* appended by the owner thread */
    struct buf spare[LOG_KINDS];   /* swapped in by the logger */
    struct log_buf *next;          /* the logger's list */
};

struct log_file {
    char *path; /* NULL: off; "-": stdout or stderr */
    int fd;
    bool is_std;
};

static struct {
    _Atomic int level;
    _Atomic bool access_on;
    _Atomic bool error_on;
    _Atomic uint64_t lost;
    pthread_mutex_t lock; /* the list of buffers, the flags below, the condition */
    pthread_cond_t wake;
    struct log_buf *bufs;
    struct log_buf shared; /* for threads without their own */
    struct log_file files[LOG_KINDS];
    bool is_running, stop, reopen, kick;
    char *next_path[LOG_KINDS]; /* set by log_reconfigure, taken by the logger */
    bool has_next_path[LOG_KINDS];
    pthread_t thread;
    uint64_t lost_reported;
    time_t last_report;
} L = {
    .level = LOG_INFO,
    .error_on = true,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .shared = {.lock = PTHREAD_MUTEX_INITIALIZER},
    .files = {{NULL, -1, false}, {NULL, STDERR_FILENO, true}},
};

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

/* Opens f->path into *fd: -1 for off, the std stream for "-". */
static int open_file(const struct log_file *f, int std_fd, int *fd)
{
    if (!f->path) {
        *fd = -1;
        return 0;
    }
    if (strcmp(f->path, "-") == 0) {
        *fd = std_fd;
        return 0;
    }
    make_parent(f->path);
    *fd = open(f->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    return *fd < 0 ? -errno : 0;
}

static void close_file(struct log_file *f)
{
    if (f->fd >= 0 && !f->is_std)
        close(f->fd);
    f->fd = -1;
}

/* Counts the lines in data that could not be written. */
static void count_lost(const char *data, size_t len)
{
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += data[i] == '\n';
    atomic_fetch_add_explicit(&L.lost, n, memory_order_relaxed);
}

static void write_out(struct log_file *f, struct buf *b)
{
    size_t done = 0;
    while (f->fd >= 0 && done < b->len) {
        ssize_t n = write(f->fd, b->data + done, b->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* ENOSPC, EIO …: what is left is lost */
        done += (size_t)n;
    }
    if (done < b->len)
        count_lost(b->data + done, b->len - done);
    buf_reset(b);
}

/* Moves every buffer's pending lines to the files. Called by the logger only. */
static void flush_all(void)
{
    pthread_mutex_lock(&L.lock);
    struct log_buf *list = L.bufs;
    pthread_mutex_unlock(&L.lock);
    /* Buffers are only ever added at the head, so the list from here on is stable. */
    for (struct log_buf *b = list; b; b = b->next) {
        pthread_mutex_lock(&b->lock);
        for (int k = 0; k < LOG_KINDS; k++) {
            struct buf t = b->pending[k];
            b->pending[k] = b->spare[k];
            b->spare[k] = t;
        }
        pthread_mutex_unlock(&b->lock);
        for (int k = 0; k < LOG_KINDS; k++)
            write_out(&L.files[k], &b->spare[k]);
    }
}

/* Reopens both logs (logrotate), at new paths when a reload gave some. Logger only. */
static void reopen_files(void)
{
    static const int std_fds[LOG_KINDS] = {STDOUT_FILENO, STDERR_FILENO};
    for (int k = 0; k < LOG_KINDS; k++) {
        struct log_file *f = &L.files[k];
        pthread_mutex_lock(&L.lock);
        bool has_next = L.has_next_path[k];
        char *next = L.next_path[k];
        L.next_path[k] = NULL;
        L.has_next_path[k] = false;
        pthread_mutex_unlock(&L.lock);
        struct log_file nf = *f;
        if (has_next) {
            nf.path = next && strcmp(next, "off") != 0 ? next : NULL;
            nf.is_std = nf.path && strcmp(nf.path, "-") == 0;
        }
        if (!nf.path || (nf.is_std && f->is_std && !has_next)) {
            if (has_next) { /* now off */
                close_file(f);
                free(f->path);
                f->path = NULL;
                f->is_std = false;
            }
            if (!nf.path)
                free(next);
            continue;
        }
        int fd;
        if (open_file(&nf, std_fds[k], &fd) != 0) {
            log_write(LOG_ERROR, "opening %s: %s (keeping the old file)", nf.path, strerror(errno));
            if (has_next)
                free(next);
            continue;
        }
        close_file(f);
        if (has_next) {
            free(f->path);
            f->path = nf.path;
            f->is_std = nf.is_std;
        }
        f->fd = fd;
    }
    atomic_store(&L.access_on, L.files[LOG_ACCESS].fd >= 0);
    atomic_store(&L.error_on, L.files[LOG_ERRORS].fd >= 0);
}

static void report_lost(void)
{
    uint64_t lost = atomic_load_explicit(&L.lost, memory_order_relaxed);
    time_t now = time(NULL);
    if (lost == L.lost_reported || now - L.last_report < LOST_REPORT_S)
        return;
    L.last_report = now;
    log_write(LOG_ERROR, "logs: %llu lines lost to write errors or overload since start",
              (unsigned long long)lost);
    L.lost_reported = lost;
}

static void *logger_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&L.lock);
    for (;;) {
        if (!L.stop && !L.reopen && !L.kick) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&L.wake, &L.lock, &until);
        }
        bool stop = L.stop, reopen = L.reopen;
        L.reopen = L.kick = false;
        pthread_mutex_unlock(&L.lock);
        flush_all();
        if (reopen)
            reopen_files();
        report_lost();
        if (stop) {
            flush_all(); /* lines the last pass produced (a report) */
            return NULL;
        }
        pthread_mutex_lock(&L.lock);
    }
}

static void logger_kick(void)
{
    pthread_mutex_lock(&L.lock);
    L.kick = true;
    pthread_cond_signal(&L.wake);
    pthread_mutex_unlock(&L.lock);
}

/* Appends to one of b's buffers; wakes the logger when it fills. */
static void append(struct log_buf *b, int kind, const char *line, size_t len)
{
    pthread_mutex_lock(&b->lock);
    struct buf *p = &b->pending[kind];
    bool ok = p->len + len <= BUF_MAX_BYTES && buf_append(p, line, len);
    bool full = p->len >= WAKE_BYTES;
    pthread_mutex_unlock(&b->lock);
    if (!ok)
        atomic_fetch_add_explicit(&L.lost, 1, memory_order_relaxed);
    if (full && L.is_running)
        logger_kick();
}

static void buf_pair_init(struct log_buf *b)
{
    for (int k = 0; k < LOG_KINDS; k++) {
        buf_init(&b->pending[k], NULL, 0, 0);
        buf_init(&b->spare[k], NULL, 0, 0);
    }
}

int log_open(enum log_level level, const char *access_path, const char *error_path, char err[256])
{
    const char *paths[LOG_KINDS] = {access_path, error_path};
    const int std_fds[LOG_KINDS] = {STDOUT_FILENO, STDERR_FILENO};
    int fds[LOG_KINDS] = {-1, -1};
    for (int k = 0; k < LOG_KINDS; k++) {
        struct log_file f = {strcmp(paths[k], "off") == 0 ? NULL : (char *)paths[k], -1, false};
        if (open_file(&f, std_fds[k], &fds[k]) != 0) {
            snprintf(err, 256, "%s log \"%s\": %s", k == LOG_ACCESS ? "access" : "error", paths[k],
                     strerror(errno));
            if (k == LOG_ERRORS && fds[LOG_ACCESS] > STDERR_FILENO)
                close(fds[LOG_ACCESS]);
            return -1;
        }
    }
    buf_pair_init(&L.shared);
    L.bufs = &L.shared;
    for (int k = 0; k < LOG_KINDS; k++) {
        struct log_file *f = &L.files[k];
        f->path = strcmp(paths[k], "off") == 0 ? NULL : strdup(paths[k]);
        f->fd = fds[k];
        f->is_std = f->path && strcmp(f->path, "-") == 0;
    }
    atomic_store(&L.level, (int)level);
    atomic_store(&L.access_on, fds[LOG_ACCESS] >= 0);
    atomic_store(&L.error_on, fds[LOG_ERRORS] >= 0);
    L.stop = false;
    /* The logger takes no signals: they belong to the main thread's sigwaitinfo. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&L.thread, NULL, logger_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, 256, "cannot start the logger thread");
        log_close();
        return -1;
    }
    L.is_running = true;
    return 0;
}

void log_close(void)
{
    if (L.is_running) {
        pthread_mutex_lock(&L.lock);
        L.stop = true;
        pthread_cond_signal(&L.wake);
        pthread_mutex_unlock(&L.lock);
        pthread_join(L.thread, NULL);
        L.is_running = false;
    } else {
        flush_all();
    }
    struct log_buf *b = L.bufs;
    while (b) {
        struct log_buf *next = b->next;
        for (int k = 0; k < LOG_KINDS; k++) {
            buf_free(&b->pending[k]);
            buf_free(&b->spare[k]);
        }
        if (b != &L.shared) {
            pthread_mutex_destroy(&b->lock);
            free(b);
        }
        b = next;
    }
    L.bufs = NULL;
    for (int k = 0; k < LOG_KINDS; k++) {
        close_file(&L.files[k]);
        free(L.files[k].path);
        L.files[k].path = NULL;
    }
    L.files[LOG_ERRORS] = (struct log_file){NULL, STDERR_FILENO, true};
    for (int k = 0; k < LOG_KINDS; k++) {
        free(L.next_path[k]);
        L.next_path[k] = NULL;
        L.has_next_path[k] = false;
    }
    atomic_store(&L.access_on, false);
    atomic_store(&L.error_on, true);
}

void log_chown(unsigned uid, unsigned gid)
{
    for (int k = 0; k < LOG_KINDS; k++) {
        const struct log_file *f = &L.files[k];
        if (f->fd >= 0 && !f->is_std && fchown(f->fd, uid, gid) != 0)
            log_write(LOG_WARN, "%s: cannot give it to uid %u: %s", f->path, uid, strerror(errno));
    }
}

void log_reconfigure(enum log_level level, const char *access_path, const char *error_path)
{
    atomic_store(&L.level, (int)level);
    const char *paths[LOG_KINDS] = {access_path, error_path};
    pthread_mutex_lock(&L.lock);
    for (int k = 0; k < LOG_KINDS; k++) {
        const char *cur = L.files[k].path ? L.files[k].path : "off";
        if (strcmp(cur, paths[k]) == 0)
            continue; /* same file: nothing to do */
        free(L.next_path[k]);
        L.next_path[k] = strdup(paths[k]);
        L.has_next_path[k] = L.next_path[k] != NULL;
    }
    L.reopen = true;
    pthread_cond_signal(&L.wake);
    pthread_mutex_unlock(&L.lock);
}

void log_reopen(void)
{
    pthread_mutex_lock(&L.lock);
    L.reopen = true;
    pthread_cond_signal(&L.wake);
    pthread_mutex_unlock(&L.lock);
}

struct log_buf *log_thread_buf(void)
{
    struct log_buf *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    pthread_mutex_init(&b->lock, NULL);
    buf_pair_init(b);
    pthread_mutex_lock(&L.lock);
    b->next = L.bufs;
    L.bufs = b;
    pthread_mutex_unlock(&L.lock);
    return b;
}

bool log_enabled(enum log_level level)
{
    return (int)level >= atomic_load_explicit(&L.level, memory_order_relaxed) &&
           atomic_load_explicit(&L.error_on, memory_order_relaxed);
}

bool log_access_enabled(void)
{
    return atomic_load_explicit(&L.access_on, memory_order_relaxed);
}

void log_write(enum log_level level, const char *fmt, ...)
{
    char line[LINE_MAX_BYTES];
    char when[DATE_ISO_LEN + 1];
    date_iso(time(NULL), when);
    int n = snprintf(line, sizeof(line), "%s [%s] ", when, level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m > 0 ? (size_t)m : 0);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2; /* truncated: keep the newline */
    line[len++] = '\n';
    if (!L.is_running) {
        /* Before the logger starts and after it stops: straight to the file. */
        int fd = L.files[LOG_ERRORS].fd;
        if (fd >= 0 && write(fd, line, len) < 0)
            count_lost(line, len);
        return;
    }
    /* One buffer for every thread's error lines: they reach the file in the order they
     * were written (per-thread buffers would be written one thread after another). */
    append(&L.shared, LOG_ERRORS, line, len);
}

void log_access(struct log_buf *b, const char *line, size_t len)
{
    append(b ? b : &L.shared, LOG_ACCESS, line, len);
}

uint64_t log_lost_lines(void)
{
    return atomic_load_explicit(&L.lost, memory_order_relaxed);
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

void log_rejected(struct log_limit *l, uint64_t now_s, const char *peer, int status,
                  const char *reason)
{
    uint64_t suppressed;
    if (log_enabled(LOG_INFO) && log_limit_allow(l, now_s, &suppressed))
        log_info("%s: %d %s%s", peer, status, reason,
                 suppressed ? " (and more rejections not logged)" : "");
}
