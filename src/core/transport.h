/* SPDX-License-Identifier: MIT */
/*
 * Byte moving on a non-blocking socket. Every call has one of four outcomes (compare wrk's
 * `status`): IO_OK (progress, *n bytes), IO_AGAIN (would block: wait for the next event),
 * IO_CLOSED (the peer closed: recv returned 0, or a send found the connection reset) and
 * IO_ERROR (anything else; errno is kept for the log). EINTR is retried here, and only here.
 */
#ifndef MICA_CORE_TRANSPORT_H
#define MICA_CORE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum io_result { IO_OK, IO_AGAIN, IO_CLOSED, IO_ERROR };

enum io_result transport_recv(int fd, char *buf, size_t cap, size_t *n);

/* Sends buf; `more` tells the kernel further data follows at once (MSG_MORE). */
enum io_result transport_send(int fd, const char *buf, size_t len, bool more, size_t *n);

struct iovec;

/* Sends the n buffers of iov in order (writev). */
enum io_result transport_writev(int fd, const struct iovec *iov, int n, size_t *sent);

/* Sends up to len bytes of file_fd from *offset (advanced). A file that ends early (it
 * shrank under us) gives IO_ERROR with errno ENODATA. */
enum io_result transport_sendfile(int fd, int file_fd, uint64_t *offset, size_t len, size_t *n);

#endif
