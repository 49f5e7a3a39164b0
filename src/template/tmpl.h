/* SPDX-License-Identifier: MIT */
/*
 * The Mustache template engine (https://mustache.github.io/mustache.5.html), passing every
 * case of the official spec's comments, delimiters, interpolation, inverted, partials and
 * sections files. Lambdas and template inheritance are not supported.
 *
 * A template is compiled once into a flat array of nodes (text, variable, section, end,
 * partial) and is immutable from then on, so one compiled template may be rendered by any
 * number of threads at once. Rendering walks that array with an explicit context stack and
 * appends to a struct buf; it allocates nothing. Nesting is bounded everywhere: sections
 * at compile time (TMPL_MAX_NESTING), partials and the context stack at render time
 * (TMPL_MAX_DEPTH, TMPL_MAX_CONTEXTS), so no input can make the engine recurse without end;
 * and the work of one render is bounded too (TMPL_MAX_STEPS).
 *
 * The data model is cJSON. How values behave:
 *   {{name}}      strings HTML-escaped (& < > " ' become &amp; &lt; &gt; &quot; &#39;);
 *                 numbers as integers when integral ("85"), otherwise in the shortest form
 *                 that reads back as the same double ("1.21"); true and false as words;
 *                 null, missing names, objects and arrays as nothing.
 *   {{{name}}} {{&name}}   the same, not escaped.
 *   {{a.b.c}}     "a" is looked up from the innermost context outwards; "b" and "c" only
 *                 inside what "a" named (a broken chain is missing, never looked up again).
 *   {{.}}         the current context itself.
 *   {{#name}}     false, null, a missing name, an empty array, "" and 0 are falsy (as in
 *                 JavaScript, the language JSON comes from): the section is skipped. A
 *                 non-empty array renders the section once per item with the item as the
 *                 context; any other value renders it once with that value as the context.
 *   {{^name}}     renders when {{#name}} would not.
 *   {{> name}}    a partial, asked of the caller's tmpl_partial_fn; it sees the current
 *                 context stack. A partial tag alone on its line indents every line of the
 *                 partial by the whitespace before the tag.
 *   {{=<% %>=}}   new delimiters until the end of this template (partials start with {{ }}).
 */
#ifndef MICA_TEMPLATE_TMPL_H
#define MICA_TEMPLATE_TMPL_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "util/buf.h"
#include "util/slice.h"

enum {
    TMPL_MAX_NESTING = 64,    /* sections open at once inside one template (compile error) */
    TMPL_MAX_DEPTH = 16,      /* partials rendering inside each other (render error) */
    TMPL_MAX_CONTEXTS = 256,  /* contexts pushed at once, over all partials (render error) */
    TMPL_MAX_DELIM = 16,      /* bytes in a delimiter set by {{=… …=}} */
    TMPL_MAX_STEPS = 1 << 24, /* nodes one render may visit: well under a second of work */
};

struct tmpl;

struct tmpl_error {
    unsigned line; /* 1-based line of the offending tag; 0 when no line is concerned */
    char msg[160]; /* one loggable line: `name:12: unclosed section "items"` */
};

/*
 * Compiles len bytes of src (not NUL-terminated; copied, so src may go right after the
 * call). name (may be NULL) is copied too: it names the template in error messages and is
 * returned by tmpl_name. Returns the compiled template, to be freed with tmpl_free, or NULL
 * with *err filled (err may be NULL) for: an unclosed tag or section, a closing tag that
 * does not match the open section or has none, an empty tag, a bad name ("a..b"), a bad
 * set-delimiter tag, sections nested deeper than TMPL_MAX_NESTING, a template inheritance
 * tag ({{<x}} {{$x}}), a template of 4 GiB or more, or no memory.
 */
struct tmpl *tmpl_compile(const char *src, size_t len, const char *name, struct tmpl_error *err);

/* Frees a compiled template (NULL is ignored). No render of it may be running. */
void tmpl_free(struct tmpl *t);

/* The name given to tmpl_compile ("" if none); owned by t. */
const char *tmpl_name(const struct tmpl *t);

/*
 * Finds the partial called `name` (a slice into the calling template, not NUL-terminated).
 * Returns a compiled template that must stay valid until tmpl_render returns, or NULL,
 * which renders as nothing (the spec's "failed lookup"). It may be called from several
 * threads at once when several renders share one ctx; cache.h has one over the cache.
 */
typedef const struct tmpl *tmpl_partial_fn(void *ctx, struct slice name);

/*
 * Renders t against data (NULL renders as an empty context) and appends the result to out.
 * partials (may be NULL: every partial is then empty) is called with ctx for each
 * {{> name}} reached. Returns 0, or a negative errno and leaves out as it was:
 *   -ENOSPC  out reached its max, or memory ran out;
 *   -ELOOP   partials nested deeper than TMPL_MAX_DEPTH (a partial that includes itself
 *            with no data to end it), or more than TMPL_MAX_CONTEXTS contexts at once;
 *   -E2BIG   more than TMPL_MAX_STEPS nodes visited (sections nested over big lists).
 * Allocates nothing beyond out's growth; safe to call concurrently on one t.
 */
int tmpl_render(const struct tmpl *t, const cJSON *data, tmpl_partial_fn *partials, void *ctx,
                struct buf *out);

#endif
