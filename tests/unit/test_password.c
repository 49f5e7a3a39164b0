/* SPDX-License-Identifier: MIT */
/* Tests for util/password: hash and verify round trip, salts differ, hostile hashes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "util/password.h"

static void test_round_trip(void **state)
{
    (void)state;
    char a[PASSWORD_HASH_MAX], b[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash("correct horse", a, sizeof(a)), 0);
    assert_int_equal(password_hash("correct horse", b, sizeof(b)), 0);
    assert_true(strncmp(a, "$y$", 3) == 0);
    assert_string_not_equal(a, b); /* a fresh salt each time */
    assert_true(password_is_hash(a));
    assert_true(password_verify("correct horse", a));
    assert_true(password_verify("correct horse", b));
    assert_false(password_verify("correct hors", a));
    assert_false(password_verify("correct horse ", a));
    assert_false(password_verify("", a));
}

static void test_bad_hashes(void **state)
{
    (void)state;
    const char *bad[] = {"", "secret", "$y$", "*", "$y$j9T$short", "$1$abc$def", NULL};
    for (int i = 0; bad[i]; i++) {
        if (password_verify("secret", bad[i]))
            fail_msg("verified against \"%s\"", bad[i]);
    }
    assert_false(password_verify("x", NULL));
    char tiny[8];
    assert_int_not_equal(password_hash("x", tiny, sizeof(tiny)), 0);
}

static void test_equal(void **state)
{
    (void)state;
    assert_true(password_equal("abc", "abc", 3));
    assert_false(password_equal("abc", "abd", 3));
    assert_true(password_equal("", "", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_hashes),
        cmocka_unit_test(test_equal),
    };
    return cmocka_run_group_tests_name("password", tests, NULL, NULL);
}
