/* sched.c — the preemptive M:N model: N worker threads run many tasks.
 *
 * Design. `--procs N` starts N worker threads, each bound by the placement
 * plan (scheduler/place.c) and each owning a run queue shaped like a Go
 * P's (scheduler/runq.c): a `next` slot, a 256-slot ring, and the shared
 * global queue behind them. A task runs until it yields, parks, exits or
 * its worker's timer signal preempts it (scheduler/preempt.c, tick.c), and
 * then switches *directly* to the next task of the same worker (one switch,
 * no trip through a scheduler context). Only a worker with nothing queued
 * goes to its scheduler context, on the thread's own stack (idle.c), which
 * fires timers, steals by topology distance, polls the network and sleeps.
 *
 * Every switch is a switch-with-call: after_switch runs on the *next*
 * context's stack and only then publishes the task it left — re-queues it,
 * marks it parked, or frees its stack. So no task is ever visible to
 * another worker while any thread still runs on its stack (ctx.h).
 *
 * Invariants.
 *  - The switch invariant (preempt.h): at every switch on a worker,
 *    tmi_preempt_depth() == 1. Every op raises it on entry (op_enter) and
 *    lowers it on exit; a new task lowers it first thing; the scheduler
 *    context keeps it at 1. A task switching with a spin lock held hits
 *    an assertion.
 *  - Thread-locals (mn_self_worker, tmi_preempt_off, errno) are re-read
 *    after every switch: the task may resume on another worker. errno is
 *    carried across switches, so it belongs to the task, not the worker.
 *  - Task states and waiter states: see mn.h, one paragraph each. Who owns
 *    a task is always decided by one atomic: a run queue's slots, the
 *    waiter's state word (W_INIT/W_PARKED/W_READIED/W_TIMEDOUT) or the
 *    join word.
 *  - The preempt flag a tick leaves on a task that could not be switched
 *    safely is honoured at the next op exit (op_exit).
 *
 * Timers: one heap for all workers under one spin lock, with its earliest
 * deadline mirrored in an atomic (mn.tnext) that switches and ticks read
 * without the lock. Whoever reaches a scheduling point or a tick after a
 * deadline fires it — any worker — so a sleeper is never stranded behind
 * a busy worker; an idle worker blocks in the netpoller exactly until the
 * earliest deadline. Rejected: per-worker heaps (Go 1.14): cheaper to add
 * to, but a busy worker's due timers then need other workers to steal or
 * run them and a cross-worker wake-up to be exact. With a handful of
 * workers the lock is uncontended, and it is taken only to add, cancel or
 * fire a deadline — never on the plain yield/park path.
 *
 * Blocking regions (tm_blocking_*) just block the worker: its timer is
 * stopped (no EINTR storms, no preemption), idle workers are woken to
 * steal what is queued behind it. There is no hand-off; that is the
 * goroutine model's job, and the contrast is part of what the suite shows.
 *
 * Rejected: a scheduler context between every two tasks (two switches per
 * yield); re-queueing a task before its switch completes (another worker
 * could resume it while we still run on its stack); one global run queue
 * (every spawn and wake-up would bounce one lock between the cores).
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mn.h"
#include "model.h"
#include "netpoll.h"
#include "trace.h"

struct mn mn;
_Thread_local struct worker *mn_self_worker;

enum { TASK_BATCH = 256, TASK_POOL_MAX = 1 << 16 };

/* ---- op entry and exit -------------------------------------------------- */

static inline struct worker *op_enter(void)
{
    tmi_preempt_disable();
    return mn_me();
}

/* Leave an op; at depth 1 on a worker, honour a pending preempt flag. */
static void op_exit(void)
{
    if (tmi_preempt_depth() == 1) {
        struct worker *w = mn_me();
        struct tm_task *cur = w ? atomic_load_explicit(&w->cur, RLX) : NULL;
        if (cur && cur != &w->idle && !w->blocking &&
            atomic_load_explicit(&cur->preempt_req, RLX)) {
            stat_add(&w->st.preempt_coop, 1);
            mn_switch_away(w, cur, L_PREEMPT);
        }
    }
    tmi_preempt_enable();
}

