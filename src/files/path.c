/* SPDX-License-Identifier: MIT */
/*
 * URL path → file beneath the document root. Two independent halves:
 *
 * path_normalize() turns the raw request path into a relative path in one left-to-right
 * pass with no allocation. Each byte is percent-decoded as it is read (RFC 3986 §2.1),
 * exactly once, and written straight into the output; a '/' in the raw path ends a
 * segment, which is then judged: empty and "." segments vanish, ".." removes the segment
 * before it (RFC 3986 §5.2.4), a dotfile is refused. Because %2F is refused, splitting on
 * the raw '/' is the same as decoding first and splitting after, so "%2e%2e" is a real
 * ".." segment. Leading dots of a segment are held back until the segment proves not to be
 * "." or "..", so dot segments are never written and never count against out_size; a
 * segment that a later ".." removes does, while it is there ("/<4 KiB>/../a" is 414, which
 * a request target of that length deserves anyway). The first rule the input breaks,
 * reading left to right, decides the status: "/.git/%zz" is 404, "/%zz/.git" is 400.
 *
 * path_open() is the kernel half: even a perfect string can lead outside the root through
 * a symlink, so the open itself must be confined. openat2(RESOLVE_BENEATH) does that in
 * the kernel (Linux 5.6); where it is missing or forbidden by a seccomp filter we open
 * normally and then ask /proc where the descriptor really is.
 */
#include "files/path.h"

#include "util/ascii.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Bytes that may never appear in a file name we serve, raw or decoded: NUL and the other
 * C0 controls and DEL (they have no business in a URL, RFC 3986 §2, and confuse logs and
 * terminals), and the backslash, which some filesystems and many tools treat as a
 * separator. Bytes >= 0x80 are allowed: they are UTF-8 file names.
 */
static bool is_forbidden(unsigned char c)
{
    return c < 0x20 || c == 0x7f || c == '\\';
}

/* The state of one normalisation: the output so far and the segment being read. */
struct norm {
    char *out;
    size_t cap;      /* out_size */
    size_t len;      /* bytes written to out */
    size_t name_at;  /* where the current segment's name starts in out */
    unsigned dots;   /* leading '.' bytes of the segment, held back (0, 1 or 2) */
    bool is_written; /* the segment has bytes in out (it is not empty, "." or "..") */
    bool was_dot;    /* the last finished segment was "." or ".." */
};

static int norm_put(struct norm *n, char c)
{
    /* Keep one byte for the terminating NUL. */
    if (n->len + 1 >= n->cap)
        return 414;
    n->out[n->len++] = c;
    return 0;
}

/* Adds one decoded byte to the current segment. */
static int norm_byte(struct norm *n, unsigned char c)
{
    if (!n->is_written) {
        if (c == '.' && n->dots < 2) {
            n->dots++;
            return 0;
        }
        /* The segment is a real name: write the separator and the dots held back. */
        if (n->len > 0 && norm_put(n, '/') != 0)
            return 414;
        n->name_at = n->len;
        for (unsigned i = 0; i < n->dots; i++)
            if (norm_put(n, '.') != 0)
                return 414;
        n->is_written = true;
    }
    return norm_put(n, (char)c);
}

/* Whether a dot name may be served: RFC 8615 reserves exactly one, and only at the top of
 * the root, "/.well-known/" (ACME challenges). Every other dotfile (.git, .env,
 * .htpasswd) is never served (SPEC §4). */
static bool dot_name_allowed(const char *name, size_t len, bool is_top)
{
    static const char well_known[] = ".well-known";
    return is_top && len == sizeof(well_known) - 1 && memcmp(name, well_known, len) == 0;
}

/* Judges the segment just ended by a '/' or the end of the path. */
static int norm_segment_end(struct norm *n)
{
    int status = 0;

    n->was_dot = !n->is_written && n->dots > 0;
    if (!n->is_written && n->dots == 2) {
        /* RFC 3986 §5.2.4: ".." removes the previous segment; with none left it would
         * climb above the root, which is an attack rather than a missing file. */
        if (n->len == 0)
            return 400;
        const char *slash = memrchr(n->out, '/', n->len);
        n->len = slash ? (size_t)(slash - n->out) : 0;
    } else if (n->is_written && n->out[n->name_at] == '.' &&
               !dot_name_allowed(n->out + n->name_at, n->len - n->name_at, n->name_at == 0)) {
        status = 404;
    }
    n->dots = 0;
    n->is_written = false;
    return status;
}

