/* goroutine.h — internals of the goroutine model, shared by its files:
 *
 *   sched.c   the design note; who runs next: starting, switching and
 *             ending Gs, schedule / findrunnable / stealing, the M loop
 *   m.c       Ms and Ps changing hands: parking and waking Ms (startm,
 *             stopm, wakep), handoffp, ready, blocking regions
 *   p.c       what a P owns: its run queue (scheduler/runq.h, with Go's
 *             rules on top), G free lists, its timers
 *   sysmon.c  the monitor thread and asynchronous preemption
 *   glue.c    the tm_model_ops table: init, run, spawn, join, park, ...
 *
 * Names: tmg_ for functions shared between these files (the model's own
 * layer, between tmi_ shared internals and static helpers); G, M and P are
 * Go's words and are used as such in comments.
 */
#ifndef TMG_GOROUTINE_H
#define TMG_GOROUTINE_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ctx/ctx.h"
#include "model.h"
#include "preempt.h"
#include "runq.h"
#include "stack.h"
#include "timer.h"
#include "tmi.h"
#include "trace.h"

/* ---- G: a goroutine (struct tm_task to the public API) ---------------- */

/* G states. The paragraph says who owns the G (may touch its fields and
 * its stack) while it is in the state. sched.c's design note has the
 * transitions. */
enum g_status {
    /* G_IDLE: on a free list, or just allocated by spawn. Owned by the
     * list's owner (a P, or the global list under its lock). */
    G_IDLE,
    /* G_RUNNABLE: on a run queue (a P's runnext or ring, or the global
     * queue), or held by an M about to run it. Its ctx (or, if it never
     * ran, fn/arg) is valid. Owned by the queue: whoever takes it out. */
    G_RUNNABLE,
    /* G_RUNNING: an M holding a P runs it; that M owns it and its stack;
     * its ctx is stale. Only its own code changes its state. */
    G_RUNNING,
    /* G_SYSCALL: inside tm_blocking_enter/exit. Its M runs it without a
     * P (the P is in P_SYSCALL and may be retaken by sysmon); the M owns
     * it. It touches no scheduler state until tm_blocking_exit. */
    G_SYSCALL,
    /* G_WAITING: parked in tm_park. Its ctx is valid. Whoever moves its
     * waiter's state from W_PARKED (a readier, or a timer) owns it and must
     * queue it. */
    G_WAITING,
    /* G_DEAD: fn returned; its stack is gone. A joinable G waits for
     * tm_join (the joiner owns it), a detached one is on a free list. */
    G_DEAD,
};

/* A waiter's model word (tm_waiter.state): the park/ready handshake.
 * W_INIT and W_TIMEDOUT mean "not parked, not readied"; see glue.c. */
enum { W_INIT = 0, W_READIED = 1, W_PARKED = 2, W_TIMEDOUT = 3 };

struct p;
struct m;

struct tm_task {
    struct tmi_ctx *ctx;       /* where to resume; valid unless G_RUNNING (NULL: never ran) */
    struct tmi_rnode rn;       /* run queue node (scheduler/runq.h); the queue's */
    struct tm_task *schedlink; /* free list / timer batch / poll list link; that list's owner */
    void (*fn)(void *);        /* entry point; owner */
    void *arg;
    struct tmi_stack *stack; /* from first run to death; owner */
    void *base_fp;           /* g_main's frame, where preempt.c's frame walk stops; owner */
    struct tm_waiter *_Atomic joiner; /* NULL, the parked joiner, or TMG_JOIN_DONE; see glue.c */
    _Atomic int status;      /* enum g_status; relaxed: written by the owner, read by checks */
    _Atomic int preempt;     /* sysmon asks the G to stop; relaxed, execute clears it */
    int detached;            /* freed at exit, not by tm_join; set at spawn */
    int failed;              /* ended without running: no stack (ENOMEM); set by the M */
    struct tm_waiter *parkw; /* the waiter of the park in progress; owner */
    int park_st0;            /* its state when the park began; owner */
    struct tmi_timer timer;  /* park deadline; in timerp's heap, under timerp->tlock */
    struct p *timerp;        /* whose heap holds timer, or NULL; owner */
    uint64_t id;             /* 1, 2, ... for overflow reports; set at spawn */
    struct tmi_ctx_san san;  /* sanitizer state of this G's context */
};

