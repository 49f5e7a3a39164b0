/* SPDX-License-Identifier: MIT */
/*
 * Compressing a body: gzip with zlib, brotli with libbrotlienc. Used once per file and
 * encoding: the result is kept in the file cache, not recomputed per request.
 */
#ifndef MICA_HTTP_COMPRESS_H
#define MICA_HTTP_COMPRESS_H

#include <stddef.h>

#include "http/encoding.h"
#include "util/buf.h"

/* Appends the compressed form of in[0..len) to out (gzip or br). Returns 0, or -1 when the
 * library fails or memory runs out (out is then unchanged). */
int compress_body(enum encoding e, const void *in, size_t len, struct buf *out);

#endif
