/* SPDX-License-Identifier: MIT */
/*
 * The template cache; see cache.h for the contract.
 *
 * An entry is (dir_fd, name) → the current version (a struct tmpl_handle, counted) or the
 * error that loading last gave, plus the identity of the file it came from and when that
 * was last checked. The counts: the entry holds one reference to its version, each handle
 * given out holds one; whoever drops the last frees the version. So a get is, in the common
 * case, a hash lookup and an increment under the shard's lock. When the entry is due for a
 * check, the first thread to see that marks it checked (others keep using the current
 * version meanwhile), stats the file without the lock, and only if it changed reads and
 * compiles it, then takes the lock again to swap the new version in.
 */
#include "template/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/hash.h"
#include "util/ref.h"

enum {
    SHARDS = 8,
    BUCKETS = 64, /* per shard */
    SHARD_MAX_ENTRIES = TMPL_CACHE_MAX_ENTRIES / SHARDS,
};

struct tmpl_handle {
    struct ref ref; /* the entry's (while it is current) and each caller's */
    struct tmpl *tmpl;
};

/* What tells one version of a file from the next. */
struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
};

struct entry {
    struct entry *next; /* in its bucket */
    uint64_t hash;
    int dir_fd;
    uint64_t checked_ms;
    struct file_id id;
    struct tmpl_handle *h; /* the current version; NULL when loading failed (err says why) */
    struct tmpl_error err;
    char name[];
};

struct shard {
    pthread_mutex_t lock;
    unsigned n_entries;
    struct entry *buckets[BUCKETS];
};

struct tmpl_cache {
    struct shard shards[SHARDS];
};

/* The result of loading a file. */
struct load {
    struct tmpl *tmpl; /* NULL on failure */
    bool has_id;       /* the file was opened: id is set, and a failure may be cached */
    struct file_id id;
    int errnum; /* the errno of a failed open (ENOENT: missing) */
};

struct tmpl_cache *tmpl_cache_new(void)
{
    struct tmpl_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    for (unsigned i = 0; i < SHARDS; i++) {
        if (pthread_mutex_init(&c->shards[i].lock, NULL) != 0) {
            while (i-- > 0)
                pthread_mutex_destroy(&c->shards[i].lock);
            free(c);
            return NULL;
        }
    }
    return c;
}

static void handle_free(struct ref *r)
{
    struct tmpl_handle *h = (struct tmpl_handle *)((char *)r - offsetof(struct tmpl_handle, ref));
    tmpl_free(h->tmpl);
    free(h);
}

void tmpl_cache_put(struct tmpl_handle *h)
{
    if (h)
        ref_put(&h->ref);
}

void tmpl_cache_free(struct tmpl_cache *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < SHARDS; i++) {
        struct shard *s = &c->shards[i];
        for (unsigned b = 0; b < BUCKETS; b++) {
            struct entry *e = s->buckets[b];
            while (e) {
                struct entry *next = e->next;
                tmpl_cache_put(e->h);
                free(e);
                e = next;
            }
        }
        pthread_mutex_destroy(&s->lock);
    }
    free(c);
}

const struct tmpl *tmpl_handle_tmpl(const struct tmpl_handle *h)
{
    return h->tmpl;
}

/* ---- names and errors ---- */

/* Relative, no empty, "." or ".." component, no control byte: it cannot climb out. */
static bool name_ok(const char *name)
{
    const size_t len = strnlen(name, TMPL_CACHE_MAX_NAME + 1);
    if (len == 0 || len > TMPL_CACHE_MAX_NAME)
        return false;
    const char *seg = name;
    for (const char *p = name;; p++) {
        if (*p == '/' || *p == '\0') {
            const size_t n = (size_t)(p - seg);
            if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
                return false;
            if (*p == '\0')
                return true;
            seg = p + 1;
        } else if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            return false;
        }
    }
}

