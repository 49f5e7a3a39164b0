/* SPDX-License-Identifier: MIT */
/*
 * The admin's identity; see auth.h for the design.
 *
 * struct auth lives as long as the configuration it borrows and is shared by every worker.
 * After auth_new its key and admin digest are read-only; the two tables that change are
 * each behind their own mutex, held only for a lookup or an update of a few slots, never
 * across a password verification (the revoked sessions and the epoch are a third, in
 * revoked.c, shared with the auth of a reload):
 *   - the Basic memo: HMAC digests (under the session key) of Authorization values that
 *     verified, with their expiry. A hit skips yescrypt. The table is small and scanned.
 *   - the limiter: per client address (IPv6: its /64), the times of the last five failed
 *     logins, in a fixed table of slots chained from hash buckets. When every slot is taken
 *     the one whose last failure is oldest is reused, so the table's memory is fixed.
 * Wall-clock time (env->now) dates cookies, which outlive the process; the monotonic clock
 * (env->now_ms) times the memo and the limiter.
 */
#include "handlers/auth.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "handlers/page.h"
#include "handlers/revoked.h"
#include "handlers/static.h"
#include "store/store.h"
#include "util/io.h"
#include "util/password.h"

enum {
    KEY_BYTES = 32,     /* the secret, the session key and every MAC */
    MAC_B64_LEN = 43,   /* 32 bytes in base64url without padding */
    EXPIRY_DIGITS = 19, /* the most decimal digits a time_t can have */
    MEMO_SLOTS = 64,
    LIMIT_SLOTS = 4096,
    LIMIT_BUCKETS = 8192, /* a power of two */
    LIMIT_KEY_BYTES = 64, /* an address as text, or an IPv6 prefix with "/64" */
    COOKIES_CHECKED = 8,  /* mica_session values tried per request, at most */
};

static const char cookie_name[] = "mica_session";

struct memo_slot {
    unsigned char digest[KEY_BYTES];
    uint64_t expires_ms; /* 0: free */
};

struct limit_slot {
    char key[LIMIT_KEY_BYTES];
    unsigned hash;
    int next;           /* the next slot in the bucket's chain, or in the free list; -1 ends */
    unsigned n_fail;    /* failures recorded, at most AUTH_LIMIT_FAILURES */
    unsigned next_fail; /* where the next one goes: the oldest once full */
    uint64_t fail_ms[AUTH_LIMIT_FAILURES];
    uint64_t last_ms; /* the latest failure: the least recent is evicted first */
    bool used;
};

struct auth {
    const struct config *cfg; /* borrowed */
    bool enabled;
    unsigned char key[KEY_BYTES];         /* HMAC(secret, user "\n" password_hash) */
    unsigned char user_digest[KEY_BYTES]; /* SHA-256(admin.user) */
    struct revoked *revoked;              /* a reference, shared with reloads; NULL: no admin */

    pthread_mutex_t memo_lock;
    struct memo_slot memo[MEMO_SLOTS];

    pthread_mutex_t limit_lock;
    int free_head;
    int buckets[LIMIT_BUCKETS];
    struct limit_slot slots[LIMIT_SLOTS];
};

/* Locking a default mutex we own cannot fail (EINVAL and EDEADLK are our own bugs), so
 * the results are not checked. */
static void lock(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
}

static void unlock(pthread_mutex_t *m)
{
    pthread_mutex_unlock(m);
}

static void hmac_sha256(const void *key, size_t key_len, const void *msg, size_t len,
                        unsigned char out[KEY_BYTES])
{
    unsigned int n = KEY_BYTES;
    /* With SHA-256 and an output of its size, HMAC fails only on allocation; a zeroed MAC
     * then matches nothing a client can present, as verification recomputes it. */
    if (!HMAC(EVP_sha256(), key, (int)key_len, msg, len, out, &n))
        memset(out, 0, KEY_BYTES);
}

/* --- the key file ----------------------------------------------------------------------- */

/* Writes one line into err (start-up convention, STYLE §4) and returns -1. */
__attribute__((format(printf, 2, 3))) static int fail_with(char err[256], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, 256, fmt, ap);
    va_end(ap);
    return -1;
}

