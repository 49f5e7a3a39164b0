/* SPDX-License-Identifier: MIT */
/*
 * A reference count for objects shared between threads (cache entries, compiled
 * templates). Embed struct ref in the object and give it the function that frees the
 * object; the last ref_put calls it. Whoever holds a pointer holds a reference.
 */
#ifndef MICA_UTIL_REF_H
#define MICA_UTIL_REF_H

#include <stdatomic.h>

struct ref {
    _Atomic unsigned count;
    void (*free)(struct ref *r);
};

static inline void ref_init(struct ref *r, void (*free_fn)(struct ref *r))
{
    atomic_init(&r->count, 1);
    r->free = free_fn;
}

/* Relaxed is enough to take a reference: the caller already holds one (or the lock that
 * keeps the object alive), so the object cannot be freed concurrently. */
static inline void ref_get(struct ref *r)
{
    atomic_fetch_add_explicit(&r->count, 1, memory_order_relaxed);
}

/* Release on drop, acquire for the last one, so the freeing thread sees every write made
 * through the other references before theirs were dropped. */
static inline void ref_put(struct ref *r)
{
    if (r && atomic_fetch_sub_explicit(&r->count, 1, memory_order_acq_rel) == 1)
        r->free(r);
}

#endif
