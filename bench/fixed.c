// SPDX-License-Identifier: MIT
// fixed: the "physical limit" reference for `make bench` (issue 8).
//
// A minimal single-threaded epoll HTTP/1.1 server that answers every request head it finds
// ("\r\n\r\n"-terminated; several per read when pipelined) with the same 1 KiB response held
// in memory, and keeps connections alive, except after a head that holds "Connection: close",
// which gets the same response with "Connection: close" and then the connection is closed (as
// wrk -H "Connection: close" needs). It accepts a connection once its first bytes are there
// (TCP_DEFER_ACCEPT) and answers it at once, so a one-request connection costs accept4, read,
// write and close and no epoll registration. No parsing, no files, no logging: whatever a
// real server spends beyond this is its own overhead.
//
//   cc -O2 -std=c11 -pthread -o build/bench/fixed bench/fixed.c
//   fixed [PORT [THREADS]]   listens on 127.0.0.1:PORT (default 0 = any free port) with THREADS
//                            threads (default 1), each with its own epoll loop and its own
//                            SO_REUSEPORT listening socket, and prints
//                            "fixed listening on http://127.0.0.1:PORT (N threads)" like mica does.
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define BODY_LEN 1024
#define IN_CAP 8192
#define MAX_FDS 65536
#define IOV_MAX_BATCH 64

struct conn {
    size_t inlen;     // bytes buffered in in[]
    size_t pending;   // responses still to send
    size_t off;       // bytes of the first pending response already sent
    int want_out;     // EPOLLOUT registered
    int closing;      // a "Connection: close" head was read: its response is last, then close
    char in[IN_CAP];
};

static char resp[512 + BODY_LEN], resp_close[512 + BODY_LEN];
static size_t resp_len, resp_close_len;
static struct conn *conns[MAX_FDS];   // by fd: fds are unique across the threads
static _Thread_local int ep;          // each thread's own epoll

static void conn_close(int fd)
{
    close(fd); // also takes it out of the epoll set
    free(conns[fd]);
    conns[fd] = NULL;
}

static void set_out(int fd, struct conn *c, int want)
{
    if (c->want_out == want)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
    c->want_out = want;
}

// After a failed write: 0 to wait for EPOLLOUT, 1 to try again (EINTR), -1 to close.
static int write_failed(int fd, struct conn *c)
{
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        set_out(fd, c, 1);
        return 0;
    }
    return errno == EINTR ? 1 : -1;
}

// Sends as many pending responses as the socket takes. Returns -1 if the connection died.
static int flush(int fd, struct conn *c)
{
    while (c->pending > 0) {
        struct iovec iov[IOV_MAX_BATCH];
        int n = 0;
        iov[n++] = (struct iovec){resp + c->off, resp_len - c->off};
        while (n < IOV_MAX_BATCH && (size_t)n < c->pending)
            iov[n++] = (struct iovec){resp, resp_len};
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            int rc = write_failed(fd, c);
            if (rc == 1)
                continue;
            return rc;
        }
        size_t done = (size_t)w + c->off;
        c->pending -= done / resp_len;
        c->off = done % resp_len;
    }
    // The "Connection: close" response goes after the keep-alive ones; once it is sent, close.
    while (c->closing) {
        ssize_t w = write(fd, resp_close + c->off, resp_close_len - c->off);
        if (w < 0) {
            int rc = write_failed(fd, c);
            if (rc == 1)
                continue;
            return rc;
        }
        c->off += (size_t)w;
        if (c->off == resp_close_len)
            return -1;
    }
    set_out(fd, c, 0);
    return 0;
}

// Whether the head [p, p + n) holds "Connection: close" (as wrk and curl spell it).
static int wants_close(const char *p, size_t n)
{
    static const char a[] = "\nConnection: close\r", b[] = "\nconnection: close\r";
    return memmem(p, n, a, sizeof a - 1) != NULL || memmem(p, n, b, sizeof b - 1) != NULL;
}

