/* SPDX-License-Identifier: MIT */
/*
 * The store: form submissions in SQLite behind one writer thread; see store.h for the
 * design and the schema.
 *
 * Two connections, each used by one thread at a time, so both are opened NOMUTEX:
 *   - the writer (s->db) belongs to the store thread; store_pragma borrows it under db_lock,
 *     which the store thread holds for each batch;
 *   - a read-only one (s->rdb) serves store_count from any thread under count_lock. In WAL
 *     mode it sees the last commit without waiting for the writer, so stats never stall
 *     behind a commit.
 *
 * A batch is every job queued when the thread wakes. Its submissions share one
 * transaction: one WAL sync for the lot (group commit). If BEGIN, an INSERT or the COMMIT
 * fails, the whole transaction is rolled back and every submission of the batch reports
 * the error: a job that comes back with status 0 is on disk, and no other does.
 */
#include "store/store.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    BUSY_TIMEOUT_MS = 5000, /* how long a statement waits for a lock held by another process */
    QUERY_LIMIT_MAX = 500,
    PATH_MAX_BYTES = 4096,
    ERR_BYTES = 256,
};

static const char SCHEMA_SQL[] = "CREATE TABLE IF NOT EXISTS submissions("
                                 "id INTEGER PRIMARY KEY, form TEXT, created_at TEXT, "
                                 "client_ip TEXT, user_agent TEXT, fields TEXT, files TEXT);"
                                 "CREATE INDEX IF NOT EXISTS submissions_form_id "
                                 "ON submissions(form, id);";

static const char INSERT_SQL[] = "INSERT INTO submissions"
                                 "(form, created_at, client_ip, user_agent, fields, files) "
                                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/* Two statements rather than one with "(form = ?1 OR ?1 IS NULL)": SQLite plans that as a
 * full scan, while these two are range searches on the (form, id) index and on the rowid. */
#define LIST_COLUMNS "SELECT id, form, created_at, client_ip, user_agent, fields, files "
static const char LIST_ALL_SQL[] =
    LIST_COLUMNS "FROM submissions WHERE id < ?2 ORDER BY id DESC LIMIT ?3";
static const char LIST_FORM_SQL[] =
    LIST_COLUMNS "FROM submissions WHERE form = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3";
#undef LIST_COLUMNS

struct store {
    /* The writer connection and its statements, kept for the thread's lifetime. */
    pthread_mutex_t db_lock;
    sqlite3 *db;
    sqlite3_stmt *begin, *commit, *rollback, *insert, *list_all, *list_form;

    /* store_count's connection. */
    pthread_mutex_t count_lock;
    sqlite3 *rdb;
    sqlite3_stmt *count;

    /* The queue; lock guards head, tail, queued and stop. */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct store_job *head, *tail;
    int queued;
    bool stop;
    bool is_running; /* the thread was started: set by store_open, read by store_close */
    pthread_t thread;
};

/* The -errno-like status a job reports for an SQLite result code. */
static int status_from_sqlite(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_TOOBIG:
        return -E2BIG;
    default:
        return -EIO;
    }
}

/* Writes a start-up error into err and returns -1. */
__attribute__((format(printf, 2, 3))) static int fail_msg(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* Truncation is acceptable: the message only has to stay one bounded line. */
    (void)vsnprintf(err, ERR_BYTES, fmt, ap);
    va_end(ap);
    return -1;
}

/* Start-up error: `database "path": message`, with the system's reason when SQLite has one
 * ("unable to open database file" alone does not say that permission was denied). */
static int db_error(char *err, const char *path, sqlite3 *db, int rc)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    const int sys = db ? sqlite3_system_errno(db) : 0;
    if (sys != 0)
        return fail_msg(err, "database \"%s\": %s (%s)", path, msg, strerror(sys));
    return fail_msg(err, "database \"%s\": %s", path, msg);
}

/* Creates data_dir (one level) unless it already is a directory, and checks that we may
 * create files in it: SQLite makes the -wal and -shm files there, and when it cannot, its
 * own message ("unable to open database file") does not say why. */
