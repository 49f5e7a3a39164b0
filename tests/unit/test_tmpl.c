/* SPDX-License-Identifier: MIT */
/*
 * Tests for template/: the Mustache engine and its cache.
 *
 * - The official spec, read at run time from $MUSTACHE_SPEC_DIR (default
 *   tests/data/mustache-spec, a copy of the official spec files with their LICENSE and COMMIT,
 *   relative to the repository root where `make test` runs):
 *   every case of every *.json file must pass, and each is rendered again into buffers too
 *   small for it, which must fail with -ENOSPC and leave the buffer as it was.
 * - Our own cases in the same shape (template, data, partials, expected): escaping,
 *   numbers, truthiness, delimiters, nested partial indentation.
 * - Compile errors with their line and message; the nesting, partial depth and context
 *   limits; a big list.
 * - The cache in a temporary directory: one compile per version, recompiling after a
 *   change once the check period has passed, deleted and broken files, hostile names,
 *   partials through the cache, and four threads getting while the file changes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "template/cache.h"
#include "template/tmpl.h"
#include "util/buf.h"

/* ---- rendering a case: template, data, partials, expected ---- */

enum { MAX_CASE_PARTIALS = 8 };

/* Partials compiled from a JSON object of name → source. */
struct partial_set {
    unsigned n;
    const char *names[MAX_CASE_PARTIALS];
    struct tmpl *tmpls[MAX_CASE_PARTIALS];
};

static const struct tmpl *partial_set_find(void *ctx, struct slice name)
{
    const struct partial_set *set = ctx;
    for (unsigned i = 0; i < set->n; i++)
        if (slice_eq(name, slice_str(set->names[i])))
            return set->tmpls[i];
    return NULL;
}

static void partial_set_free(struct partial_set *set)
{
    for (unsigned i = 0; i < set->n; i++)
        tmpl_free(set->tmpls[i]);
    set->n = 0;
}

/* Compiles every partial of `partials` (may be NULL); false (with a message) on failure. */
static bool partial_set_compile(struct partial_set *set, const cJSON *partials, const char *what)
{
    set->n = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, partials)
    {
        if (set->n == MAX_CASE_PARTIALS || !cJSON_IsString(p)) {
            print_error("%s: too many partials or not a string\n", what);
            return false;
        }
        struct tmpl_error err;
        struct tmpl *t = tmpl_compile(p->valuestring, strlen(p->valuestring), p->string, &err);
        if (!t) {
            print_error("%s: partial %s: %s\n", what, p->string, err.msg);
            return false;
        }
        set->names[set->n] = p->string;
        set->tmpls[set->n++] = t;
    }
    return true;
}

/*
 * Compiles and renders one case and compares with expected; on a mismatch prints `what`
 * (the case's name and description) with what came out. Also renders into every smaller
 * limited buffer, which must fail with -ENOSPC and keep its previous contents.
 */
static bool run_case(const char *what, const char *source, const cJSON *data, const cJSON *partials,
                     const char *expected)
{
    struct partial_set set;
    bool ok = partial_set_compile(&set, partials, what);
    struct tmpl_error err;
    struct tmpl *t = ok ? tmpl_compile(source, strlen(source), "case", &err) : NULL;
    if (ok && !t) {
        print_error("%s\n  compile error: %s\n", what, err.msg);
        ok = false;
    }
    struct buf out;
    buf_init(&out, NULL, 0, 0);
    if (ok) {
        const int rc = tmpl_render(t, data, partial_set_find, &set, &out);
        const size_t want_len = strlen(expected);
        if (rc != 0 || out.len != want_len ||
            (want_len > 0 && memcmp(out.data, expected, want_len) != 0)) {
            print_error("%s\n  rc:       %d\n  got:      \"%.*s\"\n  expected: \"%s\"\n", what, rc,
                        (int)out.len, out.data ? out.data : "", expected);
            ok = false;
        }
        /* max 0 means "no limit", so the smallest limit tried is 1 byte. */
        for (size_t max = 1; ok && max < want_len; max++) {
            struct buf small;
            buf_init(&small, NULL, 0, max);
            const int small_rc = tmpl_render(t, data, partial_set_find, &set, &small);
            if (small_rc != -ENOSPC || small.len != 0) {
                print_error("%s\n  into %zu bytes: rc %d, len %zu\n", what, max, small_rc,
                            small.len);
                ok = false;
            }
            buf_free(&small);
        }
    }
    buf_free(&out);
    tmpl_free(t);
    partial_set_free(&set);
    return ok;
}

/* ---- the official spec ---- */

static const char *spec_dir(void)
{
    const char *dir = getenv("MUSTACHE_SPEC_DIR");
    return dir && dir[0] ? dir : "tests/data/mustache-spec";
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    char chunk[4096];
    size_t n;
    while (mem && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, mem);
    if (mem)
        fclose(mem);
    fclose(f);
    return text;
}

static int is_json(const struct dirent *e)
{
    const size_t len = strlen(e->d_name);
    return len > 5 && strcmp(e->d_name + len - 5, ".json") == 0 && e->d_name[0] != '~';
}

