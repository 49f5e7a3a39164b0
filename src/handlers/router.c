/* SPDX-License-Identifier: MIT */
/* The route table and the steps of a request; see router.h. */
#include "handlers/router.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "handlers/admin.h"
#include "handlers/api.h"
#include "handlers/auth.h"
#include "handlers/formread.h"
#include "handlers/forms.h"
#include "handlers/headers.h"
#include "handlers/metrics.h"
#include "handlers/page.h"
#include "handlers/static.h"
#include "handlers/status.h"
#include "store/store.h"

#define M(m) (1u << (m))
#define GET_HEAD (M(HTTP_GET) | M(HTTP_HEAD))

enum route_flags {
    ROUTE_PREFIX = 1 << 0, /* path is a prefix ("forms/") rather than the whole path */
    ROUTE_FORM = 1 << 1,   /* reads a form body (fields, and files when ROUTE_FILES) */
    ROUTE_FILES = 1 << 2,
    ROUTE_ADMIN = 1 << 3, /* auth_guard first */
    ROUTE_JSON = 1 << 4,  /* errors in JSON */
};

struct route {
    const char *path; /* normalised, relative to the root: "status", "forms/" */
    size_t len;       /* of path: routes are matched on every request */
    unsigned methods; /* mask of M(HTTP_…) */
    unsigned flags;
    handler_fn *fn;
    resume_fn *resume; /* for handlers that wait for the store */
};

/* Looked up in order: the first route whose path and method match wins; a path matched
 * with no route for the method gets 405 with the union of their methods. */
#define PATH(p) p, sizeof(p) - 1

static const struct route routes[] = {
    {PATH("status"), GET_HEAD, 0, status_handle, NULL},
    {PATH("api/status"), GET_HEAD, ROUTE_JSON, api_status, NULL},
    {PATH("api/stats"), GET_HEAD, ROUTE_JSON | ROUTE_ADMIN, api_stats, NULL},
    {PATH("api/submissions"), GET_HEAD, ROUTE_JSON | ROUTE_ADMIN, api_submissions,
     api_submissions_done},
    /* Unknown API paths: JSON 404s, except OPTIONS, left to CORS preflights and Allow. */
    {PATH("api/"), ~M(HTTP_OPTIONS), ROUTE_JSON | ROUTE_PREFIX, api_not_found, NULL},
    {PATH("admin"), GET_HEAD, ROUTE_ADMIN, admin_handle, NULL},
    {PATH("metrics"), GET_HEAD, 0, metrics_handle, NULL}, /* guards itself: see metrics.h */
    {PATH("login"), GET_HEAD, 0, auth_login_page, NULL},
    {PATH("login"), M(HTTP_POST), ROUTE_FORM, auth_login, NULL},
    {PATH("logout"), M(HTTP_POST), ROUTE_FORM, auth_logout, auth_logout_done},
    {PATH("forms/"), M(HTTP_POST), ROUTE_PREFIX | ROUTE_FORM | ROUTE_FILES, forms_handle,
     forms_done},
};

static const struct route static_route = {NULL, 0, GET_HEAD, 0, static_handle, NULL};
static const struct route page_route = {NULL, 0, GET_HEAD, 0, page_handle, NULL};
static const struct route page_post_route = {NULL, 0, M(HTTP_POST), ROUTE_FORM, page_handle, NULL};

struct route_call {
    const struct route *route;
    struct form_reader *form;
    int body_status;       /* a status the body earned (400, 413): answered at the end */
    struct store_job *job; /* while waiting, owned by the store; after, by the call */
    void *owner;           /* env->owner of the handler that posted job */
    const char *user;      /* env->user when routed: who it is, for the later steps */
};

