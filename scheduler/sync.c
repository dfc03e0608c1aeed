/* sync.c — mutex, condition variable and wait group, written once on the
 * waiter seam so every model runs the same code.
 *
 * The mutex is Drepper's three-state futex mutex ("Futexes are tricky",
 * mutex3) with the futex replaced by a wait queue: 0 free, 1 locked,
 * 2 locked and maybe waiters. A waiter sets 2 and enqueues under the
 * queue lock, and an unlocker that saw 2 takes that lock before looking at
 * the queue, so a wake-up cannot slip between the check and the park.
 * Rejected: direct hand-off to the oldest waiter (no barging). It is fair
 * but convoys: every unlock then costs a full wake-up latency before the
 * lock can be used again, which on pthreads is tens of microseconds.
 */
#include <errno.h>

#include "tm/sync.h"
#include "waitq.h"

void tm_mutex_init(struct tm_mutex *m)
{
    atomic_init(&m->state, 0);
    tmi_waitq_init(&m->q);
}

int tm_mutex_trylock(struct tm_mutex *m)
{
    int free = 0;
    /* acquire: the critical section starts after the lock is taken */
    if (atomic_compare_exchange_strong_explicit(&m->state, &free, 1, memory_order_acquire,
                                                memory_order_relaxed))
        return 0;
    errno = EBUSY;
    return -1;
}

int tm_mutex_lock(struct tm_mutex *m)
{
    int free = 0;
    if (atomic_compare_exchange_strong_explicit(&m->state, &free, 1, memory_order_acquire,
                                                memory_order_relaxed))
        return 0;
    /* A short spin catches critical sections that end soon. */
    for (int i = 0; i < 64; i++) {
        __builtin_ia32_pause();
        free = 0;
        if (atomic_load_explicit(&m->state, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&m->state, &free, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return 0;
    }
    for (;;) {
        tmi_spin_lock(&m->q.lock);
        /* acquire on success; 2 because others may be queued behind us */
        if (atomic_exchange_explicit(&m->state, 2, memory_order_acquire) == 0) {
            tmi_spin_unlock(&m->q.lock);
            return 0;
        }
        tmi_waitq_park(&m->q, -1); /* releases q.lock */
    }
}

int tm_mutex_unlock(struct tm_mutex *m)
{
    /* release: publishes the critical section to the next owner */
    if (atomic_exchange_explicit(&m->state, 0, memory_order_release) == 2)
        tmi_waitq_wake(&m->q, 1);
    return 0;
}

void tm_cond_init(struct tm_cond *c) { tmi_waitq_init(&c->q); }

int tm_cond_wait(struct tm_cond *c, struct tm_mutex *m, int64_t deadline)
{
    tmi_spin_lock(&c->q.lock);
    /* Enqueued before m is released: a signal sent after the caller's
     * unlock cannot be missed. */
    struct tm_waiter w;
    struct tmi_wnode n = {.w = &w};
    tm_waiter_init(&w);
    tmi_waitq_push(&c->q, &n);
    tmi_spin_unlock(&c->q.lock);
    tm_mutex_unlock(m);
    int r = tm_park(&w, deadline);
    if (r != 0) {
        tmi_spin_lock(&c->q.lock);
        tmi_waitq_remove(&c->q, &n);
        tmi_spin_unlock(&c->q.lock);
    }
    tm_mutex_lock(m);
    if (r != 0) errno = ETIMEDOUT;
    return r;
}

int tm_cond_signal(struct tm_cond *c)
{
    tmi_waitq_wake(&c->q, 1);
    return 0;
}

int tm_cond_broadcast(struct tm_cond *c)
{
    tmi_waitq_wake(&c->q, -1);
    return 0;
}

void tm_waitgroup_init(struct tm_waitgroup *wg)
{
    atomic_init(&wg->count, 0);
    tmi_waitq_init(&wg->q);
}

/* Lifetime rule: once a waiter has seen the count at 0 its owner may free
 * the wait group, so whoever brings the count to 0 must be done with it by
 * then. Hence every change and every check of the count happens under
 * q.lock: the waker's unlock is its last touch of *wg (it readies the
 * collected waiters afterwards, and their nodes live on their stacks).
 * Rejected: a lock-free count with a wake-up after it reaches 0 (the bug
 * ThreadSanitizer found here: the waker took q.lock on freed memory). */
int tm_waitgroup_add(struct tm_waitgroup *wg, int64_t n)
{
    tmi_spin_lock(&wg->q.lock);
    int64_t now = atomic_load_explicit(&wg->count, memory_order_relaxed) + n;
    if (now < 0) {
        tmi_spin_unlock(&wg->q.lock);
        errno = EINVAL;
        return -1;
    }
    atomic_store_explicit(&wg->count, now, memory_order_relaxed);
    struct tmi_link *woken = now == 0 ? tmi_waitq_claim(&wg->q, -1) : NULL;
    tmi_spin_unlock(&wg->q.lock);
    tmi_waitq_ready(woken);
    return 0;
}

int tm_waitgroup_done(struct tm_waitgroup *wg) { return tm_waitgroup_add(wg, -1); }

int tm_waitgroup_wait(struct tm_waitgroup *wg, int64_t deadline)
{
    tmi_spin_lock(&wg->q.lock);
    if (atomic_load_explicit(&wg->count, memory_order_relaxed) == 0) {
        tmi_spin_unlock(&wg->q.lock);
        return 0;
    }
    if (deadline == 0) {
        tmi_spin_unlock(&wg->q.lock);
        errno = ETIMEDOUT;
        return -1;
    }
    /* Woken when the count reached 0, as Go's Wait: a later Add does not
     * put us back to sleep. */
    return tmi_waitq_park(&wg->q, deadline);
}
