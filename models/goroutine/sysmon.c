/* sysmon.c — the monitor thread and asynchronous preemption.
 *
 * Design note
 * ===========
 * sysmon is one kernel thread that holds no P and runs no G (Go's sysmon,
 * runtime/proc.go). Every 20 us, backing off to 10 ms while nothing
 * happens, it looks at every P:
 *
 *  (a) P_SYSCALL: its M is in a blocking region. If the region has lasted
 *      across one whole sysmon tick (its syscalltick did not move), sysmon
 *      CASes the P to P_IDLE and hands it off (handoffp: to an M if it has
 *      work, or spinning, or idle). A short region costs its M a few
 *      stores and nobody a wake-up; a long one costs 20-40 us of that P.
 *      A P with no work is left alone for 10 ms when others are idle.
 *  (b) P_RUNNING with the same schedtick as a slice ago (the same G, or a
 *      chain of Gs readied into runnext, which inherit the slice): its G
 *      is asked to stop (g->preempt = 1) and its M gets SIGURG, at most one
 *      pending at a time.
 *  (c) the netpoller: if nobody polled for 10 ms (every M busy), sysmon
 *      polls without blocking and injects what it readied.
 *  (d) timers overdue while a P is idle: start an M for that P, which runs
 *      them in its steal rounds (Go's sysmon does the same).
 *  (e) timers overdue while every P is busy: preempt the G of each P whose
 *      timers are due, so its schedule fires them (the woken G goes to
 *      runnext and runs next). Go leaves them to the next preemption, up
 *      to a slice late. Here the M arming such a timer also sets its own
 *      one-shot timer signal for the deadline (tmg_timer_signal: the
 *      kernel interrupts the running thread, no third thread needs a
 *      core), and sysmon, sleeping no longer than the earliest timer while
 *      no P idles, is the fallback. A sleeper behind a CPU hog is late by
 *      about one signal delivery, not by a slice.
 *
 * While any P runs, the back-off stops at half the slice, so a G that
 * overruns is preempted between 1 and 1.5 slices after it started. When
 * sysmon sleeps for 1 ms or more, tm_blocking_enter wakes it, so a
 * blocking region never waits for a long sleep to end.
 *
 * Asynchronous preemption is scheduler/preempt.c, shared with the mn
 * model (its note explains the handler: it runs on the interrupted G's
 * stack, decides whether the point is safe — tmi_preempt_off was 0, the
 * PC is in the executable's own code, the build allows it — and calls our
 * tmg_tick there; with no foreign frame, such as a libc callback, on the
 * G's stack). What differs from mn is who sends the signal: not a
 * timer per M every slice, but sysmon, once, to an M whose G overran (at
 * most one signal pending per M). At a safe point tmg_tick switches the G
 * out from inside the handler (it goes to the global queue, as Go's
 * gopreempt_m); when it is resumed, on any M, the handler returns and
 * sigreturn restores every register. Elsewhere the request stays in
 * g->preempt and is honoured at the G's next model call (op_leave), or by
 * the next signal sysmon sends while the G keeps running. Under TSan only
 * the flag works (preempt.c says why).
 *
 * Rejected: the periodic per-M timer signal of the mn model for slices
 * (preempt.c's timers) — sysmon already watches every P for blocking
 * regions, and signalling only Gs that overran costs nothing while
 * everybody yields. The price: sysmon is a third thread that must get a
 * core to act, and when every core is busy the kernel may make it wait a
 * few milliseconds — which is why timers due on busy Ps use the M's own
 * timer as a one-shot ((e)). Also rejected: Go's mechanism of injecting a
 * call to an assembly stub (asyncPreempt) — the kernel's signal frame
 * already holds every register; a sysmon that sleeps a fixed 20 us (Go's
 * back-off keeps an idle process idle).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "goroutine.h"
#include "netpoll.h"

#define S tmg_sched

enum { US = 1000, MS = 1000000 };

/* ---- preempting a G ---- */

/* After the preempted G's switch: it waits in the global queue, behind
 * everything already there (Go's gopreempt_m). */
static struct tmi_transfer preempt_commit(struct tmi_transfer t)
{
    struct tm_task *gp = t.data;
    gp->ctx = t.ctx;
    tmg_globrunqput(gp);
    return (struct tmi_transfer){NULL, NULL};
}

/* Switch the running G gp out. Caller: gp, tmi_preempt_off == 1. */
static void preempt_switch(struct tm_task *gp)
{
    tmg_gstatus(gp, G_RUNNING, G_RUNNABLE);
    tmg_gswitch(gp, preempt_commit, TMI_WHY_PREEMPT);
}

void tmg_preempt_check(void)
{
    struct tm_task *gp = tmg_getg();
    if (!gp || tmi_preempt_depth() != 0) return;
    tmi_preempt_disable();
    struct m *mp = tmg_getm();
    if (mp->p && atomic_exchange_explicit(&gp->preempt, 0, memory_order_relaxed)) {
        tmg_stat(&mp->p->n_preempt_sync);
        preempt_switch(gp);
    }
    tmi_preempt_enable();
}

