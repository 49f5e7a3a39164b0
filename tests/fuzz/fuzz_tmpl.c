/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the template engine: the input is compiled as a template and, when
 * it compiles, rendered against a fixed data object that has every JSON type (strings
 * with HTML characters, integers and decimals, true, false, null, nested lists and
 * objects), with every partial name resolving to the template itself, so partial
 * recursion, indentation and the depth limits are exercised on every input.
 *
 * Besides crashes, over-reads (the engine keeps an exact-size copy of the source) and
 * leaks, it checks the contract: a compile error has a message and a line within the
 * input, and a render either succeeds or fails with one of the documented errors and
 * leaves the buffer as it was. Rendering is deterministic: twice gives the same bytes.
 * Built with -fsanitize=fuzzer by `make fuzz`, and linked with replay.c by `make test`.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "template/tmpl.h"
#include "util/buf.h"

enum {
    OUT_MAX_BYTES = 1 << 16, /* enough to reach every limit, small enough to stay fast */
    MAX_PARTIAL_CALLS = 64,  /* a template of many self-including partials multiplies */
};

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_tmpl: %s\n", what);
        abort();
    }
}

static const char data_json[] =
    "{\"s\":\"<b>&'\\\"\",\"name\":\"Joe\",\"n\":42,\"f\":-1.25,\"z\":0,\"e\":\"\","
    "\"t\":true,\"no\":false,\"nil\":null,\"big\":1e300,"
    "\"list\":[1,\"two\",{\"s\":\"in\",\"list\":[]},null,[3,4]],"
    "\"a\":{\"b\":{\"c\":\"deep\",\"list\":[{\"x\":1},{\"x\":\"&\"}]}},"
    "\"empty\":[],\"obj\":{},\"text\":\"line1\\nline2\\n\"}";

/* Parsed once: the fuzzer calls the target millions of times. Never freed. */
static const cJSON *fuzz_data(void)
{
    static cJSON *root;
    if (!root) {
        root = cJSON_Parse(data_json);
        check(root != NULL, "data does not parse");
    }
    return root;
}

struct self_partials {
    const struct tmpl *self;
    unsigned calls;
};

/* Every partial is the template itself, for the first MAX_PARTIAL_CALLS lookups. */
static const struct tmpl *self_partial(void *ctx, struct slice name)
{
    struct self_partials *sp = ctx;
    check(name.len > 0 && name.ptr != NULL, "empty partial name");
    if (sp->calls == MAX_PARTIAL_CALLS)
        return NULL;
    sp->calls++;
    return sp->self;
}

static int render(const struct tmpl *t, bool with_partials, struct buf *out)
{
    struct self_partials sp = {.self = t};
    const size_t before = out->len;
    const int rc = tmpl_render(t, fuzz_data(), with_partials ? self_partial : NULL, &sp, out);
    check(rc == 0 || rc == -ENOSPC || rc == -ELOOP || rc == -E2BIG, "undocumented error");
    check(rc == 0 || out->len == before, "failed render changed the buffer");
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tmpl_error err;
    struct tmpl *t = tmpl_compile((const char *)data, size, "fuzz", &err);
    if (!t) {
        size_t lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += data[i] == '\n';
        check(err.msg[0] != '\0', "compile error without a message");
        check(err.line >= 1 && err.line <= lines, "compile error line outside the input");
        return 0;
    }
    check(strcmp(tmpl_name(t), "fuzz") == 0, "name not kept");

    struct buf first, second;
    buf_init(&first, NULL, 0, OUT_MAX_BYTES);
    buf_init(&second, NULL, 0, OUT_MAX_BYTES);
    const int rc = render(t, true, &first);
    check(render(t, true, &second) == rc, "second render differs in result");
    check(first.len == second.len &&
              (first.len == 0 || !memcmp(first.data, second.data, first.len)),
          "second render differs in output");
    buf_reset(&second);
    render(t, false, &second);
    /* A small buffer: out of room at some point, or everything fits. */
    struct buf small;
    buf_init(&small, NULL, 0, 1 + size % 64);
    render(t, true, &small);
    buf_free(&small);
    buf_free(&second);
    buf_free(&first);
    tmpl_free(t);
    return 0;
}
