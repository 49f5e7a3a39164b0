/* SPDX-License-Identifier: MIT */
/* The JSON API; see api.h. Bodies are built with cJSON and copied into env->scratch. */
#include "handlers/api.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "files/cache.h"
#include "http/date.h"
#include "http/form.h"
#include "store/store.h"

enum {
    SERIES_SECONDS = 300,     /* requests per second for the dashboard's chart */
    SUBMISSIONS_DEFAULT = 50, /* ?limit= */
    SUBMISSIONS_MAX = 500,
};

/* Makes json (which this takes) the response body. */
static int send_json(struct env *env, struct response *resp, cJSON *json)
{
    char *text = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    bool ok = text && buf_append_str(env->scratch, text) && buf_append(env->scratch, "\n", 1);
    free(text);
    if (!ok)
        return response_error_json(resp, 503);
    response_header(resp, "Cache-Control", SLICE_LIT("no-store"));
    response_set_body(resp, "application/json", buf_slice(env->scratch));
    resp->status = 200;
    return 200;
}

static uint64_t uptime_s(const struct env *env)
{
    return (env->now_ms - env->started_ms) / 1000;
}

int api_status(struct env *env, const struct request *req, struct response *resp)
{
    (void)req;
    char started[DATE_ISO_LEN + 1];
    date_iso(env->started_at, started);
    cJSON *j = cJSON_CreateObject();
    if (j) {
        cJSON_AddStringToObject(j, "status", "OK");
        cJSON_AddStringToObject(j, "version", MICA_VERSION);
        cJSON_AddNumberToObject(j, "uptime_s", (double)uptime_s(env));
        cJSON_AddStringToObject(j, "started_at", started);
    }
    return send_json(env, resp, j);
}

static void add_statuses(cJSON *j, const struct env *env)
{
    cJSON *by = cJSON_AddObjectToObject(j, "responses_by_status");
    for (int code = STATS_STATUS_MIN; by && code <= STATS_STATUS_MAX; code++) {
        uint64_t n = stats_status_count(env->stats, env->n_workers, code);
        if (n) {
            char key[12];
            snprintf(key, sizeof(key), "%d", code);
            cJSON_AddNumberToObject(by, key, (double)n);
        }
    }
}

static void add_top_paths(cJSON *j, struct env *env)
{
    struct stats_path top[STATS_TOPK];
    unsigned n = stats_top_paths((struct stats *)env->stats, env->n_workers, top, 10);
    cJSON *arr = cJSON_AddArrayToObject(j, "top_paths");
    for (unsigned i = 0; arr && i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        if (!e)
            break;
        cJSON_AddStringToObject(e, "path", top[i].path);
        cJSON_AddNumberToObject(e, "count", (double)top[i].count);
        cJSON_AddItemToArray(arr, e);
    }
}

static void add_workers_and_series(cJSON *j, struct env *env)
{
    cJSON *workers = cJSON_AddArrayToObject(j, "workers");
    for (unsigned i = 0; workers && i < env->n_workers; i++) {
        const struct stats *s = &env->stats[i];
        cJSON *w = cJSON_CreateObject();
        if (!w)
            break;
        cJSON_AddNumberToObject(w, "requests", (double)atomic_load(&s->requests));
        cJSON_AddNumberToObject(w, "active_connections",
                                (double)atomic_load(&s->connections_active));
        cJSON_AddItemToArray(workers, w);
    }
    uint32_t series[SERIES_SECONDS];
    stats_series((struct stats *)env->stats, env->n_workers, env->now, series, SERIES_SECONDS);
    cJSON *rps = cJSON_AddArrayToObject(j, "requests_per_second");
    for (unsigned i = 0; rps && i < SERIES_SECONDS; i++)
        cJSON_AddItemToArray(rps, cJSON_CreateNumber(series[i]));
}

