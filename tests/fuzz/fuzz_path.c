/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for path_normalize, the function every request path goes through.
 *
 * Besides looking for crashes and over-reads, it checks two things on every input:
 * - the invariants a caller relies on when the answer is 0: a relative path with no
 *   "." or ".." segment, no empty segment, no dotfile (save a top-level ".well-known"),
 *   no backslash or control byte, NUL-terminated exactly at len, shorter than out_size;
 * - agreement with a slow reference written the obvious way (decode everything, then split
 *   and use a stack of segments), with a buffer large enough that 414 cannot happen, and
 *   with small buffers, where the only new answer allowed is 414.
 * Built with -fsanitize=fuzzer by `make fuzz`, and linked with replay.c by `make test`.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "files/path.h"

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_path: %s\n", what);
        abort();
    }
}

static int hex_digit(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

struct segment {
    const uint8_t *ptr;
    size_t len;
};

static bool segment_is(struct segment s, const char *text)
{
    return s.len == strlen(text) && memcmp(s.ptr, text, s.len) == 0;
}

/*
 * The reference. Returns the status; on 0 fills out (unbounded: size + 2 bytes) and res.
 * *decode_failed tells whether the status came from the decoding step, before any segment
 * was looked at: path_normalize may then answer 404 for a dotfile it met earlier.
 */
static int reference(const uint8_t *raw, size_t size, char *out, struct path_result *res,
                     bool *decode_failed)
{
    *decode_failed = true;
    if (size == 0 || raw[0] != '/')
        return 400;
    uint8_t *dec = malloc(size);
    struct segment *segs = malloc(sizeof(*segs) * size);
    check(dec && segs, "out of memory");
    int status = 0;

    size_t dec_len = 0;
    for (size_t i = 1; i < size && status == 0; i++) {
        int c = raw[i];
        if (c == '%') {
            int hi = i + 2 < size ? hex_digit(raw[i + 1]) : -1;
            int lo = i + 2 < size ? hex_digit(raw[i + 2]) : -1;
            c = hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
            i += 2;
            if (c == '/')
                c = -1;
        }
        if (c < 0x20 || c == 0x7f || c == '\\')
            status = 400;
        else
            dec[dec_len++] = (uint8_t)c;
    }
    if (status != 0)
        goto done;
    *decode_failed = false;

    size_t n = 0;
    bool was_dot = false;
    for (size_t start = 0; start <= dec_len && status == 0;) {
        const uint8_t *slash = memchr(dec + start, '/', dec_len - start);
        size_t end = slash ? (size_t)(slash - dec) : dec_len;
        struct segment s = {dec + start, end - start};
        was_dot = segment_is(s, ".") || segment_is(s, "..");
        if (segment_is(s, "..")) {
            if (n == 0)
                status = 400;
            else
                n--;
        } else if (s.len > 0 && !segment_is(s, ".")) {
            if (s.ptr[0] == '.' && !(n == 0 && segment_is(s, ".well-known")))
                status = 404;
            segs[n++] = s;
        }
        start = end + 1;
    }
    if (status != 0)
        goto done;

    size_t len = 0;
    for (size_t k = 0; k < n; k++) {
        if (k > 0)
            out[len++] = '/';
        memcpy(out + len, segs[k].ptr, segs[k].len);
        len += segs[k].len;
    }
    if (len == 0)
        out[len++] = '.';
    out[len] = '\0';
    res->len = len;
    res->trailing_slash = raw[size - 1] == '/' || was_dot;
done:
    free(segs);
    free(dec);
    return status;
}

/* What every successful result must look like, whatever the input. */
static void check_invariants(const char *out, size_t out_size, const struct path_result *res)
{
    check(res->len > 0 && res->len < out_size, "length out of range");
    check(out[res->len] == '\0', "not NUL-terminated at len");
    check(memchr(out, '\0', res->len) == NULL, "NUL before len");
    check(out[0] != '/', "leading slash");
    check(out[res->len - 1] != '/', "trailing slash");
    if (res->len == 1 && out[0] == '.')
        return; /* the root */
    for (size_t start = 0; start < res->len;) {
        const char *slash = memchr(out + start, '/', res->len - start);
        size_t end = slash ? (size_t)(slash - out) : res->len;
        check(end > start, "empty segment (\"//\")");
        /* Covers ".", ".." and every dotfile; ".well-known" only at the top. */
        check(out[start] != '.' || (start == 0 && end == 11 && memcmp(out, ".well-known", 11) == 0),
              "dot segment or dotfile");
        for (size_t i = start; i < end; i++) {
            unsigned char c = (unsigned char)out[i];
            check(c >= 0x20 && c != 0x7f && c != '\\', "control byte or backslash");
        }
        start = end + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct slice raw = slice_make((const char *)data, size);

    /* Large enough that 414 is impossible: the output never outgrows the input, plus ".". */
    const size_t big_size = size + 2;
    char *big = malloc(big_size);
    char *want = malloc(big_size);
    check(big && want, "out of memory");

    struct path_result res = {0};
    int status = path_normalize(raw, big, big_size, &res);
    check(status == 0 || status == 400 || status == 404, "unexpected status");
    if (status == 0)
        check_invariants(big, big_size, &res);

    struct path_result want_res = {0};
    bool decode_failed;
    int want_status = reference(data, size, want, &want_res, &decode_failed);
    if (decode_failed) {
        check(status == 400 || status == 404, "accepted what the reference cannot decode");
    } else {
        check(status == want_status, "status differs from the reference");
        if (status == 0) {
            check(res.len == want_res.len && memcmp(big, want, res.len) == 0,
                  "output differs from the reference");
            check(res.trailing_slash == want_res.trailing_slash,
                  "trailing_slash differs from the reference");
        }
    }

    /* Small buffers: the same answer, or 414. */
    static const size_t sizes[] = {0, 1, 2, 3, 8, 64, PATH_MAX_BYTES};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char small[PATH_MAX_BYTES];
        struct path_result small_res = {0};
        int small_status = path_normalize(raw, small, sizes[i], &small_res);
        if (small_status == 414)
            continue;
        check(small_status == status, "status depends on out_size");
        if (small_status == 0) {
            check_invariants(small, sizes[i], &small_res);
            check(small_res.len == res.len && memcmp(small, big, res.len) == 0,
                  "output depends on out_size");
            check(small_res.trailing_slash == res.trailing_slash,
                  "trailing_slash depends on out_size");
        }
    }
    free(want);
    free(big);
    return 0;
}
