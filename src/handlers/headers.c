/* SPDX-License-Identifier: MIT */
/* Path-matched response headers and CORS preflight; see headers.h. */
#include "handlers/headers.h"

#include <fnmatch.h>
#include <strings.h>

static bool matches(const struct header_rule *r, const char *path)
{
    return fnmatch(r->glob, path, 0) == 0;
}

void headers_apply(const struct config *cfg, const char *path, struct response *resp)
{
    if (resp->status < 200 || resp->status >= 400)
        return;
    for (size_t i = 0; i < cfg->n_headers; i++) {
        const struct header_rule *r = &cfg->headers[i];
        if (!matches(r, path))
            continue;
        for (size_t f = 0; f < r->n_fields; f++)
            response_header(resp, r->fields[f].name, slice_str(r->fields[f].value));
    }
}

bool headers_set_by_rule(const struct config *cfg, const char *path, const char *name)
{
    for (size_t i = 0; i < cfg->n_headers; i++) {
        const struct header_rule *r = &cfg->headers[i];
        if (!matches(r, path))
            continue;
        for (size_t f = 0; f < r->n_fields; f++)
            if (strcasecmp(r->fields[f].name, name) == 0)
                return true;
    }
    return false;
}

bool headers_preflight(const struct config *cfg, const char *path, const struct request *req,
                       const char *allow_methods, struct response *resp)
{
    /* Fetch standard §3.2.2: a preflight is OPTIONS with Origin and
     * Access-Control-Request-Method. */
    if (req->method != HTTP_OPTIONS || !req->known[HDR_ORIGIN].ptr ||
        !request_header(req, SLICE_LIT("Access-Control-Request-Method")).ptr ||
        !headers_set_by_rule(cfg, path, "Access-Control-Allow-Origin"))
        return false;
    resp->status = 204;
    headers_apply(cfg, path, resp);
    if (!headers_set_by_rule(cfg, path, "Access-Control-Allow-Methods"))
        response_header(resp, "Access-Control-Allow-Methods", slice_str(allow_methods));
    /* The preflight's answer depends on these request headers. */
    response_header(resp, "Vary",
                    SLICE_LIT("Origin, Access-Control-Request-Method, "
                              "Access-Control-Request-Headers"));
    return true;
}
