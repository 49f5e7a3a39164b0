/* SPDX-License-Identifier: MIT */
/*
 * Tests for store/store: submissions round-trip through SQLite and the JSON result, many
 * threads get distinct ids and exactly their rows, queries filter and page, a full queue
 * says -EAGAIN, rows survive a close, the pragmas hold, and a failing disk never yields a
 * false success. Each test gets a fresh data_dir under one mkdtemp directory, removed at
 * the end. Nothing sleeps: waits poll the inbox's eventfd with a deadline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

enum {
    WAIT_MS = 60 * 1000, /* deadline for any job to come back; generous for sanitizers */
    THREADS = 8,
    PER_THREAD = 125,
};

static char root[] = "/tmp/mica-test-store-XXXXXX";
static int next_dir;

struct fixture {
    char dir[128]; /* this test's data_dir, not yet created */
    char db_path[160];
    struct store *s;
    struct store_inbox in;
    int efd;
};

static int group_setup(void **state)
{
    (void)state;
    /* A SIGXFSZ from the file-size test must fail the write, not kill the process. */
    signal(SIGXFSZ, SIG_IGN);
    return mkdtemp(root) ? 0 : -1;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_teardown(void **state)
{
    (void)state;
    return nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "%s/d%d", root, next_dir++);
    snprintf(fx->db_path, sizeof fx->db_path, "%s/mica.db", fx->dir);
    fx->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fx->efd < 0) {
        free(fx);
        return -1;
    }
    store_inbox_init(&fx->in, fx->efd);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    store_close(fx->s);
    store_inbox_destroy(&fx->in);
    close(fx->efd);
    free(fx);
    return 0;
}

static void open_store(struct fixture *fx)
{
    char err[256] = "";
    const int rc = store_open(&fx->s, fx->dir, err);
    if (rc != 0)
        print_error("store_open: %s\n", err);
    assert_int_equal(rc, 0);
    assert_non_null(fx->s);
}

/* Job builders and waiting come in two kinds: the plain ones report failure by their
 * result and may run on any thread; the assert_ ones are for the test's own thread, since
 * cmocka's assertions jump out of the test and cannot cross threads. */

static bool copy(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return !src || *dst;
}

static struct store_job *make_submit(struct store_inbox *in, const char *form, const char *fields,
                                     const char *files)
{
    struct store_job *job = store_job_new(STORE_SUBMIT);
    if (!job)
        return NULL;
    job->inbox = in;
    const bool ok = copy(&job->form, form) && copy(&job->created_at, "2026-11-25T23:40:00Z") &&
                    copy(&job->client_ip, "192.0.2.7") && copy(&job->user_agent, "test/1.0") &&
                    copy(&job->fields_json, fields) && copy(&job->files_json, files);
    if (!ok) {
        store_job_free(job);
        return NULL;
    }
    return job;
}

static struct store_job *new_submit(struct store_inbox *in, const char *form, const char *fields,
                                    const char *files)
{
    struct store_job *job = make_submit(in, form, fields, files);
    assert_non_null(job);
    return job;
}