/* t->joiner once the G is done: a tm_join that finds it returns at once. */
#define TMG_JOIN_DONE ((struct tm_waiter *)(uintptr_t)1)

/* ---- P: a processor, the right to run Go code ------------------------- */

/* P states (each paragraph: who owns the P in it). */
enum p_status {
    /* P_IDLE: on the idle list (sched.pidle, under sched.lock), owned by
     * that list. Its ring and runnext are empty; its timers need not be
     * (stealing Ms and the netpoller's owner run them). */
    P_IDLE,
    /* P_RUNNING: held by exactly one M (p->m), which alone pushes to its
     * ring and takes from runnext by CAS; other Ms only steal. */
    P_RUNNING,
    /* P_SYSCALL: its M is in a blocking region and does not touch it.
     * Whoever CASes the status away first owns it: the M itself coming back
     * (-> P_RUNNING) or sysmon retaking it (-> P_IDLE, then handoffp). */
    P_SYSCALL,
};

struct p {
    int id;
    _Atomic int status;  /* enum p_status; see the transitions above */
    struct m *_Atomic m; /* the M holding it (P_RUNNING/P_SYSCALL): written by that
                            M (release), read by sysmon (acquire) */
    struct p *link;      /* idle list link; under sched.lock */

    /* The local run queue (scheduler/runq.h): rq.next is Go's runnext.
     * The holder pushes and takes; anyone steals. */
    struct tmi_runq rq;

    /* Scheduling ticks, for fairness and for sysmon. */
    uint32_t global_in;           /* owner: picks until the next global-queue pick (61) */
    _Atomic uint32_t schedtick;   /* relaxed, owner writes, sysmon reads: new time slices */
    _Atomic uint32_t syscalltick; /* relaxed, owner writes, sysmon reads: blocking regions */

    /* G structs to reuse, and a block of G ids; owner only. */
    struct tm_task *gfree;
    int ngfree;
    uint64_t goid, goidend;

    /* Timers of Gs parked with a deadline while running on this P. Any M
     * may fire them (the owner in schedule, stealers, the netpoller's M). */
    _Atomic int tlock;        /* tmi_spin lock over timers */
    struct tmi_timers timers; /* under tlock */
    _Atomic int64_t timer0;   /* earliest deadline or INT64_MAX; written under tlock,
                                 read without it (relaxed: a hint, rechecked under it) */

    /* Counters for metrics; written by whoever holds the P (relaxed). */
    _Atomic uint64_t n_steals, n_stolen, n_global, n_preempt_sync, n_timers;
};

/* ---- M: a kernel thread ----------------------------------------------- */

/* M states, for the design note and checks; m->status is owner-written. */
enum m_status {
    M_IDLE,     /* parked on its note in sched.midle: no P, no G */
    M_SPINNING, /* holds a P and looks for work (counted in sched.nmspinning) */
    M_RUNNING,  /* holds a P; runs a G or its scheduler loop */
    M_SYSCALL,  /* runs a G in a blocking region, without a P */
    M_POLLING,  /* no P; blocked in the netpoller until IO or the next timer */
};

