/* SPDX-License-Identifier: MIT */
/*
 * Revoked sessions and the signing epoch; see revoked.h for the design.
 *
 * The ids are kept sorted in a fixed array, so a check is a binary search (at most 12
 * comparisons) under the mutex, and a logout, which is rare, inserts with a memmove. Ids
 * are kept as the base64url text the cookie carries: the cookie's signature covers that
 * text, so equal text is the same session.
 */
#include "handlers/revoked.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "util/io.h"
#include "util/ref.h"

enum {
    RAW_BYTES = 16,      /* an id or an epoch before encoding */
    EXPIRY_DIGITS = 19,  /* the most decimal digits a time_t can have */
    LINE_MAX_BYTES = 64, /* "<id> <expiry>\n" and more */
    FILE_MAX_BYTES = (REVOKED_MAX + 2) * LINE_MAX_BYTES,
};

static const char header[] = "mica-revoked 1\n";
static const char epoch_tag[] = "epoch ";

struct entry {
    char id[REVOKED_ID_LEN];
    long long expires;
};

struct revoked {
    struct ref ref;
    pthread_mutex_t lock;       /* epoch, n, entries */
    pthread_mutex_t write_lock; /* one writer of the file at a time; taken before lock */
    char epoch[REVOKED_EPOCH_LEN];
    uint64_t marked_gen; /* raised by every change in memory */
    uint64_t saved_gen;  /* the last change the file holds */
    size_t n;
    struct entry entries[REVOKED_MAX]; /* sorted by id */
    char dir[PATH_MAX];
    char path[PATH_MAX];
};

/* Locking a default mutex we own cannot fail (EINVAL and EDEADLK are our own bugs), so
 * the results are not checked. */
static void lock(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
}

static void unlock(pthread_mutex_t *m)
{
    pthread_mutex_unlock(m);
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 16 bytes as 22 base64url characters (the last one carries 2 bits and 4 zero bits). */
static void encode16(const unsigned char in[RAW_BYTES], char out[REVOKED_ID_LEN])
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < RAW_BYTES; i++) {
        acc = acc << 8 | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64url[acc >> bits & 63];
        }
    }
    out[o] = b64url[acc << (6 - bits) & 63];
}

static bool is_b64url(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!s[i] || !strchr(b64url, s[i]))
            return false;
    return true;
}

/* A new random epoch. With no random bytes from OpenSSL (which does not happen on Linux
 * short of a broken installation) it is still a new one: a hash of the old one and the
 * time, so the sessions signed with the old one end. */
static void new_epoch(struct revoked *r, time_t now)
{
    unsigned char raw[RAW_BYTES];
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        unsigned char in[REVOKED_EPOCH_LEN + sizeof(now)], digest[SHA256_DIGEST_LENGTH];
        memcpy(in, r->epoch, REVOKED_EPOCH_LEN);
        memcpy(in + REVOKED_EPOCH_LEN, &now, sizeof(now));
        SHA256(in, sizeof(in), digest);
        memcpy(raw, digest, sizeof(raw));
    }
    encode16(raw, r->epoch);
}

static int find(const struct revoked *r, const char id[REVOKED_ID_LEN], bool *found)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(r->entries[mid].id, id, REVOKED_ID_LEN);
        if (c == 0) {
            *found = true;
            return (int)mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return (int)lo;
}

/* Drops the ids whose cookies have expired at now, keeping the order. */
static void prune(struct revoked *r, time_t now)
{
    size_t kept = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->entries[i].expires > (long long)now)
            r->entries[kept++] = r->entries[i];
    r->n = kept;
}

static int by_id(const void *a, const void *b)
{
    return memcmp(((const struct entry *)a)->id, ((const struct entry *)b)->id, REVOKED_ID_LEN);
}

/* --- the file --------------------------------------------------------------------------- */

/* Parses an expiry: 1 to EXPIRY_DIGITS digits, no sign, no leading zero. */
static bool parse_expiry(const char *s, size_t len, long long *out)
{
    if (len == 0 || len > EXPIRY_DIGITS || s[0] == '0')
        return false;
    unsigned long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0'); /* 19 digits cannot overflow 64 bits */
    }
    if (v > LLONG_MAX)
        return false;
    *out = (long long)v;
    return true;
}

/*
 * Parses the file's text into r (epoch and sorted live entries). Returns NULL, or what is
 * wrong with it. r is left half-filled on error; the caller then starts afresh.
 */
