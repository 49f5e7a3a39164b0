/* SPDX-License-Identifier: MIT */
/*
 * HTTP's character classes, one bit each in a 256-entry table (picohttpparser's idea):
 *   CHARS_TCHAR   tchar (RFC 9110 §5.6.2): methods, field names, tokens
 *   CHARS_VALUE   field-vchar, SP or HTAB (RFC 9110 §5.5; obs-text 0x80-0xFF included)
 *   CHARS_TARGET  visible ASCII 0x21-0x7E: all a request-target may hold
 *   CHARS_HOST    unreserved, pct-encoded and sub-delims (RFC 3986 §3.2.2 reg-name)
 * Every parser of the protocol (the head, chunked bodies, forms) uses these.
 */
#ifndef MICA_HTTP_CHARS_H
#define MICA_HTTP_CHARS_H

#include <stdbool.h>

enum {
    CHARS_TCHAR = 1,
    CHARS_VALUE = 2,
    CHARS_TARGET = 4,
    CHARS_HOST = 8,
};

extern const unsigned char chars_class[256];

static inline bool chars_is(unsigned char c, unsigned cls)
{
    return (chars_class[c] & cls) != 0;
}

static inline bool chars_is_tchar(unsigned char c)
{
    return chars_is(c, CHARS_TCHAR);
}

static inline bool chars_is_value(unsigned char c)
{
    return chars_is(c, CHARS_VALUE);
}

/* qdtext (RFC 9110 §5.6.4): a field-value character other than DQUOTE and backslash. */
static inline bool chars_is_qdtext(unsigned char c)
{
    return chars_is_value(c) && c != '"' && c != '\\';
}

#endif