static void test_spec(void **state)
{
    (void)state;
    struct dirent **files;
    const int n_files = scandir(spec_dir(), &files, is_json, alphasort);
    if (n_files <= 0)
        fail_msg("no spec files in %s (set MUSTACHE_SPEC_DIR)", spec_dir());
    unsigned passed = 0, failed = 0;
    for (int i = 0; i < n_files; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", spec_dir(), files[i]->d_name);
        char *text = read_text(path);
        cJSON *doc = text ? cJSON_Parse(text) : NULL;
        if (!doc)
            fail_msg("cannot read or parse %s", path);
        const cJSON *tc;
        cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(doc, "tests"))
        {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(tc, "name");
            const cJSON *desc = cJSON_GetObjectItemCaseSensitive(tc, "desc");
            const cJSON *source = cJSON_GetObjectItemCaseSensitive(tc, "template");
            const cJSON *expected = cJSON_GetObjectItemCaseSensitive(tc, "expected");
            char what[512];
            snprintf(what, sizeof(what), "%s: %s — %s", files[i]->d_name,
                     cJSON_GetStringValue(name), cJSON_GetStringValue(desc));
            if (cJSON_IsString(source) && cJSON_IsString(expected) &&
                run_case(what, source->valuestring, cJSON_GetObjectItemCaseSensitive(tc, "data"),
                         cJSON_GetObjectItemCaseSensitive(tc, "partials"), expected->valuestring))
                passed++;
            else
                failed++;
        }
        cJSON_Delete(doc);
        free(text);
        free(files[i]);
    }
    free(files);
    print_message("mustache spec: %u cases passed, %u failed\n", passed, failed);
    assert_int_equal(failed, 0);
    assert_int_equal(passed, 136);
}

/* ---- our own cases ---- */

/* Delimiters of TMPL_MAX_DELIM bytes. */
#define D16_OPEN "<<<<<<<<<<<<<<<<"
#define D16_CLOSE ">>>>>>>>>>>>>>>>"

struct own_case {
    const char *desc;
    const char *source;
    const char *data;     /* JSON */
    const char *partials; /* JSON object name → source, or NULL */
    const char *expected;
};

static const struct own_case own_cases[] = {
    /* Escaping. */
    {"all five HTML characters", "{{s}}", "{\"s\":\"<a href='x'>&\\\"</a>\"}", NULL,
     "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"},
    {"raw forms keep the characters", "{{{s}}}|{{&s}}", "{\"s\":\"<'&\\\">\"}", NULL,
     "<'&\">|<'&\">"},
    {"UTF-8 passes through", "{{s}} ✓", "{\"s\":\"é—日本\"}", NULL, "é—日本 ✓"},
    {"an escaped value next to text", "a{{s}}b", "{\"s\":\"&&\"}", NULL, "a&amp;&amp;b"},
    /* Values. */
    {"zero", "{{n}}", "{\"n\":0}", NULL, "0"},
    {"negative integer", "{{n}}", "{\"n\":-3}", NULL, "-3"},
    {"negative zero", "{{n}}", "{\"n\":-0.0}", NULL, "0"},
    {"a tenth", "{{n}}", "{\"n\":0.1}", NULL, "0.1"},
    {"a third needs 16 digits", "{{n}}", "{\"n\":0.3333333333333333}", NULL, "0.3333333333333333"},
    {"large integer", "{{n}}", "{\"n\":123456789012345}", NULL, "123456789012345"},
    {"2^53 + 1 reads as 2^53", "{{n}}", "{\"n\":9007199254740993}", NULL, "9007199254740992"},
    {"negative 2^53 + 1", "{{n}}", "{\"n\":-9007199254740993}", NULL, "-9007199254740992"},
    {"10^18 in exponent form", "{{n}}", "{\"n\":1000000000000000000}", NULL, "1e+18"},
    {"beyond int64", "{{n}}", "{\"n\":1e21}", NULL, "1e+21"},
    {"tiny", "{{n}}", "{\"n\":-2.5e-300}", NULL, "-2.5e-300"},
    {"booleans as words", "{{t}} {{f}}", "{\"t\":true,\"f\":false}", NULL, "true false"},
    {"objects and arrays render as nothing", "[{{o}}{{a}}]", "{\"o\":{\"x\":1},\"a\":[1]}", NULL,
     "[]"},
    {"no data at all", "[{{x}}{{#x}}y{{/x}}{{^x}}n{{/x}}]", "null", NULL, "[n]"},
    /* Truthiness. */
    {"empty string is falsy", "{{#s}}y{{/s}}{{^s}}n{{/s}}", "{\"s\":\"\"}", NULL, "n"},
    {"0 is falsy", "{{#s}}y{{/s}}{{^s}}n{{/s}}", "{\"s\":0}", NULL, "n"},
    {"\"0\" is truthy", "{{#s}}y{{/s}}{{^s}}n{{/s}}", "{\"s\":\"0\"}", NULL, "y"},
    {"0.5 is truthy", "{{#s}}y{{/s}}{{^s}}n{{/s}}", "{\"s\":0.5}", NULL, "y"},
    {"empty object is truthy", "{{#s}}y{{/s}}{{^s}}n{{/s}}", "{\"s\":{}}", NULL, "y"},
    {"a list of false is truthy", "{{#s}}y{{/s}}{{^s}}n{{/s}}", "{\"s\":[false]}", NULL, "y"},
    {"null items are iterated", "{{#l}}({{.}}){{/l}}", "{\"l\":[null,1,\"a\"]}", NULL, "()(1)(a)"},
    /* Contexts. */
    {"items see the root", "{{#items}}{{name}}/{{title}};{{/items}}",
     "{\"title\":\"T\",\"items\":[{\"name\":\"a\"},{\"name\":\"b\",\"title\":\"U\"}]}", NULL,
     "a/T;b/U;"},
    {"lists of lists", "{{#l}}[{{#.}}{{.}}{{/.}}]{{/l}}", "{\"l\":[[1,2],[],[3]]}", NULL,
     "[12][][3]"},
    {"the same list twice, nested", "{{#l}}{{#l}}{{.}}{{/l}}|{{/l}}", "{\"l\":[1,2]}", NULL,
     "12|12|"},
    {"dotted section then lookup", "{{#a.b}}{{c}}{{/a.b}}", "{\"a\":{\"b\":{\"c\":\"x\"}}}", NULL,
     "x"},
    {"array members are not names", "[{{a.0}}]", "{\"a\":[1]}", NULL, "[]"},
    /* Delimiters. */
    {"custom delimiters, triple form", "{{=<% %>=}}<%{s}%><%&s%><%s%>", "{\"s\":\"&\"}", NULL,
     "&&&amp;"},
    {"one-byte delimiters", "{{=| |=}}|#a||.||/a|", "{\"a\":[1,2]}", NULL, "12"},
    {"sixteen-byte delimiters", "{{=" D16_OPEN " " D16_CLOSE "=}}" D16_OPEN "s" D16_CLOSE,
     "{\"s\":1}", NULL, "1"},
    {"back to the default", "{{=[ ]=}}[s][={{ }}=]{{s}}", "{\"s\":2}", NULL, "22"},
    {"a lone brace is text", "{ {s} }}{{s}}", "{\"s\":3}", NULL, "{ {s} }}3"},
    /* Standalone lines. */
    {"tabs around a standalone tag", "a\n\t {{#b}} \t\nc\n{{/b}}\n", "{\"b\":true}", NULL,
     "a\nc\n"},
    {"two tags on a line are not standalone", "a\n{{#b}}{{/b}}\nc", "{\"b\":true}", NULL, "a\n\nc"},
    {"a lone \\r is not a line end", "{{#b}}\rx{{/b}}", "{\"b\":true}", NULL, "\rx"},
    /* Partials. */
    {"nested standalone partials add indentation", "  {{>a}}\n", "{}",
     "{\"a\":\"x\\n  {{>b}}\\ny\\n\",\"b\":\"1\\n2\\n\"}", "  x\n    1\n    2\n  y\n"},
    {"an inline partial inside an indented one is not indented", "  {{>a}}\n", "{}",
     "{\"a\":\"x {{>b}}\\n\",\"b\":\"1\\n2\"}", "  x 1\n2\n"},
    {"standalone sections inside an indented partial", " {{>a}}", "{\"l\":[1,2]}",
     "{\"a\":\"{{#l}}\\n- {{.}}\\n{{/l}}\\n\"}", " - 1\n - 2\n"},
    {"values are not indented", "  {{>a}}\n", "{\"v\":\"p\\nq\"}", "{\"a\":\"<{{v}}>\\n\"}",
     "  <p\nq>\n"},
    {"blank lines inside a partial are indented", "  {{>a}}\n", "{}", "{\"a\":\"x\\n\\ny\\n\"}",
     "  x\n  \n  y\n"},
    {"a partial after text on its line is not indented", "> {{>a}}\n", "{}", "{\"a\":\"x\\ny\"}",
     "> x\ny\n"},
    {"a partial sees the section's context", "{{#o}}{{>p}}{{/o}}", "{\"o\":{\"v\":7}}",
     "{\"p\":\"{{v}}\"}", "7"},
    {"a partial keeps its own delimiters", "{{=| |=}}|>p||v|", "{\"v\":1}", "{\"p\":\"{{v}}\"}",
     "11"},
    {"missing partial inside a line", "a{{>nope}}b", "{}", "{}", "ab"},
};

