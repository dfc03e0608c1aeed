/* tmi.h — small internals shared by every file in scheduler/ and models/:
 * assertions, the spin lock, error details, a per-thread random number.
 */
#ifndef TMI_H
#define TMI_H

#include <sched.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

/* Never compiled out. The message starts with the subsystem ("chan: ..."). */
#define tm_assert(cond, msg)                                                                      \
    do {                                                                                          \
        if (__builtin_expect(!(cond), 0)) tmi_panic(__FILE__, __LINE__, msg);                     \
    } while (0)

_Noreturn void tmi_panic(const char *file, int line, const char *msg);

/* Set the detail tm_last_error() returns (printf format). Returns -1 so a
 * caller can `return tmi_fail(EINVAL, "...")`; sets errno to err. */
int tmi_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Preemption-disable depth of this kernel thread. A model with
 * asynchronous preemption never switches a task away while it is > 0;
 * the spin lock raises it so no task is preempted holding a lock. */
extern _Thread_local int tmi_preempt_off;

/* The spin lock's change of it. Not instrumented by ThreadSanitizer (gcc
 * then keeps it out of line): an instrumented access inside a function
 * that spans a context switch is reported against the thread-local of the
 * kernel thread the task ran on before it migrated (gcc computes the
 * address once per function), and TSan's handling of that false report
 * (symbolizing) clobbers errno. Only the calling thread touches it. */
__attribute__((no_sanitize("thread"))) static inline void tmi_preempt_add(int d)
{
    tmi_preempt_off += d;
}

/* A test-and-test-and-set lock for short critical sections inside the
 * runtime. After a few hundred spins it yields the kernel thread, so a
 * holder descheduled by the kernel (pthreads oversubscription) does not
 * burn the other cores' time slices. */
static inline void tmi_spin_lock(_Atomic int *l)
{
    tmi_preempt_add(1);
    for (unsigned spins = 0;; spins++) {
        /* acquire: pairs with the release in tmi_spin_unlock */
        if (!atomic_exchange_explicit(l, 1, memory_order_acquire)) return;
        while (atomic_load_explicit(l, memory_order_relaxed)) {
            if (++spins < 256)
                __builtin_ia32_pause();
            else
                sched_yield();
        }
    }
}

static inline void tmi_spin_unlock(_Atomic int *l)
{
    atomic_store_explicit(l, 0, memory_order_release);
    tmi_preempt_add(-1);
}

/* An intrusive doubly linked FIFO: the shape of every list of parked
 * parties (wait queues, channel queues). The list's owner guards it with
 * its own lock; `queued` lets a party that timed out tell whether a waker
 * already took it off. */
struct tmi_link {
    struct tmi_link *prev, *next; /* guarded by the list owner's lock */
    int queued;                   /* 1 while on a list */
};

#define tmi_container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

static inline void tmi_link_push(struct tmi_link **head, struct tmi_link **tail, struct tmi_link *n)
{
    n->next = NULL;
    n->prev = *tail;
    if (*tail)
        (*tail)->next = n;
    else
        *head = n;
    *tail = n;
    n->queued = 1;
}

/* Take n off the list if it is still on it. */
static inline void tmi_link_remove(struct tmi_link **head, struct tmi_link **tail, struct tmi_link *n)
{
    if (!n->queued) return;
    if (n->prev)
        n->prev->next = n->next;
    else
        *head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        *tail = n->prev;
    n->queued = 0;
}

/* xorshift64*: per kernel thread, seeded from the thread's address and the
 * clock. Good enough for select's poll order and steal victims. */
uint64_t tmi_rand(void);

#endif
