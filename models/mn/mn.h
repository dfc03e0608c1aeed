/* mn.h — internals of the preemptive M:N model, shared by its three files:
 *
 *   sched.c  tasks and the switch: spawn/join/yield/park/ready (the design
 *            note is there)
 *   run.c    worker threads, start-up and shut-down, the main task,
 *            metrics, the ops table
 *   idle.c   a worker with nothing queued: the global queue, timers,
 *            stealing by topology distance, the netpoller, sleeping and
 *            waking workers
 *   tick.c   the preemption glue: the timer-signal tick and the flag
 *
 * Names: `mn_` for functions shared between these files, no prefix for
 * static ones. Nothing here is visible outside models/mn.
 */
#ifndef TM_MN_H
#define TM_MN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "ctx/ctx.h"
#include "place.h"
#include "preempt.h"
#include "runq.h"
#include "stack.h"
#include "timer.h"
#include "tm/tm.h"
#include "tmi.h"

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire
#define REL memory_order_release
#define ACQ_REL memory_order_acq_rel
#define SEQ memory_order_seq_cst

/* Task states. The field is written only by whoever owns the task at the
 * moment (the handover is always through an atomic: a run queue, the
 * waiter state or the join word), so it is a plain field.
 *
 * T_RUNNABLE  On a run queue (a worker's `next`, its ring, or the global
 *             queue), or in a thief's hands. Its ctx says where to resume,
 *             or is NULL: never run, no stack yet. Owned by the queue.
 * T_RUNNING   The `cur` of exactly one worker; its stack is in use, its
 *             ctx stale. Owned by that worker. It leaves this state only
 *             through switch_away (yield, preempt, park, exit).
 * T_PARKED    Off its stack (published only by after_switch, on the next
 *             context's stack) and waiting on a waiter; owned by the
 *             waiter's state word: whoever moves it out of W_PARKED
 *             (ready, or the timer) queues the task.
 * T_DONE      fn returned and the last switch away is made; its stack is
 *             back in the pool. A joinable task's struct waits for tm_join.
 */
enum task_state { T_RUNNABLE, T_RUNNING, T_PARKED, T_DONE };

/* Worker states. Written by the worker itself (w->wstate), read by nobody
 * but debuggers and the design: the wake-up protocol runs on the counters
 * mn.nspinning / mn.nidle / mn.polling, which say the same in aggregate.
 *
 * WK_RUNNING   Running tasks, or its scheduler context between them; its
 *              tick is armed while a task runs.
 * WK_SPINNING  Out of local work, stealing (counted in mn.nspinning). A
 *              worker woken by mn_wakep starts here.
 * WK_POLLING   The one worker blocked in the netpoller until IO or the
 *              earliest deadline (mn.polling; counted in mn.nidle).
 * WK_SLEEPING  On the idle list, asleep on its futex word until mn_wakep
 *              (counted in mn.nidle).
 * WK_BLOCKED   Its task is inside a blocking region (a plain read()); tick
 *              stopped, queue open to thieves.
 */
enum worker_state { WK_RUNNING, WK_SPINNING, WK_POLLING, WK_SLEEPING, WK_BLOCKED };

/* Why a context is switching away; after_switch acts on it on the next
 * context's stack, when the leaver is completely off its own. */
enum leave {
    L_IDLE,    /* the worker's scheduler context: nothing to publish */
    L_YIELD,   /* tm_yield: back on this worker's ring */
    L_PREEMPT, /* the tick or the preempt flag: back on this worker's ring */
    L_PARK,    /* tm_park: publish W_PARKED, or requeue if readied meanwhile */
    L_EXIT,    /* fn returned: free the stack, hand the task to its joiner */
};

/* Waiter states (tm_waiter.state) — the park/ready handshake across workers:
 *
 * W_INIT      Fresh, or the parker is on its way to switching away. A
 *             ready or a timer that sees it only changes the state; the
 *             parker's after_switch then finds its CAS INIT -> PARKED
 *             failing and queues the task itself.
 * W_READIED   ready() came; the park returns 0. Terminal for this wait.
 * W_PARKED    The task is off its stack and queued nowhere. Set only by
 *             after_switch (CAS from W_INIT, release: publishes ctx).
 * W_TIMEDOUT  The deadline fired (from W_INIT or W_PARKED; from W_PARKED
 *             the timer queued the task). A later ready() (the readier won
 *             the claim just before the deadline) moves it to W_READIED
 *             without queueing: the task is already runnable.
 */
enum { W_INIT = 0, W_READIED = 1, W_PARKED = 2, W_TIMEDOUT = 3 };

/* The join word of a task. */
#define JOIN_NONE ((uintptr_t)0) /* running, nobody joined yet */
#define JOIN_DONE ((uintptr_t)1) /* finished; anything else: the joiner's waiter */

