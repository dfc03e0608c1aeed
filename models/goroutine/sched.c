/* sched.c — the goroutine model's scheduler: Go's G/M/P design in C.
 *
 * Design note
 * ===========
 * This is the Go runtime's scheduler (runtime/proc.go, Go 1.19) rebuilt on
 * tmbench's building blocks: contexts (scheduler/ctx), pooled stacks, the
 * shared run queue (scheduler/runq), netpoller, deadline heap and
 * preemption handler (scheduler/preempt), and the park/ready seam on which
 * channels, mutexes and wait groups are written once. Files: this one
 * decides who runs next; m.c moves Ms and Ps around (parking, waking,
 * hand-offs, blocking regions); p.c is what a P owns (run queue, free Gs,
 * timers); sysmon.c is the monitor thread and preemption; glue.c is the
 * tm_model_ops table.
 *
 * G, M, P. A G is a task (struct tm_task): a function, a context and —
 * from its first run until it returns — a stack. An M is a kernel thread.
 * A P is the right to run Gs; there are exactly procs (GOMAXPROCS) of
 * them, so at most procs Gs run at once however many Ms exist. An M needs
 * a P to run a G; it gives the P up when it blocks (a blocking region, or
 * nothing to do), so the P goes on with another M. Each P owns a run
 * queue — runnext and a 256-slot ring — and a timer heap; behind them is
 * the global run queue. The enums in goroutine.h say, state by state, who
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
 * running it. The idle M and P lists and the shared G free list are under
 * sched.lock, the global run queue under its own lock (runq.h), a P's
 * timers under its tlock — spin locks held for a few instructions, never
 * across a blocking call. A parked G belongs to whoever wins its waiter.
 *
 * Scheduling. schedule() (on an M's own stack, "g0") takes the next G:
 * due timers of its P first, then 1 pick in 61 from the global queue (so
 * it cannot starve), runnext, the ring; otherwise findrunnable(): the
 * global queue, a non-blocking netpoll, and stealing — up to 4 rounds over
 * the other Ps in random order, taking half a victim's ring, and in the
 * last round its runnext and its due timers. Only procs/2 Ms spin at once
 * (M_SPINNING); a spinning M that finds work wakes another (resetspinning),
 * and submitting work wakes one only when none spins (wakep). Finding
 * nothing, an M gives its P back, rechecks every ring and the global queue
 * (the StoreLoad handshake with wakep: m.c), and then either becomes the
 * poller — blocking in epoll until IO or the earliest timer of any P — or
 * parks.
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
 * still ends the pair's slice after 10 ms if a hog waits. A joiner is
 * woken at the ring's tail instead: a join waits for an end, not for a
 * message. A G that ends while the next G has never run hands it its stack
 * and runs it in place (g_main): spawn-heavy trees mostly run that way.
 * errno belongs to the G: read before a switch, written on the M where
 * the G resumes.
 *
 * Blocking regions (tm_blocking_enter/exit) are Go's entersyscall /
 * exitsyscall: enter only marks the P P_SYSCALL (a few stores, no
 * wake-up); sysmon retakes a P that stayed there across one of its ticks
 * (20 us+) and hands it to another M. exit CASes its old P back; failing
 * that it takes an idle P; failing that its G goes to the global queue
 * and the M parks.
 *
 * Timers. A G parking with a deadline puts its timer on its P's heap.
 * The owner fires due timers in schedule; a stealing M fires a victim's in
 * its last round; the poller M sleeps until the earliest timer of all Ps.
 * When every P is busy, the arming M sets its own one-shot timer signal
 * for the deadline and sysmon backs it up (sysmon.c, (e)), so a hog delays
 * a sleeper by about a signal delivery, not by a slice.
 *
 * Invariants. tmi_preempt_off is 1 at every switch (model code raises it
 * at each entry; g0 keeps it at 1; a new G drops it to 0 in g_main), so
 * the preemption signal never interrupts scheduler code. An idle P has an
 * empty ring. A G is on at most one queue. Nothing blocks while holding a
 * spin lock.
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
 *  - A periodic timer signal per M for slice preemption (the mn model's
 *    way): sysmon already watches every P for syscalls, and preempting only
 *    Gs that overran costs nothing while everybody yields. (The M's timer
 *    is used as a one-shot, only for timers due while every P is busy.)
 *  - The tm_run caller's thread as M0: tm_run must return when the main G
 *    ends wherever it runs; making the caller wait on a futex keeps every
 *    M alike.
 *  - A global timer heap (Go before 1.14): one lock for every sleep.
 *  - A G's stack at spawn (Go's way, 2-8 KiB each): a million queued Gs
 *    would pin a million stacks; here a queued G is a 168-byte struct.
 */
#include <errno.h>
#include <stdio.h>

#include "goroutine.h"
#include "netpoll.h"

#define S tmg_sched

