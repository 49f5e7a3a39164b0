/* SPDX-License-Identifier: MIT */
/*
 * Tests for http/form: tables of urlencoded and multipart bodies, valid and hostile, each
 * with the exact status and the callbacks it must produce, recorded as a trace string:
 *   F[name]=[value]                     a field
 *   B[name][filename][content type]     a file begins, followed by
 *   D[bytes]                            all its data, in one bracket whatever the pieces,
 *   E                                   and its end.
 * Every multipart case is also fed split in two at every offset and in pieces of 1, 2, 3
 * and 7 bytes, and must give the same status, reason and trace. Every input, and every
 * piece fed, ends at an inaccessible page, so a read past the bytes given crashes; the
 * pieces are all copied to the same place, so a pointer kept into an earlier one is caught
 * too. Then large values (the heap path), the header block limit, and form_classify.
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

#include "http/form.h"
#include "guarded.h"

/* The input of a case, and its expected trace, as pointer and length (NUL bytes count). */
#define IN(s) .input = (s), .len = sizeof(s) - 1
#define TRACE(s) .trace = (s), .trace_len = sizeof(s) - 1

static const struct form_limits roomy = {
    .max_fields = 100,
    .max_field_bytes = 1000,
    .max_file_bytes = 100000,
    .max_total_bytes = 1000000,
};

/* The recorder: callbacks that write the trace. */

struct recorder {
    struct buf trace;
    int stop_at; /* the field, file_begin or file_end call (1-based) that returns 507 */
    int calls;
    int data_status; /* what file_data returns */
};

static void rec_init(struct recorder *r, int stop_at)
{
    buf_init(&r->trace, NULL, 0, 0);
    r->stop_at = stop_at;
    r->calls = 0;
    r->data_status = 0;
}

static void rec_bytes(struct recorder *r, const char *p, size_t n)
{
    assert_true(buf_append(&r->trace, p, n));
}

static void rec_str(struct recorder *r, const char *s)
{
    rec_bytes(r, s, strlen(s));
}

static void rec_slice(struct recorder *r, struct slice s)
{
    assert_true(s.ptr != NULL || s.len == 0);
    rec_str(r, "[");
    rec_bytes(r, s.ptr, s.len);
    rec_str(r, "]");
}

static int rec_status(struct recorder *r)
{
    return ++r->calls == r->stop_at ? 507 : 0;
}

static int on_field(void *ctx, struct slice name, struct slice value)
{
    struct recorder *r = ctx;
    rec_str(r, "F");
    rec_slice(r, name);
    rec_str(r, "=");
    rec_slice(r, value);
    rec_str(r, "\n");
    return rec_status(r);
}

static int on_file_begin(void *ctx, struct slice name, struct slice filename,
                         struct slice content_type)
{
    struct recorder *r = ctx;
    rec_str(r, "B");
    rec_slice(r, name);
    rec_slice(r, filename);
    rec_slice(r, content_type);
    rec_str(r, "\nD[");
    return rec_status(r);
}

static int on_file_data(void *ctx, const char *data, size_t len)
{
    struct recorder *r = ctx;
    assert_true(len > 0);
    rec_bytes(r, data, len);
    return r->data_status;
}

static int on_file_end(void *ctx)
{
    struct recorder *r = ctx;
    rec_str(r, "]\nE\n");
    return rec_status(r);
}

static const struct form_callbacks callbacks = {on_field, on_file_begin, on_file_data, on_file_end};

/* Prints a trace with its control bytes escaped. */
static void print_trace(const char *label, const char *p, size_t n)
{
    print_error("  %s: \"", label);
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)p[i];
        if (c == '\n')
            print_error("\\n");
        else if (c < 0x20 || c >= 0x7F)
            print_error("\\x%02x", c);
        else
            print_error("%c", c);
    }
    print_error("\"\n");
}

/* application/x-www-form-urlencoded cases. */

struct ue_case {
    const char *desc;
    const char *input;
    size_t len;
    int status; /* 0: parsed; else the HTTP status */
    const char *trace;
    size_t trace_len;
    const struct form_limits *limits; /* NULL: roomy */
    int stop_at;
};

static const struct form_limits ue_two_fields = {.max_fields = 2, .max_field_bytes = 100};
static const struct form_limits ue_three_bytes = {.max_fields = 10, .max_field_bytes = 3};
static const struct form_limits ue_nothing = {0};

