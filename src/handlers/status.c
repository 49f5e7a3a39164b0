/* SPDX-License-Identifier: MIT */
/*
 * The /status page. The template is read from templates_dir on every request, so an edit
 * shows on the next reload (this page is not on the hot path; the template engine's cache
 * replaces the read in issue #5). A built-in template stands in when the file is missing.
 */
#include "handlers/status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/date.h"
#include "template/subst.h"

enum { TEMPLATE_MAX_BYTES = 256 * 1024 };

static const char builtin_template[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>mica status</title></head>\n<body><h1>mica status</h1>\n<ul>"
    "<li>Uptime: {{uptime}} (<span id=\"uptime-s\">{{uptime_s}}</span> s)</li>"
    "<li>Started: {{started_at}}</li><li>Requests served: {{requests_total}}</li>"
    "<li>Active connections: {{active_connections}}</li><li>Worker threads: {{threads}}</li>"
    "<li>Version: {{version}}</li></ul></body></html>\n";

void status_format_uptime(unsigned long long s, char *out, size_t cap)
{
    unsigned long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
    if (d)
        snprintf(out, cap, "%llu d %llu h %02llu min %02llu s", d, h, m, sec);
    else if (h)
        snprintf(out, cap, "%llu h %02llu min %02llu s", h, m, sec);
    else if (m)
        snprintf(out, cap, "%llu min %02llu s", m, sec);
    else
        snprintf(out, cap, "%llu s", sec);
}

/* Reads templates_dir/status.html into t (heap); false when absent or unreadable. */
static bool read_template(int dir_fd, struct buf *t)
{
    if (dir_fd < 0)
        return false;
    int fd = openat(dir_fd, "status.html", O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return false;
    struct stat st;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= TEMPLATE_MAX_BYTES &&
              buf_reserve(t, (size_t)st.st_size);
    while (ok && t->len < (size_t)st.st_size) {
        ssize_t n = read(fd, t->data + t->len, (size_t)st.st_size - t->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* shrank under us: render what we have */
        t->len += (size_t)n;
    }
    close(fd);
    return ok;
}

int status_handle(struct env *env, const struct request *req, struct response *resp)
{
    (void)req;
    struct stats_total tot;
    stats_sum(env->stats, env->n_workers, &tot);
    unsigned long long up_s = (env->now_ms - env->started_ms) / 1000;

    char uptime[64], uptime_s[24], started[DATE_ISO_LEN + 1], requests[24], active[24],
        threads[16];
    status_format_uptime(up_s, uptime, sizeof(uptime));
    snprintf(uptime_s, sizeof(uptime_s), "%llu", up_s);
    date_iso(env->started_at, started);
    /* This request is counted when its response is written; include it here. */
    snprintf(requests, sizeof(requests), "%llu", (unsigned long long)tot.requests + 1);
    snprintf(active, sizeof(active), "%llu", (unsigned long long)tot.connections_active);
    snprintf(threads, sizeof(threads), "%u", env->n_workers);
    const struct subst_var vars[] = {
        {"uptime", uptime},         {"uptime_s", uptime_s},
        {"started_at", started},    {"requests_total", requests},
        {"active_connections", active}, {"threads", threads},
        {"version", MICA_VERSION},
    };

    struct buf t;
    buf_init(&t, NULL, 0, TEMPLATE_MAX_BYTES);
    struct slice tmpl = read_template(env->templates_fd, &t) ? buf_slice(&t)
                                                             : SLICE_LIT(builtin_template);
    bool ok = subst_render(tmpl, vars, sizeof(vars) / sizeof(vars[0]), env->scratch);
    buf_free(&t);
    if (!ok)
        return response_error(resp, 500);
    response_header(resp, "Cache-Control", SLICE_LIT("no-store"));
    response_set_body(resp, "text/html; charset=utf-8", buf_slice(env->scratch));
    return 200;
}
