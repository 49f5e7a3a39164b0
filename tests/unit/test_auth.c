/* SPDX-License-Identifier: MIT */
/*
 * Tests for handlers/auth: everything that needs no server.
 *
 * - The key file in a temporary data_dir: created (with data_dir) private and 32 bytes
 *   long, kept across restarts, refused when open to others, of the wrong size or a
 *   symbolic link; eight threads creating it at once all end up with the same key.
 * - Session cookies: round trip, expiry, every kind of tampering, a new password hash (or
 *   user) invalidating them; Cookie header parsing.
 * - The user comparison, the limiter's sliding window, IPv6 /64 grouping and eviction, the
 *   Basic memo and its minute.
 * - Hostile inputs to the Basic, Cookie and Origin parsers, each ending at the edge of an
 *   inaccessible page to catch over-reads.
 * - The handlers through hand-built requests: auth_guard's 404/403/429/401, login, logout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/config.h"
#include "core/log.h"
#include "handlers/auth.h"
#include "handlers/revoked.h"
#include "template/cache.h"
#include "util/password.h"

enum { NOW = 1790000000 }; /* a wall-clock time for cookies */

static char password_hash_a[PASSWORD_HASH_MAX], password_hash_b[PASSWORD_HASH_MAX];
static char log_path[64]; /* error.log of the whole run, checked for secrets at the end */

static int group_setup(void **state)
{
    (void)state;
    char err[256];
    snprintf(log_path, sizeof(log_path), "/tmp/mica-test-auth-log-XXXXXX");
    int fd = mkstemp(log_path);
    if (fd < 0)
        return -1;
    close(fd);
    if (log_open(LOG_DEBUG, "off", log_path, err) != 0)
        return -1;
    /* yescrypt is slow on purpose: hash once for the whole file. */
    if (password_hash("secret", password_hash_a, sizeof(password_hash_a)) != 0 ||
        password_hash("other", password_hash_b, sizeof(password_hash_b)) != 0)
        return -1;
    return 0;
}

/* ---- a temporary data_dir and configurations ---- */

struct fixture {
    char dir[64];      /* the temporary directory */
    char data_dir[96]; /* dir/sub/data, created by auth_new */
    char key_path[128];
    struct config cfg;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void fixture_init(struct fixture *f, const char *user, const char *hash)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/mica-test-auth-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->data_dir, sizeof(f->data_dir), "%s/sub/data", f->dir);
    snprintf(f->key_path, sizeof(f->key_path), "%s/session.key", f->data_dir);
    f->cfg.data_dir = f->data_dir;
    f->cfg.admin.user = (char *)user;
    f->cfg.admin.password_hash = (char *)hash;
}

