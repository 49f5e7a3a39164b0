/* SPDX-License-Identifier: MIT */
/*
 * A worker is one thread running one epoll loop. It owns its listening sockets (one per
 * listener, bound with SO_REUSEPORT so the kernel spreads new connections over workers),
 * every connection it accepts, their timers, its block pools, its Date string and its
 * counters. Nothing here is shared with other workers except through struct server.
 *
 * The loop: wait for events (up to the next timer deadline), read the clock once, refresh
 * the cached Date when the second changes, dispatch events, run connections that yielded,
 * expire timers.
 */
#ifndef MICA_CORE_WORKER_H
#define MICA_CORE_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/conn.h"
#include "core/log.h"
#include "core/stats.h"
#include "core/timer.h"
#include "handlers/handler.h"
#include "http/compress.h"
#include "http/date.h"
#include "http/request.h"
#include "http/response.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/pool.h"

struct server;
struct conn;

/* The first byte of every object registered with epoll says what it is. */
enum ev_kind { EV_LISTENER = 1, EV_WAKE, EV_INBOX, EV_CONN };

struct listener {
    uint8_t kind; /* EV_LISTENER */
    int fd;
    bool is_paused; /* out of descriptors: not in epoll until resume_ms */
    bool is_tls;    /* the HTTPS port */
};

enum { WORKER_MAX_LISTENERS = 2, WORKER_HEADERS_BYTES = 2048 };

struct worker {
    struct server *srv; /* borrowed */
    unsigned id;
    pthread_t thread;
    int epfd;
    struct {
        uint8_t kind; /* EV_WAKE */
        int fd;       /* eventfd: the main thread writes to it to stop us */
    } wake;
    struct {
        uint8_t kind;           /* EV_INBOX */
        struct store_inbox box; /* finished store jobs, for our connections */
    } inbox;
    struct listener listeners[WORKER_MAX_LISTENERS];
    unsigned n_listeners;
    int reserve_fd;     /* spare descriptor, given up to shed a connection on EMFILE */
    uint64_t resume_ms; /* when paused listeners come back */

    /* Timeouts, one list per kind (timer.h). */
    struct timer_list timers[CONN_TIMEOUT_COUNT];
    /* Connections that used their budget and run again before the next wait. */
    struct conn *ready;

    struct pool conn_pool;  /* struct conn */
    struct pool block_pool; /* read and write buffers */
    struct pool body_pool;  /* struct conn_body */
    size_t block_bytes;
    unsigned n_conns;
    unsigned n_zombies; /* closed connections whose store job is not back yet */
    bool stopping;      /* draining for shutdown: no new requests on kept-alive connections */

    uint64_t now_us;                 /* CLOCK_MONOTONIC, read once per iteration */
    uint64_t now_ms;                 /* the same in milliseconds */
    time_t now_s;                    /* wall clock second of the cached dates */
    char date[DATE_HTTP_LEN + 1];    /* IMF-fixdate of now_s, for Date */
    char clf_date[DATE_CLF_LEN + 1]; /* the same for access.log */
    struct log_buf *log;             /* this thread's log lines */
    struct stats *stats;             /* ours: only this thread writes it */
    struct log_limit accept_limit;   /* rate limit for accept errors */
    struct log_limit reject_limit;   /* rate limit for rejected-request lines */

    /* Per-request scratch, reused: a worker handles one request at a time. */
    struct env env;
    struct request req;
    struct response resp;
    char resp_headers[WORKER_HEADERS_BYTES];
    struct buf scratch;
    /* Compresses generated bodies as they are queued (compress_response), reused. */
    struct compressor *compressor;
};

/* Sets up w (epoll, eventfd, pools) for listeners already opened into w->listeners.
 * Returns 0 or -1 with err. */
int worker_init(struct worker *w, struct server *srv, unsigned id, char err[256]);

/* The thread body: runs the loop until the server stops and every connection is done. */
void *worker_main(void *arg);

/* Asks the worker to re-check the server's stop flags (any thread). */
void worker_wake(struct worker *w);

/* Releases what worker_init and the loop left (after the thread has been joined). */
void worker_free(struct worker *w);

/* Takes the reserve descriptor back if it was given up (a descriptor was freed). */
void worker_refill_reserve(struct worker *w);

/* Puts c on the ready list: it will run again before the worker waits for events. */
void worker_defer(struct worker *w, struct conn *c);

#endif
