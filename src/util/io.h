/* SPDX-License-Identifier: MIT */
/* Small blocking file I/O helpers for the rare writes outside the event loops (secrets,
 * the revoked-session list). */
#ifndef MICA_UTIL_IO_H
#define MICA_UTIL_IO_H

#include <stddef.h>

/* Writes all len bytes of data to fd, across short writes and EINTR. 0, or -errno. */
int io_write_all(int fd, const void *data, size_t len);

#endif
