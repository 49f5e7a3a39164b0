/* SPDX-License-Identifier: MIT */
/* Form bodies into fields and uploaded files; see formread.h. */
#include "handlers/formread.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "http/form.h"
#include "util/buf.h"
#include "util/utf8.h"

struct form_reader {
    enum form_kind kind;
    uint64_t max_body;
    uint64_t fed;
    struct buf body;      /* urlencoded: the whole body */
    struct multipart *mp; /* multipart: the streaming parser */
    int uploads_fd;
    cJSON *fields;
    cJSON *files;
    bool keep_files;
    /* The file part being written. */
    int file_fd;
    uint64_t file_size;
    cJSON *file; /* its entry in files */
};

/* A JSON string from a slice of any bytes: invalid UTF-8 and NUL become U+FFFD. */
static cJSON *string_of(struct slice s)
{
    char *copy = utf8_sanitized(s.ptr, s.len);
    if (!copy)
        return NULL;
    cJSON *v = cJSON_CreateString(copy);
    free(copy);
    return v;
}

static int put_field(struct form_reader *r, const char *key, cJSON *v);

/* Adds name → value; a repeated name becomes an array of its values. */
static int add_field(void *ctx, struct slice name, struct slice value)
{
    struct form_reader *r = ctx;
    if (name.len > FORM_MAX_FIELD_BYTES)
        return 413;
    char *key = utf8_sanitized(name.ptr, name.len);
    cJSON *v = key ? string_of(value) : NULL;
    if (!v) {
        free(key);
        return 503;
    }
    int rc = put_field(r, key, v);
    free(key);
    return rc;
}

static int put_field(struct form_reader *r, const char *key, cJSON *v)
{
    cJSON *old = cJSON_GetObjectItemCaseSensitive(r->fields, key);
    if (!old) {
        cJSON_AddItemToObject(r->fields, key, v);
    } else if (cJSON_IsArray(old)) {
        cJSON_AddItemToArray(old, v);
    } else {
        cJSON *arr = cJSON_CreateArray();
        if (!arr) {
            cJSON_Delete(v);
            return 503;
        }
        cJSON_AddItemToArray(arr, cJSON_Duplicate(old, true));
        cJSON_AddItemToArray(arr, v);
        cJSON_ReplaceItemInObjectCaseSensitive(r->fields, key, arr);
    }
    return 0;
}

static int file_begin(void *ctx, struct slice name, struct slice filename,
                      struct slice content_type)
{
    struct form_reader *r = ctx;
    if (r->uploads_fd < 0)
        return 413;
    /* Our own name: time and randomness; the client's file name is only recorded. */
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return 503;
    char path[64];
    snprintf(path, sizeof(path), "%lld-%02x%02x%02x%02x%02x%02x%02x%02x", (long long)time(NULL),
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    r->file_fd = openat(r->uploads_fd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (r->file_fd < 0)
        return 503;
    r->file_size = 0;
    r->file = cJSON_CreateObject();
    char rel[96];
    snprintf(rel, sizeof(rel), "uploads/%s", path);
    if (!r->file || !cJSON_AddItemToObject(r->file, "field", string_of(name)) ||
        !cJSON_AddItemToObject(r->file, "name", string_of(filename)) ||
        !cJSON_AddStringToObject(r->file, "path", rel) ||
        !cJSON_AddItemToObject(r->file, "type", string_of(content_type))) {
        cJSON_Delete(r->file);
        r->file = NULL;
        close(r->file_fd);
        r->file_fd = -1;
        unlinkat(r->uploads_fd, path, 0);
        return 503;
    }
    cJSON_AddItemToArray(r->files, r->file);
    return 0;
}

static int file_data(void *ctx, const char *data, size_t len)
{
    struct form_reader *r = ctx;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(r->file_fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 503; /* disk full or failing: the form cannot be kept */
        done += (size_t)n;
    }
    r->file_size += len;
    return 0;
}

static int file_end(void *ctx)
{
    struct form_reader *r = ctx;
    int rc = close(r->file_fd);
    r->file_fd = -1;
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->file, "name"));
    if (r->file_size == 0 && name && !*name) {
        /* A file input left empty: browsers send a part with no name and no content. */
        const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->file, "path"));
        if (p)
            unlinkat(r->uploads_fd, p + 8, 0);
        cJSON_Delete(cJSON_DetachItemViaPointer(r->files, r->file));
    } else {
        cJSON_AddNumberToObject(r->file, "size", (double)r->file_size);
    }
    r->file = NULL;
    return rc == 0 ? 0 : 503;
}

