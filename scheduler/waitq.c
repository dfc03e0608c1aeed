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
    tmi_link_push(&q->head, &q->tail, &n->link);
}

void tmi_waitq_remove(struct tm_waitq *q, struct tmi_wnode *n)
{
    tmi_link_remove(&q->head, &q->tail, &n->link);
}

struct tmi_wnode *tmi_waitq_claim_one(struct tm_waitq *q)
{
    struct tmi_link *l;
    while ((l = q->head) != NULL) {
        struct tmi_wnode *n = tmi_container_of(l, struct tmi_wnode, link);
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

struct tmi_link *tmi_waitq_claim(struct tm_waitq *q, int max)
{
    struct tmi_link *chain = NULL;
    struct tmi_wnode *n;
    for (int count = 0; (max < 0 || count < max) && (n = tmi_waitq_claim_one(q)) != NULL; count++) {
        n->link.next = chain; /* off the queue now: `next` is ours */
        chain = &n->link;
    }
    return chain;
}

void tmi_waitq_ready(struct tmi_link *chain)
{
    while (chain) {
        struct tmi_wnode *n = tmi_container_of(chain, struct tmi_wnode, link);
        chain = chain->next; /* read before tm_ready: the node dies with the wait */
        tm_ready(n->w);
    }
}

void tmi_waitq_wake(struct tm_waitq *q, int max)
{
    tmi_spin_lock(&q->lock);
    struct tmi_link *chain = tmi_waitq_claim(q, max);
    tmi_spin_unlock(&q->lock);
    tmi_waitq_ready(chain);
}
