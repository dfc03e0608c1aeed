/* coro.c — the N:1 model: cooperative coroutines on one kernel thread.
 *
 * Design. Every task is a context (scheduler/ctx) on a pooled stack
 * (scheduler/stack). The ready queue is shaped like a Go P's: a `runnext`
 * slot, a FIFO ring of 256 tasks, and an unbounded FIFO overflow list. A
 * task just spawned or readied goes to runnext (a message goes straight
 * to its receiver; the task it displaces goes to the ring). When the ring
 * is full its older half moves to the overflow list, which is consulted
 * when the ring is empty and every 61st pick. This keeps recent work
 * running first: a fork-join tree such as skynet then runs mostly
 * depth-first, with a bounded number of stacks live, where a plain FIFO
 * would run it breadth-first and keep all million tasks live at once.
 * After 32 runnext picks in a row the ring goes first, so a ping-ponging
 * pair cannot starve the others (Go bounds that with the time slice).
 * A task runs until it
 * yields, parks, sleeps or waits for IO, and then switches *directly* to
 * the next ready task — one context switch per yield, no trip through a
 * scheduler context. Only when nothing is ready does control go to the
 * loop on the thread's own stack (the "idle loop"), which fires due timers
 * and blocks in the netpoller until the earliest deadline.
 *
 * A task gets its stack when it first runs, not when it is spawned: a
 * spawned task waiting in the queue costs only its struct (from a free
 * list), so a burst of spawns does not touch a page per task. The stack
 * goes back to the pool from the next context, right after the task's last
 * switch (a task cannot free the stack it is running on); the struct
 * stays until tm_join for joinable tasks. If no stack can be had when a
 * task is due to start, it ends without running: tm_join reports ENOMEM
 * and metrics.start_failures counts it.
 *
 * Task states, each owned by the one kernel thread:
 *   READY    on the ready queue; its ctx holds where to resume.
 *   RUNNING  current; its ctx is stale.
 *   PARKED   in tm_park; reached again only through ready() or its timer.
 *   DONE     fn returned; waits for tm_join (joinable) or is already freed.
 *
 * Waiter states (w->state): 0 nobody parked yet, 1 readied, 2 parked,
 * 3 timed out. ready() on a parked waiter queues the task; on an unparked
 * one it only marks it, and the park that follows returns at once.
 *
 * Timers are checked on every switch while any are pending (one clock read)
 * and IO is polled without blocking every 64 switches while IO waiters
 * exist, so a busy but yielding program still sees its sleepers and
 * sockets. A task that never yields stalls everything: that is the model.
 *
 * Rejected: a scheduler context between every two tasks (two switches per
 * yield, half the speed); heap-allocated task structs (one more cache miss
 * and allocation per spawn, and 1M idle tasks would pay malloc overhead).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx/ctx.h"
#include "model.h"
#include "netpoll.h"
#include "stack.h"
#include "timer.h"
#include "tmi.h"
#include "trace.h"

enum task_state { READY, RUNNING, PARKED, DONE };
enum { RING = 256 };
enum { W_INIT = 0, W_READIED = 1, W_PARKED = 2, W_TIMEDOUT = 3 };

struct tm_task {
    struct tmi_ctx *ctx;          /* where to resume; valid while not RUNNING */
    struct tm_task *next;         /* ready-queue link */
    void (*fn)(void *);           /* entry point */
    void *arg;
    struct tmi_stack *stack;      /* its stack once started; NULL before (and for the idle loop) */
    const uint64_t *canary;       /* the stack's canary if it is carved (no guard page), else NULL */
    struct tm_waiter *joiner;     /* parked in tm_join on this task, or NULL */
    struct tmi_timer timer;       /* park deadline; timer.arg is the waiter */
    uint64_t id;                  /* for overflow reports: 1, 2, ... */
    enum task_state state;
    int detached;
    int failed;                   /* ended without running: no stack (ENOMEM) */
    struct tmi_ctx_san san;       /* sanitizer bookkeeping for this context */
};

/* All scheduler state; touched only by the one kernel thread. */
static struct {
    struct tm_task *runnext;      /* runs first; NULL when empty */
    struct tm_task *ring[RING];   /* ready FIFO: ring[rhead % RING] is the oldest */
    unsigned rhead, rtail;        /* ring indices; rtail - rhead tasks */
    struct tm_task *head, *tail;  /* overflow FIFO, linked through next */
    unsigned nexts;               /* runnext picks in a row */
    unsigned picks;               /* all picks, for the overflow's turn */
    struct tm_task *current;      /* running task */
    struct tm_task idle;          /* the idle loop, on the thread's own stack */
    struct tmi_timers timers;     /* park deadlines */
    struct tm_task *free_tasks;   /* recycled task structs, linked through next */
    long start_failures;          /* tasks that found no stack when due to start */
    uint64_t next_id;
    unsigned tick;                /* switches, for periodic IO polls */
    long live;                    /* tasks not yet DONE */
} S;

