/* SPDX-License-Identifier: MIT */
/*
 * Tests for util/: struct buf (growth from fixed storage to the heap, the max limit, the
 * all-or-nothing rule), struct pool (reuse and the bound on kept blocks) and the slice
 * helpers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/pool.h"
#include "util/slice.h"
#include "util/utf8.h"

static void test_buf_grows_from_storage(void **state)
{
    (void)state;
    char storage[8];
    struct buf b;
    buf_init(&b, storage, sizeof(storage), 0);
    assert_true(buf_append_str(&b, "1234567"));
    assert_ptr_equal(b.data, storage);
    assert_false(b.is_heap);
    assert_true(buf_append_str(&b, "89abcdef"));
    assert_true(b.is_heap);
    assert_int_equal(b.len, 15);
    assert_memory_equal(b.data, "123456789abcdef", 15);
    buf_free(&b);
    assert_null(b.data);
}

/* buf_trim empties; it frees heap storage only past `keep`, never caller storage. */
static void test_buf_trim(void **state)
{
    (void)state;
    char storage[64];
    struct buf b;
    buf_init(&b, storage, sizeof(storage), 0);
    assert_true(buf_append(&b, "abc", 3));
    buf_trim(&b, 0);
    assert_int_equal(b.len, 0);
    assert_ptr_equal(b.data, storage); /* the caller's: kept */
    char big[1000] = {0};
    assert_true(buf_append(&b, big, sizeof(big)));
    assert_true(b.is_heap);
    buf_trim(&b, 4096); /* small enough to keep */
    assert_true(b.is_heap && b.len == 0 && b.cap >= sizeof(big));
    buf_trim(&b, 512); /* past keep: freed */
    assert_false(b.is_heap);
    assert_int_equal(b.cap, 0);
    assert_true(buf_append(&b, "x", 1)); /* and usable again */
    buf_free(&b);
}

static void test_buf_max_is_all_or_nothing(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, NULL, 0, 10);
    assert_true(buf_append_str(&b, "12345"));
    assert_false(buf_append_str(&b, "678901")); /* would make 11 */
    assert_int_equal(b.len, 5);
    assert_true(buf_append_str(&b, "67890"));
    assert_int_equal(b.len, 10);
    assert_false(buf_printf(&b, "%d", 1));
    assert_int_equal(b.len, 10);
    buf_free(&b);
}

static void test_buf_printf_and_numbers(void **state)
{
    (void)state;
    char storage[4];
    struct buf b;
    buf_init(&b, storage, sizeof(storage), 0);
    assert_true(buf_printf(&b, "%s-%d", "abc", 42)); /* longer than the storage */
    assert_true(buf_append_u64(&b, 0));
    assert_true(buf_append_u64(&b, 18446744073709551615ull));
    const char want[] = "abc-42018446744073709551615";
    assert_int_equal(b.len, sizeof(want) - 1);
    assert_memory_equal(b.data, want, b.len);
    buf_free(&b);
}

static void test_buf_reserve_overflow(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, NULL, 0, 0);
    assert_true(buf_append(&b, "x", 1));
    assert_false(buf_reserve(&b, SIZE_MAX));
    assert_int_equal(b.len, 1);
    buf_free(&b);
}

static void test_pool_reuses_and_bounds(void **state)
{
    (void)state;
    struct pool p;
    pool_init(&p, 64, 2);
    void *a = pool_get(&p), *b = pool_get(&p), *c = pool_get(&p);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    pool_put(&p, a);
    pool_put(&p, b);
    pool_put(&p, c); /* over max_free: freed, not kept */
    assert_int_equal(p.n_free, 2);
    void *d = pool_get(&p);
    assert_true(d == a || d == b);
    memset(d, 0xab, 64); /* the whole block is usable again */
    pool_put(&p, d);
    pool_put(&p, NULL);
    assert_int_equal(p.n_free, 2);
    pool_drain(&p);
    assert_int_equal(p.n_free, 0);
    assert_null(p.free_list);
}

static void test_slices(void **state)
{
    (void)state;
    assert_true(slice_case_eq(SLICE_LIT("Content-Length"), SLICE_LIT("content-length")));
    assert_false(slice_case_eq(SLICE_LIT("Host"), SLICE_LIT("Hos")));
    assert_true(slice_eq(slice_trim(SLICE_LIT(" \t x y \t")), SLICE_LIT("x y")));
    assert_int_equal(slice_trim(SLICE_LIT("   ")).len, 0);
    assert_true(slice_starts_with(SLICE_LIT("/status"), SLICE_LIT("/st")));
    assert_true(slice_ends_with(SLICE_LIT("a.tpl.html"), SLICE_LIT(".tpl.html")));
    assert_false(slice_ends_with(SLICE_LIT("html"), SLICE_LIT(".html")));
    assert_int_equal(slice_str(NULL).len, 0);
}

struct utf8_case {
    const char *desc;
    const char *in;
    size_t len;
    bool valid;
    const char *sanitized;
};

#define U(s) (s), sizeof(s) - 1

static const struct utf8_case utf8_cases[] = {
    {"ASCII", U("hello"), true, "hello"},
    {"two-byte", U("caf\xc3\xa9"), true, "caf\xc3\xa9"},
    {"three-byte", U("\xe2\x98\x95"), true, "\xe2\x98\x95"},
    {"four-byte", U("\xf0\x9f\x98\x80"), true, "\xf0\x9f\x98\x80"},
    {"lone continuation", U("a\x80" "b"), false, "a\xef\xbf\xbd" "b"},
    {"overlong slash", U("\xc0\xaf"), false, "\xef\xbf\xbd\xef\xbf\xbd"},
    {"overlong three-byte", U("\xe0\x80\xaf"), false,
     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    {"surrogate", U("\xed\xa0\x80"), false, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    {"past U+10FFFF", U("\xf4\x90\x80\x80"), false,
     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    {"truncated at the end", U("ok\xe2\x98"), false, "ok\xef\xbf\xbd\xef\xbf\xbd"},
    {"0xff", U("\xff"), false, "\xef\xbf\xbd"},
    {"NUL inside", U("a\0b"), true, "a\xef\xbf\xbd" "b"},
};

static void test_utf8(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
        const struct utf8_case *c = &utf8_cases[i];
        if (utf8_valid(c->in, c->len) != c->valid)
            fail_msg("%s: valid should be %d", c->desc, c->valid);
        char *out = utf8_sanitized(c->in, c->len);
        assert_non_null(out);
        if (strcmp(out, c->sanitized) != 0)
            fail_msg("%s: sanitized wrong", c->desc);
        assert_true(utf8_valid(out, strlen(out)));
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_grows_from_storage),
        cmocka_unit_test(test_buf_trim),
        cmocka_unit_test(test_buf_max_is_all_or_nothing),
        cmocka_unit_test(test_buf_printf_and_numbers),
        cmocka_unit_test(test_buf_reserve_overflow),
        cmocka_unit_test(test_pool_reuses_and_bounds),
        cmocka_unit_test(test_slices),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