static const char *parse(struct revoked *r, const char *text, size_t len, time_t now)
{
    const size_t hlen = sizeof(header) - 1, tlen = sizeof(epoch_tag) - 1;
    if (len < hlen || memcmp(text, header, hlen) != 0)
        return "not a mica-revoked file";
    const char *p = text + hlen, *end = text + len;
    if ((size_t)(end - p) < tlen + REVOKED_EPOCH_LEN + 1 || memcmp(p, epoch_tag, tlen) != 0 ||
        !is_b64url(p + tlen, REVOKED_EPOCH_LEN) || p[tlen + REVOKED_EPOCH_LEN] != '\n')
        return "no valid epoch line";
    memcpy(r->epoch, p + tlen, REVOKED_EPOCH_LEN);
    p += tlen + REVOKED_EPOCH_LEN + 1;
    r->n = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return "the last line is cut short";
        size_t n = (size_t)(nl - p);
        long long expires;
        if (n < REVOKED_ID_LEN + 2 || !is_b64url(p, REVOKED_ID_LEN) || p[REVOKED_ID_LEN] != ' ' ||
            !parse_expiry(p + REVOKED_ID_LEN + 1, n - REVOKED_ID_LEN - 1, &expires))
            return "a malformed line";
        if (expires > (long long)now) {
            if (r->n == REVOKED_MAX)
                return "more sessions than it can hold";
            memcpy(r->entries[r->n].id, p, REVOKED_ID_LEN);
            r->entries[r->n++].expires = expires;
        }
        p = nl + 1;
    }
    qsort(r->entries, r->n, sizeof(r->entries[0]), by_id);
    return NULL;
}

/* Reads the file into r. 0, -ENOENT when it does not exist, or -1 with the reason in why. */
static int load(struct revoked *r, time_t now, char why[128])
{
    /* O_NONBLOCK: a FIFO put there must not hang the start (S_ISREG is checked next). */
    int fd = open(r->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return -ENOENT;
    char *text = NULL;
    int rc = -1;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(why, 128, "%s", errno == ELOOP ? "is a symbolic link" : strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > FILE_MAX_BYTES) {
        snprintf(why, 128, "%s",
                 S_ISREG(st.st_mode) ? "larger than it can be" : "not a regular file");
        goto out;
    }
    size_t len = (size_t)st.st_size, got = 0;
    text = malloc(len + 1);
    if (!text) {
        snprintf(why, 128, "out of memory");
        goto out;
    }
    while (got < len) {
        ssize_t n = read(fd, text + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(why, 128, "%s", n < 0 ? strerror(errno) : "shorter than its size");
            goto out;
        }
        got += (size_t)n;
    }
    const char *bad = parse(r, text, len, now);
    if (bad) {
        snprintf(why, 128, "%s", bad);
        goto out;
    }
    rc = 0;
out:
    free(text);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* The file's text for r's current state, in a malloc'd buffer; NULL when out of memory.
 * Call with r->lock held. */
static char *format(const struct revoked *r, size_t *len)
{
    char *text = malloc(FILE_MAX_BYTES);
    if (!text)
        return NULL;
    int n = snprintf(text, FILE_MAX_BYTES, "%s%s%.*s\n", header, epoch_tag, REVOKED_EPOCH_LEN,
                     r->epoch);
    size_t o = n > 0 ? (size_t)n : 0;
    for (size_t i = 0; i < r->n; i++) {
        n = snprintf(text + o, FILE_MAX_BYTES - o, "%.*s %lld\n", REVOKED_ID_LEN, r->entries[i].id,
                     r->entries[i].expires);
        o += n > 0 ? (size_t)n : 0; /* LINE_MAX_BYTES per line always fits */
    }
    *len = o;
    return text;
}

/*
 * Replaces the file with text durably: a new private file, fsync, rename over the old one,
 * fsync of the folder. 0, or -errno. With create, the new file is linked to the name
 * instead, which fails with -EEXIST when it exists: when two processes start on a new
 * data_dir at once, exactly one epoch wins and both then read it (as for session.key).
 */
static int replace_file(const struct revoked *r, const char *text, size_t len, bool create)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s/.session.revoked.XXXXXX", r->dir);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -ENAMETOOLONG;
    int fd = mkostemp(tmp, O_CLOEXEC); /* O_CREAT | O_EXCL, mode 0600 */
    if (fd < 0)
        return -errno;
    int rc = io_write_all(fd, text, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && (create ? link(tmp, r->path) : rename(tmp, r->path)) != 0)
        rc = -errno;
    if (rc != 0 || create)
        unlink(tmp);
    if (rc != 0)
        return rc;
    int dfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    if (fsync(dfd) != 0)
        rc = -errno;
    close(dfd);
    return rc;
}

/* Writes r's state out (see replace_file for create). Call with r->write_lock held, or
 * before r is shared, and r->lock not held. */
static int save(struct revoked *r, bool create)
{
    size_t len = 0;
    lock(&r->lock);
    char *text = format(r, &len);
    const uint64_t gen = r->marked_gen;
    unlock(&r->lock);
    if (!text)
        return -ENOMEM;
    int rc = replace_file(r, text, len, create);
    free(text);
    if (rc == 0) {
        lock(&r->lock);
        if (gen > r->saved_gen)
            r->saved_gen = gen;
        unlock(&r->lock);
    }
    return rc;
}

/* --- the API ---------------------------------------------------------------------------- */

static void revoked_free(struct ref *ref)
{
    struct revoked *r = (struct revoked *)((char *)ref - offsetof(struct revoked, ref));
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->write_lock);
    free(r);
}

