/* SPDX-License-Identifier: MIT */
/*
 * URL path → file under the document root. Security-critical: nothing outside the root is
 * ever opened (SPEC §4).
 *
 * path_normalize() is pure string work: percent-decode exactly once, reject what can never
 * name a file here, remove dot segments, and produce a path relative to the root.
 * path_open() opens that relative path beneath a root directory descriptor so that
 * symlinks cannot lead outside it: openat2(RESOLVE_BENEATH) where the kernel has it,
 * otherwise an open followed by a check of where the descriptor really points.
 */
#ifndef MICA_FILES_PATH_H
#define MICA_FILES_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "util/slice.h"

enum { PATH_MAX_BYTES = 4096 };

struct path_result {
    size_t len;          /* length of the relative path written to out ("." for the root) */
    bool trailing_slash; /* the URL path ended in '/' (a directory was asked for) */
};

/*
 * Normalises the raw, still percent-encoded absolute path `raw` (it must start with '/')
 * into out[0..out_size) as a NUL-terminated path relative to the root, without leading,
 * trailing or doubled slashes, "." or ".." segments. Returns 0, or the HTTP status to answer:
 *   400  bad percent-escape, NUL (raw or %00), a backslash or an encoded slash (%2F, %5C),
 *        a control byte, a path that does not start with '/', or ".." above the root;
 *   404  a segment starting with '.' (dotfiles are never served), except ".well-known";
 *   414  a decoded path longer than out_size - 1.
 * Example: "/a/./b/../c%20d.html" → "a/c d.html".
 */
int path_normalize(struct slice raw, char *out, size_t out_size, struct path_result *res);

/*
 * Opens rel (from path_normalize) beneath the directory root_fd with `flags` (O_RDONLY is
 * implied; O_CLOEXEC is added) and fills *st. Returns the descriptor, or -errno:
 * -ENOENT / -ENOTDIR missing, -EXDEV a symlink that leads outside the root, -EACCES
 * unreadable, -ELOOP too many links.
 */
int path_open(int root_fd, const char *rel, int flags, struct stat *st);

/* Whether openat2(RESOLVE_BENEATH) is used (false: the fallback). For tests and the log. */
bool path_has_openat2(void);

/* Forces the fallback (tests only). */
void path_force_fallback(bool on);

#endif
