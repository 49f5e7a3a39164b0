/* SPDX-License-Identifier: MIT */
/*
 * Directory listings (issue #4). A folder without an index file, when directory_listing is
 * on, answers with what it holds: an HTML page rendered from templates/listing.html (a
 * built-in page stands in when that file is missing), or the same as JSON.
 *
 * What is listed: every entry a request could fetch. Left out are "." and "..", dotfiles
 * (never served), names with bytes path_normalize refuses (controls, DEL, backslash),
 * FIFOs, sockets and devices (never served), and symlinks that dangle, loop or lead
 * outside the root: each symlink is opened with path_open, the same check as serving it,
 * and listed as what it points to. At most LISTING_MAX_ENTRIES entries are listed: the
 * first ones in directory order, then sorted. The names after those are only counted
 * (dotfiles excepted, otherwise unchecked) and reported as "… and N more".
 *
 * Order: folders first, then files; within each, by name, size or modification time as
 * ?sort=name|size|time and ?order=asc|desc ask (default: name, asc; an unknown value is the
 * default, never an error). Names compare in natural order ("file2" before "file10"),
 * case-insensitively, then byte by byte; ties on size or time go by name, ascending.
 * The column links toggle: the active column's link reverses its order, the others start
 * at name ascending, largest first and newest first.
 *
 * Format: JSON when ?format=json, or when Accept gives application/json a higher q than
 * text/html (wildcards do not count); ?format=html forces HTML. Both carry
 * Cache-Control: no-cache and Vary: Accept. The JSON:
 *   {"path": "/docs/", "count": 2, "more": 0,
 *    "entries": [{"name": "a b.txt", "type": "file", "size": 123,
 *                 "modified": "2026-11-26T01:02:03Z", "href": "/docs/a%20b.txt"}, …]}
 * "type" is "dir" or "file", "size" is null for folders. Names are shown as UTF-8, each
 * invalid byte as U+FFFD; "href" is the exact name, percent-encoded.
 *
 * The template gets page_context() (server.*, request.*, query.*, now) and:
 *   path            the URL path, "/docs/"
 *   breadcrumbs     [{name, href, is_current}] from the root (named by Host, else "/")
 *   parent          the parent folder's href; absent at the root
 *   entries         [{name, href, is_dir, size ("1.2 KiB", "—" for folders), bytes (files
 *                   only), modified ("2026-11-26 01:02", UTC), modified_iso}]
 *   count, dirs, files, more (names not listed; 0 when none), limit
 *   sort, order     the order in effect ("name", "asc")
 *   sort_{name,size,time}_href   "?sort=…&order=…" for the column headers
 *   sort_{name,size,time}_aria   "ascending", "descending" or "none" (aria-sort)
 *   sorted_by_{name,size,time}, order_desc   booleans for the active column's arrow
 */
#ifndef MICA_HANDLERS_LISTING_H
#define MICA_HANDLERS_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handlers/handler.h"
#include "util/buf.h"
#include "util/slice.h"

enum {
    LISTING_MAX_ENTRIES = 10000, /* entries listed at most; the rest are counted */
    LISTING_SIZE_LEN = 16,       /* room for listing_human_size's longest text + NUL */
};

enum listing_sort { LISTING_SORT_NAME, LISTING_SORT_SIZE, LISTING_SORT_TIME };
enum listing_format { LISTING_FORMAT_AUTO, LISTING_FORMAT_HTML, LISTING_FORMAT_JSON };

/* What the query string asks for. */
struct listing_query {
    enum listing_sort sort;
    bool is_desc;
    enum listing_format format; /* AUTO: decided by Accept */
};

/*
 * Answers GET or HEAD of the folder env->rel with its listing, read from dir_fd (an open
 * descriptor of that folder, not O_PATH; borrowed: the caller closes it). Returns the
 * status: 200, or 403 (unreadable), 503 (out of memory or descriptors), 500.
 */
int listing_handle(struct env *env, const struct request *req, struct response *resp, int dir_fd);

/* Parses sort, order and format from a query string (not decoded; the last of a repeated
 * field wins). Unknown fields are ignored, unknown values give the defaults. */
void listing_parse_query(struct slice query, struct listing_query *q);

/* Whether to answer JSON: q->format when given, else Accept (may be empty) as above. */
bool listing_wants_json(const struct listing_query *q, struct slice accept);

/* Natural order of two names, as strcmp: <0, 0 (only for equal bytes) or >0. Digit runs
 * compare by value, letters ignore ASCII case; the bytes decide what that leaves equal. */
int listing_name_cmp(const char *a, size_t a_len, const char *b, size_t b_len);

/* Writes a size for people: "0 B", "1023 B", "1.2 KiB", "10 KiB", "3 MiB" … "16 EiB"
 * (one decimal below 10, rounded to nearest). */
void listing_human_size(uint64_t bytes, char out[LISTING_SIZE_LEN]);

/* The URL of the folder env->rel names, percent-encoded: "/" + each segment + "/". The
 * listing's links and the redirect from a folder's name without its slash start from it.
 * False if out is full. */
bool listing_folder_href(const struct env *env, struct buf *out);

/* Appends name percent-encoded for a URL path segment: every byte but RFC 3986's
 * unreserved characters (ALPHA DIGIT - . _ ~) as %XX. False (b unchanged) if b is full. */
bool listing_href_append(struct buf *b, const char *name, size_t len);

/* Appends name as valid UTF-8, each byte that starts no valid sequence replaced by U+FFFD.
 * False (b unchanged) if b is full. */
bool listing_text_append(struct buf *b, const char *name, size_t len);

#endif
