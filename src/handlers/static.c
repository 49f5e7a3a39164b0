/* SPDX-License-Identifier: MIT */
/*
 * The static file handler. All filesystem access goes through path_open(), which keeps
 * every open beneath the root; this file only decides what to open and what to answer.
 * The response carries the open descriptor: the connection sends it with sendfile(2)
 * (or reads it into the output buffer when small) and closes it.
 */
#include "handlers/static.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "http/date.h"
#include "http/mime.h"

/* Opens the first of `names` that is a regular file in folder dir ("." for the root). */
static int open_index(struct env *env, const char *dir, char *const *names, size_t n,
                      struct stat *st, const char **chosen)
{
    char path[PATH_MAX_BYTES];
    for (size_t i = 0; i < n; i++) {
        int len = strcmp(dir, ".") == 0
                      ? snprintf(path, sizeof(path), "%s", names[i])
                      : snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (len < 0 || (size_t)len >= sizeof(path))
            continue;
        int fd = path_open(env->root_fd, path, O_NONBLOCK, st);
        if (fd < 0)
            continue;
        if (S_ISREG(st->st_mode)) {
            *chosen = names[i];
            return fd;
        }
        close(fd);
    }
    return -ENOENT;
}

int static_not_found(struct env *env, struct response *resp)
{
    struct stat st;
    const char *name = env->cfg->not_found_page;
    int fd = name ? path_open(env->root_fd, name, O_NONBLOCK, &st) : -ENOENT;
    if (fd >= 0 && S_ISREG(st.st_mode)) {
        response_set_file(resp, mime_for_path(slice_str(name))->type, fd, 0,
                          (uint64_t)st.st_size);
        resp->status = 404;
        return 404;
    }
    if (fd >= 0)
        close(fd);
    return response_error(resp, 404);
}

/* RFC 9110 §15.4.2: a folder asked for without its slash moves to the slash form. */
static int redirect_to_slash(const struct request *req, struct response *resp)
{
    if (!response_headerf(resp, "Location", "%.*s/%s%.*s", (int)req->path.len, req->path.ptr,
                          req->has_query ? "?" : "", (int)req->query.len, req->query.ptr))
        return response_error(resp, 414);
    resp->status = 301;
    response_set_body(resp, NULL, (struct slice){NULL, 0});
    return 301;
}

/* Strong validators from the file's identity (RFC 9110 §8.8): inode, size, mtime. */
static void add_validators(struct response *resp, const struct stat *st)
{
    char when[DATE_HTTP_LEN + 1];
    date_http(st->st_mtim.tv_sec, when);
    response_header(resp, "Last-Modified", slice_make(when, DATE_HTTP_LEN));
    response_headerf(resp, "ETag", "\"%llx-%llx-%llx\"", (unsigned long long)st->st_ino,
                     (unsigned long long)st->st_size,
                     (unsigned long long)st->st_mtim.tv_sec * 1000000000ull +
                         (unsigned long long)st->st_mtim.tv_nsec);
}

int static_handle(struct env *env, const struct request *req, struct response *resp)
{
    const struct config *cfg = env->cfg;
    struct stat st;
    const char *name = env->rel; /* the file whose type is served */
    int fd = path_open(env->root_fd, env->rel, O_NONBLOCK, &st);
    if (fd == -ENOENT || fd == -ENOTDIR || fd == -EXDEV || fd == -ELOOP || fd == -ENAMETOOLONG)
        return static_not_found(env, resp);
    if (fd < 0)
        return response_error(resp, fd == -EACCES ? 403 : 500);

    if (S_ISDIR(st.st_mode)) {
        close(fd);
        bool is_root = strcmp(env->rel, ".") == 0;
        if (!env->rel_info.trailing_slash && !is_root)
            return redirect_to_slash(req, resp);
        fd = open_index(env, env->rel, cfg->index_files, cfg->n_index_files, &st, &name);
        if (fd < 0 && is_root && cfg->default_page)
            fd = open_index(env, ".", (char *const[]){cfg->default_page}, 1, &st, &name);
        if (fd < 0)
            return response_error(resp, 403); /* listing: issue #4 */
    } else if (env->rel_info.trailing_slash || !S_ISREG(st.st_mode)) {
        /* "/file.html/" names no folder; FIFOs, sockets and devices are never served. */
        close(fd);
        return static_not_found(env, resp);
    }

    add_validators(resp, &st);
    response_set_file(resp, mime_for_path(slice_str(name))->type, fd, 0, (uint64_t)st.st_size);
    return 200;
}
