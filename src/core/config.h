/* SPDX-License-Identifier: MIT */
/*
 * Configuration: built-in defaults < config.json < command line (SPEC §1).
 *
 * config_load() fills a struct config from the defaults, then the JSON file (parsed with
 * cJSON), then the command-line options (getopt_long), and validates the result. Bad
 * configuration is never ignored: an unknown key, a wrong type, a value out of range or a
 * root that is not a directory makes it fail with one line in err naming the key (or
 * option) and what is wrong, e.g.
 *     config.json: "port": must be an integer from 0 to 65535, got 70000
 * Port 0 means "any free port" (the start-up line prints the one chosen).
 *
 * The struct owns every string it points to; config_free() releases them. After start-up
 * the server only reads it (a reload builds a new one and swaps the pointer).
 */
#ifndef MICA_CORE_CONFIG_H
#define MICA_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define MICA_VERSION "0.1.0"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* What main() should do once the configuration is read. */
enum config_action {
    CONFIG_RUN,           /* serve */
    CONFIG_CHECK,         /* --check-config: validated, print "config OK" and exit 0 */
    CONFIG_HELP,          /* -h: print config_usage() and exit 0 */
    CONFIG_VERSION,       /* -V: print the version and exit 0 */
    CONFIG_HASH_PASSWORD, /* --hash-password */
    CONFIG_MAKE_CERT,     /* --make-cert DIR: write a self-signed certificate and exit */
};

/* One `headers` rule: response headers added to every path matching the glob. */
struct header_field {
    char *name;
    char *value;
};
struct header_rule {
    char *glob;
    struct header_field *fields;
    size_t n_fields;
};

/* An address or network in trusted_proxies; IPv4 as v4-mapped IPv6 (prefix + 96). */
struct config_net {
    struct in6_addr addr;
    unsigned char prefix;
};

struct config {
    char *config_path; /* the file read, or NULL when none was */

    int port;    /* 0..65535, 0 = any free port */
    char *bind;  /* NULL = all interfaces, IPv4 and IPv6 */
    char *root;  /* an existing directory */
    int threads; /* 1..1024; default: online CPUs */
    char *default_page;
    char *not_found_page;
    char *templates_dir;
    char *access_log; /* path, "-" (stdout) or "off" */
    char *error_log;  /* path, "-" (stderr) or "off" */
    enum log_level log_level;
    bool directory_listing;
    bool compression;
    char *data_dir;

    int max_connections;
    int keepalive_timeout_s;
    int header_timeout_s;
    int body_timeout_s;
    long body_min_rate; /* bytes per second */
    int send_timeout_s;
    size_t max_header_bytes;
    size_t max_body_bytes;

    char **index_files;
    size_t n_index_files;

    struct {
        bool enabled;
        size_t max_bytes;
        size_t max_file_bytes;
    } cache;

    struct {
        char *user;          /* NULL = no admin: admin routes answer 404 */
        char *password_hash; /* crypt(3) form */
    } admin;

    bool clean_urls;
    char *spa_fallback; /* NULL = off */
    struct header_rule *headers;
    size_t n_headers;

    struct {
        int port; /* 0 = TLS off */
        char *cert;
        char *key;
        bool self_signed;
        bool redirect_http;
        long hsts_max_age; /* seconds; 0 = no Strict-Transport-Security */
    } tls;

    /* Proxies whose X-Forwarded-For is believed: the client is the address they name. */
    struct config_net *trusted_proxies;
    size_t n_trusted_proxies;

    char *user;   /* drop privileges to this user after binding; NULL = stay */
    bool metrics; /* serve Prometheus /metrics */

    char *make_cert_dir; /* with CONFIG_MAKE_CERT, the DIR of --make-cert; else NULL */
};

/*
 * Reads the command line and the config file into *cfg (which it initialises) and says
 * what to do in *action. Returns 0, or -1 with one line in err (cfg is then freed).
 * With CONFIG_HELP, CONFIG_VERSION, CONFIG_HASH_PASSWORD and CONFIG_MAKE_CERT the file is
 * not read.
 */
int config_load(struct config *cfg, int argc, char **argv, enum config_action *action,
                char err[256]);

/* Parses JSON text as a config file would be, on top of what *cfg holds. `name` is used in
 * error messages. Returns 0 or -1 with err. Used by config_load and by reloads. */
int config_parse_json(struct config *cfg, const char *json, size_t len, const char *name,
                      char err[256]);

/* Sets the built-in defaults (SPEC §1). */
void config_defaults(struct config *cfg);

/* Checks cross-field rules and the filesystem (root exists and is a directory).
 * Returns 0 or -1 with err. */
int config_validate(const struct config *cfg, char err[256]);

/* Resolves a `bind` value (an IPv4 or IPv6 address, [IPv6], or a host name) to the
 * address to listen on (port 0). Returns 0 or -1 with err naming the key. */
int config_resolve_bind(const char *bind, struct sockaddr_storage *ss, socklen_t *len,
                        char err[256]);

/* Parses "192.0.2.1", "10.0.0.0/8", "2001:db8::/32" into *net. 0, or -1 if malformed. */
int config_parse_net(const char *text, struct config_net *net);

/* A path for a one-line error message: control bytes become '?', and a long path keeps
 * its end (where the file name is) after "...". out holds size bytes (at least 8). */
void config_show_path(const char *path, char *out, size_t size);

/* The --help text. */
const char *config_usage(void);

void config_free(struct config *cfg);

#endif
