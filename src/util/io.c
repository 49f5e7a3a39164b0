/* SPDX-License-Identifier: MIT */
#include "util/io.h"

#include <errno.h>
#include <unistd.h>

bool io_pread_append(struct buf *b, int fd, uint64_t offset, size_t len)
{
    if (!buf_reserve(b, len))
        return false;
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, b->data + b->len + got, len - got, (off_t)(offset + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    b->len += len;
    return true;
}

int io_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
