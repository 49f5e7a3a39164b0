/* SPDX-License-Identifier: MIT */
/*
 * Conditional requests and ranges (RFC 9110 §13 and §14), as pure functions of the
 * request's header values and the representation's validators.
 *
 * cond_evaluate() applies the preconditions in the order of RFC 9110 §13.2.2:
 *   1. If-Match (strong comparison; "*" matches any existing representation) → 412;
 *   2. otherwise If-Unmodified-Since (ignored when not a valid HTTP-date) → 412;
 *   3. If-None-Match (weak comparison; "*" matches) → 304 for GET/HEAD, else 412;
 *   4. otherwise, for GET/HEAD, If-Modified-Since (ignored when invalid) → 304.
 * Range handling (§14) comes after: range_parse() reads a Range header against the size,
 * and cond_if_range() says whether an If-Range lets the Range apply.
 */
#ifndef MICA_HTTP_COND_H
#define MICA_HTTP_COND_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "http/request.h"
#include "util/slice.h"

/* What the representation is known by. etag includes its quotes (and W/ when weak). */
struct validators {
    struct slice etag;
    time_t last_modified;
};

/* 0 to proceed, 304 (Not Modified) or 412 (Precondition Failed). */
int cond_evaluate(const struct request *req, const struct validators *v);

/* Whether an entity-tag list (If-Match / If-None-Match syntax: "*", or comma-separated
 * entity-tags) contains etag; `weak` selects the weak comparison (RFC 9110 §8.8.3.2). */
bool cond_etag_match(struct slice list, struct slice etag, bool weak);

/* Whether the request's Range applies: true without If-Range; with If-Range, true only
 * when it is a strong ETag equal to v->etag, or an HTTP-date equal to v->last_modified
 * (RFC 9110 §13.1.5). */
bool cond_if_range(const struct request *req, const struct validators *v);

enum { RANGE_MAX = 16 };

struct byte_range {
    uint64_t start;
    uint64_t len;
};

struct range_set {
    unsigned n;
    struct byte_range r[RANGE_MAX];
};

/*
 * Reads a Range header value against a representation of `size` bytes. Returns
 *   0    ignore it and send the whole representation: not a bytes range, malformed (RFC
 *        9110 §14.2 lets a server ignore it), more than RANGE_MAX ranges, or ranges
 *        that overlap or are out of order (refusing many small or overlapping ranges
 *        is allowed by §14.2 and stops amplification);
 *   206  *out holds 1..RANGE_MAX satisfiable ranges, in order (unsatisfiable ones among
 *        satisfiable ones are dropped);
 *   416  none is satisfiable (answer with Content-Range: bytes * / size).
 * Forms: "bytes=a-b" (b clipped to size-1), "bytes=a-", "bytes=-n" (the last n bytes),
 * whitespace around commas, case-insensitive unit.
 */
int range_parse(struct slice value, uint64_t size, struct range_set *out);

#endif