static int normalize(struct slice raw, struct norm *n)
{
    /* RFC 9112 §3.2.1: the origin form is an absolute path. */
    if (raw.len == 0 || raw.ptr[0] != '/')
        return 400;

    const unsigned char *p = (const unsigned char *)raw.ptr + 1;
    const unsigned char *const end = (const unsigned char *)raw.ptr + raw.len;
    while (p < end) {
        unsigned char c = *p++;
        if (c == '/') {
            int status = norm_segment_end(n);
            if (status != 0)
                return status;
            continue;
        }
        if (c == '%') {
            /* RFC 3986 §2.1: '%' must be followed by two hex digits. */
            const int hi = end - p >= 2 ? ascii_hex_digit(p[0]) : -1;
            const int lo = end - p >= 2 ? ascii_hex_digit(p[1]) : -1;
            if (hi < 0 || lo < 0)
                return 400;
            c = (unsigned char)(hi << 4 | lo);
            p += 2;
            /* An encoded slash would let one segment hide another from the dot rules. */
            if (c == '/')
                return 400;
        }
        if (is_forbidden(c))
            return 400;
        int status = norm_byte(n, c);
        if (status != 0)
            return status;
    }
    return norm_segment_end(n);
}

int path_normalize(struct slice raw, char *out, size_t out_size, struct path_result *res)
{
    struct norm n = {.out = out, .cap = out_size};
    int status = normalize(raw, &n);
    if (status == 0 && n.len == 0) {
        /* The root itself: "." opens the root directory with openat(). */
        status = norm_put(&n, '.');
    }
    if (status != 0) {
        /* Leave nothing that looks like a path behind, whatever the caller does next. */
        if (out_size > 0)
            out[0] = '\0';
        res->len = 0;
        res->trailing_slash = false;
        return status;
    }
    out[n.len] = '\0';
    res->len = n.len;
    /* "/dir/.", "/dir/.." name directories just as "/dir/" does. */
    res->trailing_slash = raw.ptr[raw.len - 1] == '/' || n.was_dot;
    return 0;
}

/*
 * Whether openat2 works here: unknown until the first probe, then fixed for the life of
 * the process. The value is the only thing shared (it publishes no other data), so relaxed
 * ordering is enough; two threads probing at once reach the same answer.
 */
enum { OPENAT2_UNKNOWN, OPENAT2_YES, OPENAT2_NO };
static atomic_int openat2_state = OPENAT2_UNKNOWN;
static atomic_bool is_fallback_forced = false;

static const uint64_t path_resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;

static int sys_openat2(int dir_fd, const char *rel, uint64_t flags, uint64_t resolve)
{
    struct open_how how = {.flags = flags, .resolve = resolve};
    int fd;
    do {
        fd = (int)syscall(SYS_openat2, dir_fd, rel, &how, sizeof(how));
    } while (fd < 0 && errno == EINTR);
    return fd;
}

/*
 * Returns OPENAT2_YES or OPENAT2_NO, probing once. Opening "/" with O_PATH needs no
 * permission, so a failure here says something about openat2 itself: ENOSYS before
 * Linux 5.6, EPERM or ENOSYS from a seccomp filter (container runtimes), EINVAL/E2BIG if
 * the flags are unknown. The probe cannot use RESOLVE_BENEATH ("/" is never beneath
 * anything), but every RESOLVE_* flag we use came with openat2 itself in Linux 5.6.
 * A transient failure (EMFILE) is not cached: the next call asks again, and meanwhile the
 * fallback, which is always safe, is used.
 */
static int openat2_probe(void)
{
    int state = atomic_load_explicit(&openat2_state, memory_order_relaxed);
    if (state != OPENAT2_UNKNOWN)
        return state;

    int fd = sys_openat2(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_NO_MAGICLINKS);
    if (fd >= 0) {
        close(fd);
        state = OPENAT2_YES;
    } else if (errno == ENOSYS || errno == EPERM || errno == EINVAL || errno == E2BIG) {
        state = OPENAT2_NO;
    } else {
        return OPENAT2_NO;
    }
    atomic_store_explicit(&openat2_state, state, memory_order_relaxed);
    return state;
}

bool path_has_openat2(void)
{
    if (atomic_load_explicit(&is_fallback_forced, memory_order_relaxed))
        return false;
    return openat2_probe() == OPENAT2_YES;
}

void path_force_fallback(bool on)
{
    atomic_store_explicit(&is_fallback_forced, on, memory_order_relaxed);
}

