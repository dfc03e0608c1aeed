/* pthreads.c — the 1:1 model: every task is a kernel thread.
 *
 * park/ready is a futex on the waiter's state word (0 waiting, 1 readied),
 * waited on with an absolute CLOCK_MONOTONIC deadline (FUTEX_WAIT_BITSET),
 * so a deadline costs nothing extra. --procs N binds the process to the
 * PUs the placement plan gives N workers (the first N in compact order
 * under "none") before any task thread exists; threads inherit the binding. Spawn failures (EAGAIN at the thread limit, ENOMEM)
 * come back as NULL + errno for the workload to record.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "place.h"
#include "stack.h"
#include "tmi.h"
#include "trace.h"

struct tm_task {
    pthread_t thread;     /* the kernel thread running it */
    void (*fn)(void *);   /* entry point */
    void *arg;
    int detached;         /* freed by its own thread when fn returns */
    uint64_t trace_id;    /* task id in a --trace (trace.h); 0 when tracing is off */
    uint64_t id;          /* 1, 2, ...: names the task in an overflow report */
};

/* Every thread keeps an alternate signal stack at the top of its own
 * stack, so that the SIGSEGV of an overflow (which faults at the bottom,
 * on glibc's guard page) can still run a handler: scheduler/stack.c names
 * the task and the harness writes the run's failed record. The thread's
 * stack is made that much larger, so the task keeps what --stack-kb says. */
enum { ALTSTACK_BYTES = 16384 };
static _Atomic uint64_t next_id;

static size_t stack_size; /* from the config */
static _Thread_local struct tm_task *current; /* the task this thread runs */

/* First number in a /proc file, or -1. */
static long proc_long(const char *path)
{
    long v = -1;
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%ld", &v) != 1) v = -1;
        fclose(f);
    }
    return v;
}

/* Say which limits a failed pthread_create ran into: on Linux EAGAIN can
 * mean RLIMIT_NPROC, kernel.threads-max, kernel.pid_max (every thread needs
 * a TID), a cgroup's pids.max, or no memory for the stack. */
static void spawn_failed(int err)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NPROC, &rl);
    tmi_fail(err, "pthread_create: %s (RLIMIT_NPROC %ld, kernel.threads-max %ld, kernel.pid_max %ld, "
                  "stack %zu KiB)",
             strerror(err), rl.rlim_cur == RLIM_INFINITY ? -1L : (long)rl.rlim_cur,
             proc_long("/proc/sys/kernel/threads-max"), proc_long("/proc/sys/kernel/pid_max"),
             stack_size / 1024);
}

static long futex(_Atomic int *addr, int op, int val, const struct timespec *ts)
{
    return syscall(SYS_futex, (int *)addr, op | FUTEX_PRIVATE_FLAG, val, ts, NULL,
                   FUTEX_BITSET_MATCH_ANY);
}

/* --procs N: bind the process, before any task thread exists, to the PUs
 * that the placement plan (scheduler/place.c) gives N workers; "none"
 * means the first N PUs in compact order, and no binding at all when N is
 * every PU. Task threads inherit the binding. */
static int bind_procs(const char *placement, int *procsp)
{
    struct tmi_topo *topo;
    if (tmi_topo_load(&topo, NULL, NULL) != 0) return -1;
    struct tmi_topo_info ti;
    tmi_topo_info(topo, &ti);
    int r = 0, procs = *procsp ? *procsp : ti.pus;
    int none = !placement || strcmp(placement, "none") == 0;
    *procsp = procs;
    struct tmi_place_plan plan;
    if (procs > ti.pus)
        r = tmi_fail(EINVAL, "pthreads: --procs %d exceeds the %d PUs of this machine", procs,
                     ti.pus);
    else if (none && procs == ti.pus)
        r = 0;
    else if (tmi_place_plan(topo, none ? "compact" : placement, procs, &plan) != 0)
        r = -1;
    else {
        r = tmi_place_apply_process(topo, &plan);
        tmi_place_plan_free(&plan);
    }
    tmi_topo_free(topo);
    return r;
}

/* The calling thread's CPU set before --procs bound it, restored by
 * pt_fini so that a later tm_init (tmbench-micro cycles models) starts
 * from the machine, not from the last run's binding. */
static cpu_set_t saved_affinity;
static int have_saved_affinity;

static int pt_init(struct tm_config *cfg)
{
    if (cfg->slice_ns > 0)
        return tmi_fail(EINVAL, "the kernel preempts threads on its own clock: there is no "
                                "slice to set (--slice-us)");
    stack_size = cfg->stack_size < (size_t)PTHREAD_STACK_MIN ? (size_t)PTHREAD_STACK_MIN
                                                             : cfg->stack_size;
    have_saved_affinity = sched_getaffinity(0, sizeof saved_affinity, &saved_affinity) == 0;
    tmi_stack_set_overflow_hook("pthreads", NULL); /* guard_thread names the task */
    return bind_procs(cfg->placement, &cfg->procs);
}

static void pt_fini(void)
{
    if (have_saved_affinity) sched_setaffinity(0, sizeof saved_affinity, &saved_affinity);
}

