/* SPDX-License-Identifier: MIT */
/*
 * HTTPS with OpenSSL 3 (see tls.h for the contract): the shared server context, the
 * certificate (from PEM files or generated in memory), session-ticket keys, and the
 * non-blocking handshake, read, write and sendfile calls with transport.h's four outcomes.
 *
 * Three things shape this file:
 *
 * - One SSL_CTX at a time is "current". Every SSL holds its own reference to the context
 *   it was made from, so tls_reload can build a whole new context, swap the pointer under
 *   ctx_lock and drop its reference to the old one: connections already made keep theirs.
 *
 * - Session resumption uses stateless tickets only (the server-side cache is off), sealed
 *   with keys of our own rather than OpenSSL's per-context ones, so that they survive a
 *   reload and rotate: a new key every TLS_TICKET_ROTATE_S, the previous one still
 *   accepted for as long again (a ticket it sealed is renewed under the current key). The
 *   keys live in struct tls behind keys_lock, and the ticket callback finds struct tls
 *   through the context's app data.
 *
 * - OpenSSL reports errors through a per-thread queue. A worker thread serves thousands of
 *   connections, so every failed call clears the queue before returning: one connection's
 *   error must never be read as the next one's (SSL_get_error looks at the queue).
 */
#include "core/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

enum {
    ERR_SIZE = 256,        /* the caller's char err[256] */
    FINGERPRINT_SIZE = 96, /* 32 bytes as "AB:" pairs, the last without ':', and a NUL */
    SHOWN_PATH_MAX = 60,   /* a path in an error keeps its last 60 bytes, where the name is */
    SHOWN_PATH_SIZE = SHOWN_PATH_MAX + 4,
    TICKET_NAME_BYTES = 16, /* fixed by OpenSSL's ticket callback */
    TICKET_AES_BYTES = 32,  /* AES-256-CBC */
    TICKET_HMAC_BYTES = 32, /* HMAC-SHA256 */
    CERT_DAYS = 365,
    CERT_BACKDATE_S = 3600, /* tolerate clients whose clock is a little behind */
    SERIAL_BYTES = 16,
};

/* Forward secrecy and AEAD only (TLS 1.2); TLS 1.3's own suites are all of that kind. */
static const char tls12_ciphers[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
static const char groups[] = "X25519:P-256:P-384";
static const unsigned char alpn_http11[] = "http/1.1";

struct ticket_key {
    unsigned char name[TICKET_NAME_BYTES];
    unsigned char aes[TICKET_AES_BYTES];
    unsigned char hmac[TICKET_HMAC_BYTES];
};

struct tls {
    pthread_mutex_t ctx_lock; /* guards ctx: taken by tls_accept, swapped by tls_reload */
    SSL_CTX *ctx;             /* owned: one reference */

    pthread_rwlock_t keys_lock; /* guards the ticket keys below */
    struct ticket_key current, previous;
    bool has_previous;
    time_t rotated_s; /* CLOCK_MONOTONIC seconds of the last rotation */

    EVP_CIPHER *aes; /* AES-256-CBC, fetched once rather than on every ticket */

    /* A self-signed certificate survives reloads: clients may have pinned it. */
    bool is_self_signed;
    char fingerprint[FINGERPRINT_SIZE];
};

__attribute__((format(printf, 2, 3))) static int fail(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* Truncation is acceptable: the message only has to stay one bounded line. */
    (void)vsnprintf(err, ERR_SIZE, fmt, ap);
    va_end(ap);
    return -1;
}


/* OpenSSL's reason for the oldest error in the queue, usually the most specific one (each
 * layer adds its own on top), for the end of an error line. Leaves the queue as is. */
static const char *ssl_first_reason(void)
{
    const unsigned long e = ERR_peek_error();
    const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;
    return reason != NULL ? reason : "unknown error";
}

/* Whether any error in the queue has this library and reason. Empties the queue. */
static bool ssl_error_is(int lib, int reason)
{
    /* ERR_peek_error and ERR_peek_last_error see only the two ends of the queue. */
    bool found = false;
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        if (ERR_GET_LIB(e) == lib && ERR_GET_REASON(e) == reason) {
            found = true;
        }
    }
    return found;
}