static void fixture_done(struct fixture *f)
{
    nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static struct auth *new_auth(const struct config *cfg)
{
    struct auth *a = NULL;
    char err[256] = "";
    if (auth_new(&a, cfg, err) != 0)
        fail_msg("auth_new: %s", err);
    return a;
}

/* ---- the key file ---- */

static void test_key_file_created(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, "admin", password_hash_a);
    struct auth *a = new_auth(&f.cfg);
    assert_true(auth_enabled(a));

    struct stat st;
    assert_int_equal(stat(f.key_path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, 32);
    assert_int_equal(stat(f.data_dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777 & ~0750, 0); /* umask may remove more, never add */

    /* A restart reads the same secret: cookies stay valid. */
    char cookie[AUTH_COOKIE_MAX];
    size_t n = auth_cookie_make(a, NOW + AUTH_SESSION_S, cookie);
    struct auth *b = new_auth(&f.cfg);
    assert_true(auth_cookie_verify(b, slice_make(cookie, n), NOW));
    auth_free(a);
    auth_free(b);
    fixture_done(&f);
}

static void test_key_file_refused(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        size_t size;
        mode_t mode;
        const char *err_part;
    } cases[] = {
        {"group-readable", 32, 0640, "0640"},       {"world-readable", 32, 0604, "0604"},
        {"group-writable", 32, 0620, "0620"},       {"31 bytes", 31, 0600, "exactly 32 bytes"},
        {"33 bytes", 33, 0600, "exactly 32 bytes"}, {"empty", 0, 0600, "exactly 32 bytes"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fixture f;
        fixture_init(&f, "admin", password_hash_a);
        auth_free(new_auth(&f.cfg)); /* creates the folders and a good key */
        assert_int_equal(unlink(f.key_path), 0);
        int fd = open(f.key_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        assert_true(fd >= 0);
        char bytes[64] = {0};
        assert_int_equal(write(fd, bytes, cases[i].size), (ssize_t)cases[i].size);
        close(fd);
        assert_int_equal(chmod(f.key_path, cases[i].mode), 0);

        struct auth *a = NULL;
        char err[256] = "";
        if (auth_new(&a, &f.cfg, err) == 0)
            fail_msg("%s: key file accepted", cases[i].what);
        assert_null(a);
        if (!strstr(err, f.key_path) || !strstr(err, cases[i].err_part))
            fail_msg("%s: error \"%s\" should name %s and say %s", cases[i].what, err, f.key_path,
                     cases[i].err_part);
        fixture_done(&f);
    }

    /* A symbolic link, even to a good file. */
    struct fixture f;
    fixture_init(&f, "admin", password_hash_a);
    auth_free(new_auth(&f.cfg));
    char moved[160];
    snprintf(moved, sizeof(moved), "%s/elsewhere", f.dir);
    assert_int_equal(rename(f.key_path, moved), 0);
    assert_int_equal(symlink(moved, f.key_path), 0);
    struct auth *a = NULL;
    char err[256] = "";
    assert_int_equal(auth_new(&a, &f.cfg, err), -1);
    assert_non_null(strstr(err, "symbolic link"));

    /* A FIFO: refused at once, never waited on (a blocking open would hang the start). */
    assert_int_equal(unlink(f.key_path), 0);
    assert_int_equal(mkfifo(f.key_path, 0600), 0);
    assert_int_equal(auth_new(&a, &f.cfg, err), -1);
    assert_non_null(strstr(err, "not a regular file"));

    /* data_dir that is a file. */
    fixture_done(&f);
    fixture_init(&f, "admin", password_hash_a);
    snprintf(f.data_dir, sizeof(f.data_dir), "%s/file", f.dir);
    int fd = open(f.data_dir, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(auth_new(&a, &f.cfg, err), -1);
    assert_non_null(strstr(err, "data_dir"));
    fixture_done(&f);
}

static void test_disabled(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, NULL, NULL);
    struct auth *a = new_auth(&f.cfg);
    assert_false(auth_enabled(a));
    assert_false(auth_enabled(NULL));
    struct stat st;
    assert_int_equal(stat(f.data_dir, &st), -1); /* no key file, not even the folder */
    assert_false(auth_user_equal(a, "", 0));
    assert_false(auth_cookie_verify(a, SLICE_LIT("1.x"), NOW));
    auth_free(a);
    fixture_done(&f);

    /* An overlong admin.user is refused at start. */
    char user[AUTH_USER_MAX + 2];
    memset(user, 'u', sizeof(user) - 1);
    user[sizeof(user) - 1] = '\0';
    fixture_init(&f, user, password_hash_a);
    char err[256];
    assert_int_equal(auth_new(&a, &f.cfg, err), -1);
    assert_non_null(strstr(err, "admin.user"));
    fixture_done(&f);
}

struct race {
    const struct config *cfg;
    pthread_barrier_t *go;
    struct auth *a;
};

static void *race_thread(void *arg)
{
    struct race *r = arg;
    pthread_barrier_wait(r->go);
    char err[256];
    if (auth_new(&r->a, r->cfg, err) != 0)
        r->a = NULL;
    return NULL;
}

static void test_key_file_race(void **state)
{
    (void)state;
    enum { N = 8 };
    for (int round = 0; round < 5; round++) {
        struct fixture f;
        fixture_init(&f, "admin", password_hash_a);
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, N);
        struct race r[N];
        pthread_t t[N];
        for (int i = 0; i < N; i++) {
            r[i] = (struct race){&f.cfg, &go, NULL};
            assert_int_equal(pthread_create(&t[i], NULL, race_thread, &r[i]), 0);
        }
        for (int i = 0; i < N; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&go);
        char cookie[AUTH_COOKIE_MAX];
        assert_non_null(r[0].a);
        size_t n = auth_cookie_make(r[0].a, NOW + 60, cookie);
        for (int i = 0; i < N; i++) {
            if (!r[i].a || !auth_cookie_verify(r[i].a, slice_make(cookie, n), NOW))
                fail_msg("round %d: thread %d got another key", round, i);
            auth_free(r[i].a);
        }
        /* No temporary file is left behind: the key and the revoked sessions (with the
         * epoch, which all agree on too) are all data_dir holds. */
        DIR *d = opendir(f.data_dir);
        assert_non_null(d);
        for (struct dirent *e; (e = readdir(d));)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
                strcmp(e->d_name, "session.key") && strcmp(e->d_name, "session.revoked"))
                fail_msg("round %d: %s left in data_dir", round, e->d_name);
        closedir(d);
        fixture_done(&f);
    }
}

/* ---- cookies ---- */

struct keyed {
    struct fixture f;
    struct auth *a;
};

static int keyed_setup(void **state)
{
    struct keyed *k = calloc(1, sizeof(*k));
    if (!k)
        return -1;
    fixture_init(&k->f, "admin", password_hash_a);
    k->a = new_auth(&k->f.cfg);
    *state = k;
    return 0;
}

static int keyed_teardown(void **state)
{
    struct keyed *k = *state;
    auth_free(k->a);
    fixture_done(&k->f);
    free(k);
    return 0;
}

static void test_cookie_round_trip(void **state)
{
    struct keyed *k = *state;
    char c[AUTH_COOKIE_MAX];
    size_t n = auth_cookie_make(k->a, NOW + AUTH_SESSION_S, c);
    assert_int_equal(strlen(c), n);
    char expect_prefix[32];
    snprintf(expect_prefix, sizeof(expect_prefix), "%d.", NOW + AUTH_SESSION_S);
    assert_memory_equal(c, expect_prefix, strlen(expect_prefix));
    /* "<expiry>.<id: 22 base64url>.<mac: 43 base64url>": nothing that needs quoting. */
    const size_t id_at = strlen(expect_prefix);
    assert_int_equal(n, id_at + 22 + 1 + 43);
    assert_int_equal(c[id_at + 22], '.');
    for (size_t i = id_at; i < n; i++)
        if (i != id_at + 22)
            assert_non_null(
                strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", c[i]));
    /* Each session gets its own id. */
    char other[AUTH_COOKIE_MAX];
    assert_int_equal(auth_cookie_make(k->a, NOW + AUTH_SESSION_S, other), n);
    assert_memory_not_equal(c + id_at, other + id_at, 22);

    struct slice v = slice_make(c, n);
    assert_true(auth_cookie_verify(k->a, v, NOW));
    assert_true(auth_cookie_verify(k->a, v, NOW + AUTH_SESSION_S - 1));
    assert_false(auth_cookie_verify(k->a, v, NOW + AUTH_SESSION_S)); /* expired */
    assert_false(auth_cookie_verify(k->a, v, NOW + AUTH_SESSION_S + 1));

    /* Already expired when made. */
    n = auth_cookie_make(k->a, NOW - 1, c);
    assert_false(auth_cookie_verify(k->a, slice_make(c, n), NOW));
    n = auth_cookie_make(k->a, 0, c);
    assert_false(auth_cookie_verify(k->a, slice_make(c, n), NOW));
}

static void test_cookie_tampering(void **state)
{
    struct keyed *k = *state;
    char good[AUTH_COOKIE_MAX];
    size_t n = auth_cookie_make(k->a, NOW + 100, good);
    const char *dot = strchr(good, '.');
    size_t mac_at = (size_t)(dot - good) + 1;

    /* Every single-character change anywhere. */
    for (size_t i = 0; i < n; i++) {
        const char repl[] = {'A', '0', '-', '_', '.', '9', 'z', '+', '/', '='};
        for (size_t r = 0; r < sizeof(repl); r++) {
            char c[AUTH_COOKIE_MAX];
            memcpy(c, good, n + 1);
            if (c[i] == repl[r])
                continue;
            c[i] = repl[r];
            if (auth_cookie_verify(k->a, slice_make(c, n), NOW))
                fail_msg("changing byte %zu to '%c' still verifies: %s", i, repl[r], c);
        }
    }

    char buf[256];
    static const struct {
        const char *what;
        const char *before, *between, *after; /* around the expiry and the good MAC */
    } cases[] = {
        {"leading zero on the expiry", "0", ".", ""},
        {"plus sign", "+", ".", ""},
        {"minus sign", "-", ".", ""},
        {"space before", " ", ".", ""},
        {"space after the dot", "", ". ", ""},
        {"trailing byte", "", ".", "A"},
        {"trailing space", "", ".", " "},
        {"padding", "", ".", "="},
        {"two dots", "", "..", ""},
        {"quoted", "\"", ".", "\""},
        {"expiry moved", "", "1.", ""},
        {"a comma for the dot", "", ",", ""},
    };
    long long expiry = NOW + 100;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int m = snprintf(buf, sizeof(buf), "%s%lld%s%s%s", cases[i].before, expiry,
                         cases[i].between, good + mac_at, cases[i].after);
        if (auth_cookie_verify(k->a, slice_make(buf, (size_t)m), NOW))
            fail_msg("%s: %s verifies", cases[i].what, buf);
    }

    static const char *junk[] = {
        "",
        ".",
        "1.",
        ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "99999999999999999999.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "9223372036854775808.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "18446744073709551616.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "9999999999.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "no dot at all",
    };
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        if (auth_cookie_verify(k->a, slice_str(junk[i]), NOW))
            fail_msg("junk \"%s\" verifies", junk[i]);
    assert_false(auth_cookie_verify(k->a, slice_make(NULL, 0), NOW));

    /* A NUL inside: the length counts, not the terminator. */
    char nul[AUTH_COOKIE_MAX + 1];
    memcpy(nul, good, n);
    nul[n] = '\0';
    assert_false(auth_cookie_verify(k->a, slice_make(nul, n + 1), NOW));
    memcpy(nul, good, n + 1);
    nul[mac_at + 3] = '\0';
    assert_false(auth_cookie_verify(k->a, slice_make(nul, n), NOW));
}

static void test_cookie_key_changes(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, "admin", password_hash_a);
    struct auth *a = new_auth(&f.cfg);
    char c[AUTH_COOKIE_MAX];
    struct slice v = slice_make(c, auth_cookie_make(a, NOW + AUTH_SESSION_S, c));

    /* The same secret (same data_dir) with a new password hash: every cookie is void. */
    struct config changed = f.cfg;
    changed.admin.password_hash = password_hash_b;
    struct auth *b = new_auth(&changed);
    assert_false(auth_cookie_verify(b, v, NOW));
    /* The same password, hashed again with a new salt, is a new hash too. */
    char rehash[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash("secret", rehash, sizeof(rehash)), 0);
    changed.admin.password_hash = rehash;
    struct auth *c2 = new_auth(&changed);
    assert_false(auth_cookie_verify(c2, v, NOW));
    /* Another user name. */
    changed = f.cfg;
    changed.admin.user = "root";
    struct auth *d = new_auth(&changed);
    assert_false(auth_cookie_verify(d, v, NOW));
    /* And back to the original: valid again. */
    struct auth *e = new_auth(&f.cfg);
    assert_true(auth_cookie_verify(e, v, NOW));

    /* Another secret (another data_dir), same credentials. */
    struct fixture g;
    fixture_init(&g, "admin", password_hash_a);
    struct auth *h = new_auth(&g.cfg);
    assert_false(auth_cookie_verify(h, v, NOW));

    auth_free(a), auth_free(b), auth_free(c2), auth_free(d), auth_free(e), auth_free(h);
    fixture_done(&f);
    fixture_done(&g);
}

/* ---- parsers over hostile inputs, each ending at the edge of an inaccessible page ---- */

static char *guard_page; /* two pages: the second is PROT_NONE */
static long page_size;

