/* SPDX-License-Identifier: MIT */
/*
 * Tests for http/cond: tables for cond_evaluate (each precondition alone, then together in
 * the order of RFC 9110 §13.2.2), cond_etag_match, cond_if_range and range_parse, plus the
 * RANGE_MAX boundary. Requests are built the way the server builds them, by request_parse()
 * on a literal head, so lists spread over several field lines are tested for real.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "http/cond.h"
#include "http/date.h"
#include "http/request.h"

/* The representation's Last-Modified, and HTTP-dates one second around it. */
enum { LM = 784111777 }; /* Sun, 06 Nov 1994 08:49:37 GMT */
#define D_LM "Sun, 06 Nov 1994 08:49:37 GMT"
#define D_BEFORE "Sun, 06 Nov 1994 08:49:36 GMT"
#define D_AFTER "Sun, 06 Nov 1994 08:49:38 GMT"
#define D_LM_850 "Sunday, 06-Nov-94 08:49:37 GMT"
#define D_LM_ASCTIME "Sun Nov  6 08:49:37 1994"

/* The representation's ETag unless a case names another. */
#define ETAG "\"v1\""

/* Parses "<method> / HTTP/1.1", Host and the given field lines into *req (slices into buf). */
static void head_parse(char *buf, size_t cap, const char *method, const char *fields,
                       struct request *req)
{
    const int n = snprintf(buf, cap, "%s / HTTP/1.1\r\nHost: a\r\n%s\r\n", method ? method : "GET",
                           fields ? fields : "");
    assert_true(n > 0 && (size_t)n < cap);
    struct request_error err = {0};
    size_t scan = 0;
    if (request_parse(buf, (size_t)n, (size_t)n, &scan, req, &err) != REQUEST_DONE)
        fail_msg("test head does not parse: %d %s\n%s", err.status, err.reason, buf);
}

struct eval_case {
    const char *desc;
    const char *method; /* NULL: GET */
    const char *fields; /* field lines, each ending in CRLF */
    const char *etag;   /* NULL: ETAG; "": the representation has none */
    int want;
};

