/* SPDX-License-Identifier: MIT */
/*
 * HTTP date formatting and parsing. Formatting avoids strftime (locale-dependent, and it
 * runs once a second per worker for Date plus once per file response for Last-Modified):
 * the civil date comes from days-since-epoch arithmetic.
 */
#include "http/date.h"

#include <string.h>

static const char wday_names[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct civil {
    int year, month, day; /* month 1..12 */
    int hour, min, sec;
    int wday; /* index into wday_names: days since Thursday 1970-01-01 */
};

/* Days since 1970-01-01 → civil date (Howard Hinnant's algorithm, proleptic Gregorian). */
static void civil_from_time(time_t t, struct civil *c)
{
    long long days = t / 86400, rem = t % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    c->hour = (int)(rem / 3600);
    c->min = (int)(rem / 60 % 60);
    c->sec = (int)(rem % 60);
    c->wday = (int)(((days % 7) + 7) % 7);
    long long z = days + 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    c->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    c->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    c->year = (int)(yoe + era * 400 + (c->month <= 2));
}

/* Civil date → seconds since the epoch (the inverse of civil_from_time). */
static time_t time_from_civil(int y, int m, int d, int hh, int mm, int ss)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    long long days = era * 146097 + doe - 719468;
    return (time_t)(days * 86400 + hh * 3600 + mm * 60 + ss);
}

static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

static void put4(char *p, int v)
{
    put2(p, v / 100);
    put2(p + 2, v % 100);
}

void date_http(time_t t, char out[DATE_HTTP_LEN + 1])
{
    struct civil c;
    civil_from_time(t, &c);
    memcpy(out, "Thu, 01 Jan 1970 00:00:00 GMT", DATE_HTTP_LEN + 1);
    memcpy(out, wday_names[c.wday], 3);
    put2(out + 5, c.day);
    memcpy(out + 8, month_names[c.month - 1], 3);
    put4(out + 12, c.year);
    put2(out + 17, c.hour);
    put2(out + 20, c.min);
    put2(out + 23, c.sec);
}

void date_iso(time_t t, char out[DATE_ISO_LEN + 1])
{
    struct civil c;
    civil_from_time(t, &c);
    memcpy(out, "1970-01-01T00:00:00Z", DATE_ISO_LEN + 1);
    put4(out, c.year);
    put2(out + 5, c.month);
    put2(out + 8, c.day);
    put2(out + 11, c.hour);
    put2(out + 14, c.min);
    put2(out + 17, c.sec);
}

void date_clf(time_t t, char out[DATE_CLF_LEN + 1])
{
    struct civil c;
    civil_from_time(t, &c);
    memcpy(out, "01/Jan/1970:00:00:00 +0000", DATE_CLF_LEN + 1);
    put2(out, c.day);
    memcpy(out + 3, month_names[c.month - 1], 3);
    put4(out + 7, c.year);
    put2(out + 12, c.hour);
    put2(out + 15, c.min);
    put2(out + 18, c.sec);
}

/* Reads exactly n digits at *p; advances it. */
static bool digits(const char **p, const char *end, int n, int *v)
{
    if (end - *p < n)
        return false;
    int x = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9')
            return false;
        x = x * 10 + (ch - '0');
    }
    *p += n;
    *v = x;
    return true;
}

static bool lit(const char **p, const char *end, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(end - *p) < n || memcmp(*p, s, n) != 0)
        return false;
    *p += n;
    return true;
}

static bool month(const char **p, const char *end, int *m)
{
    if (end - *p < 3)
        return false;
    for (int i = 0; i < 12; i++) {
        if (memcmp(*p, month_names[i], 3) == 0) {
            *m = i + 1;
            *p += 3;
            return true;
        }
    }
    return false;
}

static bool skip_day_name(const char **p, const char *end, char stop)
{
    const char *q = *p;
    while (q < end && *q != stop) {
        if (!((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z')))
            return false;
        q++;
    }
    if (q == end || q - *p < 3)
        return false;
    *p = q + 1;
    return true;
}

static bool time_of_day(const char **p, const char *end, int *h, int *mi, int *s)
{
    return digits(p, end, 2, h) && lit(p, end, ":") && digits(p, end, 2, mi) && lit(p, end, ":") &&
           digits(p, end, 2, s);
}

/* RFC 9110 §5.6.7: a two-digit year more than 50 years in the future means the most
 * recent past year with the same last two digits. */
static int rfc850_year(int yy)
{
    struct civil now;
    civil_from_time(time(NULL), &now);
    int y = now.year / 100 * 100 + yy;
    if (y > now.year + 50)
        y -= 100;
    return y;
}

bool date_parse_http(struct slice str, time_t *t)
{
    const char *p = str.ptr, *end = str.ptr + str.len;
    int y = 0, m = 0, d = 0, hh = 0, mm = 0, ss = 0;
    if (str.len == DATE_HTTP_LEN && p[3] == ',') {
        /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        p += 4;
        if (!(lit(&p, end, " ") && digits(&p, end, 2, &d) && lit(&p, end, " ") &&
              month(&p, end, &m) && lit(&p, end, " ") && digits(&p, end, 4, &y) &&
              lit(&p, end, " ") && time_of_day(&p, end, &hh, &mm, &ss) && lit(&p, end, " GMT") &&
              p == end))
            return false;
    } else if (str.len > 3 && memchr(p, ',', str.len)) {
        /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT (two-digit years: RFC 9110 §5.6.7) */
        if (!(skip_day_name(&p, end, ',') && lit(&p, end, " ") && digits(&p, end, 2, &d) &&
              lit(&p, end, "-") && month(&p, end, &m) && lit(&p, end, "-") &&
              digits(&p, end, 2, &y) && lit(&p, end, " ") && time_of_day(&p, end, &hh, &mm, &ss) &&
              lit(&p, end, " GMT") && p == end))
            return false;
        y = rfc850_year(y);
    } else {
        /* asctime: Sun Nov  6 08:49:37 1994 */
        if (!(skip_day_name(&p, end, ' ') && month(&p, end, &m) && lit(&p, end, " ")))
            return false;
        if (p < end && *p == ' ')
            p++;
        else if (!(end - p >= 2 && p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9'))
            return false;
        const char *q = p;
        if (!digits(&q, end, 2, &d) && !digits(&p, end, 1, &d))
            return false;
        if (q > p)
            p = q;
        if (!(lit(&p, end, " ") && time_of_day(&p, end, &hh, &mm, &ss) && lit(&p, end, " ") &&
              digits(&p, end, 4, &y) && p == end))
            return false;
    }
    if (m < 1 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60)
        return false;
    *t = time_from_civil(y, m, d, hh, mm, ss > 59 ? 59 : ss);
    return true;
}