static int guard_setup(void **state)
{
    (void)state;
    page_size = sysconf(_SC_PAGESIZE);
    guard_page = mmap(NULL, (size_t)page_size * 2, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (guard_page == MAP_FAILED)
        return -1;
    return mprotect(guard_page + page_size, (size_t)page_size, PROT_NONE);
}

static int guard_teardown(void **state)
{
    (void)state;
    munmap(guard_page, (size_t)page_size * 2);
    return 0;
}

/* s copied so that its last byte is the last readable one. */
static struct slice at_edge(const char *s, size_t len)
{
    assert_true(len <= (size_t)page_size);
    char *p = guard_page + page_size - len;
    memcpy(p, s, len);
    return slice_make(p, len);
}

/* ---- revoked sessions (logout) ----
 *
 * The revoked list outlives the process and is pruned by the wall clock when read, so
 * these tests date their cookies from the real time, not NOW. */

static struct slice make_cookie(struct auth *a, time_t expires, char out[AUTH_COOKIE_MAX])
{
    size_t n = auth_cookie_make(a, expires, out);
    assert_true(n > 0);
    return slice_make(out, n);
}

static void revoked_path(const struct fixture *f, char *out, size_t cap)
{
    snprintf(out, cap, "%s/session.revoked", f->data_dir);
}

static void write_text(const char *path, const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/* The file's text (NUL-terminated, malloc'd). */
static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char *text = calloc(1, 1 << 20);
    assert_non_null(text);
    size_t n = fread(text, 1, (1 << 20) - 1, fp);
    text[n] = '\0';
    fclose(fp);
    return text;
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (const char *p = text; (p = strchr(p, '\n')); p++)
        n++;
    return n;
}

static void test_revoke_one_session(void **state)
{
    struct keyed *k = *state;
    const time_t now = time(NULL);
    char c1[AUTH_COOKIE_MAX], c2[AUTH_COOKIE_MAX];
    struct slice v1 = make_cookie(k->a, now + AUTH_SESSION_S, c1);
    struct slice v2 = make_cookie(k->a, now + AUTH_SESSION_S, c2);
    assert_true(auth_cookie_verify(k->a, v1, now));
    assert_true(auth_cookie_verify(k->a, v2, now));

    assert_int_equal(auth_revoke(k->a, v1, now), 1);
    assert_false(auth_cookie_verify(k->a, v1, now)); /* its signature is still good */
    assert_true(auth_cookie_verify(k->a, v2, now));  /* another session goes on */
    assert_int_equal(auth_revoked_count(k->a), 1);
    /* Nothing more to do for a revoked, expired, malformed or foreign cookie. */
    assert_int_equal(auth_revoke(k->a, v1, now), 0);
    char old[AUTH_COOKIE_MAX];
    assert_int_equal(auth_revoke(k->a, make_cookie(k->a, now - 1, old), now), 0);
    assert_int_equal(auth_revoke(k->a, slice_str("garbage"), now), 0);
    assert_int_equal(auth_revoke(k->a, slice_make(NULL, 0), now), 0);
    assert_int_equal(auth_revoked_count(k->a), 1);

    /* The file: a header, the epoch and one line "<id> <expiry>", private. */
    char path[160];
    revoked_path(&k->f, path, sizeof(path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *text = read_text(path);
    assert_memory_equal(text, "mica-revoked 1\nepoch ", 21);
    assert_int_equal(count_lines(text), 3);
    char line[64];
    snprintf(line, sizeof(line), "\n%.22s %lld\n", strchr(c1, '.') + 1,
             (long long)(now + AUTH_SESSION_S));
    assert_non_null(strstr(text, line));
    free(text);
}

/* A cookie of the format before session ids, "<expiry>.<HMAC(key, user "\n" expiry)>",
 * made with the right key: refused. */
static void test_old_cookie_refused(void **state)
{
    struct keyed *k = *state;
    unsigned char secret[32], key[32], mac[32];
    int fd = open(k->f.key_path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, secret, sizeof(secret)), (ssize_t)sizeof(secret));
    close(fd);
    char msg[512];
    int n = snprintf(msg, sizeof(msg), "admin\n%s", password_hash_a);
    unsigned len = sizeof(key);
    assert_non_null(HMAC(EVP_sha256(), secret, 32, (unsigned char *)msg, (size_t)n, key, &len));
    const long long expires = (long long)time(NULL) + 100;
    n = snprintf(msg, sizeof(msg), "admin\n%lld", expires);
    assert_non_null(HMAC(EVP_sha256(), key, 32, (unsigned char *)msg, (size_t)n, mac, &len));
    char b64[64];
    EVP_EncodeBlock((unsigned char *)b64, mac, 32); /* 44 characters with one '=' */
    for (char *p = b64; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    b64[43] = '\0';
    char cookie[128];
    n = snprintf(cookie, sizeof(cookie), "%lld.%s", expires, b64);
    assert_false(auth_cookie_verify(k->a, slice_make(cookie, (size_t)n), time(NULL)));
}

/* What is marked but not yet written is known (a logout's answer waits for its write, also
 * when an earlier logout of the same session marked it); a failed write stays unsaved so a
 * retry writes again. */
static void test_revoked_unsaved(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, "admin", password_hash_a);
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/sub", f.dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(mkdir(f.data_dir, 0700), 0);
    char err[256];
    const time_t now = time(NULL);
    struct revoked *r = revoked_open(f.data_dir, now, err);
    assert_non_null(r);
    assert_false(revoked_unsaved(r));
    const char id1[REVOKED_ID_LEN + 1] = "AAAAAAAAAAAAAAAAAAAAAA";
    const char id2[REVOKED_ID_LEN + 1] = "BBBBBBBBBBBBBBBBBBBBBB";
    assert_true(revoked_mark(r, id1, now + 60, now));
    assert_true(revoked_unsaved(r));
    assert_false(revoked_mark(r, id1, now + 60, now)); /* again: no change … */
    assert_true(revoked_unsaved(r));                    /* … but still to be written */
    assert_int_equal(revoked_save(r), 0);
    assert_false(revoked_unsaved(r));
    assert_int_equal(revoked_save(r), 0); /* nothing to do */
    /* A write that fails (its folder is gone) leaves the change unsaved. */
    assert_true(revoked_mark(r, id2, now + 60, now));
    fixture_done(&f);
    assert_true(revoked_save(r) < 0);
    assert_true(revoked_unsaved(r));
    revoked_put(r);
}

static void test_revoked_pruned(void **state)
{
    struct keyed *k = *state;
    const time_t now = time(NULL);
    char c1[AUTH_COOKIE_MAX], c2[AUTH_COOKIE_MAX], c3[AUTH_COOKIE_MAX];
    struct slice v1 = make_cookie(k->a, now + 100, c1);
    struct slice v2 = make_cookie(k->a, now + AUTH_SESSION_S, c2);
    struct slice v3 = make_cookie(k->a, now + AUTH_SESSION_S, c3);
    assert_int_equal(auth_revoke(k->a, v1, now), 1);
    assert_int_equal(auth_revoke(k->a, v2, now), 1);
    assert_int_equal(auth_revoked_count(k->a), 2);
    /* Once the first cookie would have expired, its id is dropped at the next logout. */
    assert_int_equal(auth_revoke(k->a, v3, now + 100), 1);
    assert_int_equal(auth_revoked_count(k->a), 2);
    assert_false(auth_cookie_verify(k->a, v1, now + 100)); /* expired anyway */
    assert_false(auth_cookie_verify(k->a, v2, now + 100));
    assert_false(auth_cookie_verify(k->a, v3, now + 100));
    char path[160];
    revoked_path(&k->f, path, sizeof(path));
    char *text = read_text(path);
    assert_int_equal(count_lines(text), 4);
    char id1[32];
    snprintf(id1, sizeof(id1), "%.22s", strchr(c1, '.') + 1);
    assert_null(strstr(text, id1));
    free(text);

    /* A restart drops what has expired by then (the clock here is the real one). */
    struct auth *b = new_auth(&k->f.cfg);
    assert_int_equal(auth_revoked_count(b), 2);
    auth_free(b);
    text = read_text(path);
    char *epoch_end = strchr(strchr(text, '\n') + 1, '\n') + 1;
    char expired[256];
    snprintf(expired, sizeof(expired), "%.*sAAAAAAAAAAAAAAAAAAAAAA %lld\n", (int)(epoch_end - text),
             text, (long long)now - 1);
    write_text(path, expired, strlen(expired));
    b = new_auth(&k->f.cfg);
    assert_int_equal(auth_revoked_count(b), 0);
    auth_free(b);
    free(text);
}

static void test_revoked_persist(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, "admin", password_hash_a);
    const time_t now = time(NULL);
    struct auth *a = new_auth(&f.cfg);
    char c1[AUTH_COOKIE_MAX], c2[AUTH_COOKIE_MAX], c3[AUTH_COOKIE_MAX];
    struct slice v1 = make_cookie(a, now + AUTH_SESSION_S, c1);
    struct slice v2 = make_cookie(a, now + AUTH_SESSION_S, c2);
    struct slice v3 = make_cookie(a, now + AUTH_SESSION_S, c3);
    assert_int_equal(auth_revoke(a, v1, now), 1);
    auth_free(a);

    /* A restart on the same data_dir: still refused; the others still good. */
    struct auth *b = new_auth(&f.cfg);
    assert_false(auth_cookie_verify(b, v1, now));
    assert_true(auth_cookie_verify(b, v2, now));
    assert_true(auth_cookie_verify(b, v3, now));

    /* A reload shares the list: a logout through either is known to both at once. */
    struct auth *r = NULL;
    char err[256];
    assert_int_equal(auth_reload(&r, &f.cfg, b, err), 0);
    assert_false(auth_cookie_verify(r, v1, now));
    assert_int_equal(auth_revoke(r, v2, now), 1);
    assert_false(auth_cookie_verify(b, v2, now));
    /* Through another password and back: what was logged out stays out. */
    struct config other = f.cfg;
    other.admin.password_hash = password_hash_b;
    struct auth *x = NULL, *y = NULL;
    assert_int_equal(auth_reload(&x, &other, r, err), 0);
    assert_false(auth_cookie_verify(x, v3, now));
    auth_free(b);
    auth_free(r);
    assert_int_equal(auth_reload(&y, &f.cfg, x, err), 0);
    auth_free(x);
    assert_false(auth_cookie_verify(y, v1, now));
    assert_false(auth_cookie_verify(y, v2, now));
    assert_true(auth_cookie_verify(y, v3, now));
    auth_free(y);
    fixture_done(&f);
}

static void test_revoked_file_bad(void **state)
{
    (void)state;
    static const struct {
        const char *what, *text; /* text NULL: a folder in its place */
    } cases[] = {
        {"empty", ""},
        {"garbage", "hello\n"},
        {"another version", "mica-revoked 2\nepoch AAAAAAAAAAAAAAAAAAAAAA\n"},
        {"no epoch", "mica-revoked 1\n"},
        {"short epoch", "mica-revoked 1\nepoch AAAA\n"},
        {"a bad character in the id", "mica-revoked 1\nepoch AAAAAAAAAAAAAAAAAAAAAA\n"
                                      "AAAAAAAAAAAAAAAAAAAAA+ 9999999999\n"},
        {"a bad expiry", "mica-revoked 1\nepoch AAAAAAAAAAAAAAAAAAAAAA\n"
                         "AAAAAAAAAAAAAAAAAAAAAA 99x\n"},
        {"cut short", "mica-revoked 1\nepoch AAAAAAAAAAAAAAAAAAAAAA\n"
                      "AAAAAAAAAAAAAAAAAAAAAA 9999999999"},
        {"a NUL", "mica-revoked 1\nepoch AAAAAAAAAAAAAAAAAAAAAA\n\0"},
        {"a folder", NULL},
        {"a FIFO", NULL}, /* must not hang the start */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fixture f;
        fixture_init(&f, "admin", password_hash_a);
        const time_t now = time(NULL);
        struct auth *a = new_auth(&f.cfg);
        char c1[AUTH_COOKIE_MAX];
        struct slice v1 = make_cookie(a, now + AUTH_SESSION_S, c1);
        auth_free(a);
        char path[160];
        revoked_path(&f, path, sizeof(path));
        assert_int_equal(unlink(path), 0);
        if (cases[i].text) {
            size_t len = strlen(cases[i].text);
            if (strcmp(cases[i].what, "a NUL") == 0)
                len += 1;
            write_text(path, cases[i].text, len);
        } else if (strcmp(cases[i].what, "a FIFO") == 0) {
            assert_int_equal(mkfifo(path, 0600), 0);
        } else {
            assert_int_equal(mkdir(path, 0700), 0);
        }
        /* Earlier logouts are unknown: every earlier session is refused, new ones work. */
        struct auth *b = new_auth(&f.cfg);
        if (auth_cookie_verify(b, v1, now))
            fail_msg("%s: a session from before is still accepted", cases[i].what);
        char c2[AUTH_COOKIE_MAX];
        struct slice v2 = make_cookie(b, now + AUTH_SESSION_S, c2);
        if (!auth_cookie_verify(b, v2, now))
            fail_msg("%s: a new session is refused", cases[i].what);
        auth_free(b);
        if (!cases[i].text) {
            fixture_done(&f);
            continue; /* a folder (or FIFO) is not checked further */
        }
        /* The file was replaced by a good one: the new session survives a restart. */
        struct auth *c = new_auth(&f.cfg);
        if (!auth_cookie_verify(c, v2, now))
            fail_msg("%s: the file was not repaired", cases[i].what);
        auth_free(c);
        fixture_done(&f);
    }
    /* A missing file (deleted): the same. */
    struct fixture f;
    fixture_init(&f, "admin", password_hash_a);
    struct auth *a = new_auth(&f.cfg);
    char c1[AUTH_COOKIE_MAX];
    struct slice v1 = make_cookie(a, time(NULL) + 60, c1);
    auth_free(a);
    char path[160];
    revoked_path(&f, path, sizeof(path));
    assert_int_equal(unlink(path), 0);
    a = new_auth(&f.cfg);
    assert_false(auth_cookie_verify(a, v1, time(NULL)));
    auth_free(a);
    fixture_done(&f);
}

/* Writes a revoked file with n live ids (and the current epoch) into data_dir. */
static void fill_revoked(const struct fixture *f, size_t n, time_t expires)
{
    char path[160];
    revoked_path(f, path, sizeof(path));
    char *text = read_text(path);
    char *epoch_end = strchr(strchr(text, '\n') + 1, '\n') + 1;
    size_t len = (size_t)(epoch_end - text);
    text = realloc(text, len + n * 64);
    assert_non_null(text);
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, "x%021zu %lld\n", i, (long long)expires);
    write_text(path, text, len);
    free(text);
}

