/* sched.c — the goroutine model's scheduler: Go's G/M/P design in C.
 *
 * Design note
 * ===========
 * This is the Go runtime's scheduler (runtime/proc.go, Go 1.19) rebuilt on
 * tmbench's building blocks: contexts (scheduler/ctx), pooled stacks,
 * the shared netpoller, the deadline heap, and the park/ready seam on
 * which channels, mutexes and wait groups are written once.
 *
 * G, M, P. A G is a task (struct tm_task): a function, a context and —
 * from its first run until it returns — a stack. An M is a kernel thread.
 * A P is the right to run Gs; there are exactly procs (GOMAXPROCS) of
 * them, so at most procs Gs run at once however many Ms exist. An M needs
 * a P to run a G; it gives the P up when it blocks (a blocking region, or
 * nothing to do), so the P goes on with another M. Each P owns a run
 * queue: runnext, a 256-slot ring, and its timers; behind them is the
 * global run queue. The enums in goroutine.h say, state by state, who
 * owns each G, M and P; in short:
 *
 *   G  IDLE --spawn--> RUNNABLE --execute--> RUNNING --park--> WAITING
 *      RUNNING --yield/preempt--> RUNNABLE;  WAITING --ready/timer--> RUNNABLE
 *      RUNNING --blocking_enter--> SYSCALL --blocking_exit--> RUNNING (P back)
 *                                                    or RUNNABLE (global queue)
 *      RUNNING --return--> DEAD --join/free list--> IDLE
 *   M  RUNNING <-> SPINNING (holding a P, stealing) -> IDLE (parked on its
 *      note, no P) or POLLING (no P, blocked in epoll until IO or the next
 *      timer; at most one M); RUNNING -> SYSCALL (its P left behind)
 *   P  IDLE <-> RUNNING (held by one M) <-> SYSCALL (its M is blocked; the
 *      M coming back or sysmon, whichever CASes first, gets it)
 *
 * Who owns what: a P's ring is pushed and its runnext set only by the M
 * holding it; anyone takes by CAS. A G's stack is touched only by the M
 * running it. The global queue, the idle M and P lists and the G free list
 * are under sched.lock (a spin lock: held for a few instructions, never
 * across a blocking call). A parked G belongs to whoever wins its waiter.
 *
 * Scheduling. schedule() (on an M's own stack, "g0") takes the next G:
 * due timers of its P first, then 1 pick in 61 from the global queue (so
 * it cannot starve), runnext, the ring; otherwise findrunnable(): the
 * global queue, a non-blocking netpoll, and stealing — up to 4 rounds over
 * the other Ps in random order, taking half a victim's ring, and in the
 * last round its runnext and its due timers. Only procs/2 Ms spin at once
 * (M_SPINNING); a spinning M that finds work wakes another (resetspinning),
 * and submitting work wakes one only when none spins (wakep). Finding
 * nothing, an M gives its P back, rechecks every ring (the StoreLoad
 * handshake with wakep: see there), and then either becomes the poller —
 * blocking in epoll until IO or the earliest timer of any P — or parks.
 *
 * Switching. Every switch is a switch-with-call (ctx.h): the leaving G
 * passes a "commit" that runs on the next context once the G is entirely
 * off its stack, and makes it visible — parked (the waiter's CAS to
 * W_PARKED), queued (yield, preemption) or freed (exit). When its P has
 * local work a G switches *directly* to the next G (one switch per park,
 * where Go's mcall + gogo is two); only when nothing is local does it go
 * to g0, where findrunnable may block. A readied G goes to the waker's
 * runnext and does not start a new time slice (schedtick is not bumped),
 * so a pair bouncing a message runs back to back on one P — and sysmon
 * still ends the pair's slice after 10 ms if a hog waits.
 *
 * Blocking regions (tm_blocking_enter/exit) are Go's entersyscall /
 * exitsyscall: enter only marks the P P_SYSCALL (a few stores, no
 * wake-up); sysmon (sysmon.c) retakes a P that stayed there across one of
 * its ticks (20 us+) and hands it to another M. exit CASes its old P back;
 * failing that it takes an idle P; failing that its G goes to the global
 * queue and the M parks.
 *
 * Invariants. tmi_preempt_off is 1 at every switch (model code raises it
 * at each entry; g0 keeps it at 1; a new G drops it to 0 in g_main), so
 * the preemption signal never interrupts scheduler code. An idle P has an
 * empty ring. A G is on at most one queue. Nothing blocks while holding
 * sched.lock or a P's tlock.
 *
 * Rejected alternatives.
 *  - Always through g0, as Go (mcall(park_m) then gogo): two switches per
 *    park/yield; the direct switch halves it when the P has work, and the
 *    commit-after-switch keeps it as safe.
 *  - One locked global queue (Go before 1.1), or a mutex per P: every
 *    spawn and ready would contend; the lock-free ring keeps the owner's
 *    push and pop free of shared writes except its own head/tail.
 *  - Eager hand-off at every blocking_enter (Go's entersyscallblock): a
 *    thread wake-up per call; the lazy retake makes short calls cost a
 *    few stores and pays only for calls that really block.
 *  - A timer signal per M for preemption (the mn model's way): sysmon
 *    already watches every P for syscalls, and preempting only Gs that
 *    overran their slice costs nothing when nobody does.
 *  - The tm_run caller's thread as M0: tm_run must return when the main G
 *    ends wherever it runs; making the caller wait on a futex keeps every
 *    M alike.
 *  - A global timer heap (Go before 1.14): one lock for every sleep.
 */
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "goroutine.h"
#include "netpoll.h"

