/* SPDX-License-Identifier: MIT */
/*
 * The connection state machine (see conn.h for the states).
 *
 * conn_run() is the one place a connection makes progress. It loops over three steps
 * until the socket would block or the connection used its turn's budget:
 *   1. answer every complete request already in the read buffer (pipelining), appending
 *      the responses to the output buffer, until a file range is queued or the batch is
 *      large;
 *   2. send the output (one send for the whole batch, then sendfile for a file range);
 *   3. read more.
 * Sockets are registered once, edge-triggered for both directions, so the loop remembers
 * readiness in `readable` / `writable` and never calls epoll_ctl again.
 */
#include "core/conn.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/server.h"
#include "core/tls.h"
#include "core/transport.h"
#include "core/worker.h"
#include "handlers/router.h"
#include "store/store.h"
#include "util/io.h"

enum {
    BATCH_BYTES = 64 * 1024, /* stop answering pipelined requests past this much output */
    RUN_BUDGET = 64,         /* responses and reads per turn before others get theirs */
    /* Bytes per sendfile call. On loopback with 1 MiB files, calls of 128 KiB to 1 MiB
     * all run at the client's speed for the same CPU per byte (docs/benchmarks.md); a
     * bounded call gives the worker back to other connections every ~35 µs. */
    SENDFILE_CHUNK = 256 * 1024,
    LINGER_MS = 2000,          /* how long a rejected client may keep sending */
    LINGER_BYTES = 256 * 1024, /* … and how much */
    OUT_MAX_BYTES = 64 << 20,  /* the output buffer never grows past this */
    WAIT_MS = 60 * 1000,       /* the longest wait for the store before giving up */
    SCRATCH_KEEP_BYTES = 256 * 1024, /* generated bodies: more is freed after the request */
#ifdef MICA_SMALL_BUFFERS
    /* Sanitizer builds: tiny thresholds so the growth and sendfile paths run in tests. */
    SMALL_BODY_BYTES = 512,
    OUT_INITIAL_BYTES = 256,
#else
    OUT_INITIAL_BYTES = 1 << 30,  /* the whole block */
    SMALL_BODY_BYTES = 16 * 1024, /* smaller bodies are copied into the output buffer */
#endif
};

enum step { STEP_ANSWERED, STEP_NEED_MORE, STEP_STOP };

static bool conn_run(struct conn *c);

static const struct config *conn_cfg(const struct conn *c)
{
    return server_site(c->w->srv)->cfg;
}

static bool conn_has_output(const struct conn *c)
{
    return c->out_sent < c->out.len || c->seg_left > 0;
}

/* --- buffers --------------------------------------------------------------------------- */

static bool conn_get_rbuf(struct conn *c)
{
    if (c->rbuf)
        return true;
    c->rbuf = pool_get(&c->w->block_pool);
    c->rlen = c->rpos = 0;
    c->scan = 0;
    return c->rbuf != NULL;
}

static void conn_init_out(struct conn *c)
{
    size_t cap = c->w->block_bytes < OUT_INITIAL_BYTES ? c->w->block_bytes : OUT_INITIAL_BYTES;
    buf_init(&c->out, c->out_block, cap, OUT_MAX_BYTES);
    c->out_sent = 0;
}

static bool conn_get_out(struct conn *c)
{
    if (c->out_block)
        return true;
    c->out_block = pool_get(&c->w->block_pool);
    if (!c->out_block)
        return false;
    conn_init_out(c);
    return true;
}

/*
 * What an access.log line (SPEC §5) says of a request, taken when its response is queued:
 * Combined Log Format plus the response time in microseconds. BYTES and USEC are added
 * when the line is written: at once for a body that leaves with the head, when the body
 * segment ends (sent, or the connection closed) for a larger one, so they count what was
 * sent and how long it took.
 */
struct access_rec {
    int status;
    uint64_t bytes; /* of the body queued */
    uint64_t start_us;
    char peer[INET6_ADDRSTRLEN];
    char user[128];
    char date[DATE_CLF_LEN + 1];
    char request[2048];
    char referer[512];
    char agent[512];
};

static void access_rec_write(const struct conn *c, const struct access_rec *r, uint64_t bytes,
                             uint64_t usec);

static uint64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* n more bytes of the body segment left: counted as they go, so bytes_sent only grows
 * (a Prometheus counter) and never counts what a client that left did not take (over TLS
 * without kTLS, up to one block early: what is read into out for SSL_write). */
static void conn_seg_sent(struct conn *c, uint64_t n)
{
    c->seg_left -= n;
    stats_add(&c->w->stats->bytes_sent, n);
}

/* The body segment is sent (or abandoned): close its file or drop its owner; write its
 * access.log line with the bytes that left. */
static void conn_seg_end(struct conn *c)
{
    if (c->seg_log) {
        access_rec_write(c, c->seg_log, c->seg_log->bytes - c->seg_left,
                         monotonic_us() - c->seg_log->start_us);
        free(c->seg_log);
        c->seg_log = NULL;
    }
    if (c->seg_kind == SEG_FILE)
        close(c->seg.file.fd);
    else if (c->seg_kind == SEG_MEM)
        ref_put(c->seg.mem.owner);
    c->seg_kind = SEG_NONE;
    c->seg_left = 0;
}

/* After a flush: forget the sent bytes, and leave the heap if a big body took us there. */
static void conn_reset_out(struct conn *c)
{
    if (c->out.is_heap) {
        buf_free(&c->out);
        conn_init_out(c);
    }
    buf_reset(&c->out);
    c->out_sent = 0;
}

/* An idle connection gives its buffers back, so it costs only its struct. */
static void conn_release_buffers(struct conn *c)
{
    struct worker *w = c->w;
    if (c->rbuf && c->rpos == c->rlen) {
        pool_put(&w->block_pool, c->rbuf);
        c->rbuf = NULL;
        c->rlen = c->rpos = 0;
    }
    if (c->out_block && !conn_has_output(c)) {
        if (c->out.is_heap)
            buf_free(&c->out);
        pool_put(&w->block_pool, c->out_block);
        c->out_block = NULL;
        buf_init(&c->out, NULL, 0, 0);
        c->out_sent = 0;
    }
}