static time_t monotonic_s(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail on Linux; a wall clock could jump and stall rotation. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* ---- session-ticket keys ---- */

static bool ticket_key_make(struct ticket_key *k)
{
    return RAND_bytes(k->name, sizeof k->name) == 1 && RAND_bytes(k->aes, sizeof k->aes) == 1 &&
           RAND_bytes(k->hmac, sizeof k->hmac) == 1;
}

/* With keys_lock held for writing. `periods` rotation periods have passed: after one the
 * current key becomes the previous; after more, tickets under either are too old, and
 * only the new key is kept. On a RAND failure the old keys stay (they are still sound). */
static int ticket_keys_rotate_locked(struct tls *t, time_t periods, time_t now_s)
{
    struct ticket_key fresh;
    if (!ticket_key_make(&fresh)) {
        OPENSSL_cleanse(&fresh, sizeof fresh);
        ERR_clear_error();
        return -1;
    }
    t->has_previous = periods == 1;
    if (t->has_previous) {
        t->previous = t->current;
    } else {
        OPENSSL_cleanse(&t->previous, sizeof t->previous);
    }
    t->current = fresh;
    t->rotated_s = now_s;
    OPENSSL_cleanse(&fresh, sizeof fresh);
    return 0;
}

int tls_rotate_ticket_keys(struct tls *t)
{
    pthread_rwlock_wrlock(&t->keys_lock);
    const int rc = ticket_keys_rotate_locked(t, 1, monotonic_s());
    pthread_rwlock_unlock(&t->keys_lock);
    return rc;
}

/* Rotates if a period has passed since the last rotation; cheap when none has. */
static void ticket_keys_maybe_rotate(struct tls *t)
{
    const time_t now_s = monotonic_s();
    pthread_rwlock_rdlock(&t->keys_lock);
    const bool is_due = now_s - t->rotated_s >= TLS_TICKET_ROTATE_S;
    pthread_rwlock_unlock(&t->keys_lock);
    if (!is_due) {
        return;
    }
    pthread_rwlock_wrlock(&t->keys_lock);
    const time_t periods = (now_s - t->rotated_s) / TLS_TICKET_ROTATE_S;
    if (periods >= 1) { /* another thread may have rotated meanwhile */
        (void)ticket_keys_rotate_locked(t, periods, now_s); /* failure keeps the old keys */
    }
    pthread_rwlock_unlock(&t->keys_lock);
}

static int ticket_mac_init(EVP_MAC_CTX *hctx, unsigned char *key)
{
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, TICKET_HMAC_BYTES),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -1;
}

/*
 * OpenSSL's ticket callback (SSL_CTX_set_tlsext_ticket_key_evp_cb). Sealing (enc = 1):
 * name the current key, pick an IV, set up the cipher and MAC; 1. Opening: find the key by
 * name: 1 for the current one, 2 for the previous one (use it, and issue a new ticket under
 * the current key), 0 for none (a full handshake); -1 on an internal error.
 */
static int ticket_key_cb(SSL *ssl, unsigned char key_name[16], unsigned char *iv,
                         EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    struct tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    ticket_keys_maybe_rotate(t);
    struct ticket_key k;
    int rc = 1;
    pthread_rwlock_rdlock(&t->keys_lock);
    if (enc) {
        k = t->current;
    } else if (memcmp(key_name, t->current.name, TICKET_NAME_BYTES) == 0) {
        k = t->current;
        /* TLS 1.3 clients (browsers, curl, wrk) use a ticket once: always issue a fresh
         * one, or only every other connection would resume. */
        if (SSL_version(ssl) == TLS1_3_VERSION)
            rc = 2;
    } else if (t->has_previous && memcmp(key_name, t->previous.name, TICKET_NAME_BYTES) == 0) {
        k = t->previous;
        rc = 2;
    } else {
        rc = 0;
    }
    pthread_rwlock_unlock(&t->keys_lock);
    if (rc == 0) {
        return 0;
    }
    const int iv_len = EVP_CIPHER_get_iv_length(t->aes);
    if (enc) {
        memcpy(key_name, k.name, TICKET_NAME_BYTES);
        if (RAND_bytes(iv, iv_len) != 1 ||
            EVP_EncryptInit_ex2(cctx, t->aes, k.aes, iv, NULL) != 1) {
            rc = -1;
        }
    } else if (EVP_DecryptInit_ex2(cctx, t->aes, k.aes, iv, NULL) != 1) {
        rc = -1;
    }
    if (rc != -1 && ticket_mac_init(hctx, k.hmac) < 0) {
        rc = -1;
    }
    OPENSSL_cleanse(&k, sizeof k);
    return rc;
}

