/* glue.c — the goroutine model's tm_model_ops: start-up and shut-down,
 * tm_run, spawn and join, park and ready, yield, blocking regions, metrics.
 *
 * Every op that touches an M or a P raises tmi_preempt_off on entry and
 * lowers it on exit (op_leave), where a preemption request that arrived
 * meanwhile is honoured. The design is in sched.c's note.
 *
 * The park/ready handshake (tm_waiter.state, a G's waiter):
 *   ready    exchanges the state to W_READIED; if it was W_PARKED the G is
 *            the readier's to queue (onto its own P's runnext: the woken G
 *            runs next, in the waker's time slice).
 *   timer    CASes W_PARKED -> W_TIMEDOUT (and queues the G), or
 *            W_INIT -> W_TIMEDOUT (the G has not committed its park yet).
 *   park     reads the state s0 (W_INIT, or W_TIMEDOUT left by a timed-out
 *            first wait that lost the claim to a readier), arms its timer,
 *            switches away, and on the next context commits with
 *            CAS s0 -> W_PARKED; if that fails it was readied or timed out
 *            meanwhile and the commit queues it again itself.
 * So exactly one party queues a parked G, and only once it is off its
 * stack. A waiter of a thread that is not a G (w->task == NULL) is a
 * futex word instead, as in the pthreads model.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "goroutine.h"
#include "netpoll.h"

#define S tmg_sched

enum { NS_MS = 1000000 };

/* Leave a model op: drop the preemption guard and honour a request that
 * arrived while it was up. */
static inline void op_leave(void)
{
    tmi_preempt_enable();
    if (tmi_preempt_depth() == 0) {
        struct tm_task *gp = tmg_getg();
        if (gp && atomic_load_explicit(&gp->preempt, memory_order_relaxed)) tmg_preempt_check();
    }
}

static long futex(_Atomic int *addr, int op, int val, const struct timespec *ts)
{
    return syscall(SYS_futex, (int *)addr, op | FUTEX_PRIVATE_FLAG, val, ts, NULL,
                   FUTEX_BITSET_MATCH_ANY);
}

/* ---- start-up and shut-down ---- */

static size_t describe(const struct tmi_stack *s, char *buf, size_t len)
{
    const struct tm_task *t = s->owner;
    return tmi_stack_describe_id(buf, len, "goroutine", t ? t->id : 0);
}