struct tm_task {
    struct tmi_rnode rn; /* run-queue link; first member (see task_of) */
    struct tmi_ctx *ctx; /* where to resume; written by after_switch */
    void (*fn)(void *);  /* entry point */
    void *arg;
    struct tmi_stack *stack;  /* NULL until first run, and after exit */
    void *base_fp;            /* task_main's frame: where the tick's frame walk stops */
    struct tm_waiter *park_w; /* the wait being parked on (L_PARK) */
    struct tmi_timer timer;   /* park deadline; in mn.timers, under mn.tlock */
    _Atomic uintptr_t join;   /* JOIN_NONE / JOIN_DONE / joiner's waiter (acq_rel) */
    _Atomic int preempt_req;  /* set by a tick that could not switch; relaxed:
                                 read by the task on whichever worker */
    uint64_t id;              /* 1, 2, ... for overflow reports */
    enum task_state state;
    enum leave leave; /* written by the leaver just before its switch */
    int detached;
    int is_main;            /* the run's main task (tm_run waits for it) */
    int failed;             /* ended without running: no stack (ENOMEM) */
    struct tmi_ctx_san san; /* sanitizer bookkeeping */
};

static inline struct tm_task *task_of(struct tmi_rnode *n)
{
    return (struct tm_task *)n;
}

/* The one place a task's state changes: checks the transition in debug
 * builds (NDEBUG unset). */
static inline void mn_set_state(struct tm_task *t, enum task_state to)
{
#ifndef NDEBUG
    static const unsigned char ok[] = {
        [T_RUNNABLE] = 1 << T_RUNNING | 1 << T_DONE, /* run, or fail to start */
        [T_RUNNING] = 1 << T_RUNNABLE | 1 << T_PARKED | 1 << T_DONE,
        [T_PARKED] = 1 << T_RUNNABLE,
        [T_DONE] = 0,
    };
    tm_assert(ok[t->state] & (1u << to), "mn: bad task state transition");
#endif
    t->state = to;
}

/* Counters: written only by their worker (relaxed load + store), read by
 * metrics from any thread (relaxed). */
struct mn_stats {
    _Atomic uint64_t steals[TMI_LV_COUNT]; /* tasks taken from others, by distance */
    _Atomic uint64_t preempt_async;        /* switched away in the tick */
    _Atomic uint64_t preempt_flag;         /* ticks that could only flag */
    _Atomic uint64_t preempt_coop;         /* flags honoured at a runtime call */
    _Atomic uint64_t parks;                /* parks that switched away */
    _Atomic uint64_t sleeps;               /* futex sleeps of the worker */
    _Atomic uint64_t polls;                /* blocking netpolls */
    _Atomic uint64_t global_gets;          /* batches taken from the global queue */
    _Atomic uint64_t start_failures;       /* tasks that found no stack */
    _Atomic uint64_t spawned, exited;      /* for the deadlock report */
};

static inline void stat_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, RLX) + n, RLX);
}

/* A worker: one kernel thread, placed by the plan. */
struct worker {
    struct tmi_runq rq; /* thieves CAS rq.head (own cache lines) */
    int id;
    struct tm_task *_Atomic cur; /* the running task or &idle; written by the
                                    owner, read by its tick (same thread) */
    _Atomic uint32_t schedtick;  /* new slices begun (a task switched in, not
                                    from `next`); owner writes, tick reads */
    uint32_t tick_seen;          /* schedtick at the last tick; tick only */
    struct tm_task idle;         /* the scheduler context (thread's own stack) */
    int inherit;                 /* the task picked last came from `next`: it
                                    runs on the current slice; owner only */
    unsigned picks;              /* all picks, for the global queue's turn */
    enum worker_state wstate;    /* owner only; set in idle.c and sched.c */
    int spinning;                /* counted in mn.nspinning; owner only */
    int blocking;                /* in a blocking region; owner only */
    struct tm_task *free_tasks;  /* recycled structs; owner only */
    int nfree;
    int *victims;                   /* other workers, nearest first */
    int lv_start[TMI_LV_COUNT + 1]; /* victims of level L: [lv_start[L], lv_start[L+1]) */
    struct tmi_preempt_timer pt;    /* the tick; owner only */
    _Atomic int sleep_word;         /* futex: 1 asleep on it, 0 awake */
    struct worker *idle_next;       /* idle list link; under mn.idle_lock */
    int on_idle_list;               /* under mn.idle_lock */
    pthread_t thread;
    int start_err; /* errno of the worker's start-up, 0 = ok */
    struct mn_stats st;
} __attribute__((aligned(64)));

/* Everything shared; one instance, `mn`. Groups that different workers
 * write at different times sit on their own cache lines. */
struct mn {
    /* fixed after init; read everywhere */
    int n;                 /* workers */
    struct worker *w;      /* [n] */
    struct tmi_topo *topo; /* this machine */
    struct tmi_place_plan plan;
    int64_t slice_ns;
    _Atomic int stopping; /* fini: workers leave their loops */