static void overflow_push(struct tm_task *t)
{
    t->next = NULL;
    if (S.tail)
        S.tail->next = t;
    else
        S.head = t;
    S.tail = t;
}

static struct tm_task *overflow_pop(void)
{
    struct tm_task *t = S.head;
    if (t && !(S.head = t->next)) S.tail = NULL;
    return t;
}

/* Queue t at the ring's tail; a full ring first sheds its older half. */
static void push(struct tm_task *t)
{
    t->state = READY;
    if (S.rtail - S.rhead == RING)
        for (int i = 0; i < RING / 2; i++) overflow_push(S.ring[S.rhead++ % RING]);
    S.ring[S.rtail++ % RING] = t;
}

static struct tm_task *task_new(void)
{
    struct tm_task *t = S.free_tasks;
    if (t) {
        S.free_tasks = t->next;
        return t;
    }
    return malloc(sizeof *t);
}

static void task_free(struct tm_task *t)
{
    t->next = S.free_tasks;
    S.free_tasks = t;
}

static inline int has_ready(void) { return S.runnext || S.rtail != S.rhead || S.head; }

/* Make t the next to run; a task already there goes to the FIFO's tail. */
static void push_next(struct tm_task *t)
{
    if (S.runnext) push(S.runnext);
    t->state = READY;
    S.runnext = t;
}

static struct tm_task *pop_slow(void)
{
    struct tm_task *t = S.runnext;
    int ring_empty = S.rtail == S.rhead;
    if (t && (++S.nexts < 32 || (ring_empty && !S.head))) {
        S.runnext = NULL;
        return t;
    }
    S.nexts = 0;
    if (S.head && (ring_empty || ++S.picks % 61 == 0)) return overflow_pop();
    if (!ring_empty) return S.ring[S.rhead++ % RING];
    return overflow_pop();
}

/* The next ready task. Inline fast path for the common case in which only
 * the ring has work (yield, and most of every other workload). */
static inline struct tm_task *pop(void)
{
    struct tm_task *t = S.runnext;
    if (t && ++S.nexts < 32) { /* a message's receiver, a new task */
        S.runnext = NULL;
        return t;
    }
    if (!t && !S.head) { /* only the ring has work (yield) */
        S.nexts = 0;
        return S.rtail != S.rhead ? S.ring[S.rhead++ % RING] : NULL;
    }
    if (t) S.nexts--; /* pop_slow counts this pick again */
    return pop_slow();
}

/* Give t its stack and context. -1 when the pool has none. */
static void task_main(struct tmi_transfer t);

static int start(struct tm_task *t)
{
    struct tmi_stack *s = tmi_stack_alloc();
    if (!s) return -1;
    s->owner = t;
    t->stack = s;
    t->canary = s->kind == TMI_STACK_CARVED ? s->canary : NULL;
    t->ctx = tmi_ctx_make(tmi_stack_top(s), s->size, task_main);
    tmi_ctx_san_init(&t->san, s->lo, s->size);
    return 0;
}

/* Start t, which has never run; if no stack can be had, end it and try
 * the next ready task. Returns a started task or NULL. */
static struct tm_task *start_or_next(struct tm_task *t)
{
    for (; t != NULL && !t->stack && start(t) != 0; t = pop()) {
        t->state = DONE;
        t->failed = 1;
        S.live--;
        S.start_failures++;
        if (t->joiner && tm_waiter_claim(t->joiner)) tm_ready(t->joiner);
        if (t->detached) task_free(t);
    }
    return t;
}

/* The next task to run, started. */
static inline struct tm_task *pop_started(void)
{
    struct tm_task *t = pop();
    if (__builtin_expect(t == NULL || t->stack != NULL, 1)) return t;
    return start_or_next(t);
}

/* Fire due timers: a parked waiter times out and its task becomes ready. */
static void fire_timers(int64_t now)
{
    struct tmi_timer *tm;
    while ((tm = tmi_timers_pop_due(&S.timers, now)) != NULL) {
        struct tm_waiter *w = tm->arg;
        if (atomic_load_explicit(&w->state, memory_order_relaxed) == W_PARKED) {
            atomic_store_explicit(&w->state, W_TIMEDOUT, memory_order_relaxed);
            push(w->task);
            TMI_TRACE_READY(w->task->id);
        }
    }
}

