/* SPDX-License-Identifier: MIT */
/* FNV-1a, 64 bits: a small, fast hash for cache keys and content fingerprints. */
#ifndef MICA_UTIL_HASH_H
#define MICA_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A64_INIT 14695981039346656037ull

/* Continues hash h (start with FNV1A64_INIT) over the n bytes at p. */
static inline uint64_t fnv1a64(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

#endif
