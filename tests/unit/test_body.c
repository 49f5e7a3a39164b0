/* SPDX-License-Identifier: MIT */
/*
 * Tests for http/body, the chunked decoder: a table of valid, incomplete and hostile bodies,
 * each decoded whole, split in two at every offset, and fed one byte per call, every piece
 * copied so that it ends against an inaccessible page (a read past the bytes given
 * crashes). All the ways of feeding a body must give the same data, status, reason, total
 * and consumed count. Then the limits (line, trailer, 63-bit size), the character classes
 * byte by byte against their RFC definitions, a large body in uneven pieces, and what a
 * call after DONE or ERROR does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http/body.h"
#include "guarded.h"

/* The input of a case, as a pointer and a length so embedded NUL bytes count. */
#define IN(s) .input = (s), .len = sizeof(s) - 1
#define DATA(s) .data = (s), .data_len = sizeof(s) - 1
#define OK(s) .status = CHUNKED_DONE, DATA(s)
#define MORE(s) .status = CHUNKED_NEED_MORE, DATA(s)
#define ERR(code) .status = CHUNKED_ERROR, .http_status = (code)
#define MAX(n) .max_bytes = (n), .has_max = true

struct body_case {
    const char *desc;
    const char *input;
    size_t len;
    enum chunked_status status;
    int http_status;  /* CHUNKED_ERROR: the status the rule decides */
    const char *data; /* the decoded bytes; NULL: not checked (errors) */
    size_t data_len;
    size_t consumed; /* CHUNKED_DONE: bytes used; 0: the whole input */
    uint64_t max_bytes;
    bool has_max; /* false: no limit */
};