static int default_procs(void)
{
    const char *e = getenv("TM_PROCS");
    if (e && *e) {
        char *end;
        long v = strtol(e, &end, 10);
        return *end || v < 1 || v > 1024 ? -1 : (int)v;
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void free_ps(void)
{
    if (!S.allp) return;
    for (int i = 0; i < S.nprocs; i++)
        tmi_timers_term(&S.allp[i].timers);
    free(S.allp);
    S.allp = NULL;
}

static int gr_init(struct tm_config *cfg)
{
    memset(&S, 0, sizeof S);
    int procs = cfg->procs ? cfg->procs : default_procs();
    if (procs < 1 || procs > 1024)
        return tmi_fail(EINVAL, "goroutine: TM_PROCS must be a whole number in 1..1024, not '%s'",
                        getenv("TM_PROCS"));
    if (cfg->placement && strcmp(cfg->placement, "none") != 0)
        return tmi_fail(EINVAL,
                        "goroutine: --placement %s is not supported (like Go, its Ms are "
                        "not pinned to cores)",
                        cfg->placement);
    cfg->procs = procs;
    if (cfg->slice_ns <= 0) cfg->slice_ns = 10 * NS_MS; /* Go's forcePreemptNS */
    S.nprocs = procs;
    S.slice_ns = cfg->slice_ns;
    pthread_sigmask(SIG_BLOCK, NULL, &S.sigmask);

    struct tmi_stack_opts opts = {.size = cfg->stack_size, .guard_max = -1, .keep = -1};
    if (tmi_stack_init(&opts) != 0)
        return tmi_fail(errno, "goroutine: bad stack size %zu KiB", cfg->stack_size / 1024);
    tmi_stack_set_overflow_hook("goroutine", describe);
    if (tmi_netpoll_init() != 0) {
        tmi_stack_fini();
        return tmi_fail(errno, "goroutine: netpoller: %s", strerror(errno));
    }
    S.allp = calloc((size_t)procs, sizeof *S.allp);
    if (!S.allp) {
        tmi_netpoll_term();
        tmi_stack_fini();
        return tmi_fail(ENOMEM, "goroutine: out of memory for %d Ps", procs);
    }
    /* every P starts idle, P0 first off the list */
    for (int i = procs - 1; i >= 0; i--) {
        struct p *pp = &S.allp[i];
        pp->id = i;
        pp->global_in = 61;
        tmi_runq_init(&pp->rq);
        tmi_timers_init(&pp->timers);
        atomic_init(&pp->timer0, INT64_MAX);
        atomic_init(&pp->status, P_IDLE);
        pp->link = S.pidle;
        S.pidle = pp;
    }
    atomic_init(&S.npidle, procs);
    tmi_gq_init(&S.gq);
    atomic_init(&S.lastpoll, tm_now());
    if (tmi_preempt_init(tmg_tick) != 0 || tmg_sysmon_start() != 0) {
        int e = errno;
        tmi_preempt_fini();
        free_ps();
        tmi_netpoll_term();
        tmi_stack_fini();
        return tmi_fail(e, "goroutine: cannot start sysmon: %s", strerror(e));
    }
    return 0;
}

/* Stop every M: idle ones are woken without a P, the poller is woken,
 * running Gs are asked to stop and abandoned at their next switch. An M
 * stuck in a blocking region forever cannot be stopped; then the shared
 * memory is left alone (the process is ending anyway). */
static void gr_fini(void)
{
    atomic_store_explicit(&S.stopping, 1, memory_order_seq_cst);
    tmg_sysmon_stop();
    int64_t until = tm_now() + 2000 * (int64_t)NS_MS;
    while (atomic_load_explicit(&S.mlive, memory_order_acquire) > 0 && tm_now() < until) {
        tmi_spin_lock(&S.lock);
        for (struct m *mp = S.midle; mp; mp = mp->link)
            tmg_note_wake(&mp->note);
        for (int i = 0; i < S.nprocs; i++) {
            struct m *mp = atomic_load_explicit(&S.allp[i].m, memory_order_acquire);
            struct tm_task *gp = mp ? atomic_load_explicit(&mp->curg, memory_order_acquire) : NULL;
            if (gp) {
                atomic_store_explicit(&gp->preempt, 1, memory_order_relaxed);
                pthread_kill(mp->self, TMI_PREEMPT_SIGNAL);
            }
        }
        tmi_spin_unlock(&S.lock);
        tmi_netpoll_wake();
        struct timespec ts = {0, NS_MS};
        nanosleep(&ts, NULL);
    }
    if (atomic_load_explicit(&S.mlive, memory_order_acquire) > 0) return; /* leave it all */
    struct m *mp = S.allm;
    while (mp) {
        struct m *next = mp->alllink;
        pthread_join(mp->thread, NULL);
        free(mp);
        mp = next;
    }
    S.allm = NULL;
    tmi_preempt_fini();
    tmi_gq_term(&S.gq);
    tmg_gfree_all();
    free_ps();
    tmi_netpoll_term();
    tmi_stack_fini();
}

/* ---- Gs ---- */

static uint64_t new_id(struct p *pp)
{
    if (!pp) return atomic_fetch_add_explicit(&S.next_id, 1, memory_order_relaxed) + 1;
    if (pp->goid == pp->goidend) { /* a block of 64, as Go's goidcache */
        pp->goid = atomic_fetch_add_explicit(&S.next_id, 64, memory_order_relaxed);
        pp->goidend = pp->goid + 64;
    }
    return ++pp->goid;
}

/* A runnable G for fn(arg), not yet queued. pp: the caller's P or NULL. */
static struct tm_task *newg(struct p *pp, void (*fn)(void *), void *arg, int detached)
{
    struct tm_task *gp = tmg_gfget(pp);
    if (!gp) return NULL;
    gp->ctx = NULL;
    gp->schedlink = NULL;
    gp->fn = fn;
    gp->arg = arg;
    gp->stack = NULL;
    atomic_store_explicit(&gp->joiner, NULL, memory_order_relaxed);
    atomic_store_explicit(&gp->preempt, 0, memory_order_relaxed);
    gp->detached = detached;
    gp->failed = 0;
    gp->parkw = NULL;
    gp->timer.slot = -1;
    gp->timerp = NULL;
    gp->id = new_id(pp);
    tmg_gstatus(gp, G_IDLE, G_RUNNABLE);
    return gp;
}

struct run_main {
    void (*main)(void *);
    void *arg;
    _Atomic int done; /* futex word: 1 once main returned */
};

static void run_main(void *p)
{
    struct run_main *r = p;
    r->main(r->arg);
    /* release: everything main did, to tm_run's caller */
    atomic_store_explicit(&r->done, 1, memory_order_release);
    futex(&r->done, FUTEX_WAKE, 1, NULL); /* r may be gone: the address is only a key */
}

/* The caller's thread is not an M: it queues the main G globally, wakes
 * an M, and waits for main to return. */
static int gr_run(void (*main)(void *), void *arg)
{
    if (tmg_getm()) return tmi_fail(EINVAL, "goroutine: tm_run from inside the model");
    struct run_main r = {.main = main, .arg = arg};
    struct tm_task *gp = newg(NULL, run_main, &r, 1);
    if (!gp) return tmi_fail(ENOMEM, "goroutine: out of memory for the main task");
    TMI_TRACE_SPAWN(gp->id);
    tmg_globrunqput(gp);
    tmg_wakep();
    while (!atomic_load_explicit(&r.done, memory_order_acquire))
        futex(&r.done, FUTEX_WAIT, 0, NULL);
    return 0;
}

static struct tm_task *gr_spawn(void (*fn)(void *), void *arg, int detached)
{
    tmi_preempt_disable();
    struct m *mp = tmg_getm();
    struct p *pp = mp ? mp->p : NULL;
    struct tm_task *gp = newg(pp, fn, arg, detached);
    if (gp) TMI_TRACE_SPAWN(gp->id);
    if (!gp) {
        op_leave();
        tmi_fail(ENOMEM, "goroutine: out of memory for a G");
        return NULL;
    }
    if (pp) {
        tmg_runqput(pp, gp, 1); /* Go's newproc: the new G runs next */
        if (S.nprocs > 1) tmg_wakep();
    } else {
        tmg_globrunqput(gp);
        tmg_wakep();
    }
    op_leave();
    return gp;
}

static int gr_join(struct tm_task *t)
{
    if (t->detached) return tmi_fail(EINVAL, "tm_join: task is detached");
    struct tm_waiter w;
    tm_waiter_init(&w);
    struct tm_waiter *expect = NULL;
    /* acq_rel: publishes w to the exiting G; failing, we see its end */
    if (atomic_compare_exchange_strong_explicit(&t->joiner, &expect, &w, memory_order_acq_rel,
                                                memory_order_acquire))
        tm_park(&w, -1);
    int failed = t->failed;
    unsigned long long id = (unsigned long long)t->id;
    tmi_preempt_disable();
    struct m *mp = tmg_getm();
    tmg_gfput(mp ? mp->p : NULL, t);
    op_leave();
    if (failed) return tmi_fail(ENOMEM, "goroutine: no stack for task %llu", id);
    return 0;
}

static void gr_yield(void)
{
    if (!tmg_getg()) {
        sched_yield();
        return;
    }
    tmi_preempt_disable();
    tmg_gosched(tmg_getg());
    tmi_preempt_enable();
}

static struct tm_task *gr_self(void)
{
    return tmg_getg();
}

/* ---- park / ready ---- */

static struct tmi_transfer park_commit(struct tmi_transfer t)
{
    struct tm_task *gp = t.data;
    gp->ctx = t.ctx;
    struct tm_waiter *w = gp->parkw;
    int st = gp->park_st0;
    /* acq_rel: release publishes gp->ctx (and its stack) to whoever
     * readies gp next; after success we must not touch gp */
    if (atomic_compare_exchange_strong_explicit(&w->state, &st, W_PARKED, memory_order_acq_rel,
                                                memory_order_acquire))
        return (struct tmi_transfer){NULL, NULL};
    /* readied or timed out while we switched: queue it ourselves */
    tmg_ready_g(gp, 1);
    return (struct tmi_transfer){NULL, NULL};
}

/* A thread that is not a G waits on the waiter's state as a futex word. */
static int foreign_park(struct tm_waiter *w, int64_t deadline)
{
    struct timespec ts = {.tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000};
    for (;;) {
        /* acquire: pairs with gr_ready's exchange */
        int st = atomic_load_explicit(&w->state, memory_order_acquire);
        if (st == W_READIED) return 0;
        if (deadline >= 0 && tm_now() >= deadline) return ETIMEDOUT;
        futex(&w->state, FUTEX_WAIT_BITSET, st, deadline >= 0 ? &ts : NULL);
    }
}

static int gr_park(struct tm_waiter *w, int64_t deadline)
{
    struct tm_task *gp = tmg_getg();
    if (!gp) return foreign_park(w, deadline);
    /* acquire: a ready that came first published its results */
    int st0 = atomic_load_explicit(&w->state, memory_order_acquire);
    if (st0 == W_READIED) return 0;
    if (deadline == 0 || (deadline > 0 && deadline <= tm_now())) return ETIMEDOUT;
    tmi_preempt_disable();
    gp->parkw = w;
    gp->park_st0 = st0;
    if (deadline > 0 && tmg_addtimer(tmg_getm()->p, gp, deadline) != 0) {
        op_leave();
        return ETIMEDOUT; /* no memory for the heap: degrade to a try */
    }
    tmg_gstatus(gp, G_RUNNING, G_WAITING);
    tmg_gswitch(gp, park_commit, TMI_WHY_PARK);
    tmg_deltimer(gp);
    int st = atomic_load_explicit(&w->state, memory_order_acquire);
    op_leave();
    return st == W_READIED ? 0 : ETIMEDOUT;
}

void tmg_ready_w(struct tm_waiter *w, int next)
{
    struct tm_task *gp = w->task; /* read first: once readied, w may go */
    /* acq_rel: release hands the claimant's results to the parker;
     * acquire pairs with park_commit, so gp's context is ours to queue */
    int old = atomic_exchange_explicit(&w->state, W_READIED, memory_order_acq_rel);
    if (!gp) {
        futex(&w->state, FUTEX_WAKE, 1, NULL);
        return;
    }
    if (old != W_PARKED) return; /* its park will see W_READIED */
    tmi_preempt_disable();
    tmg_ready_g(gp, next);
    op_leave();
}

/* A G readying a G hands over its slice (runnext); others queue. */
static void gr_ready(struct tm_waiter *w)
{
    tmg_ready_w(w, tmg_getg() != NULL);
}

/* ---- IO and blocking regions ---- */

static int gr_wait_fd(int fd, int events, int64_t deadline)
{
    return tmi_netpoll_wait_fd(fd, events, deadline);
}

static void gr_blocking_enter(void)
{
    tmi_preempt_disable();
    tmg_entersyscall();
    tmi_preempt_enable();
}

static void gr_blocking_exit(void)
{
    tmi_preempt_disable();
    tmg_exitsyscall();
    op_leave();
}

/* ---- metrics ---- */

static void gr_metrics(void (*add)(void *, const char *, double), void *ctx)
{
    uint64_t steals = 0, stolen = 0, global = 0, coop = 0, timers = 0;
    for (int i = 0; i < S.nprocs; i++) {
        struct p *pp = &S.allp[i];
        steals += atomic_load_explicit(&pp->n_steals, memory_order_relaxed);
        stolen += atomic_load_explicit(&pp->n_stolen, memory_order_relaxed);
        global += atomic_load_explicit(&pp->n_global, memory_order_relaxed);
        coop += atomic_load_explicit(&pp->n_preempt_sync, memory_order_relaxed);
        timers += atomic_load_explicit(&pp->n_timers, memory_order_relaxed);
    }
    tmi_spin_lock(&S.lock);
    int ms = S.mcount;
    tmi_spin_unlock(&S.lock);
    add(ctx, "ms", ms);
    add(ctx, "steals", (double)steals);
    add(ctx, "stolen_gs", (double)stolen);
    add(ctx, "global_queue_gets", (double)global);
    add(ctx, "timers_fired", (double)timers);
    add(ctx, "preempt_signals", (double)atomic_load(&S.n_preempt_signals));
    add(ctx, "preempt_async", (double)atomic_load(&S.n_preempt_async));
    add(ctx, "preempt_sync", (double)coop);
    add(ctx, "timer_preempts", (double)atomic_load(&S.n_timer_preempts));
    add(ctx, "syscall_handoffs", (double)atomic_load(&S.n_handoffs));
    add(ctx, "m_wakeups", (double)atomic_load(&S.n_mwakes));
    add(ctx, "netpoll_by_sysmon", (double)atomic_load(&S.n_netpoll_sysmon));
    add(ctx, "start_failures", (double)atomic_load(&S.n_start_failures));
}

const struct tm_model_ops tm_model_goroutine = {
    .name = "goroutine",
    .summary = "Go-like M:N runtime: procs Ps (GOMAXPROCS), runnext + 256-slot local queues, "
               "global queue, work stealing, spinning Ms, netpoller, sysmon with syscall "
               "hand-off and signal preemption (10 ms slice)",
    .caps = TM_CAP_PARALLEL | TM_CAP_PREEMPTIVE | TM_CAP_HANDOFF | TM_CAP_MANY_TASKS,
    .init = gr_init,
    .fini = gr_fini,
    .run = gr_run,
    .spawn = gr_spawn,
    .join = gr_join,
    .yield = gr_yield,
    .self = gr_self,
    .park = gr_park,
    .ready = gr_ready,
    .wait_fd = gr_wait_fd,
    .blocking_enter = gr_blocking_enter,
    .blocking_exit = gr_blocking_exit,
    .metrics = gr_metrics,
};