#define S tmg_sched

struct sched tmg_sched;
_Thread_local struct m *tmg_m;
_Thread_local struct tm_task *tmg_g;

enum { NS_MS = 1000000 };

/* ---- notes: one futex word, one sleeper ---- */

static long futex(_Atomic int *addr, int op, int val, const struct timespec *ts)
{
    return syscall(SYS_futex, (int *)addr, op | FUTEX_PRIVATE_FLAG, val, ts, NULL, 0);
}

/* Sleep until tmg_note_wake (consuming it) or timeout_ns (< 0: none). */
void tmg_note_sleep(_Atomic int *note, int64_t timeout_ns)
{
    struct timespec ts = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
    /* acquire: pairs with the waker's release; whatever it set before
     * waking us (m->nextp) is visible */
    while (!atomic_exchange_explicit(note, 0, memory_order_acquire)) {
        long r = futex(note, FUTEX_WAIT, 0, timeout_ns >= 0 ? &ts : NULL);
        if (r < 0 && errno == ETIMEDOUT) {
            atomic_store_explicit(note, 0, memory_order_relaxed); /* a late wake is dropped */
            return;
        }
    }
}

void tmg_note_wake(_Atomic int *note)
{
    atomic_store_explicit(note, 1, memory_order_release);
    futex(note, FUTEX_WAKE, 1, NULL);
}

/* ---- G states ---- */

void tmg_gstatus(struct tm_task *gp, int from, int to)
{
#ifndef NDEBUG
    int cur = atomic_load_explicit(&gp->status, memory_order_relaxed);
    tm_assert(from < 0 || cur == from, "goroutine: bad G state transition");
#else
    (void)from;
#endif
    atomic_store_explicit(&gp->status, to, memory_order_relaxed);
}

/* ---- idle lists (sched.lock) ---- */

static void mput(struct m *mp)
{
    mp->link = S.midle;
    S.midle = mp;
    S.nmidle++;
}

static struct m *mget(void)
{
    struct m *mp = S.midle;
    if (mp) {
        S.midle = mp->link;
        S.nmidle--;
    }
    return mp;
}

static void pidleput(struct p *pp)
{
    tm_assert(tmg_runqempty(pp), "goroutine: an idle P with queued Gs");
    atomic_store_explicit(&pp->status, P_IDLE, memory_order_relaxed);
    atomic_store_explicit(&pp->m, NULL, memory_order_relaxed);
    pp->link = S.pidle;
    S.pidle = pp;
    atomic_fetch_add_explicit(&S.npidle, 1, memory_order_seq_cst);
}

static struct p *pidleget(void)
{
    struct p *pp = S.pidle;
    if (pp) {
        S.pidle = pp->link;
        atomic_fetch_sub_explicit(&S.npidle, 1, memory_order_seq_cst);
    }
    return pp;
}

static void acquirep(struct m *mp, struct p *pp)
{
    mp->p = pp;
    /* release: sysmon, reading pp->m, sees mp->self */
    atomic_store_explicit(&pp->m, mp, memory_order_release);
    atomic_store_explicit(&pp->status, P_RUNNING, memory_order_relaxed);
}

static struct p *releasep(struct m *mp)
{
    struct p *pp = mp->p;
    mp->p = NULL;
    atomic_store_explicit(&pp->m, NULL, memory_order_relaxed);
    return pp;
}

/* ---- starting and stopping Ms ---- */

