/* SPDX-License-Identifier: MIT */
/*
 * The static file handler.
 *
 * The fast path answers from the file cache (files/cache.h): an entry checked within the
 * last second gives the validators, the type and, for small files, the content, with no
 * system call. Otherwise the slow path resolves the path beneath the root (path_open:
 * nothing outside the root is ever opened), follows folders to their index file, and
 * either confirms the cached entry (same device, inode, size and mtime) or replaces it.
 *
 * Whatever the source, one function answers: preconditions (304, 412), ranges (206, 416),
 * else the whole file — from the cached bytes (shared with the connection by reference)
 * or from the open file (sent with sendfile by the connection).
 */
#include "handlers/static.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files/cache.h"
#include "handlers/headers.h"
#include "handlers/listing.h"
#include "http/compress.h"
#include "http/cond.h"
#include "http/date.h"
#include "http/encoding.h"
#include "http/mime.h"
#include "util/io.h"

enum {
    MULTIPART_MAX_BYTES = 8 << 20, /* several ranges are built in memory up to this */
    COMPRESS_MAX_BYTES = 16 << 20, /* larger files go uncompressed (memory and time) */
    /* Larger bodies go with sendfile even when the cache holds them: the kernel sends page
     * cache pages without copying them (0.62 CPU-s per GB here, against 1.02 for writev
     * from memory; see docs/benchmarks.md). */
    SENDFILE_MIN_BYTES = 256 * 1024,
    /* A not-found page up to this size is read into memory, where it can be compressed;
     * a larger one is sent from its file. */
    NOT_FOUND_MEM_BYTES = 256 * 1024,
};

/* What is served: the file's metadata and where its bytes are. */
struct rep {
    const char *type;
    bool compressible;
    struct timespec mtime;
    struct validators v;
    struct slice last_modified;
    uint64_t size;
    const char *data;          /* the whole content in memory, or NULL */
    struct cache_entry *entry; /* keeps data alive; referenced, or NULL */
    int fd;                    /* the open file, or -1 (open `file` when needed) */
    const char *file;          /* path relative to the root */
    bool is_scratch;           /* data is in env->scratch (compressed for this request) */
    char etag_buf[80];         /* for an ETag made for this request */
};

/* Opens the first of `names` that is a regular file in folder dir ("." for the root);
 * its path relative to the root goes to path[PATH_MAX_BYTES]. */
static int open_index(struct env *env, const char *dir, char *const *names, size_t n,
                      struct stat *st, char *path)
{
    for (size_t i = 0; i < n; i++) {
        int len = strcmp(dir, ".") == 0 ? snprintf(path, PATH_MAX_BYTES, "%s", names[i])
                                        : snprintf(path, PATH_MAX_BYTES, "%s/%s", dir, names[i]);
        if (len < 0 || len >= PATH_MAX_BYTES)
            continue;
        int fd = path_open(env->root_fd, path, O_NONBLOCK, st);
        if (fd < 0)
            continue;
        if (S_ISREG(st->st_mode))
            return fd;
        close(fd);
    }
    return -ENOENT;
}

/* Reads the not-found page (fd, size bytes) into env->scratch: in memory, the connection
 * compresses it like any generated page. False if it could not be read whole. */
static bool read_not_found_page(struct env *env, int fd, size_t size, struct slice *out)
{
    struct buf *b = env->scratch;
    size_t mark = b->len;
    if (!io_pread_append(b, fd, 0, size))
        return false; /* an error, or the file shrank: sent from the file instead */
    *out = slice_make(b->data + mark, size);
    return true;
}

int static_not_found(struct env *env, struct response *resp)
{
    struct stat st;
    const char *name = env->cfg->not_found_page;
    int fd = name ? path_open(env->root_fd, name, O_NONBLOCK, &st) : -ENOENT;
    response_forget_representation(resp); /* serve() may have described the file that failed */
    if (fd >= 0 && S_ISREG(st.st_mode)) {
        const char *type = mime_for_path(slice_str(name))->type;
        struct slice page;
        resp->status = 404;
        if ((uint64_t)st.st_size <= NOT_FOUND_MEM_BYTES &&
            read_not_found_page(env, fd, (size_t)st.st_size, &page)) {
            close(fd);
            response_set_body(resp, type, page);
        } else {
            response_set_file(resp, type, fd, 0, (uint64_t)st.st_size);
        }
        return 404;
    }
    if (fd >= 0)
        close(fd);
    return response_error(resp, 404);
}

