/* SPDX-License-Identifier: MIT */
/*
 * Configuration: built-in defaults < config.json < command line (SPEC §1).
 *
 * Every setting is one row of `keys[]`: its JSON name (nested keys are dotted, "tls.port"),
 * its type, where it lives in struct config, and for integers the accepted range. The JSON
 * reader, the command line, config_free and the error messages all work from that table, so
 * adding a setting means one row here, a default in config_defaults(), and usually a line in
 * config_usage().
 *
 * Values flow through one small `struct value`: JSON and command-line text are each checked
 * and converted into one (which is where every type and range error is raised), and
 * key_store() writes it into the struct. The command line is parsed first, so that its
 * mistakes are reported before the file's, but its values are stored last, so they win.
 *
 * JSON null: the optional strings (bind, spa_fallback, admin.user, admin.password_hash,
 * tls.cert, tls.key, user) accept null, meaning "unset", and config.json spells them out as
 * null. Every other key rejects null. "threads" is left out of config.json because its
 * default, the number of online CPUs, cannot be written as a constant.
 *
 * The integer ranges below assume an LP64 system (64-bit long and size_t), as Linux on
 * x86-64 and arm64 is.
 */
#include "core/config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <netdb.h>
#include <arpa/inet.h>

#include "util/password.h"

_Static_assert(sizeof(long) >= 8 && sizeof(size_t) >= 8, "mica's limits need an LP64 system");

enum {
    ERR_SIZE = 256,                  /* the caller's char err[256] */
    KEY_PATH_MAX = 64,               /* longest dotted key we look up */
    CONFIG_FILE_MAX_BYTES = 1 << 20, /* a config file is a few KiB; refuse anything huge */
    /* Errors quote bad values and paths cut to these sizes, so the key and the problem
     * always fit the line: a value keeps its head, a path its tail. */
    SHOWN_TEXT_MAX = 40,
    SHOWN_SIZE = SHOWN_TEXT_MAX + 4, /* room for "..." and the NUL */
    SHOWN_PATH_MAX = 60,
    SHOWN_PATH_SIZE = SHOWN_PATH_MAX + 4,
    GOT_SIZE = SHOWN_SIZE + 8,                      /* a shown value in quotes, or "an object" */
    WHO_SIZE = SHOWN_PATH_SIZE + KEY_PATH_MAX + 16, /* file: "key" */
    WHERE_SIZE = WHO_SIZE + SHOWN_SIZE + 8,         /* file: "headers": "glob" */
};

enum key_type {
    KEY_INT,         /* int field, JSON number that is whole and within [min, max] */
    KEY_LONG,        /* long field, same rules */
    KEY_SIZE,        /* size_t field, same rules */
    KEY_BOOL,        /* bool field, JSON true or false */
    KEY_STR,         /* char * field, non-empty string */
    KEY_STR_OR_NULL, /* char * field, non-empty string, or null for "unset" */
    KEY_LOG_LEVEL,   /* enum log_level field, one of the names in log_levels[] */
    KEY_NAME_LIST,   /* index_files: array of file names */
    KEY_NET_LIST,    /* trusted_proxies: array of addresses or CIDR networks */
    KEY_HEADERS,     /* headers: glob -> {name: value} */
    KEY_OBJECT,      /* a nested object whose keys are the rows named "<this>.<key>" */
};

struct key {
    const char *name;
    enum key_type type;
    size_t offset; /* into struct config; unused for KEY_NAME_LIST, KEY_HEADERS, KEY_OBJECT */
    long long min, max;
};

#define FIELD(f) offsetof(struct config, f)

static const struct key keys[] = {
    {"port", KEY_INT, FIELD(port), 0, 65535},
    {"bind", KEY_STR_OR_NULL, FIELD(bind), 0, 0},
    {"root", KEY_STR, FIELD(root), 0, 0},
    {"threads", KEY_INT, FIELD(threads), 1, 1024},
    {"default_page", KEY_STR, FIELD(default_page), 0, 0},
    {"not_found_page", KEY_STR, FIELD(not_found_page), 0, 0},
    {"templates_dir", KEY_STR, FIELD(templates_dir), 0, 0},
    {"access_log", KEY_STR, FIELD(access_log), 0, 0},
    {"error_log", KEY_STR, FIELD(error_log), 0, 0},
    {"log_level", KEY_LOG_LEVEL, FIELD(log_level), 0, 0},
    {"directory_listing", KEY_BOOL, FIELD(directory_listing), 0, 0},
    {"compression", KEY_BOOL, FIELD(compression), 0, 0},
    {"data_dir", KEY_STR, FIELD(data_dir), 0, 0},
    {"max_connections", KEY_INT, FIELD(max_connections), 1, 1000000},
    {"keepalive_timeout_s", KEY_INT, FIELD(keepalive_timeout_s), 1, 3600},
    {"header_timeout_s", KEY_INT, FIELD(header_timeout_s), 1, 3600},
    {"body_timeout_s", KEY_INT, FIELD(body_timeout_s), 1, 3600},
    {"body_min_rate", KEY_LONG, FIELD(body_min_rate), 0, 1000000000},
    {"send_timeout_s", KEY_INT, FIELD(send_timeout_s), 1, 3600},
    {"max_header_bytes", KEY_SIZE, FIELD(max_header_bytes), 1024, 1048576},
    {"max_body_bytes", KEY_SIZE, FIELD(max_body_bytes), 0, 1LL << 40},
    {"index_files", KEY_NAME_LIST, 0, 0, 0},
    {"trusted_proxies", KEY_NET_LIST, 0, 0, 0},
    {"cache", KEY_OBJECT, 0, 0, 0},
    {"cache.enabled", KEY_BOOL, FIELD(cache.enabled), 0, 0},
    {"cache.max_bytes", KEY_SIZE, FIELD(cache.max_bytes), 0, 1LL << 40},
    {"cache.max_file_bytes", KEY_SIZE, FIELD(cache.max_file_bytes), 0, 1LL << 40},
    {"admin", KEY_OBJECT, 0, 0, 0},
    {"admin.user", KEY_STR_OR_NULL, FIELD(admin.user), 0, 0},
    {"admin.password_hash", KEY_STR_OR_NULL, FIELD(admin.password_hash), 0, 0},
    {"clean_urls", KEY_BOOL, FIELD(clean_urls), 0, 0},
    {"spa_fallback", KEY_STR_OR_NULL, FIELD(spa_fallback), 0, 0},
    {"headers", KEY_HEADERS, 0, 0, 0},
    {"tls", KEY_OBJECT, 0, 0, 0},
    {"tls.port", KEY_INT, FIELD(tls.port), 0, 65535},
    {"tls.cert", KEY_STR_OR_NULL, FIELD(tls.cert), 0, 0},
    {"tls.key", KEY_STR_OR_NULL, FIELD(tls.key), 0, 0},
    {"tls.self_signed", KEY_BOOL, FIELD(tls.self_signed), 0, 0},
    {"tls.redirect_http", KEY_BOOL, FIELD(tls.redirect_http), 0, 0},
    {"tls.hsts_max_age", KEY_LONG, FIELD(tls.hsts_max_age), 0, 1LL << 31},
    {"user", KEY_STR_OR_NULL, FIELD(user), 0, 0},
    {"metrics", KEY_BOOL, FIELD(metrics), 0, 0},
};

