/* SPDX-License-Identifier: MIT */
/* Template pages; see page.h. */
#include "handlers/page.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "handlers/static.h"
#include "handlers/status.h"
#include "http/date.h"
#include "http/form.h"
#include "template/cache.h"

/* Adds name=value to obj, replacing an earlier value of the same name. */
static int add_query_field(void *ctx, struct slice name, struct slice value)
{
    cJSON *obj = ctx;
    char key[256];
    if (name.len == 0 || name.len >= sizeof(key))
        return 0;
    memcpy(key, name.ptr, name.len);
    key[name.len] = '\0';
    cJSON *v = cJSON_CreateString("");
    if (!v)
        return 0;
    cJSON_free(v->valuestring);
    v->valuestring = cJSON_malloc(value.len + 1);
    if (!v->valuestring) {
        cJSON_Delete(v);
        return 0;
    }
    memcpy(v->valuestring, value.ptr, value.len);
    v->valuestring[value.len] = '\0';
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
    else
        cJSON_AddItemToObject(obj, key, v);
    return 0;
}

/* query.*: the query string decoded as a form (a malformed one gives what parsed). */
static cJSON *query_object(const struct request *req)
{
    cJSON *q = cJSON_CreateObject();
    if (!q || !req->has_query || req->query.len == 0 || req->query.len > 8192)
        return q;
    char copy[8192];
    memcpy(copy, req->query.ptr, req->query.len);
    struct form_limits lim = {
        .max_fields = 64, .max_field_bytes = 8192, .max_file_bytes = 0, .max_total_bytes = 8192};
    struct request_error err;
    urlencoded_parse(copy, req->query.len, &lim, add_query_field, q, &err);
    return q;
}

static cJSON *add_string(cJSON *obj, const char *name, struct slice v)
{
    char tmp[1024];
    size_t n = v.len < sizeof(tmp) - 1 ? v.len : sizeof(tmp) - 1;
    if (v.ptr)
        memcpy(tmp, v.ptr, n);
    tmp[v.ptr ? n : 0] = '\0';
    return cJSON_AddStringToObject(obj, name, tmp);
}

/*
 * A *.tpl.html page's names at the top level too, so {{username}} works for ?username=Ada
 * (or a form field of that name): each of from's items unless ctx has the name. The
 * built-in names are never taken, even when absent: no ?user=x may stand for the
 * signed-in admin. Only for the site's own pages, added last: mica's pages (listing,
 * login, status, thanks) set names of their own that a client must never stand in for.
 */
static void add_own_names(cJSON *ctx, const cJSON *from)
{
    static const char *const builtin[] = {"server", "request", "query", "form", "user", "now"};
    for (const cJSON *it = from ? from->child : NULL; it; it = it->next) {
        bool taken = cJSON_GetObjectItemCaseSensitive(ctx, it->string) != NULL;
        for (size_t i = 0; !taken && i < sizeof(builtin) / sizeof(builtin[0]); i++)
            taken = strcmp(it->string, builtin[i]) == 0;
        if (!taken)
            cJSON_AddItemReferenceToObject(ctx, it->string, (cJSON *)it);
    }
}

cJSON *page_context(struct env *env, const struct request *req)
{
    cJSON *ctx = cJSON_CreateObject();
    if (!ctx)
        return NULL;
    struct stats_total tot;
    stats_sum(env->stats, env->n_workers, &tot);
    unsigned long long up_s = (env->now_ms - env->started_ms) / 1000;
    char uptime[64], started[DATE_ISO_LEN + 1], now[DATE_ISO_LEN + 1];
    status_format_uptime(up_s, uptime, sizeof(uptime));
    date_iso(env->started_at, started);
    date_iso(env->now, now);

    cJSON *server = cJSON_AddObjectToObject(ctx, "server");
    if (server) {
        cJSON_AddStringToObject(server, "uptime", uptime);
        cJSON_AddNumberToObject(server, "uptime_s", (double)up_s);
        cJSON_AddStringToObject(server, "started_at", started);
        cJSON_AddStringToObject(server, "version", MICA_VERSION);
        /* This request is counted when its response is written; include it here. */
        cJSON_AddNumberToObject(server, "requests_total", (double)(tot.requests + 1));
        cJSON_AddNumberToObject(server, "active_connections", (double)tot.connections_active);
        cJSON_AddNumberToObject(server, "threads", env->n_workers);
    }
    cJSON *r = cJSON_AddObjectToObject(ctx, "request");
    if (r && req) {
        add_string(r, "method", req->method_name);
        add_string(r, "path", req->path);
        add_string(r, "query", req->query);
        cJSON_AddStringToObject(r, "ip", env->client_ip);
        add_string(r, "user_agent", req->known[HDR_USER_AGENT]);
    }
    cJSON_AddItemToObject(ctx, "query", req ? query_object(req) : cJSON_CreateObject());
    if (env->form)
        cJSON_AddItemReferenceToObject(ctx, "form", env->form);
    else
        cJSON_AddObjectToObject(ctx, "form");
    if (env->user)
        cJSON_AddStringToObject(ctx, "user", env->user);
    cJSON_AddStringToObject(ctx, "now", now);
    return ctx;
}

