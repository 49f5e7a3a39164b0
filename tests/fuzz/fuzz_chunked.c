/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for chunked_decode, the function the connection calls on each read of a
 * chunked request body. Each input is decoded:
 *   - whole, in an exact-size copy (the decoder writes into its buffer);
 *   - in two pieces split at an offset derived from the input, and in up to eight pieces
 *     at offsets drawn from a generator seeded by the input, each piece in its own
 *     exact-size block so a read past it is caught; every way must give the same status,
 *     reason, data, total and consumed count;
 *   - by a small reference decoder below, written from the RFC 9112 §7.1 grammar as plain
 *     recursive descent over the whole input, which must agree with the state machine;
 *   - with a small max_bytes taken from the input: the same result, or a 413 that decoded
 *     no more than the limit and a prefix of the same data.
 * Linked with tests/fuzz/replay.c instead of libFuzzer, it replays the corpus in `make test`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/body.h"

/* What one way of feeding the input gave. */
struct result {
    enum chunked_status status;
    struct request_error err;
    char *data; /* decoded bytes, at most the input's size */
    size_t data_len;
    uint64_t total;
    size_t consumed; /* from the start of the input */
};

/*
 * Feeds data[0..size) in pieces ending at cuts[0] <= cuts[1] <= … (then size), each piece
 * copied into a block of exactly its size, until DONE or ERROR.
 */
static void feed(const uint8_t *data, size_t size, uint64_t max_bytes, const size_t *cuts,
                 size_t n_cuts, struct result *r)
{
    struct chunked st;
    chunked_init(&st);
    *r = (struct result){.status = CHUNKED_NEED_MORE, .data = malloc(size ? size : 1)};
    CHECK(r->data != NULL);
    size_t start = 0;
    for (size_t i = 0; i <= n_cuts; i++) {
        const size_t end = i < n_cuts ? cuts[i] : size;
        const size_t n = end - start;
        char *piece = malloc(n ? n : 1);
        CHECK(piece != NULL);
        memcpy(piece, data + start, n);
        size_t consumed = SIZE_MAX, data_len = SIZE_MAX;
        r->status = chunked_decode(&st, piece, n, max_bytes, &consumed, &data_len, &r->err);
        CHECK(consumed <= n);
        CHECK(data_len <= consumed);
        CHECK(r->status != CHUNKED_NEED_MORE || consumed == n);
        CHECK(r->data_len + data_len <= size);
        memcpy(r->data + r->data_len, piece, data_len);
        free(piece);
        r->data_len += data_len;
        r->consumed = start + consumed;
        r->total = st.total;
        CHECK(r->total == r->data_len);
        CHECK(r->total <= max_bytes);
        if (r->status != CHUNKED_NEED_MORE)
            break;
        start = end;
    }
    if (r->status == CHUNKED_ERROR) {
        CHECK(r->err.reason != NULL && r->err.reason[0] != '\0');
        CHECK(r->err.status == 400 || r->err.status == 413);
    }
    if (r->status == CHUNKED_DONE)
        CHECK(r->consumed >= 5 && data[r->consumed - 2] == '\r' && data[r->consumed - 1] == '\n');
}

static void check_same(const struct result *a, const struct result *b)
{
    CHECK(a->status == b->status);
    CHECK(a->data_len == b->data_len);
    CHECK(memcmp(a->data, b->data, a->data_len) == 0);
    CHECK(a->total == b->total);
    CHECK(a->consumed == b->consumed);
    if (a->status == CHUNKED_ERROR) {
        CHECK(a->err.status == b->err.status);
        CHECK(a->err.reason == b->err.reason);
    }
}

/* ---- The reference decoder: the grammar read top-down over the whole input ---- */

enum ref_rc {
    REF_OK,   /* this part is complete and valid */
    REF_MORE, /* valid so far, but the input ends inside it */
    REF_BAD,  /* invalid */
};

struct ref {
    const char *in;
    size_t len, p;
    char *out;
    size_t out_len;
};

static bool ref_tchar(char c)
{
    return c != '\0' && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                         (c >= 'A' && c <= 'Z') || strchr("!#$%&'*+-.^_`|~", c));
}

