/* SPDX-License-Identifier: MIT */
/* Per-thread block pools; see pool.h. */
#include "util/pool.h"

#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

void pool_init(struct pool *p, size_t block_size, size_t max_free)
{
    p->free_list = NULL;
    p->block_size = block_size < sizeof(void *) ? sizeof(void *) : block_size;
    p->n_free = 0;
    p->max_free = max_free;
}

void *pool_get(struct pool *p)
{
    void *b = p->free_list;
    if (!b)
        return malloc(p->block_size);
    UNPOISON(b, p->block_size);
    p->free_list = *(void **)b;
    p->n_free--;
    return b;
}

void pool_put(struct pool *p, void *block)
{
    if (!block)
        return;
    if (p->n_free >= p->max_free) {
        free(block);
        return;
    }
    *(void **)block = p->free_list;
    p->free_list = block;
    p->n_free++;
    /* The link word stays readable; the rest is off limits until pool_get. */
    POISON((char *)block + sizeof(void *), p->block_size - sizeof(void *));
}

void pool_drain(struct pool *p)
{
    void *b = p->free_list;
    while (b) {
        UNPOISON(b, p->block_size);
        void *next = *(void **)b;
        free(b);
        b = next;
    }
    p->free_list = NULL;
    p->n_free = 0;
}
