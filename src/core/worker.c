/* SPDX-License-Identifier: MIT */
/*
 * The worker loop; see worker.h. Accepting lives here too: the listener is level-triggered,
 * and at most ACCEPT_BATCH connections are taken per wake-up so that a flood of new
 * connections cannot starve the established ones.
 */
#include "core/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/conn.h"
#include "core/server.h"
#include "handlers/router.h"

enum {
    ACCEPT_BATCH = 64,
    EVENTS_MAX = 256,
    PAUSE_MS = 100,         /* listeners rest this long when descriptors run out */
    POOL_KEEP_BLOCKS = 256, /* buffers kept for reuse per worker */
    POOL_KEEP_CONNS = 1024,
    SHED_IDLE = 16, /* idle connections closed per shortage of descriptors */
};

static struct conn *conn_of(struct timer *t)
{
    return (struct conn *)((char *)t - offsetof(struct conn, timer));
}

static void worker_tick(struct worker *w)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    w->now_us = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
    w->now_ms = w->now_us / 1000;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != w->now_s) {
        /* Date and the access log's time are formatted once a second, not per response. */
        w->now_s = ts.tv_sec;
        date_http(w->now_s, w->date);
        date_clf(w->now_s, w->clf_date);
        stats_publish(w->stats, w->now_s);
    }
}

int worker_init(struct worker *w, struct server *srv, unsigned id, char err[256])
{
    const struct config *cfg = server_site(srv)->cfg;
    w->srv = srv;
    w->id = id;
    w->stats = &srv->stats[id];
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->wake.kind = EV_WAKE;
    w->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    w->inbox.kind = EV_INBOX;
    w->inbox.box.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->epfd < 0 || w->wake.fd < 0 || w->inbox.box.efd < 0) {
        snprintf(err, 256, "worker %u: %s", id, strerror(errno));
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->wake};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wake.fd, &ev) != 0)
        goto fail;
    ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &w->inbox};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->inbox.box.efd, &ev) != 0)
        goto fail;
    for (unsigned i = 0; i < w->n_listeners; i++) {
        w->listeners[i].kind = EV_LISTENER;
        ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &w->listeners[i]};
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->listeners[i].fd, &ev) != 0)
            goto fail;
    }
    w->block_bytes = cfg->max_header_bytes > 16384 ? cfg->max_header_bytes : 16384;
    pool_init(&w->block_pool, w->block_bytes, POOL_KEEP_BLOCKS);
    pool_init(&w->conn_pool, sizeof(struct conn), POOL_KEEP_CONNS);
    pool_init(&w->body_pool, sizeof(struct conn_body), POOL_KEEP_CONNS);
    buf_init(&w->scratch, NULL, 0, 0);
    w->compressor = compress_new();
    if (!w->compressor) {
        snprintf(err, 256, "worker %u: out of memory", id);
        return -1;
    }

    struct env *env = &w->env;
    env->cfg = cfg;
    env->stats = srv->stats;
    env->n_workers = srv->n_workers;
    env->started_at = srv->started_at;
    env->started_ms = srv->started_ms;
    env->scratch = &w->scratch;
    env->my_stats = w->stats;
    env->reject_limit = &w->reject_limit;
    env->tmpls = srv->tmpls;
    env->store = srv->store;
    env->uploads_fd = srv->uploads_fd;
    env->inbox = &w->inbox.box;
    worker_tick(w);
    return 0;
fail:
    snprintf(err, 256, "worker %u: epoll_ctl: %s", id, strerror(errno));
    return -1;
}

/* Hands finished store jobs to their connections. */
static void worker_take_jobs(struct worker *w)
{
    struct store_job *job = store_inbox_take(&w->inbox.box);
    while (job) {
        struct store_job *next = job->next;
        struct route_call *call = router_job_call(job);
        if (call)
            conn_on_job(router_call_owner(call), job);
        else
            store_job_free(job); /* its request was answered 503 when memory ran out */
        job = next;
    }
}

void worker_free(struct worker *w)
{
    /* Jobs that came back after the loop ended (the store is closed by now). */
    worker_take_jobs(w);
    if (w->inbox.box.efd >= 0)
        close(w->inbox.box.efd);
    w->inbox.box.efd = -1;
    store_inbox_destroy(&w->inbox.box);
    for (unsigned i = 0; i < w->n_listeners; i++)
        if (w->listeners[i].fd >= 0)
            close(w->listeners[i].fd);
    w->n_listeners = 0;
    if (w->reserve_fd >= 0)
        close(w->reserve_fd);
    if (w->wake.fd >= 0)
        close(w->wake.fd);
    if (w->epfd >= 0)
        close(w->epfd);
    w->reserve_fd = w->wake.fd = w->epfd = -1;
    pool_drain(&w->block_pool);
    pool_drain(&w->conn_pool);
    pool_drain(&w->body_pool);
    buf_free(&w->scratch);
    compress_free(w->compressor);
    w->compressor = NULL;
}

