/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the form body parsers, urlencoded_parse and struct multipart.
 *
 * The first byte chooses the parser (bit 0), the limits (bit 1: roomy or tight, so the 413
 * paths are reached) and, for multipart, where the Content-Type comes from (bit 2: a fixed
 * one, or the input's first line); the rest is the body.
 * - urlencoded: the body is parsed from an exact-size copy (it is decoded in place) and the
 *   callbacks must match a slow reference written the obvious way.
 * - multipart: the body is parsed whole, then split in two at an
 *   offset derived from the input, then in pieces of sizes derived from the input, each
 *   piece in an exact-size block freed right after it is fed (a read past a piece, or a
 *   pointer kept into one, is caught by ASan). Status, reason and the callback trace must be
 *   identical in all three, and the trace well formed and within the limits.
 * Linked with tests/fuzz/replay.c instead of libFuzzer, it replays the corpus in `make test`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/form.h"

static const struct form_limits roomy = {1000, 100000, 100000, 1000000};
static const struct form_limits tight = {3, 8, 16, 512};

/* The trace: F[name]=[value], B[name][filename][type] D[data] E, as in test_form.c. */

struct recorder {
    struct buf trace;
    const struct form_limits *limits;
    bool in_file;
    bool stopped; /* the parser returned ERROR or DONE: no callback may follow */
    size_t parts;
    uint64_t file_bytes;
};

static void rec_init(struct recorder *r, const struct form_limits *limits)
{
    *r = (struct recorder){.limits = limits};
    buf_init(&r->trace, NULL, 0, 0);
}

static void rec(struct recorder *r, const void *p, size_t n)
{
    CHECK(buf_append(&r->trace, p, n));
}

static void rec_slice(struct recorder *r, struct slice s)
{
    CHECK(s.ptr != NULL || s.len == 0);
    rec(r, "[", 1);
    rec(r, s.ptr, s.len);
    rec(r, "]", 1);
}

static int on_field(void *ctx, struct slice name, struct slice value)
{
    struct recorder *r = ctx;
    CHECK(!r->stopped && !r->in_file);
    CHECK(++r->parts <= r->limits->max_fields);
    CHECK(name.len <= r->limits->max_field_bytes && value.len <= r->limits->max_field_bytes);
    rec(r, "F", 1);
    rec_slice(r, name);
    rec(r, "=", 1);
    rec_slice(r, value);
    rec(r, "\n", 1);
    /* A field named "stop" exercises a callback's status. */
    return slice_eq(name, SLICE_LIT("stop")) ? 507 : 0;
}

static int on_file_begin(void *ctx, struct slice name, struct slice filename,
                         struct slice content_type)
{
    struct recorder *r = ctx;
    CHECK(!r->stopped && !r->in_file);
    CHECK(++r->parts <= r->limits->max_fields);
    CHECK(name.len <= r->limits->max_field_bytes);
    CHECK(content_type.len > 0);
    r->in_file = true;
    r->file_bytes = 0;
    rec(r, "B", 1);
    rec_slice(r, name);
    rec_slice(r, filename);
    rec_slice(r, content_type);
    rec(r, "\nD[", 3);
    return slice_eq(name, SLICE_LIT("stop")) ? 507 : 0;
}

static int on_file_data(void *ctx, const char *data, size_t len)
{
    struct recorder *r = ctx;
    CHECK(!r->stopped && r->in_file && len > 0);
    r->file_bytes += len;
    CHECK(r->file_bytes <= r->limits->max_file_bytes);
    rec(r, data, len);
    return 0;
}

static int on_file_end(void *ctx)
{
    struct recorder *r = ctx;
    CHECK(!r->stopped && r->in_file);
    r->in_file = false;
    rec(r, "]\nE\n", 4);
    return 0;
}

static const struct form_callbacks callbacks = {on_field, on_file_begin, on_file_data, on_file_end};

static int hex(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes p[0..n) into a fresh buffer the slow way; false on a bad escape. */
static bool ref_decode(const uint8_t *p, size_t n, struct buf *out)
{
    buf_reset(out);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i] == '+' ? ' ' : p[i];
        if (p[i] == '%') {
            if (n - i < 3 || hex(p[i + 1]) < 0 || hex(p[i + 2]) < 0)
                return false;
            c = (uint8_t)(hex(p[i + 1]) * 16 + hex(p[i + 2]));
            i += 2;
        }
        CHECK(buf_append(out, &c, 1));
    }
    return true;
}

/* The WHATWG algorithm written out: split on '&', skip empties, split on the first '='. */
static int ref_urlencoded(const uint8_t *p, size_t n, const struct form_limits *limits,
                          struct recorder *r)
{
    struct buf name, value;
    buf_init(&name, NULL, 0, 0);
    buf_init(&value, NULL, 0, 0);
    size_t fields = 0, start = 0;
    int status = 0;
    for (size_t i = 0; i <= n && status == 0; i++) {
        if (i < n && p[i] != '&')
            continue;
        const uint8_t *seq = p + start;
        const size_t len = i - start;
        start = i + 1;
        if (len == 0)
            continue;
        if (++fields > limits->max_fields) {
            status = 413;
            break;
        }
        size_t eq = 0;
        while (eq < len && seq[eq] != '=')
            eq++;
        const bool ok = ref_decode(seq, eq, &name) &&
                        ref_decode(seq + eq + (eq < len), len - eq - (eq < len), &value);
        if (!ok)
            status = 400;
        else if (name.len > limits->max_field_bytes || value.len > limits->max_field_bytes)
            status = 413;
        else
            status = on_field(r, buf_slice(&name), buf_slice(&value));
    }
    buf_free(&name);
    buf_free(&value);
    return status;
}