/* RFC 9110 §15.4.2: a folder asked for without its slash moves to the slash form. The
 * target is built from the normalised path, never the request's own bytes: "//host/x"
 * or "/..//host" would otherwise send the client to another site. */
static int redirect_to_slash(const struct env *env, const struct request *req,
                             struct response *resp)
{
    struct buf *href = env->scratch;
    if (!listing_folder_href(env, href) ||
        !response_headerf(resp, "Location", "%.*s%s%.*s", (int)href->len, href->data,
                          req->has_query ? "?" : "", (int)req->query.len, req->query.ptr))
        return response_error(resp, 414);
    resp->status = 301;
    response_set_body(resp, NULL, (struct slice){NULL, 0});
    return 301;
}

/* The status for a file that was there but could not be opened again: 404 when it is gone
 * now (or a link was swapped to lead outside or to a dotfile), 403 when forbidden, 503
 * (try again) when descriptors or memory ran out, else 500. */
static int open_failure_status(int err)
{
    if (err == -ENOENT || err == -ENOTDIR || err == -EXDEV || err == -ELOOP)
        return 404;
    if (err == -EACCES || err == -EPERM)
        return 403;
    if (err == -EMFILE || err == -ENFILE || err == -ENOMEM)
        return 503;
    return 500;
}

/* Whether the last segment of a relative path has a '.' (an extension, or a dotfile). */
static bool has_extension(const char *rel)
{
    const char *slash = strrchr(rel, '/');
    return strchr(slash ? slash + 1 : rel, '.') != NULL;
}

/*
 * Resolves env->rel to an open regular file: itself, or a folder's index file (the root
 * also has default_page). Returns the descriptor with *st and the file's path in `path`,
 * or -1 with the response already filled (404, 301 to the slash form, 403, 500).
 */
static int resolve(struct env *env, const struct request *req, struct response *resp,
                   struct stat *st, char *path)
{
    const struct config *cfg = env->cfg;
    int fd = path_open(env->root_fd, env->rel, O_NONBLOCK, st);
    if (fd == -ENOENT && cfg->clean_urls && !env->rel_info.trailing_slash &&
        !has_extension(env->rel)) {
        /* Clean URLs: /about serves about.html when there is no "about". */
        int n = snprintf(path, PATH_MAX_BYTES, "%s.html", env->rel);
        if (n > 0 && n < PATH_MAX_BYTES) {
            int html = path_open(env->root_fd, path, O_NONBLOCK, st);
            if (html >= 0 && S_ISREG(st->st_mode))
                return html;
            if (html >= 0)
                close(html);
        }
    }
    if (fd == -ENOENT || fd == -ENOTDIR || fd == -EXDEV || fd == -ELOOP || fd == -ENAMETOOLONG) {
        static_not_found(env, resp);
        return -1;
    }
    if (fd < 0) {
        response_error(resp, open_failure_status(fd));
        return -1;
    }
    if (S_ISDIR(st->st_mode)) {
        close(fd);
        bool is_root = strcmp(env->rel, ".") == 0;
        if (!env->rel_info.trailing_slash && !is_root) {
            redirect_to_slash(env, req, resp);
            return -1;
        }
        fd = open_index(env, env->rel, cfg->index_files, cfg->n_index_files, st, path);
        if (fd < 0 && is_root && cfg->default_page)
            fd = open_index(env, ".", (char *const[]){cfg->default_page}, 1, st, path);
        if (fd < 0 && cfg->directory_listing) {
            int dir_fd = path_open(env->root_fd, env->rel, O_DIRECTORY | O_NONBLOCK, st);
            const int failed = dir_fd >= 0 ? 0 : open_failure_status(dir_fd);
            if (dir_fd >= 0) {
                listing_handle(env, req, resp, dir_fd);
                close(dir_fd);
            } else if (failed == 404) {
                static_not_found(env, resp); /* gone (or swapped) since the first open */
            } else {
                response_error(resp, failed);
            }
        } else if (fd < 0 && is_root) {
            static_not_found(env, resp); /* SPEC: "/" without index, default or listing */
        } else if (fd < 0) {
            response_error(resp, 403);
        }
        return fd < 0 ? -1 : fd;
    }
    if (env->rel_info.trailing_slash || !S_ISREG(st->st_mode)) {
        /* "/file.html/" names no folder; FIFOs, sockets and devices are never served. */
        close(fd);
        static_not_found(env, resp);
        return -1;
    }
    snprintf(path, PATH_MAX_BYTES, "%s", env->rel);
    return fd;
}

