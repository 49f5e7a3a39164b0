/* SPDX-License-Identifier: MIT */
/*
 * Server counters, kept per worker thread and summed when read.
 *
 * Each struct stats has exactly one writer, its worker, so an increment is a relaxed load
 * plus a relaxed store (a plain add, no locked instruction): no other thread ever writes
 * the counter, so no update can be lost. Readers (the status page, the API) load each
 * counter relaxed: the sum is a consistent-enough snapshot for a dashboard, and each value
 * is never torn. The struct is cache-line aligned so workers never share a line.
 *
 * Two figures are structures rather than counters: the most requested paths (a
 * space-saving top-k, Metwally et al. 2005: bounded memory, exact for paths requested
 * more often than the k-th) and requests per second over the last minutes. The worker
 * keeps both privately, with no atomics or locks on the hot path, and publishes a copy
 * under a mutex once a second (stats_publish); readers only ever see the copy.
 */
#ifndef MICA_CORE_STATS_H
#define MICA_CORE_STATS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

enum {
    STATS_TOPK = 32,       /* paths tracked per worker */
    STATS_PATH_BYTES = 96, /* longer paths are cut */
    STATS_SERIES_S = 600,  /* seconds of requests-per-second history */
    STATS_STATUS_MIN = 100,
    STATS_STATUS_MAX = 599,
    STATS_METHODS = 10, /* the request methods (http/request.h), and one for "none" */
    STATS_BUCKETS = 12, /* latency histogram buckets, the last one +Inf */
};

/* Upper bounds of the latency buckets, in microseconds (the last is unbounded). */
extern const uint64_t stats_bucket_us[STATS_BUCKETS - 1];

/* One response, as the worker counts it. */
struct stats_event {
    int status;
    unsigned method;  /* enum http_method, or STATS_METHODS - 1 when the request was not parsed */
    uint64_t bytes;   /* body bytes */
    uint64_t usec;    /* time to produce the response */
    const char *path; /* for the top-k, or NULL */
    int64_t now_s;    /* wall clock */
};

struct stats_path {
    char path[STATS_PATH_BYTES];
    uint64_t count;
    uint64_t error; /* space-saving: how much of count may belong to evicted paths */
};

struct stats {
    _Alignas(64) _Atomic uint64_t requests;
    _Atomic uint64_t bytes_sent;
    _Atomic uint64_t connections_accepted;
    _Atomic uint64_t connections_active;
    _Atomic uint64_t connections_refused; /* over max_connections or out of descriptors */
    _Atomic uint64_t status_class[6];     /* index status / 100: [1] 1xx … [5] 5xx */
    _Atomic uint64_t cache_hits;
    _Atomic uint64_t cache_misses;
    _Atomic int64_t last_request_s; /* wall clock of the last response, 0 before any */
    _Atomic uint64_t status[STATS_STATUS_MAX - STATS_STATUS_MIN + 1];
    _Atomic uint64_t methods[STATS_METHODS];
    _Atomic uint64_t latency[STATS_BUCKETS]; /* responses per latency bucket */
    _Atomic uint64_t latency_us_sum;

    /* The worker's own, unsynchronised. */
    struct stats_path top[STATS_TOPK];
    unsigned n_top;
    uint32_t series[STATS_SERIES_S]; /* requests in second s at series[s % STATS_SERIES_S] */
    int64_t series_s;                /* the latest second counted in series */
    bool is_dirty;                   /* counted since the last stats_publish */

    /* The copy readers see, under lock. */
    pthread_mutex_t lock;
    struct stats_path top_pub[STATS_TOPK];
    unsigned n_top_pub;
    uint32_t series_pub[STATS_SERIES_S];
    int64_t series_pub_s;
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
    int64_t last_request_s;
};

void stats_init(struct stats *s);
void stats_destroy(struct stats *s);

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

/* Counts one response (worker only). */
void stats_response(struct stats *s, const struct stats_event *e);

/* Copies the worker's top-k and series to what readers see. Worker only, once a second
 * while is_dirty (the worker wakes for it even when idle). */
void stats_publish(struct stats *s, int64_t now_s);

/* Sums n workers' counters into *t. */
void stats_sum(const struct stats *per_worker, unsigned n, struct stats_total *t);

/* Sums of one counter array (methods, latency) over n workers: out[i] for i < count.
 * offset: offsetof(struct stats, the array). */
void stats_sum_array(const struct stats *per_worker, unsigned n, size_t offset, uint64_t *out,
                     unsigned count);

/* Responses with status code `code` over n workers. */
uint64_t stats_status_count(const struct stats *per_worker, unsigned n, int code);

/* The most requested paths over n workers, merged, most first: up to max of them. */
unsigned stats_top_paths(struct stats *per_worker, unsigned n, struct stats_path *out,
                         unsigned max);

/* Requests per second over the last `seconds` (<= STATS_SERIES_S) seconds before now_s,
 * oldest first, summed over n workers, into out[seconds]. */
void stats_series(struct stats *per_worker, unsigned n, int64_t now_s, uint32_t *out,
                  unsigned seconds);

#endif