/* The request in progress is over (answered or abandoned): its state goes back. */
static void conn_body_end(struct conn *c)
{
    router_call_free(c->body->call);
    free(c->body->head);
    pool_put(&c->w->body_pool, c->body);
    c->body = NULL;
    if (c->state == CONN_BODY || c->state == CONN_WAIT)
        c->state = CONN_HEAD;
}

/* --- opening and closing ---------------------------------------------------------------- */

bool conn_open(struct worker *w, int fd, const struct sockaddr *peer, bool is_tls)
{
    struct conn *c = pool_get(&w->conn_pool);
    if (!c) {
        close(fd);
        return false;
    }
    memset(c, 0, sizeof(*c));
    c->kind = EV_CONN;
    c->state = CONN_HEAD;
    c->keep_alive = true;
    c->writable = true;
    c->is_fresh = true;
    c->fd = fd;
    c->w = w;
    timer_init(&c->timer);
    if (peer->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)peer;
        c->peer = s6->sin6_addr;
        c->peer_port = ntohs(s6->sin6_port);
    } else if (peer->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)peer;
        c->peer.s6_addr[10] = c->peer.s6_addr[11] = 0xff;
        memcpy(&c->peer.s6_addr[12], &s4->sin_addr, 4);
        c->peer_port = ntohs(s4->sin_port);
    }
    if (is_tls) {
        c->ssl = tls_accept(w->srv->tls, fd);
        c->state = CONN_HANDSHAKE;
        if (!c->ssl) {
            log_error("new connection: out of memory for TLS");
            close(fd);
            pool_put(&w->conn_pool, c);
            return false;
        }
    }
    w->n_conns++;
    stats_add(&w->stats->connections_accepted, 1);
    stats_add(&w->stats->connections_active, 1);
    /* The first request's head must arrive within header_timeout_s of the accept. */
    timer_arm(&w->timers[CONN_TIMEOUT_HEAD], &c->timer,
              w->now_ms + (uint64_t)conn_cfg(c)->header_timeout_s * 1000);
    /* The listener defers accepting until data is there (TCP_DEFER_ACCEPT): read and
     * answer now. A connection served whole here (Connection: close) never costs an
     * epoll registration. Registering afterwards loses nothing: EPOLL_CTL_ADD reports
     * the socket's current readiness, edge-triggered or not. */
    c->readable = true;
    if (!conn_run(c))
        return true;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        log_error("new connection: %s", strerror(errno));
        conn_close(c);
    }
    return true;
}

void conn_close(struct conn *c)
{
    struct worker *w = c->w;
    bool is_waiting = c->state == CONN_WAIT;
    timer_cancel(&c->timer);
    if (c->is_ready) {
        struct conn **p = &w->ready;
        while (*p != c)
            p = &(*p)->ready_next;
        *p = c->ready_next;
        c->is_ready = false;
    }
    conn_seg_end(c);
    if (c->body && !is_waiting)
        conn_body_end(c);
    c->rpos = c->rlen; /* nothing buffered matters any more */
    c->out_sent = c->out.len;
    conn_release_buffers(c);
    if (c->ssl)
        tls_free(c->ssl);
    c->ssl = NULL;
    /* close() also removes the socket from epoll: it is the only reference. */
    close(c->fd);
    if (w->reserve_fd < 0)
        worker_refill_reserve(w);
    w->n_conns--;
    stats_sub(&w->stats->connections_active, 1);
    server_release(w->srv);
    if (is_waiting) {
        /* The store still holds a job that names c: c stays allocated, a zombie, until the
         * job comes back (conn_on_job frees it). */
        c->is_zombie = true;
        w->n_zombies++;
        return;
    }
    pool_put(&w->conn_pool, c);
}

/* An address as text; IPv4 (the common case, and a per-request one) without inet_ntop. */
static void addr_text(const struct in6_addr *a, char *out)
{
    if (!IN6_IS_ADDR_V4MAPPED(a)) {
        inet_ntop(AF_INET6, a, out, INET6_ADDRSTRLEN);
        return;
    }
    char *p = out;
    for (int i = 12; i < 16; i++) {
        unsigned v = a->s6_addr[i];
        if (v >= 100)
            *p++ = (char)('0' + v / 100);
        if (v >= 10)
            *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
        *p++ = i < 15 ? '.' : '\0';
    }
}

void conn_peer_text(const struct conn *c, char *out)
{
    addr_text(&c->peer, out);
}

/* --- responses -------------------------------------------------------------------------- */

/* Reads a small file body straight into the output buffer, so it leaves with the head. */
static bool conn_read_file(struct conn *c, const struct response *resp)
{
    /* False when it shrank or failed under us: no consistent body to send. */
    return io_pread_append(&c->out, resp->file_fd, resp->file_offset, (size_t)resp->body_length);
}

/* A header value for the log, escaped; "-" when absent. */
static size_t log_field(char *out, size_t cap, struct slice v)
{
    return v.ptr ? log_escape(out, cap, v) : log_escape(out, cap, SLICE_LIT("-"));
}

/* The first line of the next request when it arrived whole (without its CRLF), else an
 * empty slice: what a request the parser refused asked for. */
static struct slice conn_raw_line(const struct conn *c)
{
    const char *line = c->rbuf ? c->rbuf + c->rpos : NULL;
    const char *eol = line ? memchr(line, '\n', c->rlen - c->rpos) : NULL;
    if (eol && eol > line && eol[-1] == '\r')
        eol--;
    return eol ? slice_make(line, (size_t)(eol - line)) : slice_make(NULL, 0);
}

