/* SPDX-License-Identifier: MIT */
/*
 * Tests for http/mime: one row per extension the table must know (which also proves the
 * table is sorted, since a misplaced row is not found by the bisection), then the rules
 * about which dot counts, case, charset parameters and compressibility.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "http/mime.h"

#define PLAIN "text/plain; charset=utf-8"
#define OCTETS "application/octet-stream"

struct mime_case {
    const char *desc;
    const char *path;
    const char *type;
    bool compressible;
};

static const struct mime_case cases[] = {
    /* The web. */
    {"html", "/index.html", "text/html; charset=utf-8", true},
    {"htm", "old.htm", "text/html; charset=utf-8", true},
    {"xhtml", "a.xhtml", "application/xhtml+xml", true},
    {"css", "/css/site.css", "text/css; charset=utf-8", true},
    {"js is text/javascript (RFC 9239)", "/app.js", "text/javascript; charset=utf-8", true},
    {"mjs module", "/mod.mjs", "text/javascript; charset=utf-8", true},
    {"cjs module", "/mod.cjs", "text/javascript; charset=utf-8", true},
    {"json has no charset (RFC 8259)", "/data.json", "application/json", true},
    {"source map is JSON", "/app.js.map", "application/json", true},
    {"json-ld", "a.jsonld", "application/ld+json", true},
    {"geojson", "a.geojson", "application/geo+json", true},
    {"xml", "/feed.xml", "application/xml", true},
    {"rss", "/feed.rss", "application/rss+xml", true},
    {"atom", "/feed.atom", "application/atom+xml", true},
    {"web manifest", "/site.webmanifest", "application/manifest+json", true},
    {"wasm", "/app.wasm", "application/wasm", true},
    {"txt", "/robots.txt", PLAIN, true},
    {"markdown md", "README.md", "text/markdown; charset=utf-8", true},
    {"markdown long", "README.markdown", "text/markdown; charset=utf-8", true},
    {"csv", "a.csv", "text/csv; charset=utf-8", true},
    {"tsv", "a.tsv", "text/tab-separated-values; charset=utf-8", true},
    {"calendar", "a.ics", "text/calendar; charset=utf-8", true},
    {"vcard", "a.vcf", "text/vcard; charset=utf-8", true},
    {"subtitles", "a.vtt", "text/vtt; charset=utf-8", true},
    {"yaml (RFC 9512)", "a.yaml", "application/yaml", true},
    {"yml", "a.yml", "application/yaml", true},
    /* Sources and configuration show as plain text. */
    {"toml", "Cargo.toml", PLAIN, true},
    {"ini", "a.ini", PLAIN, true},
    {"conf", "nginx.conf", PLAIN, true},
    {"cfg", "setup.cfg", PLAIN, true},
    {"log", "access.log", PLAIN, true},
    {"shell", "run.sh", PLAIN, true},
    {"python", "app.py", PLAIN, true},
    {"C", "main.c", PLAIN, true},
    {"C header", "main.h", PLAIN, true},
    {"C++", "a.cpp", PLAIN, true},
    {"C++ cc", "a.cc", PLAIN, true},
    {"C++ header", "a.hpp", PLAIN, true},
    {"Rust", "lib.rs", PLAIN, true},
    {"Go", "main.go", PLAIN, true},
    {"Java", "Main.java", PLAIN, true},
    {"Ruby", "a.rb", PLAIN, true},
    {"PHP source", "index.php", PLAIN, true},
    {"Perl", "a.pl", PLAIN, true},
    {"Swift", "a.swift", PLAIN, true},
    {"Kotlin", "a.kt", PLAIN, true},
    {"SQL", "schema.sql", PLAIN, true},
    {"diff", "a.diff", PLAIN, true},
    {"patch", "a.patch", PLAIN, true},
    /* Images. */
    {"svg", "/logo.svg", "image/svg+xml", true},
    {"png", "/logo.png", "image/png", false},
    {"jpg", "/photo.jpg", "image/jpeg", false},
    {"jpeg", "/photo.jpeg", "image/jpeg", false},
    {"gif", "/a.gif", "image/gif", false},
    {"webp", "/a.webp", "image/webp", false},
    {"avif", "/a.avif", "image/avif", false},
    {"apng", "/a.apng", "image/apng", false},
    {"jxl", "/a.jxl", "image/jxl", false},
    {"heic", "/a.heic", "image/heic", false},
    {"heif", "/a.heif", "image/heif", false},
    {"ico is compressible", "/favicon.ico", "image/x-icon", true},
    {"bmp is compressible", "/a.bmp", "image/bmp", true},
    {"tif", "/a.tif", "image/tiff", false},
    {"tiff", "/a.tiff", "image/tiff", false},
    /* Fonts. */
    {"woff", "/f.woff", "font/woff", false},
    {"woff2", "/f.woff2", "font/woff2", false},
    {"ttf", "/f.ttf", "font/ttf", true},
    {"otf", "/f.otf", "font/otf", true},
    {"eot", "/f.eot", "application/vnd.ms-fontobject", true},
    /* Audio and video. */
    {"mp3", "a.mp3", "audio/mpeg", false},
    {"m4a", "a.m4a", "audio/mp4", false},
    {"aac", "a.aac", "audio/aac", false},
    {"flac", "a.flac", "audio/flac", false},
    {"wav", "a.wav", "audio/wav", false},
    {"ogg", "a.ogg", "audio/ogg", false},
    {"oga", "a.oga", "audio/ogg", false},
    {"opus", "a.opus", "audio/ogg", false},
    {"weba", "a.weba", "audio/webm", false},
    {"mid", "a.mid", "audio/midi", false},
    {"midi", "a.midi", "audio/midi", false},
    {"mp4", "a.mp4", "video/mp4", false},
    {"m4v", "a.m4v", "video/mp4", false},
    {"webm", "a.webm", "video/webm", false},
    {"ogv", "a.ogv", "video/ogg", false},
    {"mkv", "a.mkv", "video/x-matroska", false},
    {"mov", "a.mov", "video/quicktime", false},
    {"avi", "a.avi", "video/x-msvideo", false},
    {"mpeg", "a.mpeg", "video/mpeg", false},
    {"mpg", "a.mpg", "video/mpeg", false},
    {"3gp", "a.3gp", "video/3gpp", false},
    /* Archives and packages. */
    {"zip", "a.zip", "application/zip", false},
    {"gz (RFC 6713)", "a.gz", "application/gzip", false},
    {"tar.gz takes the last extension", "a.tar.gz", "application/gzip", false},
    {"tgz", "a.tgz", "application/gzip", false},
    {"bz2", "a.bz2", "application/x-bzip2", false},
    {"xz", "a.xz", "application/x-xz", false},
    {"zst (RFC 8878)", "a.zst", "application/zstd", false},
    {"br", "a.br", "application/x-brotli", false},
    {"7z", "a.7z", "application/x-7z-compressed", false},
    {"rar", "a.rar", "application/vnd.rar", false},
    {"tar is uncompressed", "a.tar", "application/x-tar", true},
    {"apk", "a.apk", "application/vnd.android.package-archive", false},
    {"deb", "a.deb", "application/vnd.debian.binary-package", false},
    {"dmg", "a.dmg", "application/x-apple-diskimage", false},
    {"exe", "a.exe", "application/vnd.microsoft.portable-executable", false},
    {"iso", "a.iso", "application/x-iso9660-image", false},
    {"jar", "a.jar", "application/java-archive", false},
    /* Documents. */
    {"pdf", "a.pdf", "application/pdf", false},
    {"epub", "a.epub", "application/epub+zip", false},
    {"rtf", "a.rtf", "application/rtf", true},
    {"doc", "a.doc", "application/msword", false},
    {"docx", "a.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     false},
    {"xls", "a.xls", "application/vnd.ms-excel", false},
    {"xlsx", "a.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", false},
    {"ppt", "a.ppt", "application/vnd.ms-powerpoint", false},
    {"pptx", "a.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation",
     false},
    {"odt", "a.odt", "application/vnd.oasis.opendocument.text", false},
    {"ods", "a.ods", "application/vnd.oasis.opendocument.spreadsheet", false},
    {"odp", "a.odp", "application/vnd.oasis.opendocument.presentation", false},
    /* Case. */
    {"upper case", "A.HTML", "text/html; charset=utf-8", true},
    {"mixed case", "/Photo.JpEg", "image/jpeg", false},
    {"upper-case digit extension", "F.WOFF2", "font/woff2", false},
    /* Which dot counts. */
    {"no extension", "/Makefile", OCTETS, false},
    {"empty path", "", OCTETS, false},
    {"root", "/", OCTETS, false},
    {"dot in a directory name only", "/a.b/file", OCTETS, false},
    {"dot in a directory, extension in the file", "/v1.2/app.js", "text/javascript; charset=utf-8",
     true},
    {"trailing dot", "/file.", OCTETS, false},
    {"trailing slash after an extension", "/dir.html/", OCTETS, false},
    {"dotfile name counts as an extension", ".txt", PLAIN, true},
    {"unknown extension", "/a.xyz", OCTETS, false},
    {"extension longer than any known", "/a.thisisaverylongextension", OCTETS, false},
    {"prefix of a known extension", "/a.htm", "text/html; charset=utf-8", true},
    {"known extension plus a letter", "/a.htmlx", OCTETS, false},
    {"relative path without slash", "a.css", "text/css; charset=utf-8", true},
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct mime_case *c = &cases[i];
        const struct mime *m = mime_for_path(slice_str(c->path));
        if (!m)
            fail_msg("%s: NULL", c->desc);
        if (strcmp(m->type, c->type) != 0)
            fail_msg("%s: \"%s\" is %s, want %s", c->desc, c->path, m->type, c->type);
        if (m->compressible != c->compressible)
            fail_msg("%s: compressible %d, want %d", c->desc, m->compressible, c->compressible);
    }
}

