/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/1.x request-head parser. It runs in two steps:
 *
 *  1. scan_head() looks for the end of the head (the first empty line) in the bytes received
 *     so far. It resumes where the previous call stopped, and checks the request line as it
 *     goes, so a TLS ClientHello, binary garbage or an endless request-target is refused as
 *     soon as the bytes that condemn it arrive, not when the head limit is reached.
 *  2. Once the head is complete, parse_head() walks it once, from the start, and fills
 *     struct request with slices into the caller's buffer: nothing is copied or allocated.
 *
 * Every rejection names its HTTP status and a short static reason at the rule that decides
 * it; the rules cite RFC 9112 (message syntax) and RFC 9110 (semantics). Framing headers are
 * handled strictly, because a disagreement with a proxy in front about where a request ends
 * is how requests are smuggled: such a request is refused, never guessed at.
 */
#include "http/request.h"

#include <assert.h>
#include <string.h>

#include "http/chars.h"

static inline bool is_class(char c, unsigned cls)
{
    return chars_is((unsigned char)c, cls);
}

enum {
    CC_TCHAR = CHARS_TCHAR,
    CC_VALUE = CHARS_VALUE,
    CC_TARGET = CHARS_TARGET,
    CC_HOST = CHARS_HOST,
};

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static inline bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static enum request_status reject(struct request_error *err, int status, const char *reason)
{
    err->status = status;
    err->reason = reason;
    return REQUEST_ERROR;
}

/* ---- Step 1: finding the end of the head ---- */

/*
 * Where the scan stands between calls. The scan is a small state machine over the bytes:
 * leading empty lines, then the method, then the request-target, then everything else,
 * which is searched line by line for the empty line that ends the head.
 */
enum scan_phase {
    SCAN_LEAD,   /* empty lines before the request line (RFC 9112 §2.2) */
    SCAN_METHOD, /* inside the method */
    SCAN_TARGET, /* inside the request-target */
    SCAN_HEAD,   /* after the request-target: looking for the empty line */
};

struct scanner {
    size_t pos;            /* bytes examined so far */
    enum scan_phase phase; /* what buf[pos] belongs to */
    size_t target_len;     /* SCAN_TARGET: target bytes already seen */
};

/*
 * The caller keeps the scanner in one size_t: the phase in the low 2 bits, the target
 * length in the next 14, the position above. A position too large to pack (only possible
 * with a 32-bit size_t and a head over 64 KiB) is stored as 0, which restarts the scan:
 * slower, never wrong.
 */
enum {
    SCAN_PHASE_BITS = 2,
    SCAN_TARGET_BITS = 14,
    SCAN_POS_SHIFT = SCAN_PHASE_BITS + SCAN_TARGET_BITS,
};

_Static_assert(REQUEST_MAX_TARGET < (1 << SCAN_TARGET_BITS), "target length must fit the scan");

static struct scanner scan_load(size_t packed)
{
    return (struct scanner){
        .pos = packed >> SCAN_POS_SHIFT,
        .phase = (enum scan_phase)(packed & ((1u << SCAN_PHASE_BITS) - 1)),
        .target_len = (packed >> SCAN_PHASE_BITS) & ((1u << SCAN_TARGET_BITS) - 1),
    };
}

static size_t scan_store(const struct scanner *s)
{
    if (s->pos > (SIZE_MAX >> SCAN_POS_SHIFT))
        return 0;
    return s->pos << SCAN_POS_SHIFT | s->target_len << SCAN_PHASE_BITS | (size_t)s->phase;
}

/*
 * Searches buf[pos..limit) for the empty line that ends the head, from the position the
 * scanner holds, and updates it. Returns REQUEST_DONE with *head_len set, REQUEST_NEED_MORE,
 * or REQUEST_ERROR for a request line already known to be bad.
 */