/* Sets resp's body to len bytes of rep from start: shared memory or the file. */
static bool set_body(struct response *resp, struct rep *rep, const struct env *env, uint64_t start,
                     uint64_t len)
{
    if (rep->data && rep->is_scratch) {
        response_set_body(resp, rep->type, slice_make(rep->data + start, len));
        return true;
    }
    if (rep->data && len >= SENDFILE_MIN_BYTES && rep->entry && rep->file == rep->entry->file.ptr) {
        /* The identity bytes of a large cached file: from the file, if it is still the one
         * the entry describes (else from memory: the snapshot stays consistent). */
        struct stat st;
        int fd = path_open(env->root_fd, rep->file, O_NONBLOCK, &st);
        if (fd >= 0 && cache_same_file(rep->entry, &st)) {
            response_set_file(resp, rep->type, fd, start, len);
            return true;
        }
        if (fd >= 0)
            close(fd);
    }
    if (rep->data) {
        ref_get(&rep->entry->ref);
        response_set_shared(resp, rep->type, slice_make(rep->data + start, len), &rep->entry->ref);
        return true;
    }
    if (rep->fd < 0) {
        struct stat st;
        rep->fd = path_open(env->root_fd, rep->file, O_NONBLOCK, &st);
        if (rep->fd < 0)
            return false;
    }
    response_set_file(resp, rep->type, rep->fd, start, len);
    rep->fd = -1; /* the response owns it now */
    return true;
}

/*
 * Several ranges: a multipart/byteranges body (RFC 9110 §14.6) built in the scratch
 * buffer. False when it would be too large to build in memory or the file cannot be read;
 * the caller then sends the whole file, as §14.2 allows.
 */
static bool multipart_ranges(struct env *env, struct rep *rep, const struct range_set *rs,
                             struct response *resp)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < rs->n; i++)
        total += rs->r[i].len;
    if (total > MULTIPART_MAX_BYTES)
        return false;
    if (!rep->data && rep->fd < 0) {
        struct stat st;
        rep->fd = path_open(env->root_fd, rep->file, O_NONBLOCK, &st);
        if (rep->fd < 0)
            return false;
    }
    /* The boundary only has to be absent from the parts: the file's identity and the
     * clock make a collision with the file's bytes practically impossible. */
    char boundary[48];
    snprintf(boundary, sizeof(boundary), "mica-%llx-%llx", (unsigned long long)env->now_ms,
             (unsigned long long)rep->size ^ (unsigned long long)rep->v.last_modified);
    struct buf *b = env->scratch;
    for (unsigned i = 0; i < rs->n; i++) {
        const struct byte_range *r = &rs->r[i];
        if (!buf_printf(
                b, "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %llu-%llu/%llu\r\n\r\n",
                boundary, rep->type, (unsigned long long)r->start,
                (unsigned long long)(r->start + r->len - 1), (unsigned long long)rep->size) ||
            !buf_reserve(b, r->len))
            return false;
        if (rep->data)
            memcpy(b->data + b->len, rep->data + r->start, r->len);
        else if (pread(rep->fd, b->data + b->len, r->len, (off_t)r->start) != (ssize_t)r->len)
            return false;
        b->len += r->len;
    }
    if (!buf_printf(b, "\r\n--%s--\r\n", boundary))
        return false;
    resp->status = 206;
    response_set_body(resp, NULL, buf_slice(b));
    response_headerf(resp, "Content-Type", "multipart/byteranges; boundary=%s", boundary);
    return true;
}

/* "\"…-gz\"": the identity ETag with the encoding inside the quotes (RFC 9110 §8.8.3.3:
 * each encoding is its own representation). */
static struct slice variant_etag(struct slice etag, enum encoding e, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%.*s-%s\"", (int)(etag.len ? etag.len - 1 : 0), etag.ptr,
                     encoding_name(e));
    return slice_make(out, n > 0 && (size_t)n < cap ? (size_t)n : 0);
}