static const struct ue_case ue_cases[] = {
    {"empty body", IN(""), 0, TRACE("")},
    {"one pair", IN("a=1"), 0, TRACE("F[a]=[1]\n")},
    {"two pairs in order", IN("a=1&b=2"), 0, TRACE("F[a]=[1]\nF[b]=[2]\n")},
    {"'+' is a space in name and value", IN("a+b=c+d+"), 0, TRACE("F[a b]=[c d ]\n")},
    {"percent-escapes, upper and lower hex", IN("%41%4a=%6a%4A"), 0, TRACE("F[AJ]=[jJ]\n")},
    {"%2B is a literal '+'", IN("q=1%2B1"), 0, TRACE("F[q]=[1+1]\n")},
    {"%20 and '+' both give spaces", IN("a%20b=c+%20d"), 0, TRACE("F[a b]=[c  d]\n")},
    {"UTF-8 from escapes", IN("name=%C3%A9t%C3%A9"), 0, TRACE("F[name]=[\xc3\xa9t\xc3\xa9]\n")},
    {"raw UTF-8 passes through", IN("caf\xc3\xa9=\xe2\x82\xac"), 0,
     TRACE("F[caf\xc3\xa9]=[\xe2\x82\xac]\n")},
    {"repeated names, each delivered", IN("a=1&a=2&a=3"), 0,
     TRACE("F[a]=[1]\nF[a]=[2]\nF[a]=[3]\n")},
    {"empty pairs skipped", IN("a=1&&b=2"), 0, TRACE("F[a]=[1]\nF[b]=[2]\n")},
    {"leading and trailing '&'", IN("&a=1&"), 0, TRACE("F[a]=[1]\n")},
    {"only separators", IN("&&&"), 0, TRACE("")},
    {"name without '=' gets the empty value", IN("flag&b=2"), 0, TRACE("F[flag]=[]\nF[b]=[2]\n")},
    {"name with '=' and nothing after", IN("a="), 0, TRACE("F[a]=[]\n")},
    {"lone '=' is an empty name and value", IN("="), 0, TRACE("F[]=[]\n")},
    {"empty name", IN("=v"), 0, TRACE("F[]=[v]\n")},
    {"'=' in the value stays", IN("a=b=c"), 0, TRACE("F[a]=[b=c]\n")},
    {"value of only '='", IN("a=="), 0, TRACE("F[a]=[=]\n")},
    {"escaped '=' and '&' do not split", IN("%3D=%26%3D"), 0, TRACE("F[=]=[&=]\n")},
    {"';' is not a separator", IN("a=1;b=2"), 0, TRACE("F[a]=[1;b=2]\n")},
    {"NUL bytes from escapes", IN("%00=a%00b"), 0, TRACE("F[\0]=[a\0b]\n")},
    {"escaped '%' then hex digits", IN("p=%2541"), 0, TRACE("F[p]=[%41]\n")},
    {"a lone '+'", IN("+"), 0, TRACE("F[ ]=[]\n")},
    /* Bad escapes: stricter than WHATWG, which would keep them. */
    {"'%' at the end", IN("a=%"), 400, TRACE("")},
    {"'%' and one digit", IN("a=%4"), 400, TRACE("")},
    {"'%' and non-hex", IN("a=%zz"), 400, TRACE("")},
    {"'%' with one bad digit", IN("a=%4g"), 400, TRACE("")},
    {"bad escape in the name", IN("%=1"), 400, TRACE("")},
    {"'%%'", IN("a=%%41"), 400, TRACE("")},
    {"bad escape after a good pair", IN("a=1&b=%G0"), 400, TRACE("F[a]=[1]\n")},
    {"'%' before '&'", IN("a=%&b=1"), 400, TRACE("")},
    /* Limits. */
    {"more fields than max_fields", IN("a=1&b=2&c=3"), 413, TRACE("F[a]=[1]\nF[b]=[2]\n"),
     &ue_two_fields},
    {"empty pairs do not count as fields", IN("a=1&&&b=2&"), 0, TRACE("F[a]=[1]\nF[b]=[2]\n"),
     &ue_two_fields},
    {"name over max_field_bytes", IN("abcd=1"), 413, TRACE(""), &ue_three_bytes},
    {"value over max_field_bytes", IN("a=abcd"), 413, TRACE(""), &ue_three_bytes},
    {"sizes at max_field_bytes", IN("abc=xyz"), 0, TRACE("F[abc]=[xyz]\n"), &ue_three_bytes},
    {"the limit is on decoded bytes", IN("%41%42%43=a+b"), 0, TRACE("F[ABC]=[a b]\n"),
     &ue_three_bytes},
    {"zero limits refuse any field", IN("a"), 413, TRACE(""), &ue_nothing},
    {"zero limits accept an empty body", IN("&"), 0, TRACE(""), &ue_nothing},
    /* A callback's status stops the parse. */
    {"callback stops at the second field", IN("a=1&b=2&c=3"), 507, TRACE("F[a]=[1]\nF[b]=[2]\n"),
     NULL, 2},
};

enum { N_UE_CASES = sizeof(ue_cases) / sizeof(ue_cases[0]) };

static bool trace_check(const char *desc, const char *how, const struct recorder *r,
                        const char *want, size_t want_len)
{
    if (r->trace.len == want_len && (want_len == 0 || memcmp(r->trace.data, want, want_len) == 0))
        return true;
    print_error("%s (%s): trace differs\n", desc, how);
    print_trace("want", want, want_len);
    print_trace("got ", r->trace.data, r->trace.len);
    return false;
}

static void test_urlencoded_cases(void **state)
{
    (void)state;
    struct guarded g = guarded_map(4);
    unsigned failed = 0;
    for (size_t i = 0; i < N_UE_CASES; i++) {
        const struct ue_case *c = &ue_cases[i];
        struct recorder r;
        rec_init(&r, c->stop_at);
        struct request_error err = {0};
        char *body = guarded_put(&g, c->input, c->len);
        const bool ok =
            urlencoded_parse(body, c->len, c->limits ? c->limits : &roomy, on_field, &r, &err);
        const int status = ok ? 0 : err.status;
        if (status != c->status) {
            print_error("%s: status %d (%s), want %d\n", c->desc, status, ok ? "ok" : err.reason,
                        c->status);
            failed++;
        } else if (!ok && (!err.reason || !err.reason[0])) {
            print_error("%s: no reason\n", c->desc);
            failed++;
        }
        failed += !trace_check(c->desc, "urlencoded", &r, c->trace, c->trace_len);
        buf_free(&r.trace);
    }
    guarded_unmap(&g);
    assert_int_equal(failed, 0);
}

/* multipart/form-data cases. */

#define CT_DEFAULT "multipart/form-data; boundary=XyZ"
#define DELIM "--XyZ\r\n"
#define CLOSE "--XyZ--\r\n"
/* A field part after its delimiter line, with the CRLF that begins the next delimiter. */
#define FIELD_PART(name, value)                                                                    \
    "Content-Disposition: form-data; name=\"" name "\"\r\n\r\n" value "\r\n"
/* A file part; `headers` are extra header lines, each ending in CRLF. */
#define FILE_PART(name, filename, headers, content)                                                \
    "Content-Disposition: form-data; name=\"" name "\"; filename=\"" filename "\"\r\n" headers     \
    "\r\n" content "\r\n"

#define B70 "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-."

struct mp_case {
    const char *desc;
    const char *content_type; /* NULL: CT_DEFAULT */
    const char *input;
    size_t len;
    int status; /* 0: complete; else the HTTP status */
    const char *trace;
    size_t trace_len;
    const struct form_limits *limits; /* NULL: roomy */
    int stop_at;
};

/* Limits that the body EXACT_BODY meets exactly, and variants one short. */
#define EXACT_BODY DELIM FIELD_PART("abc", "xyz") DELIM FILE_PART("f", "n", "", "123") CLOSE
#define EXACT_TRACE "F[abc]=[xyz]\nB[f][n][text/plain]\nD[123]\nE\n"
static const struct form_limits exact = {2, 3, 3, sizeof(EXACT_BODY) - 1};
static const struct form_limits one_field = {1, 3, 3, 1000};
static const struct form_limits short_field = {2, 2, 3, 1000};
static const struct form_limits short_file = {2, 3, 2, 1000};
/* The body stops 4 bytes early: after "\r\n--XyZ" of the close delimiter, not its "--". */
static const struct form_limits short_total = {2, 3, 3, sizeof(EXACT_BODY) - 1 - 4};
/* Two bytes short: only "\r\n" of the epilogue is cut off. */
static const struct form_limits epilogue_total = {2, 3, 3, sizeof(EXACT_BODY) - 1 - 2};

