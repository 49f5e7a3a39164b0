/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for core/tls: certificates from files (and every way they can be wrong, each
 * with its one-line error), the self-signed certificate and --make-cert, then real
 * handshakes in one process. A socketpair joins a client SSL, driven with OpenSSL's client
 * API, to a server SSL from tls_accept, driven with tls_handshake, tls_recv and tls_send;
 * both ends are non-blocking and are stepped in turn until each is done, so nothing sleeps.
 *
 * The suite works in a temporary directory made by the group setup and removed after.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/config.h"
#include "core/tls.h"

enum {
    DATA_BYTES = 1 << 20, /* sent each way in test_data_both_ways */
    STEPS_MAX = 100000,   /* a bound on the stepping loops, far above what they need */
};

static char tmp_dir[] = "/tmp/mica-test-tls-XXXXXX";

/* Paths in tmp_dir, filled by the group setup. */
static char dir_a[PATH_MAX], dir_b[PATH_MAX]; /* two --make-cert outputs */
static char cert_a[PATH_MAX], key_a[PATH_MAX], key_b[PATH_MAX];
static char garbage[PATH_MAX], empty[PATH_MAX], rsa_key[PATH_MAX], encrypted_key[PATH_MAX];
static char combined[PATH_MAX];                            /* cert_a and key_a in one file */
static char damaged_cert[PATH_MAX], damaged_key[PATH_MAX]; /* PEM armour, bad contents */

static void path_in(char out[PATH_MAX], const char *dir, const char *name)
{
    const int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    assert_true(n > 0 && n < PATH_MAX);
}

static bool write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return false;
    }
    const bool ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *data = calloc(1, 1 << 16); /* its zeros end the text */
    const bool is_whole = data != NULL && fread(data, 1, (1 << 16) - 1, f) < (1 << 16) - 1;
    fclose(f);
    if (!is_whole) {
        free(data);
        return NULL;
    }
    return data;
}

static bool write_key(const char *path, EVP_PKEY *pkey, const char *passphrase)
{
    BIO *bio = BIO_new_file(path, "w");
    bool ok = bio != NULL;
    if (ok && passphrase != NULL) {
        ok = PEM_write_bio_PKCS8PrivateKey(bio, pkey, EVP_aes_256_cbc(), NULL, 0, NULL,
                                           (void *)passphrase) == 1;
    } else if (ok) {
        ok = PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1;
    }
    BIO_free(bio);
    return ok;
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN); /* as the server does: a write to a closed peer is an error */
    umask(022);
    char fingerprint[96], err[256];
    if (mkdtemp(tmp_dir) == NULL) {
        return -1;
    }
    path_in(dir_a, tmp_dir, "a");
    path_in(dir_b, tmp_dir, "b");
    path_in(cert_a, dir_a, "cert.pem");
    path_in(key_a, dir_a, "key.pem");
    path_in(key_b, dir_b, "key.pem");
    path_in(garbage, tmp_dir, "garbage.pem");
    path_in(empty, tmp_dir, "empty.pem");
    path_in(rsa_key, tmp_dir, "rsa.key");
    path_in(encrypted_key, tmp_dir, "encrypted.key");
    path_in(combined, tmp_dir, "combined.pem");
    path_in(damaged_cert, tmp_dir, "damaged-cert.pem");
    path_in(damaged_key, tmp_dir, "damaged-key.pem");
    if (tls_make_cert(dir_a, fingerprint, err) != 0 || tls_make_cert(dir_b, fingerprint, err)) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    const bool keys_ok = rsa != NULL && ec != NULL && write_key(rsa_key, rsa, NULL) &&
                         write_key(encrypted_key, ec, "secret");
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    char *cert_text = read_text(cert_a), *key_text = read_text(key_a);
    char both[1 << 17];
    snprintf(both, sizeof both, "%s%s", cert_text ? cert_text : "", key_text ? key_text : "");
    const bool ok =
        keys_ok && cert_text != NULL && key_text != NULL && write_text(combined, both) &&
        write_text(garbage, "this is not PEM\n\x01\x02\x03\n") && write_text(empty, "") &&
        write_text(damaged_cert, "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n"
                                 "-----END CERTIFICATE-----\n") &&
        write_text(damaged_key, "-----BEGIN PRIVATE KEY-----\nMIIBAAAA\n"
                                "-----END PRIVATE KEY-----\n");
    free(cert_text);
    free(key_text);
    return ok ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static bool is_one_line(const char *s)
{
    return s[0] != '\0' && strchr(s, '\n') == NULL && strlen(s) < 255;
}

static void cfg_self_signed(struct config *c)
{
    config_defaults(c);
    c->tls.port = 8443;
    c->tls.self_signed = true;
}

/* A TLS context with a generated certificate, from the defaults (its SHA-256 fingerprint
 * in fingerprint unless NULL); fails the test if there is none. */
static struct tls *open_self_signed(struct config *c, char *fingerprint)
{
    cfg_self_signed(c);
    struct tls *t = NULL;
    char fp[96], err[256];
    if (tls_open(&t, c, fingerprint ? fingerprint : fp, err) != 0)
        fail_msg("tls_open: %s", err);
    return t;
}

static void cfg_files(struct config *c, const char *cert, const char *key)
{
    config_defaults(c);
    c->tls.port = 8443;
    c->tls.cert = cert != NULL ? strdup(cert) : NULL;
    c->tls.key = key != NULL ? strdup(key) : NULL;
}

