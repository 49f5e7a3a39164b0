/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 checking (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF).
 * Text from clients goes into JSON and the database; JSON must be valid UTF-8, so bytes
 * that are not become U+FFFD, the replacement character, rather than failing the request.
 */
#ifndef MICA_UTIL_UTF8_H
#define MICA_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* The length of the valid UTF-8 sequence at s[0..len), or 0 if there is none there. */
size_t utf8_sequence(const unsigned char *s, size_t len);

bool utf8_valid(const char *s, size_t len);

/* A NUL-terminated copy of s[0..len) with each invalid byte replaced by U+FFFD and NUL
 * bytes by U+FFFD too (the copy is a C string); NULL when out of memory. Free with free(). */
char *utf8_sanitized(const char *s, size_t len);

#endif