static enum request_status scan_head(const char *buf, size_t limit, struct scanner *s,
                                     size_t *head_len, struct request_error *err)
{
    size_t p = s->pos;
    switch (s->phase) {
    case SCAN_LEAD:
        /* RFC 9112 §2.2: ignore empty lines (CRLF or LF) before the request line. */
        for (; p < limit; p++) {
            if (buf[p] == '\n')
                continue;
            if (buf[p] != '\r')
                break;
            if (p + 1 == limit)
                break; /* the CR is looked at again when its LF arrives */
            if (buf[p + 1] != '\n')
                return reject(err, 400, "bare CR");
        }
        if (p == limit || buf[p] == '\r') {
            s->pos = p;
            return REQUEST_NEED_MORE;
        }
        /* RFC 9112 §3: method = token, ended by exactly one SP. Anything else (a TLS
         * ClientHello starts with 0x16) is refused at its first byte. */
        if (!is_class(buf[p], CC_TCHAR))
            return reject(err, 400, "invalid method token");
        s->phase = SCAN_METHOD;
        /* fall through */
    case SCAN_METHOD:
        while (p < limit && is_class(buf[p], CC_TCHAR))
            p++;
        if (p == limit) {
            s->pos = p;
            return REQUEST_NEED_MORE;
        }
        if (buf[p] != ' ')
            return reject(err, 400, "invalid method token");
        p++;
        s->phase = SCAN_TARGET;
        s->target_len = 0;
        /* fall through */
    case SCAN_TARGET: {
        const size_t start = p - s->target_len;
        /* Looking one byte past REQUEST_MAX_TARGET is enough to know the target is too long. */
        const size_t stop =
            limit - start > REQUEST_MAX_TARGET ? start + REQUEST_MAX_TARGET + 1 : limit;
        while (p < stop && is_class(buf[p], CC_TARGET))
            p++;
        if (p - start > REQUEST_MAX_TARGET)
            return reject(err, 414, "request-target too long");
        if (p == limit) {
            s->pos = p;
            s->target_len = p - start;
            return REQUEST_NEED_MORE;
        }
        /* RFC 9112 §3.2: the target is visible ASCII; a CR or LF here means no version. */
        if (buf[p] != ' ')
            return reject(err, 400, "invalid character in request-target");
        if (p == start)
            return reject(err, 400, "empty request-target");
        p++;
        s->phase = SCAN_HEAD;
        s->target_len = 0;
    }
        /* fall through */
    case SCAN_HEAD: {
        /* Only a line of at most one byte ("" or "\r") can be the empty line; looking back
         * one or two bytes tells whether the line we resume in is still that short. */
        size_t line = p;
        bool may_be_empty = true;
        if (buf[p - 1] == '\r' && buf[p - 2] == '\n')
            line = p - 1;
        else if (buf[p - 1] != '\n')
            may_be_empty = false;
        while (p < limit) {
            const char *lf = memchr(buf + p, '\n', limit - p);
            if (!lf)
                break;
            const size_t end = (size_t)(lf - buf);
            if (may_be_empty && (end == line || (end == line + 1 && buf[line] == '\r'))) {
                s->pos = line; /* calling again finds the same end */
                *head_len = end + 1;
                return REQUEST_DONE;
            }
            p = line = end + 1;
            may_be_empty = true;
        }
        s->pos = limit;
        return REQUEST_NEED_MORE;
    }
    }
    return reject(err, 400, "corrupt scan state"); /* not reached: every phase returns */
}

/* ---- Step 2: parsing the complete head ---- */

/* What the field handlers gather over all lines, before the final checks. */
struct head_state {
    struct request *req;
    unsigned n_host;
    bool has_te;
    unsigned n_chunked;   /* "chunked" codings seen in Transfer-Encoding */
    bool te_ends_chunked; /* the last coding seen is chunked */
    bool te_other;        /* a coding other than chunked was seen */
    bool conn_close;      /* Connection: close */
    bool conn_keep_alive; /* Connection: keep-alive */
};

typedef enum request_status header_fn(struct head_state *st, struct slice value,
                                      struct request_error *err);

static header_fn host_field, content_length_field, transfer_encoding_field, connection_field,
    expect_field;

/*
 * The header fields we act on (nginx's ngx_http_headers_in idea). Names are lowercase for
 * the case-insensitive match (RFC 9110 §5.1); a handler, when present, checks and
 * interprets each field line with that name, and known[id] keeps the first value.
 */