static void test_own_cases(void **state)
{
    (void)state;
    unsigned failed = 0;
    for (size_t i = 0; i < sizeof(own_cases) / sizeof(own_cases[0]); i++) {
        const struct own_case *oc = &own_cases[i];
        cJSON *data = cJSON_Parse(oc->data);
        cJSON *partials = oc->partials ? cJSON_Parse(oc->partials) : NULL;
        assert_non_null(data);
        if (oc->partials)
            assert_non_null(partials);
        if (!run_case(oc->desc, oc->source, data, partials, oc->expected))
            failed++;
        cJSON_Delete(partials);
        cJSON_Delete(data);
    }
    print_message("own cases: %zu\n", sizeof(own_cases) / sizeof(own_cases[0]));
    assert_int_equal(failed, 0);
}

/* ---- compile errors ---- */

struct error_case {
    const char *desc;
    const char *source;
    unsigned line;
    const char *msg; /* the whole message, for a template named "t.html" */
};

static const struct error_case error_cases[] = {
    {"unclosed section", "a\n{{#items}}\nb", 2, "t.html:2: unclosed section \"items\""},
    {"unclosed inner section", "{{#a}}\n{{^b}}\n{{/b}}\n{{#c}}", 4,
     "t.html:4: unclosed section \"c\""},
    {"mismatched closing tag", "{{#a}}\n{{/b}}", 2,
     "t.html:2: closing tag \"b\" does not match section \"a\" (line 1)"},
    {"inner section closed by the outer name", "{{#a}}{{#b}}\n\n{{/a}}", 3,
     "t.html:3: closing tag \"a\" does not match section \"b\" (line 1)"},
    {"closing tag without a section", "x\n\n{{/a}}", 3,
     "t.html:3: closing tag \"a\" without an open section"},
    {"empty variable", "a {{}}", 1, "t.html:1: empty tag"},
    {"blank variable", "\n{{  }}", 2, "t.html:2: empty tag"},
    {"empty section", "{{#}}{{/}}", 1, "t.html:1: empty tag"},
    {"empty triple", "{{{ }}}", 1, "t.html:1: empty tag"},
    {"empty partial", "{{> }}", 1, "t.html:1: empty tag"},
    {"unclosed tag", "a\nb {{name", 2, "t.html:2: unclosed tag"},
    {"triple closed by two braces", "{{{name}}", 1, "t.html:1: unclosed tag"},
    {"unclosed after new delimiters", "{{=<% %>=}}\n<%x}}", 2, "t.html:2: unclosed tag"},
    {"one delimiter", "{{=<%%>=}}", 1,
     "t.html:1: bad set-delimiter tag (want two delimiters of 1 to 16 bytes, without '=' or "
     "spaces)"},
    {"three delimiters", "\r\n{{=a b c=}}", 2,
     "t.html:2: bad set-delimiter tag (want two delimiters of 1 to 16 bytes, without '=' or "
     "spaces)"},
    {"seventeen-byte delimiter", "{{=" D16_OPEN "< >=}}", 1,
     "t.html:1: bad set-delimiter tag (want two delimiters of 1 to 16 bytes, without '=' or "
     "spaces)"},
    {"double dot", "{{a..b}}", 1, "t.html:1: bad name \"a..b\""},
    {"leading dot", "{{#.a}}{{/.a}}", 1, "t.html:1: bad name \".a\""},
    {"trailing dot", "{{{a.}}}", 1, "t.html:1: bad name \"a.\""},
    {"space inside a name", "{{a b}}", 1, "t.html:1: bad name \"a b\""},
    {"space inside a partial name", "{{> a b}}", 1, "t.html:1: bad partial name \"a b\""},
    {"long names are clipped", "{{#aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}}", 1,
     "t.html:1: unclosed section \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\""},
    {"inheritance", "{{<parent}}{{/parent}}", 1,
     "t.html:1: template inheritance ({{<…}}) is not supported"},
};

