/* sync.h — mutex, condition variable and wait group for tasks.
 *
 * Written once in scheduler/sync.c on the waiter seam of tm.h, so every
 * model runs the same code. All three are plain structs: zero them with the
 * _init function, no allocation, no teardown beyond the _term check.
 */
#ifndef TM_SYNC_H
#define TM_SYNC_H

#include <stdint.h>

#include "tm/tm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Internal FIFO of waiters guarded by a short spin lock. Fields are private. */
struct tm_waitq {
    _Atomic int lock;       /* tmi_spin lock word */
    struct tmi_link *head;  /* oldest waiter; guarded by lock */
    struct tmi_link *tail;  /* newest waiter; guarded by lock */
};

/* A mutex that parks the task, not the thread. Barging, like a futex mutex:
 * a woken waiter competes again, which keeps throughput up under contention. */
struct tm_mutex {
    _Atomic int state; /* 0 free, 1 locked, 2 locked and maybe waiters */
    struct tm_waitq q; /* parked lockers */
};

void tm_mutex_init(struct tm_mutex *m);
/* Lock m, parking until it is free. Errors: none (returns 0). */
int tm_mutex_lock(struct tm_mutex *m);
/* Lock m if free. Errors: EBUSY. */
int tm_mutex_trylock(struct tm_mutex *m);
/* Unlock m; the caller must hold it. Returns 0. */
int tm_mutex_unlock(struct tm_mutex *m);

struct tm_cond {
    struct tm_waitq q; /* parked waiters, FIFO */
};

void tm_cond_init(struct tm_cond *c);
/* Atomically unlock m and wait for a signal or the deadline, then relock m.
 * Spurious wake-ups do not happen but callers should loop anyway.
 * Errors: ETIMEDOUT (m is relocked). */
int tm_cond_wait(struct tm_cond *c, struct tm_mutex *m, int64_t deadline);
/* Wake one / every waiter. Return 0. */
int tm_cond_signal(struct tm_cond *c);
int tm_cond_broadcast(struct tm_cond *c);

/* Go's sync.WaitGroup: add before spawning, done when finished, wait for 0.
 * Once tm_waitgroup_wait has returned 0, the caller may free the group. */
struct tm_waitgroup {
    _Atomic int64_t count; /* outstanding work; changed and read under q.lock */
    struct tm_waitq q;     /* parked waiters */
};

void tm_waitgroup_init(struct tm_waitgroup *wg);
/* Add n (may be negative) to the counter. Errors: EINVAL it would go below 0. */
int tm_waitgroup_add(struct tm_waitgroup *wg, int64_t n);
/* Same as tm_waitgroup_add(wg, -1). */
int tm_waitgroup_done(struct tm_waitgroup *wg);
/* Wait until the counter is 0. Errors: ETIMEDOUT. */
int tm_waitgroup_wait(struct tm_waitgroup *wg, int64_t deadline);

#ifdef __cplusplus
}
#endif

#endif