/* mkdir -p dir, new folders with mode 0750. 0, or -errno. */
static int make_dirs(const char *dir)
{
    char path[PATH_MAX];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof(path))
        return -ENAMETOOLONG;
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0750) != 0 && errno != EEXIST)
            return -errno;
        path[i] = saved;
    }
    struct stat st;
    if (stat(dir, &st) != 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* Reads the secret from fd after checking it is a private regular file of KEY_BYTES. */
static int read_secret(int fd, const char *path, unsigned char secret[KEY_BYTES], char err[256])
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return fail_with(err, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail_with(err, "%s: not a regular file", path);
    if (st.st_mode & 077)
        return fail_with(err, "%s: open to group or others (mode %04o): it must be 0600", path,
                         (unsigned)(st.st_mode & 07777));
    if (st.st_size != KEY_BYTES)
        return fail_with(err, "%s: must hold exactly %d bytes, holds %lld", path, KEY_BYTES,
                         (long long)st.st_size);
    size_t got = 0;
    while (got < KEY_BYTES) {
        ssize_t n = read(fd, secret + got, KEY_BYTES - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return fail_with(err, "%s: %s", path,
                             n < 0 ? strerror(errno) : "shorter than its size");
        got += (size_t)n;
    }
    return 0;
}

/*
 * Creates path holding KEY_BYTES fresh random bytes. They are written to a new private file
 * (O_CREAT | O_EXCL, mode 0600) which is then linked to the final name, so nobody ever reads
 * a half-written key. When two processes race, link() lets exactly one win (EEXIST for the
 * other), and both then read the winner's file.
 */
static int create_secret(const char *dir, const char *path, char err[256])
{
    char tmp[PATH_MAX];
    unsigned char secret[KEY_BYTES];
    int fd = -1, rc = -1;
    int n = snprintf(tmp, sizeof(tmp), "%s/.session.key.XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return fail_with(err, "%s: path too long", path);
    if (RAND_bytes(secret, sizeof(secret)) != 1)
        return fail_with(err, "%s: no random bytes from OpenSSL", path);
    fd = mkostemp(tmp, O_CLOEXEC); /* O_CREAT | O_EXCL, mode 0600 */
    if (fd < 0) {
        fail_with(err, "%s: cannot create: %s", tmp, strerror(errno));
        goto fail;
    }
    int werr = io_write_all(fd, secret, sizeof(secret));
    if (werr == 0 && fsync(fd) != 0)
        werr = -errno;
    if (werr != 0) {
        fail_with(err, "%s: %s", tmp, strerror(-werr));
        goto fail;
    }
    if (link(tmp, path) != 0 && errno != EEXIST) {
        fail_with(err, "%s: cannot create: %s", path, strerror(errno));
        goto fail;
    }
    /* Make the new name durable; a failure here only risks a new key after a crash. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd); /* best effort, as said above */
        close(dfd);
    }
    rc = 0;
fail:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    explicit_bzero(secret, sizeof(secret));
    return rc;
}

/* Reads data_dir/session.key, creating it (and data_dir) on first start. */
static int load_secret(const char *dir, unsigned char secret[KEY_BYTES], char err[256])
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/session.key", dir);
    if (n < 0 || (size_t)n >= sizeof(path))
        return fail_with(err, "data_dir \"%s\": path too long", dir);
    int rc = make_dirs(dir);
    if (rc != 0)
        return fail_with(err, "data_dir \"%s\": %s", dir, strerror(-rc));
    for (int attempt = 0; attempt < 2; attempt++) {
        /* O_NONBLOCK: a FIFO put there must not hang the start (read_secret wants a file). */
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
            rc = read_secret(fd, path, secret, err);
            close(fd);
            return rc;
        }
        if (errno != ENOENT)
            return fail_with(err, "%s: %s", path,
                             errno == ELOOP ? "is a symbolic link" : strerror(errno));
        if (create_secret(dir, path, err) != 0)
            return -1;
    }
    return fail_with(err, "%s: disappeared right after it was created", path);
}

/* The session key: HMAC(secret, user "\n" password_hash), so a new password (or user)
 * gives a new key and every cookie made with the old one stops verifying. */
static int derive_key(struct auth *a, const unsigned char secret[KEY_BYTES], char err[256])
{
    const char *user = a->cfg->admin.user, *hash = a->cfg->admin.password_hash;
    size_t ulen = strlen(user), hlen = strlen(hash);
    char *msg = malloc(ulen + 1 + hlen);
    if (!msg)
        return fail_with(err, "auth: out of memory");
    memcpy(msg, user, ulen);
    msg[ulen] = '\n';
    memcpy(msg + ulen + 1, hash, hlen);
    hmac_sha256(secret, KEY_BYTES, msg, ulen + 1 + hlen, a->key);
    explicit_bzero(msg, ulen + 1 + hlen);
    free(msg);
    return 0;
}

int auth_reload(struct auth **out, const struct config *cfg, struct auth *prev, char err[256])
{
    *out = NULL;
    struct auth *a = calloc(1, sizeof(*a));
    if (!a)
        return fail_with(err, "auth: out of memory");
    a->cfg = cfg;
    a->enabled = cfg->admin.user != NULL && cfg->admin.password_hash != NULL;
    /* With default attributes glibc's pthread_mutex_init always succeeds. */
    pthread_mutex_init(&a->memo_lock, NULL);
    pthread_mutex_init(&a->limit_lock, NULL);
    for (int i = 0; i < LIMIT_BUCKETS; i++)
        a->buckets[i] = -1;
    for (int i = 0; i < LIMIT_SLOTS; i++)
        a->slots[i].next = i + 1 < LIMIT_SLOTS ? i + 1 : -1;
    a->free_head = 0;
    if (a->enabled) {
        if (strlen(cfg->admin.user) > AUTH_USER_MAX) {
            fail_with(err, "\"admin.user\": longer than %d bytes", AUTH_USER_MAX);
            goto fail;
        }
        unsigned char secret[KEY_BYTES];
        int rc = load_secret(cfg->data_dir, secret, err);
        if (rc == 0)
            rc = derive_key(a, secret, err);
        explicit_bzero(secret, sizeof(secret));
        if (rc != 0)
            goto fail;
        SHA256((const unsigned char *)cfg->admin.user, strlen(cfg->admin.user), a->user_digest);
    }
    /* Logouts are remembered across reloads, whatever the admin becomes: a password that
     * comes back must not bring back the sessions ended under it. */
    if (prev && prev->revoked) {
        revoked_get(prev->revoked);
        a->revoked = prev->revoked;
    } else if (a->enabled && !(a->revoked = revoked_open(cfg->data_dir, time(NULL), err))) {
        goto fail;
    }
    *out = a;
    return 0;
fail:
    auth_free(a);
    return -1;
}

