/* SPDX-License-Identifier: MIT */
/*
 * Start-up, signals and shutdown; see server.h.
 *
 * Each worker gets its own listening socket bound to the same address with SO_REUSEPORT:
 * the kernel hashes new connections over them, so workers never contend on one accept
 * queue. With the default bind, one IPv6 socket with IPV6_V6ONLY off serves IPv4 and IPv6.
 */
#include "core/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/tls.h"
#include "core/worker.h"
#include "files/cache.h"
#include "handlers/auth.h"
#include "store/store.h"
#include "template/cache.h"

enum { LISTEN_BACKLOG = 4096 };

uint64_t server_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool server_admit(struct server *s)
{
    /* Relaxed is enough: the count only bounds how many connections exist at once. */
    unsigned before = atomic_fetch_add_explicit(&s->active, 1, memory_order_relaxed);
    if (before < atomic_load_explicit(&s->max_conns, memory_order_relaxed))
        return true;
    atomic_fetch_sub_explicit(&s->active, 1, memory_order_relaxed);
    return false;
}

void server_release(struct server *s)
{
    atomic_fetch_sub_explicit(&s->active, 1, memory_order_relaxed);
}

/* The address to listen on, from `bind` (NULL: every interface, IPv6 and IPv4). */
static int resolve_bind(const struct config *cfg, struct sockaddr_storage *ss, socklen_t *len,
                        char err[256])
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (!cfg->bind) {
        int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0) {
            close(probe);
            s6->sin6_family = AF_INET6;
            s6->sin6_addr = in6addr_any;
            *len = sizeof(*s6);
        } else {
            s4->sin_family = AF_INET;
            s4->sin_addr.s_addr = htonl(INADDR_ANY);
            *len = sizeof(*s4);
        }
        return 0;
    }
    return config_resolve_bind(cfg->bind, ss, len, err);
}

static void set_port(struct sockaddr_storage *ss, unsigned port)
{
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

static unsigned get_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* "0.0.0.0", "127.0.0.1" or "[::1]" for the start-up line. */
static void host_text(const struct config *cfg, const struct sockaddr_storage *ss, char *out,
                      size_t cap)
{
    char a[INET6_ADDRSTRLEN] = "?";
    if (!cfg->bind) {
        snprintf(out, cap, "0.0.0.0");
    } else if (ss->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, a, sizeof(a));
        snprintf(out, cap, "[%s]", a);
    } else {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, a, sizeof(a));
        snprintf(out, cap, "%s", a);
    }
}

/* One listening socket on ss (whose port is updated when it was 0). */
static int open_listener(const struct config *cfg, struct sockaddr_storage *ss, socklen_t len,
                         char err[256])
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, 256, "socket: %s", strerror(errno));
        return -1;
    }
    const int one = 1, zero = 0;
    bool ok = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
              setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0 &&
              /* Accepted sockets inherit TCP_NODELAY from the listener on Linux. */
              setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0;
    /* Clients speak first (a request, a ClientHello): with TCP_DEFER_ACCEPT the kernel
     * hands over a connection once its first bytes are there, so the worker reads and
     * answers it at once (conn_open) instead of waiting for another wake-up. A silent one
     * is handed over anyway after a second (at the kernel's first SYN-ACK retransmission),
     * then timed out by header_timeout_s as usual. */
    if (ok) {
        const int defer_s = 1;
        ok = setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_s, sizeof(defer_s)) == 0;
    }
    if (ok && ss->ss_family == AF_INET6)
        ok = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, cfg->bind ? &one : &zero, sizeof(int)) == 0;
    if (!ok) {
        snprintf(err, 256, "setsockopt: %s", strerror(errno));
        goto fail;
    }
    if (bind(fd, (struct sockaddr *)ss, len) != 0) {
        char host[INET6_ADDRSTRLEN + 2];
        host_text(cfg, ss, host, sizeof(host));
        snprintf(err, 256, "cannot listen on %s:%u: %s", host, get_port(ss), strerror(errno));
        goto fail;
    }
    if (listen(fd, LISTEN_BACKLOG) != 0) {
        snprintf(err, 256, "listen: %s", strerror(errno));
        goto fail;
    }
    if (get_port(ss) == 0) {
        struct sockaddr_storage bound;
        socklen_t blen = sizeof(bound);
        if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
            snprintf(err, 256, "getsockname: %s", strerror(errno));
            goto fail;
        }
        set_port(ss, get_port(&bound));
    }
    return fd;
