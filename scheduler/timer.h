/* timer.h — a binary min-heap of deadlines, for sleeps and park timeouts.
 *
 * Not thread-safe: each heap has one owner (the coro scheduler, an mn
 * worker, a goroutine P) or is guarded by its owner's lock. A timer is
 * embedded in whatever it wakes (usually the task) and knows its heap
 * slot, so cancelling is O(log n) with no search.
 */
#ifndef TMI_TIMER_H
#define TMI_TIMER_H

#include <stdint.h>

struct tmi_timer {
    int64_t when; /* absolute deadline on the tm_now() clock */
    int slot;     /* index in the heap, -1 when not queued */
    void *arg;    /* what fires: the owner interprets it */
};

struct tmi_timers {
    struct tmi_timer **heap; /* heap[0] is the earliest */
    int len, cap;
};

void tmi_timers_init(struct tmi_timers *h);
void tmi_timers_term(struct tmi_timers *h);
/* Queue t at t->when. Errors: ENOMEM. */
int tmi_timers_add(struct tmi_timers *h, struct tmi_timer *t);
/* Take t off the heap if it is queued. */
void tmi_timers_del(struct tmi_timers *h, struct tmi_timer *t);
/* The earliest deadline, or -1 when empty. */
static inline int64_t tmi_timers_next(const struct tmi_timers *h)
{
    return h->len ? h->heap[0]->when : -1;
}
/* Pop the earliest timer if it is due at `now`, else NULL. */
struct tmi_timer *tmi_timers_pop_due(struct tmi_timers *h, int64_t now);

#endif
