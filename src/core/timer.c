/* SPDX-License-Identifier: MIT */
/* Deadline-ordered timer lists; see timer.h. */
#include "core/timer.h"

void timer_cancel(struct timer *t)
{
    struct timer_list *l = t->list;
    if (!l)
        return;
    if (t->prev)
        t->prev->next = t->next;
    else
        l->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        l->tail = t->prev;
    t->prev = t->next = NULL;
    t->list = NULL;
}

void timer_arm(struct timer_list *l, struct timer *t, uint64_t deadline_ms)
{
    timer_cancel(t);
    t->deadline_ms = deadline_ms;
    t->list = l;
    t->next = NULL;
    t->prev = l->tail;
    if (l->tail)
        l->tail->next = t;
    else
        l->head = t;
    l->tail = t;
}

uint64_t timer_next(const struct timer_list *lists, size_t n)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (lists[i].head && lists[i].head->deadline_ms < next)
            next = lists[i].head->deadline_ms;
    return next;
}

struct timer *timer_pop_expired(struct timer_list *l, uint64_t now_ms)
{
    struct timer *t = l->head;
    if (!t || t->deadline_ms > now_ms)
        return NULL;
    timer_cancel(t);
    return t;
}