int api_stats(struct env *env, const struct request *req, struct response *resp)
{
    (void)req;
    struct stats_total t;
    stats_sum(env->stats, env->n_workers, &t);
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return response_error_json(resp, 503);
    char when[DATE_ISO_LEN + 1];
    cJSON_AddNumberToObject(j, "requests_total", (double)(t.requests + 1));
    cJSON_AddNumberToObject(j, "bytes_sent", (double)t.bytes_sent);
    cJSON_AddNumberToObject(j, "active_connections", (double)t.connections_active);
    cJSON_AddNumberToObject(j, "threads", env->n_workers);
    cJSON_AddNumberToObject(j, "uptime_s", (double)uptime_s(env));
    add_statuses(j, env);
    add_top_paths(j, env);
    if (t.last_request_s > 0) {
        date_iso(t.last_request_s, when);
        cJSON_AddStringToObject(j, "last_request_at", when);
    } else {
        cJSON_AddNullToObject(j, "last_request_at");
    }
    date_iso(env->started_at, when);
    cJSON_AddStringToObject(j, "started_at", when);
    cJSON_AddStringToObject(j, "version", MICA_VERSION);
    cJSON_AddNumberToObject(j, "connections_accepted", (double)t.connections_accepted);
    cJSON_AddNumberToObject(j, "connections_refused", (double)t.connections_refused);
    cJSON *cache = cJSON_AddObjectToObject(j, "cache");
    if (cache) {
        struct cache_totals ct = {0};
        if (env->cache)
            cache_totals(env->cache, &ct);
        cJSON_AddNumberToObject(cache, "hits", (double)t.cache_hits);
        cJSON_AddNumberToObject(cache, "misses", (double)t.cache_misses);
        cJSON_AddNumberToObject(cache, "entries", (double)ct.entries);
        cJSON_AddNumberToObject(cache, "bytes", (double)ct.bytes);
    }
    cJSON_AddNumberToObject(j, "log_lines_lost", (double)log_lost_lines());
    add_workers_and_series(j, env);
    return send_json(env, resp, j);
}

struct query {
    char form[65];
    long long limit;
    long long before;
    bool is_bad;
};

static bool parse_count(struct slice v, long long *out)
{
    long long n = 0;
    if (v.len == 0 || v.len > 18)
        return false;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return false;
        n = n * 10 + (v.ptr[i] - '0');
    }
    *out = n;
    return true;
}

static int query_field(void *ctx, struct slice name, struct slice value)
{
    struct query *q = ctx;
    if (slice_eq(name, SLICE_LIT("form"))) {
        if (value.len >= sizeof(q->form))
            q->is_bad = true;
        else {
            memcpy(q->form, value.ptr, value.len);
            q->form[value.len] = '\0';
        }
    } else if (slice_eq(name, SLICE_LIT("limit"))) {
        q->is_bad |= !parse_count(value, &q->limit) || q->limit < 1 || q->limit > SUBMISSIONS_MAX;
    } else if (slice_eq(name, SLICE_LIT("before"))) {
        q->is_bad |= !parse_count(value, &q->before) || q->before < 1;
    }
    return 0;
}

int api_submissions(struct env *env, const struct request *req, struct response *resp)
{
    struct query q = {.limit = SUBMISSIONS_DEFAULT};
    char copy[1024];
    if (req->query.len >= sizeof(copy))
        return response_error_json(resp, 400);
    memcpy(copy, req->query.ptr, req->query.len);
    const struct form_limits lim = {16, sizeof(copy), 0, sizeof(copy)};
    struct request_error err;
    if (!urlencoded_parse(copy, req->query.len, &lim, query_field, &q, &err) || q.is_bad)
        return response_error_json(resp, 400);
    if (!env->store)
        return response_error_json(resp, 503);
    struct store_job *job = store_job_new(STORE_QUERY);
    if (job) {
        job->query_form = q.form[0] ? strdup(q.form) : NULL;
        job->limit = (int)q.limit;
        job->before_id = q.before;
        job->inbox = env->inbox;
    }
    if (!job || (q.form[0] && !job->query_form) || store_post(env->store, job) != 0) {
        store_job_free(job);
        return response_error_json(resp, 503);
    }
    env->pending_job = job;
    return 0;
}

int api_submissions_done(struct env *env, const struct request *req, struct response *resp,
                         struct store_job *job)
{
    (void)req;
    if (job->status != 0 || !job->result_json) {
        log_error("submissions query failed: %s", job->error);
        return response_error_json(resp, 503);
    }
    if (!buf_append_str(env->scratch, job->result_json))
        return response_error_json(resp, 503);
    response_header(resp, "Cache-Control", SLICE_LIT("no-store"));
    response_set_body(resp, "application/json", buf_slice(env->scratch));
    resp->status = 200;
    return 200;
}

int api_not_found(struct env *env, const struct request *req, struct response *resp)
{
    (void)env;
    (void)req;
    return response_error_json(resp, 404);
}
