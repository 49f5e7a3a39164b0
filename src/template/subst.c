/* SPDX-License-Identifier: MIT */
/* {{name}} substitution; see subst.h. */
#include "template/subst.h"

#include <string.h>

bool subst_escape_html(struct buf *out, struct slice s)
{
    size_t start = 0;
    for (size_t i = 0; i < s.len; i++) {
        const char *rep;
        switch (s.ptr[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: continue;
        }
        if (!buf_append(out, s.ptr + start, i - start) || !buf_append_str(out, rep))
            return false;
        start = i + 1;
    }
    return buf_append(out, s.ptr + start, s.len - start);
}

static const char *lookup(const struct subst_var *vars, size_t n, struct slice name)
{
    for (size_t i = 0; i < n; i++)
        if (slice_eq(name, slice_str(vars[i].name)))
            return vars[i].value;
    return NULL;
}

bool subst_render(struct slice tmpl, const struct subst_var *vars, size_t n_vars, struct buf *out)
{
    const char *p = tmpl.ptr, *end = tmpl.ptr + tmpl.len;
    while (p < end) {
        const char *open = memmem(p, (size_t)(end - p), "{{", 2);
        if (!open)
            break;
        const char *close = memmem(open + 2, (size_t)(end - open - 2), "}}", 2);
        if (!close)
            break;
        if (!buf_append(out, p, (size_t)(open - p)))
            return false;
        struct slice name = slice_trim(slice_make(open + 2, (size_t)(close - open - 2)));
        const char *value = lookup(vars, n_vars, name);
        if (value && !subst_escape_html(out, slice_str(value)))
            return false;
        p = close + 2;
    }
    return buf_append(out, p, (size_t)(end - p));
}
