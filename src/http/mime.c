/* SPDX-License-Identifier: MIT */
/*
 * The extension → Content-Type table. It is looked up on every static response, so it is
 * one sorted array searched by bisection: about seven comparisons, no hashing set-up, no
 * allocation, and a table a reader can check by eye.
 *
 * Rules the table follows:
 * - every text/ type carries "; charset=utf-8" (our files are UTF-8; without it browsers
 *   guess, RFC 9110 §8.3.1); no other type does: application/json has no charset parameter
 *   (RFC 8259 §11), and XML, SVG and the +json/+xml types declare their own encoding;
 * - JavaScript is text/javascript (RFC 9239 §6), for .js, .mjs and .cjs;
 * - program sources and config files (.py, .c, .sh, .toml …) are text/plain, so a browser
 *   shows them instead of downloading or, worse, guessing;
 * - `compressible` is true when gzip or brotli is worth it: text, markup, JSON, wasm,
 *   uncompressed images (bmp, ico) and fonts (ttf, otf, eot); false for formats that are
 *   already compressed (png, jpeg, woff2, mp4, zip, pdf …).
 *
 * The extension is what follows the last '.' of the last path segment. A dotfile name
 * such as ".txt" therefore has the extension "txt"; dotfiles are refused earlier anyway.
 */
#include "http/mime.h"

#include <string.h>

#define TEXT(t) "text/" t "; charset=utf-8"