static const struct eval_case eval_cases[] = {
    {"no preconditions", NULL, NULL, NULL, 0},
    {"unrelated fields only", NULL, "Accept: */*\r\nIf-Something: \"v1\"\r\n", NULL, 0},

    /* If-None-Match alone (§13.1.2: weak comparison). */
    {"If-None-Match equal: 304", NULL, "If-None-Match: \"v1\"\r\n", NULL, 304},
    {"If-None-Match equal on HEAD: 304", "HEAD", "If-None-Match: \"v1\"\r\n", NULL, 304},
    {"If-None-Match different: proceed", NULL, "If-None-Match: \"v2\"\r\n", NULL, 0},
    {"If-None-Match match in the middle of a list", NULL, "If-None-Match: \"a\", \"v1\", \"b\"\r\n",
     NULL, 304},
    {"If-None-Match W/ in the request, weak comparison: 304", NULL, "If-None-Match: W/\"v1\"\r\n",
     NULL, 304},
    {"If-None-Match strong against a weak ETag: 304", NULL, "If-None-Match: \"v1\"\r\n", "W/\"v1\"",
     304},
    {"If-None-Match both weak: 304", NULL, "If-None-Match: W/\"v1\"\r\n", "W/\"v1\"", 304},
    {"If-None-Match is case-sensitive", NULL, "If-None-Match: \"V1\"\r\n", NULL, 0},
    {"If-None-Match *: 304", NULL, "If-None-Match: *\r\n", NULL, 304},
    {"If-None-Match * without an ETag still matches", NULL, "If-None-Match: *\r\n", "", 304},
    {"If-None-Match tag, representation without ETag", NULL, "If-None-Match: \"v1\"\r\n", "", 0},
    {"If-None-Match match on POST: 412", "POST", "If-None-Match: \"v1\"\r\n", NULL, 412},
    {"If-None-Match * on PUT: 412", "PUT", "If-None-Match: *\r\n", NULL, 412},
    {"If-None-Match match on DELETE: 412", "DELETE", "If-None-Match: W/\"v1\"\r\n", NULL, 412},
    {"If-None-Match no match on POST: proceed", "POST", "If-None-Match: \"x\"\r\n", NULL, 0},
    {"If-None-Match list over two lines", NULL,
     "If-None-Match: \"a\"\r\nX-Other: 1\r\nIf-None-Match: \"b\", \"v1\"\r\n", NULL, 304},
    {"If-None-Match second line in lower case", NULL,
     "If-None-Match: \"a\"\r\nif-none-match: \"v1\"\r\n", NULL, 304},
    {"If-None-Match over two lines, no match", NULL,
     "If-None-Match: \"a\"\r\nIf-None-Match: \"b\"\r\n", NULL, 0},
    {"If-None-Match empty list elements are skipped", NULL, "If-None-Match: , ,\"v1\",\r\n", NULL,
     304},
    {"If-None-Match comma inside an opaque-tag", NULL, "If-None-Match: \"a,b\"\r\n", "\"a,b\"",
     304},
    {"If-None-Match obs-text in an opaque-tag", NULL, "If-None-Match: \"caf\xc3\xa9\"\r\n",
     "\"caf\xc3\xa9\"", 304},
    {"If-None-Match empty opaque-tag", NULL, "If-None-Match: \"\"\r\n", "\"\"", 304},
    {"If-None-Match malformed: no quotes", NULL, "If-None-Match: v1\r\n", NULL, 0},
    {"If-None-Match malformed element after a match", NULL, "If-None-Match: \"v1\", v2\r\n", NULL,
     0},
    {"If-None-Match malformed second line spoils the first", NULL,
     "If-None-Match: \"v1\"\r\nIf-None-Match: bad\r\n", NULL, 0},
    {"If-None-Match unterminated quote", NULL, "If-None-Match: \"v1\r\n", NULL, 0},
    {"If-None-Match lower-case w/ is not weak", NULL, "If-None-Match: w/\"v1\"\r\n", NULL, 0},
    {"If-None-Match two tags without a comma", NULL, "If-None-Match: \"v1\"\"v2\"\r\n", NULL, 0},
    {"If-None-Match space inside a tag", NULL, "If-None-Match: \"v 1\"\r\n", "\"v 1\"", 0},
    {"If-None-Match * with a tag on another line is malformed", NULL,
     "If-None-Match: *\r\nIf-None-Match: \"x\"\r\n", NULL, 0},
    {"If-None-Match * inside a list is malformed", NULL, "If-None-Match: \"x\", *\r\n", NULL, 0},
    {"If-None-Match empty value matches nothing", NULL, "If-None-Match:\r\n", NULL, 0},

    /* If-Modified-Since alone (§13.1.3). */
    {"If-Modified-Since equal: 304", NULL, "If-Modified-Since: " D_LM "\r\n", NULL, 304},
    {"If-Modified-Since later: 304", NULL, "If-Modified-Since: " D_AFTER "\r\n", NULL, 304},
    {"If-Modified-Since one second earlier: proceed", NULL, "If-Modified-Since: " D_BEFORE "\r\n",
     NULL, 0},
    {"If-Modified-Since on HEAD: 304", "HEAD", "If-Modified-Since: " D_LM "\r\n", NULL, 304},
    {"If-Modified-Since RFC 850 form", NULL, "If-Modified-Since: " D_LM_850 "\r\n", NULL, 304},
    {"If-Modified-Since asctime form", NULL, "If-Modified-Since: " D_LM_ASCTIME "\r\n", NULL, 304},
    {"If-Modified-Since invalid date is ignored", NULL, "If-Modified-Since: yesterday\r\n", NULL,
     0},
    {"If-Modified-Since with junk after the date is ignored", NULL,
     "If-Modified-Since: " D_LM "; length=12\r\n", NULL, 0},
    {"If-Modified-Since on POST is ignored", "POST", "If-Modified-Since: " D_LM "\r\n", NULL, 0},
    {"If-Modified-Since on two lines is ignored", NULL,
     "If-Modified-Since: " D_LM "\r\nIf-Modified-Since: " D_LM "\r\n", NULL, 0},
    {"If-Modified-Since ignored when If-None-Match does not match", NULL,
     "If-None-Match: \"x\"\r\nIf-Modified-Since: " D_LM "\r\n", NULL, 0},
    {"If-Modified-Since ignored when If-None-Match is malformed", NULL,
     "If-None-Match: bad\r\nIf-Modified-Since: " D_LM "\r\n", NULL, 0},
    {"If-Modified-Since ignored when If-None-Match is empty", NULL,
     "If-None-Match:\r\nIf-Modified-Since: " D_LM "\r\n", NULL, 0},
    {"If-None-Match match with a modified date: 304", NULL,
     "If-Modified-Since: " D_BEFORE "\r\nIf-None-Match: \"v1\"\r\n", NULL, 304},

    /* If-Match alone (§13.1.1: strong comparison). */
    {"If-Match equal: proceed", NULL, "If-Match: \"v1\"\r\n", NULL, 0},
    {"If-Match different: 412", NULL, "If-Match: \"v2\"\r\n", NULL, 412},
    {"If-Match *: proceed", NULL, "If-Match: *\r\n", NULL, 0},
    {"If-Match * without an ETag: proceed", "PUT", "If-Match: *\r\n", "", 0},
    {"If-Match tag, representation without ETag: 412", NULL, "If-Match: \"v1\"\r\n", "", 412},
    {"If-Match weak tag never matches: 412", NULL, "If-Match: W/\"v1\"\r\n", NULL, 412},
    {"If-Match against a weak ETag: 412", NULL, "If-Match: \"v1\"\r\n", "W/\"v1\"", 412},
    {"If-Match list, match last", "PUT", "If-Match: \"a\", \"b\", \"v1\"\r\n", NULL, 0},
    {"If-Match list over two lines", "PUT", "If-Match: \"a\"\r\nIF-MATCH: \"v1\"\r\n", NULL, 0},
    {"If-Match malformed: 412", NULL, "If-Match: v1\r\n", NULL, 412},
    {"If-Match match with a malformed second line: 412", NULL,
     "If-Match: \"v1\"\r\nIf-Match: \"x\" junk\r\n", NULL, 412},
    {"If-Match empty list: 412", NULL, "If-Match:\r\n", NULL, 412},
    {"If-Match * twice is malformed: 412", NULL, "If-Match: *\r\nIf-Match: *\r\n", NULL, 412},
    {"If-Match no match on POST: 412", "POST", "If-Match: \"x\"\r\n", NULL, 412},

    /* If-Unmodified-Since alone (§13.1.4). */
    {"If-Unmodified-Since equal: proceed", NULL, "If-Unmodified-Since: " D_LM "\r\n", NULL, 0},
    {"If-Unmodified-Since later: proceed", NULL, "If-Unmodified-Since: " D_AFTER "\r\n", NULL, 0},
    {"If-Unmodified-Since earlier: 412", NULL, "If-Unmodified-Since: " D_BEFORE "\r\n", NULL, 412},
    {"If-Unmodified-Since earlier on POST: 412", "POST", "If-Unmodified-Since: " D_BEFORE "\r\n",
     NULL, 412},
    {"If-Unmodified-Since invalid date is ignored", NULL, "If-Unmodified-Since: soon\r\n", NULL, 0},
    {"If-Unmodified-Since on two lines is ignored", NULL,
     "If-Unmodified-Since: " D_BEFORE "\r\nIf-Unmodified-Since: " D_BEFORE "\r\n", NULL, 0},

    /* Combinations, in the order of §13.2.2. */
    {"If-Match passes: If-Unmodified-Since is ignored", "PUT",
     "If-Match: \"v1\"\r\nIf-Unmodified-Since: " D_BEFORE "\r\n", NULL, 0},
    {"If-Match fails before If-Unmodified-Since passes", "PUT",
     "If-Unmodified-Since: " D_AFTER "\r\nIf-Match: \"x\"\r\n", NULL, 412},
    {"If-Match fails before If-None-Match would give 304", NULL,
     "If-None-Match: \"v1\"\r\nIf-Match: \"x\"\r\n", NULL, 412},
    {"If-Match passes, then If-None-Match gives 304", NULL,
     "If-Match: \"v1\"\r\nIf-None-Match: \"v1\"\r\n", NULL, 304},
    {"If-Match * and If-None-Match * on GET: 304", NULL, "If-Match: *\r\nIf-None-Match: *\r\n",
     NULL, 304},
    {"If-Match * and If-None-Match * on POST: 412", "POST", "If-Match: *\r\nIf-None-Match: *\r\n",
     NULL, 412},
    {"If-Unmodified-Since fails before If-None-Match", NULL,
     "If-None-Match: \"v1\"\r\nIf-Unmodified-Since: " D_BEFORE "\r\n", NULL, 412},
    {"If-Unmodified-Since passes, then If-None-Match gives 304", NULL,
     "If-Unmodified-Since: " D_LM "\r\nIf-None-Match: \"v1\"\r\n", NULL, 304},
    {"If-Unmodified-Since passes, then If-Modified-Since gives 304", NULL,
     "If-Unmodified-Since: " D_AFTER "\r\nIf-Modified-Since: " D_LM "\r\n", NULL, 304},
    {"If-Unmodified-Since fails before If-Modified-Since", NULL,
     "If-Modified-Since: " D_LM "\r\nIf-Unmodified-Since: " D_BEFORE "\r\n", NULL, 412},
    {"invalid If-Unmodified-Since, then If-Modified-Since gives 304", NULL,
     "If-Unmodified-Since: nope\r\nIf-Modified-Since: " D_AFTER "\r\n", NULL, 304},
    {"all four pass: proceed", NULL,
     "If-Match: \"v1\"\r\nIf-Unmodified-Since: " D_LM "\r\nIf-None-Match: \"x\"\r\n"
     "If-Modified-Since: " D_LM "\r\n",
     NULL, 0},
};

