/* SPDX-License-Identifier: MIT */
/*
 * Tests for http/response: the exact head bytes for the cases the
 * connection writes (keep-alive, close, HTTP/1.0 keep-alive, no-length statuses), error
 * pages and header overflow.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "http/response.h"

static const char date[] = "Thu, 26 Nov 2026 01:02:03 GMT";

static void expect_head(const struct response *r, bool keep_alive, bool http10, const char *want)
{
    struct buf out;
    buf_init(&out, NULL, 0, 0);
    assert_true(response_write_head(&out, r, date, keep_alive, http10));
    if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0)
        fail_msg("got:\n%.*s\nwant:\n%s", (int)out.len, out.data, want);
    buf_free(&out);
}

static void test_heads(void **state)
{
    (void)state;
    char storage[256];
    struct response r;
    response_init(&r, storage, sizeof(storage));
    response_set_body(&r, "text/plain; charset=utf-8", SLICE_LIT("hello"));
    response_header(&r, "Cache-Control", SLICE_LIT("no-store"));
    expect_head(&r, true, false,
                "HTTP/1.1 200 OK\r\nServer: mica/0.1.0\r\nDate: Thu, 26 Nov 2026 01:02:03 GMT\r\n"
                "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n"
                "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n\r\n");
    expect_head(&r, false, false,
                "HTTP/1.1 200 OK\r\nServer: mica/0.1.0\r\nDate: Thu, 26 Nov 2026 01:02:03 GMT\r\n"
                "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n"
                "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n"
                "Connection: close\r\n\r\n");
    expect_head(&r, true, true,
                "HTTP/1.1 200 OK\r\nServer: mica/0.1.0\r\nDate: Thu, 26 Nov 2026 01:02:03 GMT\r\n"
                "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n"
                "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n"
                "Connection: keep-alive\r\n\r\n");

    response_init(&r, storage, sizeof(storage));
    r.status = 204;
    response_header(&r, "Allow", SLICE_LIT("GET, HEAD, OPTIONS"));
    expect_head(&r, true, false,
                "HTTP/1.1 204 No Content\r\nServer: mica/0.1.0\r\n"
                "Date: Thu, 26 Nov 2026 01:02:03 GMT\r\nX-Content-Type-Options: nosniff\r\n"
                "Allow: GET, HEAD, OPTIONS\r\n\r\n");
}

static void test_error_pages(void **state)
{
    (void)state;
    char storage[64];
    struct response r;
    const int known[] = {400, 403, 404, 405, 408, 413, 414, 417, 431, 501, 503, 505};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        response_init(&r, storage, sizeof(storage));
        assert_int_equal(response_error(&r, known[i]), known[i]);
        assert_int_equal(r.body_kind, BODY_MEM);
        assert_int_equal(r.body_length, r.body.len);
        char code[8];
        snprintf(code, sizeof(code), "%d", known[i]);
        assert_non_null(memmem(r.body.ptr, r.body.len, code, 3));
    }
    response_init(&r, storage, sizeof(storage));
    assert_int_equal(response_error(&r, 299), 500); /* not an error status: a 500 */
}

static void test_header_overflow_is_clean(void **state)
{
    (void)state;
    char storage[32];
    struct response r;
    response_init(&r, storage, sizeof(storage));
    assert_true(response_header(&r, "A", SLICE_LIT("1234567890")));
    size_t before = r.headers.len;
    assert_false(response_headerf(&r, "Location", "/%s", "a-long-value-that-cannot-fit"));
    assert_int_equal(r.headers.len, before);
}

/* response_vary: the extra headers before → after adding Accept-Encoding. */
static const struct {
    const char *before, *after, *desc;
} vary_cases[] = {
    {"", "Vary: Accept-Encoding\r\n", "no Vary yet: a new line"},
    {"ETag: \"x\"\r\n", "ETag: \"x\"\r\nVary: Accept-Encoding\r\n", "after other headers"},
    {"Vary: Accept\r\nETag: W/\"x\"\r\n", "Vary: Accept, Accept-Encoding\r\nETag: W/\"x\"\r\n",
     "a listing's Vary: merged in place"},
    {"vary: Origin\r\n", "vary: Origin, Accept-Encoding\r\n", "the name is case-insensitive"},
    {"Vary: Accept-Encoding\r\n", "Vary: Accept-Encoding\r\n", "named already: unchanged"},
    {"Vary: Accept, accept-encoding \r\n", "Vary: Accept, accept-encoding \r\n",
     "named already, other case and spaces: unchanged"},
    {"Vary: *\r\n", "Vary: *\r\n", "everything varies already"},
    {"Vary: \r\n", "Vary: Accept-Encoding\r\n", "an empty Vary"},
    {"X-Vary: Accept\r\n", "X-Vary: Accept\r\nVary: Accept-Encoding\r\n",
     "a longer name is another header"},
};

