/* SPDX-License-Identifier: MIT */
/*
 * Tests for http/request: a table of valid, hostile and incomplete heads, each parsed
 * whole, split in two at every offset, and fed one byte at a time with its last byte
 * against an inaccessible page, so a read past the bytes given crashes. Then the limits
 * (414, 431), the character classes byte by byte against their RFC definitions, the known
 * header table, request_header and request_method_name.
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

#include "http/request.h"
#include "guarded.h"

enum { MAX_HEAD = 16384 };

/* The input of a case, as a pointer and a length so embedded NUL bytes count. */
#define IN(s) .input = (s), .len = sizeof(s) - 1

/* Shorthands for the two outcomes most cases have. */
#define ERR(code) .status = REQUEST_ERROR, .http_status = (code)
#define NO_CL .content_length = -1

struct parse_case {
    const char *desc;
    const char *input;
    size_t len;
    enum request_status status;
    int http_status; /* REQUEST_ERROR: the status the rule decides */
    /* REQUEST_DONE: the parsed head */
    enum http_method method;
    const char *path;
    const char *query; /* NULL: no '?' in the target */
    int version_minor;
    bool keep_alive;
    long long content_length; /* -1: no Content-Length */
    bool chunked;
    bool expect_continue;
    size_t head_len;  /* 0: the whole input */
    const char *host; /* known[HDR_HOST]; NULL: absent */
};

#define GET_OK(d, in, p)                                                                           \
    {                                                                                              \
        .desc = (d), IN(in), .status = REQUEST_DONE, .method = HTTP_GET, .path = (p),              \
        .version_minor = 1, .keep_alive = true, NO_CL, .host = "a"                                 \
    }

