/* SPDX-License-Identifier: MIT */
/*
 * Directory listings; what is listed and how is described in listing.h.
 *
 * Three steps: read the folder into an array of entries (names in one growing buffer,
 * bounded by LISTING_MAX_ENTRIES), sort it, and turn it into cJSON data, which either the
 * template renders or cJSON prints. A listing is not the hot path: it makes one fstatat per
 * entry, and its memory comes from the heap and goes back before the handler returns; the
 * body is left in env->scratch.
 *
 * Names are bytes. Three forms of each are made: the display text (valid UTF-8, escaped
 * for HTML by the template, for JSON by cJSON), the href (percent-encoded, so no byte of a
 * name can end the attribute, start a query or fragment, or be read as a scheme), and the
 * name itself for fstatat and path_open.
 */
#include "handlers/listing.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "handlers/headers.h"
#include "handlers/page.h"
#include "core/log.h"
#include "http/cond.h"
#include "http/date.h"
#include "util/hash.h"

#ifdef MICA_SMALL_BUFFERS
enum { ENTRIES_INITIAL = 1 }; /* the asan build takes every growth path */
#else
enum { ENTRIES_INITIAL = 64 };
#endif

/* Used when templates_dir has no listing.html. */
static const char builtin_template[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>Index of {{path}}</title>"
    "<style>body{font:1rem/1.5 system-ui,sans-serif;margin:1.5rem;color:#1c1e21}"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .6rem}"
    "td.size{text-align:right;white-space:nowrap}a{color:#2f5fbf}</style></head>\n<body>"
    "<nav>{{#breadcrumbs}}<a href=\"{{href}}\">{{name}}</a> / {{/breadcrumbs}}</nav>\n"
    "<h1>Index of {{path}}</h1>\n<table><thead><tr>"
    "<th><a href=\"{{sort_name_href}}\">Name</a></th>"
    "<th><a href=\"{{sort_size_href}}\">Size</a></th>"
    "<th><a href=\"{{sort_time_href}}\">Modified (UTC)</a></th></tr></thead><tbody>\n"
    "{{#parent}}<tr><td colspan=\"3\"><a href=\"{{.}}\">../</a></td></tr>\n{{/parent}}"
    "{{#entries}}<tr class=\"entry\"><td class=\"name\"><a href=\"{{href}}\">{{name}}"
    "{{#is_dir}}/{{/is_dir}}</a></td><td class=\"size\">{{size}}</td>"
    "<td class=\"time\"><time datetime=\"{{modified_iso}}\">{{modified}}</time></td></tr>\n"
    "{{/entries}}</tbody></table>\n"
    "{{#more}}<p>… and {{more}} more not listed.</p>\n{{/more}}"
    "</body></html>\n";

/* One listed entry. The name lives in the list's `names` buffer, NUL-terminated. */
struct entry {
    size_t name_at;
    size_t name_len;
    bool is_dir;
    uint64_t size;
    struct timespec mtime;
};

struct dir_list {
    struct entry *v;
    size_t n, cap;
    struct buf names;
    unsigned long long more; /* names beyond LISTING_MAX_ENTRIES */
};

/* ---- The pure parts (listing.h) ------------------------------------------------------- */

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int sign(int c)
{
    return (c > 0) - (c < 0);
}

/*
 * The names are read as tokens: a maximal run of digits (compared by value: length without
 * leading zeros, then digits) or a single byte (compared ASCII-case-folded). A digit run
 * meeting a non-digit compares by its first byte; every non-digit byte, folded, is below
 * '0' or above '9', so that choice keeps the order transitive, as qsort needs.
 */
