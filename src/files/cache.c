/* SPDX-License-Identifier: MIT */
/*
 * The file cache; see cache.h for what it keeps and why it is never stale for long.
 *
 * Layout: CACHE_SHARDS shards, picked by the key's hash; each has a mutex, a hash table of
 * chains and an LRU list (most recent first). Every entry in a table holds one reference
 * for the table; lookups hand out more. max_bytes is split evenly over the shards, which
 * keeps eviction local to one lock.
 */
#include "files/cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/hash.h"

enum {
    CACHE_SHARDS = 16,
    SHARD_BUCKETS = 1024, /* chains per shard; entries per shard are bounded by bytes */
};

struct shard {
    pthread_mutex_t lock;
    struct cache_entry *buckets[SHARD_BUCKETS];
    struct cache_entry *lru_head, *lru_tail;
    size_t bytes;
    size_t entries;
    uint64_t evictions;
};

struct cache {
    size_t max_file_bytes;
    size_t shard_max_bytes;
    struct shard shards[CACHE_SHARDS];
};

/* Keys are short paths. */
static uint64_t hash_key(struct slice k)
{
    return fnv1a64(FNV1A64_INIT, k.ptr, k.len);
}

static struct shard *shard_of(struct cache *c, uint64_t h)
{
    return &c->shards[(h >> 32) % CACHE_SHARDS];
}

/* Copies s (and a NUL) to *p, advancing it; returns the copy. */
static struct slice put_text(char **p, struct slice s)
{
    char *start = *p;
    memcpy(start, s.ptr, s.len);
    start[s.len] = '\0';
    *p += s.len + 1;
    return slice_make(start, s.len);
}

static void shard_unlink(struct shard *s, struct cache_entry *e);

static void variant_free(struct cache_variant *v)
{
    if (v) {
        free(v->data);
        free(v);
    }
}

static void entry_free(struct ref *r)
{
    struct cache_entry *e = (struct cache_entry *)r;
    for (int i = 0; i < CACHE_VARIANTS; i++)
        variant_free(atomic_load_explicit(&e->variants[i], memory_order_relaxed));
    free(e->data);
    free(e);
}

struct cache_variant *cache_variant_new(struct slice etag, char *data, struct slice file,
                                        const struct timespec *file_mtime, uint64_t size,
                                        bool is_useless)
{
    struct cache_variant *v = malloc(sizeof(*v) + etag.len + file.len + 2);
    if (!v) {
        free(data);
        return NULL;
    }
    char *text = (char *)(v + 1);
    v->etag = put_text(&text, etag);
    v->file = put_text(&text, file);
    v->data = data;
    v->file_mtime = file_mtime ? *file_mtime : (struct timespec){0, 0};
    v->size = size;
    v->is_useless = is_useless;
    return v;
}

