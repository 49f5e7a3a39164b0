/* SPDX-License-Identifier: MIT */
/*
 * Tests for http/compress: compress_response, the one step every generated response passes
 * before its head is written. A table of responses and requests, each with what must go
 * out: compressed or not, the headers it must carry; gzip bodies are inflated again and
 * compared with the original (brotli bodies are decoded by the integration tests).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "http/compress.h"

enum { BODY_BYTES = 4096 };

static char body[BODY_BYTES];

/* Text that compresses well: a few words, repeated with numbers. */
static void make_body(void)
{
    size_t n = 0;
    for (unsigned i = 0; n < sizeof(body); i++) {
        char word[32];
        int k = snprintf(word, sizeof(word), "listing entry %u size %u\n", i, i * 37 % 1000);
        for (int j = 0; j < k && n < sizeof(body); j++)
            body[n++] = word[j];
    }
}

struct compress_case {
    const char *desc;
    const char *type; /* Content-Type */
    size_t len;       /* body bytes (of body[]) */
    int status;
    const char *headers;  /* extra headers before */
    const char *accept;   /* Accept-Encoding, NULL: absent */
    bool enabled;         /* compression on */
    bool shared;          /* the body has an owner (the cache's bytes) */
    bool negotiated;      /* the handler negotiated (static files) */
    const char *encoding; /* Content-Encoding expected, NULL: identity */
    const char *vary;     /* Vary expected, NULL: none */
    const char *etag;     /* ETag expected, NULL: none */
};

#define HTML "text/html; charset=utf-8"

static const struct compress_case cases[] = {
    {"gzip", HTML, 4096, 200, "", "gzip", true, false, false, "gzip", "Accept-Encoding", NULL},
    {"br", HTML, 4096, 200, "", "br", true, false, false, "br", "Accept-Encoding", NULL},
    {"a tie: brotli", "application/json", 4096, 200, "", "gzip, br", true, false, false, "br",
     "Accept-Encoding", NULL},
    {"q-values: gzip", HTML, 4096, 200, "", "br;q=0.5, gzip", true, false, false, "gzip",
     "Accept-Encoding", NULL},
    {"an error page", HTML, 4096, 404, "", "gzip", true, false, false, "gzip", "Accept-Encoding",
     NULL},
    {"1025 bytes", HTML, 1025, 200, "", "gzip", true, false, false, "gzip", "Accept-Encoding",
     NULL},
    {"1024 bytes: the floor", HTML, 1024, 200, "", "gzip", true, false, false, NULL,
     "Accept-Encoding", NULL},
    {"no Accept-Encoding", HTML, 4096, 200, "", NULL, true, false, false, NULL, "Accept-Encoding",
     NULL},
    {"identity only", HTML, 4096, 200, "", "identity, gzip;q=0", true, false, false, NULL,
     "Accept-Encoding", NULL},
    {"compression off: Vary all the same", HTML, 4096, 200, "", "gzip", false, false, false, NULL,
     "Accept-Encoding", NULL},
    {"not a compressible type", "image/png", 4096, 200, "", "gzip", true, false, false, NULL, NULL,
     NULL},
    {"no Content-Type", NULL, 4096, 200, "", "gzip", true, false, false, NULL, NULL, NULL},
    {"206", HTML, 4096, 206, "", "gzip", true, false, false, NULL, "Accept-Encoding", NULL},
    {"the cache's bytes", HTML, 4096, 200, "", "gzip", true, true, false, NULL, "Accept-Encoding",
     NULL},
    {"negotiated by the handler", HTML, 4096, 200, "Vary: Accept-Encoding\r\n", "gzip", true, false,
     true, NULL, "Accept-Encoding", NULL},
    {"Content-Encoding already set", HTML, 4096, 200, "Content-Encoding: gzip\r\n", "br", true,
     false, false, "gzip", "Accept-Encoding", NULL},
    {"Vary merged", "application/json", 4096, 200, "Vary: Accept\r\n", "gzip", true, false, false,
     "gzip", "Accept, Accept-Encoding", NULL},
    {"a strong ETag per encoding", HTML, 4096, 200, "ETag: \"v1\"\r\n", "gzip", true, false, false,
     "gzip", "Accept-Encoding", "\"v1-gzip\""},
    {"a strong ETag, brotli", HTML, 4096, 200, "ETag: \"v1\"\r\n", "br", true, false, false, "br",
     "Accept-Encoding", "\"v1-br\""},
    {"a strong ETag, identity", HTML, 4096, 200, "ETag: \"v1\"\r\n", NULL, true, false, false, NULL,
     "Accept-Encoding", "\"v1\""},
    {"a weak ETag stays", HTML, 4096, 200, "ETag: W/\"v1\"\r\n", "gzip", true, false, false, "gzip",
     "Accept-Encoding", "W/\"v1\""},
};