static int make_dir(const char *dir, char *err)
{
    int e = 0;
    if (mkdir(dir, 0750) < 0) {
        e = errno;
        struct stat st;
        if (e == EEXIST)
            e = stat(dir, &st) < 0 ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR : 0;
    }
    if (e == 0 && faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0)
        e = errno;
    if (e != 0)
        return fail_msg(err, "data_dir \"%s\": %s", dir, strerror(e));
    return 0;
}

/* Runs a statement that returns one row (a PRAGMA) and copies its first column into out. */
static int query_text(sqlite3 *db, const char *sql, char *out, size_t out_len)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text(st, 0);
        snprintf(out, out_len, "%s", text ? (const char *)text : "");
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_EMPTY;
    }
    sqlite3_finalize(st);
    return rc;
}

static int prepare_all(struct store *s)
{
    const struct {
        sqlite3_stmt **stmt;
        const char *sql;
    } list[] = {
        {&s->begin, "BEGIN IMMEDIATE"}, {&s->commit, "COMMIT"},
        {&s->rollback, "ROLLBACK"},     {&s->insert, INSERT_SQL},
        {&s->list_all, LIST_ALL_SQL},   {&s->list_form, LIST_FORM_SQL},
    };
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
        const int rc = sqlite3_prepare_v3(s->db, list[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
                                          list[i].stmt, NULL);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

static int open_writer(struct store *s, const char *path, char *err)
{
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK)
        return db_error(err, path, s->db, rc);
    /* SQLite quietly opens a read-only file read-only; every submission would then fail,
     * so refuse now, when the operator is watching. */
    if (sqlite3_db_readonly(s->db, "main") == 1)
        return fail_msg(err, "database \"%s\": the file is read-only", path);
    rc = sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    char mode[16];
    if (rc == SQLITE_OK)
        rc = query_text(s->db, "PRAGMA journal_mode=WAL", mode, sizeof mode);
    if (rc != SQLITE_OK)
        return db_error(err, path, s->db, rc);
    /* The pragma answers with the mode in force: not "wal" where the filesystem cannot
     * share memory between processes (some network filesystems). */
    if (strcmp(mode, "wal") != 0)
        return fail_msg(err, "database \"%s\": journal_mode is \"%s\", WAL is required", path,
                        mode);
    rc = sqlite3_exec(s->db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db, SCHEMA_SQL, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = prepare_all(s);
    if (rc != SQLITE_OK)
        return db_error(err, path, s->db, rc);
    return 0;
}

/* Opened after the writer has made the file, the WAL and the table. */
static int open_reader(struct store *s, const char *path, char *err)
{
    const int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &s->rdb, flags, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(s->rdb, BUSY_TIMEOUT_MS);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(s->rdb, "SELECT count(*) FROM submissions", -1,
                                SQLITE_PREPARE_PERSISTENT, &s->count, NULL);
    if (rc != SQLITE_OK)
        return db_error(err, path, s->rdb, rc);
    return 0;
}

/* Steps a statement that returns no rows and resets it. On failure writes "op: reason"
 * into msg, taken before the reset so that nothing can overwrite it. */
static int step_done(sqlite3 *db, sqlite3_stmt *st, const char *op, char *msg, size_t msg_len)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        rc = SQLITE_OK;
    else
        snprintf(msg, msg_len, "%s: %s", op, sqlite3_errmsg(db));
    sqlite3_reset(st); /* returns the step's error again, already taken */
    sqlite3_clear_bindings(st);
    return rc;
}

static void fail_job(struct store_job *job, int status, const char *msg)
{
    job->status = status;
    job->id = 0;
    snprintf(job->error, sizeof job->error, "%s", msg);
}

static int insert_one(struct store *s, struct store_job *job, char *msg, size_t msg_len)
{
    const char *const values[] = {job->form,       job->created_at,  job->client_ip,
                                  job->user_agent, job->fields_json, job->files_json};
    for (int i = 0; i < 6; i++) {
        /* SQLITE_STATIC: the strings outlive the step; NULL binds SQL NULL. */
        const int rc = sqlite3_bind_text(s->insert, i + 1, values[i], -1, SQLITE_STATIC);
        if (rc != SQLITE_OK) {
            snprintf(msg, msg_len, "insert: %s", sqlite3_errmsg(s->db));
            sqlite3_clear_bindings(s->insert);
            return rc;
        }
    }
    const int rc = step_done(s->db, s->insert, "insert", msg, msg_len);
    if (rc == SQLITE_OK)
        job->id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

/* Every submission of the batch in one transaction; see the top of the file. */
static void submit_all(struct store *s, struct store_job *batch)
{
    int n = 0;
    for (struct store_job *job = batch; job; job = job->next) {
        if (job->kind != STORE_SUBMIT)
            continue;
        job->status = 0;
        job->error[0] = '\0';
        if (!job->form)
            fail_job(job, -EINVAL, "submission without a form name");
        else
            n++;
    }
    if (n == 0)
        return;
    char msg[sizeof batch->error];
    /* A ROLLBACK that failed in an earlier batch leaves its transaction open. Its result is
     * not needed: if it fails again, so does the BEGIN below, which reports it. */
    if (!sqlite3_get_autocommit(s->db))
        (void)step_done(s->db, s->rollback, "rollback", msg, sizeof msg);
    int rc = step_done(s->db, s->begin, "begin", msg, sizeof msg);
    for (struct store_job *job = batch; rc == SQLITE_OK && job; job = job->next)
        if (job->kind == STORE_SUBMIT && job->status == 0)
            rc = insert_one(s, job, msg, sizeof msg);
    if (rc == SQLITE_OK)
        rc = step_done(s->db, s->commit, "commit", msg, sizeof msg);
    if (rc == SQLITE_OK)
        return;
    /* Some errors (a full disk, I/O) have already rolled the transaction back. A failed
     * ROLLBACK is retried before the next BEGIN, so its result is not needed here. */
    if (!sqlite3_get_autocommit(s->db)) {
        char ignored[sizeof msg];
        (void)step_done(s->db, s->rollback, "rollback", ignored, sizeof ignored);
    }
    for (struct store_job *job = batch; job; job = job->next)
        if (job->kind == STORE_SUBMIT && job->status == 0)
            fail_job(job, status_from_sqlite(rc), msg);
}

/* A text column as a JSON string, or null when SQL NULL. */
static bool add_text(cJSON *obj, const char *name, sqlite3_stmt *st, int col)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    if (!text)
        return cJSON_AddNullToObject(obj, name) != NULL;
    return cJSON_AddStringToObject(obj, name, (const char *)text) != NULL;
}

/* A column holding JSON text, embedded as JSON; null when NULL or unparsable. */
static bool add_json(cJSON *obj, const char *name, sqlite3_stmt *st, int col)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    const size_t len = (size_t)sqlite3_column_bytes(st, col);
    /* The length counts the terminating NUL: with require_null_terminated, cJSON rejects
     * text that goes on after the value ("{}junk"), and it needs the NUL inside the length
     * to see where the value ends. */
    cJSON *value = text ? cJSON_ParseWithLengthOpts(text, len + 1, NULL, true) : NULL;
    if (!value)
        value = cJSON_CreateNull();
    if (!value)
        return false;
    return cJSON_AddItemToObject(obj, name, value);
}