/* Renders t into env->scratch, partials from templates_dir. 0, or the failure logged. */
static int render(struct env *env, const struct tmpl *t, const cJSON *data)
{
    struct tmpl_partials parts;
    tmpl_partials_begin(&parts, env->tmpls, env->templates_fd, env->now_ms);
    buf_reset(env->scratch);
    int rc = tmpl_render(t, data, tmpl_partials_load, &parts, env->scratch);
    if (parts.failed)
        log_error("template %s", parts.err.msg);
    else if (rc != 0)
        log_error("template %s: %s", tmpl_name(t),
                  rc == -ELOOP   ? "partials or sections nested too deep"
                  : rc == -E2BIG ? "too much work for one page"
                                 : "output too large or out of memory");
    tmpl_partials_end(&parts);
    return parts.failed ? -1 : rc;
}

/* Renders template `name` beneath dir_fd (or builtin) into resp. */
static int render_named(struct env *env, struct response *resp, int status, int dir_fd,
                        const char *name, const char *builtin, const cJSON *data)
{
    struct tmpl_error err = {0};
    struct tmpl_handle *h =
        dir_fd >= 0 ? tmpl_cache_get(env->tmpls, dir_fd, name, env->now_ms, &err) : NULL;
    int rc;
    if (h) {
        rc = render(env, tmpl_handle_tmpl(h), data);
        tmpl_cache_put(h);
    } else if (builtin && (dir_fd < 0 || err.line == 0)) {
        /* The file is missing (not broken): the built-in page. Rare: compiled each time. */
        struct tmpl *t = tmpl_compile(builtin, strlen(builtin), name, &err);
        rc = t ? render(env, t, data) : -1;
        if (!t)
            log_error("built-in template %s: %s", name, err.msg);
        tmpl_free(t);
    } else {
        log_error("template %s", err.msg[0] ? err.msg : name);
        rc = -1;
    }
    if (rc != 0)
        return response_error(resp, 500);
    resp->status = status;
    response_set_body(resp, "text/html; charset=utf-8", buf_slice(env->scratch));
    return status;
}

int page_render(struct env *env, struct response *resp, int status, const char *name,
                const char *builtin, const cJSON *data)
{
    return render_named(env, resp, status, env->templates_fd, name, builtin, data);
}

bool page_is_template(const struct env *env)
{
    return slice_ends_with(slice_make(env->rel, env->rel_info.len), SLICE_LIT(".tpl.html")) &&
           !env->rel_info.trailing_slash;
}

int page_handle(struct env *env, const struct request *req, struct response *resp)
{
    cJSON *ctx = page_context(env, req);
    if (!ctx)
        return response_error(resp, 503);
    add_own_names(ctx, env->form); /* a form field wins over a query parameter */
    add_own_names(ctx, cJSON_GetObjectItemCaseSensitive(ctx, "query"));
    struct tmpl_error err = {0};
    struct tmpl_handle *h = tmpl_cache_get(env->tmpls, env->root_fd, env->rel, env->now_ms, &err);
    int status;
    if (!h && err.line == 0) {
        status = static_not_found(env, resp); /* no such page */
    } else {
        status = render_named(env, resp, 200, env->root_fd, env->rel, NULL, ctx);
        response_header(resp, "Cache-Control", SLICE_LIT("no-store"));
    }
    tmpl_cache_put(h);
    cJSON_Delete(ctx);
    return status;
}
