/* SPDX-License-Identifier: MIT */
/*
 * gzip and brotli compression of whole bodies; see compress.h.
 *
 * Levels for bodies that are cached (compress_body): gzip 6 (zlib's default) and brotli 5,
 * much smaller than the original for text and fast enough that the first request for a
 * file does not stall its worker.
 *
 * Levels for bodies compressed per request (compress_fast): gzip 1 and brotli 1. Measured
 * here on the 2.7 KB /status page: gzip 1 takes 17 us for 1391 bytes (level 6: 21 us, 1330
 * bytes), brotli 1 15 us for 1443 bytes (quality 4: 46 us, 1268 bytes); on 2.4 MB of
 * /api/submissions JSON gzip 1 takes 8.4 ms for 298 KB (level 6: 37 ms, 221 KB) and
 * brotli 1 4.5 ms for 276 KB (quality 5: 25 ms, 224 KB). The higher levels save a few
 * percent of the bytes for two to five times the CPU, on every request.
 *
 * No allocation per request: the zlib stream is made once per worker and reset, and the
 * brotli encoder, which cannot be reset, allocates from a per-worker arena through
 * libbrotlienc's allocator hooks (6 blocks, 46 KB for a small page); the arena grows to
 * the largest need seen, up to ARENA_MAX_BYTES, beyond which blocks come from malloc.
 */
#include "http/compress.h"

#include <brotli/encode.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "http/mime.h"

enum {
    GZIP_LEVEL = 6,
    BROTLI_QUALITY = 5,
    FAST_GZIP_LEVEL = 1,
    FAST_BROTLI_QUALITY = 1,
    ARENA_MAX_BYTES = 1 << 20,
    ARENA_ALIGN = 16,
};