static bool add_row(cJSON *list, sqlite3_stmt *st)
{
    cJSON *row = cJSON_CreateObject();
    if (!row || !cJSON_AddItemToArray(list, row)) {
        cJSON_Delete(row);
        return false;
    }
    return cJSON_AddNumberToObject(row, "id", (double)sqlite3_column_int64(st, 0)) &&
           add_text(row, "form", st, 1) && add_text(row, "created_at", st, 2) &&
           add_text(row, "client_ip", st, 3) && add_text(row, "user_agent", st, 4) &&
           add_json(row, "fields", st, 5) && add_json(row, "files", st, 6);
}

static void run_query(struct store *s, struct store_job *job)
{
    job->status = 0;
    job->error[0] = '\0';
    free(job->result_json);
    job->result_json = NULL;
    if (job->limit < 1 || job->limit > QUERY_LIMIT_MAX) {
        fail_job(job, -EINVAL, "limit must be 1..500");
        return;
    }
    sqlite3_stmt *st = job->query_form ? s->list_form : s->list_all;
    int rc = SQLITE_OK;
    if (job->query_form)
        rc = sqlite3_bind_text(st, 1, job->query_form, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, job->before_id != 0 ? job->before_id : INT64_MAX);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 3, job->limit);
    cJSON *root = cJSON_CreateObject();
    cJSON *list = root ? cJSON_AddArrayToObject(root, "submissions") : NULL;
    if (rc == SQLITE_OK && !list)
        rc = SQLITE_NOMEM;
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        rc = add_row(list, st) ? SQLITE_OK : SQLITE_NOMEM;
    if (rc == SQLITE_DONE) {
        job->result_json = cJSON_PrintUnformatted(root);
        if (!job->result_json)
            fail_job(job, -ENOMEM, "query: out of memory");
    } else {
        char msg[sizeof job->error];
        snprintf(msg, sizeof msg, "query: %s",
                 rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(s->db));
        fail_job(job, status_from_sqlite(rc), msg);
    }
    cJSON_Delete(root);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* The eventfd is written with the lock held: once the owner has taken its last job, no
 * push is still on its way to the eventfd, so the owner may close it and destroy the inbox
 * without our write landing on a closed (or reused) descriptor. */