struct cache_variant *cache_variant_set(struct cache *c, struct cache_entry *e, unsigned i,
                                        struct cache_variant *v)
{
    struct cache_variant *expected = NULL;
    /* Release: a thread that loads the pointer (acquire) sees the variant's bytes. */
    if (!atomic_compare_exchange_strong_explicit(&e->variants[i], &expected, v,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        variant_free(v);
        return expected;
    }
    if (v->data) {
        /* Charged to the shard, so eviction accounts for it from the next insert on. */
        struct shard *s = shard_of(c, e->hash);
        pthread_mutex_lock(&s->lock);
        e->charge += v->size;
        if (e->in_table) {
            s->bytes += v->size;
            while (s->bytes > c->shard_max_bytes && s->lru_tail && s->lru_tail != e) {
                shard_unlink(s, s->lru_tail);
                s->evictions++;
            }
        }
        pthread_mutex_unlock(&s->lock);
    }
    return v;
}

struct cache *cache_new(size_t max_bytes, size_t max_file_bytes)
{
    struct cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->max_file_bytes = max_file_bytes;
    c->shard_max_bytes = max_bytes / CACHE_SHARDS;
    for (int i = 0; i < CACHE_SHARDS; i++)
        pthread_mutex_init(&c->shards[i].lock, NULL);
    return c;
}

static void lru_unlink(struct shard *s, struct cache_entry *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        s->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        s->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(struct shard *s, struct cache_entry *e)
{
    e->lru_prev = NULL;
    e->lru_next = s->lru_head;
    if (s->lru_head)
        s->lru_head->lru_prev = e;
    else
        s->lru_tail = e;
    s->lru_head = e;
}

/* Takes e out of its shard (lock held) and drops the table's reference. */
static void shard_unlink(struct shard *s, struct cache_entry *e)
{
    struct cache_entry **p = &s->buckets[e->hash % SHARD_BUCKETS];
    while (*p != e)
        p = &(*p)->hash_next;
    *p = e->hash_next;
    e->hash_next = NULL;
    lru_unlink(s, e);
    s->bytes -= e->charge;
    s->entries--;
    e->in_table = false;
    ref_put(&e->ref);
}

static struct cache_entry *shard_find(struct shard *s, struct slice key, uint64_t h)
{
    for (struct cache_entry *e = s->buckets[h % SHARD_BUCKETS]; e; e = e->hash_next)
        if (e->hash == h && slice_eq(e->key, key))
            return e;
    return NULL;
}

void cache_clear(struct cache *c)
{
    for (int i = 0; c && i < CACHE_SHARDS; i++) {
        struct shard *s = &c->shards[i];
        pthread_mutex_lock(&s->lock);
        while (s->lru_head)
            shard_unlink(s, s->lru_head);
        pthread_mutex_unlock(&s->lock);
    }
}

void cache_free(struct cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < CACHE_SHARDS; i++) {
        struct shard *s = &c->shards[i];
        while (s->lru_head)
            shard_unlink(s, s->lru_head);
        pthread_mutex_destroy(&s->lock);
    }
    free(c);
}

struct cache_entry *cache_lookup(struct cache *c, struct slice key, uint64_t now_ms, bool *fresh)
{
    uint64_t h = hash_key(key);
    struct shard *s = shard_of(c, h);
    pthread_mutex_lock(&s->lock);
    struct cache_entry *e = shard_find(s, key, h);
    if (e) {
        ref_get(&e->ref);
        if (s->lru_head != e) {
            lru_unlink(s, e);
            lru_push_front(s, e);
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (e)
        *fresh =
            now_ms < atomic_load_explicit(&e->checked_ms, memory_order_relaxed) + CACHE_CHECK_MS;
    return e;
}

bool cache_same_file(const struct cache_entry *e, const struct stat *st)
{
    return e->dev == st->st_dev && e->ino == st->st_ino && e->size == (uint64_t)st->st_size &&
           e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

void cache_checked(struct cache_entry *e, uint64_t now_ms)
{
    /* Relaxed: a reader seeing the old value only checks the file once more. */
    atomic_store_explicit(&e->checked_ms, now_ms, memory_order_relaxed);
}

/* Reads the whole file; false if it did not give exactly size bytes. */
static bool read_all(int fd, char *data, uint64_t size)
{
    uint64_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, data + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        got += (uint64_t)n;
    }
    return true;
}

struct cache_entry *cache_entry_new(struct cache *c, struct slice key, const char *file, int fd,
                                    const struct stat *st, const struct cache_meta *meta,
                                    uint64_t now_ms)
{
    struct slice file_s = slice_str(file);
    size_t text_len = key.len + file_s.len + meta->etag.len + meta->last_modified.len + 4;
    struct cache_entry *e = malloc(sizeof(*e) + text_len);
    if (!e)
        return NULL;
    memset(e, 0, sizeof(*e));
    ref_init(&e->ref, entry_free);
    atomic_init(&e->checked_ms, now_ms);
    char *text = (char *)(e + 1);
    e->key = put_text(&text, key);
    e->file = put_text(&text, file_s);
    e->etag = put_text(&text, meta->etag);
    e->last_modified = put_text(&text, meta->last_modified);
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->size = (uint64_t)st->st_size;
    e->mtime = st->st_mtim;
    e->type = meta->type;
    e->compressible = meta->compressible;
    e->charge = sizeof(*e) + text_len;
    if (e->size <= c->max_file_bytes && e->size <= c->shard_max_bytes / 4) {
        e->data = malloc(e->size ? e->size : 1);
        if (e->data && read_all(fd, e->data, e->size)) {
            e->charge += e->size;
        } else {
            free(e->data);
            e->data = NULL;
        }
    }
    return e;
}

void cache_insert(struct cache *c, struct cache_entry *e)
{
    e->hash = hash_key(e->key);
    struct shard *s = shard_of(c, e->hash);
    if (e->charge > c->shard_max_bytes)
        return; /* larger than its shard: not worth evicting everything for */
    pthread_mutex_lock(&s->lock);
    struct cache_entry *old = shard_find(s, e->key, e->hash);
    if (old)
        shard_unlink(s, old);
    while (s->lru_tail && s->bytes + e->charge > c->shard_max_bytes) {
        shard_unlink(s, s->lru_tail);
        s->evictions++;
    }
    ref_get(&e->ref); /* the table's reference */
    e->in_table = true;
    struct cache_entry **b = &s->buckets[e->hash % SHARD_BUCKETS];
    e->hash_next = *b;
    *b = e;
    lru_push_front(s, e);
    s->bytes += e->charge;
    s->entries++;
    pthread_mutex_unlock(&s->lock);
}

void cache_remove(struct cache *c, struct slice key)
{
    uint64_t h = hash_key(key);
    struct shard *s = shard_of(c, h);
    pthread_mutex_lock(&s->lock);
    struct cache_entry *e = shard_find(s, key, h);
    if (e)
        shard_unlink(s, e);
    pthread_mutex_unlock(&s->lock);
}

void cache_totals(struct cache *c, struct cache_totals *t)
{
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < CACHE_SHARDS; i++) {
        struct shard *s = &c->shards[i];
        pthread_mutex_lock(&s->lock);
        t->entries += s->entries;
        t->bytes += s->bytes;
        t->evictions += s->evictions;
        pthread_mutex_unlock(&s->lock);
    }
}