void worker_wake(struct worker *w)
{
    uint64_t one = 1;
    if (write(w->wake.fd, &one, sizeof(one)) < 0) {
        /* The counter is already non-zero (EAGAIN): the worker will wake anyway. */
    }
}

void worker_defer(struct worker *w, struct conn *c)
{
    if (c->is_ready)
        return;
    c->is_ready = true;
    c->ready_next = w->ready;
    w->ready = c;
}

/* Answers a connection we cannot take with a canned 503 and closes it. */
static void refuse(struct worker *w, int fd)
{
    char msg[160];
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 503 Service Unavailable\r\nServer: mica/" MICA_VERSION
                     "\r\nDate: %s\r\nContent-Length: 0\r\nRetry-After: 1\r\n"
                     "Connection: close\r\n\r\n",
                     w->date);
    /* Best effort on a fresh socket whose buffer is empty; the request is not read. */
    if (send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
    }
    shutdown(fd, SHUT_WR);
    char sink[512];
    if (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) < 0) {
        /* Nothing arrived yet: nothing to drain. */
    }
    close(fd);
    stats_add(&w->stats->connections_refused, 1);
}

static void listener_pause(struct worker *w, struct listener *l)
{
    if (epoll_ctl(w->epfd, EPOLL_CTL_DEL, l->fd, NULL) == 0) {
        l->is_paused = true;
        w->resume_ms = w->now_ms + PAUSE_MS;
    }
}

static void listeners_resume(struct worker *w)
{
    for (unsigned i = 0; i < w->n_listeners; i++) {
        struct listener *l = &w->listeners[i];
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
        if (l->is_paused && epoll_ctl(w->epfd, EPOLL_CTL_ADD, l->fd, &ev) == 0)
            l->is_paused = false;
    }
    w->resume_ms = 0;
}

void worker_refill_reserve(struct worker *w)
{
    if (w->reserve_fd < 0)
        w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Closes up to n of the longest-idle keep-alive connections; returns how many. */
static unsigned close_idle(struct worker *w, unsigned n)
{
    unsigned closed = 0;
    struct timer_list *idle = &w->timers[CONN_TIMEOUT_IDLE];
    while (closed < n && idle->head) {
        conn_close(conn_of(idle->head));
        closed++;
    }
    return closed;
}

/*
 * Out of descriptors (EMFILE/ENFILE): the pending connection would wake us forever. Give
 * up the reserve descriptor, take the connection, refuse it with a 503, and take the
 * reserve back. Descriptors are shared by all workers, so another thread may take the one
 * we freed: then make room by closing idle keep-alive connections, here and (through
 * fd_shortage_ms) in every worker, as nginx reuses its idle connections; with nothing
 * idle anywhere, stop listening for a moment instead of spinning.
 */
static void shed(struct worker *w, struct listener *l, int error)
{
    struct server *srv = w->srv;
    uint64_t suppressed;
    if (log_limit_allow(&w->accept_limit, (uint64_t)w->now_s, &suppressed))
        log_error("accept: %s: refusing connections%s", strerror(error),
                  suppressed ? " (repeated)" : "");
    worker_refill_reserve(w);
    if (w->reserve_fd >= 0) {
        close(w->reserve_fd);
        w->reserve_fd = -1;
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
            refuse(w, fd);
        worker_refill_reserve(w);
        if (w->reserve_fd >= 0)
            return;
    }
    uint64_t last = atomic_load_explicit(&srv->fd_shortage_ms, memory_order_relaxed);
    if (w->now_ms >= last + PAUSE_MS) {
        atomic_store_explicit(&srv->fd_shortage_ms, w->now_ms, memory_order_relaxed);
        for (unsigned i = 0; i < srv->n_workers; i++)
            if (&srv->workers[i] != w)
                worker_wake(&srv->workers[i]);
    }
    if (close_idle(w, SHED_IDLE) > 0)
        worker_refill_reserve(w);
    else
        listener_pause(w, l);
}

static void worker_accept(struct worker *w, struct listener *l)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                shed(w, l, errno);
                return;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_error("accept: %s", strerror(errno));
            return;
        }
        if (!server_admit(w->srv)) {
            refuse(w, fd);
            continue;
        }
        if (!conn_open(w, fd, (struct sockaddr *)&ss, l->is_tls))
            server_release(w->srv);
    }
}

