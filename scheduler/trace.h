/* trace.h — scheduling traces: the hooks models call, and the read-out the
 * harness turns into a Chrome trace-event file (`tmbench run --trace F`).
 *
 * Design. Each kernel thread that records an event gets its own buffer on
 * first use (registered once, under a mutex, in a global list), so
 * recording is a few stores into thread-private memory with no locks and
 * no shared cache lines. A buffer starts at 64 events (2 KiB: ten thousand
 * traced pthreads cost ~20 MiB, not gigabytes) and doubles up to 1M
 * events (32 MiB) or until every buffer together holds 512 MiB; from then
 * on it is a ring that overwrites its oldest events and counts them.
 * Buffers outlive their threads: a pthreads task's thread has exited long
 * before the harness reads its events after tm_fini.
 *
 * Off by default at near-zero cost: every hook below is a macro that loads
 * one global flag (relaxed), tests it and skips a predicted branch; its
 * arguments are computed only on the cold path (measured with callgrind:
 * +3 instructions per coro yield, none on pingpong beyond layout noise).
 * The flag is set only by tmi_trace_begin, which the harness calls when
 * --trace is given. Recording costs a clock read, sched_getcpu() for runs
 * and a 32-byte store: about 25-40 ns per event.
 *
 * Signal preemption: tmi_trace_rec raises tmi_preempt_off while it runs,
 * so a hook may be called from a task with preemption enabled.
 *
 * The hook API for model authors. Task ids are the model's own, any
 * nonzero 64-bit number unique within the run; 0 means "no task" (the
 * scheduler loop, an idle worker). A model without ids gets them from
 * TMI_TRACE_NEW_ID(). Every hook records on the CALLING kernel thread,
 * which is one row of the trace (a "worker"); call each where the event
 * happens:
 *
 *   TMI_TRACE_SWITCH(from, why, to)  this worker stops running `from` and
 *                                    starts `to` (either may be 0); call it
 *                                    just before the context switch. why:
 *                                    TMI_WHY_YIELD, _PARK, _EXIT, _PREEMPT.
 *   TMI_TRACE_RUN(task)              `task` starts running here, and
 *   TMI_TRACE_STOP(task, why)        stops (for models without a switch).
 *   TMI_TRACE_SPAWN(task)            `task` was created (by the task running
 *                                    on this thread, 0 if none).
 *   TMI_TRACE_READY(task)            `task` was made runnable (by the task
 *                                    running on this thread, a timer, IO).
 *   TMI_TRACE_STEAL(task, victim, n) this worker took n tasks (the first is
 *                                    `task`, 0 if unknown) from worker
 *                                    number `victim`.
 *   why = TMI_WHY_PREEMPT            a preemption took effect (drawn as an
 *                                    instant event and a red mark).
 *   TMI_TRACE_RUNQ(len)              this worker's run-queue length now
 *                                    (sampled: kept when it changed, at most
 *                                    every 10 us unless it drops to 0).
 *   TMI_TRACE_SWITCH_RUNQ(from, why, to, len)  both, one flag test.
 *   TMI_TRACE_NAME(name)             name this thread's row ("mn worker 3");
 *                                    copied.
 * Recorded by the shared code, nothing for a model to do: blocking-region
 * enter/exit (core.c, for the task running on the thread) and netpoll
 * wake-ups (netpoll.c). Migrations (a task's consecutive runs on
 * different rows) are found by the writer, so a model only has to record
 * its switches on the right thread.
 *
 * Rejected: one global buffer with an atomic index (every event a shared
 * cache-line write; it would perturb exactly the scheduling it records);
 * LTTng/ftrace user events (not available unprivileged, and not portable
 * to a student's laptop); compiling hooks out by default (then "--trace"
 * would need a second build, and nobody would trace the binary measured).
 */
#ifndef TMI_TRACE_H
#define TMI_TRACE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Why a task stopped running. */
enum tmi_trace_why {
    TMI_WHY_YIELD = 0,   /* gave way and is runnable again (tm_yield) */
    TMI_WHY_PARK = 1,    /* waits for tm_ready, a timer or IO */
    TMI_WHY_EXIT = 2,    /* its function returned */
    TMI_WHY_PREEMPT = 3, /* taken off its worker by preemption */
};

/* Event kinds, as stored. */
enum tmi_trace_kind {
    TMI_TEV_RUN = 1,     /* task starts on this thread; cpu = sched_getcpu() */
    TMI_TEV_STOP,        /* task stops; aux = why */
    TMI_TEV_SWITCH,      /* arg stops (aux = why), task starts; cpu as RUN */
    TMI_TEV_SPAWN,       /* task created; arg = its creator (0: none) */
    TMI_TEV_READY,       /* task made runnable; arg = by which task (0: none) */
    TMI_TEV_STEAL,       /* aux tasks taken from worker arg; task = the first */
    TMI_TEV_BLOCK_ENTER, /* task enters a blocking region (tm_blocking_enter) */
    TMI_TEV_BLOCK_EXIT,  /* and leaves it */
    TMI_TEV_NETPOLL,     /* the poller readied aux waiters */
    TMI_TEV_RUNQ,        /* this worker's run-queue length is arg */
};

/* One event: 32 bytes. */
struct tmi_trace_ev {
    int64_t ts;    /* tm_now() */
    uint64_t task; /* the task it is about (0: none) */
    uint64_t arg;  /* per kind, see above */
    uint32_t aux;  /* per kind, see above */
    uint16_t kind; /* enum tmi_trace_kind */
    int16_t cpu;   /* sched_getcpu() for RUN and SWITCH, else -1 */
};

