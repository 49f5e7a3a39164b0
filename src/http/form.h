/* SPDX-License-Identifier: MIT */
/*
 * Form bodies: application/x-www-form-urlencoded and multipart/form-data.
 *
 * Both parsers hand each field to the caller through callbacks and keep nothing: the
 * caller decides what to store (a JSON object for the submission, a file under
 * data/uploads/). Slices given to a callback are borrowed and valid only during that call.
 *
 * - urlencoded_parse() takes the whole body (the caller has already bounded it by
 *   max_body_bytes) and decodes it in place, following the WHATWG URL standard's
 *   application/x-www-form-urlencoded parser, except that a bad percent-escape is an error
 *   instead of being kept as is.
 * - struct multipart is a streaming parser (RFC 7578, RFC 2046 §5.1): feed it the body in
 *   chunks of any size as they arrive; file contents are passed through as they come and are
 *   never held whole. Its only memory is inside the struct (the boundary and one part's
 *   header block), plus the value of a non-file field, which starts in the unused part of
 *   the header block and moves to the heap only when it is longer; multipart_free releases it.
 *
 * Errors follow the parser convention of http/request.h: struct request_error gets the HTTP
 * status decided by the rule that rejects the input and a short static reason:
 *   400 malformed body (bad percent-escape, bad boundary or delimiter line, malformed part
 *       headers, a part that is not form-data or has no name, missing closing delimiter);
 *   413 over a limit of struct form_limits;
 *   415 multipart_init on a Content-Type that is not multipart/form-data;
 *   503 out of memory buffering a field value;
 *   and whatever non-zero status a callback returns, which stops the parse.
 * Fields delivered before an error are part of a rejected body: the caller discards them.
 *
 * Nothing here is sanitized. Names, values, file names and part Content-Types are the
 * client's bytes (decoded, not validated as UTF-8 except filename*): a caller must not use a
 * file name as a path, nor trust a Content-Type, nor log a value.
 */
#ifndef MICA_HTTP_FORM_H
#define MICA_HTTP_FORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/request.h"
#include "util/buf.h"
#include "util/slice.h"

/* Each limit applies as given: 0 allows nothing. Going over one → 413. */
struct form_limits {
    size_t max_fields;        /* urlencoded pairs, or multipart parts (files included) */
    size_t max_field_bytes;   /* a name or a non-file value, after decoding */
    uint64_t max_file_bytes;  /* multipart: the content of one file part */
    uint64_t max_total_bytes; /* multipart: the whole body as fed, preamble included */
};

/*
 * The callbacks. Each returns 0 to go on, or an HTTP status (e.g. 500, 507) to stop the
 * parse with that status and the reason "stopped by the form handler".
 */
typedef int (*form_field_fn)(void *ctx, struct slice name, struct slice value);
/* A file part begins: its field name, its file name (possibly empty; from filename*, RFC
 * 8187, when present, else filename) and its Content-Type ("text/plain" when absent, RFC
 * 7578 §4.4; the header value as sent otherwise, parameters included). */
typedef int (*form_file_begin_fn)(void *ctx, struct slice name, struct slice filename,
                                  struct slice content_type);
/* The next bytes of the current file part, in pieces of any size (never 0 bytes). */
typedef int (*form_file_data_fn)(void *ctx, const char *data, size_t len);
/* The current file part ended at its delimiter: it is complete. */
typedef int (*form_file_end_fn)(void *ctx);

struct form_callbacks {
    form_field_fn field; /* a non-file field (a part without a filename parameter) */
    form_file_begin_fn file_begin;
    form_file_data_fn file_data;
    form_file_end_fn file_end;
};

/* What a request's Content-Type says the body is (media type only, case-insensitive). */
enum form_kind {
    FORM_OTHER,
    FORM_URLENCODED, /* application/x-www-form-urlencoded */
    FORM_MULTIPART,  /* multipart/form-data */
};

enum form_kind form_classify(struct slice content_type);

/*
 * Parses the urlencoded body[0..len), decoding it in place (the buffer is overwritten), and
 * calls field() once per name/value pair in order; a repeated name is delivered each time.
 * Limits are checked before a field is delivered; only max_fields and max_field_bytes apply.
 * Returns true when the whole body was parsed, false with *err filled (400, 413, or a
 * callback's status).
 */
bool urlencoded_parse(char *body, size_t len, const struct form_limits *limits, form_field_fn field,
                      void *ctx, struct request_error *err);

enum {
    MULTIPART_BOUNDARY_MAX = 70, /* RFC 2046 §5.1.1 */
    MULTIPART_HEAD_MAX = 8192,   /* one part's header block, CRLFs included; more → 400 */
};

/* The parser's state: embeddable, initialised by multipart_init; fields are internal. It
 * points into itself, so it must not be copied or moved once initialised. */
struct multipart {
    struct form_limits limits;
    struct form_callbacks cb;
    void *ctx;
    char delim[4 + MULTIPART_BOUNDARY_MAX]; /* CRLF "--" boundary (RFC 2046 §5.1.1) */
    size_t delim_len;
    size_t match; /* bytes of delim matched so far, at the end of what was fed */
    size_t skip;  /* leading bytes of that match that were not content (see form.c) */
    uint64_t total_bytes;
    uint64_t part_bytes; /* content bytes of the current part so far */
    size_t n_parts;
    size_t head_len; /* bytes of the current part's header block so far */
    size_t line_len; /* bytes of its current line, CR excluded */
    bool saw_cr;     /* the last header byte was CR */
    bool is_file;
    struct slice name; /* the current part's name, inside head */
    int state;
    struct request_error error; /* kept once in the error state */
    struct buf value;           /* the current non-file field's value */
    char head[MULTIPART_HEAD_MAX];
};

enum multipart_status {
    MULTIPART_MORE,  /* everything fed was consumed; feed more, or call multipart_end */
    MULTIPART_DONE,  /* the closing delimiter was seen; the rest (epilogue) is ignored */
    MULTIPART_ERROR, /* *err says why; no more callbacks will be made */
};

/*
 * Starts a parser for a body whose Content-Type field value is content_type: the media
 * type must be multipart/form-data (else 415), with a boundary parameter, token or
 * quoted-string, of 1-70 bchars not ending in a space (RFC 2046 §5.1.1; else 400). limits
 * and callbacks are copied; ctx is passed to every callback. Returns false with *err filled
 * on error, and then m is left in its error state (multipart_free is still safe).
 */
bool multipart_init(struct multipart *m, struct slice content_type,
                    const struct form_limits *limits, const struct form_callbacks *callbacks,
                    void *ctx, struct request_error *err);

/*
 * Parses the next data[0..len) of the body, making the callbacks it completes. Chunks may
 * be split anywhere, and the callbacks made are the same whatever the split, except that
 * file contents come in different pieces. The parser keeps no pointer into data. Once DONE
 * or ERROR, later calls return the same and ignore their data.
 * Limits are applied where a byte crosses them, so that the outcome too is the same for
 * every split: a file over max_file_bytes has had its first max_file_bytes delivered when
 * the 413 comes; bytes past max_total_bytes are a 413 unless the body was already DONE.
 */
enum multipart_status multipart_feed(struct multipart *m, const char *data, size_t len,
                                     struct request_error *err);

/* The body has ended: MULTIPART_DONE if the closing delimiter was seen, else ERROR (400). */
enum multipart_status multipart_end(struct multipart *m, struct request_error *err);

/* Releases a field value that outgrew the struct. Call once the parser is no longer used. */
void multipart_free(struct multipart *m);

#endif