static struct store_job *new_query(struct store_inbox *in, const char *form, int64_t before,
                                   int limit)
{
    struct store_job *job = store_job_new(STORE_QUERY);
    assert_non_null(job);
    job->inbox = in;
    assert_true(copy(&job->query_form, form));
    job->before_id = before;
    job->limit = limit;
    return job;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Collects up to `want` finished jobs from the inbox into out (in arrival order), polling
 * the eventfd as a worker would, until the deadline. Returns how many came. */
static int collect_jobs(struct store_inbox *in, int efd, struct store_job **out, int want)
{
    const int64_t deadline = now_ms() + WAIT_MS;
    int got = 0;
    for (;;) {
        for (struct store_job *job = store_inbox_take(in); job;) {
            struct store_job *next = job->next;
            if (got < want)
                out[got++] = job;
            else
                store_job_free(job); /* more than expected: counted as a failure below */
            job = next;
        }
        const int64_t left = deadline - now_ms();
        if (got == want || left <= 0)
            return got;
        struct pollfd p = {.fd = efd, .events = POLLIN};
        const int n = poll(&p, 1, (int)left);
        uint64_t count;
        if (n > 0 && read(efd, &count, sizeof count) != sizeof count && errno != EAGAIN)
            return got;
        if (n < 0 && errno != EINTR)
            return got;
    }
}

static void wait_jobs(struct store_inbox *in, int efd, struct store_job **out, int want)
{
    assert_int_equal(collect_jobs(in, efd, out, want), want);
    assert_null(store_inbox_take(in)); /* and nothing more */
}

/* Posts one job and waits for it. */
static struct store_job *run_job(struct fixture *fx, struct store_job *job)
{
    assert_int_equal(store_post(fx->s, job), 0);
    struct store_job *done = NULL;
    wait_jobs(&fx->in, fx->efd, &done, 1);
    assert_ptr_equal(done, job);
    return done;
}

static int64_t submit_ok(struct fixture *fx, const char *form)
{
    struct store_job *job = run_job(fx, new_submit(&fx->in, form, "{}", "[]"));
    assert_int_equal(job->status, 0);
    const int64_t id = job->id;
    assert_true(id > 0);
    store_job_free(job);
    return id;
}

/* Runs a query and returns its parsed result (the caller deletes it). */
static cJSON *query_ok(struct fixture *fx, const char *form, int64_t before, int limit)
{
    struct store_job *job = run_job(fx, new_query(&fx->in, form, before, limit));
    if (job->status != 0)
        print_error("query: %d %s\n", job->status, job->error);
    assert_int_equal(job->status, 0);
    assert_non_null(job->result_json);
    cJSON *root_json = cJSON_Parse(job->result_json);
    assert_non_null(root_json);
    store_job_free(job);
    assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root_json, "submissions")));
    return root_json;
}

static cJSON *submissions(cJSON *result)
{
    return cJSON_GetObjectItemCaseSensitive(result, "submissions");
}

