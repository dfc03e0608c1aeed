/* waitq.c — FIFO of waiters; see waitq.h for the claim protocol. */
#include "waitq.h"

#include <errno.h>
#include <stddef.h>

void tmi_waitq_init(struct tm_waitq *q)
{
    atomic_init(&q->lock, 0);
    q->head = q->tail = NULL;
}

void tmi_waitq_push(struct tm_waitq *q, struct tmi_wnode *n)
{
    n->next = NULL;
    n->prev = q->tail;
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    n->queued = 1;
}

void tmi_waitq_remove(struct tm_waitq *q, struct tmi_wnode *n)
{
    if (!n->queued) return;
    if (n->prev)
        n->prev->next = n->next;
    else
        q->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        q->tail = n->prev;
    n->queued = 0;
}

struct tmi_wnode *tmi_waitq_claim_one(struct tm_waitq *q)
{
    struct tmi_wnode *n;
    while ((n = q->head) != NULL) {
        tmi_waitq_remove(q, n);
        if (tm_waiter_claim(n->w)) return n;
        /* stale: its owner timed out and will find it unqueued */
    }
    return NULL;
}

int tmi_waitq_park(struct tm_waitq *q, int64_t deadline)
{
    struct tm_waiter w;
    struct tmi_wnode n = {.w = &w};
    tm_waiter_init(&w);
    tmi_waitq_push(q, &n);
    tmi_spin_unlock(&q->lock);
    if (tm_park(&w, deadline) == 0) return 0;
    tmi_spin_lock(&q->lock);
    tmi_waitq_remove(q, &n);
    tmi_spin_unlock(&q->lock);
    errno = ETIMEDOUT;
    return -1;
}

int tmi_waitq_wake(struct tm_waitq *q, int max)
{
    /* Claimed waiters are collected first and readied after the lock is
     * dropped: a claimed waiter's owner cannot leave tm_park before its
     * tm_ready, so the nodes stay valid. */
    struct tmi_wnode *woken = NULL, *n;
    int count = 0;
    tmi_spin_lock(&q->lock);
    while ((max < 0 || count < max) && (n = tmi_waitq_claim_one(q)) != NULL) {
        n->next = woken;
        woken = n;
        count++;
    }
    tmi_spin_unlock(&q->lock);
    while (woken) {
        n = woken;
        woken = n->next; /* read before tm_ready: the node dies with the wait */
        tm_ready(n->w);
    }
    return count;
}