static const struct mp_case mp_cases[] = {
    /* Valid bodies. */
    {"one field", NULL, IN(DELIM FIELD_PART("a", "1") CLOSE), 0, TRACE("F[a]=[1]\n")},
    {"two fields and a file", NULL,
     IN(DELIM FIELD_PART("a", "1") DELIM FIELD_PART("b", "two words")
            DELIM FILE_PART("f", "a.txt", "Content-Type: text/plain\r\n", "hello\nworld") CLOSE),
     0, TRACE("F[a]=[1]\nF[b]=[two words]\nB[f][a.txt][text/plain]\nD[hello\nworld]\nE\n")},
    {"file without Content-Type is text/plain", NULL,
     IN(DELIM FILE_PART("f", "x.bin", "", "\x01\x02") CLOSE), 0,
     TRACE("B[f][x.bin][text/plain]\nD[\x01\x02]\nE\n")},
    {"file Content-Type kept as sent, with parameters", NULL,
     IN(DELIM FILE_PART("f", "i.html", "Content-Type:  text/html; charset=utf-8 \r\n", "<p>")
            CLOSE),
     0, TRACE("B[f][i.html][text/html; charset=utf-8]\nD[<p>]\nE\n")},
    {"empty file with an empty filename", NULL,
     IN(DELIM FILE_PART("f", "", "Content-Type: application/octet-stream\r\n", "") CLOSE), 0,
     TRACE("B[f][][application/octet-stream]\nD[]\nE\n")},
    {"empty field value", NULL, IN(DELIM FIELD_PART("a", "") CLOSE), 0, TRACE("F[a]=[]\n")},
    {"no content: the delimiter right after the header block", NULL,
     IN("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n--XyZ--"), 0, TRACE("F[a]=[]\n")},
    {"file with no content before the delimiter", NULL,
     IN("--XyZ\r\nContent-Disposition: form-data; name=f; filename=e\r\n\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ--"),
     0, TRACE("B[f][e][text/plain]\nD[]\nE\nF[a]=[1]\n")},
    {"preamble and epilogue ignored", NULL,
     IN("preamble line\r\n-- more\r\n" DELIM FIELD_PART("a", "1") CLOSE "epilogue\r\n" DELIM), 0,
     TRACE("F[a]=[1]\n")},
    {"body opening with CRLF", NULL, IN("\r\n" DELIM FIELD_PART("a", "1") CLOSE), 0,
     TRACE("F[a]=[1]\n")},
    {"dash-boundary not at a line start, or after bare LF, is preamble", NULL,
     IN("x--XyZ\n--XyZ\r\n" DELIM FIELD_PART("a", "1") CLOSE), 0, TRACE("F[a]=[1]\n")},
    {"transport padding after delimiters", NULL,
     IN("--XyZ \t\r\n" FIELD_PART("a", "1") "--XyZ\t\r\n" FIELD_PART("b", "2") "--XyZ-- \r\n"), 0,
     TRACE("F[a]=[1]\nF[b]=[2]\n")},
    {"no CRLF after the close delimiter", NULL, IN(DELIM FIELD_PART("a", "1") "--XyZ--"), 0,
     TRACE("F[a]=[1]\n")},
    {"anything after the close delimiter is epilogue", NULL,
     IN(DELIM FIELD_PART("a", "1") "--XyZ--junk\x00\r\n--XyZ\n\r\r"), 0, TRACE("F[a]=[1]\n")},
    {"no parts: the close delimiter only", NULL, IN("--XyZ--\r\n"), 0, TRACE("")},
    {"quoted boundary with every special bchar and a space",
     "multipart/form-data; boundary=\"'()+_,-./:=? x\"",
     IN("--'()+_,-./:=? x\r\n" FIELD_PART("a", "1") "--'()+_,-./:=? x--\r\n"), 0,
     TRACE("F[a]=[1]\n")},
    {"quoted boundary with a quoted-pair", "multipart/form-data; boundary=\"a\\b\"",
     IN("--ab\r\n" FIELD_PART("a", "1") "--ab--"), 0, TRACE("F[a]=[1]\n")},
    {"boundary of 70 characters", "multipart/form-data; boundary=\"" B70 "\"",
     IN("--" B70 "\r\n" FIELD_PART("a", "1") "--" B70 "--"), 0, TRACE("F[a]=[1]\n")},
    {"one-character boundary", "multipart/form-data; boundary=-",
     IN("---\r\n" FIELD_PART("a", "-") "-----"), 0, TRACE("F[a]=[-]\n")},
    {"case-insensitive type and parameter name, other parameters",
     "Multipart/Form-Data; charset=utf-8; BOUNDARY=XyZ", IN(DELIM FIELD_PART("a", "1") CLOSE), 0,
     TRACE("F[a]=[1]\n")},
    {"OWS and empty parameters in Content-Type", "multipart/form-data ;; boundary=\"XyZ\" ; x=y ;",
     IN(DELIM FIELD_PART("a", "1") CLOSE), 0, TRACE("F[a]=[1]\n")},
    {"filename* wins over filename", NULL,
     IN(DELIM "Content-Disposition: form-data; name=\"f\"; filename=\"a.txt\"; "
              "filename*=UTF-8''%C3%A9t%C3%A9.txt\r\n\r\ndata\r\n" CLOSE),
     0, TRACE("B[f][\xc3\xa9t\xc3\xa9.txt][text/plain]\nD[data]\nE\n")},
    {"filename* alone, lower-case charset, a language", NULL,
     IN(DELIM "Content-Disposition: form-data; name=f; filename*=utf-8'en-GB'a%20b.txt\r\n\r\n"
              "x\r\n" CLOSE),
     0, TRACE("B[f][a b.txt][text/plain]\nD[x]\nE\n")},
    {"filename* with 3- and 4-byte UTF-8", NULL,
     IN(DELIM "Content-Disposition: form-data; name=f; filename*=UTF-8''%E2%82%AC%F0%9F%98%80"
              "\r\n\r\nx\r\n" CLOSE),
     0, TRACE("B[f][\xe2\x82\xac\xf0\x9f\x98\x80][text/plain]\nD[x]\nE\n")},
    {"quoted-pairs in name and filename", NULL,
     IN(DELIM "Content-Disposition: form-data; name=\"q\\\"n\"; filename=\"a\\\\b\\\"c.txt\"\r\n"
              "\r\nx\r\n" CLOSE),
     0, TRACE("B[q\"n][a\\b\"c.txt][text/plain]\nD[x]\nE\n")},
    {"header names, form-data and parameter names case-insensitive", NULL,
     IN(DELIM "content-disposition: Form-Data; NAME=a\r\n\r\n1\r\n" CLOSE), 0, TRACE("F[a]=[1]\n")},
    {"unknown part headers ignored", NULL,
     IN(DELIM "X-Foo: bar\r\nContent-Transfer-Encoding: 8bit\r\nX-Empty:\r\n"
              "Content-Disposition: form-data; name=a\r\n\r\n1\r\n" CLOSE),
     0, TRACE("F[a]=[1]\n")},
    {"file content full of delimiter prefixes", NULL,
     IN(DELIM FILE_PART("f", "p", "", "a\r\n--XyY\r\n-\r\n\r\n--X\r--Xy\r\r\n--x\n--XyZ") CLOSE), 0,
     TRACE("B[f][p][text/plain]\nD[a\r\n--XyY\r\n-\r\n\r\n--X\r--Xy\r\r\n--x\n--XyZ]\nE\n")},
    {"file content ending in a delimiter prefix", NULL,
     IN(DELIM FILE_PART("f", "p", "", "abc\r\n--Xy") CLOSE), 0,
     TRACE("B[f][p][text/plain]\nD[abc\r\n--Xy]\nE\n")},
    {"file content ending in CR, and one of only CRLF", NULL,
     IN(DELIM FILE_PART("f", "p", "", "abc\r") DELIM FILE_PART("g", "q", "", "\r\n") CLOSE), 0,
     TRACE("B[f][p][text/plain]\nD[abc\r]\nE\nB[g][q][text/plain]\nD[\r\n]\nE\n")},
    {"content starting with dashes", NULL, IN(DELIM FIELD_PART("a", "--XyY-") CLOSE), 0,
     TRACE("F[a]=[--XyY-]\n")},
    {"binary content with NUL and 0xFF", NULL,
     IN(DELIM FILE_PART("f", "b", "", "\x00\xff\r\x00\n\x00") CLOSE), 0,
     TRACE("B[f][b][text/plain]\nD[\x00\xff\r\x00\n\x00]\nE\n")},
    {"repeated names delivered in order", NULL,
     IN(DELIM FIELD_PART("a", "1") DELIM FIELD_PART("a", "2") CLOSE), 0,
     TRACE("F[a]=[1]\nF[a]=[2]\n")},
    {"a part with a Content-Type but no filename is a field", NULL,
     IN(DELIM "Content-Disposition: form-data; name=j\r\nContent-Type: application/json\r\n\r\n"
              "{\"x\":1}\r\n" CLOSE),
     0, TRACE("F[j]=[{\"x\":1}]\n")},
    {"no whitespace, and trailing whitespace, in a header", NULL,
     IN(DELIM "Content-Disposition:form-data;name=a \t\r\n\r\n1\r\n" CLOSE), 0,
     TRACE("F[a]=[1]\n")},
    {"raw UTF-8 in a quoted filename", NULL,
     IN(DELIM FILE_PART("f", "na\xc3\xafve.txt", "", "x") CLOSE), 0,
     TRACE("B[f][na\xc3\xafve.txt][text/plain]\nD[x]\nE\n")},
    {"empty parameters and unknown ones in Content-Disposition", NULL,
     IN(DELIM "Content-Disposition: form-data;; x=\"y;z\"; name=a;\r\n\r\n1\r\n" CLOSE), 0,
     TRACE("F[a]=[1]\n")},
    {"empty name is a name", NULL, IN(DELIM FIELD_PART("", "1") CLOSE), 0, TRACE("F[]=[1]\n")},
    {"field value with CRLFs and dash lines", NULL,
     IN(DELIM FIELD_PART("a", "l1\r\n--l2\r\n--XyY\r\n") CLOSE), 0,
     TRACE("F[a]=[l1\r\n--l2\r\n--XyY\r\n]\n")},
    {"field after a file", NULL,
     IN(DELIM FILE_PART("f", "n", "", "12") DELIM FIELD_PART("a", "1") CLOSE), 0,
     TRACE("B[f][n][text/plain]\nD[12]\nE\nF[a]=[1]\n")},
    {"limits met exactly", NULL, IN(EXACT_BODY), 0, TRACE(EXACT_TRACE), &exact},
    {"epilogue past max_total_bytes is not read", NULL, IN(EXACT_BODY), 0, TRACE(EXACT_TRACE),
     &epilogue_total},

    /* Content-Type. */
    {"no boundary parameter", "multipart/form-data", IN(DELIM FIELD_PART("a", "1") CLOSE), 400},
    {"no boundary among other parameters", "multipart/form-data; charset=utf-8",
     IN(DELIM FIELD_PART("a", "1") CLOSE), 400},
    {"not multipart/form-data", "multipart/mixed; boundary=XyZ",
     IN(DELIM FIELD_PART("a", "1") CLOSE), 415},
    {"not a media type", "form-data; boundary=XyZ", IN(""), 415},
    {"empty boundary token", "multipart/form-data; boundary=", IN("--\r\n"), 400},
    {"empty quoted boundary", "multipart/form-data; boundary=\"\"", IN("--\r\n"), 400},
    {"boundary of 71 characters", "multipart/form-data; boundary=\"" B70 "x\"", IN(""), 400},
    {"boundary ending in a space", "multipart/form-data; boundary=\"ab \"", IN(""), 400},
    {"boundary with a byte that is not a bchar", "multipart/form-data; boundary=\"a@b\"", IN(""),
     400},
    {"unquoted boundary that is not a token", "multipart/form-data; boundary=a:b", IN(""), 400},
    {"duplicate boundary", "multipart/form-data; boundary=a; Boundary=a", IN(""), 400},
    {"unterminated quoted boundary", "multipart/form-data; boundary=\"XyZ", IN(""), 400},
    {"no ';' before a parameter", "multipart/form-data boundary=XyZ", IN(""), 400},
    {"parameter without '='", "multipart/form-data; boundary", IN(""), 400},
    {"parameter without a name", "multipart/form-data; =XyZ", IN(""), 400},
    {"unquoted boundary of 71 characters",
     "multipart/form-data; boundary="
     "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345678",
     IN(""), 400},
    {"control byte in a quoted boundary", "multipart/form-data; boundary=\"a\x01b\"", IN(""), 400},
    {"quoted-pair of a control byte", "multipart/form-data; boundary=\"a\\\x7f\"", IN(""), 400},

    /* Framing. */
    {"empty body", NULL, IN(""), 400},
    {"no delimiter at all", NULL, IN("just text\r\n"), 400},
    {"no close delimiter", NULL, IN(DELIM FIELD_PART("a", "1")), 400, TRACE("")},
    {"body ends inside a file", NULL, IN(DELIM FILE_PART("f", "n", "", "hello")), 400,
     TRACE("B[f][n][text/plain]\nD[hello")},
    {"body ends after a delimiter line", NULL, IN(DELIM), 400},
    {"body ends in the close delimiter", NULL, IN(DELIM FIELD_PART("a", "1") "--XyZ-"), 400,
     TRACE("F[a]=[1]\n")},
    {"LF-only lines", NULL, IN("--XyZ\nContent-Disposition: form-data; name=a\n\n1\n--XyZ--\n"),
     400},
    {"LF-only line in a header block", NULL,
     IN(DELIM "Content-Disposition: form-data; name=a\n\r\n1\r\n" CLOSE), 400},
    {"bare CR in a header block", NULL,
     IN(DELIM "Content-Disposition: form-data;\r name=a\r\n\r\n1\r\n" CLOSE), 400},
    {"no CRLF after the delimiter", NULL, IN("--XyZContent-Disposition: form-data; name=a"), 400},
    {"delimiter then one dash", NULL, IN(DELIM FIELD_PART("a", "1") "--XyZ-\r\n"), 400,
     TRACE("F[a]=[1]\n")},
    {"junk after transport padding", NULL, IN("--XyZ x\r\n"), 400},
    {"CR without LF ending a delimiter line", NULL, IN("--XyZ\r\r\n"), 400},
    {"a line starting with the delimiter in content", NULL,
     IN(DELIM FIELD_PART("a", "1\r\n--XyZZ") CLOSE), 400, TRACE("F[a]=[1]\n")},
    {"header block without its empty line", NULL,
     IN(DELIM "Content-Disposition: form-data; name=a\r\n" CLOSE "\r\n"), 400},

    /* Part headers. */
    {"part without a name", NULL,
     IN(DELIM "Content-Disposition: form-data; filename=\"a\"\r\n\r\n1\r\n" CLOSE), 400},
    {"part without Content-Disposition", NULL,
     IN(DELIM "Content-Type: text/plain\r\n\r\n1\r\n" CLOSE), 400},
    {"part with no headers", NULL, IN(DELIM "\r\n1\r\n" CLOSE), 400},
    {"Content-Disposition: attachment", NULL,
     IN(DELIM "Content-Disposition: attachment; name=a\r\n\r\n1\r\n" CLOSE), 400},
    {"obs-fold in a header block", NULL,
     IN(DELIM "Content-Disposition: form-data;\r\n name=a\r\n\r\n1\r\n" CLOSE), 400},
    {"whitespace before the colon", NULL,
     IN(DELIM "Content-Disposition : form-data; name=a\r\n\r\n1\r\n" CLOSE), 400},
    {"header line without a colon", NULL, IN(DELIM "Content-Disposition\r\n\r\n1\r\n" CLOSE), 400},
    {"control byte in a header value", NULL,
     IN(DELIM "Content-Disposition: form-data; name=a\x01\r\n\r\n1\r\n" CLOSE), 400},
    {"duplicate Content-Disposition", NULL,
     IN(DELIM "Content-Disposition: form-data; name=a\r\nContent-Disposition: form-data; "
              "name=b\r\n\r\n1\r\n" CLOSE),
     400},
    {"duplicate Content-Type", NULL,
     IN(DELIM FILE_PART("f", "n", "Content-Type: a/b\r\ncontent-type: c/d\r\n", "1") CLOSE), 400},
    {"duplicate name parameter", NULL,
     IN(DELIM "Content-Disposition: form-data; name=a; NAME=b\r\n\r\n1\r\n" CLOSE), 400},
    {"parameter without a value", NULL,
     IN(DELIM "Content-Disposition: form-data; name=\r\n\r\n1\r\n" CLOSE), 400},
    {"unterminated quoted name", NULL,
     IN(DELIM "Content-Disposition: form-data; name=\"a\r\n\r\n1\r\n" CLOSE), 400},
    {"filename* in ISO-8859-1", NULL,
     IN(DELIM "Content-Disposition: form-data; name=f; filename*=ISO-8859-1''%E9\r\n\r\n"
              "1\r\n" CLOSE),
     400},
    {"filename* with a bad escape", NULL,
     IN(DELIM "Content-Disposition: form-data; name=f; filename*=UTF-8''a%zz\r\n\r\n1\r\n" CLOSE),
     400},
    {"filename* that is not UTF-8", NULL,
     IN(DELIM "Content-Disposition: form-data; name=f; filename*=UTF-8''%FF\r\n\r\n1\r\n" CLOSE),
     400},
    {"filename* with an overlong UTF-8 form", NULL,
     IN(DELIM "Content-Disposition: form-data; name=f; filename*=UTF-8''%C0%AF\r\n\r\n1\r\n" CLOSE),
     400},
    {"filename* with a UTF-16 surrogate", NULL,
     IN(DELIM
        "Content-Disposition: form-data; name=f; filename*=UTF-8''%ED%A0%80\r\n\r\n1\r\n" CLOSE),
     400},
    {"filename* past U+10FFFF", NULL,
     IN(DELIM "Content-Disposition: form-data; name=f; filename*=UTF-8''%F4%90%80%80\r\n\r\n"
              "1\r\n" CLOSE),
     400},
    {"filename* with a truncated UTF-8 sequence", NULL,
     IN(DELIM "Content-Disposition: form-data; name=f; filename*=UTF-8''%E2%82\r\n\r\n1\r\n" CLOSE),
     400},
    {"filename* with a lead byte not followed by a continuation byte", NULL,
     IN(DELIM "Content-Disposition: form-data; name=f; filename*=UTF-8''%C3A\r\n\r\n1\r\n" CLOSE),
     400},
    {"filename* with a byte that is not an attr-char", NULL,
     IN(DELIM "Content-Disposition: form-data; name=f; filename*=UTF-8''a*b\r\n\r\n1\r\n" CLOSE),
     400},
    {"quoted-pair of a control byte in a name", NULL,
     IN(DELIM "Content-Disposition: form-data; name=\"a\\\x01\"\r\n\r\n1\r\n" CLOSE), 400},
    {"filename* quoted", NULL,
     IN(DELIM "Content-Disposition: form-data; name=f; filename*=\"UTF-8''a\"\r\n\r\n1\r\n" CLOSE),
     400},
    {"filename* without its second quote", NULL,
     IN(DELIM "Content-Disposition: form-data; name=f; filename*=UTF-8'a\r\n\r\n1\r\n" CLOSE), 400},

    /* Limits. */
    {"more parts than max_fields", NULL,
     IN(DELIM FIELD_PART("a", "1") DELIM FIELD_PART("b", "2") CLOSE), 413, TRACE("F[a]=[1]\n"),
     &one_field},
    {"files count as fields", NULL,
     IN(DELIM FIELD_PART("a", "1") DELIM FILE_PART("f", "n", "", "") CLOSE), 413,
     TRACE("F[a]=[1]\n"), &one_field},
    {"field value over max_field_bytes", NULL, IN(DELIM FIELD_PART("a", "abc") CLOSE), 413,
     TRACE(""), &short_field},
    {"field value over max_field_bytes by a delimiter prefix", NULL,
     IN(DELIM FIELD_PART("a", "x\r\n-y") CLOSE), 413, TRACE(""), &short_field},
    {"field name over max_field_bytes", NULL, IN(DELIM FIELD_PART("abc", "1") CLOSE), 413,
     TRACE(""), &short_field},
    {"file over max_file_bytes", NULL, IN(DELIM FILE_PART("f", "n", "", "123") CLOSE), 413,
     TRACE("B[f][n][text/plain]\nD[12"), &short_file},
    {"body over max_total_bytes", NULL, IN(EXACT_BODY), 413, TRACE(EXACT_TRACE), &short_total},

    /* A callback's status stops the parse. */
    {"field callback stops", NULL, IN(DELIM FIELD_PART("a", "1") DELIM FIELD_PART("b", "2") CLOSE),
     507, TRACE("F[a]=[1]\n"), NULL, 1},
    {"file_begin stops", NULL, IN(DELIM FILE_PART("f", "n", "", "123") CLOSE), 507,
     TRACE("B[f][n][text/plain]\nD["), NULL, 1},
    {"file_end stops", NULL,
     IN(DELIM FILE_PART("f", "n", "", "123") DELIM FIELD_PART("a", "1") CLOSE), 507,
     TRACE("B[f][n][text/plain]\nD[123]\nE\n"), NULL, 2},
};

