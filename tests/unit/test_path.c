/* SPDX-License-Identifier: MIT */
/*
 * Tests for files/path: path_normalize on hostile and valid URL paths, each also placed
 * against an inaccessible page so a read past the end crashes, and path_open on a real
 * temporary tree with symlinks that stay inside or lead out, once with openat2 (where the
 * kernel has it) and once with the /proc fallback.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "files/path.h"

/* A case's raw path as a slice; sizeof keeps embedded NUL bytes. */
#define RAW(s)                                                                                     \
    {                                                                                              \
        (s), sizeof(s) - 1                                                                         \
    }

struct bad_case {
    const char *desc;
    struct slice raw;
    int status;
    size_t out_size; /* the out_size argument; the real buffer is bigger */
};

static const struct bad_case bad_cases[] = {
    /* Not an absolute path. */
    {"empty path", RAW(""), 400, PATH_MAX_BYTES},
    {"relative path", RAW("a/b"), 400, PATH_MAX_BYTES},
    {"asterisk form", RAW("*"), 400, PATH_MAX_BYTES},
    {"absolute form", RAW("http://x/a"), 400, PATH_MAX_BYTES},
    {"leading backslash", RAW("\\a"), 400, PATH_MAX_BYTES},
    /* Climbing above the root. */
    {"bare dot-dot", RAW("/.."), 400, PATH_MAX_BYTES},
    {"dot-dot to /etc/passwd", RAW("/../etc/passwd"), 400, PATH_MAX_BYTES},
    {"pop one then climb", RAW("/a/../../etc/passwd"), 400, PATH_MAX_BYTES},
    {"three pops for two segments", RAW("/a/b/../../../x"), 400, PATH_MAX_BYTES},
    {"pops down to the root then one more", RAW("/a/../../.."), 400, PATH_MAX_BYTES},
    {"dot then dot-dot", RAW("/./../x"), 400, PATH_MAX_BYTES},
    {"empty segment then dot-dot", RAW("//../x"), 400, PATH_MAX_BYTES},
    {"encoded dot-dot lower", RAW("/%2e%2e/etc/passwd"), 400, PATH_MAX_BYTES},
    {"encoded dot-dot upper", RAW("/%2E%2E/x"), 400, PATH_MAX_BYTES},
    {"half-encoded dot-dot", RAW("/.%2e/x"), 400, PATH_MAX_BYTES},
    {"other half-encoded dot-dot", RAW("/%2e./x"), 400, PATH_MAX_BYTES},
    {"two encoded dot-dots", RAW("/a/%2e%2e/%2e%2e/x"), 400, PATH_MAX_BYTES},
    /* Separators that are not a raw '/'. */
    {"encoded slash alone", RAW("/%2f"), 400, PATH_MAX_BYTES},
    {"encoded slash upper", RAW("/a%2Fb"), 400, PATH_MAX_BYTES},
    {"dot-dot with encoded slashes", RAW("/..%2f..%2fetc/passwd"), 400, PATH_MAX_BYTES},
    {"encoded backslash lower", RAW("/a%5cb"), 400, PATH_MAX_BYTES},
    {"encoded backslash upper", RAW("/a%5Cb"), 400, PATH_MAX_BYTES},
    {"raw backslash", RAW("/a\\b"), 400, PATH_MAX_BYTES},
    {"backslash traversal", RAW("/..\\..\\windows\\win.ini"), 400, PATH_MAX_BYTES},
    /* NUL bytes. */
    {"encoded NUL", RAW("/a%00b"), 400, PATH_MAX_BYTES},
    {"raw NUL", RAW("/a\0b"), 400, PATH_MAX_BYTES},
    {"NUL after a held-back dot", RAW("/.%00"), 400, PATH_MAX_BYTES},
    {"NUL after dot-dot", RAW("/a/..%00/x"), 400, PATH_MAX_BYTES},
    {"NUL extension trick", RAW("/x.php%00.html"), 400, PATH_MAX_BYTES},
    /* Bad escapes. */
    {"lone percent", RAW("/%"), 400, PATH_MAX_BYTES},
    {"one hex digit at the end", RAW("/%4"), 400, PATH_MAX_BYTES},
    {"percent at the end of a name", RAW("/a%"), 400, PATH_MAX_BYTES},
    {"non-hex escape", RAW("/%zz"), 400, PATH_MAX_BYTES},
    {"first digit not hex", RAW("/%g0"), 400, PATH_MAX_BYTES},
    {"second digit not hex", RAW("/%0g"), 400, PATH_MAX_BYTES},
    {"double percent", RAW("/%%32%65"), 400, PATH_MAX_BYTES},
    {"IIS %u escape", RAW("/%u002e%u002e/x"), 400, PATH_MAX_BYTES},
    {"escape split by a slash", RAW("/%2/e"), 400, PATH_MAX_BYTES},
    /* Control bytes. */
    {"encoded LF", RAW("/a%0ab"), 400, PATH_MAX_BYTES},
    {"encoded CRLF header injection", RAW("/a%0d%0aSet-Cookie:x=1"), 400, PATH_MAX_BYTES},
    {"raw tab", RAW("/a\tb"), 400, PATH_MAX_BYTES},
    {"raw escape byte", RAW("/a\x1b[31m"), 400, PATH_MAX_BYTES},
    {"encoded DEL", RAW("/a%7f"), 400, PATH_MAX_BYTES},
    {"raw DEL", RAW("/a\x7f"), 400, PATH_MAX_BYTES},
    {"encoded 0x01", RAW("/%01"), 400, PATH_MAX_BYTES},
    /* Dotfiles. */
    {"git config", RAW("/.git/config"), 404, PATH_MAX_BYTES},
    {"env file", RAW("/.env"), 404, PATH_MAX_BYTES},
    {"htpasswd", RAW("/.htpasswd"), 404, PATH_MAX_BYTES},
    {"ssh key in a subfolder", RAW("/home/.ssh/id_rsa"), 404, PATH_MAX_BYTES},
    {"dotfile in a subfolder, trailing slash", RAW("/a/.git/"), 404, PATH_MAX_BYTES},
    {"encoded dot starts a dotfile", RAW("/%2egit/config"), 404, PATH_MAX_BYTES},
    {"encoded dot upper", RAW("/%2Eenv"), 404, PATH_MAX_BYTES},
    {"three dots", RAW("/..."), 404, PATH_MAX_BYTES},
    {"two dots then a name", RAW("/x/..a"), 404, PATH_MAX_BYTES},
    {"three dots partly encoded", RAW("/.%2e./x"), 404, PATH_MAX_BYTES},
    {"Tomcat ..; trick", RAW("/..;/x"), 404, PATH_MAX_BYTES},
    {"dotfile reached through dot-dot", RAW("/a/../.env"), 404, PATH_MAX_BYTES},
    {"dotfile before a later traversal", RAW("/.git/../index.html"), 404, PATH_MAX_BYTES},
    {"first rule broken wins: dotfile then bad escape", RAW("/.git/%zz"), 404, PATH_MAX_BYTES},
    {"first rule broken wins: bad escape then dotfile", RAW("/%zz/.git"), 400, PATH_MAX_BYTES},
    {".well-known below the top", RAW("/a/.well-known/x"), 404, PATH_MAX_BYTES},
    {"dotfile inside .well-known", RAW("/.well-known/.secret"), 404, PATH_MAX_BYTES},
    {"dotfile inside .well-known via dot-dot", RAW("/.well-known/acme/../.hidden"), 404,
     PATH_MAX_BYTES},
    {".well-known in capitals", RAW("/.WELL-KNOWN/x"), 404, PATH_MAX_BYTES},
    {".well-known with a suffix", RAW("/.well-knownx"), 404, PATH_MAX_BYTES},
    {".well-known prefix only", RAW("/.well-know"), 404, PATH_MAX_BYTES},
    /* Too long for the output. */
    {"longer than out_size - 1", RAW("/abcdef"), 414, 4},
    {"exactly out_size bytes", RAW("/abcd"), 414, 4},
    {"nothing fits in out_size 0", RAW("/a"), 414, 0},
    {"root needs two bytes", RAW("/"), 414, 1},
    {"second segment does not fit", RAW("/ab/cd"), 414, 5},
    {"decoded length counts, still too long", RAW("/%41%42%43%44"), 414, 4},
};