/* ---- ALPN ---- */

/* Picks http/1.1 when the client offers it. Otherwise no ALPN at all rather than a failed
 * handshake: a client that offers only h2 may still speak HTTP/1.1 (RFC 7301 §3.2 allows
 * the server to ignore the extension). */
static int alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *out_len,
                          const unsigned char *in, unsigned int in_len, void *arg)
{
    (void)ssl;
    (void)arg;
    const size_t want = sizeof alpn_http11 - 1;
    for (unsigned int i = 0; i < in_len;) {
        const unsigned int len = in[i];
        if (len == 0 || len > in_len - i - 1) {
            break; /* malformed; OpenSSL checks the list too, this keeps us in bounds */
        }
        if (len == want && memcmp(&in[i + 1], alpn_http11, want) == 0) {
            *out = &in[i + 1];
            *out_len = (unsigned char)len;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + len;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* ---- certificates ---- */

/* Never let OpenSSL prompt on the terminal for a passphrase: note that one was wanted. */
static int no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    if (u != NULL) {
        *(bool *)u = true;
    }
    return -1;
}

static void fingerprint_format(const X509 *x, char out[FINGERPRINT_SIZE])
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_digest(x, EVP_sha256(), md, &len) != 1 || len != 32) {
        out[0] = '\0';
        ERR_clear_error();
        return;
    }
    for (unsigned int i = 0; i < len; i++) {
        out[3 * i] = hex[md[i] >> 4];
        out[3 * i + 1] = hex[md[i] & 15];
        out[3 * i + 2] = i + 1 < len ? ':' : '\0';
    }
}

/* The host name, if it can go into a DNS subjectAltName and is not "localhost" (already
 * there). Letters, digits, '-' and '.' only, which also keeps it out of the way of the
 * "a,b" syntax of X509V3_EXT_conf_nid. */
static bool host_name_for_san(char *out, size_t size)
{
    if (gethostname(out, size) != 0) {
        return false;
    }
    out[size - 1] = '\0';
    if (out[0] == '\0' || out[0] == '-' || out[0] == '.' || strcasecmp(out, "localhost") == 0) {
        return false;
    }
    for (const char *p = out; *p != '\0'; p++) {
        const char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.')) {
            return false;
        }
    }
    return true;
}

static bool cert_add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    const bool ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

/* A random positive serial of SERIAL_BYTES bytes (RFC 5280 §4.1.2.2: at most 20 octets). */
static bool cert_set_serial(X509 *x)
{
    unsigned char raw[SERIAL_BYTES];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        return false;
    }
    raw[0] = (unsigned char)((raw[0] & 0x7f) | 0x40); /* positive, non-zero, full length */
    BIGNUM *bn = BN_bin2bn(raw, sizeof raw, NULL);
    const bool ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

static bool cert_fill(X509 *x, EVP_PKEY *pkey)
{
    char host[256], san[320] = "DNS:localhost,IP:127.0.0.1,IP:::1";
    if (host_name_for_san(host, sizeof host)) {
        const size_t used = strlen(san);
        snprintf(san + used, sizeof san - used, ",DNS:%s", host);
    }
    X509_NAME *name = X509_get_subject_name(x);
    return X509_set_version(x, X509_VERSION_3) == 1 && cert_set_serial(x) &&
           X509_gmtime_adj(X509_getm_notBefore(x), -CERT_BACKDATE_S) != NULL &&
           X509_time_adj_ex(X509_getm_notAfter(x), CERT_DAYS, 0, NULL) != NULL &&
           X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
                                      -1, -1, 0) == 1 &&
           X509_set_issuer_name(x, name) == 1 && X509_set_pubkey(x, pkey) == 1 &&
           cert_add_ext(x, NID_subject_alt_name, san) &&
           cert_add_ext(x, NID_basic_constraints, "critical,CA:FALSE") &&
           cert_add_ext(x, NID_key_usage, "critical,digitalSignature") &&
           cert_add_ext(x, NID_ext_key_usage, "serverAuth") && X509_sign(x, pkey, EVP_sha256()) > 0;
}

