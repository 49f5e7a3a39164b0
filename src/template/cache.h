/* SPDX-License-Identifier: MIT */
/*
 * A thread-safe cache of compiled templates, read from files beneath a directory
 * descriptor (templates_dir, or the document root for *.tpl.html pages).
 *
 * tmpl_cache_get hands out counted references (struct tmpl_handle) to one compiled
 * version of a file; the caller renders with it and gives it back with tmpl_cache_put. A
 * changed file is compiled into a new version while renders of the old one finish
 * undisturbed; the old version is freed when its last handle is put. Whether the file
 * changed (inode, size, mtime or ctime) is checked at most once per TMPL_CACHE_CHECK_MS
 * per entry, so a hot template costs no system call at all.
 *
 * Locking: entries are spread over shards, each with a mutex held only to look up, insert
 * or swap an entry, never while a file is read or compiled. Handles are released with an
 * atomic decrement, without a lock.
 *
 * Errors (a template that does not compile, a file too big or not a regular file) are
 * cached like versions and re-checked on the same schedule, so a broken template under
 * load is not recompiled on every request; a missing file is not cached.
 */
#ifndef MICA_TEMPLATE_CACHE_H
#define MICA_TEMPLATE_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "template/tmpl.h"
#include "util/slice.h"

enum {
    TMPL_CACHE_MAX_BYTES = 1 << 20, /* larger template files are refused */
    TMPL_CACHE_CHECK_MS = 1000,     /* how often a cached file is checked for changes */
    TMPL_CACHE_MAX_ENTRIES = 4096,  /* past this, templates are compiled but not kept */
    TMPL_CACHE_MAX_NAME = 255,      /* bytes in a template name */
    TMPL_CACHE_MAX_PARTIALS = 32,   /* distinct partials held by one tmpl_partials */
};

struct tmpl_cache;
struct tmpl_handle;

/* An empty cache, or NULL when out of memory. */
struct tmpl_cache *tmpl_cache_new(void);

/*
 * Frees the cache and every entry. Handles still held stay valid until they are put, and
 * no tmpl_cache_get may be running or start.
 */
void tmpl_cache_free(struct tmpl_cache *c);

/*
 * The compiled template for `name` beneath dir_fd, compiling it when it is not cached or
 * has changed. name is relative: one or more '/'-separated components, none empty, "." or
 * "..", with no control byte, at most TMPL_CACHE_MAX_NAME bytes. The file is opened with
 * openat2(RESOLVE_BENEATH) where the kernel has it (with openat and O_NOFOLLOW on the last
 * component otherwise: the directory's contents are trusted), must be a regular file of at
 * most TMPL_CACHE_MAX_BYTES. Entries are keyed by (dir_fd, name): do not close dir_fd while
 * the cache lives. now_ms is the caller's clock (any monotonic milliseconds).
 *
 * Returns a handle to give back with tmpl_cache_put, or NULL with *err filled: its msg is
 * one loggable line naming the file (and the line, for compile errors).
 */
struct tmpl_handle *tmpl_cache_get(struct tmpl_cache *c, int dir_fd, const char *name,
                                   uint64_t now_ms, struct tmpl_error *err);

/* The compiled template of a handle: valid until the handle is put. */
const struct tmpl *tmpl_handle_tmpl(const struct tmpl_handle *h);

/* Gives back a handle from tmpl_cache_get (NULL is ignored). Safe from any thread. */
void tmpl_cache_put(struct tmpl_handle *h);

/*
 * Partials through the cache, for one render: {{> name}} is looked up beneath dir_fd as
 * name itself when its last component has an extension ("card.html", "rows.txt") and as
 * name + ".html" otherwise ("header" → "header.html"), so a name maps to one file and is
 * never tried twice. The handles taken are held until tmpl_partials_end, as tmpl_render
 * requires. A missing partial renders as nothing (the spec's failed lookup); a partial that
 * fails to load otherwise also renders as nothing, and the first such error is kept in
 * `err` with `failed` set, for the caller to log and answer 500. Not thread-safe: one per
 * render.
 *
 *     struct tmpl_partials parts;
 *     tmpl_partials_begin(&parts, cache, dir_fd, now_ms);
 *     int rc = tmpl_render(t, data, tmpl_partials_load, &parts, &out);
 *     tmpl_partials_end(&parts);
 */
struct tmpl_partials {
    struct tmpl_cache *cache;
    int dir_fd;
    uint64_t now_ms;
    unsigned n_held;
    struct tmpl_handle *held[TMPL_CACHE_MAX_PARTIALS];
    bool failed;
    struct tmpl_error err;
};

void tmpl_partials_begin(struct tmpl_partials *p, struct tmpl_cache *c, int dir_fd,
                         uint64_t now_ms);

/* A tmpl_partial_fn; ctx is a struct tmpl_partials. */
const struct tmpl *tmpl_partials_load(void *ctx, struct slice name);

/* Puts every handle taken. */
void tmpl_partials_end(struct tmpl_partials *p);

#endif