int listing_name_cmp(const char *a, size_t a_len, const char *b, size_t b_len)
{
    size_t i = 0, j = 0;
    while (i < a_len && j < b_len) {
        const unsigned char ca = (unsigned char)a[i], cb = (unsigned char)b[j];
        if (is_digit(ca) && is_digit(cb)) {
            size_t si = i, sj = j;
            while (si < a_len && a[si] == '0')
                si++;
            while (sj < b_len && b[sj] == '0')
                sj++;
            size_t ei = si, ej = sj;
            while (ei < a_len && is_digit((unsigned char)a[ei]))
                ei++;
            while (ej < b_len && is_digit((unsigned char)b[ej]))
                ej++;
            if (ei - si != ej - sj)
                return ei - si < ej - sj ? -1 : 1;
            const int c = memcmp(a + si, b + sj, ei - si);
            if (c != 0)
                return sign(c);
            i = ei;
            j = ej;
            continue;
        }
        const unsigned char la = (unsigned char)ascii_lower((char)ca);
        const unsigned char lb = (unsigned char)ascii_lower((char)cb);
        if (la != lb)
            return la < lb ? -1 : 1;
        i++;
        j++;
    }
    if (i < a_len || j < b_len)
        return i < a_len ? 1 : -1;
    /* Equal but for case or leading zeros: the bytes decide, so the order is total. */
    const size_t n = a_len < b_len ? a_len : b_len;
    const int c = memcmp(a, b, n);
    if (c != 0)
        return sign(c);
    return a_len == b_len ? 0 : (a_len < b_len ? -1 : 1);
}

void listing_human_size(uint64_t bytes, char out[LISTING_SIZE_LEN])
{
    static const char units[][4] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        snprintf(out, LISTING_SIZE_LEN, "%u B", (unsigned)bytes);
        return;
    }
    unsigned u = 1;
    uint64_t d = 1024;
    while (u < 6 && bytes / d >= 1024) {
        d *= 1024;
        u++;
    }
    /* In integers, without overflow: (bytes % d) * 10 < 10 * 2^60 < 2^64. */
    const uint64_t tenths = bytes / d * 10 + ((bytes % d) * 10 + d / 2) / d;
    if (tenths < 100) {
        if (tenths % 10 == 0)
            snprintf(out, LISTING_SIZE_LEN, "%u %s", (unsigned)(tenths / 10), units[u]);
        else
            snprintf(out, LISTING_SIZE_LEN, "%u.%u %s", (unsigned)(tenths / 10),
                     (unsigned)(tenths % 10), units[u]);
        return;
    }
    const uint64_t whole = bytes / d + (bytes % d >= d / 2 ? 1 : 0);
    if (whole >= 1024 && u < 6) /* 1023.6 KiB rounds to the next unit */
        snprintf(out, LISTING_SIZE_LEN, "1 %s", units[u + 1]);
    else
        snprintf(out, LISTING_SIZE_LEN, "%u %s", (unsigned)whole, units[u]);
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

bool listing_href_append(struct buf *b, const char *name, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t need = 0;
    for (size_t i = 0; i < len; i++)
        need += is_unreserved((unsigned char)name[i]) ? 1 : 3;
    if (!buf_reserve(b, need))
        return false;
    char *p = b->data + b->len;
    for (size_t i = 0; i < len; i++) {
        const unsigned char c = (unsigned char)name[i];
        if (is_unreserved(c)) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    b->len += need;
    return true;
}

/* The length of the valid UTF-8 sequence at s[0..n), or 0 (Unicode Table 3-7: no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_valid_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* the range of the second byte */
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4;
    else
        return 0;
    if (s[0] == 0xe0)
        lo = 0xa0;
    else if (s[0] == 0xed)
        hi = 0x9f;
    else if (s[0] == 0xf0)
        lo = 0x90;
    else if (s[0] == 0xf4)
        hi = 0x8f;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (s[k] < 0x80 || s[k] > 0xbf)
            return 0;
    return len;
}

bool listing_text_append(struct buf *b, const char *name, size_t len)
{
    const size_t mark = b->len;
    const unsigned char *s = (const unsigned char *)name;
    size_t i = 0;
    while (i < len) {
        size_t run = 0; /* valid bytes from i on, appended in one go */
        size_t k;
        while (i + run < len && (k = utf8_valid_len(s + i + run, len - i - run)) > 0)
            run += k;
        if (run > 0 && !buf_append(b, name + i, run))
            goto fail;
        i += run;
        if (i < len) {
            if (!buf_append(b, "\xef\xbf\xbd", 3)) /* U+FFFD for the byte that is not */
                goto fail;
            i++;
        }
    }
    return true;
fail:
    b->len = mark;
    return false;
}