struct sched tmg_sched;
_Thread_local struct m *tmg_m;
_Thread_local struct tm_task *tmg_g;

enum { NS_MS = 1000000 };

/* ---- starting and ending Gs ---- */

static void g_main(struct tmi_transfer t);

/* execute's commit: g0 records where it stopped. */
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
    struct tm_waiter *j =
        atomic_exchange_explicit(&gp->joiner, TMG_JOIN_DONE, memory_order_acq_rel);
    /* at the back of the queue, not in runnext: a join waits for an end,
     * not for a message, and what was spawned alongside gp (typically the
     * rest of the joiner's batch) runs first, so the joiner does not bounce
     * back once per G */
    if (j && tm_waiter_claim(j)) tmg_ready_w(j, 0);
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

/* ---- picking the next G ---- */

/* The next G from pp's own sources, never blocking: a G whose timer just
 * fired, 1 in 61 picks from the global queue, runnext, the ring, then the
 * global queue.
 * *inherit = 1 when it comes from runnext. Caller holds pp. */
static struct tm_task *pick_local(struct p *pp, int *inherit)
{
    int64_t next;
    struct tm_task *gp;
    /* A G whose deadline just passed (now in runnext) goes first, even
     * before the 1-in-61 global pick: it has waited long enough. */
    if (atomic_load_explicit(&pp->timer0, memory_order_relaxed) != INT64_MAX &&
        tmg_checktimers(pp, tm_now(), &next) > 0 && (gp = tmg_runqget(pp, inherit)) != NULL)
        return gp;
    *inherit = 0;
    if (--pp->global_in == 0) {
        pp->global_in = 61;
        if (tmi_gq_len(&S.gq) > 0 && (gp = tmg_globrunqget(pp, 1)) != NULL) return gp;
    }
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

/* Switch from gp to next (started), or to g0 when next is NULL, running
 * commit on the other side. Returns when gp runs again, maybe on another M.
 * Caller: gp, holding mp's P (if any), tmi_preempt_off == 1. */
void tmg_switch_to(struct m *mp, struct tm_task *gp, struct tm_task *next, int inherit,
                   tmg_commit_fn commit, int why)
{
    tm_assert(tmi_preempt_depth() == 1, "goroutine: a switch with preemption disabled twice");
    if (gp->stack) tmi_stack_check(gp->stack);
    int from_done = why == TMI_WHY_EXIT;
    int e = errno; /* errno is the G's, not the M's: carried to where it resumes */
    TMI_TRACE_SWITCH_RUNQ(gp->id, why, next ? next->id : 0, mp->p ? tmi_runq_len(&mp->p->rq) : 0);
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
    /* resumed, maybe on another M: thread-locals are re-read from here on */
    tmi_ctx_san_enter(&gp->san);
    tmg_errno_carry(mp, e);
}

void tmg_gswitch(struct tm_task *gp, tmg_commit_fn commit, int why)
{
    struct m *mp = tmg_getm();
    struct tm_task *next = NULL;
    int inherit = 0;
    if (mp->p && !atomic_load_explicit(&S.stopping, memory_order_relaxed))
        next = pick_started(mp->p, &inherit);
    tmg_switch_to(mp, gp, next, inherit, commit, why);
}

/* Stack hand-over (as the coro model): a G that ends while the next G of
 * its P has never run lends that G its stack and calls its function right
 * here — no stack to free and allocate, no context to make, no switch.
 * Spawn-heavy work (spawn, skynet, fib) mostly runs this way. Off under
 * ASan and TSan, whose bookkeeping assumes one task per context. */
#if defined(TMI_CTX_ASAN) || defined(TMI_CTX_TSAN)
enum { HAND_OVER = 0 };
#else
enum { HAND_OVER = 1 };
#endif

static void g_main(struct tmi_transfer t)
{
    struct tm_task *gp = tmg_getg();
    tmi_ctx_san_enter(&gp->san);
    (void)t;
    for (;;) {
        gp->base_fp = __builtin_frame_address(0);
        tmi_preempt_enable(); /* 1 across the switch (or hand-over) that started us */
        gp->fn(gp->arg);
        tmi_preempt_disable();
        tmg_gstatus(gp, G_RUNNING, G_DEAD);
        struct m *mp = tmg_getm();
        struct tm_task *next = NULL;
        int inherit = 0;
        if (mp->p && !atomic_load_explicit(&S.stopping, memory_order_relaxed))
            next = pick_local(mp->p, &inherit);
        if (HAND_OVER && next && !next->ctx) {
            struct tmi_stack *s = gp->stack;
            tmi_stack_check(s);
            TMI_TRACE_SWITCH(gp->id, TMI_WHY_EXIT, next->id);
            gp->stack = NULL;
            g_done(mp, gp); /* gp may be reused from here on */
            s->owner = next;
            next->stack = s;
            set_running(mp, next, inherit);
            gp = next;
            continue;
        }
        while (next && !next->ctx && tmg_start_g(next) != 0)
            next = pick_local(mp->p, &inherit);
        tmg_switch_to(mp, gp, next, inherit, exit_commit, TMI_WHY_EXIT);
        tm_assert(0, "goroutine: a dead G was resumed");
    }
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
    atomic_store_explicit(&gp->preempt, 0, memory_order_relaxed);
    tmg_gstatus(gp, G_RUNNING, G_RUNNABLE);
    tmg_switch_to(mp, gp, next, inherit, yield_commit, TMI_WHY_YIELD);
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
                if (gp) {
                    TMI_TRACE_STEAL(gp->id, p2->id, 1 + tmi_runq_ring_len(&pp->rq));
                    return gp;
                }
            }
        }
    }
    return NULL;
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
    /* Poll the network without blocking, unless an M already blocks in it.
     * Recording the poll (unlike Go) keeps sysmon's own poll, meant for
     * when nobody polls, out of the way of Ms that poll all the time. */
    int64_t last;
    if (tmi_netpoll_pending() > 0 &&
        (last = atomic_load_explicit(&S.lastpoll, memory_order_seq_cst)) != 0) {
        atomic_compare_exchange_strong_explicit(&S.lastpoll, &last, now, memory_order_seq_cst,
                                                memory_order_relaxed);
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
    tmg_releasep(mp);
    tmg_pidleput(pp);
    tmi_spin_unlock(&S.lock);
    tmg_storeload();
    if (tmi_gq_len(&S.gq) > 0) {
        tmi_spin_lock(&S.lock);
        pp = tmg_pidleget();
        tmi_spin_unlock(&S.lock);
        if (pp) { /* else whoever took the P will find the work */
            tmg_acquirep(mp, pp);
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
            pp = tmg_pidleget();
            tmi_spin_unlock(&S.lock);
            if (pp) {
                tmg_acquirep(mp, pp);
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
    polluntil = tmg_timers_next();
    if ((tmi_netpoll_pending() > 0 || polluntil != INT64_MAX) &&
        atomic_exchange_explicit(&S.lastpoll, 0, memory_order_seq_cst) != 0) {
        struct tm_task *list = netpoll_block(mp, polluntil);
        tmi_spin_lock(&S.lock);
        pp = tmg_pidleget();
        tmi_spin_unlock(&S.lock);
        if (!pp) {
            tmg_injectglist(list);
        } else {
            tmg_acquirep(mp, pp);
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
    if (tmg_stopm(mp) != 0) return NULL;
    goto top;
}

/* The scheduler loop's one step: the next G to run on mp, started. NULL
 * when the model stops. On g0. */
static struct tm_task *schedule(struct m *mp, int *inherit)
{
    for (;;) {
        if (atomic_load_explicit(&S.stopping, memory_order_relaxed)) return NULL;
        if (!mp->p && tmg_stopm(mp) != 0) return NULL;
        struct tm_task *gp = pick_local(mp->p, inherit);
        if (!gp && !(gp = findrunnable(mp, inherit))) return NULL;
        if (mp->spinning) tmg_resetspinning(mp);
        if (gp->ctx || tmg_start_g(gp) == 0) return gp;
    }
}

static void execute(struct m *mp, struct tm_task *gp, int inherit)
{
    set_running(mp, gp, inherit);
    TMI_TRACE_SWITCH_RUNQ(0, TMI_WHY_YIELD, gp->id, tmi_runq_len(&mp->p->rq));
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
    if (TMI_TRACE_ENABLED()) {
        char name[32];
        snprintf(name, sizeof name, "goroutine M%d", mp->id);
        TMI_TRACE_NAME(name);
    }
    tm_assert(tmi_stack_thread_init() == 0, "goroutine: no memory for an M's signal stack");
    /* unblocks SIGURG here and records the signal stack for the handler */
    tm_assert(tmi_preempt_thread_init(&mp->pt, S.slice_ns) == 0,
              "goroutine: cannot set up preemption on an M");
    tmi_ctx_san_init_thread(&mp->g0san);
    if (mp->nextp) {
        tmg_acquirep(mp, mp->nextp);
        mp->nextp = NULL;
    }
    int inherit;
    struct tm_task *gp;
    while ((gp = schedule(mp, &inherit)) != NULL)
        execute(mp, gp, inherit);
    if (mp->p) {
        if (mp->spinning) atomic_fetch_sub_explicit(&S.nmspinning, 1, memory_order_seq_cst);
        mp->spinning = 0;
        tmg_releasep(mp);
    }
    tmi_ctx_san_fini(&mp->g0san);
    tmi_preempt_thread_fini(&mp->pt);
    tmi_stack_thread_fini();
    tmg_setm(NULL);
    tmi_preempt_enable();
    atomic_fetch_sub_explicit(&S.mlive, 1, memory_order_release);
    return NULL;
}
