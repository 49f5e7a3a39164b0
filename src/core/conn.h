/* SPDX-License-Identifier: MIT */
/*
 * One client connection: an explicit state machine over a non-blocking socket.
 *
 * The input side is in one of these states:
 *   CONN_HANDSHAKE  HTTPS only: the TLS handshake, bounded by the head deadline;
 *   CONN_HEAD   waiting for, or reading, a request head (no bytes yet after a response
 *               means keep-alive idle: the read buffer is then given back to the pool);
 *   CONN_BODY   reading a request body (Content-Length or chunked); handlers that do not
 *               use it have already answered, and it is discarded within max_body_bytes,
 *               at no less than body_min_rate bytes/s once 10 s have passed;
 *   CONN_WAIT   the request's handler waits for the store (a form being committed, a
 *               query); nothing more is read until the job is back;
 *   CONN_LINGER an error was answered and the write side shut: input is drained until the
 *               peer closes or a short timeout, so the response is not lost to a reset.
 * Independently, the output queue holds response bytes (out) and at most one body segment
 * after them: a file range (sendfile) or shared memory (writev with out). While output is pending
 * no new request is parsed, so responses leave in request order; complete pipelined requests
 * already buffered are answered together and their responses go out in one send.
 *
 * Every connection that is waiting is armed on exactly one of its worker's timer lists,
 * chosen by what it waits for: the head deadline, keep-alive idle, body, send, linger.
 */
#ifndef MICA_CORE_CONN_H
#define MICA_CORE_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/timer.h"
#include "http/body.h"
#include "util/ref.h"
#include "util/buf.h"

struct worker;

struct route_call;
struct store_job;
typedef struct ssl_st SSL;

/* A request in progress across events: its body being read (and fed to its route call, or
 * discarded), or its wait for the store. Allocated only meanwhile, so idle and simple
 * connections do not carry it. */
struct conn_body {
    uint64_t left;       /* Content-Length bytes still to come (not chunked) */
    uint64_t received;   /* bytes received so far, framing included, for the rate */
    uint64_t started_ms; /* when the body started */
    bool is_chunked;
    struct chunked chunked;
    struct route_call *call; /* the route reading the body or waiting; NULL: discard */
    char *head;              /* a copy of the request head (with a call), parsed again */
    size_t head_len;
};

enum conn_state { CONN_HANDSHAKE, CONN_HEAD, CONN_BODY, CONN_WAIT, CONN_LINGER };

enum seg_kind { SEG_NONE, SEG_FILE, SEG_MEM };

/* Which of the worker's timer lists expired. */
enum conn_timeout {
    CONN_TIMEOUT_HEAD,
    CONN_TIMEOUT_IDLE,
    CONN_TIMEOUT_BODY,
    CONN_TIMEOUT_SEND,
    CONN_TIMEOUT_LINGER,
    CONN_TIMEOUT_WAIT,
    CONN_TIMEOUT_COUNT
};

struct conn {
    uint8_t kind;  /* EV_CONN (worker.h) */
    uint8_t state; /* enum conn_state */
    bool readable; /* edge-triggered readiness not yet used up */
    bool writable;
    bool keep_alive;  /* the connection stays open after the queued responses */
    bool peer_closed; /* recv saw the end of the stream */
    bool is_ready;    /* on the worker's ready list */
    bool is_fresh;    /* no request received yet */
    bool is_shut;     /* our write side is shut (lingering) */
    bool is_hup;      /* epoll reported the peer's end of stream (or an error) */
    bool is_zombie;   /* closed while waiting for the store: freed when the job is back */
    uint8_t seg_kind; /* enum seg_kind */
    int fd;
    struct worker *w; /* borrowed: the owner */
    SSL *ssl;         /* HTTPS: the TLS state (owned); NULL for plain HTTP */
    struct conn *ready_next;
    struct timer timer;

    char *rbuf;             /* pool block of w->block_bytes, NULL while idle */
    uint32_t rlen;          /* bytes in rbuf */
    uint32_t rpos;          /* start of the next request */
    size_t scan;            /* request_parse's progress within the next request */
    struct conn_body *body; /* while in CONN_BODY, from the worker's pool */

    struct buf out;  /* response bytes; starts on out_block, may move to the heap */
    char *out_block; /* pool block, NULL while idle */
    size_t out_sent;
    /* The body segment sent after out: a file range, or shared memory. */
    union {
        struct {
            int fd;
            uint64_t off;
        } file;
        struct {
            const char *ptr;
            struct ref *owner;
        } mem;
    } seg;
    uint64_t seg_left;          /* bytes of the segment still to send */
    struct access_rec *seg_log; /* its access.log line, written when it ends (or NULL) */

    struct in6_addr peer; /* IPv4 peers as v4-mapped addresses */
    uint16_t peer_port;
};

/* Takes over an accepted, non-blocking socket (from the HTTPS listener when is_tls).
 * Returns false (fd closed) on failure. */
bool conn_open(struct worker *w, int fd, const struct sockaddr *peer, bool is_tls);

/* Handles epoll events for c. */
void conn_on_event(struct conn *c, uint32_t events);

/* Runs c again (it yielded its turn before). */
void conn_resume(struct conn *c);

/* A timer of c expired. */
void conn_on_timeout(struct conn *c, enum conn_timeout kind);

/* The store finished job, for c's request (c may be a zombie). */
void conn_on_job(struct conn *c, struct store_job *job);

/* Shutdown: closes c if it is idle between requests (a fresh connection is not: its
 * first request may be on its way); otherwise it closes after its current response. */
void conn_drain(struct conn *c);

/* Closes the socket and returns c to its worker's pool. */
void conn_close(struct conn *c);

/* The peer address as text ("192.0.2.1", "2001:db8::1"); out must hold INET6_ADDRSTRLEN. */
void conn_peer_text(const struct conn *c, char *out);

#endif
