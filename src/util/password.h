/* SPDX-License-Identifier: MIT */
/*
 * Password hashes for admin.password_hash: salted, slow crypt(3) hashes from libcrypt
 * (yescrypt, "$y$…"), checked in constant time. Plain passwords are never stored.
 */
#ifndef MICA_UTIL_PASSWORD_H
#define MICA_UTIL_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

enum { PASSWORD_HASH_MAX = 512 };

/* Writes the hash of password (with a fresh random salt) into out. Returns 0, or -errno. */
int password_hash(const char *password, char *out, size_t cap);

/* Whether password matches hash; the comparison does not leak where they differ. */
bool password_verify(const char *password, const char *hash);

/* Whether s looks like a hash password_verify can check ("$y$…", "$2b$…", "$6$…"). */
bool password_is_hash(const char *s);

/* Constant-time equality of two byte strings of the same length. */
bool password_equal(const void *a, const void *b, size_t n);

#endif