static void test_compile_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const struct error_case *ec = &error_cases[i];
        struct tmpl_error err;
        struct tmpl *t = tmpl_compile(ec->source, strlen(ec->source), "t.html", &err);
        if (t || err.line != ec->line || strcmp(err.msg, ec->msg) != 0) {
            tmpl_free(t);
            fail_msg("%s: got line %u \"%s\", want line %u \"%s\"", ec->desc, err.line,
                     t ? "(compiled)" : err.msg, ec->line, ec->msg);
        }
    }
    /* Without a name the message starts with the line; without err nothing is written. */
    struct tmpl_error err;
    assert_null(tmpl_compile("{{/x}}", 6, NULL, &err));
    assert_string_equal(err.msg, "line 1: closing tag \"x\" without an open section");
    assert_null(tmpl_compile("{{/x}}", 6, NULL, NULL));
}

static char *repeat(const char *unit, unsigned times, const char *middle)
{
    const size_t unit_len = strlen(unit), middle_len = strlen(middle);
    char *s = malloc(unit_len * times + middle_len + 1);
    assert_non_null(s);
    for (unsigned i = 0; i < times; i++)
        memcpy(s + i * unit_len, unit, unit_len);
    memcpy(s + unit_len * times, middle, middle_len + 1);
    return s;
}

static void test_nesting_limit(void **state)
{
    (void)state;
    for (unsigned depth = TMPL_MAX_NESTING; depth <= TMPL_MAX_NESTING + 1; depth++) {
        char *open = repeat("{{#a}}\n", depth, "x\n");
        char *closes = repeat("{{/a}}\n", depth, "");
        char *src = malloc(strlen(open) + strlen(closes) + 1);
        assert_non_null(src);
        strcpy(src, open);
        strcat(src, closes);
        struct tmpl_error err;
        struct tmpl *t = tmpl_compile(src, strlen(src), "deep", &err);
        if (depth == TMPL_MAX_NESTING) {
            assert_non_null(t);
            cJSON *data = cJSON_Parse("{\"a\":true}");
            struct buf out;
            buf_init(&out, NULL, 0, 0);
            assert_int_equal(tmpl_render(t, data, NULL, NULL, &out), 0);
            assert_int_equal(out.len, 2);
            buf_free(&out);
            cJSON_Delete(data);
        } else {
            assert_null(t);
            assert_int_equal(err.line, TMPL_MAX_NESTING + 1);
            assert_string_equal(err.msg, "deep:65: sections nested deeper than 64");
        }
        tmpl_free(t);
        free(src);
        free(closes);
        free(open);
    }
}

/* A partial that includes itself with nothing in the data to stop it. */
static void test_partial_depth_limit(void **state)
{
    (void)state;
    struct tmpl *self = tmpl_compile("x{{>self}}", 10, "self", NULL);
    assert_non_null(self);
    struct partial_set set = {.n = 1, .names = {"self"}, .tmpls = {self}};
    cJSON *data;
    struct buf out;
    buf_init(&out, NULL, 0, 0);
    assert_true(buf_append_str(&out, "kept"));
    assert_int_equal(tmpl_render(self, NULL, partial_set_find, &set, &out), -ELOOP);
    assert_int_equal(out.len, 4); /* left as it was */

    /* Contexts run out before partial depth: 20 sections per level, 256 contexts. */
    char *src = repeat("{{#a}}", 20, "{{>p}}");
    char *closes = repeat("{{/a}}", 20, "");
    char *both = malloc(strlen(src) + strlen(closes) + 1);
    assert_non_null(both);
    strcpy(both, src);
    strcat(both, closes);
    struct tmpl *p = tmpl_compile(both, strlen(both), "p", NULL);
    assert_non_null(p);
    set.names[0] = "p";
    set.tmpls[0] = p;
    data = cJSON_Parse("{\"a\":true}");
    out.len = 0;
    assert_int_equal(tmpl_render(p, data, partial_set_find, &set, &out), -ELOOP);
    assert_int_equal(out.len, 0);
    cJSON_Delete(data);
    free(both);
    free(closes);
    free(src);
    tmpl_free(p);
    tmpl_free(self);
    buf_free(&out);
}

/*
 * The spec's recursion example over a tree as deep as the limit allows (the top level
 * rendered directly, then TMPL_MAX_DEPTH levels of partials) and one level deeper.
 */
