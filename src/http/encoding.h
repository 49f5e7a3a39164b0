/* SPDX-License-Identifier: MIT */
/*
 * Content-coding negotiation (RFC 9110 §12.5.3): which of the encodings we can produce
 * a client accepts, by its Accept-Encoding q-values.
 */
#ifndef MICA_HTTP_ENCODING_H
#define MICA_HTTP_ENCODING_H

#include "util/slice.h"

enum encoding { ENC_IDENTITY, ENC_GZIP, ENC_BR, ENC_COUNT };

/*
 * The encoding to send, among those in `available` (a mask of 1 << ENC_…; identity is
 * always possible), for the Accept-Encoding value `accept` (ptr NULL when the header is
 * absent: identity). The highest q-value wins, brotli before gzip on a tie; q=0 refuses
 * a coding; "*" stands for every coding not named; "x-gzip" is gzip. Malformed elements
 * are ignored.
 */
enum encoding encoding_negotiate(struct slice accept, unsigned available);

/* "gzip", "br" (NULL for identity): the Content-Encoding value. */
const char *encoding_name(enum encoding e);

#endif
