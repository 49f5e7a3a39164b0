/* SPDX-License-Identifier: MIT */
/* Response description and header serialisation; see response.h. */
#include "http/response.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "http/date.h"
#include "http/status.h"

void response_init(struct response *r, char *storage, size_t cap)
{
    r->status = 200;
    r->content_type = NULL;
    buf_init(&r->headers, storage, cap, cap);
    r->body_kind = BODY_NONE;
    r->body = (struct slice){NULL, 0};
    r->owner = NULL;
    r->file_fd = -1;
    r->file_offset = 0;
    r->body_length = 0;
    r->close = false;
    r->is_negotiated = false;
}

bool response_header(struct response *r, const char *name, struct slice value)
{
    size_t mark = r->headers.len;
    if (buf_append_str(&r->headers, name) && buf_append(&r->headers, ": ", 2) &&
        buf_append_slice(&r->headers, value) && buf_append(&r->headers, "\r\n", 2))
        return true;
    r->headers.len = mark;
    return false;
}

bool response_headerf(struct response *r, const char *name, const char *fmt, ...)
{
    size_t mark = r->headers.len;
    va_list ap;
    va_start(ap, fmt);
    bool ok = buf_append_str(&r->headers, name) && buf_append(&r->headers, ": ", 2) &&
              buf_vprintf(&r->headers, fmt, ap) && buf_append(&r->headers, "\r\n", 2);
    va_end(ap);
    if (!ok)
        r->headers.len = mark;
    return ok;
}

struct slice response_find_header(const struct response *r, const char *name)
{
    const struct slice want = slice_str(name);
    const char *p = r->headers.data, *end = p + r->headers.len;
    while (p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (!eol)
            break;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon && slice_case_eq(slice_make(p, (size_t)(colon - p)), want))
            return slice_trim(slice_make(colon + 1, (size_t)(eol - colon - 1)));
        p = eol + 2; /* each line ends "\r\n" (response_header) */
    }
    return (struct slice){NULL, 0};
}

void response_remove_header(struct response *r, const char *name)
{
    const struct slice want = slice_str(name);
    char *p = r->headers.data, *end = p + r->headers.len;
    while (p < end) {
        char *eol = memchr(p, '\r', (size_t)(end - p));
        if (!eol)
            break;
        char *next = eol + 2; /* each line ends "\r\n" (response_header) */
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon && slice_case_eq(slice_make(p, (size_t)(colon - p)), want)) {
            memmove(p, next, (size_t)(end - next));
            end -= next - p;
            r->headers.len -= (size_t)(next - p);
        } else {
            p = next;
        }
    }
}

bool response_edit_header(struct response *r, struct slice value, size_t at, struct slice text)
{
    size_t pos = (size_t)(value.ptr - r->headers.data) + at;
    if (!buf_reserve(&r->headers, text.len))
        return false;
    char *p = r->headers.data + pos;
    memmove(p + text.len, p, r->headers.len - pos);
    memcpy(p, text.ptr, text.len);
    r->headers.len += text.len;
    return true;
}

/* Whether the comma-separated list names field (case-insensitive) or is "*". */
static bool list_has(struct slice list, struct slice field)
{
    const char *p = list.ptr, *end = list.ptr + list.len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        struct slice el = slice_trim(slice_make(p, (size_t)(stop - p)));
        if (slice_case_eq(el, field) || slice_eq(el, SLICE_LIT("*")))
            return true;
        p = stop + 1;
    }
    return false;
}

bool response_vary(struct response *r, const char *field)
{
    const struct slice f = slice_str(field);
    const struct slice vary = response_find_header(r, "Vary");
    if (!vary.ptr)
        return response_header(r, "Vary", f);
    if (list_has(vary, f))
        return true;
    if (vary.len == 0)
        return response_edit_header(r, vary, 0, f);
    char text[64];
    int n = snprintf(text, sizeof(text), ", %s", field);
    return n > 0 && (size_t)n < sizeof(text) &&
           response_edit_header(r, vary, vary.len, slice_make(text, (size_t)n));
}

void response_drop_body(struct response *r)
{
    if (r->file_fd >= 0)
        close(r->file_fd);
    r->file_fd = -1;
    ref_put(r->owner);
    r->owner = NULL;
    r->body_kind = BODY_NONE;
    r->body = (struct slice){NULL, 0};
    r->body_length = 0;
}

void response_set_body(struct response *r, const char *content_type, struct slice body)
{
    response_drop_body(r);
    r->content_type = content_type;
    r->body_kind = BODY_MEM;
    r->body = body;
    r->body_length = body.len;
}

void response_set_shared(struct response *r, const char *content_type, struct slice body,
                         struct ref *owner)
{
    response_set_body(r, content_type, body);
    r->owner = owner;
}

void response_set_file(struct response *r, const char *content_type, int fd, uint64_t offset,
                       uint64_t len)
{
    response_drop_body(r);
    r->content_type = content_type;
    r->body_kind = BODY_FILE;
    r->file_fd = fd;
    r->file_offset = offset;
    r->body_length = len;
}

/* Each error status's bodies, built at compile time: an HTML page, and the JSON that the
 * API's routes answer ({"error":"…"}, SPEC §2). An unknown status is answered as 500. */