static void test_partial_recursion_bounded_by_data(void **state)
{
    (void)state;
    const char *node = "{{content}}<{{#nodes}}{{>node}}{{/nodes}}>";
    struct tmpl *t = tmpl_compile(node, strlen(node), "node", NULL);
    assert_non_null(t);
    struct partial_set set = {.n = 1, .names = {"node"}, .tmpls = {t}};
    for (unsigned levels = TMPL_MAX_DEPTH + 1; levels <= TMPL_MAX_DEPTH + 2; levels++) {
        cJSON *root = cJSON_CreateObject(), *cur = root;
        char want[256] = "";
        for (unsigned i = 1; i <= levels; i++) {
            cJSON_AddNumberToObject(cur, "content", i);
            cJSON *list = cJSON_AddArrayToObject(cur, "nodes");
            snprintf(want + strlen(want), sizeof(want) - strlen(want), "%u<", i);
            if (i == levels)
                break;
            cJSON *child = cJSON_CreateObject();
            cJSON_AddItemToArray(list, child);
            cur = child;
        }
        for (unsigned i = 1; i <= levels; i++)
            strcat(want, ">");
        struct buf out;
        buf_init(&out, NULL, 0, 0);
        const int rc = tmpl_render(t, root, partial_set_find, &set, &out);
        if (levels == TMPL_MAX_DEPTH + 2) {
            assert_int_equal(rc, -ELOOP);
            assert_int_equal(out.len, 0);
        } else {
            assert_int_equal(rc, 0);
            assert_true(buf_append(&out, "", 1));
            assert_string_equal(out.data, want);
        }
        buf_free(&out);
        cJSON_Delete(root);
    }
    tmpl_free(t);
}

/* Sections nested over a big list multiply: 1000^3 passes end early in -E2BIG. */
static void test_step_limit(void **state)
{
    (void)state;
    cJSON *data = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(data, "l");
    for (int i = 0; i < 1000; i++)
        cJSON_AddItemToArray(items, cJSON_CreateTrue());
    const char *src = "{{#l}}{{#l}}{{#l}}{{/l}}{{/l}}{{/l}}";
    struct tmpl *t = tmpl_compile(src, strlen(src), "slow", NULL);
    struct buf out;
    buf_init(&out, NULL, 0, 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(tmpl_render(t, data, NULL, NULL, &out), -E2BIG);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("step limit reached in %.3f s\n",
                  (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    /* Two levels (about 2 million passes) are fine. */
    const char *two = "{{#l}}{{#l}}{{/l}}{{/l}}";
    struct tmpl *t2 = tmpl_compile(two, strlen(two), "ok", NULL);
    assert_int_equal(tmpl_render(t2, data, NULL, NULL, &out), 0);
    tmpl_free(t2);
    tmpl_free(t);
    buf_free(&out);
    cJSON_Delete(data);
}

static void test_big_list(void **state)
{
    (void)state;
    enum { N = 100000 };
    cJSON *data = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(data, "items");
    for (int i = 0; i < N; i++) {
        cJSON *item = cJSON_CreateObject();
        cJSON_AddNumberToObject(item, "n", i);
        cJSON_AddItemToArray(items, item);
    }
    const char *src = "{{#items}}<{{n}}>{{/items}}";
    struct tmpl *t = tmpl_compile(src, strlen(src), "big", NULL);
    assert_non_null(t);
    struct buf out;
    buf_init(&out, NULL, 0, 0);
    assert_int_equal(tmpl_render(t, data, NULL, NULL, &out), 0);
    size_t want = 0;
    for (int i = 0; i < N; i++)
        want += 2 + (size_t)snprintf(NULL, 0, "%d", i);
    assert_int_equal(out.len, want);
    assert_memory_equal(out.data, "<0><1><2>", 9);
    assert_memory_equal(out.data + out.len - 7, "<99999>", 7);

    /* Out of room halfway: the whole render fails and the buffer is as it was. */
    struct buf small;
    buf_init(&small, NULL, 0, want / 2);
    assert_true(buf_append_str(&small, "head"));
    assert_int_equal(tmpl_render(t, data, NULL, NULL, &small), -ENOSPC);
    assert_int_equal(small.len, 4);
    buf_free(&small);
    buf_free(&out);
    tmpl_free(t);
    cJSON_Delete(data);
}

/* Rendering from many threads at once is only reading: same output everywhere. */
struct shared_render {
    const struct tmpl *t;
    const cJSON *data;
    size_t want_len;
    atomic_int mismatches;
};

static void *render_thread(void *arg)
{
    struct shared_render *sr = arg;
    for (int i = 0; i < 200; i++) {
        struct buf out;
        buf_init(&out, NULL, 0, 0);
        if (tmpl_render(sr->t, sr->data, NULL, NULL, &out) != 0 || out.len != sr->want_len)
            atomic_fetch_add(&sr->mismatches, 1);
        buf_free(&out);
    }
    return NULL;
}

static void test_concurrent_renders(void **state)
{
    (void)state;
    const char *src = "{{#l}}{{a}}{{.}}{{/l}}";
    struct tmpl *t = tmpl_compile(src, strlen(src), "c", NULL);
    cJSON *data = cJSON_Parse("{\"a\":\"&\",\"l\":[1,2,3,4,5,6,7,8,9,10]}");
    struct shared_render sr = {.t = t, .data = data, .want_len = 10 * 5 + 11};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, render_thread, &sr), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&sr.mismatches), 0);
    cJSON_Delete(data);
    tmpl_free(t);
}

/* ---- the cache ---- */

struct tmp_dir {
    char path[64];
    int fd;
};