static struct m *newm(struct p *pp, int spinning)
{
    struct m *mp = calloc(1, sizeof *mp);
    tm_assert(mp != NULL, "goroutine: out of memory for an M");
    mp->nextp = pp;
    mp->spinning = spinning;
    mp->status = spinning ? M_SPINNING : M_RUNNING;
    tmi_spin_lock(&S.lock);
    mp->id = S.mcount++;
    atomic_fetch_add_explicit(&S.mlive, 1, memory_order_relaxed);
    mp->alllink = S.allm;
    S.allm = mp;
    tmi_spin_unlock(&S.lock);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1024 * 1024); /* g0: scheduler code only (lazily committed) */
    int err = pthread_create(&mp->thread, &attr, tmg_mstart, mp);
    pthread_attr_destroy(&attr);
    /* An M is as vital as a P here: without one the queued work would
     * never run. Go throws in the same place ("newosproc"). */
    tm_assert(err == 0, "goroutine: cannot create a thread for an M");
    return mp;
}

/* Run pp (or, if NULL, an idle P) on an idle M, or on a new one. If
 * spinning, the caller has counted the M in nmspinning. Go's startm. */
void tmg_startm(struct p *pp, int spinning)
{
    tmi_spin_lock(&S.lock);
    if (!pp) {
        pp = pidleget();
        if (!pp) {
            tmi_spin_unlock(&S.lock);
            if (spinning) atomic_fetch_sub_explicit(&S.nmspinning, 1, memory_order_seq_cst);
            return;
        }
    }
    struct m *nmp = mget();
    tmi_spin_unlock(&S.lock);
    if (!nmp) {
        newm(pp, spinning);
        return;
    }
    nmp->spinning = spinning;
    nmp->nextp = pp;
    tmg_stat(&S.n_mwakes);
    tmg_note_wake(&nmp->note); /* release: nextp and spinning */
}

/* Park mp (no P) until startm hands it one. Returns 0 with a P, -1 when
 * the model stops. */
static int stopm(struct m *mp)
{
    tm_assert(!mp->p && !mp->spinning, "goroutine: stopm with a P or spinning");
    tmi_spin_lock(&S.lock);
    mput(mp);
    tmi_spin_unlock(&S.lock);
    mp->status = M_IDLE;
    tmg_note_sleep(&mp->note, -1);
    if (!mp->nextp) return -1; /* only fini wakes an M without a P */
    acquirep(mp, mp->nextp);
    mp->nextp = NULL;
    mp->status = mp->spinning ? M_SPINNING : M_RUNNING;
    return 0;
}

/* Someone made work runnable: if a P is idle and no M is spinning, start
 * one spinning M, which will find the work or, failing, wake nobody.
 *
 * The StoreLoad handshake (Go's "worker thread parking/unparking"): a
 * submitter stores its G into a queue, then reads npidle/nmspinning; a
 * spinning M that gives up decrements nmspinning, then reads every queue.
 * Each side puts a full fence between its store and its loads, so at
 * least one of them sees the other's store: either the submitter starts
 * an M or the giving-up M finds the G. */
void tmg_wakep(void)
{
    tmg_storeload();
    if (atomic_load_explicit(&S.npidle, memory_order_seq_cst) == 0) return;
    int zero = 0;
    if (atomic_load_explicit(&S.nmspinning, memory_order_seq_cst) != 0 ||
        !atomic_compare_exchange_strong_explicit(&S.nmspinning, &zero, 1, memory_order_seq_cst,
                                                 memory_order_seq_cst))
        return;
    tmg_startm(NULL, 1);
}

/* A spinning M found work: it stops spinning and, if it was the last
 * spinner, wakes another in case there is more. Go's resetspinning. */
static void resetspinning(struct m *mp)
{
    mp->spinning = 0;
    mp->status = M_RUNNING;
    int n = atomic_fetch_sub_explicit(&S.nmspinning, 1, memory_order_seq_cst) - 1;
    tm_assert(n >= 0, "goroutine: negative nmspinning");
    tmg_wakep();
}

/* pp was taken from an M in a blocking region (or from nothing): find it
 * an M if it has anything to do, else put it on the idle list. Go's
 * handoffp. Caller owns pp, holding no lock. */
