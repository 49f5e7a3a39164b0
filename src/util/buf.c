/* SPDX-License-Identifier: MIT */
/* The growable buffer; see buf.h for the contract. */
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, char *storage, size_t cap, size_t max)
{
    b->data = storage;
    b->len = 0;
    b->cap = storage ? cap : 0;
    b->max = max;
    b->is_heap = false;
}

bool buf_reserve(struct buf *b, size_t extra)
{
    size_t need;
    if (__builtin_add_overflow(b->len, extra, &need))
        return false;
    if (need <= b->cap)
        return true;
    if (b->max && need > b->max)
        return false;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (__builtin_mul_overflow(cap, 2, &cap))
            return false;
    }
    if (b->max && cap > b->max)
        cap = b->max;
    char *p;
    if (b->is_heap) {
        p = realloc(b->data, cap);
    } else {
        p = malloc(cap);
        if (p && b->len)
            memcpy(p, b->data, b->len);
    }
    if (!p)
        return false;
    b->data = p;
    b->cap = cap;
    b->is_heap = true;
    return true;
}

bool buf_append(struct buf *b, const void *data, size_t n)
{
    if (n == 0)
        return true;
    if (!buf_reserve(b, n))
        return false;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return true;
}

bool buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

bool buf_append_u64(struct buf *b, unsigned long long n)
{
    char tmp[24];
    char *p = tmp + sizeof(tmp);
    do {
        *--p = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    return buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

bool buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    size_t room = b->cap - b->len;
    int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return false;
    }
    if ((size_t)n < room) {
        b->len += (size_t)n;
        va_end(ap2);
        return true;
    }
    /* Too long for the room left: grow to fit the text and its NUL, then format again. */
    bool ok = buf_reserve(b, (size_t)n + 1);
    if (ok) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
    return ok;
}

bool buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool ok = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return ok;
}

void buf_free(struct buf *b)
{
    if (b->is_heap)
        free(b->data);
    buf_init(b, NULL, 0, b->max);
}

void buf_trim(struct buf *b, size_t keep)
{
    if (b->is_heap && b->cap > keep)
        buf_free(b);
    b->len = 0;
}