static const struct known_header {
    struct slice name;
    enum header_id id;
    header_fn *handle;
} known_headers[] = {
    {SLICE_LIT("host"), HDR_HOST, host_field},
    {SLICE_LIT("connection"), HDR_CONNECTION, connection_field},
    {SLICE_LIT("content-length"), HDR_CONTENT_LENGTH, content_length_field},
    {SLICE_LIT("transfer-encoding"), HDR_TRANSFER_ENCODING, transfer_encoding_field},
    {SLICE_LIT("expect"), HDR_EXPECT, expect_field},
    {SLICE_LIT("content-type"), HDR_CONTENT_TYPE, NULL},
    {SLICE_LIT("user-agent"), HDR_USER_AGENT, NULL},
    {SLICE_LIT("referer"), HDR_REFERER, NULL},
    {SLICE_LIT("accept"), HDR_ACCEPT, NULL},
    {SLICE_LIT("accept-encoding"), HDR_ACCEPT_ENCODING, NULL},
    {SLICE_LIT("if-none-match"), HDR_IF_NONE_MATCH, NULL},
    {SLICE_LIT("if-modified-since"), HDR_IF_MODIFIED_SINCE, NULL},
    {SLICE_LIT("if-match"), HDR_IF_MATCH, NULL},
    {SLICE_LIT("if-unmodified-since"), HDR_IF_UNMODIFIED_SINCE, NULL},
    {SLICE_LIT("range"), HDR_RANGE, NULL},
    {SLICE_LIT("if-range"), HDR_IF_RANGE, NULL},
    {SLICE_LIT("authorization"), HDR_AUTHORIZATION, NULL},
    {SLICE_LIT("cookie"), HDR_COOKIE, NULL},
    {SLICE_LIT("origin"), HDR_ORIGIN, NULL},
};

_Static_assert(sizeof(known_headers) / sizeof(known_headers[0]) == HDR_COUNT,
               "one known_headers entry per enum header_id");

/*
 * Whether a field name equals a table name, ignoring case. Table names hold only lowercase
 * letters and '-', and a field name only tchar; among tchar, c | 0x20 gives a lowercase
 * letter only for that letter in either case, and '-' only for '-' itself, so one OR per
 * byte compares exactly.
 */
static bool known_name_eq(struct slice lower, struct slice name)
{
    for (size_t i = 0; i < name.len; i++)
        if ((name.ptr[i] | 0x20) != lower.ptr[i])
            return false;
    return true;
}

/* The table entry for a field name, or NULL. The length and the first letter turn away
 * almost every other name before a full comparison. */
static const struct known_header *known_find(struct slice name)
{
    const char first = (char)(name.ptr[0] | 0x20);
    for (size_t i = 0; i < HDR_COUNT; i++) {
        const struct known_header *k = &known_headers[i];
        if (k->name.len == name.len && k->name.ptr[0] == first && known_name_eq(k->name, name))
            return k;
    }
    return NULL;
}

static const struct slice method_names[HTTP_METHOD_COUNT] = {
    [HTTP_GET] = SLICE_LIT("GET"),         [HTTP_HEAD] = SLICE_LIT("HEAD"),
    [HTTP_POST] = SLICE_LIT("POST"),       [HTTP_PUT] = SLICE_LIT("PUT"),
    [HTTP_DELETE] = SLICE_LIT("DELETE"),   [HTTP_OPTIONS] = SLICE_LIT("OPTIONS"),
    [HTTP_PATCH] = SLICE_LIT("PATCH"),     [HTTP_TRACE] = SLICE_LIT("TRACE"),
    [HTTP_CONNECT] = SLICE_LIT("CONNECT"),
};

/*
 * Takes the next element off a comma-separated list (RFC 9110 §5.6.1), without its OWS.
 * Elements may be empty. Returns false when the list is used up.
 */
static bool list_next(struct slice *list, struct slice *elem)
{
    if (!list->ptr)
        return false;
    const char *comma = memchr(list->ptr, ',', list->len);
    const size_t n = comma ? (size_t)(comma - list->ptr) : list->len;
    *elem = slice_trim(slice_make(list->ptr, n));
    if (comma)
        *list = slice_make(comma + 1, list->len - n - 1);
    else
        *list = slice_make(NULL, 0);
    return true;
}

