/* SPDX-License-Identifier: MIT */
/*
 * Tests for the pure parts of handlers/listing: natural name order (each pair both ways,
 * then the order's laws over every pair and triple of a set of awkward names), human
 * sizes at every unit boundary, percent-encoding of hostile names for hrefs, UTF-8 repair
 * of names for display, and the query and Accept rules that pick the order and the format.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/listing.h"

#define N_ITEMS(a) (sizeof(a) / sizeof((a)[0]))

static int cmp_str(const char *a, const char *b)
{
    return listing_name_cmp(a, strlen(a), b, strlen(b));
}

struct order_case {
    const char *desc;
    const char *a, *b; /* a sorts strictly before b */
};

static const struct order_case order_cases[] = {
    {"digits by value", "file2", "file10"},
    {"digits by value, longer", "file9.txt", "file10.txt"},
    {"numbers inside", "v1.2.10", "v1.10.2"},
    {"case ignored first", "apple", "Banana"},
    {"case ignored, upper first letter", "a.txt", "B.txt"},
    {"then bytes: upper case before lower", "README", "readme"},
    {"leading zeros: value first", "x01", "x2"},
    {"leading zeros: then bytes", "x01", "x1"},
    {"prefix first", "file", "file1"},
    {"prefix first, letters", "abc", "abcd"},
    {"digits before letters", "1a", "a1"},
    {"space before letters", "a b", "ab"},
    {"punctuation below digits", "a-1", "a1"},
    {"letters above digits", "a9", "aa"},
    {"empty first", "", "a"},
    {"UTF-8 after ASCII", "zebra", "\xc3\xa9t\xc3\xa9"},
    {"UTF-8 bytes compare", "caf\xc3\xa9", "caf\xc3\xa9s"},
    {"huge numbers by length", "n99999999999999999999", "n100000000000000000000"},
    {"huge numbers by digits", "n100000000000000000001", "n100000000000000000002"},
    {"zero runs", "a0", "a00"},
    {"all zeros vs one", "a000", "a1"},
};

static void test_name_order(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ITEMS(order_cases); i++) {
        const struct order_case *c = &order_cases[i];
        if (cmp_str(c->a, c->b) >= 0)
            fail_msg("%s: \"%s\" should sort before \"%s\"", c->desc, c->a, c->b);
        if (cmp_str(c->b, c->a) <= 0)
            fail_msg("%s: \"%s\" should sort after \"%s\"", c->desc, c->b, c->a);
        if (cmp_str(c->a, c->a) != 0)
            fail_msg("%s: \"%s\" should equal itself", c->desc, c->a);
    }
}

/* qsort needs a strict weak order: antisymmetric and transitive over every input. */
static void test_name_order_laws(void **state)
{
    (void)state;
    static const char *const names[] = {
        "",    "0",   "00", "1",        "01",   "10",  "9",     "a",      "A",
        "a0",  "a00", "a1", "A1",       "a01",  "a10", "a2",    "a-1",    "a.1",
        "a_1", "a 1", "ab", "aB",       "b",    "B",   "z",     "Z",      "~",
        "[",   "`",   "{",  ":",        "/",    "@",   "file2", "file10", "FILE2",
        "f02", "f2x", "f2", "\xc3\xa9", "\xff", "x9y", "x10y",  "x9y10",  "x9y9",
    };
    const size_t n = N_ITEMS(names);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            const int ij = cmp_str(names[i], names[j]), ji = cmp_str(names[j], names[i]);
            if ((ij > 0) - (ij < 0) != -((ji > 0) - (ji < 0)))
                fail_msg("not antisymmetric: \"%s\" vs \"%s\"", names[i], names[j]);
            if ((ij == 0) != (i == j))
                fail_msg("distinct names compare equal: \"%s\" \"%s\"", names[i], names[j]);
            for (size_t k = 0; k < n; k++)
                if (ij < 0 && cmp_str(names[j], names[k]) < 0 && cmp_str(names[i], names[k]) >= 0)
                    fail_msg("not transitive: \"%s\" < \"%s\" < \"%s\"", names[i], names[j],
                             names[k]);
        }
    }
}

static int qsort_names(const void *a, const void *b)
{
    return cmp_str(*(const char *const *)a, *(const char *const *)b);
}