/* A self-signed ECDSA P-256 certificate for localhost, 127.0.0.1, ::1 and the host name,
 * valid for a year. On success *x and *pkey are the caller's. */
static int selfsigned_make(X509 **x_out, EVP_PKEY **pkey_out, char fingerprint[FINGERPRINT_SIZE],
                           char *err)
{
    X509 *x = NULL;
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (pkey == NULL || (x = X509_new()) == NULL || !cert_fill(x, pkey)) {
        fail(err, "generating a self-signed certificate: %s", ssl_first_reason());
        ERR_clear_error();
        goto fail;
    }
    fingerprint_format(x, fingerprint);
    *x_out = x;
    *pkey_out = pkey;
    return 0;
fail:
    X509_free(x);
    EVP_PKEY_free(pkey);
    return -1;
}

/* ---- the context ---- */

/* Whether path is a regular file we may open: if not, the system's words for why. */
static int check_file(const char *what, const char *path, char *err)
{
    char shown[SHOWN_PATH_SIZE];
    config_show_path(path, shown, sizeof(shown));
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fail(err, "%s \"%s\": %s", what, shown, strerror(errno));
    }
    struct stat st;
    const int rc = fstat(fd, &st);
    const int e = errno;
    close(fd);
    if (rc != 0) {
        return fail(err, "%s \"%s\": %s", what, shown, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        return fail(err, "%s \"%s\": not a regular file", what, shown);
    }
    return 0;
}

static int ctx_use_cert_file(SSL_CTX *ctx, const char *cert, char *err)
{
    char shown[SHOWN_PATH_SIZE];
    config_show_path(cert, shown, sizeof(shown));
    if (check_file("tls.cert", cert, err) < 0) {
        return -1;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) == 1) {
        return 0;
    }
    const char *why = ssl_first_reason();
    if (ssl_error_is(ERR_LIB_PEM, PEM_R_NO_START_LINE)) {
        return fail(err, "tls.cert \"%s\": no PEM certificate in the file", shown);
    }
    return fail(err, "tls.cert \"%s\": not a usable certificate chain (%s)", shown, why);
}

/* The key is read here rather than by SSL_CTX_use_PrivateKey_file so that the three ways
 * it can be wrong (not a key, encrypted, not the certificate's) get their own words. */
static int ctx_use_key_file(SSL_CTX *ctx, const char *key, const char *cert, char *err)
{
    char shown[SHOWN_PATH_SIZE], cert_shown[SHOWN_PATH_SIZE];
    config_show_path(key, shown, sizeof(shown));
    config_show_path(cert, cert_shown, sizeof(cert_shown));
    if (check_file("tls.key", key, err) < 0) {
        return -1;
    }
    bool wants_passphrase = false;
    EVP_PKEY *pkey = NULL;
    BIO *bio = BIO_new_file(key, "r");
    if (bio != NULL) {
        pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase_cb, &wants_passphrase);
        BIO_free(bio);
    }
    if (pkey == NULL) {
        /* OpenSSL 3's decoders say only "unsupported", whether the file holds no key or a
         * damaged one, so there is no reason worth adding. */
        ERR_clear_error();
        if (wants_passphrase) {
            return fail(err,
                        "tls.key \"%s\": encrypted with a passphrase; mica needs it "
                        "unencrypted (mode 0600)",
                        shown);
        }
        return fail(err, "tls.key \"%s\": no usable PEM private key in the file", shown);
    }
    /* SSL_CTX_use_PrivateKey compares the key with a certificate of its type;
     * SSL_CTX_check_private_key catches a key of another type (RSA key, ECDSA cert). */
    const bool is_used = SSL_CTX_use_PrivateKey(ctx, pkey) == 1;
    EVP_PKEY_free(pkey);
    if (!is_used) {
        const char *why = ssl_first_reason();
        const bool is_mismatch = ssl_error_is(ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH);
        if (!is_mismatch) {
            return fail(err, "tls.key \"%s\": not a usable private key (%s)", shown, why);
        }
    }
    if (!is_used || SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        return fail(err, "tls.key \"%s\": does not match the certificate in \"%s\"", shown,
                    cert_shown);
    }
    return 0;
}