/* Whether st is still the file variant v was made from (same size and mtime). */
static bool variant_is(const struct cache_variant *v, const struct stat *st)
{
    return v->size == (uint64_t)st->st_size && v->file_mtime.tv_sec == st->st_mtim.tv_sec &&
           v->file_mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* The whole content of rep's open file into a new heap buffer; false if it could not. */
static bool read_whole(const struct rep *rep, struct buf *out)
{
    buf_init(out, NULL, 0, 0);
    return rep->fd >= 0 && io_pread_append(out, rep->fd, 0, (size_t)rep->size);
}

/* Compresses src[0..len) into out; true when that made it smaller (else it is useless). */
static bool compress_smaller(enum encoding enc, const char *src, uint64_t len, struct buf *out)
{
    size_t mark = out->len;
    if (compress_body(enc, src, len, out) == 0 && out->len - mark < len)
        return true;
    out->len = mark;
    return false;
}

/* The variant of e in encoding enc, made now if needed: from the cached content, or from
 * the open file (rep->fd) when it is too large to keep but not too large to compress. */
static struct cache_variant *get_variant(struct env *env, struct cache_entry *e,
                                         const struct rep *rep, enum encoding enc)
{
    struct cache_variant *v = cache_variant(e, enc);
    if (v)
        return v;
    struct buf raw = {0}, out;
    const char *src = e->data;
    if (!src) {
        if (e->size > COMPRESS_MAX_BYTES || !read_whole(rep, &raw)) {
            buf_free(&raw);
            return NULL;
        }
        src = raw.data;
    }
    buf_init(&out, NULL, 0, 0);
    bool ok = compress_smaller(enc, src, e->size, &out);
    buf_free(&raw);
    char tag[80];
    v = cache_variant_new(variant_etag(e->etag, enc, tag, sizeof(tag)), ok ? out.data : NULL,
                          (struct slice){"", 0}, NULL, ok ? out.len : 0, !ok);
    if (!ok)
        buf_free(&out);
    return v ? cache_variant_set(env->cache, e, enc, v) : NULL;
}

/* A precompressed file beside `path` ("app.js.gz"), when it is a regular file not older
 * than the original: its descriptor and *st, or -1. */
static int open_precompressed(struct env *env, const char *path, enum encoding enc,
                              const struct timespec *orig_mtime, struct stat *st)
{
    char name[PATH_MAX_BYTES + 4];
    int n = snprintf(name, sizeof(name), "%s.%s", path, enc == ENC_BR ? "br" : "gz");
    if (n < 0 || (size_t)n >= sizeof(name))
        return -1;
    int fd = path_open(env->root_fd, name, O_NONBLOCK, st);
    if (fd < 0)
        return -1;
    bool is_newer =
        st->st_mtim.tv_sec > orig_mtime->tv_sec ||
        (st->st_mtim.tv_sec == orig_mtime->tv_sec && st->st_mtim.tv_nsec >= orig_mtime->tv_nsec);
    if (S_ISREG(st->st_mode) && is_newer)
        return fd;
    close(fd);
    return -1;
}

/* rep becomes an encoded representation: bytes, or an open file of size bytes. */
static void use_encoding(struct response *resp, struct rep *rep, enum encoding enc,
                         struct slice etag, const char *data, int fd, uint64_t size)
{
    if (rep->fd >= 0)
        close(rep->fd);
    rep->fd = fd;
    rep->v.etag = etag;
    rep->data = data;
    rep->file = NULL; /* never reopened: fd or data is the body */
    rep->size = size;
    response_header(resp, "Content-Encoding", slice_str(encoding_name(enc)));
}

/*
 * Without the cache (cache.enabled false): a precompressed file beside the original if
 * there is one, else the file compressed for this request alone, into the scratch buffer.
 * Costly, which is what the cache is for.
 */
static void compress_uncached(struct env *env, const struct request *req, struct response *resp,
                              struct rep *rep)
{
    if (rep->size <= COMPRESS_MIN_BYTES || rep->fd < 0)
        return;
    enum encoding enc =
        encoding_negotiate(req->known[HDR_ACCEPT_ENCODING], (1u << ENC_GZIP) | (1u << ENC_BR));
    if (enc == ENC_IDENTITY)
        return;
    struct stat st;
    struct slice etag = variant_etag(rep->v.etag, enc, rep->etag_buf, sizeof(rep->etag_buf));
    int pre = open_precompressed(env, rep->file, enc, &rep->mtime, &st);
    if (pre >= 0) {
        use_encoding(resp, rep, enc, etag, NULL, pre, (uint64_t)st.st_size);
        return;
    }
    struct buf raw;
    if (rep->size > env->cfg->cache.max_file_bytes || !read_whole(rep, &raw)) {
        buf_free(&raw);
        return;
    }
    size_t mark = env->scratch->len;
    bool ok = compress_smaller(enc, raw.data, rep->size, env->scratch);
    buf_free(&raw);
    if (!ok)
        return;
    rep->is_scratch = true;
    use_encoding(resp, rep, enc, etag, env->scratch->data + mark, -1, env->scratch->len - mark);
}

/*
 * Content negotiation for compressible types (RFC 9110 §12.5.3): they all say
 * Vary: Accept-Encoding; when the client accepts gzip or brotli, rep becomes that variant.
 * Ranges are answered from the identity bytes. Variants are made once per file and kept
 * with the cache entry; a precompressed file that is not held in memory is opened and
 * checked on every use (it may have been rebuilt or removed since).
 */
static void choose_encoding(struct env *env, const struct request *req, struct response *resp,
                            struct rep *rep)
{
    struct cache_entry *e = rep->entry;
    if (!rep->compressible)
        return;
    response_header(resp, "Vary", SLICE_LIT("Accept-Encoding"));
    if (!env->cfg->compression || (req->known[HDR_RANGE].ptr && req->method == HTTP_GET))
        return;
    if (!e) {
        compress_uncached(env, req, resp, rep);
        return;
    }
    bool can_make = e->size > COMPRESS_MIN_BYTES && (e->data || e->size <= COMPRESS_MAX_BYTES);
    unsigned available = 0;
    for (enum encoding enc = ENC_GZIP; enc < ENC_COUNT; enc++) {
        struct cache_variant *v = cache_variant(e, enc);
        if (v ? !v->is_useless : can_make)
            available |= 1u << enc;
    }
    enum encoding enc = encoding_negotiate(req->known[HDR_ACCEPT_ENCODING], available);
    struct cache_variant *v = enc == ENC_IDENTITY ? NULL : get_variant(env, e, rep, enc);
    if (!v || v->is_useless)
        return;
    if (v->data) {
        use_encoding(resp, rep, enc, v->etag, v->data, -1, v->size);
        return;
    }
    struct stat st;
    int fd = path_open(env->root_fd, v->file.ptr, O_NONBLOCK, &st);
    if (fd >= 0 && variant_is(v, &st)) {
        use_encoding(resp, rep, enc, v->etag, NULL, fd, v->size);
        return;
    }
    if (fd >= 0)
        close(fd); /* rebuilt or removed since: the identity bytes until the entry renews */
}

/*
 * Precompressed files beside the original (file.br, file.gz) become its variants when
 * they are regular files not older than it; small ones are loaded, larger ones are sent
 * from their file.
 */
static void attach_precompressed(struct env *env, struct cache_entry *e, const char *path,
                                 const struct stat *orig)
{
    const enum encoding kinds[] = {ENC_BR, ENC_GZIP};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        char name[PATH_MAX_BYTES + 4], tag[80];
        struct stat st;
        int fd = open_precompressed(env, path, kinds[i], &orig->st_mtim, &st);
        if (fd < 0)
            continue;
        snprintf(name, sizeof(name), "%s.%s", path, kinds[i] == ENC_BR ? "br" : "gz");
        char *data = NULL;
        uint64_t size = (uint64_t)st.st_size;
        bool usable = true;
        if (e->data && size <= env->cfg->cache.max_file_bytes) {
            data = malloc(size ? size : 1);
            if (!data || pread(fd, data, size, 0) != (ssize_t)size) {
                free(data);
                data = NULL;
                usable = false;
            }
        }
        close(fd);
        if (!usable)
            continue;
        struct cache_variant *v =
            cache_variant_new(variant_etag(e->etag, kinds[i], tag, sizeof(tag)), data,
                              slice_str(name), &st.st_mtim, size, false);
        if (v)
            cache_variant_set(env->cache, e, kinds[i], v);
    }
}