void tmg_handoffp(struct p *pp)
{
    if (!tmg_runqempty(pp) || tmi_gq_len(&S.gq) != 0) {
        tmg_startm(pp, 0);
        return;
    }
    /* No local work: start a spinning M only if nobody else looks. */
    int zero = 0;
    if (atomic_load_explicit(&S.nmspinning, memory_order_seq_cst) +
                atomic_load_explicit(&S.npidle, memory_order_seq_cst) ==
            0 &&
        atomic_compare_exchange_strong_explicit(&S.nmspinning, &zero, 1, memory_order_seq_cst,
                                                memory_order_seq_cst)) {
        tmg_startm(pp, 1);
        return;
    }
    tmi_spin_lock(&S.lock);
    if (tmi_gq_len(&S.gq) != 0) {
        tmi_spin_unlock(&S.lock);
        tmg_startm(pp, 0);
        return;
    }
    /* The last running P, and nobody polls the network: an M must. */
    if (atomic_load_explicit(&S.npidle, memory_order_relaxed) == S.nprocs - 1 &&
        atomic_load_explicit(&S.lastpoll, memory_order_seq_cst) != 0) {
        tmi_spin_unlock(&S.lock);
        tmg_startm(pp, 0);
        return;
    }
    int64_t when = atomic_load_explicit(&pp->timer0, memory_order_relaxed);
    pidleput(pp);
    tmi_spin_unlock(&S.lock);
    /* its timers need an M that sleeps until them */
    if (when != INT64_MAX && atomic_load_explicit(&S.lastpoll, memory_order_seq_cst) == 0) {
        int64_t until = atomic_load_explicit(&S.polluntil, memory_order_relaxed);
        if (until == 0 || until > when) tmi_netpoll_wake();
    } else if (when != INT64_MAX) {
        tmg_wakep();
    }
}

/* ---- making Gs runnable ---- */

void tmg_ready_g(struct tm_task *gp, int next)
{
    struct m *mp = tmg_getm();
    tmg_gstatus(gp, -1, G_RUNNABLE);
    if (mp && mp->p) {
        tmg_runqput(mp->p, gp, next);
        /* with one P, the P running us is the only one: nobody to wake */
        if (S.nprocs > 1) tmg_wakep();
        return;
    }
    if (mp && mp->collecting) { /* an M polling without a P: queued after the poll */
        gp->schedlink = NULL;
        if (mp->polltail)
            mp->polltail->schedlink = gp;
        else
            mp->pollhead = gp;
        mp->polltail = gp;
        return;
    }
    tmg_globrunqput(gp);
    tmg_wakep();
}

/* Gs readied with no P held (the netpoller's M, sysmon): onto the caller's
 * P if it now has one, else the global queue, with an M started for each
 * idle P that can take one. Go's injectglist. */
void tmg_injectglist(struct tm_task *head)
{
    if (!head) return;
    struct m *mp = tmg_getm();
    if (mp && mp->p) {
        while (head) {
            struct tm_task *gp = head;
            head = gp->schedlink;
            tmg_runqput(mp->p, gp, 0);
        }
        if (S.nprocs > 1) tmg_wakep();
        return;
    }
    int n = 0;
    for (struct tm_task *gp = head, *next; gp; gp = next, n++) {
        next = gp->schedlink;
        gp->rn.next = next ? &next->rn : NULL;
    }
    struct tm_task *tail = head;
    while (tail->schedlink) tail = tail->schedlink;
    tmi_gq_put_batch(&S.gq, &head->rn, &tail->rn, n);
    for (int i = 0; i < n && atomic_load_explicit(&S.npidle, memory_order_seq_cst) > 0; i++)
        tmg_startm(NULL, 0);
}

/* ---- starting and ending Gs ---- */

static void g_main(struct tmi_transfer t);

/* ctx_san's protocol: leaving and entering contexts. The done G's data
 * is its heap record, never its stack (see ctx_san.h). */
static struct tmi_transfer save_g0(struct tmi_transfer t)
{
    ((struct m *)t.data)->g0ctx = t.ctx;
    return (struct tmi_transfer){NULL, NULL};
}

/* What ends a G, in every case (returned, or never started): mark it
 * done and wake its joiner, or recycle it. Runs on the M that ends it,
 * holding a P, after the G's last switch. */
static void g_done(struct m *mp, struct tm_task *gp)
{
    if (gp->detached) {
        tmg_gfput(mp->p, gp);
        return;
    }
    /* acq_rel: after this exchange a joiner may free gp; we read nothing
     * of gp after it */
    struct tm_waiter *j = atomic_exchange_explicit(&gp->joiner, TMG_JOIN_DONE,
                                                   memory_order_acq_rel);
    if (j && tm_waiter_claim(j)) tm_ready(j);
}

/* Give gp, which has never run, its stack and context. If no stack can be
 * had, end it as failed (tm_join reports ENOMEM) and return -1. */
int tmg_start_g(struct tm_task *gp)
{
    struct tmi_stack *s = tmi_stack_alloc();
    if (s) {
        s->owner = gp;
        gp->stack = s;
        gp->ctx = tmi_ctx_make(tmi_stack_top(s), s->size, g_main);
        tmi_ctx_san_init(&gp->san, s->lo, s->size);
        return 0;
    }
    gp->failed = 1;
    tmg_gstatus(gp, -1, G_DEAD);
    atomic_fetch_add_explicit(&S.n_start_failures, 1, memory_order_relaxed);
    g_done(tmg_getm(), gp);
    return -1;
}