__attribute__((format(printf, 2, 3))) static void set_error(struct tmpl_error *err, const char *fmt,
                                                            ...)
{
    err->line = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

static void set_errno_error(struct tmpl_error *err, const char *name, int errnum)
{
    char tmp[64];
    set_error(err, "%s: %s", name, strerror_r(errnum, tmp, sizeof(tmp)));
}

/* ---- loading a file ---- */

/* Set when the kernel has no openat2 (before Linux 5.6, or filtered): then openat. */
static atomic_bool no_openat2;

/* Opens name beneath dir_fd; returns the descriptor or -errno. */
static int open_beneath(int dir_fd, const char *name)
{
    const int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK; /* O_NONBLOCK: a FIFO cannot hang us */
    if (!atomic_load_explicit(&no_openat2, memory_order_relaxed)) {
        struct open_how how = {
            .flags = (uint64_t)flags,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        int fd;
        do {
            fd = (int)syscall(SYS_openat2, dir_fd, name, &how, sizeof(how));
        } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
        if (fd >= 0)
            return fd;
        if (errno != ENOSYS && errno != EPERM)
            return -errno;
        /* Relaxed: the flag only picks between two correct ways to open. */
        atomic_store_explicit(&no_openat2, true, memory_order_relaxed);
    }
    int fd;
    do {
        fd = openat(dir_fd, name, flags | O_NOFOLLOW);
    } while (fd < 0 && errno == EINTR);
    return fd >= 0 ? fd : -errno;
}

static struct file_id file_id_of(const struct stat *st)
{
    return (struct file_id){st->st_dev, st->st_ino, st->st_size, st->st_mtim, st->st_ctim};
}

static bool file_id_eq(const struct file_id *a, const struct file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* Reads up to size bytes; the file may shrink meanwhile, so fewer is not an error. */
static ssize_t read_all(int fd, char *data, size_t size)
{
    size_t got = 0;
    while (got < size) {
        const ssize_t n = read(fd, data + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* Opens, reads and compiles name; never holds a lock. */
static struct load load_file(int dir_fd, const char *name, struct tmpl_error *err)
{
    struct load ld = {0};
    char *data = NULL;
    int fd = open_beneath(dir_fd, name);
    if (fd < 0) {
        ld.errnum = -fd;
        set_errno_error(err, name, ld.errnum);
        goto fail;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        ld.errnum = errno;
        set_errno_error(err, name, ld.errnum);
        goto fail;
    }
    ld.has_id = true;
    ld.id = file_id_of(&st);
    if (!S_ISREG(st.st_mode)) {
        set_error(err, "%s: not a regular file", name);
        goto fail;
    }
    if (st.st_size > TMPL_CACHE_MAX_BYTES) {
        set_error(err, "%s: template over %d bytes", name, TMPL_CACHE_MAX_BYTES);
        goto fail;
    }
    const size_t size = (size_t)st.st_size;
    data = malloc(size ? size : 1);
    if (!data) {
        set_error(err, "%s: out of memory", name);
        goto fail;
    }
    const ssize_t got = read_all(fd, data, size);
    if (got < 0) {
        set_errno_error(err, name, (int)-got);
        goto fail;
    }
    ld.tmpl = tmpl_compile(data, (size_t)got, name, err);
fail:
    free(data);
    if (fd >= 0)
        close(fd);
    return ld;
}

/* ---- the table ---- */

static uint64_t hash_key(int dir_fd, const char *name)
{
    return fnv1a64(FNV1A64_INIT ^ (uint64_t)(unsigned)dir_fd, name, strlen(name));
}

static struct shard *shard_of(struct tmpl_cache *c, uint64_t hash)
{
    return &c->shards[hash % SHARDS];
}

static struct entry **bucket_of(struct shard *s, uint64_t hash)
{
    return &s->buckets[(hash / SHARDS) % BUCKETS];
}

/* The link pointing at the entry, or at the NULL ending its bucket. Lock held. */
static struct entry **find(struct shard *s, uint64_t hash, int dir_fd, const char *name)
{
    struct entry **link = bucket_of(s, hash);
    while (*link) {
        const struct entry *e = *link;
        if (e->hash == hash && e->dir_fd == dir_fd && strcmp(e->name, name) == 0)
            break;
        link = &(*link)->next;
    }
    return link;
}

/* A new reference to the entry's version, or NULL and its error. Lock held. */
static struct tmpl_handle *take(const struct entry *e, struct tmpl_error *err)
{
    if (!e->h) {
        *err = e->err;
        return NULL;
    }
    ref_get(&e->h->ref); /* the entry's reference keeps it alive while the lock is held */
    return e->h;
}

static bool is_due(const struct entry *e, uint64_t now_ms)
{
    return now_ms >= e->checked_ms && now_ms - e->checked_ms >= TMPL_CACHE_CHECK_MS;
}

/*
 * Makes a load's result (h, or the error) the entry's: creates the entry, or replaces its
 * version, or removes it when the file could not be opened. The entry is allocated before
 * locking and dropped if another thread made it meanwhile.
 */
static void install(struct shard *s, uint64_t hash, int dir_fd, const char *name, uint64_t now_ms,
                    const struct load *ld, struct tmpl_handle *h, const struct tmpl_error *err)
{
    const size_t name_len = strlen(name);
    struct entry *fresh = ld->has_id ? malloc(sizeof(*fresh) + name_len + 1) : NULL;
    struct entry *dropped = NULL;
    struct tmpl_handle *old = NULL;

    pthread_mutex_lock(&s->lock);
    struct entry **link = find(s, hash, dir_fd, name);
    struct entry *e = *link;
    if (!ld->has_id && e) {
        /* Missing or unreadable: forget it rather than keep serving a stale version. */
        *link = e->next;
        s->n_entries--;
        dropped = e;
        e = NULL;
    } else if (ld->has_id && !e && fresh && s->n_entries < SHARD_MAX_ENTRIES) {
        e = fresh;
        fresh = NULL;
        *e = (struct entry){.hash = hash, .dir_fd = dir_fd};
        memcpy(e->name, name, name_len + 1);
        *link = e;
        s->n_entries++;
    }
    /* With no entry (the shard is full, or no memory) the caller's reference is the only
     * one, and the version is freed when the handle is put. */
    if (e && ld->has_id) {
        old = e->h;
        e->h = h;
        e->id = ld->id;
        e->checked_ms = now_ms;
        if (h)
            ref_get(&h->ref); /* the entry's */
        else
            e->err = *err;
    }
    pthread_mutex_unlock(&s->lock);

    free(fresh);
    if (dropped) {
        tmpl_cache_put(dropped->h);
        free(dropped);
    }
    tmpl_cache_put(old);
}

/* Loads the file and makes the result the entry's; returns a reference for the caller. */
static struct tmpl_handle *reload(struct shard *s, uint64_t hash, int dir_fd, const char *name,
                                  uint64_t now_ms, struct tmpl_error *err, int *errnum)
{
    const struct load ld = load_file(dir_fd, name, err);
    *errnum = ld.errnum;
    struct tmpl_handle *h = NULL;
    if (ld.tmpl) {
        h = malloc(sizeof(*h));
        if (!h) {
            tmpl_free(ld.tmpl);
            set_error(err, "%s: out of memory", name);
            *errnum = ENOMEM;
            return NULL;
        }
        ref_init(&h->ref, handle_free); /* the caller's */
        h->tmpl = ld.tmpl;
    }
    install(s, hash, dir_fd, name, now_ms, &ld, h, err);
    return h;
}

static struct tmpl_handle *cache_get(struct tmpl_cache *c, int dir_fd, const char *name,
                                     uint64_t now_ms, struct tmpl_error *err, int *errnum)
{
    *errnum = 0;
    if (!name_ok(name)) {
        char shown[48];
        size_t n = 0;
        for (; name[n] && n < 40; n++)
            shown[n] = (unsigned char)name[n] < 0x20 || name[n] == 0x7f ? '?' : name[n];
        shown[n] = '\0';
        set_error(err, "bad template name \"%s\"", shown);
        *errnum = EINVAL;
        return NULL;
    }
    const uint64_t hash = hash_key(dir_fd, name);
    struct shard *s = shard_of(c, hash);

    pthread_mutex_lock(&s->lock);
    struct entry *e = *find(s, hash, dir_fd, name);
    if (e && !is_due(e, now_ms)) {
        struct tmpl_handle *h = take(e, err);
        pthread_mutex_unlock(&s->lock);
        return h;
    }
    struct file_id seen;
    const bool known = e != NULL;
    if (e) {
        seen = e->id;
        e->checked_ms = now_ms; /* other threads keep the current version while we check */
    }
    pthread_mutex_unlock(&s->lock);

    struct stat st;
    if (known && fstatat(dir_fd, name, &st, 0) == 0) {
        const struct file_id now_id = file_id_of(&st);
        if (file_id_eq(&now_id, &seen)) {
            pthread_mutex_lock(&s->lock);
            e = *find(s, hash, dir_fd, name);
            struct tmpl_handle *h = e ? take(e, err) : NULL;
            pthread_mutex_unlock(&s->lock);
            if (e) /* else another thread removed it meanwhile: load it afresh */
                return h;
        }
    }
    return reload(s, hash, dir_fd, name, now_ms, err, errnum);
}

struct tmpl_handle *tmpl_cache_get(struct tmpl_cache *c, int dir_fd, const char *name,
                                   uint64_t now_ms, struct tmpl_error *err)
{
    struct tmpl_error unused;
    int errnum;
    return cache_get(c, dir_fd, name, now_ms, err ? err : &unused, &errnum);
}

/* ---- partials ---- */

void tmpl_partials_begin(struct tmpl_partials *p, struct tmpl_cache *c, int dir_fd, uint64_t now_ms)
{
    *p = (struct tmpl_partials){.cache = c, .dir_fd = dir_fd, .now_ms = now_ms};
}

void tmpl_partials_end(struct tmpl_partials *p)
{
    for (unsigned i = 0; i < p->n_held; i++)
        tmpl_cache_put(p->held[i]);
    p->n_held = 0;
}

/* The file a partial name maps to (see cache.h); false if it cannot be a file name. */
static bool partial_file(struct slice name, char file[TMPL_CACHE_MAX_NAME + 1])
{
    if (name.len == 0 || name.len > TMPL_CACHE_MAX_NAME || memchr(name.ptr, '\0', name.len))
        return false;
    const char *slash = memrchr(name.ptr, '/', name.len);
    const char *last = slash ? slash + 1 : name.ptr;
    const bool has_ext = memchr(last, '.', (size_t)(name.ptr + name.len - last)) != NULL;
    const size_t len = name.len + (has_ext ? 0 : 5);
    if (len > TMPL_CACHE_MAX_NAME)
        return false;
    memcpy(file, name.ptr, name.len);
    memcpy(file + name.len, ".html", has_ext ? 0 : 5);
    file[len] = '\0';
    return true;
}

static void partial_failed(struct tmpl_partials *p, const struct tmpl_error *err)
{
    if (!p->failed) {
        p->failed = true;
        p->err = *err;
    }
}

const struct tmpl *tmpl_partials_load(void *ctx, struct slice name)
{
    struct tmpl_partials *p = ctx;
    struct tmpl_error err;
    char file[TMPL_CACHE_MAX_NAME + 1];
    if (!partial_file(name, file)) {
        set_error(&err, "bad partial name (%zu bytes)", name.len);
        partial_failed(p, &err);
        return NULL;
    }
    /* A partial used again in this render (in a list, or recursively) is already held. */
    for (unsigned i = 0; i < p->n_held; i++)
        if (strcmp(tmpl_name(p->held[i]->tmpl), file) == 0)
            return p->held[i]->tmpl;
    if (p->n_held == TMPL_CACHE_MAX_PARTIALS) {
        set_error(&err, "%s: more than %d partials in one page", file, TMPL_CACHE_MAX_PARTIALS);
        partial_failed(p, &err);
        return NULL;
    }
    int errnum;
    struct tmpl_handle *h = cache_get(p->cache, p->dir_fd, file, p->now_ms, &err, &errnum);
    if (!h) {
        if (errnum != ENOENT && errnum != ENOTDIR) /* missing: the spec's empty partial */
            partial_failed(p, &err);
        return NULL;
    }
    p->held[p->n_held++] = h;
    return h->tmpl;
}