static const struct body_case cases[] = {
    /* Valid bodies. */
    {.desc = "one chunk", IN("5\r\nhello\r\n0\r\n\r\n"), OK("hello")},
    {.desc = "empty body", IN("0\r\n\r\n"), OK("")},
    {.desc = "last-chunk with several zeros", IN("000\r\n\r\n"), OK("")},
    {.desc = "many chunks",
     IN("1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n4\r\nghij\r\n0\r\n\r\n"),
     OK("abcdefghij")},
    {.desc = "upper-case hex", IN("A\r\n0123456789\r\n0\r\n\r\n"), OK("0123456789")},
    {.desc = "lower-case hex", IN("a\r\n0123456789\r\n0\r\n\r\n"), OK("0123456789")},
    {.desc = "two-digit mixed-case size",
     IN("1F\r\n0123456789abcdefghijklmnopqrstu\r\n0\r\n\r\n"),
     OK("0123456789abcdefghijklmnopqrstu")},
    {.desc = "leading zeros", IN("0005\r\nhello\r\n0\r\n\r\n"), OK("hello")},
    {.desc = "more leading zeros than a 64-bit size has digits",
     IN("000000000000000000000000005\r\nhello\r\n0\r\n\r\n"),
     OK("hello")},
    {.desc = "extension without value", IN("5;name\r\nhello\r\n0\r\n\r\n"), OK("hello")},
    {.desc = "extension with a token value", IN("5;name=value\r\nhello\r\n0\r\n\r\n"), OK("hello")},
    {.desc = "extension with a quoted string",
     IN("5;name=\"quoted; value, = here\"\r\nhello\r\n0\r\n\r\n"),
     OK("hello")},
    {.desc = "quoted string with quoted-pairs",
     IN("5;a=\"x\\\"y\\\\z\\q\"\r\nhello\r\n0\r\n\r\n"),
     OK("hello")},
    {.desc = "quoted string with tab, obs-text and an escaped tab",
     IN("5;a=\"\tcaf\xc3\xa9\\\t\"\r\nhello\r\n0\r\n\r\n"),
     OK("hello")},
    {.desc = "empty quoted string", IN("5;a=\"\"\r\nhello\r\n0\r\n\r\n"), OK("hello")},
    {.desc = "several extensions", IN("5;a;b=1;c=\"2\";d\r\nhello\r\n0\r\n\r\n"), OK("hello")},
    {.desc = "BWS around ; and =",
     IN("5 ; a = 1 ;\tb\t=\t\"x\" ; c\r\nhello\r\n0\r\n\r\n"),
     OK("hello")},
    {.desc = "extension on the last chunk", IN("3\r\nabc\r\n0;final=yes\r\n\r\n"), OK("abc")},
    {.desc = "trailer fields",
     IN("5\r\nhello\r\n0\r\nX-Checksum: abc\r\nx-other:  v \t\r\n\r\n"),
     OK("hello")},
    {.desc = "trailer with an empty value and obs-text",
     IN("0\r\nX-Empty:\r\nX-U: \xff\r\n\r\n"),
     OK("")},
    {.desc = "data holding CRLFs", IN("4\r\n\r\n\r\n\r\n0\r\n\r\n"), OK("\r\n\r\n")},
    {.desc = "data holding a last-chunk", IN("5\r\n0\r\n\r\n\r\n0\r\n\r\n"), OK("0\r\n\r\n")},
    {.desc = "data holding NUL and binary", IN("4\r\n\0\xff\n\r\r\n0\r\n\r\n"), OK("\0\xff\n\r")},
    {.desc = "pipelined request after the body is not consumed",
     IN("0\r\n\r\nGET / HTTP/1.1\r\n"),
     OK(""),
     .consumed = 5},
    {.desc = "pipelined after data and trailer",
     IN("3\r\nabc\r\n0\r\nT: 1\r\n\r\nPOST"),
     OK("abc"),
     .consumed = 19},
    {.desc = "a second body after the first is not consumed",
     IN("1\r\na\r\n0\r\n\r\n1\r\nb\r\n0\r\n\r\n"),
     OK("a"),
     .consumed = 11},
    {.desc = "exactly max_bytes", IN("5\r\nhello\r\n0\r\n\r\n"), OK("hello"), MAX(5)},
    {.desc = "empty body with max_bytes 0", IN("0\r\n\r\n"), OK(""), MAX(0)},
    {.desc = "chunk size 2^63-1 is allowed", IN("7fffffffffffffff\r\nab"), MORE("ab")},
    {.desc = "2^63-1 with leading zeros", IN("007FFFFFFFFFFFFFFF\r\n"), MORE("")},

    /* Incomplete bodies. */
    {.desc = "nothing yet", IN(""), MORE("")},
    {.desc = "size only", IN("5"), MORE("")},
    {.desc = "size and CR", IN("5\r"), MORE("")},
    {.desc = "part of the data", IN("5\r\nhel"), MORE("hel")},
    {.desc = "data without its CRLF", IN("5\r\nhello"), MORE("hello")},
    {.desc = "inside a quoted extension", IN("5;a=\"x\\"), MORE("")},
    {.desc = "inside the trailer", IN("0\r\nX-A: b\r\n"), MORE("")},
    {.desc = "final CR without LF", IN("5\r\nhello\r\n0\r\n\r"), MORE("hello")},

    /* The chunk size (RFC 9112 §7.1: 1*HEXDIG, nothing else). */
    {.desc = "size overflows 64 bits", IN("ffffffffffffffffff\r\n"), ERR(400)},
    {.desc = "size 2^64 wraps to 0", IN("10000000000000000\r\n\r\n"), ERR(400)},
    {.desc = "size 2^63 is over the 63-bit limit", IN("8000000000000000\r\n"), ERR(400)},
    {.desc = "overflow is 400 even over max_bytes",
     IN("100000000000000000\r\n"),
     ERR(400),
     MAX(1u << 30)},
    {.desc = "negative size", IN("-1\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "plus sign", IN("+5\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "0x prefix", IN("0x5\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "space inside the size", IN("1 0\r\n0123456789abcdef\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "space before the size", IN(" 5\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "space after the size", IN("5 \r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "tab after the size", IN("5\t\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "junk after the size without ;", IN("5x\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "non-hex letter", IN("g\r\n"), ERR(400)},
    {.desc = "empty size line", IN("\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "NUL after the size", IN("5\0\r\nhello\r\n0\r\n\r\n"), ERR(400)},

    /* CR and LF in the framing. */
    {.desc = "bare LF after the size", IN("5\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "bare CR after the size", IN("5\rhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "CR CR LF after the size", IN("5\r\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "bare LF after the data", IN("5\r\nhello\n0\r\n\r\n"), ERR(400)},
    {.desc = "bare CR after the data", IN("5\r\nhello\r0\r\n\r\n"), ERR(400)},
    {.desc = "bare LF ending the last-chunk", IN("0\n\r\n"), ERR(400)},
    {.desc = "bare LF as the final line", IN("0\r\n\n"), ERR(400)},
    {.desc = "bare CR as the final line", IN("0\r\n\rX"), ERR(400)},
    {.desc = "LF-only framing throughout", IN("5\nhello\n0\n\n"), ERR(400)},

    /* Chunk data against its size. */
    {.desc = "missing CRLF after the data", IN("5\r\nhelloX\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "data longer than announced", IN("3\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "data shorter than announced", IN("5\r\nhel\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "no CRLF between chunks", IN("1\r\na1\r\nb\r\n0\r\n\r\n"), ERR(400)},

    /* Chunk extensions (RFC 9112 §7.1.1). */
    {.desc = "; without a name", IN("5;\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "= without a name", IN("5;=v\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "empty extension between two", IN("5;a;;b\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "invalid character in a name", IN("5;a@b\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "space inside a name", IN("5;a b\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "whitespace before CRLF after a name", IN("5;a \r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "whitespace before CRLF after a value", IN("5;a=b \r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "= without a value", IN("5;a=\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "two values", IN("5;a=b=c\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "unterminated quoted string", IN("5;a=\"abc\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "junk after a quoted string", IN("5;a=\"x\"y\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "quote inside a token", IN("5;a=b\"c\"\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "control character in a name", IN("5;a\x01\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "control character in a token", IN("5;a=\x01\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "control character in a quoted string",
     IN("5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n"),
     ERR(400)},
    {.desc = "DEL in a quoted string", IN("5;a=\"\x7f\"\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "control character in a quoted-pair",
     IN("5;a=\"\\\x01\"\r\nhello\r\n0\r\n\r\n"),
     ERR(400)},
    {.desc = "quoted-pair escaping the CR", IN("5;a=\"\\\r\n\"\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "NUL in an extension", IN("5;a\0\r\nhello\r\n0\r\n\r\n"), ERR(400)},
    {.desc = "bare LF inside an extension", IN("5;a=\"\n\"\r\nhello\r\n0\r\n\r\n"), ERR(400)},

    /* Trailer section (RFC 9112 §7.1.2), checked like header fields. */
    {.desc = "trailer with space before colon", IN("0\r\nX-A : b\r\n\r\n"), ERR(400)},
    {.desc = "trailer obs-fold", IN("0\r\nX-A: b\r\n c\r\n\r\n"), ERR(400)},
    {.desc = "trailer starting with a tab", IN("0\r\n\tX-A: b\r\n\r\n"), ERR(400)},
    {.desc = "trailer without colon", IN("0\r\nX-A\r\n\r\n"), ERR(400)},
    {.desc = "trailer with an empty name", IN("0\r\n: b\r\n\r\n"), ERR(400)},
    {.desc = "trailer name with a bad character", IN("0\r\nX(A): b\r\n\r\n"), ERR(400)},
    {.desc = "trailer with bare LF", IN("0\r\nX-A: b\n\r\n"), ERR(400)},
    {.desc = "trailer with bare CR", IN("0\r\nX-A: b\rc\r\n\r\n"), ERR(400)},
    {.desc = "trailer with a control character", IN("0\r\nX-A: b\x01\r\n\r\n"), ERR(400)},
    {.desc = "trailer with NUL", IN("0\r\nX-A: \0\r\n\r\n"), ERR(400)},
    {.desc = "trailer with DEL", IN("0\r\nX-A: \x7f\r\n\r\n"), ERR(400)},

    /* max_bytes (413 as soon as a size announces too much). */
    {.desc = "one chunk over max_bytes, before its data", IN("6\r\n"), ERR(413), MAX(5)},
    {.desc = "over max_bytes, decided at ;", IN("6;"), ERR(413), MAX(5)},
    {.desc = "the sum over max_bytes", IN("3\r\nabc\r\n3\r\n"), ERR(413), MAX(5)},
    {.desc = "any data over max_bytes 0", IN("1\r\na\r\n0\r\n\r\n"), ERR(413), MAX(0)},
    {.desc = "2^63-1 over a large max_bytes",
     IN("7fffffffffffffff\r\n"),
     ERR(413),
     MAX(UINT64_MAX / 2 - 1)},
};

enum { N_CASES = sizeof(cases) / sizeof(cases[0]) };

/* What decoding a body gave, however it was fed. */
struct outcome {
    enum chunked_status status;
    struct request_error err;
    char *data; /* the decoded bytes of every call, in order */
    size_t data_len;
    uint64_t total;
    size_t consumed;    /* input bytes used, counted from the start of the body */
    const char *broken; /* an invariant a call broke, or NULL */
};

/*
 * Feeds input[0..len) to a fresh decoder in pieces ending at cuts[0] < cuts[1] < … < len,
 * each piece on its own against the guard page, as a connection would after it has taken
 * the data out of the buffer. Stops at DONE or ERROR.
 */
static void feed(const struct guarded *g, const char *input, size_t len, uint64_t max_bytes,
                 const size_t *cuts, size_t n_cuts, struct outcome *o)
{
    struct chunked st;
    chunked_init(&st);
    free(o->data);
    *o = (struct outcome){.status = CHUNKED_NEED_MORE, .data = malloc(len ? len : 1)};
    assert_non_null(o->data);
    size_t start = 0;
    for (size_t i = 0; i <= n_cuts; i++) {
        const size_t end = i < n_cuts ? cuts[i] : len;
        const size_t n = end - start;
        char *buf = guarded_put(g, input + start, n);
        size_t consumed = SIZE_MAX, data_len = SIZE_MAX;
        o->status = chunked_decode(&st, buf, n, max_bytes, &consumed, &data_len, &o->err);
        if (consumed > n)
            o->broken = "consumed more than given";
        else if (data_len > consumed)
            o->broken = "more data than bytes consumed";
        else if (o->status == CHUNKED_NEED_MORE && consumed != n)
            o->broken = "NEED_MORE without consuming everything";
        if (o->broken)
            return;
        memcpy(o->data + o->data_len, buf, data_len);
        o->data_len += data_len;
        o->consumed = start + consumed;
        o->total = st.total;
        if (o->status != CHUNKED_NEED_MORE)
            return;
        start = end;
    }
}

static uint64_t case_max(const struct body_case *c)
{
    return c->has_max ? c->max_bytes : UINT64_MAX;
}

/* Compares an outcome with the case; prints what differs and returns false if anything. */
static bool check(const struct body_case *c, const char *how, const struct outcome *o)
{
    bool ok = true;
#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error("%s (%s): expected %s\n", c->desc, how, #cond);                            \
            ok = false;                                                                            \
        }                                                                                          \
    } while (0)
    EXPECT(o->broken == NULL);
    if (o->broken) {
        print_error("  %s\n", o->broken);
        return false;
    }
    EXPECT(o->status == c->status);
    if (o->status == CHUNKED_ERROR) {
        EXPECT(o->err.status == c->http_status);
        EXPECT(o->err.reason != NULL && o->err.reason[0] != '\0');
    }
    if (o->status == CHUNKED_ERROR && (o->status != c->status || o->err.status != c->http_status))
        print_error("  got %d %s\n", o->err.status, o->err.reason);
    if (c->data) {
        EXPECT(o->data_len == c->data_len && memcmp(o->data, c->data, c->data_len) == 0);
        EXPECT(o->total == c->data_len);
    }
    EXPECT(o->total == o->data_len);
    if (c->status == CHUNKED_DONE)
        EXPECT(o->consumed == (c->consumed ? c->consumed : c->len));
    else if (c->status == CHUNKED_NEED_MORE)
        EXPECT(o->consumed == c->len);
#undef EXPECT
    return ok;
}

/* Two outcomes of the same body agree in everything (the reason too: the same rule). */
static bool same(const struct body_case *c, const char *how, const struct outcome *a,
                 const struct outcome *b)
{
    if (b->broken) {
        print_error("%s (%s): %s\n", c->desc, how, b->broken);
        return false;
    }
    const bool ok = a->status == b->status && a->data_len == b->data_len &&
                    memcmp(a->data, b->data, a->data_len) == 0 && a->total == b->total &&
                    a->consumed == b->consumed &&
                    (a->status != CHUNKED_ERROR ||
                     (a->err.status == b->err.status && a->err.reason == b->err.reason));
    if (!ok)
        print_error("%s (%s): status %d/%d, data %zu/%zu, consumed %zu/%zu, err %s/%s\n", c->desc,
                    how, (int)a->status, (int)b->status, a->data_len, b->data_len, a->consumed,
                    b->consumed, a->status == CHUNKED_ERROR ? a->err.reason : "-",
                    b->status == CHUNKED_ERROR ? b->err.reason : "-");
    return ok;
}

static void test_cases_whole(void **state)
{
    (void)state;
    struct guarded g = guarded_map(1);
    struct outcome o = {0};
    unsigned failed = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        feed(&g, cases[i].input, cases[i].len, case_max(&cases[i]), NULL, 0, &o);
        failed += !check(&cases[i], "whole", &o);
    }
    free(o.data);
    guarded_unmap(&g);
    assert_int_equal(failed, 0);
}

/* Each case in two calls split at every offset (an empty first call included), and in
 * three calls around every offset. */
static void test_cases_split(void **state)
{
    (void)state;
    struct guarded g = guarded_map(1);
    struct outcome whole = {0}, split = {0};
    unsigned failed = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        const struct body_case *c = &cases[i];
        feed(&g, c->input, c->len, case_max(c), NULL, 0, &whole);
        for (size_t k = 0; k <= c->len; k++) {
            char how[48];
            snprintf(how, sizeof(how), "split at %zu", k);
            feed(&g, c->input, c->len, case_max(c), &k, 1, &split);
            failed += !check(c, how, &split) || !same(c, how, &whole, &split);
            if (k == 0 || k == c->len)
                continue;
            const size_t three[2] = {k - 1, k + 1 < c->len ? k + 1 : c->len};
            snprintf(how, sizeof(how), "split at %zu and %zu", three[0], three[1]);
            feed(&g, c->input, c->len, case_max(c), three, 2, &split);
            failed += !check(c, how, &split) || !same(c, how, &whole, &split);
        }
    }
    free(whole.data);
    free(split.data);
    guarded_unmap(&g);
    assert_int_equal(failed, 0);
}

/* Each case one byte per call, every byte alone against the guard page. */
static void test_cases_trickle(void **state)
{
    (void)state;
    struct guarded g = guarded_map(1);
    struct outcome whole = {0}, trickle = {0};
    size_t cuts[512];
    unsigned failed = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        const struct body_case *c = &cases[i];
        assert_true(c->len <= sizeof(cuts) / sizeof(cuts[0]));
        for (size_t k = 1; k < c->len; k++)
            cuts[k - 1] = k;
        feed(&g, c->input, c->len, case_max(c), NULL, 0, &whole);
        feed(&g, c->input, c->len, case_max(c), cuts, c->len ? c->len - 1 : 0, &trickle);
        failed += !check(c, "one byte per call", &trickle) ||
                  !same(c, "one byte per call", &whole, &trickle);
    }
    free(whole.data);
    free(trickle.data);
    guarded_unmap(&g);
    assert_int_equal(failed, 0);
}

/* Decodes a built body whole, one byte per call and in pieces of a few odd sizes; all
 * must agree, and the whole run must give `want` (and `want_status` on error). */
static void feed_all_ways(const char *in, size_t len, uint64_t max_bytes, enum chunked_status want,
                          int want_status, struct outcome *whole)
{
    struct guarded g = guarded_map((len + 4095) / 4096 + 1);
    struct outcome other = {0};
    size_t *cuts = malloc((len + 1) * sizeof(*cuts));
    assert_non_null(cuts);
    feed(&g, in, len, max_bytes, NULL, 0, whole);
    assert_null(whole->broken);
    assert_int_equal(whole->status, want);
    if (want == CHUNKED_ERROR)
        assert_int_equal(whole->err.status, want_status);
    static const size_t steps[] = {1, 7, 1000, 4093};
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        size_t n = 0;
        for (size_t k = steps[s]; k < len; k += steps[s])
            cuts[n++] = k;
        feed(&g, in, len, max_bytes, cuts, n, &other);
        const struct body_case c = {.desc = "built body"};
        char how[32];
        snprintf(how, sizeof(how), "pieces of %zu", steps[s]);
        assert_true(same(&c, how, whole, &other));
    }
    free(other.data);
    free(cuts);
    guarded_unmap(&g);
}

/* A size line of exactly CHUNK_LINE_MAX bytes before its CRLF passes; one more is a 400. */
static void test_line_limit(void **state)
{
    (void)state;
    static char in[CHUNK_LINE_MAX + 64];
    struct outcome o = {0};
    for (int extra = 0; extra <= 1; extra++) {
        /* "1;" then a name filling the line, then the data. */
        const size_t line = CHUNK_LINE_MAX + (size_t)extra;
        in[0] = '1';
        in[1] = ';';
        memset(in + 2, 'e', line - 2);
        size_t len = line;
        memcpy(in + len, "\r\nx\r\n0\r\n\r\n", 10);
        len += 10;
        feed_all_ways(in, len, UINT64_MAX, extra ? CHUNKED_ERROR : CHUNKED_DONE, 400, &o);
        if (!extra)
            assert_true(o.data_len == 1 && o.data[0] == 'x');
    }
    free(o.data);
}

/* A trailer section of exactly CHUNK_TRAILER_MAX bytes (field lines with their CRLFs, not
 * the final CRLF) passes; one more byte is a 400. */
static void test_trailer_limit(void **state)
{
    (void)state;
    static char in[CHUNK_TRAILER_MAX + 64];
    struct outcome o = {0};
    for (int extra = 0; extra <= 1; extra++) {
        size_t len = 0;
        memcpy(in, "0\r\n", 3);
        len = 3;
        size_t trailer = 0;
        while (trailer < CHUNK_TRAILER_MAX + (size_t)extra) {
            /* Lines "T: vvv…\r\n" of up to 100 bytes, the last one filling the budget. */
            size_t n = CHUNK_TRAILER_MAX + (size_t)extra - trailer;
            if (n > 100)
                n = 100;
            if (n < 5)
                n = 5;
            memcpy(in + len, "T:", 2);
            memset(in + len + 2, 'v', n - 4);
            memcpy(in + len + n - 2, "\r\n", 2);
            len += n;
            trailer += n;
        }
        assert_int_equal(trailer, CHUNK_TRAILER_MAX + (size_t)extra);
        memcpy(in + len, "\r\n", 2);
        len += 2;
        feed_all_ways(in, len, UINT64_MAX, extra ? CHUNKED_ERROR : CHUNKED_DONE, 400, &o);
        if (!extra)
            assert_int_equal(o.consumed, len);
    }
    free(o.data);
}

/* A 300 KB body in chunks of uneven sizes, compared with the bytes that went in. */
static void test_large_body(void **state)
{
    (void)state;
    enum { DATA_BYTES = 300000 };
    char *data = malloc(DATA_BYTES);
    char *in = malloc(DATA_BYTES + 4096);
    assert_non_null(data);
    assert_non_null(in);
    for (size_t i = 0; i < DATA_BYTES; i++)
        data[i] = (char)(i * 2654435761u >> 13);
    size_t len = 0, off = 0, chunk = 1;
    while (off < DATA_BYTES) {
        size_t n = chunk < DATA_BYTES - off ? chunk : DATA_BYTES - off;
        len += (size_t)snprintf(in + len, 64, "%zX;i=%zu\r\n", n, off);
        memcpy(in + len, data + off, n);
        len += n;
        memcpy(in + len, "\r\n", 2);
        len += 2;
        off += n;
        chunk = chunk * 3 + 1;
    }
    len += (size_t)snprintf(in + len, 64, "0\r\nDigest: x\r\n\r\n");
    struct outcome o = {0};
    feed_all_ways(in, len, UINT64_MAX, CHUNKED_DONE, 0, &o);
    assert_int_equal(o.data_len, DATA_BYTES);
    assert_memory_equal(o.data, data, DATA_BYTES);
    assert_int_equal(o.consumed, len);
    /* One byte under the total is a 413, with no more than the limit decoded. */
    feed_all_ways(in, len, DATA_BYTES - 1, CHUNKED_ERROR, 413, &o);
    assert_true(o.data_len < DATA_BYTES);
    free(o.data);
    free(in);
    free(data);
}

/* Independent definitions from the RFCs, to check the decoder's classes byte by byte. */
static bool rfc_tchar(int b)
{
    return b != 0 && ((b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
                      strchr("!#$%&'*+-.^_`|~", b));
}

static bool rfc_hexdig(int b)
{
    return b != 0 && strchr("0123456789abcdefABCDEF", b);
}

static bool rfc_qdtext(int b)
{
    return b == '\t' || b == ' ' || b == 0x21 || (b >= 0x23 && b <= 0x5b) ||
           (b >= 0x5d && b <= 0x7e) || b >= 0x80;
}

static bool rfc_field_char(int b)
{
    return (b >= 0x21 && b <= 0x7e) || b >= 0x80 || b == ' ' || b == '\t';
}

/* In "T%c:v" a ':' ends the name early and leaves a valid field. */
static bool rfc_tchar_or_colon(int b)
{
    return rfc_tchar(b) || b == ':';
}

/* The status of decoding a template with "%c" replaced by byte b. */
static enum chunked_status decode_with_byte(const char *tmpl, int b)
{
    char buf[64];
    const char *pct = strstr(tmpl, "%c");
    const size_t pre = (size_t)(pct - tmpl), post = strlen(pct + 2);
    memcpy(buf, tmpl, pre);
    buf[pre] = (char)b;
    memcpy(buf + pre + 1, pct + 2, post);
    struct chunked st;
    chunked_init(&st);
    size_t consumed, data_len;
    struct request_error err;
    return chunked_decode(&st, buf, pre + 1 + post, UINT64_MAX, &consumed, &data_len, &err);
}

static void test_char_classes(void **state)
{
    (void)state;
    static const struct {
        const char *tmpl;
        bool (*allowed)(int);
    } classes[] = {
        {"%c\r\n", rfc_hexdig}, /* NEED_MORE after a valid size line */
        {"1;a%c\r\n", rfc_tchar},
        {"1;a=b%c\r\n", rfc_tchar},
        {"1;a=\"%c\"\r\n", rfc_qdtext},
        {"1;a=\"\\%c\"\r\n", rfc_field_char},
        {"0\r\nT%c:v\r\n\r\n", rfc_tchar_or_colon},
        {"0\r\nT:%c\r\n\r\n", rfc_field_char},
    };
    for (size_t k = 0; k < sizeof(classes) / sizeof(classes[0]); k++) {
        for (int b = 0; b < 256; b++) {
            const enum chunked_status st = decode_with_byte(classes[k].tmpl, b);
            if ((st != CHUNKED_ERROR) != classes[k].allowed(b))
                fail_msg("%s with byte 0x%02x: status %d", classes[k].tmpl, b, (int)st);
        }
    }
}

/* After DONE the decoder stays done and takes nothing; after ERROR it repeats the status. */
static void test_after_the_end(void **state)
{
    (void)state;
    char buf[] = "0\r\n\r\nGET";
    struct chunked st;
    chunked_init(&st);
    size_t consumed, data_len;
    struct request_error err = {0};
    assert_int_equal(chunked_decode(&st, buf, 8, 0, &consumed, &data_len, &err), CHUNKED_DONE);
    assert_int_equal(consumed, 5);
    assert_int_equal(chunked_decode(&st, buf + 5, 3, 0, &consumed, &data_len, &err), CHUNKED_DONE);
    assert_int_equal(consumed, 0);
    assert_int_equal(data_len, 0);

    char big[] = "9\r\n";
    chunked_init(&st);
    assert_int_equal(chunked_decode(&st, big, 3, 8, &consumed, &data_len, &err), CHUNKED_ERROR);
    assert_int_equal(err.status, 413);
    err = (struct request_error){0};
    assert_int_equal(chunked_decode(&st, big, 3, 8, &consumed, &data_len, &err), CHUNKED_ERROR);
    assert_int_equal(err.status, 413);
    assert_non_null(err.reason);

    char bad[] = "z";
    chunked_init(&st);
    assert_int_equal(chunked_decode(&st, bad, 1, 8, &consumed, &data_len, &err), CHUNKED_ERROR);
    assert_int_equal(err.status, 400);
    assert_int_equal(chunked_decode(&st, bad, 1, 8, &consumed, &data_len, &err), CHUNKED_ERROR);
    assert_int_equal(err.status, 400);

    /* chunked_init makes a used decoder new again. */
    char again[] = "1\r\nq\r\n0\r\n\r\n";
    chunked_init(&st);
    assert_int_equal(chunked_decode(&st, again, 11, 8, &consumed, &data_len, &err), CHUNKED_DONE);
    assert_int_equal(data_len, 1);
    assert_int_equal(again[0], 'q');
    assert_int_equal(st.total, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases_whole),   cmocka_unit_test(test_cases_split),
        cmocka_unit_test(test_cases_trickle), cmocka_unit_test(test_line_limit),
        cmocka_unit_test(test_trailer_limit), cmocka_unit_test(test_large_body),
        cmocka_unit_test(test_char_classes),  cmocka_unit_test(test_after_the_end),
    };
    printf("test_body: %d table cases\n", (int)N_CASES);
    return cmocka_run_group_tests_name("body", tests, NULL, NULL);
}
