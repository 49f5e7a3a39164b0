/* SPDX-License-Identifier: MIT */
/* The admin dashboard; see admin.h. The router has run auth_guard already. */
#include "handlers/admin.h"

#include <cjson/cJSON.h>

#include "handlers/page.h"

static const char builtin_admin[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>mica admin</title></head>\n<body><h1>mica admin</h1>"
    "<p>Signed in as {{user}}. {{server.requests_total}} requests served, "
    "{{server.active_connections}} connections open, uptime {{server.uptime}}.</p>"
    "<p>The full dashboard needs templates/admin.html. JSON: <a href=\"/api/stats\">/api/stats</a>"
    ", <a href=\"/api/submissions\">/api/submissions</a>.</p>"
    "<form method=\"post\" action=\"/logout\"><button>Sign out</button></form></body></html>\n";

int admin_handle(struct env *env, const struct request *req, struct response *resp)
{
    cJSON *ctx = page_context(env, req);
    if (!ctx)
        return response_error(resp, 503);
    int status = page_render(env, resp, 200, "admin.html", builtin_admin, ctx);
    response_header(resp, "Cache-Control", SLICE_LIT("no-store"));
    cJSON_Delete(ctx);
    return status;
}