struct m {
    int id;
    pthread_t thread;
    struct p *p;                  /* held P, or NULL; only this M reads or writes it */
    struct p *oldp;               /* the P left in P_SYSCALL by entersyscall; this M only */
    struct p *nextp;              /* P handed over with a wake-up; under sched.lock / the note */
    pthread_t self;               /* the thread; set by the M before it first holds a P */
    struct tm_task *_Atomic curg; /* the G this M runs, or NULL on g0; written by this M
                                    (release), read by sysmon as a hint (acquire) */
    struct tmi_ctx *g0ctx;        /* the scheduler context on the thread's own stack */
    struct tmi_ctx_san g0san;
    int spinning;      /* counted in sched.nmspinning; this M, or startm before wake */
    int status;        /* enum m_status; this M */
    _Atomic int note;  /* 1 = wake-up pending; futex word (tmg_note_sleep/wake) */
    struct m *link;    /* idle list link; under sched.lock */
    struct m *alllink; /* every M ever made; written once under sched.lock */
    struct tm_task *pollhead, *polltail; /* Gs readied while this M polls without a P */
    int collecting;                      /* readied Gs go to pollhead, not a queue; this M */
    _Atomic int signal_pending;          /* sysmon sent SIGURG that has not been handled yet */
    struct tmi_preempt_timer pt;         /* preempt.c's per-thread set-up; its timer is used only as
                                            a one-shot for a P's timers while every P is busy */
    _Atomic int64_t tsig_when;           /* when pt fires next, 0 = disarmed; this thread only
                                            (relaxed: its signal handler reads it too) */
};

/* ---- the scheduler's global state ------------------------------------- */

struct sched {
    _Atomic int lock; /* tmi_spin lock over the fields marked "lock" */
    int nprocs;       /* GOMAXPROCS; fixed after init */
    struct p *allp;   /* nprocs Ps; fixed after init */

    struct m *midle;        /* lock: idle Ms */
    int nmidle;             /* lock */
    struct m *allm;         /* lock: every M, for fini and metrics */
    int mcount;             /* lock: Ms created */
    _Atomic int mlive;      /* Ms whose thread has not ended (relaxed; fini waits for 0) */
    struct p *pidle;        /* lock: idle Ps */
    _Atomic int npidle;     /* written under lock, read without (seq_cst: see wakep) */
    _Atomic int nmspinning; /* seq_cst: the spinning <-> work submission handshake */

    struct tmi_gq gq; /* the global run queue; its own lock (scheduler/runq.h) */

    struct tm_task *gfree; /* lock: G structs shared between Ps */
    _Atomic int ngfree;    /* written under lock; read without as a hint */
    void **slabs;          /* lock: every G allocation, freed by fini */
    int nslabs, capslabs;  /* lock */

    _Atomic int64_t lastpoll;  /* 0 while an M blocks in the netpoller, else when someone last
                                  polled; seq_cst exchanges decide who polls */
    _Atomic int64_t polluntil; /* when the blocked poller wakes by itself (0: never) */

    int64_t slice_ns;         /* preemption slice; fixed after init */
    sigset_t sigmask;         /* the signal mask of tm_init's caller, for every M */
    _Atomic int stopping;     /* fini: Ms and sysmon exit */
    _Atomic uint64_t next_id; /* G ids */

    /* sysmon (sysmon.c) */
    pthread_t sysmon;
    int sysmon_started;
    _Atomic int sysmon_note; /* futex word: wake sysmon early */
    _Atomic int sysmon_deep; /* sysmon sleeps for long; blocking_enter wakes it */

    /* counters (relaxed) */
    _Atomic uint64_t n_handoffs, n_preempt_signals, n_preempt_async, n_start_failures,
        n_netpoll_sysmon, n_mwakes, n_timer_preempts;
};

extern struct sched tmg_sched;

/* The M this kernel thread is (NULL on threads the model did not make)
 * and the G it runs (NULL on g0 or foreign threads). A G reads tmg_g with
 * one instruction, so a preemption cannot split the read from its use. */
extern _Thread_local struct m *tmg_m;
extern _Thread_local struct tm_task *tmg_g;

/* Every access to them goes through these. Not instrumented by TSan, for
 * the reason preempt.h gives for tmi_preempt_off: gcc hands TSan a
 * thread-local's address computed once per function, so an access after
 * the G resumed on another M would be recorded against the old M's
 * variable (the access itself, FS-relative, is right). Each is only ever
 * touched by its own thread. */
