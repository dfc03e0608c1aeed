/* runq.h — per-worker run queues with stealing, and the global queue.
 *
 * The shape of a Go P's queue: a `next` slot that runs first (a task just
 * spawned or readied), a bounded ring of TMI_RUNQ_LEN slots, and, shared by
 * all workers, an unbounded locked FIFO (the global queue) that takes the
 * ring's older half when it overflows and the work of threads that own no
 * ring. Items are intrusive nodes (struct tmi_rnode, embedded in the
 * model's task), so the same code serves mn and goroutine.
 *
 * The global queue holds an overflow as one *batch*, an array of the
 * half-ring's pointers, and hands it back by copying pointers into a ring:
 * moving 128 tasks touches no task. (Linking them through their nodes, as
 * Go does, costs a cache miss per task on the way back; measured on
 * skynet, that walk under the lock was a tenth of the whole run.) Single
 * tasks, and a batch when there is no memory for one, are linked through
 * their nodes instead. Order is FIFO within each kind, roughly across.
 *
 * Who may call what:
 *   owner only   tmi_runq_put, tmi_runq_put_next, tmi_runq_get
 *   any worker   tmi_runq_steal (as thief: into its own, empty ring),
 *                tmi_runq_len / tmi_runq_empty (a racy snapshot)
 *   anyone       the tmi_gq_* functions
 *
 * The ring is lock-free (Go's runqput/runqget/runqgrab): `tail` is written
 * only by the owner (release, publishing the slot below it), `head` moves by
 * CAS by the owner's pops and by thieves (release, so a consumer's read of a
 * slot happens before the owner overwrites it). Slots are atomics read and
 * written relaxed: a thief may read a slot the owner is rewriting, and then
 * its CAS on head fails and it retries — a benign race, but a race, so the
 * slots are atomic to keep it defined (and TSan quiet).
 */
#ifndef TMI_RUNQ_H
#define TMI_RUNQ_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum { TMI_RUNQ_LEN = 256 };

/* A queued item. Embedded in the model's task. */
struct tmi_rnode {
    struct tmi_rnode *next; /* link in the global queue and in batches; owned by
                               whoever holds the node off-ring */
};

struct tmi_runq {
    _Atomic uint32_t head;                        /* oldest item; CAS by owner and thieves */
    _Atomic uint32_t tail;                        /* next free slot; owner writes (release) */
    struct tmi_rnode *_Atomic next;               /* runs first; owner exchanges, thieves CAS */
    struct tmi_rnode *_Atomic ring[TMI_RUNQ_LEN]; /* relaxed; see above */
};

/* A run of queued nodes; item[first .. count) are still queued. */
struct tmi_gq_batch {
    struct tmi_gq_batch *next; /* under the queue's lock */
    int first, count;
    struct tmi_rnode *item[];
};

/* The global queue: batches and linked nodes under one spin lock. */
struct tmi_gq {
    _Atomic int lock;                   /* tmi_spin lock over the lists */
    struct tmi_gq_batch *bhead, *btail; /* batches, FIFO; under lock */
    struct tmi_rnode *head, *tail;      /* linked nodes, FIFO; under lock */
    _Atomic long len;                   /* nodes queued; written under lock, read without
                                           it (relaxed, a hint re-checked under the lock) */
};

void tmi_runq_init(struct tmi_runq *q);

/* Append n to q's ring. A full ring first moves its older half and n to g
 * (one lock round trip for TMI_RUNQ_LEN / 2 items). Owner only. */
void tmi_runq_put(struct tmi_runq *q, struct tmi_rnode *n, struct tmi_gq *g);

/* Make n the next to run; a node already there goes to the ring's tail.
 * Returns 1 when one was displaced. Owner only. */
int tmi_runq_put_next(struct tmi_runq *q, struct tmi_rnode *n, struct tmi_gq *g);

/* Take the next node: `next` first unless ring_first, then the ring's
 * oldest. NULL when empty. *from_next (may be NULL) says which it was.
 * Owner only. */
struct tmi_rnode *tmi_runq_get(struct tmi_runq *q, int ring_first, int *from_next);

/* Move the `next` node, if any, to the ring's tail (a preempted worker
 * does this, so that the ring runs before a chain of hand-offs through
 * `next` resumes, and `next` itself waits its turn). Owner only. */
void tmi_runq_demote_next(struct tmi_runq *q, struct tmi_gq *g);

/* Steal half of victim's ring (rounded up) into thief's ring, which must
 * be empty, and return one of them to run; with take_next, fall back to the
 * victim's `next` slot when its ring is empty. NULL when nothing was there.
 * Called by thief's owner. */
struct tmi_rnode *tmi_runq_steal(struct tmi_runq *thief, struct tmi_runq *victim, int take_next);

/* Items on the ring (what a thief takes without take_next): exact for
 * the owner, a snapshot for others. */
static inline uint32_t tmi_runq_ring_len(struct tmi_runq *q)
{
    /* acquire: pairs with the release stores/CASes, so a non-owner sees
     * items published before it looked (the idle re-check relies on it) */
    uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
    /* head is read first and tail never falls behind it, so t - h >= 0;
     * above the ring's size only if the owner pushed meanwhile */
    return t - h > TMI_RUNQ_LEN ? TMI_RUNQ_LEN : t - h;
}

/* Items on q, ring plus `next`. */
static inline uint32_t tmi_runq_len(struct tmi_runq *q)
{
    return tmi_runq_ring_len(q) + (atomic_load_explicit(&q->next, memory_order_acquire) != NULL);
}

static inline int tmi_runq_empty(struct tmi_runq *q)
{
    return tmi_runq_len(q) == 0;
}

/* ---- the global queue ---- */

void tmi_gq_init(struct tmi_gq *g);
/* Free the batches left (the nodes belong to their owners). */
void tmi_gq_term(struct tmi_gq *g);
void tmi_gq_put(struct tmi_gq *g, struct tmi_rnode *n);
/* Append count nodes as one batch (linked one by one without memory). */
void tmi_gq_put_batch(struct tmi_gq *g, struct tmi_rnode *const *items, int count);
/* Take up to max (at most TMI_RUNQ_LEN / 2) nodes, at least 1 if any:
 * return the first, put the rest on q's ring (q's owner calls; the ring
 * must have room for max - 1). */
struct tmi_rnode *tmi_gq_get(struct tmi_gq *g, struct tmi_runq *q, long max);

static inline long tmi_gq_len(struct tmi_gq *g)
{
    return atomic_load_explicit(&g->len, memory_order_relaxed);
}

#endif
