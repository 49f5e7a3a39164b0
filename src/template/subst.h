/* SPDX-License-Identifier: MIT */
/*
 * Placeholder substitution: each {{name}} in a template is replaced by the HTML-escaped
 * value of the variable of that name (or nothing when there is none). This is all the
 * built-in status page needs; the Mustache engine (issue #5) will take its place behind
 * the same idea: a template, named values, output appended to a buffer.
 */
#ifndef MICA_TEMPLATE_SUBST_H
#define MICA_TEMPLATE_SUBST_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/slice.h"

struct subst_var {
    const char *name;
    const char *value;
};

/* Appends tmpl to out with every {{name}} replaced. Whitespace inside the braces is
 * ignored ("{{ name }}"). Returns false (out may hold part of the page) when out is full. */
bool subst_render(struct slice tmpl, const struct subst_var *vars, size_t n_vars, struct buf *out);

/* Appends s to out with & < > " ' escaped for HTML text and attribute values. */
bool subst_escape_html(struct buf *out, struct slice s);

#endif