/* ---- task structs ------------------------------------------------------- */

/* Each worker recycles structs through its own free list. A task is often
 * spawned on one worker and joined (freed) on another, so lists drift:
 * beyond 2 * TASK_BATCH a worker spills TASK_BATCH to the shared pool, and
 * an empty list refills from it, a batch per lock. Rejected: malloc/free
 * per task — glibc then frees a struct into the arena of the worker that
 * allocated it, and the two workers fight over that arena's lock (seen as
 * futex calls on skynet -p 2). */
static struct tm_task *task_new(struct worker *w)
{
    if (w && !w->free_tasks && atomic_load_explicit(&mn.tpool_n, RLX)) {
        tmi_spin_lock(&mn.tpool_lock);
        int k = 0;
        for (; k < TASK_BATCH && mn.tpool; k++) {
            struct tm_task *t = mn.tpool;
            mn.tpool = (struct tm_task *)t->rn.next;
            t->rn.next = (struct tmi_rnode *)w->free_tasks;
            w->free_tasks = t;
        }
        atomic_store_explicit(&mn.tpool_n, atomic_load_explicit(&mn.tpool_n, RLX) - k, RLX);
        tmi_spin_unlock(&mn.tpool_lock);
        w->nfree += k;
    }
    struct tm_task *t = w ? w->free_tasks : NULL;
    if (t) {
        w->free_tasks = (struct tm_task *)t->rn.next;
        w->nfree--;
        return t;
    }
    return malloc(sizeof *t);
}

static void task_free(struct worker *w, struct tm_task *t)
{
    if (!w) {
        free(t);
        return;
    }
    t->rn.next = (struct tmi_rnode *)w->free_tasks;
    w->free_tasks = t;
    if (++w->nfree <= 2 * TASK_BATCH) return;
    struct tm_task *first = w->free_tasks, *last = first;
    for (int k = 1; k < TASK_BATCH; k++)
        last = (struct tm_task *)last->rn.next;
    w->free_tasks = (struct tm_task *)last->rn.next;
    w->nfree -= TASK_BATCH;
    tmi_spin_lock(&mn.tpool_lock);
    long have = atomic_load_explicit(&mn.tpool_n, RLX);
    int keep = have < TASK_POOL_MAX;
    if (keep) {
        last->rn.next = (struct tmi_rnode *)mn.tpool;
        mn.tpool = first;
        atomic_store_explicit(&mn.tpool_n, have + TASK_BATCH, RLX);
    }
    tmi_spin_unlock(&mn.tpool_lock);
    if (keep) return;
    last->rn.next = NULL;
    while (first) { /* the pool is full: give memory back */
        struct tm_task *n = (struct tm_task *)first->rn.next;
        free(first);
        first = n;
    }
}

void mn_task_init(struct tm_task *t, void (*fn)(void *), void *arg, int detached, uint64_t id)
{
    memset(t, 0, sizeof *t);
    t->fn = fn;
    t->arg = arg;
    t->detached = detached;
    t->id = id;
    t->timer.slot = -1;
    t->state = T_RUNNABLE;
    atomic_init(&t->join, JOIN_NONE);
    atomic_init(&t->preempt_req, 0);
}

/* ---- the end of a task, and waking its joiner --------------------------- */

/* ready() without the op wrapper: w may be NULL (not a worker). */
static void ready_w(struct worker *w, struct tm_waiter *wt)
{
    struct tm_task *t = wt->task; /* read first: once READIED the parker may return */
    /* acq_rel: release publishes the readier's results (a channel value)
     * to the parker's acquire load; acquire pairs with after_switch's
     * release CAS to W_PARKED, so t->ctx is visible before we queue t */
    int old = atomic_exchange_explicit(&wt->state, W_READIED, ACQ_REL);
    if (old == W_PARKED) {
        TMI_TRACE_READY(t->id);
        mn_make_runnable(w, t, 1);
    }
    /* W_INIT: the parker sees READIED and does not sleep; W_TIMEDOUT: the
     * timer already queued it */
}