static void test_revoked_bound(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, "admin", password_hash_a);
    const time_t now = time(NULL);
    struct auth *a = new_auth(&f.cfg);
    char c1[AUTH_COOKIE_MAX], c2[AUTH_COOKIE_MAX];
    struct slice v1 = make_cookie(a, now + AUTH_SESSION_S, c1);
    struct slice v2 = make_cookie(a, now + AUTH_SESSION_S, c2);
    auth_free(a);

    /* As many as it holds: read back, and the sessions not in it go on. */
    fill_revoked(&f, REVOKED_MAX, now + 1000);
    a = new_auth(&f.cfg);
    assert_int_equal(auth_revoked_count(a), REVOKED_MAX);
    assert_true(auth_cookie_verify(a, v1, now));
    assert_true(auth_cookie_verify(a, v2, now));
    /* One more logout would pass the bound: a new epoch ends every session instead, and
     * the list starts empty. */
    assert_int_equal(auth_revoke(a, v1, now), 1);
    assert_int_equal(auth_revoked_count(a), 0);
    assert_false(auth_cookie_verify(a, v1, now));
    assert_false(auth_cookie_verify(a, v2, now));
    char c3[AUTH_COOKIE_MAX];
    struct slice v3 = make_cookie(a, now + AUTH_SESSION_S, c3);
    assert_true(auth_cookie_verify(a, v3, now));
    auth_free(a);
    a = new_auth(&f.cfg); /* and so after a restart */
    assert_false(auth_cookie_verify(a, v2, now));
    assert_true(auth_cookie_verify(a, v3, now));
    auth_free(a);

    /* When some have expired there is room again: no new epoch. */
    fill_revoked(&f, REVOKED_MAX, now + 10);
    a = new_auth(&f.cfg);
    assert_int_equal(auth_revoke(a, v3, now + 10), 1);
    assert_int_equal(auth_revoked_count(a), 1);
    char c4[AUTH_COOKIE_MAX];
    struct slice v4 = make_cookie(a, now + AUTH_SESSION_S, c4);
    assert_true(auth_cookie_verify(a, v4, now + 10));
    auth_free(a);

    /* More than it can hold is no file we wrote: fail safe. */
    a = new_auth(&f.cfg);
    fill_revoked(&f, REVOKED_MAX + 1, now + 1000);
    auth_free(a);
    a = new_auth(&f.cfg);
    assert_false(auth_cookie_verify(a, v4, now));
    assert_int_equal(auth_revoked_count(a), 0);
    auth_free(a);
    fixture_done(&f);
}

