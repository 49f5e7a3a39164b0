/* SPDX-License-Identifier: MIT */
/* Prometheus metrics; see metrics.h. */
#include "handlers/metrics.h"

#include <stddef.h>
#include <string.h>

#include "core/log.h"
#include "files/cache.h"
#include "handlers/auth.h"
#include "handlers/static.h"

static bool is_loopback(const char *ip)
{
    return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0;
}

static void counter(struct buf *b, const char *name, const char *help, uint64_t v)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
               (unsigned long long)v);
}

static void gauge(struct buf *b, const char *name, const char *help, uint64_t v)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name,
               (unsigned long long)v);
}

static void by_status_and_method(struct buf *b, const struct env *env)
{
    buf_printf(b, "# HELP mica_responses_total Responses sent, by status code.\n"
                  "# TYPE mica_responses_total counter\n");
    for (int code = STATS_STATUS_MIN; code <= STATS_STATUS_MAX; code++) {
        uint64_t n = stats_status_count(env->stats, env->n_workers, code);
        if (n)
            buf_printf(b, "mica_responses_total{code=\"%d\"} %llu\n", code, (unsigned long long)n);
    }
    uint64_t methods[STATS_METHODS];
    stats_sum_array(env->stats, env->n_workers, offsetof(struct stats, methods), methods,
                    STATS_METHODS);
    buf_printf(b, "# HELP mica_requests_total Requests answered, by method.\n"
                  "# TYPE mica_requests_total counter\n");
    for (unsigned m = 0; m < STATS_METHODS; m++) {
        const char *name = m < HTTP_METHOD_COUNT ? request_method_name(m) : "none";
        buf_printf(b, "mica_requests_total{method=\"%s\"} %llu\n", name,
                   (unsigned long long)methods[m]);
    }
}

static void latency_histogram(struct buf *b, const struct env *env)
{
    uint64_t buckets[STATS_BUCKETS], sum_us[1];
    stats_sum_array(env->stats, env->n_workers, offsetof(struct stats, latency), buckets,
                    STATS_BUCKETS);
    stats_sum_array(env->stats, env->n_workers, offsetof(struct stats, latency_us_sum), sum_us, 1);
    buf_printf(b, "# HELP mica_response_seconds Time to produce a response.\n"
                  "# TYPE mica_response_seconds histogram\n");
    uint64_t cumulative = 0;
    for (unsigned i = 0; i < STATS_BUCKETS; i++) {
        cumulative += buckets[i];
        if (i < STATS_BUCKETS - 1)
            buf_printf(b, "mica_response_seconds_bucket{le=\"%g\"} %llu\n",
                       (double)stats_bucket_us[i] / 1e6, (unsigned long long)cumulative);
        else
            buf_printf(b, "mica_response_seconds_bucket{le=\"+Inf\"} %llu\n",
                       (unsigned long long)cumulative);
    }
    buf_printf(b, "mica_response_seconds_sum %.6f\nmica_response_seconds_count %llu\n",
               (double)sum_us[0] / 1e6, (unsigned long long)cumulative);
}

int metrics_handle(struct env *env, const struct request *req, struct response *resp)
{
    if (!env->cfg->metrics)
        return static_handle(env, req, resp); /* a file named "metrics", if any */
    if (auth_enabled(env->auth)) {
        if (auth_guard(env, req, resp, false) != 0)
            return resp->status;
    } else if (!is_loopback(env->client_ip)) {
        return response_error(resp, 403);
    }
    struct stats_total t;
    stats_sum(env->stats, env->n_workers, &t);
    struct cache_totals ct = {0};
    if (env->cache)
        cache_totals(env->cache, &ct);
    struct buf *b = env->scratch;
    by_status_and_method(b, env);
    counter(b, "mica_bytes_sent_total", "Body bytes sent.", t.bytes_sent);
    gauge(b, "mica_connections_active", "Open client connections.", t.connections_active);
    counter(b, "mica_connections_accepted_total", "Connections accepted.", t.connections_accepted);
    counter(b, "mica_connections_refused_total",
            "Connections refused (max_connections or out of descriptors).", t.connections_refused);
    latency_histogram(b, env);
    counter(b, "mica_cache_hits_total", "Static requests answered from the file cache.",
            t.cache_hits);
    counter(b, "mica_cache_misses_total", "Static requests that (re)loaded the file cache.",
            t.cache_misses);
    gauge(b, "mica_cache_bytes", "Bytes held by the file cache.", ct.bytes);
    gauge(b, "mica_cache_entries", "Files in the file cache.", ct.entries);
    counter(b, "mica_log_lines_lost_total", "Log lines lost to write errors or overload.",
            log_lost_lines());
    gauge(b, "mica_uptime_seconds", "Seconds since start.", (env->now_ms - env->started_ms) / 1000);
    gauge(b, "mica_threads", "Worker threads.", env->n_workers);
    response_header(resp, "Cache-Control", SLICE_LIT("no-store"));
    response_set_body(resp, "text/plain; version=0.0.4; charset=utf-8", buf_slice(b));
    resp->status = 200;
    return 200;
}