/* "GET, HEAD, OPTIONS" for a method mask (OPTIONS is always allowed). */
static void allow_list(unsigned methods, char *list, size_t cap)
{
    size_t n = 0;
    methods |= M(HTTP_OPTIONS);
    list[0] = '\0';
    for (int m = 0; m < HTTP_METHOD_COUNT; m++) {
        if (!(methods & M(m)) || m == HTTP_TRACE || m == HTTP_CONNECT)
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
    char *p = env->url_path;
    *p++ = '/';
    if (strcmp(env->rel, ".") != 0) {
        memcpy(p, env->rel, env->rel_info.len); /* rel_info.len < PATH_MAX_BYTES */
        p += env->rel_info.len;
        if (env->rel_info.trailing_slash)
            *p++ = '/';
    }
    *p = '\0';
}

/* tls.redirect_http: the plain port answers 308 with the same target on HTTPS (RFC 9110
 * §15.4.9: the method and body are kept). The host is the request's, without its port. */
static enum router_step redirect_https(struct env *env, const struct request *req,
                                       struct response *resp)
{
    struct slice host = req->known[HDR_HOST];
    char local[INET6_ADDRSTRLEN + 2];
    if (!host.ptr || host.len == 0) {
        /* HTTP/1.0 without Host: the address the client reached us at. */
        host = SLICE_LIT("localhost");
        if (env->local_addr(env, local, sizeof(local)))
            host = slice_str(local);
    }
    size_t n = host.len;
    if (n && host.ptr[n - 1] != ']') { /* "[::1]:80" keeps its brackets, loses the port */
        const char *colon = memrchr(host.ptr, ':', n);
        if (colon)
            n = (size_t)(colon - host.ptr);
    }
    char port[8] = "";
    if (env->cfg->tls.port != 443)
        snprintf(port, sizeof(port), ":%d", env->cfg->tls.port);
    struct slice path = req->path.len == 1 && req->path.ptr[0] == '*' ? SLICE_LIT("/") : req->path;
    if (!response_headerf(resp, "Location", "https://%.*s%s%.*s%s%.*s", (int)n, host.ptr, port,
                          (int)path.len, path.ptr, req->has_query ? "?" : "", (int)req->query.len,
                          req->query.ptr))
        response_error(resp, 414);
    else {
        resp->status = 308;
        response_set_body(resp, NULL, (struct slice){NULL, 0});
    }
    return ROUTER_DONE;
}

/* A prefix route "forms/" takes "forms" itself and everything beneath it; a plain route
 * takes exactly its path. */
static bool path_matches(const struct route *r, const struct env *env)
{
    size_t n = r->len, len = env->rel_info.len;
    if (len == 0 || env->rel[0] != r->path[0]) /* most paths differ at once */
        return false;
    if (r->flags & ROUTE_PREFIX)
        return (len == n - 1 || len > n) && memcmp(env->rel, r->path, n - 1) == 0 &&
               (len == n - 1 || env->rel[n - 1] == '/');
    return len == n && memcmp(env->rel, r->path, n) == 0 && !env->rel_info.trailing_slash;
}

/* The route for env->rel and the method; NULL with *allowed set when only the method is
 * wrong. Plain routes come before prefix routes: a known path with the wrong method is a
 * 405, never the prefix's catch-all. */
static const struct route *route_find(const struct env *env, enum http_method m, unsigned *allowed,
                                      unsigned *flags)
{
    *allowed = 0;
    *flags = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
            const struct route *r = &routes[i];
            if (!(r->flags & ROUTE_PREFIX) != (pass == 0) || !path_matches(r, env))
                continue;
            if (r->methods & M(m))
                return r;
            *allowed |= r->methods;
            *flags |= r->flags;
        }
        if (*allowed)
            return NULL;
    }
    if (page_is_template(env)) {
        if (m == HTTP_POST)
            return &page_post_route;
        *allowed = page_route.methods | page_post_route.methods;
        return (page_route.methods & M(m)) ? &page_route : NULL;
    }
    *allowed = static_route.methods;
    return (static_route.methods & M(m)) ? &static_route : NULL;
}

static int error_for(const struct route *r, unsigned flags, struct response *resp, int status)
{
    return ((r ? r->flags : flags) & ROUTE_JSON) ? response_error_json(resp, status)
                                                 : response_error(resp, status);
}

/* Runs the route's handler, noticing whether it went to wait for the store. */
static enum router_step run(struct env *env, const struct request *req, struct response *resp,
                            struct route_call *call)
{
    env->pending_job = NULL;
    if (call && call->form) {
        env->form = form_reader_fields(call->form);
        env->files = form_reader_files(call->form);
    }
    const struct route *r = call->route;
    r->fn(env, req, resp);
    if (env->pending_job) {
        /* The job finds its way back through its call. The store never reads owner, and
         * the inbox is read by this very thread, later. */
        call->job = env->pending_job;
        call->owner = env->owner;
        call->job->owner = call;
        env->pending_job = NULL;
        return ROUTER_ASYNC;
    }
    headers_apply(env->cfg, env->url_path, resp);
    return ROUTER_DONE;
}

/* Moves a call to the heap for the steps to come (*out). Without memory the call is
 * freed and resp answers 503, except for a posted job, which cannot be taken back: then
 * the connection waits anyway, holding a call it cannot resume (see conn.c). */
static bool keep_call(struct route_call *local, struct response *resp, struct route_call **out)
{
    struct route_call *call = malloc(sizeof(*call));
    if (call) {
        *call = *local;
        if (call->job)
            call->job->owner = call;
        *out = call;
        return true;
    }
    if (local->job) {
        /* The store holds the job and will hand it back: leak-free handling would need
         * the memory we lack; give up the connection's answer (503) and the job's call. */
        local->job->owner = NULL;
    }
    form_reader_free(local->form);
    error_for(local->route, 0, resp, 503);
    return false;
}