static void tmp_dir_make(struct tmp_dir *d)
{
    strcpy(d->path, "/tmp/mica-tmpl-XXXXXX");
    assert_non_null(mkdtemp(d->path));
    d->fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(d->fd >= 0);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void tmp_dir_remove(struct tmp_dir *d)
{
    close(d->fd);
    assert_int_equal(nftw(d->path, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* Writes a file beneath the directory and sets its mtime to mtime_s (0: leave it). */
static void write_file(int dir_fd, const char *name, const char *text, time_t mtime_s)
{
    const int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    const size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    if (mtime_s) {
        const struct timespec times[2] = {{mtime_s, 0}, {mtime_s, 0}};
        assert_int_equal(futimens(fd, times), 0);
    }
    close(fd);
}

/* Renders a handle's template with data into a static string, for comparing. */
static const char *render_handle(const struct tmpl_handle *h, const char *json)
{
    static char text[256];
    cJSON *data = cJSON_Parse(json);
    struct buf out;
    buf_init(&out, text, sizeof(text) - 1, sizeof(text) - 1);
    const int rc = tmpl_render(tmpl_handle_tmpl(h), data, NULL, NULL, &out);
    cJSON_Delete(data);
    assert_int_equal(rc, 0);
    text[out.len] = '\0';
    return text;
}

static void test_cache_versions(void **state)
{
    (void)state;
    struct tmp_dir d;
    tmp_dir_make(&d);
    struct tmpl_cache *c = tmpl_cache_new();
    assert_non_null(c);
    struct tmpl_error err;
    write_file(d.fd, "a.html", "Hello {{name}}", 1000000);

    /* Compiled once: a second get is the same compiled template. */
    struct tmpl_handle *h1 = tmpl_cache_get(c, d.fd, "a.html", 0, &err);
    assert_non_null(h1);
    struct tmpl_handle *h2 = tmpl_cache_get(c, d.fd, "a.html", 10, &err);
    assert_ptr_equal(tmpl_handle_tmpl(h1), tmpl_handle_tmpl(h2));
    assert_string_equal(tmpl_name(tmpl_handle_tmpl(h1)), "a.html");
    tmpl_cache_put(h2);

    /* Changed on disk: still the cached version until the check period has passed. */
    write_file(d.fd, "a.html", "Bye, {{name}}!", 1000005);
    h2 = tmpl_cache_get(c, d.fd, "a.html", TMPL_CACHE_CHECK_MS - 1, &err);
    assert_ptr_equal(tmpl_handle_tmpl(h1), tmpl_handle_tmpl(h2));
    tmpl_cache_put(h2);
    struct tmpl_handle *h3 = tmpl_cache_get(c, d.fd, "a.html", TMPL_CACHE_CHECK_MS, &err);
    assert_non_null(h3);
    assert_ptr_not_equal(tmpl_handle_tmpl(h1), tmpl_handle_tmpl(h3));
    assert_string_equal(render_handle(h3, "{\"name\":\"Ann\"}"), "Bye, Ann!");
    /* The old version lives on for whoever still holds it. */
    assert_string_equal(render_handle(h1, "{\"name\":\"Ann\"}"), "Hello Ann");
    tmpl_cache_put(h1);

    /* Checked again and unchanged: the same version. */
    struct tmpl_handle *h4 = tmpl_cache_get(c, d.fd, "a.html", 5 * TMPL_CACHE_CHECK_MS, &err);
    assert_ptr_equal(tmpl_handle_tmpl(h3), tmpl_handle_tmpl(h4));
    tmpl_cache_put(h4);

    /* Same size, only the mtime differs: still a new version. */
    write_file(d.fd, "a.html", "Bye! {{name}}!", 1000009);
    h4 = tmpl_cache_get(c, d.fd, "a.html", 7 * TMPL_CACHE_CHECK_MS, &err);
    assert_ptr_not_equal(tmpl_handle_tmpl(h3), tmpl_handle_tmpl(h4));
    assert_string_equal(render_handle(h4, "{\"name\":\"Bo\"}"), "Bye! Bo!");
    tmpl_cache_put(h4);

    /* Deleted: served from the cache until the next check, then an error. */
    assert_int_equal(unlinkat(d.fd, "a.html", 0), 0);
    h4 = tmpl_cache_get(c, d.fd, "a.html", 7 * TMPL_CACHE_CHECK_MS + 1, &err);
    assert_non_null(h4);
    tmpl_cache_put(h4);
    assert_null(tmpl_cache_get(c, d.fd, "a.html", 8 * TMPL_CACHE_CHECK_MS, &err));
    assert_string_equal(err.msg, "a.html: No such file or directory");
    assert_int_equal(err.line, 0);

    /* Handles outlive the cache: an old version, and one its entry still held. */
    write_file(d.fd, "b.html", "b{{name}}", 0);
    struct tmpl_handle *hb = tmpl_cache_get(c, d.fd, "b.html", 0, &err);
    assert_non_null(hb);
    tmpl_cache_free(c);
    assert_string_equal(render_handle(h3, "{\"name\":\"Cy\"}"), "Bye, Cy!");
    assert_string_equal(render_handle(hb, "{\"name\":\"Cy\"}"), "bCy");
    tmpl_cache_put(h3);
    tmpl_cache_put(hb);
    tmp_dir_remove(&d);
}

static void test_cache_compile_errors(void **state)
{
    (void)state;
    struct tmp_dir d;
    tmp_dir_make(&d);
    struct tmpl_cache *c = tmpl_cache_new();
    struct tmpl_error err;
    write_file(d.fd, "bad.html", "<ul>\n{{#items}}\n<li>{{.}}\n</ul>\n", 2000000);
    assert_null(tmpl_cache_get(c, d.fd, "bad.html", 0, &err));
    assert_int_equal(err.line, 2);
    assert_string_equal(err.msg, "bad.html:2: unclosed section \"items\"");

    /* The error is cached like a version: fixed on disk, seen after the check period. */
    write_file(d.fd, "bad.html", "<ul>\n{{#items}}\n<li>{{.}}\n{{/items}}</ul>\n", 2000001);
    memset(&err, 0, sizeof(err));
    assert_null(tmpl_cache_get(c, d.fd, "bad.html", 10, &err));
    assert_string_equal(err.msg, "bad.html:2: unclosed section \"items\"");
    struct tmpl_handle *h = tmpl_cache_get(c, d.fd, "bad.html", TMPL_CACHE_CHECK_MS, &err);
    assert_non_null(h);
    assert_string_equal(render_handle(h, "{\"items\":[1]}"), "<ul>\n<li>1\n</ul>\n");
    tmpl_cache_put(h);

    /* Broken again: the error replaces the version. */
    write_file(d.fd, "bad.html", "{{/x}}", 2000002);
    assert_null(tmpl_cache_get(c, d.fd, "bad.html", 2 * TMPL_CACHE_CHECK_MS, &err));
    assert_string_equal(err.msg, "bad.html:1: closing tag \"x\" without an open section");
    tmpl_cache_free(c);
    tmp_dir_remove(&d);
}

struct name_case {
    const char *desc;
    const char *name;
    const char *msg;
};

static void test_cache_refuses(void **state)
{
    (void)state;
    struct tmp_dir d, outside;
    tmp_dir_make(&d);
    tmp_dir_make(&outside);
    write_file(outside.fd, "secret.html", "secret", 0);
    char target[128];
    snprintf(target, sizeof(target), "%s/secret.html", outside.path);
    assert_int_equal(symlinkat(target, d.fd, "out.html"), 0);
    assert_int_equal(mkdirat(d.fd, "sub", 0755), 0);
    write_file(d.fd, "sub/in.html", "in {{x}}", 0);
    assert_int_equal(mkfifoat(d.fd, "fifo.html", 0644), 0);
    char *big = repeat("x", TMPL_CACHE_MAX_BYTES + 1, "");
    write_file(d.fd, "big.html", big, 0);
    free(big);
    char long_name[TMPL_CACHE_MAX_NAME + 2];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';

    const struct name_case cases[] = {
        {"empty", "", "bad template name \"\""},
        {"absolute", "/etc/passwd", "bad template name \"/etc/passwd\""},
        {"dot-dot", "../x.html", "bad template name \"../x.html\""},
        {"inner dot-dot", "sub/../sub/in.html", "bad template name \"sub/../sub/in.html\""},
        {"dot", "./sub/in.html", "bad template name \"./sub/in.html\""},
        {"empty component", "sub//in.html", "bad template name \"sub//in.html\""},
        {"trailing slash", "sub/", "bad template name \"sub/\""},
        {"control byte", "a\nb", "bad template name \"a?b\""},
        {"too long", long_name, "bad template name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""},
        {"missing", "none.html", "none.html: No such file or directory"},
        {"a directory", "sub", "sub: not a regular file"},
        {"a FIFO", "fifo.html", "fifo.html: not a regular file"},
        {"over the size limit", "big.html", "big.html: template over 1048576 bytes"},
    };
    struct tmpl_cache *c = tmpl_cache_new();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tmpl_error err;
        struct tmpl_handle *h = tmpl_cache_get(c, d.fd, cases[i].name, 0, &err);
        if (h || strcmp(err.msg, cases[i].msg) != 0) {
            tmpl_cache_put(h);
            fail_msg("%s: got \"%s\", want \"%s\"", cases[i].desc, h ? "(handle)" : err.msg,
                     cases[i].msg);
        }
    }
    /* Symlinks that lead outside are refused, whatever the errno (EXDEV or ELOOP). */
    struct tmpl_error err;
    assert_null(tmpl_cache_get(c, d.fd, "out.html", 0, &err));
    /* A name through a subdirectory works. */
    struct tmpl_handle *h = tmpl_cache_get(c, d.fd, "sub/in.html", 0, &err);
    assert_non_null(h);
    assert_string_equal(render_handle(h, "{\"x\":1}"), "in 1");
    tmpl_cache_put(h);
    tmpl_cache_free(c);
    tmp_dir_remove(&outside);
    tmp_dir_remove(&d);
}

/* Past TMPL_CACHE_MAX_ENTRIES templates are still served, compiled on each get. */
static void test_cache_full(void **state)
{
    (void)state;
    struct tmp_dir d;
    tmp_dir_make(&d);
    enum { N = TMPL_CACHE_MAX_ENTRIES + TMPL_CACHE_MAX_ENTRIES / 4 };
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "t%d.html", i);
        write_file(d.fd, name, "{{x}}", 0);
    }
    struct tmpl_cache *c = tmpl_cache_new();
    unsigned same = 0;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            char name[32];
            snprintf(name, sizeof(name), "t%d.html", i);
            struct tmpl_error err;
            struct tmpl_handle *h1 = tmpl_cache_get(c, d.fd, name, 0, &err);
            struct tmpl_handle *h2 = tmpl_cache_get(c, d.fd, name, 0, &err);
            assert_non_null(h1);
            assert_non_null(h2);
            same += tmpl_handle_tmpl(h1) == tmpl_handle_tmpl(h2);
            assert_string_equal(render_handle(h2, "{\"x\":7}"), "7");
            tmpl_cache_put(h1);
            tmpl_cache_put(h2);
        }
    }
    /* Every cached name gives the same template twice; the others a fresh one each time. */
    print_message("cache full: %u of %d names cached\n", same / 2, N);
    assert_true(same / 2 <= TMPL_CACHE_MAX_ENTRIES);
    assert_true(same / 2 >= TMPL_CACHE_MAX_ENTRIES / 2);
    assert_true(same < 2 * N);
    tmpl_cache_free(c);
    tmp_dir_remove(&d);
}

