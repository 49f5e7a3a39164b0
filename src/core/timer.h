/* SPDX-License-Identifier: MIT */
/*
 * Per-worker timeouts as deadline-ordered lists.
 *
 * Every timeout mica enforces has a fixed length per kind (keep-alive idle, request head,
 * body, send, linger). A connection waiting on one kind is appended to that kind's list
 * with deadline = now + length, so each list stays sorted by deadline without any search:
 * arming, re-arming and cancelling are O(1) (unlink, append), and expiry pops from the
 * head while the head is due. A connection is on at most one list at a time.
 *
 * If a reload changes a length, entries armed before and after it may be out of order for
 * one period; expiry then runs late by at most the difference, never early.
 */
#ifndef MICA_CORE_TIMER_H
#define MICA_CORE_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct timer_list;

struct timer {
    struct timer *prev, *next;
    struct timer_list *list; /* NULL when not armed */
    uint64_t deadline_ms;
};

struct timer_list {
    struct timer *head, *tail;
};

static inline void timer_init(struct timer *t)
{
    t->prev = t->next = NULL;
    t->list = NULL;
    t->deadline_ms = 0;
}

static inline bool timer_armed(const struct timer *t)
{
    return t->list != NULL;
}

/* Disarms t if armed. */
void timer_cancel(struct timer *t);

/* (Re)arms t on list l, due at deadline_ms: it goes to the tail. */
void timer_arm(struct timer_list *l, struct timer *t, uint64_t deadline_ms);

/* The earliest armed deadline over the n lists of an array, or UINT64_MAX when none. */
uint64_t timer_next(const struct timer_list *lists, size_t n);

/* Disarms and returns the head of l if it is due at now_ms, else NULL. */
struct timer *timer_pop_expired(struct timer_list *l, uint64_t now_ms);

#endif