/* Runs on the next context after a G's last switch. */
static struct tmi_transfer exit_commit(struct tmi_transfer t)
{
    struct tm_task *gp = t.data;
    tmi_ctx_san_fini(&gp->san);
    tmi_stack_free(gp->stack);
    gp->stack = NULL;
    g_done(tmg_getm(), gp);
    return (struct tmi_transfer){NULL, NULL};
}

static void g_main(struct tmi_transfer t)
{
    struct tm_task *gp = tmg_getg();
    tmi_ctx_san_enter(&gp->san);
    (void)t;
    tmi_preempt_enable(); /* 1 across the switch that started us */
    gp->fn(gp->arg);
    tmi_preempt_disable();
    tmg_gstatus(gp, G_RUNNING, G_DEAD);
    tmg_gswitch(gp, exit_commit, 1);
    tm_assert(0, "goroutine: a dead G was resumed");
}

/* ---- picking the next G ---- */

/* The next G from pp's own sources, never blocking: due timers, 1 in 61
 * picks from the global queue, runnext, the ring, then the global queue.
 * *inherit = 1 when it comes from runnext. Caller holds pp. */
static struct tm_task *pick_local(struct p *pp, int *inherit)
{
    int64_t next;
    if (atomic_load_explicit(&pp->timer0, memory_order_relaxed) != INT64_MAX)
        tmg_checktimers(pp, tm_now(), &next);
    *inherit = 0;
    struct tm_task *gp;
    if (++pp->schedtick_local % 61 == 0 && tmi_gq_len(&S.gq) > 0 &&
        (gp = tmg_globrunqget(pp, 1)) != NULL)
        return gp;
    if ((gp = tmg_runqget(pp, inherit)) || tmi_gq_len(&S.gq) == 0) return gp;
    return tmg_globrunqget(pp, 0);
}

/* pick_local, skipping Gs that end because they cannot get a stack. */
static struct tm_task *pick_started(struct p *pp, int *inherit)
{
    struct tm_task *gp;
    while ((gp = pick_local(pp, inherit)) != NULL && !gp->ctx && tmg_start_g(gp) != 0) {
    }
    return gp;
}

