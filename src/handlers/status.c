/* SPDX-License-Identifier: MIT */
/*
 * The /status page: templates/status.html rendered with the live figures (page.h); a
 * built-in template stands in when the file is missing.
 */
#include "handlers/status.h"

#include <cjson/cJSON.h>
#include <stdio.h>

#include "handlers/page.h"

static const char builtin_template[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>mica status</title></head>\n<body><h1>mica status</h1>\n<ul>"
    "<li>Uptime: {{uptime}} (<span id=\"uptime-s\">{{uptime_s}}</span> s)</li>"
    "<li>Started: {{started_at}}</li><li>Requests served: {{requests_total}}</li>"
    "<li>Active connections: {{active_connections}}</li><li>Worker threads: {{threads}}</li>"
    "<li>Version: {{version}}</li></ul></body></html>\n";

void status_format_uptime(unsigned long long s, char *out, size_t cap)
{
    unsigned long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
    if (d)
        snprintf(out, cap, "%llu d %llu h %02llu min %02llu s", d, h, m, sec);
    else if (h)
        snprintf(out, cap, "%llu h %02llu min %02llu s", h, m, sec);
    else if (m)
        snprintf(out, cap, "%llu min %02llu s", m, sec);
    else
        snprintf(out, cap, "%llu s", sec);
}

int status_handle(struct env *env, const struct request *req, struct response *resp)
{
    /* The page's own names (issue #2) at the top level, beside the common context. */
    cJSON *ctx = page_context(env, req);
    cJSON *server = ctx ? cJSON_GetObjectItemCaseSensitive(ctx, "server") : NULL;
    if (!server)
        goto fail;
    const char *names[] = {"uptime",  "uptime_s",           "started_at", "requests_total",
                           "threads", "active_connections", "version"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(server, names[i]);
        if (!v || !cJSON_AddItemToObject(ctx, names[i], cJSON_Duplicate(v, false)))
            goto fail;
    }
    int status = page_render(env, resp, 200, "status.html", builtin_template, ctx);
    response_header(resp, "Cache-Control", SLICE_LIT("no-store"));
    cJSON_Delete(ctx);
    return status;
fail:
    cJSON_Delete(ctx);
    return response_error(resp, 503);
}