static void worker_expire(struct worker *w)
{
    for (int k = 0; k < CONN_TIMEOUT_COUNT; k++) {
        struct timer *t;
        while ((t = timer_pop_expired(&w->timers[k], w->now_ms)))
            conn_on_timeout(conn_of(t), (enum conn_timeout)k);
    }
}

/* Milliseconds epoll_wait may sleep: until the next deadline, or not at all when
 * connections are waiting for their next turn. */
static int worker_timeout(struct worker *w)
{
    if (w->ready)
        return 0;
    uint64_t next = timer_next(w->timers, CONN_TIMEOUT_COUNT);
    if (w->resume_ms && w->resume_ms < next)
        next = w->resume_ms;
    /* Unpublished stats: wake at the next second to publish them (worker_tick). */
    if (w->stats->is_dirty && w->now_ms + 1000 - w->now_ms % 1000 < next)
        next = w->now_ms + 1000 - w->now_ms % 1000;
    if (next == UINT64_MAX)
        return -1;
    if (next <= w->now_ms)
        return 0;
    uint64_t ms = next - w->now_ms;
    return ms > 60000 ? 60000 : (int)ms;
}

/* Shutdown, first step: no more accepting; idle connections close now. */
static void worker_begin_stop(struct worker *w)
{
    w->stopping = true;
    /* Connections already in the accept queue were promised service: take them before
     * closing the listener (closing it would reset them). They are answered with
     * Connection: close like everything else from now on. */
    for (unsigned i = 0; i < w->n_listeners; i++) {
        for (int round = 0; round < 32 && !w->listeners[i].is_paused; round++)
            worker_accept(w, &w->listeners[i]); /* up to 32 batches: bounded */
        close(w->listeners[i].fd);
        w->listeners[i].fd = -1;
    }
    w->n_listeners = 0;
    /* Idle keep-alive connections close now. Fresh ones (a request may be on its way)
     * and those in the middle of a request finish, within their deadlines. */
    struct timer *t = w->timers[CONN_TIMEOUT_IDLE].head;
    while (t) {
        struct timer *next = t->next;
        conn_drain(conn_of(t));
        t = next;
    }
}

/* The grace period is over: close every connection (each waits on one list). */
static void worker_close_all(struct worker *w)
{
    for (int k = 0; k < CONN_TIMEOUT_COUNT; k++)
        while (w->timers[k].head)
            conn_close(conn_of(w->timers[k].head));
    while (w->ready)
        conn_close(w->ready);
}

static void worker_run_ready(struct worker *w)
{
    struct conn *c = w->ready;
    w->ready = NULL;
    while (c) {
        struct conn *next = c->ready_next;
        c->is_ready = false;
        conn_resume(c);
        c = next;
    }
}

void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct server *srv = w->srv;
    struct epoll_event events[EVENTS_MAX];
    w->log = log_thread_buf();
    for (;;) {
        if (atomic_load(&srv->force_stop)) {
            worker_close_all(w);
            break;
        }
        if (atomic_load(&srv->stopping) && !w->stopping)
            worker_begin_stop(w);
        if (w->stopping && w->n_conns == 0 && w->n_zombies == 0)
            break;
        int n = epoll_wait(w->epfd, events, EVENTS_MAX, worker_timeout(w));
        if (n < 0 && errno != EINTR) {
            log_error("worker %u: epoll_wait: %s", w->id, strerror(errno));
            break;
        }
        worker_tick(w);
        for (int i = 0; i < n; i++) {
            void *p = events[i].data.ptr;
            switch (*(uint8_t *)p) {
            case EV_LISTENER:
                worker_accept(w, p);
                break;
            case EV_WAKE: {
                uint64_t count;
                if (read(w->wake.fd, &count, sizeof(count)) < 0) {
                    /* EAGAIN: another wake-up already consumed it. */
                }
                break;
            }
            case EV_INBOX: {
                uint64_t count;
                if (read(w->inbox.box.efd, &count, sizeof(count)) < 0) {
                    /* EAGAIN: nothing new since the last read; the list says the truth. */
                }
                worker_take_jobs(w);
                break;
            }
            case EV_CONN:
                conn_on_event(p, events[i].events);
                break;
            }
        }
        worker_run_ready(w);
        worker_expire(w);
        /* Another worker ran out of descriptors: give up some idle connections too.
         * Relaxed: a stale read only delays this by one loop iteration. */
        uint64_t shortage = atomic_load_explicit(&srv->fd_shortage_ms, memory_order_relaxed);
        if (shortage && w->now_ms < shortage + PAUSE_MS)
            close_idle(w, SHED_IDLE);
        if (w->resume_ms && w->resume_ms <= w->now_ms)
            listeners_resume(w);
    }
    atomic_fetch_sub(&srv->n_running, 1);
    return NULL;
}