/* A whole listing in the order people expect. */
static void test_name_order_sorted(void **state)
{
    (void)state;
    const char *names[] = {"file10", "File1", "file2", "b", "A", "file1", "a", "file01"};
    /* Equal but for case or zeros: the bytes decide ('F' < 'f', '0' < '1'). */
    const char *const want[] = {"A", "a", "b", "File1", "file01", "file1", "file2", "file10"};
    qsort(names, N_ITEMS(names), sizeof(names[0]), qsort_names);
    for (size_t i = 0; i < N_ITEMS(names); i++)
        if (strcmp(names[i], want[i]) != 0)
            fail_msg("position %zu: \"%s\", want \"%s\"", i, names[i], want[i]);
}

struct size_case {
    const char *desc;
    uint64_t bytes;
    const char *text;
};

static const struct size_case size_cases[] = {
    {"zero", 0, "0 B"},
    {"one byte", 1, "1 B"},
    {"just below a KiB", 1023, "1023 B"},
    {"one KiB", 1024, "1 KiB"},
    {"1.1 KiB rounds down", 1126, "1.1 KiB"},
    {"1.2 KiB", 1229, "1.2 KiB"},
    {"1.5 KiB exactly", 1536, "1.5 KiB"},
    {"9.95 KiB rounds to 9.9 below the half", 10188, "9.9 KiB"},
    {"9.95 KiB rounds up to 10", 10189, "10 KiB"},
    {"ten KiB", 10240, "10 KiB"},
    {"340 KiB", 340 * 1024, "340 KiB"},
    {"1023.4 KiB stays in KiB", 1023 * 1024 + 400, "1023 KiB"},
    {"1023.6 KiB rounds to the next unit", 1023 * 1024 + 600, "1 MiB"},
    {"just below a MiB", 1048575, "1 MiB"},
    {"3 MiB", 3u << 20, "3 MiB"},
    {"2.5 GiB", 5ull << 29, "2.5 GiB"},
    {"1 TiB", 1ull << 40, "1 TiB"},
    {"1 PiB", 1ull << 50, "1 PiB"},
    {"1 EiB", 1ull << 60, "1 EiB"},
    {"the largest size", UINT64_MAX, "16 EiB"},
};

static void test_human_size(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ITEMS(size_cases); i++) {
        const struct size_case *c = &size_cases[i];
        char out[LISTING_SIZE_LEN];
        memset(out, 'x', sizeof(out));
        listing_human_size(c->bytes, out);
        if (strcmp(out, c->text) != 0)
            fail_msg("%s: %llu bytes is \"%s\", want \"%s\"", c->desc, (unsigned long long)c->bytes,
                     out, c->text);
    }
}

struct text_case {
    const char *desc;
    const char *in;
    size_t in_len; /* 0: strlen(in) */
    const char *out;
};

static const struct text_case href_cases[] = {
    {"plain", "a.txt", 0, "a.txt"},
    {"unreserved kept", "Az09-._~", 0, "Az09-._~"},
    {"space", "with space.txt", 0, "with%20space.txt"},
    {"HTML specials", "<b>&\"'.txt", 0, "%3Cb%3E%26%22%27.txt"},
    {"fragment", "#hash.txt", 0, "%23hash.txt"},
    {"query", "q?x=1.txt", 0, "q%3Fx%3D1.txt"},
    {"percent is never left as an escape", "100%.txt", 0, "100%25.txt"},
    {"something that looks escaped", "%41.txt", 0, "%2541.txt"},
    {"plus is not a space", "a+b", 0, "a%2Bb"},
    {"colon cannot start a scheme", "javascript:x", 0, "javascript%3Ax"},
    {"sub-delims", "!$()*,;@[]", 0, "%21%24%28%29%2A%2C%3B%40%5B%5D"},
    {"UTF-8", "caf\xc3\xa9 \xe2\x98\x95.txt", 0, "caf%C3%A9%20%E2%98%95.txt"},
    {"invalid UTF-8 bytes as they are", "\xff\xfe", 0, "%FF%FE"},
    {"empty", "", 0, ""},
};

static void test_href(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ITEMS(href_cases); i++) {
        const struct text_case *c = &href_cases[i];
        struct buf b;
        buf_init(&b, NULL, 0, 0);
        assert_true(buf_append_str(&b, "/d/"));
        if (!listing_href_append(&b, c->in, c->in_len ? c->in_len : strlen(c->in)))
            fail_msg("%s: append failed", c->desc);
        if (b.len != 3 + strlen(c->out) || memcmp(b.data + 3, c->out, b.len - 3) != 0)
            fail_msg("%s: \"%.*s\", want \"%s\"", c->desc, (int)b.len - 3, b.data + 3, c->out);
        buf_free(&b);
    }
}