/* Work that must not starve while tasks keep switching among themselves:
 * due timers (one clock read per switch while any are pending) and, every
 * 64 switches, a non-blocking poll while tasks wait for IO. Free when
 * neither exists, which is the yield/pingpong fast path. */
static inline void housekeeping(void)
{
    if (__builtin_expect(S.timers.len == 0 && tmi_netpoll_pending() == 0, 1)) return;
    if (S.timers.len) fire_timers(tm_now());
    if ((++S.tick & 63) == 0 && tmi_netpoll_pending()) tmi_netpoll_poll(0);
}

/* Carved stacks have no guard page: their overflow shows as a clobbered
 * canary, checked whenever a task is switched away from. Guarded stacks
 * fault at once, so they skip the check (canary NULL). */
static inline void check_canary(const struct tm_task *t)
{
    if (t->canary && __builtin_expect(*t->canary != TMI_STACK_CANARY, 0))
        tmi_stack_overflowed(t->stack);
}

/* Switch from prev (already queued, parked or running on) to next. */
static inline void switch_to(struct tm_task *prev, struct tm_task *next)
{
    check_canary(prev);
    S.current = next;
    tmi_ctx_san_leave(&prev->san, &next->san, 0);
    TMI_TRACE_SWITCH_RUNQ(prev->id, prev->state == PARKED ? TMI_WHY_PARK : TMI_WHY_YIELD,
                          next->id, S.rtail - S.rhead + (S.runnext != NULL));
    tmi_ctx_jump(next->ctx, NULL, &prev->ctx); /* every coro switch saves its own context */
    tmi_ctx_san_enter(&prev->san);
}

/* Runs on the next context after a task's last switch: hands its stack
 * back if nobody will join it. */
static struct tmi_transfer finish_exit(struct tmi_transfer t)
{
    struct tm_task *dead = t.data;
    tmi_ctx_san_fini(&dead->san);
    tmi_stack_free(dead->stack);
    dead->stack = NULL;
    if (dead->detached) task_free(dead);
    return (struct tmi_transfer){NULL, NULL};
}

/* Leave the current task (already queued, parked or done) for the next
 * ready one, or for the idle loop when none is. */
static void reschedule(void)
{
    housekeeping();
    struct tm_task *prev = S.current, *next = pop_started();
    if (!next) next = &S.idle;
    if (next == prev) {
        prev->state = RUNNING;
        return;
    }
    next->state = RUNNING;
    switch_to(prev, next);
}

/* The last switch of a finished task: its stack goes back to the pool
 * from next's side (finish_exit). */
static _Noreturn void exit_to(struct tm_task *prev, struct tm_task *next)
{
    if (!next) next = &S.idle;
    next->state = RUNNING;
    tmi_stack_check(prev->stack);
    S.current = next;
    tmi_ctx_san_leave(&prev->san, &next->san, 1);
    TMI_TRACE_SWITCH(prev->id, TMI_WHY_EXIT, next->id);
    tmi_ctx_switch_call(next->ctx, prev, finish_exit);
    tmi_panic(__FILE__, __LINE__, "coro: a finished task was resumed");
}

/* Wake a joiner at the very back (the overflow list's tail), not in
 * runnext: a join waits for completion, not for a message. Everything
 * already queued — typically the rest of the joiner's batch, partly in the
 * overflow list — then runs first, and the joiner finds it done instead of
 * bouncing back once per task (spawn+join in 1000-task batches otherwise
 * costs about two extra switches per task). */
static void ready_at_back(struct tm_waiter *w)
{
    int st = atomic_load_explicit(&w->state, memory_order_relaxed);
    atomic_store_explicit(&w->state, W_READIED, memory_order_relaxed);
    if (st == W_PARKED) {
        w->task->state = READY;
        overflow_push(w->task);
        TMI_TRACE_READY(w->task->id);
    }
}

/* Stack hand-over: a task that finishes while the next ready task has
 * never run lends that task its stack and context and calls its function
 * right here, in a loop: no stack to free and allocate, no context to
 * make, no switch. Spawn-heavy work (spawn, skynet, fib) mostly runs this
 * way. Off under ASan and TSan, whose per-context bookkeeping assumes one
 * task per context. */
#if defined(TMI_CTX_ASAN) || defined(TMI_CTX_TSAN)
enum { HAND_OVER = 0 };
#else
enum { HAND_OVER = 1 };
#endif

