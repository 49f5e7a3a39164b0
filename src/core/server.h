/* SPDX-License-Identifier: MIT */
/*
 * The server: listeners, the worker threads, signals and the graceful drain.
 *
 * server_run() opens everything first (the document root, one SO_REUSEPORT listening
 * socket per worker, the workers' loops) and only then starts the threads and prints the
 * start-up line, so a bad bind or root fails before anything is half-started. The main
 * thread then waits for signals: SIGINT/SIGTERM stop accepting, let in-flight responses
 * finish (for up to SERVER_GRACE_S seconds; a second signal cuts it short), and return.
 * SIGHUP reloads config.json (validated first; what needs a restart is reported and
 * kept), SIGUSR1 reopens the logs.
 */
#ifndef MICA_CORE_SERVER_H
#define MICA_CORE_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/config.h"
#include "core/stats.h"

enum { SERVER_GRACE_S = 10 };

struct worker;

/*
 * What a reload (SIGHUP) may change, swapped as a whole: a worker takes the current site
 * once per request (an acquire load), so a request sees one consistent configuration.
 * Sites are never freed while the server runs (a worker may still be using an older one);
 * they are few and small, and all go at exit.
 */
struct site {
    const struct config *cfg;
    int root_fd;
    int templates_fd;                     /* or -1: built-in pages */
    struct cache *cache;                  /* the file cache, or NULL when disabled */
    struct auth *auth;                    /* the admin's sessions */
    bool owns_cfg, owns_cache, owns_auth; /* a reload shares what did not change */
    struct site *older;
};

struct server {
    _Atomic(struct site *) site; /* the current one; see struct site */
    int argc;                    /* the command line, read again on SIGHUP */
    char **argv;
    struct worker *workers;
    unsigned n_workers;
    struct stats *stats;      /* one per worker */
    struct tmpl_cache *tmpls; /* compiled templates */
    struct store *store;      /* form submissions */
    int uploads_fd;           /* data_dir/uploads */
    struct tls *tls;          /* HTTPS, or NULL */
    char tls_url[64];         /* "https://0.0.0.0:8443" for the start-up line */
    char fingerprint[96];     /* of a self-signed certificate, or "" */
    time_t started_at;
    uint64_t started_ms;
    _Atomic unsigned active;         /* open connections over all workers */
    _Atomic unsigned max_conns;      /* max_connections, within what RLIMIT_NOFILE allows */
    _Atomic bool stopping;           /* stop accepting; finish what is in flight */
    _Atomic bool force_stop;         /* the grace period is over: close everything */
    _Atomic unsigned n_running;      /* workers still in their loop */
    _Atomic uint64_t fd_shortage_ms; /* when a worker last found no descriptor to spare */
};

/* The current site (any thread). */
static inline struct site *server_site(struct server *s)
{
    return atomic_load_explicit(&s->site, memory_order_acquire);
}

/* Runs the server until SIGINT or SIGTERM. Returns 0 after a clean stop, or -1 with one
 * line in err when it could not start. cfg is borrowed; argc/argv are read again, with the
 * config file, when SIGHUP asks for a reload. */
int server_run(const struct config *cfg, int argc, char **argv, char err[256]);

/* --check-config: what server_run would refuse without binding or creating anything: the
 * root, the TLS certificate and key, the user, the log files and data_dir (writable, or
 * creatable). 0, or -1 with err naming the key or file. */
int server_check(const struct config *cfg, char err[256]);

/* Counts a new connection in; false (and nothing counted) at max_connections. */
bool server_admit(struct server *s);

/* Counts a connection out. */
void server_release(struct server *s);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t server_clock_ms(void);

#endif
