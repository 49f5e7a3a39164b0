/* SPDX-License-Identifier: MIT */
/*
 * Conditional requests (RFC 9110 §13) and byte ranges (RFC 9110 §14) as pure functions over
 * the slices request_parse() left in struct request: nothing here allocates or copies.
 *
 * Entity-tag lists are parsed by their grammar, not split on commas, because a comma is a
 * valid etagc (RFC 9110 §8.8.3). A list that does not parse is unusable as a whole: it
 * matches nothing, which lets If-None-Match proceed and makes If-Match fail, the safe
 * outcome for each. A list field may be sent on several lines (RFC 9110 §5.3); known[] only
 * keeps the first, so the lines are gathered again from req->headers[].
 *
 * Range parsing is strict about the grammar and refuses (by ignoring the header, which
 * §14.2 allows) anything that could make one request cost many: more than RANGE_MAX ranges,
 * or ranges that overlap or go backwards.
 */
#include "http/cond.h"

#include "http/date.h"

/* Outcome of matching one list field (possibly spread over several lines). */
enum match {
    MATCH_NO,
    MATCH_YES,
    MATCH_MALFORMED, /* not valid syntax: the whole field is unusable */
};

/* An entity-tag taken apart: the opaque-tag with its quotes, and whether W/ preceded it. */
struct etag {
    struct slice opaque;
    bool is_weak;
};

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 9110 §8.8.3: etagc = %x21 / %x23-7E / obs-text (everything visible but DQUOTE). */
static bool is_etagc(char c)
{
    const unsigned char b = (unsigned char)c;
    return b == 0x21 || (b >= 0x23 && b <= 0x7e) || b >= 0x80;
}

/*
 * Reads one entity-tag (RFC 9110 §8.8.3: [ W/ ] DQUOTE *etagc DQUOTE) at s.ptr[*pos] and
 * advances *pos past it. The weak indicator is case-sensitive ("W/", not "w/").
 */
static bool etag_read(struct slice s, size_t *pos, struct etag *tag)
{
    size_t p = *pos;
    tag->is_weak = false;
    if (s.len - p >= 2 && s.ptr[p] == 'W' && s.ptr[p + 1] == '/') {
        tag->is_weak = true;
        p += 2;
    }
    if (p == s.len || s.ptr[p] != '"')
        return false;
    const size_t start = p++;
    while (p < s.len && is_etagc(s.ptr[p]))
        p++;
    if (p == s.len || s.ptr[p] != '"')
        return false;
    p++;
    tag->opaque = slice_make(s.ptr + start, p - start);
    *pos = p;
    return true;
}

/* Parses a whole slice as exactly one entity-tag, without surrounding whitespace. */
static bool etag_parse(struct slice s, struct etag *tag)
{
    size_t p = 0;
    return s.ptr && etag_read(s, &p, tag) && p == s.len;
}

/* RFC 9110 §8.8.3.2: weak comparison ignores W/; strong needs both tags strong. */
static bool etag_eq(const struct etag *a, const struct etag *b, bool weak)
{
    if (!weak && (a->is_weak || b->is_weak))
        return false;
    return slice_eq(a->opaque, b->opaque);
}

/*
 * Matches one line's list of entity-tags (RFC 9110 §5.6.1: #entity-tag; empty elements are
 * allowed and skipped) against the current tag, which is NULL when the representation has
 * none. "*" is handled by the caller. Every element is parsed even after a match, so that
 * a malformed list is refused whatever its order.
 */
static enum match list_match(struct slice list, const struct etag *current, bool weak)
{
    bool found = false;
    size_t p = 0;
    for (;;) {
        while (p < list.len && (is_ows(list.ptr[p]) || list.ptr[p] == ','))
            p++;
        if (p == list.len)
            return found ? MATCH_YES : MATCH_NO;
        struct etag tag;
        if (!etag_read(list, &p, &tag))
            return MATCH_MALFORMED;
        if (current && etag_eq(&tag, current, weak))
            found = true;
        while (p < list.len && is_ows(list.ptr[p]))
            p++;
        if (p < list.len && list.ptr[p] != ',')
            return MATCH_MALFORMED;
    }
}

/*
 * Folds one line of If-Match / If-None-Match into what the earlier lines gave. The field
 * is "*" or #entity-tag (RFC 9110 §13.1.1, §13.1.2): "*" is only valid alone, so a "*"
 * among other lines makes the combined value malformed.
 */
static void line_match(struct slice line, const struct etag *current, bool weak, unsigned n_lines,
                       bool *has_star, enum match *m)
{
    line = slice_trim(line);
    if (line.len == 1 && line.ptr[0] == '*') {
        *has_star = true;
        *m = n_lines > 1 ? MATCH_MALFORMED : MATCH_YES;
        return;
    }
    const enum match r = list_match(line, current, weak);
    if (*has_star || r == MATCH_MALFORMED || *m == MATCH_MALFORMED)
        *m = MATCH_MALFORMED;
    else if (r == MATCH_YES)
        *m = MATCH_YES;
}