static int gzip_body(const void *in, size_t len, struct buf *out)
{
    z_stream z = {0};
    /* windowBits 15 + 16: a gzip wrapper, not zlib's (RFC 1952). */
    if (deflateInit2(&z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t bound = deflateBound(&z, (uLong)len);
    size_t mark = out->len;
    int rc = -1;
    if (len <= UINT32_MAX && buf_reserve(out, bound)) {
        z.next_in = (Bytef *)in;
        z.avail_in = (uInt)len;
        z.next_out = (Bytef *)out->data + out->len;
        z.avail_out = (uInt)bound;
        if (deflate(&z, Z_FINISH) == Z_STREAM_END) {
            out->len += z.total_out;
            rc = 0;
        }
    }
    deflateEnd(&z);
    if (rc != 0)
        out->len = mark;
    return rc;
}

static int brotli_body(const void *in, size_t len, struct buf *out)
{
    size_t bound = BrotliEncoderMaxCompressedSize(len);
    if (bound == 0 || !buf_reserve(out, bound))
        return -1;
    size_t n = bound;
    if (!BrotliEncoderCompress(BROTLI_QUALITY, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, len, in, &n,
                               (uint8_t *)out->data + out->len))
        return -1;
    out->len += n;
    return 0;
}

int compress_body(enum encoding e, const void *in, size_t len, struct buf *out)
{
    switch (e) {
    case ENC_GZIP:
        return gzip_body(in, len, out);
    case ENC_BR:
        return brotli_body(in, len, out);
    default:
        return -1;
    }
}

struct compressor {
    z_stream gz;
    bool has_gz;       /* gz was initialised (deflateInit2) */
    char *arena;       /* brotli's allocations while one body is compressed */
    size_t arena_cap;  /* bytes at arena */
    size_t arena_used; /* bump pointer, reset per body */
    size_t arena_need; /* bytes the current body asked for, arena or not */
    struct buf out;    /* the compressed body */
};

struct compressor *compress_new(void)
{
    struct compressor *z = calloc(1, sizeof(*z));
    if (z)
        buf_init(&z->out, NULL, 0, 0);
    return z;
}

void compress_free(struct compressor *z)
{
    if (!z)
        return;
    if (z->has_gz)
        deflateEnd(&z->gz);
    free(z->arena);
    buf_free(&z->out);
    free(z);
}

/* libbrotlienc's allocator: the arena while it lasts, then malloc. */
static void *arena_alloc(void *opaque, size_t size)
{
    struct compressor *z = opaque;
    size_t n = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (n < size)
        return NULL;
    z->arena_need += n;
    if (z->arena && n <= z->arena_cap - z->arena_used) {
        void *p = z->arena + z->arena_used;
        z->arena_used += n;
        return p;
    }
    return malloc(size);
}

static void arena_free(void *opaque, void *p)
{
    const struct compressor *z = opaque;
    bool in_arena = z->arena && (char *)p >= z->arena && (char *)p < z->arena + z->arena_cap;
    if (p && !in_arena)
        free(p);
}

/* After a body: the arena grows to what it needed, so the next such body fits. */
static void arena_reset(struct compressor *z)
{
    if (z->arena_need > z->arena_cap && z->arena_need <= ARENA_MAX_BYTES) {
        char *bigger = malloc(z->arena_need); /* aligned for any type, as malloc's are */
        if (bigger) {
            free(z->arena);
            z->arena = bigger;
            z->arena_cap = z->arena_need;
        }
    }
    z->arena_used = z->arena_need = 0;
}

static int gzip_fast(struct compressor *z, const void *in, size_t len)
{
    if (!z->has_gz) {
        if (deflateInit2(&z->gz, FAST_GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
            Z_OK)
            return -1;
        z->has_gz = true;
    } else if (deflateReset(&z->gz) != Z_OK) {
        return -1;
    }
    size_t bound = deflateBound(&z->gz, (uLong)len);
    if (len > UINT32_MAX || bound > UINT32_MAX || !buf_reserve(&z->out, bound))
        return -1;
    z->gz.next_in = (Bytef *)in;
    z->gz.avail_in = (uInt)len;
    z->gz.next_out = (Bytef *)z->out.data;
    z->gz.avail_out = (uInt)bound;
    if (deflate(&z->gz, Z_FINISH) != Z_STREAM_END)
        return -1;
    z->out.len = z->gz.total_out;
    return 0;
}

/* The smallest brotli window (10 to 22 bits) that holds len bytes: a smaller ring buffer
 * to allocate for small bodies, the same output. */
static int window_bits(size_t len)
{
    int bits = BROTLI_MIN_WINDOW_BITS;
    while (bits < BROTLI_DEFAULT_WINDOW && ((size_t)1 << bits) < len)
        bits++;
    return bits;
}

static int brotli_fast(struct compressor *z, const void *in, size_t len)
{
    size_t bound = BrotliEncoderMaxCompressedSize(len);
    if (bound == 0 || !buf_reserve(&z->out, bound))
        return -1;
    BrotliEncoderState *s = BrotliEncoderCreateInstance(arena_alloc, arena_free, z);
    if (!s) {
        arena_reset(z);
        return -1;
    }
    size_t avail_in = len, avail_out = bound;
    const uint8_t *next_in = in;
    uint8_t *next_out = (uint8_t *)z->out.data;
    bool ok = BrotliEncoderSetParameter(s, BROTLI_PARAM_QUALITY, FAST_BROTLI_QUALITY) &&
              BrotliEncoderSetParameter(s, BROTLI_PARAM_MODE, BROTLI_MODE_TEXT) &&
              BrotliEncoderSetParameter(s, BROTLI_PARAM_LGWIN, (uint32_t)window_bits(len)) &&
              BrotliEncoderSetParameter(s, BROTLI_PARAM_SIZE_HINT,
                                        len < (1u << 30) ? (uint32_t)len : 0) &&
              BrotliEncoderCompressStream(s, BROTLI_OPERATION_FINISH, &avail_in, &next_in,
                                          &avail_out, &next_out, NULL) &&
              BrotliEncoderIsFinished(s);
    BrotliEncoderDestroyInstance(s);
    arena_reset(z);
    if (!ok)
        return -1;
    z->out.len = bound - avail_out;
    return 0;
}

int compress_fast(struct compressor *z, enum encoding e, const void *in, size_t len,
                  struct slice *out)
{
    buf_trim(&z->out, 256 * 1024); /* a rare large body does not stay pinned */
    int rc = e == ENC_GZIP ? gzip_fast(z, in, len) : e == ENC_BR ? brotli_fast(z, in, len) : -1;
    *out = rc == 0 ? buf_slice(&z->out) : (struct slice){NULL, 0};
    return rc;
}

/* A strong ETag "x" becomes "x-gzip" or "x-br", as static files' variants (RFC 9110
 * §8.8.3: each content coding is its own representation). Weak ones stay: the bytes are
 * equivalent. */
static bool mark_etag(struct response *r, enum encoding e)
{
    struct slice etag = response_find_header(r, "ETag");
    if (!etag.ptr || etag.len < 2 || etag.ptr[0] != '"' || etag.ptr[etag.len - 1] != '"')
        return true;
    char suffix[16];
    snprintf(suffix, sizeof(suffix), "-%s", encoding_name(e));
    return response_edit_header(r, etag, etag.len - 1, slice_str(suffix));
}

void compress_response(struct compressor *z, struct response *r, struct slice accept_encoding,
                       bool enabled)
{
    if (r->is_negotiated || !mime_type_compressible(r->content_type))
        return;
    /* RFC 9110 §12.5.5: whichever coding goes out, caches must key on Accept-Encoding; a
     * response that cannot say so (its extra headers are full) is not compressed. */
    if (!response_vary(r, "Accept-Encoding") || !enabled || !z || r->body_kind != BODY_MEM ||
        r->owner || r->body.len <= COMPRESS_MIN_BYTES || r->status < 200 || r->status == 204 ||
        r->status == 206 || r->status == 304 || response_find_header(r, "Content-Encoding").ptr)
        return;
    enum encoding e = encoding_negotiate(accept_encoding, (1u << ENC_GZIP) | (1u << ENC_BR));
    struct slice out;
    if (e == ENC_IDENTITY || compress_fast(z, e, r->body.ptr, r->body.len, &out) != 0 ||
        out.len >= r->body.len)
        return;
    size_t mark = r->headers.len;
    if (!response_header(r, "Content-Encoding", slice_str(encoding_name(e))))
        return;
    if (!mark_etag(r, e)) {
        r->headers.len = mark;
        return;
    }
    r->body = out;
    r->body_length = out.len;
}