static int ctx_use_selfsigned(SSL_CTX *ctx, char fingerprint[FINGERPRINT_SIZE], char *err)
{
    X509 *x = NULL;
    EVP_PKEY *pkey = NULL;
    if (selfsigned_make(&x, &pkey, fingerprint, err) < 0) {
        return -1;
    }
    const bool ok = SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_use_PrivateKey(ctx, pkey) == 1;
    X509_free(x); /* the context holds its own references */
    EVP_PKEY_free(pkey);
    if (!ok) {
        fail(err, "using the self-signed certificate: %s", ssl_first_reason());
        ERR_clear_error();
        return -1;
    }
    return 0;
}

/* Everything but the certificate. Each SSL made from ctx inherits these. */
static bool ctx_configure(SSL_CTX *ctx, struct tls *t)
{
    uint64_t options = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION;
#ifdef SSL_OP_ENABLE_KTLS
    options |= SSL_OP_ENABLE_KTLS; /* used only if the kernel has the tls module */
#endif
    SSL_CTX_set_options(ctx, options);
    /* Partial writes: tls_send reports what was taken, like send(2). Moving buffer: the
     * caller's output buffer may be reallocated between a WANT_WRITE and the retry. Release
     * buffers: an idle keep-alive connection gives its 2 × ~17 KiB back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    /* Tickets carry the session state, so the server keeps none (and shares none between
     * workers). */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select_cb, NULL);
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase_cb);
    SSL_CTX_set_app_data(ctx, t);
    static const unsigned char sid_ctx[] = "mica";
    return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
           SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1 &&
           SSL_CTX_set_cipher_list(ctx, tls12_ciphers) == 1 &&
           SSL_CTX_set1_groups_list(ctx, groups) == 1 &&
           SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1) == 1 &&
           SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb) == 1;
}

/* A whole new context for cfg's certificate, or NULL with err. */
static SSL_CTX *ctx_new(struct tls *t, const struct config *cfg, char fingerprint[FINGERPRINT_SIZE],
                        char *err)
{
    fingerprint[0] = '\0';
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || !ctx_configure(ctx, t)) {
        fail(err, "TLS context: %s", ssl_first_reason());
        goto fail;
    }
    if (cfg->tls.self_signed) {
        if (ctx_use_selfsigned(ctx, fingerprint, err) < 0) {
            goto fail;
        }
    } else if (cfg->tls.cert == NULL || cfg->tls.key == NULL) {
        fail(err, "TLS needs a certificate: set \"tls.cert\" and \"tls.key\", or "
                  "\"tls.self_signed\"");
        goto fail;
    } else if (ctx_use_cert_file(ctx, cfg->tls.cert, err) < 0 ||
               ctx_use_key_file(ctx, cfg->tls.key, cfg->tls.cert, err) < 0) {
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return NULL;
}

int tls_open(struct tls **out, const struct config *cfg, char fingerprint[96], char err[256])
{
    *out = NULL;
    fingerprint[0] = '\0';
    struct tls *t = malloc(sizeof *t);
    if (t == NULL) {
        return fail(err, "TLS: out of memory");
    }
    *t = (struct tls){.ctx_lock = PTHREAD_MUTEX_INITIALIZER,
                      .keys_lock = PTHREAD_RWLOCK_INITIALIZER};
    t->aes = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
    if (t->aes == NULL || !ticket_key_make(&t->current)) {
        fail(err, "TLS session-ticket keys: %s", ssl_first_reason());
        ERR_clear_error();
        goto fail;
    }
    t->rotated_s = monotonic_s();
    t->ctx = ctx_new(t, cfg, fingerprint, err);
    if (t->ctx == NULL) {
        goto fail;
    }
    t->is_self_signed = cfg->tls.self_signed;
    memcpy(t->fingerprint, fingerprint, FINGERPRINT_SIZE);
    *out = t;
    return 0;
fail:
    tls_close(t);
    return -1;
}

