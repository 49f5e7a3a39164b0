/* SPDX-License-Identifier: MIT */
/* Summing per-worker counters; see stats.h for why relaxed loads are enough. */
#include "core/stats.h"

#include <string.h>

static uint64_t get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

void stats_sum(const struct stats *s, unsigned n, struct stats_total *t)
{
    memset(t, 0, sizeof(*t));
    for (unsigned i = 0; i < n; i++) {
        t->requests += get(&s[i].requests);
        t->bytes_sent += get(&s[i].bytes_sent);
        t->connections_accepted += get(&s[i].connections_accepted);
        t->connections_active += get(&s[i].connections_active);
        t->connections_refused += get(&s[i].connections_refused);
        t->cache_hits += get(&s[i].cache_hits);
        t->cache_misses += get(&s[i].cache_misses);
        for (int c = 0; c < 6; c++)
            t->status_class[c] += get(&s[i].status_class[c]);
    }
}
