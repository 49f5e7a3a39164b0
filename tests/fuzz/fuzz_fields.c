/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the parsers of single header and query values that a client
 * controls: Range, If-None-Match/If-Match lists, Accept-Encoding, HTTP dates, the listing's
 * query string and Accept, the Cookie header, Origin against Host, and Basic credentials.
 * The first input byte picks the parser, the next eight give a number it needs (a size, a
 * mask); the rest, in an exact-size block, is the value. Besides crashes and over-reads it
 * checks what each caller relies on:
 *   - range_parse: 0, 206 or 416; a 206 holds 1..RANGE_MAX non-empty ranges inside the
 *     size, in order, not overlapping;
 *   - encoding_negotiate: identity or an encoding that was offered;
 *   - date_parse_http: a date it accepts formats back to a value it parses to the same time;
 *   - the listing query: known values only;
 *   - auth_cookie_find: the value lies inside the header, "mica_session =" before it;
 *   - auth_parse_basic: user and password NUL-terminated inside the output, no control
 *     byte, and the user has no colon;
 *   - forms_same_origin (a form's _redirect): what it lets through has no control byte,
 *     space or backslash, does not start with "//", and names no scheme but http(s) with
 *     exactly the request's host.
 * Linked with tests/fuzz/replay.c instead of libFuzzer, it replays the corpus in `make test`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "handlers/auth.h"
#include "handlers/forms.h"
#include "handlers/listing.h"
#include "http/cond.h"
#include "http/date.h"
#include "http/encoding.h"

static void check_range(struct slice v, uint64_t size)
{
    struct range_set rs;
    int r = range_parse(v, size, &rs);
    CHECK(r == 0 || r == 206 || r == 416);
    if (r != 206)
        return;
    CHECK(rs.n >= 1 && rs.n <= RANGE_MAX);
    uint64_t end = 0;
    for (unsigned i = 0; i < rs.n; i++) {
        const struct byte_range *b = &rs.r[i];
        CHECK(b->len > 0 && b->start < size && b->len <= size - b->start);
        CHECK(i == 0 || b->start >= end);
        end = b->start + b->len;
    }
}

static void check_etags(struct slice v, uint64_t n)
{
    static const char *const tags[] = {"\"abc\"", "W/\"abc\"", "\"\"", "\"x-gzip\""};
    const char *tag = tags[n % 4];
    bool weak = cond_etag_match(v, slice_str(tag), true);
    bool strong = cond_etag_match(v, slice_str(tag), false);
    CHECK(!strong || weak); /* what matches strongly matches weakly */
}

static void check_encoding(struct slice v, uint64_t n)
{
    unsigned available = (unsigned)n & ((1u << ENC_COUNT) - 1) & ~1u;
    enum encoding e = encoding_negotiate(v, available);
    CHECK(e == ENC_IDENTITY || (e < ENC_COUNT && (available & (1u << e))));
}

static void check_date(struct slice v)
{
    time_t t;
    if (!date_parse_http(v, &t))
        return;
    if (t < 0 || t > (time_t)253402300799) /* formats only years 0000-9999 */
        return;
    char text[DATE_HTTP_LEN + 1];
    date_http(t, text);
    time_t back;
    CHECK(date_parse_http(slice_str(text), &back));
    CHECK(back == t);
}

static void check_query(struct slice v)
{
    struct listing_query q;
    listing_parse_query(v, &q);
    CHECK(q.format == LISTING_FORMAT_AUTO || q.format == LISTING_FORMAT_HTML ||
          q.format == LISTING_FORMAT_JSON);
    (void)listing_wants_json(&q, v);
}

static void check_cookie(struct slice v)
{
    struct slice value;
    if (!auth_cookie_find(v, &value))
        return;
    CHECK(value.ptr >= v.ptr && value.ptr + value.len <= v.ptr + v.len);
    /* Before it: "mica_session", '=', with optional blanks around the '=' (RFC 6265 §5.2). */
    const char *p = value.ptr;
    while (p > v.ptr && (p[-1] == ' ' || p[-1] == '\t'))
        p--;
    CHECK(p > v.ptr && p[-1] == '=');
    p--;
    while (p > v.ptr && (p[-1] == ' ' || p[-1] == '\t'))
        p--;
    static const char name[] = "mica_session";
    CHECK(p - v.ptr >= (ptrdiff_t)(sizeof(name) - 1));
    CHECK(memcmp(p - (sizeof(name) - 1), name, sizeof(name) - 1) == 0);
}

static void check_origin(struct slice v, uint64_t n)
{
    const char *nl = memchr(v.ptr, '\n', v.len);
    struct slice origin = nl ? slice_make(v.ptr, (size_t)(nl - v.ptr)) : v;
    struct slice host =
        nl ? slice_make(nl + 1, v.len - (size_t)(nl - v.ptr) - 1) : slice_make(NULL, 0);
    (void)auth_same_origin(origin, host, n & 1);
}

static void check_basic(struct slice v)
{
    static char out[AUTH_BASIC_MAX];
    const char *user, *password;
    if (!auth_parse_basic(v, out, &user, &password))
        return;
    CHECK(user >= out && user < out + AUTH_BASIC_MAX);
    CHECK(password > user && password < out + AUTH_BASIC_MAX);
    size_t ulen = strnlen(user, (size_t)(out + AUTH_BASIC_MAX - user));
    size_t plen = strnlen(password, (size_t)(out + AUTH_BASIC_MAX - password));
    CHECK(user + ulen < out + AUTH_BASIC_MAX && password + plen < out + AUTH_BASIC_MAX);
    CHECK(memchr(user, ':', ulen) == NULL);
    for (size_t i = 0; i < ulen; i++)
        CHECK((unsigned char)user[i] >= 0x20 && user[i] != 0x7f);
    for (size_t i = 0; i < plen; i++)
        CHECK((unsigned char)password[i] >= 0x20 && password[i] != 0x7f);
}

/* A _redirect target, then "\n" and the Host it is checked against. */
static void check_redirect(struct slice v)
{
    const char *nl = memchr(v.ptr, '\n', v.len);
    struct slice t = nl ? slice_make(v.ptr, (size_t)(nl - v.ptr)) : v;
    struct slice host =
        nl ? slice_make(nl + 1, v.len - (size_t)(nl - v.ptr) - 1) : slice_make(NULL, 0);
    if (!forms_same_origin(t, host))
        return;
    CHECK(t.len > 0);
    for (size_t i = 0; i < t.len; i++)
        CHECK((unsigned char)t.ptr[i] > 0x20 && t.ptr[i] != 0x7f && t.ptr[i] != '\\');
    CHECK(!(t.len >= 2 && t.ptr[0] == '/' && t.ptr[1] == '/'));
    size_t first = 0;
    while (first < t.len && t.ptr[first] != '/' && t.ptr[first] != '?' && t.ptr[first] != '#')
        first++;
    if (!memchr(t.ptr, ':', first))
        return; /* a path or a relative reference: this site */
    size_t skip = t.len > 7 && strncasecmp(t.ptr, "http://", 7) == 0    ? 7
                  : t.len > 8 && strncasecmp(t.ptr, "https://", 8) == 0 ? 8
                                                                         : 0;
    CHECK(skip > 0);
    size_t end = skip;
    while (end < t.len && t.ptr[end] != '/' && t.ptr[end] != '?' && t.ptr[end] != '#')
        end++;
    CHECK(end - skip == host.len && strncasecmp(t.ptr + skip, host.ptr, host.len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9)
        return 0;
    uint64_t n = 0;
    memcpy(&n, data + 1, 8);
    size_t len = size - 9;
    char *copy = malloc(len ? len : 1); /* exact size: a read past it is caught */
    if (!copy)
        return 0;
    memcpy(copy, data + 9, len);
    struct slice v = slice_make(copy, len);
    /* 248 and above: the newest parser (the corpus kept its mapping for the others). */
    switch (data[0] < 248 ? data[0] % 8 : 8) {
    case 0:
        check_range(v, n);
        break;
    case 1:
        check_etags(v, n);
        break;
    case 2:
        check_encoding(v, n);
        break;
    case 3:
        check_date(v);
        break;
    case 4:
        check_query(v);
        break;
    case 5:
        check_cookie(v);
        break;
    case 6:
        check_origin(v, n);
        break;
    case 7:
        check_basic(v);
        break;
    case 8:
        check_redirect(v);
        break;
    }
    free(copy);
    return 0;
}
