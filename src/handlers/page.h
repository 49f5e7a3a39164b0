/* SPDX-License-Identifier: MIT */
/*
 * Pages rendered with the Mustache engine: the built-in pages (status, listing, admin,
 * login, thanks) from templates_dir, and *.tpl.html files in the document root.
 *
 * Every page gets the same context, plus what its handler adds:
 *   server.{uptime, uptime_s, started_at, version, requests_total, active_connections,
 *           threads}
 *   request.{method, path, query, ip, user_agent}
 *   query.*  the query string's fields (a repeated name: the last value)
 *   form.*   a POSTed form's fields
 *   user     the authenticated admin, or absent
 *   now      the time, ISO-8601 UTC
 * A template that fails (does not compile, a bad partial, too much work) answers 500 and
 * writes one error.log line naming the file and the line.
 */
#ifndef MICA_HANDLERS_PAGE_H
#define MICA_HANDLERS_PAGE_H

#include "handlers/handler.h"

struct cJSON;

/* The context described above, as a new cJSON object (cJSON_Delete it), or NULL. */
struct cJSON *page_context(struct env *env, const struct request *req);

/*
 * Renders `name` from templates_dir (or the source `builtin`, when not NULL and the file
 * does not exist) with data, into env->scratch, and makes it resp's HTML body with
 * `status`. Returns status, or 500 (logged) when the template fails.
 */
int page_render(struct env *env, struct response *resp, int status, const char *name,
                const char *builtin, const struct cJSON *data);

/* GET, HEAD or POST of a *.tpl.html file in the root (env->rel). */
handler_fn page_handle;

/* Whether env->rel names a *.tpl.html page. */
bool page_is_template(const struct env *env);

#endif
