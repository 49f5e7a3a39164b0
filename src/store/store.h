/* SPDX-License-Identifier: MIT */
/*
 * Form submissions in SQLite, behind one writer thread and a queue.
 *
 * Event loops never touch the database: a worker fills a struct store_job and posts it;
 * the store thread runs it (submissions are committed in a transaction before the job is
 * reported done, WAL with synchronous=FULL, so a done submission survives a crash or a
 * power cut) and hands the finished job back through the job's inbox, whose eventfd
 * wakes the worker. Jobs queued together are committed together (group commit), which is
 * what lets many concurrent submitters go fast without giving up durability.
 *
 * The database is data_dir/mica.db:
 *   submissions(id INTEGER PRIMARY KEY, form TEXT, created_at TEXT (ISO-8601 UTC),
 *               client_ip TEXT, user_agent TEXT, fields TEXT (JSON object),
 *               files TEXT (JSON array))
 */
#ifndef MICA_STORE_STORE_H
#define MICA_STORE_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* Where finished jobs go: one per worker. Any thread may push; the owner takes. */
struct store_inbox {
    pthread_mutex_t lock;
    struct store_job *head, *tail;
    int efd; /* eventfd, written once per push (the owner polls it) */
};

enum store_kind {
    STORE_SUBMIT, /* insert one submission */
    STORE_QUERY,  /* list submissions, newest first */
    STORE_CALL,   /* blocking work the serving threads must not do: call(call_arg) */
};

struct store_job {
    enum store_kind kind;
    struct store_inbox *inbox; /* where the finished job is pushed */
    void *owner;               /* the caller's (a connection); untouched by the store */
    struct store_job *next;    /* queue and inbox link; the store's while queued */

    /* STORE_SUBMIT input; strings owned by the job (free with store_job_free) */
    char *form;
    char *created_at; /* ISO-8601 UTC */
    char *client_ip;
    char *user_agent;
    char *fields_json; /* a JSON object */
    char *files_json;  /* a JSON array */

    /* STORE_QUERY input */
    char *query_form;  /* NULL: every form */
    int64_t before_id; /* 0: no bound; else only ids < before_id */
    int limit;         /* 1..500 */

    /* STORE_CALL input: run on the store thread, status = call(call_arg) (0 or -errno);
     * call_release(call_arg), when set, when the job is freed. */
    int (*call)(void *arg);
    void *call_arg;
    void (*call_release)(void *arg);

    /* Output, valid once the job is back in the inbox. */
    int status;        /* 0, or -errno-like failure (the database was unavailable, full …) */
    int64_t id;        /* STORE_SUBMIT: the new row's id */
    char *result_json; /* STORE_QUERY: {"submissions":[{...}, ...]} exactly as SPEC §2 shows
                          (fields and files as JSON, not strings); owned by the job */
    char error[128];   /* when status != 0: for the log */
};

/* Opens (creating as needed) data_dir and data_dir/mica.db, applies the schema and the
 * pragmas, and starts the store thread. Returns 0, or -1 with err naming the file. */
int store_open(struct store **s, const char *data_dir, char err[256]);

/* Finishes every queued job (each is pushed to its inbox), stops the thread, closes the
 * database, frees s. */
void store_close(struct store *s);

/* Queues job. Returns 0, or -EAGAIN when the queue is full (STORE_QUEUE_MAX jobs): the
 * caller answers 503. The store owns the job until it appears in the inbox. */
enum { STORE_QUEUE_MAX = 4096 };
int store_post(struct store *s, struct store_job *job);

void store_inbox_init(struct store_inbox *in, int efd);
void store_inbox_destroy(struct store_inbox *in);

/* Takes every finished job from the inbox (oldest first), emptying it. */
struct store_job *store_inbox_take(struct store_inbox *in);

/* A zeroed job of the given kind (calloc), or NULL. */
struct store_job *store_job_new(enum store_kind kind);
void store_job_free(struct store_job *job);

/* Count of submissions (for stats and tests); -1 on error. Blocking: not for event loops. */
int64_t store_count(struct store *s);

/* For tests and diagnostics: the value of PRAGMA name (lowercase letters and '_' only,
 * e.g. "journal_mode", "synchronous") as the store thread's own connection sees it, as text
 * into out. Returns 0, or -EINVAL (bad name) or -EIO. Blocking: waits for a running batch. */
int store_pragma(struct store *s, const char *name, char *out, size_t out_len);

#endif
