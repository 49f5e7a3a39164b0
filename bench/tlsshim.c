/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD for wrk in the HTTPS rows of bench/run.sh (built by run.sh into
 * build/bench/tlsshim.so).
 *
 * wrk keeps each connection's SSL object across reconnects (SSL_clear keeps the session), so
 * with "Connection: close" every handshake after a connection's first resumes its session: a
 * cheap abbreviated handshake, not a new one. With TLS_SHIM_FRESH=1 this drops the session
 * before a handshake starts, so every connection makes a full handshake (certificate,
 * signature and key exchange), as a new visitor does.
 *
 * Either way it counts the handshakes that completed, full and resumed, and writes
 * "full N resumed M" to the file named by TLS_SHIM_STATS when wrk exits, so that run.sh can
 * check what was measured.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/ssl.h>

static int (*real_connect)(SSL *);
static int fresh;
static atomic_ulong full_count, resumed_count;

__attribute__((constructor)) static void shim_init(void)
{
    real_connect = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_connect");
    const char *v = getenv("TLS_SHIM_FRESH");
    fresh = v != NULL && v[0] == '1';
}

/* wrk drives its non-blocking handshake by calling SSL_connect until it returns 1. */
int SSL_connect(SSL *s)
{
    if (real_connect == NULL) {
        return -1;
    }
    if (fresh && SSL_in_before(s)) { /* only before the first message of a handshake */
        SSL_set_session(s, NULL);
    }
    const int r = real_connect(s);
    if (r == 1) {
        if (SSL_session_reused(s)) {
            atomic_fetch_add(&resumed_count, 1);
        } else {
            atomic_fetch_add(&full_count, 1);
        }
    }
    return r;
}

__attribute__((destructor)) static void shim_report(void)
{
    const char *path = getenv("TLS_SHIM_STATS");
    if (path == NULL || path[0] == '\0') {
        return;
    }
    FILE *f = fopen(path, "w");
    if (f != NULL) {
        fprintf(f, "full %lu resumed %lu\n", (unsigned long)atomic_load(&full_count),
                (unsigned long)atomic_load(&resumed_count));
        fclose(f);
    }
}
