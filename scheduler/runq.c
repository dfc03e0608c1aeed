/* runq.c — the per-worker ring and the global queue; see runq.h. */
#include "runq.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tmi.h"

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire
#define REL memory_order_release

void tmi_runq_init(struct tmi_runq *q)
{
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    atomic_init(&q->next, NULL);
    for (int i = 0; i < TMI_RUNQ_LEN; i++)
        atomic_init(&q->ring[i], NULL);
}

static inline struct tmi_rnode *slot_get(struct tmi_runq *q, uint32_t i)
{
    return atomic_load_explicit(&q->ring[i % TMI_RUNQ_LEN], RLX);
}

static inline void slot_set(struct tmi_runq *q, uint32_t i, struct tmi_rnode *n)
{
    atomic_store_explicit(&q->ring[i % TMI_RUNQ_LEN], n, RLX);
}

/* Move the ring's older half plus n to the global queue. 0 when a
 * consumer moved head meanwhile (the caller retries the fast path). */
static int put_slow(struct tmi_runq *q, struct tmi_rnode *n, uint32_t h, uint32_t t,
                    struct tmi_gq *g)
{
    enum { HALF = TMI_RUNQ_LEN / 2 };
    struct tmi_rnode *batch[HALF + 1];
    tm_assert(t - h == TMI_RUNQ_LEN, "runq: put_slow on a ring that is not full");
    for (uint32_t i = 0; i < HALF; i++)
        batch[i] = slot_get(q, h + i);
    /* release: our slot reads happen before we (the owner) reuse the slots */
    if (!atomic_compare_exchange_strong_explicit(&q->head, &h, h + HALF, REL, RLX)) return 0;
    batch[HALF] = n;
    tmi_gq_put_batch(g, batch, HALF + 1);
    return 1;
}

void tmi_runq_put(struct tmi_runq *q, struct tmi_rnode *n, struct tmi_gq *g)
{
    for (;;) {
        /* acquire: pairs with consumers' release CAS — their slot reads
         * are done before we overwrite a slot they freed */
        uint32_t h = atomic_load_explicit(&q->head, ACQ);
        uint32_t t = atomic_load_explicit(&q->tail, RLX); /* ours */
        if (t - h < TMI_RUNQ_LEN) {
            slot_set(q, t, n);
            /* release: publishes the slot (and the task behind it) to consumers */
            atomic_store_explicit(&q->tail, t + 1, REL);
            return;
        }
        if (put_slow(q, n, h, t, g)) return;
    }
}

int tmi_runq_put_next(struct tmi_runq *q, struct tmi_rnode *n, struct tmi_gq *g)
{
    /* acq_rel: release publishes n to a thief that CASes it away; acquire
     * pairs with the release that put the displaced node here */
    struct tmi_rnode *old = atomic_exchange_explicit(&q->next, n, memory_order_acq_rel);
    if (!old) return 0;
    tmi_runq_put(q, old, g);
    return 1;
}

static struct tmi_rnode *take_next(struct tmi_runq *q)
{
    /* Only the owner puts here, but thieves may take: take by CAS too.
     * acquire: pairs with the exchange in tmi_runq_put_next */
    struct tmi_rnode *n = atomic_load_explicit(&q->next, RLX);
    while (n && !atomic_compare_exchange_weak_explicit(&q->next, &n, NULL, ACQ, RLX)) {
    }
    return n;
}

static struct tmi_rnode *take_ring(struct tmi_runq *q)
{
    for (;;) {
        uint32_t h = atomic_load_explicit(&q->head, ACQ);
        uint32_t t = atomic_load_explicit(&q->tail, RLX); /* ours */
        if (t == h) return NULL;
        struct tmi_rnode *n = slot_get(q, h);
        /* release: see put_slow */
        if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + 1, REL, RLX)) return n;
    }
}

struct tmi_rnode *tmi_runq_get(struct tmi_runq *q, int ring_first, int *from_next)
{
    struct tmi_rnode *n = ring_first ? take_ring(q) : take_next(q);
    int was_next = !ring_first && n;
    if (!n) {
        n = ring_first ? take_next(q) : take_ring(q);
        was_next = ring_first && n;
    }
    if (from_next) *from_next = was_next;
    return n;
}

void tmi_runq_demote_next(struct tmi_runq *q, struct tmi_gq *g)
{
    struct tmi_rnode *n = take_next(q);
    if (n) tmi_runq_put(q, n, g);
}

/* Copy half of victim's ring into thief's ring starting at slot `at`.
 * Returns how many were taken. */
