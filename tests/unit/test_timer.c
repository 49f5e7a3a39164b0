/* SPDX-License-Identifier: MIT */
/* Tests for core/timer: ordering, re-arming, cancelling and expiry across lists. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/timer.h"

static void test_expiry_in_order(void **state)
{
    (void)state;
    struct timer_list l = {0};
    struct timer t[4];
    for (int i = 0; i < 4; i++) {
        timer_init(&t[i]);
        timer_arm(&l, &t[i], 100 + (uint64_t)i * 10);
    }
    assert_null(timer_pop_expired(&l, 99));
    assert_ptr_equal(timer_pop_expired(&l, 115), &t[0]);
    assert_ptr_equal(timer_pop_expired(&l, 115), &t[1]);
    assert_null(timer_pop_expired(&l, 115));
    assert_false(timer_armed(&t[0]));
    assert_true(timer_armed(&t[2]));
}

static void test_rearm_moves_to_tail(void **state)
{
    (void)state;
    struct timer_list l = {0};
    struct timer a, b, c;
    timer_init(&a);
    timer_init(&b);
    timer_init(&c);
    timer_arm(&l, &a, 10);
    timer_arm(&l, &b, 20);
    timer_arm(&l, &c, 30);
    timer_arm(&l, &a, 40); /* activity on a: now last */
    assert_ptr_equal(l.head, &b);
    assert_ptr_equal(l.tail, &a);
    timer_cancel(&c); /* from the middle */
    timer_cancel(&c); /* twice is harmless */
    assert_ptr_equal(b.next, &a);
    assert_ptr_equal(a.prev, &b);
    assert_ptr_equal(timer_pop_expired(&l, 100), &b);
    assert_ptr_equal(timer_pop_expired(&l, 100), &a);
    assert_null(l.head);
    assert_null(l.tail);
}

static void test_next_over_lists(void **state)
{
    (void)state;
    struct timer_list lists[3] = {{0}};
    assert_int_equal(timer_next(lists, 3), UINT64_MAX);
    struct timer a, b;
    timer_init(&a);
    timer_init(&b);
    timer_arm(&lists[2], &a, 500);
    timer_arm(&lists[0], &b, 700);
    assert_int_equal(timer_next(lists, 3), 500);
    timer_arm(&lists[1], &a, 900); /* moving between lists */
    assert_ptr_equal(a.list, &lists[1]);
    assert_null(lists[2].head);
    assert_int_equal(timer_next(lists, 3), 700);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expiry_in_order),
        cmocka_unit_test(test_rearm_moves_to_tail),
        cmocka_unit_test(test_next_over_lists),
    };
    return cmocka_run_group_tests_name("timer", tests, NULL, NULL);
}