/*
 * Whether e's variants still match the precompressed files beside `path` (checked with the
 * original, once a second): one that appeared, changed or went away since the entry was
 * made means the entry must be made again.
 */
static bool precompressed_unchanged(struct env *env, struct cache_entry *e, const char *path,
                                    const struct stat *orig)
{
    if (!e->compressible || !env->cfg->compression)
        return true;
    const enum encoding kinds[] = {ENC_BR, ENC_GZIP};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        const struct cache_variant *v = cache_variant(e, kinds[i]);
        bool had = v && v->file.len > 0;
        struct stat st;
        int fd = open_precompressed(env, path, kinds[i], &orig->st_mtim, &st);
        if (fd < 0) {
            if (had)
                return false;
            continue;
        }
        close(fd);
        if (!had || !variant_is(v, &st))
            return false;
    }
    return true;
}

/* Preconditions, then ranges, then the whole representation. */
static int serve(struct env *env, const struct request *req, struct response *resp, struct rep *rep)
{
    resp->is_negotiated = true; /* here, with the cached variants: not per request */
    choose_encoding(env, req, resp, rep);
    /* HTML is revalidated on every use, so edits show at once (the validators keep that
     * cheap: 304); a `headers` rule can say otherwise. */
    if (strncmp(rep->type, "text/html", 9) == 0 &&
        !headers_set_by_rule(env->cfg, env->url_path, "Cache-Control"))
        response_header(resp, "Cache-Control", SLICE_LIT("no-cache"));
    response_header(resp, "Last-Modified", rep->last_modified);
    response_header(resp, "ETag", rep->v.etag);
    response_header(resp, "Accept-Ranges", SLICE_LIT("bytes"));

    int pre = cond_evaluate(req, &rep->v);
    if (pre == 304) {
        resp->status = 304; /* no body; the validators above go with it */
        return 304;
    }
    if (pre != 0)
        return response_error(resp, pre);

    struct slice range = req->known[HDR_RANGE];
    if (range.ptr && req->method == HTTP_GET && cond_if_range(req, &rep->v)) {
        struct range_set rs;
        int r = range_parse(range, rep->size, &rs);
        if (r == 416) {
            response_headerf(resp, "Content-Range", "bytes */%llu", (unsigned long long)rep->size);
            return response_error(resp, 416);
        }
        if (r == 206 && rs.n == 1) {
            const struct byte_range *b = &rs.r[0];
            if (!set_body(resp, rep, env, b->start, b->len))
                return static_not_found(env, resp);
            response_headerf(
                resp, "Content-Range", "bytes %llu-%llu/%llu", (unsigned long long)b->start,
                (unsigned long long)(b->start + b->len - 1), (unsigned long long)rep->size);
            resp->status = 206;
            return 206;
        }
        if (r == 206 && multipart_ranges(env, rep, &rs, resp))
            return 206;
        buf_reset(env->scratch); /* too large for parts: the whole file instead */
    }
    if (!set_body(resp, rep, env, 0, rep->size))
        return static_not_found(env, resp);
    return 200;
}

