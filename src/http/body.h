/* SPDX-License-Identifier: MIT */
/*
 * Request bodies in chunked transfer coding (RFC 9112 §7.1), decoded incrementally and
 * in place.
 *
 * Feed the decoder the bytes received so far; it consumes as many as it can, moving the
 * chunk data it finds to the front of the same buffer (the data is never longer than the
 * framing around it, so this needs no second buffer). Chunk extensions are parsed and
 * skipped, the trailer section is parsed and discarded; both are bounded. Strict: a chunk
 * size that is not hex, overflows, or carries junk, a missing CRLF after chunk data, bare
 * CR or LF in framing, or a bad trailer field → 400. The total decoded size is bounded by
 * the caller's max_bytes → 413.
 */
#ifndef MICA_HTTP_BODY_H
#define MICA_HTTP_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "http/request.h"

enum {
    CHUNK_LINE_MAX = 4096,     /* chunk-size line, extensions included */
    CHUNK_TRAILER_MAX = 16384, /* the whole trailer section */
};

struct chunked {
    uint64_t chunk_left; /* data bytes left in the current chunk */
    uint64_t total;      /* data bytes decoded so far */
    uint32_t line_bytes; /* bytes of the current size line or trailer section so far */
    uint8_t state;       /* internal */
    uint8_t flags;       /* internal */
};

enum chunked_status {
    CHUNKED_DONE,      /* the last chunk and the trailer section are complete */
    CHUNKED_NEED_MORE, /* everything given was consumed; call again with more */
    CHUNKED_ERROR,     /* *err says why (400 or 413) */
};

/* Starts a new body. */
void chunked_init(struct chunked *c);

/*
 * Decodes buf[0..len). On return *consumed bytes of input were used (the rest, after
 * CHUNKED_DONE, belongs to the next request) and the first *data_len bytes of buf hold the
 * chunk data decoded by this call. max_bytes bounds st->total.
 */
enum chunked_status chunked_decode(struct chunked *st, char *buf, size_t len, uint64_t max_bytes,
                                   size_t *consumed, size_t *data_len, struct request_error *err);

#endif