static void test_cookie_find(void **state)
{
    (void)state;
    static const struct {
        const char *header;
        const char *value; /* NULL: not found */
        const char *what;
    } cases[] = {
        {"mica_session=abc", "abc", "alone"},
        {"a=b; mica_session=xyz; c=d", "xyz", "in the middle"},
        {"a=b;mica_session=q", "q", "no space after ;"},
        {"a=b; mica_session=last", "last", "at the end"},
        {"  mica_session  =  v  ", "v", "whitespace trimmed"},
        {"mica_session=a=b", "a=b", "'=' in the value"},
        {"mica_session=", "", "empty value"},
        {"mica_sessionx=1; mica_session=2", "2", "a longer name first"},
        {"xmica_session=1", NULL, "a name ending in it"},
        {"MICA_SESSION=1", NULL, "names are case-sensitive"},
        {"mica_session", NULL, "no '='"},
        {"mica_session;", NULL, "no '=' then ;"},
        {";;;", NULL, "only separators"},
        {"", NULL, "empty"},
        {"=", NULL, "bare '='"},
        {"a=1; b=2", NULL, "others only"},
        {"mica_session=1; mica_session=2", "1", "the first of two"},
        {"a=\"x;mica_session=y\"", "y\"", "no quoting of ';' in RFC 6265"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct slice v = {NULL, 0};
        bool found = auth_cookie_find(at_edge(cases[i].header, strlen(cases[i].header)), &v);
        if (found != (cases[i].value != NULL))
            fail_msg("%s: \"%s\": found %d", cases[i].what, cases[i].header, found);
        if (found && !slice_eq(v, slice_str(cases[i].value)))
            fail_msg("%s: \"%s\": got \"%.*s\"", cases[i].what, cases[i].header, (int)v.len, v.ptr);
    }
    struct slice v;
    assert_false(auth_cookie_find(slice_make(NULL, 0), &v));
}

static void test_parse_basic(void **state)
{
    (void)state;
    static const struct {
        const char *header;
        const char *user; /* NULL: refused */
        const char *password;
        const char *what;
    } cases[] = {
        {"Basic YWRtaW46c2VjcmV0", "admin", "secret", "admin:secret"},
        {"basic YWRtaW46c2VjcmV0", "admin", "secret", "scheme is case-insensitive"},
        {"BASIC YWRtaW46c2VjcmV0", "admin", "secret", "upper-case scheme"},
        {"Basic   YWRtaW46c2VjcmV0", "admin", "secret", "several spaces"},
        {"Basic YTpiOmM=", "a", "b:c", "a colon in the password"},
        {"Basic OnB3", "", "pw", "empty user"},
        {"Basic dTo=", "u", "", "empty password"},
        {"Basic Og==", "", "", "only a colon"},
        {"Basic w6k6w6k=", "\xc3\xa9", "\xc3\xa9", "UTF-8"},
        {"Basic", NULL, NULL, "no token"},
        {"Basic ", NULL, NULL, "empty token"},
        {"Basic\tYWRtaW46c2VjcmV0", NULL, NULL, "tab instead of space"},
        {"BasicYWRtaW46c2VjcmV0", NULL, NULL, "no space"},
        {"Bearer YWRtaW46c2VjcmV0", NULL, NULL, "another scheme"},
        {"Basi YWRtaW46c2VjcmV0", NULL, NULL, "truncated scheme"},
        {"Basic YWRtaW4=", NULL, NULL, "no colon"},
        {"Basic YWRtaW46c2VjcmV0=", NULL, NULL, "length not a multiple of 4"},
        {"Basic YWRtaW46c2VjcmV", NULL, NULL, "truncated"},
        {"Basic YWRtaW46c2Vj cmV0", NULL, NULL, "space inside"},
        {"Basic YWRtaW46c2VjcmV0!!!!", NULL, NULL, "bad characters"},
        {"Basic YWRtaW46c2VjcmV0....", NULL, NULL, "dots"},
        {"Basic YWRtaW46c2VjcmV0-_-_", NULL, NULL, "base64url alphabet"},
        {"Basic YQ==YQ==", NULL, NULL, "padding in the middle"},
        {"Basic ====", NULL, NULL, "only padding"},
        {"Basic YQ=a", NULL, NULL, "data after padding"},
        {"Basic Y===", NULL, NULL, "three padding characters"},
        {"Basic YR==", NULL, NULL, "non-zero bits before == (and no colon)"},
        {"Basic YTpiYw==", "a", "bc", "a:bc"},
        {"Basic YTpiYx==", NULL, NULL, "a:bc with non-zero bits before =="},
        {"Basic YTo=", "a", "", "a:"},
        {"Basic YTp=", NULL, NULL, "a: with non-zero bits before ="},
        {"Basic YWJ=", NULL, NULL, "non-zero bits before ="},
        {"Basic YTpiAA==", NULL, NULL, "NUL in the password"},
        {"Basic AGE6Yg==", NULL, NULL, "NUL in the user"},
        {"Basic YTpiCg==", NULL, NULL, "newline in the password"},
        {"Basic YTpifw==", NULL, NULL, "DEL in the password"},
        {"Basic G2E6Yg==", NULL, NULL, "escape in the user"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[AUTH_BASIC_MAX];
        const char *user = NULL, *password = NULL;
        struct slice h = at_edge(cases[i].header, strlen(cases[i].header));
        bool ok = auth_parse_basic(h, out, &user, &password);
        if (ok != (cases[i].user != NULL))
            fail_msg("%s: \"%s\": %s", cases[i].what, cases[i].header, ok ? "accepted" : "refused");
        if (ok && (strcmp(user, cases[i].user) != 0 || strcmp(password, cases[i].password) != 0))
            fail_msg("%s: got \"%s\" / \"%s\"", cases[i].what, user, password);
    }

    /* The length bound: 1024 base64 characters decode, 1028 do not. */
    char big[AUTH_BASIC_MAX + 16];
    for (size_t len = AUTH_BASIC_MAX - 4; len <= AUTH_BASIC_MAX + 4; len += 4) {
        memcpy(big, "Basic ", 6);
        /* "a:aaaa…": YTph then "YWFh" repeats ("aaa"). */
        memcpy(big + 6, "YTph", 4);
        for (size_t j = 4; j < len; j += 4)
            memcpy(big + 6 + j, "YWFh", 4);
        char out[AUTH_BASIC_MAX];
        const char *user, *password;
        bool ok = auth_parse_basic(at_edge(big, 6 + len), out, &user, &password);
        if (ok != (len <= AUTH_BASIC_MAX))
            fail_msg("a token of %zu characters: %s", len, ok ? "accepted" : "refused");
        if (ok)
            assert_int_equal(strlen(password), len / 4 * 3 - 2);
    }
    const char *user, *password;
    char out[AUTH_BASIC_MAX];
    assert_false(auth_parse_basic(slice_make(NULL, 0), out, &user, &password));
}

static void test_same_origin(void **state)
{
    (void)state;
    static const struct {
        const char *origin;
        const char *host; /* NULL: no Host header */
        bool is_tls;
        bool same;
        const char *what;
    } cases[] = {
        {"http://example.com", "example.com", false, true, "plain"},
        {"http://example.com:80", "example.com", false, true, "explicit default port"},
        {"http://example.com", "example.com:80", false, true, "explicit default in Host"},
        {"https://example.com", "example.com", true, true, "TLS"},
        {"https://example.com:443", "example.com", true, true, "TLS explicit port"},
        {"http://example.com:6789", "example.com:6789", false, true, "other port"},
        {"http://127.0.0.1:6789", "127.0.0.1:6789", false, true, "IPv4"},
        {"http://[::1]:6789", "[::1]:6789", false, true, "IPv6"},
        {"http://EXAMPLE.com", "example.COM", false, true, "host case"},
        {"HTTP://example.com", "example.com", false, true, "scheme case"},
        {"http://evil.com", "example.com", false, false, "another host"},
        {"http://example.com.evil.com", "example.com", false, false, "suffix"},
        {"http://example.co", "example.com", false, false, "prefix"},
        {"http://example.com", "example.com:8080", false, false, "another port"},
        {"http://example.com:8080", "example.com", false, false, "another port in Origin"},
        {"https://example.com", "example.com", false, false, "443 vs 80"},
        {"http://example.com", "example.com", true, false, "80 vs 443"},
        {"null", "example.com", false, false, "null"},
        {"", "example.com", false, false, "empty"},
        {"http://", "example.com", false, false, "no host"},
        {"http://:80", ":80", false, false, "empty host both sides"},
        {"ftp://example.com", "example.com", false, false, "another scheme"},
        {"http://user@example.com", "example.com", false, false, "userinfo"},
        {"http://example.com/", "example.com", false, false, "a path"},
        {"http://example.com?", "example.com", false, false, "a query"},
        {"http://example.com:", "example.com", false, false, "empty port"},
        {"http://example.com:0", "example.com", false, false, "port 0"},
        {"http://example.com:99999", "example.com", false, false, "port too big"},
        {"http://example.com:080", "example.com", false, true, "leading zero port"},
        {"http://example.com:+80", "example.com", false, false, "signed port"},
        {"http://example.com ", "example.com", false, false, "trailing space"},
        {"http://[::1", "[::1", false, false, "unclosed bracket"},
        {"http://[::1]x", "[::1]x", false, false, "junk after bracket"},
        {"http://example.com", NULL, false, false, "no Host"},
        {"http://example.com", "", false, false, "empty Host"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct slice o = at_edge(cases[i].origin, strlen(cases[i].origin));
        /* Host sits in ordinary memory: only one input can end at the page edge. */
        struct slice h = cases[i].host ? slice_str(cases[i].host) : slice_make(NULL, 0);
        bool same = auth_same_origin(o, h, cases[i].is_tls);
        if (same != cases[i].same)
            fail_msg("%s: Origin \"%s\", Host \"%s\": %s", cases[i].what, cases[i].origin,
                     cases[i].host ? cases[i].host : "(none)", same ? "same" : "cross");
        /* And the Host at the edge. */
        if (cases[i].host) {
            h = at_edge(cases[i].host, strlen(cases[i].host));
            if (auth_same_origin(slice_str(cases[i].origin), h, cases[i].is_tls) != same)
                fail_msg("%s: differs with Host at the page edge", cases[i].what);
        }
    }
    assert_false(auth_same_origin(slice_make(NULL, 0), SLICE_LIT("example.com"), false));
}

/* ---- the user comparison ---- */

static void test_user_equal(void **state)
{
    struct keyed *k = *state;
    static const struct {
        const char *user;
        size_t len;
        bool equal;
        const char *what;
    } cases[] = {
        {"admin", 5, true, "the user"},   {"admin", 4, false, "a prefix"},
        {"admin!", 6, false, "longer"},   {"Admin", 5, false, "case"},
        {"", 0, false, "empty"},          {"admin\0x", 7, false, "NUL and more"},
        {"admio", 5, false, "last byte"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (auth_user_equal(k->a, cases[i].user, cases[i].len) != cases[i].equal)
            fail_msg("%s: wrong answer", cases[i].what);
}

/* ---- the limiter ---- */

static void test_limiter_window(void **state)
{
    struct keyed *k = *state;
    struct auth *a = k->a;
    const char *ip = "192.0.2.1";
    uint64_t t0 = 1000000;
    for (int i = 0; i < AUTH_LIMIT_FAILURES - 1; i++) {
        auth_limit_fail(a, ip, t0 + (uint64_t)i * 10000);
        assert_int_equal(auth_limit_check(a, ip, t0 + (uint64_t)i * 10000), 0);
    }
    /* Failures at 0, 10, 20, 30, 40 s: locked until 60 s. */
    auth_limit_fail(a, ip, t0 + 40000);
    assert_int_equal(auth_limit_check(a, ip, t0 + 40000), 20);
    assert_int_equal(auth_limit_check(a, ip, t0 + 59001), 1);
    assert_int_equal(auth_limit_check(a, ip, t0 + 59999), 1);
    assert_int_equal(auth_limit_check(a, ip, t0 + 60000), 0);
    assert_int_equal(auth_limit_check(a, ip, t0 + 600000), 0);
    /* Sliding: one more at 61 s makes 10..61 five in a minute: locked until 70 s. */
    auth_limit_fail(a, ip, t0 + 61000);
    assert_int_equal(auth_limit_check(a, ip, t0 + 61000), 9);
    assert_int_equal(auth_limit_check(a, ip, t0 + 70000), 0);
    /* Others are not affected. */
    assert_int_equal(auth_limit_check(a, "192.0.2.2", t0 + 61000), 0);
    assert_int_equal(auth_limit_check(a, "192.0.2.10", t0 + 61000), 0);
    /* A reset forgets. */
    auth_limit_fail(a, ip, t0 + 62000);
    assert_true(auth_limit_check(a, ip, t0 + 62000) > 0);
    auth_limit_reset(a, ip);
    assert_int_equal(auth_limit_check(a, ip, t0 + 62000), 0);
    auth_limit_fail(a, ip, t0 + 63000);
    assert_int_equal(auth_limit_check(a, ip, t0 + 63000), 0);
    auth_limit_reset(a, ip);
    auth_limit_reset(a, "198.51.100.7"); /* unknown: nothing happens */

    /* Five failures in the same millisecond. */
    for (int i = 0; i < AUTH_LIMIT_FAILURES; i++)
        auth_limit_fail(a, "203.0.113.5", t0);
    assert_int_equal(auth_limit_check(a, "203.0.113.5", t0), 60);
    auth_limit_reset(a, "203.0.113.5");
}

static void test_limiter_ipv6(void **state)
{
    struct keyed *k = *state;
    struct auth *a = k->a;
    uint64_t t = 5000000;
    /* Addresses in one /64 count together, whichever way they are written. */
    const char *same64[] = {"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::9",
                            "2001:0db8:0001:0002::3", "2001:db8:1:2:0:0:0:4"};
    for (int i = 0; i < 5; i++)
        auth_limit_fail(a, same64[i], t);
    assert_true(auth_limit_check(a, "2001:db8:1:2::abcd", t) > 0);
    assert_int_equal(auth_limit_check(a, "2001:db8:1:3::1", t), 0);
    auth_limit_reset(a, "2001:db8:1:2::77");
    assert_int_equal(auth_limit_check(a, "2001:db8:1:2::1", t), 0);
    /* Not an address: used as it is, without harm. */
    for (int i = 0; i < 5; i++)
        auth_limit_fail(a, "not:an:address", t);
    assert_true(auth_limit_check(a, "not:an:address", t) > 0);
    assert_int_equal(auth_limit_check(a, "", t), 0);
    auth_limit_reset(a, "not:an:address");
}

static void test_limiter_eviction(void **state)
{
    struct keyed *k = *state;
    struct auth *a = k->a;
    enum { SLOTS = 4096 };
    uint64_t t = 9000000;
    char ip[48];
    /* The first address, locked out; then 4095 others, each failing once later. */
    for (int i = 0; i < 5; i++)
        auth_limit_fail(a, "10.255.255.255", t);
    for (int i = 1; i < SLOTS; i++) {
        snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
        auth_limit_fail(a, ip, t + 1 + (uint64_t)i);
    }
    assert_true(auth_limit_check(a, "10.255.255.255", t + SLOTS) > 0); /* still there */
    /* One more address: the table is full, the least recent (the first) gives way. */
    auth_limit_fail(a, "10.1.0.0", t + SLOTS + 1);
    assert_int_equal(auth_limit_check(a, "10.255.255.255", t + SLOTS + 1), 0);
    /* The others are all still counted, and the newcomer too. */
    for (int i = 1; i < SLOTS; i++) {
        snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
        for (int j = 0; j < 4; j++)
            auth_limit_fail(a, ip, t + SLOTS + 2);
        if (auth_limit_check(a, ip, t + SLOTS + 2) == 0)
            fail_msg("%s was forgotten", ip);
    }
    for (int j = 0; j < 4; j++)
        auth_limit_fail(a, "10.1.0.0", t + SLOTS + 2);
    assert_true(auth_limit_check(a, "10.1.0.0", t + SLOTS + 2) > 0);
    /* Resets free slots that new addresses then take without evicting anyone. */
    for (int i = 1; i < SLOTS; i++) {
        snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
        auth_limit_reset(a, ip);
    }
    auth_limit_reset(a, "10.1.0.0");
    for (int i = 0; i < SLOTS; i++) {
        snprintf(ip, sizeof(ip), "10.2.%d.%d", i / 256, i % 256);
        auth_limit_fail(a, ip, t + SLOTS + 3);
    }
    for (int i = 0; i < SLOTS; i++) {
        snprintf(ip, sizeof(ip), "10.2.%d.%d", i / 256, i % 256);
        auth_limit_reset(a, ip);
    }
}

struct hammer {
    struct auth *a;
    int id;
};

static void *hammer_thread(void *arg)
{
    struct hammer *h = arg;
    char ip[48];
    for (int i = 0; i < 20000; i++) {
        snprintf(ip, sizeof(ip), "172.16.%d.%d", h->id, i % 300);
        auth_limit_fail(h->a, ip, (uint64_t)i);
        (void)auth_limit_check(h->a, ip, (uint64_t)i); /* only racing matters here */
        if (i % 7 == 0)
            auth_limit_reset(h->a, ip);
    }
    return NULL;
}

static void test_limiter_threads(void **state)
{
    struct keyed *k = *state;
    enum { N = 4 };
    pthread_t t[N];
    struct hammer h[N];
    for (int i = 0; i < N; i++) {
        h[i] = (struct hammer){k->a, i};
        assert_int_equal(pthread_create(&t[i], NULL, hammer_thread, &h[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 5; i++)
        auth_limit_fail(k->a, "192.0.2.200", 1);
    assert_true(auth_limit_check(k->a, "192.0.2.200", 1) > 0);
    auth_limit_reset(k->a, "192.0.2.200");
}

/* ---- the handlers, with hand-built requests ---- */

struct world {
    struct fixture f;
    struct auth *a;
    struct tmpl_cache *tmpls;
    struct buf scratch;
    struct env env;
    struct request req;
    char storage[2048];
    struct response resp;
    cJSON *form;
};

static int world_setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    if (!w)
        return -1;
    fixture_init(&w->f, "admin", password_hash_a);
    w->a = new_auth(&w->f.cfg);
    w->tmpls = tmpl_cache_new();
    buf_init(&w->scratch, NULL, 0, 0);
    *state = w;
    return 0;
}

static int world_teardown(void **state)
{
    struct world *w = *state;
    cJSON_Delete(w->form);
    buf_free(&w->scratch);
    tmpl_cache_free(w->tmpls);
    auth_free(w->a);
    fixture_done(&w->f);
    free(w);
    return 0;
}

/* A new request: method and "Name: value" header lines; a fresh env and response. */
static void request(struct world *w, enum http_method m, const char *const *headers)
{
    memset(&w->req, 0, sizeof(w->req));
    w->req.method = m;
    w->req.path = SLICE_LIT("/admin");
    for (int i = 0; headers && headers[i]; i++) {
        const char *colon = strchr(headers[i], ':');
        assert_non_null(colon);
        struct header *h = &w->req.headers[w->req.n_headers++];
        h->name = slice_make(headers[i], (size_t)(colon - headers[i]));
        h->value = slice_trim(slice_str(colon + 1));
        static const struct {
            const char *name;
            enum header_id id;
        } known[] = {{"Host", HDR_HOST},
                     {"Origin", HDR_ORIGIN},
                     {"Cookie", HDR_COOKIE},
                     {"Authorization", HDR_AUTHORIZATION}};
        for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
            if (slice_case_eq(h->name, slice_str(known[k].name)) && !w->req.known[known[k].id].ptr)
                w->req.known[known[k].id] = h->value;
    }
    bool is_tls = w->env.is_tls;
    uint64_t now_ms = w->env.now_ms ? w->env.now_ms : 1000000;
    const char *ip = w->env.client_ip[0] ? w->env.client_ip : "192.0.2.50";
    char ip_copy[48];
    snprintf(ip_copy, sizeof(ip_copy), "%s", ip);
    memset(&w->env, 0, sizeof(w->env));
    w->env.cfg = &w->f.cfg;
    w->env.root_fd = -1;
    w->env.templates_fd = -1;
    w->env.tmpls = w->tmpls;
    w->env.auth = w->a;
    w->env.now = NOW;
    w->env.now_ms = now_ms;
    w->env.is_tls = is_tls;
    w->env.scratch = &w->scratch;
    w->env.form = w->form;
    snprintf(w->env.client_ip, sizeof(w->env.client_ip), "%s", ip_copy);
    buf_reset(&w->scratch);
    response_init(&w->resp, w->storage, sizeof(w->storage));
}

static bool has_header(const struct world *w, const char *line)
{
    struct slice h = buf_slice(&w->resp.headers);
    return h.len && memmem(h.ptr, h.len, line, strlen(line)) != NULL;
}

static bool body_has(const struct world *w, const char *text)
{
    return w->resp.body.len && memmem(w->resp.body.ptr, w->resp.body.len, text, strlen(text));
}

static void assert_json_body(const struct world *w, const char *json)
{
    assert_string_equal(w->resp.content_type, "application/json");
    if (!slice_eq(w->resp.body, slice_str(json)))
        fail_msg("body %.*s, expected %s", (int)w->resp.body.len, w->resp.body.ptr, json);
}

/* The session cookie a successful login set, for the next request. */
static void cookie_header_from_login(const struct world *w, char *out, size_t cap)
{
    struct slice h = buf_slice(&w->resp.headers);
    const char *p = memmem(h.ptr, h.len, "Set-Cookie: mica_session=", 25);
    assert_non_null(p);
    p += 12;
    const char *end = memchr(p, ';', (size_t)(h.ptr + h.len - p));
    assert_non_null(end);
    snprintf(out, cap, "Cookie: theme=dark; %.*s", (int)(end - p), p);
}

static void test_guard(void **state)
{
    struct world *w = *state;

    /* No credentials: 401 with a Basic challenge, JSON or a page pointing at /login. */
    request(w, HTTP_GET, (const char *const[]){"Host: example.com", NULL});
    auth_identify(&w->env, &w->req);
    assert_null(w->env.user);
    assert_int_equal(auth_guard(&w->env, &w->req, &w->resp, true), 401);
    assert_int_equal(w->resp.status, 401);
    assert_true(has_header(w, "WWW-Authenticate: Basic realm=\"mica\", charset=\"UTF-8\"\r\n"));
    assert_json_body(w, "{\"error\":\"unauthorized\"}");
    request(w, HTTP_GET, (const char *const[]){"Host: example.com", NULL});
    assert_int_equal(auth_guard(&w->env, &w->req, &w->resp, false), 401);
    assert_true(has_header(w, "WWW-Authenticate: Basic"));
    assert_true(body_has(w, "href=\"/login\""));

    /* Basic credentials. */
    const char *basic[] = {"Host: example.com", "Authorization: Basic YWRtaW46c2VjcmV0", NULL};
    request(w, HTTP_GET, basic);
    auth_identify(&w->env, &w->req);
    assert_string_equal(w->env.user, "admin");
    assert_int_equal(auth_guard(&w->env, &w->req, &w->resp, true), 0);

    /* Wrong ones: not identified, and counted. */
    const char *wrong[] = {"Host: example.com", "Authorization: Basic YWRtaW46c2VjcmVU", NULL};
    request(w, HTTP_GET, wrong);
    auth_identify(&w->env, &w->req);
    assert_null(w->env.user);
    assert_int_equal(auth_guard(&w->env, &w->req, &w->resp, true), 401);
    const char *not_basic[] = {"Host: example.com", "Authorization: Bearer abc", NULL};
    request(w, HTTP_GET, not_basic); /* another scheme: ignored, not a failure */
    auth_identify(&w->env, &w->req);
    assert_null(w->env.user);

    /* Cross-site unsafe requests: 403, even for the admin. */
    static const struct {
        const char *headers[4];
        enum http_method method;
        int status;
        const char *what;
    } cases[] = {
        {{"Host: example.com", "Origin: http://evil.com", NULL}, HTTP_POST, 403, "Origin"},
        {{"Host: example.com", "Origin: null", NULL}, HTTP_POST, 403, "Origin null"},
        {{"Host: example.com", "Sec-Fetch-Site: cross-site", NULL}, HTTP_POST, 403, "Fetch"},
        {{"Host: example.com", "Origin: http://example.com", "Origin: http://evil.com"},
         HTTP_POST,
         403,
         "a second Origin"},
        {{"Host: example.com", "Origin: http://evil.com", NULL}, HTTP_DELETE, 403, "DELETE"},
        {{"Host: example.com", "Origin: http://evil.com", NULL}, HTTP_GET, 0, "GET is safe"},
        {{"Host: example.com", "Origin: http://example.com", NULL}, HTTP_POST, 0, "same"},
        {{"Host: example.com", "Sec-Fetch-Site: same-origin", NULL}, HTTP_POST, 0, "same"},
        {{"Host: example.com", NULL}, HTTP_POST, 0, "no Origin (curl)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        request(w, cases[i].method, cases[i].headers);
        w->env.user = "admin";
        int status = auth_guard(&w->env, &w->req, &w->resp, true);
        if (status != cases[i].status)
            fail_msg("%s: %d, expected %d", cases[i].what, status, cases[i].status);
        if (status == 403)
            assert_json_body(w, "{\"error\":\"forbidden\"}");
    }
    request(w, HTTP_POST, cases[0].headers);
    assert_int_equal(auth_guard(&w->env, &w->req, &w->resp, false), 403);

    /* Locked out: 429 with Retry-After; the memo still lets known credentials in. */
    snprintf(w->env.client_ip, sizeof(w->env.client_ip), "198.51.100.9");
    request(w, HTTP_GET, basic);
    auth_identify(&w->env, &w->req); /* remembered for this key */
    for (int i = 0; i < 5; i++) {
        request(w, HTTP_GET, wrong);
        auth_identify(&w->env, &w->req);
        assert_null(w->env.user);
    }
    request(w, HTTP_GET, (const char *const[]){"Host: example.com", NULL});
    assert_int_equal(auth_guard(&w->env, &w->req, &w->resp, true), 429);
    assert_true(has_header(w, "Retry-After: 60\r\n"));
    assert_json_body(w, "{\"error\":\"too many requests\"}");
    request(w, HTTP_GET, (const char *const[]){"Host: example.com", NULL});
    assert_int_equal(auth_guard(&w->env, &w->req, &w->resp, false), 429);
    request(w, HTTP_GET, basic);
    auth_identify(&w->env, &w->req);
    assert_string_equal(w->env.user, "admin"); /* from the memo */
    /* Correct credentials written otherwise are not in the memo, and are not verified. */
    const char *lower[] = {"Host: example.com", "Authorization: basic YWRtaW46c2VjcmV0", NULL};
    request(w, HTTP_GET, lower);
    auth_identify(&w->env, &w->req);
    assert_null(w->env.user);
    /* A minute later the memo has forgotten, and the lock has ended too. */
    w->env.now_ms += AUTH_MEMO_MS + 1;
    request(w, HTTP_GET, lower);
    auth_identify(&w->env, &w->req);
    assert_string_equal(w->env.user, "admin");

    /* No admin: 404. */
    struct fixture none;
    fixture_init(&none, NULL, NULL);
    struct auth *off = new_auth(&none.cfg);
    request(w, HTTP_GET, basic);
    w->env.auth = off;
    auth_identify(&w->env, &w->req);
    assert_null(w->env.user);
    assert_int_equal(auth_guard(&w->env, &w->req, &w->resp, true), 404);
    assert_json_body(w, "{\"error\":\"not found\"}");
    request(w, HTTP_GET, basic);
    w->env.auth = off;
    assert_int_equal(auth_guard(&w->env, &w->req, &w->resp, false), 404);
    for (int i = 0; i < 3; i++) {
        request(w, i ? HTTP_POST : HTTP_GET, basic);
        w->env.auth = off;
        handler_fn *fn[] = {auth_login_page, auth_login, auth_logout};
        assert_int_equal(fn[i](&w->env, &w->req, &w->resp), 404);
    }
    auth_free(off);
    fixture_done(&none);
}

static void set_form(struct world *w, const char *user, const char *password)
{
    cJSON_Delete(w->form);
    w->form = cJSON_CreateObject();
    if (user)
        cJSON_AddStringToObject(w->form, "user", user);
    if (password)
        cJSON_AddStringToObject(w->form, "password", password);
}

static void test_login(void **state)
{
    struct world *w = *state;
    const char *hdrs[] = {"Host: example.com", "Origin: http://example.com", NULL};
    snprintf(w->env.client_ip, sizeof(w->env.client_ip), "203.0.113.77");

    /* The form, built in (templates_fd is -1). */
    request(w, HTTP_GET, hdrs);
    assert_int_equal(auth_login_page(&w->env, &w->req, &w->resp), 200);
    assert_true(body_has(w, "name=\"user\""));
    assert_true(body_has(w, "name=\"password\""));
    assert_true(body_has(w, "action=\"/login\""));
    assert_false(body_has(w, "role=\"alert\""));
    assert_true(has_header(w, "Cache-Control: no-store\r\n"));

    /* No form, or fields missing: 400. */
    cJSON_Delete(w->form);
    w->form = NULL;
    request(w, HTTP_POST, hdrs);
    assert_int_equal(auth_login(&w->env, &w->req, &w->resp), 400);
    set_form(w, "admin", NULL);
    request(w, HTTP_POST, hdrs);
    assert_int_equal(auth_login(&w->env, &w->req, &w->resp), 400);

    /* Wrong: 401, the form again with the error and the user name kept, escaped. */
    set_form(w, "<admin>", "secret");
    request(w, HTTP_POST, hdrs);
    assert_int_equal(auth_login(&w->env, &w->req, &w->resp), 401);
    assert_true(body_has(w, "Wrong user name or password."));
    assert_true(body_has(w, "value=\"&lt;admin&gt;\""));
    assert_false(has_header(w, "Set-Cookie"));
    set_form(w, "admin", "wrong");
    request(w, HTTP_POST, hdrs);
    assert_int_equal(auth_login(&w->env, &w->req, &w->resp), 401);
    assert_false(body_has(w, "wrong")); /* the password is never echoed */

    /* Right: 303 to /admin with the cookie, and the failures are forgotten. */
    set_form(w, "admin", "secret");
    request(w, HTTP_POST, hdrs);
    assert_int_equal(auth_login(&w->env, &w->req, &w->resp), 303);
    assert_true(has_header(w, "Location: /admin\r\n"));
    assert_true(has_header(w, "; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict\r\n"));
    assert_false(has_header(w, "Secure"));
    assert_int_equal(auth_limit_check(w->a, "203.0.113.77", w->env.now_ms), 0);
    char cookie[160];
    cookie_header_from_login(w, cookie, sizeof(cookie));

    /* The cookie identifies the next requests; the login page then sends to /admin. */
    const char *with_cookie[] = {"Host: example.com", cookie, NULL};
    request(w, HTTP_GET, with_cookie);
    auth_identify(&w->env, &w->req);
    assert_string_equal(w->env.user, "admin");
    assert_int_equal(auth_guard(&w->env, &w->req, &w->resp, false), 0);
    request(w, HTTP_GET, with_cookie);
    assert_int_equal(auth_login_page(&w->env, &w->req, &w->resp), 303);
    assert_true(has_header(w, "Location: /admin\r\n"));
    /* 12 hours later it no longer does. */
    request(w, HTTP_GET, with_cookie);
    w->env.now = NOW + AUTH_SESSION_S;
    auth_identify(&w->env, &w->req);
    assert_null(w->env.user);
    /* A cookie in a second Cookie header counts too; a bad one first does not hide it. */
    char second[200];
    snprintf(second, sizeof(second), "Cookie: mica_session=1.x; %s", cookie + 8);
    const char *two[] = {"Host: example.com", "Cookie: mica_session=garbage", second, NULL};
    request(w, HTTP_GET, two);
    auth_identify(&w->env, &w->req);
    assert_string_equal(w->env.user, "admin");

    /* Under TLS the cookie is Secure. */
    w->env.is_tls = true;
    request(w, HTTP_POST, (const char *const[]){"Host: example.com", NULL});
    assert_int_equal(auth_login(&w->env, &w->req, &w->resp), 303);
    assert_true(has_header(w, "HttpOnly; SameSite=Strict; Secure\r\n"));
    w->env.is_tls = false;

    /* Cross-site: 403 before anything is checked. */
    request(w, HTTP_POST,
            (const char *const[]){"Host: example.com", "Origin: http://evil.com", NULL});
    assert_int_equal(auth_login(&w->env, &w->req, &w->resp), 403);

    /* Five failures: 429 with Retry-After, and the right password is not even tried. */
    set_form(w, "admin", "nope");
    for (int i = 0; i < AUTH_LIMIT_FAILURES; i++) {
        request(w, HTTP_POST, hdrs);
        assert_int_equal(auth_login(&w->env, &w->req, &w->resp), 401);
    }
    set_form(w, "admin", "secret");
    request(w, HTTP_POST, hdrs);
    assert_int_equal(auth_login(&w->env, &w->req, &w->resp), 429);
    assert_true(has_header(w, "Retry-After: 60\r\n"));
    assert_false(has_header(w, "Set-Cookie"));
    /* From another address it works. */
    snprintf(w->env.client_ip, sizeof(w->env.client_ip), "203.0.113.78");
    request(w, HTTP_POST, hdrs);
    assert_int_equal(auth_login(&w->env, &w->req, &w->resp), 303);
}

static void test_login_template(void **state)
{
    struct world *w = *state;
    /* templates/login.html from the repository, where make test runs. */
    int fd = open("templates", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        skip();
    set_form(w, "ad\"min", "secret-not-shown");
    request(w, HTTP_POST, (const char *const[]){"Host: example.com", NULL});
    w->env.templates_fd = fd;
    snprintf(w->env.client_ip, sizeof(w->env.client_ip), "203.0.113.99");
    assert_int_equal(auth_login(&w->env, &w->req, &w->resp), 401);
    assert_true(body_has(w, "<title>Log in — mica</title>"));
    assert_true(body_has(w, "method=\"post\" action=\"/login\""));
    assert_true(body_has(w, "class=\"error\" role=\"alert\">Wrong user name or password.</p>"));
    assert_true(body_has(w, "value=\"ad&quot;min\""));
    assert_false(body_has(w, "secret-not-shown"));
    request(w, HTTP_GET, (const char *const[]){"Host: example.com", NULL});
    w->env.templates_fd = fd;
    assert_int_equal(auth_login_page(&w->env, &w->req, &w->resp), 200);
    assert_false(body_has(w, "role=\"alert\""));
    assert_true(body_has(w, "name=\"password\" type=\"password\""));
    close(fd);
}

static void test_logout(void **state)
{
    struct world *w = *state;
    /* Two sessions (two browsers); logging out of one ends it on the server, so a copy
     * of its cookie is refused, and the other goes on. */
    char first[200], second[200];
    const char *hdrs[] = {"Host: example.com", NULL};
    set_form(w, "admin", "secret");
    request(w, HTTP_POST, hdrs);
    w->env.now = time(NULL); /* the revoked list is pruned by the real clock when read */
    assert_int_equal(auth_login(&w->env, &w->req, &w->resp), 303);
    cookie_header_from_login(w, first, sizeof(first));
    request(w, HTTP_POST, hdrs);
    w->env.now = time(NULL);
    assert_int_equal(auth_login(&w->env, &w->req, &w->resp), 303);
    cookie_header_from_login(w, second, sizeof(second));
    request(w, HTTP_POST, (const char *const[]){"Host: example.com", first, NULL});
    w->env.now = time(NULL);
    assert_int_equal(auth_logout(&w->env, &w->req, &w->resp), 303);
    request(w, HTTP_GET, (const char *const[]){"Host: example.com", first, NULL});
    w->env.now = time(NULL);
    auth_identify(&w->env, &w->req);
    assert_null(w->env.user);
    assert_int_equal(auth_guard(&w->env, &w->req, &w->resp, false), 401);
    request(w, HTTP_GET, (const char *const[]){"Host: example.com", second, NULL});
    w->env.now = time(NULL);
    auth_identify(&w->env, &w->req);
    assert_string_equal(w->env.user, "admin");
    assert_int_equal(auth_revoked_count(w->a), 1);

    request(w, HTTP_POST, (const char *const[]){"Host: example.com", NULL});
    assert_int_equal(auth_logout(&w->env, &w->req, &w->resp), 303);
    assert_true(has_header(w, "Location: /login\r\n"));
    assert_true(has_header(
        w, "Set-Cookie: mica_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict\r\n"));
    w->env.is_tls = true;
    request(w, HTTP_POST, (const char *const[]){"Host: example.com", NULL});
    assert_int_equal(auth_logout(&w->env, &w->req, &w->resp), 303);
    assert_true(has_header(w, "SameSite=Strict; Secure\r\n"));
    w->env.is_tls = false;
    request(w, HTTP_POST,
            (const char *const[]){"Host: example.com", "Sec-Fetch-Site: cross-site", second, NULL});
    w->env.now = time(NULL);
    assert_int_equal(auth_logout(&w->env, &w->req, &w->resp), 403);
    assert_false(has_header(w, "Set-Cookie"));
    assert_int_equal(auth_revoked_count(w->a), 1); /* a cross-site POST ends nothing */
}

/* Last: what the handlers logged names addresses, never passwords, credentials or cookies. */
static void test_log_has_no_secrets(void **state)
{
    (void)state;
    log_close();
    FILE *f = fopen(log_path, "r");
    assert_non_null(f);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(log_path);
    assert_non_null(strstr(text, "failed login from 203.0.113.77"));
    assert_non_null(strstr(text, "wrong Basic credentials from 198.51.100.9"));
    static const char *secrets[] = {"secret",       "secre",   "nope",   "wrong\n", "YWRtaW46",
                                    "mica_session", "Basic Y", "Cookie", "$y$"};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        if (strstr(text, secrets[i]))
            fail_msg("the log holds \"%s\":\n%s", secrets[i], text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_file_created),
        cmocka_unit_test(test_key_file_refused),
        cmocka_unit_test(test_disabled),
        cmocka_unit_test(test_key_file_race),
        cmocka_unit_test_setup_teardown(test_cookie_round_trip, keyed_setup, keyed_teardown),
        cmocka_unit_test_setup_teardown(test_cookie_tampering, keyed_setup, keyed_teardown),
        cmocka_unit_test(test_cookie_key_changes),
        cmocka_unit_test_setup_teardown(test_revoke_one_session, keyed_setup, keyed_teardown),
        cmocka_unit_test_setup_teardown(test_old_cookie_refused, keyed_setup, keyed_teardown),
        cmocka_unit_test_setup_teardown(test_revoked_pruned, keyed_setup, keyed_teardown),
        cmocka_unit_test(test_revoked_persist),
        cmocka_unit_test(test_revoked_unsaved),
        cmocka_unit_test(test_revoked_file_bad),
        cmocka_unit_test(test_revoked_bound),
        cmocka_unit_test_setup_teardown(test_cookie_find, guard_setup, guard_teardown),
        cmocka_unit_test_setup_teardown(test_parse_basic, guard_setup, guard_teardown),
        cmocka_unit_test_setup_teardown(test_same_origin, guard_setup, guard_teardown),
        cmocka_unit_test_setup_teardown(test_user_equal, keyed_setup, keyed_teardown),
        cmocka_unit_test_setup_teardown(test_limiter_window, keyed_setup, keyed_teardown),
        cmocka_unit_test_setup_teardown(test_limiter_ipv6, keyed_setup, keyed_teardown),
        cmocka_unit_test_setup_teardown(test_limiter_eviction, keyed_setup, keyed_teardown),
        cmocka_unit_test_setup_teardown(test_limiter_threads, keyed_setup, keyed_teardown),
        cmocka_unit_test_setup_teardown(test_guard, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_login, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_login_template, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_logout, world_setup, world_teardown),
        cmocka_unit_test(test_log_has_no_secrets),
    };
    return cmocka_run_group_tests_name("auth", tests, group_setup, NULL);
}
