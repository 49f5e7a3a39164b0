/* SPDX-License-Identifier: MIT */
/*
 * gzip and brotli compression of whole bodies. Levels are chosen for on-the-fly use that
 * is cached: gzip 6 (zlib's default) and brotli 5, both much smaller than the original
 * for text and fast enough that the first request for a file does not stall its worker.
 */
#include "http/compress.h"

#include <brotli/encode.h>
#include <stdint.h>
#include <zlib.h>

enum { GZIP_LEVEL = 6, BROTLI_QUALITY = 5 };

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
