/* SPDX-License-Identifier: MIT */
/* Tests for core/log: what reaches the files, in which order, and what is counted lost. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

static char dir[] = "/tmp/mica-test-log-XXXXXX";
static char access_path[64], error_path[64];

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(access_path, sizeof access_path, "%s/access.log", dir);
    snprintf(error_path, sizeof error_path, "%s/error.log", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(access_path);
    unlink(error_path);
    rmdir(dir);
    return 0;
}

/* The whole file, NUL-terminated (caller frees). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *out = calloc(1, 1 << 20);
    size_t n = fread(out, 1, (1 << 20) - 1, f);
    out[n] = '\0';
    fclose(f);
    return out;
}

/* Two threads take turns (a baton under a mutex), each with its own log buffer like a
 * worker, writing error and access lines. */
struct turns {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int turn; /* whose turn: 0 or 1 */
    int rounds;
};

struct writer {
    struct turns *t;
    int id;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct log_buf *b = log_thread_buf();
    for (int i = 0; i < w->t->rounds; i++) {
        pthread_mutex_lock(&w->t->lock);
        while (w->t->turn != w->id)
            pthread_cond_wait(&w->t->cond, &w->t->lock);
        log_write(LOG_ERROR, "thread %d line %d", w->id, i);
        char line[64];
        int n = snprintf(line, sizeof line, "access %d %d\n", w->id, i);
        log_access(b, line, (size_t)n);
        w->t->turn = 1 - w->id;
        pthread_cond_broadcast(&w->t->cond);
        pthread_mutex_unlock(&w->t->lock);
    }
    return NULL;
}

static void test_error_lines_keep_their_order_across_threads(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(log_open(LOG_INFO, access_path, error_path, err), 0);
    struct turns t = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 50};
    struct writer w[2] = {{&t, 0}, {&t, 1}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    log_close(); /* flushes everything */

    char *text = slurp(error_path);
    assert_non_null(text);
    /* Written alternately: 0/0, 1/0, 0/1, 1/1 … and so they read. */
    const char *p = text;
    for (int i = 0; i < t.rounds; i++) {
        for (int id = 0; id < 2; id++) {
            char want[64];
            snprintf(want, sizeof want, "[error] thread %d line %d\n", id, i);
            const char *nl = strchr(p, '\n');
            assert_non_null(nl);
            const char *at = strstr(p, want);
            assert_ptr_equal(at + strlen(want) - 1, nl); /* on this very line */
            p = nl + 1;
        }
    }
    assert_string_equal(p, "");
    free(text);

    /* Access lines: every one there, each thread's in its own order. */
    text = slurp(access_path);
    assert_non_null(text);
    for (int id = 0; id < 2; id++) {
        const char *q = text;
        for (int i = 0; i < t.rounds; i++) {
            char want[64];
            snprintf(want, sizeof want, "access %d %d\n", id, i);
            q = strstr(q, want);
            assert_non_null(q);
        }
    }
    free(text);
}

static void test_error_line_format_and_level(void **state)
{
    (void)state;
    char err[256];
    unlink(error_path);
    assert_int_equal(log_open(LOG_WARN, "off", error_path, err), 0);
    log_info("not written: below the level");
    log_warn("written: %s", "warn");
    log_error("written: %d", 42);
    log_close();
    char *text = slurp(error_path);
    assert_non_null(text);
    assert_null(strstr(text, "not written"));
    /* "2026-11-26T01:02:03Z [warn] written: warn" */
    char date[32], level[16];
    assert_int_equal(sscanf(text, "%31s [%15[a-z]]", date, level), 2);
    assert_int_equal(strlen(date), 20);
    assert_true(date[4] == '-' && date[10] == 'T' && date[19] == 'Z');
    assert_string_equal(level, "warn");
    assert_non_null(strstr(text, "[error] written: 42\n"));
    free(text);
}

static void test_open_failure_names_the_file(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(log_open(LOG_INFO, "/proc/no/such/dir/access.log", "-", err), -1);
    assert_non_null(strstr(err, "access log"));
    assert_non_null(strstr(err, "/proc/no/such/dir/access.log"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_lines_keep_their_order_across_threads),
        cmocka_unit_test(test_error_line_format_and_level),
        cmocka_unit_test(test_open_failure_names_the_file),
    };
    return cmocka_run_group_tests_name("log", tests, setup, teardown);
}