struct good_case {
    const char *desc;
    struct slice raw;
    const char *out;
    bool trailing_slash;
    size_t out_size; /* the out_size argument; the real buffer is bigger */
};

static const struct good_case good_cases[] = {
    {"root", RAW("/"), ".", true, PATH_MAX_BYTES},
    {"plain file", RAW("/index.html"), "index.html", false, PATH_MAX_BYTES},
    {"dot-dot inside the root", RAW("/a/../b.html"), "b.html", false, PATH_MAX_BYTES},
    {"header example", RAW("/a/./b/../c%20d.html"), "a/c d.html", false, PATH_MAX_BYTES},
    {"directory with trailing slash", RAW("/dir/"), "dir", true, PATH_MAX_BYTES},
    {"encoded tilde", RAW("/%7euser"), "~user", false, PATH_MAX_BYTES},
    {"encoded tilde upper, directory", RAW("/%7Euser/"), "~user", true, PATH_MAX_BYTES},
    {"doubled slash", RAW("/a//b"), "a/b", false, PATH_MAX_BYTES},
    {"many slashes", RAW("//a///b//"), "a/b", true, PATH_MAX_BYTES},
    {"only slashes", RAW("///"), ".", true, PATH_MAX_BYTES},
    {"dot segment", RAW("/a/./b"), "a/b", false, PATH_MAX_BYTES},
    {"final dot names a directory", RAW("/a/."), "a", true, PATH_MAX_BYTES},
    {"final dot-dot names a directory", RAW("/a/b/.."), "a", true, PATH_MAX_BYTES},
    {"dot-dot back to the root", RAW("/a/.."), ".", true, PATH_MAX_BYTES},
    {"encoded dot segment", RAW("/a/%2e/b"), "a/b", false, PATH_MAX_BYTES},
    {"encoded dot-dot inside the root", RAW("/a/b/%2e%2e/c"), "a/c", false, PATH_MAX_BYTES},
    {"final encoded dot-dot", RAW("/x/%2E%2e"), ".", true, PATH_MAX_BYTES},
    {"two pops", RAW("/a/b/c/../../d"), "a/d", false, PATH_MAX_BYTES},
    {"encoded space", RAW("/my%20file.txt"), "my file.txt", false, PATH_MAX_BYTES},
    {"raw space", RAW("/a b"), "a b", false, PATH_MAX_BYTES},
    {"encoded UTF-8", RAW("/caf%C3%A9.html"), "caf\xc3\xa9.html", false, PATH_MAX_BYTES},
    {"raw UTF-8", RAW("/caf\xc3\xa9.html"), "caf\xc3\xa9.html", false, PATH_MAX_BYTES},
    {"CJK folder and file", RAW("/%E6%97%A5%E6%9C%AC/%E8%AA%9E.txt"),
     "\xe6\x97\xa5\xe6\x9c\xac/\xe8\xaa\x9e.txt", false, PATH_MAX_BYTES},
    {"overlong UTF-8 dots are just bytes", RAW("/%c0%ae%c0%ae/x"), "\xc0\xae\xc0\xae/x", false,
     PATH_MAX_BYTES},
    {"double-encoded dot-dot is a literal name", RAW("/%252e%252e/x"), "%2e%2e/x", false,
     PATH_MAX_BYTES},
    {"encoded percent", RAW("/100%25"), "100%", false, PATH_MAX_BYTES},
    {"encoded question mark", RAW("/a%3Fb"), "a?b", false, PATH_MAX_BYTES},
    {"plus is not a space in a path", RAW("/a+b"), "a+b", false, PATH_MAX_BYTES},
    {"dots inside a name", RAW("/a..b"), "a..b", false, PATH_MAX_BYTES},
    {"name ending in a dot", RAW("/a.b./c"), "a.b./c", false, PATH_MAX_BYTES},
    {".well-known file", RAW("/.well-known/acme-challenge/tok"), ".well-known/acme-challenge/tok",
     false, PATH_MAX_BYTES},
    {".well-known directory", RAW("/.well-known/"), ".well-known", true, PATH_MAX_BYTES},
    {".well-known reached by dot-dot", RAW("/a/../.well-known/x"), ".well-known/x", false,
     PATH_MAX_BYTES},
    {"encoded .well-known", RAW("/%2ewell-known/x"), ".well-known/x", false, PATH_MAX_BYTES},
    {"out of .well-known again", RAW("/.well-known/.."), ".", true, PATH_MAX_BYTES},
    {"exactly fills out_size", RAW("/abc"), "abc", false, 4},
    {"dot segments do not count against out_size", RAW("/abc/./."), "abc", true, 4},
    {"popped segment fits", RAW("/ab/../c"), "c", false, 4},
    {"root in out_size 2", RAW("/"), ".", true, 2},
};