/*
 * Matches a list field over all its lines: known[id] first (it is the first line), then any
 * later line of the same name in headers[]. `name` is the field name for that search.
 */
static enum match field_match(const struct request *req, enum header_id id, struct slice name,
                              const struct validators *v, bool weak)
{
    struct etag cur;
    const struct etag *current = etag_parse(v->etag, &cur) ? &cur : NULL;
    const struct slice first = req->known[id];
    enum match m = MATCH_NO;
    bool has_star = false;
    unsigned n_lines = 1;
    line_match(first, current, weak, n_lines, &has_star, &m);
    for (unsigned i = 0; i < req->n_headers; i++) {
        const struct header *h = &req->headers[i];
        if (h->value.ptr == first.ptr || !slice_case_eq(h->name, name))
            continue;
        line_match(h->value, current, weak, ++n_lines, &has_star, &m);
    }
    return m;
}

/*
 * The date of a date field when it is usable: present on exactly one line and a valid
 * HTTP-date. RFC 9110 §13.1.3 and §13.1.4: an invalid date, or one that looks like a list
 * of dates, is ignored.
 */
static bool field_date(const struct request *req, enum header_id id, struct slice name, time_t *t)
{
    const struct slice first = req->known[id];
    if (!first.ptr)
        return false;
    for (unsigned i = 0; i < req->n_headers; i++) {
        const struct header *h = &req->headers[i];
        if (h->value.ptr != first.ptr && slice_case_eq(h->name, name))
            return false;
    }
    return date_parse_http(first, t);
}

int cond_evaluate(const struct request *req, const struct validators *v)
{
    const bool is_get_head = req->method == HTTP_GET || req->method == HTTP_HEAD;
    time_t t;
    /* RFC 9110 §13.2.2 step 1, §13.1.1: If-Match uses the strong comparison. */
    if (req->known[HDR_IF_MATCH].ptr) {
        if (field_match(req, HDR_IF_MATCH, SLICE_LIT("if-match"), v, false) != MATCH_YES)
            return 412;
    } else if (field_date(req, HDR_IF_UNMODIFIED_SINCE, SLICE_LIT("if-unmodified-since"), &t)) {
        /* Step 2, §13.1.4: false when the representation was modified after the date. */
        if (v->last_modified > t)
            return 412;
    }
    /* Step 3, §13.1.2: If-None-Match uses the weak comparison. */
    if (req->known[HDR_IF_NONE_MATCH].ptr) {
        if (field_match(req, HDR_IF_NONE_MATCH, SLICE_LIT("if-none-match"), v, true) == MATCH_YES)
            return is_get_head ? 304 : 412;
        return 0;
    }
    /* Step 4, §13.1.3: If-Modified-Since only for GET and HEAD, and only without
     * If-None-Match (returned above). Not modified since the date: last_modified <= date. */
    if (is_get_head && field_date(req, HDR_IF_MODIFIED_SINCE, SLICE_LIT("if-modified-since"), &t) &&
        v->last_modified <= t)
        return 304;
    return 0;
}

bool cond_etag_match(struct slice list, struct slice etag, bool weak)
{
    if (!list.ptr)
        return false;
    struct etag cur;
    const struct etag *current = etag_parse(etag, &cur) ? &cur : NULL;
    enum match m = MATCH_NO;
    bool has_star = false;
    line_match(list, current, weak, 1, &has_star, &m);
    return m == MATCH_YES;
}

bool cond_if_range(const struct request *req, const struct validators *v)
{
    const struct slice value = req->known[HDR_IF_RANGE];
    if (!value.ptr)
        return true;
    /* If-Range takes one value; several lines cannot be trusted, so the range is dropped
     * and the whole representation sent, which is always correct. */
    for (unsigned i = 0; i < req->n_headers; i++) {
        const struct header *h = &req->headers[i];
        if (h->value.ptr != value.ptr && slice_case_eq(h->name, SLICE_LIT("if-range")))
            return false;
    }
    /* RFC 9110 §13.1.5: If-Range = entity-tag / HTTP-date. An entity-tag starts with
     * DQUOTE or "W/", which no HTTP-date does (though "Wed" starts with W). */
    if (value.len > 0 &&
        (value.ptr[0] == '"' || (value.len > 1 && value.ptr[0] == 'W' && value.ptr[1] == '/'))) {
        struct etag tag, cur;
        /* A weak tag never matches: §13.1.5 requires the strong comparison. */
        return etag_parse(value, &tag) && etag_parse(v->etag, &cur) && etag_eq(&tag, &cur, false);
    }
    /* §13.1.5: the date must be an exact match with Last-Modified. */
    time_t t;
    return date_parse_http(value, &t) && t == v->last_modified;
}