static bool is_token(struct slice s)
{
    for (size_t i = 0; i < s.len; i++)
        if (!is_class(s.ptr[i], CC_TCHAR))
            return false;
    return s.len > 0;
}

/*
 * host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2): an IP-literal in brackets or a
 * non-empty reg-name (which covers IPv4), then optional port digits. No userinfo.
 */
static bool host_is_valid(struct slice h)
{
    size_t i = 0;
    if (h.len > 0 && h.ptr[0] == '[') {
        for (i = 1; i < h.len && h.ptr[i] != ']'; i++)
            if (!is_class(h.ptr[i], CC_HOST) && h.ptr[i] != ':')
                return false;
        if (i == h.len || i == 1)
            return false;
        i++;
    } else {
        while (i < h.len && is_class(h.ptr[i], CC_HOST))
            i++;
        if (i == 0)
            return false;
    }
    if (i == h.len)
        return true;
    if (h.ptr[i] != ':')
        return false;
    for (i++; i < h.len; i++)
        if (!is_digit(h.ptr[i]))
            return false;
    return true;
}

static enum request_status host_field(struct head_state *st, struct slice value,
                                      struct request_error *err)
{
    /* RFC 9112 §3.2: more than one Host, or an invalid one, is a 400. */
    if (++st->n_host > 1)
        return reject(err, 400, "duplicate Host");
    if (value.len == 0) {
        /* HTTP/1.0 clients may send an empty Host; HTTP/1.1 ones must name the origin. */
        if (st->req->version_minor == 0)
            return REQUEST_DONE;
        return reject(err, 400, "empty Host");
    }
    if (!host_is_valid(value))
        return reject(err, 400, "invalid Host");
    return REQUEST_DONE;
}

/* Far beyond any body we accept; a larger value is refused rather than wrapped around. */
static const uint64_t CONTENT_LENGTH_MAX = (uint64_t)1 << 62;

static enum request_status content_length_field(struct head_state *st, struct slice value,
                                                struct request_error *err)
{
    struct request *req = st->req;
    struct slice elem;
    /* RFC 9110 §8.6: Content-Length = 1*DIGIT; a list of identical values (from a proxy
     * that merged lines) may be taken as that value, anything else is a framing error. */
    while (list_next(&value, &elem)) {
        if (elem.len == 0)
            return reject(err, 400, "malformed Content-Length");
        uint64_t n = 0;
        for (size_t i = 0; i < elem.len; i++) {
            if (!is_digit(elem.ptr[i]))
                return reject(err, 400, "malformed Content-Length");
            const unsigned digit = (unsigned)(elem.ptr[i] - '0');
            if (n > (CONTENT_LENGTH_MAX - digit) / 10)
                return reject(err, 400, "Content-Length too large");
            n = n * 10 + digit;
        }
        if (req->has_content_length && req->content_length != n)
            return reject(err, 400, "conflicting Content-Length");
        req->content_length = n;
        req->has_content_length = true;
    }
    return REQUEST_DONE;
}

static enum request_status transfer_encoding_field(struct head_state *st, struct slice value,
                                                   struct request_error *err)
{
    /* RFC 9112 §6.1: an HTTP/1.0 request with Transfer-Encoding has unreliable framing. */
    if (st->req->version_minor == 0)
        return reject(err, 400, "Transfer-Encoding in HTTP/1.0");
    st->has_te = true;
    struct slice coding;
    /* The codings of all Transfer-Encoding lines form one list (RFC 9110 §5.3); the final
     * verdict on it is given once every line is in (head_finish). Empty elements are
     * ignored (RFC 9110 §5.6.1). */
    while (list_next(&value, &coding)) {
        if (coding.len == 0)
            continue;
        if (!is_token(coding))
            return reject(err, 400, "malformed Transfer-Encoding");
        if (slice_case_eq(coding, SLICE_LIT("chunked"))) {
            /* RFC 9112 §6.1: chunked must not be applied more than once. */
            if (st->n_chunked++ > 0)
                return reject(err, 400, "chunked applied twice");
            st->te_ends_chunked = true;
        } else {
            st->te_other = true;
            st->te_ends_chunked = false;
        }
    }
    return REQUEST_DONE;
}

