/* SPDX-License-Identifier: MIT */
/*
 * What every handler sees. A handler reads a struct request, fills a struct response and
 * returns the HTTP status; it never touches the socket. struct env carries the rest: the
 * configuration and descriptors shared by the process, the clock of this loop iteration,
 * and per-worker scratch memory, all borrowed for the duration of one call.
 */
#ifndef MICA_HANDLERS_HANDLER_H
#define MICA_HANDLERS_HANDLER_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/config.h"
#include "core/stats.h"
#include "files/cache.h"
#include "files/path.h"
#include "http/request.h"
#include "http/response.h"
#include "util/buf.h"

struct env {
    /* Process lifetime, read-only. */
    const struct config *cfg;
    int root_fd;               /* the document root (O_PATH | O_DIRECTORY) */
    int templates_fd;          /* templates_dir, or -1 when it does not exist */
    const struct stats *stats; /* every worker's counters, n_workers of them */
    struct cache *cache;       /* the file cache, or NULL when disabled */
    struct tmpl_cache *tmpls;  /* compiled templates (templates_dir and *.tpl.html) */
    struct auth *auth;         /* sessions and the login limiter (handlers/auth.h) */
    struct store *store;       /* form submissions (store/store.h) */
    unsigned n_workers;
    time_t started_at;   /* wall clock at start */
    uint64_t started_ms; /* monotonic clock at start */

    /* This loop iteration. */
    uint64_t now_ms; /* monotonic */
    time_t now;      /* wall clock */

    /* This request: the normalised path (path_normalize) and per-worker scratch. */
    char rel[PATH_MAX_BYTES];
    struct path_result rel_info;
    char url_path[PATH_MAX_BYTES + 2]; /* the same as a URL path: "/" + rel */
    struct buf *scratch;               /* reset before each request; holds generated bodies */
    char client_ip[48];                /* the client's address as text */
    /* Our own address on this connection as URL host text ("192.0.2.1", "[::1]"), for the
     * rare answer that needs it; false if unknown. */
    bool (*local_addr)(const struct env *env, char *out, size_t cap);
    bool is_tls;         /* the request came over HTTPS */
    const char *user;    /* the authenticated admin (auth_identify), or NULL */
    bool auth_rejected;  /* this request's credentials were checked and wrong */
    struct cJSON *form;  /* a form route's parsed fields (name → string or array), or NULL */
    struct cJSON *files; /* and its uploaded files [{field, name, size, path}], or NULL */

    /* Waiting for the store: a handler that posted a job (with inbox below) sets pending_job
     * and returns 0; its resume_fn finishes the response when the job is back. */
    struct store_inbox *inbox; /* this worker's */
    void *owner;               /* the connection, for the router */
    struct store_job *pending_job;
    int uploads_fd;         /* data_dir/uploads, or -1 */
    struct stats *my_stats; /* this worker's counters (the handler may count) */
    struct log_limit *reject_limit; /* this worker's, for lines about rejected requests */
};

typedef int handler_fn(struct env *env, const struct request *req, struct response *resp);
typedef int resume_fn(struct env *env, const struct request *req, struct response *resp,
                      struct store_job *job);

#endif