int auth_new(struct auth **out, const struct config *cfg, char err[256])
{
    return auth_reload(out, cfg, NULL, err);
}

void auth_free(struct auth *a)
{
    if (!a)
        return;
    revoked_put(a->revoked);
    pthread_mutex_destroy(&a->memo_lock);
    pthread_mutex_destroy(&a->limit_lock);
    explicit_bzero(a->key, sizeof(a->key));
    explicit_bzero(a->memo, sizeof(a->memo));
    free(a);
}

bool auth_enabled(const struct auth *a)
{
    return a && a->enabled;
}

/* --- cookies ---------------------------------------------------------------------------- */

static size_t base64url(const unsigned char *in, size_t n, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = abc[v >> 6 & 63];
        out[o++] = abc[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = abc[v >> 6 & 63];
    }
    return o;
}

/* The MAC of a session, in base64url: HMAC(key, user "\n" epoch "\n" body), where body is
 * the cookie's "<expiry>.<id>". */
static void session_mac(const struct auth *a, const char epoch[REVOKED_EPOCH_LEN],
                        struct slice body, char out[MAC_B64_LEN])
{
    char msg[AUTH_USER_MAX + 1 + REVOKED_EPOCH_LEN + 1 + AUTH_COOKIE_MAX];
    size_t ulen = strlen(a->cfg->admin.user); /* at most AUTH_USER_MAX (auth_new) */
    size_t len = 0;
    memcpy(msg, a->cfg->admin.user, ulen);
    len += ulen;
    msg[len++] = '\n';
    memcpy(msg + len, epoch, REVOKED_EPOCH_LEN);
    len += REVOKED_EPOCH_LEN;
    msg[len++] = '\n';
    memcpy(msg + len, body.ptr, body.len); /* body.len < AUTH_COOKIE_MAX (session_parse) */
    len += body.len;
    unsigned char mac[KEY_BYTES];
    hmac_sha256(a->key, sizeof(a->key), msg, len, mac);
    base64url(mac, sizeof(mac), out);
}

size_t auth_cookie_make(const struct auth *a, time_t expires, char out[AUTH_COOKIE_MAX])
{
    unsigned char id[16]; /* 22 base64url characters: REVOKED_ID_LEN */
    if (!auth_enabled(a) || RAND_bytes(id, sizeof(id)) != 1)
        return 0;
    int n = snprintf(out, EXPIRY_DIGITS + 2, "%lld", (long long)(expires > 0 ? expires : 0));
    size_t len = n > 0 ? (size_t)n : 0;
    out[len++] = '.';
    len += base64url(id, sizeof(id), out + len);
    char epoch[REVOKED_EPOCH_LEN];
    revoked_epoch(a->revoked, epoch);
    const size_t body_len = len;
    out[len++] = '.';
    session_mac(a, epoch, slice_make(out, body_len), out + len);
    len += MAC_B64_LEN;
    out[len] = '\0';
    return len;
}

/* Parses the expiry: 1 to EXPIRY_DIGITS decimal digits, no sign, no leading zero. */
static bool parse_expiry(struct slice s, long long *out)
{
    if (s.len == 0 || s.len > EXPIRY_DIGITS || s.ptr[0] == '0')
        return false;
    unsigned long long v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s.ptr[i] - '0'); /* 19 digits cannot overflow 64 bits */
    }
    if (v > LLONG_MAX)
        return false;
    *out = (long long)v;
    return true;
}

/* A cookie value "<expiry>.<id>.<mac>" cut into its parts, by shape only. */
struct session {
    struct slice body; /* "<expiry>.<id>": what the MAC covers besides user and epoch */
    long long expires;
    const char *id;  /* REVOKED_ID_LEN characters */
    const char *mac; /* MAC_B64_LEN characters */
};

/* Cuts value into s. False when it does not have the shape; cookies from before session
 * ids ("<expiry>.<mac>") do not, and are refused. */
static bool session_parse(struct slice value, struct session *s)
{
    const char *dot = memchr(value.ptr, '.', value.len);
    if (!dot)
        return false;
    const size_t expiry_len = (size_t)(dot - value.ptr);
    if (expiry_len > EXPIRY_DIGITS ||
        value.len != expiry_len + 1 + REVOKED_ID_LEN + 1 + MAC_B64_LEN ||
        dot[1 + REVOKED_ID_LEN] != '.' ||
        !parse_expiry(slice_make(value.ptr, expiry_len), &s->expires))
        return false;
    s->body = slice_make(value.ptr, expiry_len + 1 + REVOKED_ID_LEN);
    s->id = dot + 1;
    s->mac = dot + 1 + REVOKED_ID_LEN + 1;
    return true;
}

