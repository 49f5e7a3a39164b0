/* SPDX-License-Identifier: MIT */
/*
 * Memory for parser tests whose last bytes end where an inaccessible page begins: input
 * copied there with guarded_put crashes the parser that reads one byte past what it was
 * given. Include after <cmocka.h>.
 */
#ifndef MICA_TEST_GUARDED_H
#define MICA_TEST_GUARDED_H

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct guarded {
    char *base;
    size_t size; /* readable and writable bytes */
};

static inline struct guarded guarded_map(size_t readable_pages)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    struct guarded g = {.size = readable_pages * page};
    void *p = mmap(NULL, g.size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    g.base = p;
    assert_int_equal(mprotect(g.base + g.size, page, PROT_NONE), 0);
    return g;
}

static inline void guarded_unmap(struct guarded *g)
{
    munmap(g->base, g->size + (size_t)sysconf(_SC_PAGESIZE));
}

/* Copies n bytes so they end at the guard page; returns where they start. */
static inline char *guarded_put(const struct guarded *g, const char *bytes, size_t n)
{
    assert_true(n <= g->size);
    char *dst = g->base + g->size - n;
    if (n > 0)
        memcpy(dst, bytes, n);
    return dst;
}

#endif
