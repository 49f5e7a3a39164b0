/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for core/config: the defaults, the repo's config.json, every JSON validation
 * rule (a table of input, expected result and expected error text), and the command line
 * (a table of argv, an optional ./config.json, and the expected outcome).
 *
 * The whole suite runs inside a temporary directory made by the group setup, holding a
 * `www` folder (the default root), a `site` folder, a plain file and a few config files,
 * so nothing depends on where the test was started and nothing is left behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"

static char tmp_dir[] = "/tmp/mica-test-config-XXXXXX";
static char start_dir[PATH_MAX];
static char repo_config[PATH_MAX]; /* absolute path of the repo's config.json */

/* Files made in tmp_dir by the group setup (NULL content = a directory). */
static const struct {
    const char *name;
    const char *content;
} fixtures[] = {
    {"www", NULL},
    {"site", NULL},
    {"afile", "not a directory\n"},
    {"cert.pem", "-----BEGIN CERTIFICATE-----\n"},
    {"key.pem", "-----BEGIN PRIVATE KEY-----\n"},
    {"c7000.json", "{\"port\": 7000}\n"},
    {"bad.json", "{\n  \"port\": \"x\"\n}\n"},
};

static bool write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return false;
    }
    const bool ok = fputs(content, f) >= 0;
    return fclose(f) == 0 && ok;
}

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *data = malloc(1 << 20);
    *len = data != NULL ? fread(data, 1, 1 << 20, f) : 0;
    fclose(f);
    return data;
}

static int group_setup(void **state)
{
    (void)state;
    if (getcwd(start_dir, sizeof start_dir) == NULL) {
        return -1;
    }
    /* The repo root is where this file's path, as given to the compiler, starts. */
    const char *suffix = "tests/unit/test_config.c";
    const size_t flen = strlen(__FILE__), slen = strlen(suffix);
    if (flen < slen || strcmp(&__FILE__[flen - slen], suffix) != 0) {
        return -1;
    }
    char rel[PATH_MAX];
    snprintf(rel, sizeof rel, "%.*sconfig.json", (int)(flen - slen), __FILE__);
    if (realpath(rel, repo_config) == NULL) {
        fprintf(stderr, "cannot find the repo's config.json at %s\n", rel);
        return -1;
    }
    if (mkdtemp(tmp_dir) == NULL || chdir(tmp_dir) < 0) {
        return -1;
    }
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        const bool ok = fixtures[i].content == NULL
                            ? mkdir(fixtures[i].name, 0755) == 0
                            : write_file(fixtures[i].name, fixtures[i].content);
        if (!ok) {
            return -1;
        }
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        if (fixtures[i].content == NULL) {
            rmdir(fixtures[i].name);
        } else {
            unlink(fixtures[i].name);
        }
    }
    unlink("config.json");
    const int rc = chdir(start_dir);
    return rmdir(tmp_dir) == 0 && rc == 0 ? 0 : -1;
}

static bool str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool headers_eq(const struct config *a, const struct config *b)
{
    if (a->n_headers != b->n_headers) {
        return false;
    }
    for (size_t i = 0; i < a->n_headers; i++) {
        const struct header_rule *x = &a->headers[i], *y = &b->headers[i];
        if (!str_eq(x->glob, y->glob) || x->n_fields != y->n_fields) {
            return false;
        }
        for (size_t j = 0; j < x->n_fields; j++) {
            if (!str_eq(x->fields[j].name, y->fields[j].name) ||
                !str_eq(x->fields[j].value, y->fields[j].value)) {
                return false;
            }
        }
    }
    return true;
}

static bool index_files_eq(const struct config *a, const struct config *b)
{
    if (a->n_index_files != b->n_index_files) {
        return false;
    }
    for (size_t i = 0; i < a->n_index_files; i++) {
        if (!str_eq(a->index_files[i], b->index_files[i])) {
            return false;
        }
    }
    return true;
}

/* The name of the first setting that differs, or NULL when all are equal. */
static const char *config_diff(const struct config *a, const struct config *b)
{
    const struct {
        const char *name;
        bool is_equal;
    } fields[] = {
        {"port", a->port == b->port},
        {"bind", str_eq(a->bind, b->bind)},
        {"root", str_eq(a->root, b->root)},
        {"threads", a->threads == b->threads},
        {"default_page", str_eq(a->default_page, b->default_page)},
        {"not_found_page", str_eq(a->not_found_page, b->not_found_page)},
        {"templates_dir", str_eq(a->templates_dir, b->templates_dir)},
        {"access_log", str_eq(a->access_log, b->access_log)},
        {"error_log", str_eq(a->error_log, b->error_log)},
        {"log_level", a->log_level == b->log_level},
        {"directory_listing", a->directory_listing == b->directory_listing},
        {"compression", a->compression == b->compression},
        {"data_dir", str_eq(a->data_dir, b->data_dir)},
        {"max_connections", a->max_connections == b->max_connections},
        {"keepalive_timeout_s", a->keepalive_timeout_s == b->keepalive_timeout_s},
        {"header_timeout_s", a->header_timeout_s == b->header_timeout_s},
        {"body_timeout_s", a->body_timeout_s == b->body_timeout_s},
        {"body_min_rate", a->body_min_rate == b->body_min_rate},
        {"send_timeout_s", a->send_timeout_s == b->send_timeout_s},
        {"max_header_bytes", a->max_header_bytes == b->max_header_bytes},
        {"max_body_bytes", a->max_body_bytes == b->max_body_bytes},
        {"index_files", index_files_eq(a, b)},
        {"cache.enabled", a->cache.enabled == b->cache.enabled},
        {"cache.max_bytes", a->cache.max_bytes == b->cache.max_bytes},
        {"cache.max_file_bytes", a->cache.max_file_bytes == b->cache.max_file_bytes},
        {"admin.user", str_eq(a->admin.user, b->admin.user)},
        {"admin.password_hash", str_eq(a->admin.password_hash, b->admin.password_hash)},
        {"clean_urls", a->clean_urls == b->clean_urls},
        {"spa_fallback", str_eq(a->spa_fallback, b->spa_fallback)},
        {"headers", headers_eq(a, b)},
        {"tls.port", a->tls.port == b->tls.port},
        {"tls.cert", str_eq(a->tls.cert, b->tls.cert)},
        {"tls.key", str_eq(a->tls.key, b->tls.key)},
        {"tls.self_signed", a->tls.self_signed == b->tls.self_signed},
        {"tls.redirect_http", a->tls.redirect_http == b->tls.redirect_http},
        {"tls.hsts_max_age", a->tls.hsts_max_age == b->tls.hsts_max_age},
        {"user", str_eq(a->user, b->user)},
        {"metrics", a->metrics == b->metrics},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (!fields[i].is_equal) {
            return fields[i].name;
        }
    }
    return NULL;
}