fail:
    close(fd);
    return -1;
}

static void wake_all(struct server *s)
{
    for (unsigned i = 0; i < s->n_workers; i++)
        worker_wake(&s->workers[i]);
}

static unsigned connection_budget(const struct config *cfg, unsigned workers);

/* Frees a site and every older one (at exit, when no worker runs). */
static void site_free(struct site *site)
{
    while (site) {
        struct site *older = site->older;
        if (site->root_fd >= 0)
            close(site->root_fd);
        if (site->templates_fd >= 0)
            close(site->templates_fd);
        if (site->owns_cache)
            cache_free(site->cache);
        if (site->owns_auth)
            auth_free(site->auth);
        if (site->owns_cfg) {
            config_free((struct config *)site->cfg);
            free((struct config *)site->cfg);
        }
        free(site);
        site = older;
    }
}

static bool same_cache_settings(const struct config *a, const struct config *b)
{
    return a->cache.enabled == b->cache.enabled && a->cache.max_bytes == b->cache.max_bytes &&
           a->cache.max_file_bytes == b->cache.max_file_bytes;
}

/*
 * A site for cfg (borrowed until the site owns it): its root and templates folders and
 * its cache. With `old`, an unchanged cache is shared with it (the auth is left to the
 * caller). NULL with err on failure.
 */