static enum request_status connection_field(struct head_state *st, struct slice value,
                                            struct request_error *err)
{
    (void)err; /* unknown connection options are ignored (RFC 9110 §7.6.1) */
    struct slice opt;
    while (list_next(&value, &opt)) {
        if (slice_case_eq(opt, SLICE_LIT("close")))
            st->conn_close = true;
        else if (slice_case_eq(opt, SLICE_LIT("keep-alive")))
            st->conn_keep_alive = true;
    }
    return REQUEST_DONE;
}

static enum request_status expect_field(struct head_state *st, struct slice value,
                                        struct request_error *err)
{
    /* RFC 9110 §10.1.1: 100-continue is the only expectation; others get 417. An HTTP/1.0
     * client cannot handle a 100 response, so its 100-continue is ignored. */
    if (!slice_case_eq(value, SLICE_LIT("100-continue")))
        return reject(err, 417, "unsupported expectation");
    st->req->expect_continue = st->req->version_minor == 1;
    return REQUEST_DONE;
}

/*
 * Checks the request-target's form against the method and splits it into path and query
 * (RFC 9112 §3.2). Sets *authority for the absolute-form.
 */
static enum request_status parse_target(struct request *req, struct slice *authority,
                                        struct request_error *err)
{
    const struct slice t = req->target;
    const struct slice none = slice_make(t.ptr + t.len, 0); /* an empty query, in the buffer */
    req->query = none;
    if (req->method == HTTP_CONNECT) {
        /* RFC 9112 §3.2.3: CONNECT takes the authority-form, and only it. */
        if (!host_is_valid(t))
            return reject(err, 400, "invalid CONNECT authority");
        req->path = t;
        return REQUEST_DONE;
    }
    if (t.len == 1 && t.ptr[0] == '*') {
        /* RFC 9112 §3.2.4: the asterisk-form is only for a server-wide OPTIONS. */
        if (req->method != HTTP_OPTIONS)
            return reject(err, 400, "asterisk-form without OPTIONS");
        req->path = t;
        return REQUEST_DONE;
    }
    struct slice rest = t; /* path and query: origin-form (RFC 9112 §3.2.1) */
    const char *slash = t.ptr;
    if (t.ptr[0] != '/') {
        /* RFC 9112 §3.2.2: absolute-form; the scheme is case-insensitive. */
        size_t start;
        if (t.len >= 7 && slice_case_eq(slice_make(t.ptr, 7), SLICE_LIT("http://")))
            start = 7;
        else if (t.len >= 8 && slice_case_eq(slice_make(t.ptr, 8), SLICE_LIT("https://")))
            start = 8;
        else
            return reject(err, 400, "invalid request-target");
        size_t end = start;
        while (end < t.len && t.ptr[end] != '/' && t.ptr[end] != '?')
            end++;
        *authority = slice_make(t.ptr + start, end - start);
        if (authority->len == 0)
            return reject(err, 400, "empty authority");
        if (memchr(authority->ptr, '@', authority->len))
            return reject(err, 400, "userinfo in request-target");
        if (!host_is_valid(*authority))
            return reject(err, 400, "invalid authority");
        rest = slice_make(t.ptr + end, t.len - end);
        /* Without a path the path is "/": the scheme's second slash, so it stays in buf. */
        slash = t.ptr + start - 1;
    }
    const char *q = memchr(rest.ptr, '?', rest.len);
    const size_t path_len = q ? (size_t)(q - rest.ptr) : rest.len;
    req->path = path_len > 0 ? slice_make(rest.ptr, path_len) : slice_make(slash, 1);
    if (q) {
        req->has_query = true;
        req->query = slice_make(q + 1, rest.len - path_len - 1);
    }
    return REQUEST_DONE;
}

/*
 * The request line (RFC 9112 §3) after any leading empty lines: method SP request-target
 * SP HTTP-version. The scan has checked the method and target bytes and both SPs, so they
 * are only located here. Leaves *pos past the line's LF.
 */