/* Applies one query field; a value that is not one of ours gives the default. */
static void apply_field(struct listing_query *q, struct slice name, struct slice value)
{
    if (slice_eq(name, SLICE_LIT("sort"))) {
        q->sort = slice_case_eq(value, SLICE_LIT("size"))   ? LISTING_SORT_SIZE
                  : slice_case_eq(value, SLICE_LIT("time")) ? LISTING_SORT_TIME
                                                            : LISTING_SORT_NAME;
    } else if (slice_eq(name, SLICE_LIT("order"))) {
        q->is_desc = slice_case_eq(value, SLICE_LIT("desc"));
    } else if (slice_eq(name, SLICE_LIT("format"))) {
        q->format = slice_case_eq(value, SLICE_LIT("json"))   ? LISTING_FORMAT_JSON
                    : slice_case_eq(value, SLICE_LIT("html")) ? LISTING_FORMAT_HTML
                                                              : LISTING_FORMAT_AUTO;
    }
}

void listing_parse_query(struct slice query, struct listing_query *q)
{
    *q = (struct listing_query){LISTING_SORT_NAME, false, LISTING_FORMAT_AUTO};
    const char *p = query.ptr;
    const char *const end = query.ptr + query.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *field_end = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(field_end - p));
        const char *name_end = eq ? eq : field_end;
        const char *value = eq ? eq + 1 : field_end;
        apply_field(q, slice_make(p, (size_t)(name_end - p)),
                    slice_make(value, (size_t)(field_end - value)));
        p = amp ? amp + 1 : end;
    }
}

/* A qvalue (RFC 9110 §12.4.2) in thousandths, or -1 when malformed. */
static int parse_qvalue(struct slice v)
{
    if (v.len == 0 || (v.ptr[0] != '0' && v.ptr[0] != '1') || v.len > 5 ||
        (v.len > 1 && v.ptr[1] != '.'))
        return -1;
    int q = (v.ptr[0] - '0') * 1000, scale = 100;
    for (size_t i = 2; i < v.len; i++, scale /= 10) {
        if (!is_digit((unsigned char)v.ptr[i]))
            return -1;
        q += (v.ptr[i] - '0') * scale;
    }
    return q <= 1000 ? q : -1;
}

/* The q of one media range "type/subtype;p=v;q=0.5" (1000 when absent). */
static int range_q(struct slice params)
{
    int q = 1000;
    while (params.len > 0) {
        const char *semi = memchr(params.ptr, ';', params.len);
        struct slice p =
            slice_trim(slice_make(params.ptr, semi ? (size_t)(semi - params.ptr) : params.len));
        if (p.len >= 2 && (p.ptr[0] == 'q' || p.ptr[0] == 'Q') && p.ptr[1] == '=')
            q = parse_qvalue(slice_make(p.ptr + 2, p.len - 2));
        params = semi ? slice_make(semi + 1, params.len - (size_t)(semi + 1 - params.ptr))
                      : slice_make(params.ptr + params.len, 0);
    }
    return q;
}

bool listing_wants_json(const struct listing_query *q, struct slice accept)
{
    if (q->format != LISTING_FORMAT_AUTO)
        return q->format == LISTING_FORMAT_JSON;
    int q_json = 0, q_html = 0;
    while (accept.len > 0) {
        const char *comma = memchr(accept.ptr, ',', accept.len);
        const struct slice range =
            slice_make(accept.ptr, comma ? (size_t)(comma - accept.ptr) : accept.len);
        const char *semi = memchr(range.ptr, ';', range.len);
        const struct slice type =
            slice_trim(slice_make(range.ptr, semi ? (size_t)(semi - range.ptr) : range.len));
        const int q_range =
            semi ? range_q(slice_make(semi + 1, range.len - (size_t)(semi + 1 - range.ptr))) : 1000;
        if (slice_case_eq(type, SLICE_LIT("application/json")) && q_range > q_json)
            q_json = q_range;
        else if (slice_case_eq(type, SLICE_LIT("text/html")) && q_range > q_html)
            q_html = q_range;
        accept = comma ? slice_make(comma + 1, accept.len - (size_t)(comma + 1 - accept.ptr))
                       : slice_make(accept.ptr + accept.len, 0);
    }
    return q_json > q_html;
}

/* ---- Reading the folder --------------------------------------------------------------- */