/* An error must be one line that fits the buffer. */
static bool is_one_line(const char *err)
{
    return err[0] != '\0' && strchr(err, '\n') == NULL && strlen(err) < 256;
}

static void test_defaults(void **state)
{
    (void)state;
    struct config c;
    config_defaults(&c);
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(c.threads, cpus < 1 ? 1 : cpus > 1024 ? 1024 : cpus);
    assert_int_equal(c.port, 6789);
    assert_null(c.bind);
    assert_string_equal(c.root, "./www");
    assert_string_equal(c.default_page, "HelloWorld.html");
    assert_string_equal(c.not_found_page, "404.html");
    assert_string_equal(c.templates_dir, "./templates");
    assert_string_equal(c.access_log, "logs/access.log");
    assert_string_equal(c.error_log, "logs/error.log");
    assert_int_equal(c.log_level, LOG_INFO);
    assert_true(c.directory_listing);
    assert_true(c.compression);
    assert_string_equal(c.data_dir, "./data");
    assert_int_equal(c.max_connections, 10000);
    assert_int_equal(c.keepalive_timeout_s, 5);
    assert_int_equal(c.header_timeout_s, 10);
    assert_int_equal(c.body_timeout_s, 30);
    assert_int_equal(c.body_min_rate, 1024);
    assert_int_equal(c.send_timeout_s, 20);
    assert_int_equal(c.max_header_bytes, 16384);
    assert_int_equal(c.max_body_bytes, 10 * 1024 * 1024);
    assert_int_equal(c.n_index_files, 1);
    assert_string_equal(c.index_files[0], "index.html");
    assert_true(c.cache.enabled);
    assert_int_equal(c.cache.max_bytes, 64 * 1024 * 1024);
    assert_int_equal(c.cache.max_file_bytes, 1024 * 1024);
    assert_null(c.admin.user);
    assert_null(c.admin.password_hash);
    assert_true(c.clean_urls);
    assert_null(c.spa_fallback);
    assert_int_equal(c.n_headers, 0);
    assert_int_equal(c.tls.port, 0);
    assert_null(c.tls.cert);
    assert_null(c.tls.key);
    assert_false(c.tls.self_signed);
    assert_false(c.tls.redirect_http);
    assert_int_equal(c.tls.hsts_max_age, 0);
    assert_null(c.user);
    assert_false(c.metrics);
    assert_null(c.config_path);
    config_free(&c);
    config_free(&c); /* a second call must be harmless */
}

/* Every key with a value unlike its default, so that reading config.json on top of it
 * proves config.json spells every key out. */
static const char all_keys_json[] =
    "{\"port\": 1, \"bind\": \"127.0.0.1\", \"root\": \"site\", \"threads\": 3,\n"
    " \"default_page\": \"d.html\", \"not_found_page\": \"nf.html\", \"templates_dir\": \"t\",\n"
    " \"access_log\": \"-\", \"error_log\": \"off\", \"log_level\": \"debug\",\n"
    " \"directory_listing\": false, \"compression\": false, \"data_dir\": \"dd\",\n"
    " \"max_connections\": 7, \"keepalive_timeout_s\": 8, \"header_timeout_s\": 9,\n"
    " \"body_timeout_s\": 11, \"body_min_rate\": 0, \"send_timeout_s\": 12,\n"
    " \"max_header_bytes\": 1048576, \"max_body_bytes\": 1099511627776,\n"
    " \"index_files\": [\"a.html\", \"b.htm\"],\n"
    " \"cache\": {\"enabled\": false, \"max_bytes\": 5, \"max_file_bytes\": 6},\n"
    " \"admin\": {\"user\": \"u\", \"password_hash\": "
    "\"$y$j9T$VC4trlBhf2F747zS.ULsh/$EYKB1kGULfOuYN6vQcfKYQn4RZ8E7bpE1qxDwEsy97C\"},\n"
    " \"clean_urls\": false, \"spa_fallback\": \"index.html\",\n"
    " \"headers\": {\"/assets/*\": {\"Cache-Control\": \"max-age=60\", \"X-A\": \"b\\tc\"},\n"
    "             \"*.css\": {}},\n"
    " \"tls\": {\"port\": 8443, \"cert\": \"cert.pem\", \"key\": \"key.pem\",\n"
    "         \"self_signed\": false, \"redirect_http\": true, \"hsts_max_age\": 2147483648},\n"
    " \"user\": \"nobody\", \"metrics\": true}\n";

