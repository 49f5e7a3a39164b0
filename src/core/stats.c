/* SPDX-License-Identifier: MIT */
/* Per-worker counters and their sums; see stats.h for the threading rules. */
#include "core/stats.h"

#include <stdlib.h>
#include <string.h>

static uint64_t get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

void stats_init(struct stats *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
}

void stats_destroy(struct stats *s)
{
    pthread_mutex_destroy(&s->lock);
}

/* Space-saving: count path, or take over the least counted slot. */
static void top_count(struct stats *s, const char *path)
{
    unsigned min = 0;
    for (unsigned i = 0; i < s->n_top; i++) {
        if (strcmp(s->top[i].path, path) == 0) {
            s->top[i].count++;
            return;
        }
        if (s->top[i].count < s->top[min].count)
            min = i;
    }
    struct stats_path *slot;
    uint64_t base = 0;
    if (s->n_top < STATS_TOPK) {
        slot = &s->top[s->n_top++];
    } else {
        slot = &s->top[min];
        base = slot->count;
    }
    size_t n = strlen(path);
    if (n >= STATS_PATH_BYTES)
        n = STATS_PATH_BYTES - 1;
    memcpy(slot->path, path, n);
    slot->path[n] = '\0';
    slot->count = base + 1;
    slot->error = base;
}

/* Moves the series to second now_s, zeroing the seconds skipped. */
static void series_advance(struct stats *s, int64_t now_s)
{
    if (now_s <= s->series_s)
        return;
    int64_t gap = now_s - s->series_s;
    if (s->series_s == 0 || gap >= STATS_SERIES_S) {
        memset(s->series, 0, sizeof(s->series));
    } else {
        for (int64_t t = s->series_s + 1; t <= now_s; t++)
            s->series[t % STATS_SERIES_S] = 0;
    }
    s->series_s = now_s;
}

const uint64_t stats_bucket_us[STATS_BUCKETS - 1] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 1000000,
};

void stats_response(struct stats *s, const struct stats_event *e)
{
    stats_add(&s->requests, 1);
    stats_add(&s->bytes_sent, e->bytes);
    if (e->status >= STATS_STATUS_MIN && e->status <= STATS_STATUS_MAX) {
        stats_add(&s->status_class[e->status / 100], 1);
        stats_add(&s->status[e->status - STATS_STATUS_MIN], 1);
    }
    stats_add(&s->methods[e->method < STATS_METHODS ? e->method : STATS_METHODS - 1], 1);
    unsigned b = 0;
    while (b < STATS_BUCKETS - 1 && e->usec > stats_bucket_us[b])
        b++;
    stats_add(&s->latency[b], 1);
    stats_add(&s->latency_us_sum, e->usec);
    atomic_store_explicit(&s->last_request_s, e->now_s, memory_order_relaxed);
    series_advance(s, e->now_s);
    s->series[e->now_s % STATS_SERIES_S]++;
    if (e->path)
        top_count(s, e->path);
    s->is_dirty = true;
}

void stats_sum_array(const struct stats *s, unsigned n, size_t offset, uint64_t *out,
                     unsigned count)
{
    for (unsigned k = 0; k < count; k++)
        out[k] = 0;
    for (unsigned i = 0; i < n; i++) {
        const _Atomic uint64_t *a = (const _Atomic uint64_t *)((const char *)&s[i] + offset);
        for (unsigned k = 0; k < count; k++)
            out[k] += get(&a[k]);
    }
}

void stats_publish(struct stats *s, int64_t now_s)
{
    series_advance(s, now_s);
    pthread_mutex_lock(&s->lock);
    memcpy(s->top_pub, s->top, s->n_top * sizeof(s->top[0]));
    s->n_top_pub = s->n_top;
    memcpy(s->series_pub, s->series, sizeof(s->series));
    s->series_pub_s = s->series_s;
    pthread_mutex_unlock(&s->lock);
    s->is_dirty = false;
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
        int64_t last = atomic_load_explicit(&s[i].last_request_s, memory_order_relaxed);
        if (last > t->last_request_s)
            t->last_request_s = last;
    }
}

uint64_t stats_status_count(const struct stats *s, unsigned n, int code)
{
    uint64_t total = 0;
    if (code < STATS_STATUS_MIN || code > STATS_STATUS_MAX)
        return 0;
    for (unsigned i = 0; i < n; i++)
        total += get(&s[i].status[code - STATS_STATUS_MIN]);
    return total;
}

static int by_count_desc(const void *a, const void *b)
{
    const struct stats_path *x = a, *y = b;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : strcmp(x->path, y->path);
}

unsigned stats_top_paths(struct stats *s, unsigned n, struct stats_path *out, unsigned max)
{
    /* Merge every worker's published top-k: the same path's counts add up. */
    struct stats_path *all = calloc((size_t)n * STATS_TOPK, sizeof(*all));
    if (!all)
        return 0;
    unsigned m = 0;
    for (unsigned i = 0; i < n; i++) {
        pthread_mutex_lock(&s[i].lock);
        for (unsigned k = 0; k < s[i].n_top_pub; k++) {
            const struct stats_path *p = &s[i].top_pub[k];
            unsigned j = 0;
            while (j < m && strcmp(all[j].path, p->path) != 0)
                j++;
            if (j == m)
                all[m++] = *p;
            else {
                all[j].count += p->count;
                all[j].error += p->error;
            }
        }
        pthread_mutex_unlock(&s[i].lock);
    }
    qsort(all, m, sizeof(*all), by_count_desc);
    unsigned k = m < max ? m : max;
    memcpy(out, all, k * sizeof(*out));
    free(all);
    return k;
}

void stats_series(struct stats *s, unsigned n, int64_t now_s, uint32_t *out, unsigned seconds)
{
    if (seconds > STATS_SERIES_S)
        seconds = STATS_SERIES_S;
    memset(out, 0, seconds * sizeof(*out));
    for (unsigned i = 0; i < n; i++) {
        pthread_mutex_lock(&s[i].lock);
        int64_t end = s[i].series_pub_s;
        for (unsigned k = 0; k < seconds; k++) {
            int64_t t = now_s - (int64_t)seconds + (int64_t)k; /* oldest first, up to now-1 */
            if (t <= end && t > end - STATS_SERIES_S && t > 0)
                out[k] += s[i].series_pub[t % STATS_SERIES_S];
        }
        pthread_mutex_unlock(&s[i].lock);
    }
}