void tls_close(struct tls *t)
{
    if (t == NULL) {
        return;
    }
    SSL_CTX_free(t->ctx);
    EVP_CIPHER_free(t->aes);
    OPENSSL_cleanse(&t->current, sizeof t->current);
    OPENSSL_cleanse(&t->previous, sizeof t->previous);
    pthread_rwlock_destroy(&t->keys_lock);
    pthread_mutex_destroy(&t->ctx_lock);
    free(t);
}

int tls_reload(struct tls *t, const struct config *cfg, char fingerprint[96], char err[256])
{
    if (cfg->tls.self_signed && t->is_self_signed) {
        /* Nothing on disk to reload, and a new key would break every client that pinned
         * the fingerprint printed at start (logrotate sends SIGHUP too). */
        memcpy(fingerprint, t->fingerprint, FINGERPRINT_SIZE);
        return 0;
    }
    char fresh_fingerprint[FINGERPRINT_SIZE];
    SSL_CTX *fresh = ctx_new(t, cfg, fresh_fingerprint, err);
    if (fresh == NULL) {
        return -1;
    }
    pthread_mutex_lock(&t->ctx_lock);
    SSL_CTX *old = t->ctx;
    t->ctx = fresh;
    pthread_mutex_unlock(&t->ctx_lock);
    SSL_CTX_free(old); /* connections made from it hold their own references */
    memcpy(fingerprint, fresh_fingerprint, FINGERPRINT_SIZE);
    t->is_self_signed = cfg->tls.self_signed;
    memcpy(t->fingerprint, fresh_fingerprint, FINGERPRINT_SIZE);
    return 0;
}

SSL *tls_accept(struct tls *t, int fd)
{
    /* Only the reference is taken under the lock; SSL_new allocates and need not hold up
     * the other workers. */
    pthread_mutex_lock(&t->ctx_lock);
    SSL_CTX *ctx = t->ctx;
    SSL_CTX_up_ref(ctx);
    pthread_mutex_unlock(&t->ctx_lock);
    SSL *ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL has its own reference now */
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_accept_state(ssl);
    return ssl;
}

/* ---- moving bytes ---- */

enum { TLS_RETRY = -1 }; /* io_outcome: interrupted by a signal, call again */

/*
 * What a failed SSL call (ret is its return value, e the errno right after it) means, as
 * an io_result: WANT_READ / WANT_WRITE are IO_AGAIN; close_notify, EOF and a reset are
 * IO_CLOSED; anything else is IO_ERROR, with errno kept (or EPROTO for a TLS protocol
 * error) for the log. Always empties the error queue.
 */
static int io_outcome(SSL *ssl, int ret, int e, bool *want_write)
{
    int result = IO_ERROR;
    const int code = SSL_get_error(ssl, ret);
    switch (code) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        /* The socket BIO counts EINTR as "retry"; an edge-triggered loop would then wait
         * for an event that already happened. */
        *want_write = code == SSL_ERROR_WANT_WRITE;
        result = e == EINTR ? TLS_RETRY : IO_AGAIN;
        break;
    case SSL_ERROR_ZERO_RETURN:
        result = IO_CLOSED;
        break;
    case SSL_ERROR_SYSCALL:
        result = e == 0 || e == ECONNRESET || e == EPIPE ? IO_CLOSED : IO_ERROR;
        break;
    case SSL_ERROR_SSL:
        /* OpenSSL 3 reports a peer that went away without close_notify this way. */
        result =
            ssl_error_is(ERR_LIB_SSL, SSL_R_UNEXPECTED_EOF_WHILE_READING) ? IO_CLOSED : IO_ERROR;
        e = EPROTO;
        break;
    default:
        e = EPROTO;
        break;
    }
    if (code == SSL_ERROR_SYSCALL || code == SSL_ERROR_SSL) {
        /* After these OpenSSL forbids SSL_shutdown's close_notify: tls_free skips it. */
        SSL_set_quiet_shutdown(ssl, 1);
    }
    ERR_clear_error();
    errno = e;
    return result;
}

enum io_result tls_handshake(SSL *ssl, bool *want_write)
{
    *want_write = false;
    for (;;) {
        errno = 0; /* so that a stale errno is not read as this call's */
        const int ret = SSL_do_handshake(ssl);
        if (ret == 1) {
            return IO_OK;
        }
        const int r = io_outcome(ssl, ret, errno, want_write);
        if (r != TLS_RETRY) {
            return (enum io_result)r;
        }
    }
}

