/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/1.x request-head parser (RFC 9112 §2-§5, RFC 9110).
 *
 * It works in the connection's read buffer without copying: every field of struct request
 * is a slice into that buffer, valid until the buffer is reused. Feed it the bytes received
 * so far, as many times as needed; `scan` carries, between calls, how far it has already
 * looked for the end of the head, so trickled bytes are not rescanned.
 *
 * Parsing is strict, and each rejection carries the HTTP status decided by the rule that
 * rejects it and a short reason for the log ("400 whitespace before colon"):
 *   400 malformed request line, header field or version; bare CR, NUL or other control
 *       bytes; obs-fold; whitespace between a field name and its colon; missing or
 *       duplicate Host in HTTP/1.1; Content-Length with Transfer-Encoding; conflicting or
 *       malformed Content-Length; Transfer-Encoding whose final coding is not chunked;
 *   414 request-target over REQUEST_MAX_TARGET bytes;
 *   431 head over the caller's max_header_bytes, or more than REQUEST_MAX_HEADERS fields;
 *   501 unknown method, or a transfer coding other than chunked;
 *   505 HTTP/2.0 and above (HTTP/1.x with x > 1 is served as HTTP/1.1, RFC 9110 §2.5);
 *   417 an Expect other than 100-continue.
 * Errors the parser can see before the head is complete (a bad method byte, an overlong
 * target, an overlong head) are reported as soon as the bytes arrive.
 */
#ifndef MICA_HTTP_REQUEST_H
#define MICA_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/slice.h"

enum {
    REQUEST_MAX_TARGET = 8192, /* request-target bytes; longer → 414 */
    REQUEST_MAX_HEADERS = 100, /* header fields; more → 431 */
};

enum http_method {
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_OPTIONS,
    HTTP_PATCH,
    HTTP_TRACE,
    HTTP_CONNECT,
    HTTP_METHOD_COUNT
};

/* Header fields the server acts on, picked out while parsing (a data table in request.c). */
enum header_id {
    HDR_HOST,
    HDR_CONNECTION,
    HDR_CONTENT_LENGTH,
    HDR_TRANSFER_ENCODING,
    HDR_EXPECT,
    HDR_CONTENT_TYPE,
    HDR_USER_AGENT,
    HDR_REFERER,
    HDR_ACCEPT,
    HDR_ACCEPT_ENCODING,
    HDR_IF_NONE_MATCH,
    HDR_IF_MODIFIED_SINCE,
    HDR_IF_MATCH,
    HDR_IF_UNMODIFIED_SINCE,
    HDR_RANGE,
    HDR_IF_RANGE,
    HDR_AUTHORIZATION,
    HDR_COOKIE,
    HDR_ORIGIN,
    HDR_COUNT
};

struct header {
    struct slice name;
    struct slice value; /* without leading and trailing whitespace */
};

struct request {
    enum http_method method;
    struct slice method_name;
    struct slice target; /* the request-target as sent */
    struct slice path;   /* absolute path, still percent-encoded; "*" for OPTIONS * */
    struct slice query;  /* after '?', without it; empty when absent */
    bool has_query;
    int version_minor; /* 0 or 1 (HTTP/1.x with x > 1 is treated as 1) */

    struct header headers[REQUEST_MAX_HEADERS];
    unsigned n_headers;
    /* The first value of each known header; ptr == NULL when absent. For Host, the
     * authority of an absolute-form target when there is one (RFC 9112 §3.2.2). */
    struct slice known[HDR_COUNT];

    uint64_t content_length; /* valid when has_content_length */
    bool has_content_length;
    bool chunked;         /* Transfer-Encoding ends in chunked */
    bool keep_alive;      /* persistence after this request (RFC 9112 §9.3) */
    bool expect_continue; /* Expect: 100-continue */
    size_t head_len;      /* bytes of the head, including leading empty lines and the final CRLF */
};

enum request_status {
    REQUEST_DONE,      /* *req holds a complete head of req->head_len bytes */
    REQUEST_NEED_MORE, /* no error so far; call again with more bytes */
    REQUEST_ERROR,     /* *err says why */
};

struct request_error {
    int status;         /* 400, 414, 417, 431, 501 or 505 */
    const char *reason; /* static text for the log, e.g. "duplicate Host" */
};

/*
 * Parses the head at the start of buf[0..len). *scan must be 0 on the first call for a
 * request and is updated; max_header_bytes bounds the whole head. Returns REQUEST_DONE,
 * REQUEST_NEED_MORE or REQUEST_ERROR (with *err filled).
 */
enum request_status request_parse(const char *buf, size_t len, size_t max_header_bytes,
                                  size_t *scan, struct request *req, struct request_error *err);

/* The value of a header by name (case-insensitive), first occurrence; ptr NULL if absent. */
struct slice request_header(const struct request *req, struct slice name);

/* The canonical name of a method ("GET"). */
const char *request_method_name(enum http_method m);

#endif
