/* SPDX-License-Identifier: MIT */
/*
 * Reading a POSTed form as its body arrives: application/x-www-form-urlencoded is
 * gathered (bounded by max_body_bytes) and parsed at the end; multipart/form-data is
 * parsed as it streams, its file parts written straight to data_dir/uploads/ under names
 * of our own (never the client's), so no body is ever held whole in memory.
 *
 * The result: fields, a cJSON object of name → string (a repeated name → an array of
 * strings, in order), and files, a cJSON array of {field, name, size, path, type} (path
 * relative to data_dir). Uploaded files are deleted when the reader is freed unless
 * form_reader_keep_files() was called (the submission was stored).
 */
#ifndef MICA_HANDLERS_FORMREAD_H
#define MICA_HANDLERS_FORMREAD_H

#include <stdbool.h>

#include "core/config.h"
#include "http/request.h"

struct cJSON;
struct form_reader;

enum {
    FORM_MAX_FIELDS = 256,            /* fields and files in one form */
    FORM_MAX_FIELD_BYTES = 1 << 20,   /* one field's name or value (a long message fits) */
};

/*
 * A reader for req's body. uploads_fd: the uploads folder (data_dir/uploads), or -1 to
 * refuse file parts (413). Returns 0, or the status to answer: 415 for another content
 * type, 400 for a bad multipart boundary, 413 for a Content-Length over max_body_bytes,
 * 503 out of memory.
 */
int form_reader_new(struct form_reader **r, const struct request *req, const struct config *cfg,
                    int uploads_fd);

/* Feeds decoded body bytes. 0, or the status to answer (400 malformed, 413 over a limit). */
int form_reader_feed(struct form_reader *r, const char *data, size_t len);

/* The body is complete. 0, or the status to answer. */
int form_reader_end(struct form_reader *r);

/* Borrowed from the reader, valid until form_reader_free. */
struct cJSON *form_reader_fields(struct form_reader *r);
struct cJSON *form_reader_files(struct form_reader *r);

/* Keeps the uploaded files when the reader is freed. */
void form_reader_keep_files(struct form_reader *r);

void form_reader_free(struct form_reader *r);

#endif