/* Fills r for req (NULL: rejected before it could be parsed) answered with status. */
static void access_rec_take(const struct conn *c, const struct request *req, int status,
                            uint64_t bytes, struct access_rec *r)
{
    const struct worker *w = c->w;
    r->status = status;
    r->bytes = bytes;
    r->start_us = w->now_us;
    memcpy(r->date, w->clf_date, sizeof(r->date));
    if (req)
        memcpy(r->peer, w->env.client_ip, sizeof(r->peer)); /* X-Forwarded-For from a trusted proxy */
    else
        conn_peer_text(c, r->peer);
    if (req) {
        char raw[REQUEST_MAX_TARGET + 32];
        int n = snprintf(raw, sizeof(raw), "%.*s %.*s HTTP/1.%d", (int)req->method_name.len,
                         req->method_name.ptr, (int)req->target.len, req->target.ptr,
                         req->version_minor);
        log_escape(r->request, sizeof(r->request), slice_make(raw, n > 0 ? (size_t)n : 0));
        log_field(r->referer, sizeof(r->referer), req->known[HDR_REFERER]);
        log_field(r->agent, sizeof(r->agent), req->known[HDR_USER_AGENT]);
    } else {
        /* Rejected by the parser: its first line, when one arrived whole, says what was
         * asked ("FOO / HTTP/1.1" answered 501), escaped like any client text. */
        const struct slice line = conn_raw_line(c);
        if (line.len > 0)
            log_escape(r->request, sizeof(r->request), line);
        else
            strcpy(r->request, "-");
        strcpy(r->referer, "-");
        strcpy(r->agent, "-");
    }
    strcpy(r->user, "-");
    if (req && w->env.user)
        log_escape(r->user, sizeof(r->user), slice_str(w->env.user));
}

/* Writes r's line with the body bytes sent, the microseconds it took and, over HTTPS, two
 * more fields: the protocol and the SNI name the client asked for. */
