/* SPDX-License-Identifier: MIT */
/*
 * `headers` from config.json: extra response headers for paths matching a glob, e.g.
 *     {"/assets/[*]": {"Cache-Control": "max-age=31536000, immutable"},
 *      "/api/[*]": {"Access-Control-Allow-Origin": "[*]"}}
 * (with a bare asterisk where [*] is written here).
 * Globs are fnmatch(3) patterns over the normalised path ("/assets/app.js"), where '*'
 * also matches '/'. Rules add to successful and redirect responses only (2xx, 3xx), as
 * nginx's add_header does, so an error is never cached for a year. A CORS preflight
 * (OPTIONS with Origin and Access-Control-Request-Method) is answered from the rules
 * that allow an origin for the path.
 */
#ifndef MICA_HANDLERS_HEADERS_H
#define MICA_HANDLERS_HEADERS_H

#include <stdbool.h>

#include "core/config.h"
#include "http/request.h"
#include "http/response.h"

/* Adds every matching rule's headers to resp when its status is 2xx or 3xx. */
void headers_apply(const struct config *cfg, const char *path, struct response *resp);

/* Whether a matching rule sets the header `name` (case-insensitive). */
bool headers_set_by_rule(const struct config *cfg, const char *path, const char *name);

/* Answers a CORS preflight for path when a rule allows it: 204 with the rules' headers and
 * Access-Control-Allow-Methods. False (resp untouched) when req is no preflight or no rule
 * allows an origin for path. */
bool headers_preflight(const struct config *cfg, const char *path, const struct request *req,
                       const char *allow_methods, struct response *resp);

#endif