struct revoked *revoked_open(const char *data_dir, time_t now, char err[256])
{
    struct revoked *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, 256, "auth: out of memory");
        return NULL;
    }
    int n = snprintf(r->path, sizeof(r->path), "%s/session.revoked", data_dir);
    if (n < 0 || (size_t)n >= sizeof(r->path) - 32) { /* room for the temporary name */
        snprintf(err, 256, "data_dir \"%.200s\": path too long", data_dir);
        free(r);
        return NULL;
    }
    snprintf(r->dir, sizeof(r->dir), "%s", data_dir);
    ref_init(&r->ref, revoked_free);
    /* With default attributes glibc's pthread_mutex_init always succeeds. */
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->write_lock, NULL);

    char why[128] = "";
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = load(r, now, why);
        if (rc == 0)
            return r;
        /* Missing (the first start) or unusable: earlier logouts are unknown, so no earlier
         * session may be trusted. A new epoch ends them all. */
        unsigned char raw[RAW_BYTES];
        if (RAND_bytes(raw, sizeof(raw)) != 1) {
            snprintf(err, 256, "%.200s: no random bytes from OpenSSL", r->path);
            revoked_put(r);
            return NULL;
        }
        encode16(raw, r->epoch);
        r->n = 0;
        if (rc != -ENOENT)
            log_error("auth: %s: %s: every session signed before now ends (log in again)", r->path,
                      why);
        int wrc = save(r, rc == -ENOENT);
        if (wrc == -EEXIST)
            continue; /* another process created it meanwhile: read that one */
        if (wrc != 0)
            log_error("auth: %s: cannot write: %s: logouts will not outlive this process", r->path,
                      strerror(-wrc));
        return r;
    }
    return r; /* created by another process, then removed: our new epoch stands */
}

void revoked_get(struct revoked *r)
{
    if (r)
        ref_get(&r->ref);
}

void revoked_put(struct revoked *r)
{
    if (r)
        ref_put(&r->ref);
}

void revoked_epoch(struct revoked *r, char epoch[REVOKED_EPOCH_LEN])
{
    lock(&r->lock);
    memcpy(epoch, r->epoch, REVOKED_EPOCH_LEN);
    unlock(&r->lock);
}

bool revoked_check(struct revoked *r, const char id[REVOKED_ID_LEN], char epoch[REVOKED_EPOCH_LEN])
{
    bool found;
    lock(&r->lock);
    find(r, id, &found);
    memcpy(epoch, r->epoch, REVOKED_EPOCH_LEN);
    unlock(&r->lock);
    return found;
}

bool revoked_mark(struct revoked *r, const char id[REVOKED_ID_LEN], time_t expires, time_t now)
{
    lock(&r->lock);
    prune(r, now);
    bool found, overflow = false;
    size_t at = (size_t)find(r, id, &found);
    if (!found && r->n == REVOKED_MAX) {
        /* Remembering one more would pass the bound: end every session instead. */
        new_epoch(r, now);
        r->n = 0;
        overflow = true;
    } else if (!found) {
        memmove(&r->entries[at + 1], &r->entries[at], (r->n - at) * sizeof(r->entries[0]));
        memcpy(r->entries[at].id, id, REVOKED_ID_LEN);
        r->entries[at].expires = (long long)expires;
        r->n++;
    }
    if (overflow || !found)
        r->marked_gen++;
    unlock(&r->lock);
    if (overflow)
        log_warn("auth: over %d sessions logged out within their lifetime: every session ends "
                 "(log in again)",
                 REVOKED_MAX);
    return overflow || !found;
}

bool revoked_unsaved(struct revoked *r)
{
    lock(&r->lock);
    bool unsaved = r->saved_gen < r->marked_gen;
    unlock(&r->lock);
    return unsaved;
}

int revoked_save(struct revoked *r)
{
    lock(&r->write_lock);
    /* Queued logouts share one write: what an earlier save wrote covers them. */
    int rc = revoked_unsaved(r) ? save(r, false) : 0;
    unlock(&r->write_lock);
    if (rc != 0)
        log_error("auth: %s: cannot write: %s: the logout holds until mica stops", r->path,
                  strerror(-rc));
    return rc;
}

int revoked_add(struct revoked *r, const char id[REVOKED_ID_LEN], time_t expires, time_t now)
{
    revoked_mark(r, id, expires, now);
    return revoked_save(r);
}

size_t revoked_count(struct revoked *r)
{
    lock(&r->lock);
    size_t n = r->n;
    unlock(&r->lock);
    return n;
}
