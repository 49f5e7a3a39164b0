/* SPDX-License-Identifier: MIT */
/*
 * The Mustache engine: a lexer and compiler that turn source into a flat node array, and a
 * renderer that walks it. See tmpl.h for the language as this engine implements it.
 *
 * Compiling. The lexer looks for the current open delimiter, reads the tag up to the close
 * delimiter ("}" + close for {{{…}}}, "=" + close for {{=…=}}), and decides whether the tag
 * is "standalone": a section, inverted, end, comment, partial or set-delimiter tag alone on
 * its line but for spaces and tabs. A standalone tag takes its whole line with it: the
 * whitespace before it is cut from the preceding text node and its line ending is skipped.
 * Each section node records the index of its end node and the end node that of its
 * section, so the renderer can skip or repeat a section without searching. Names are split
 * at their dots once, here; text and names are slices into the template's own copy of the
 * source.
 *
 * Rendering. The context stack is an array in a struct render on the C stack; a section
 * over an array keeps its current item in its stack entry and jumps back from the end node
 * until the items run out. A partial is rendered by a nested call, counted against
 * TMPL_MAX_DEPTH: that is the only recursion, and its depth does not come from the input.
 * Every node visited counts against TMPL_MAX_STEPS, so that loops nested over big lists
 * (whose cost multiplies) end in an error rather than hold a worker thread for minutes.
 *
 * Partial indentation. The spec indents every line of a standalone partial's *source* by
 * the tag's indentation, so text interpolated into the partial is not indented. Rather than
 * re-compile the partial per indentation, every node remembers whether it starts a source
 * line (bol), text nodes indent after their inner newlines, and the renderer writes the
 * indentation before such places. Nested standalone partials add their indentation to the
 * caller's; a partial tag inside a line resets it, as indenting the source would.
 */
#include "template/tmpl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MICA_SMALL_BUFFERS
enum { NODES_INITIAL = 1 }; /* the asan build takes every growth path */
#else
enum { NODES_INITIAL = 32 };
#endif

enum node_kind {
    NODE_TEXT,     /* text: literal bytes */
    NODE_VAR,      /* {{name}}: escaped value */
    NODE_RAW,      /* {{{name}}} {{&name}}: value as is */
    NODE_SECTION,  /* {{#name}}: jump is the end node */
    NODE_INVERTED, /* {{^name}}: jump is the end node */
    NODE_END,      /* {{/name}}: jump is the section or inverted node */
    NODE_PARTIAL,  /* {{>name}} */
};

struct node {
    enum node_kind kind;
    bool bol;            /* starts a source line: a partial's indentation goes before it */
    bool standalone;     /* partial alone on its line: its lines get `indent` */
    struct slice text;   /* TEXT: the bytes; other kinds: the name as written */
    struct slice indent; /* standalone PARTIAL: the whitespace before the tag */
    uint32_t first_part; /* VAR RAW SECTION INVERTED: index in tmpl.parts */
    uint32_t n_parts;    /* 0 for the implicit iterator "." */
    uint32_t jump;       /* see enum node_kind */
};

struct tmpl {
    char *src; /* the template's copy of the source: every slice points into it */
    char *name;
    struct node *nodes;
    uint32_t n_nodes;
    struct slice *parts; /* dotted names, split */
    uint32_t n_parts;
};

/* ---- compiling ---- */

struct compiler {
    const char *src; /* the tmpl's copy */
    size_t len;
    const char *name;
    struct tmpl *t;
    uint32_t nodes_cap, parts_cap;
    char open[TMPL_MAX_DELIM];
    size_t open_len;
    char close[TMPL_MAX_DELIM];
    size_t close_len;
    uint32_t open_sections[TMPL_MAX_NESTING]; /* node index of each open section */
    unsigned depth;
    struct tmpl_error *err;
};