/* The cache key: the normalised path, with its trailing slash (a folder's index). */
static struct slice cache_key(const struct env *env, char *buf)
{
    size_t n = env->rel_info.len;
    memcpy(buf, env->rel, n);
    if (env->rel_info.trailing_slash)
        buf[n++] = '/';
    return slice_make(buf, n);
}

static void rep_from_entry(struct rep *rep, struct cache_entry *e, int fd)
{
    *rep = (struct rep){
        .type = e->type,
        .compressible = e->compressible,
        .mtime = e->mtime,
        .v = {e->etag, e->mtime.tv_sec},
        .last_modified = e->last_modified,
        .size = e->size,
        .data = e->data,
        .entry = e,
        .fd = e->data ? -1 : fd,
        .file = e->file.ptr,
    };
    if (e->data && fd >= 0)
        close(fd);
}

/*
 * SPA fallback (spa_fallback): a GET or HEAD that matched no file, whose last segment has
 * no extension and that accepts text/html, is an application route: it gets that file.
 * API paths and assets (with an extension) still get their 404.
 */
static bool spa_applies(const struct env *env, const struct request *req)
{
    struct slice accept = req->known[HDR_ACCEPT];
    return env->cfg->spa_fallback && (req->method == HTTP_GET || req->method == HTTP_HEAD) &&
           !has_extension(env->rel) && strncmp(env->url_path, "/api/", 5) != 0 && accept.ptr &&
           memmem(accept.ptr, accept.len, "text/html", 9);
}

static int serve_path(struct env *env, const struct request *req, struct response *resp);