/* t has run its last instruction on its stack (or never got one). Hand
 * it to its joiner, free it if detached, or end the run if it is main. */
static void task_done(struct worker *w, struct tm_task *t)
{
    if (w) stat_add(&w->st.exited, 1);
    mn_set_state(t, T_DONE);
    if (t->is_main) {
        /* release: tm_run reads t->failed after seeing RUN_DONE */
        atomic_store_explicit(&mn.run_state, RUN_DONE, REL);
        mn_futex(&mn.run_state, FUTEX_WAKE, 1);
        return;
    }
    if (t->detached) {
        task_free(w, t);
        return;
    }
    /* acq_rel: release hands t (failed, id) to the joiner; acquire pairs
     * with the joiner's CAS that stored its waiter. t may be freed by the
     * joiner from here on. */
    uintptr_t j = atomic_exchange_explicit(&t->join, JOIN_DONE, ACQ_REL);
    if (j != JOIN_NONE) {
        struct tm_waiter *wt = (struct tm_waiter *)j;
        if (tm_waiter_claim(wt)) ready_w(w, wt);
    }
}

/* ---- the switch --------------------------------------------------------- */

/* Runs on the next context's stack right after a switch, before that
 * context resumes: publish the context we left, now that it is off its
 * stack. Keep it short (ctx_san.h). */
static struct tmi_transfer after_switch(struct tmi_transfer tr)
{
    struct tm_task *prev = tr.data;
    struct worker *w = mn_me(); /* the same thread as before the switch */
    prev->ctx = tr.ctx;
    switch (prev->leave) {
    case L_IDLE:
        break;
    case L_YIELD:
    case L_PREEMPT:
        mn_set_state(prev, T_RUNNABLE);
        /* release (inside put): prev->ctx reaches whoever takes prev */
        tmi_runq_put(&w->rq, &prev->rn, &mn.gq);
        if (mn.n > 1 && atomic_load_explicit(&mn.nidle, RLX) > 0) mn_wakep();
        break;
    case L_PARK: {
        struct tm_waiter *wt = prev->park_w;
        int st = W_INIT;
        stat_add(&w->st.parks, 1);
        mn_set_state(prev, T_PARKED);
        /* release: prev->ctx and all the task wrote before parking reach
         * the readier (its acquire exchange) or the timer. After success
         * prev belongs to the waiter: do not touch it. */
        if (!atomic_compare_exchange_strong_explicit(&wt->state, &st, W_PARKED, ACQ_REL, ACQ))
            mn_make_runnable(w, prev, 1); /* readied or timed out while switching */
        break;
    }
    case L_EXIT:
        tmi_ctx_san_fini(&prev->san);
        tmi_stack_free(prev->stack);
        prev->stack = NULL;
        prev->ctx = NULL;
        task_done(w, prev);
        break;
    }
    return (struct tmi_transfer){NULL, NULL};
}

/* Switch from self (the running task or the scheduler context; its
 * `leave` already set) to next, a started task or the scheduler context.
 * Returns when something switches back to self, perhaps on another
 * worker. Caller: a worker, with tmi_preempt_depth() == 1. */
