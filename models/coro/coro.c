/* coro.c — the N:1 model: cooperative coroutines on one kernel thread.
 *
 * Design. Every task is a context (scheduler/ctx) on a pooled stack
 * (scheduler/stack). The ready queue is a FIFO; a task runs until it
 * yields, parks, sleeps or waits for IO, and then switches *directly* to
 * the next ready task — one context switch per yield, no trip through a
 * scheduler context. Only when nothing is ready does control go to the
 * loop on the thread's own stack (the "idle loop"), which fires due timers
 * and blocks in the netpoller until the earliest deadline.
 *
 * The task struct lives on the task's own stack, just below the stack
 * descriptor, so a task costs one stack and no other allocation; a
 * joinable task's stack is kept until tm_join, a detached one's goes back
 * to the pool from the next context, right after the last switch (a task
 * cannot free the stack it is running on).
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
#include <string.h>

#include "ctx/ctx.h"
#include "model.h"
#include "netpoll.h"
#include "stack.h"
#include "timer.h"
#include "tmi.h"

enum task_state { READY, RUNNING, PARKED, DONE };
enum { W_INIT = 0, W_READIED = 1, W_PARKED = 2, W_TIMEDOUT = 3 };

struct tm_task {
    struct tmi_ctx *ctx;          /* where to resume; valid while not RUNNING */
    struct tm_task *next;         /* ready-queue link */
    void (*fn)(void *);           /* entry point */
    void *arg;
    struct tmi_stack *stack;      /* the stack this struct lives on (NULL: the idle loop) */
    struct tm_waiter *joiner;     /* parked in tm_join on this task, or NULL */
    struct tmi_timer timer;       /* park deadline; timer.arg is the waiter */
    uint64_t id;                  /* for overflow reports: 1, 2, ... */
    enum task_state state;
    int detached;
    struct tmi_ctx_san san;       /* sanitizer bookkeeping for this context */
};

/* All scheduler state; touched only by the one kernel thread. */
static struct {
    struct tm_task *head, *tail;  /* ready FIFO */
    struct tm_task *current;      /* running task */
    struct tm_task idle;          /* the idle loop, on the thread's own stack */
    struct tmi_timers timers;     /* park deadlines */
    uint64_t next_id;
    unsigned tick;                /* switches, for periodic IO polls */
    long live;                    /* tasks not yet DONE */
} S;

static void push(struct tm_task *t)
{
    t->state = READY;
    t->next = NULL;
    if (S.tail)
        S.tail->next = t;
    else
        S.head = t;
    S.tail = t;
}

static struct tm_task *pop(void)
{
    struct tm_task *t = S.head;
    if (t && !(S.head = t->next)) S.tail = NULL;
    return t;
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
        }
    }
}

/* Work that must not starve while tasks keep switching among themselves. */
static inline void housekeeping(void)
{
    if (S.timers.len) fire_timers(tm_now());
    if ((++S.tick & 63) == 0 && tmi_netpoll_pending()) tmi_netpoll_poll(0);
}

/* Runs on the next context after a task's last switch: hands its stack
 * back if nobody will join it. */
static struct tmi_transfer finish_exit(struct tmi_transfer t)
{
    struct tm_task *dead = t.data;
    tmi_ctx_san_fini(&dead->san);
    if (dead->detached) tmi_stack_free(dead->stack);
    return (struct tmi_transfer){NULL, NULL};
}

/* Leave the current task (already queued, parked or done) for the next
 * ready one, or for the idle loop when none is. */
static void reschedule(void)
{
    housekeeping();
    struct tm_task *prev = S.current, *next = pop();
    if (!next) next = &S.idle;
    if (next == prev) {
        prev->state = RUNNING;
        return;
    }
    if (prev->stack) tmi_stack_check(prev->stack);
    next->state = RUNNING;
    S.current = next;
    int done = prev->state == DONE;
    tmi_ctx_san_leave(&prev->san, &next->san, done);
    struct tmi_transfer t;
    if (done) {
        t = tmi_ctx_switch_call(next->ctx, prev, finish_exit);
        tm_assert(0, "coro: a finished task was resumed");
    }
    t = tmi_ctx_switch(next->ctx, prev);
    tmi_ctx_san_enter(&prev->san);
    /* we are prev again; record where the task we came from stopped */
    if (t.data) ((struct tm_task *)t.data)->ctx = t.ctx;
}

