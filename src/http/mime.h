/* SPDX-License-Identifier: MIT */
/*
 * File extension → Content-Type, from a built-in table. Text types carry
 * "; charset=utf-8"; JavaScript is text/javascript (RFC 9239). Unknown extensions give
 * application/octet-stream.
 */
#ifndef MICA_HTTP_MIME_H
#define MICA_HTTP_MIME_H

#include <stdbool.h>

#include "util/slice.h"

struct mime {
    const char *ext;   /* lowercase, without the dot: "html" */
    const char *type;  /* the full Content-Type value: "text/html; charset=utf-8" */
    bool compressible; /* worth gzip/brotli (text, json, svg, wasm …); false for png, zip … */
};

/* The entry for the extension of path (the text after its last '.', case-insensitive,
 * only when that dot is in the last segment); the octet-stream entry when unknown. Never NULL. */
const struct mime *mime_for_path(struct slice path);

/*
 * Whether a Content-Type value (parameters allowed: "text/html; charset=utf-8") is worth
 * compressing: the table's verdict for a type it lists, else true for text/ types and the
 * +json and +xml suffixes (RFC 6839), false for anything else. NULL: false.
 */
bool mime_type_compressible(const char *type);

#endif