static void fingerprint_of(const X509 *x, char out[96])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    assert_int_equal(X509_digest(x, EVP_sha256(), md, &len), 1);
    assert_int_equal(len, 32);
    for (unsigned int i = 0; i < len; i++) {
        snprintf(out + 3 * i, 4, "%02X%s", md[i], i + 1 < len ? ":" : "");
    }
}

static bool is_fingerprint(const char *fp)
{
    if (strlen(fp) != 95) {
        return false;
    }
    for (size_t i = 0; i < 95; i++) {
        const bool is_colon = i % 3 == 2;
        const char c = fp[i];
        if (is_colon ? c != ':' : !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

/* ---- certificates ---- */

static void test_open_self_signed(void **state)
{
    (void)state;
    struct config c;
    cfg_self_signed(&c);
    struct tls *t = NULL;
    char fingerprint[96] = "unset", err[256] = "";
    assert_int_equal(tls_open(&t, &c, fingerprint, err), 0);
    assert_non_null(t);
    assert_true(is_fingerprint(fingerprint));
    /* A second one is a new key and certificate. */
    struct tls *t2 = NULL;
    char fingerprint2[96];
    assert_int_equal(tls_open(&t2, &c, fingerprint2, err), 0);
    assert_string_not_equal(fingerprint, fingerprint2);
    tls_close(t2);
    tls_close(t);
    tls_close(NULL);
    config_free(&c);
    assert_int_equal(ERR_peek_error(), 0);
}

struct file_case {
    const char *desc;
    const char *cert, *key; /* NULL: not set */
    const char *want; /* NULL: success; else how the error starts, {cert} and {key} for paths */
};

/* pattern with {cert} and {key} replaced by those paths. */
static void expand(const char *pattern, const char *cert, const char *key, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = pattern; *p != '\0' && n + 1 < size;) {
        const char *value = NULL;
        if (strncmp(p, "{cert}", 6) == 0) {
            value = cert;
            p += 6;
        } else if (strncmp(p, "{key}", 5) == 0) {
            value = key != NULL ? key : "";
            p += 5;
        } else {
            out[n++] = *p++;
            continue;
        }
        for (; *value != '\0' && n + 1 < size; value++) {
            out[n++] = *value;
        }
    }
    out[n] = '\0';
}

static void test_cert_files(void **state)
{
    (void)state;
    char missing[PATH_MAX];
    path_in(missing, tmp_dir, "missing.pem");
    const struct file_case cases[] = {
        {"cert and key from --make-cert", cert_a, key_a, NULL},
        {"cert and key in one file", combined, combined, NULL},
        {"cert missing", missing, key_a, "tls.cert \"{cert}\": No such file or directory"},
        {"key missing", cert_a, missing, "tls.key \"{key}\": No such file or directory"},
        {"cert a directory", dir_a, key_a, "tls.cert \"{cert}\": not a regular file"},
        {"cert not PEM", garbage, key_a, "tls.cert \"{cert}\": no PEM certificate in the file"},
        {"cert empty", empty, key_a, "tls.cert \"{cert}\": no PEM certificate in the file"},
        {"cert damaged", damaged_cert, key_a,
         "tls.cert \"{cert}\": not a usable certificate chain ("},
        {"a key given as the cert", key_a, key_a,
         "tls.cert \"{cert}\": no PEM certificate in the file"},
        {"key not PEM", cert_a, garbage,
         "tls.key \"{key}\": no usable PEM private key in the file"},
        {"key damaged", cert_a, damaged_key,
         "tls.key \"{key}\": no usable PEM private key in the file"},
        {"a cert given as the key", cert_a, cert_a,
         "tls.key \"{key}\": no usable PEM private key in the file"},
        {"key of another certificate", cert_a, key_b,
         "tls.key \"{key}\": does not match the certificate in \"{cert}\""},
        {"RSA key for an ECDSA certificate", cert_a, rsa_key,
         "tls.key \"{key}\": does not match the certificate in \"{cert}\""},
        {"encrypted key (never prompts)", cert_a, encrypted_key,
         "tls.key \"{key}\": encrypted with a passphrase"},
        {"cert without key", cert_a, NULL, "TLS needs a certificate"},
    };
    int failures = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct file_case *k = &cases[i];
        struct config c;
        cfg_files(&c, k->cert, k->key);
        struct tls *t = NULL;
        char fingerprint[96] = "unset", err[256] = "", want[512] = "";
        const int rc = tls_open(&t, &c, fingerprint, err);
        if (k->want != NULL) {
            expand(k->want, k->cert, k->key, want, sizeof want);
        }
        bool ok = k->want == NULL ? rc == 0 && t != NULL && fingerprint[0] == '\0'
                                  : rc == -1 && t == NULL && is_one_line(err) &&
                                        strncmp(err, want, strlen(want)) == 0;
        ok = ok && ERR_peek_error() == 0; /* nothing left for the next caller to trip on */
        if (!ok) {
            print_error("file case %zu (%s): rc %d; err \"%s\"; want \"%s\"\n", i, k->desc, rc, err,
                        k->want ? want : "success");
            failures++;
        }
        ERR_clear_error();
        tls_close(t);
        config_free(&c);
    }
    assert_int_equal(failures, 0);
}

/* A long path keeps its tail (the file name) and the line stays whole. */
static void test_long_path(void **state)
{
    (void)state;
    char path[400];
    memset(path, 'd', sizeof path);
    memcpy(path, "/nonexistent/", 13);
    memcpy(path + sizeof path - 10, "/cert.pem", 10);
    struct config c;
    cfg_files(&c, path, key_a);
    struct tls *t = NULL;
    char fingerprint[96], err[256] = "";
    assert_int_equal(tls_open(&t, &c, fingerprint, err), -1);
    config_free(&c);
    if (!is_one_line(err) || strstr(err, "ddd/cert.pem\": No such file or directory") == NULL) {
        fail_msg("long path: err \"%s\"", err);
    }
}

static bool has_san(GENERAL_NAMES *names, int type, const void *value, size_t len)
{
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type != type) {
            continue;
        }
        const ASN1_STRING *s = type == GEN_DNS ? g->d.dNSName : g->d.iPAddress;
        if ((size_t)ASN1_STRING_length(s) == len &&
            memcmp(ASN1_STRING_get0_data(s), value, len) == 0) {
            return true;
        }
    }
    return false;
}