static const char *string_at(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

/* STORE_CALL: what a call job records, and that it ran on the store's thread. */
struct call_probe {
    pthread_t ran_on;
    int calls, releases;
};

static int probe_call(void *arg)
{
    struct call_probe *p = arg;
    p->ran_on = pthread_self();
    p->calls++;
    return p->calls == 1 ? 0 : -EIO;
}

static void probe_release(void *arg)
{
    ((struct call_probe *)arg)->releases++;
}

static void test_call_jobs(void **state)
{
    struct fixture *fx = *state;
    open_store(fx);
    struct call_probe probe = {0};
    for (int i = 0; i < 2; i++) {
        struct store_job *job = store_job_new(STORE_CALL);
        assert_non_null(job);
        job->inbox = &fx->in;
        job->call = probe_call;
        job->call_arg = &probe;
        job->call_release = probe_release;
        job = run_job(fx, job);
        assert_false(pthread_equal(probe.ran_on, pthread_self())); /* not the caller's */
        assert_int_equal(job->status, i == 0 ? 0 : -EIO);
        if (i == 1)
            assert_string_equal(job->error, strerror(EIO));
        store_job_free(job);
        assert_int_equal(probe.releases, i + 1);
    }
    assert_int_equal(probe.calls, 2);
}

static void test_open_close(void **state)
{
    struct fixture *fx = *state;
    open_store(fx);
    struct stat st;
    assert_int_equal(stat(fx->dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & ~0750 & 0777, 0); /* no access for others */
    assert_int_equal(store_count(fx->s), 0);
    store_close(fx->s);
    fx->s = NULL;
    store_close(NULL);
    /* An existing data_dir and database are reused. */
    open_store(fx);
    assert_int_equal(store_count(fx->s), 0);
}

/* Values that JSON and SQL must carry unchanged. */
static const struct {
    const char *name, *value, *desc;
} tricky[] = {
    {"utf8", "Zoë — 日本語 🎉", "multi-byte UTF-8 up to four bytes"},
    {"quotes", "say \"hi\" \\ back\\slash 'single'", "quotes and backslashes"},
    {"control", "tab\tnl\ncr\r\x01\x1f del\x7f", "control characters"},
    {"html", "<script>alert(1)</script>&amp;", "markup stays text"},
    {"sql", "'); DROP TABLE submissions; --", "SQL stays text"},
    {"empty", "", "an empty value"},
};

static void test_submit_and_query_back(void **state)
{
    struct fixture *fx = *state;
    open_store(fx);
    cJSON *fields = cJSON_CreateObject();
    for (size_t i = 0; i < sizeof tricky / sizeof tricky[0]; i++)
        assert_non_null(cJSON_AddStringToObject(fields, tricky[i].name, tricky[i].value));
    cJSON *files =
        cJSON_Parse("[{\"field\":\"cv\",\"name\":\"résumé \\\"final\\\".pdf\","
                    "\"size\":12345},{\"field\":\"photo\",\"name\":\"a.png\",\"size\":0}]");
    assert_non_null(files);
    char *fields_text = cJSON_PrintUnformatted(fields);
    char *files_text = cJSON_PrintUnformatted(files);
    struct store_job *job = new_submit(&fx->in, "contact", fields_text, files_text);
    free(job->client_ip);
    free(job->user_agent);
    assert_true(copy(&job->client_ip, "2001:db8::1"));
    assert_true(copy(&job->user_agent, "Mozilla/5.0 \"quoted\"\t\x01 ü"));
    job = run_job(fx, job);
    assert_int_equal(job->status, 0);
    const int64_t id = job->id;
    assert_true(id > 0);
    store_job_free(job);

    job = run_job(fx, new_query(&fx->in, NULL, 0, 10));
    assert_int_equal(job->status, 0);
    /* Strict JSON: no raw control character may reach the client. */
    for (const char *p = job->result_json; *p; p++)
        assert_true((unsigned char)*p >= 0x20);
    cJSON *result = cJSON_Parse(job->result_json);
    store_job_free(job);
    assert_non_null(result);
    assert_int_equal(cJSON_GetArraySize(submissions(result)), 1);
    const cJSON *row = cJSON_GetArrayItem(submissions(result), 0);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(row, "id")));
    assert_int_equal((int64_t)cJSON_GetObjectItemCaseSensitive(row, "id")->valuedouble, id);
    assert_string_equal(string_at(row, "form"), "contact");
    assert_string_equal(string_at(row, "created_at"), "2026-11-25T23:40:00Z");
    assert_string_equal(string_at(row, "client_ip"), "2001:db8::1");
    assert_string_equal(string_at(row, "user_agent"), "Mozilla/5.0 \"quoted\"\t\x01 ü");
    const cJSON *got_fields = cJSON_GetObjectItemCaseSensitive(row, "fields");
    assert_true(cJSON_IsObject(got_fields));
    for (size_t i = 0; i < sizeof tricky / sizeof tricky[0]; i++) {
        const char *got = string_at(got_fields, tricky[i].name);
        if (strcmp(got, tricky[i].value) != 0)
            print_error("%s: changed on the way\n", tricky[i].desc);
        assert_string_equal(got, tricky[i].value);
    }
    assert_true(cJSON_Compare(got_fields, fields, true));
    assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(row, "files"), files, true));
    assert_int_equal(cJSON_GetArraySize(row), 7); /* exactly SPEC §2's keys */
    cJSON_Delete(result);
    cJSON_free(fields_text);
    cJSON_free(files_text);
    cJSON_Delete(fields);
    cJSON_Delete(files);
}