/* Every text/ type, and only those, has the charset; ext is lowercase and matches. */
static void test_charset_and_ext(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct mime_case *c = &cases[i];
        const struct mime *m = mime_for_path(slice_str(c->path));
        const bool is_text = strncmp(m->type, "text/", 5) == 0;
        const bool has_charset = strstr(m->type, "; charset=utf-8") != NULL;
        if (is_text != has_charset)
            fail_msg("%s: %s: charset only and always on text/ types", c->desc, m->type);
        for (const char *e = m->ext; *e; e++)
            if (*e >= 'A' && *e <= 'Z')
                fail_msg("%s: ext \"%s\" not lowercase", c->desc, m->ext);
        if (strcmp(m->type, OCTETS) == 0 && m->ext[0] != '\0')
            fail_msg("%s: unknown entry has ext \"%s\"", c->desc, m->ext);
    }
}

/* The slice is honoured: bytes after len are not part of the path. */
static void test_slice_bounds(void **state)
{
    (void)state;
    static const char text[] = "a.html.png";
    assert_string_equal(mime_for_path(slice_make(text, 6))->type, "text/html; charset=utf-8");
    assert_string_equal(mime_for_path(slice_make(text, 4))->type, OCTETS); /* "a.ht" */
    assert_string_equal(mime_for_path(slice_make(NULL, 0))->type, OCTETS);
    /* A NUL inside the extension must not shorten it to a known one. */
    static const char nul[] = "a.js\0x";
    assert_string_equal(mime_for_path(slice_make(nul, sizeof(nul) - 1))->type, OCTETS);
}