enum io_result tls_recv(SSL *ssl, char *buf, size_t cap, size_t *n)
{
    *n = 0;
    for (;;) {
        errno = 0;
        if (SSL_read_ex(ssl, buf, cap, n) == 1) {
            return IO_OK;
        }
        bool want_write;
        const int r = io_outcome(ssl, 0, errno, &want_write);
        if (r != TLS_RETRY) {
            return (enum io_result)r;
        }
    }
}

/* After IO_AGAIN, OpenSSL wants the same bytes again (at least as many, possibly from a
 * moved buffer): the connection's output queue guarantees that. */
enum io_result tls_send(SSL *ssl, const char *buf, size_t len, size_t *n)
{
    *n = 0;
    if (len == 0) {
        return IO_OK;
    }
    for (;;) {
        errno = 0;
        if (SSL_write_ex(ssl, buf, len, n) == 1) {
            return IO_OK;
        }
        bool want_write;
        const int r = io_outcome(ssl, 0, errno, &want_write);
        if (r != TLS_RETRY) {
            return (enum io_result)r;
        }
    }
}

bool tls_can_sendfile(SSL *ssl)
{
    return BIO_get_ktls_send(SSL_get_wbio(ssl));
}

enum io_result tls_sendfile(SSL *ssl, int file_fd, uint64_t *offset, size_t len, size_t *n)
{
    *n = 0;
    if (len == 0) {
        return IO_OK; /* SSL_sendfile would return 0, which means end of file */
    }
    if (!tls_can_sendfile(ssl)) {
        errno = EOPNOTSUPP;
        return IO_ERROR;
    }
    if (*offset > (uint64_t)INT64_MAX) {
        errno = EINVAL;
        return IO_ERROR;
    }
    for (;;) {
        errno = 0;
        const ossl_ssize_t sent = SSL_sendfile(ssl, file_fd, (off_t)*offset, len, 0);
        if (sent > 0) {
            *n = (size_t)sent;
            *offset += (uint64_t)sent;
            return IO_OK;
        }
        if (sent == 0) { /* the file ended early: it shrank under us */
            errno = ENODATA;
            return IO_ERROR;
        }
        bool want_write;
        const int r = io_outcome(ssl, (int)sent, errno, &want_write);
        if (r != TLS_RETRY) {
            return (enum io_result)r;
        }
    }
}

void tls_free(SSL *ssl)
{
    if (ssl == NULL) {
        return;
    }
    /* One close_notify, without waiting for the peer's: the socket is non-blocking and
     * about to be closed, so the result does not change what happens next. A handshake
     * that never finished (or failed) has nothing to close, and after a fatal error
     * io_outcome set quiet shutdown, so nothing is sent. */
    if (SSL_is_init_finished(ssl)) {
        (void)SSL_shutdown(ssl);
    }
    ERR_clear_error();
    SSL_free(ssl);
}

const char *tls_sni(SSL *ssl)
{
    return SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
}

const char *tls_version(SSL *ssl)
{
    return SSL_get_version(ssl);
}

/* ---- --make-cert ---- */

/* dir/name into out, without doubling a trailing '/'. */
static int path_join(const char *dir, const char *name, char out[PATH_MAX], char *err)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') {
        len--;
    }
    const int n = snprintf(out, PATH_MAX, "%.*s/%s", (int)len, dir, name);
    if (n < 0 || n >= PATH_MAX) {
        char shown[SHOWN_PATH_SIZE];
        config_show_path(dir, shown, sizeof(shown));
        return fail(err, "\"%s\": path too long", shown);
    }
    return 0;
}

/* Creates dir (0755) unless it is there already; *is_made says whether we made it. */
static int dir_make(const char *dir, bool *is_made, char *err)
{
    char shown[SHOWN_PATH_SIZE];
    config_show_path(dir, shown, sizeof(shown));
    *is_made = false;
    if (mkdir(dir, 0755) == 0) {
        *is_made = true;
        return 0;
    }
    if (errno != EEXIST) {
        return fail(err, "\"%s\": %s", shown, strerror(errno));
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        return fail(err, "\"%s\": %s", shown, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        return fail(err, "\"%s\": not a directory", shown);
    }
    return 0;
}

/* A new file (never an existing one, nor through a symbolic link). */
static int file_create(const char *path, mode_t mode, char *err)
{
    const int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        const int e = errno;
        char shown[SHOWN_PATH_SIZE];
        config_show_path(path, shown, sizeof(shown));
        return fail(err, "\"%s\": %s%s", shown, strerror(e),
                    e == EEXIST ? " (not overwritten)" : "");
    }
    return fd;
}