enum { N_MP_CASES = sizeof(mp_cases) / sizeof(mp_cases[0]) };

struct outcome {
    int status; /* 0: complete */
    const char *reason;
    struct recorder rec;
};

/*
 * Parses input[0..len) with content type ct, fed split at `cut`, or in pieces of `piece`
 * bytes when piece > 0. Every piece, and ct, are copied to end at the guard page, each over
 * the one before. Feeding goes on after DONE (it must be ignored), then multipart_end.
 */
static void mp_run(const char *ct, const char *input, size_t len, const struct form_limits *limits,
                   int stop_at, const struct guarded *g, size_t cut, size_t piece,
                   struct outcome *out)
{
    rec_init(&out->rec, stop_at);
    out->status = 0;
    out->reason = NULL;
    struct multipart m;
    struct request_error err = {0};
    const struct slice ct_slice = slice_make(guarded_put(g, ct, strlen(ct)), strlen(ct));
    if (!multipart_init(&m, ct_slice, limits, &callbacks, &out->rec, &err)) {
        out->status = err.status;
        out->reason = err.reason;
        assert_int_equal(multipart_feed(&m, "x", 1, &err), MULTIPART_ERROR);
        multipart_free(&m);
        return;
    }
    enum multipart_status st = MULTIPART_MORE;
    size_t pos = 0;
    bool first = true;
    while (st != MULTIPART_ERROR && (pos < len || first)) {
        size_t end = first ? cut : len;
        if (piece > 0)
            end = len - pos < piece ? len : pos + piece;
        first = false;
        st = multipart_feed(&m, guarded_put(g, input + pos, end - pos), end - pos, &err);
        pos = end;
    }
    if (st != MULTIPART_ERROR)
        st = multipart_end(&m, &err);
    assert_true(st == MULTIPART_DONE || st == MULTIPART_ERROR);
    if (st == MULTIPART_ERROR) {
        out->status = err.status;
        out->reason = err.reason;
    }
    multipart_free(&m);
}