/* What a stored JSON column becomes in the result. */
static void test_stored_json_that_does_not_parse(void **state)
{
    static const struct {
        const char *fields, *files, *want_fields, *want_files, *desc;
    } cases[] = {
        {"{\"a\":\"1\"}", "[]", "{\"a\":\"1\"}", "[]", "valid JSON is embedded"},
        {"{not json", "[1,", "null", "null", "broken JSON becomes null"},
        {"{} trailing", "[] []", "null", "null", "text after the value becomes null"},
        {NULL, NULL, "null", "null", "SQL NULL becomes null"},
        {" {\"b\":[true,null]} ", "[{}]", "{\"b\":[true,null]}", "[{}]", "whitespace is fine"},
    };
    struct fixture *fx = *state;
    open_store(fx);
    const int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++) {
        struct store_job *job =
            run_job(fx, new_submit(&fx->in, "f", cases[i].fields, cases[i].files));
        assert_int_equal(job->status, 0);
        store_job_free(job);
    }
    cJSON *result = query_ok(fx, "f", 0, 500);
    assert_int_equal(cJSON_GetArraySize(submissions(result)), n);
    for (int i = 0; i < n; i++) {
        /* Newest first: case i is row n-1-i. */
        const cJSON *row = cJSON_GetArrayItem(submissions(result), n - 1 - i);
        char *fields = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(row, "fields"));
        char *files = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(row, "files"));
        if (strcmp(fields, cases[i].want_fields) != 0 || strcmp(files, cases[i].want_files) != 0)
            print_error("%s: got %s and %s\n", cases[i].desc, fields, files);
        assert_string_equal(fields, cases[i].want_fields);
        assert_string_equal(files, cases[i].want_files);
        cJSON_free(fields);
        cJSON_free(files);
    }
    cJSON_Delete(result);
}

struct poster {
    struct store *s;
    int index;
    int64_t ids[PER_THREAD];
    int failures;
};

/* One "worker": posts its submissions, then collects them through its own inbox. */
static void *poster_main(void *arg)
{
    struct poster *p = arg;
    const int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) {
        p->failures = PER_THREAD;
        return NULL;
    }
    struct store_inbox in;
    store_inbox_init(&in, efd);
    int posted = 0;
    for (int i = 0; i < PER_THREAD; i++) {
        char fields[64];
        snprintf(fields, sizeof fields, "{\"thread\":%d,\"i\":%d}", p->index, i);
        struct store_job *job = make_submit(&in, "load", fields, "[]");
        if (job && store_post(p->s, job) == 0)
            posted++;
        else
            store_job_free(job);
        if (i % 25 == 0 && store_count(p->s) < 0)
            p->failures++; /* the read connection, used concurrently */
    }
    struct store_job *done[PER_THREAD];
    const int got = collect_jobs(&in, efd, done, posted);
    p->failures += PER_THREAD - got;
    for (int i = 0; i < got; i++) {
        if (done[i]->status != 0)
            p->failures++;
        p->ids[i] = done[i]->id;
        store_job_free(done[i]);
    }
    store_inbox_destroy(&in);
    close(efd);
    return NULL;
}

static int compare_ids(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_threads_get_distinct_ids(void **state)
{
    struct fixture *fx = *state;
    open_store(fx);
    static struct poster posters[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        posters[t] = (struct poster){.s = fx->s, .index = t};
        assert_int_equal(pthread_create(&threads[t], NULL, poster_main, &posters[t]), 0);
    }
    static int64_t ids[THREADS * PER_THREAD];
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(pthread_join(threads[t], NULL), 0);
        assert_int_equal(posters[t].failures, 0);
        memcpy(&ids[t * PER_THREAD], posters[t].ids, sizeof posters[t].ids);
    }
    assert_int_equal(store_count(fx->s), THREADS * PER_THREAD);
    qsort(ids, THREADS * PER_THREAD, sizeof ids[0], compare_ids);
    for (int i = 0; i < THREADS * PER_THREAD; i++) {
        assert_true(ids[i] > 0);
        if (i > 0)
            assert_true(ids[i] > ids[i - 1]);
    }
}