/* Content-Type values, as handlers set them, → worth compressing. */
static const struct {
    const char *type;
    bool want;
    const char *desc;
} type_cases[] = {
    {"text/html; charset=utf-8", true, "template pages, listings, error pages"},
    {"text/plain; version=0.0.4; charset=utf-8", true, "Prometheus metrics"},
    {"application/json", true, "the API, JSON listings"},
    {"application/json; charset=utf-8", true, "with a parameter"},
    {"image/svg+xml", true, "in the table"},
    {"application/wasm", true, "in the table, not text"},
    {"application/problem+json", true, "+json suffix, not in the table"},
    {"application/foo+xml", true, "+xml suffix"},
    {"image/png", false, "already compressed"},
    {"application/zip", false, "already compressed"},
    {"application/octet-stream", false, "unknown bytes"},
    {"multipart/byteranges; boundary=x", false, "ranges"},
    {"", false, "empty"},
    {NULL, false, "no Content-Type"},
};

static void test_type_compressible(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(type_cases) / sizeof(type_cases[0]); i++)
        if (mime_type_compressible(type_cases[i].type) != type_cases[i].want)
            fail_msg("%s: \"%s\" should %sbe compressible", type_cases[i].desc,
                     type_cases[i].type ? type_cases[i].type : "(null)",
                     type_cases[i].want ? "" : "not ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_charset_and_ext),
        cmocka_unit_test(test_slice_bounds),
        cmocka_unit_test(test_type_compressible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