/* Runs one normalisation and checks it; raw may sit anywhere (the guard page test). */
static void check_bad(const struct bad_case *c, struct slice raw)
{
    char out[PATH_MAX_BYTES];
    memset(out, 'x', sizeof(out));
    struct path_result res = {.len = 99, .trailing_slash = true};
    size_t out_size = c->out_size;
    int status = path_normalize(raw, out, out_size, &res);
    if (status != c->status)
        fail_msg("%s: status %d, want %d", c->desc, status, c->status);
    if (out_size > 0 && out[0] != '\0')
        fail_msg("%s: output not emptied on error", c->desc);
    if (res.len != 0)
        fail_msg("%s: res.len %zu on error", c->desc, res.len);
}

static void check_good(const struct good_case *c, struct slice raw)
{
    char out[PATH_MAX_BYTES];
    memset(out, 'x', sizeof(out));
    struct path_result res = {0};
    int status = path_normalize(raw, out, c->out_size, &res);
    if (status != 0)
        fail_msg("%s: status %d, want 0", c->desc, status);
    if (res.len != strlen(c->out) || strcmp(out, c->out) != 0)
        fail_msg("%s: got \"%s\" (len %zu), want \"%s\"", c->desc, out, res.len, c->out);
    if (res.trailing_slash != c->trailing_slash)
        fail_msg("%s: trailing_slash %d, want %d", c->desc, res.trailing_slash, c->trailing_slash);
}