static void test_all_keys(void **state)
{
    (void)state;
    struct config c;
    char err[256] = "";
    config_defaults(&c);
    assert_int_equal(config_parse_json(&c, all_keys_json, strlen(all_keys_json), "x", err), 0);
    assert_int_equal(config_validate(&c, err), 0);
    assert_int_equal(c.port, 1);
    assert_string_equal(c.bind, "127.0.0.1");
    assert_int_equal(c.threads, 3);
    assert_int_equal(c.log_level, LOG_DEBUG);
    assert_false(c.directory_listing);
    assert_int_equal(c.max_header_bytes, 1048576);
    assert_int_equal(c.max_body_bytes, 1ULL << 40);
    assert_int_equal(c.n_index_files, 2);
    assert_string_equal(c.index_files[1], "b.htm");
    assert_int_equal(c.cache.max_file_bytes, 6);
    assert_string_equal(
        c.admin.password_hash,
        "$y$j9T$VC4trlBhf2F747zS.ULsh/$EYKB1kGULfOuYN6vQcfKYQn4RZ8E7bpE1qxDwEsy97C");
    assert_int_equal(c.n_headers, 2);
    assert_string_equal(c.headers[0].glob, "/assets/*");
    assert_int_equal(c.headers[0].n_fields, 2);
    assert_string_equal(c.headers[0].fields[0].name, "Cache-Control");
    assert_string_equal(c.headers[0].fields[0].value, "max-age=60");
    assert_string_equal(c.headers[0].fields[1].value, "b\tc");
    assert_string_equal(c.headers[1].glob, "*.css");
    assert_int_equal(c.headers[1].n_fields, 0);
    assert_int_equal(c.tls.hsts_max_age, 1L << 31);
    assert_true(c.tls.redirect_http);
    assert_true(c.metrics);

    /* config.json over all that must give the defaults back, threads apart. */
    size_t len = 0;
    char *text = read_whole(repo_config, &len);
    assert_non_null(text);
    assert_int_equal(config_parse_json(&c, text, len, "config.json", err), 0);
    free(text);
    struct config d;
    config_defaults(&d);
    assert_int_equal(c.threads, 3);
    c.threads = d.threads;
    const char *diff = config_diff(&c, &d);
    if (diff != NULL) {
        fail_msg("config.json does not set \"%s\" to its default", diff);
    }
    config_free(&c);
    config_free(&d);
}

static void test_repo_config_json(void **state)
{
    (void)state;
    size_t len = 0;
    char *text = read_whole(repo_config, &len);
    assert_non_null(text);
    struct config c, d;
    char err[256] = "";
    config_defaults(&c);
    config_defaults(&d);
    const int rc = config_parse_json(&c, text, len, "config.json", err);
    free(text);
    if (rc != 0) {
        fail_msg("config.json: %s", err);
    }
    const char *diff = config_diff(&c, &d);
    if (diff != NULL) {
        fail_msg("config.json differs from the built-in defaults at \"%s\"", diff);
    }
    config_free(&c);
    config_free(&d);
}

struct json_case {
    const char *desc;
    const char *json;
    size_t len; /* 0: strlen(json) */
    int rc;     /* of config_parse_json, then config_validate */
    const char *err;
};