#define LIT(s) {(s), sizeof(s) - 1}
#define ERROR_BODIES(code, text, lower)                                                           \
    {code,                                                                                         \
     LIT("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" #code " " text \
         "</title></head>\n<body><h1>" #code " " text "</h1></body></html>\n"),                   \
     LIT("{\"error\":\"" lower "\"}\n")}

static const struct error_bodies {
    int status;
    struct slice html, json;
} error_bodies[] = {
    ERROR_BODIES(400, "Bad Request", "bad request"),
    ERROR_BODIES(401, "Unauthorized", "unauthorized"),
    ERROR_BODIES(403, "Forbidden", "forbidden"),
    ERROR_BODIES(404, "Not Found", "not found"),
    ERROR_BODIES(405, "Method Not Allowed", "method not allowed"),
    ERROR_BODIES(408, "Request Timeout", "request timeout"),
    ERROR_BODIES(412, "Precondition Failed", "precondition failed"),
    ERROR_BODIES(413, "Content Too Large", "content too large"),
    ERROR_BODIES(414, "URI Too Long", "uri too long"),
    ERROR_BODIES(415, "Unsupported Media Type", "unsupported media type"),
    ERROR_BODIES(416, "Range Not Satisfiable", "range not satisfiable"),
    ERROR_BODIES(417, "Expectation Failed", "expectation failed"),
    ERROR_BODIES(429, "Too Many Requests", "too many requests"),
    ERROR_BODIES(431, "Request Header Fields Too Large", "request header fields too large"),
    ERROR_BODIES(501, "Not Implemented", "not implemented"),
    ERROR_BODIES(503, "Service Unavailable", "service unavailable"),
    ERROR_BODIES(505, "HTTP Version Not Supported", "http version not supported"),
    ERROR_BODIES(500, "Internal Server Error", "internal server error"),
};

static const struct error_bodies *error_bodies_for(int status)
{
    const size_t n = sizeof(error_bodies) / sizeof(error_bodies[0]);
    for (size_t i = 0; i < n - 1; i++)
        if (error_bodies[i].status == status)
            return &error_bodies[i];
    return &error_bodies[n - 1];
}

/* The error body for status (HTML or JSON), in place of the representation the handler
 * meant to send. */
void response_forget_representation(struct response *r)
{
    response_remove_header(r, "Content-Encoding");
    response_remove_header(r, "ETag");
    response_remove_header(r, "Last-Modified");
    r->is_negotiated = false;
}

static int set_error(struct response *r, int status, bool json)
{
    response_forget_representation(r);
    const struct error_bodies *e = error_bodies_for(status);
    r->status = e->status;
    response_set_body(r, json ? "application/json" : "text/html; charset=utf-8",
                      json ? e->json : e->html);
    return e->status;
}

int response_error(struct response *r, int status)
{
    return set_error(r, status, false);
}

int response_error_json(struct response *r, int status)
{
    return set_error(r, status, true);
}

/* RFC 9110 §6.4.1: 1xx, 204 and 304 responses carry no content and no Content-Length. */
static bool status_has_length(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

/* Copies n bytes to p and returns the end: the head is written with one reservation. */
static char *put(char *p, const void *src, size_t n)
{
    memcpy(p, src, n);
    return p + n;
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

#define PUT_LIT(p, s) put((p), (s), sizeof(s) - 1)

bool response_write_head(struct buf *out, const struct response *r, const char *date,
                         bool keep_alive, bool http10)
{
    /* Runs for every response: one buf_reserve for an upper bound of the head, then plain
     * copies, instead of a growth check per piece. */
    static const char server[] = "\r\nServer: mica/" MICA_VERSION "\r\nDate: ";
    static const char nosniff[] = "X-Content-Type-Options: nosniff\r\n";
    const char *reason = status_reason(r->status);
    size_t reason_len = strlen(reason);
    size_t type_len = r->content_type ? strlen(r->content_type) : 0;
    size_t bound = 9 + 3 + 1 + reason_len + sizeof(server) + DATE_HTTP_LEN + 2 + 16 + type_len + 2 +
                   16 + 20 + 2 + sizeof(nosniff) + r->headers.len + 26 + 2;
    if (!buf_reserve(out, bound))
        return false;
    char *p = out->data + out->len;
    p = PUT_LIT(p, "HTTP/1.1 ");
    p = put_u64(p, (unsigned)r->status);
    *p++ = ' ';
    p = put(p, reason, reason_len);
    p = PUT_LIT(p, server);
    p = put(p, date, DATE_HTTP_LEN);
    p = PUT_LIT(p, "\r\n");
    if (r->content_type) {
        p = PUT_LIT(p, "Content-Type: ");
        p = put(p, r->content_type, type_len);
        p = PUT_LIT(p, "\r\n");
    }
    if (status_has_length(r->status)) {
        p = PUT_LIT(p, "Content-Length: ");
        p = put_u64(p, r->body_length);
        p = PUT_LIT(p, "\r\n");
    }
    p = PUT_LIT(p, nosniff);
    if (r->headers.len)
        p = put(p, r->headers.data, r->headers.len);
    if (!keep_alive)
        p = PUT_LIT(p, "Connection: close\r\n");
    else if (http10)
        p = PUT_LIT(p, "Connection: keep-alive\r\n");
    p = PUT_LIT(p, "\r\n");
    out->len = (size_t)(p - out->data);
    return true;
}