static bool ref_vchar(char c) /* VCHAR, obs-text, SP, HTAB */
{
    const unsigned char b = (unsigned char)c;
    return (b >= 0x21 && b <= 0x7e) || b >= 0x80 || b == ' ' || b == '\t';
}

static int ref_hex(char c)
{
    const char *digits = "0123456789abcdef";
    const char lower = (c >= 'A' && c <= 'F') ? (char)(c + 32) : c;
    const char *d = lower ? strchr(digits, lower) : NULL;
    return d ? (int)(d - digits) : -1;
}

static enum ref_rc ref_expect(struct ref *r, char want)
{
    if (r->p == r->len)
        return REF_MORE;
    return r->in[r->p++] == want ? REF_OK : REF_BAD;
}

static size_t ref_ws(struct ref *r)
{
    const size_t start = r->p;
    while (r->p < r->len && (r->in[r->p] == ' ' || r->in[r->p] == '\t'))
        r->p++;
    return r->p - start;
}

/* token = 1*tchar; at the end of input it may still be growing. */
static enum ref_rc ref_token(struct ref *r)
{
    const size_t start = r->p;
    while (r->p < r->len && ref_tchar(r->in[r->p]))
        r->p++;
    if (r->p == r->len)
        return REF_MORE;
    return r->p > start ? REF_OK : REF_BAD;
}

/* quoted-string = DQUOTE *( qdtext / "\" (HTAB / SP / VCHAR / obs-text) ) DQUOTE */
static enum ref_rc ref_quoted(struct ref *r)
{
    r->p++; /* the opening quote */
    for (;;) {
        if (r->p == r->len)
            return REF_MORE;
        const char c = r->in[r->p++];
        if (c == '"')
            return REF_OK;
        if (c == '\\') {
            if (r->p == r->len)
                return REF_MORE;
            if (!ref_vchar(r->in[r->p++]))
                return REF_BAD;
        } else if (!ref_vchar(c)) {
            return REF_BAD;
        }
    }
}

/* chunk-size [ chunk-ext ] CRLF, with the 63-bit size and the line limit. */
static enum ref_rc ref_size_line(struct ref *r, uint64_t *size)
{
    size_t e = r->p;
    while (e < r->len && r->in[e] != '\r' && r->in[e] != '\n')
        e++;
    if (e - r->p > CHUNK_LINE_MAX)
        return REF_BAD;
    uint64_t n = 0;
    const size_t start = r->p;
    for (; r->p < r->len && ref_hex(r->in[r->p]) >= 0; r->p++) {
        const int d = ref_hex(r->in[r->p]);
        if (n > ((uint64_t)INT64_MAX - (uint64_t)d) / 16)
            return REF_BAD;
        n = n * 16 + (uint64_t)d;
    }
    if (r->p == r->len)
        return REF_MORE;
    if (r->p == start)
        return REF_BAD;
    *size = n;
    for (;;) {
        /* *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ) CRLF */
        const size_t ws = ref_ws(r);
        if (r->p == r->len)
            return REF_MORE;
        if (r->in[r->p] == '\r' && ws == 0) {
            r->p++;
            return ref_expect(r, '\n');
        }
        if (r->in[r->p++] != ';')
            return REF_BAD;
        ref_ws(r);
        enum ref_rc rc = ref_token(r);
        if (rc != REF_OK)
            return rc;
        const size_t after_name = r->p;
        ref_ws(r);
        if (r->p == r->len)
            return REF_MORE;
        if (r->in[r->p] != '=') {
            r->p = after_name;
            continue;
        }
        r->p++;
        ref_ws(r);
        if (r->p == r->len)
            return REF_MORE;
        rc = r->in[r->p] == '"' ? ref_quoted(r) : ref_token(r);
        if (rc != REF_OK)
            return rc;
    }
}

/* field-name ":" field-value CRLF, without judging the value's OWS. */
static enum ref_rc ref_field_line(struct ref *r)
{
    const enum ref_rc rc = ref_token(r);
    if (rc != REF_OK)
        return rc;
    if (r->in[r->p++] != ':')
        return REF_BAD;
    while (r->p < r->len && ref_vchar(r->in[r->p]))
        r->p++;
    const enum ref_rc cr = ref_expect(r, '\r');
    return cr == REF_OK ? ref_expect(r, '\n') : cr;
}