/* preempt.c's handler calls this on the interrupted stack with
 * tmi_preempt_off raised by one. The signal comes from sysmon, to an M
 * whose G overran its slice (g->preempt set), or from the M's own one-shot
 * timer, when its P has a timer due (tsig_when). Safe to switch here:
 * the G was running its own code (was_off == 0) in the executable
 * (pc_ok), with no foreign frame on its stack (a libc callback). */
void tmg_tick(const struct tmi_preempt_point *pt)
{
    struct m *mp = tmg_getm();
    if (!mp) return;
    atomic_store_explicit(&mp->signal_pending, 0, memory_order_relaxed);
    struct tm_task *gp = tmg_getg();
    /* this M's one-shot timer signal: its P has a timer due (see (e)) */
    int64_t tw = atomic_load_explicit(&mp->tsig_when, memory_order_relaxed);
    if (tw && tm_now() >= tw) {
        atomic_store_explicit(&mp->tsig_when, 0, memory_order_relaxed);
        if (gp && mp->p && atomic_load_explicit(&mp->p->timer0, memory_order_relaxed) <= tw)
            atomic_store_explicit(&gp->preempt, 1, memory_order_relaxed);
    }
    if (!gp || !mp->p || pt->was_off != 0 || !pt->pc_ok || !gp->stack ||
        atomic_load_explicit(&gp->status, memory_order_relaxed) != G_RUNNING ||
        !atomic_load_explicit(&gp->preempt, memory_order_relaxed) ||
        !tmi_preempt_frames_ok(pt, gp->stack->lo, tmi_stack_top(gp->stack), gp->base_fp) ||
        !atomic_exchange_explicit(&gp->preempt, 0, memory_order_relaxed))
        return; /* the flag, if set, is honoured at the G's next model call */
    atomic_fetch_add_explicit(&S.n_preempt_async, 1, memory_order_relaxed);
    tmi_preempt_unblock(); /* or this M runs its next Gs with SIGURG blocked */
    preempt_switch(gp);
    /* resumed, perhaps on another M: the handler takes it from here */
}

void tmg_timer_signal(int64_t when)
{
    struct m *mp = tmg_getm();
    if (!mp || !mp->pt.created) return;
    int64_t armed = atomic_load_explicit(&mp->tsig_when, memory_order_relaxed);
    if (armed && armed <= when) return; /* an earlier one will do */
    atomic_store_explicit(&mp->tsig_when, when, memory_order_relaxed);
    struct itimerspec its = {
        .it_value = {.tv_sec = when / 1000000000, .tv_nsec = when % 1000000000}};
    timer_settime(mp->pt.id, TIMER_ABSTIME, &its, NULL); /* CLOCK_MONOTONIC, as tm_now */
}

/* Ask the G running on pp to stop. Go's preemptone. */
static void preemptone(struct p *pp)
{
    /* acquire: pairs with acquirep's release; mp->self is then set */
    struct m *mp = atomic_load_explicit(&pp->m, memory_order_acquire);
    if (!mp) return;
    /* acquire: pairs with set_running's release */
    struct tm_task *gp = atomic_load_explicit(&mp->curg, memory_order_acquire);
    if (!gp) return;
    /* A G struct is never freed while the model runs: at worst this flags
     * a G that has since switched out; execute clears it. */
    atomic_store_explicit(&gp->preempt, 1, memory_order_relaxed);
    int zero = 0;
    if (atomic_compare_exchange_strong_explicit(&mp->signal_pending, &zero, 1, memory_order_relaxed,
                                                memory_order_relaxed)) {
        atomic_fetch_add_explicit(&S.n_preempt_signals, 1, memory_order_relaxed);
        pthread_kill(mp->self, TMI_PREEMPT_SIGNAL);
    }
}

/* ---- sysmon ---- */

struct pdinfo { /* sysmon's last look at a P; sysmon only */
    uint32_t schedtick, syscalltick;
    int64_t schedwhen, syscallwhen;
};

static struct pdinfo *pds;

/* One pass over the Ps: (a) and (b). Returns 1 if it saw syscall
 * activity (sysmon then stays alert). Go's retake. */