static enum request_status parse_request_line(const char *buf, size_t head_len, size_t *pos,
                                              struct request *req, struct slice *authority,
                                              struct request_error *err)
{
    size_t p = *pos;
    while (buf[p] == '\r' || buf[p] == '\n')
        p++;
    const char *const end = buf + head_len;
    const char *const method = buf + p;
    const char *const sp1 = memchr(method, ' ', (size_t)(end - method));
    const char *const target = sp1 + 1;
    const char *const sp2 = memchr(target, ' ', (size_t)(end - target));
    const char *const version = sp2 + 1;
    const char *const lf = memchr(version, '\n', (size_t)(end - version));
    assert(sp1 && sp2 && lf);
    *pos = (size_t)(lf + 1 - buf);

    struct slice v = slice_make(version, (size_t)(lf - version));
    if (v.len > 0 && v.ptr[v.len - 1] == '\r')
        v.len--;
    /* RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive. */
    if (v.len != 8 || memcmp(v.ptr, "HTTP/", 5) != 0 || !is_digit(v.ptr[5]) || v.ptr[6] != '.' ||
        !is_digit(v.ptr[7]))
        return reject(err, 400, "malformed HTTP version");
    if (v.ptr[5] == '0')
        return reject(err, 505, "HTTP/0.x not supported");
    if (v.ptr[5] != '1')
        return reject(err, 505, "HTTP/2 and above not supported here");
    /* RFC 9110 §2.5: a higher minor version is served as the highest one we implement. */
    req->version_minor = v.ptr[7] == '0' ? 0 : 1;

    /* RFC 9110 §9.1: methods are case-sensitive; a token we do not implement is a 501. */
    req->method_name = slice_make(method, (size_t)(sp1 - method));
    req->method = HTTP_METHOD_COUNT;
    for (int m = 0; m < HTTP_METHOD_COUNT; m++) {
        if (slice_eq(req->method_name, method_names[m])) {
            req->method = (enum http_method)m;
            break;
        }
    }
    if (req->method == HTTP_METHOD_COUNT)
        return reject(err, 501, "method not implemented");

    req->target = slice_make(target, (size_t)(sp2 - target));
    return parse_target(req, authority, err);
}

/*
 * One field line at buf[*pos] (RFC 9112 §5): field-name ":" OWS field-value OWS, ended by
 * CRLF or LF. Stores it and hands known fields to their handler. Leaves *pos past the LF.
 */
static enum request_status parse_field(const char *buf, size_t *pos, struct head_state *st,
                                       struct request_error *err)
{
    struct request *req = st->req;
    size_t p = *pos;
    /* RFC 9112 §5.2: a line starting with whitespace is obs-fold; refused, not unfolded. */
    if (is_ows(buf[p]))
        return reject(err, 400, "obs-fold");
    const size_t name_start = p;
    while (is_class(buf[p], CC_TCHAR))
        p++;
    if (buf[p] != ':') {
        /* RFC 9112 §5.1: no whitespace is allowed between the field name and the colon. */
        if (is_ows(buf[p]))
            return reject(err, 400, "whitespace before colon");
        if (buf[p] == '\r' && buf[p + 1] != '\n')
            return reject(err, 400, "bare CR");
        if (buf[p] == '\r' || buf[p] == '\n')
            return reject(err, 400, "field line without colon");
        return reject(err, 400, "invalid character in field name");
    }
    if (p == name_start)
        return reject(err, 400, "empty field name");
    const struct slice name = slice_make(buf + name_start, p - name_start);

    p++;
    while (is_ows(buf[p]))
        p++;
    const size_t value_start = p;
    while (is_class(buf[p], CC_VALUE))
        p++;
    size_t value_end = p;
    /* RFC 9112 §2.2: a CR is only allowed right before the LF; elsewhere it is refused. */
    if (buf[p] == '\r') {
        if (buf[p + 1] != '\n')
            return reject(err, 400, "bare CR");
        p++;
    } else if (buf[p] != '\n') {
        /* RFC 9110 §5.5: NUL, other controls and DEL are invalid in a field value. */
        return reject(err, 400,
                      buf[p] == '\0' ? "NUL in field value" : "control character in field value");
    }
    *pos = p + 1;
    while (value_end > value_start && is_ows(buf[value_end - 1]))
        value_end--;
    const struct slice value = slice_make(buf + value_start, value_end - value_start);