// Reads what is there, counts complete request heads, answers them. -1: close.
static int on_read(int fd, struct conn *c)
{
    while (!c->closing) {
        ssize_t r = read(fd, c->in + c->inlen, IN_CAP - c->inlen);
        if (r == 0)
            return -1;
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            return -1;
        }
        c->inlen += (size_t)r;
        size_t start = 0;
        char *end;
        while ((end = memmem(c->in + start, c->inlen - start, "\r\n\r\n", 4)) != NULL) {
            if (wants_close(c->in + start, (size_t)(end - c->in) + 2 - start)) {
                c->closing = 1;   // anything after this head is ignored
                return flush(fd, c);
            }
            c->pending++;
            start = (size_t)(end - c->in) + 4;
        }
        memmove(c->in, c->in + start, c->inlen - start);
        c->inlen -= start;
        if (c->inlen == IN_CAP)
            return -1;  // a head larger than the buffer: give up on this client
        if ((size_t)r < IN_CAP / 2)
            break;  // short read: the socket is most likely drained, skip the EAGAIN read
    }
    return flush(fd, c);
}

// One thread's loop on its own listening socket.
static void *serve(void *arg)
{
    int ls = (int)(intptr_t)arg;
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                int cfd;
                while ((cfd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    if (cfd >= MAX_FDS || !(conns[cfd] = calloc(1, sizeof(struct conn)))) {
                        close(cfd);
                        continue;
                    }
                    // Accepted only once its request is there (TCP_DEFER_ACCEPT): answer it
                    // now; one that is done (Connection: close) is never registered.
                    if (on_read(cfd, conns[cfd]) < 0) {
                        conn_close(cfd);
                        continue;
                    }
                    struct epoll_event cev = {.events = EPOLLIN | (conns[cfd]->want_out ? EPOLLOUT : 0),
                                              .data.fd = cfd};
                    epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev);
                }
                continue;
            }
            struct conn *c = conns[fd];
            if (!c)
                continue;
            int rc = 0;
            if (evs[i].events & (EPOLLERR | EPOLLHUP))
                rc = -1;
            else if (evs[i].events & EPOLLOUT)
                rc = flush(fd, c);
            if (rc == 0 && (evs[i].events & EPOLLIN))
                rc = on_read(fd, c);
            if (rc < 0)
                conn_close(fd);
        }
    }
    return NULL;
}

// A listening socket on 127.0.0.1:*port (0: any; the port is stored back), SO_REUSEPORT so
// that each thread can have its own.
static int listen_on(int *port)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(ls, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    setsockopt(ls, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); // inherited by accepted sockets
    int defer = 10;
    setsockopt(ls, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof defer);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)*port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 4096) < 0 ||
        getsockname(ls, (struct sockaddr *)&a, &alen) < 0) {
        perror("fixed: bind/listen");
        exit(1);
    }
    *port = ntohs(a.sin_port);
    return ls;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "fixed: THREADS must be 1 to 64\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    static const char head[] = "HTTP/1.1 200 OK\r\nServer: fixed\r\n"
                               "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
                               "Content-Type: application/octet-stream\r\n"
                               "Content-Length: %d\r\nConnection: %s\r\n\r\n";
    resp_len = (size_t)snprintf(resp, sizeof resp, head, BODY_LEN, "keep-alive");
    memset(resp + resp_len, 'x', BODY_LEN);
    resp_len += BODY_LEN;
    resp_close_len = (size_t)snprintf(resp_close, sizeof resp_close, head, BODY_LEN, "close");
    memset(resp_close + resp_close_len, 'x', BODY_LEN);
    resp_close_len += BODY_LEN;

    int ls[64];
    ls[0] = listen_on(&port);
    for (int i = 1; i < threads; i++)
        ls[i] = listen_on(&port);
    printf("fixed listening on http://127.0.0.1:%d (%d thread%s)\n", port, threads, threads > 1 ? "s" : "");
    fflush(stdout);
    for (int i = 1; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, serve, (void *)(intptr_t)ls[i]) != 0) {
            perror("fixed: pthread_create");
            return 1;
        }
    }
    serve((void *)(intptr_t)ls[0]);
    return 0;
}