bool auth_cookie_verify(const struct auth *a, struct slice value, time_t now)
{
    if (!a || !a->enabled || !value.ptr)
        return false;
    struct session s;
    /* Cheap checks first, so junk costs no HMAC. */
    if (!session_parse(value, &s) || s.expires <= (long long)now)
        return false;
    char epoch[REVOKED_EPOCH_LEN];
    if (revoked_check(a->revoked, s.id, epoch))
        return false;
    char expected[MAC_B64_LEN];
    session_mac(a, epoch, s.body, expected);
    return CRYPTO_memcmp(expected, s.mac, MAC_B64_LEN) == 0;
}

/* Revokes the session of a valid cookie in memory (to be written). False when value was no
 * valid session. */
static bool revoke_mark(struct auth *a, struct slice value, time_t now)
{
    struct session s;
    if (!auth_cookie_verify(a, value, now) || !session_parse(value, &s))
        return false;
    revoked_mark(a->revoked, s.id, (time_t)s.expires, now);
    return true;
}

int auth_revoke(struct auth *a, struct slice value, time_t now)
{
    bool found = revoke_mark(a, value, now);
    int rc = revoked_save(a->revoked);
    return rc != 0 ? rc : found ? 1 : 0;
}

size_t auth_revoked_count(const struct auth *a)
{
    return a && a->revoked ? revoked_count(a->revoked) : 0;
}

/* The next "name=value" pair of a Cookie header (RFC 6265 §5.4; parsed as §5.2 does: split
 * at ';', then at the first '=', whitespace trimmed). Pairs without '=' are skipped. */
static bool cookie_next(struct slice *rest, struct slice *name, struct slice *value)
{
    while (rest->len > 0) {
        const char *semi = memchr(rest->ptr, ';', rest->len);
        size_t n = semi ? (size_t)(semi - rest->ptr) : rest->len;
        struct slice pair = slice_make(rest->ptr, n);
        rest->ptr += semi ? n + 1 : n;
        rest->len -= semi ? n + 1 : n;
        const char *eq = memchr(pair.ptr, '=', pair.len);
        if (!eq)
            continue;
        *name = slice_trim(slice_make(pair.ptr, (size_t)(eq - pair.ptr)));
        *value = slice_trim(slice_make(eq + 1, (size_t)(pair.ptr + pair.len - (eq + 1))));
        return true;
    }
    return false;
}

bool auth_cookie_find(struct slice header, struct slice *value)
{
    struct slice rest = header, name;
    if (!rest.ptr)
        return false;
    while (cookie_next(&rest, &name, value))
        if (slice_eq(name, slice_make(cookie_name, sizeof(cookie_name) - 1)))
            return true;
    return false;
}

/* Walks the mica_session values of a request's Cookie headers, COOKIES_CHECKED at most. */
struct cookie_walk {
    const struct request *req;
    unsigned header; /* the next header to look at */
    unsigned tried;
    struct slice rest; /* what is left of the current Cookie header */
};

static bool cookie_walk_next(struct cookie_walk *w, struct slice *value)
{
    const struct slice wanted = slice_make(cookie_name, sizeof(cookie_name) - 1);
    while (w->tried < COOKIES_CHECKED) {
        struct slice name;
        if (w->rest.ptr && cookie_next(&w->rest, &name, value)) {
            if (!slice_eq(name, wanted))
                continue;
            w->tried++;
            return true;
        }
        while (w->header < w->req->n_headers &&
               !slice_case_eq(w->req->headers[w->header].name, SLICE_LIT("Cookie")))
            w->header++;
        if (w->header == w->req->n_headers)
            return false;
        w->rest = w->req->headers[w->header++].value;
    }
    return false;
}

/* Whether any Cookie header carries a valid session (a few tries at most). */
static bool identify_cookie(const struct auth *a, const struct request *req, time_t now)
{
    struct cookie_walk w = {.req = req};
    struct slice value;
    while (cookie_walk_next(&w, &value))
        if (auth_cookie_verify(a, value, now))
            return true;
    return false;
}

/* --- credentials ------------------------------------------------------------------------ */

bool auth_user_equal(const struct auth *a, const char *user, size_t len)
{
    /* Comparing digests takes the same time whatever the lengths and contents. */
    unsigned char d[KEY_BYTES];
    SHA256((const unsigned char *)user, len, d);
    return a && a->enabled && CRYPTO_memcmp(d, a->user_digest, sizeof(d)) == 0;
}

/* Both checks always run, so the time taken does not tell whether the user was right. */
static bool credentials_ok(const struct auth *a, const char *user, const char *password)
{
    bool user_ok = auth_user_equal(a, user, strlen(user));
    bool password_ok = password_verify(password, a->cfg->admin.password_hash);
    return user_ok & password_ok;
}

static int base64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/*
 * Decodes standard base64 (RFC 4648 §4) strictly: a length that is a multiple of 4, '='
 * only as the last one or two characters, and zero bits left over (one encoding per value).
 * out needs in.len / 4 * 3 bytes. Returns the decoded length, or -1.
 */