/* What --make-cert writes is the certificate the issue asks for. */
static void check_cert_contents(const char *path, const char *fingerprint)
{
    BIO *bio = BIO_new_file(path, "r");
    assert_non_null(bio);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(x);
    char fp[96];
    fingerprint_of(x, fp);
    assert_string_equal(fp, fingerprint);
    assert_int_equal(X509_get_version(x), X509_VERSION_3);

    const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
    assert_int_equal(ASN1_STRING_length(serial), 16); /* 128 bits, positive */
    assert_int_equal(serial->type, V_ASN1_INTEGER);

    int days = 0, secs = 0;
    assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)),
                     1);
    assert_int_equal(days, 365);
    assert_int_equal(secs, 3600); /* backdated by an hour */
    assert_true(X509_cmp_time(X509_get0_notBefore(x), NULL) < 0);

    char cn[64] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
    assert_string_equal(cn, "localhost");
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);

    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    assert_non_null(names);
    const unsigned char v4[4] = {127, 0, 0, 1}, v6[16] = {[15] = 1};
    assert_true(has_san(names, GEN_DNS, "localhost", 9));
    assert_true(has_san(names, GEN_IPADD, v4, 4));
    assert_true(has_san(names, GEN_IPADD, v6, 16));
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    if (host[0] != '\0' && strcmp(host, "localhost") != 0 && strpbrk(host, "_ ,") == NULL) {
        assert_true(has_san(names, GEN_DNS, host, strlen(host)));
    }
    GENERAL_NAMES_free(names);

    /* End-entity certificate for TLS servers, signed with ECDSA P-256 and SHA-256. */
    assert_int_equal(X509_check_ca(x), 0);
    assert_true(X509_get_extension_flags(x) & EXFLAG_BCONS);
    assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
    assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
    assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
    const EVP_PKEY *pkey = X509_get0_pubkey(x);
    assert_true(EVP_PKEY_is_a(pkey, "EC"));
    char group[32] = "";
    assert_int_equal(EVP_PKEY_get_group_name(pkey, group, sizeof group, NULL), 1);
    assert_string_equal(group, "prime256v1");
    assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
    assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
    X509_free(x);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void test_make_cert(void **state)
{
    (void)state;
    char dir[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
    path_in(dir, tmp_dir, "made");
    path_in(cert, dir, "cert.pem");
    path_in(key, dir, "key.pem");
    char fingerprint[96] = "", err[256] = "";
    assert_int_equal(tls_make_cert(dir, fingerprint, err), 0);
    assert_true(is_fingerprint(fingerprint));
    assert_int_equal(mode_of(dir), 0755);
    assert_int_equal(mode_of(cert), 0644);
    assert_int_equal(mode_of(key), 0600);
    check_cert_contents(cert, fingerprint);

    /* The pair is usable as tls.cert and tls.key. */
    struct config c;
    cfg_files(&c, cert, key);
    struct tls *t = NULL;
    char none[96] = "unset";
    assert_int_equal(tls_open(&t, &c, none, err), 0);
    assert_string_equal(none, "");
    tls_close(t);
    config_free(&c);

    /* Never overwritten, and nothing changes; a trailing '/' names the same files. */
    char *before_cert = read_text(cert), *before_key = read_text(key);
    char again[96] = "", dir_slash[PATH_MAX + 2];
    snprintf(dir_slash, sizeof dir_slash, "%s//", dir);
    assert_int_equal(tls_make_cert(dir_slash, again, err), -1);
    assert_true(is_one_line(err));
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "\"%s\": File exists (not overwritten)", key);
    assert_string_equal(err, want);
    assert_string_equal(again, "");
    char *after_cert = read_text(cert), *after_key = read_text(key);
    assert_string_equal(before_cert, after_cert);
    assert_string_equal(before_key, after_key);
    assert_int_equal(mode_of(key), 0600);
    free(before_cert);
    free(before_key);
    free(after_cert);
    free(after_key);
    assert_int_equal(ERR_peek_error(), 0);
}

/* A refusal or failure leaves nothing behind: no key without its certificate, no new
 * folder. */