static void test_href_full_buffer_unchanged(void **state)
{
    (void)state;
    char storage[8];
    struct buf b;
    buf_init(&b, storage, sizeof(storage), sizeof(storage));
    assert_true(buf_append_str(&b, "/x/"));
    assert_false(listing_href_append(&b, "a  b", 4)); /* "a%20%20b": 8 bytes, 5 left */
    assert_int_equal(b.len, 3);
    assert_true(listing_href_append(&b, "ab", 2));
    assert_int_equal(b.len, 5);
}

static const struct text_case utf8_cases[] = {
    {"ASCII", "a.txt", 0, "a.txt"},
    {"two-byte", "caf\xc3\xa9", 0, "caf\xc3\xa9"},
    {"three-byte", "\xe2\x98\x95", 0, "\xe2\x98\x95"},
    {"four-byte", "\xf0\x9f\x93\x81 x", 0, "\xf0\x9f\x93\x81 x"},
    {"largest code point", "\xf4\x8f\xbf\xbf", 0, "\xf4\x8f\xbf\xbf"},
    {"lone continuation",
     "a\x80"
     "b",
     0,
     "a\xef\xbf\xbd"
     "b"},
    {"invalid lead", "\xff", 0, "\xef\xbf\xbd"},
    {"overlong slash", "\xc0\xaf", 0, "\xef\xbf\xbd\xef\xbf\xbd"},
    {"overlong three-byte", "\xe0\x80\xaf", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    {"surrogate", "\xed\xa0\x80", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    {"above U+10FFFF", "\xf4\x90\x80\x80", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    {"truncated at the end", "ok\xe2\x98", 0, "ok\xef\xbf\xbd\xef\xbf\xbd"},
    {"Latin-1 name", "caf\xe9.txt", 0, "caf\xef\xbf\xbd.txt"},
    {"embedded NUL is a byte like any", "a\0b", 3, "a\0b"},
};

static void test_text(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ITEMS(utf8_cases); i++) {
        const struct text_case *c = &utf8_cases[i];
        const size_t in_len = c->in_len ? c->in_len : strlen(c->in);
        const size_t out_len = c->in_len ? c->in_len : strlen(c->out);
        struct buf b;
        buf_init(&b, NULL, 0, 0);
        if (!listing_text_append(&b, c->in, in_len))
            fail_msg("%s: append failed", c->desc);
        if (b.len != out_len || memcmp(b.data, c->out, out_len) != 0)
            fail_msg("%s: %zu bytes \"%.*s\", want \"%s\"", c->desc, b.len, (int)b.len, b.data,
                     c->out);
        buf_free(&b);
    }
}

struct query_case {
    const char *desc;
    const char *query;
    enum listing_sort sort;
    bool is_desc;
    enum listing_format format;
};

static const struct query_case query_cases[] = {
    {"empty", "", LISTING_SORT_NAME, false, LISTING_FORMAT_AUTO},
    {"size", "sort=size", LISTING_SORT_SIZE, false, LISTING_FORMAT_AUTO},
    {"time desc", "sort=time&order=desc", LISTING_SORT_TIME, true, LISTING_FORMAT_AUTO},
    {"name asc", "order=asc&sort=name", LISTING_SORT_NAME, false, LISTING_FORMAT_AUTO},
    {"order alone", "order=desc", LISTING_SORT_NAME, true, LISTING_FORMAT_AUTO},
    {"values ignore case", "sort=SIZE&order=Desc", LISTING_SORT_SIZE, true, LISTING_FORMAT_AUTO},
    {"unknown sort is name", "sort=owner&order=desc", LISTING_SORT_NAME, true, LISTING_FORMAT_AUTO},
    {"unknown order is asc", "sort=size&order=up", LISTING_SORT_SIZE, false, LISTING_FORMAT_AUTO},
    {"the last wins", "sort=size&sort=time", LISTING_SORT_TIME, false, LISTING_FORMAT_AUTO},
    {"a bad last value resets", "sort=size&sort=", LISTING_SORT_NAME, false, LISTING_FORMAT_AUTO},
    {"no value", "sort&order", LISTING_SORT_NAME, false, LISTING_FORMAT_AUTO},
    {"names are exact", "Sort=size&xsort=size&sortx=size", LISTING_SORT_NAME, false,
     LISTING_FORMAT_AUTO},
    {"encoded values are not ours", "sort=%73ize", LISTING_SORT_NAME, false, LISTING_FORMAT_AUTO},
    {"value with a second '='", "sort=size=1", LISTING_SORT_NAME, false, LISTING_FORMAT_AUTO},
    {"empty fields", "&&sort=size&&", LISTING_SORT_SIZE, false, LISTING_FORMAT_AUTO},
    {"json", "format=json", LISTING_SORT_NAME, false, LISTING_FORMAT_JSON},
    {"html", "format=html&sort=time", LISTING_SORT_TIME, false, LISTING_FORMAT_HTML},
    {"unknown format", "format=xml", LISTING_SORT_NAME, false, LISTING_FORMAT_AUTO},
    {"other fields ignored", "a=1&sort=size&b", LISTING_SORT_SIZE, false, LISTING_FORMAT_AUTO},
};

static void test_query(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ITEMS(query_cases); i++) {
        const struct query_case *c = &query_cases[i];
        /* A copy that ends exactly at the end of the heap block, for ASan's sake. */
        const size_t n = strlen(c->query);
        char *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, c->query, n);
        struct listing_query q;
        memset(&q, 0x5a, sizeof(q));
        listing_parse_query(slice_make(copy, n), &q);
        if (q.sort != c->sort || q.is_desc != c->is_desc || q.format != c->format)
            fail_msg("%s: \"%s\" gives sort %d desc %d format %d, want %d %d %d", c->desc, c->query,
                     q.sort, q.is_desc, q.format, c->sort, c->is_desc, c->format);
        free(copy);
    }
    struct listing_query q;
    listing_parse_query(slice_make(NULL, 0), &q);
    assert_int_equal(q.sort, LISTING_SORT_NAME);
}

