/* SPDX-License-Identifier: MIT */
/*
 * HTTPS with OpenSSL 3: the server's TLS context, and byte moving over a TLS connection
 * with the same four outcomes as transport.h (IO_OK, IO_AGAIN, IO_CLOSED, IO_ERROR).
 *
 * The context: TLS 1.2 and 1.3 only; for 1.2 only forward-secret AEAD cipher suites
 * (ECDHE with AES-GCM or ChaCha20-Poly1305); ALPN offers http/1.1; renegotiation off;
 * session resumption with stateless tickets whose keys rotate (a new key every
 * TLS_TICKET_ROTATE_S, the previous one still accepted for as long again); kernel TLS
 * requested (SSL_OP_ENABLE_KTLS), so files can go out with SSL_sendfile where the kernel
 * offers it. The certificate chain and key come from PEM files (tls.cert, tls.key: a
 * full chain, the key must match), or are generated in memory at start for --self-signed
 * (ECDSA P-256, for localhost, 127.0.0.1, ::1 and the host name).
 *
 * Threads: one struct tls is shared by every worker. tls_accept takes the current
 * context under a mutex; tls_reload (SIGHUP) builds a new one and swaps it in, so new
 * connections get the new certificate while established ones keep theirs.
 */
#ifndef MICA_CORE_TLS_H
#define MICA_CORE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/transport.h"

enum { TLS_TICKET_ROTATE_S = 12 * 3600 };

typedef struct ssl_st SSL; /* OpenSSL's own typedef, so callers need not include it */
struct tls;

/*
 * The context for cfg's tls.* settings. Errors name the file and what is wrong:
 *     tls.cert "site.pem": No such file or directory
 *     tls.key "key.pem": does not match the certificate in "site.pem"
 * Returns 0, or -1 with err. With self_signed, *fingerprint gets the certificate's SHA-256
 * fingerprint ("AB:CD:…", 95 characters and a NUL; the caller prints it); else "".
 */
int tls_open(struct tls **t, const struct config *cfg, char fingerprint[96], char err[256]);
/* Frees the context. Every SSL from tls_accept must have been freed first: their ticket
 * callback reaches the keys through t. */
void tls_close(struct tls *t);

/* SIGHUP: loads the certificate and key again (or generates a new self-signed pair).
 * On error the old context stays and err says why. */
int tls_reload(struct tls *t, const struct config *cfg, char fingerprint[96], char err[256]);

/* Rotates the session-ticket keys now, as the clock does every TLS_TICKET_ROTATE_S: the
 * current key becomes the previous one (still accepted), a new one seals. For tests.
 * Returns 0, or -1 (no randomness: the keys stay as they were). */
int tls_rotate_ticket_keys(struct tls *t);

/* A server-side SSL for the accepted socket fd, or NULL (out of memory). */
SSL *tls_accept(struct tls *t, int fd);

/* Drives the handshake: IO_OK once complete, IO_AGAIN (*want_write tells whether it waits
 * for the socket to be writable rather than readable), IO_CLOSED, IO_ERROR. */
enum io_result tls_handshake(SSL *ssl, bool *want_write);

/* SSL_read: IO_AGAIN when no whole record is there yet. More may be buffered inside
 * OpenSSL after IO_OK: read again until IO_AGAIN. */
enum io_result tls_recv(SSL *ssl, char *buf, size_t cap, size_t *n);

/* SSL_write with partial writes: *n bytes were taken (maybe fewer than len). */
enum io_result tls_send(SSL *ssl, const char *buf, size_t len, size_t *n);

/* Whether the kernel encrypts this connection's writes (kTLS): then tls_sendfile works. */
bool tls_can_sendfile(SSL *ssl);

/* SSL_sendfile: up to len bytes of file_fd from *offset (advanced). */
enum io_result tls_sendfile(SSL *ssl, int file_fd, uint64_t *offset, size_t len, size_t *n);

/* Sends close_notify, without waiting for the peer's (best effort), and frees ssl. */
void tls_free(SSL *ssl);

/* The SNI host name the client asked for, or NULL. */
const char *tls_sni(SSL *ssl);

/* "TLSv1.3" and the like, for the log. */
const char *tls_version(SSL *ssl);

/*
 * --make-cert DIR: writes a self-signed ECDSA P-256 certificate (DIR/cert.pem, for
 * localhost, 127.0.0.1, ::1 and the host name) and its key (DIR/key.pem, mode 0600),
 * creating DIR if needed and refusing to overwrite existing files. Returns 0 (with the
 * fingerprint) or -1 with err.
 */
int tls_make_cert(const char *dir, char fingerprint[96], char err[256]);

#endif
