/* waitq.h — a FIFO of waiters under a spin lock: the queue behind the
 * mutex, the condition variable and the wait group.
 *
 * A node lives on the parked task's stack. Wakers pop nodes and claim
 * their waiter; a node whose claim fails belongs to a wait that already
 * ended (its owner timed out) and is simply dropped. An owner that timed
 * out removes its node itself if it is still queued.
 */
#ifndef TMI_WAITQ_H
#define TMI_WAITQ_H

#include "tm/sync.h"
#include "tmi.h"

struct tmi_wnode {
    struct tmi_link link; /* on the queue; guarded by its lock */
    struct tm_waiter *w;  /* the wait this node belongs to */
};

void tmi_waitq_init(struct tm_waitq *q);
/* Append n (caller holds q->lock). */
void tmi_waitq_push(struct tm_waitq *q, struct tmi_wnode *n);
/* Remove n if still queued (caller holds q->lock). */
void tmi_waitq_remove(struct tm_waitq *q, struct tmi_wnode *n);
/* Pop nodes until one's waiter is claimed; NULL when none (caller holds
 * q->lock). The caller readies the returned waiter after unlocking. */
struct tmi_wnode *tmi_waitq_claim_one(struct tm_waitq *q);

/* Park the calling task on q (q->lock held on entry, released here) until
 * woken or deadline. Returns 0, or -1 with errno ETIMEDOUT (the node has
 * then been taken off q). */
int tmi_waitq_park(struct tm_waitq *q, int64_t deadline);

/* Wake up to max waiters (-1: all). Takes and releases q->lock. */
void tmi_waitq_wake(struct tm_waitq *q, int max);

/* The two halves of tmi_waitq_wake, for callers that must change their own
 * state under the same lock: claim up to max waiters (caller holds q->lock)
 * into a chain, then, after unlocking, ready the chain. A claimed waiter's
 * owner cannot leave tm_park before its tm_ready, so the nodes stay valid. */
struct tmi_link *tmi_waitq_claim(struct tm_waitq *q, int max);
void tmi_waitq_ready(struct tmi_link *chain);

#endif