static void mp_run_case(const struct mp_case *c, const struct guarded *g, size_t cut, size_t piece,
                        struct outcome *out)
{
    mp_run(c->content_type ? c->content_type : CT_DEFAULT, c->input, c->len,
           c->limits ? c->limits : &roomy, c->stop_at, g, cut, piece, out);
}

static bool mp_check(const struct mp_case *c, const struct outcome *o)
{
    bool ok = true;
    if (o->status != c->status) {
        print_error("%s: status %d (%s), want %d\n", c->desc, o->status,
                    o->reason ? o->reason : "done", c->status);
        ok = false;
    }
    if (o->status != 0 && (!o->reason || !o->reason[0])) {
        print_error("%s: no reason\n", c->desc);
        ok = false;
    }
    return trace_check(c->desc, "whole", &o->rec, c->trace ? c->trace : "", c->trace_len) && ok;
}

/* A run in pieces must agree with the whole run in everything. */
static bool mp_same(const char *desc, const char *how, const struct outcome *whole,
                    const struct outcome *o)
{
    if (o->status != whole->status || o->reason != whole->reason) {
        print_error("%s (%s): %d %s, whole gave %d %s\n", desc, how, o->status,
                    o->reason ? o->reason : "done", whole->status,
                    whole->reason ? whole->reason : "done");
        return false;
    }
    return trace_check(desc, how, &o->rec, whole->rec.trace.data, whole->rec.trace.len);
}

