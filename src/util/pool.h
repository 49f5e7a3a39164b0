/* SPDX-License-Identifier: MIT */
/*
 * A free list of equal-sized memory blocks, owned by one thread (no locking). Workers take
 * connection objects and I/O buffers from their pools so that steady-state requests do not
 * call malloc. At most `max_free` blocks are kept for reuse; the rest go back to the heap,
 * so idle memory stays bounded. Under AddressSanitizer blocks on the free list are
 * poisoned: a use after pool_put is reported like a use after free.
 */
#ifndef MICA_UTIL_POOL_H
#define MICA_UTIL_POOL_H

#include <stddef.h>

struct pool {
    void *free_list;   /* singly linked through the first word of each block */
    size_t block_size; /* bytes per block, at least sizeof(void *) */
    size_t n_free;
    size_t max_free;
};

void pool_init(struct pool *p, size_t block_size, size_t max_free);

/* A block of block_size bytes (contents undefined), or NULL when out of memory. */
void *pool_get(struct pool *p);

/* Gives a block back (NULL is ignored). */
void pool_put(struct pool *p, void *block);

/* Frees every block on the free list. */
void pool_drain(struct pool *p);

#endif
