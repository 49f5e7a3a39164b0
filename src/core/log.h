/* SPDX-License-Identifier: MIT */
/*
 * The error log: "2026-11-26T01:02:03Z [error] message" lines, filtered by level.
 *
 * log_* macros check the level before formatting anything. Each line goes out in a single
 * write(2) to a file opened O_APPEND, so lines from several threads never interleave.
 * Text from clients must pass through log_escape() first: control characters and quotes
 * are escaped so that nobody can forge log lines.
 */
#ifndef MICA_CORE_LOG_H
#define MICA_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "util/slice.h"

/* Opens the error log: a path (its directory is created if missing), "-" for stderr, or
 * "off". Returns 0, or -1 with one line in err naming the file. */
int log_open(enum log_level level, const char *path, char err[256]);

void log_close(void);

bool log_enabled(enum log_level level);

void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) (log_enabled(LOG_ERROR) ? log_write(LOG_ERROR, __VA_ARGS__) : (void)0)
#define log_warn(...) (log_enabled(LOG_WARN) ? log_write(LOG_WARN, __VA_ARGS__) : (void)0)
#define log_info(...) (log_enabled(LOG_INFO) ? log_write(LOG_INFO, __VA_ARGS__) : (void)0)
#define log_debug(...) (log_enabled(LOG_DEBUG) ? log_write(LOG_DEBUG, __VA_ARGS__) : (void)0)

/*
 * Copies in to out (NUL-terminated, truncated to cap) with bytes outside printable ASCII,
 * '"' and '\\' written as \xHH. Returns the length written.
 */
size_t log_escape(char *out, size_t cap, struct slice in);

/*
 * For errors that can repeat many times a second (EMFILE on accept, a full disk): allows
 * one line per second and counts the ones it suppressed, reported with the next line.
 */
struct log_limit {
    uint64_t last_s;
    uint64_t suppressed;
};

/* True when a line may be written now (now_s: any monotonic seconds); *suppressed gets the
 * count to report with it. */
bool log_limit_allow(struct log_limit *l, uint64_t now_s, uint64_t *suppressed);

#endif