void mn_run_task(struct worker *w, struct tm_task *self, struct tm_task *next)
{
    tm_assert(tmi_preempt_depth() == 1, "mn: switching with preemption disabled twice "
                                        "(a spin lock held across a park?)");
    if (self->stack) tmi_stack_check(self->stack);
    atomic_store_explicit(&w->cur, next, RLX);
    if (next != &w->idle) {
        mn_set_state(next, T_RUNNING);
        if (!w->inherit || self == &w->idle) /* a new slice (see mn_pick_local) */
            atomic_store_explicit(&w->schedtick, atomic_load_explicit(&w->schedtick, RLX) + 1, RLX);
        tmi_preempt_arm(&w->pt); /* a no-op unless the worker was idle */
    }
    w->inherit = 0;
    static const unsigned char why[] = {[L_IDLE] = TMI_WHY_YIELD,
                                        [L_YIELD] = TMI_WHY_YIELD,
                                        [L_PREEMPT] = TMI_WHY_PREEMPT,
                                        [L_PARK] = TMI_WHY_PARK,
                                        [L_EXIT] = TMI_WHY_EXIT};
    TMI_TRACE_SWITCH_RUNQ(self->id, why[self->leave], next->id, tmi_runq_len(&w->rq));
    int e = tmi_errno_get();
    tmi_ctx_san_leave(&self->san, &next->san, self->leave == L_EXIT);
    tmi_ctx_switch_call(next->ctx, self, after_switch);
    tmi_ctx_san_enter(&self->san);
    tmi_errno_set(e); /* on the worker we resumed on */
}

/* Leave the running task for the next one queued on this worker, or for
 * the scheduler context when none is. A yield or preemption with nothing
 * else queued here returns at once. */
void mn_switch_away(struct worker *w, struct tm_task *self, enum leave why)
{
    tm_assert(!w->blocking, "mn: a task switched inside a blocking region");
    atomic_store_explicit(&self->preempt_req, 0, RLX);
    struct tm_task *next = mn_pick_local(w, why == L_PREEMPT);
    if (!next) {
        if (why == L_YIELD || why == L_PREEMPT) return;
        next = &w->idle;
    }
    self->leave = why;
    mn_run_task(w, self, next);
}

/* ---- picking and starting ----------------------------------------------- */

static void task_main(struct tmi_transfer tr)
{
    struct tm_task *self = atomic_load_explicit(&mn_me()->cur, RLX);
    tmi_ctx_san_enter(&self->san);
    (void)tr; /* after_switch already dealt with the context we came from */
    self->base_fp = __builtin_frame_address(0);
    tmi_preempt_enable(); /* 1 -> 0: the switch invariant */
    self->fn(self->arg);
    tmi_preempt_disable();
    mn_switch_away(mn_me(), self, L_EXIT);
    tm_assert(0, "mn: a finished task was resumed");
}

/* Give t a stack and a context. On failure t ends without running. */
static int start(struct worker *w, struct tm_task *t)
{
    struct tmi_stack *s = tmi_stack_alloc();
    if (!s) {
        stat_add(&w->st.start_failures, 1);
        t->failed = 1;
        task_done(w, t);
        return -1;
    }
    s->owner = t;
    t->stack = s;
    t->ctx = tmi_ctx_make(tmi_stack_top(s), s->size, task_main);
    tmi_ctx_san_init(&t->san, s->lo, s->size);
    if (t->is_main) atomic_store_explicit(&mn.run_state, RUN_GOING, SEQ);
    return 0;
}

int mn_start(struct worker *w, struct tm_task *t)
{
    return t->ctx ? 0 : start(w, t);
}

/* Up to `max` tasks from the global queue, the rest onto our ring. */
static struct tm_task *gq_take(struct worker *w, long max)
{
    long fair = tmi_gq_len(&mn.gq) / mn.n + 1;
    if (max > fair) max = fair;
    if (max > TMI_RUNQ_LEN / 2) max = TMI_RUNQ_LEN / 2;
    struct tmi_rnode *n = tmi_gq_get(&mn.gq, &w->rq, max);
    if (!n) return NULL;
    stat_add(&w->st.global_gets, 1);
    return task_of(n);
}

struct tm_task *mn_gq_take(struct worker *w)
{
    return gq_take(w, TMI_RUNQ_LEN / 2);
}