static uint32_t grab(struct tmi_runq *victim, struct tmi_runq *thief, uint32_t at, int take_next)
{
    for (;;) {
        /* acquire both: the slots below tail were published by the
         * victim's release store of tail */
        uint32_t h = atomic_load_explicit(&victim->head, ACQ);
        uint32_t t = atomic_load_explicit(&victim->tail, ACQ);
        uint32_t n = t - h;
        n -= n / 2;
        if (n == 0) {
            if (!take_next) return 0;
            struct tmi_rnode *nx = atomic_load_explicit(&victim->next, ACQ);
            /* acquire: pairs with the owner's exchange that published it */
            if (nx && atomic_compare_exchange_strong_explicit(&victim->next, &nx, NULL, ACQ, RLX)) {
                slot_set(thief, at, nx);
                return 1;
            }
            return 0;
        }
        if (n > TMI_RUNQ_LEN / 2) continue; /* head and tail read at different times */
        for (uint32_t i = 0; i < n; i++)
            slot_set(thief, at + i, slot_get(victim, h + i));
        /* release: our slot reads happen before the victim reuses them */
        if (atomic_compare_exchange_strong_explicit(&victim->head, &h, h + n, REL, RLX)) return n;
    }
}

struct tmi_rnode *tmi_runq_steal(struct tmi_runq *thief, struct tmi_runq *victim, int take_next)
{
    uint32_t t = atomic_load_explicit(&thief->tail, RLX); /* ours */
    uint32_t n = grab(victim, thief, t, take_next);
    if (n == 0) return NULL;
    n--;
    struct tmi_rnode *run = slot_get(thief, t + n);
    if (n == 0) return run;
    uint32_t h = atomic_load_explicit(&thief->head, ACQ);
    tm_assert(t - h + n < TMI_RUNQ_LEN, "runq: stole into a ring that was not empty enough");
    /* release: publishes the stolen slots to whoever steals from us */
    atomic_store_explicit(&thief->tail, t + n, REL);
    return run;
}

/* ---- the global queue ---- */

void tmi_gq_init(struct tmi_gq *g)
{
    atomic_init(&g->lock, 0);
    g->bhead = g->btail = NULL;
    g->head = g->tail = NULL;
    atomic_init(&g->len, 0);
}

void tmi_gq_term(struct tmi_gq *g)
{
    while (g->bhead) {
        struct tmi_gq_batch *b = g->bhead;
        g->bhead = b->next;
        free(b);
    }
    tmi_gq_init(g);
}

static void add_len(struct tmi_gq *g, long d) /* under lock */
{
    atomic_store_explicit(&g->len, atomic_load_explicit(&g->len, RLX) + d, RLX);
}

/* Link first..last (count nodes, chained through next) at the tail. */
static void put_chain(struct tmi_gq *g, struct tmi_rnode *first, struct tmi_rnode *last, long count)
{
    last->next = NULL;
    tmi_spin_lock(&g->lock);
    if (g->tail)
        g->tail->next = first;
    else
        g->head = first;
    g->tail = last;
    add_len(g, count);
    tmi_spin_unlock(&g->lock);
}

void tmi_gq_put(struct tmi_gq *g, struct tmi_rnode *n)
{
    put_chain(g, n, n, 1);
}

void tmi_gq_put_batch(struct tmi_gq *g, struct tmi_rnode *const *items, int count)
{
    struct tmi_gq_batch *b = malloc(sizeof *b + (size_t)count * sizeof b->item[0]);
    if (!b) { /* no memory for the array: link the nodes themselves */
        for (int i = 0; i + 1 < count; i++)
            items[i]->next = items[i + 1];
        put_chain(g, items[0], items[count - 1], count);
        return;
    }
    b->next = NULL;
    b->first = 0;
    b->count = count;
    memcpy(b->item, items, (size_t)count * sizeof b->item[0]);
    tmi_spin_lock(&g->lock);
    if (g->btail)
        g->btail->next = b;
    else
        g->bhead = b;
    g->btail = b;
    add_len(g, count);
    tmi_spin_unlock(&g->lock);
}

struct tmi_rnode *tmi_gq_get(struct tmi_gq *g, struct tmi_runq *q, long max)
{
    if (tmi_gq_len(g) == 0) return NULL;
    struct tmi_rnode *got[TMI_RUNQ_LEN / 2]; /* 1 KiB: this may run on a small task stack */
    struct tmi_gq_batch *done = NULL;        /* emptied batches, freed after unlock */
    long n = 0;
    if (max > TMI_RUNQ_LEN / 2) max = TMI_RUNQ_LEN / 2;
    tmi_spin_lock(&g->lock);
    while (n < max && g->bhead) {
        struct tmi_gq_batch *b = g->bhead;
        long k = b->count - b->first < max - n ? b->count - b->first : max - n;
        memcpy(&got[n], &b->item[b->first], (size_t)k * sizeof got[0]);
        n += k;
        b->first += (int)k;
        if (b->first == b->count) {
            if (!(g->bhead = b->next)) g->btail = NULL;
            b->next = done;
            done = b;
        }
    }
    while (n < max && g->head) {
        got[n] = g->head;
        if (!(g->head = g->head->next)) g->tail = NULL;
        n++;
    }
    add_len(g, -n);
    tmi_spin_unlock(&g->lock);
    while (done) {
        struct tmi_gq_batch *b = done;
        done = b->next;
        free(b);
    }
    for (long i = 1; i < n; i++)
        tmi_runq_put(q, got[i], g);
    return n ? got[0] : NULL;
}