static void test_make_cert_failures(void **state)
{
    (void)state;
    char fingerprint[96], err[256] = "", dir[PATH_MAX], path[PATH_MAX], want[PATH_MAX + 64];

    path_in(dir, tmp_dir, "half");
    assert_int_equal(mkdir(dir, 0755), 0);
    path_in(path, dir, "cert.pem");
    assert_true(write_text(path, "mine\n"));
    assert_int_equal(tls_make_cert(dir, fingerprint, err), -1);
    snprintf(want, sizeof want, "\"%s\": File exists (not overwritten)", path);
    assert_string_equal(err, want);
    path_in(path, dir, "key.pem");
    assert_int_equal(access(path, F_OK), -1); /* the key made first was taken back */

    assert_int_equal(tls_make_cert(garbage, fingerprint, err), -1);
    snprintf(want, sizeof want, "\"%s\": not a directory", garbage);
    assert_string_equal(err, want);

    path_in(dir, tmp_dir, "no/such/parent");
    assert_int_equal(tls_make_cert(dir, fingerprint, err), -1);
    snprintf(want, sizeof want, "\"%s\": No such file or directory", dir);
    assert_string_equal(err, want);
    path_in(dir, tmp_dir, "no");
    assert_int_equal(access(dir, F_OK), -1);
}

/* ---- handshakes ---- */

/* One connection: the client end driven with OpenSSL, the server end through tls.h. */
struct pair {
    int client_fd, server_fd;
    SSL *client, *server;
    int server_errno; /* errno right after the server's last tls_handshake */
};

struct client_opts {
    int min_version, max_version; /* 0: OpenSSL's default */
    const char *ciphers;          /* TLS 1.2 and below; NULL: the default */
    const char *sni;              /* NULL: none */
    const unsigned char *alpn;    /* wire format; NULL: no ALPN */
    size_t alpn_len;
    SSL_SESSION *session; /* to resume, or NULL */
};

static SSL_CTX *client_ctx_new(const struct client_opts *o)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
    if (o->min_version != 0) {
        assert_int_equal(SSL_CTX_set_min_proto_version(ctx, o->min_version), 1);
    }
    if (o->max_version != 0) {
        assert_int_equal(SSL_CTX_set_max_proto_version(ctx, o->max_version), 1);
    }
    if (o->ciphers != NULL) {
        assert_int_equal(SSL_CTX_set_cipher_list(ctx, o->ciphers), 1);
    }
    return ctx;
}

/* A connected pair over a non-blocking socketpair, or over TCP on loopback (for kTLS). */
static void pair_open(struct pair *p, struct tls *t, const struct client_opts *o, bool over_tcp)
{
    int fds[2];
    if (over_tcp) {
        const int lfd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof sin;
        assert_true(lfd >= 0);
        assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof sin), 0);
        assert_int_equal(listen(lfd, 1), 0);
        assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
        fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        assert_true(fds[0] >= 0);
        assert_true(connect(fds[0], (struct sockaddr *)&sin, sizeof sin) == 0 ||
                    errno == EINPROGRESS);
        fds[1] = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
        assert_true(fds[1] >= 0);
        close(lfd);
    } else {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    }
    p->client_fd = fds[0];
    p->server_fd = fds[1];
    SSL_CTX *ctx = client_ctx_new(o);
    p->client = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL keeps its own reference */
    assert_non_null(p->client);
    assert_int_equal(SSL_set_fd(p->client, p->client_fd), 1);
    SSL_set_connect_state(p->client);
    if (o->sni != NULL) {
        assert_int_equal(SSL_set_tlsext_host_name(p->client, o->sni), 1);
    }
    if (o->alpn != NULL) {
        assert_int_equal(SSL_set_alpn_protos(p->client, o->alpn, (unsigned int)o->alpn_len), 0);
    }
    if (o->session != NULL) {
        assert_int_equal(SSL_set_session(p->client, o->session), 1);
    }
    p->server = tls_accept(t, p->server_fd);
    assert_non_null(p->server);
}

static void pair_close(struct pair *p)
{
    SSL_free(p->client);
    tls_free(p->server);
    close(p->client_fd);
    close(p->server_fd);
    ERR_clear_error(); /* the client's errors; the server's are tls.c's to clear */
}

/* Steps both ends until each has finished or failed. Returns the server's last result;
 * *client_ok says whether the client finished. */
static enum io_result pair_handshake(struct pair *p, bool *client_ok)
{
    bool client_done = false, client_failed = false;
    enum io_result r = IO_AGAIN;
    for (int i = 0; i < STEPS_MAX; i++) {
        if (!client_done && !client_failed) {
            const int ret = SSL_do_handshake(p->client);
            const int e = ret == 1 ? SSL_ERROR_NONE : SSL_get_error(p->client, ret);
            client_done = ret == 1;
            client_failed =
                e != SSL_ERROR_NONE && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
        }
        if (r == IO_AGAIN) {
            bool want_write;
            r = tls_handshake(p->server, &want_write);
            p->server_errno = errno;
        }
        if (r != IO_AGAIN && (client_done || client_failed)) {
            break;
        }
        if (r != IO_AGAIN && r != IO_OK && i > 100) {
            break; /* the server gave up and the client waits for nothing more */
        }
    }
    ERR_clear_error();
    *client_ok = client_done;
    return r;
}

/* TLS 1.3 delivers session tickets after the handshake: the client reads them. */
static void client_read_pending(struct pair *p)
{
    char byte;
    size_t n;
    for (int i = 0; i < 4; i++) {
        if (SSL_read_ex(p->client, &byte, 1, &n) != 1) {
            ERR_clear_error();
        }
    }
}