    /* global queue: its own lock and length */
    _Alignas(64) struct tmi_gq gq;

    /* workers looking for work and asleep (the wake-up protocol, idle.c) */
    _Alignas(64) _Atomic int nspinning; /* seq_cst: the Dekker pairs with pushes */
    _Atomic int nidle;                  /* asleep on futex or in the poller */
    _Atomic int idle_lock;              /* tmi_spin lock over idle_head */
    struct worker *idle_head;           /* futex sleepers, LIFO */
    _Atomic int polling;                /* 1 while a worker blocks in the netpoller */
    _Atomic int64_t poll_until;         /* that poll's deadline (INT64_MAX forever) */
    _Atomic int fence_word;             /* mn_fence under TSan */

    /* timers: one heap for all workers */
    _Alignas(64) _Atomic int64_t tnext; /* earliest deadline or INT64_MAX; written
                                        under tlock, read anywhere (relaxed: a hint
                                        confirmed under the lock) */
    _Atomic int tlock;                  /* tmi_spin lock over timers */
    struct tmi_timers timers;           /* park deadlines; under tlock */

    /* task structs spilled by workers that free more than they spawn */
    _Alignas(64) _Atomic int tpool_lock; /* tmi_spin lock over the two below */
    struct tm_task *tpool;               /* linked through rn.next; under tpool_lock */
    _Atomic long tpool_n;                /* its length; written under the lock, read
                                            without it as a hint (relaxed) */

    /* the run: tm_run's thread and the workers */
    _Alignas(64) _Atomic int run_state; /* futex for tm_run: RUN_* */
};

/* mn.run_state, one run's progress:
 * RUN_QUEUED    tm_run queued the main task; no worker has started it yet
 * RUN_GOING     a worker started it; from here on only tasks (and threads
 *               outside the model) can make work, so a deadlock is real
 * RUN_DONE      it returned (also before the first run)
 * RUN_DEADLOCK  every worker went to sleep with nothing to wake anyone */
enum { RUN_QUEUED, RUN_GOING, RUN_DONE, RUN_DEADLOCK };

extern struct mn mn;

/* The full barrier of the store-fence-load pairs in idle.c (the wake-up
 * protocol). TSan does not model fences (gcc refuses them under
 * -fsanitize=thread), so there an acq_rel RMW on one shared word stands in:
 * the two sides' RMWs are ordered, and the earlier one synchronizes with
 * the later, which gives the same guarantee in a form TSan follows. */
static inline void mn_fence(void)
{
#if defined(TMI_CTX_TSAN)
    atomic_fetch_add_explicit(&mn.fence_word, 0, ACQ_REL);
#else
    atomic_thread_fence(SEQ);
#endif
}
extern _Thread_local struct worker *mn_self_worker; /* NULL off the workers */

/* The worker running the caller; read it again after every switch. Not
 * TSan-instrumented, for the reason given at tmi_preempt_disable. */
TMI_NO_TSAN static inline struct worker *mn_me(void)
{
    return mn_self_worker;
}

/* sched.c: the ops (run.c puts them in the table), then the internals */
struct tm_task *mn_spawn(void (*fn)(void *), void *arg, int detached);
int mn_join(struct tm_task *t);
void mn_yield(void);
struct tm_task *mn_self(void);
int mn_park(struct tm_waiter *wt, int64_t deadline);
void mn_ready(struct tm_waiter *wt);
int mn_wait_fd(int fd, int events, int64_t deadline);
void mn_blocking_enter(void);
void mn_blocking_exit(void);
void mn_task_init(struct tm_task *t, void (*fn)(void *), void *arg, int detached, uint64_t id);
void mn_switch_away(struct worker *w, struct tm_task *self, enum leave why);
void mn_run_task(struct worker *w, struct tm_task *self, struct tm_task *next);
void mn_make_runnable(struct worker *w, struct tm_task *t, int next);
struct tm_task *mn_pick_local(struct worker *w, int ring_first);
int mn_start(struct worker *w, struct tm_task *t); /* 0, or -1: t ended (no stack) */
struct tm_task *mn_gq_take(struct worker *w);      /* a batch from the global queue */

/* idle.c */
struct tm_task *mn_find_runnable(struct worker *w); /* blocks; NULL when stopping */
void mn_wakep(void);
void mn_fire_timers(struct worker *w);
int mn_timer_add(struct tm_task *t, struct tm_waiter *wt, int64_t deadline);
void mn_timer_del(struct tm_task *t);
void mn_steal_order(struct worker *w);
void mn_wake_all(void);
long mn_futex(_Atomic int *addr, int op, int val);

/* tick.c */
void mn_tick(const struct tmi_preempt_point *pp);

#endif
