/* SPDX-License-Identifier: MIT */
/*
 * The file cache, shared by every worker: for each path asked for, what the static
 * handler needs to answer without touching the filesystem — the file's identity, its
 * validators and type, and for small files (up to max_file_bytes) the content itself.
 *
 * Never stale for long: an entry is trusted for CACHE_CHECK_MS after the file was last
 * seen unchanged; after that the next request resolves the path again and compares the
 * file's identity (device, inode, size, mtime). So a modified, replaced or deleted file is
 * noticed by the first request after at most one second.
 *
 * Bounded: entries are charged their size (content included) against max_bytes and the
 * least recently used ones are evicted. The table is split in shards, each with its own
 * mutex held only for a lookup, insert or eviction, never across I/O. Entries are
 * reference-counted (util/ref.h) and immutable once inserted, except checked_ms, so a
 * connection can send from an entry's content while the entry is evicted or replaced.
 */
#ifndef MICA_FILES_CACHE_H
#define MICA_FILES_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "util/ref.h"
#include "util/slice.h"

enum {
    CACHE_CHECK_MS = 1000,
    CACHE_VARIANTS = 3, /* other encodings of an entry, indexed by the caller's numbering */
};

/*
 * Another encoding of an entry's content (gzip, brotli): made once, from the cached
 * content or a precompressed file beside the original, then shared like the entry.
 */
struct cache_variant {
    struct slice etag;          /* distinct per encoding */
    char *data;                 /* the encoded bytes, or NULL: send `file` */
    struct slice file;          /* the precompressed file it comes from (relative to the
                                 * root); empty for a variant mica made */
    struct timespec file_mtime; /* that file's mtime: checked with the original, and on
                                 * every use when the bytes are not held */
    uint64_t size;
    bool is_useless; /* the encoding is no smaller: send the original instead */
};

struct cache_entry {
    struct ref ref;              /* first: the connection holds entries as struct ref */
    _Atomic uint64_t checked_ms; /* when the file was last found unchanged */
    dev_t dev;
    ino_t ino;
    uint64_t size;
    struct timespec mtime;
    const char *type; /* Content-Type (static storage) */
    bool compressible;
    struct slice etag;          /* with its quotes */
    struct slice last_modified; /* IMF-fixdate */
    struct slice key;           /* the request path it answers (see cache_key in static.c) */
    struct slice file;          /* the file served, relative to the root (NUL-terminated) */
    char *data;                 /* the whole content when small enough, else NULL */
    _Atomic(struct cache_variant *) variants[CACHE_VARIANTS]; /* set once, then immutable */

    /* Owned by the cache, under the shard lock. */
    struct cache_entry *hash_next, *lru_prev, *lru_next;
    uint64_t hash;
    size_t charge;
    bool in_table;
};

struct cache;

struct cache_totals {
    uint64_t entries;
    uint64_t bytes;
    uint64_t evictions;
};

/* A cache of at most max_bytes, keeping the content of files up to max_file_bytes.
 * NULL when out of memory. */
struct cache *cache_new(size_t max_bytes, size_t max_file_bytes);
void cache_free(struct cache *c);

/* The entry for key, referenced (release with cache_release), or NULL. *fresh tells
 * whether it was checked within CACHE_CHECK_MS of now_ms. */
struct cache_entry *cache_lookup(struct cache *c, struct slice key, uint64_t now_ms, bool *fresh);

/* Whether e still describes the file with stat *st (same identity). */
bool cache_same_file(const struct cache_entry *e, const struct stat *st);

/* Records that e's file was found unchanged at now_ms. */
void cache_checked(struct cache_entry *e, uint64_t now_ms);

/* What the caller (the static handler) decides about a file: its HTTP metadata. */
struct cache_meta {
    const char *type; /* static storage */
    bool compressible;
    struct slice etag;
    struct slice last_modified;
};

/*
 * A new entry for key, from the open regular file fd (stat *st) at path `file` relative to
 * the root; the content is read when st->st_size <= max_file_bytes. Returned referenced
 * and not yet in the cache; NULL when out of memory or when meta's strings do not fit.
 */
struct cache_entry *cache_entry_new(struct cache *c, struct slice key, const char *file, int fd,
                                    const struct stat *st, const struct cache_meta *meta,
                                    uint64_t now_ms);

/* A variant (copies etag and file; takes data, which must come from malloc). NULL when out
 * of memory (data is then freed). */
struct cache_variant *cache_variant_new(struct slice etag, char *data, struct slice file,
                                        const struct timespec *file_mtime, uint64_t size,
                                        bool is_useless);

/* e's variant i, or NULL when none was made yet. */
static inline struct cache_variant *cache_variant(struct cache_entry *e, unsigned i)
{
    return atomic_load_explicit(&e->variants[i], memory_order_acquire);
}

/* Publishes v as e's variant i unless another thread did first: then v is freed. Returns
 * the variant in place, which e owns and charges to the cache when e is in it (evicting
 * least recently used entries to stay within max_bytes). */
struct cache_variant *cache_variant_set(struct cache *c, struct cache_entry *e, unsigned i,
                                        struct cache_variant *v);

/* Puts e in the cache, replacing any entry with its key and evicting the least recently
 * used ones past max_bytes. The caller keeps its own reference. */
void cache_insert(struct cache *c, struct cache_entry *e);

/* Forgets the entry for key, if any (its file is gone). */
void cache_remove(struct cache *c, struct slice key);

static inline void cache_release(struct cache_entry *e)
{
    if (e)
        ref_put(&e->ref);
}

void cache_totals(struct cache *c, struct cache_totals *t);

/* Forgets every entry (a reload: what a path resolves to may have changed). Entries in use
 * stay alive until released. */
void cache_clear(struct cache *c);

#endif