static struct site *site_new(const struct config *cfg, struct site *old, char err[256])
{
    struct site *site = calloc(1, sizeof(*site));
    if (!site) {
        snprintf(err, 256, "out of memory");
        return NULL;
    }
    site->cfg = cfg;
    site->templates_fd = -1;
    site->root_fd = open(cfg->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (site->root_fd < 0) {
        snprintf(err, 256, "root \"%s\": %s", cfg->root, strerror(errno));
        goto fail;
    }
    site->templates_fd = open(cfg->templates_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (site->templates_fd < 0)
        log_warn("templates \"%s\": %s: built-in pages are used", cfg->templates_dir,
                 strerror(errno));
    /* What a path resolves to may change with a reload (the root, index files, clean
     * URLs …): the cache starts empty. It is shared when its settings are the same, and an
     * old one kept for a request in flight holds nothing. */
    if (old)
        cache_clear(old->cache);
    if (old && same_cache_settings(old->cfg, cfg)) {
        site->cache = old->cache;
    } else if (cfg->cache.enabled && cfg->cache.max_bytes > 0) {
        site->cache = cache_new(cfg->cache.max_bytes, cfg->cache.max_file_bytes);
        if (!site->cache) {
            snprintf(err, 256, "cache: out of memory");
            goto fail;
        }
        site->owns_cache = true;
    }
    return site;
fail:
    site_free(site);
    return NULL;
}

/*
 * Settings that cannot change without a restart: a changed one is reported and the
 * running value kept (copied into the new configuration, which stays consistent).
 */
static void keep_restart_only(struct config *next, const struct config *cur)
{
#define KEEP(field, what)                                                                          \
    if (next->field != cur->field) {                                                               \
        log_warn("SIGHUP: \"%s\" changed: it needs a restart; the running value stays", what);     \
        next->field = cur->field;                                                                  \
    }
#define KEEP_STR(field, what)                                                                      \
    if ((next->field == NULL) != (cur->field == NULL) ||                                           \
        (next->field && strcmp(next->field, cur->field) != 0)) {                                   \
        log_warn("SIGHUP: \"%s\" changed: it needs a restart; the running value stays", what);     \
        free(next->field);                                                                         \
        next->field = cur->field ? strdup(cur->field) : NULL;                                      \
    }
    KEEP(port, "port");
    KEEP(threads, "threads");
    KEEP(tls.port, "tls.port");
    KEEP(max_header_bytes, "max_header_bytes");
    KEEP_STR(bind, "bind");
    KEEP_STR(user, "user");
    KEEP_STR(data_dir, "data_dir");
#undef KEEP
#undef KEEP_STR
}

static bool same_admin(const struct config *a, const struct config *b)
{
    return (a->admin.user == NULL) == (b->admin.user == NULL) &&
           (!a->admin.user || (strcmp(a->admin.user, b->admin.user) == 0 &&
                               strcmp(a->admin.password_hash, b->admin.password_hash) == 0));
}

/*
 * SIGHUP: read the command line and config.json again. An invalid configuration changes
 * nothing (the reason goes to error.log). Otherwise the new site is swapped in for the next
 * requests, the logs follow their new settings, the certificate is reloaded, and
 * connections are never dropped.
 */
static void reload(struct server *s)
{
    struct site *cur = server_site(s);
    struct config *next = malloc(sizeof(*next));
    enum config_action action;
    char err[256];
    if (!next || config_load(next, s->argc, s->argv, &action, err) != 0) {
        log_error("SIGHUP: %s: the running configuration stays", next ? err : "out of memory");
        free(next);
        return;
    }
    keep_restart_only(next, cur->cfg);
    struct site *site = site_new(next, cur, err);
    if (site && same_admin(cur->cfg, next)) {
        site->auth = cur->auth;
    } else if (site && auth_reload(&site->auth, next, cur->auth, err) == 0) {
        site->owns_auth = true;
    } else if (site) {
        site_free(site);
        site = NULL;
    }
    if (!site) {
        log_error("SIGHUP: %s: the running configuration stays", err);
        config_free(next);
        free(next);
        return;
    }
    char fingerprint[96];
    if (s->tls && tls_reload(s->tls, next, fingerprint, err) != 0)
        log_error("SIGHUP: %s (the old certificate stays)", err);
    else if (s->tls)
        log_info("SIGHUP: TLS certificate%s%s", fingerprint[0] ? " SHA-256 " : " reloaded",
                 fingerprint);
    site->owns_cfg = true;
    site->older = cur;
    log_reconfigure(next->log_level, next->access_log, next->error_log);
    atomic_store(&s->max_conns, connection_budget(next, s->n_workers));
    atomic_store_explicit(&s->site, site, memory_order_release);
    cache_clear(site->cache); /* what requests still on the old site may have added */
    log_info("SIGHUP: configuration reloaded%s", next->config_path ? "" : " (defaults)");
}

/* Waits for SIGINT or SIGTERM, handling SIGHUP and SIGUSR1 meanwhile. */
static int wait_for_stop(struct server *s, const sigset_t *set)
{
    for (;;) {
        int sig = sigwaitinfo(set, NULL);
        if (sig < 0)
            continue; /* EINTR */
        if (sig == SIGINT || sig == SIGTERM)
            return sig;
        if (sig == SIGHUP)
            reload(s);
        if (sig == SIGUSR1) {
            log_info("SIGUSR1: reopening the logs");
            log_reopen();
        }
    }
}

/* Lets the workers finish in-flight responses, for at most the grace period; a second
 * SIGINT or SIGTERM ends it at once. */
static void drain(struct server *s, const sigset_t *set)
{
    atomic_store(&s->stopping, true);
    wake_all(s);
    uint64_t deadline = server_clock_ms() + SERVER_GRACE_S * 1000;
    while (atomic_load(&s->n_running) > 0) {
        if (server_clock_ms() >= deadline) {
            log_warn("grace period over: closing %u connections", atomic_load(&s->active));
            break;
        }
        struct timespec tick = {0, 50 * 1000 * 1000};
        int sig = sigtimedwait(set, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
            log_warn("second signal: closing %u connections now", atomic_load(&s->active));
            break;
        }
    }
    atomic_store(&s->force_stop, true);
    wake_all(s);
}

static void server_free(struct server *s)
{
    /* The store first: its last jobs land in the workers' inboxes, which worker_free
     * empties. */
    store_close(s->store);
    s->store = NULL;
    for (unsigned i = 0; s->workers && i < s->n_workers; i++)
        worker_free(&s->workers[i]);
    free(s->workers);
    for (unsigned i = 0; s->stats && i < s->n_workers; i++)
        stats_destroy(&s->stats[i]);
    free(s->stats);
    tmpl_cache_free(s->tmpls);
    tls_close(s->tls);
    if (s->uploads_fd >= 0)
        close(s->uploads_fd);
    site_free(atomic_load(&s->site));
}

/* The user `name` from the password database, or NULL with err saying why. */
static struct passwd *find_user(const char *name, char err[256])
{
    errno = 0;
    struct passwd *pw = getpwnam(name);
    if (!pw)
        snprintf(err, 256, "user \"%.64s\": %s", name, errno ? strerror(errno) : "no such user");
    return pw;
}

/*
 * `user`: become that user (its group and supplementary groups too) after binding. As
 * root without it, mica serves but says so in error.log: a server should not run as root.
 */
static int drop_privileges(const struct config *cfg, char err[256])
{
    if (!cfg->user) {
        if (geteuid() == 0)
            log_warn("running as root: set \"user\" (--user) to drop privileges after binding");
        return 0;
    }
    struct passwd *pw = find_user(cfg->user, err);
    if (!pw)
        return -1;
    if (geteuid() != 0) {
        if (geteuid() == pw->pw_uid)
            return 0; /* already that user */
        snprintf(err, 256, "user \"%.64s\": only root can switch to another user", cfg->user);
        return -1;
    }
    log_chown(pw->pw_uid, pw->pw_gid); /* so that SIGUSR1 can reopen them */
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        snprintf(err, 256, "user \"%.64s\": %s", cfg->user, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0) { /* must be impossible now */
        snprintf(err, 256, "user \"%.64s\": root could be regained", cfg->user);
        return -1;
    }
    log_info("running as user %s (uid %u)", pw->pw_name, (unsigned)pw->pw_uid);
    return 0;
}

/* data_dir/uploads, where form files go (created if missing). */
static int open_uploads(struct server *s, const struct config *cfg, char err[256])
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/uploads", cfg->data_dir);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        snprintf(err, 256, "data_dir \"%.200s\": path too long", cfg->data_dir);
        return -1;
    }
    if (mkdir(path, 0750) != 0 && errno != EEXIST) {
        snprintf(err, 256, "uploads \"%.200s\": %s", path, strerror(errno));
        return -1;
    }
    s->uploads_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (s->uploads_fd < 0) {
        snprintf(err, 256, "uploads \"%.200s\": %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * How many connections may be open at once: max_connections, but never so many that the
 * descriptors left cannot open the files they ask for. Past the budget new connections get
 * the 503 of max_connections, which is better than a 500 for every file.
 */
static unsigned connection_budget(const struct config *cfg, unsigned workers)
{
    unsigned want = (unsigned)cfg->max_connections;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return want;
    /* Per worker: epoll, eventfd, listener, reserve, and a file open per connection being
     * answered; then logs, root, templates, the database, and room for files in flight. */
    rlim_t fixed = 16 + 8 * (rlim_t)workers;
    rlim_t need = fixed + want + want / 7 + 1;
    if (rl.rlim_cur < need && rl.rlim_max > rl.rlim_cur) {
        /* The soft limit is only a default: raise it as far as the hard limit allows. */
        struct rlimit raised = {need < rl.rlim_max ? need : rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl = raised;
    }
    rlim_t reserve = fixed + rl.rlim_cur / 8;
    unsigned budget = rl.rlim_cur > reserve ? (unsigned)(rl.rlim_cur - reserve) : 1;
    if (budget >= want)
        return want;
    log_warn("max_connections %u is more than %llu open files allow: at most %u connections", want,
             (unsigned long long)rl.rlim_cur, budget);
    return budget;
}

/* Opens the root, the listeners and the workers' loops. */
static int server_open(struct server *s, const struct config *cfg, char *url, size_t url_cap,
                       char err[256])
{
    struct site *site = site_new(cfg, NULL, err);
    if (!site)
        return -1;
    atomic_store(&s->site, site);
    s->tmpls = tmpl_cache_new();
    if (!s->tmpls) {
        snprintf(err, 256, "templates: out of memory");
        return -1;
    }
    s->n_workers = (unsigned)cfg->threads;
    atomic_store(&s->max_conns, connection_budget(cfg, s->n_workers));
    s->workers = calloc(s->n_workers, sizeof(*s->workers));
    s->stats = aligned_alloc(64, s->n_workers * sizeof(*s->stats));
    if (!s->workers || !s->stats) {
        snprintf(err, 256, "out of memory");
        return -1;
    }
    for (unsigned i = 0; i < s->n_workers; i++)
        stats_init(&s->stats[i]);
    for (unsigned i = 0; i < s->n_workers; i++) {
        struct worker *w = &s->workers[i];
        w->epfd = w->wake.fd = w->reserve_fd = -1;
        store_inbox_init(&w->inbox.box, -1);
    }

    if (cfg->tls.port && tls_open(&s->tls, cfg, s->fingerprint, err) != 0)
        return -1;
    struct sockaddr_storage ss, tls_ss;
    socklen_t len;
    if (resolve_bind(cfg, &ss, &len, err) != 0)
        return -1;
    tls_ss = ss;
    set_port(&ss, (unsigned)cfg->port);
    set_port(&tls_ss, (unsigned)cfg->tls.port);
    for (unsigned i = 0; i < s->n_workers; i++) {
        struct worker *w = &s->workers[i];
        int fd = open_listener(cfg, &ss, len, err);
        if (fd < 0)
            return -1;
        w->listeners[w->n_listeners++] = (struct listener){.fd = fd};
        if (s->tls) {
            fd = open_listener(cfg, &tls_ss, len, err);
            if (fd < 0)
                return -1;
            w->listeners[w->n_listeners++] = (struct listener){.fd = fd, .is_tls = true};
        }
    }
    /* Ports are bound and certificates read (both may need root): from here on, the
     * configured user. What is created next (the database, uploads) is that user's. */
    if (drop_privileges(cfg, err) != 0)
        return -1;
    if (store_open(&s->store, cfg->data_dir, err) != 0)
        return -1;
    if (open_uploads(s, cfg, err) != 0 || auth_new(&site->auth, cfg, err) != 0)
        return -1;
    site->owns_auth = true;
    for (unsigned i = 0; i < s->n_workers; i++)
        if (worker_init(&s->workers[i], s, i, err) != 0)
            return -1;
    char host[INET6_ADDRSTRLEN + 2];
    host_text(cfg, &ss, host, sizeof(host));
    snprintf(url, url_cap, "http://%s:%u", host, get_port(&ss));
    if (s->tls)
        snprintf(s->tls_url, sizeof(s->tls_url), "https://%s:%u", host, get_port(&tls_ss));
    return 0;
}

/* Whether the user pw may write st (and, a folder, enter it), by its mode bits and the
 * user's groups; root may. What --check-config can tell, as root, of the user mica runs as. */
static bool may_write_as(const struct stat *st, const struct passwd *pw, bool dir)
{
    if (pw->pw_uid == 0)
        return true;
    mode_t w = S_IWOTH, x = S_IXOTH;
    if (st->st_uid == pw->pw_uid) {
        w = S_IWUSR;
        x = S_IXUSR;
    } else {
        gid_t groups[256];
        int n = 256;
        if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
            n = 0; /* more than 256: judged by the others' bits, as if in none */
        for (int i = 0; i < n; i++)
            if (groups[i] == st->st_gid) {
                w = S_IWGRP;
                x = S_IXGRP;
                break;
            }
    }
    return (st->st_mode & w) && (!dir || (st->st_mode & x));
}

/*
 * Whether path can be written: an existing file or folder (is_dir) that this process (or
 * the user `as`, when not NULL) may write, or one mica would create, with up to `creates`
 * missing levels (the file or folder itself and folders above it), under an existing
 * folder it may write. 0, or -1 with err naming the key and why.
 */
static int check_writable(const char *key, const char *path, bool is_dir, int creates,
                          const struct passwd *as, char err[256])
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s", path);
    struct stat st;
    int missing = 0;
    while (stat(p, &st) != 0) {
        if (errno != ENOENT || ++missing > creates) {
            snprintf(err, 256, "%s \"%.200s\": %s", key, path, strerror(errno));
            return -1;
        }
        char *slash = strrchr(p, '/');
        if (!slash)
            snprintf(p, sizeof(p), ".");
        else if (slash == p)
            p[1] = '\0';
        else
            *slash = '\0';
    }
    bool want_dir = missing > 0 || is_dir;
    if (want_dir != (S_ISDIR(st.st_mode) != 0)) {
        snprintf(err, 256, "%s \"%.200s\": %s", key, p, want_dir ? "not a folder" : "a folder");
        return -1;
    }
    if (as ? !may_write_as(&st, as, want_dir) : access(p, want_dir ? W_OK | X_OK : W_OK) != 0) {
        snprintf(err, 256, "%s \"%.200s\": %s%s", key, p, strerror(as ? EACCES : errno),
                 as ? " for user " : "");
        if (as)
            snprintf(err + strlen(err), 256 - strlen(err), "%.64s", as->pw_name);
        return -1;
    }
    return 0;
}

int server_check(const struct config *cfg, char err[256])
{
    struct site *site = site_new(cfg, NULL, err);
    if (!site)
        return -1;
    site_free(site);
    if (cfg->tls.port) {
        struct tls *t = NULL;
        char fingerprint[96];
        if (tls_open(&t, cfg, fingerprint, err) != 0)
            return -1;
        tls_close(t);
    }
    const struct passwd *as = NULL; /* who writes data_dir: mica drops root before it */
    if (cfg->user) {
        if (!(as = find_user(cfg->user, err)))
            return -1;
        if (geteuid() != 0)
            as = NULL; /* not root: mica runs as itself (or refuses), checked as itself */
    }
    const char *logs[][2] = {{"access_log", cfg->access_log}, {"error_log", cfg->error_log}};
    for (size_t i = 0; i < 2; i++) {
        const char *path = logs[i][1];
        if (path && strcmp(path, "-") != 0 && strcmp(path, "off") != 0 &&
            check_writable(logs[i][0], path, false, 2, NULL, err) != 0) /* opened as root */
            return -1;
    }
    return check_writable("data_dir", cfg->data_dir, true, 1, as, err);
}

int server_run(const struct config *cfg, int argc, char **argv, char err[256])
{
    struct server s = {.argc = argc, .argv = argv, .uploads_fd = -1};
    char url[INET6_ADDRSTRLEN + 16];
    s.started_at = time(NULL);
    s.started_ms = server_clock_ms();
    if (server_open(&s, cfg, url, sizeof(url), err) != 0) {
        server_free(&s);
        return -1;
    }

    /* Signals go to this thread only (sigwaitinfo); the workers inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    unsigned started = 0;
    for (; started < s.n_workers; started++) {
        atomic_fetch_add(&s.n_running, 1);
        int rc = pthread_create(&s.workers[started].thread, NULL, worker_main, &s.workers[started]);
        if (rc != 0) {
            atomic_fetch_sub(&s.n_running, 1);
            snprintf(err, 256, "cannot start worker thread: %s", strerror(rc));
            break;
        }
    }
    if (started == s.n_workers) {
        printf("mica %s listening on %s (root %s, %u thread%s)\n", MICA_VERSION, url, cfg->root,
               s.n_workers, s.n_workers == 1 ? "" : "s");
        if (s.tls)
            printf("mica %s listening on %s (root %s, %u thread%s)\n", MICA_VERSION, s.tls_url,
                   cfg->root, s.n_workers, s.n_workers == 1 ? "" : "s");
        if (s.fingerprint[0])
            printf("self-signed certificate, SHA-256 fingerprint %s\n", s.fingerprint);
        fflush(stdout);
        log_info("mica %s started: %s%s%s, root %s, %u threads", MICA_VERSION, url,
                 s.tls ? " and " : "", s.tls ? s.tls_url : "", cfg->root, s.n_workers);
        int sig = wait_for_stop(&s, &set);
        log_info("%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    drain(&s, &set);
    for (unsigned i = 0; i < started; i++)
        pthread_join(s.workers[i].thread, NULL);
    bool ok = started == s.n_workers;
    if (ok)
        log_info("mica stopped");
    server_free(&s);
    return ok ? 0 : -1;
}