int form_reader_new(struct form_reader **out, const struct request *req, const struct config *cfg,
                    int uploads_fd)
{
    *out = NULL;
    struct slice type = req->known[HDR_CONTENT_TYPE];
    bool has_body = req->chunked || (req->has_content_length && req->content_length > 0);
    enum form_kind kind = type.ptr ? form_classify(type) : FORM_OTHER;
    if (kind == FORM_OTHER && has_body)
        return 415;
    if (req->has_content_length && req->content_length > cfg->max_body_bytes)
        return 413;
    struct form_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return 503;
    r->kind = kind;
    r->max_body = cfg->max_body_bytes;
    r->uploads_fd = uploads_fd;
    r->file_fd = -1;
    buf_init(&r->body, NULL, 0, cfg->max_body_bytes);
    r->fields = cJSON_CreateObject();
    r->files = cJSON_CreateArray();
    if (!r->fields || !r->files) {
        form_reader_free(r);
        return 503;
    }
    if (kind == FORM_MULTIPART) {
        static const struct form_callbacks cb = {add_field, file_begin, file_data, file_end};
        const struct form_limits lim = {FORM_MAX_FIELDS, FORM_MAX_FIELD_BYTES, cfg->max_body_bytes,
                                        cfg->max_body_bytes};
        struct request_error err;
        r->mp = malloc(sizeof(*r->mp));
        if (!r->mp) {
            form_reader_free(r);
            return 503;
        }
        if (!multipart_init(r->mp, type, &lim, &cb, r, &err)) {
            free(r->mp);
            r->mp = NULL;
            form_reader_free(r);
            return err.status;
        }
    }
    *out = r;
    return 0;
}

int form_reader_feed(struct form_reader *r, const char *data, size_t len)
{
    r->fed += len;
    if (r->fed > r->max_body)
        return 413;
    if (r->kind == FORM_URLENCODED)
        return buf_append(&r->body, data, len) ? 0 : 413;
    if (r->kind == FORM_MULTIPART) {
        struct request_error err;
        if (multipart_feed(r->mp, data, len, &err) == MULTIPART_ERROR)
            return err.status;
        return 0;
    }
    return 0; /* an empty form of no type: nothing to keep */
}

int form_reader_end(struct form_reader *r)
{
    struct request_error err;
    if (r->kind == FORM_URLENCODED) {
        const struct form_limits lim = {FORM_MAX_FIELDS, FORM_MAX_FIELD_BYTES, 0, r->max_body};
        return urlencoded_parse(r->body.data, r->body.len, &lim, add_field, r, &err) ? 0
                                                                                     : err.status;
    }
    if (r->kind == FORM_MULTIPART && multipart_end(r->mp, &err) != MULTIPART_DONE)
        return err.status;
    return 0;
}

cJSON *form_reader_fields(struct form_reader *r)
{
    return r->fields;
}

cJSON *form_reader_files(struct form_reader *r)
{
    return r->files;
}

void form_reader_keep_files(struct form_reader *r)
{
    r->keep_files = true;
}

void form_reader_free(struct form_reader *r)
{
    if (!r)
        return;
    if (r->file_fd >= 0)
        close(r->file_fd);
    if (!r->keep_files && r->files) {
        /* Not stored: the uploads go too ("uploads/NAME" → NAME in the uploads folder). */
        cJSON *f;
        cJSON_ArrayForEach(f, r->files)
        {
            const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "path"));
            if (p && strncmp(p, "uploads/", 8) == 0)
                unlinkat(r->uploads_fd, p + 8, 0);
        }
    }
    if (r->mp) {
        multipart_free(r->mp);
        free(r->mp);
    }
    buf_free(&r->body);
    cJSON_Delete(r->fields);
    cJSON_Delete(r->files);
    free(r);
}