static void task_main(struct tmi_transfer t)
{
    struct tm_task *self = S.current;
    tmi_ctx_san_enter(&self->san);
    if (t.data) ((struct tm_task *)t.data)->ctx = t.ctx;
    self->fn(self->arg);
    self->state = DONE;
    S.live--;
    if (self->joiner && tm_waiter_claim(self->joiner)) tm_ready(self->joiner);
    reschedule();
}

static size_t describe(const struct tmi_stack *s, char *buf, size_t len)
{
    const struct tm_task *t = s->owner;
    char tmp[24];
    int n = 0;
    uint64_t id = t ? t->id : 0;
    do tmp[n++] = (char)('0' + id % 10);
    while ((id /= 10) && n < 20);
    size_t o = 0;
    const char *p = "task ";
    while (*p && o < len) buf[o++] = *p++;
    while (n > 0 && o < len) buf[o++] = tmp[--n];
    return o;
}

static int co_init(struct tm_config *cfg)
{
    if (cfg->procs == 0) cfg->procs = 1;
    if (cfg->procs != 1)
        return tmi_fail(EINVAL, "coro is N:1 (one kernel thread): --procs must be 1, not %d",
                        cfg->procs);
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
    struct tmi_stack *s = tmi_stack_alloc();
    if (!s) return NULL;
    /* the task struct sits just below the descriptor; the context below it */
    struct tm_task *t =
        (struct tm_task *)(((uintptr_t)tmi_stack_top(s) - sizeof *t) & ~(uintptr_t)63);
    *t = (struct tm_task){.fn = fn, .arg = arg, .stack = s, .detached = detached,
                          .id = ++S.next_id, .timer = {.slot = -1}};
    s->owner = t;
    size_t avail = (size_t)((char *)t - s->lo);
    t->ctx = tmi_ctx_make(t, avail, task_main);
    tmi_ctx_san_init(&t->san, s->lo, avail);
    S.live++;
    push(t);
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
    tmi_stack_free(t->stack);
    return 0;
}

static void co_yield(void)
{
    if (!S.head && !S.timers.len) {
        housekeeping();
        if (!S.head) return; /* alone: nothing to switch to */
    }
    push(S.current);
    reschedule();
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
    tmi_timers_del(&S.timers, &self->timer);
    return atomic_load_explicit(&w->state, memory_order_relaxed) == W_READIED ? 0 : ETIMEDOUT;
}

static void co_ready(struct tm_waiter *w)
{
    int st = atomic_load_explicit(&w->state, memory_order_relaxed);
    atomic_store_explicit(&w->state, W_READIED, memory_order_relaxed);
    if (st == W_PARKED) push(w->task);
    /* W_TIMEDOUT: the timer already queued the task */
}

/* The idle loop: runs on the thread's own stack whenever no task is ready. */
static int co_run(void (*main)(void *), void *arg)
{
    S.idle.state = RUNNING;
    S.current = &S.idle;
    tmi_ctx_san_init_thread(&S.idle.san);
    struct tm_task *m = co_spawn(main, arg, 0);
    if (!m) return tmi_fail(errno, "coro: no stack for the main task");
    int rc = 0;
    while (m->state != DONE) {
        if (S.head) {
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
        tmi_netpoll_poll(next);
        fire_timers(tm_now());
    }
    if (rc == 0) tmi_stack_free(m->stack);
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
    struct tmi_stack_stats st;
    tmi_stack_stats(&st);
    add(ctx, "stacks_guarded", (double)st.guarded);
    add(ctx, "stacks_carved", (double)st.carved);
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