/* Make gp the running G of mp. */
static void set_running(struct m *mp, struct tm_task *gp, int inherit)
{
    struct p *pp = mp->p;
    if (!inherit)
        atomic_store_explicit(&pp->schedtick,
                              atomic_load_explicit(&pp->schedtick, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    atomic_store_explicit(&gp->preempt, 0, memory_order_relaxed);
    tmg_gstatus(gp, G_RUNNABLE, G_RUNNING);
    /* release: sysmon, reading curg, may then touch gp (its preempt flag) */
    atomic_store_explicit(&mp->curg, gp, memory_order_release);
    tmg_setg(gp);
    mp->status = M_RUNNING;
}

void tmg_gswitch(struct tm_task *gp, tmg_commit_fn commit, int from_done)
{
    struct m *mp = tmg_getm();
    tm_assert(tmi_preempt_depth() == 1, "goroutine: a switch with preemption disabled twice");
    if (gp->stack) tmi_stack_check(gp->stack);
    struct tm_task *next = NULL;
    int inherit = 0;
    if (mp->p && !atomic_load_explicit(&S.stopping, memory_order_relaxed))
        next = pick_started(mp->p, &inherit);
    int e = tmi_errno_get(); /* errno is the G's, not the M's */
    if (next) {
        set_running(mp, next, inherit);
        tmi_ctx_san_leave(&gp->san, &next->san, from_done);
        tmi_ctx_switch_call(next->ctx, gp, commit);
    } else {
        atomic_store_explicit(&mp->curg, NULL, memory_order_relaxed);
        tmg_setg(NULL);
        tmi_ctx_san_leave(&gp->san, &mp->g0san, from_done);
        tmi_ctx_switch_call(mp->g0ctx, gp, commit);
    }
    /* resumed, maybe on another M: re-read every thread-local */
    tmi_ctx_san_enter(&gp->san);
    tmi_errno_set(e);
}

/* yield: the leaving G goes to the ring's tail once it is off its stack. */
static struct tmi_transfer yield_commit(struct tmi_transfer t)
{
    struct tm_task *gp = t.data;
    gp->ctx = t.ctx;
    tmg_runqput(tmg_getm()->p, gp, 0);
    return (struct tmi_transfer){NULL, NULL};
}

/* Let the other Gs of this P (and the global queue) run; return at once
 * when there are none. Go's Gosched, but onto the local ring's tail rather
 * than the global queue: the same order on one P, and no lock. Caller: gp,
 * tmi_preempt_off == 1. */
void tmg_gosched(struct tm_task *gp)
{
    struct m *mp = tmg_getm();
    if (!mp->p) return;
    int inherit;
    struct tm_task *next = pick_started(mp->p, &inherit);
    if (!next) return;
    if (gp->stack) tmi_stack_check(gp->stack);
    atomic_store_explicit(&gp->preempt, 0, memory_order_relaxed);
    tmg_gstatus(gp, G_RUNNING, G_RUNNABLE);
    set_running(mp, next, inherit);
    int e = tmi_errno_get();
    tmi_ctx_san_leave(&gp->san, &next->san, 0);
    tmi_ctx_switch_call(next->ctx, gp, yield_commit);
    tmi_ctx_san_enter(&gp->san);
    tmi_errno_set(e);
}

/* ---- findrunnable: everything an M does before it blocks ---- */

/* Up to 4 rounds over the other Ps in random order; the last one also
 * takes runnext and fires due timers. Go's stealWork. */
static struct tm_task *stealwork(struct p *pp, int64_t *now, int64_t *polluntil, int *newwork)
{
    int n = S.nprocs;
    for (int round = 0; round < 4; round++) {
        int last = round == 3;
        int start = (int)(tmi_rand() % (uint64_t)n);
        for (int k = 0; k < n; k++) {
            struct p *p2 = &S.allp[(start + k) % n];
            if (p2 == pp) continue;
            if (last && atomic_load_explicit(&p2->timer0, memory_order_relaxed) != INT64_MAX) {
                int64_t w;
                *now = tm_now();
                int ran = tmg_checktimers(p2, *now, &w);
                if (w < *polluntil) *polluntil = w;
                if (ran) {
                    int inh;
                    struct tm_task *gp = tmg_runqget(pp, &inh);
                    if (gp) return gp;
                    *newwork = 1;
                }
            }
            if (atomic_load_explicit(&p2->status, memory_order_relaxed) != P_IDLE) {
                struct tm_task *gp = tmg_runqsteal(pp, p2, last);
                if (gp) return gp;
            }
        }
    }
    return NULL;
}

/* The earliest timer of any P, or INT64_MAX. */
static int64_t all_timers_next(void)
{
    int64_t m = INT64_MAX;
    for (int i = 0; i < S.nprocs; i++) {
        int64_t t = atomic_load_explicit(&S.allp[i].timer0, memory_order_relaxed);
        if (t < m) m = t;
    }
    return m;
}

/* Block in the netpoller until IO or `until` (INT64_MAX: no timer).
 * Returns the Gs it readied. mp holds no P. */
static struct tm_task *netpoll_block(struct m *mp, int64_t until)
{
    atomic_store_explicit(&S.polluntil, until == INT64_MAX ? 0 : until, memory_order_relaxed);
    mp->status = M_POLLING;
    mp->collecting = 1;
    tmi_netpoll_poll(until == INT64_MAX ? -1 : until);
    mp->collecting = 0;
    atomic_store_explicit(&S.polluntil, 0, memory_order_relaxed);
    atomic_store_explicit(&S.lastpoll, tm_now(), memory_order_seq_cst);
    struct tm_task *list = mp->pollhead;
    mp->pollhead = mp->polltail = NULL;
    return list;
}

/* Find a G to run, blocking if there is none. Returns NULL only when the
 * model stops. On g0 of mp, which holds a P on entry and on return. Go's
 * findRunnable. */
static struct tm_task *findrunnable(struct m *mp, int *inherit)
{
top:
    if (atomic_load_explicit(&S.stopping, memory_order_relaxed)) return NULL;
    struct p *pp = mp->p;
    struct tm_task *gp;
    int64_t now = tm_now(), polluntil = INT64_MAX, w;
    tmg_checktimers(pp, now, &w);
    polluntil = w;
    if ((gp = tmg_runqget(pp, inherit))) return gp;
    *inherit = 0;
    if (tmi_gq_len(&S.gq) > 0 && (gp = tmg_globrunqget(pp, 0))) return gp;
    /* Poll the network without blocking, unless an M already blocks in it. */
    if (tmi_netpoll_pending() > 0 && atomic_load_explicit(&S.lastpoll, memory_order_seq_cst) != 0) {
        if (tmi_netpoll_poll(0) > 0 && (gp = tmg_runqget(pp, inherit))) return gp;
    }
    /* Steal, if not too many Ms already do (at most half the busy Ps). */
    int busy = S.nprocs - atomic_load_explicit(&S.npidle, memory_order_seq_cst);
    if (mp->spinning || 2 * atomic_load_explicit(&S.nmspinning, memory_order_seq_cst) < busy) {
        if (!mp->spinning) {
            mp->spinning = 1;
            mp->status = M_SPINNING;
            atomic_fetch_add_explicit(&S.nmspinning, 1, memory_order_seq_cst);
        }
        int newwork = 0;
        gp = stealwork(pp, &now, &polluntil, &newwork);
        if (gp) return gp;
        if (newwork) goto top;
    }

    /* Nothing. Give the P back, then look at the global queue once more:
     * a submitter to it queues, then wakes an M if a P is idle (wakep);
     * we make the P idle, then look — with a full fence on each side, one
     * of us sees the other. */
    if ((gp = tmg_globrunqget(pp, 0))) return gp;
    tmi_spin_lock(&S.lock);
    releasep(mp);
    pidleput(pp);
    tmi_spin_unlock(&S.lock);
    tmg_storeload();
    if (tmi_gq_len(&S.gq) > 0) {
        tmi_spin_lock(&S.lock);
        pp = pidleget();
        tmi_spin_unlock(&S.lock);
        if (pp) { /* else whoever took the P will find the work */
            acquirep(mp, pp);
            goto top;
        }
    }

    int was_spinning = mp->spinning;
    if (mp->spinning) {
        mp->spinning = 0;
        atomic_fetch_sub_explicit(&S.nmspinning, 1, memory_order_seq_cst);
        /* the other half of wakep's StoreLoad handshake */
        tmg_storeload();
        for (int i = 0; i < S.nprocs; i++) {
            if (tmg_runqempty(&S.allp[i])) continue;
            tmi_spin_lock(&S.lock);
            pp = pidleget();
            tmi_spin_unlock(&S.lock);
            if (pp) {
                acquirep(mp, pp);
                mp->spinning = 1;
                mp->status = M_SPINNING;
                atomic_fetch_add_explicit(&S.nmspinning, 1, memory_order_seq_cst);
                goto top;
            }
            break;
        }
    }

    /* Become the poller: block in epoll until IO or the earliest timer of
     * any P. At most one M does (lastpoll == 0 while it blocks). */
    polluntil = all_timers_next();
    if ((tmi_netpoll_pending() > 0 || polluntil != INT64_MAX) &&
        atomic_exchange_explicit(&S.lastpoll, 0, memory_order_seq_cst) != 0) {
        struct tm_task *list = netpoll_block(mp, polluntil);
        tmi_spin_lock(&S.lock);
        pp = pidleget();
        tmi_spin_unlock(&S.lock);
        if (!pp) {
            tmg_injectglist(list);
        } else {
            acquirep(mp, pp);
            mp->status = M_RUNNING;
            if (list) {
                gp = list;
                tmg_injectglist(gp->schedlink);
                return gp;
            }
            if (was_spinning) {
                mp->spinning = 1;
                mp->status = M_SPINNING;
                atomic_fetch_add_explicit(&S.nmspinning, 1, memory_order_seq_cst);
            }
            goto top;
        }
    } else if (polluntil != INT64_MAX &&
               atomic_load_explicit(&S.lastpoll, memory_order_seq_cst) == 0) {
        /* Someone polls: make sure it wakes for our timers. */
        int64_t until = atomic_load_explicit(&S.polluntil, memory_order_relaxed);
        if (until == 0 || until > polluntil) tmi_netpoll_wake();
    }
    if (stopm(mp) != 0) return NULL;
    goto top;
}

/* The scheduler loop's one step: the next G to run on mp, started. NULL
 * when the model stops. On g0. */
static struct tm_task *schedule(struct m *mp, int *inherit)
{
    for (;;) {
        if (atomic_load_explicit(&S.stopping, memory_order_relaxed)) return NULL;
        if (!mp->p && stopm(mp) != 0) return NULL;
        struct tm_task *gp = pick_local(mp->p, inherit);
        if (!gp && !(gp = findrunnable(mp, inherit))) return NULL;
        if (mp->spinning) resetspinning(mp);
        if (gp->ctx || tmg_start_g(gp) == 0) return gp;
    }
}

static void execute(struct m *mp, struct tm_task *gp, int inherit)
{
    set_running(mp, gp, inherit);
    tmi_ctx_san_leave(&mp->g0san, &gp->san, 0);
    tmi_ctx_switch_call(gp->ctx, mp, save_g0);
    tmi_ctx_san_enter(&mp->g0san);
}

void *tmg_mstart(void *arg)
{
    struct m *mp = arg;
    tmg_setm(mp);
    mp->self = pthread_self();
    /* the mask tm_init's caller had: an M may be made by sysmon, which
     * blocks everything */
    pthread_sigmask(SIG_SETMASK, &S.sigmask, NULL);
    tmi_preempt_disable(); /* g0 runs at 1: never preempted */
    tm_assert(tmi_stack_thread_init() == 0, "goroutine: no memory for an M's signal stack");
    /* unblocks SIGURG here and records the signal stack for the handler */
    tm_assert(tmi_preempt_thread_init(&mp->pt, S.slice_ns) == 0,
              "goroutine: cannot set up preemption on an M");
    tmi_ctx_san_init_thread(&mp->g0san);
    if (mp->nextp) {
        acquirep(mp, mp->nextp);
        mp->nextp = NULL;
    }
    int inherit;
    struct tm_task *gp;
    while ((gp = schedule(mp, &inherit)) != NULL) execute(mp, gp, inherit);
    if (mp->p) {
        if (mp->spinning) atomic_fetch_sub_explicit(&S.nmspinning, 1, memory_order_seq_cst);
        mp->spinning = 0;
        releasep(mp);
    }
    tmi_ctx_san_fini(&mp->g0san);
    tmi_preempt_thread_fini(&mp->pt);
    tmi_stack_thread_fini();
    tmg_setm(NULL);
    tmi_preempt_enable();
    atomic_fetch_sub_explicit(&S.mlive, 1, memory_order_release);
    return NULL;
}

/* ---- blocking regions: Go's entersyscall / exitsyscall ---- */

void tmg_entersyscall(void)
{
    struct m *mp = tmg_getm();
    struct tm_task *gp = tmg_getg();
    if (!mp || !gp || !mp->p) return;
    struct p *pp = mp->p;
    tmg_gstatus(gp, G_RUNNING, G_SYSCALL);
    atomic_store_explicit(&pp->syscalltick,
                          atomic_load_explicit(&pp->syscalltick, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    mp->oldp = pp;
    mp->p = NULL;
    mp->status = M_SYSCALL;
    atomic_fetch_add_explicit(&S.nmsyscall, 1, memory_order_relaxed);
    /* release: whoever CASes the P away (sysmon) gets it with everything
     * we wrote to it */
    atomic_store_explicit(&pp->status, P_SYSCALL, memory_order_release);
    if (atomic_load_explicit(&S.sysmon_deep, memory_order_relaxed)) tmg_sysmon_wake();
}

/* exitsyscall could not get a P: on g0, queue the G globally unless an
 * idle P turned up meanwhile. (A P going idle after our look re-checks the
 * global queue: see findrunnable.) Then g0's schedule runs it or parks
 * the M. */
static struct tmi_transfer syscall_commit(struct tmi_transfer t)
{
    struct tm_task *gp = t.data;
    struct m *mp = tmg_getm();
    gp->ctx = t.ctx;
    tmi_spin_lock(&S.lock);
    struct p *pp = pidleget();
    tmi_spin_unlock(&S.lock);
    if (pp) {
        acquirep(mp, pp);
        tmg_runqput(pp, gp, 1);
    } else {
        tmg_globrunqput(gp);
        tmg_wakep();
    }
    return (struct tmi_transfer){NULL, NULL};
}

void tmg_exitsyscall(void)
{
    struct m *mp = tmg_getm();
    struct tm_task *gp = tmg_getg();
    if (!mp || !gp || atomic_load_explicit(&gp->status, memory_order_relaxed) != G_SYSCALL)
        return;
    struct p *pp = mp->oldp;
    mp->oldp = NULL;
    atomic_fetch_sub_explicit(&S.nmsyscall, 1, memory_order_relaxed);
    int expect = P_SYSCALL;
    /* acquire: the P comes back with what its last holder wrote */
    if (pp && atomic_compare_exchange_strong_explicit(&pp->status, &expect, P_RUNNING,
                                                      memory_order_acquire,
                                                      memory_order_relaxed)) {
        mp->p = pp;
        mp->status = M_RUNNING;
        tmg_gstatus(gp, G_SYSCALL, G_RUNNING);
        return;
    }
    /* Sysmon took it. Any idle P? */
    if (atomic_load_explicit(&S.npidle, memory_order_seq_cst) > 0) {
        tmi_spin_lock(&S.lock);
        pp = pidleget();
        tmi_spin_unlock(&S.lock);
        if (pp) {
            acquirep(mp, pp);
            mp->status = M_RUNNING;
            tmg_gstatus(gp, G_SYSCALL, G_RUNNING);
            return;
        }
    }
    /* None: the G waits in the global queue; this M parks on g0. */
    tmg_gstatus(gp, G_SYSCALL, G_RUNNABLE);
    atomic_store_explicit(&mp->curg, NULL, memory_order_relaxed);
    tmg_setg(NULL);
    int e = tmi_errno_get();
    tmi_ctx_san_leave(&gp->san, &mp->g0san, 0);
    tmi_ctx_switch_call(mp->g0ctx, gp, syscall_commit);
    tmi_ctx_san_enter(&gp->san);
    tmi_errno_set(e);
}