static void access_rec_write(const struct conn *c, const struct access_rec *r, uint64_t bytes,
                             uint64_t usec)
{
    struct worker *w = c->w;
    char line[4096];
    int n = snprintf(line, sizeof(line), "%s - %s [%s] \"%s\" %d %llu \"%s\" \"%s\" %llu\n",
                     r->peer, r->user, r->date, r->request, r->status, (unsigned long long)bytes,
                     r->referer, r->agent, (unsigned long long)usec);
    if (n > 0 && c->ssl && (size_t)n < sizeof(line)) {
        char sni[256];
        const char *name = tls_sni(c->ssl);
        log_field(sni, sizeof(sni), slice_str(name));
        int m = snprintf(line + n - 1, sizeof(line) - (size_t)n + 1, " \"%s\" \"%s\"\n",
                         tls_version(c->ssl), sni);
        n = m > 0 ? n - 1 + m : n;
    }
    if (n > 0)
        log_access(w->log, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/*
 * Appends resp to the output queue: the head, then the body unless head_only. Small
 * bodies are copied (or read, for files) into the buffer so they leave with the head and
 * with other pipelined responses; larger ones become the body segment: a file range for
 * sendfile, or shared memory (the queue takes the owner's reference) for writev.
 * False when it cannot be queued (out of memory, a file that shrank): the caller stops
 * taking requests, earlier responses are still sent, and the connection then closes.
 */
static bool conn_queue(struct conn *c, const struct request *req, struct response *resp)
{
    bool head_only = req && req->method == HTTP_HEAD;
    bool http10 = req && req->version_minor == 0;
    struct worker *w = c->w;
    if (!conn_get_out(c)) {
        response_drop_body(resp);
        return false;
    }
    /* Every response passes here, the router's and those answered before it (413, a
     * rejected request line): one place for Vary and compressing generated bodies. The
     * compressed bytes live in the compressor until the next response, and a BODY_MEM
     * body without owner is copied into c->out below. Not for a signed-in admin over
     * HTTPS: a page that mixes secrets with text others sent (submissions) would leak them
     * through its compressed length (BREACH). */
    const bool is_secret = c->ssl && req && w->env.user;
    compress_response(w->compressor, resp,
                      req ? req->known[HDR_ACCEPT_ENCODING] : (struct slice){NULL, 0},
                      conn_cfg(c)->compression && !is_secret);
    size_t mark = c->out.len;
    if (!response_write_head(&c->out, resp, w->date, c->keep_alive, http10))
        goto fail;
    uint64_t body_bytes = head_only ? 0 : resp->body_length;
    bool is_small = resp->body_length <= SMALL_BODY_BYTES;
    if (head_only || resp->body_kind == BODY_NONE) {
        /* nothing to send */
    } else if (resp->body_kind == BODY_MEM && (is_small || !resp->owner)) {
        if (!buf_append_slice(&c->out, resp->body))
            goto fail;
    } else if (resp->body_kind == BODY_MEM) {
        c->seg_kind = SEG_MEM;
        c->seg.mem.ptr = resp->body.ptr;
        c->seg.mem.owner = resp->owner;
        c->seg_left = resp->body.len;
        resp->owner = NULL;
    } else if (is_small) {
        if (!conn_read_file(c, resp))
            goto fail;
    } else {
        c->seg_kind = SEG_FILE;
        c->seg.file.fd = resp->file_fd;
        c->seg.file.off = resp->file_offset;
        c->seg_left = resp->body_length;
        resp->file_fd = -1;
    }
    response_drop_body(resp);
    /* A body segment's access.log line waits for its end (conn_seg_end). */
    const bool is_seg = c->seg_kind != SEG_NONE;
    const struct stats_event ev = {
        .status = resp->status,
        .method = req ? (unsigned)req->method : STATS_METHODS - 1,
        .bytes = is_seg ? 0 : body_bytes, /* a segment is counted as it leaves */
        .usec = monotonic_us() - w->now_us,
        .path = req && resp->status < 400 && w->env.url_path[0] ? w->env.url_path : NULL,
        .now_s = w->now_s,
    };
    stats_response(w->stats, &ev);
    if (log_access_enabled()) {
        struct access_rec now, *r = &now;
        if (is_seg && (r = malloc(sizeof(*r))) == NULL)
            r = &now; /* no memory to wait: logged now, as queued */
        access_rec_take(c, req, resp->status, body_bytes, r);
        if (r == &now)
            access_rec_write(c, r, body_bytes, ev.usec);
        else
            c->seg_log = r;
    }
    return true;
fail:
    c->out.len = mark;
    response_drop_body(resp);
    return false;
}

/* Answers a request the parser rejected: the error page, then close (lingering). */
static void conn_reject(struct conn *c, int status, const char *reason)
{
    struct worker *w = c->w;
    char peer[INET6_ADDRSTRLEN];
    conn_peer_text(c, peer);
    log_rejected(&w->reject_limit, (uint64_t)w->now_s, peer, status, reason);
    struct response *resp = &w->resp;
    response_init(resp, w->resp_headers, sizeof(w->resp_headers));
    /* The API answers errors in JSON (SPEC §2), even before its request could be parsed. */
    const struct slice line = conn_raw_line(c);
    const char *target = line.len ? memchr(line.ptr, ' ', line.len) : NULL;
    const size_t left = target ? line.len - (size_t)(target - line.ptr) : 0;
    if (left >= 6 && memcmp(target, " /api/", 6) == 0)
        response_error_json(resp, status);
    else
        response_error(resp, status);
    c->keep_alive = false;
    c->state = CONN_LINGER;
    conn_queue(c, NULL, resp);
}

/*
 * Keeps what a request needs across events: its body progress, its route call (NULL: the
 * body is only discarded) and, for a call, a copy of its head (the read buffer moves on).
 * False when there is no memory for it.
 */
static bool conn_body_start(struct conn *c, const struct request *req, struct route_call *call)
{
    struct conn_body *b = pool_get(&c->w->body_pool);
    if (!b)
        return false;
    memset(b, 0, sizeof(*b));
    b->left = req->chunked ? 0 : req->content_length;
    b->started_ms = c->w->now_ms;
    b->is_chunked = req->chunked;
    chunked_init(&b->chunked);
    if (call) {
        b->head = malloc(req->head_len);
        if (!b->head) {
            pool_put(&c->w->body_pool, b);
            return false;
        }
        /* The head ends where the body starts: rpos already points past it. */
        memcpy(b->head, c->rbuf + c->rpos - req->head_len, req->head_len);
        b->head_len = req->head_len;
        b->call = call;
    }
    c->body = b;
    return true;
}

/* The request again, from the copy of its head, into the worker's struct request. */
static const struct request *conn_body_request(struct conn *c)
{
    size_t scan = 0;
    struct request_error err;
    enum request_status st =
        request_parse(c->body->head, c->body->head_len, c->body->head_len, &scan, &c->w->req, &err);
    assert(st == REQUEST_DONE); /* it parsed before, byte for byte */
    (void)st;
    return &c->w->req;
}

static bool in_net(const struct in6_addr *a, const struct config_net *n)
{
    unsigned bits = n->prefix;
    for (unsigned i = 0; i < 16 && bits > 0; i++, bits = bits > 8 ? bits - 8 : 0) {
        unsigned char mask = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
        if ((a->s6_addr[i] & mask) != (n->addr.s6_addr[i] & mask))
            return false;
    }
    return true;
}

static bool trusted(const struct config *cfg, const struct in6_addr *a)
{
    for (size_t i = 0; i < cfg->n_trusted_proxies; i++)
        if (in_net(a, &cfg->trusted_proxies[i]))
            return true;
    return false;
}

/* An address from X-Forwarded-For text, as the connection keeps peers (v4-mapped). */
static bool parse_addr(struct slice s, struct in6_addr *out)
{
    char text[INET6_ADDRSTRLEN];
    s = slice_trim(s);
    if (s.len == 0 || s.len >= sizeof(text))
        return false;
    memcpy(text, s.ptr, s.len);
    text[s.len] = '\0';
    struct in_addr v4;
    if (inet_pton(AF_INET, text, &v4) == 1) {
        memset(out, 0, sizeof(*out));
        out->s6_addr[10] = out->s6_addr[11] = 0xff;
        memcpy(&out->s6_addr[12], &v4, 4);
        return true;
    }
    return inet_pton(AF_INET6, text, out) == 1;
}

/*
 * The client's address: the peer's, unless the peer is a trusted proxy. Then it is the
 * rightmost X-Forwarded-For entry that is not itself a trusted proxy (each proxy appends
 * the address it received from; only the ones we trust can be believed), stopping at the
 * first entry that is no address.
 */
static void client_address(const struct conn *c, const struct request *req, char *out)
{
    const struct config *cfg = conn_cfg(c);
    struct in6_addr who = c->peer;
    if (req && cfg->n_trusted_proxies && trusted(cfg, &who)) {
        for (int h = (int)req->n_headers - 1; h >= 0; h--) {
            if (!slice_case_eq(req->headers[h].name, SLICE_LIT("X-Forwarded-For")))
                continue;
            struct slice v = req->headers[h].value;
            bool more = true;
            while (more && v.len > 0) {
                const char *comma = memrchr(v.ptr, ',', v.len);
                struct slice item =
                    comma ? slice_make(comma + 1, v.len - (size_t)(comma + 1 - v.ptr)) : v;
                v.len = comma ? (size_t)(comma - v.ptr) : 0;
                struct in6_addr a;
                if (!parse_addr(item, &a))
                    goto done;
                who = a;
                more = trusted(cfg, &a);
            }
            if (!more)
                break;
        }
    }
done:
    addr_text(&who, out);
}

/* env->local_addr: getsockname on the request's connection (env->owner). */
static bool local_addr(const struct env *env, char *out, size_t cap)
{
    const struct conn *c = env->owner;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (cap < INET6_ADDRSTRLEN + 2 || getsockname(c->fd, (struct sockaddr *)&ss, &len) != 0)
        return false;
    struct in6_addr a = {0};
    if (ss.ss_family == AF_INET6) {
        a = ((struct sockaddr_in6 *)&ss)->sin6_addr;
    } else if (ss.ss_family == AF_INET) {
        a.s6_addr[10] = a.s6_addr[11] = 0xff;
        memcpy(&a.s6_addr[12], &((struct sockaddr_in *)&ss)->sin_addr, 4);
    } else {
        return false;
    }
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
        addr_text(&a, out);
    } else {
        out[0] = '[';
        addr_text(&a, out + 1);
        size_t n = strlen(out);
        out[n] = ']';
        out[n + 1] = '\0';
    }
    return true;
}

/* Fresh per-request state in the worker's env and response. */
static struct response *conn_prepare(struct conn *c, const struct request *req)
{
    struct worker *w = c->w;
    struct response *resp = &w->resp;
    response_init(resp, w->resp_headers, sizeof(w->resp_headers));
    buf_trim(&w->scratch, SCRATCH_KEEP_BYTES);
    w->env.now_ms = w->now_ms;
    w->env.now = w->now_s;
    client_address(c, req, w->env.client_ip);
    w->env.url_path[0] = '\0';
    w->env.user = NULL;
    w->env.auth_rejected = false;
    w->env.form = w->env.files = NULL;
    w->env.owner = c;
    w->env.local_addr = local_addr;
    w->env.is_tls = c->ssl != NULL;
    /* One site per request: a reload in between changes the next request, not this one. */
    const struct site *site = server_site(w->srv);
    w->env.cfg = site->cfg;
    w->env.root_fd = site->root_fd;
    w->env.templates_fd = site->templates_fd;
    w->env.cache = site->cache;
    w->env.auth = site->auth;
    long hsts = conn_cfg(c)->tls.hsts_max_age;
    if (c->ssl && hsts > 0)
        response_headerf(resp, "Strict-Transport-Security", "max-age=%ld", hsts);
    return resp;
}

/*
 * Queues the final response to req. Whether the connection stays open follows the
 * request, the response and the server's state; a body left unread means closing, after
 * draining what the client sends meanwhile (never taking it for the next request).
 */
static void conn_respond(struct conn *c, const struct request *req, struct response *resp,
                         bool body_unread)
{
    c->keep_alive = req->keep_alive && !resp->close && !c->w->stopping && !body_unread;
    if (body_unread)
        c->state = CONN_LINGER;
    if (!conn_queue(c, req, resp))
        c->keep_alive = false;
}

/* The route went to wait for the store; the head is kept for the resumption. Without
 * memory for that, the connection ends: it stays a zombie until the job is back. */
static void conn_wait(struct conn *c, const struct request *req, struct route_call *call)
{
    bool ok = c->body || conn_body_start(c, req, call);
    c->state = CONN_WAIT;
    if (!ok)
        conn_close(c);
}

/* A form body is complete: the route's handler runs. */
static void conn_body_complete(struct conn *c)
{
    const struct request *req = conn_body_request(c);
    struct response *resp = conn_prepare(c, req);
    enum router_step step = router_finish(&c->w->env, req, resp, c->body->call);
    if (step == ROUTER_ASYNC) {
        c->state = CONN_WAIT;
        return;
    }
    conn_respond(c, req, resp, false); /* before the head (req's bytes) is freed */
    conn_body_end(c);
}

/* The request body cannot go on (why): logged; a route's request not answered yet is
 * answered with status; then the connection ends. */
static void conn_body_fail(struct conn *c, int status, const char *why)
{
    char peer[INET6_ADDRSTRLEN];
    conn_peer_text(c, peer);
    log_info("%s: closing: %s", peer, why);
    if (c->body->call) {
        const struct request *req = conn_body_request(c);
        struct response *resp = conn_prepare(c, req);
        response_error(resp, status);
        conn_respond(c, req, resp, true);
        conn_body_end(c);
    } else {
        conn_body_end(c); /* discarded: its response was already queued */
        c->keep_alive = false;
        c->state = CONN_LINGER;
    }
}

/*
 * Consumes body bytes from the read buffer: fed to the route call (decoded) or thrown away.
 * STEP_ANSWERED when the body is complete (the next request may follow), STEP_NEED_MORE,
 * or STEP_STOP when the connection must end: bad chunked framing, a body over
 * max_body_bytes, a body the route refuses, or one arriving slower than body_min_rate
 * (averaged from 10 s after it started). A route's refusal is answered; for a discarded
 * body the response was already queued, so the connection just ends.
 */
static enum step conn_body_read(struct conn *c)
{
    const struct config *cfg = conn_cfg(c);
    struct conn_body *b = c->body;
    size_t avail = c->rlen - c->rpos;
    const char *why = NULL;
    int status = 0;
    bool done;
    const char *data = c->rbuf + c->rpos;
    size_t data_len, used;
    if (b->is_chunked) {
        struct request_error err;
        enum chunked_status st = chunked_decode(&b->chunked, c->rbuf + c->rpos, avail,
                                                cfg->max_body_bytes, &used, &data_len, &err);
        done = st == CHUNKED_DONE;
        if (st == CHUNKED_ERROR) {
            why = err.reason;
            status = err.status;
        }
    } else {
        used = data_len = avail < b->left ? avail : (size_t)b->left;
        b->left -= used;
        done = b->left == 0;
    }
    c->rpos += (uint32_t)used;
    b->received += used;
    if (!why && b->call && data_len > 0 && (status = router_body(b->call, data, data_len)) != 0)
        why = "request body refused";
    uint64_t elapsed_ms = c->w->now_ms - b->started_ms;
    if (!why && !done && cfg->body_min_rate > 0 && elapsed_ms >= 10000 &&
        b->received * 1000 < (uint64_t)cfg->body_min_rate * elapsed_ms) {
        why = "request body slower than body_min_rate";
        status = 408;
    }
    if (why) {
        conn_body_fail(c, status ? status : 400, why);
        return STEP_STOP;
    }
    if (!done)
        return STEP_NEED_MORE;
    timer_cancel(&c->timer);
    if (b->call) {
        conn_body_complete(c);
        return c->state == CONN_WAIT || !c->keep_alive ? STEP_STOP : STEP_ANSWERED;
    }
    conn_body_end(c);
    return STEP_ANSWERED;
}

/* The store finished a job for a request of c (or of c's zombie). */
void conn_on_job(struct conn *c, struct store_job *job)
{
    struct worker *w = c->w;
    if (c->is_zombie) {
        /* The client left while we waited: the job goes with its call. */
        router_abandon(job);
        if (c->body) {
            free(c->body->head);
            pool_put(&w->body_pool, c->body);
        }
        w->n_zombies--;
        pool_put(&w->conn_pool, c);
        return;
    }
    const struct request *req = conn_body_request(c);
    struct response *resp = conn_prepare(c, req);
    router_resume(&w->env, req, resp, c->body->call, job);
    timer_cancel(&c->timer);
    conn_respond(c, req, resp, false); /* before the head (req's bytes) is freed */
    conn_body_end(c);
    conn_run(c);
}

/* Routes a complete request: answers it now, or starts reading its body, or waits. */
static void conn_answer(struct conn *c, const struct request *req)
{
    const struct config *cfg = conn_cfg(c);
    struct response *resp = conn_prepare(c, req);
    bool has_body = req->chunked || (req->has_content_length && req->content_length > 0);
    struct route_call *call = NULL;
    enum router_step step = ROUTER_DONE;
    if (req->has_content_length && req->content_length > cfg->max_body_bytes) {
        response_error(resp, 413);
        resp->close = true;
    } else {
        step = router_begin(&c->w->env, req, resp, &call);
    }

    if (step == ROUTER_BODY && has_body) {
        if (!conn_body_start(c, req, call)) {
            router_call_free(call);
            response_error(resp, 503);
            conn_respond(c, req, resp, true);
            return;
        }
        c->state = CONN_BODY;
        /* RFC 9110 §10.1.1: the client waits for this before sending the body we want. */
        if (req->expect_continue && conn_get_out(c) &&
            !buf_append_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n"))
            c->keep_alive = false;
        return;
    }
    if (step == ROUTER_BODY)
        step = router_finish(&c->w->env, req, resp, call); /* an empty form */
    if (step == ROUTER_ASYNC) {
        conn_wait(c, req, call);
        return;
    }
    router_call_free(call);
    if (has_body && !resp->close && !req->expect_continue && req->keep_alive && !c->w->stopping &&
        conn_body_start(c, req, NULL)) {
        c->state = CONN_BODY; /* discarded behind the response */
        conn_respond(c, req, resp, false);
        return;
    }
    /* A body we will not read must never be taken for the next request. With
     * Expect: 100-continue the client waits for our word and we send no 100 for a body
     * nobody reads (RFC 9110 §10.1.1): answer, close, and drain meanwhile. */
    conn_respond(c, req, resp, has_body);
}

/* Takes the next request from the read buffer, or discards body bytes ahead of it. */
static enum step conn_next_request(struct conn *c)
{
    struct worker *w = c->w;
    if (c->state == CONN_WAIT)
        return STEP_NEED_MORE; /* pipelined requests wait their turn */
    if (c->state == CONN_BODY) {
        enum step s = conn_body_read(c);
        if (s != STEP_ANSWERED)
            return s;
    }
    if (c->rpos == c->rlen)
        return STEP_NEED_MORE;

    struct request_error err;
    enum request_status st = request_parse(c->rbuf + c->rpos, c->rlen - c->rpos,
                                           conn_cfg(c)->max_header_bytes, &c->scan, &w->req, &err);
    if (st == REQUEST_NEED_MORE)
        return STEP_NEED_MORE;
    c->is_fresh = false;
    if (st == REQUEST_ERROR) {
        conn_reject(c, err.status, err.reason);
        return STEP_STOP;
    }
    /* The head is complete: its deadline no longer applies. The request's slices stay
     * valid while it is answered: the buffer is only compacted before the next read. */
    timer_cancel(&c->timer);
    c->rpos += (uint32_t)w->req.head_len;
    c->scan = 0;
    conn_answer(c, &w->req);
    return c->keep_alive && c->state != CONN_WAIT ? STEP_ANSWERED : STEP_STOP;
}

/* --- I/O -------------------------------------------------------------------------------- */

/* Sends out's bytes and shared memory after them, together, with writev. */
static enum io_result conn_flush_mem(struct conn *c, bool *progress)
{
    while (c->seg_left > 0) {
        struct iovec iov[2];
        int n_iov = 0;
        size_t pending = c->out.len - c->out_sent;
        if (pending > 0)
            iov[n_iov++] = (struct iovec){c->out.data + c->out_sent, pending};
        iov[n_iov++] = (struct iovec){(void *)c->seg.mem.ptr, (size_t)c->seg_left};
        size_t n;
        enum io_result r = transport_writev(c->fd, iov, n_iov, &n);
        if (r != IO_OK)
            return r;
        *progress = true;
        size_t from_out = n < pending ? n : pending;
        c->out_sent += from_out;
        c->seg.mem.ptr += n - from_out;
        conn_seg_sent(c, n - from_out);
    }
    return IO_OK;
}

/*
 * Over TLS: out's bytes, then the segment, with SSL_write (OpenSSL has no writev). A file
 * goes with SSL_sendfile when the kernel does the encryption (kTLS); otherwise it is read
 * into the emptied output buffer a block at a time and written from there.
 */
static enum io_result conn_flush_tls(struct conn *c, bool *progress)
{
    for (;;) {
        while (c->out_sent < c->out.len) {
            size_t n;
            enum io_result r =
                tls_send(c->ssl, c->out.data + c->out_sent, c->out.len - c->out_sent, &n);
            if (r != IO_OK)
                return r;
            c->out_sent += n;
            *progress = true;
        }
        if (c->seg_left == 0)
            return IO_OK;
        size_t n;
        if (c->seg_kind == SEG_MEM) {
            enum io_result r = tls_send(c->ssl, c->seg.mem.ptr, (size_t)c->seg_left, &n);
            if (r != IO_OK)
                return r;
            c->seg.mem.ptr += n;
            conn_seg_sent(c, n);
        } else if (tls_can_sendfile(c->ssl)) {
            size_t chunk = c->seg_left < SENDFILE_CHUNK ? (size_t)c->seg_left : SENDFILE_CHUNK;
            enum io_result r = tls_sendfile(c->ssl, c->seg.file.fd, &c->seg.file.off, chunk, &n);
            if (r != IO_OK)
                return r;
            conn_seg_sent(c, n);
        } else {
            conn_reset_out(c);
            size_t chunk = c->seg_left < c->out.cap ? (size_t)c->seg_left : c->out.cap;
            ssize_t got = pread(c->seg.file.fd, c->out.data, chunk, (off_t)c->seg.file.off);
            if (got <= 0) {
                errno = got < 0 ? errno : ENODATA; /* the file shrank mid-send */
                return IO_ERROR;
            }
            c->out.len = (size_t)got;
            c->seg.file.off += (uint64_t)got;
            conn_seg_sent(c, (uint64_t)got); /* in out: as good as sent, but for one block */
        }
        *progress = true;
    }
}

static enum io_result conn_flush(struct conn *c, bool *progress)
{
    if (c->ssl) {
        enum io_result r = conn_flush_tls(c, progress);
        if (r != IO_OK)
            return r;
        conn_seg_end(c);
        conn_reset_out(c);
        return IO_OK;
    }
    if (c->seg_kind == SEG_MEM) {
        enum io_result r = conn_flush_mem(c, progress);
        if (r != IO_OK)
            return r;
    }
    while (c->out_sent < c->out.len) {
        size_t n;
        enum io_result r = transport_send(c->fd, c->out.data + c->out_sent,
                                          c->out.len - c->out_sent, c->seg_left > 0, &n);
        if (r != IO_OK)
            return r;
        c->out_sent += n;
        *progress = true;
    }
    while (c->seg_kind == SEG_FILE && c->seg_left > 0) {
        size_t chunk = c->seg_left < SENDFILE_CHUNK ? (size_t)c->seg_left : SENDFILE_CHUNK;
        size_t n;
        enum io_result r = transport_sendfile(c->fd, c->seg.file.fd, &c->seg.file.off, chunk, &n);
        if (r != IO_OK)
            return r; /* ENODATA: the file shrank mid-send; the connection closes */
        conn_seg_sent(c, n);
        *progress = true;
    }
    conn_seg_end(c);
    conn_reset_out(c);
    return IO_OK;
}

static enum io_result conn_read(struct conn *c)
{
    if (!conn_get_rbuf(c)) {
        errno = ENOMEM;
        return IO_ERROR;
    }
    size_t cap = c->w->block_bytes;
    if (c->rpos == c->rlen) {
        c->rpos = c->rlen = 0;
    } else if (c->rpos > 0 && c->rlen == cap) {
        /* Move the partial request to the front so the whole buffer is available to it. */
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    if (c->rlen == cap) {
        /* Cannot happen while blocks hold max_header_bytes (the parser answers 431 first);
         * never call recv with no room, which would look like the peer closing. */
        errno = ENOBUFS;
        return IO_ERROR;
    }
    size_t n, room = cap - c->rlen;
    if (c->ssl) {
        /* OpenSSL may hold decrypted bytes the socket no longer has: read until IO_AGAIN. */
        enum io_result r = tls_recv(c->ssl, c->rbuf + c->rlen, room, &n);
        if (r == IO_OK)
            c->rlen += (uint32_t)n;
        return r;
    }
    enum io_result r = transport_recv(c->fd, c->rbuf + c->rlen, room, &n);
    if (r == IO_OK) {
        c->rlen += (uint32_t)n;
        /* A short read emptied the socket: the next segment raises a new edge, so the
         * recv that would only say EAGAIN is skipped. Not after EPOLLRDHUP: the end of
         * the stream raises no further edge and must be read to be seen. */
        if (n < room && !c->is_hup)
            c->readable = false;
    }
    return r;
}

/* --- the loop --------------------------------------------------------------------------- */

/* No more requests on this connection and its output is sent: close it, or shut the write
 * side and drain input first when the client may still be sending (RFC 9112 §9.6). */
static bool conn_finish(struct conn *c)
{
    /* TLS ends with close_notify (tls_free), not a lingering half-close. */
    if (c->state != CONN_LINGER || c->peer_closed || c->ssl) {
        conn_close(c);
        return true;
    }
    if (shutdown(c->fd, SHUT_WR) != 0) {
        conn_close(c);
        return true;
    }
    c->is_shut = true;
    c->rpos = c->rlen;
    conn_release_buffers(c);
    timer_arm(&c->w->timers[CONN_TIMEOUT_LINGER], &c->timer, c->w->now_ms + LINGER_MS);
    return false;
}

/* Arms the timer for what c now waits for. */
static void conn_set_timer(struct conn *c, bool progress)
{
    struct worker *w = c->w;
    const struct config *cfg = conn_cfg(c);
    if (conn_has_output(c)) {
        if (progress || c->timer.list != &w->timers[CONN_TIMEOUT_SEND])
            timer_arm(&w->timers[CONN_TIMEOUT_SEND], &c->timer,
                      w->now_ms + (uint64_t)cfg->send_timeout_s * 1000);
    } else if (c->state == CONN_LINGER) {
        if (c->timer.list != &w->timers[CONN_TIMEOUT_LINGER])
            timer_arm(&w->timers[CONN_TIMEOUT_LINGER], &c->timer, w->now_ms + LINGER_MS);
    } else if (c->state == CONN_WAIT) {
        if (c->timer.list != &w->timers[CONN_TIMEOUT_WAIT])
            timer_arm(&w->timers[CONN_TIMEOUT_WAIT], &c->timer, w->now_ms + WAIT_MS);
    } else if (c->state == CONN_BODY) {
        if (progress || c->timer.list != &w->timers[CONN_TIMEOUT_BODY])
            timer_arm(&w->timers[CONN_TIMEOUT_BODY], &c->timer,
                      w->now_ms + (uint64_t)cfg->body_timeout_s * 1000);
    } else if (c->rpos < c->rlen || c->is_fresh) {
        /* The head deadline runs from its first byte, however the rest trickles in. */
        if (c->timer.list != &w->timers[CONN_TIMEOUT_HEAD])
            timer_arm(&w->timers[CONN_TIMEOUT_HEAD], &c->timer,
                      w->now_ms + (uint64_t)cfg->header_timeout_s * 1000);
    } else {
        conn_release_buffers(c);
        if (c->timer.list != &w->timers[CONN_TIMEOUT_IDLE])
            timer_arm(&w->timers[CONN_TIMEOUT_IDLE], &c->timer,
                      w->now_ms + (uint64_t)cfg->keepalive_timeout_s * 1000);
    }
}

/*
 * Plain HTTP sent to the HTTPS port (a TLS record starts with byte 0x16, a request with a
 * method name): answer in plain HTTP what went wrong, as nginx does, instead of a reset.
 * True when that happened (c is closed).
 */
static bool conn_plain_on_tls(struct conn *c)
{
    char peek[8];
    ssize_t n = recv(c->fd, peek, sizeof(peek), MSG_PEEK | MSG_DONTWAIT);
    if (n < 5)
        return false;
    for (ssize_t i = 0; i < n && peek[i] != ' '; i++)
        if (peek[i] < 'A' || peek[i] > 'Z')
            return false;
    /* Through the usual head (Date, Server, nosniff …), written in one send. */
    struct worker *w = c->w;
    struct response *resp = &w->resp;
    response_init(resp, w->resp_headers, sizeof(w->resp_headers));
    resp->status = 400;
    response_set_body(resp, "text/plain; charset=utf-8",
                      SLICE_LIT("This port speaks HTTPS: use an https:// URL\n"));
    char storage[1024];
    struct buf out;
    buf_init(&out, storage, sizeof(storage), sizeof(storage));
    if (response_write_head(&out, resp, w->date, false, false) &&
        buf_append_slice(&out, resp->body) &&
        send(c->fd, out.data, out.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* A fresh socket's buffer takes this; if not, the close says enough. */
    }
    response_drop_body(resp);
    /* Drain what the client sent so the close is a FIN, not a reset. */
    char sink[4096];
    while (recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0) {
    }
    shutdown(c->fd, SHUT_WR);
    tls_free(c->ssl);
    c->ssl = NULL;
    conn_close(c);
    return true;
}

/* Drives the TLS handshake. True when it is done and requests may follow; false when
 * it waits for the socket (or failed: then c is closed and *closed set). */
static bool conn_handshake(struct conn *c, bool *closed)
{
    if (c->is_fresh && conn_plain_on_tls(c)) {
        *closed = true;
        return false;
    }
    bool want_write;
    enum io_result r = tls_handshake(c->ssl, &want_write);
    if (r == IO_OK) {
        c->state = CONN_HEAD;
        return true;
    }
    if (r == IO_AGAIN) {
        if (want_write)
            c->writable = false;
        else
            c->readable = false;
        return false;
    }
    if (r == IO_ERROR && log_enabled(LOG_INFO)) {
        char peer[INET6_ADDRSTRLEN];
        conn_peer_text(c, peer);
        log_info("%s: TLS handshake failed", peer);
    }
    conn_close(c);
    *closed = true;
    return false;
}

/* Does all c can do now. False when c was closed. */
static bool conn_run(struct conn *c)
{
    unsigned budget = RUN_BUDGET;
    bool progress = false;
    size_t lingered = 0;
    if (c->state == CONN_HANDSHAKE) {
        bool closed = false;
        if (!conn_handshake(c, &closed)) {
            if (closed)
                return false;
            conn_set_timer(c, false);
            return true;
        }
    }
    for (;;) {
        /* 1. Answer what is buffered, batching the responses. */
        /* Not while a body segment is open: over TLS its last block may still be in out
         * (seg_left 0), and the next response must not take its place. */
        while (c->keep_alive && c->seg_kind == SEG_NONE && c->out.len < BATCH_BYTES &&
               budget > 0) {
            enum step s = conn_next_request(c);
            if (s == STEP_NEED_MORE)
                break;
            budget--;
            if (s == STEP_STOP)
                break;
        }
        /* 2. Send. */
        if (conn_has_output(c)) {
            if (!c->writable)
                break;
            enum io_result r = conn_flush(c, &progress);
            if (r == IO_AGAIN) {
                c->writable = false;
                break;
            }
            if (r != IO_OK) {
                conn_close(c);
                return false;
            }
            /* Shutting down: this response was the connection's last. */
            if (c->w->stopping)
                c->keep_alive = false;
            if (!c->keep_alive && !c->is_shut && conn_finish(c))
                return false;
            continue; /* requests may be waiting in the buffer behind the one just sent */
        }
        if (!c->keep_alive && !c->is_shut && conn_finish(c))
            return false;
        if (budget == 0) {
            worker_defer(c->w, c);
            break;
        }
        /* 3. Read. */
        if (c->state == CONN_WAIT)
            break; /* no more input until the store answers */
        if (c->peer_closed) {
            conn_close(c);
            return false;
        }
        if (!c->readable)
            break;
        enum io_result r = conn_read(c);
        budget--;
        if (r == IO_AGAIN) {
            c->readable = false;
            break;
        }
        if (r == IO_CLOSED) {
            c->peer_closed = true;
            continue;
        }
        if (r != IO_OK) {
            conn_close(c);
            return false;
        }
        progress = true;
        if (c->state == CONN_LINGER) {
            lingered += c->rlen;
            c->rpos = c->rlen;
            if (lingered > LINGER_BYTES) {
                conn_close(c);
                return false;
            }
        }
    }
    conn_set_timer(c, progress);
    return true;
}

void conn_on_event(struct conn *c, uint32_t events)
{
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->readable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->is_hup = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        c->writable = true;
    conn_run(c);
}

void conn_resume(struct conn *c)
{
    conn_run(c);
}

void conn_on_timeout(struct conn *c, enum conn_timeout kind)
{
    if (kind == CONN_TIMEOUT_HEAD && c->rpos < c->rlen && !conn_has_output(c)) {
        /* Part of a head arrived, too slowly: say so before closing (RFC 9110 §15.5.9). */
        conn_reject(c, 408, "request head timeout");
        c->writable = true;
        conn_run(c);
        return;
    }
    if (kind == CONN_TIMEOUT_BODY && c->state == CONN_BODY && c->body && c->body->call) {
        /* The body of a request not answered yet stopped coming: say so, as above. */
        conn_body_fail(c, 408, "request body timeout");
        c->writable = true;
        conn_run(c);
        return;
    }
    if (kind == CONN_TIMEOUT_BODY) {
        char peer[INET6_ADDRSTRLEN];
        conn_peer_text(c, peer);
        log_info("%s: closing: request body timeout", peer); /* a discarded body */
    }
    conn_close(c);
}

void conn_drain(struct conn *c)
{
    if (!conn_has_output(c) && c->rpos == c->rlen && !c->is_fresh && c->state == CONN_HEAD)
        conn_close(c);
}