static int file_write_pem(int fd, BIO *pem, const char *path, char *err)
{
    char *data = NULL;
    long len = BIO_get_mem_data(pem, &data);
    while (len > 0) {
        const ssize_t n = write(fd, data, (size_t)len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            char shown[SHOWN_PATH_SIZE];
            config_show_path(path, shown, sizeof(shown));
            return fail(err, "\"%s\": %s", shown, strerror(errno));
        }
        data += n;
        len -= n;
    }
    return 0;
}

/* close(2) can report a failed write-back (NFS, a full disk). */
static int file_close(int fd, const char *path, char *err)
{
    if (close(fd) != 0) {
        char shown[SHOWN_PATH_SIZE];
        config_show_path(path, shown, sizeof(shown));
        return fail(err, "\"%s\": %s", shown, strerror(errno));
    }
    return 0;
}

/* The certificate and key as PEM in memory; the key in a buffer that is wiped when freed. */
static int pem_encode(X509 *x, EVP_PKEY *pkey, BIO **cert_pem, BIO **key_pem, char *err)
{
    *cert_pem = BIO_new(BIO_s_mem());
    *key_pem = BIO_new(BIO_s_secmem());
    if (*cert_pem == NULL || *key_pem == NULL || PEM_write_bio_X509(*cert_pem, x) != 1 ||
        PEM_write_bio_PrivateKey(*key_pem, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
        fail(err, "encoding the certificate: %s", ssl_first_reason());
        ERR_clear_error();
        return -1;
    }
    return 0;
}

int tls_make_cert(const char *dir, char fingerprint[96], char err[256])
{
    char cert_path[PATH_MAX], key_path[PATH_MAX];
    X509 *x = NULL;
    EVP_PKEY *pkey = NULL;
    BIO *cert_pem = NULL, *key_pem = NULL;
    int key_fd = -1, cert_fd = -1, rc = -1;
    bool is_dir_made = false, is_key_made = false, is_cert_made = false;
    if (path_join(dir, "cert.pem", cert_path, err) < 0 ||
        path_join(dir, "key.pem", key_path, err) < 0 ||
        selfsigned_make(&x, &pkey, fingerprint, err) < 0 ||
        pem_encode(x, pkey, &cert_pem, &key_pem, err) < 0 || dir_make(dir, &is_dir_made, err) < 0) {
        goto fail;
    }
    /* Both files are created before either is written, so an existing one stops us with
     * nothing changed. The key first: it never exists with a wider mode. */
    if ((key_fd = file_create(key_path, 0600, err)) < 0) {
        goto fail;
    }
    is_key_made = true;
    if ((cert_fd = file_create(cert_path, 0644, err)) < 0) {
        goto fail;
    }
    is_cert_made = true;
    if (file_write_pem(key_fd, key_pem, key_path, err) < 0 ||
        file_write_pem(cert_fd, cert_pem, cert_path, err) < 0) {
        goto fail;
    }
    int close_rc = file_close(key_fd, key_path, err);
    key_fd = -1;
    if (file_close(cert_fd, cert_path, err) < 0) {
        close_rc = -1;
    }
    cert_fd = -1;
    if (close_rc < 0) {
        goto fail;
    }
    rc = 0;
fail:
    if (cert_fd >= 0) {
        close(cert_fd);
    }
    if (key_fd >= 0) {
        close(key_fd);
    }
    if (rc < 0 && is_cert_made) {
        unlink(cert_path);
    }
    if (rc < 0 && is_key_made) {
        unlink(key_path);
    }
    if (rc < 0 && is_dir_made) {
        rmdir(dir);
    }
    BIO_free(key_pem);
    BIO_free(cert_pem);
    EVP_PKEY_free(pkey);
    X509_free(x);
    if (rc < 0) {
        fingerprint[0] = '\0';
    }
    return rc;
}
