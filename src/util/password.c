/* SPDX-License-Identifier: MIT */
/* Password hashing with libcrypt; see password.h. */
#include "util/password.h"

#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool password_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= x[i] ^ y[i];
    return diff == 0;
}

int password_hash(const char *password, char *out, size_t cap)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    /* NULL random bytes: libcrypt takes them from the kernel (getrandom). 0: default cost. */
    if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)))
        return -errno;
    struct crypt_data *data = calloc(1, sizeof(*data));
    if (!data)
        return -ENOMEM;
    const char *h = crypt_rn(password, salt, data, sizeof(*data));
    int rc = 0;
    if (!h || h[0] == '*')
        rc = -EINVAL;
    else if (strlen(h) >= cap)
        rc = -ENOSPC;
    else
        memcpy(out, h, strlen(h) + 1);
    explicit_bzero(data, sizeof(*data));
    free(data);
    return rc;
}

bool password_is_hash(const char *s)
{
    return s && s[0] == '$' && strlen(s) > 20 && crypt_checksalt(s) == CRYPT_SALT_OK;
}

bool password_verify(const char *password, const char *hash)
{
    if (!password_is_hash(hash))
        return false;
    struct crypt_data *data = calloc(1, sizeof(*data));
    if (!data)
        return false;
    const char *h = crypt_rn(password, hash, data, sizeof(*data));
    size_t n = strlen(hash);
    bool ok = h && h[0] != '*' && strlen(h) == n && password_equal(h, hash, n);
    explicit_bzero(data, sizeof(*data));
    free(data);
    return ok;
}