static long base64_decode(struct slice in, unsigned char *out)
{
    if (in.len == 0 || in.len % 4 != 0)
        return -1;
    size_t pad = 0;
    while (pad < in.len && in.ptr[in.len - 1 - pad] == '=')
        pad++;
    if (pad > 2)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < in.len; i += 4) {
        bool last = i + 4 == in.len;
        int v[4];
        for (int j = 0; j < 4; j++) {
            bool is_pad = last && j >= 4 - (int)pad;
            v[j] = is_pad ? 0 : base64_value((unsigned char)in.ptr[i + (size_t)j]);
            if (v[j] < 0)
                return -1;
        }
        out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
        if (last && pad == 2) {
            if (v[1] & 15)
                return -1;
            break;
        }
        out[o++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
        if (last && pad == 1) {
            if (v[2] & 3)
                return -1;
            break;
        }
        out[o++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
    }
    return (long)o;
}

/* Whether an Authorization value uses the Basic scheme (case-insensitive, RFC 9110 §11.1). */
static bool is_basic(struct slice header)
{
    return header.len > 6 && slice_case_eq(slice_make(header.ptr, 5), SLICE_LIT("Basic")) &&
           header.ptr[5] == ' ';
}

bool auth_parse_basic(struct slice header, char out[AUTH_BASIC_MAX], const char **user,
                      const char **password)
{
    if (!header.ptr || !is_basic(header))
        return false;
    struct slice token = slice_trim(slice_make(header.ptr + 6, header.len - 6));
    if (token.len > AUTH_BASIC_MAX)
        return false;
    /* AUTH_BASIC_MAX characters decode to at most 3/4 as many bytes: room for the NUL. */
    long n = base64_decode(token, (unsigned char *)out);
    if (n < 0)
        return false;
    char *colon = NULL;
    for (long i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        /* RFC 7617 §2: no control characters in the user-id or the password. */
        if (c < 0x20 || c == 0x7f)
            return false;
        if (c == ':' && !colon)
            colon = out + i;
    }
    if (!colon)
        return false;
    *colon = '\0';
    out[n] = '\0';
    *user = out;
    *password = colon + 1;
    return true;
}

/* --- the Basic memo --------------------------------------------------------------------- */

static void memo_digest(const struct auth *a, struct slice header, unsigned char out[KEY_BYTES])
{
    hmac_sha256(a->key, sizeof(a->key), header.ptr, header.len, out);
}

static bool memo_lookup(struct auth *a, const unsigned char d[KEY_BYTES], uint64_t now_ms)
{
    bool hit = false;
    lock(&a->memo_lock);
    for (int i = 0; i < MEMO_SLOTS && !hit; i++)
        hit = a->memo[i].expires_ms > now_ms && CRYPTO_memcmp(a->memo[i].digest, d, KEY_BYTES) == 0;
    unlock(&a->memo_lock);
    return hit;
}

/* Remembers d until now + AUTH_MEMO_MS, in its own slot, a free one, or the one that
 * expires first. */
static void memo_remember(struct auth *a, const unsigned char d[KEY_BYTES], uint64_t now_ms)
{
    lock(&a->memo_lock);
    int pick = 0;
    for (int i = 0; i < MEMO_SLOTS; i++) {
        if (memcmp(a->memo[i].digest, d, KEY_BYTES) == 0) {
            pick = i;
            break;
        }
        if (a->memo[i].expires_ms < a->memo[pick].expires_ms)
            pick = i;
    }
    memcpy(a->memo[pick].digest, d, KEY_BYTES);
    a->memo[pick].expires_ms = now_ms + AUTH_MEMO_MS;
    unlock(&a->memo_lock);
}

/* --- the limiter ------------------------------------------------------------------------ */

/* The limiter's key: the address, or for IPv6 its /64, since one host usually has a whole
 * /64 to pick addresses from. */
static unsigned limit_key(const char *ip, char key[LIMIT_KEY_BYTES])
{
    struct in6_addr a6;
    if (strchr(ip, ':') && inet_pton(AF_INET6, ip, &a6) == 1) {
        memset(&a6.s6_addr[8], 0, 8);
        if (!inet_ntop(AF_INET6, &a6, key, LIMIT_KEY_BYTES - 3))
            key[0] = '\0';
        memcpy(key + strlen(key), "/64", 4); /* inet_ntop was given 3 bytes less */
    } else {
        snprintf(key, LIMIT_KEY_BYTES, "%s", ip);
    }
    unsigned h = 2166136261u; /* FNV-1a */
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

static int limit_find(const struct auth *a, const char *key, unsigned h)
{
    for (int i = a->buckets[h & (LIMIT_BUCKETS - 1)]; i >= 0; i = a->slots[i].next)
        if (a->slots[i].hash == h && strcmp(a->slots[i].key, key) == 0)
            return i;
    return -1;
}

static void limit_unlink(struct auth *a, int i)
{
    int *p = &a->buckets[a->slots[i].hash & (LIMIT_BUCKETS - 1)];
    while (*p != i)
        p = &a->slots[*p].next;
    *p = a->slots[i].next;
    a->slots[i].used = false;
}

/* A slot for a new key: a free one, else the one whose last failure is oldest. */
static int limit_take(struct auth *a)
{
    int i = a->free_head;
    if (i >= 0) {
        a->free_head = a->slots[i].next;
        return i;
    }
    i = 0;
    for (int j = 1; j < LIMIT_SLOTS; j++)
        if (a->slots[j].last_ms < a->slots[i].last_ms)
            i = j;
    limit_unlink(a, i);
    return i;
}

unsigned auth_limit_check(struct auth *a, const char *ip, uint64_t now_ms)
{
    char key[LIMIT_KEY_BYTES];
    unsigned h = limit_key(ip, key), wait_s = 0;
    lock(&a->limit_lock);
    int i = limit_find(a, key, h);
    if (i >= 0 && a->slots[i].n_fail == AUTH_LIMIT_FAILURES) {
        /* The ring is full: its oldest entry is the fifth failure back. */
        uint64_t until = a->slots[i].fail_ms[a->slots[i].next_fail] + AUTH_LIMIT_WINDOW_MS;
        if (until > now_ms)
            wait_s = (unsigned)((until - now_ms + 999) / 1000);
    }
    unlock(&a->limit_lock);
    return wait_s;
}

void auth_limit_fail(struct auth *a, const char *ip, uint64_t now_ms)
{
    char key[LIMIT_KEY_BYTES];
    unsigned h = limit_key(ip, key);
    lock(&a->limit_lock);
    int i = limit_find(a, key, h);
    if (i < 0) {
        i = limit_take(a);
        struct limit_slot *s = &a->slots[i];
        memset(s, 0, sizeof(*s));
        memcpy(s->key, key, sizeof(key));
        s->hash = h;
        s->used = true;
        s->next = a->buckets[h & (LIMIT_BUCKETS - 1)];
        a->buckets[h & (LIMIT_BUCKETS - 1)] = i;
    }
    struct limit_slot *s = &a->slots[i];
    s->fail_ms[s->next_fail] = now_ms;
    s->next_fail = (s->next_fail + 1) % AUTH_LIMIT_FAILURES;
    if (s->n_fail < AUTH_LIMIT_FAILURES)
        s->n_fail++;
    s->last_ms = now_ms;
    unlock(&a->limit_lock);
}

void auth_limit_reset(struct auth *a, const char *ip)
{
    char key[LIMIT_KEY_BYTES];
    unsigned h = limit_key(ip, key);
    lock(&a->limit_lock);
    int i = limit_find(a, key, h);
    if (i >= 0) {
        limit_unlink(a, i);
        a->slots[i].next = a->free_head;
        a->free_head = i;
    }
    unlock(&a->limit_lock);
}

/* --- identifying a request -------------------------------------------------------------- */

/* Basic credentials: remembered ones at once; otherwise, unless the address is locked out,
 * verified (slowly), and the outcome recorded. */
static bool identify_basic(struct env *env, struct slice header)
{
    struct auth *a = env->auth;
    unsigned char digest[KEY_BYTES];
    memo_digest(a, header, digest);
    if (memo_lookup(a, digest, env->now_ms))
        return true;
    if (auth_limit_check(a, env->client_ip, env->now_ms) > 0)
        return false;
    char creds[AUTH_BASIC_MAX];
    const char *user, *password;
    bool ok =
        auth_parse_basic(header, creds, &user, &password) && credentials_ok(a, user, password);
    explicit_bzero(creds, sizeof(creds));
    if (ok) {
        memo_remember(a, digest, env->now_ms);
        auth_limit_reset(a, env->client_ip);
    } else {
        auth_limit_fail(a, env->client_ip, env->now_ms);
        env->auth_rejected = true;
        log_warn("auth: wrong Basic credentials from %s", env->client_ip);
    }
    return ok;
}

void auth_identify(struct env *env, const struct request *req)
{
    struct auth *a = env->auth;
    if (!auth_enabled(a))
        return;
    struct slice authz = req->known[HDR_AUTHORIZATION];
    if (identify_cookie(a, req, env->now) ||
        (authz.ptr && is_basic(authz) && identify_basic(env, authz)))
        env->user = a->cfg->admin.user;
}

/* --- same-origin checks ----------------------------------------------------------------- */

/* A port: 1 to 5 digits, 1 to 65535. */
static bool parse_port(struct slice s, unsigned *port)
{
    if (s.len == 0 || s.len > 5)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s.ptr[i] - '0');
    }
    *port = v;
    return v >= 1 && v <= 65535;
}