struct accept_case {
    const char *desc;
    const char *format; /* the query's format= value, or NULL */
    const char *accept; /* NULL: no Accept header */
    bool wants_json;
};

static const struct accept_case accept_cases[] = {
    {"no Accept", NULL, NULL, false},
    {"browser", NULL, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false},
    {"curl", NULL, "*/*", false},
    {"JSON", NULL, "application/json", true},
    {"JSON with a charset", NULL, "application/json; charset=utf-8", true},
    {"JSON, any case", NULL, "Application/JSON", true},
    {"JSON before a wildcard", NULL, "application/json, text/plain, */*", true},
    {"JSON preferred", NULL, "text/html;q=0.5, application/json", true},
    {"HTML preferred", NULL, "application/json;q=0.5, text/html", false},
    {"a tie goes to HTML", NULL, "application/json, text/html", false},
    {"JSON refused", NULL, "application/json;q=0", false},
    {"q with spaces", NULL, "text/html ; q=0.1 , application/json ; q=0.2", true},
    {"q=1.000", NULL, "application/json;q=1.000", true},
    {"malformed q refuses", NULL, "application/json;q=2", false},
    {"malformed q, too many digits", NULL, "application/json;q=0.0001", false},
    {"application/* is not JSON", NULL, "application/*", false},
    {"format=json wins", "json", "text/html", true},
    {"format=html wins", "html", "application/json", false},
    {"unknown format: Accept decides", "xml", "application/json", true},
};

static void test_wants_json(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ITEMS(accept_cases); i++) {
        const struct accept_case *c = &accept_cases[i];
        char query[64];
        snprintf(query, sizeof(query), "format=%s", c->format ? c->format : "");
        struct listing_query q;
        listing_parse_query(c->format ? slice_str(query) : slice_make(NULL, 0), &q);
        const struct slice accept = c->accept ? slice_str(c->accept) : slice_make(NULL, 0);
        if (listing_wants_json(&q, accept) != c->wants_json)
            fail_msg("%s: \"%s\" should%s give JSON", c->desc, c->accept ? c->accept : "(none)",
                     c->wants_json ? "" : " not");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_order),
        cmocka_unit_test(test_name_order_laws),
        cmocka_unit_test(test_name_order_sorted),
        cmocka_unit_test(test_human_size),
        cmocka_unit_test(test_href),
        cmocka_unit_test(test_href_full_buffer_unchanged),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_wants_json),
    };
    return cmocka_run_group_tests_name("listing", tests, NULL, NULL);
}