/* The next task of this worker, started: due timers and (now and then)
 * the network first, then `next`, the ring, the global queue (first on
 * every 61st pick, so that it cannot starve). A task taken from `next`
 * inherits the running slice, as in Go: a chain of hand-offs through
 * `next` (a ping-ponging pair, a depth-first fork-join tree) counts as one
 * task for the tick, which preempts it after a slice; a preempting pick
 * (ring_first) then demotes `next` to the ring's tail, so the ring runs
 * first and `next` waits its turn instead of starving — but a sleeper the
 * same pick finds due still goes first. */
struct tm_task *mn_pick_local(struct worker *w, int ring_first)
{
    if (ring_first)
        tmi_runq_demote_next(&w->rq, &mn.gq); /* before timers: a sleeper
                                                  readied now runs first */
    mn_fire_timers(w);
    if ((++w->picks & 63) == 0 && tmi_netpoll_pending() && !atomic_load_explicit(&mn.polling, RLX))
        tmi_netpoll_poll(0);
    for (;;) {
        struct tm_task *t = NULL;
        int from_next = 0;
        if (w->picks % 61 == 0 && tmi_gq_len(&mn.gq)) t = gq_take(w, 1);
        if (!t) {
            struct tmi_rnode *n = tmi_runq_get(&w->rq, 0, &from_next);
            if (n) t = task_of(n);
        }
        if (!t && tmi_gq_len(&mn.gq)) t = gq_take(w, TMI_RUNQ_LEN / 2);
        if (!t) return NULL;
        w->inherit = from_next;
        if (mn_start(w, t) == 0) return t;
    }
}

/* Queue t on w (its `next` slot, or the ring's tail) or, off the
 * workers, on the global queue; wake an idle worker if w now has more
 * than it can run at once. */
void mn_make_runnable(struct worker *w, struct tm_task *t, int next)
{
    if (t->state != T_RUNNABLE) mn_set_state(t, T_RUNNABLE); /* new tasks already are */
    if (!w) {
        tmi_gq_put(&mn.gq, &t->rn);
        mn_wakep();
        return;
    }
    int more = 1;
    if (next)
        more = tmi_runq_put_next(&w->rq, &t->rn, &mn.gq) || tmi_runq_ring_len(&w->rq) > 0;
    else
        tmi_runq_put(&w->rq, &t->rn, &mn.gq);
    if (mn.n > 1 && more) mn_wakep();
}

/* ---- the ops ------------------------------------------------------------ */

struct tm_task *mn_spawn(void (*fn)(void *), void *arg, int detached)
{
    struct worker *w = op_enter();
    struct tm_task *t = task_new(w);
    if (!t) {
        op_exit();
        errno = ENOMEM;
        return NULL;
    }
    uint64_t id = 1; /* ids: 1 the main task (and spawns from outside), then 2, 3, ... */
    if (w) {
        uint64_t k = atomic_load_explicit(&w->st.spawned, RLX);
        stat_add(&w->st.spawned, 1);
        id = k * (uint64_t)mn.n + (uint64_t)w->id + 2; /* unique without a shared counter */
    }
    mn_task_init(t, fn, arg, detached, id);
    TMI_TRACE_SPAWN(id);
    mn_make_runnable(w, t, 1);
    if (w && mn.n > 1) mn_wakep(); /* spawned work is usually parallel work */
    op_exit();
    return t; /* a detached t may already be gone: the caller only tests it */
}

/* park() without the op wrapper: the caller holds tmi_preempt_off at 1. */
static int park_w(struct tm_waiter *wt, int64_t deadline)
{
    struct worker *w = mn_me();
    struct tm_task *self = w ? atomic_load_explicit(&w->cur, RLX) : NULL;
    tm_assert(self && self != &w->idle, "mn: tm_park outside a task");
    /* acquire: pairs with ready's release (the readier's results) */
    int st = atomic_load_explicit(&wt->state, ACQ);
    if (st == W_TIMEDOUT) {
        /* A second park after tm_park lost the claim at its deadline: the
         * readier's ready is on its way. Wait for it like a fresh park. */
        if (atomic_compare_exchange_strong_explicit(&wt->state, &st, W_INIT, ACQ_REL, ACQ))
            st = W_INIT;
    }
    if (st == W_READIED) return 0;
    if (deadline == 0 || (deadline > 0 && deadline <= tm_now())) return ETIMEDOUT;
    if (deadline > 0 && mn_timer_add(self, wt, deadline) != 0)
        return ETIMEDOUT; /* no memory for the heap: degrade to a try */
    self->park_w = wt;
    mn_switch_away(w, self, L_PARK);
    if (deadline > 0) mn_timer_del(self);
    st = atomic_load_explicit(&wt->state, ACQ);
    return st == W_READIED ? 0 : ETIMEDOUT;
}