/* Splits "host[:port]" or "[v6][:port]"; the port defaults to default_port. Only the
 * characters of a host name or an address literal are allowed in the host. */
static bool split_authority(struct slice s, unsigned default_port, struct slice *host,
                            unsigned *port)
{
    size_t end;
    if (s.len > 0 && s.ptr[0] == '[') {
        const char *close = memchr(s.ptr, ']', s.len);
        if (!close)
            return false;
        end = (size_t)(close - s.ptr) + 1;
    } else {
        const char *colon = memchr(s.ptr, ':', s.len);
        end = colon ? (size_t)(colon - s.ptr) : s.len;
    }
    *host = slice_make(s.ptr, end);
    if (host->len == 0)
        return false;
    for (size_t i = 0; i < host->len; i++) {
        char c = host->ptr[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_' || c == '[' || c == ']' || c == ':';
        if (!ok)
            return false;
    }
    if (end == s.len) {
        *port = default_port;
        return true;
    }
    return s.ptr[end] == ':' && parse_port(slice_make(s.ptr + end + 1, s.len - end - 1), port);
}

bool auth_same_origin(struct slice origin, struct slice host, bool is_tls)
{
    if (!origin.ptr || !host.ptr)
        return false;
    /* RFC 6454 §6.2: scheme "://" host [":" port], nothing more; "null" is no origin. */
    unsigned origin_default;
    struct slice rest;
    if (origin.len > 7 && slice_case_eq(slice_make(origin.ptr, 7), SLICE_LIT("http://"))) {
        origin_default = 80;
        rest = slice_make(origin.ptr + 7, origin.len - 7);
    } else if (origin.len > 8 && slice_case_eq(slice_make(origin.ptr, 8), SLICE_LIT("https://"))) {
        origin_default = 443;
        rest = slice_make(origin.ptr + 8, origin.len - 8);
    } else {
        return false;
    }
    struct slice oh, hh;
    unsigned op, hp;
    return split_authority(rest, origin_default, &oh, &op) &&
           split_authority(host, is_tls ? 443 : 80, &hh, &hp) && op == hp && slice_case_eq(oh, hh);
}

/* RFC 9110 §9.2.1: GET and HEAD change nothing; everything else is checked. */
static bool is_unsafe(enum http_method m)
{
    return m != HTTP_GET && m != HTTP_HEAD;
}

/* Whether a request comes from another site's page: Sec-Fetch-Site says so, or an Origin
 * header names another host than Host. No Origin (curl, scripts) is not cross-site. */
static bool is_cross_site(const struct env *env, const struct request *req)
{
    for (unsigned i = 0; i < req->n_headers; i++) {
        const struct header *h = &req->headers[i];
        if (slice_case_eq(h->name, SLICE_LIT("Sec-Fetch-Site")) &&
            slice_case_eq(h->value, SLICE_LIT("cross-site")))
            return true;
        if (slice_case_eq(h->name, SLICE_LIT("Origin")) &&
            !auth_same_origin(h->value, req->known[HDR_HOST], env->is_tls))
            return true;
    }
    return false;
}

/* --- responses -------------------------------------------------------------------------- */

static const char json_type[] = "application/json";

static const char page_401[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>401 Unauthorized</title></head>\n<body><h1>401 Unauthorized</h1>"
    "<p>This page is for the administrator. <a href=\"/login\">Log in</a></p></body></html>\n";

static const char page_429[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>429 Too Many Requests</title></head>\n<body><h1>429 Too Many Requests</h1>"
    "<p>Too many failed logins from your address. Try again in a minute.</p></body></html>\n";

static const char builtin_login[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<meta name=\"robots\" content=\"noindex\"><title>Log in — mica</title></head>\n"
    "<body><h1>Log in</h1>\n{{#error}}<p role=\"alert\">{{error}}</p>{{/error}}\n"
    "<form method=\"post\" action=\"/login\">"
    "<p><label>User name <input name=\"user\" autocomplete=\"username\" required "
    "value=\"{{form.user}}\"></label></p>"
    "<p><label>Password <input name=\"password\" type=\"password\" "
    "autocomplete=\"current-password\" required></label></p>"
    "<p><button type=\"submit\">Log in</button></p></form></body></html>\n";

static int respond(struct response *resp, int status, const char *type, struct slice body)
{
    resp->status = status;
    response_set_body(resp, type, body);
    return status;
}

static int not_found(struct env *env, struct response *resp, bool json)
{
    return json ? respond(resp, 404, json_type, SLICE_LIT("{\"error\":\"not found\"}"))
                : static_not_found(env, resp);
}

static int forbidden(const struct env *env, struct response *resp, bool json)
{
    log_info("auth: 403 cross-site request from %s", env->client_ip);
    return json ? respond(resp, 403, json_type, SLICE_LIT("{\"error\":\"forbidden\"}"))
                : response_error(resp, 403);
}

static void no_store(struct response *resp)
{
    response_header(resp, "Cache-Control", SLICE_LIT("no-store"));
}

static int redirect(struct response *resp, const char *location)
{
    response_header(resp, "Location", slice_str(location));
    return respond(resp, 303, NULL, slice_make(NULL, 0));
}

/* The login form with `status`, and `error` shown when not NULL. */
static int login_form(struct env *env, const struct request *req, struct response *resp, int status,
                      const char *error)
{
    cJSON *ctx = page_context(env, req);
    if (!ctx || (error && !cJSON_AddStringToObject(ctx, "error", error))) {
        cJSON_Delete(ctx);
        return response_error(resp, 503);
    }
    status = page_render(env, resp, status, "login.html", builtin_login, ctx);
    cJSON_Delete(ctx);
    no_store(resp);
    /* Nobody frames the form to catch clicks or keystrokes. */
    response_header(resp, "Content-Security-Policy", SLICE_LIT("frame-ancestors 'none'"));
    return status;
}

int auth_guard(struct env *env, const struct request *req, struct response *resp, bool json)
{
    struct auth *a = env->auth;
    if (!auth_enabled(a))
        return not_found(env, resp, json);
    if (is_unsafe(req->method) && is_cross_site(env, req))
        return forbidden(env, resp, json);
    if (env->user)
        return 0;
    no_store(resp);
    /* Credentials checked (and wrong) in this very request get their 401 even when they
     * were the ones that reached the limit: 429 is for the attempts after. */
    unsigned wait_s = env->auth_rejected ? 0 : auth_limit_check(a, env->client_ip, env->now_ms);
    if (wait_s > 0) {
        response_headerf(resp, "Retry-After", "%u", wait_s);
        return json ? respond(resp, 429, json_type, SLICE_LIT("{\"error\":\"too many requests\"}"))
                    : respond(resp, 429, "text/html; charset=utf-8", SLICE_LIT(page_429));
    }
    response_header(resp, "WWW-Authenticate", SLICE_LIT("Basic realm=\"mica\", charset=\"UTF-8\""));
    return json ? respond(resp, 401, json_type, SLICE_LIT("{\"error\":\"unauthorized\"}"))
                : respond(resp, 401, "text/html; charset=utf-8", SLICE_LIT(page_401));
}

int auth_login_page(struct env *env, const struct request *req, struct response *resp)
{
    struct auth *a = env->auth;
    if (!auth_enabled(a))
        return static_not_found(env, resp);
    if (env->user || identify_cookie(a, req, env->now))
        return redirect(resp, "/admin");
    return login_form(env, req, resp, 200, NULL);
}

static const char *form_string(const cJSON *form, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(form, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int auth_login(struct env *env, const struct request *req, struct response *resp)
{
    struct auth *a = env->auth;
    if (!auth_enabled(a))
        return static_not_found(env, resp);
    if (is_cross_site(env, req))
        return forbidden(env, resp, false);
    unsigned wait_s = auth_limit_check(a, env->client_ip, env->now_ms);
    if (wait_s > 0) {
        response_headerf(resp, "Retry-After", "%u", wait_s);
        return login_form(env, req, resp, 429, "Too many failed attempts. Try again in a minute.");
    }
    const char *user = form_string(env->form, "user");
    const char *password = form_string(env->form, "password");
    if (!user || !password)
        return response_error(resp, 400);
    if (!credentials_ok(a, user, password)) {
        auth_limit_fail(a, env->client_ip, env->now_ms);
        log_warn("auth: failed login from %s", env->client_ip);
        return login_form(env, req, resp, 401, "Wrong user name or password.");
    }
    auth_limit_reset(a, env->client_ip);
    char value[AUTH_COOKIE_MAX];
    if (auth_cookie_make(a, env->now + AUTH_SESSION_S, value) == 0) {
        log_error("auth: no random bytes from OpenSSL for a session id");
        return response_error(resp, 500);
    }
    if (!response_headerf(resp, "Set-Cookie",
                          "%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s", cookie_name,
                          value, AUTH_SESSION_S, env->is_tls ? "; Secure" : "")) {
        log_error("auth: no room for the Set-Cookie header");
        return response_error(resp, 500);
    }
    log_info("auth: %s logged in from %s", a->cfg->admin.user, env->client_ip);
    no_store(resp);
    return redirect(resp, "/admin");
}

static int save_revoked(void *revoked)
{
    return revoked_save(revoked);
}

static void put_revoked(void *revoked)
{
    revoked_put(revoked);
}

/* The answer to a logout: the cookie cleared, then the login form; or, when the logout
 * could not be made durable, 503 (the browser forgets the cookie all the same, and a
 * retry writes again). */
static int logout_done(struct env *env, struct response *resp, bool is_durable)
{
    response_headerf(resp, "Set-Cookie", "%s=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict%s",
                     cookie_name, env->is_tls ? "; Secure" : "");
    no_store(resp);
    if (is_durable)
        return redirect(resp, "/login");
    response_header(resp, "Retry-After", SLICE_LIT("1"));
    return response_error(resp, 503);
}

int auth_logout(struct env *env, const struct request *req, struct response *resp)
{
    struct auth *a = env->auth;
    if (!auth_enabled(a))
        return static_not_found(env, resp);
    if (is_cross_site(env, req))
        return forbidden(env, resp, false);
    /* The session ends on the server too: a copy of the cookie is refused from now on, by
     * every thread at once (in memory); the list is made durable on the store's thread,
     * not this one (a rename and two fsyncs), and the answer waits for it — also when an
     * earlier logout of the same cookie (a double click, a retry) is still being written:
     * store jobs run in order, so this one's write (or its no-op) comes after that one. */
    struct cookie_walk w = {.req = req};
    struct slice value;
    bool ended = false;
    while (cookie_walk_next(&w, &value))
        ended |= revoke_mark(a, value, env->now);
    if (ended)
        log_info("auth: %s logged out from %s", a->cfg->admin.user, env->client_ip);
    if (!revoked_unsaved(a->revoked))
        return logout_done(env, resp, true);
    if (!env->store) /* no store thread (unit tests): here, then */
        return logout_done(env, resp, revoked_save(a->revoked) == 0);
    struct store_job *job = store_job_new(STORE_CALL);
    if (job) {
        job->call = save_revoked;
        job->call_arg = a->revoked;
        revoked_get(a->revoked);
        job->call_release = put_revoked;
        job->inbox = env->inbox;
        if (store_post(env->store, job) == 0) {
            env->pending_job = job;
            return 0;
        }
        store_job_free(job);
    }
    /* The store's queue is full: never the write on this thread; the client may retry. */
    return logout_done(env, resp, false);
}

int auth_logout_done(struct env *env, const struct request *req, struct response *resp,
                     struct store_job *job)
{
    (void)req;
    return logout_done(env, resp, job->status == 0); /* a failure was logged by revoked_save */
}
