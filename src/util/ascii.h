/* SPDX-License-Identifier: MIT */
/* ASCII character tests that know nothing of locales (unlike <ctype.h>). */
#ifndef MICA_UTIL_ASCII_H
#define MICA_UTIL_ASCII_H

#include <stdbool.h>

/* The value of a hexadecimal digit, or -1. */
static inline int ascii_hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20; /* lower case */
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static inline bool ascii_is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

#endif