static void test_query_filters(void **state)
{
    static const struct {
        const char *form;
        int64_t before;
        int limit;
        int64_t want[10];
        int want_n;
        const char *desc;
    } cases[] = {
        {NULL, 0, 500, {10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 10, "every form, newest first"},
        {NULL, 0, 3, {10, 9, 8}, 3, "limit"},
        {NULL, 8, 2, {7, 6}, 2, "before and limit"},
        {"a", 0, 500, {9, 7, 5, 3, 1}, 5, "one form"},
        {"b", 6, 500, {4, 2}, 2, "one form, before"},
        {"b", 0, 1, {10}, 1, "one form, limit 1"},
        {NULL, 1, 500, {0}, 0, "before the first row"},
        {"c", 0, 500, {0}, 0, "a form with no rows"},
        {"A", 0, 500, {0}, 0, "form names are case-sensitive"},
    };
    struct fixture *fx = *state;
    open_store(fx);
    for (int i = 1; i <= 10; i++)
        assert_int_equal(submit_ok(fx, i % 2 ? "a" : "b"), i); /* a fresh table counts from 1 */
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cJSON *result = query_ok(fx, cases[c].form, cases[c].before, cases[c].limit);
        const cJSON *list = submissions(result);
        bool ok = cJSON_GetArraySize(list) == cases[c].want_n;
        for (int i = 0; ok && i < cases[c].want_n; i++) {
            const cJSON *row = cJSON_GetArrayItem(list, i);
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(row, "id");
            ok = (int64_t)id->valuedouble == cases[c].want[i];
            if (cases[c].form)
                ok = ok && strcmp(string_at(row, "form"), cases[c].form) == 0;
        }
        if (!ok) {
            char *text = cJSON_PrintUnformatted(result);
            print_error("%s: got %s\n", cases[c].desc, text);
            cJSON_free(text);
        }
        cJSON_Delete(result);
        assert_true(ok);
    }
}

static void test_invalid_jobs(void **state)
{
    static const struct {
        int limit;
        const char *desc;
    } limits[] = {{0, "limit 0"}, {-1, "negative limit"}, {501, "limit over 500"}};
    struct fixture *fx = *state;
    open_store(fx);
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        struct store_job *job = run_job(fx, new_query(&fx->in, NULL, 0, limits[i].limit));
        if (job->status != -EINVAL)
            print_error("%s: status %d\n", limits[i].desc, job->status);
        assert_int_equal(job->status, -EINVAL);
        assert_null(job->result_json);
        assert_true(job->error[0] != '\0');
        store_job_free(job);
    }
    /* A submission without a form fails alone: posted with good ones, they still succeed. */
    struct store_job *jobs[3] = {new_submit(&fx->in, "ok", "{}", "[]"),
                                 new_submit(&fx->in, NULL, "{}", "[]"),
                                 new_submit(&fx->in, "ok", "{}", "[]")};
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_post(fx->s, jobs[i]), 0);
    struct store_job *done[3];
    wait_jobs(&fx->in, fx->efd, done, 3);
    for (int i = 0; i < 3; i++) {
        assert_ptr_equal(done[i], jobs[i]); /* oldest first */
        assert_int_equal(done[i]->status, i == 1 ? -EINVAL : 0);
        store_job_free(done[i]);
    }
    assert_int_equal(store_count(fx->s), 2);
}

/* Another connection holds the write lock, so the store thread sits in BEGIN IMMEDIATE's
 * busy wait (up to 5 s) with at most one batch taken: the queue must fill. Releasing the
 * lock in time lets every accepted job through. */
static void test_queue_full(void **state)
{
    struct fixture *fx = *state;
    open_store(fx);
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(fx->db_path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    int accepted = 0, rc = 0;
    while (accepted <= 2 * STORE_QUEUE_MAX) {
        struct store_job *job = new_submit(&fx->in, "flood", "{}", "[]");
        rc = store_post(fx->s, job);
        if (rc != 0) {
            store_job_free(job);
            break;
        }
        accepted++;
    }
    assert_int_equal(rc, -EAGAIN);
    /* A full queue, plus at most the one batch the thread took before it blocked. */
    assert_in_range(accepted, STORE_QUEUE_MAX, 2 * STORE_QUEUE_MAX);
    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(other), SQLITE_OK);

    struct store_job **done = calloc((size_t)accepted, sizeof *done);
    assert_non_null(done);
    wait_jobs(&fx->in, fx->efd, done, accepted);
    for (int i = 0; i < accepted; i++) {
        assert_int_equal(done[i]->status, 0);
        store_job_free(done[i]);
    }
    free(done);
    assert_int_equal(store_count(fx->s), accepted);
}