TMI_NO_TSAN static inline struct m *tmg_getm(void)
{
    return tmg_m;
}
TMI_NO_TSAN static inline struct tm_task *tmg_getg(void)
{
    return tmg_g;
}
TMI_NO_TSAN static inline void tmg_setm(struct m *mp)
{
    tmg_m = mp;
}
TMI_NO_TSAN static inline void tmg_setg(struct tm_task *gp)
{
    tmg_g = gp;
}

/* ---- sched.c: who runs next ---- */

/* Runs on the next context right after a switch (ctx.h's switch-with-call)
 * and publishes the G that left: parked, queued or freed. */
typedef struct tmi_transfer (*tmg_commit_fn)(struct tmi_transfer);
/* Switch from the running G gp to next (started; NULL: this M's g0), commit
 * running on the other side. why: TMI_WHY_YIELD, _PARK, _EXIT (gp never runs
 * again) or _PREEMPT. Returns when gp runs again, maybe on another M.
 * Caller: gp, tmi_preempt_off == 1. */
void tmg_switch_to(struct m *mp, struct tm_task *gp, struct tm_task *next, int inherit,
                   tmg_commit_fn commit, int why);
/* The same, to whatever this P runs next (or g0). */
void tmg_gswitch(struct tm_task *gp, tmg_commit_fn commit, int why);
/* yield: switch to the next local G, if any. Caller: gp, tmi_preempt_off == 1. */
void tmg_gosched(struct tm_task *gp);
/* Give a never-run G its stack and context, or end it as failed: -1. */
int tmg_start_g(struct tm_task *gp);
/* The scheduler loop of an M; returns when the model stops. */
void *tmg_mstart(void *arg);

/* ---- m.c: Ms and Ps changing hands ---- */

/* The idle lists and P ownership (list functions: under sched.lock). */
void tmg_pidleput(struct p *pp);
struct p *tmg_pidleget(void);
void tmg_acquirep(struct m *mp, struct p *pp);
struct p *tmg_releasep(struct m *mp);
/* Park mp (no P) until startm hands it one: 0, or -1 when the model stops. */
int tmg_stopm(struct m *mp);
/* Run pp (NULL: an idle P) on an idle or new M; spinning: counted already. */
void tmg_startm(struct p *pp, int spinning);
/* Work was queued: start a spinning M if a P idles and none spins. */
void tmg_wakep(void);
/* A spinning M found work: it stops spinning (and wakes another). */
void tmg_resetspinning(struct m *mp);
/* pp lost its M (a blocking region): give it another, or make it idle. */
void tmg_handoffp(struct p *pp);
/* Make gp runnable: on the caller's P (runnext if next) when it holds one,
 * else the global queue (or the polling M's list); then wakep. */
void tmg_ready_g(struct tm_task *gp, int next);
/* Queue a list of Gs readied without a P, waking Ms for idle Ps. */
void tmg_injectglist(struct tm_task *head);
/* Blocking regions: Go's entersyscall / exitsyscall. */
void tmg_entersyscall(void);
void tmg_exitsyscall(void);

/* ---- glue.c ---- */

/* tm_ready: make w's parker runnable (in runnext if next). */
void tmg_ready_w(struct tm_waiter *w, int next);

/* ---- p.c ---- */
struct tm_task *tmg_runqsteal(struct p *pp, struct p *p2, int steal_next);
/* A fair share of the global queue (at most max if > 0): one G to run,
 * the rest onto pp's ring. Caller holds pp; its ring must have room. */
struct tm_task *tmg_globrunqget(struct p *pp, int max);
struct tm_task *tmg_gfget(struct p *pp);
void tmg_gfput(struct p *pp, struct tm_task *gp);
void tmg_gfree_all(void);
/* Fire pp's due timers, readying their Gs onto the caller's P. Returns
 * how many fired; *next gets pp's next deadline (INT64_MAX: none). */