static int retake(int64_t now)
{
    int active = 0;
    for (int i = 0; i < S.nprocs; i++) {
        struct p *pp = &S.allp[i];
        struct pdinfo *pd = &pds[i];
        int s = atomic_load_explicit(&pp->status, memory_order_relaxed);
        if (s == P_RUNNING) {
            uint32_t t = atomic_load_explicit(&pp->schedtick, memory_order_relaxed);
            if (pd->schedtick != t) {
                pd->schedtick = t;
                pd->schedwhen = now;
            } else if (now - pd->schedwhen >= S.slice_ns) {
                preemptone(pp);
            }
        } else if (s == P_SYSCALL) {
            uint32_t t = atomic_load_explicit(&pp->syscalltick, memory_order_relaxed);
            if (pd->syscalltick != t) {
                pd->syscalltick = t;
                pd->syscallwhen = now;
                active = 1;
                continue;
            }
            if (tmg_runqempty(pp) &&
                atomic_load_explicit(&S.nmspinning, memory_order_seq_cst) +
                        atomic_load_explicit(&S.npidle, memory_order_seq_cst) >
                    0 &&
                pd->syscallwhen + 10 * MS > now)
                continue;
            int expect = P_SYSCALL;
            /* acq_rel: we take the P with what its M wrote (entersyscall's
             * release), and hand it on */
            if (atomic_compare_exchange_strong_explicit(
                    &pp->status, &expect, P_IDLE, memory_order_acq_rel, memory_order_relaxed)) {
                active = 1;
                atomic_fetch_add_explicit(&S.n_handoffs, 1, memory_order_relaxed);
                tmg_handoffp(pp);
            }
        }
    }
    return active;
}

static struct m sysmon_m; /* collects Gs its netpoll readies (no P) */

static void *sysmon_main(void *arg)
{
    (void)arg;
    tmg_setm(&sysmon_m);
    sysmon_m.collecting = 1;
    int64_t delay = 20 * US;
    int idle = 0;
    while (!atomic_load_explicit(&S.stopping, memory_order_relaxed)) {
        if (idle == 0)
            delay = 20 * US;
        else if (idle > 50)
            delay *= 2;
        if (delay > 10 * MS) delay = 10 * MS;
        int64_t cap = S.slice_ns / 2 > 20 * US ? S.slice_ns / 2 : 20 * US;
        int npidle = atomic_load_explicit(&S.npidle, memory_order_relaxed);
        if (delay > cap && npidle < S.nprocs) delay = cap;
        if (npidle == 0) { /* (e): wake for the earliest timer */
            int64_t until = tmg_timers_next() - tm_now();
            if (until < delay) delay = until > 20 * US ? until : 20 * US;
        }
        atomic_store_explicit(&S.sysmon_deep, delay >= MS, memory_order_relaxed);
        tmg_note_sleep(&S.sysmon_note, delay);
        atomic_store_explicit(&S.sysmon_deep, 0, memory_order_relaxed);
        if (atomic_load_explicit(&S.stopping, memory_order_relaxed)) break;
        int64_t now = tm_now();

        /* (c) poll the network if nobody has for 10 ms */
        int64_t last = atomic_load_explicit(&S.lastpoll, memory_order_seq_cst);
        if (tmi_netpoll_pending() > 0 && last != 0 && last + 10 * MS < now &&
            atomic_compare_exchange_strong_explicit(&S.lastpoll, &last, now, memory_order_seq_cst,
                                                    memory_order_seq_cst)) {
            tmi_netpoll_poll(0);
            struct tm_task *list = sysmon_m.pollhead;
            sysmon_m.pollhead = sysmon_m.polltail = NULL;
            if (list) {
                atomic_fetch_add_explicit(&S.n_netpoll_sysmon, 1, memory_order_relaxed);
                tmg_injectglist(list);
            }
        }

        /* (a), (b) */
        if (retake(now)) idle = -1;

        /* (d) a timer is overdue and a P idles: give that P an M */
        int64_t next = tmg_timers_next();
        if (next < now - MS && atomic_load_explicit(&S.npidle, memory_order_seq_cst) > 0 &&
            atomic_load_explicit(&S.lastpoll, memory_order_seq_cst) != 0) {
            tmg_startm(NULL, 0);
            idle = -1;
        }
        /* (e) timers due on busy Ps, and no P to run them elsewhere */
        if (next <= now && atomic_load_explicit(&S.npidle, memory_order_seq_cst) == 0) {
            for (int i = 0; i < S.nprocs; i++) {
                struct p *pp = &S.allp[i];
                if (atomic_load_explicit(&pp->timer0, memory_order_relaxed) <= now &&
                    atomic_load_explicit(&pp->status, memory_order_relaxed) == P_RUNNING) {
                    atomic_fetch_add_explicit(&S.n_timer_preempts, 1, memory_order_relaxed);
                    preemptone(pp);
                }
            }
        }
        idle++;
    }
    tmg_setm(NULL);
    return NULL;
}

int tmg_sysmon_start(void)
{
    pds = calloc((size_t)S.nprocs, sizeof *pds);
    if (!pds) return -1;
    /* sysmon takes no signals meant for Ms, nor the harness's */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int err = pthread_create(&S.sysmon, NULL, sysmon_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        free(pds);
        pds = NULL;
        errno = err;
        return -1;
    }
    S.sysmon_started = 1;
    return 0;
}

void tmg_sysmon_wake(void)
{
    tmg_note_wake(&S.sysmon_note);
}

void tmg_sysmon_stop(void)
{
    if (!S.sysmon_started) return;
    tmg_sysmon_wake();
    pthread_join(S.sysmon, NULL);
    S.sysmon_started = 0;
    free(pds);
    pds = NULL;
}