/* store_close finishes what is queued; the rows are in the file afterwards. */
static void test_close_drains_and_rows_survive(void **state)
{
    struct fixture *fx = *state;
    open_store(fx);
    enum { N = 200 };
    for (int i = 0; i < N; i++)
        assert_int_equal(store_post(fx->s, new_submit(&fx->in, "keep", "{\"n\":1}", "[]")), 0);
    store_close(fx->s);
    fx->s = NULL;
    struct store_job *done[N];
    wait_jobs(&fx->in, fx->efd, done, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(done[i]->status, 0);
        store_job_free(done[i]);
    }
    /* The last connection checkpointed the WAL into the database and removed it. */
    char wal[200];
    snprintf(wal, sizeof wal, "%s-wal", fx->db_path);
    assert_int_equal(access(wal, F_OK), -1);

    open_store(fx);
    assert_int_equal(store_count(fx->s), N);
    cJSON *result = query_ok(fx, "keep", 0, 1);
    assert_int_equal(
        (int64_t)cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(submissions(result), 0), "id")
            ->valuedouble,
        N);
    cJSON_Delete(result);
}

static void test_pragmas(void **state)
{
    static const struct {
        const char *name, *want, *desc;
    } cases[] = {
        {"journal_mode", "wal", "write-ahead log"},
        {"synchronous", "2", "FULL: every commit is synced"},
        {"foreign_keys", "1", "foreign keys enforced"},
        {"busy_timeout", "5000", "waits 5 s for a lock"},
    };
    struct fixture *fx = *state;
    open_store(fx);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char value[32] = "";
        assert_int_equal(store_pragma(fx->s, cases[i].name, value, sizeof value), 0);
        if (strcmp(value, cases[i].want) != 0)
            print_error("%s: %s = %s\n", cases[i].desc, cases[i].name, value);
        assert_string_equal(value, cases[i].want);
    }
    char value[32];
    assert_int_equal(store_pragma(fx->s, "journal_mode=delete", value, sizeof value), -EINVAL);
    assert_int_equal(store_pragma(fx->s, "", value, sizeof value), -EINVAL);
    assert_int_equal(store_pragma(fx->s, "no_such_pragma_at_all", value, sizeof value), -EIO);

    /* WAL is a property of the file: another connection sees it too. */
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(fx->db_path, &other), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(other, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(other);
}

/* A disk that refuses writes: RLIMIT_FSIZE makes the WAL append fail as a full disk would
 * (and works as root, unlike file modes). Whatever the batches turn out to be, a job that
 * reports success must be in the table and a failed one must not. */
