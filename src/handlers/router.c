/* SPDX-License-Identifier: MIT */
/* The route table and dispatch; see router.h. */
#include "handlers/router.h"

#include <stdio.h>
#include <string.h>

#include "handlers/headers.h"
#include "handlers/page.h"
#include "handlers/static.h"
#include "handlers/status.h"

#define M(m) (1u << (m))

struct route {
    const char *path; /* normalised, relative to the root: "status" */
    unsigned methods; /* mask of M(HTTP_…) */
    handler_fn *fn;
};

static const struct route routes[] = {
    {"status", M(HTTP_GET) | M(HTTP_HEAD), status_handle},
};

static const struct route static_route = {NULL, M(HTTP_GET) | M(HTTP_HEAD), static_handle};

/* "GET, HEAD, OPTIONS" for a method mask (OPTIONS is always allowed). */
static void allow_list(unsigned methods, char *list, size_t cap)
{
    size_t n = 0;
    methods |= M(HTTP_OPTIONS);
    list[0] = '\0';
    for (int m = 0; m < HTTP_METHOD_COUNT; m++) {
        if (!(methods & M(m)))
            continue;
        const char *name = request_method_name((enum http_method)m);
        int k = snprintf(list + n, cap - n, "%s%s", n ? ", " : "", name);
        if (k < 0 || (size_t)k >= cap - n)
            break;
        n += (size_t)k;
    }
}

static void allow_header(struct response *resp, unsigned methods)
{
    char list[128];
    allow_list(methods, list, sizeof(list));
    response_header(resp, "Allow", slice_str(list));
}

/* env->url_path: the normalised path as a URL path, "/" + rel (+ "/" for a folder). */
static void set_url_path(struct env *env)
{
    const char *rel = strcmp(env->rel, ".") == 0 ? "" : env->rel;
    snprintf(env->url_path, sizeof(env->url_path), "/%s%s", rel,
             env->rel_info.trailing_slash && *rel ? "/" : "");
}

static const struct route page_route = {NULL, M(HTTP_GET) | M(HTTP_HEAD), page_handle};

static const struct route *route_find(const struct env *env)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (strlen(routes[i].path) == env->rel_info.len &&
            memcmp(routes[i].path, env->rel, env->rel_info.len) == 0)
            return &routes[i];
    return page_is_template(env) ? &page_route : &static_route;
}

int router_dispatch(struct env *env, const struct request *req, struct response *resp)
{
    if (req->method == HTTP_TRACE || req->method == HTTP_CONNECT) {
        /* TRACE would echo credentials back (RFC 9110 §9.3.8); we are no proxy for CONNECT. */
        resp->close = req->method == HTTP_CONNECT;
        allow_header(resp, M(HTTP_GET) | M(HTTP_HEAD));
        return response_error(resp, 405);
    }
    if (req->path.len == 1 && req->path.ptr[0] == '*') {
        if (req->method != HTTP_OPTIONS)
            return response_error(resp, 400);
        allow_header(resp, M(HTTP_GET) | M(HTTP_HEAD));
        resp->status = 204;
        return 204;
    }
    int status = path_normalize(req->path, env->rel, sizeof(env->rel), &env->rel_info);
    if (status != 0)
        return status == 404 ? static_not_found(env, resp) : response_error(resp, status);
    set_url_path(env);

    const struct route *r = route_find(env);
    if (!(r->methods & M(req->method))) {
        char allow[128];
        allow_list(r->methods, allow, sizeof(allow));
        if (headers_preflight(env->cfg, env->url_path, req, allow, resp))
            return resp->status;
        response_header(resp, "Allow", slice_str(allow));
        if (req->method == HTTP_OPTIONS) {
            resp->status = 204;
            return 204;
        }
        return response_error(resp, 405);
    }
    status = r->fn(env, req, resp);
    headers_apply(env->cfg, env->url_path, resp);
    return status;
}
