/* SPDX-License-Identifier: MIT */
/*
 * struct buf is the one owning, growable byte buffer. It may start on caller-provided
 * storage (a stack array, a pool block): the first growth past that storage moves the
 * bytes to the heap, and buf_free releases only what the buffer itself allocated.
 * Every append either succeeds whole or returns false and leaves the buffer unchanged.
 * A buffer never grows past `max` bytes (0 means no limit besides memory).
 * The bytes are not NUL-terminated unless the caller appends a NUL.
 */
#ifndef MICA_UTIL_BUF_H
#define MICA_UTIL_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/slice.h"

struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;   /* growth limit in bytes; 0 = unlimited */
    bool is_heap; /* data was allocated by this buffer */
};

/* Starts an empty buffer on `storage` (may be NULL with cap 0: the first append allocates). */
void buf_init(struct buf *b, char *storage, size_t cap, size_t max);

/* Makes room for `extra` more bytes; false on overflow, over `max`, or out of memory. */
bool buf_reserve(struct buf *b, size_t extra);

bool buf_append(struct buf *b, const void *data, size_t n);

static inline bool buf_append_slice(struct buf *b, struct slice s)
{
    return buf_append(b, s.ptr, s.len);
}

bool buf_append_str(struct buf *b, const char *s);

/* Appends the decimal form of n. */
bool buf_append_u64(struct buf *b, unsigned long long n);

/* Appends formatted text (no NUL is kept). */
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Forgets the contents, keeping the storage. */
static inline void buf_reset(struct buf *b)
{
    b->len = 0;
}

/* Releases heap storage the buffer allocated and leaves it empty with no storage. */
void buf_free(struct buf *b);

/* Empties b, and frees its heap storage when it has grown past keep bytes: a rare large
 * body does not pin that much memory for the life of a worker. */
void buf_trim(struct buf *b, size_t keep);

static inline struct slice buf_slice(const struct buf *b)
{
    return (struct slice){b->data, b->len};
}

#endif