static void test_multipart_cases(void **state)
{
    (void)state;
    struct guarded g = guarded_map(4);
    unsigned failed = 0;
    for (size_t i = 0; i < N_MP_CASES; i++) {
        const struct mp_case *c = &mp_cases[i];
        struct outcome whole, o;
        mp_run_case(c, &g, c->len, 0, &whole);
        if (!mp_check(c, &whole)) {
            failed++;
            buf_free(&whole.rec.trace);
            continue;
        }
        char how[48];
        for (size_t k = 0; k <= c->len; k++) {
            mp_run_case(c, &g, k, 0, &o);
            snprintf(how, sizeof(how), "split at %zu", k);
            failed += !mp_same(c->desc, how, &whole, &o);
            buf_free(&o.rec.trace);
        }
        static const size_t pieces[] = {1, 2, 3, 7};
        for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
            mp_run_case(c, &g, 0, pieces[p], &o);
            snprintf(how, sizeof(how), "pieces of %zu", pieces[p]);
            failed += !mp_same(c->desc, how, &whole, &o);
            buf_free(&o.rec.trace);
        }
        buf_free(&whole.rec.trace);
    }
    guarded_unmap(&g);
    assert_int_equal(failed, 0);
}

/* A deterministic generator (an LCG), so failures repeat. */
static uint32_t lcg_next(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 16;
}