enum { N_KEYS = sizeof keys / sizeof keys[0] };

static const char *const log_levels[] = {
    [LOG_DEBUG] = "debug",
    [LOG_INFO] = "info",
    [LOG_WARN] = "warn",
    [LOG_ERROR] = "error",
};

/* Response headers the server itself manages: letting a config set them would corrupt the
 * message framing (RFC 9112 §6) or the connection handling (RFC 9110 §7.6.1). */
static const char *const reserved_headers[] = {
    "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", "TE",
    "Trailer",        "Proxy-Connection",
};

/* One checked setting on its way into the struct. str is borrowed (from the cJSON tree or
 * argv) and NULL means "unset"; num holds integers, booleans and the log level. */
struct value {
    long long num;
    const char *str;
};

__attribute__((format(printf, 2, 3))) static int fail(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* Truncation is acceptable: the message only has to stay one bounded line. */
    (void)vsnprintf(err, ERR_SIZE, fmt, ap);
    va_end(ap);
    return -1;
}

static void *field(struct config *cfg, const struct key *k)
{
    return (char *)cfg + k->offset;
}

static const struct key *key_find(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(keys[i].name, name) == 0) {
            return &keys[i];
        }
    }
    return NULL;
}

/* Copies text for quoting in an error: control characters (a JSON string may hold "\n")
 * become '?' so the message stays one line, and long text is cut with "...". */
