/* SPDX-License-Identifier: MIT */
/*
 * Tests for http/date: IMF-fixdate and ISO-8601 output against gmtime over a spread of
 * instants, and parsing of the three HTTP-date forms (RFC 9110 §5.6.7) with hostile input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http/date.h"

static void test_format_matches_gmtime(void **state)
{
    (void)state;
    /* Every ~3.7 days from 1970 to 2100, plus leap days and year boundaries. */
    for (long long t = 0; t < 4102444800LL; t += 318007) {
        char got[DATE_HTTP_LEN + 1], want[64], iso[DATE_ISO_LEN + 1], want_iso[64];
        char clf[DATE_CLF_LEN + 1], want_clf[64];
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(want, sizeof(want), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        strftime(want_iso, sizeof(want_iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
        strftime(want_clf, sizeof(want_clf), "%d/%b/%Y:%H:%M:%S +0000", &tm);
        date_clf(tt, clf);
        if (strcmp(clf, want_clf) != 0)
            fail_msg("t=%lld: CLF %s, want %s", t, clf, want_clf);
        date_http(tt, got);
        date_iso(tt, iso);
        if (strcmp(got, want) != 0 || strcmp(iso, want_iso) != 0)
            fail_msg("t=%lld: got %s / %s, want %s / %s", t, got, iso, want, want_iso);
        time_t back;
        if (!date_parse_http(slice_str(got), &back) || back != tt)
            fail_msg("t=%lld: %s does not parse back", t, got);
    }
}

struct parse_case {
    const char *desc;
    const char *in;
    bool ok;
    long long want;
};

static const struct parse_case parse_cases[] = {
    {"IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", true, 784111777},
    {"RFC 850", "Sunday, 06-Nov-94 08:49:37 GMT", true, 784111777},
    {"asctime, one-digit day", "Sun Nov  6 08:49:37 1994", true, 784111777},
    {"asctime, two-digit day", "Thu Nov 26 01:02:03 2026", true, 1795654923},
    {"leap day", "Thu, 29 Feb 2024 00:00:00 GMT", true, 1709164800},
    {"epoch", "Thu, 01 Jan 1970 00:00:00 GMT", true, 0},
    {"RFC 850 year 69 means 2069", "Thursday, 01-Jan-69 00:00:00 GMT", true, 3124224000},
    {"empty", "", false, 0},
    {"lowercase month", "Sun, 06 nov 1994 08:49:37 GMT", false, 0},
    {"not GMT", "Sun, 06 Nov 1994 08:49:37 UTC", false, 0},
    {"trailing junk", "Sun, 06 Nov 1994 08:49:37 GMTx", false, 0},
    {"hour 24", "Sun, 06 Nov 1994 24:49:37 GMT", false, 0},
    {"day 32", "Sun, 32 Nov 1994 08:49:37 GMT", false, 0},
    {"missing seconds", "Sun, 06 Nov 1994 08:49 GMT", false, 0},
    {"letters in year", "Sun, 06 Nov 19x4 08:49:37 GMT", false, 0},
    {"RFC 850 year 99 means 1999", "Friday, 31-Dec-99 23:59:59 GMT", true, 946684799},
    {"an ETag, not a date", "\"abc-123\"", false, 0},
    {"a number", "784111777", false, 0},
};

static void test_parse_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *c = &parse_cases[i];
        time_t t = 0;
        bool ok = date_parse_http(slice_str(c->in), &t);
        if (ok != c->ok || (ok && (long long)t != c->want))
            fail_msg("%s: \"%s\" gave %d/%lld, want %d/%lld", c->desc, c->in, ok, (long long)t,
                     c->ok, c->want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_matches_gmtime),
        cmocka_unit_test(test_parse_cases),
    };
    return cmocka_run_group_tests_name("date", tests, NULL, NULL);
}
