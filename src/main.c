/* SPDX-License-Identifier: MIT */
/* mica: command line and configuration in, server_run() out; exit codes. Nothing else. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/server.h"
#include "core/tls.h"
#include "util/password.h"

/* --hash-password: one line from stdin (not echoed on a terminal) → its hash on stdout. */
static int hash_password(void)
{
    struct termios saved, quiet;
    bool is_tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (is_tty) {
        fputs("Password: ", stderr);
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char line[1024];
    bool got = fgets(line, sizeof(line), stdin) != NULL;
    if (is_tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        fputc('\n', stderr);
    }
    size_t n = got ? strcspn(line, "\r\n") : 0;
    line[n] = '\0';
    if (n == 0) {
        fprintf(stderr, "mica: --hash-password: no password on standard input\n");
        return 1;
    }
    char hash[PASSWORD_HASH_MAX];
    int rc = password_hash(line, hash, sizeof(hash));
    explicit_bzero(line, sizeof(line));
    if (rc != 0) {
        fprintf(stderr, "mica: --hash-password: %s\n", strerror(-rc));
        return 1;
    }
    printf("%s\n", hash);
    return 0;
}

/* --make-cert DIR: the files written and the fingerprint to compare a browser's with. */
static int make_cert(const char *dir)
{
    char fingerprint[96], err[256];
    if (tls_make_cert(dir, fingerprint, err) != 0) {
        fprintf(stderr, "mica: --make-cert: %s\n", err);
        return 1;
    }
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') {
        len--; /* "certs/" gives "certs/cert.pem", as tls_make_cert names it */
    }
    printf("certificate: %.*s/cert.pem\nkey: %.*s/key.pem\nSHA-256 fingerprint: %s\n", (int)len,
           dir, (int)len, dir, fingerprint);
    return 0;
}

int main(int argc, char **argv)
{
    struct config cfg;
    enum config_action action;
    char err[256];
    if (config_load(&cfg, argc, argv, &action, err) != 0) {
        fprintf(stderr, "mica: %s\n", err);
        return 1;
    }
    int status = 0;
    switch (action) {
    case CONFIG_HELP:
        fputs(config_usage(), stdout);
        break;
    case CONFIG_VERSION:
        printf("mica %s\n", MICA_VERSION);
        break;
    case CONFIG_CHECK:
        if (server_check(&cfg, err) != 0) {
            fprintf(stderr, "mica: %s\n", err);
            status = 1;
            break;
        }
        printf("config OK (%s)\n", cfg.config_path ? cfg.config_path : "built-in defaults");
        break;
    case CONFIG_HASH_PASSWORD:
        status = hash_password();
        break;
    case CONFIG_MAKE_CERT:
        status = make_cert(cfg.make_cert_dir);
        break;
    case CONFIG_RUN:
        if (log_open(cfg.log_level, cfg.access_log, cfg.error_log, err) != 0 ||
            server_run(&cfg, argc, argv, err) != 0) {
            fprintf(stderr, "mica: %s\n", err);
            status = 1;
        }
        log_close();
        break;
    }
    config_free(&cfg);
    return status;
}