static const unsigned char alpn_h2_h1[] = "\x02h2\x08http/1.1";

static void test_handshake_tls13(void **state)
{
    (void)state;
    struct config c;
    char fingerprint[96];
    struct tls *t = open_self_signed(&c, fingerprint);
    const struct client_opts o = {
        .sni = "www.example.test", .alpn = alpn_h2_h1, .alpn_len = sizeof alpn_h2_h1 - 1};
    struct pair p;
    pair_open(&p, t, &o, false);
    assert_null(tls_sni(p.server)); /* nothing read yet */
    bool client_ok;
    assert_int_equal(pair_handshake(&p, &client_ok), IO_OK);
    assert_true(client_ok);
    assert_int_equal(SSL_version(p.client), TLS1_3_VERSION);
    assert_string_equal(tls_version(p.server), "TLSv1.3");
    assert_string_equal(tls_sni(p.server), "www.example.test");
    const unsigned char *proto;
    unsigned int proto_len;
    SSL_get0_alpn_selected(p.client, &proto, &proto_len);
    assert_int_equal(proto_len, 8);
    assert_memory_equal(proto, "http/1.1", 8);
    char seen[96];
    fingerprint_of(SSL_get0_peer_certificate(p.client), seen);
    assert_string_equal(seen, fingerprint);
    assert_false(SSL_session_reused(p.server));

    /* Nothing to read yet: IO_AGAIN, waiting for readability. */
    char buf[16];
    size_t n = 99;
    assert_int_equal(tls_recv(p.server, buf, sizeof buf, &n), IO_AGAIN);
    assert_int_equal(n, 0);
    bool want_write = true;
    assert_int_equal(tls_handshake(p.server, &want_write), IO_OK); /* done stays done */
    pair_close(&p);
    tls_close(t);
    config_free(&c);
    assert_int_equal(ERR_peek_error(), 0);
}

struct alpn_case {
    const char *desc;
    const char *offer; /* wire format */
    size_t offer_len;  /* 0: no ALPN extension */
    const char *want;  /* "" for none */
};

#define OFFER(s) s, sizeof s - 1

static void test_alpn(void **state)
{
    (void)state;
    const struct alpn_case cases[] = {
        {"h2 and http/1.1: http/1.1", OFFER("\x02h2\x08http/1.1"), "http/1.1"},
        {"http/1.1 first", OFFER("\x08http/1.1\x02h2"), "http/1.1"},
        {"http/1.1 only", OFFER("\x08http/1.1"), "http/1.1"},
        {"h2 only: no ALPN, handshake still succeeds", OFFER("\x02h2"), ""},
        {"http/1.0 only", OFFER("\x08http/1.0"), ""},
        {"prefix of http/1.1 is not it", OFFER("\x07http/1."), ""},
        {"no ALPN extension", NULL, 0, ""},
    };
    struct config c;
    struct tls *t = open_self_signed(&c, NULL);
    int failures = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct alpn_case *k = &cases[i];
        const struct client_opts o = {.alpn = (const unsigned char *)k->offer,
                                      .alpn_len = k->offer_len};
        struct pair p;
        pair_open(&p, t, &o, false);
        bool client_ok;
        const enum io_result r = pair_handshake(&p, &client_ok);
        const unsigned char *proto = NULL;
        unsigned int len = 0;
        SSL_get0_alpn_selected(p.server, &proto, &len);
        const bool ok = r == IO_OK && client_ok && len == strlen(k->want) &&
                        (len == 0 || memcmp(proto, k->want, len) == 0);
        if (!ok) {
            print_error("alpn case %zu (%s): result %d, client %d, got \"%.*s\"\n", i, k->desc, r,
                        client_ok, (int)len, proto ? (const char *)proto : "");
            failures++;
        }
        pair_close(&p);
    }
    tls_close(t);
    config_free(&c);
    assert_int_equal(failures, 0);
}

struct version_case {
    const char *desc;
    int version;         /* the client's only version */
    const char *ciphers; /* the client's TLS <= 1.2 cipher list, NULL: default */
    bool is_accepted;
};

static void test_versions_and_ciphers(void **state)
{
    (void)state;
    const struct version_case cases[] = {
        {"TLS 1.3", TLS1_3_VERSION, NULL, true},
        {"TLS 1.2, default ciphers", TLS1_2_VERSION, NULL, true},
        {"TLS 1.2, ECDHE-ECDSA-CHACHA20-POLY1305", TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305",
         true},
        {"TLS 1.2, ECDHE-ECDSA-AES256-GCM-SHA384", TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384",
         true},
        {"TLS 1.2 without forward secrecy (AES128-GCM-SHA256)", TLS1_2_VERSION,
         "AES128-GCM-SHA256:@SECLEVEL=0", false},
        {"TLS 1.2 with CBC (ECDHE-ECDSA-AES128-SHA256)", TLS1_2_VERSION,
         "ECDHE-ECDSA-AES128-SHA256", false},
        {"TLS 1.1", TLS1_1_VERSION, "DEFAULT@SECLEVEL=0", false},
        {"TLS 1.0", TLS1_VERSION, "DEFAULT@SECLEVEL=0", false},
    };
    struct config c;
    struct tls *t = open_self_signed(&c, NULL);
    int failures = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct version_case *k = &cases[i];
        const struct client_opts o = {
            .min_version = k->version, .max_version = k->version, .ciphers = k->ciphers};
        struct pair p;
        pair_open(&p, t, &o, false);
        bool client_ok;
        const enum io_result r = pair_handshake(&p, &client_ok);
        const char *cipher = SSL_get_cipher_name(p.server);
        bool ok = k->is_accepted ? r == IO_OK && client_ok && SSL_version(p.server) == k->version
                                 : r == IO_ERROR && !client_ok && p.server_errno == EPROTO;
        /* Whatever TLS 1.2 negotiates is ECDHE with an AEAD. */
        if (ok && k->is_accepted && k->version == TLS1_2_VERSION) {
            ok = strncmp(cipher, "ECDHE-", 6) == 0 &&
                 (strstr(cipher, "GCM") != NULL || strstr(cipher, "CHACHA20") != NULL);
        }
        ok = ok && ERR_peek_error() == 0;
        if (!ok) {
            print_error("version case %zu (%s): result %d, client %d, cipher %s\n", i, k->desc, r,
                        client_ok, cipher ? cipher : "-");
            failures++;
        }
        pair_close(&p);
    }
    tls_close(t);
    config_free(&c);
    assert_int_equal(failures, 0);
}