    if (req->n_headers == REQUEST_MAX_HEADERS)
        return reject(err, 431, "too many header fields");
    req->headers[req->n_headers++] = (struct header){name, value};
    const struct known_header *k = known_find(name);
    if (!k)
        return REQUEST_DONE;
    if (!req->known[k->id].ptr)
        req->known[k->id] = value;
    return k->handle ? k->handle(st, value, err) : REQUEST_DONE;
}

/* The checks that need every field line: Host, framing and persistence. */
static enum request_status head_finish(struct head_state *st, struct slice authority,
                                       struct request_error *err)
{
    struct request *req = st->req;
    /* RFC 9112 §3.2.2: the authority of an absolute-form target replaces Host. */
    if (authority.ptr)
        req->known[HDR_HOST] = authority;
    else if (st->n_host == 0 && req->version_minor == 1)
        return reject(err, 400, "missing Host"); /* RFC 9112 §3.2 */
    if (st->has_te) {
        /* RFC 9112 §6.1: a message with both may be an attempt at request smuggling; we
         * refuse it rather than pick one. */
        if (req->has_content_length)
            return reject(err, 400, "Content-Length with Transfer-Encoding");
        /* RFC 9112 §6.3: if chunked is not the final coding, the length is unknowable. */
        if (!st->te_ends_chunked)
            return reject(err, 400, "final transfer coding is not chunked");
        if (st->te_other)
            return reject(err, 501, "unsupported transfer coding");
        req->chunked = true;
    }
    /* RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive". */
    req->keep_alive = !st->conn_close && (req->version_minor == 1 || st->conn_keep_alive);
    return REQUEST_DONE;
}

/* Parses the complete head buf[0..head_len), which the scan found to end in an empty line. */
static enum request_status parse_head(const char *buf, size_t head_len, struct request *req,
                                      struct request_error *err)
{
    req->has_query = false;
    req->n_headers = 0;
    for (int i = 0; i < HDR_COUNT; i++)
        req->known[i] = slice_make(NULL, 0);
    req->content_length = 0;
    req->has_content_length = false;
    req->chunked = false;
    req->keep_alive = false;
    req->expect_continue = false;
    req->head_len = head_len;

    struct head_state st = {.req = req};
    struct slice authority = slice_make(NULL, 0);
    size_t p = 0;
    enum request_status rc = parse_request_line(buf, head_len, &p, req, &authority, err);
    if (rc != REQUEST_DONE)
        return rc;
    /* The line ends tested here are in bounds: the head ends with an LF after them. */
    while (buf[p] != '\n' && !(buf[p] == '\r' && buf[p + 1] == '\n')) {
        rc = parse_field(buf, &p, &st, err);
        if (rc != REQUEST_DONE)
            return rc;
    }
    assert(p + 1 + (buf[p] == '\r') == head_len);
    return head_finish(&st, authority, err);
}

enum request_status request_parse(const char *buf, size_t len, size_t max_header_bytes,
                                  size_t *scan, struct request *req, struct request_error *err)
{
    /* Bytes past the limit cannot belong to an acceptable head, so they are not looked at. */
    const size_t limit = len < max_header_bytes ? len : max_header_bytes;
    struct scanner s = scan_load(*scan);
    if (s.pos > limit)
        s = scan_load(0); /* fewer bytes than last time: start over rather than trust it */
    size_t head_len = 0;
    const enum request_status rc = scan_head(buf, limit, &s, &head_len, err);
    *scan = scan_store(&s);
    if (rc == REQUEST_ERROR)
        return rc;
    if (rc == REQUEST_NEED_MORE)
        return len >= max_header_bytes ? reject(err, 431, "request head too large") : rc;
    return parse_head(buf, head_len, req, err);
}

struct slice request_header(const struct request *req, struct slice name)
{
    for (unsigned i = 0; i < req->n_headers; i++)
        if (slice_case_eq(req->headers[i].name, name))
            return req->headers[i].value;
    return slice_make(NULL, 0);
}

const char *request_method_name(enum http_method m)
{
    if ((unsigned)m >= HTTP_METHOD_COUNT)
        return "?";
    return method_names[m].ptr;
}
