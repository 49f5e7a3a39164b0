/* SPDX-License-Identifier: MIT */
/* Small file I/O helpers: whole writes (secrets, the revoked-session list, off the event
 * loops) and whole reads of regular files into a buffer. */
#ifndef MICA_UTIL_IO_H
#define MICA_UTIL_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Writes all len bytes of data to fd, across short writes and EINTR. 0, or -errno. */
int io_write_all(int fd, const void *data, size_t len);

/* Appends len bytes of fd from offset to b, across short reads and EINTR. False (b's
 * length unchanged) when memory runs out, reading fails or the file ends first. */
bool io_pread_append(struct buf *b, int fd, uint64_t offset, size_t len);

#endif