/* Reads 1*DIGIT at s.ptr[*pos] into *n; false when there is no digit or it overflows. */
static bool number_read(struct slice s, size_t *pos, uint64_t *n)
{
    size_t p = *pos;
    uint64_t x = 0;
    if (p == s.len || !is_digit(s.ptr[p]))
        return false;
    for (; p < s.len && is_digit(s.ptr[p]); p++) {
        if (__builtin_mul_overflow(x, 10, &x) ||
            __builtin_add_overflow(x, (uint64_t)(s.ptr[p] - '0'), &x))
            return false;
    }
    *n = x;
    *pos = p;
    return true;
}

/* What one range-spec read against the size gave. */
enum spec {
    SPEC_INVALID,
    SPEC_UNSATISFIABLE,
    SPEC_OK,
};

/*
 * Reads one range-spec (RFC 9110 §14.1.1) at s.ptr[*pos] and resolves it against size:
 *   int-range    = first-pos "-" [ last-pos ]   satisfiable when first-pos < size; last-pos
 *                                                is clipped to size - 1
 *   suffix-range = "-" suffix-length             the last suffix-length bytes, satisfiable
 *                                                when suffix-length > 0
 * A last-pos below first-pos makes the spec invalid. No whitespace inside a spec.
 */
static enum spec spec_read(struct slice s, size_t *pos, uint64_t size, struct byte_range *r)
{
    size_t p = *pos;
    uint64_t first, last = UINT64_MAX;
    if (s.ptr[p] == '-') {
        p++;
        uint64_t suffix;
        if (!number_read(s, &p, &suffix))
            return SPEC_INVALID;
        *pos = p;
        /* RFC 9110 §14.1.3 calls a non-zero suffix satisfiable even for an empty
         * representation, but no Content-Range can name a byte of an empty one (§14.4),
         * so with size 0 every spec is unsatisfiable and the answer is 416. */
        if (suffix == 0 || size == 0)
            return SPEC_UNSATISFIABLE;
        const uint64_t n = suffix < size ? suffix : size;
        *r = (struct byte_range){.start = size - n, .len = n};
        return SPEC_OK;
    }
    if (!number_read(s, &p, &first) || p == s.len || s.ptr[p] != '-')
        return SPEC_INVALID;
    p++;
    if (p < s.len && is_digit(s.ptr[p])) {
        if (!number_read(s, &p, &last) || last < first)
            return SPEC_INVALID;
    }
    *pos = p;
    if (first >= size)
        return SPEC_UNSATISFIABLE;
    if (last > size - 1)
        last = size - 1;
    *r = (struct byte_range){.start = first, .len = last - first + 1};
    return SPEC_OK;
}

/*
 * Reads range-set = 1#range-spec (RFC 9110 §14.1.1, list rules of §5.6.1: OWS only around
 * commas, empty elements skipped) into *out. Returns range_parse's status; *out may hold
 * ranges even when the answer is 0.
 */
static int set_read(struct slice set, uint64_t size, struct range_set *out)
{
    unsigned n_specs = 0;
    size_t p = 0;
    for (;;) {
        if (p < set.len && (set.ptr[p] == '-' || is_digit(set.ptr[p]))) {
            if (++n_specs > RANGE_MAX)
                return 0;
            struct byte_range r;
            const enum spec sp = spec_read(set, &p, size, &r);
            if (sp == SPEC_INVALID)
                return 0;
            if (sp == SPEC_OK) {
                /* §14.2 lets us refuse overlapping or out-of-order ranges; we ignore the
                 * header then, so each byte is sent at most once and in order. */
                const struct byte_range *prev = out->n ? &out->r[out->n - 1] : NULL;
                if (prev && r.start < prev->start + prev->len)
                    return 0;
                out->r[out->n++] = r;
            }
        }
        while (p < set.len && is_ows(set.ptr[p]))
            p++;
        if (p == set.len)
            break;
        if (set.ptr[p] != ',')
            return 0;
        p++;
        while (p < set.len && is_ows(set.ptr[p]))
            p++;
    }
    if (n_specs == 0)
        return 0;
    return out->n > 0 ? 206 : 416;
}

int range_parse(struct slice value, uint64_t size, struct range_set *out)
{
    out->n = 0;
    if (!value.ptr)
        return 0;
    /* RFC 9110 §14.2: ranges-specifier = range-unit "=" range-set, with no whitespace
     * around "="; the unit is case-insensitive (§14.1). Other units are ignored. */
    const char *eq = memchr(value.ptr, '=', value.len);
    if (!eq || !slice_case_eq(slice_make(value.ptr, (size_t)(eq - value.ptr)), SLICE_LIT("bytes")))
        return 0;
    const struct slice set = slice_make(eq + 1, value.len - (size_t)(eq + 1 - value.ptr));
    const int status = set_read(set, size, out);
    if (status != 206)
        out->n = 0;
    return status;
}
