/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for request_parse, the function the connection calls on every read.
 * Each input is parsed whole, then again in two calls split at an offset derived from the
 * input (the first call on an exact-size copy of the prefix, so a read past it is caught),
 * and the two outcomes must agree. A complete head must also satisfy the invariants the
 * rest of the server relies on: every slice inside the head, and the head limit exact.
 * Linked with tests/fuzz/replay.c instead of libFuzzer, it replays the corpus in `make test`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/request.h"

enum { FUZZ_MAX_HEAD = 16384 };

/* A slice is in bounds if it lies inside [base, base + len); an empty one may sit at the end. */
static bool slice_inside(struct slice s, const char *base, size_t len)
{
    if (!s.ptr)
        return s.len == 0;
    return s.ptr >= base && s.ptr <= base + len && s.len <= (size_t)(base + len - s.ptr);
}

/* A second, independent reading of the first Content-Length value, with overflow checks,
 * so a number that wrapped around in the parser cannot pass as a small one. */
static void check_content_length(const struct request *req)
{
    const struct slice v = req->known[HDR_CONTENT_LENGTH];
    CHECK(req->has_content_length == (v.ptr != NULL));
    if (!v.ptr)
        return;
    uint64_t n = 0;
    for (size_t i = 0; i < v.len && v.ptr[i] >= '0' && v.ptr[i] <= '9'; i++) {
        CHECK(!__builtin_mul_overflow(n, 10, &n));
        CHECK(!__builtin_add_overflow(n, (uint64_t)(v.ptr[i] - '0'), &n));
    }
    CHECK(n == req->content_length);
}

static void check_done(const struct request *req, const char *buf, size_t size)
{
    const size_t n = req->head_len;
    CHECK(n > 0 && n <= size);
    CHECK(buf[n - 1] == '\n');
    CHECK(req->method < HTTP_METHOD_COUNT);
    CHECK(slice_inside(req->method_name, buf, n) && req->method_name.ptr);
    CHECK(slice_inside(req->target, buf, n) && req->target.len > 0);
    CHECK(req->target.len <= REQUEST_MAX_TARGET);
    CHECK(slice_inside(req->path, buf, n) && req->path.len > 0);
    CHECK(slice_inside(req->query, buf, n) && req->query.ptr);
    CHECK(req->has_query || req->query.len == 0);
    CHECK(req->version_minor == 0 || req->version_minor == 1);
    CHECK(req->n_headers <= REQUEST_MAX_HEADERS);
    for (unsigned i = 0; i < req->n_headers; i++) {
        CHECK(slice_inside(req->headers[i].name, buf, n) && req->headers[i].name.len > 0);
        CHECK(slice_inside(req->headers[i].value, buf, n) && req->headers[i].value.ptr);
    }
    for (int i = 0; i < HDR_COUNT; i++)
        CHECK(slice_inside(req->known[i], buf, n));
    CHECK(!(req->chunked && req->has_content_length));
    CHECK(!req->has_content_length || req->content_length <= (uint64_t)1 << 62);
    CHECK(req->version_minor == 0 || req->known[HDR_HOST].ptr); /* RFC 9112 §3.2 */
    check_content_length(req);
}

/* Offsets of a slice from its buffer, so results parsed from two copies compare. */
static void check_same_slice(struct slice a, const char *base_a, struct slice b, const char *base_b)
{
    CHECK(a.len == b.len);
    CHECK((a.ptr == NULL) == (b.ptr == NULL));
    if (a.ptr)
        CHECK(a.ptr - base_a == b.ptr - base_b);
}

static void check_same(enum request_status st_a, const struct request *a,
                       const struct request_error *ea, const char *base_a, enum request_status st_b,
                       const struct request *b, const struct request_error *eb, const char *base_b)
{
    CHECK(st_a == st_b);
    if (st_a == REQUEST_ERROR) {
        CHECK(ea->status == eb->status);
        CHECK(ea->reason == eb->reason);
    }
    if (st_a != REQUEST_DONE)
        return;
    CHECK(a->head_len == b->head_len);
    CHECK(a->method == b->method);
    check_same_slice(a->method_name, base_a, b->method_name, base_b);
    check_same_slice(a->target, base_a, b->target, base_b);
    check_same_slice(a->path, base_a, b->path, base_b);
    check_same_slice(a->query, base_a, b->query, base_b);
    CHECK(a->has_query == b->has_query);
    CHECK(a->version_minor == b->version_minor);
    CHECK(a->n_headers == b->n_headers);
    for (int i = 0; i < HDR_COUNT; i++)
        check_same_slice(a->known[i], base_a, b->known[i], base_b);
    CHECK(a->has_content_length == b->has_content_length);
    CHECK(a->content_length == b->content_length);
    CHECK(a->chunked == b->chunked);
    CHECK(a->keep_alive == b->keep_alive);
    CHECK(a->expect_continue == b->expect_continue);
}

/* FNV-1a, only to pick a split offset that moves as the fuzzer mutates the input. */
static size_t split_offset(const uint8_t *data, size_t size)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    return h % size;
}

/* Two static requests: struct request is too large to want two copies on the stack. */
static struct request whole, split;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct request_error err_whole = {0}, err_split = {0};
    size_t scan = 0;
    const enum request_status st =
        request_parse(buf, size, FUZZ_MAX_HEAD, &scan, &whole, &err_whole);
    if (st == REQUEST_ERROR)
        CHECK(err_whole.reason && err_whole.status >= 400 && err_whole.status <= 505);
    if (st == REQUEST_DONE) {
        check_done(&whole, buf, size);
        /* The limit is exact: a head of head_len bytes fits in head_len, not in one less. */
        scan = 0;
        CHECK(request_parse(buf, size, whole.head_len, &scan, &split, &err_split) == REQUEST_DONE);
        CHECK(split.head_len == whole.head_len);
        scan = 0;
        CHECK(request_parse(buf, size, whole.head_len - 1, &scan, &split, &err_split) ==
                  REQUEST_ERROR &&
              err_split.status == 431);
    }
    if (size == 0)
        return 0;

    /* The first part alone, in a block of exactly its size. */
    const size_t k = split_offset(data, size);
    char *prefix = malloc(k ? k : 1);
    CHECK(prefix != NULL);
    memcpy(prefix, buf, k);
    scan = 0;
    enum request_status st_split =
        request_parse(prefix, k, FUZZ_MAX_HEAD, &scan, &split, &err_split);
    if (st_split == REQUEST_NEED_MORE) {
        st_split = request_parse(buf, size, FUZZ_MAX_HEAD, &scan, &split, &err_split);
        check_same(st, &whole, &err_whole, buf, st_split, &split, &err_split, buf);
    } else {
        /* Decided on the prefix: the whole input must be decided the same way. */
        check_same(st, &whole, &err_whole, buf, st_split, &split, &err_split, prefix);
    }
    free(prefix);
    return 0;
}