/* Inflates a gzip body; true when it gives exactly want[0..want_len). */
static bool gunzip_equals(struct slice gz, const char *want, size_t want_len)
{
    static char out[2 * BODY_BYTES];
    z_stream z = {0};
    if (inflateInit2(&z, 15 + 16) != Z_OK)
        return false;
    z.next_in = (Bytef *)gz.ptr;
    z.avail_in = (uInt)gz.len;
    z.next_out = (Bytef *)out;
    z.avail_out = sizeof(out);
    int rc = inflate(&z, Z_FINISH);
    size_t n = z.total_out;
    inflateEnd(&z);
    return rc == Z_STREAM_END && n == want_len && memcmp(out, want, n) == 0;
}

static void check_header(const struct compress_case *c, const struct response *r, const char *name,
                         const char *want)
{
    struct slice got = response_find_header(r, name);
    if (!want && got.ptr)
        fail_msg("%s: unexpected %s: %.*s", c->desc, name, (int)got.len, got.ptr);
    if (want && !slice_eq(got, slice_str(want)))
        fail_msg("%s: %s: got \"%.*s\", want \"%s\"", c->desc, name, (int)got.len,
                 got.ptr ? got.ptr : "", want);
}

static void test_table(void **state)
{
    (void)state;
    struct compressor *z = compress_new();
    assert_non_null(z);
    /* Each case twice: the second time runs on the reused state, arena and buffer. */
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            const struct compress_case *c = &cases[i];
            char storage[512];
            struct response r;
            response_init(&r, storage, sizeof(storage));
            response_set_body(&r, c->type, slice_make(body, c->len));
            r.status = c->status;
            r.is_negotiated = c->negotiated;
            struct ref owner = {0};
            if (c->shared)
                r.owner = &owner; /* only compared with NULL here */
            assert_true(buf_append_str(&r.headers, c->headers));
            compress_response(z, &r, c->accept ? slice_str(c->accept) : (struct slice){NULL, 0},
                              c->enabled);
            bool is_compressed = r.body.ptr != body;
            /* A Content-Encoding the handler set is expected, but the body is its own. */
            bool want_compressed = c->encoding && !strstr(c->headers, "Content-Encoding");
            if (is_compressed != want_compressed)
                fail_msg("%s: body %s", c->desc, is_compressed ? "compressed" : "identity");
            check_header(c, &r, "Content-Encoding", c->encoding);
            check_header(c, &r, "Vary", c->vary);
            check_header(c, &r, "ETag", c->etag);
            if (r.body_length != r.body.len)
                fail_msg("%s: Content-Length %llu for %zu bytes", c->desc,
                         (unsigned long long)r.body_length, r.body.len);
            if (is_compressed && r.body.len >= c->len)
                fail_msg("%s: compressed to %zu bytes from %zu", c->desc, r.body.len, c->len);
            if (is_compressed && strcmp(c->encoding, "gzip") == 0 &&
                !gunzip_equals(r.body, body, c->len))
                fail_msg("%s: the gzip body does not inflate to the original", c->desc);
            r.owner = NULL;
        }
    }
    compress_free(z);
}

/* A large body and then small ones: the buffers grow and are reused, the bytes stay right. */
static void test_sizes(void **state)
{
    (void)state;
    struct compressor *z = compress_new();
    assert_non_null(z);
    static char big[1 << 20];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = body[i % BODY_BYTES];
    const size_t sizes[] = {sizeof(big), 1025, BODY_BYTES, sizeof(big) / 2, 2000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (enum encoding e = ENC_GZIP; e < ENC_COUNT; e++) {
            struct slice out;
            if (compress_fast(z, e, big, sizes[i], &out) != 0)
                fail_msg("%s of %zu bytes failed", encoding_name(e), sizes[i]);
            if (out.len == 0 || out.len >= sizes[i])
                fail_msg("%s of %zu bytes: %zu bytes out", encoding_name(e), sizes[i], out.len);
        }
    }
    compress_free(z);
    compress_free(NULL);
}

int main(void)
{
    make_body();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_sizes),
    };
    return cmocka_run_group_tests_name("compress", tests, NULL, NULL);
}