/*
 * Bytes from an alphabet of the delimiter's own characters but its last, so the content is
 * dense with partial delimiters but never holds the whole "\r\n--XyZ".
 */
static void fill_near_delims(char *p, size_t n, uint32_t seed)
{
    static const char alphabet[] = "\r\n--Xy\r\n-a\x00\xff";
    for (size_t i = 0; i < n; i++)
        p[i] = alphabet[lcg_next(&seed) % (sizeof(alphabet) - 1)];
}

static void append(struct buf *b, const char *s, size_t n)
{
    assert_true(buf_append(b, s, n));
}

static void append_str(struct buf *b, const char *s)
{
    append(b, s, strlen(s));
}

/* A value larger than the space left in the header block (so it moves to the heap) and a
 * file over many pieces, fed whole, split, in pieces of random sizes and byte by byte. */
static void test_multipart_large(void **state)
{
    (void)state;
    enum { VALUE_BYTES = 20000, FILE_BYTES = 100000 };
    char *value = malloc(VALUE_BYTES), *file = malloc(FILE_BYTES);
    assert_non_null(value);
    assert_non_null(file);
    fill_near_delims(value, VALUE_BYTES, 1);
    fill_near_delims(file, FILE_BYTES, 2);

    struct buf body, want;
    buf_init(&body, NULL, 0, 0);
    buf_init(&want, NULL, 0, 0);
    append_str(&body, "--XyZ\r\nContent-Disposition: form-data; name=big\r\n\r\n");
    append(&body, value, VALUE_BYTES);
    append_str(&body, "\r\n--XyZ\r\nContent-Disposition: form-data; name=f; filename=big.bin\r\n"
                      "Content-Type: application/octet-stream\r\n\r\n");
    append(&body, file, FILE_BYTES);
    append_str(&body, "\r\n--XyZ--\r\n");
    append_str(&want, "F[big]=[");
    append(&want, value, VALUE_BYTES);
    append_str(&want, "]\nB[f][big.bin][application/octet-stream]\nD[");
    append(&want, file, FILE_BYTES);
    append_str(&want, "]\nE\n");

    const struct form_limits limits = {2, VALUE_BYTES, FILE_BYTES, body.len};
    struct guarded g = guarded_map((body.len + 4095) / 4096 + 1);
    struct outcome o;
    unsigned failed = 0;
    char how[48];
    for (size_t k = 0; k <= body.len; k += k < 200 ? 1 : 997) {
        mp_run(CT_DEFAULT, body.data, body.len, &limits, 0, &g, k, 0, &o);
        snprintf(how, sizeof(how), "split at %zu", k);
        failed += o.status != 0 || !trace_check("large", how, &o.rec, want.data, want.len);
        buf_free(&o.rec.trace);
    }
    static const size_t pieces[] = {1, 2, 73, 4096, 8191, 65536};
    for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
        mp_run(CT_DEFAULT, body.data, body.len, &limits, 0, &g, 0, pieces[p], &o);
        snprintf(how, sizeof(how), "pieces of %zu", pieces[p]);
        failed += o.status != 0 || !trace_check("large", how, &o.rec, want.data, want.len);
        buf_free(&o.rec.trace);
    }
    /* Pieces of random sizes, fed directly. */
    uint32_t seed = 7;
    for (int round = 0; round < 20; round++) {
        struct recorder r;
        rec_init(&r, 0);
        struct multipart m;
        struct request_error err;
        assert_true(multipart_init(&m, SLICE_LIT(CT_DEFAULT), &limits, &callbacks, &r, &err));
        enum multipart_status st = MULTIPART_MORE;
        for (size_t pos = 0; pos < body.len && st == MULTIPART_MORE;) {
            size_t n = 1 + lcg_next(&seed) % 300;
            n = n > body.len - pos ? body.len - pos : n;
            st = multipart_feed(&m, guarded_put(&g, body.data + pos, n), n, &err);
            pos += n;
        }
        assert_int_equal(st, MULTIPART_DONE);
        failed += !trace_check("large", "random pieces", &r, want.data, want.len);
        multipart_free(&m);
        buf_free(&r.trace);
    }
    /* One byte less of value or file allowance: 413. */
    const struct form_limits short_value = {2, VALUE_BYTES - 1, FILE_BYTES, body.len};
    const struct form_limits short_file_limit = {2, VALUE_BYTES, FILE_BYTES - 1, body.len};
    mp_run(CT_DEFAULT, body.data, body.len, &short_value, 0, &g, body.len, 0, &o);
    assert_int_equal(o.status, 413);
    buf_free(&o.rec.trace);
    mp_run(CT_DEFAULT, body.data, body.len, &short_file_limit, 0, &g, 1000, 0, &o);
    assert_int_equal(o.status, 413);
    /* Everything but the last byte of the file was delivered. */
    assert_int_equal(o.rec.trace.len, want.len - strlen("]\nE\n") - 1);
    buf_free(&o.rec.trace);

    guarded_unmap(&g);
    buf_free(&body);
    buf_free(&want);
    free(value);
    free(file);
    assert_int_equal(failed, 0);
}