static void fuzz_urlencoded(const uint8_t *data, size_t size, const struct form_limits *limits)
{
    char *body = malloc(size ? size : 1);
    CHECK(body != NULL);
    memcpy(body, data, size);
    struct recorder got, want;
    rec_init(&got, limits);
    rec_init(&want, limits);
    struct request_error err = {0};
    const bool ok = urlencoded_parse(body, size, limits, on_field, &got, &err);
    const int want_status = ref_urlencoded(data, size, limits, &want);
    CHECK(ok == (want_status == 0));
    CHECK(ok || (err.status == want_status && err.reason && err.reason[0]));
    CHECK(got.trace.len == want.trace.len);
    CHECK(got.trace.len == 0 || memcmp(got.trace.data, want.trace.data, got.trace.len) == 0);
    buf_free(&got.trace);
    buf_free(&want.trace);
    free(body);
}

static const char content_type[] = "multipart/form-data; boundary=\"fz B\"";

struct outcome {
    int status; /* 0: done */
    const char *reason;
    struct recorder rec;
};

/* FNV-1a, only to derive offsets and sizes that move as the fuzzer mutates the input. */
static uint32_t fnv(const uint8_t *data, size_t size)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    return h;
}

/*
 * Feeds data: whole when cut == size and seed == 0; in two at `cut` when seed == 0; else in
 * pieces of 1 to (seed % 64 + 1) bytes drawn from an LCG seeded with `seed`.
 */
static void multipart_run(struct slice ct, const uint8_t *data, size_t size,
                          const struct form_limits *limits, size_t cut, uint32_t seed,
                          struct outcome *out)
{
    rec_init(&out->rec, limits);
    struct multipart *m = malloc(sizeof(*m));
    CHECK(m != NULL);
    struct request_error err = {0};
    if (!multipart_init(m, ct, limits, &callbacks, &out->rec, &err)) {
        CHECK(err.status == 400 || err.status == 415);
        CHECK(multipart_feed(m, "--", 2, &err) == MULTIPART_ERROR);
        out->status = err.status;
        out->reason = err.reason;
        multipart_free(m);
        free(m);
        return;
    }
    const uint32_t max_piece = seed % 64 + 1;
    enum multipart_status st = MULTIPART_MORE;
    size_t pos = 0;
    bool first = true;
    do {
        size_t n = first ? cut : size - pos;
        first = false;
        if (seed != 0) {
            seed = seed * 1103515245u + 12345u;
            n = 1 + (seed >> 16) % max_piece;
            n = n > size - pos ? size - pos : n;
        }
        char *piece = malloc(n ? n : 1);
        CHECK(piece != NULL);
        memcpy(piece, data + pos, n);
        st = multipart_feed(m, piece, n, &err);
        free(piece);
        pos += n;
    } while (pos < size && st != MULTIPART_ERROR);
    if (st != MULTIPART_ERROR)
        st = multipart_end(m, &err);
    out->rec.stopped = true;
    CHECK(st == MULTIPART_DONE || st == MULTIPART_ERROR);
    out->status = st == MULTIPART_DONE ? 0 : err.status;
    out->reason = st == MULTIPART_DONE ? NULL : err.reason;
    CHECK(st == MULTIPART_DONE || (out->reason && out->reason[0]));
    /* DONE is final: whatever comes after is ignored. */
    CHECK(multipart_feed(m, "--", 2, &err) == st);
    CHECK(st == MULTIPART_ERROR || !out->rec.in_file);
    multipart_free(m);
    free(m);
}

static void check_same(const struct outcome *a, const struct outcome *b)
{
    CHECK(a->status == b->status);
    CHECK(a->reason == b->reason);
    CHECK(a->rec.trace.len == b->rec.trace.len);
    CHECK(a->rec.trace.len == 0 ||
          memcmp(a->rec.trace.data, b->rec.trace.data, a->rec.trace.len) == 0);
}

static void fuzz_multipart(const uint8_t *data, size_t size, const struct form_limits *limits,
                           bool own_type)
{
    /* The Content-Type, in an exact-size block: the input's first line, or a fixed one. */
    const uint8_t *nl = own_type ? memchr(data, '\n', size) : NULL;
    const size_t ct_len = nl ? (size_t)(nl - data) : sizeof(content_type) - 1;
    char *ct = malloc(ct_len ? ct_len : 1);
    CHECK(ct != NULL);
    memcpy(ct, nl ? (const void *)data : content_type, ct_len);
    if (nl) {
        size -= ct_len + 1;
        data = nl + 1;
    }
    const struct slice ct_slice = slice_make(ct, ct_len);

    struct outcome whole, split, pieces;
    multipart_run(ct_slice, data, size, limits, size, 0, &whole);
    const uint32_t h = fnv(data, size);
    multipart_run(ct_slice, data, size, limits, size ? h % (size + 1) : 0, 0, &split);
    check_same(&whole, &split);
    multipart_run(ct_slice, data, size, limits, 0, h | 1, &pieces);
    check_same(&whole, &pieces);
    buf_free(&whole.rec.trace);
    buf_free(&split.rec.trace);
    buf_free(&pieces.rec.trace);
    free(ct);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const struct form_limits *limits = data[0] & 2 ? &tight : &roomy;
    if (data[0] & 1)
        fuzz_multipart(data + 1, size - 1, limits, data[0] & 4);
    else
        fuzz_urlencoded(data + 1, size - 1, limits);
    return 0;
}
