/* SPDX-License-Identifier: MIT */
/*
 * The access and error logs (SPEC §5).
 *
 * Serving threads never write to disk: each worker appends access lines to its own
 * struct log_buf (a mutex held only to append or to swap), and one logger thread swaps
 * the buffers out and writes them at least once a second, sooner when a buffer fills, and
 * at shutdown, so a clean stop loses no line. Error lines, rare and rate-limited, all go
 * to one shared log_buf, so error.log keeps the order in which things happened. A write
 * that fails (a full disk, an I/O error) never stops serving: the lines are counted as
 * lost, the count is reported in error.log once a minute and kept for the stats. SIGUSR1
 * makes the logger reopen both files (logrotate).
 *
 * error.log lines: "2026-11-26T01:02:03Z [error] message". log_* macros check the level
 * before formatting. Text from clients must go through log_escape() first, so nobody can
 * forge log lines.
 */
#ifndef MICA_CORE_LOG_H
#define MICA_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "util/slice.h"

struct log_buf;

/*
 * Opens both logs (paths, "-" for stdout/stderr, or "off"; a missing logs/ directory is
 * created) and starts the logger thread. Returns 0, or -1 with err naming the file.
 */
int log_open(enum log_level level, const char *access_path, const char *error_path, char err[256]);

/* Writes out everything buffered, stops the logger thread and closes the files. */
void log_close(void);

/* Gives the log files to uid:gid (before dropping privileges, so reopening still works). */
void log_chown(unsigned uid, unsigned gid);

/* A reload: the new level now; the logger then reopens the logs at their new paths (a
 * path that cannot be opened keeps the old file, with an error line). */
void log_reconfigure(enum log_level level, const char *access_path, const char *error_path);

/* Asks the logger to reopen both files (SIGUSR1). */
void log_reopen(void);

/* A buffer for the calling thread's access lines (log_access), registered with the
 * logger; NULL when out of memory. Freed by log_close(). */
struct log_buf *log_thread_buf(void);

bool log_enabled(enum log_level level);
bool log_access_enabled(void);

void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) (log_enabled(LOG_ERROR) ? log_write(LOG_ERROR, __VA_ARGS__) : (void)0)
#define log_warn(...) (log_enabled(LOG_WARN) ? log_write(LOG_WARN, __VA_ARGS__) : (void)0)
#define log_info(...) (log_enabled(LOG_INFO) ? log_write(LOG_INFO, __VA_ARGS__) : (void)0)
#define log_debug(...) (log_enabled(LOG_DEBUG) ? log_write(LOG_DEBUG, __VA_ARGS__) : (void)0)

/* Appends one formatted access.log line (the caller's text, newline included). */
void log_access(struct log_buf *b, const char *line, size_t len);

/* Lines lost to write errors or full buffers since start. */
uint64_t log_lost_lines(void);

/*
 * Appends in to out[0..cap) (NUL-terminated, truncated to fit) with bytes outside
 * printable ASCII, '"' and '\\' written as \xHH. Returns the length written.
 */
size_t log_escape(char *out, size_t cap, struct slice in);

/*
 * For errors that can repeat many times a second (EMFILE on accept): allows one line per
 * second and counts the ones it suppressed, reported with the next line.
 */
struct log_limit {
    uint64_t last_s;
    uint64_t suppressed;
};

/* True when a line may be written now (now_s: wall-clock seconds); *suppressed gets the
 * count to report with it. */
bool log_limit_allow(struct log_limit *l, uint64_t now_s, uint64_t *suppressed);

/* "PEER: STATUS REASON" at info for a rejected request, through the limit l. */
void log_rejected(struct log_limit *l, uint64_t now_s, const char *peer, int status,
                  const char *reason);

#endif
