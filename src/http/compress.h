/* SPDX-License-Identifier: MIT */
/*
 * Compressing a body: gzip with zlib, brotli with libbrotlienc, two ways.
 *
 * compress_body makes a file's variant once, at a level worth keeping: the file cache holds
 * the result, so the static handler never pays for it twice. compress_response compresses
 * a generated body (a template page, a listing, JSON) for the one request it answers, so
 * it uses fast levels and a per-worker struct compressor whose state, arena and output
 * buffer are reused: no allocation per request once they have grown to the bodies seen.
 */
#ifndef MICA_HTTP_COMPRESS_H
#define MICA_HTTP_COMPRESS_H

#include <stddef.h>

#include "http/encoding.h"
#include "http/response.h"
#include "util/buf.h"

/* SPEC §3: bodies over this many bytes are compressed; at or below it, never. */
enum { COMPRESS_MIN_BYTES = 1024 };

/* Appends the compressed form of in[0..len) to out (gzip or br). Returns 0, or -1 when the
 * library fails or memory runs out (out is then unchanged). */
int compress_body(enum encoding e, const void *in, size_t len, struct buf *out);

/* One worker's state for compress_response; owned by the worker, used by one thread. */
struct compressor;

/* A new compressor (its zlib state is made on first use), or NULL without memory. */
struct compressor *compress_new(void);
void compress_free(struct compressor *z);

/*
 * Compresses in[0..len) with the fast levels into z's output buffer: *out points there,
 * valid until the next call with z. Returns 0, or -1 when the library fails or memory
 * runs out.
 */
int compress_fast(struct compressor *z, enum encoding e, const void *in, size_t len,
                  struct slice *out);

/*
 * Content negotiation for a response the handler did not negotiate (r->is_negotiated
 * false): when its Content-Type is compressible (mime_type_compressible), it says
 * Vary: Accept-Encoding (merged into an existing Vary), and when `enabled`, the body is
 * bytes in memory not shared with the cache (BODY_MEM without owner), over
 * COMPRESS_MIN_BYTES, the status carries content other than a range (not 1xx, 204, 206,
 * 304), no Content-Encoding is set yet, and accept_encoding (ptr NULL when absent) takes
 * gzip or brotli, the body becomes its compressed form in z's buffer (valid until z is
 * next used), with Content-Encoding, the compressed length, and a strong ETag marked
 * with the encoding. A failure, or a result no smaller, leaves the identity body.
 */
void compress_response(struct compressor *z, struct response *r, struct slice accept_encoding,
                       bool enabled);

#endif