/* Builds a part whose header block is exactly block_len bytes, then a value of value_len. */
static void build_head_block(struct buf *b, size_t block_len, size_t value_len)
{
    static const char cd[] = "Content-Disposition: form-data; name=a\r\nX-Pad: ";
    buf_reset(b);
    append_str(b, "--XyZ\r\n");
    append_str(b, cd);
    const size_t pad = block_len - (sizeof(cd) - 1) - 4;
    for (size_t i = 0; i < pad; i++)
        append(b, "p", 1);
    append_str(b, "\r\n\r\n");
    for (size_t i = 0; i < value_len; i++)
        append(b, "v", 1);
    append_str(b, "\r\n--XyZ--");
}

/* MULTIPART_HEAD_MAX bytes of header block pass, one more is 400, at any chunking; a value
 * after a full block has no room left in it and goes to the heap at once. */
static void test_multipart_head_limit(void **state)
{
    (void)state;
    struct guarded g = guarded_map(4);
    struct buf b;
    buf_init(&b, NULL, 0, 0);
    struct outcome o;
    static const size_t pieces[] = {0, 1, 5000};
    for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
        build_head_block(&b, MULTIPART_HEAD_MAX, 100);
        mp_run(CT_DEFAULT, b.data, b.len, &roomy, 0, &g, b.len, pieces[p], &o);
        assert_int_equal(o.status, 0);
        assert_int_equal(o.rec.trace.len, strlen("F[a]=[]\n") + 100);
        buf_free(&o.rec.trace);

        build_head_block(&b, MULTIPART_HEAD_MAX + 1, 1);
        mp_run(CT_DEFAULT, b.data, b.len, &roomy, 0, &g, b.len, pieces[p], &o);
        assert_int_equal(o.status, 400);
        assert_string_equal(o.reason, "part headers too large");
        buf_free(&o.rec.trace);
    }
    buf_free(&b);
    guarded_unmap(&g);
}

/* A file_data status stops the parse, whatever the pieces. */
static void test_multipart_data_stops(void **state)
{
    (void)state;
    static const char body[] = DELIM FILE_PART("f", "n", "", "0123456789") CLOSE;
    for (size_t k = 0; k <= sizeof(body) - 1; k++) {
        struct recorder r;
        rec_init(&r, 0);
        r.data_status = 500;
        struct multipart m;
        struct request_error err;
        assert_true(multipart_init(&m, SLICE_LIT(CT_DEFAULT), &roomy, &callbacks, &r, &err));
        enum multipart_status st = multipart_feed(&m, body, k, &err);
        if (st == MULTIPART_MORE)
            st = multipart_feed(&m, body + k, sizeof(body) - 1 - k, &err);
        assert_int_equal(st, MULTIPART_ERROR);
        assert_int_equal(err.status, 500);
        /* One data call, then nothing: no file_end. */
        assert_null(memchr(r.trace.data, 'E', r.trace.len));
        multipart_free(&m);
        buf_free(&r.trace);
    }
}

/* DONE and ERROR are final: later feeds return them again and make no callbacks. */
static void test_multipart_final_states(void **state)
{
    (void)state;
    struct recorder r;
    rec_init(&r, 0);
    struct multipart m;
    struct request_error err = {0};
    assert_true(multipart_init(&m, SLICE_LIT(CT_DEFAULT), &roomy, &callbacks, &r, &err));
    static const char body[] = DELIM FIELD_PART("a", "1") "--XyZ--";
    assert_int_equal(multipart_feed(&m, body, sizeof(body) - 1, &err), MULTIPART_DONE);
    assert_int_equal(multipart_feed(&m, DELIM FIELD_PART("b", "2"), 10, &err), MULTIPART_DONE);
    assert_int_equal(multipart_end(&m, &err), MULTIPART_DONE);
    multipart_free(&m);

    assert_true(multipart_init(&m, SLICE_LIT(CT_DEFAULT), &roomy, &callbacks, &r, &err));
    assert_int_equal(multipart_feed(&m, "--XyZ!", 6, &err), MULTIPART_ERROR);
    const struct request_error first = err;
    err = (struct request_error){0};
    assert_int_equal(multipart_feed(&m, body, sizeof(body) - 1, &err), MULTIPART_ERROR);
    assert_int_equal(err.status, first.status);
    assert_ptr_equal(err.reason, first.reason);
    err = (struct request_error){0};
    assert_int_equal(multipart_end(&m, &err), MULTIPART_ERROR);
    assert_int_equal(err.status, 400);
    multipart_free(&m);

    assert_int_equal(r.trace.len, strlen("F[a]=[1]\n"));
    buf_free(&r.trace);
}

static void test_form_classify(void **state)
{
    (void)state;
    static const struct {
        const char *content_type;
        enum form_kind kind;
    } cases[] = {
        {"application/x-www-form-urlencoded", FORM_URLENCODED},
        {"application/x-www-form-urlencoded;charset=UTF-8", FORM_URLENCODED},
        {"Application/X-WWW-Form-URLEncoded", FORM_URLENCODED},
        {"multipart/form-data; boundary=x", FORM_MULTIPART},
        {"MULTIPART/FORM-DATA ;boundary=x", FORM_MULTIPART},
        {" multipart/form-data", FORM_MULTIPART},
        {"multipart/form-datax", FORM_OTHER},
        {"multipart/form-data x", FORM_OTHER},
        {"multipart/mixed; boundary=x", FORM_OTHER},
        {"text/plain", FORM_OTHER},
        {"application/json", FORM_OTHER},
        {"", FORM_OTHER},
        {"multipart", FORM_OTHER},
        {"multipart/", FORM_OTHER},
    };
    struct guarded g = guarded_map(1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const size_t n = strlen(cases[i].content_type);
        const struct slice ct = slice_make(guarded_put(&g, cases[i].content_type, n), n);
        if (form_classify(ct) != cases[i].kind)
            fail_msg("form_classify(\"%s\") = %d", cases[i].content_type, (int)form_classify(ct));
    }
    guarded_unmap(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urlencoded_cases),     cmocka_unit_test(test_multipart_cases),
        cmocka_unit_test(test_multipart_large),      cmocka_unit_test(test_multipart_head_limit),
        cmocka_unit_test(test_multipart_data_stops), cmocka_unit_test(test_multipart_final_states),
        cmocka_unit_test(test_form_classify),
    };
    printf("test_form: %d urlencoded and %d multipart table cases\n", (int)N_UE_CASES,
           (int)N_MP_CASES);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