struct tag {
    char sigil;        /* '#', '^', '/', '!', '>', '=', '{', '&', '<', '$', or 0 */
    size_t start, end; /* the whole tag, delimiters included */
    struct slice body; /* what is inside, sigil and surrounding whitespace removed */
};

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static struct slice trim(struct slice s)
{
    while (s.len > 0 && is_space(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && is_space(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

/* Copies s into out for an error message: clipped, control bytes shown as '?'. */
static const char *printable(char out[48], struct slice s)
{
    size_t n = s.len < 40 ? s.len : 40;
    for (size_t i = 0; i < n; i++) {
        const unsigned char ch = (unsigned char)s.ptr[i];
        out[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    if (n < s.len) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

static unsigned line_at(const struct compiler *c, size_t off)
{
    unsigned line = 1;
    for (size_t i = 0; i < off && i < c->len; i++)
        line += c->src[i] == '\n';
    return line;
}

__attribute__((format(printf, 3, 4))) static int fail(struct compiler *c, size_t off,
                                                      const char *fmt, ...)
{
    if (!c->err)
        return -1;
    char reason[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    c->err->line = line_at(c, off);
    if (c->name && c->name[0])
        snprintf(c->err->msg, sizeof(c->err->msg), "%s:%u: %s", c->name, c->err->line, reason);
    else
        snprintf(c->err->msg, sizeof(c->err->msg), "line %u: %s", c->err->line, reason);
    return -1;
}

static int fail_nomem(struct compiler *c)
{
    if (c->err) {
        c->err->line = 0;
        snprintf(c->err->msg, sizeof(c->err->msg), "%s: out of memory",
                 c->name && c->name[0] ? c->name : "template");
    }
    return -1;
}

/* Grows *array (of *cap elements of size each) so that one more fits after n. */
static bool grow(void **array, uint32_t *cap, uint32_t n, size_t size)
{
    if (n < *cap)
        return true;
    uint32_t new_cap = *cap ? *cap * 2 : NODES_INITIAL;
    if (new_cap <= n) /* only if the doubling overflowed: n is below the source length */
        return false;
    void *p = reallocarray(*array, new_cap, size);
    if (!p)
        return false;
    *array = p;
    *cap = new_cap;
    return true;
}

static int add_node(struct compiler *c, const struct node *n)
{
    struct tmpl *t = c->t;
    if (!grow((void **)&t->nodes, &c->nodes_cap, t->n_nodes, sizeof(*t->nodes)))
        return fail_nomem(c);
    t->nodes[t->n_nodes++] = *n;
    return 0;
}

static bool starts_line(const struct compiler *c, size_t off)
{
    return off == 0 || c->src[off - 1] == '\n';
}

static int add_text(struct compiler *c, size_t from, size_t to)
{
    if (to <= from)
        return 0;
    const struct node n = {
        .kind = NODE_TEXT,
        .bol = starts_line(c, from),
        .text = {c->src + from, to - from},
    };
    return add_node(c, &n);
}

static bool name_byte_ok(char ch)
{
    const unsigned char u = (unsigned char)ch;
    return u > 0x20 && u != 0x7f;
}

/* Splits a dotted name into c->t->parts; "." is the implicit iterator (no parts). */
static int add_parts(struct compiler *c, const struct tag *tag, struct node *n)
{
    struct tmpl *t = c->t;
    n->first_part = t->n_parts;
    n->n_parts = 0;
    if (tag->body.len == 1 && tag->body.ptr[0] == '.')
        return 0;
    const char *p = tag->body.ptr, *end = p + tag->body.len;
    while (true) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        const char *part_end = dot ? dot : end;
        bool ok = part_end > p;
        for (const char *q = p; ok && q < part_end; q++)
            ok = name_byte_ok(*q);
        if (!ok) {
            char shown[48];
            return fail(c, tag->start, "bad name \"%s\"", printable(shown, tag->body));
        }
        if (!grow((void **)&t->parts, &c->parts_cap, t->n_parts, sizeof(*t->parts)))
            return fail_nomem(c);
        t->parts[t->n_parts++] = (struct slice){p, (size_t)(part_end - p)};
        n->n_parts++;
        if (!dot)
            return 0;
        p = dot + 1;
    }
}

/* Reads the tag whose open delimiter starts at `start`. */
static int lex_tag(struct compiler *c, size_t start, struct tag *tag)
{
    size_t p = start + c->open_len;
    while (p < c->len && is_space(c->src[p]))
        p++;
    *tag = (struct tag){.start = start};
    if (p < c->len && c->src[p] != '\0' && strchr("#^/!>={&<$", c->src[p]))
        tag->sigil = c->src[p++];

    /* {{{name}}} ends with "}}}" and {{=a b=}} with "=}}": the extra byte is part of the
     * closing sequence, so a "}}" inside "{{=[ }} ]=}}" cannot end the tag early. */
    char needle[TMPL_MAX_DELIM + 1];
    size_t needle_len = 0;
    if (tag->sigil == '{' || tag->sigil == '=')
        needle[needle_len++] = tag->sigil == '{' ? '}' : '=';
    memcpy(needle + needle_len, c->close, c->close_len);
    needle_len += c->close_len;

    const char *found = memmem(c->src + p, c->len - p, needle, needle_len);
    if (!found)
        return fail(c, start, "unclosed tag");
    const size_t body_end = (size_t)(found - c->src);
    tag->body = trim((struct slice){c->src + p, body_end - p});
    tag->end = body_end + needle_len;
    return 0;
}

/*
 * Whether the tag is alone on its line: only spaces and tabs between the line's start and
 * the tag (text_start is where the text before it began, right after the previous tag or
 * the previous standalone line) and between the tag and the line's end ("\n", "\r\n" or the
 * end of the template). If so, *cut is where that line's whitespace starts and *next is
 * the start of the following line.
 */
static bool standalone(const struct compiler *c, size_t text_start, const struct tag *tag,
                       size_t *cut, size_t *next)
{
    size_t b = tag->start;
    while (b > text_start && (c->src[b - 1] == ' ' || c->src[b - 1] == '\t'))
        b--;
    if (!starts_line(c, b))
        return false;
    size_t e = tag->end;
    while (e < c->len && (c->src[e] == ' ' || c->src[e] == '\t'))
        e++;
    if (e < c->len && c->src[e] == '\n')
        e++;
    else if (e + 1 < c->len && c->src[e] == '\r' && c->src[e + 1] == '\n')
        e += 2;
    else if (e < c->len)
        return false;
    *cut = b;
    *next = e;
    return true;
}

/* {{=<% %>=}}: two words without '=' of 1..TMPL_MAX_DELIM bytes, separated by whitespace. */
static int set_delimiters(struct compiler *c, const struct tag *tag)
{
    const char *p = tag->body.ptr, *end = p + tag->body.len;
    const char *open = p;
    while (p < end && !is_space(*p) && *p != '=')
        p++;
    const size_t open_len = (size_t)(p - open);
    const char *gap = p;
    while (p < end && is_space(*p))
        p++;
    const char *close = p;
    while (p < end && !is_space(*p) && *p != '=')
        p++;
    const size_t close_len = (size_t)(p - close);
    if (p != end || gap == close || open_len == 0 || close_len == 0 || open_len > TMPL_MAX_DELIM ||
        close_len > TMPL_MAX_DELIM) {
        return fail(c, tag->start,
                    "bad set-delimiter tag (want two delimiters of 1 to %d bytes, without "
                    "'=' or spaces)",
                    TMPL_MAX_DELIM);
    }
    memcpy(c->open, open, open_len);
    c->open_len = open_len;
    memcpy(c->close, close, close_len);
    c->close_len = close_len;
    return 0;
}

static int open_section(struct compiler *c, const struct tag *tag)
{
    if (c->depth == TMPL_MAX_NESTING)
        return fail(c, tag->start, "sections nested deeper than %d", TMPL_MAX_NESTING);
    struct node n = {
        .kind = tag->sigil == '#' ? NODE_SECTION : NODE_INVERTED,
        .text = tag->body,
    };
    if (add_parts(c, tag, &n) != 0)
        return -1;
    c->open_sections[c->depth++] = c->t->n_nodes;
    return add_node(c, &n);
}

static int close_section(struct compiler *c, const struct tag *tag, bool bol)
{
    char shown[48], shown2[48];
    if (c->depth == 0) {
        return fail(c, tag->start, "closing tag \"%s\" without an open section",
                    printable(shown, tag->body));
    }
    const uint32_t opener = c->open_sections[c->depth - 1];
    struct node *o = &c->t->nodes[opener];
    if (!slice_eq(o->text, tag->body)) {
        return fail(c, tag->start, "closing tag \"%s\" does not match section \"%s\" (line %u)",
                    printable(shown, tag->body), printable(shown2, o->text),
                    line_at(c, (size_t)(o->text.ptr - c->src)));
    }
    c->depth--;
    o->jump = c->t->n_nodes;
    const struct node n = {.kind = NODE_END, .bol = bol, .text = tag->body, .jump = opener};
    return add_node(c, &n);
}

static int add_tag(struct compiler *c, const struct tag *tag, bool alone, size_t cut)
{
    char shown[48];
    const bool bol = !alone && starts_line(c, tag->start);
    if (tag->sigil == '!')
        return 0;
    if (tag->sigil == '=')
        return set_delimiters(c, tag);
    if (tag->sigil == '<' || tag->sigil == '$')
        return fail(c, tag->start, "template inheritance ({{%c…}}) is not supported", tag->sigil);
    if (tag->body.len == 0)
        return fail(c, tag->start, "empty tag");
    switch (tag->sigil) {
    case '#':
    case '^':
        return open_section(c, tag);
    case '/':
        return close_section(c, tag, bol);
    case '>': {
        for (size_t i = 0; i < tag->body.len; i++)
            if (!name_byte_ok(tag->body.ptr[i]))
                return fail(c, tag->start, "bad partial name \"%s\"", printable(shown, tag->body));
        const struct node n = {
            .kind = NODE_PARTIAL,
            .bol = bol,
            .standalone = alone,
            .text = tag->body,
            .indent =
                alone ? (struct slice){c->src + cut, tag->start - cut} : (struct slice){NULL, 0},
        };
        return add_node(c, &n);
    }
    default: {
        struct node n = {
            .kind = tag->sigil == 0 ? NODE_VAR : NODE_RAW,
            .bol = bol,
            .text = tag->body,
        };
        if (add_parts(c, tag, &n) != 0)
            return -1;
        return add_node(c, &n);
    }
    }
}

static bool may_stand_alone(char sigil)
{
    return sigil != 0 && strchr("#^/!>=", sigil);
}

static int compile_nodes(struct compiler *c)
{
    size_t pos = 0;
    while (pos < c->len) {
        const char *open = memmem(c->src + pos, c->len - pos, c->open, c->open_len);
        if (!open)
            return add_text(c, pos, c->len);
        struct tag tag;
        if (lex_tag(c, (size_t)(open - c->src), &tag) != 0)
            return -1;
        size_t cut = tag.start, next = tag.end;
        const bool alone = may_stand_alone(tag.sigil) && standalone(c, pos, &tag, &cut, &next);
        if (add_text(c, pos, cut) != 0 || add_tag(c, &tag, alone, cut) != 0)
            return -1;
        pos = next;
    }
    return 0;
}

struct tmpl *tmpl_compile(const char *src, size_t len, const char *name, struct tmpl_error *err)
{
    struct compiler c = {.len = len, .name = name, .err = err, .open_len = 2, .close_len = 2};
    memcpy(c.open, "{{", 2);
    memcpy(c.close, "}}", 2);
    if (err) {
        err->line = 0;
        err->msg[0] = '\0';
    }
    if (len >= UINT32_MAX) {
        /* Node and part counts are 32-bit; each needs at least one source byte. */
        c.src = "";
        c.len = 0;
        fail(&c, 0, "template of 4 GiB or more");
        return NULL;
    }
    struct tmpl *t = calloc(1, sizeof(*t));
    if (!t)
        goto nomem;
    c.t = t;
    /* Exactly len bytes and no NUL: the lexer must never look past the end. */
    t->src = malloc(len ? len : 1);
    t->name = strdup(name ? name : "");
    if (!t->src || !t->name)
        goto nomem;
    if (len)
        memcpy(t->src, src, len);
    c.src = t->src;
    if (compile_nodes(&c) != 0)
        goto fail;
    if (c.depth > 0) {
        char shown[48];
        const struct node *o = &t->nodes[c.open_sections[c.depth - 1]];
        fail(&c, (size_t)(o->text.ptr - c.src), "unclosed section \"%s\"",
             printable(shown, o->text));
        goto fail;
    }
    return t;
nomem:
    fail_nomem(&c);
fail:
    tmpl_free(t);
    return NULL;
}

void tmpl_free(struct tmpl *t)
{
    if (!t)
        return;
    free(t->parts);
    free(t->nodes);
    free(t->name);
    free(t->src);
    free(t);
}

const char *tmpl_name(const struct tmpl *t)
{
    return t->name;
}

/* ---- rendering ---- */

struct frame {
    const cJSON *value;
    bool is_item; /* value is the current item of a section over an array */
};

struct render {
    struct buf *out;
    tmpl_partial_fn *partials;
    void *ctx;
    size_t steps_left; /* node visits before the render gives up */
    unsigned depth;    /* partials being rendered */
    unsigned n;        /* frames in use */
    struct frame stack[TMPL_MAX_CONTEXTS];
    /* Indentation of the standalone partials being rendered; each level uses a window. */
    struct slice indents[TMPL_MAX_DEPTH + 1];
};

/* The window of indents[] that applies to the template being rendered. */
struct indent {
    unsigned lo, hi;
};

/*
 * A value's JSON type (cJSON_Object, cJSON_String …; the flags above the low byte are not
 * types). The cJSON_Is* functions do the same but are calls into the shared library, and
 * type tests are most of what the render loop does.
 */
static inline int type_of(const cJSON *v)
{
    return v ? v->type & 0xff : cJSON_Invalid;
}

static bool key_is(const char *key, struct slice name)
{
    /* key is NUL-terminated, name is not; stop at either end. */
    size_t i = 0;
    while (i < name.len && key[i] != '\0' && key[i] == name.ptr[i])
        i++;
    return i == name.len && key[i] == '\0';
}

static const cJSON *member(const cJSON *obj, struct slice name)
{
    if (type_of(obj) != cJSON_Object)
        return NULL;
    for (const cJSON *m = obj->child; m; m = m->next)
        if (m->string && key_is(m->string, name))
            return m;
    return NULL;
}

/* The spec's name resolution: the first part up the stack, the rest inside what it found. */
static const cJSON *resolve(const struct render *r, const struct tmpl *t, const struct node *n)
{
    if (n->n_parts == 0)
        return r->stack[r->n - 1].value;
    const struct slice *parts = t->parts + n->first_part;
    const cJSON *v = NULL;
    for (unsigned i = r->n; i-- > 0 && !v;)
        v = member(r->stack[i].value, parts[0]);
    for (uint32_t i = 1; i < n->n_parts && v; i++)
        v = member(v, parts[i]);
    return v;
}

static bool truthy(const cJSON *v)
{
    switch (type_of(v)) {
    case cJSON_True:
    case cJSON_Object:
    case cJSON_Raw:
        return true;
    case cJSON_Array:
        return v->child != NULL;
    case cJSON_String:
        return v->valuestring && v->valuestring[0];
    case cJSON_Number:
        return v->valuedouble < 0 || v->valuedouble > 0; /* 0 and NaN are falsy */
    default:
        return false; /* missing, invalid, false, null */
    }
}

/* The replacement for each byte that can end or change HTML text or an attribute value. */
static const struct slice html_escapes[256] = {
    ['&'] = SLICE_LIT("&amp;"),  ['<'] = SLICE_LIT("&lt;"),   ['>'] = SLICE_LIT("&gt;"),
    ['"'] = SLICE_LIT("&quot;"), ['\''] = SLICE_LIT("&#39;"),
};

/* Appends the NUL-terminated s with those bytes replaced. */
static bool append_escaped(struct buf *out, const char *s)
{
    const char *run = s;
    for (;; s++) {
        const struct slice rep = html_escapes[(unsigned char)*s];
        if (rep.len == 0 && *s != '\0')
            continue;
        if (!buf_append(out, run, (size_t)(s - run)))
            return false;
        if (*s == '\0')
            return true;
        if (!buf_append_slice(out, rep))
            return false;
        run = s + 1;
    }
}

/*
 * Integers without a fraction; other numbers in the shortest "%g" form that reads back as
 * the same double, so 1.21 prints as "1.21", not "1.2100000000000000".
 */
static bool append_number(struct buf *out, double d)
{
    if (d > -1e18 && d < 1e18 && (double)(long long)d == d) {
        const long long n = (long long)d;
        if (n < 0 && !buf_append(out, "-", 1))
            return false;
        return buf_append_u64(out, n < 0 ? (unsigned long long)-n : (unsigned long long)n);
    }
    char text[40];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(text, sizeof(text), "%.*g", prec, d);
        if (strtod(text, NULL) == d)
            break;
    }
    return n <= 0 || buf_append(out, text, (size_t)n);
}

static bool append_value(struct buf *out, const cJSON *v, bool escape)
{
    switch (type_of(v)) {
    case cJSON_String:
    case cJSON_Raw: {
        const char *s = v->valuestring ? v->valuestring : "";
        return escape ? append_escaped(out, s) : buf_append_str(out, s);
    }
    case cJSON_Number:
        return append_number(out, v->valuedouble); /* nothing to escape */
    case cJSON_True:
        return buf_append(out, "true", 4);
    case cJSON_False:
        return buf_append(out, "false", 5);
    default:
        return true; /* missing, null, objects and arrays render as nothing */
    }
}

static bool append_indent(struct render *r, struct indent ind)
{
    for (unsigned i = ind.lo; i < ind.hi; i++)
        if (!buf_append_slice(r->out, r->indents[i]))
            return false;
    return true;
}

/* Text, indented after each inner newline when a standalone partial asks for it. */
static bool append_text(struct render *r, struct slice text, struct indent ind)
{
    if (ind.lo == ind.hi)
        return buf_append_slice(r->out, text);
    const char *p = text.ptr, *end = text.ptr + text.len;
    const char *nl;
    while ((nl = memchr(p, '\n', (size_t)(end - p))) && nl + 1 < end) {
        if (!buf_append(r->out, p, (size_t)(nl + 1 - p)) || !append_indent(r, ind))
            return false;
        p = nl + 1;
    }
    return buf_append(r->out, p, (size_t)(end - p));
}

static int render_nodes(struct render *r, const struct tmpl *t, struct indent ind);

static int render_partial(struct render *r, const struct node *n, struct indent ind)
{
    if (!r->partials)
        return 0;
    if (r->depth == TMPL_MAX_DEPTH)
        return -ELOOP;
    const struct tmpl *p = r->partials(r->ctx, n->text);
    if (!p)
        return 0;
    /* A standalone partial is indented by its caller's indentation plus its own; one
     * inside a line is not indented at all. depth < TMPL_MAX_DEPTH bounds ind.hi. */
    struct indent inner = {ind.hi, ind.hi};
    if (n->standalone) {
        r->indents[ind.hi] = n->indent;
        inner = (struct indent){ind.lo, ind.hi + 1};
    }
    r->depth++;
    const int rc = render_nodes(r, p, inner);
    r->depth--;
    return rc;
}

/* The end of a section: the next item of its array, or the node after the end. */
static uint32_t end_section(struct render *r, const struct tmpl *t, uint32_t i)
{
    const struct node *n = &t->nodes[i];
    if (t->nodes[n->jump].kind == NODE_INVERTED)
        return i + 1;
    struct frame *top = &r->stack[r->n - 1];
    if (top->is_item && top->value->next) {
        top->value = top->value->next;
        return n->jump + 1;
    }
    r->n--;
    return i + 1;
}

static int render_nodes(struct render *r, const struct tmpl *t, struct indent ind)
{
    uint32_t i = 0;
    while (i < t->n_nodes) {
        if (r->steps_left-- == 0)
            return -E2BIG;
        const struct node *n = &t->nodes[i];
        if (n->bol && ind.lo < ind.hi && !append_indent(r, ind))
            return -ENOSPC;
        switch (n->kind) {
        case NODE_TEXT:
            if (!append_text(r, n->text, ind))
                return -ENOSPC;
            i++;
            break;
        case NODE_VAR:
        case NODE_RAW:
            if (!append_value(r->out, resolve(r, t, n), n->kind == NODE_VAR))
                return -ENOSPC;
            i++;
            break;
        case NODE_SECTION: {
            const cJSON *v = resolve(r, t, n);
            if (!truthy(v)) {
                i = n->jump + 1;
                break;
            }
            if (r->n == TMPL_MAX_CONTEXTS)
                return -ELOOP;
            const bool is_list = type_of(v) == cJSON_Array;
            r->stack[r->n++] = (struct frame){is_list ? v->child : v, is_list};
            i++;
            break;
        }
        case NODE_INVERTED:
            i = truthy(resolve(r, t, n)) ? n->jump + 1 : i + 1;
            break;
        case NODE_END:
            i = end_section(r, t, i);
            break;
        case NODE_PARTIAL: {
            const int rc = render_partial(r, n, ind);
            if (rc != 0)
                return rc;
            i++;
            break;
        }
        }
    }
    return 0;
}

int tmpl_render(const struct tmpl *t, const cJSON *data, tmpl_partial_fn *partials, void *ctx,
                struct buf *out)
{
    static const cJSON empty = {.type = cJSON_Object};
    struct render r = {
        .out = out, .partials = partials, .ctx = ctx, .steps_left = TMPL_MAX_STEPS, .n = 1};
    r.stack[0] = (struct frame){data ? data : &empty, false};
    const size_t len_before = out->len;
    const int rc = render_nodes(&r, t, (struct indent){0, 0});
    if (rc != 0)
        out->len = len_before;
    return rc;
}