/* Register this thread's guard page with the overflow reporter. */
static void guard_thread(struct tm_task *t, char *alt)
{
    stack_t ss = {.ss_sp = alt, .ss_size = ALTSTACK_BYTES};
    pthread_attr_t a;
    void *lo;
    size_t size, guard;
    if (sigaltstack(&ss, NULL) != 0 || pthread_getattr_np(pthread_self(), &a) != 0) return;
    if (pthread_attr_getstack(&a, &lo, &size) == 0 && pthread_attr_getguardsize(&a, &guard) == 0 &&
        guard > 0)
        tmi_stack_thread_guard((char *)lo - guard, lo, t->id, stack_size);
    pthread_attr_destroy(&a);
}

static void *trampoline(void *p)
{
    struct tm_task *t = p;
    char alt[ALTSTACK_BYTES]; /* the top of this thread's stack: untouched by an overflow */
    guard_thread(t, alt);
    current = t;
    TMI_TRACE_RUN(t->trace_id);
    t->fn(t->arg);
    TMI_TRACE_STOP(t->trace_id, TMI_WHY_EXIT);
    if (t->detached) free(t);
    stack_t off = {.ss_flags = SS_DISABLE}; /* alt lives in this frame */
    sigaltstack(&off, NULL);
    return NULL;
}

static struct tm_task *pt_spawn(void (*fn)(void *), void *arg, int detached)
{
    struct tm_task *t = malloc(sizeof *t);
    if (!t) return NULL;
    *t = (struct tm_task){.fn = fn, .arg = arg, .detached = detached,
                          .id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed) + 1};
    t->trace_id = TMI_TRACE_NEW_ID();
    TMI_TRACE_SPAWN(t->trace_id);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, stack_size + ALTSTACK_BYTES);
    if (detached) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int err = pthread_create(&t->thread, &attr, trampoline, t);
    pthread_attr_destroy(&attr);
    if (err) {
        free(t);
        spawn_failed(err);
        return NULL;
    }
    return t;
}

static int pt_join(struct tm_task *t)
{
    if (t->detached) return tmi_fail(EINVAL, "tm_join: task is detached");
    TMI_TRACE_STOP(current ? current->trace_id : 0, TMI_WHY_PARK);
    int err = pthread_join(t->thread, NULL);
    TMI_TRACE_RUN(current ? current->trace_id : 0);
    if (err) return tmi_fail(err, "pthreads: pthread_join: %s", strerror(err));
    free(t);
    return 0;
}

static int pt_run(void (*main)(void *), void *arg)
{
    struct tm_task self = {.thread = pthread_self()};
    current = &self;
    self.trace_id = TMI_TRACE_NEW_ID();
    TMI_TRACE_SPAWN(self.trace_id);
    TMI_TRACE_RUN(self.trace_id);
    main(arg);
    TMI_TRACE_STOP(self.trace_id, TMI_WHY_EXIT);
    current = NULL;
    return 0;
}

static void pt_yield(void)
{
    TMI_TRACE_STOP(current ? current->trace_id : 0, TMI_WHY_YIELD);
    sched_yield();
    TMI_TRACE_RUN(current ? current->trace_id : 0);
}

static struct tm_task *pt_self(void) { return current; }

static int pt_park_wait(struct tm_waiter *w, int64_t deadline)
{
    struct timespec ts = {.tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000};
    /* acquire: pairs with the release store in pt_ready */
    while (atomic_load_explicit(&w->state, memory_order_acquire) == 0) {
        if (deadline >= 0 && tm_now() >= deadline) return ETIMEDOUT;
        futex(&w->state, FUTEX_WAIT_BITSET, 0, deadline >= 0 ? &ts : NULL);
    }
    return 0;
}

/* A trace sees a parked task as off its CPU until the wait ends. */
static int pt_park(struct tm_waiter *w, int64_t deadline)
{
    TMI_TRACE_STOP(current ? current->trace_id : 0, TMI_WHY_PARK);
    int r = pt_park_wait(w, deadline);
    TMI_TRACE_RUN(current ? current->trace_id : 0);
    return r;
}

static void pt_ready(struct tm_waiter *w)
{
    TMI_TRACE_READY(w->task ? w->task->trace_id : 0);
    /* After this store the parker may return and its stack frame die;
     * futex_wake only uses the address as a key, it never touches it. */
    atomic_store_explicit(&w->state, 1, memory_order_release);
    futex(&w->state, FUTEX_WAKE, 1, NULL);
}

const struct tm_model_ops tm_model_pthreads = {
    .name = "pthreads",
    .summary = "1:1 - one kernel thread per task; futex park/ready; --procs binds PUs",
    .caps = TM_CAP_PARALLEL | TM_CAP_PREEMPTIVE | TM_CAP_HANDOFF,
    .init = pt_init,
    .fini = pt_fini,
    .run = pt_run,
    .spawn = pt_spawn,
    .join = pt_join,
    .yield = pt_yield,
    .self = pt_self,
    .park = pt_park,
    .ready = pt_ready,
    /* wait_fd NULL: poll() on the task's own thread is exactly right here */
};