/* The whole chunked-body; REF_OK means complete. */
static enum ref_rc ref_decode(struct ref *r)
{
    for (;;) {
        uint64_t size = 0;
        enum ref_rc rc = ref_size_line(r, &size);
        if (rc != REF_OK)
            return rc;
        if (size == 0)
            break;
        const size_t avail = r->len - r->p;
        const size_t n = size < avail ? (size_t)size : avail;
        memcpy(r->out + r->out_len, r->in + r->p, n);
        r->out_len += n;
        r->p += n;
        if (n < size)
            return REF_MORE;
        rc = ref_expect(r, '\r');
        if (rc == REF_OK)
            rc = ref_expect(r, '\n');
        if (rc != REF_OK)
            return rc;
    }
    size_t trailer_bytes = 0;
    for (;;) {
        if (r->p == r->len)
            return REF_MORE;
        if (r->in[r->p] == '\r') {
            r->p++;
            return ref_expect(r, '\n');
        }
        const size_t start = r->p;
        const enum ref_rc rc = ref_field_line(r);
        trailer_bytes += r->p - start;
        if (trailer_bytes > CHUNK_TRAILER_MAX)
            return REF_BAD;
        if (rc != REF_OK)
            return rc;
    }
}

static void check_reference(const uint8_t *data, size_t size, const struct result *whole)
{
    struct ref r = {.in = (const char *)data, .len = size, .out = malloc(size ? size : 1)};
    CHECK(r.out != NULL);
    const enum ref_rc rc = ref_decode(&r);
    switch (rc) {
    case REF_OK:
        CHECK(whole->status == CHUNKED_DONE);
        CHECK(whole->consumed == r.p);
        break;
    case REF_MORE:
        CHECK(whole->status == CHUNKED_NEED_MORE);
        break;
    case REF_BAD:
        CHECK(whole->status == CHUNKED_ERROR && whole->err.status == 400);
        break;
    }
    if (rc != REF_BAD) {
        CHECK(whole->data_len == r.out_len);
        CHECK(memcmp(whole->data, r.out, r.out_len) == 0);
    }
    free(r.out);
}

/* ---- Driver ---- */

/* FNV-1a, to derive split offsets and a limit that move as the fuzzer mutates the input. */
static uint64_t input_hash(const uint8_t *data, size_t size)
{
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211u;
    return h;
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int cmp_size(const void *a, const void *b)
{
    const size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct result whole, other;
    feed(data, size, UINT64_MAX, NULL, 0, &whole);
    CHECK(whole.status != CHUNKED_ERROR || whole.err.status == 400);
    check_reference(data, size, &whole);

    uint64_t seed = input_hash(data, size) | 1;

    /* Two pieces. */
    const size_t k = size ? (size_t)(seed % (size + 1)) : 0;
    feed(data, size, UINT64_MAX, &k, 1, &other);
    check_same(&whole, &other);
    free(other.data);

    /* Up to eight pieces, empty ones allowed. */
    size_t cuts[7];
    const size_t n_cuts = (size_t)(xorshift(&seed) % 8);
    for (size_t i = 0; i < n_cuts; i++)
        cuts[i] = size ? (size_t)(xorshift(&seed) % (size + 1)) : 0;
    qsort(cuts, n_cuts, sizeof(cuts[0]), cmp_size);
    feed(data, size, UINT64_MAX, cuts, n_cuts, &other);
    check_same(&whole, &other);
    free(other.data);

    /* A small limit: the same result, or a 413 no later than the unlimited decoder got. */
    const uint64_t max_bytes = xorshift(&seed) % 64;
    feed(data, size, max_bytes, cuts, n_cuts, &other);
    if (other.status == CHUNKED_ERROR && other.err.status == 413) {
        CHECK(other.total <= max_bytes);
        CHECK(other.data_len <= whole.data_len);
        CHECK(memcmp(other.data, whole.data, other.data_len) == 0);
    } else {
        check_same(&whole, &other);
    }
    free(other.data);
    free(whole.data);
    return 0;
}