static void show_text(const char *s, char *out, size_t size)
{
    size_t n = 0;
    for (; s[n] != '\0' && n < SHOWN_TEXT_MAX && n + 4 < size; n++) {
        const unsigned char c = (unsigned char)s[n];
        out[n] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    out[n] = '\0';
    if (s[n] != '\0' && n + 4 <= size) {
        memcpy(out + n, "...", 4);
    }
}

void config_show_path(const char *path, char *out, size_t size)
{
    const size_t len = strlen(path), room = size - 4; /* "..." and the NUL */
    const size_t start = len > room ? len - room : 0;
    size_t n = 0;
    if (start > 0) {
        memcpy(out, "...", 3);
        n = 3;
    }
    for (size_t i = start; i < len; i++) {
        const unsigned char c = (unsigned char)path[i];
        out[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    out[n] = '\0';
}

static void show_number(double d, char *out, size_t size)
{
    /* The range test comes first: converting a double outside long long is undefined. */
    if (d > -9e18 && d < 9e18 && d == (double)(long long)d) {
        snprintf(out, size, "%lld", (long long)d);
    } else {
        snprintf(out, size, "%.15g", d);
    }
}

/* Says what a JSON value is, for "got ..." in errors. */
static void show_json(const cJSON *item, char *out, size_t size)
{
    char text[SHOWN_SIZE];
    if (cJSON_IsNumber(item)) {
        show_number(item->valuedouble, out, size);
    } else if (cJSON_IsString(item)) {
        show_text(item->valuestring, text, sizeof text);
        snprintf(out, size, "\"%s\"", text);
    } else if (cJSON_IsArray(item)) {
        snprintf(out, size, "an array");
    } else if (cJSON_IsObject(item)) {
        snprintf(out, size, "an object");
    } else {
        snprintf(out, size, "%s",
                 cJSON_IsTrue(item)    ? "true"
                 : cJSON_IsFalse(item) ? "false"
                                       : "null");
    }
}

/* ---- storing a checked value ---- */

static int store_string(char **slot, const char *s, char *err)
{
    char *copy = NULL;
    if (s != NULL && (copy = strdup(s)) == NULL) {
        return fail(err, "out of memory");
    }
    free(*slot);
    *slot = copy;
    return 0;
}

static int key_store(struct config *cfg, const struct key *k, const struct value *v, char *err)
{
    void *p = field(cfg, k);
    switch (k->type) {
    case KEY_INT:
        *(int *)p = (int)v->num;
        return 0;
    case KEY_LONG:
        *(long *)p = (long)v->num;
        return 0;
    case KEY_SIZE:
        *(size_t *)p = (size_t)v->num;
        return 0;
    case KEY_BOOL:
        *(bool *)p = v->num != 0;
        return 0;
    case KEY_LOG_LEVEL:
        *(enum log_level *)p = (enum log_level)v->num;
        return 0;
    case KEY_STR:
    case KEY_STR_OR_NULL:
        return store_string(p, v->str, err);
    case KEY_NAME_LIST:
    case KEY_NET_LIST:
    case KEY_HEADERS:
    case KEY_OBJECT:
        break;
    }
    return fail(err, "internal error: key \"%s\" cannot be stored as a scalar", k->name);
}

/* ---- checking a value from the command line ---- */

static int text_integer(const struct key *k, const char *text, const char *who, struct value *v,
                        char *err)
{
    char *end = NULL;
    errno = 0;
    const long long n = strtoll(text, &end, 10);
    /* strtoll skips leading spaces and accepts "+": a port is digits, so insist on them. */
    const bool is_number = (text[0] == '-' || (text[0] >= '0' && text[0] <= '9')) && end != text &&
                           *end == '\0' && errno == 0;
    if (is_number && n >= k->min && n <= k->max) {
        v->num = n;
        return 0;
    }
    char shown[SHOWN_SIZE];
    show_text(text, shown, sizeof shown);
    return fail(err, "%s: must be an integer from %lld to %lld, got \"%s\"", who, k->min, k->max,
                shown);
}

static int level_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof log_levels / sizeof log_levels[0]; i++) {
        if (strcmp(name, log_levels[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static int text_value(const struct key *k, const char *text, const char *who, struct value *v,
                      char *err)
{
    char shown[SHOWN_SIZE];
    switch (k->type) {
    case KEY_INT:
    case KEY_LONG:
    case KEY_SIZE:
        return text_integer(k, text, who, v, err);
    case KEY_STR:
    case KEY_STR_OR_NULL:
        if (text[0] == '\0') {
            return fail(err, "%s: must not be empty", who);
        }
        v->str = text;
        return 0;
    case KEY_LOG_LEVEL:
        v->num = level_from_name(text);
        if (v->num >= 0) {
            return 0;
        }
        show_text(text, shown, sizeof shown);
        return fail(err, "%s: must be debug, info, warn or error, got \"%s\"", who, shown);
    case KEY_BOOL:
    case KEY_NAME_LIST:
    case KEY_NET_LIST:
    case KEY_HEADERS:
    case KEY_OBJECT:
        break;
    }
    return fail(err, "internal error: %s takes no text", who);
}

/* ---- checking a value from JSON ---- */

static int json_integer(const struct key *k, const cJSON *item, const char *who, struct value *v,
                        char *err)
{
    if (cJSON_IsNumber(item)) {
        const double d = item->valuedouble;
        /* In range first, so the cast is defined; then whole, so 1.5 is refused. */
        if (d >= (double)k->min && d <= (double)k->max && d == (double)(long long)d) {
            v->num = (long long)d;
            return 0;
        }
    }
    char got[GOT_SIZE];
    show_json(item, got, sizeof got);
    return fail(err, "%s: must be an integer from %lld to %lld, got %s", who, k->min, k->max, got);
}

static int json_scalar(const struct key *k, const cJSON *item, const char *who, struct value *v,
                       char *err)
{
    char got[GOT_SIZE];
    show_json(item, got, sizeof got);
    switch (k->type) {
    case KEY_INT:
    case KEY_LONG:
    case KEY_SIZE:
        return json_integer(k, item, who, v, err);
    case KEY_BOOL:
        if (!cJSON_IsBool(item)) {
            return fail(err, "%s: must be true or false, got %s", who, got);
        }
        v->num = cJSON_IsTrue(item);
        return 0;
    case KEY_STR_OR_NULL:
        if (cJSON_IsNull(item)) {
            v->str = NULL;
            return 0;
        }
        if (!cJSON_IsString(item)) {
            return fail(err, "%s: must be a non-empty string or null, got %s", who, got);
        }
        return text_value(k, item->valuestring, who, v, err);
    case KEY_STR:
    case KEY_LOG_LEVEL:
        if (!cJSON_IsString(item)) {
            return fail(err, "%s: must be a string, got %s", who, got);
        }
        return text_value(k, item->valuestring, who, v, err);
    case KEY_NAME_LIST:
    case KEY_NET_LIST:
    case KEY_HEADERS:
    case KEY_OBJECT:
        break;
    }
    return fail(err, "internal error: %s is not a scalar", who);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n && names != NULL; i++) {
        free(names[i]);
    }
    free(names);
}

static bool is_file_name(const cJSON *item)
{
    if (!cJSON_IsString(item)) {
        return false;
    }
    const char *s = item->valuestring;
    return s[0] != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

int config_parse_net(const char *text, struct config_net *net)
{
    char addr[64];
    const char *slash = strchr(text, '/');
    size_t n = slash ? (size_t)(slash - text) : strlen(text);
    if (n == 0 || n >= sizeof addr) {
        return -1;
    }
    memcpy(addr, text, n);
    addr[n] = '\0';
    unsigned max;
    struct in_addr v4;
    memset(net, 0, sizeof *net);
    if (inet_pton(AF_INET, addr, &v4) == 1) {
        /* IPv4 as v4-mapped IPv6, as the connection keeps its peer. */
        net->addr.s6_addr[10] = net->addr.s6_addr[11] = 0xff;
        memcpy(&net->addr.s6_addr[12], &v4, 4);
        max = 32;
    } else if (inet_pton(AF_INET6, addr, &net->addr) == 1) {
        max = 128;
    } else {
        return -1;
    }
    unsigned prefix = max;
    if (slash) {
        char *end;
        errno = 0;
        unsigned long p = strtoul(slash + 1, &end, 10);
        if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || errno != 0 || p > max) {
            return -1;
        }
        prefix = (unsigned)p;
    }
    net->prefix = (unsigned char)(prefix + (max == 32 ? 96 : 0));
    return 0;
}

/* trusted_proxies: built aside and swapped in whole, like index_files. */
static int json_net_list(struct config *cfg, const cJSON *arr, const char *name, char *err)
{
    char got[GOT_SIZE];
    if (!cJSON_IsArray(arr)) {
        show_json(arr, got, sizeof got);
        return fail(err, "%s: \"trusted_proxies\": must be an array of addresses, got %s", name,
                    got);
    }
    const size_t n = (size_t)cJSON_GetArraySize(arr);
    struct config_net *nets = calloc(n + 1, sizeof *nets);
    if (nets == NULL) {
        return fail(err, "out of memory");
    }
    size_t i = 0;
    for (const cJSON *item = arr->child; item != NULL; item = item->next, i++) {
        if (!cJSON_IsString(item) || config_parse_net(item->valuestring, &nets[i]) != 0) {
            show_json(item, got, sizeof got);
            free(nets);
            return fail(err,
                        "%s: \"trusted_proxies[%zu]\": must be an address or network like "
                        "\"10.0.0.0/8\", got %s",
                        name, i, got);
        }
    }
    free(cfg->trusted_proxies);
    cfg->trusted_proxies = nets;
    cfg->n_trusted_proxies = n;
    return 0;
}

/* index_files: built aside and swapped in whole, so a bad element leaves the old list. */
static int json_name_list(struct config *cfg, const cJSON *arr, const char *name, char *err)
{
    char who[WHO_SIZE];
    snprintf(who, sizeof who, "%s: \"index_files\"", name);
    char got[GOT_SIZE];
    if (!cJSON_IsArray(arr)) {
        show_json(arr, got, sizeof got);
        return fail(err, "%s: must be an array of file names, got %s", who, got);
    }
    const size_t n = (size_t)cJSON_GetArraySize(arr);
    char **names = calloc(n + 1, sizeof *names);
    if (names == NULL) {
        return fail(err, "out of memory");
    }
    size_t i = 0;
    for (const cJSON *item = arr->child; item != NULL; item = item->next, i++) {
        if (!is_file_name(item)) {
            show_json(item, got, sizeof got);
            fail(err, "%s: \"index_files[%zu]\": must be a file name (not empty, no \"/\"), got %s",
                 name, i, got);
            goto fail;
        }
        if ((names[i] = strdup(item->valuestring)) == NULL) {
            fail(err, "out of memory");
            goto fail;
        }
    }
    free_names(cfg->index_files, cfg->n_index_files);
    cfg->index_files = names;
    cfg->n_index_files = n;
    return 0;
fail:
    free_names(names, n);
    return -1;
}

static void free_headers(struct header_rule *rules, size_t n)
{
    for (size_t i = 0; i < n && rules != NULL; i++) {
        for (size_t j = 0; j < rules[i].n_fields; j++) {
            free(rules[i].fields[j].name);
            free(rules[i].fields[j].value);
        }
        free(rules[i].fields);
        free(rules[i].glob);
    }
    free(rules);
}

/* RFC 9110 §5.6.2: a field name is a token. */
static bool is_token(const char *s)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (s[0] == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        const unsigned char c = (unsigned char)*s;
        const bool is_alnum = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
        if (!is_alnum && strchr(extra, c) == NULL) {
            return false;
        }
    }
    return true;
}

/* RFC 9110 §5.5: no CR, LF, NUL or other controls except HTAB, which would let a value
 * smuggle extra header lines into every response. */
static bool is_field_value(const char *s)
{
    for (; *s != '\0'; s++) {
        const unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return false;
        }
    }
    return true;
}

static bool is_reserved_header(const char *name)
{
    for (size_t i = 0; i < sizeof reserved_headers / sizeof reserved_headers[0]; i++) {
        if (strcasecmp(name, reserved_headers[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* True when an earlier sibling of item has the same key (cJSON keeps both). */
static bool is_duplicate(const cJSON *parent, const cJSON *item, bool ignore_case)
{
    for (const cJSON *p = parent->child; p != item; p = p->next) {
        const int cmp =
            ignore_case ? strcasecmp(p->string, item->string) : strcmp(p->string, item->string);
        if (cmp == 0) {
            return true;
        }
    }
    return false;
}

static int check_header_field(const cJSON *rule, const cJSON *f, const char *who, char *err)
{
    char name[SHOWN_SIZE], got[GOT_SIZE];
    show_text(f->string, name, sizeof name);
    show_json(f, got, sizeof got);
    if (!is_token(f->string)) {
        return fail(err, "%s: \"%s\" is not a valid header name", who, name);
    }
    if (is_duplicate(rule, f, true)) {
        return fail(err, "%s: duplicate header \"%s\"", who, name);
    }
    if (is_reserved_header(f->string)) {
        return fail(err, "%s: \"%s\" is set by the server and cannot be configured", who, name);
    }
    if (!cJSON_IsString(f)) {
        return fail(err, "%s: \"%s\": must be a string, got %s", who, name, got);
    }
    if (!is_field_value(f->valuestring)) {
        return fail(err, "%s: \"%s\": control characters are not allowed in a value", who, name);
    }
    return 0;
}

/* Fills one rule from {"Header-Name": "value", ...}; the caller frees it on failure. */
static int json_header_rule(struct header_rule *r, const cJSON *rules, const cJSON *item,
                            const char *who, char *err)
{
    char where[WHERE_SIZE], glob[SHOWN_SIZE], got[GOT_SIZE];
    show_text(item->string, glob, sizeof glob);
    snprintf(where, sizeof where, "%s: \"%s\"", who, glob);
    if (item->string[0] == '\0') {
        return fail(err, "%s: a glob must not be empty", who);
    }
    if (is_duplicate(rules, item, false)) {
        return fail(err, "%s: duplicate glob", where);
    }
    if (!cJSON_IsObject(item)) {
        show_json(item, got, sizeof got);
        return fail(err, "%s: must be an object of header names to values, got %s", where, got);
    }
    const size_t n = (size_t)cJSON_GetArraySize(item);
    r->glob = strdup(item->string);
    r->fields = calloc(n + 1, sizeof *r->fields);
    if (r->glob == NULL || r->fields == NULL) {
        return fail(err, "out of memory");
    }
    for (const cJSON *f = item->child; f != NULL; f = f->next) {
        if (check_header_field(item, f, where, err) < 0) {
            return -1;
        }
        struct header_field *hf = &r->fields[r->n_fields++];
        hf->name = strdup(f->string);
        hf->value = strdup(f->valuestring);
        if (hf->name == NULL || hf->value == NULL) {
            return fail(err, "out of memory");
        }
    }
    return 0;
}

/* headers: built aside and swapped in whole, like index_files. */
static int json_headers(struct config *cfg, const cJSON *obj, const char *who, char *err)
{
    if (!cJSON_IsObject(obj)) {
        char got[GOT_SIZE];
        show_json(obj, got, sizeof got);
        return fail(err, "%s: must be an object of globs to headers, got %s", who, got);
    }
    const size_t n = (size_t)cJSON_GetArraySize(obj);
    struct header_rule *rules = calloc(n + 1, sizeof *rules);
    if (rules == NULL) {
        return fail(err, "out of memory");
    }
    size_t i = 0;
    for (const cJSON *item = obj->child; item != NULL; item = item->next, i++) {
        if (json_header_rule(&rules[i], obj, item, who, err) < 0) {
            free_headers(rules, n);
            return -1;
        }
    }
    free_headers(cfg->headers, cfg->n_headers);
    cfg->headers = rules;
    cfg->n_headers = n;
    return 0;
}

/* Optimal string alignment distance (edits plus swaps of neighbours), for "did you mean". */
static size_t edit_distance(const char *a, const char *b)
{
    enum { MAX = 32 };
    const size_t la = strlen(a), lb = strlen(b);
    if (la >= MAX || lb >= MAX) {
        return SIZE_MAX;
    }
    size_t d[MAX + 1][MAX + 1];
    for (size_t i = 0; i <= la; i++) {
        for (size_t j = 0; j <= lb; j++) {
            if (i == 0 || j == 0) {
                d[i][j] = i + j;
                continue;
            }
            const size_t cost = a[i - 1] != b[j - 1];
            size_t best = d[i - 1][j - 1] + cost;
            best = d[i - 1][j] + 1 < best ? d[i - 1][j] + 1 : best;
            best = d[i][j - 1] + 1 < best ? d[i][j - 1] + 1 : best;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best) {
                best = d[i - 2][j - 2] + 1;
            }
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

/* The known key under the same parent closest to `name`, or NULL if none is close. */
static const char *key_suggest(const char *prefix, const char *name)
{
    const size_t plen = strlen(prefix);
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *leaf = keys[i].name;
        if (plen > 0) {
            if (strncmp(leaf, prefix, plen) != 0 || leaf[plen] != '.') {
                continue;
            }
            leaf += plen + 1;
        }
        if (strchr(leaf, '.') != NULL) {
            continue;
        }
        const size_t d = edit_distance(name, leaf);
        if (d < best_d && d <= (strlen(leaf) >= 6 ? 2u : 1u)) {
            best = leaf;
            best_d = d;
        }
    }
    return best;
}

static int unknown_key(const char *name, const char *prefix, const char *key, char *err)
{
    char shown[SHOWN_SIZE];
    show_text(key, shown, sizeof shown);
    const char *dot = prefix[0] != '\0' ? "." : "";
    char nested[KEY_PATH_MAX];
    const int n = snprintf(nested, sizeof nested, "%s%s%s", prefix, dot, key);
    const char *sep = strchr(key, '.');
    if (n > 0 && (size_t)n < sizeof nested && sep != NULL && key_find(nested) != NULL) {
        return fail(err, "%s: unknown key \"%s%s%s\" (nest it: \"%.*s\": {\"%s\": ...})", name,
                    prefix, dot, shown, (int)(sep - key), key, sep + 1);
    }
    const char *hint = key_suggest(prefix, key);
    if (hint != NULL) {
        return fail(err, "%s: unknown key \"%s%s%s\" (did you mean \"%s%s%s\"?)", name, prefix, dot,
                    shown, prefix, dot, hint);
    }
    return fail(err, "%s: unknown key \"%s%s%s\"", name, prefix, dot, shown);
}

static int json_object(struct config *cfg, const cJSON *obj, const char *prefix, const char *name,
                       char *err);

static int json_key(struct config *cfg, const struct key *k, const cJSON *item, const char *name,
                    char *err)
{
    char who[WHO_SIZE];
    snprintf(who, sizeof who, "%s: \"%s\"", name, k->name);
    if (k->type == KEY_OBJECT) {
        if (!cJSON_IsObject(item)) {
            char got[GOT_SIZE];
            show_json(item, got, sizeof got);
            return fail(err, "%s: must be an object, got %s", who, got);
        }
        /* Recursion is bounded by the table: only "cache", "admin" and "tls" nest. */
        return json_object(cfg, item, k->name, name, err);
    }
    if (k->type == KEY_NAME_LIST) {
        return json_name_list(cfg, item, name, err);
    }
    if (k->type == KEY_NET_LIST) {
        return json_net_list(cfg, item, name, err);
    }
    if (k->type == KEY_HEADERS) {
        return json_headers(cfg, item, who, err);
    }
    struct value v = {0};
    if (json_scalar(k, item, who, &v, err) < 0) {
        return -1;
    }
    return key_store(cfg, k, &v, err);
}

static int json_object(struct config *cfg, const cJSON *obj, const char *prefix, const char *name,
                       char *err)
{
    for (const cJSON *item = obj->child; item != NULL; item = item->next) {
        char path[KEY_PATH_MAX];
        const int n =
            snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", item->string);
        /* A dot inside a key must not reach a nested row: {"tls.port": 1} is unknown. */
        const struct key *k = NULL;
        if (n > 0 && (size_t)n < sizeof path && strchr(item->string, '.') == NULL) {
            k = key_find(path);
        }
        if (k == NULL) {
            return unknown_key(name, prefix, item->string, err);
        }
        if (is_duplicate(obj, item, false)) {
            return fail(err, "%s: duplicate key \"%s\"", name, path);
        }
        if (json_key(cfg, k, item, name, err) < 0) {
            return -1;
        }
    }
    return 0;
}

static size_t line_of(const char *text, size_t len, const char *at)
{
    size_t line = 1;
    const size_t end =
        (at != NULL && at >= text && (size_t)(at - text) <= len) ? (size_t)(at - text) : len;
    for (size_t i = 0; i < end; i++) {
        line += text[i] == '\n';
    }
    return line;
}

int config_parse_json(struct config *cfg, const char *json, size_t len, const char *name,
                      char err[256])
{
    char shown[SHOWN_PATH_SIZE];
    config_show_path(name, shown, sizeof shown);
    const char *nul = memchr(json, '\0', len);
    if (nul != NULL) {
        return fail(err, "%s: line %zu: NUL byte in the file", shown, line_of(json, len, nul));
    }
    /* cJSON needs the terminating NUL inside the length to insist on no trailing text. */
    char *text = malloc(len + 1);
    if (text == NULL) {
        return fail(err, "out of memory");
    }
    memcpy(text, json, len);
    text[len] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, true);
    int rc = -1;
    if (root == NULL) {
        /* `end` is where parsing stopped, as cJSON_GetErrorPtr() would say, without
         * reading cJSON's global (a reload may run beside other threads). */
        fail(err, "%s: line %zu: invalid JSON", shown, line_of(text, len, end));
    } else if (!cJSON_IsObject(root)) {
        char got[GOT_SIZE];
        show_json(root, got, sizeof got);
        fail(err, "%s: must hold a JSON object {...}, got %s", shown, got);
    } else {
        rc = json_object(cfg, root, "", shown, err);
    }
    cJSON_Delete(root);
    free(text);
    return rc;
}

/* ---- defaults and cleanup ---- */

static int online_cpus(void)
{
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

void config_defaults(struct config *cfg)
{
    /* Zeroing first makes every NULL/false/0 default (bind, admin, TLS off ...) explicit
     * and leaves the struct safe for config_free even if a strdup below fails. */
    memset(cfg, 0, sizeof *cfg);
    cfg->port = 6789;
    cfg->root = strdup("./www");
    cfg->threads = online_cpus();
    cfg->default_page = strdup("HelloWorld.html");
    cfg->not_found_page = strdup("404.html");
    cfg->templates_dir = strdup("./templates");
    cfg->access_log = strdup("logs/access.log");
    cfg->error_log = strdup("logs/error.log");
    cfg->log_level = LOG_INFO;
    cfg->directory_listing = true;
    cfg->compression = true;
    cfg->data_dir = strdup("./data");
    cfg->max_connections = 10000;
    cfg->keepalive_timeout_s = 5;
    cfg->header_timeout_s = 10;
    cfg->body_timeout_s = 30;
    cfg->body_min_rate = 1024;
    cfg->send_timeout_s = 20;
    cfg->max_header_bytes = 16384;
    cfg->max_body_bytes = 10 << 20;
    cfg->index_files = calloc(2, sizeof *cfg->index_files);
    if (cfg->index_files != NULL && (cfg->index_files[0] = strdup("index.html")) != NULL) {
        cfg->n_index_files = 1;
    }
    cfg->cache.enabled = true;
    cfg->cache.max_bytes = 64 << 20;
    cfg->cache.max_file_bytes = 1 << 20;
    cfg->clean_urls = true;
}

/* config_defaults has no way to report a failed strdup; config_load checks here. */
static bool defaults_are_complete(struct config *cfg)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (keys[i].type == KEY_STR && *(char **)field(cfg, &keys[i]) == NULL) {
            return false;
        }
    }
    return cfg->n_index_files == 1;
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (keys[i].type == KEY_STR || keys[i].type == KEY_STR_OR_NULL) {
            free(*(char **)field(cfg, &keys[i]));
        }
    }
    free(cfg->config_path);
    free(cfg->make_cert_dir);
    free_names(cfg->index_files, cfg->n_index_files);
    free(cfg->trusted_proxies);
    cfg->trusted_proxies = NULL;
    cfg->n_trusted_proxies = 0;
    free_headers(cfg->headers, cfg->n_headers);
    /* All pointers NULL again, so a second call is harmless. */
    memset(cfg, 0, sizeof *cfg);
}

/* ---- validation ---- */

static int check_readable(const char *what, const char *path, char *err)
{
    if (access(path, R_OK) == 0) {
        return 0;
    }
    const int e = errno;
    char shown[SHOWN_PATH_SIZE];
    config_show_path(path, shown, sizeof shown);
    return fail(err, "%s \"%s\": %s", what, shown, strerror(e));
}

static int validate_tls(const struct config *cfg, char *err)
{
    const bool has_cert = cfg->tls.cert != NULL, has_key = cfg->tls.key != NULL;
    if (cfg->tls.port == 0) {
        if (has_cert || has_key || cfg->tls.self_signed || cfg->tls.redirect_http ||
            cfg->tls.hsts_max_age != 0) {
            return fail(err, "TLS settings are given but \"tls.port\" is 0 (TLS off): set "
                             "\"tls.port\" (--tls-port) or remove them");
        }
        return 0;
    }
    if (cfg->tls.port == cfg->port) {
        return fail(err, "\"tls.port\" and \"port\" are both %d", cfg->port);
    }
    if (has_cert != has_key) {
        return fail(err, "\"%s\" is set without \"%s\"", has_cert ? "tls.cert" : "tls.key",
                    has_cert ? "tls.key" : "tls.cert");
    }
    if (has_cert && cfg->tls.self_signed) {
        return fail(err, "\"tls.self_signed\" and \"tls.cert\" are both set: choose one");
    }
    if (!has_cert && !cfg->tls.self_signed) {
        return fail(err,
                    "\"tls.port\" is %d but no certificate: set \"tls.cert\" and "
                    "\"tls.key\", or \"tls.self_signed\"",
                    cfg->tls.port);
    }
    if (has_cert && check_readable("tls.cert", cfg->tls.cert, err) < 0) {
        return -1;
    }
    if (has_key && check_readable("tls.key", cfg->tls.key, err) < 0) {
        return -1;
    }
    return 0;
}

int config_resolve_bind(const char *bind, struct sockaddr_storage *ss, socklen_t *len,
                        char err[256])
{
    char host[256];
    size_t n = strlen(bind);
    const char *h = bind;
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(host))
        return fail(err, "\"bind\": \"%.64s\" is not an address", bind);
    memcpy(host, h, n);
    host[n] = '\0';
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || res == NULL)
        return fail(err, "\"bind\": \"%.64s\": %s", bind,
                    rc != 0 ? gai_strerror(rc) : "no address");
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int config_validate(const struct config *cfg, char err[256])
{
    char shown[SHOWN_PATH_SIZE];
    config_show_path(cfg->root != NULL ? cfg->root : "", shown, sizeof shown);
    struct stat st;
    if (cfg->root == NULL || stat(cfg->root, &st) < 0) {
        if (cfg->root == NULL || errno == ENOENT) {
            return fail(err, "root \"%s\": no such directory", shown);
        }
        return fail(err, "root \"%s\": %s", shown, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        return fail(err, "root \"%s\": not a directory", shown);
    }
    if (cfg->bind != NULL) {
        struct sockaddr_storage ss;
        socklen_t len;
        if (config_resolve_bind(cfg->bind, &ss, &len, err) != 0)
            return -1;
    }
    if ((cfg->admin.user == NULL) != (cfg->admin.password_hash == NULL)) {
        return fail(err, "\"%s\" is set without \"%s\" (use --hash-password to make a hash)",
                    cfg->admin.user ? "admin.user" : "admin.password_hash",
                    cfg->admin.user ? "admin.password_hash" : "admin.user");
    }
    if (cfg->admin.password_hash != NULL && !password_is_hash(cfg->admin.password_hash)) {
        return fail(err, "\"admin.password_hash\": not a password hash (make one with "
                         "--hash-password)");
    }
    return validate_tls(cfg, err);
}

/* ---- the command line ---- */

enum cli_role {
    CLI_KEY,    /* sets config key `key` (from its argument, or to `flag`) */
    CLI_FILE,   /* -c FILE */
    CLI_ACTION, /* sets the action */
};

struct cli_option {
    const char *name;
    int short_name; /* 0 if none */
    int has_arg;
    enum cli_role role;
    const char *key;
    bool flag;
    enum config_action action;
};

static const struct cli_option cli_options[] = {
    {"config", 'c', required_argument, CLI_FILE, NULL, false, CONFIG_RUN},
    {"port", 'p', required_argument, CLI_KEY, "port", false, CONFIG_RUN},
    {"bind", 'b', required_argument, CLI_KEY, "bind", false, CONFIG_RUN},
    {"root", 'r', required_argument, CLI_KEY, "root", false, CONFIG_RUN},
    {"threads", 't', required_argument, CLI_KEY, "threads", false, CONFIG_RUN},
    {"default-page", 0, required_argument, CLI_KEY, "default_page", false, CONFIG_RUN},
    {"not-found-page", 0, required_argument, CLI_KEY, "not_found_page", false, CONFIG_RUN},
    {"templates", 0, required_argument, CLI_KEY, "templates_dir", false, CONFIG_RUN},
    {"access-log", 0, required_argument, CLI_KEY, "access_log", false, CONFIG_RUN},
    {"error-log", 0, required_argument, CLI_KEY, "error_log", false, CONFIG_RUN},
    {"log-level", 0, required_argument, CLI_KEY, "log_level", false, CONFIG_RUN},
    {"listing", 0, no_argument, CLI_KEY, "directory_listing", true, CONFIG_RUN},
    {"no-listing", 0, no_argument, CLI_KEY, "directory_listing", false, CONFIG_RUN},
    {"gzip", 0, no_argument, CLI_KEY, "compression", true, CONFIG_RUN},
    {"no-gzip", 0, no_argument, CLI_KEY, "compression", false, CONFIG_RUN},
    {"tls-port", 0, required_argument, CLI_KEY, "tls.port", false, CONFIG_RUN},
    {"cert", 0, required_argument, CLI_KEY, "tls.cert", false, CONFIG_RUN},
    {"key", 0, required_argument, CLI_KEY, "tls.key", false, CONFIG_RUN},
    {"self-signed", 0, no_argument, CLI_KEY, "tls.self_signed", true, CONFIG_RUN},
    {"data", 0, required_argument, CLI_KEY, "data_dir", false, CONFIG_RUN},
    {"user", 0, required_argument, CLI_KEY, "user", false, CONFIG_RUN},
    {"check-config", 0, no_argument, CLI_ACTION, NULL, false, CONFIG_CHECK},
    {"hash-password", 0, no_argument, CLI_ACTION, NULL, false, CONFIG_HASH_PASSWORD},
    {"make-cert", 0, required_argument, CLI_ACTION, NULL, false, CONFIG_MAKE_CERT},
    {"help", 'h', no_argument, CLI_ACTION, NULL, false, CONFIG_HELP},
    {"version", 'V', no_argument, CLI_ACTION, NULL, false, CONFIG_VERSION},
};

enum {
    N_CLI_OPTIONS = sizeof cli_options / sizeof cli_options[0],
    CLI_LONG_ONLY = 256, /* getopt values for options without a short name: 256 + index */
};

/* What the command line asked for, kept until the file has been read. */
struct cli {
    const char *config_file;   /* -c FILE, borrowed from argv */
    const char *root;          /* the positional ROOT */
    const char *make_cert_dir; /* --make-cert DIR, borrowed from argv */
    enum config_action action;
    bool is_set[N_KEYS];
    struct value values[N_KEYS];
};

/* When several actions are given, the one that reads least wins: --help --check-config
 * prints the help. --make-cert, the only one that writes files, loses to the others. */
static int action_rank(enum config_action a)
{
    switch (a) {
    case CONFIG_HELP:
        return 5;
    case CONFIG_VERSION:
        return 4;
    case CONFIG_HASH_PASSWORD:
        return 3;
    case CONFIG_MAKE_CERT:
        return 2;
    case CONFIG_CHECK:
        return 1;
    case CONFIG_RUN:
        break;
    }
    return 0;
}

static int cli_option(struct cli *cli, const struct cli_option *o, const char *arg, char *err)
{
    if (o->role == CLI_FILE) {
        cli->config_file = arg;
        return 0;
    }
    if (o->role == CLI_ACTION) {
        if (o->action == CONFIG_MAKE_CERT) {
            if (arg[0] == '\0') {
                return fail(err, "--make-cert: DIR must not be empty");
            }
            cli->make_cert_dir = arg;
        }
        if (action_rank(o->action) > action_rank(cli->action)) {
            cli->action = o->action;
        }
        return 0;
    }
    const struct key *k = key_find(o->key);
    if (k == NULL) {
        return fail(err, "internal error: --%s sets unknown key \"%s\"", o->name, o->key);
    }
    const size_t i = (size_t)(k - keys);
    char who[WHO_SIZE];
    snprintf(who, sizeof who, "--%s", o->name);
    struct value v = {.num = o->flag};
    if (arg != NULL && text_value(k, arg, who, &v, err) < 0) {
        return -1;
    }
    cli->values[i] = v;
    cli->is_set[i] = true;
    return 0;
}

/* Lists the long options that begin with `prefix` into out; returns how many do. */
static size_t cli_matches(const char *prefix, char *out, size_t size)
{
    size_t n = 0, used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < N_CLI_OPTIONS; i++) {
        if (strncmp(cli_options[i].name, prefix, strlen(prefix)) != 0) {
            continue;
        }
        const int w =
            snprintf(out + used, size - used, "%s--%s", n > 0 ? ", " : "", cli_options[i].name);
        used = w > 0 && (size_t)w < size - used ? used + (size_t)w : used;
        n++;
    }
    return n;
}

/* getopt's own messages go to stderr in its words; we make one line in ours. */
static int cli_error(int c, int argc, char **argv, char *err)
{
    const char *arg = optind >= 1 && optind <= argc ? argv[optind - 1] : "";
    char shown[SHOWN_SIZE];
    if (strncmp(arg, "--", 2) == 0) {
        show_text(arg, shown, sizeof shown);
        char *eq = strchr(shown, '=');
        if (eq != NULL) {
            *eq = '\0';
        }
    } else {
        snprintf(shown, sizeof shown, "-%c", optopt > 0 && optopt < 128 ? optopt : '?');
    }
    if (c == ':') {
        return fail(err, "option \"%s\" needs an argument (try --help)", shown);
    }
    if (optopt != 0 && strchr(arg, '=') != NULL && strncmp(arg, "--", 2) == 0) {
        return fail(err, "option \"%s\" takes no argument (try --help)", shown);
    }
    char matches[160];
    if (strncmp(shown, "--", 2) == 0 && cli_matches(shown + 2, matches, sizeof matches) > 1) {
        return fail(err, "ambiguous option \"%s\": %s (try --help)", shown, matches);
    }
    return fail(err, "unknown option \"%s\" (try --help)", shown);
}

static int cli_positional(struct cli *cli, const char *arg, char *err)
{
    char shown[SHOWN_PATH_SIZE];
    config_show_path(arg, shown, sizeof shown);
    if (cli->root != NULL) {
        return fail(err, "unexpected argument \"%s\": only one ROOT may be given", shown);
    }
    if (arg[0] == '\0') {
        return fail(err, "ROOT: must not be empty");
    }
    cli->root = arg;
    return 0;
}

static int cli_parse(struct cli *cli, int argc, char **argv, char *err)
{
    struct option longs[N_CLI_OPTIONS + 1];
    char shorts[2 * N_CLI_OPTIONS + 2] = ":"; /* leading ':' reports a missing argument */
    size_t n_shorts = 1;
    for (size_t i = 0; i < N_CLI_OPTIONS; i++) {
        const struct cli_option *o = &cli_options[i];
        const int val = o->short_name != 0 ? o->short_name : CLI_LONG_ONLY + (int)i;
        longs[i] = (struct option){o->name, o->has_arg, NULL, val};
        if (o->short_name != 0) {
            shorts[n_shorts++] = (char)o->short_name;
            if (o->has_arg == required_argument) {
                shorts[n_shorts++] = ':';
            }
        }
    }
    longs[N_CLI_OPTIONS] = (struct option){0};
    shorts[n_shorts] = '\0';

    /* optind = 0 makes glibc reinitialise getopt fully, so config_load can run again. */
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        if (c == '?' || c == ':') {
            return cli_error(c, argc, argv, err);
        }
        for (size_t i = 0; i < N_CLI_OPTIONS; i++) {
            const struct cli_option *o = &cli_options[i];
            if (c == (o->short_name != 0 ? o->short_name : CLI_LONG_ONLY + (int)i)) {
                if (cli_option(cli, o, optarg, err) < 0) {
                    return -1;
                }
                break;
            }
        }
    }
    for (int i = optind; i < argc; i++) {
        if (cli_positional(cli, argv[i], err) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Stores what the command line set, after the file, so the command line wins. */
static int cli_apply(struct config *cfg, const struct cli *cli, char *err)
{
    const struct key *root = key_find("root");
    if (cli->root != NULL) {
        if (cli->is_set[root - keys]) {
            return fail(err, "ROOT and --root are both given: use one");
        }
        const struct value v = {.str = cli->root};
        if (key_store(cfg, root, &v, err) < 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < N_KEYS; i++) {
        if (cli->is_set[i] && key_store(cfg, &keys[i], &cli->values[i], err) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- reading the file ---- */

/* Reads a whole regular file into *out (malloc'd). Errors start with `who`. */
static int read_file(const char *path, const char *who, char **out, size_t *out_len, char *err)
{
    char *data = NULL;
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fail(err, "%s: %s", who, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        fail(err, "%s: %s", who, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        fail(err, "%s: not a regular file", who);
        goto fail;
    }
    if (st.st_size > CONFIG_FILE_MAX_BYTES) {
        fail(err, "%s: larger than %d bytes; is it really the config file?", who,
             CONFIG_FILE_MAX_BYTES);
        goto fail;
    }
    /* One spare byte tells a file that grew since fstat from one that did not. */
    const size_t cap = (size_t)st.st_size + 1;
    size_t len = 0;
    if ((data = malloc(cap)) == NULL) {
        fail(err, "out of memory");
        goto fail;
    }
    while (len < cap) {
        const ssize_t n = read(fd, data + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fail(err, "%s: %s", who, strerror(errno));
            goto fail;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    if (len == cap) {
        fail(err, "%s: the file changed while it was read", who);
        goto fail;
    }
    close(fd);
    *out = data;
    *out_len = len;
    return 0;
fail:
    free(data);
    close(fd);
    return -1;
}

/* Reads -c FILE, or ./config.json when it exists, on top of the defaults. */
static int config_read_file(struct config *cfg, const char *given, char *err)
{
    const char *path = given != NULL ? given : "config.json";
    char shown[SHOWN_PATH_SIZE], who[WHO_SIZE];
    config_show_path(path, shown, sizeof shown);
    snprintf(who, sizeof who, "%s%s", given != NULL ? "--config " : "", shown);
    if (given == NULL) {
        if (access(path, F_OK) < 0 && errno == ENOENT) {
            return 0; /* no file: the defaults stand */
        }
    }
    char *text = NULL;
    size_t len = 0;
    if (read_file(path, who, &text, &len, err) < 0) {
        return -1;
    }
    int rc = store_string(&cfg->config_path, path, err);
    if (rc == 0) {
        rc = config_parse_json(cfg, text, len, path, err);
    }
    free(text);
    return rc;
}

int config_load(struct config *cfg, int argc, char **argv, enum config_action *action,
                char err[256])
{
    struct cli cli = {.action = CONFIG_RUN};
    *action = CONFIG_RUN;
    config_defaults(cfg);
    if (!defaults_are_complete(cfg)) {
        fail(err, "out of memory");
        goto fail;
    }
    if (cli_parse(&cli, argc, argv, err) < 0) {
        goto fail;
    }
    *action = cli.action;
    /* These need no configuration, and should work wherever they are typed. */
    if (cli.action == CONFIG_MAKE_CERT &&
        store_string(&cfg->make_cert_dir, cli.make_cert_dir, err) < 0) {
        goto fail;
    }
    if (cli.action == CONFIG_HELP || cli.action == CONFIG_VERSION ||
        cli.action == CONFIG_HASH_PASSWORD || cli.action == CONFIG_MAKE_CERT) {
        return 0;
    }
    if (config_read_file(cfg, cli.config_file, err) < 0 || cli_apply(cfg, &cli, err) < 0 ||
        config_validate(cfg, err) < 0) {
        goto fail;
    }
    return 0;
fail:
    config_free(cfg);
    return -1;
}

const char *config_usage(void)
{
    return "Usage: mica [OPTIONS] [ROOT]\n"
           "Serve the folder ROOT over HTTP/1.1 (and HTTPS).\n"
           "\n"
           "Settings come from the built-in defaults, then the config file, then these\n"
           "options. Each option has a config.json key, shown in brackets with its default.\n"
           "\n"
           "  -c, --config FILE         read FILE (default: ./config.json if it exists)\n"
           "  -p, --port N              listen on port N; 0 = any free port [port: 6789]\n"
           "  -b, --bind ADDR           listen on ADDR only [bind: all, IPv4 and IPv6]\n"
           "  -r, --root DIR            serve DIR; same as ROOT [root: ./www]\n"
           "  -t, --threads N           worker threads, 1 to 1024 [threads: online CPUs]\n"
           "      --default-page NAME   page for / without an index file\n"
           "                            [default_page: HelloWorld.html]\n"
           "      --not-found-page NAME body of 404 responses [not_found_page: 404.html]\n"
           "      --templates DIR       built-in page templates [templates_dir: ./templates]\n"
           "      --access-log FILE     access log; - = stdout, off = none\n"
           "                            [access_log: logs/access.log]\n"
           "      --error-log FILE      error log; - = stderr, off = none\n"
           "                            [error_log: logs/error.log]\n"
           "      --log-level LEVEL     debug, info, warn or error [log_level: info]\n"
           "      --listing, --no-listing\n"
           "                            list folders that have no index file\n"
           "                            [directory_listing: true]\n"
           "      --gzip, --no-gzip     compress text responses [compression: true]\n"
           "      --tls-port N          serve HTTPS on port N [tls.port: 0 = TLS off]\n"
           "      --cert FILE           TLS certificate chain, PEM [tls.cert: none]\n"
           "      --key FILE            TLS private key, PEM [tls.key: none]\n"
           "      --self-signed         use a generated certificate [tls.self_signed: false]\n"
           "      --data DIR            where form submissions are kept [data_dir: ./data]\n"
           "      --user NAME           drop privileges to NAME after binding [user: none]\n"
           "      --check-config        check the configuration, print \"config OK\", exit\n"
           "      --hash-password       read a password on stdin, print its hash for\n"
           "                            admin.password_hash, exit\n"
           "      --make-cert DIR       write a self-signed certificate and its key to\n"
           "                            DIR/cert.pem and DIR/key.pem, print the\n"
           "                            fingerprint, exit\n"
           "  -h, --help                print this help and exit\n"
           "  -V, --version             print the version and exit\n"
           "\n"
           "More keys (limits, timeouts, cache, admin, headers, tls.redirect_http,\n"
           "tls.hsts_max_age, metrics, trusted_proxies) are spelled out with their\n"
           "defaults in config.json.\n"
           "Exit status: 0 on success, 1 on a configuration or start-up error.\n";
}