int tmg_checktimers(struct p *pp, int64_t now, int64_t *next);
/* Arm gp's park deadline on pp; returns -1 (ENOMEM) if it cannot. */
int tmg_addtimer(struct p *pp, struct tm_task *gp, int64_t when);
void tmg_deltimer(struct tm_task *gp);
/* The earliest timer of any P, or INT64_MAX (a racy read: a hint for how
 * long to sleep). */
int64_t tmg_timers_next(void);

/* ---- sysmon.c ---- */
int tmg_sysmon_start(void);
void tmg_sysmon_stop(void);
void tmg_sysmon_wake(void);
/* preempt.c's tick: what SIGURG does on an M. */
void tmg_tick(const struct tmi_preempt_point *pt);
/* A timer due at `when` was armed on the calling M's P while no P idles:
 * make this M's own timer signal it then (sysmon.c). */
void tmg_timer_signal(int64_t when);
/* Called by a G at a runtime call when sysmon asked it to stop. */
void tmg_preempt_check(void);

/* ---- small helpers ---- */

/* Every G state change goes through here: to, from `from` (-1: any),
 * checked in debug builds. */
static inline void tmg_gstatus(struct tm_task *gp, int from, int to)
{
#ifndef NDEBUG
    int cur = atomic_load_explicit(&gp->status, memory_order_relaxed);
    tm_assert(from < 0 || cur == from, "goroutine: bad G state transition");
#else
    (void)from;
#endif
    atomic_store_explicit(&gp->status, to, memory_order_relaxed);
}

/* A full StoreLoad barrier (the wakep / give-up handshake in sched.c).
 * gcc's ThreadSanitizer rejects atomic_thread_fence; under it a seq_cst
 * read-modify-write of a local does the same job on x86 (a locked
 * instruction, as Linux's smp_mb()), and TSan, which cannot model fences
 * anyway, accepts it. */
static inline void tmg_storeload(void)
{
#if defined(TMI_CTX_TSAN)
    _Atomic int x = 0;
    atomic_fetch_add_explicit(&x, 0, memory_order_seq_cst);
#else
    atomic_thread_fence(memory_order_seq_cst);
#endif
}

static inline struct tm_task *tmg_g_of(struct tmi_rnode *n)
{
    return (struct tm_task *)((char *)n - offsetof(struct tm_task, rn));
}

/* A relaxed counter bump by the one writer (a plain add, no lock prefix). */
static inline void tmg_stat(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* The P's run queue (scheduler/runq.h), in Go's words. Queue gp on pp: in
 * runnext if next (the G there moves to the ring), else at the ring's
 * tail. Owner only. */
static inline void tmg_runqput(struct p *pp, struct tm_task *gp, int next)
{
    if (next)
        tmi_runq_put_next(&pp->rq, &gp->rn, &tmg_sched.gq);
    else
        tmi_runq_put(&pp->rq, &gp->rn, &tmg_sched.gq);
}

/* The next G: runnext first (*inherit = 1: it runs in the current time
 * slice), else the ring's head. Owner only. */
static inline struct tm_task *tmg_runqget(struct p *pp, int *inherit)
{
    struct tmi_rnode *n = tmi_runq_get(&pp->rq, 0, inherit);
    return n ? tmg_g_of(n) : NULL;
}

static inline int tmg_runqempty(struct p *pp)
{
    return tmi_runq_empty(&pp->rq);
}

static inline void tmg_globrunqput(struct tm_task *gp)
{
    tmi_gq_put(&tmg_sched.gq, &gp->rn);
}

/* After a switch: if the G resumed on another M, give that M's errno the
 * G's value (e, read before the switch). Through a call, so the compiler
 * cannot reuse the errno address it computed before the switch. */
static inline void tmg_errno_carry(struct m *before, int e)
{
    if (tmg_getm() != before) tmi_errno_set(e);
}

/* Park/unpark an M on its note (futex). */
void tmg_note_sleep(_Atomic int *note, int64_t timeout_ns);
void tmg_note_wake(_Atomic int *note);

#endif