static void inbox_push(struct store_inbox *in, struct store_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&in->lock);
    if (in->tail)
        in->tail->next = job;
    else
        in->head = job;
    in->tail = job;
    const uint64_t one = 1;
    if (write(in->efd, &one, sizeof one) < 0) {
        /* Ignored: it can only be EAGAIN (the counter is saturated, so a wake-up is pending
         * anyway) or EBADF (the owner's bug); either way the job waits in the inbox for the
         * next take. Not EINTR: the store thread blocks every signal. */
    }
    pthread_mutex_unlock(&in->lock);
}

static void run_batch(struct store *s, struct store_job *batch)
{
    pthread_mutex_lock(&s->db_lock);
    submit_all(s, batch);
    for (struct store_job *job = batch; job; job = job->next)
        if (job->kind == STORE_QUERY)
            run_query(s, job);
    pthread_mutex_unlock(&s->db_lock);
    /* The database's answers go back first: a call (a file write and its fsyncs) must not
     * hold them. Then the calls, in the order they came, each answered when done. */
    struct store_job *calls = NULL, **tail = &calls;
    for (struct store_job *job = batch; job;) {
        struct store_job *next = job->next;
        if (job->kind == STORE_CALL) {
            *tail = job;
            tail = &job->next;
        } else {
            inbox_push(job->inbox, job);
        }
        job = next;
    }
    *tail = NULL;
    for (struct store_job *job = calls; job;) {
        struct store_job *next = job->next;
        job->status = job->call ? job->call(job->call_arg) : -EINVAL;
        if (job->status != 0)
            snprintf(job->error, sizeof(job->error), "%s", strerror(-job->status));
        inbox_push(job->inbox, job);
        job = next;
    }
}

static void *store_main(void *arg)
{
    struct store *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->head && !s->stop)
            pthread_cond_wait(&s->wake, &s->lock);
        struct store_job *batch = s->head;
        if (!batch)
            break; /* stopping, and nothing left to do */
        s->head = s->tail = NULL;
        s->queued = 0;
        pthread_mutex_unlock(&s->lock);
        run_batch(s, batch);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Releases whatever store_open got; every field is NULL or valid. */
static void store_free(struct store *s)
{
    sqlite3_stmt *const stmts[] = {s->begin,    s->commit,    s->rollback, s->insert,
                                   s->list_all, s->list_form, s->count};
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
        sqlite3_finalize(stmts[i]);
    /* The reader first, so that the writer closes last and checkpoints the WAL away. */
    sqlite3_close(s->rdb);
    sqlite3_close(s->db);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->count_lock);
    pthread_mutex_destroy(&s->db_lock);
    free(s);
}

