/* SPDX-License-Identifier: MIT */
/*
 * Server counters, kept per worker thread and summed when read.
 *
 * Each struct stats has exactly one writer, its worker, so an increment is a relaxed load
 * plus a relaxed store (a plain add, no locked instruction): no other thread ever writes
 * the counter, so no update can be lost. Readers (the status page, the API) load each
 * counter relaxed: the sum is a consistent-enough snapshot for a dashboard, and each value
 * is never torn. The struct is cache-line aligned so workers never share a line.
 */
#ifndef MICA_CORE_STATS_H
#define MICA_CORE_STATS_H

#include <stdatomic.h>
#include <stdint.h>

struct stats {
    _Alignas(64) _Atomic uint64_t requests;
    _Atomic uint64_t bytes_sent;
    _Atomic uint64_t connections_accepted;
    _Atomic uint64_t connections_active;
    _Atomic uint64_t connections_refused; /* over max_connections or out of descriptors */
    _Atomic uint64_t status_class[6];     /* index status / 100: [1] 1xx … [5] 5xx */
    _Atomic uint64_t cache_hits;
    _Atomic uint64_t cache_misses;
};

/* Sums of every worker's counters. */
struct stats_total {
    uint64_t requests;
    uint64_t bytes_sent;
    uint64_t connections_accepted;
    uint64_t connections_active;
    uint64_t connections_refused;
    uint64_t status_class[6];
    uint64_t cache_hits;
    uint64_t cache_misses;
};

/* Adds n to a counter of the calling worker's own struct stats (single writer). */
static inline void stats_add(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void stats_sub(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) - n,
                          memory_order_relaxed);
}

/* Counts one response of the given status and body size. */
static inline void stats_response(struct stats *s, int status, uint64_t bytes)
{
    stats_add(&s->requests, 1);
    stats_add(&s->bytes_sent, bytes);
    unsigned cls = (unsigned)status / 100;
    if (cls < 6)
        stats_add(&s->status_class[cls], 1);
}

/* Sums n workers' counters into *t. */
void stats_sum(const struct stats *per_worker, unsigned n, struct stats_total *t);

#endif