static void test_cache_partials(void **state)
{
    (void)state;
    struct tmp_dir d;
    tmp_dir_make(&d);
    assert_int_equal(mkdirat(d.fd, "sub", 0755), 0);
    write_file(d.fd, "page.html", "<{{> header}}|{{> card.txt}}|{{> missing}}|{{> sub/item}}>", 0);
    write_file(d.fd, "header.html", "H{{title}}", 0);
    write_file(d.fd, "card.txt", "C", 0);
    write_file(d.fd, "sub/item.html", "I", 0);
    write_file(d.fd, "node.html", "{{n}}({{#kids}}{{> node}}{{/kids}})", 0);
    write_file(d.fd, "uses_broken.html", "[{{> broken}}]", 0);
    write_file(d.fd, "broken.html", "\n{{#x}}", 0);
    write_file(d.fd, "escapes.html", "[{{> ../page}}]", 0);
    struct tmpl_cache *c = tmpl_cache_new();
    struct tmpl_error err;

    struct {
        const char *page, *data, *want;
        bool failed;
        const char *msg;
    } cases[] = {
        {"page.html", "{\"title\":\"T\"}", "<HT|C||I>", false, ""},
        {"node.html",
         "{\"n\":1,\"kids\":[{\"n\":2,\"kids\":[{\"n\":3,\"kids\":[]}]},{\"n\":4,\"kids\":[]}]}",
         "1(2(3())4())", false, ""},
        {"uses_broken.html", "{}", "[]", true, "broken.html:2: unclosed section \"x\""},
        {"escapes.html", "{}", "[]", true, "bad template name \"../page.html\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tmpl_handle *h = tmpl_cache_get(c, d.fd, cases[i].page, 0, &err);
        assert_non_null(h);
        struct tmpl_partials parts;
        tmpl_partials_begin(&parts, c, d.fd, 0);
        cJSON *data = cJSON_Parse(cases[i].data);
        struct buf out;
        buf_init(&out, NULL, 0, 0);
        assert_int_equal(tmpl_render(tmpl_handle_tmpl(h), data, tmpl_partials_load, &parts, &out),
                         0);
        assert_true(buf_append(&out, "", 1));
        assert_string_equal(out.data, cases[i].want);
        assert_int_equal(parts.failed, cases[i].failed);
        if (cases[i].failed)
            assert_string_equal(parts.err.msg, cases[i].msg);
        if (i == 1)
            assert_int_equal(parts.n_held, 1); /* the recursive partial is held once */
        tmpl_partials_end(&parts);
        buf_free(&out);
        cJSON_Delete(data);
        tmpl_cache_put(h);
    }
    tmpl_cache_free(c);
    tmp_dir_remove(&d);
}

/* Four threads get, render and put while the main thread keeps replacing the file. */
struct hammer {
    struct tmpl_cache *cache;
    int dir_fd;
    atomic_uint_fast64_t clock_ms;
    atomic_bool done;   /* the writer has finished */
    atomic_int bad;     /* renders that failed or gave neither version */
    atomic_int seen[2]; /* renders of each page version */
};

static void *hammer_thread(void *arg)
{
    struct hammer *hm = arg;
    cJSON *data = cJSON_Parse("{\"x\":1}");
    for (int i = 0; i < 1000 || !atomic_load(&hm->done); i++) {
        const uint64_t now = atomic_fetch_add(&hm->clock_ms, 3);
        struct tmpl_error err;
        struct tmpl_handle *h = tmpl_cache_get(hm->cache, hm->dir_fd, "h.html", now, &err);
        if (!h) {
            atomic_fetch_add(&hm->bad, 1);
            continue;
        }
        struct tmpl_partials parts;
        tmpl_partials_begin(&parts, hm->cache, hm->dir_fd, now);
        char text[64];
        struct buf out;
        buf_init(&out, text, sizeof(text), sizeof(text));
        const int rc = tmpl_render(tmpl_handle_tmpl(h), data, tmpl_partials_load, &parts, &out);
        tmpl_partials_end(&parts);
        /* Either version of the page with either version of the partial ("p" or "p\n"). */
        const bool ok = rc == 0 && ((out.len >= 3 && out.len <= 4 && !memcmp(text, "A1p", 3)) ||
                                    (out.len >= 5 && out.len <= 6 && !memcmp(text, "BB11p", 5)));
        if (!ok)
            atomic_fetch_add(&hm->bad, 1);
        else
            atomic_fetch_add(&hm->seen[text[0] == 'B'], 1);
        tmpl_cache_put(h);
    }
    cJSON_Delete(data);
    return NULL;
}

static void test_cache_threads(void **state)
{
    (void)state;
    struct tmp_dir d;
    tmp_dir_make(&d);
    write_file(d.fd, "h.html", "A{{x}}{{>p}}", 0);
    write_file(d.fd, "p.html", "p", 0);
    struct hammer hm = {.cache = tmpl_cache_new(), .dir_fd = d.fd};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer_thread, &hm), 0);
    /* Replaced by rename, so a reader sees one whole version or the other. */
    for (int i = 0; i < 300; i++) {
        write_file(d.fd, "h.tmp", i % 2 ? "A{{x}}{{>p}}" : "BB{{x}}{{x}}{{>p}}", 0);
        assert_int_equal(renameat(d.fd, "h.tmp", d.fd, "h.html"), 0);
        write_file(d.fd, "p.tmp", i % 2 ? "p" : "p\n", 0);
        assert_int_equal(renameat(d.fd, "p.tmp", d.fd, "p.html"), 0);
    }
    atomic_store(&hm.done, true);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    print_message("cache threads: %d renders of one version, %d of the other\n",
                  atomic_load(&hm.seen[0]), atomic_load(&hm.seen[1]));
    assert_int_equal(atomic_load(&hm.bad), 0);
    /* Once checked again, the last version written is the one served. */
    struct tmpl_error err;
    struct tmpl_handle *h =
        tmpl_cache_get(hm.cache, d.fd, "h.html", atomic_load(&hm.clock_ms) + 10000, &err);
    assert_non_null(h);
    assert_string_equal(render_handle(h, "{\"x\":2}"), "A2");
    tmpl_cache_put(h);
    tmpl_cache_free(hm.cache);
    tmp_dir_remove(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec),
        cmocka_unit_test(test_own_cases),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_partial_depth_limit),
        cmocka_unit_test(test_partial_recursion_bounded_by_data),
        cmocka_unit_test(test_step_limit),
        cmocka_unit_test(test_big_list),
        cmocka_unit_test(test_concurrent_renders),
        cmocka_unit_test(test_cache_versions),
        cmocka_unit_test(test_cache_compile_errors),
        cmocka_unit_test(test_cache_refuses),
        cmocka_unit_test(test_cache_full),
        cmocka_unit_test(test_cache_partials),
        cmocka_unit_test(test_cache_threads),
    };
    return cmocka_run_group_tests_name("template", tests, NULL, NULL);
}