static const struct json_case json_cases[] = {
    {"empty object keeps defaults", "{}", 0, 0, NULL},
    {"whitespace around the object", " \n{ }\n\n", 0, 0, NULL},
    {"unknown top-level key, with a suggestion", "{\"prot\": 80}", 0, -1,
     "config.json: unknown key \"prot\" (did you mean \"port\"?)"},
    {"unknown key far from any", "{\"frobnicate\": 1}", 0, -1,
     "config.json: unknown key \"frobnicate\""},
    {"unknown nested key", "{\"tls\": {\"prot\": 443}}", 0, -1,
     "config.json: unknown key \"tls.prot\" (did you mean \"tls.port\"?)"},
    {"unknown key in cache", "{\"cache\": {\"size\": 1}}", 0, -1, "unknown key \"cache.size\""},
    {"dotted key at top level is not a nested key", "{\"tls.port\": 443}", 0, -1,
     "unknown key \"tls.port\" (nest it: \"tls\": {\"port\": ...})"},
    {"key case matters", "{\"Port\": 80}", 0, -1, "unknown key \"Port\""},
    {"control characters in a key stay out of the line", "{\"a\\nb\": 1}", 0, -1,
     "unknown key \"a?b\""},
    {"a very long key is cut",
     "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": 1}",
     0, -1, "...\""},
    {"port above range", "{\"port\": 70000}", 0, -1,
     "config.json: \"port\": must be an integer from 0 to 65535, got 70000"},
    {"port below range", "{\"port\": -1}", 0, -1,
     "\"port\": must be an integer from 0 to 65535, got -1"},
    {"port 0 means any free port", "{\"port\": 0}", 0, 0, NULL},
    {"port 65535 is the top", "{\"port\": 65535}", 0, 0, NULL},
    {"port as a string", "{\"port\": \"80\"}", 0, -1,
     "\"port\": must be an integer from 0 to 65535, got \"80\""},
    {"port 1.5 is not whole", "{\"port\": 1.5}", 0, -1, "got 1.5"},
    {"port 8e1 is whole", "{\"port\": 8e1}", 0, 0, NULL},
    {"port true", "{\"port\": true}", 0, -1,
     "\"port\": must be an integer from 0 to 65535, got true"},
    {"port null", "{\"port\": null}", 0, -1, "got null"},
    {"port array", "{\"port\": [80]}", 0, -1, "got an array"},
    {"port object", "{\"port\": {}}", 0, -1, "got an object"},
    {"port huge", "{\"port\": 1e300}", 0, -1, "got 1e+300"},
    {"threads 0", "{\"threads\": 0}", 0, -1,
     "\"threads\": must be an integer from 1 to 1024, got 0"},
    {"threads 1025", "{\"threads\": 1025}", 0, -1, "from 1 to 1024, got 1025"},
    {"threads 1024", "{\"threads\": 1024}", 0, 0, NULL},
    {"max_connections 0", "{\"max_connections\": 0}", 0, -1,
     "\"max_connections\": must be an integer from 1 to 1000000"},
    {"max_connections above", "{\"max_connections\": 1000001}", 0, -1, "got 1000001"},
    {"keepalive 0", "{\"keepalive_timeout_s\": 0}", 0, -1,
     "\"keepalive_timeout_s\": must be an integer from 1 to 3600"},
    {"header timeout 3601", "{\"header_timeout_s\": 3601}", 0, -1,
     "\"header_timeout_s\": must be an integer from 1 to 3600, got 3601"},
    {"body timeout 0", "{\"body_timeout_s\": 0}", 0, -1, "\"body_timeout_s\""},
    {"send timeout 0", "{\"send_timeout_s\": 0}", 0, -1, "\"send_timeout_s\""},
    {"body_min_rate negative", "{\"body_min_rate\": -1}", 0, -1,
     "\"body_min_rate\": must be an integer from 0 to 1000000000"},
    {"body_min_rate above 1e9", "{\"body_min_rate\": 1000000001}", 0, -1, "got 1000000001"},
    {"body_min_rate 1e9", "{\"body_min_rate\": 1e9}", 0, 0, NULL},
    {"max_header_bytes 1023", "{\"max_header_bytes\": 1023}", 0, -1,
     "\"max_header_bytes\": must be an integer from 1024 to 1048576, got 1023"},
    {"max_header_bytes above", "{\"max_header_bytes\": 1048577}", 0, -1, "got 1048577"},
    {"max_body_bytes above 1 TiB", "{\"max_body_bytes\": 1099511627777}", 0, -1,
     "\"max_body_bytes\": must be an integer from 0 to 1099511627776, got 1099511627777"},
    {"max_body_bytes 0", "{\"max_body_bytes\": 0}", 0, 0, NULL},
    {"cache.max_bytes negative", "{\"cache\": {\"max_bytes\": -1}}", 0, -1,
     "config.json: \"cache.max_bytes\": must be an integer from 0 to"},
    {"cache.max_file_bytes string", "{\"cache\": {\"max_file_bytes\": \"1M\"}}", 0, -1,
     "\"cache.max_file_bytes\": must be an integer"},
    {"tls.port above range", "{\"tls\": {\"port\": 70000}}", 0, -1,
     "config.json: \"tls.port\": must be an integer from 0 to 65535, got 70000"},
    {"tls.hsts_max_age above 2^31", "{\"tls\": {\"hsts_max_age\": 2147483649}}", 0, -1,
     "\"tls.hsts_max_age\": must be an integer from 0 to 2147483648"},
    {"bool as string", "{\"compression\": \"yes\"}", 0, -1,
     "config.json: \"compression\": must be true or false, got \"yes\""},
    {"bool as number", "{\"directory_listing\": 1}", 0, -1,
     "\"directory_listing\": must be true or false, got 1"},
    {"nested bool null", "{\"cache\": {\"enabled\": null}}", 0, -1,
     "\"cache.enabled\": must be true or false, got null"},
    {"metrics false", "{\"metrics\": false}", 0, 0, NULL},
    {"empty root", "{\"root\": \"\"}", 0, -1, "config.json: \"root\": must not be empty"},
    {"empty templates_dir", "{\"templates_dir\": \"\"}", 0, -1,
     "\"templates_dir\": must not be empty"},
    {"empty data_dir", "{\"data_dir\": \"\"}", 0, -1, "\"data_dir\": must not be empty"},
    {"root null", "{\"root\": null}", 0, -1, "\"root\": must be a string, got null"},
    {"root number", "{\"root\": 5}", 0, -1, "\"root\": must be a string, got 5"},
    {"bind null is all interfaces", "{\"bind\": null}", 0, 0, NULL},
    {"bind empty", "{\"bind\": \"\"}", 0, -1, "\"bind\": must not be empty"},
    {"bind number", "{\"bind\": 5}", 0, -1, "\"bind\": must be a non-empty string or null, got 5"},
    {"spa_fallback false", "{\"spa_fallback\": false}", 0, -1,
     "\"spa_fallback\": must be a non-empty string or null, got false"},
    {"bad log_level", "{\"log_level\": \"verbose\"}", 0, -1,
     "config.json: \"log_level\": must be debug, info, warn or error, got \"verbose\""},
    {"log_level upper case", "{\"log_level\": \"INFO\"}", 0, -1, "got \"INFO\""},
    {"log_level number", "{\"log_level\": 1}", 0, -1, "\"log_level\": must be a string, got 1"},
    {"log_level warn", "{\"log_level\": \"warn\"}", 0, 0, NULL},
    {"index_files not an array", "{\"index_files\": \"index.html\"}", 0, -1,
     "\"index_files\": must be an array of file names, got \"index.html\""},
    {"index_files with a number", "{\"index_files\": [\"a.html\", 5]}", 0, -1,
     "config.json: \"index_files[1]\": must be a file name (not empty, no \"/\"), got 5"},
    {"index_files with a slash", "{\"index_files\": [\"a/b.html\"]}", 0, -1,
     "\"index_files[0]\": must be a file name"},
    {"index_files with an empty name", "{\"index_files\": [\"\"]}", 0, -1, "\"index_files[0]\""},
    {"index_files with ..", "{\"index_files\": [\"..\"]}", 0, -1, "got \"..\""},
    {"index_files empty", "{\"index_files\": []}", 0, 0, NULL},
    {"headers not an object", "{\"headers\": []}", 0, -1,
     "\"headers\": must be an object of globs to headers, got an array"},
    {"headers rule not an object", "{\"headers\": {\"/a\": \"x\"}}", 0, -1,
     "\"headers\": \"/a\": must be an object of header names to values, got \"x\""},
    {"headers value not a string", "{\"headers\": {\"/a/*\": {\"X-A\": 1}}}", 0, -1,
     "config.json: \"headers\": \"/a/*\": \"X-A\": must be a string, got 1"},
    {"headers value null", "{\"headers\": {\"/a/*\": {\"X-A\": null}}}", 0, -1,
     "\"X-A\": must be a string, got null"},
    {"headers empty glob", "{\"headers\": {\"\": {}}}", 0, -1,
     "\"headers\": a glob must not be empty"},
    {"headers bad name", "{\"headers\": {\"/a\": {\"X A\": \"1\"}}}", 0, -1,
     "\"X A\" is not a valid header name"},
    {"headers empty name", "{\"headers\": {\"/a\": {\"\": \"1\"}}}", 0, -1,
     "\"\" is not a valid header name"},
    {"headers CRLF injection", "{\"headers\": {\"/a\": {\"X-A\": \"1\\r\\nSet-Cookie: x\"}}}", 0,
     -1, "\"X-A\": control characters are not allowed"},
    {"headers framing header", "{\"headers\": {\"/a\": {\"content-length\": \"1\"}}}", 0, -1,
     "\"content-length\" is set by the server"},
    {"headers duplicate name, any case",
     "{\"headers\": {\"/a\": {\"X-A\": \"1\", \"x-a\": \"2\"}}}", 0, -1,
     "duplicate header \"x-a\""},
    {"headers duplicate glob", "{\"headers\": {\"/a\": {}, \"/a\": {}}}", 0, -1,
     "\"headers\": \"/a\": duplicate glob"},
    {"cache not an object", "{\"cache\": 5}", 0, -1,
     "config.json: \"cache\": must be an object, got 5"},
    {"duplicate key", "{\"port\": 1, \"port\": 2}", 0, -1, "config.json: duplicate key \"port\""},
    {"duplicate nested key", "{\"tls\": {\"port\": 0, \"port\": 0}}", 0, -1,
     "duplicate key \"tls.port\""},
    {"duplicate object", "{\"tls\": {}, \"tls\": {}}", 0, -1, "duplicate key \"tls\""},
    {"invalid JSON on line 3", "{\n  \"port\": 1,\n  \"root\" \"x\"\n}", 0, -1,
     "config.json: line 3: invalid JSON"},
    {"trailing comma", "{\"port\": 1,\n}", 0, -1, "config.json: line 2: invalid JSON"},
    {"trailing text", "{}\n{}", 0, -1, "config.json: line 2: invalid JSON"},
    {"comment is not JSON", "// hi\n{}", 0, -1, "line 1: invalid JSON"},
    {"empty file", "", 0, -1, "config.json: line 1: invalid JSON"},
    {"unterminated object", "{\n\"port\": 1\n", 0, -1, "invalid JSON"},
    {"NUL byte", "{}\0{}", 5, -1, "config.json: line 1: NUL byte"},
    {"top level array", "[]", 0, -1, "config.json: must hold a JSON object {...}, got an array"},
    {"top level number", "5", 0, -1, "got 5"},
    {"top level null", "null", 0, -1, "got null"},
    {"top level string", "\"port\"", 0, -1, "got \"port\""},
    {"admin user without hash", "{\"admin\": {\"user\": \"a\"}}", 0, -1,
     "\"admin.user\" is set without \"admin.password_hash\""},
    {"admin hash without user",
     "{\"admin\": {\"password_hash\": "
     "\"$y$j9T$VC4trlBhf2F747zS.ULsh/$EYKB1kGULfOuYN6vQcfKYQn4RZ8E7bpE1qxDwEsy97C\"}}",
     0, -1, "\"admin.password_hash\" is set without \"admin.user\""},
    {"admin hash not a hash", "{\"admin\": {\"user\": \"a\", \"password_hash\": \"secret\"}}", 0,
     -1, "\"admin.password_hash\": not a password hash"},
    {"admin complete",
     "{\"admin\": {\"user\": \"a\", \"password_hash\": "
     "\"$y$j9T$VC4trlBhf2F747zS.ULsh/$EYKB1kGULfOuYN6vQcfKYQn4RZ8E7bpE1qxDwEsy97C\"}}",
     0, 0, NULL},
    {"tls without cert", "{\"tls\": {\"port\": 8443}}", 0, -1,
     "\"tls.port\" is 8443 but no certificate"},
    {"tls self-signed", "{\"tls\": {\"port\": 8443, \"self_signed\": true}}", 0, 0, NULL},
    {"tls with cert and key",
     "{\"tls\": {\"port\": 8443, \"cert\": \"cert.pem\", \"key\": \"key.pem\"}}", 0, 0, NULL},
    {"tls cert without key", "{\"tls\": {\"port\": 8443, \"cert\": \"cert.pem\"}}", 0, -1,
     "\"tls.cert\" is set without \"tls.key\""},
    {"tls key without cert", "{\"tls\": {\"port\": 8443, \"key\": \"key.pem\"}}", 0, -1,
     "\"tls.key\" is set without \"tls.cert\""},
    {"tls cert and self-signed",
     "{\"tls\": {\"port\": 8443, \"cert\": \"cert.pem\", \"key\": \"key.pem\", \"self_signed\": "
     "true}}",
     0, -1, "both set"},
    {"tls cert unreadable",
     "{\"tls\": {\"port\": 8443, \"cert\": \"nope.pem\", \"key\": \"key.pem\"}}", 0, -1,
     "tls.cert \"nope.pem\": No such file or directory"},
    {"tls port same as port", "{\"port\": 8443, \"tls\": {\"port\": 8443, \"self_signed\": true}}",
     0, -1, "\"tls.port\" and \"port\" are both 8443"},
    {"tls port with port 0", "{\"port\": 0, \"tls\": {\"port\": 8443, \"self_signed\": true}}", 0,
     0, NULL},
    {"tls settings with TLS off", "{\"tls\": {\"cert\": \"cert.pem\", \"key\": \"key.pem\"}}", 0,
     -1, "\"tls.port\" is 0 (TLS off)"},
    {"redirect with TLS off", "{\"tls\": {\"redirect_http\": true}}", 0, -1, "TLS off"},
    {"missing root", "{\"root\": \"./nope\"}", 0, -1, "root \"./nope\": no such directory"},
    {"root is a file", "{\"root\": \"afile\"}", 0, -1, "root \"afile\": not a directory"},
    {"root is another folder", "{\"root\": \"site\"}", 0, 0, NULL},
    {"a long missing root keeps its end",
     "{\"root\": "
     "\"/tmp/"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaa/nope\"}",
     0, -1, "aaaa/nope\": no such directory"},
};