static const struct parse_case cases[] = {
    /* Valid requests. */
    GET_OK("simple GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "/"),
    {.desc = "HEAD",
     IN("HEAD /index.html HTTP/1.1\r\nHost: a\r\n\r\n"),
     .method = HTTP_HEAD,
     .path = "/index.html",
     .version_minor = 1,
     .keep_alive = true,
     NO_CL,
     .host = "a"},
    {.desc = "POST with Content-Length, body not part of the head",
     IN("POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"),
     .method = HTTP_POST,
     .path = "/form",
     .version_minor = 1,
     .keep_alive = true,
     .content_length = 5,
     .head_len = 51,
     .host = "a"},
    {.desc = "query string",
     IN("GET /s?q=1&b=2 HTTP/1.1\r\nHost: a\r\n\r\n"),
     .method = HTTP_GET,
     .path = "/s",
     .query = "q=1&b=2",
     .version_minor = 1,
     .keep_alive = true,
     NO_CL,
     .host = "a"},
    {.desc = "empty query still has_query",
     IN("GET /s? HTTP/1.1\r\nHost: a\r\n\r\n"),
     .method = HTTP_GET,
     .path = "/s",
     .query = "",
     .version_minor = 1,
     .keep_alive = true,
     NO_CL,
     .host = "a"},
    {.desc = "second '?' belongs to the query",
     IN("GET /a?b?c HTTP/1.1\r\nHost: a\r\n\r\n"),
     .method = HTTP_GET,
     .path = "/a",
     .query = "b?c",
     .version_minor = 1,
     .keep_alive = true,
     NO_CL,
     .host = "a"},
    {.desc = "absolute-form gives path, query and Host",
     IN("GET http://example.com/p?x HTTP/1.1\r\n\r\n"),
     .method = HTTP_GET,
     .path = "/p",
     .query = "x",
     .version_minor = 1,
     .keep_alive = true,
     NO_CL,
     .host = "example.com"},
    {.desc = "absolute-form, upper-case https, no path",
     IN("GET HTTPS://Example.com:8443 HTTP/1.1\r\n\r\n"),
     .method = HTTP_GET,
     .path = "/",
     .version_minor = 1,
     .keep_alive = true,
     NO_CL,
     .host = "Example.com:8443"},
    {.desc = "absolute-form, query without path",
     IN("GET http://a.b?x=1 HTTP/1.1\r\nHost: a.b\r\n\r\n"),
     .method = HTTP_GET,
     .path = "/",
     .query = "x=1",
     .version_minor = 1,
     .keep_alive = true,
     NO_CL,
     .host = "a.b"},
    {.desc = "absolute-form authority replaces the Host field",
     IN("GET http://real.example/ HTTP/1.1\r\nHost: other\r\n\r\n"),
     .method = HTTP_GET,
     .path = "/",
     .version_minor = 1,
     .keep_alive = true,
     NO_CL,
     .host = "real.example"},
    {.desc = "OPTIONS *",
     IN("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"),
     .method = HTTP_OPTIONS,
     .path = "*",
     .version_minor = 1,
     .keep_alive = true,
     NO_CL,
     .host = "a"},
    {.desc = "CONNECT authority-form parses",
     IN("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
     .method = HTTP_CONNECT,
     .path = "example.com:443",
     .version_minor = 1,
     .keep_alive = true,
     NO_CL,
     .host = "example.com:443"},
    {.desc = "HTTP/1.0 without keep-alive, no Host needed",
     IN("GET / HTTP/1.0\r\n\r\n"),
     .method = HTTP_GET,
     .path = "/",
     .version_minor = 0,
     .keep_alive = false,
     NO_CL},
    {.desc = "HTTP/1.0 with Connection: keep-alive",
     IN("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
     .method = HTTP_GET,
     .path = "/",
     .version_minor = 0,
     .keep_alive = true,
     NO_CL},
    {.desc = "HTTP/1.0, close wins over keep-alive",
     IN("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"),
     .method = HTTP_GET,
     .path = "/",
     .version_minor = 0,
     .keep_alive = false,
     NO_CL},
    {.desc = "HTTP/1.0 with empty Host",
     IN("GET / HTTP/1.0\r\nHost:\r\n\r\n"),
     .method = HTTP_GET,
     .path = "/",
     .version_minor = 0,
     .keep_alive = false,
     NO_CL,
     .host = ""},
    {.desc = "Connection: close",
     IN("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
     .method = HTTP_GET,
     .path = "/",
     .version_minor = 1,
     .keep_alive = false,
     NO_CL,
     .host = "a"},
    {.desc = "Connection tokens are case-insensitive, over two lines",
     IN("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nConnection: x,CLOSE\r\n\r\n"),
     .method = HTTP_GET,
     .path = "/",
     .version_minor = 1,
     .keep_alive = false,
     NO_CL,
     .host = "a"},
    {.desc = "pipelined pair: head_len stops after the first",
     IN("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"),
     .method = HTTP_GET,
     .path = "/1",
     .version_minor = 1,
     .keep_alive = true,
     NO_CL,
     .head_len = 28,
     .host = "a"},
    {.desc = "leading CRLFs are skipped and counted",
     IN("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
     .method = HTTP_GET,
     .path = "/",
     .version_minor = 1,
     .keep_alive = true,
     NO_CL,
     .host = "a"},
    GET_OK("leading bare LFs", "\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "/"),
    GET_OK("LF-only line ends", "GET / HTTP/1.1\nHost: a\n\n", "/"),
    GET_OK("mixed CRLF and LF", "GET / HTTP/1.1\nHost: a\r\n\n", "/"),
    GET_OK("ten header fields",
           "GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: t/1\r\nAccept: */*\r\n"
           "Accept-Encoding: gzip, br\r\nAccept-Language: en\r\nCookie: a=b\r\n"
           "Referer: http://x/\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\n\r\n",
           "/"),
    GET_OK("obs-text in a field value", "GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\r\n\r\n",
           "/"),
    GET_OK("tabs and spaces in OWS", "GET / HTTP/1.1\r\nHost:\t a \t\r\n\r\n", "/"),
    GET_OK("empty field value", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n", "/"),
    GET_OK("header name case does not matter", "GET / HTTP/1.1\r\nhOsT: a\r\n\r\n", "/"),
    {.desc = "Content_Length with an underscore is not Content-Length",
     IN("POST / HTTP/1.1\r\nHost: a\r\nContent_Length: 5\r\n\r\n"),
     .method = HTTP_POST,
     .path = "/",
     .version_minor = 1,
     .keep_alive = true,
     NO_CL,
     .host = "a"},
    {.desc = "Content-Length list of equal values",
     IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n"),
     .method = HTTP_POST,
     .path = "/",
     .version_minor = 1,
     .keep_alive = true,
     .content_length = 5,
     .host = "a"},
    {.desc = "two equal Content-Length lines",
     IN("PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n"),
     .method = HTTP_PUT,
     .path = "/f",
     .version_minor = 1,
     .keep_alive = true,
     .content_length = 7,
     .host = "a"},
    {.desc = "Content-Length 0 with leading zeros",
     IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 000\r\n\r\n"),
     .method = HTTP_POST,
     .path = "/",
     .version_minor = 1,
     .keep_alive = true,
     .content_length = 0,
     .host = "a"},
    {.desc = "Content-Length at the 2^62 ceiling",
     IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387904\r\n\r\n"),
     .method = HTTP_POST,
     .path = "/",
     .version_minor = 1,
     .keep_alive = true,
     .content_length = 4611686018427387904LL,
     .host = "a"},
    {.desc = "Transfer-Encoding: chunked",
     IN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"),
     .method = HTTP_POST,
     .path = "/",
     .version_minor = 1,
     .keep_alive = true,
     NO_CL,
     .chunked = true,
     .host = "a"},
    {.desc = "Transfer-Encoding: Chunked with an empty list element",
     IN("PATCH / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , Chunked\r\n\r\n"),
     .method = HTTP_PATCH,
     .path = "/",
     .version_minor = 1,
     .keep_alive = true,
     NO_CL,
     .chunked = true,
     .host = "a"},
    {.desc = "Expect: 100-continue",
     IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: 100-Continue\r\n\r\n"),
     .method = HTTP_POST,
     .path = "/",
     .version_minor = 1,
     .keep_alive = true,
     .content_length = 1,
     .expect_continue = true,
     .host = "a"},
    {.desc = "Expect: 100-continue ignored in HTTP/1.0",
     IN("POST / HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n"),
     .method = HTTP_POST,
     .path = "/",
     .version_minor = 0,
     .content_length = 1},
    GET_OK("HTTP/1.2 is served as HTTP/1.1", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", "/"),
    GET_OK("HTTP/1.9 is served as HTTP/1.1", "GET / HTTP/1.9\r\nHost: a\r\n\r\n", "/"),
    {.desc = "DELETE",
     IN("DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n"),
     .method = HTTP_DELETE,
     .path = "/x",
     .version_minor = 1,
     .keep_alive = true,
     NO_CL,
     .host = "a"},
    {.desc = "TRACE",
     IN("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n"),
     .method = HTTP_TRACE,
     .path = "/",
     .version_minor = 1,
     .keep_alive = true,
     NO_CL,
     .host = "a"},
    {.desc = "Host as an IPv6 literal with port",
     IN("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"),
     .method = HTTP_GET,
     .path = "/",
     .version_minor = 1,
     .keep_alive = true,
     NO_CL,
     .host = "[::1]:8080"},
    {.desc = "Host as IPv4 with port",
     IN("GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n"),
     .method = HTTP_GET,
     .path = "/",
     .version_minor = 1,
     .keep_alive = true,
     NO_CL,
     .host = "127.0.0.1:80"},

    /* Malformed request lines. */
    {.desc = "TLS ClientHello refused at the first byte", IN("\x16\x03\x01\x02\x00\x01"), ERR(400)},
    {.desc = "binary garbage", IN("\x00\x01\x02\x03"), ERR(400)},
    {.desc = "empty method", IN(" / HTTP/1.1\r\nHost: a\r\n\r\n"), ERR(400)},
    {.desc = "invalid method character", IN("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), ERR(400)},
    {.desc = "NUL in the method", IN("GE\0T / HTTP/1.1\r\nHost: a\r\n\r\n"), ERR(400)},
    {.desc = "lower-case method is another token: 501",
     IN("get / HTTP/1.1\r\nHost: a\r\n\r\n"),
     ERR(501)},
    {.desc = "unknown method", IN("BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n"), ERR(501)},
    {.desc = "bad version checked before the method", IN("BREW / HTTP/1.10\r\n\r\n"), ERR(400)},
    {.desc = "bare CR after the method", IN("GET\r/ HTTP/1.1\r\nHost: a\r\n\r\n"), ERR(400)},
    {.desc = "bare CR in the target", IN("GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n"), ERR(400)},
    {.desc = "bare CR in the version", IN("GET / HTTP/1.1\rX\r\nHost: a\r\n\r\n"), ERR(400)},
    {.desc = "bare CR before the request line", IN("\rGET / HTTP/1.1\r\n\r\n"), ERR(400)},
    {.desc = "two spaces after the method", IN("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), ERR(400)},
    {.desc = "two spaces before the version", IN("GET /  HTTP/1.1\r\nHost: a\r\n\r\n"), ERR(400)},
    {.desc = "tab as a separator", IN("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"), ERR(400)},
    {.desc = "HTTP/0.9 request line without version", IN("GET /\r\n\r\n"), ERR(400)},
    {.desc = "trailing space after the version",
     IN("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"),
     ERR(400)},
    {.desc = "version HTTP/1.10", IN("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), ERR(400)},
    {.desc = "version in lower case", IN("GET / http/1.1\r\nHost: a\r\n\r\n"), ERR(400)},
    {.desc = "version without minor", IN("GET / HTTP/1\r\nHost: a\r\n\r\n"), ERR(400)},
    {.desc = "version with letters", IN("GET / HTTP/x.y\r\nHost: a\r\n\r\n"), ERR(400)},
    {.desc = "HTTP/2.0 request line", IN("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), ERR(505)},
    {.desc = "HTTP/3.0 request line", IN("GET / HTTP/3.0\r\nHost: a\r\n\r\n"), ERR(505)},
    {.desc = "HTTP/2 connection preface", IN("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), ERR(505)},
    {.desc = "HTTP/0.9 version number", IN("GET / HTTP/0.9\r\n\r\n"), ERR(505)},
    {.desc = "obs-text in the target",
     IN("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"),
     ERR(400)},
    {.desc = "control byte in the target", IN("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"), ERR(400)},
    {.desc = "asterisk-form with GET", IN("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), ERR(400)},
    {.desc = "authority-form with GET", IN("GET a.com:80 HTTP/1.1\r\nHost: a\r\n\r\n"), ERR(400)},
    {.desc = "CONNECT with origin-form", IN("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n"), ERR(400)},
    {.desc = "absolute-form with userinfo",
     IN("GET http://u:p@h/ HTTP/1.1\r\nHost: h\r\n\r\n"),
     ERR(400)},
    {.desc = "absolute-form with empty authority",
     IN("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n"),
     ERR(400)},
    {.desc = "absolute-form with another scheme",
     IN("GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n"),
     ERR(400)},

    /* Malformed field lines. */
    {.desc = "obs-fold", IN("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"), ERR(400)},
    {.desc = "obs-fold with a tab",
     IN("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n"),
     ERR(400)},
    {.desc = "space before colon", IN("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), ERR(400)},
    {.desc = "tab before colon", IN("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), ERR(400)},
    {.desc = "bare CR in a value", IN("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"), ERR(400)},
    {.desc = "bare CR at the end of a value",
     IN("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n"),
     ERR(400)},
    {.desc = "bare CR starting a line",
     IN("GET / HTTP/1.1\r\nHost: a\r\n\rX: a\r\n\r\n"),
     ERR(400)},
    {.desc = "NUL in a value", IN("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"), ERR(400)},
    {.desc = "NUL in a name", IN("GET / HTTP/1.1\r\nHost: a\r\nX\0Y: a\r\n\r\n"), ERR(400)},
    {.desc = "DEL in a value", IN("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n"), ERR(400)},
    {.desc = "control byte in a value",
     IN("GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[0m\r\n\r\n"),
     ERR(400)},
    {.desc = "empty field name", IN("GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n"), ERR(400)},
    {.desc = "field line without colon",
     IN("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"),
     ERR(400)},
    {.desc = "invalid character in a name",
     IN("GET / HTTP/1.1\r\nHost: a\r\nX(Y): a\r\n\r\n"),
     ERR(400)},

    /* Host. */
    {.desc = "duplicate Host", IN("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), ERR(400)},
    {.desc = "duplicate Host in HTTP/1.0",
     IN("GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n"),
     ERR(400)},
    {.desc = "missing Host in HTTP/1.1", IN("GET / HTTP/1.1\r\nX: a\r\n\r\n"), ERR(400)},
    {.desc = "empty Host in HTTP/1.1", IN("GET / HTTP/1.1\r\nHost: \r\n\r\n"), ERR(400)},
    {.desc = "Host with a path", IN("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), ERR(400)},
    {.desc = "Host with userinfo", IN("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"), ERR(400)},
    {.desc = "Host with a letter in the port",
     IN("GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n"),
     ERR(400)},
    {.desc = "Host with an inner space", IN("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), ERR(400)},
    {.desc = "Host with a slash inside IPv6 brackets",
     IN("GET / HTTP/1.1\r\nHost: [::1/]\r\n\r\n"),
     ERR(400)},
    {.desc = "absolute-form with a bad port",
     IN("GET http://a:8x/ HTTP/1.1\r\nHost: a\r\n\r\n"),
     ERR(400)},
    {.desc = "Host with an unclosed IPv6 bracket",
     IN("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n"),
     ERR(400)},

    /* Content-Length. */
    {.desc = "Content-Length with plus sign",
     IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n"),
     ERR(400)},
    {.desc = "Content-Length negative",
     IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n"),
     ERR(400)},
    {.desc = "Content-Length with inner space",
     IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n"),
     ERR(400)},
    {.desc = "Content-Length in hex",
     IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n"),
     ERR(400)},
    {.desc = "Content-Length empty",
     IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n"),
     ERR(400)},
    {.desc = "Content-Length list with an empty element",
     IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n"),
     ERR(400)},
    {.desc = "Content-Length list of different values",
     IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n"),
     ERR(400)},
    {.desc = "two different Content-Length lines",
     IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
     ERR(400)},
    {.desc = "Content-Length one over 2^62",
     IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387905\r\n\r\n"),
     ERR(400)},
    {.desc = "Content-Length that wraps 2^64 around to 4",
     IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551620\r\n\r\n"),
     ERR(400)},
    {.desc = "Content-Length over 2^64",
     IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
     ERR(400)},

    /* Transfer-Encoding. */
    {.desc = "Transfer-Encoding gzip only",
     IN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"),
     ERR(400)},
    {.desc = "chunked twice in one line",
     IN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
     ERR(400)},
    {.desc = "chunked twice over two lines",
     IN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
        "chunked\r\n\r\n"),
     ERR(400)},
    {.desc = "chunked not the final coding",
     IN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
     ERR(400)},
    {.desc = "gzip before chunked is not implemented",
     IN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
     ERR(501)},
    {.desc = "gzip before chunked over two lines",
     IN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: "
        "chunked\r\n\r\n"),
     ERR(501)},
    {.desc = "Transfer-Encoding with Content-Length",
     IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
     ERR(400)},
    {.desc = "Transfer-Encoding before Content-Length",
     IN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
     ERR(400)},
    {.desc = "Transfer-Encoding in HTTP/1.0",
     IN("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
     ERR(400)},
    {.desc = "Transfer-Encoding with a space inside the coding",
     IN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chun ked\r\n\r\n"),
     ERR(400)},
    {.desc = "Transfer-Encoding empty",
     IN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n"),
     ERR(400)},

    /* Expect. */
    {.desc = "Expect other than 100-continue",
     IN("POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n"),
     ERR(417)},

    /* Incomplete heads. */
    {.desc = "nothing yet", IN(""), .status = REQUEST_NEED_MORE},
    {.desc = "only leading CRLF", IN("\r\n"), .status = REQUEST_NEED_MORE},
    {.desc = "leading CR waiting for its LF", IN("\r"), .status = REQUEST_NEED_MORE},
    {.desc = "partial method", IN("GE"), .status = REQUEST_NEED_MORE},
    {.desc = "partial target", IN("GET /index"), .status = REQUEST_NEED_MORE},
    {.desc = "request line only", IN("GET / HTTP/1.1\r\n"), .status = REQUEST_NEED_MORE},
    {.desc = "no empty line yet", IN("GET / HTTP/1.1\r\nHost: a\r\n"), .status = REQUEST_NEED_MORE},
    {.desc = "final CR without LF",
     IN("GET / HTTP/1.1\r\nHost: a\r\n\r"),
     .status = REQUEST_NEED_MORE},
};

enum { N_CASES = sizeof(cases) / sizeof(cases[0]) };

static bool str_eq(struct slice s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* Compares one outcome with the case; prints what differs and returns false if anything. */
static bool check(const struct parse_case *c, const char *how, enum request_status st,
                  const struct request *req, const struct request_error *err)
{
    const size_t head_len = c->head_len ? c->head_len : c->len;
    bool ok = true;
#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error("%s (%s): expected %s\n", c->desc, how, #cond);                            \
            ok = false;                                                                            \
        }                                                                                          \
    } while (0)
    EXPECT(st == c->status);
    if (st != c->status) {
        if (st == REQUEST_ERROR)
            print_error("  got %d %s\n", err->status, err->reason);
        return false;
    }
    if (st == REQUEST_ERROR) {
        EXPECT(err->status == c->http_status);
        EXPECT(err->reason != NULL && err->reason[0] != '\0');
        if (err->status != c->http_status)
            print_error("  got %d %s\n", err->status, err->reason);
    }
    if (st != REQUEST_DONE)
        return ok;
    EXPECT(req->method == c->method);
    EXPECT(str_eq(req->method_name, request_method_name(c->method)));
    EXPECT(str_eq(req->path, c->path));
    EXPECT(req->has_query == (c->query != NULL));
    EXPECT(str_eq(req->query, c->query ? c->query : ""));
    EXPECT(req->version_minor == c->version_minor);
    EXPECT(req->keep_alive == c->keep_alive);
    EXPECT(req->has_content_length == (c->content_length >= 0));
    EXPECT(!req->has_content_length || req->content_length == (uint64_t)c->content_length);
    EXPECT(req->chunked == c->chunked);
    EXPECT(req->expect_continue == c->expect_continue);
    EXPECT(req->head_len == head_len);
    EXPECT((req->known[HDR_HOST].ptr != NULL) == (c->host != NULL));
    EXPECT(!c->host || str_eq(req->known[HDR_HOST], c->host));
#undef EXPECT
    return ok;
}

static void test_cases_whole(void **state)
{
    (void)state;
    unsigned failed = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        const struct parse_case *c = &cases[i];
        struct request req;
        struct request_error err = {0};
        size_t scan = 0;
        const enum request_status st = request_parse(c->input, c->len, MAX_HEAD, &scan, &req, &err);
        failed += !check(c, "whole", st, &req, &err);
    }
    assert_int_equal(failed, 0);
}

/* Each case parsed in two calls, split at every offset before the end of its head. */
static void test_cases_split(void **state)
{
    (void)state;
    unsigned failed = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        const struct parse_case *c = &cases[i];
        const size_t end = c->status == REQUEST_DONE && c->head_len ? c->head_len : c->len;
        for (size_t k = 0; k < end; k++) {
            struct request req;
            struct request_error err = {0};
            size_t scan = 0;
            enum request_status st = request_parse(c->input, k, MAX_HEAD, &scan, &req, &err);
            if (st == REQUEST_ERROR && c->status == REQUEST_ERROR) {
                /* An early rejection must be the one the whole head gets. */
                if (err.status != c->http_status) {
                    print_error("%s: prefix of %zu gave %d %s\n", c->desc, k, err.status,
                                err.reason);
                    failed++;
                }
                continue;
            }
            if (st != REQUEST_NEED_MORE) {
                print_error("%s: prefix of %zu bytes gave status %d\n", c->desc, k, (int)st);
                failed++;
                continue;
            }
            st = request_parse(c->input, c->len, MAX_HEAD, &scan, &req, &err);
            char how[32];
            snprintf(how, sizeof(how), "split at %zu", k);
            failed += !check(c, how, st, &req, &err);
        }
    }
    assert_int_equal(failed, 0);
}

/*
 * Each case fed one byte more per call, the bytes so far always ending at the guard page,
 * so any read past `len` faults; the scan state carries over between calls as it would
 * between reads from a socket.
 */
static void test_cases_guarded_trickle(void **state)
{
    (void)state;
    struct guarded g = guarded_map(2);
    unsigned failed = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        const struct parse_case *c = &cases[i];
        struct request req;
        struct request_error err = {0};
        size_t scan = 0;
        enum request_status st = REQUEST_NEED_MORE;
        for (size_t k = 0; k <= c->len && st == REQUEST_NEED_MORE; k++) {
            const char *buf = guarded_put(&g, c->input, k);
            st = request_parse(buf, k, MAX_HEAD, &scan, &req, &err);
        }
        failed += !check(c, "trickled against a guard page", st, &req, &err);
    }
    guarded_unmap(&g);
    assert_int_equal(failed, 0);
}

/* Builds "GET /aaa…a HTTP/1.1\r\nHost: a\r\n\r\n" with a target of n bytes into out. */
static size_t build_long_target(char *out, size_t cap, size_t n, bool complete)
{
    size_t len = 0;
    memcpy(out, "GET /", 5);
    len = 5;
    assert_true(n + 64 < cap);
    memset(out + len, 'a', n - 1);
    len += n - 1;
    if (complete) {
        static const char rest[] = " HTTP/1.1\r\nHost: a\r\n\r\n";
        memcpy(out + len, rest, sizeof(rest) - 1);
        len += sizeof(rest) - 1;
    }
    return len;
}

static void test_target_limit(void **state)
{
    (void)state;
    static char buf[REQUEST_MAX_TARGET + 128];
    struct guarded g = guarded_map(4);
    struct request req;
    struct request_error err = {0};
    size_t scan = 0;

    /* Exactly REQUEST_MAX_TARGET bytes of target are fine. */
    size_t len = build_long_target(buf, sizeof(buf), REQUEST_MAX_TARGET, true);
    assert_int_equal(request_parse(guarded_put(&g, buf, len), len, MAX_HEAD, &scan, &req, &err),
                     REQUEST_DONE);
    assert_int_equal(req.target.len, REQUEST_MAX_TARGET);

    /* One more byte is a 414, also when the head is complete. */
    len = build_long_target(buf, sizeof(buf), REQUEST_MAX_TARGET + 1, true);
    scan = 0;
    assert_int_equal(request_parse(guarded_put(&g, buf, len), len, MAX_HEAD, &scan, &req, &err),
                     REQUEST_ERROR);
    assert_int_equal(err.status, 414);

    /* Early: MAX_TARGET target bytes without their SP may still be fine, one more is not. */
    len = build_long_target(buf, sizeof(buf), REQUEST_MAX_TARGET, false);
    scan = 0;
    assert_int_equal(request_parse(guarded_put(&g, buf, len), len, MAX_HEAD, &scan, &req, &err),
                     REQUEST_NEED_MORE);
    buf[len++] = 'a';
    assert_int_equal(request_parse(guarded_put(&g, buf, len), len, MAX_HEAD, &scan, &req, &err),
                     REQUEST_ERROR);
    assert_int_equal(err.status, 414);

    /* With a head limit below the target limit, the head limit decides: 431. */
    len = build_long_target(buf, sizeof(buf), 5000, false);
    scan = 0;
    assert_int_equal(request_parse(guarded_put(&g, buf, len), len, 4096, &scan, &req, &err),
                     REQUEST_ERROR);
    assert_int_equal(err.status, 431);
    guarded_unmap(&g);
}

/* Appends `n` field lines "X-Hnnn: v" and the end of the head. */
static size_t build_many_fields(char *out, size_t cap, unsigned n)
{
    size_t len = (size_t)snprintf(out, cap, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (unsigned i = 1; i < n; i++)
        len += (size_t)snprintf(out + len, cap - len, "X-H%03u: v\r\n", i);
    len += (size_t)snprintf(out + len, cap - len, "\r\n");
    assert_true(len < cap);
    return len;
}

static void test_head_limits(void **state)
{
    (void)state;
    static char buf[8192];
    struct request req;
    struct request_error err = {0};

    size_t len = build_many_fields(buf, sizeof(buf), REQUEST_MAX_HEADERS);
    size_t scan = 0;
    assert_int_equal(request_parse(buf, len, MAX_HEAD, &scan, &req, &err), REQUEST_DONE);
    assert_int_equal(req.n_headers, REQUEST_MAX_HEADERS);

    len = build_many_fields(buf, sizeof(buf), REQUEST_MAX_HEADERS + 1);
    scan = 0;
    assert_int_equal(request_parse(buf, len, MAX_HEAD, &scan, &req, &err), REQUEST_ERROR);
    assert_int_equal(err.status, 431);

    /* A head of exactly max_header_bytes is accepted; one byte less of limit is a 431. */
    len = build_many_fields(buf, sizeof(buf), 20);
    scan = 0;
    assert_int_equal(request_parse(buf, len, len, &scan, &req, &err), REQUEST_DONE);
    scan = 0;
    assert_int_equal(request_parse(buf, len, len - 1, &scan, &req, &err), REQUEST_ERROR);
    assert_int_equal(err.status, 431);

    /* The limit is reported as soon as that many bytes arrive without the end of the head. */
    len = build_many_fields(buf, sizeof(buf), 40) - 2;
    scan = 0;
    assert_int_equal(request_parse(buf, len - 1, len, &scan, &req, &err), REQUEST_NEED_MORE);
    assert_int_equal(request_parse(buf, len, len, &scan, &req, &err), REQUEST_ERROR);
    assert_int_equal(err.status, 431);

    /* Endless empty lines before the request line count against the limit too. */
    memset(buf, '\n', 1000);
    scan = 0;
    assert_int_equal(request_parse(buf, 1000, 1000, &scan, &req, &err), REQUEST_ERROR);
    assert_int_equal(err.status, 431);
}

/* A 2 KiB head fed one byte per call completes, and the scan moves forward every call. */
static void test_trickle_progress(void **state)
{
    (void)state;
    static char buf[4096];
    size_t len = build_many_fields(buf, sizeof(buf), 1);
    len -= 2;
    while (len < 2048)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "X-Pad: %s\r\n",
                                "0123456789012345678901234567890123456789");
    len += (size_t)snprintf(buf + len, sizeof(buf) - len, "\r\n");
    struct request req;
    struct request_error err = {0};
    size_t scan = 0, last_scan = 0;
    enum request_status st = REQUEST_NEED_MORE;
    size_t k = 0;
    while (st == REQUEST_NEED_MORE && k < len) {
        st = request_parse(buf, ++k, MAX_HEAD, &scan, &req, &err);
        if (st == REQUEST_NEED_MORE) {
            assert_true(scan > last_scan); /* every new byte was examined once */
            last_scan = scan;
        }
    }
    assert_int_equal(st, REQUEST_DONE);
    assert_int_equal(k, len);
    assert_int_equal(req.head_len, len);
    assert_true(req.n_headers > 30);
}

/* Independent definitions from the RFCs, to check the parser's tables byte by byte. */
static bool rfc_tchar(int b)
{
    return b != 0 && ((b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
                      strchr("!#$%&'*+-.^_`|~", b));
}

static bool rfc_field_char(int b)
{
    return (b >= 0x21 && b <= 0x7e) || b >= 0x80 || b == ' ' || b == '\t';
}

static bool rfc_host_char(int b)
{
    return b != 0 && ((b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
                      strchr("-._~%!$&'()*+,;=", b));
}

static enum request_status parse_str(const char *s, size_t len, struct request *req,
                                     struct request_error *err)
{
    size_t scan = 0;
    return request_parse(s, len, MAX_HEAD, &scan, req, err);
}

static void test_char_classes(void **state)
{
    (void)state;
    struct request req;
    struct request_error err;
    char buf[128];
    for (int b = 0; b < 256; b++) {
        /* Method: tchar makes an unknown method (501), anything else a malformed line. */
        int n = snprintf(buf, sizeof(buf), "X%c / HTTP/1.1\r\nHost: a\r\n\r\n", b);
        enum request_status st = parse_str(buf, (size_t)n, &req, &err);
        assert_int_equal(st, REQUEST_ERROR);
        if (err.status != (rfc_tchar(b) ? 501 : 400))
            fail_msg("method byte 0x%02x: got %d", b, err.status);

        /* Target: visible ASCII only. */
        n = snprintf(buf, sizeof(buf), "GET /a%cb HTTP/1.1\r\nHost: a\r\n\r\n", b);
        st = parse_str(buf, (size_t)n, &req, &err);
        if ((st == REQUEST_DONE) != (b >= 0x21 && b <= 0x7e))
            fail_msg("target byte 0x%02x: status %d", b, (int)st);

        /* Field value: VCHAR, obs-text, SP, HTAB. */
        n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nX: a%cb\r\n\r\n", b);
        st = parse_str(buf, (size_t)n, &req, &err);
        if ((st == REQUEST_DONE) != rfc_field_char(b))
            fail_msg("value byte 0x%02x: status %d", b, (int)st);

        /* Field name: tchar (a ':' just ends the name early). */
        n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nX%cY: v\r\n\r\n", b);
        st = parse_str(buf, (size_t)n, &req, &err);
        if ((st == REQUEST_DONE) != (rfc_tchar(b) || b == ':'))
            fail_msg("name byte 0x%02x: status %d", b, (int)st);

        /* Host: reg-name characters. */
        n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a%cb\r\n\r\n", b);
        st = parse_str(buf, (size_t)n, &req, &err);
        if ((st == REQUEST_DONE) != rfc_host_char(b))
            fail_msg("host byte 0x%02x: status %d", b, (int)st);
    }
}

/* Every known header is found whatever its case, and known[] keeps the first value. */
static void test_known_headers(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum header_id id;
    } names[] = {
        {"HOST", HDR_HOST},
        {"connection", HDR_CONNECTION},
        {"Content-length", HDR_CONTENT_LENGTH},
        {"transfer-ENCODING", HDR_TRANSFER_ENCODING},
        {"Expect", HDR_EXPECT},
        {"Content-Type", HDR_CONTENT_TYPE},
        {"User-Agent", HDR_USER_AGENT},
        {"Referer", HDR_REFERER},
        {"Accept", HDR_ACCEPT},
        {"Accept-Encoding", HDR_ACCEPT_ENCODING},
        {"If-None-Match", HDR_IF_NONE_MATCH},
        {"If-Modified-Since", HDR_IF_MODIFIED_SINCE},
        {"If-Match", HDR_IF_MATCH},
        {"If-Unmodified-Since", HDR_IF_UNMODIFIED_SINCE},
        {"Range", HDR_RANGE},
        {"If-Range", HDR_IF_RANGE},
        {"Authorization", HDR_AUTHORIZATION},
        {"Cookie", HDR_COOKIE},
        {"Origin", HDR_ORIGIN},
    };
    /* Values each handler accepts. */
    static const char *const values[HDR_COUNT] = {
        [HDR_HOST] = "example.com",    [HDR_CONNECTION] = "keep-alive",
        [HDR_CONTENT_LENGTH] = "12",   [HDR_TRANSFER_ENCODING] = "chunked",
        [HDR_EXPECT] = "100-continue",
    };
    assert_int_equal(sizeof(names) / sizeof(names[0]), HDR_COUNT);
    for (size_t i = 0; i < HDR_COUNT; i++) {
        const char *v = values[names[i].id] ? values[names[i].id] : "some value";
        char buf[256];
        const int n = snprintf(buf, sizeof(buf),
                               "POST / HTTP/1.1\r\n%s%s: %s\r\nX-Other: 1\r\n%s: second\r\n\r\n",
                               names[i].id == HDR_HOST ? "" : "Host: h\r\n", names[i].name, v,
                               names[i].id <= HDR_EXPECT ? "X-Ignored" : names[i].name);
        struct request req;
        struct request_error err = {0};
        const enum request_status st = parse_str(buf, (size_t)n, &req, &err);
        if (st != REQUEST_DONE)
            fail_msg("%s: status %d (%d %s)", names[i].name, (int)st, err.status, err.reason);
        if (!str_eq(req.known[names[i].id], v))
            fail_msg("%s: known value is not the first one", names[i].name);
        for (int id = 0; id < HDR_COUNT; id++)
            if (id != (int)names[i].id && id != HDR_HOST && req.known[id].ptr)
                fail_msg("%s: known[%d] set too", names[i].name, id);
    }
}

static void test_request_header(void **state)
{
    (void)state;
    static const char in[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Dup: one\r\nx-dup: two\r\n"
                             "X-Trim:  \t v \t\r\n\r\n";
    struct request req;
    struct request_error err;
    assert_int_equal(parse_str(in, sizeof(in) - 1, &req, &err), REQUEST_DONE);
    assert_int_equal(req.n_headers, 4);
    assert_true(str_eq(request_header(&req, SLICE_LIT("x-DUP")), "one"));
    assert_true(str_eq(request_header(&req, SLICE_LIT("X-Trim")), "v"));
    assert_true(str_eq(request_header(&req, SLICE_LIT("host")), "a"));
    assert_null(request_header(&req, SLICE_LIT("X-Absent")).ptr);
    assert_null(request_header(&req, SLICE_LIT("X-Du")).ptr);
}

static void test_methods(void **state)
{
    (void)state;
    static const char *const names[HTTP_METHOD_COUNT] = {
        [HTTP_GET] = "GET",     [HTTP_HEAD] = "HEAD",     [HTTP_POST] = "POST",
        [HTTP_PUT] = "PUT",     [HTTP_DELETE] = "DELETE", [HTTP_OPTIONS] = "OPTIONS",
        [HTTP_PATCH] = "PATCH", [HTTP_TRACE] = "TRACE",   [HTTP_CONNECT] = "CONNECT",
    };
    for (int m = 0; m < HTTP_METHOD_COUNT; m++) {
        assert_string_equal(request_method_name((enum http_method)m), names[m]);
        char buf[128];
        const char *target = m == HTTP_CONNECT ? "h:1" : "/";
        const int n =
            snprintf(buf, sizeof(buf), "%s %s HTTP/1.1\r\nHost: h\r\n\r\n", names[m], target);
        struct request req;
        struct request_error err;
        assert_int_equal(parse_str(buf, (size_t)n, &req, &err), REQUEST_DONE);
        assert_int_equal(req.method, m);
    }
    assert_string_equal(request_method_name(HTTP_METHOD_COUNT), "?");
}

/* A second call after REQUEST_DONE with the same scan state gives the same head. */
static void test_done_is_stable(void **state)
{
    (void)state;
    static const char in[] = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\n";
    struct request req;
    struct request_error err;
    size_t scan = 0;
    assert_int_equal(request_parse(in, 30, MAX_HEAD, &scan, &req, &err), REQUEST_DONE);
    assert_int_equal(req.head_len, 28);
    assert_int_equal(request_parse(in, sizeof(in) - 1, MAX_HEAD, &scan, &req, &err), REQUEST_DONE);
    assert_int_equal(req.head_len, 28);
    assert_true(str_eq(req.path, "/1"));
}

/* A caller that passes fewer bytes than last time gets a fresh scan, not a stale one. */
static void test_fewer_bytes_restarts(void **state)
{
    (void)state;
    static const char in[] = "GET /abc HTTP/1.1\r\nHost: a\r\n\r\n";
    struct request req;
    struct request_error err;
    size_t scan = 0;
    assert_int_equal(request_parse(in, 20, MAX_HEAD, &scan, &req, &err), REQUEST_NEED_MORE);
    assert_int_equal(request_parse(in, 6, MAX_HEAD, &scan, &req, &err), REQUEST_NEED_MORE);
    assert_int_equal(request_parse(in, sizeof(in) - 1, MAX_HEAD, &scan, &req, &err), REQUEST_DONE);
    assert_true(str_eq(req.path, "/abc"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases_whole),           cmocka_unit_test(test_cases_split),
        cmocka_unit_test(test_cases_guarded_trickle), cmocka_unit_test(test_target_limit),
        cmocka_unit_test(test_head_limits),           cmocka_unit_test(test_trickle_progress),
        cmocka_unit_test(test_char_classes),          cmocka_unit_test(test_known_headers),
        cmocka_unit_test(test_request_header),        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_done_is_stable),        cmocka_unit_test(test_fewer_bytes_restarts),
    };
    printf("test_request: %d table cases\n", (int)N_CASES);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