static void test_hostile(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
        check_bad(&bad_cases[i], bad_cases[i].raw);
}

static void test_valid(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++)
        check_good(&good_cases[i], good_cases[i].raw);
}

/* Paths near and over the real limit, built at run time. */
static void test_long(void **state)
{
    (void)state;
    static char raw[2 * PATH_MAX_BYTES];
    char out[PATH_MAX_BYTES];
    struct path_result res;

    raw[0] = '/';
    memset(raw + 1, 'a', sizeof(raw) - 1);
    /* "/" + 4095 bytes: exactly PATH_MAX_BYTES - 1 out, fits. */
    assert_int_equal(path_normalize(slice_make(raw, PATH_MAX_BYTES), out, sizeof(out), &res), 0);
    assert_int_equal(res.len, PATH_MAX_BYTES - 1);
    /* One more byte does not. */
    assert_int_equal(path_normalize(slice_make(raw, PATH_MAX_BYTES + 1), out, sizeof(out), &res),
                     414);
    assert_int_equal(path_normalize(slice_make(raw, sizeof(raw)), out, sizeof(out), &res), 414);

    /* Thousands of segments, then as many pops: a deep but harmless path. */
    size_t n = 0;
    for (int i = 0; i < 1000; i++) {
        memcpy(raw + n, "/ab", 3);
        n += 3;
    }
    for (int i = 0; i < 999; i++) {
        memcpy(raw + n, "/..", 3);
        n += 3;
    }
    assert_int_equal(path_normalize(slice_make(raw, n), out, sizeof(out), &res), 0);
    assert_string_equal(out, "ab");
    memcpy(raw + n, "/../..", 6);
    assert_int_equal(path_normalize(slice_make(raw, n + 6), out, sizeof(out), &res), 400);
}

/*
 * Every input again, copied so that its last byte is the last byte of a page followed by a
 * PROT_NONE page: reading one byte past the slice crashes (picohttpparser's test.c).
 */
static void test_guard_page(void **state)
{
    (void)state;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *mem = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    assert_int_equal(mprotect(mem + page, page, PROT_NONE), 0);
    char *const edge = mem + page;

    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        memcpy(edge - c->raw.len, c->raw.ptr, c->raw.len);
        check_bad(c, slice_make(edge - c->raw.len, c->raw.len));
    }
    for (size_t i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
        const struct good_case *c = &good_cases[i];
        memcpy(edge - c->raw.len, c->raw.ptr, c->raw.len);
        check_good(c, slice_make(edge - c->raw.len, c->raw.len));
    }
    /* Every prefix of a path full of escapes and dots ends at the guard too. */
    static const char tricky[] = "/a/%2e%2E/.well-known/b%20c/%e6%97/./..";
    for (size_t len = 0; len < sizeof(tricky); len++) {
        char out[64];
        struct path_result res;
        memcpy(edge - len, tricky, len);
        (void)path_normalize(slice_make(edge - len, len), out, sizeof(out), &res);
    }
    assert_int_equal(munmap(mem, 2 * page), 0);
}