int mn_park(struct tm_waiter *wt, int64_t deadline)
{
    op_enter();
    int r = park_w(wt, deadline);
    op_exit();
    return r;
}

void mn_ready(struct tm_waiter *wt)
{
    struct worker *w = op_enter();
    ready_w(w, wt);
    op_exit();
}

int mn_join(struct tm_task *t)
{
    if (t->detached) return tmi_fail(EINVAL, "tm_join: task is detached");
    struct worker *w = op_enter();
    tm_assert(w, "mn: tm_join outside a task");
    /* acquire: pairs with task_done's exchange */
    uintptr_t j = atomic_load_explicit(&t->join, ACQ);
    if (j == JOIN_NONE) {
        struct tm_waiter wt = {.task = atomic_load_explicit(&w->cur, RLX)};
        atomic_init(&wt.claimed, 0);
        atomic_init(&wt.state, W_INIT);
        /* acq_rel: release publishes wt to the finisher; acquire on
         * failure pairs with its exchange to JOIN_DONE */
        if (atomic_compare_exchange_strong_explicit(&t->join, &j, (uintptr_t)&wt, ACQ_REL, ACQ)) {
            int r = park_w(&wt, -1);
            tm_assert(r == 0, "mn: a join without deadline timed out");
            j = atomic_load_explicit(&t->join, ACQ);
        }
    }
    tm_assert(j == JOIN_DONE, "mn: joined a task that is not done");
    int failed = t->failed;
    unsigned long long id = t->id;
    task_free(mn_me(), t); /* re-read: the park may have moved us */
    op_exit();
    if (failed) return tmi_fail(ENOMEM, "mn: no stack for task %llu", id);
    return 0;
}

void mn_yield(void)
{
    struct worker *w = op_enter();
    struct tm_task *self = w ? atomic_load_explicit(&w->cur, RLX) : NULL;
    if (self && self != &w->idle)
        mn_switch_away(w, self, L_YIELD);
    else
        sched_yield();    /* not a task: a plain thread */
    tmi_preempt_enable(); /* the yield was the preemption point */
}

struct tm_task *mn_self(void)
{
    struct worker *w = op_enter();
    struct tm_task *t = w ? atomic_load_explicit(&w->cur, RLX) : NULL;
    if (w && t == &w->idle) t = NULL;
    op_exit();
    return t;
}

int mn_wait_fd(int fd, int events, int64_t deadline)
{
    return tmi_netpoll_wait_fd(fd, events, deadline);
}

void mn_blocking_enter(void)
{
    struct worker *w = op_enter();
    if (w && atomic_load_explicit(&w->cur, RLX) != &w->idle) {
        w->blocking = 1;
        w->wstate = WK_BLOCKED;
        tmi_preempt_disarm(&w->pt);
        /* the tasks queued behind us would wait for the whole call */
        if (mn.n > 1 && !tmi_runq_empty(&w->rq)) mn_wakep();
    }
    tmi_preempt_enable(); /* no flag check: a switch here would strand `blocking` */
}

void mn_blocking_exit(void)
{
    struct worker *w = op_enter();
    if (w && w->blocking) {
        w->blocking = 0;
        w->wstate = WK_RUNNING;
        tmi_preempt_arm(&w->pt);
    }
    op_exit();
}