/* Whether the name could be requested at all: path_normalize refuses these bytes. */
static bool is_servable_name(const char *name)
{
    if (name[0] == '.')
        return false; /* ".", ".." and dotfiles */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '\\')
            return false;
    return true;
}

/* For a symlink: its target's metadata in *st when it resolves beneath the root (the
 * check a request for it would make); false when it leads outside (-EXDEV), dangles or
 * loops. */
static bool link_target_stat(const struct env *env, const char *name, struct stat *st)
{
    char path[PATH_MAX_BYTES];
    const int n = strcmp(env->rel, ".") == 0
                      ? snprintf(path, sizeof(path), "%s", name)
                      : snprintf(path, sizeof(path), "%s/%s", env->rel, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return false;
    const int fd = path_open(env->root_fd, path, O_PATH, st);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/* Fills e's type, size and time; false when the entry is not to be listed. */
static bool entry_stat(const struct env *env, int dir_fd, const char *name, struct entry *e)
{
    struct stat st;
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return false; /* gone since readdir, or not ours to see */
    if (S_ISLNK(st.st_mode) && !link_target_stat(env, name, &st))
        return false;
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return false; /* FIFOs, sockets and devices are never served */
    e->is_dir = S_ISDIR(st.st_mode);
    e->size = e->is_dir ? 0 : (uint64_t)st.st_size;
    e->mtime = st.st_mtim;
    return true;
}

static int list_add(struct dir_list *l, const char *name, struct entry *e)
{
    if (l->n == l->cap) {
        const size_t cap = l->cap ? l->cap * 2 : ENTRIES_INITIAL;
        struct entry *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    e->name_at = l->names.len;
    e->name_len = strlen(name);
    if (!buf_append(&l->names, name, e->name_len + 1))
        return -ENOMEM;
    l->v[l->n++] = *e;
    return 0;
}

/* Reads the listed entries of dir_fd into l. Returns 0 or -errno. */
static int read_dir(const struct env *env, int dir_fd, struct dir_list *l)
{
    /* readdir needs a descriptor of its own: closedir closes it. */
    const int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        const int err = errno;
        close(fd);
        return -err;
    }
    rewinddir(d); /* the duplicate shares dir_fd's offset: start at the beginning */
    int rc = 0;
    for (;;) {
        errno = 0;
        const struct dirent *de = readdir(d);
        if (!de) {
            rc = -errno;
            break;
        }
        if (de->d_name[0] == '.')
            continue;
        if (l->n == LISTING_MAX_ENTRIES) {
            l->more++;
            continue;
        }
        struct entry e;
        if (!is_servable_name(de->d_name) || !entry_stat(env, dirfd(d), de->d_name, &e))
            continue;
        if ((rc = list_add(l, de->d_name, &e)) != 0)
            break;
    }
    closedir(d);
    return rc;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return (a > b) - (a < b);
}

static int cmp_time(struct timespec a, struct timespec b)
{
    if (a.tv_sec != b.tv_sec)
        return a.tv_sec < b.tv_sec ? -1 : 1;
    return (a.tv_nsec > b.tv_nsec) - (a.tv_nsec < b.tv_nsec);
}

struct sort_ctx {
    const char *names;
    const struct listing_query *q;
};

/* Folders first; then the chosen key in the chosen order; ties by name ascending. */
static int cmp_entries(const void *pa, const void *pb, void *arg)
{
    const struct sort_ctx *s = arg;
    const struct entry *a = pa, *b = pb;
    if (a->is_dir != b->is_dir)
        return a->is_dir ? -1 : 1;
    const int by_name =
        listing_name_cmp(s->names + a->name_at, a->name_len, s->names + b->name_at, b->name_len);
    int c = s->q->sort == LISTING_SORT_SIZE   ? cmp_u64(a->size, b->size)
            : s->q->sort == LISTING_SORT_TIME ? cmp_time(a->mtime, b->mtime)
                                              : by_name;
    if (s->q->is_desc)
        c = -c;
    return c != 0 ? c : by_name;
}

/* ---- The data ------------------------------------------------------------------------- */

/* Adds text (made valid UTF-8) under key. tmp is scratch space. */
static bool add_text(cJSON *obj, const char *key, struct buf *tmp, const char *s, size_t len)
{
    buf_reset(tmp);
    return listing_text_append(tmp, s, len) && buf_append(tmp, "", 1) &&
           cJSON_AddStringToObject(obj, key, tmp->data);
}

/* Adds b's bytes as a string under key; b keeps its length (a NUL follows it). */
static bool add_buf(cJSON *obj, const char *key, struct buf *b)
{
    if (!buf_append(b, "", 1))
        return false;
    b->len--;
    return cJSON_AddStringToObject(obj, key, b->data) != NULL;
}

bool listing_folder_href(const struct env *env, struct buf *out)
{
    buf_reset(out);
    if (!buf_append(out, "/", 1))
        return false;
    if (strcmp(env->rel, ".") == 0)
        return true;
    const char *p = env->rel;
    for (;;) {
        const char *slash = strchr(p, '/');
        const size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (!listing_href_append(out, p, n) || !buf_append(out, "/", 1))
            return false;
        if (!slash)
            return true;
        p = slash + 1;
    }
}

/* A new object appended to arr, or NULL (out of memory). */
static cJSON *array_add_object(cJSON *arr)
{
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        o = NULL;
    }
    return o;
}

static bool add_crumb(cJSON *crumbs, struct buf *tmp, const char *name, size_t len,
                      struct buf *href, bool is_current)
{
    cJSON *c = array_add_object(crumbs);
    if (!c)
        return false;
    return add_text(c, "name", tmp, name, len) && add_buf(c, "href", href) &&
           cJSON_AddBoolToObject(c, "is_current", is_current);
}

/* breadcrumbs, one per folder from the root (named by Host) down to this one, and parent. */
static bool add_breadcrumbs(cJSON *ctx, const struct env *env, const struct request *req,
                            struct buf *tmp)
{
    cJSON *crumbs = cJSON_AddArrayToObject(ctx, "breadcrumbs");
    if (!crumbs)
        return false;
    const bool is_root = strcmp(env->rel, ".") == 0;
    struct slice host = slice_trim(req->known[HDR_HOST]);
    if (!host.ptr || host.len == 0 || host.len > 255)
        host = SLICE_LIT("/");
    char storage[512];
    struct buf href;
    buf_init(&href, storage, sizeof(storage), 0);
    bool ok =
        buf_append(&href, "/", 1) && add_crumb(crumbs, tmp, host.ptr, host.len, &href, is_root);
    size_t parent_len = 0;
    for (const char *p = env->rel; ok && !is_root;) {
        const char *slash = strchr(p, '/');
        const size_t n = slash ? (size_t)(slash - p) : strlen(p);
        parent_len = href.len;
        ok = listing_href_append(&href, p, n) && buf_append(&href, "/", 1) &&
             add_crumb(crumbs, tmp, p, n, &href, !slash);
        if (!slash)
            break;
        p = slash + 1;
    }
    if (ok && !is_root) {
        href.len = parent_len;
        ok = add_buf(ctx, "parent", &href);
    }
    buf_free(&href);
    return ok;
}

static const char *const sort_names[] = {"name", "size", "time"};

/* sort, order, and the column headers' links: the active column's link reverses the
 * order, the others start at name ascending, largest first and newest first. */
static bool add_sort_links(cJSON *ctx, const struct listing_query *q)
{
    bool ok = cJSON_AddStringToObject(ctx, "sort", sort_names[q->sort]) &&
              cJSON_AddStringToObject(ctx, "order", q->is_desc ? "desc" : "asc") &&
              cJSON_AddBoolToObject(ctx, "order_desc", q->is_desc);
    for (unsigned s = LISTING_SORT_NAME; ok && s <= LISTING_SORT_TIME; s++) {
        const bool is_active = q->sort == s;
        const bool is_desc = is_active ? !q->is_desc : s != LISTING_SORT_NAME;
        const char *aria = !is_active ? "none" : q->is_desc ? "descending" : "ascending";
        char key[32], href[48];
        snprintf(href, sizeof(href), "?sort=%s&order=%s", sort_names[s], is_desc ? "desc" : "asc");
        snprintf(key, sizeof(key), "sort_%s_href", sort_names[s]);
        ok = cJSON_AddStringToObject(ctx, key, href) != NULL;
        snprintf(key, sizeof(key), "sort_%s_aria", sort_names[s]);
        ok = ok && cJSON_AddStringToObject(ctx, key, aria);
        snprintf(key, sizeof(key), "sorted_by_%s", sort_names[s]);
        ok = ok && cJSON_AddBoolToObject(ctx, key, is_active);
    }
    return ok;
}

/* count, dirs, files, more and limit. */
static bool add_counts(cJSON *ctx, const struct dir_list *l)
{
    size_t dirs = 0;
    for (size_t i = 0; i < l->n; i++)
        dirs += l->v[i].is_dir;
    return cJSON_AddNumberToObject(ctx, "count", (double)l->n) &&
           cJSON_AddNumberToObject(ctx, "dirs", (double)dirs) &&
           cJSON_AddNumberToObject(ctx, "files", (double)(l->n - dirs)) &&
           cJSON_AddNumberToObject(ctx, "more", (double)l->more) &&
           cJSON_AddNumberToObject(ctx, "limit", LISTING_MAX_ENTRIES);
}

/* The entry's href: the folder's href, the name percent-encoded, a slash for a folder. */
static bool add_href(cJSON *obj, struct buf *tmp, const struct buf *base, const char *name,
                     const struct entry *e)
{
    buf_reset(tmp);
    return buf_append(tmp, base->data, base->len) && listing_href_append(tmp, name, e->name_len) &&
           (!e->is_dir || buf_append(tmp, "/", 1)) && add_buf(obj, "href", tmp);
}

/* An entry for the template. */
static bool add_html_entry(cJSON *arr, const struct dir_list *l, const struct entry *e,
                           const struct buf *base, struct buf *tmp)
{
    cJSON *o = array_add_object(arr);
    if (!o)
        return false;
    const char *name = l->names.data + e->name_at;
    char size[LISTING_SIZE_LEN], iso[DATE_ISO_LEN + 1], when[40];
    listing_human_size(e->size, size);
    date_iso(e->mtime.tv_sec, iso);
    struct tm tm;
    if (!gmtime_r(&e->mtime.tv_sec, &tm))
        snprintf(when, sizeof(when), "%s", iso);
    else
        snprintf(when, sizeof(when), "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min);
    return add_text(o, "name", tmp, name, e->name_len) && add_href(o, tmp, base, name, e) &&
           cJSON_AddBoolToObject(o, "is_dir", e->is_dir) &&
           cJSON_AddStringToObject(o, "size", e->is_dir ? "\u2014" : size) &&
           (e->is_dir || cJSON_AddNumberToObject(o, "bytes", (double)e->size)) &&
           cJSON_AddStringToObject(o, "modified", when) &&
           cJSON_AddStringToObject(o, "modified_iso", iso);
}

/* An entry for the JSON answer. */
static bool add_json_entry(cJSON *arr, const struct dir_list *l, const struct entry *e,
                           const struct buf *base, struct buf *tmp)
{
    cJSON *o = array_add_object(arr);
    if (!o)
        return false;
    const char *name = l->names.data + e->name_at;
    char iso[DATE_ISO_LEN + 1];
    date_iso(e->mtime.tv_sec, iso);
    return add_text(o, "name", tmp, name, e->name_len) &&
           cJSON_AddStringToObject(o, "type", e->is_dir ? "dir" : "file") &&
           (e->is_dir ? cJSON_AddNullToObject(o, "size") != NULL
                      : cJSON_AddNumberToObject(o, "size", (double)e->size) != NULL) &&
           cJSON_AddStringToObject(o, "modified", iso) && add_href(o, tmp, base, name, e);
}

static int respond_html(struct env *env, const struct request *req, struct response *resp,
                        const struct dir_list *l, const struct listing_query *q)
{
    struct buf tmp, base;
    buf_init(&tmp, NULL, 0, 0);
    buf_init(&base, NULL, 0, 0);
    cJSON *ctx = page_context(env, req);
    cJSON *entries = NULL;
    bool ok = ctx && listing_folder_href(env, &base) &&
              add_text(ctx, "path", &tmp, env->url_path, strlen(env->url_path)) &&
              add_breadcrumbs(ctx, env, req, &tmp) && add_sort_links(ctx, q) &&
              add_counts(ctx, l) && (entries = cJSON_AddArrayToObject(ctx, "entries"));
    for (size_t i = 0; ok && i < l->n; i++)
        ok = add_html_entry(entries, l, &l->v[i], &base, &tmp);
    const int status = ok ? page_render(env, resp, 200, "listing.html", builtin_template, ctx)
                          : response_error(resp, 503);
    cJSON_Delete(ctx);
    buf_free(&base);
    buf_free(&tmp);
    return status;
}

static int respond_json(struct env *env, struct response *resp, const struct dir_list *l)
{
    struct buf tmp, base;
    buf_init(&tmp, NULL, 0, 0);
    buf_init(&base, NULL, 0, 0);
    cJSON *root = cJSON_CreateObject();
    cJSON *entries = NULL;
    bool ok = root && listing_folder_href(env, &base) &&
              add_text(root, "path", &tmp, env->url_path, strlen(env->url_path)) &&
              cJSON_AddNumberToObject(root, "count", (double)l->n) &&
              cJSON_AddNumberToObject(root, "more", (double)l->more) &&
              (entries = cJSON_AddArrayToObject(root, "entries"));
    for (size_t i = 0; ok && i < l->n; i++)
        ok = add_json_entry(entries, l, &l->v[i], &base, &tmp);
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    int status = 503;
    buf_reset(env->scratch);
    if (text && buf_append_str(env->scratch, text)) {
        status = resp->status = 200;
        response_set_body(resp, "application/json", buf_slice(env->scratch));
    } else {
        response_error(resp, status);
    }
    cJSON_free(text);
    cJSON_Delete(root);
    buf_free(&base);
    buf_free(&tmp);
    return status;
}

/*
 * A listing has no file behind it to take validators from (a folder's mtime does not move
 * when a file in it changes), so its ETag is a fingerprint of the page itself: weak (the
 * bytes may be compressed on the way), and If-None-Match → 304 when the page is the same.
 */
static int validate(const struct request *req, struct response *resp)
{
    if (resp->body_kind != BODY_MEM)
        return resp->status;
    char etag[24];
    int n = snprintf(etag, sizeof(etag), "W/\"%016llx\"",
                     (unsigned long long)fnv1a64(FNV1A64_INIT, resp->body.ptr, resp->body.len));
    response_header(resp, "ETag", slice_make(etag, (size_t)n));
    if ((req->method == HTTP_GET || req->method == HTTP_HEAD) &&
        cond_etag_match(req->known[HDR_IF_NONE_MATCH], slice_make(etag, (size_t)n), true)) {
        response_drop_body(resp);
        resp->status = 304;
    }
    return resp->status;
}

/* The status for a folder that could not be read. */
static int read_failure_status(const struct env *env, int err)
{
    if (err == -EACCES || err == -EPERM)
        return 403;
    if (err == -ENOMEM || err == -EMFILE || err == -ENFILE)
        return 503;
    log_error("listing %s: %s", env->url_path, strerror(-err));
    return 500;
}

int listing_handle(struct env *env, const struct request *req, struct response *resp, int dir_fd)
{
    struct listing_query q;
    listing_parse_query(req->has_query ? req->query : slice_make(NULL, 0), &q);
    /* The page depends on Accept; a listing changes whenever the folder does. */
    response_header(resp, "Vary", SLICE_LIT("Accept"));
    if (!headers_set_by_rule(env->cfg, env->url_path, "Cache-Control"))
        response_header(resp, "Cache-Control", SLICE_LIT("no-cache"));

    struct dir_list l = {0};
    buf_init(&l.names, NULL, 0, 0);
    int status;
    const int rc = read_dir(env, dir_fd, &l);
    if (rc != 0) {
        status = response_error(resp, read_failure_status(env, rc));
    } else {
        struct sort_ctx ctx = {l.names.data, &q};
        if (l.n > 1)
            qsort_r(l.v, l.n, sizeof(*l.v), cmp_entries, &ctx);
        status = listing_wants_json(&q, req->known[HDR_ACCEPT])
                     ? respond_json(env, resp, &l)
                     : respond_html(env, req, resp, &l, &q);
        if (status == 200)
            status = validate(req, resp);
    }
    free(l.v);
    buf_free(&l.names);
    return status;
}