static void test_json_cases(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof json_cases / sizeof json_cases[0]; i++) {
        const struct json_case *t = &json_cases[i];
        struct config c;
        char err[256] = "";
        config_defaults(&c);
        const size_t len = t->len != 0 ? t->len : strlen(t->json);
        int rc = config_parse_json(&c, t->json, len, "config.json", err);
        if (rc == 0) {
            rc = config_validate(&c, err);
        }
        config_free(&c);
        config_free(&c);
        const bool ok =
            rc == t->rc && (rc == 0 || (is_one_line(err) && strstr(err, t->err) != NULL));
        if (!ok) {
            print_error("json case %zu (%s): rc %d, want %d; err \"%s\", want \"%s\"\n", i, t->desc,
                        rc, t->rc, err, t->err ? t->err : "");
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* A one-line summary of the settings the command line can change, as " key=value " tokens,
 * so a case can state what it expects as a few of them. */
static void summarize(const struct config *c, enum config_action action, char *out, size_t size)
{
    static const char *const actions[] = {"run", "check", "help", "version", "hash", "make_cert"};
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    snprintf(out, size,
             " action=%s port=%d root=%s file=%s bind=%s threads=%d default_page=%s"
             " not_found_page=%s templates=%s access_log=%s error_log=%s level=%s listing=%d"
             " gzip=%d data=%s user=%s tls.port=%d cert=%s key=%s self_signed=%d make_cert=%s ",
             actions[action], c->port, c->root, c->config_path ? c->config_path : "-",
             c->bind ? c->bind : "-", c->threads, c->default_page, c->not_found_page,
             c->templates_dir, c->access_log, c->error_log, levels[c->log_level],
             c->directory_listing, c->compression, c->data_dir, c->user ? c->user : "-",
             c->tls.port, c->tls.cert ? c->tls.cert : "-", c->tls.key ? c->tls.key : "-",
             c->tls.self_signed, c->make_cert_dir ? c->make_cert_dir : "-");
}

/* True when every space-separated token of `want` is a whole token of `summary`. */
static bool has_tokens(const char *summary, const char *want)
{
    while (*want != '\0') {
        const size_t len = strcspn(want, " ");
        char token[128];
        if (len > 0) {
            snprintf(token, sizeof token, " %.*s ", (int)len, want);
            if (strstr(summary, token) == NULL) {
                return false;
            }
        }
        want += len + (want[len] == ' ');
    }
    return true;
}

struct cli_case {
    const char *desc;
    const char *args;       /* after "mica", split on spaces; '' is an empty argument */
    const char *cwd_config; /* written to ./config.json for this case, or NULL for none */
    int rc;
    const char *want; /* rc 0: tokens of the summary; rc -1: text in err */
};

static const struct cli_case cli_cases[] = {
    {"no file, no options: defaults", "", NULL, 0, "action=run port=6789 root=./www file=-"},
    {"file alone", "-c c7000.json", NULL, 0, "port=7000 file=c7000.json"},
    {"--port over the file", "-c c7000.json --port 7001", NULL, 0, "port=7001 file=c7000.json"},
    {"--port before -c still wins", "--port=7002 --config=c7000.json", NULL, 0, "port=7002"},
    {"-p short form", "-p 7003", NULL, 0, "port=7003"},
    {"-p glued", "-p7004", NULL, 0, "port=7004"},
    {"last --port wins", "-p 1 -p 2", NULL, 0, "port=2"},
    {"./config.json is read by default", "", "{\"port\": 7005}", 0, "port=7005 file=config.json"},
    {"option over ./config.json", "-p 7006", "{\"port\": 7005}", 0, "port=7006"},
    {"-c replaces ./config.json", "-c c7000.json", "{\"port\": 7005}", 0, "port=7000"},
    {"-c missing file", "-c missing.json", NULL, -1,
     "--config missing.json: No such file or directory"},
    {"-c a directory", "-c site", NULL, -1, "--config site: not a regular file"},
    {"-c file with a bad value names the file", "-c bad.json", NULL, -1,
     "bad.json: \"port\": must be an integer from 0 to 65535, got \"x\""},
    {"bad ./config.json", "", "{\n\n,", -1, "config.json: line 3: invalid JSON"},
    {"unknown key in ./config.json", "", "{\"prot\": 1}", -1, "config.json: unknown key \"prot\""},
    {"--port not a number", "--port abc", NULL, -1,
     "--port: must be an integer from 0 to 65535, got \"abc\""},
    {"--port too big", "-p 70000", NULL, -1,
     "--port: must be an integer from 0 to 65535, got \"70000\""},
    {"--port negative", "--port=-1", NULL, -1, "got \"-1\""},
    {"--port empty", "--port ''", NULL, -1, "--port: must be an integer"},
    {"--port with leading white space", "--port \t80", NULL, -1, "got \"?80\""},
    {"--port with a plus", "--port +80", NULL, -1, "got \"+80\""},
    {"--port with a suffix", "--port 80x", NULL, -1, "got \"80x\""},
    {"--port overflowing", "--port 99999999999999999999999", NULL, -1, "--port: must be an"},
    {"a CLI error comes before the file's", "-p x", "{\"prot\": 1}", -1, "--port:"},
    {"--threads 0", "-t 0", NULL, -1, "--threads: must be an integer from 1 to 1024, got \"0\""},
    {"--tls-port too big", "--tls-port 65536", NULL, -1,
     "--tls-port: must be an integer from 0 to 65535"},
    {"positional ROOT", "site", NULL, 0, "root=site"},
    {"positional ROOT after options", "-p 1 site", NULL, 0, "port=1 root=site"},
    {"positional ROOT before options", "site -p 1", NULL, 0, "port=1 root=site"},
    {"positional ROOT over the file", "site", "{\"root\": \"www\"}", 0, "root=site"},
    {"ROOT after --", "-- site", NULL, 0, "root=site"},
    {"two ROOTs", "site www", NULL, -1, "unexpected argument \"www\": only one ROOT may be given"},
    {"ROOT and --root", "-r www site", NULL, -1, "ROOT and --root are both given"},
    {"--root", "--root site", NULL, 0, "root=site"},
    {"--root missing", "-r nope", NULL, -1, "root \"nope\": no such directory"},
    {"ROOT missing", "nope/deeper", NULL, -1, "root \"nope/deeper\": no such directory"},
    {"--root a file", "--root afile", NULL, -1, "root \"afile\": not a directory"},
    {"--root empty", "--root ''", NULL, -1, "--root: must not be empty"},
    {"ROOT empty", "''", NULL, -1, "ROOT: must not be empty"},
    {"a long missing -c path keeps its end",
     "-c "
     "/tmp/"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaa/c.json",
     NULL, -1, "aaaa/c.json: No such file or directory"},
    {"--no-listing --no-gzip", "--no-listing --no-gzip", NULL, 0, "listing=0 gzip=0"},
    {"--listing --gzip over the file", "--listing --gzip",
     "{\"directory_listing\": false, \"compression\": false}", 0, "listing=1 gzip=1"},
    {"the file without options", "", "{\"directory_listing\": false, \"compression\": false}", 0,
     "listing=0 gzip=0"},
    {"--log-level debug", "--log-level debug", NULL, 0, "level=debug"},
    {"--log-level bad", "--log-level loud", NULL, -1,
     "--log-level: must be debug, info, warn or error, got \"loud\""},
    {"string options",
     "-b 127.0.0.1 -t 2 --default-page=d.html --not-found-page nf.html --templates t "
     "--access-log - --error-log off --data dd --user nobody",
     NULL, 0,
     "bind=127.0.0.1 threads=2 default_page=d.html not_found_page=nf.html templates=t "
     "access_log=- error_log=off data=dd user=nobody"},
    {"unique prefix of a long option", "--thr 3", NULL, 0, "threads=3"},
    {"--self-signed", "--tls-port 8443 --self-signed", NULL, 0, "tls.port=8443 self_signed=1"},
    {"--cert --key", "--tls-port 8443 --cert cert.pem --key key.pem", NULL, 0,
     "tls.port=8443 cert=cert.pem key=key.pem self_signed=0"},
    {"--tls-port without a certificate", "--tls-port 8443", NULL, -1, "no certificate"},
    {"--check-config", "--check-config", NULL, 0, "action=check port=6789"},
    {"--check-config with a bad root", "--check-config nope", NULL, -1,
     "root \"nope\": no such directory"},
    {"--check-config with a bad file", "--check-config", "[]", -1,
     "config.json: must hold a JSON object"},
    {"--help skips a bad file", "--help", "{{{", 0, "action=help port=6789"},
    {"-h", "-h", NULL, 0, "action=help"},
    {"--help beats --check-config", "--check-config --help", NULL, 0, "action=help"},
    {"--version", "--version", NULL, 0, "action=version"},
    {"-V skips a missing root", "-V nope", NULL, 0, "action=version"},
    {"--hash-password", "--hash-password", NULL, 0, "action=hash make_cert=-"},
    {"--make-cert DIR", "--make-cert certs", NULL, 0, "action=make_cert make_cert=certs"},
    {"--make-cert=DIR", "--make-cert=my/certs", NULL, 0, "action=make_cert make_cert=my/certs"},
    {"--make-cert skips a bad file and a missing root", "--make-cert certs nope", "{{{", 0,
     "action=make_cert make_cert=certs"},
    {"--make-cert with other options", "-p 1 --make-cert certs --tls-port 2", NULL, 0,
     "action=make_cert make_cert=certs"},
    {"--make-cert without DIR", "--make-cert", NULL, -1,
     "option \"--make-cert\" needs an argument (try --help)"},
    {"--make-cert with an empty DIR", "--make-cert ''", NULL, -1,
     "--make-cert: DIR must not be empty"},
    {"--help beats --make-cert", "--make-cert certs --help", NULL, 0, "action=help"},
    {"--make-cert beats --check-config", "--check-config --make-cert certs", NULL, 0,
     "action=make_cert make_cert=certs"},
    {"no --make-cert: no DIR", "-p 1", NULL, 0, "action=run make_cert=-"},
    {"unknown long option", "--frobnicate", NULL, -1,
     "unknown option \"--frobnicate\" (try --help)"},
    {"unknown long option with a value", "--frobnicate=3", NULL, -1,
     "unknown option \"--frobnicate\" (try --help)"},
    {"ambiguous prefix", "--t 1", NULL, -1,
     "ambiguous option \"--t\": --threads, --templates, --tls-port (try --help)"},
    {"unknown short option", "-x", NULL, -1, "unknown option \"-x\" (try --help)"},
    {"unknown short option in a group", "-hx", NULL, -1, "unknown option \"-x\""},
    {"missing argument, long", "--port", NULL, -1,
     "option \"--port\" needs an argument (try --help)"},
    {"missing argument, short", "-p", NULL, -1, "option \"-p\" needs an argument"},
    {"argument to a flag", "--listing=yes", NULL, -1, "option \"--listing\" takes no argument"},
};

/* Splits args into argv (in `storage`), after "mica". */
static int build_argv(const char *args, char *storage, size_t size, char **argv, int max)
{
    int argc = 0;
    argv[argc++] = (char *)"mica";
    snprintf(storage, size, "%s", args);
    for (char *p = storage; *p != '\0' && argc < max - 1;) {
        const size_t len = strcspn(p, " ");
        const bool is_last = p[len] == '\0';
        p[len] = '\0';
        argv[argc++] = strcmp(p, "''") == 0 ? p + 2 : p;
        p += len + !is_last;
    }
    argv[argc] = NULL;
    return argc;
}

static void test_cli_cases(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof cli_cases / sizeof cli_cases[0]; i++) {
        const struct cli_case *t = &cli_cases[i];
        if (t->cwd_config != NULL) {
            assert_true(write_file("config.json", t->cwd_config));
        }
        char storage[512], *argv[32];
        const int argc = build_argv(t->args, storage, sizeof storage, argv, 32);
        struct config c;
        char err[256] = "", summary[1024] = "";
        enum config_action action = CONFIG_RUN;
        const int rc = config_load(&c, argc, argv, &action, err);
        bool ok = rc == t->rc;
        if (ok && rc == 0) {
            summarize(&c, action, summary, sizeof summary);
            ok = has_tokens(summary, t->want);
        } else if (ok) {
            ok = is_one_line(err) && strstr(err, t->want) != NULL;
        }
        if (!ok) {
            print_error("cli case %zu (%s): rc %d, want %d; want \"%s\"; err \"%s\"; got%s\n", i,
                        t->desc, rc, t->rc, t->want, err, summary);
            failures++;
        }
        config_free(&c); /* after a failure config_load has freed it already */
        unlink("config.json");
    }
    assert_int_equal(failures, 0);
}

/* However long the file name, the key and the problem stay in the line. */
static void test_long_file_name(void **state)
{
    (void)state;
    char name[600];
    memset(name, 'd', sizeof name);
    memcpy(name + sizeof name - 8, "/c.json", 8);
    struct config c;
    char err[256] = "";
    config_defaults(&c);
    const char json[] = "{\"port\": 70000}";
    assert_int_equal(config_parse_json(&c, json, strlen(json), name, err), -1);
    config_free(&c);
    if (!is_one_line(err) ||
        strstr(err, "ddd/c.json: \"port\": must be an integer from 0 to 65535, got 70000") ==
            NULL) {
        fail_msg("long file name: err \"%s\"", err);
    }
}

static void test_usage(void **state)
{
    (void)state;
    const char *usage = config_usage();
    static const char *const needles[] = {
        "Usage: mica [OPTIONS] [ROOT]",
        "-c, --config FILE",
        "-p, --port N",
        "-b, --bind ADDR",
        "-r, --root DIR",
        "-t, --threads N",
        "--default-page NAME",
        "--not-found-page NAME",
        "--templates DIR",
        "--access-log FILE",
        "--error-log FILE",
        "--log-level LEVEL",
        "--listing, --no-listing",
        "--gzip, --no-gzip",
        "--tls-port N",
        "--cert FILE",
        "--key FILE",
        "--self-signed",
        "--data DIR",
        "--user NAME",
        "--check-config",
        "--hash-password",
        "--make-cert DIR",
        "DIR/cert.pem and DIR/key.pem",
        "-h, --help",
        "-V, --version",
        "[port: 6789]",
        "[root: ./www]",
        "[default_page: HelloWorld.html]",
        "[not_found_page: 404.html]",
        "[templates_dir: ./templates]",
        "[access_log: logs/access.log]",
        "[error_log: logs/error.log]",
        "[log_level: info]",
        "[data_dir: ./data]",
    };
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++) {
        if (strstr(usage, needles[i]) == NULL) {
            fail_msg("--help text lacks \"%s\"", needles[i]);
        }
    }
    /* A good --help fits an 80-column terminal. */
    for (const char *line = usage; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        const size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        if (len > 80) {
            fail_msg("--help line over 80 columns: %.*s", (int)len, line);
        }
        line += len + (nl != NULL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),  cmocka_unit_test(test_repo_config_json),
        cmocka_unit_test(test_all_keys),  cmocka_unit_test(test_json_cases),
        cmocka_unit_test(test_cli_cases), cmocka_unit_test(test_long_file_name),
        cmocka_unit_test(test_usage),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
