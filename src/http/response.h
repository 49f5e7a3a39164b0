/* SPDX-License-Identifier: MIT */
/*
 * A response as handlers describe it, and its serialisation.
 *
 * A handler fills a struct response: the status, a Content-Type, extra header lines, and a
 * body that is nothing, borrowed bytes, or a range of an open file (nginx's ngx_buf_t
 * idea). The connection then writes the head with response_write_head() and sends the
 * body: small bodies are appended to the output buffer, large ones are sent from where
 * they are — a file with sendfile(2), shared memory (a cache entry, held by `owner`) with
 * writev(2) right after the head.
 */
#ifndef MICA_HTTP_RESPONSE_H
#define MICA_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/ref.h"
#include "util/slice.h"

enum body_kind { BODY_NONE, BODY_MEM, BODY_FILE };

struct response {
    int status;
    const char *content_type; /* borrowed (usually static); NULL: no Content-Type */
    struct buf headers;       /* extra lines, each "Name: value\r\n" */
    enum body_kind body_kind;
    struct slice body;    /* BODY_MEM: borrowed until the response is written, or kept
                             alive by owner */
    struct ref *owner;    /* BODY_MEM: a reference that keeps body valid, or NULL; owned */
    int file_fd;          /* BODY_FILE: owned; whoever sends the response closes it */
    uint64_t file_offset; /* BODY_FILE */
    uint64_t body_length; /* Content-Length for BODY_MEM and BODY_FILE */
    bool close;           /* end the connection after this response */
    /* The handler chose the content coding and sent Vary itself (static files, whose
     * variants are made once and cached): compress_response leaves it alone. */
    bool is_negotiated;
};

/* Resets *r to an empty 200 response whose extra headers use storage[0..cap). */
void response_init(struct response *r, char *storage, size_t cap);

/* Appends "name: value\r\n" to the extra headers; false if they are full. */
bool response_header(struct response *r, const char *name, struct slice value);
bool response_headerf(struct response *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The value of the first extra header `name` (case-insensitive), pointing into
 * r->headers; {NULL, 0} when there is none. Valid until the headers change. */
struct slice response_find_header(const struct response *r, const char *name);

/* What a handler said of the representation it meant to send (Content-Encoding, ETag,
 * Last-Modified, the negotiation) goes: another body (an error page) takes its place. */
void response_forget_representation(struct response *r);

/* Removes every extra header `name` (case-insensitive). */
void response_remove_header(struct response *r, const char *name);

/* Inserts text into the value `value` (a slice response_find_header returned) at offset
 * `at` (0..value.len). False (headers unchanged) if they are full. */
bool response_edit_header(struct response *r, struct slice value, size_t at, struct slice text);

/*
 * Says that the response varies with the request header `field` (RFC 9110 §12.5.5): the
 * field joins an existing Vary line (", Accept-Encoding"), unless that line names it
 * already or is "*", else a new Vary line is added. False if the headers are full.
 */
bool response_vary(struct response *r, const char *field);

/* A body of borrowed bytes with its Content-Type. */
void response_set_body(struct response *r, const char *content_type, struct slice body);

/* A body of shared bytes kept alive by owner: the response takes the reference. */
void response_set_shared(struct response *r, const char *content_type, struct slice body,
                         struct ref *owner);

/* A body of len bytes from fd (which the response now owns) at offset. */
void response_set_file(struct response *r, const char *content_type, int fd, uint64_t offset,
                       uint64_t len);

/*
 * A short built-in HTML page for an error status ("404 Not Found"). Drops any previous
 * body (and is_negotiated) and returns status, so handlers can
 * `return response_error(r, 404);`.
 */
int response_error(struct response *r, int status);

/* The same for JSON APIs: {"error":"not found"} as application/json. */
int response_error_json(struct response *r, int status);

/* Releases the body (closes a file, drops an owner) and forgets it: error paths, HEAD,
 * and once the connection has taken what it needs. */
void response_drop_body(struct response *r);

/*
 * Appends the status line and header block to out: Server, Date (the caller's cached
 * IMF-fixdate), Content-Type, Content-Length, X-Content-Type-Options, the extra headers,
 * then Connection as needed for keep_alive and the request's HTTP version, and the blank
 * line. Returns false (out unchanged) if it does not fit.
 */
bool response_write_head(struct buf *out, const struct response *r, const char *date,
                         bool keep_alive, bool http10);

#endif