static void task_main(struct tmi_transfer t)
{
    struct tm_task *self = S.current;
    tmi_ctx_san_enter(&self->san); /* whoever started us saved its own context */
    for (;;) {
        self->fn(self->arg);
        self->state = DONE;
        S.live--;
        if (self->joiner && tm_waiter_claim(self->joiner)) ready_at_back(self->joiner);
        housekeeping();
        struct tm_task *next = pop();
        if (!HAND_OVER || !next || next->stack) exit_to(self, start_or_next(next));
        TMI_TRACE_SWITCH(self->id, TMI_WHY_EXIT, next->id);
        struct tmi_stack *s = self->stack; /* next has never run: give it this stack */
        self->stack = NULL;
        if (self->detached) task_free(self);
        s->owner = next;
        next->stack = s;
        next->canary = self->canary;
        next->state = RUNNING;
        S.current = self = next;
    }
}

static size_t describe(const struct tmi_stack *s, char *buf, size_t len)
{
    const struct tm_task *t = s->owner;
    return tmi_stack_describe_id(buf, len, "task", t ? t->id : 0);
}

static int co_init(struct tm_config *cfg)
{
    if (cfg->procs == 0) cfg->procs = 1;
    if (cfg->procs != 1)
        return tmi_fail(EINVAL, "coro is N:1 (one kernel thread): --procs must be 1, not %d",
                        cfg->procs);
    if (cfg->slice_ns > 0)
        return tmi_fail(EINVAL, "coro is cooperative: it has no preemption slice (--slice-us)");
    if (strcmp(cfg->placement, "none") != 0)
        return tmi_fail(EINVAL, "coro runs on the calling thread: it places nothing (--placement)");
    memset(&S, 0, sizeof S);
    struct tmi_stack_opts opts = {.size = cfg->stack_size, .guard_max = -1, .keep = -1};
    if (tmi_stack_init(&opts) != 0)
        return tmi_fail(errno, "coro: bad stack size %zu KiB", cfg->stack_size / 1024);
    tmi_stack_set_overflow_hook("coro", describe);
    if (tmi_stack_thread_init() != 0 || tmi_netpoll_init() != 0) {
        tmi_stack_fini();
        return tmi_fail(errno, "coro: start-up failed: %s", strerror(errno));
    }
    tmi_timers_init(&S.timers);
    return 0;
}

static void co_fini(void)
{
    tmi_timers_term(&S.timers);
    tmi_netpoll_term();
    tmi_stack_thread_fini();
    tmi_stack_fini();
}

static struct tm_task *co_spawn(void (*fn)(void *), void *arg, int detached)
{
    struct tm_task *t = task_new();
    if (!t) return NULL;
    /* only what a queued task needs; start() and park fill in the rest */
    t->fn = fn;
    t->arg = arg;
    t->detached = detached;
    t->id = ++S.next_id;
    t->stack = NULL; /* not started */
    t->joiner = NULL;
    t->failed = 0;
    t->timer.slot = -1;
    S.live++;
    TMI_TRACE_SPAWN(t->id);
    push_next(t);
    return t;
}

static int co_join(struct tm_task *t)
{
    if (t->detached) return tmi_fail(EINVAL, "tm_join: task is detached");
    if (t->state != DONE) {
        struct tm_waiter w;
        tm_waiter_init(&w);
        t->joiner = &w;
        tm_park(&w, -1);
    }
    int failed = t->failed;
    unsigned long long id = t->id;
    task_free(t);
    if (failed) return tmi_fail(ENOMEM, "coro: no stack for task %llu", id);
    return 0;
}

/* tm_yield. The fast path is the common case — only the ring has work,
 * no timers, IO waiters or tracing, and the ring's head has run before:
 * take the head, put ourselves at the tail, switch. Everything else goes
 * the general way. (The ring cannot overflow here: one task leaves it for
 * each that enters.) */
static __attribute__((noinline)) void co_yield_slow(void)
{
    housekeeping();
    struct tm_task *self = S.current, *next = pop_started();
    if (!next) return; /* alone: nothing to switch to */
    push(self);
    next->state = RUNNING;
    switch_to(self, next);
}