int static_handle(struct env *env, const struct request *req, struct response *resp)
{
    int status = serve_path(env, req, resp);
    if (status != 404 || !spa_applies(env, req))
        return status;
    struct path_result pr;
    char rel[PATH_MAX_BYTES];
    char url[PATH_MAX_BYTES + 2];
    int n = snprintf(url, sizeof(url), "/%s", env->cfg->spa_fallback);
    if (n <= 0 || (size_t)n >= sizeof(url) ||
        path_normalize(slice_make(url, (size_t)n), rel, sizeof(rel), &pr) != 0 || pr.trailing_slash)
        return status;
    response_drop_body(resp); /* the 404 page */
    response_init(resp, resp->headers.data, resp->headers.cap);
    memcpy(env->rel, rel, pr.len + 1);
    env->rel_info = pr;
    return serve_path(env, req, resp);
}

/* Serves env->rel: from the cache, or resolved and (re)cached. */
static int serve_path(struct env *env, const struct request *req, struct response *resp)
{
    char key_buf[PATH_MAX_BYTES + 1];
    struct slice key = cache_key(env, key_buf);
    bool fresh = false;
    struct cache_entry *e = env->cache ? cache_lookup(env->cache, key, env->now_ms, &fresh) : NULL;
    struct rep rep;
    /* Content in memory is a snapshot, consistent with the entry's validators. A file that
     * must be opened anyway is checked against them on the way, so the headers always
     * describe the bytes that follow. */
    if (e && fresh && e->data) {
        stats_add(&env->my_stats->cache_hits, 1);
        rep_from_entry(&rep, e, -1);
    } else {
        struct stat st;
        char path[PATH_MAX_BYTES];
        int fd = resolve(env, req, resp, &st, path);
        if (fd < 0 && e && e->data && resp->status == 503) {
            /* Out of descriptors: the file could not be checked, but what the cache holds
             * is a consistent snapshot, a second or so old. Better than a 503. */
            response_drop_body(resp);
            response_init(resp, resp->headers.data, resp->headers.cap);
            stats_add(&env->my_stats->cache_hits, 1);
            rep_from_entry(&rep, e, -1);
            goto serve_rep;
        }
        if (fd < 0) {
            if (e)
                cache_remove(env->cache, key); /* the file is gone or is no file */
            cache_release(e);
            return resp->status;
        }
        /* Precompressed files are checked with the original, at most once a second. */
        if (e && cache_same_file(e, &st) && (fresh || precompressed_unchanged(env, e, path, &st))) {
            cache_checked(e, env->now_ms);
            stats_add(&env->my_stats->cache_hits, 1);
        } else {
            cache_release(e);
            e = NULL;
            stats_add(&env->my_stats->cache_misses, 1);
            char etag[64], when[DATE_HTTP_LEN + 1];
            int n = snprintf(etag, sizeof(etag), "\"%llx-%llx-%llx\"",
                             (unsigned long long)st.st_ino, (unsigned long long)st.st_size,
                             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
                                 (unsigned long long)st.st_mtim.tv_nsec);
            date_http(st.st_mtim.tv_sec, when);
            const struct mime *m = mime_for_path(slice_str(path));
            const struct cache_meta meta = {m->type, m->compressible, slice_make(etag, (size_t)n),
                                            slice_make(when, DATE_HTTP_LEN)};
            if (env->cache &&
                (e = cache_entry_new(env->cache, key, path, fd, &st, &meta, env->now_ms))) {
                if (m->compressible && env->cfg->compression)
                    attach_precompressed(env, e, path, &st);
                cache_insert(env->cache, e);
            }
            if (!e) {
                /* No cache (disabled, or out of memory): serve from the file. */
                rep = (struct rep){.type = m->type,
                                   .compressible = m->compressible,
                                   .mtime = st.st_mtim,
                                   .v = {meta.etag, st.st_mtim.tv_sec},
                                   .last_modified = meta.last_modified,
                                   .size = (uint64_t)st.st_size,
                                   .fd = fd,
                                   .file = path};
                int status = serve(env, req, resp, &rep);
                if (rep.fd >= 0)
                    close(rep.fd);
                return status;
            }
        }
        rep_from_entry(&rep, e, fd);
    }
serve_rep:;
    int status = serve(env, req, resp, &rep);
    if (rep.fd >= 0)
        close(rep.fd);
    cache_release(rep.entry);
    return status;
}