static void test_write_failure_is_reported(void **state)
{
    struct fixture *fx = *state;
    open_store(fx);
    submit_ok(fx, "before");
    enum { BIG_BYTES = 1 << 20 };
    char *big = malloc(BIG_BYTES + 16);
    assert_non_null(big);
    memcpy(big, "{\"x\":\"", 6);
    memset(big + 6, 'x', BIG_BYTES);
    memcpy(big + 6 + BIG_BYTES, "\"}", 3);

    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    const struct rlimit small = {.rlim_cur = 256 * 1024, .rlim_max = old.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    struct store_job *jobs[3] = {new_submit(&fx->in, "small", "{}", "[]"),
                                 new_submit(&fx->in, "big", big, "[]"),
                                 new_submit(&fx->in, "small", "{}", "[]")};
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_post(fx->s, jobs[i]), 0);
    struct store_job *done[3];
    wait_jobs(&fx->in, fx->efd, done, 3);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);

    int64_t ok = 1; /* "before" */
    for (int i = 0; i < 3; i++) {
        if (done[i]->status == 0) {
            ok++;
            assert_true(done[i]->id > 0);
        } else {
            assert_true(done[i]->status < 0);
            assert_true(done[i]->error[0] != '\0');
            assert_int_equal(done[i]->id, 0);
        }
    }
    assert_ptr_equal(done[1], jobs[1]);
    if (done[1]->status == 0)
        print_error("the big submission was reported stored past the file-size limit\n");
    assert_true(done[1]->status != 0);
    for (int i = 0; i < 3; i++)
        store_job_free(done[i]);
    assert_int_equal(store_count(fx->s), ok);

    /* The store recovers once the disk takes writes again. */
    struct store_job *job = run_job(fx, new_submit(&fx->in, "big", big, "[]"));
    assert_int_equal(job->status, 0);
    store_job_free(job);
    free(big);
    assert_int_equal(store_count(fx->s), ok + 1);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void expect_open_error(const char *dir, const char *want1, const char *want2,
                              const char *desc)
{
    char err[256] = "";
    struct store *s = (struct store *)err; /* any non-NULL value: store_open must clear it */
    const int rc = store_open(&s, dir, err);
    const bool ok = rc == -1 && s == NULL && strstr(err, want1) && strstr(err, want2);
    if (!ok)
        print_error("%s: rc %d, err \"%s\"\n", desc, rc, err);
    if (rc == 0)
        store_close(s);
    assert_true(ok);
}

static void test_open_errors(void **state)
{
    struct fixture *fx = *state;
    char path[256];

    snprintf(path, sizeof path, "%s-file", fx->dir);
    write_file(path, "not a directory");
    expect_open_error(path, path, "Not a directory", "data_dir is a regular file");

    snprintf(path, sizeof path, "%s-missing/data", fx->dir);
    expect_open_error(path, path, "No such file or directory", "only one level is created");

    assert_int_equal(mkdir(fx->dir, 0750), 0);
    write_file(fx->db_path, "this is not an SQLite database, just some text that is long "
                            "enough to hold a header of one hundred bytes or so...........");
    expect_open_error(fx->dir, fx->db_path, "not a database", "mica.db is not a database");
    assert_int_equal(unlink(fx->db_path), 0);

    assert_int_equal(mkdir(fx->db_path, 0750), 0);
    expect_open_error(fx->dir, fx->db_path, "unable to open", "mica.db is a directory");
    assert_int_equal(rmdir(fx->db_path), 0);

    if (geteuid() == 0) {
        print_message("running as root: skipping the permission cases\n");
        return;
    }
    assert_int_equal(chmod(fx->dir, 0500), 0);
    expect_open_error(fx->dir, fx->dir, "Permission denied", "data_dir is not writable");
    assert_int_equal(chmod(fx->dir, 0750), 0);

    open_store(fx);
    store_close(fx->s);
    fx->s = NULL;
    assert_int_equal(chmod(fx->db_path, 0444), 0);
    expect_open_error(fx->dir, fx->db_path, "read-only", "mica.db is read-only");
    assert_int_equal(chmod(fx->db_path, 0640), 0);
}

#define STORE_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        STORE_TEST(test_open_close),
        STORE_TEST(test_submit_and_query_back),
        STORE_TEST(test_call_jobs),
        STORE_TEST(test_stored_json_that_does_not_parse),
        STORE_TEST(test_threads_get_distinct_ids),
        STORE_TEST(test_query_filters),
        STORE_TEST(test_invalid_jobs),
        STORE_TEST(test_queue_full),
        STORE_TEST(test_close_drains_and_rows_survive),
        STORE_TEST(test_pragmas),
        STORE_TEST(test_write_failure_is_reported),
        STORE_TEST(test_open_errors),
    };
    return cmocka_run_group_tests_name("store", tests, group_setup, group_teardown);
}