/* 1 while tracing; read relaxed by every hook (a plain load on x86 and
 * arm64). Written only by tmi_trace_begin/tmi_trace_end. */
extern _Atomic int tmi_trace_on;

#define TMI_TRACE_ENABLED()                                                                       \
    __builtin_expect(atomic_load_explicit(&tmi_trace_on, memory_order_relaxed), 0)

/* The cold path of every hook: record one event on this thread. */
void tmi_trace_rec(unsigned kind, uint64_t task, uint64_t arg, uint32_t aux);
void tmi_trace_set_name(const char *name);
uint64_t tmi_trace_id_slow(void);

/* ---- hooks (see the table above) ----
 * Macros, not inline functions, so that their arguments are evaluated only
 * when tracing is on: with inline functions GCC computed `prev->id` and
 * the like before testing the flag (measured: 5 more loads per coro switch).
 */
#define TMI_TRACE_HOOK_(kind, task, arg, aux)                                                     \
    do {                                                                                          \
        if (TMI_TRACE_ENABLED())                                                                  \
            tmi_trace_rec((kind), (uint64_t)(task), (uint64_t)(arg), (uint32_t)(aux));            \
    } while (0)

#define TMI_TRACE_SWITCH(from, why, to) TMI_TRACE_HOOK_(TMI_TEV_SWITCH, to, from, why)
#define TMI_TRACE_RUN(task) TMI_TRACE_HOOK_(TMI_TEV_RUN, task, 0, 0)
#define TMI_TRACE_STOP(task, why) TMI_TRACE_HOOK_(TMI_TEV_STOP, task, 0, why)
#define TMI_TRACE_SPAWN(task) TMI_TRACE_HOOK_(TMI_TEV_SPAWN, task, 0, 0)
#define TMI_TRACE_READY(task) TMI_TRACE_HOOK_(TMI_TEV_READY, task, 0, 0)
#define TMI_TRACE_STEAL(task, victim, n) TMI_TRACE_HOOK_(TMI_TEV_STEAL, task, victim, n)
#define TMI_TRACE_BLOCK_ENTER() TMI_TRACE_HOOK_(TMI_TEV_BLOCK_ENTER, 0, 0, 0)
#define TMI_TRACE_BLOCK_EXIT() TMI_TRACE_HOOK_(TMI_TEV_BLOCK_EXIT, 0, 0, 0)
#define TMI_TRACE_RUNQ(len) TMI_TRACE_HOOK_(TMI_TEV_RUNQ, 0, len, 0)
/* A switch and a run-queue sample behind one test of the flag. */
#define TMI_TRACE_SWITCH_RUNQ(from, why, to, len)                                                 \
    do {                                                                                          \
        if (TMI_TRACE_ENABLED()) {                                                                \
            tmi_trace_rec(TMI_TEV_RUNQ, 0, (uint64_t)(len), 0);                                   \
            tmi_trace_rec(TMI_TEV_SWITCH, (uint64_t)(to), (uint64_t)(from), (uint32_t)(why));     \
        }                                                                                         \
    } while (0)
#define TMI_TRACE_NETPOLL(readied)                                                                \
    do {                                                                                          \
        if (TMI_TRACE_ENABLED() && (readied) > 0)                                                 \
            tmi_trace_rec(TMI_TEV_NETPOLL, 0, 0, (uint32_t)(readied));                            \
    } while (0)
#define TMI_TRACE_NAME(name)                                                                      \
    do {                                                                                          \
        if (TMI_TRACE_ENABLED()) tmi_trace_set_name(name);                                        \
    } while (0)

/* A fresh task id (1, 2, ...) for a model that has none; 0 when tracing
 * is off, so the off path stays one load and a branch. An expression. */
#define TMI_TRACE_NEW_ID() (TMI_TRACE_ENABLED() ? tmi_trace_id_slow() : 0)

/* ---- control and read-out (the harness) ---- */

/* Start recording: forget any earlier trace, take the time origin, set
 * tmi_trace_on. Call before tm_init so worker start-up is seen. */
void tmi_trace_begin(void);

/* Stop recording (hooks turn into one load and a branch again). Events a
 * thread is recording at this very moment may still land. */
void tmi_trace_end(void);

/* One thread's buffer, as handed to the writer. */
struct tmi_trace_thread {
    const char *name;                /* set by TMI_TRACE_NAME, or "" */
    int tid;                         /* kernel thread id */
    int seq;                         /* registration order: 0, 1, ... */
    const struct tmi_trace_ev *ev;   /* the buffer */
    size_t cap;                      /* its size in events */
    size_t first, n;                 /* oldest event is ev[first]; n events in ring order */
    uint64_t dropped;                /* oldest events overwritten by the ring */
};

/* Every thread that recorded since tmi_trace_begin, in registration order:
 * *out is malloc'ed (free it), the buffers stay owned by trace.c. Call
 * after tmi_trace_end, once the model is stopped (tm_fini). Returns the
 * count, or -1 with errno ENOMEM. */
int tmi_trace_threads(struct tmi_trace_thread **out);

/* The time origin taken by tmi_trace_begin (tm_now() clock). */
int64_t tmi_trace_origin(void);

/* Event i (0 = oldest) of a thread. */
static inline const struct tmi_trace_ev *tmi_trace_at(const struct tmi_trace_thread *t, size_t i)
{
    size_t j = t->first + i;
    return &t->ev[j < t->cap ? j : j - t->cap];
}

#endif