/* The temporary tree for path_open:
 *   base/outside                 a file outside the root
 *   base/root/file.txt           "hello"
 *   base/root/dir/inner.txt
 *   base/root/dir/link_up        → ../file.txt   (stays inside)
 *   base/root/link_in            → file.txt      (stays inside)
 *   base/root/link_passwd        → /etc/passwd
 *   base/root/link_out           → ../outside
 *   base/root/link_parent        → ..            (a directory outside)
 *   base/root/link_etc           → /etc
 *   base/root/link_dangling      → nowhere
 *   base/root/link_loop          → link_loop
 */
struct tree {
    char base[64];
    int root_fd;
};

static struct tree tree;

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int rc = fputs(text, f) < 0 ? -1 : 0;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

static int tree_make(void **state)
{
    (void)state;
    char path[256];
    snprintf(tree.base, sizeof(tree.base), "/tmp/mica_path_XXXXXX");
    if (!mkdtemp(tree.base))
        return -1;
    static const struct {
        const char *name;
        const char *target; /* NULL: a regular file, "/": a directory */
    } entries[] = {
        {"outside", NULL},
        {"root", "/"},
        {"root/file.txt", NULL},
        {"root/dir", "/"},
        {"root/dir/inner.txt", NULL},
        {"root/dir/link_up", "../file.txt"},
        {"root/link_in", "file.txt"},
        {"root/link_passwd", "/etc/passwd"},
        {"root/link_out", "../outside"},
        {"root/link_parent", ".."},
        {"root/link_etc", "/etc"},
        {"root/link_dangling", "nowhere"},
        {"root/link_loop", "link_loop"},
        {"root/.env", NULL},
        {"root/.git", "/"},
        {"root/.git/config", NULL},
        {"root/.well-known", "/"},
        {"root/.well-known/acme.txt", NULL},
        {"root/dir/.hidden", "/"},
        {"root/dir/.hidden/x.txt", NULL},
        {"root/link_env", ".env"},
        {"root/link_git", ".git"},
        {"root/dir/link_hidden", ".hidden/x.txt"},
        {"root/link_acme", ".well-known/acme.txt"},
        {"root/dir/link_wk", "../.well-known"},
    };
    for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", tree.base, entries[i].name);
        int rc;
        if (!entries[i].target)
            rc = write_file(path, "hello");
        else if (strcmp(entries[i].target, "/") == 0)
            rc = mkdir(path, 0755);
        else
            rc = symlink(entries[i].target, path);
        if (rc != 0)
            return -1;
    }
    snprintf(path, sizeof(path), "%s/root", tree.base);
    tree.root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return tree.root_fd >= 0 ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