static void test_evaluate(void **state)
{
    (void)state;
    unsigned failed = 0;
    for (size_t i = 0; i < sizeof(eval_cases) / sizeof(eval_cases[0]); i++) {
        const struct eval_case *c = &eval_cases[i];
        char buf[1024];
        struct request req;
        head_parse(buf, sizeof(buf), c->method, c->fields, &req);
        const struct validators v = {slice_str(c->etag ? c->etag : ETAG), LM};
        const int got = cond_evaluate(&req, &v);
        if (got != c->want) {
            print_error("%s: got %d, want %d\n", c->desc, got, c->want);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

struct match_case {
    const char *desc;
    const char *list;
    const char *etag;
    bool weak;
    bool want;
};

static const struct match_case match_cases[] = {
    {"single strong tag, strong comparison", "\"a\"", "\"a\"", false, true},
    {"single strong tag, weak comparison", "\"a\"", "\"a\"", true, true},
    {"W/ in the list: weak only", "W/\"a\"", "\"a\"", true, true},
    {"W/ in the list: strong fails", "W/\"a\"", "\"a\"", false, false},
    {"weak ETag: weak matches", "\"a\"", "W/\"a\"", true, true},
    {"weak ETag: strong fails", "\"a\"", "W/\"a\"", false, false},
    {"both weak, weak comparison", "W/\"a\"", "W/\"a\"", true, true},
    {"both weak, strong comparison", "W/\"a\"", "W/\"a\"", false, false},
    {"different tags", "\"a\"", "\"b\"", true, false},
    {"prefix is not equal", "\"ab\"", "\"a\"", true, false},
    {"list with OWS", "\"x\" ,\t\"a\" , \"y\"", "\"a\"", false, true},
    {"surrounding OWS", "  \"a\"  ", "\"a\"", false, true},
    {"*", "*", "\"a\"", false, true},
    {"* with OWS", " * ", "\"a\"", true, true},
    {"* in a list", "\"a\", *", "\"a\"", true, false},
    {"** is not *", "**", "\"a\"", true, false},
    {"empty list", "", "\"a\"", true, false},
    {"only commas", ", ,", "\"a\"", true, false},
    {"malformed element after the match", "\"a\", b", "\"a\"", true, false},
    {"malformed element before the match", "b, \"a\"", "\"a\"", true, false},
    {"missing comma", "\"x\" \"a\"", "\"a\"", true, false},
    {"quote inside", "\"a\"b\"", "\"a\"b\"", true, false},
    {"control character inside", "\"a\x01\"", "\"a\x01\"", true, false},
    {"DEL inside", "\"a\x7f\"", "\"a\x7f\"", true, false},
    {"W without slash", "W\"a\"", "\"a\"", true, false},
    {"W/ alone", "W/", "\"a\"", true, false},
    {"the ETag itself malformed", "\"a\"", "a", true, false},
    {"no ETag", "\"a\"", "", true, false},
    {"comma inside the opaque-tag", "\"a,b\", \"c\"", "\"a,b\"", false, true},
    {"comma-split halves do not match", "\"a,b\"", "\"a\"", true, false},
};

static void test_etag_match(void **state)
{
    (void)state;
    unsigned failed = 0;
    for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
        const struct match_case *c = &match_cases[i];
        const bool got = cond_etag_match(slice_str(c->list), slice_str(c->etag), c->weak);
        if (got != c->want) {
            print_error("%s: got %d, want %d\n", c->desc, got, c->want);
            failed++;
        }
    }
    assert_false(cond_etag_match(slice_make(NULL, 0), SLICE_LIT("\"a\""), true));
    assert_int_equal(failed, 0);
}

struct if_range_case {
    const char *desc;
    const char *fields;
    const char *etag;   /* NULL: ETAG */
    long long last_mod; /* 0: LM */
    bool want;
};

static const struct if_range_case if_range_cases[] = {
    {"no If-Range: the Range applies", NULL, NULL, 0, true},
    {"equal strong ETag", "If-Range: \"v1\"\r\n", NULL, 0, true},
    {"different ETag", "If-Range: \"v2\"\r\n", NULL, 0, false},
    {"weak ETag in If-Range", "If-Range: W/\"v1\"\r\n", NULL, 0, false},
    {"weak representation ETag", "If-Range: \"v1\"\r\n", "W/\"v1\"", 0, false},
    {"representation without ETag", "If-Range: \"v1\"\r\n", "", 0, false},
    {"malformed ETag", "If-Range: \"v1\r\n", NULL, 0, false},
    {"ETag list is not one ETag", "If-Range: \"v1\", \"v2\"\r\n", NULL, 0, false},
    {"* is not allowed", "If-Range: *\r\n", NULL, 0, false},
    {"equal date", "If-Range: " D_LM "\r\n", NULL, 0, true},
    {"equal date, RFC 850 form", "If-Range: " D_LM_850 "\r\n", NULL, 0, true},
    {"equal date, asctime form", "If-Range: " D_LM_ASCTIME "\r\n", NULL, 0, true},
    {"earlier date", "If-Range: " D_BEFORE "\r\n", NULL, 0, false},
    {"later date: exact match only", "If-Range: " D_AFTER "\r\n", NULL, 0, false},
    {"a Wednesday is a date, not W/", "If-Range: Wed, 09 Nov 1994 08:49:37 GMT\r\n", NULL,
     784370977, true},
    {"invalid date", "If-Range: tomorrow\r\n", NULL, 0, false},
    {"empty value", "If-Range:\r\n", NULL, 0, false},
    {"two If-Range lines", "If-Range: \"v1\"\r\nIf-Range: \"v1\"\r\n", NULL, 0, false},
};

static void test_if_range(void **state)
{
    (void)state;
    unsigned failed = 0;
    for (size_t i = 0; i < sizeof(if_range_cases) / sizeof(if_range_cases[0]); i++) {
        const struct if_range_case *c = &if_range_cases[i];
        char buf[1024];
        struct request req;
        head_parse(buf, sizeof(buf), "GET", c->fields, &req);
        const struct validators v = {slice_str(c->etag ? c->etag : ETAG),
                                     (time_t)(c->last_mod ? c->last_mod : LM)};
        const bool got = cond_if_range(&req, &v);
        if (got != c->want) {
            print_error("%s: got %d, want %d\n", c->desc, got, c->want);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

struct range_case {
    const char *desc;
    const char *value;
    size_t value_len;
    uint64_t size;
    int want;
    unsigned n;
    struct byte_range r[4];
};

enum { SZ = 1000 };

/* A value and its length, so an embedded NUL counts. */
#define V(s) (s), sizeof(s) - 1

static const struct range_case range_cases[] = {
    /* The three forms. */
    {"first half", V("bytes=0-499"), SZ, 206, 1, {{0, 500}}},
    {"second half", V("bytes=500-999"), SZ, 206, 1, {{500, 500}}},
    {"open-ended", V("bytes=500-"), SZ, 206, 1, {{500, 500}}},
    {"suffix", V("bytes=-500"), SZ, 206, 1, {{500, 500}}},
    {"first byte", V("bytes=0-0"), SZ, 206, 1, {{0, 1}}},
    {"last byte", V("bytes=999-999"), SZ, 206, 1, {{999, 1}}},
    {"last byte as a suffix", V("bytes=-1"), SZ, 206, 1, {{999, 1}}},
    {"everything from 0", V("bytes=0-"), SZ, 206, 1, {{0, SZ}}},
    {"leading zeros", V("bytes=000-009"), SZ, 206, 1, {{0, 10}}},
    {"unit in upper case", V("BYTES=0-9"), SZ, 206, 1, {{0, 10}}},
    {"unit capitalised", V("Bytes=0-9"), SZ, 206, 1, {{0, 10}}},

    /* Clipping and satisfiability (§14.1.1, §14.1.3). */
    {"last-pos clipped to the size", V("bytes=900-5000"), SZ, 206, 1, {{900, 100}}},
    {"last-pos of 2^64-1 clipped", V("bytes=0-18446744073709551615"), SZ, 206, 1, {{0, SZ}}},
    {"suffix longer than the size", V("bytes=-5000"), SZ, 206, 1, {{0, SZ}}},
    {"first-pos at the size", V("bytes=1000-"), SZ, 416, 0, {{0, 0}}},
    {"first-pos past the size", V("bytes=1000-2000"), SZ, 416, 0, {{0, 0}}},
    {"first-pos of 2^64-1", V("bytes=18446744073709551615-"), SZ, 416, 0, {{0, 0}}},
    {"zero suffix", V("bytes=-0"), SZ, 416, 0, {{0, 0}}},
    {"all unsatisfiable", V("bytes=1000-,2000-3000,-0"), SZ, 416, 0, {{0, 0}}},
    {"unsatisfiable dropped after a good one", V("bytes=0-9,5000-6000"), SZ, 206, 1, {{0, 10}}},
    {"unsatisfiable dropped before a good one", V("bytes=5000-,0-9"), SZ, 206, 1, {{0, 10}}},
    {"zero suffix dropped", V("bytes=0-0,-0"), SZ, 206, 1, {{0, 1}}},
    {"size 0, open-ended", V("bytes=0-"), 0, 416, 0, {{0, 0}}},
    {"size 0, suffix", V("bytes=-1"), 0, 416, 0, {{0, 0}}},
    {"size 0, zero suffix", V("bytes=-0"), 0, 416, 0, {{0, 0}}},
    {"size 1, the only byte", V("bytes=0-0"), 1, 206, 1, {{0, 1}}},
    {"size 1, suffix", V("bytes=-1"), 1, 206, 1, {{0, 1}}},
    {"size 1, past the end", V("bytes=1-"), 1, 416, 0, {{0, 0}}},
    {"size 2^64-1, suffix", V("bytes=-1"), UINT64_MAX, 206, 1, {{UINT64_MAX - 1, 1}}},
    {"size 2^64-1, everything", V("bytes=0-"), UINT64_MAX, 206, 1, {{0, UINT64_MAX}}},

    /* Several ranges. */
    {"two ranges", V("bytes=0-99,200-299"), SZ, 206, 2, {{0, 100}, {200, 100}}},
    {"OWS around the comma", V("bytes=0-99 , 200-299"), SZ, 206, 2, {{0, 100}, {200, 100}}},
    {"tab after the comma", V("bytes=0-99,\t200-299"), SZ, 206, 2, {{0, 100}, {200, 100}}},
    {"adjacent ranges are kept apart", V("bytes=0-9,10-19"), SZ, 206, 2, {{0, 10}, {10, 10}}},
    {"three forms together", V("bytes=0-9,20-29,-10"), SZ, 206, 3, {{0, 10}, {20, 10}, {990, 10}}},
    {"empty elements skipped", V("bytes=, ,0-9, ,20-29,"), SZ, 206, 2, {{0, 10}, {20, 10}}},
    {"double comma", V("bytes=0-9,,20-29"), SZ, 206, 2, {{0, 10}, {20, 10}}},
    {"overlapping: ignored", V("bytes=0-99,50-149"), SZ, 0, 0, {{0, 0}}},
    {"duplicate: ignored", V("bytes=0-9,0-9"), SZ, 0, 0, {{0, 0}}},
    {"out of order: ignored", V("bytes=200-299,0-99"), SZ, 0, 0, {{0, 0}}},
    {"suffix overlapping an open range: ignored", V("bytes=900-,-200"), SZ, 0, 0, {{0, 0}}},
    {"clipped ranges that overlap: ignored", V("bytes=990-2000,995-3000"), SZ, 0, 0, {{0, 0}}},

    /* Malformed: ignored (§14.2). */
    {"last-pos below first-pos", V("bytes=500-400"), SZ, 0, 0, {{0, 0}}},
    {"one below the other", V("bytes=1-0"), SZ, 0, 0, {{0, 0}}},
    {"invalid spec after a good one", V("bytes=0-9,abc"), SZ, 0, 0, {{0, 0}}},
    {"first-pos overflows", V("bytes=18446744073709551616-"), SZ, 0, 0, {{0, 0}}},
    {"last-pos overflows", V("bytes=0-99999999999999999999"), SZ, 0, 0, {{0, 0}}},
    {"suffix overflows", V("bytes=-99999999999999999999"), SZ, 0, 0, {{0, 0}}},
    {"letters", V("bytes=abc"), SZ, 0, 0, {{0, 0}}},
    {"junk after a spec", V("bytes=0-9x"), SZ, 0, 0, {{0, 0}}},
    {"semicolon after a spec", V("bytes=0-9;"), SZ, 0, 0, {{0, 0}}},
    {"three parts", V("bytes=0-5-6"), SZ, 0, 0, {{0, 0}}},
    {"no dash", V("bytes=1"), SZ, 0, 0, {{0, 0}}},
    {"dash alone", V("bytes=-"), SZ, 0, 0, {{0, 0}}},
    {"double dash", V("bytes=--1"), SZ, 0, 0, {{0, 0}}},
    {"plus sign", V("bytes=+1-2"), SZ, 0, 0, {{0, 0}}},
    {"hex", V("bytes=0x10-0x20"), SZ, 0, 0, {{0, 0}}},
    {"other unit", V("items=0-9"), SZ, 0, 0, {{0, 0}}},
    {"unit prefix only", V("byte=0-9"), SZ, 0, 0, {{0, 0}}},
    {"no unit", V("=0-9"), SZ, 0, 0, {{0, 0}}},
    {"no =", V("bytes 0-9"), SZ, 0, 0, {{0, 0}}},
    {"space before =", V("bytes =0-9"), SZ, 0, 0, {{0, 0}}},
    {"space after =", V("bytes= 0-9"), SZ, 0, 0, {{0, 0}}},
    {"double =", V("bytes==0-9"), SZ, 0, 0, {{0, 0}}},
    {"space before the dash", V("bytes=0 -9"), SZ, 0, 0, {{0, 0}}},
    {"space after the dash", V("bytes=0- 9"), SZ, 0, 0, {{0, 0}}},
    {"space between specs without comma", V("bytes=0-9 20-29"), SZ, 0, 0, {{0, 0}}},
    {"empty set", V("bytes="), SZ, 0, 0, {{0, 0}}},
    {"only a comma", V("bytes=,"), SZ, 0, 0, {{0, 0}}},
    {"only empty elements", V("bytes=, ,"), SZ, 0, 0, {{0, 0}}},
    {"empty value", V(""), SZ, 0, 0, {{0, 0}}},
    {"NUL inside", V("bytes=0-9\0"), SZ, 0, 0, {{0, 0}}},
};

static void test_range_parse(void **state)
{
    (void)state;
    unsigned failed = 0;
    for (size_t i = 0; i < sizeof(range_cases) / sizeof(range_cases[0]); i++) {
        const struct range_case *c = &range_cases[i];
        struct range_set set;
        memset(&set, 0xa5, sizeof(set));
        const int got = range_parse(slice_make(c->value, c->value_len), c->size, &set);
        bool ok = got == c->want && set.n == c->n;
        for (unsigned k = 0; ok && k < c->n; k++)
            ok = set.r[k].start == c->r[k].start && set.r[k].len == c->r[k].len;
        if (!ok) {
            print_error("%s: \"%s\" gave %d with %u ranges, want %d with %u\n", c->desc, c->value,
                        got, set.n, c->want, c->n);
            for (unsigned k = 0; k < set.n && k < RANGE_MAX; k++)
                print_error("  [%u] start %llu len %llu\n", k, (unsigned long long)set.r[k].start,
                            (unsigned long long)set.r[k].len);
            failed++;
        }
    }
    printf("test_cond: %zu range cases\n", sizeof(range_cases) / sizeof(range_cases[0]));
    assert_int_equal(failed, 0);
}

/* Builds "bytes=0-0,10-10,…" with n ranges, the ones at index `bad` past the size. */
static int range_many(char *out, size_t cap, unsigned n, int bad)
{
    size_t len = (size_t)snprintf(out, cap, "bytes=");
    for (unsigned i = 0; i < n; i++) {
        const unsigned start = (int)i == bad ? 5000 + i : i * 10;
        len += (size_t)snprintf(out + len, cap - len, "%s%u-%u", i ? "," : "", start, start);
        assert_true(len < cap);
    }
    return (int)len;
}

/* RANGE_MAX ranges are served; one more, even unsatisfiable, ignores the header (§14.2). */
static void test_range_count(void **state)
{
    (void)state;
    char buf[512];
    struct range_set set;
    int n = range_many(buf, sizeof(buf), RANGE_MAX, -1);
    assert_int_equal(range_parse(slice_make(buf, (size_t)n), SZ, &set), 206);
    assert_int_equal(set.n, RANGE_MAX);
    for (unsigned i = 0; i < RANGE_MAX; i++) {
        assert_int_equal(set.r[i].start, i * 10);
        assert_int_equal(set.r[i].len, 1);
    }
    n = range_many(buf, sizeof(buf), RANGE_MAX + 1, -1);
    assert_int_equal(range_parse(slice_make(buf, (size_t)n), SZ, &set), 0);
    assert_int_equal(set.n, 0);
    n = range_many(buf, sizeof(buf), RANGE_MAX + 1, RANGE_MAX);
    assert_int_equal(range_parse(slice_make(buf, (size_t)n), SZ, &set), 0);
    /* Empty elements do not count. */
    n = range_many(buf, sizeof(buf), RANGE_MAX, -1);
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, ", , ,");
    assert_int_equal(range_parse(slice_make(buf, (size_t)n), SZ, &set), 206);
    assert_int_equal(set.n, RANGE_MAX);
    /* A NULL slice (no Range) is simply ignored. */
    assert_int_equal(range_parse(slice_make(NULL, 0), SZ, &set), 0);
}

/* The fixture's dates are what the tables assume. */
static void test_fixture_dates(void **state)
{
    (void)state;
    static const char *const same[] = {D_LM, D_LM_850, D_LM_ASCTIME};
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        time_t t = 0;
        assert_true(date_parse_http(slice_str(same[i]), &t));
        assert_int_equal(t, LM);
    }
    time_t t = 0;
    assert_true(date_parse_http(SLICE_LIT("Wed, 09 Nov 1994 08:49:37 GMT"), &t));
    assert_int_equal(t, 784370977);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_dates), cmocka_unit_test(test_evaluate),
        cmocka_unit_test(test_etag_match),    cmocka_unit_test(test_if_range),
        cmocka_unit_test(test_range_parse),   cmocka_unit_test(test_range_count),
    };
    printf("test_cond: %zu evaluate, %zu etag-match, %zu if-range cases\n",
           sizeof(eval_cases) / sizeof(eval_cases[0]), sizeof(match_cases) / sizeof(match_cases[0]),
           sizeof(if_range_cases) / sizeof(if_range_cases[0]));
    return cmocka_run_group_tests_name("cond", tests, NULL, NULL);
}