/* Reads where fd really is, from /proc. Returns 0 or -errno. */
static int fd_real_path(int fd, char *buf, size_t buf_size)
{
    char link[64];
    int n = snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    if (n < 0 || (size_t)n >= sizeof(link))
        return -EINVAL;
    ssize_t len = readlink(link, buf, buf_size);
    if (len < 0)
        return -errno;
    /* readlink does not terminate, and fills the whole buffer when it truncates. */
    if ((size_t)len >= buf_size)
        return -ENAMETOOLONG;
    buf[len] = '\0';
    return 0;
}

/* Whether the path `inner` is `root` or lies below it (both as /proc shows them). */
static bool is_beneath(const char *root, const char *inner)
{
    size_t root_len = strlen(root);
    if (root_len == 1 && root[0] == '/')
        return inner[0] == '/';
    return strncmp(inner, root, root_len) == 0 &&
           (inner[root_len] == '/' || inner[root_len] == '\0');
}

/* Whether the part of `inner` below `root` has a dot name that may not be served (a
 * symlink led to a dotfile or into a dot folder). */
static bool has_dot_name(const char *root, const char *inner)
{
    const char *p = inner + (strcmp(root, "/") == 0 ? 0 : strlen(root));
    for (bool top = true; *p == '/'; top = false) {
        const char *name = p + 1;
        p = strchrnul(name, '/');
        if (name[0] == '.' && !dot_name_allowed(name, (size_t)(p - name), top))
            return true;
    }
    return false;
}

/*
 * Where fd really is, checked: 0 when it is beneath root_fd and no dot name leads to it,
 * -EXDEV outside, -ENOENT through a dot name (as if it were not there), -EACCES when /proc
 * cannot tell (we refuse what we cannot check). Checking the descriptor rather than the
 * path leaves no race: whatever symlinks or renames happened, fd is what we would serve.
 */
static int check_real_path(int root_fd, int fd)
{
    char root_path[PATH_MAX];
    char fd_path[PATH_MAX];
    if (fd_real_path(root_fd, root_path, sizeof(root_path)) != 0 ||
        fd_real_path(fd, fd_path, sizeof(fd_path)) != 0)
        return -EACCES;
    if (!is_beneath(root_path, fd_path))
        return -EXDEV;
    return has_dot_name(root_path, fd_path) ? -ENOENT : 0;
}

/* The fallback: a plain openat, then a check of what was opened. */
static int open_checked(int root_fd, const char *rel, int flags)
{
    int fd;
    do {
        fd = openat(root_fd, rel, flags);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    int rc = check_real_path(root_fd, fd);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/* openat2 with `resolve`. RESOLVE_BENEATH may fail with EAGAIN when a concurrent rename
 * or mount makes it unsure that ".." stayed inside (openat2(2)); that is a race to retry,
 * a few times, not a verdict. */
static int openat2_retry(int root_fd, const char *rel, int flags, uint64_t resolve)
{
    int fd = -1;
    for (int attempt = 0; attempt < 4; attempt++) {
        fd = sys_openat2(root_fd, rel, (uint64_t)flags, resolve);
        if (fd >= 0 || errno != EAGAIN)
            break;
    }
    return fd >= 0 ? fd : -errno;
}

/*
 * Opens rel beneath root_fd with openat2. A path without symlinks (the usual case) takes
 * one call; one with a symlink is opened again following it, still beneath the root, and
 * where it led is checked for a dot name (a link to .env or .git is not a way in).
 */
static int open_beneath(int root_fd, const char *rel, int flags)
{
    int fd = openat2_retry(root_fd, rel, flags, path_resolve | RESOLVE_NO_SYMLINKS);
    if (fd != -ELOOP)
        return fd;
    fd = openat2_retry(root_fd, rel, flags, path_resolve);
    if (fd < 0)
        return fd;
    int rc = check_real_path(root_fd, fd);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/*
 * A FIFO in the root would block a plain O_RDONLY open until a writer comes; callers that
 * serve files should pass O_NONBLOCK (it changes nothing for regular files) and check
 * S_ISREG in *st.
 */
int path_open(int root_fd, const char *rel, int flags, struct stat *st)
{
    /* Always a read-only open: strip access modes and anything that would write. */
    const int open_flags =
        (flags & ~(O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND)) | O_RDONLY | O_CLOEXEC;

    int fd;
    if (path_has_openat2())
        fd = open_beneath(root_fd, rel, open_flags);
    else
        fd = open_checked(root_fd, rel, open_flags);
    if (fd < 0)
        return fd;

    if (fstat(fd, st) != 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}