int store_open(struct store **out, const char *data_dir, char err[256])
{
    *out = NULL;
    char path[PATH_MAX_BYTES];
    const int n = snprintf(path, sizeof path, "%s/mica.db", data_dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return fail_msg(err, "data_dir \"%.200s...\": path too long", data_dir);
    /* The connections are NOMUTEX, which relies on the library being thread-safe. */
    if (sqlite3_threadsafe() == 0)
        return fail_msg(err, "SQLite %s is built without thread support", sqlite3_libversion());
    if (make_dir(data_dir, err) < 0)
        return -1;
    struct store *s = malloc(sizeof *s);
    if (!s)
        return fail_msg(err, "database \"%s\": out of memory", path);
    *s = (struct store){
        .db_lock = PTHREAD_MUTEX_INITIALIZER,
        .count_lock = PTHREAD_MUTEX_INITIALIZER,
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .wake = PTHREAD_COND_INITIALIZER,
    };
    if (open_writer(s, path, err) < 0 || open_reader(s, path, err) < 0)
        goto fail;
    /* The store thread takes no signals: they belong to the main thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    const int rc = pthread_create(&s->thread, NULL, store_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        fail_msg(err, "database \"%s\": cannot start the store thread: %s", path, strerror(rc));
        goto fail;
    }
    s->is_running = true;
    *out = s;
    return 0;
fail:
    store_free(s);
    return -1;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    if (s->is_running) {
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    store_free(s);
}

int store_post(struct store *s, struct store_job *job)
{
    assert(job->inbox); /* the store thread has nowhere else to put the finished job */
    job->next = NULL;
    pthread_mutex_lock(&s->lock);
    /* Once closing, nothing new is taken: the thread may already have drained the queue. */
    if (s->stop || s->queued >= STORE_QUEUE_MAX) {
        pthread_mutex_unlock(&s->lock);
        return -EAGAIN;
    }
    if (s->tail) {
        s->tail->next = job;
    } else {
        s->head = job;
        /* Only an empty queue can have the thread asleep; otherwise it takes the queue
         * again before it waits. */
        pthread_cond_signal(&s->wake);
    }
    s->tail = job;
    s->queued++;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

void store_inbox_init(struct store_inbox *in, int efd)
{
    pthread_mutex_init(&in->lock, NULL);
    in->head = in->tail = NULL;
    in->efd = efd;
}

/* Jobs still in the inbox are freed: nobody else can reach them any more. The eventfd
 * stays the caller's. */
void store_inbox_destroy(struct store_inbox *in)
{
    struct store_job *job = store_inbox_take(in);
    while (job) {
        struct store_job *next = job->next;
        store_job_free(job);
        job = next;
    }
    pthread_mutex_destroy(&in->lock);
}

struct store_job *store_inbox_take(struct store_inbox *in)
{
    pthread_mutex_lock(&in->lock);
    struct store_job *head = in->head;
    in->head = in->tail = NULL;
    pthread_mutex_unlock(&in->lock);
    return head;
}

struct store_job *store_job_new(enum store_kind kind)
{
    struct store_job *job = calloc(1, sizeof *job);
    if (job)
        job->kind = kind;
    return job;
}

void store_job_free(struct store_job *job)
{
    if (!job)
        return;
    free(job->form);
    free(job->created_at);
    free(job->client_ip);
    free(job->user_agent);
    free(job->fields_json);
    free(job->files_json);
    free(job->query_form);
    if (job->call_release)
        job->call_release(job->call_arg);
    /* Made by cJSON_PrintUnformatted, which allocates with malloc: mica sets no cJSON hooks. */
    free(job->result_json);
    free(job);
}

int64_t store_count(struct store *s)
{
    pthread_mutex_lock(&s->count_lock);
    int64_t n = -1;
    if (sqlite3_step(s->count) == SQLITE_ROW)
        n = sqlite3_column_int64(s->count, 0);
    sqlite3_reset(s->count);
    pthread_mutex_unlock(&s->count_lock);
    return n;
}

int store_pragma(struct store *s, const char *name, char *out, size_t out_len)
{
    /* The name goes into SQL text, so only a plain identifier is accepted. */
    const size_t len = strlen(name);
    if (len == 0 || len > 64 || strspn(name, "abcdefghijklmnopqrstuvwxyz_") != len)
        return -EINVAL;
    char sql[80];
    snprintf(sql, sizeof sql, "PRAGMA %s", name);
    pthread_mutex_lock(&s->db_lock);
    const int rc = query_text(s->db, sql, out, out_len);
    pthread_mutex_unlock(&s->db_lock);
    return rc == SQLITE_OK ? 0 : -EIO;
}