static void co_yield(void)
{
    struct tm_task *self = S.current, *next;
    unsigned h = S.rhead, t = S.rtail;
    if (__builtin_expect(S.runnext || S.head || h == t || S.timers.len || tmi_netpoll_pending() ||
                             TMI_TRACE_ENABLED(),
                         0) ||
        !(next = S.ring[h % RING])->stack) {
        co_yield_slow(); /* out of line: the fast path then needs no saved registers */
        return;
    }
    S.rhead = h + 1;
    S.ring[t % RING] = self; /* the slot just read, when the ring was full */
    S.rtail = t + 1;
    self->state = READY;
    next->state = RUNNING;
    check_canary(self);
    S.current = next;
#if defined(TMI_CTX_ASAN) || defined(TMI_CTX_TSAN)
    tmi_ctx_san_leave(&self->san, &next->san, 0);
    tmi_ctx_jump(next->ctx, NULL, &self->ctx);
    tmi_ctx_san_enter(&self->san);
#else
    /* A tail call: resumed, we return straight to tm_yield's caller and
     * the return-stack predictor stays right (see ctx.h, tmi_ctx_jump). */
    tmi_ctx_jump(next->ctx, NULL, &self->ctx);
#endif
}

static struct tm_task *co_self(void) { return S.current; }

static int co_park(struct tm_waiter *w, int64_t deadline)
{
    struct tm_task *self = S.current;
    int st = atomic_load_explicit(&w->state, memory_order_relaxed);
    if (st == W_READIED) return 0;
    if (deadline == 0 || (deadline > 0 && deadline <= tm_now())) return ETIMEDOUT;
    atomic_store_explicit(&w->state, W_PARKED, memory_order_relaxed);
    if (deadline > 0) {
        self->timer.when = deadline;
        self->timer.arg = w;
        if (tmi_timers_add(&S.timers, &self->timer) != 0) {
            atomic_store_explicit(&w->state, W_INIT, memory_order_relaxed);
            return ETIMEDOUT; /* out of memory for the heap: degrade to a try */
        }
    }
    self->state = PARKED;
    reschedule();
    if (self->timer.slot >= 0) tmi_timers_del(&S.timers, &self->timer);
    return atomic_load_explicit(&w->state, memory_order_relaxed) == W_READIED ? 0 : ETIMEDOUT;
}

static void co_ready(struct tm_waiter *w)
{
    int st = atomic_load_explicit(&w->state, memory_order_relaxed);
    atomic_store_explicit(&w->state, W_READIED, memory_order_relaxed);
    if (st == W_PARKED) push_next(w->task);
    if (st == W_PARKED) TMI_TRACE_READY(w->task->id);
    /* W_TIMEDOUT: the timer already queued the task */
}

/* The idle loop: runs on the thread's own stack whenever no task is ready. */
static int co_run(void (*main)(void *), void *arg)
{
    S.idle.state = RUNNING;
    S.current = &S.idle;
    TMI_TRACE_NAME("coro worker");
    tmi_ctx_san_init_thread(&S.idle.san);
    struct tm_task *m = co_spawn(main, arg, 0);
    if (!m) return tmi_fail(errno, "coro: no stack for the main task");
    int rc = 0;
    while (m->state != DONE) {
        if (has_ready()) {
            S.idle.state = PARKED; /* anything but READY: not queued */
            reschedule();          /* back here when nothing is ready */
            continue;
        }
        int64_t next = tmi_timers_next(&S.timers);
        if (next < 0 && !tmi_netpoll_pending()) {
            rc = tmi_fail(EDEADLK, "coro: deadlock: %ld tasks parked with no timer or IO to "
                                   "wake them", S.live);
            break;
        }
        tmi_stack_trim(); /* about to sleep: give deep pages of free stacks back */
        tmi_netpoll_poll(next);
        fire_timers(tm_now());
    }
    if (rc == 0) task_free(m);
    while (S.free_tasks) {
        struct tm_task *t = S.free_tasks;
        S.free_tasks = t->next;
        free(t);
    }
    tmi_ctx_san_fini(&S.idle.san);
    S.current = NULL;
    return rc;
}

static int co_wait_fd(int fd, int events, int64_t deadline)
{
    return tmi_netpoll_wait_fd(fd, events, deadline);
}

static void co_metrics(void (*add)(void *, const char *, double), void *ctx)
{
    add(ctx, "start_failures", (double)S.start_failures);
}

const struct tm_model_ops tm_model_coro = {
    .name = "coro",
    .summary = "N:1 cooperative coroutines on one kernel thread (--procs must be 1); "
               "switches only at yield/park/IO; a blocking read() stalls every task",
    .caps = TM_CAP_MANY_TASKS,
    .init = co_init,
    .fini = co_fini,
    .run = co_run,
    .spawn = co_spawn,
    .join = co_join,
    .yield = co_yield,
    .self = co_self,
    .park = co_park,
    .ready = co_ready,
    .wait_fd = co_wait_fd,
    .metrics = co_metrics,
};