static void test_vary(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vary_cases) / sizeof(vary_cases[0]); i++) {
        char storage[256];
        struct response r;
        response_init(&r, storage, sizeof(storage));
        assert_true(buf_append_str(&r.headers, vary_cases[i].before));
        if (!response_vary(&r, "Accept-Encoding"))
            fail_msg("%s: response_vary failed", vary_cases[i].desc);
        const char *want = vary_cases[i].after;
        if (r.headers.len != strlen(want) || memcmp(r.headers.data, want, r.headers.len) != 0)
            fail_msg("%s: got \"%.*s\", want \"%s\"", vary_cases[i].desc, (int)r.headers.len,
                     r.headers.data, want);
    }
}

/* Full headers: response_vary and response_edit_header fail and change nothing. */
static void test_vary_full(void **state)
{
    (void)state;
    char storage[24];
    struct response r;
    response_init(&r, storage, sizeof(storage));
    assert_true(buf_append_str(&r.headers, "Vary: Accept\r\n"));
    assert_false(response_vary(&r, "Accept-Encoding"));
    assert_int_equal(r.headers.len, strlen("Vary: Accept\r\n"));
    assert_memory_equal(r.headers.data, "Vary: Accept\r\n", r.headers.len);
    response_init(&r, storage, sizeof(storage));
    assert_false(response_vary(&r, "A-very-long-request-header-name"));
    assert_int_equal(r.headers.len, 0);
}

static void test_find_header(void **state)
{
    (void)state;
    char storage[128];
    struct response r;
    response_init(&r, storage, sizeof(storage));
    response_header(&r, "Cache-Control", SLICE_LIT("no-store"));
    response_header(&r, "ETag", SLICE_LIT("\"abc\""));
    struct slice v = response_find_header(&r, "etag");
    assert_true(slice_eq(v, SLICE_LIT("\"abc\"")));
    assert_null(response_find_header(&r, "Content-Encoding").ptr);
    assert_null(response_find_header(&r, "ETa").ptr);
    assert_true(response_edit_header(&r, v, v.len - 1, SLICE_LIT("-gz")));
    assert_true(slice_eq(response_find_header(&r, "ETag"), SLICE_LIT("\"abc-gz\"")));
    assert_true(slice_eq(response_find_header(&r, "Cache-Control"), SLICE_LIT("no-store")));
}

static void test_remove_header(void **state)
{
    (void)state;
    char storage[256];
    struct response r;
    response_init(&r, storage, sizeof(storage));
    response_header(&r, "ETag", SLICE_LIT("\"a\""));
    response_header(&r, "Cache-Control", SLICE_LIT("no-cache"));
    response_header(&r, "etag", SLICE_LIT("\"b\""));
    response_header(&r, "ETags", SLICE_LIT("kept"));
    response_remove_header(&r, "ETag");
    assert_null(response_find_header(&r, "ETag").ptr);
    assert_true(slice_eq(buf_slice(&r.headers),
                         SLICE_LIT("Cache-Control: no-cache\r\nETags: kept\r\n")));
    response_remove_header(&r, "Nothing");
    response_remove_header(&r, "ETags");
    response_remove_header(&r, "Cache-Control");
    assert_int_equal(r.headers.len, 0);
}

/* An error page replaces a representation: its coding and validators go with it, a 416's
 * Content-Range stays. */
static void test_error_drops_representation_headers(void **state)
{
    (void)state;
    char storage[256];
    struct response r;
    response_init(&r, storage, sizeof(storage));
    response_header(&r, "Content-Encoding", SLICE_LIT("gzip"));
    response_header(&r, "Last-Modified", SLICE_LIT("Thu, 01 Jan 2026 00:00:00 GMT"));
    response_header(&r, "ETag", SLICE_LIT("\"x-gzip\""));
    response_header(&r, "Content-Range", SLICE_LIT("bytes */10"));
    r.is_negotiated = true;
    assert_int_equal(response_error(&r, 416), 416);
    assert_true(slice_eq(buf_slice(&r.headers), SLICE_LIT("Content-Range: bytes */10\r\n")));
    assert_false(r.is_negotiated);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heads),
        cmocka_unit_test(test_error_pages),
        cmocka_unit_test(test_header_overflow_is_clean),
        cmocka_unit_test(test_vary),
        cmocka_unit_test(test_vary_full),
        cmocka_unit_test(test_find_header),
        cmocka_unit_test(test_remove_header),
        cmocka_unit_test(test_error_drops_representation_headers),
    };
    return cmocka_run_group_tests_name("response", tests, NULL, NULL);
}