/* Sorted by ext in strcmp order: mime_for_path bisects it. */
static const struct mime mime_table[] = {
    {"3gp", "video/3gpp", false},
    {"7z", "application/x-7z-compressed", false},
    {"aac", "audio/aac", false},
    {"apk", "application/vnd.android.package-archive", false},
    {"apng", "image/apng", false},
    {"atom", "application/atom+xml", true},
    {"avi", "video/x-msvideo", false},
    {"avif", "image/avif", false},
    {"bmp", "image/bmp", true},
    {"br", "application/x-brotli", false},
    {"bz2", "application/x-bzip2", false},
    {"c", TEXT("plain"), true},
    {"cc", TEXT("plain"), true},
    {"cfg", TEXT("plain"), true},
    {"cjs", TEXT("javascript"), true},
    {"conf", TEXT("plain"), true},
    {"cpp", TEXT("plain"), true},
    {"css", TEXT("css"), true},
    {"csv", TEXT("csv"), true},
    {"deb", "application/vnd.debian.binary-package", false},
    {"diff", TEXT("plain"), true},
    {"dmg", "application/x-apple-diskimage", false},
    {"doc", "application/msword", false},
    {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", false},
    {"eot", "application/vnd.ms-fontobject", true},
    {"epub", "application/epub+zip", false},
    {"exe", "application/vnd.microsoft.portable-executable", false},
    {"flac", "audio/flac", false},
    {"geojson", "application/geo+json", true},
    {"gif", "image/gif", false},
    {"go", TEXT("plain"), true},
    {"gz", "application/gzip", false},
    {"h", TEXT("plain"), true},
    {"heic", "image/heic", false},
    {"heif", "image/heif", false},
    {"hpp", TEXT("plain"), true},
    {"htm", TEXT("html"), true},
    {"html", TEXT("html"), true},
    {"ico", "image/x-icon", true},
    {"ics", TEXT("calendar"), true},
    {"ini", TEXT("plain"), true},
    {"iso", "application/x-iso9660-image", false},
    {"jar", "application/java-archive", false},
    {"java", TEXT("plain"), true},
    {"jpeg", "image/jpeg", false},
    {"jpg", "image/jpeg", false},
    {"js", TEXT("javascript"), true},
    {"json", "application/json", true},
    {"jsonld", "application/ld+json", true},
    {"jxl", "image/jxl", false},
    {"kt", TEXT("plain"), true},
    {"log", TEXT("plain"), true},
    {"m4a", "audio/mp4", false},
    {"m4v", "video/mp4", false},
    {"map", "application/json", true},
    {"markdown", TEXT("markdown"), true},
    {"md", TEXT("markdown"), true},
    {"mid", "audio/midi", false},
    {"midi", "audio/midi", false},
    {"mjs", TEXT("javascript"), true},
    {"mkv", "video/x-matroska", false},
    {"mov", "video/quicktime", false},
    {"mp3", "audio/mpeg", false},
    {"mp4", "video/mp4", false},
    {"mpeg", "video/mpeg", false},
    {"mpg", "video/mpeg", false},
    {"odp", "application/vnd.oasis.opendocument.presentation", false},
    {"ods", "application/vnd.oasis.opendocument.spreadsheet", false},
    {"odt", "application/vnd.oasis.opendocument.text", false},
    {"oga", "audio/ogg", false},
    {"ogg", "audio/ogg", false},
    {"ogv", "video/ogg", false},
    {"opus", "audio/ogg", false},
    {"otf", "font/otf", true},
    {"patch", TEXT("plain"), true},
    {"pdf", "application/pdf", false},
    {"php", TEXT("plain"), true},
    {"pl", TEXT("plain"), true},
    {"png", "image/png", false},
    {"ppt", "application/vnd.ms-powerpoint", false},
    {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", false},
    {"py", TEXT("plain"), true},
    {"rar", "application/vnd.rar", false},
    {"rb", TEXT("plain"), true},
    {"rs", TEXT("plain"), true},
    {"rss", "application/rss+xml", true},
    {"rtf", "application/rtf", true},
    {"sh", TEXT("plain"), true},
    {"sql", TEXT("plain"), true},
    {"svg", "image/svg+xml", true},
    {"swift", TEXT("plain"), true},
    {"tar", "application/x-tar", true},
    {"tgz", "application/gzip", false},
    {"tif", "image/tiff", false},
    {"tiff", "image/tiff", false},
    {"toml", TEXT("plain"), true},
    {"tsv", TEXT("tab-separated-values"), true},
    {"ttf", "font/ttf", true},
    {"txt", TEXT("plain"), true},
    {"vcf", TEXT("vcard"), true},
    {"vtt", TEXT("vtt"), true},
    {"wasm", "application/wasm", true},
    {"wav", "audio/wav", false},
    {"weba", "audio/webm", false},
    {"webm", "video/webm", false},
    {"webmanifest", "application/manifest+json", true},
    {"webp", "image/webp", false},
    {"woff", "font/woff", false},
    {"woff2", "font/woff2", false},
    {"xhtml", "application/xhtml+xml", true},
    {"xls", "application/vnd.ms-excel", false},
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", false},
    {"xml", "application/xml", true},
    {"xz", "application/x-xz", false},
    {"yaml", "application/yaml", true},
    {"yml", "application/yaml", true},
    {"zip", "application/zip", false},
    {"zst", "application/zstd", false},
};

enum {
    MIME_COUNT = sizeof(mime_table) / sizeof(mime_table[0]),
    MIME_MAX_EXT = 16, /* longer than any extension in the table, with its NUL */
};

static const struct mime mime_unknown = {"", "application/octet-stream", false};

/* The extension of the last segment of path, or an empty slice. */
static struct slice path_extension(struct slice path)
{
    for (size_t i = path.len; i > 0; i--) {
        const char c = path.ptr[i - 1];
        if (c == '/')
            break;
        if (c == '.')
            return slice_make(path.ptr + i, path.len - i);
    }
    return slice_make(NULL, 0);
}

const struct mime *mime_for_path(struct slice path)
{
    const struct slice ext = path_extension(path);
    if (ext.len == 0 || ext.len >= MIME_MAX_EXT)
        return &mime_unknown;

    /* Lower-case once here so the bisection can use plain strcmp. A NUL inside the
     * extension would cut the key short ("js\0x" would find "js"), so it matches nothing. */
    char key[MIME_MAX_EXT];
    for (size_t i = 0; i < ext.len; i++) {
        if (ext.ptr[i] == '\0')
            return &mime_unknown;
        key[i] = ascii_lower(ext.ptr[i]);
    }
    key[ext.len] = '\0';

    size_t lo = 0;
    size_t hi = MIME_COUNT;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        const int cmp = strcmp(key, mime_table[mid].ext);
        if (cmp == 0)
            return &mime_table[mid];
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return &mime_unknown;
}

bool mime_type_compressible(const char *type)
{
    if (!type)
        return false;
    const char *semi = strchr(type, ';');
    struct slice t = slice_trim(slice_make(type, semi ? (size_t)(semi - type) : strlen(type)));
    /* The common generated types first: HTML pages, JSON APIs, text/plain metrics. */
    if (slice_starts_with(t, SLICE_LIT("text/")) || slice_case_eq(t, SLICE_LIT("application/json")))
        return true;
    /* The table is sorted by extension, not type: a linear scan, for the rarer types. */
    for (size_t i = 0; i < MIME_COUNT; i++) {
        const char *m = mime_table[i].type;
        const char *msemi = strchr(m, ';');
        if (slice_case_eq(t, slice_make(m, msemi ? (size_t)(msemi - m) : strlen(m))))
            return mime_table[i].compressible;
    }
    return slice_ends_with(t, SLICE_LIT("+json")) || slice_ends_with(t, SLICE_LIT("+xml"));
}
