/* SPDX-License-Identifier: MIT */
/* recv/send/sendfile with the four-outcome convention of transport.h. */
#include "core/transport.h"

#include <errno.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

static enum io_result io_failure(void)
{
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return IO_AGAIN;
    if (errno == ECONNRESET || errno == EPIPE)
        return IO_CLOSED;
    return IO_ERROR;
}

enum io_result transport_recv(int fd, char *buf, size_t cap, size_t *n)
{
    for (;;) {
        ssize_t r = recv(fd, buf, cap, 0);
        if (r > 0) {
            *n = (size_t)r;
            return IO_OK;
        }
        if (r == 0)
            return IO_CLOSED;
        if (errno != EINTR)
            return io_failure();
    }
}

enum io_result transport_send(int fd, const char *buf, size_t len, bool more, size_t *n)
{
    for (;;) {
        ssize_t r = send(fd, buf, len, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
        if (r >= 0) {
            *n = (size_t)r;
            return IO_OK;
        }
        if (errno != EINTR)
            return io_failure();
    }
}

enum io_result transport_writev(int fd, const struct iovec *iov, int n, size_t *sent)
{
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
    for (;;) {
        /* sendmsg rather than writev: MSG_NOSIGNAL instead of a SIGPIPE. */
        ssize_t r = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (r >= 0) {
            *sent = (size_t)r;
            return IO_OK;
        }
        if (errno != EINTR)
            return io_failure();
    }
}

enum io_result transport_sendfile(int fd, int file_fd, uint64_t *offset, size_t len, size_t *n)
{
    for (;;) {
        off_t off = (off_t)*offset;
        ssize_t r = sendfile(fd, file_fd, &off, len);
        if (r > 0) {
            *offset = (uint64_t)off;
            *n = (size_t)r;
            return IO_OK;
        }
        if (r == 0) {
            errno = ENODATA;
            return IO_ERROR;
        }
        if (errno != EINTR)
            return io_failure();
    }
}
