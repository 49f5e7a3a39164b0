/* SPDX-License-Identifier: MIT */
/*
 * Static files from the document root (SPEC §2): files with their type and validators,
 * index files and the default page for folders, the 301 to a folder's slash form, and the
 * custom 404 page.
 */
#ifndef MICA_HANDLERS_STATIC_H
#define MICA_HANDLERS_STATIC_H

#include "handlers/handler.h"

/* Serves env->rel (already normalised by the router). */
int static_handle(struct env *env, const struct request *req, struct response *resp);

/* A 404 with the body of not_found_page, or a built-in page when that file is missing. */
int static_not_found(struct env *env, struct response *resp);

#endif