static int tree_remove(void **state)
{
    (void)state;
    if (tree.root_fd >= 0)
        close(tree.root_fd);
    /* FTW_PHYS: never follow the symlinks (link_etc!) while deleting. */
    return nftw(tree.base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

enum kind { KIND_NONE, KIND_FILE, KIND_DIR };

struct open_case {
    const char *desc;
    const char *rel;
    int flags;
    int want;       /* 0: success, else -errno */
    enum kind kind; /* what a success opens */
};

static const struct open_case open_cases[] = {
    {"a normal file", "file.txt", 0, 0, KIND_FILE},
    {"a file in a directory", "dir/inner.txt", 0, 0, KIND_FILE},
    {"a directory", "dir", O_DIRECTORY, 0, KIND_DIR},
    {"the root itself", ".", O_DIRECTORY, 0, KIND_DIR},
    {"symlink to a file inside", "link_in", 0, 0, KIND_FILE},
    {"symlink with .. that stays inside", "dir/link_up", 0, 0, KIND_FILE},
    {"symlink to /etc/passwd", "link_passwd", 0, -EXDEV, KIND_NONE},
    {"symlink to ../outside", "link_out", 0, -EXDEV, KIND_NONE},
    {"through a directory symlink to the parent", "link_parent/outside", 0, -EXDEV, KIND_NONE},
    {"directory symlink to the parent itself", "link_parent", O_DIRECTORY, -EXDEV, KIND_NONE},
    {"through a directory symlink to /etc", "link_etc/passwd", 0, -EXDEV, KIND_NONE},
    {"plain dot-dot (never from path_normalize)", "../outside", 0, -EXDEV, KIND_NONE},
    {"absolute path (never from path_normalize)", "/etc/passwd", 0, -EXDEV, KIND_NONE},
    {"a missing file", "missing.txt", 0, -ENOENT, KIND_NONE},
    {"a missing directory", "nodir/x", 0, -ENOENT, KIND_NONE},
    {"a dangling symlink", "link_dangling", 0, -ENOENT, KIND_NONE},
    {"a file used as a directory", "file.txt/child", 0, -ENOTDIR, KIND_NONE},
    {"a file opened as a directory", "file.txt", O_DIRECTORY, -ENOTDIR, KIND_NONE},
    {"a symlink loop", "link_loop", 0, -ELOOP, KIND_NONE},
    /* A symlink is no way in to a dotfile (SPEC §4): as if it were not there. The one dot
     * name allowed, a top-level .well-known, may be linked to. */
    {"symlink to .env", "link_env", 0, -ENOENT, KIND_NONE},
    {"through a directory symlink to .git", "link_git/config", 0, -ENOENT, KIND_NONE},
    {"directory symlink to .git", "link_git", O_DIRECTORY, -ENOENT, KIND_NONE},
    {"symlink into a dot folder below", "dir/link_hidden", 0, -ENOENT, KIND_NONE},
    {"symlink into .well-known", "link_acme", 0, 0, KIND_FILE},
    {"through a symlink to .well-known", "dir/link_wk/acme.txt", 0, 0, KIND_FILE},
};

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void run_open_cases(const char *mode)
{
    const int fds_before = count_fds();
    for (size_t i = 0; i < sizeof(open_cases) / sizeof(open_cases[0]); i++) {
        const struct open_case *c = &open_cases[i];
        struct stat st;
        int fd = path_open(tree.root_fd, c->rel, c->flags, &st);
        if (c->want != 0) {
            if (fd != c->want)
                fail_msg("%s (%s): got %d (%s), want %d (%s)", c->desc, mode, fd,
                         fd < 0 ? strerror(-fd) : "a descriptor", c->want, strerror(-c->want));
            continue;
        }
        if (fd < 0)
            fail_msg("%s (%s): got %d (%s), want a descriptor", c->desc, mode, fd, strerror(-fd));
        bool is_ok =
            c->kind == KIND_DIR ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode) && st.st_size == 5;
        int fd_flags = fcntl(fd, F_GETFD);
        close(fd);
        if (!is_ok)
            fail_msg("%s (%s): wrong stat result", c->desc, mode);
        if (fd_flags < 0 || !(fd_flags & FD_CLOEXEC))
            fail_msg("%s (%s): descriptor without FD_CLOEXEC", c->desc, mode);
    }
    /* No error path may leak a descriptor. */
    assert_int_equal(count_fds(), fds_before);
}

static void test_open_default(void **state)
{
    (void)state;
    path_force_fallback(false);
    print_message("path_open uses %s\n", path_has_openat2() ? "openat2" : "the /proc fallback");
    run_open_cases(path_has_openat2() ? "openat2" : "fallback");
}

static void test_open_fallback(void **state)
{
    (void)state;
    path_force_fallback(true);
    assert_false(path_has_openat2());
    run_open_cases("forced fallback");
    path_force_fallback(false);
}

/* Whatever access mode is asked for, the descriptor is read-only. */
static void test_open_read_only(void **state)
{
    (void)state;
    for (int forced = 0; forced < 2; forced++) {
        path_force_fallback(forced);
        struct stat st;
        int fd = path_open(tree.root_fd, "file.txt", O_RDWR | O_TRUNC, &st);
        assert_true(fd >= 0);
        int fl = fcntl(fd, F_GETFL);
        close(fd);
        assert_int_equal(fl & O_ACCMODE, O_RDONLY);
        assert_int_equal(st.st_size, 5); /* O_TRUNC was ignored */
    }
    path_force_fallback(false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile),        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_long),           cmocka_unit_test(test_guard_page),
        cmocka_unit_test(test_open_default),   cmocka_unit_test(test_open_fallback),
        cmocka_unit_test(test_open_read_only),
    };
    return cmocka_run_group_tests(tests, tree_make, tree_remove);
}
