/* SPDX-License-Identifier: MIT */
/* Form capture; see forms.h. */
#include "handlers/forms.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "handlers/page.h"
#include "handlers/static.h"
#include "http/date.h"
#include "store/store.h"
#include "util/utf8.h"

enum { FORM_NAME_MAX = 64, REDIRECT_MAX = 2048 };

static const char builtin_thanks[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>Thank you</title></head>\n<body><h1>Thank you</h1>"
    "<p>Your message was received.</p><p><a href=\"/\">Back to the site</a></p></body></html>\n";

/* The NAME of /forms/NAME: letters, digits, '-' and '_'. */
static bool valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > FORM_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* A field's single string value (the first, if repeated), or NULL. */
static const char *field(const cJSON *fields, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(fields, name);
    if (cJSON_IsArray(v))
        v = cJSON_GetArrayItem(v, 0);
    return cJSON_GetStringValue(v);
}

bool forms_same_origin(struct slice t, struct slice host)
{
    if (t.len == 0 || t.len > REDIRECT_MAX)
        return false;
    for (size_t i = 0; i < t.len; i++) {
        unsigned char c = (unsigned char)t.ptr[i];
        if (c < 0x21 || c == 0x7f || c == '\\')
            return false; /* no header injection, no "/\evil.example" tricks */
    }
    if (t.ptr[0] == '/')
        return t.len == 1 || t.ptr[1] != '/'; /* "//evil.example" is another site */
    size_t first = 0; /* a relative reference ("thanks.html", "../done?x=1") resolves on
                       * this site: its first segment has no ':' (RFC 3986 §4.2), so it
                       * cannot be read as a scheme */
    while (first < t.len && t.ptr[first] != '/' && t.ptr[first] != '?' && t.ptr[first] != '#')
        first++;
    if (!memchr(t.ptr, ':', first))
        return true;
    size_t skip;
    if (t.len > 7 && strncasecmp(t.ptr, "http://", 7) == 0)
        skip = 7;
    else if (t.len > 8 && strncasecmp(t.ptr, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    const char *auth = t.ptr + skip, *end = t.ptr + t.len, *p = auth;
    while (p < end && *p != '/' && *p != '?' && *p != '#')
        p++;
    return host.ptr && slice_case_eq(slice_make(auth, (size_t)(p - auth)), host);
}

/* The answer to a stored (or honeypot-dropped) submission. */
static int respond(struct env *env, const struct request *req, struct response *resp,
                   const char *name, int64_t id)
{
    const char *target = field(env->form, "_redirect");
    if (target) {
        response_header(resp, "Location", slice_str(target));
        resp->status = 303;
        response_set_body(resp, NULL, (struct slice){NULL, 0});
        return 303;
    }
    cJSON *ctx = page_context(env, req);
    if (!ctx)
        return response_error(resp, 503);
    cJSON_AddStringToObject(ctx, "form_name", name);
    if (id > 0)
        cJSON_AddNumberToObject(ctx, "id", (double)id);
    int status = page_render(env, resp, 200, "thanks.html", builtin_thanks, ctx);
    response_header(resp, "Cache-Control", SLICE_LIT("no-store"));
    cJSON_Delete(ctx);
    return status;
}

/* The fields to store: all but the control fields. */
static char *stored_fields(const cJSON *fields)
{
    cJSON *copy = cJSON_Duplicate(fields, true);
    if (!copy)
        return NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "_gotcha");
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "_redirect");
    char *text = cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    return text;
}

/* Header text for the database: any bytes, made valid UTF-8. */
static char *slice_dup(struct slice s)
{
    return utf8_sanitized(s.ptr ? s.ptr : "", s.len);
}

int forms_handle(struct env *env, const struct request *req, struct response *resp)
{
    /* The router sends "forms" and "forms/…" here: the name is what follows the slash. */
    const char *name = env->rel_info.len > 6 ? env->rel + 6 : "";
    if (!valid_name(name) || env->rel_info.trailing_slash)
        return static_not_found(env, resp);
    const char *target = field(env->form, "_redirect");
    if (target && !forms_same_origin(slice_str(target), req->known[HDR_HOST])) {
        /* Never a redirect to another site; the submission itself is kept and thanked.
         * Said at most once a second per thread: anyone can post such forms. */
        static _Thread_local struct log_limit limit;
        uint64_t suppressed;
        if (log_enabled(LOG_WARN) && log_limit_allow(&limit, (uint64_t)env->now, &suppressed))
            log_warn("%s: form %s: _redirect leaves the site, ignored (thanks.html instead)%s",
                     env->client_ip, name, suppressed ? " (and more not logged)" : "");
        cJSON_DeleteItemFromObjectCaseSensitive(env->form, "_redirect");
    }
    const char *gotcha = field(env->form, "_gotcha");
    if (gotcha && *gotcha) {
        /* A bot filled the field people never see: it gets the usual answer, nothing else. */
        log_info("%s: form %s: honeypot filled, dropped", env->client_ip, name);
        return respond(env, req, resp, name, 0);
    }
    if (!env->store)
        return response_error(resp, 503);
    struct store_job *job = store_job_new(STORE_SUBMIT);
    char now[DATE_ISO_LEN + 1];
    date_iso(env->now, now);
    if (job) {
        job->form = strdup(name);
        job->created_at = strdup(now);
        job->client_ip = strdup(env->client_ip);
        job->user_agent = slice_dup(req->known[HDR_USER_AGENT]);
        job->fields_json = stored_fields(env->form);
        job->files_json = cJSON_PrintUnformatted(env->files);
        job->inbox = env->inbox;
    }
    if (!job || !job->form || !job->created_at || !job->client_ip || !job->user_agent ||
        !job->fields_json || !job->files_json || store_post(env->store, job) != 0) {
        log_error("form %s: not stored: out of memory or the store queue is full", name);
        store_job_free(job);
        return response_error(resp, 503);
    }
    env->pending_job = job;
    return 0;
}

int forms_done(struct env *env, const struct request *req, struct response *resp,
               struct store_job *job)
{
    if (job->status != 0) {
        log_error("form %s: not stored: %s", job->form, job->error);
        return response_error(resp, 503);
    }
    return respond(env, req, resp, job->form, job->id);
}
