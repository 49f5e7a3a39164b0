/* SPDX-License-Identifier: MIT */
/*
 * HTTP dates (RFC 9110 §5.6.7): IMF-fixdate out, the three historic forms in, and the
 * ISO-8601 UTC form the JSON API and templates use.
 */
#ifndef MICA_HTTP_DATE_H
#define MICA_HTTP_DATE_H

#include <stdbool.h>
#include <time.h>

#include "util/slice.h"

enum {
    DATE_HTTP_LEN = 29, /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    DATE_ISO_LEN = 20,  /* "1994-11-06T08:49:37Z" */
    DATE_CLF_LEN = 26,  /* "06/Nov/1994:08:49:37 +0000" (Common Log Format) */
};

/* Writes the IMF-fixdate of t into out (DATE_HTTP_LEN bytes plus a NUL). */
void date_http(time_t t, char out[DATE_HTTP_LEN + 1]);

/* Writes "YYYY-MM-DDTHH:MM:SSZ" into out (DATE_ISO_LEN bytes plus a NUL). */
void date_iso(time_t t, char out[DATE_ISO_LEN + 1]);

/* Writes the Common Log Format time of t, in UTC, into out (DATE_CLF_LEN bytes plus a NUL). */
void date_clf(time_t t, char out[DATE_CLF_LEN + 1]);

/* Parses an HTTP-date in IMF-fixdate, RFC 850 or asctime form; false if it is none. */
bool date_parse_http(struct slice s, time_t *t);

#endif