struct junk_case {
    const char *desc;
    const char *bytes; /* what the client sends instead of a ClientHello, then it closes */
    size_t len;
    bool is_closed_after; /* client closes its end after sending */
    enum io_result want;
};

static void test_not_tls(void **state)
{
    (void)state;
    const struct junk_case cases[] = {
        {"plain HTTP", OFFER("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false, IO_ERROR},
        {"plain HTTP, then closed", OFFER("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), true, IO_ERROR},
        {"closed at once", "", 0, true, IO_CLOSED},
        {"half a record header, then closed", OFFER("\x16\x03\x01"), true, IO_CLOSED},
        {"a record header, then closed", OFFER("\x16\x03\x01\x00\x80"), true, IO_CLOSED},
        {"a record header, then silence", OFFER("\x16\x03\x01\x00\x80"), false, IO_AGAIN},
        {"an SSLv2 ClientHello",
         OFFER("\x80\x1c\x01\x00\x02\x00\x03\x00\x00\x00\x10\x01\x00\x80"
               "AAAAAAAAAAAAAAAA"),
         false, IO_ERROR},
    };
    struct config c;
    struct tls *t = open_self_signed(&c, NULL);
    int failures = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct junk_case *k = &cases[i];
        int fds[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
        SSL *ssl = tls_accept(t, fds[1]);
        assert_non_null(ssl);
        assert_int_equal(write(fds[0], k->bytes, k->len), (ssize_t)k->len);
        if (k->is_closed_after) {
            close(fds[0]);
            fds[0] = -1;
        }
        bool want_write = true;
        const enum io_result r = tls_handshake(ssl, &want_write);
        const bool ok = r == k->want && (r != IO_AGAIN || !want_write) && ERR_peek_error() == 0;
        if (!ok) {
            print_error("junk case %zu (%s): result %d, want %d\n", i, k->desc, r, k->want);
            failures++;
        }
        tls_free(ssl);
        if (fds[0] >= 0) {
            close(fds[0]);
        }
        close(fds[1]);
    }
    tls_close(t);
    config_free(&c);
    assert_int_equal(failures, 0);
}

static void fill_random(unsigned char *p, size_t len)
{
    assert_int_equal(RAND_bytes(p, (int)len), 1);
}

static void test_data_both_ways(void **state)
{
    (void)state;
    struct config c;
    struct tls *t = open_self_signed(&c, NULL);
    const struct client_opts o = {0};
    struct pair p;
    pair_open(&p, t, &o, false);
    bool client_ok;
    assert_int_equal(pair_handshake(&p, &client_ok), IO_OK);

    unsigned char *down = malloc(DATA_BYTES), *up = malloc(DATA_BYTES);
    unsigned char *got_down = malloc(DATA_BYTES), *got_up = malloc(DATA_BYTES);
    assert_true(down && up && got_down && got_up);
    fill_random(down, DATA_BYTES);
    fill_random(up, DATA_BYTES);
    size_t s_sent = 0, s_got = 0, c_sent = 0, c_got = 0;
    int steps = 0, server_agains = 0;
    /* First fill the socket, so that the server meets IO_AGAIN (waiting to write) and then
     * retries with the same bytes. */
    for (int i = 0; i < STEPS_MAX && server_agains == 0; i++) {
        size_t n = 0;
        const enum io_result r = tls_send(p.server, (const char *)down + s_sent, 16384, &n);
        assert_true(r == IO_OK || r == IO_AGAIN);
        s_sent += n;
        server_agains += r == IO_AGAIN;
    }
    assert_int_equal(server_agains, 1);
    assert_true(s_sent > 0 && s_sent < DATA_BYTES);
    for (; steps < STEPS_MAX &&
           (s_sent < DATA_BYTES || s_got < DATA_BYTES || c_sent < DATA_BYTES || c_got < DATA_BYTES);
         steps++) {
        size_t n = 0;
        if (s_sent < DATA_BYTES) {
            /* The same bytes again after IO_AGAIN, as OpenSSL requires. */
            const size_t len = DATA_BYTES - s_sent < 65536 ? DATA_BYTES - s_sent : 65536;
            const enum io_result r = tls_send(p.server, (const char *)down + s_sent, len, &n);
            assert_true(r == IO_OK || r == IO_AGAIN);
            assert_true(n <= len);
            s_sent += n;
            server_agains += r == IO_AGAIN;
        }
        if (c_got < DATA_BYTES && SSL_read_ex(p.client, got_down + c_got, DATA_BYTES - c_got, &n)) {
            c_got += n;
        }
        if (c_sent < DATA_BYTES &&
            SSL_write_ex(p.client, up + c_sent,
                         DATA_BYTES - c_sent < 40000 ? DATA_BYTES - c_sent : 40000, &n)) {
            c_sent += n;
        }
        while (s_got < DATA_BYTES) { /* more may wait inside OpenSSL after IO_OK */
            const enum io_result r =
                tls_recv(p.server, (char *)got_up + s_got, DATA_BYTES - s_got, &n);
            assert_true(r == IO_OK || r == IO_AGAIN);
            if (r == IO_AGAIN) {
                break;
            }
            assert_true(n > 0);
            s_got += n;
        }
        ERR_clear_error(); /* the client's WANT_* */
    }
    assert_true(steps < STEPS_MAX);
    assert_memory_equal(down, got_down, DATA_BYTES);
    assert_memory_equal(up, got_up, DATA_BYTES);

    /* A zero-length send takes nothing and succeeds. */
    size_t n = 99;
    assert_int_equal(tls_send(p.server, "", 0, &n), IO_OK);
    assert_int_equal(n, 0);

    /* close_notify from the client: IO_CLOSED. */
    assert_true(SSL_shutdown(p.client) >= 0);
    char buf[64];
    assert_int_equal(tls_recv(p.server, buf, sizeof buf, &n), IO_CLOSED);
    pair_close(&p);

    /* A client that just goes away: IO_CLOSED too, and a send to it fails cleanly. */
    pair_open(&p, t, &o, false);
    assert_int_equal(pair_handshake(&p, &client_ok), IO_OK);
    close(p.client_fd);
    p.client_fd = -1;
    assert_int_equal(tls_recv(p.server, buf, sizeof buf, &n), IO_CLOSED);
    const enum io_result r = tls_send(p.server, "x", 1, &n);
    assert_true(r == IO_CLOSED || r == IO_ERROR);
    assert_int_equal(ERR_peek_error(), 0);
    pair_close(&p);

    free(down);
    free(up);
    free(got_down);
    free(got_up);
    tls_close(t);
    config_free(&c);
}

/* One connection with `session` (NULL: a full handshake); returns its session for the next
 * resumption and says whether this one was resumed. */
static SSL_SESSION *connect_with(struct tls *t, int version, SSL_SESSION *session, bool *is_reused,
                                 char fingerprint[96])
{
    const struct client_opts o = {
        .min_version = version, .max_version = version, .session = session};
    struct pair p;
    pair_open(&p, t, &o, false);
    bool client_ok;
    assert_int_equal(pair_handshake(&p, &client_ok), IO_OK);
    assert_true(client_ok);
    client_read_pending(&p);
    *is_reused = SSL_session_reused(p.client);
    assert_int_equal(SSL_session_reused(p.server), *is_reused);
    if (fingerprint != NULL) {
        fingerprint_of(SSL_get0_peer_certificate(p.client), fingerprint);
    }
    /* close_notify first: OpenSSL marks the session of a connection freed without one as
     * not resumable. */
    assert_true(SSL_shutdown(p.client) >= 0);
    SSL_SESSION *next = SSL_get1_session(p.client);
    assert_non_null(next);
    assert_true(SSL_SESSION_is_resumable(next));
    pair_close(&p);
    return next;
}

static void test_resumption(void **state)
{
    (void)state;
    static const int versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        const int v = versions[i];
        struct config c;
        struct tls *t = open_self_signed(&c, NULL);
        bool is_reused;
        SSL_SESSION *s1 = connect_with(t, v, NULL, &is_reused, NULL);
        assert_false(is_reused);
        SSL_SESSION *s = connect_with(t, v, s1, &is_reused, NULL);
        assert_true(is_reused);
        SSL_SESSION_free(s);

        /* Keys survive a reload, so tickets do too. */
        char fp2[96], err[256];
        assert_int_equal(tls_reload(t, &c, fp2, err), 0);
        s = connect_with(t, v, s1, &is_reused, NULL);
        assert_true(is_reused);
        SSL_SESSION_free(s);

        /* One rotation: the old key still opens tickets (and a new ticket is issued). */
        assert_int_equal(tls_rotate_ticket_keys(t), 0);
        SSL_SESSION *s2 = connect_with(t, v, s1, &is_reused, NULL);
        assert_true(is_reused);

        /* Two rotations: s1's key is gone (a full handshake, which still succeeds), while
         * the ticket issued after the first rotation still works. */
        assert_int_equal(tls_rotate_ticket_keys(t), 0);
        s = connect_with(t, v, s1, &is_reused, NULL);
        assert_false(is_reused);
        SSL_SESSION_free(s);
        s = connect_with(t, v, s2, &is_reused, NULL);
        if (!is_reused) {
            fail_msg("version %#x: the renewed ticket did not resume", (unsigned)v);
        }
        SSL_SESSION_free(s);

        SSL_SESSION_free(s2);
        SSL_SESSION_free(s1);
        tls_close(t);
        config_free(&c);
    }
    assert_int_equal(ERR_peek_error(), 0);
}

/* The SHA-256 fingerprint of a PEM certificate file. */
static void file_fingerprint(const char *path, char out[96])
{
    BIO *bio = BIO_new_file(path, "r");
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(x);
    fingerprint_of(x, out);
    X509_free(x);
}

static void test_reload(void **state)
{
    (void)state;
    struct config c;
    cfg_self_signed(&c);
    struct tls *t = NULL;
    char fp1[96], fp2[96], fp3[96], seen[96], want[96], err[256];
    assert_int_equal(tls_open(&t, &c, fp1, err), 0);

    /* A self-signed certificate survives a reload: clients may have pinned it. */
    assert_int_equal(tls_reload(t, &c, fp2, err), 0);
    assert_string_equal(fp1, fp2);
    bool is_reused;
    SSL_SESSION *s = connect_with(t, 0, NULL, &is_reused, seen);
    SSL_SESSION_free(s);
    assert_string_equal(seen, fp1);

    /* From self-signed to files: no fingerprint to print, and the file's certificate for
     * new connections, while one accepted before the reload keeps the old certificate. */
    const struct client_opts o = {0};
    struct pair before;
    pair_open(&before, t, &o, false);
    struct config files;
    cfg_files(&files, cert_a, key_a);
    assert_int_equal(tls_reload(t, &files, fp3, err), 0);
    assert_string_equal(fp3, "");
    bool client_ok;
    assert_int_equal(pair_handshake(&before, &client_ok), IO_OK);
    fingerprint_of(SSL_get0_peer_certificate(before.client), seen);
    assert_string_equal(seen, fp1);
    pair_close(&before);
    file_fingerprint(cert_a, want);
    s = connect_with(t, 0, NULL, &is_reused, seen);
    SSL_SESSION_free(s);
    assert_string_equal(seen, want);

    /* A reload that fails keeps the context there was. */
    struct config broken;
    char missing[PATH_MAX];
    path_in(missing, tmp_dir, "missing.pem");
    cfg_files(&broken, missing, key_a);
    assert_int_equal(tls_reload(t, &broken, fp3, err), -1);
    assert_true(is_one_line(err));
    s = connect_with(t, 0, NULL, &is_reused, seen);
    SSL_SESSION_free(s);
    assert_string_equal(seen, want);
    config_free(&broken);
    config_free(&files);

    tls_close(t);
    config_free(&c);
    assert_int_equal(ERR_peek_error(), 0);
}

/* kTLS needs TCP and the kernel's tls module. Where it is there, a file goes out through
 * tls_sendfile byte-exact; where not, tls_can_sendfile says so and tls_sendfile refuses. */
static void test_ktls(void **state)
{
    (void)state;
    struct config c;
    struct tls *t = open_self_signed(&c, NULL);
    const struct client_opts o = {.ciphers = NULL};
    struct pair p;
    pair_open(&p, t, &o, true);
    bool client_ok;
    assert_int_equal(pair_handshake(&p, &client_ok), IO_OK);
    const bool has_ktls = tls_can_sendfile(p.server);
    printf("kTLS: tls_can_sendfile after a TLS 1.3 handshake over TCP: %s (%s)\n",
           has_ktls ? "yes" : "no", SSL_get_cipher_name(p.server));

    char path[PATH_MAX];
    path_in(path, tmp_dir, "payload.bin");
    unsigned char *data = malloc(DATA_BYTES), *got = malloc(DATA_BYTES);
    assert_true(data && got);
    fill_random(data, DATA_BYTES);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, DATA_BYTES, f), DATA_BYTES);
    assert_int_equal(fclose(f), 0);
    const int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    uint64_t offset = 0;
    size_t n = 0;
    if (!has_ktls) {
        assert_int_equal(tls_sendfile(p.server, fd, &offset, DATA_BYTES, &n), IO_ERROR);
        assert_int_equal(errno, EOPNOTSUPP);
        assert_int_equal(offset, 0);
    } else {
        size_t got_len = 0;
        for (int i = 0; i < STEPS_MAX && got_len < DATA_BYTES; i++) {
            if (offset < DATA_BYTES) {
                const enum io_result r =
                    tls_sendfile(p.server, fd, &offset, DATA_BYTES - (size_t)offset, &n);
                assert_true(r == IO_OK || r == IO_AGAIN);
            }
            if (SSL_read_ex(p.client, got + got_len, DATA_BYTES - got_len, &n)) {
                got_len += n;
            }
            ERR_clear_error();
        }
        assert_int_equal(got_len, DATA_BYTES);
        assert_memory_equal(data, got, DATA_BYTES);
        /* Past the end of the file: ENODATA. */
        assert_int_equal(tls_sendfile(p.server, fd, &offset, 100, &n), IO_ERROR);
        assert_int_equal(errno, ENODATA);
    }
    close(fd);
    free(data);
    free(got);
    pair_close(&p);
    tls_close(t);
    config_free(&c);
    assert_int_equal(ERR_peek_error(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_self_signed),
        cmocka_unit_test(test_cert_files),
        cmocka_unit_test(test_long_path),
        cmocka_unit_test(test_make_cert),
        cmocka_unit_test(test_make_cert_failures),
        cmocka_unit_test(test_handshake_tls13),
        cmocka_unit_test(test_alpn),
        cmocka_unit_test(test_versions_and_ciphers),
        cmocka_unit_test(test_not_tls),
        cmocka_unit_test(test_data_both_ways),
        cmocka_unit_test(test_resumption),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_ktls),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