enum router_step router_begin(struct env *env, const struct request *req, struct response *resp,
                              struct route_call **out)
{
    *out = NULL;
    if (req->method == HTTP_TRACE || req->method == HTTP_CONNECT) {
        /* TRACE would echo credentials back (RFC 9110 §9.3.8); we are no proxy for CONNECT. */
        resp->close = req->method == HTTP_CONNECT;
        allow_header(resp, GET_HEAD);
        response_error(resp, 405);
        return ROUTER_DONE;
    }
    if (!env->is_tls && env->cfg->tls.port && env->cfg->tls.redirect_http)
        return redirect_https(env, req, resp);
    if (req->path.len == 1 && req->path.ptr[0] == '*') {
        if (req->method != HTTP_OPTIONS) {
            response_error(resp, 400);
            return ROUTER_DONE;
        }
        allow_header(resp, GET_HEAD | M(HTTP_POST));
        resp->status = 204;
        return ROUTER_DONE;
    }
    int status = path_normalize(req->path, env->rel, sizeof(env->rel), &env->rel_info);
    if (status != 0) {
        if (status == 404 || status == 414) {
            /* A dotfile, or a path longer than any file can have (the request-target's
             * own limit, 8 KiB, is the parser's 414): as if it were not there. */
            static_not_found(env, resp);
            return ROUTER_DONE;
        }
        log_rejected(env->reject_limit, (uint64_t)env->now, env->client_ip, status,
                     "bad path (escape, NUL, control byte, encoded slash or backslash, or .. "
                     "above the root)");
        response_error(resp, status);
        return ROUTER_DONE;
    }
    set_url_path(env);
    auth_identify(env, req); /* once: it counts wrong Basic passwords */

    unsigned allowed, flags;
    const struct route *r = route_find(env, req->method, &allowed, &flags);
    if (!r) {
        char allow[128];
        /* mica's routes serve GET, HEAD and POST; a catch-all claims more only to 404 it. */
        allow_list(allowed & (GET_HEAD | M(HTTP_POST)), allow, sizeof(allow));
        if (headers_preflight(env->cfg, env->url_path, req, allow, resp))
            return ROUTER_DONE;
        allow_list(allowed, allow, sizeof(allow));
        response_header(resp, "Allow", slice_str(allow));
        if (req->method == HTTP_OPTIONS)
            resp->status = 204;
        else
            error_for(NULL, flags, resp, 405);
        return ROUTER_DONE;
    }
    if ((r->flags & ROUTE_ADMIN) && auth_guard(env, req, resp, r->flags & ROUTE_JSON) != 0)
        return ROUTER_DONE;

    /* Most requests are answered at once: their call lives on the stack, and only one that
     * reads a body or waits for the store is copied to the heap. */
    struct route_call local = {.route = r, .user = env->user};
    if (r->flags & ROUTE_FORM) {
        int rc = form_reader_new(&local.form, req, env->cfg,
                                 (r->flags & ROUTE_FILES) ? env->uploads_fd : -1);
        if (rc != 0) {
            resp->close = true; /* the body is not read */
            error_for(r, 0, resp, rc);
            return ROUTER_DONE;
        }
        return keep_call(&local, resp, out) ? ROUTER_BODY : ROUTER_DONE;
    }
    enum router_step step = run(env, req, resp, &local);
    if (step == ROUTER_ASYNC && !keep_call(&local, resp, out))
        return ROUTER_DONE;
    return step;
}

int router_body(struct route_call *call, const char *data, size_t len)
{
    if (call->body_status == 0 && call->form)
        call->body_status = form_reader_feed(call->form, data, len);
    return call->body_status;
}

enum router_step router_finish(struct env *env, const struct request *req, struct response *resp,
                               struct route_call *call)
{
    /* The head was parsed again: route state that lives in env comes back. */
    if (path_normalize(req->path, env->rel, sizeof(env->rel), &env->rel_info) == 0)
        set_url_path(env);
    env->user = call->user;
    if (call->body_status == 0 && call->form)
        call->body_status = form_reader_end(call->form);
    if (call->body_status != 0) {
        resp->close = true;
        error_for(call->route, 0, resp, call->body_status);
        return ROUTER_DONE;
    }
    return run(env, req, resp, call);
}

/* A submission the store took keeps its uploaded files: its row names them. */
static void keep_stored_files(struct route_call *call, const struct store_job *job)
{
    if (job->kind == STORE_SUBMIT && job->status == 0 && call->form)
        form_reader_keep_files(call->form);
}

enum router_step router_resume(struct env *env, const struct request *req, struct response *resp,
                               struct route_call *call, struct store_job *job)
{
    if (path_normalize(req->path, env->rel, sizeof(env->rel), &env->rel_info) == 0)
        set_url_path(env);
    if (call->form) {
        env->form = form_reader_fields(call->form);
        env->files = form_reader_files(call->form);
    }
    env->user = call->user;
    call->job = job;
    call->route->resume(env, req, resp, job);
    keep_stored_files(call, job);
    headers_apply(env->cfg, env->url_path, resp);
    return ROUTER_DONE;
}

struct route_call *router_job_call(struct store_job *job)
{
    return job->owner;
}

void *router_call_owner(const struct route_call *call)
{
    return call->owner;
}

void router_abandon(struct store_job *job)
{
    struct route_call *call = router_job_call(job);
    keep_stored_files(call, job);
    router_call_free(call);
}

void router_call_free(struct route_call *call)
{
    if (!call)
        return;
    form_reader_free(call->form);
    store_job_free(call->job);
    free(call);
}
