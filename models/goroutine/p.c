/* p.c — what a P owns: its run queue, its free Gs and its timers; and
 * the global run queue and G free list behind them.
 *
 * The run queue is scheduler/runq.c, shared with the mn model: Go's runq
 * (runtime/proc.go) — a `next` slot (Go's runnext) in front of a 256-slot
 * lock-free ring that only the owner pushes to and anyone takes from by
 * CAS, stealing half a victim's ring at once, and a global FIFO that takes
 * the older half of a full ring. Two Go rules live here, on top of it:
 *  - the fair share of the global queue (len / procs + 1, at most half a
 *    ring), and
 *  - a thief takes a victim's runnext only in its last steal round, and
 *    only after giving a running victim ~3 us to run it itself (Go's
 *    usleep(3) in runqgrab): that G was just readied by the victim's
 *    running G, and stealing it would split a communicating pair across
 *    cores.
 * The global queue has its own lock (tmi_gq), not sched.lock as in Go; an M
 * that gives its P up therefore re-checks it after the P is on the idle
 * list (findrunnable), the same StoreLoad handshake as for the rings.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "goroutine.h"
#include "netpoll.h"

#define S tmg_sched

/* ---- the local queue and the global queue ---- */

struct tm_task *tmg_runqsteal(struct p *pp, struct p *p2, int steal_next)
{
    if (steal_next && tmi_runq_ring_len(&p2->rq) == 0 &&
        atomic_load_explicit(&p2->rq.next, memory_order_relaxed) &&
        atomic_load_explicit(&p2->status, memory_order_relaxed) == P_RUNNING)
        usleep(3);
    struct tmi_rnode *n = tmi_runq_steal(&pp->rq, &p2->rq, steal_next);
    if (!n) return NULL;
    tmg_stat(&pp->n_steals);
    atomic_store_explicit(&pp->n_stolen,
                          atomic_load_explicit(&pp->n_stolen, memory_order_relaxed) + 1 +
                              tmi_runq_ring_len(&pp->rq),
                          memory_order_relaxed);
    return tmg_g_of(n);
}

struct tm_task *tmg_globrunqget(struct p *pp, int max)
{
    long len = tmi_gq_len(&S.gq);
    if (len == 0) return NULL;
    long n = len / S.nprocs + 1;
    if (max > 0 && n > max) n = max;
    if (n > TMI_RUNQ_LEN / 2) n = TMI_RUNQ_LEN / 2;
    struct tmi_rnode *r = tmi_gq_get(&S.gq, &pp->rq, n);
    if (!r) return NULL;
    tmg_stat(&pp->n_global);
    return tmg_g_of(r);
}

/* ---- G free lists: per P (owner), spilling to and refilling from the
 * global list (sched.lock) in batches, as Go's gfput/gfget (Go keeps 64
 * per P and moves 32; a G here is ~170 bytes, so a P keeps up to 512 and
 * moves 256: a burst of a few hundred spawns and joins never touches the
 * lock) ---- */

enum { GF_BATCH = 256, GF_MAX = 512, G_SLAB = 128 };

static struct tm_task *slab_alloc(struct p *pp)
{
    struct tm_task *slab = calloc(G_SLAB, sizeof *slab);
    if (!slab) return NULL;
    tmi_spin_lock(&S.lock);
    if (S.nslabs == S.capslabs) {
        int cap = S.capslabs ? S.capslabs * 2 : 64;
        void **n = realloc(S.slabs, (size_t)cap * sizeof *n);
        if (!n) {
            tmi_spin_unlock(&S.lock);
            free(slab);
            return NULL;
        }
        S.slabs = n;
        S.capslabs = cap;
    }
    S.slabs[S.nslabs++] = slab;
    /* the rest of the slab is free: to pp's list, or the global one */
    for (int i = 1; i < G_SLAB; i++) {
        if (pp) {
            slab[i].schedlink = pp->gfree;
            pp->gfree = &slab[i];
            pp->ngfree++;
        } else {
            slab[i].schedlink = S.gfree;
            S.gfree = &slab[i];
            S.ngfree++;
        }
    }
    tmi_spin_unlock(&S.lock);
    return &slab[0];
}

/* A G struct to reuse (or a new one); pp may be NULL (no P held). */
struct tm_task *tmg_gfget(struct p *pp)
{
    if (pp && !pp->gfree && S.ngfree > 0) { /* racy hint; rechecked under the lock */
        tmi_spin_lock(&S.lock);
        while (pp->ngfree < GF_BATCH && S.gfree) {
            struct tm_task *gp = S.gfree;
            S.gfree = gp->schedlink;
            S.ngfree--;
            gp->schedlink = pp->gfree;
            pp->gfree = gp;
            pp->ngfree++;
        }
        tmi_spin_unlock(&S.lock);
    }
    if (pp && pp->gfree) {
        struct tm_task *gp = pp->gfree;
        pp->gfree = gp->schedlink;
        pp->ngfree--;
        return gp;
    }
    if (!pp) {
        tmi_spin_lock(&S.lock);
        struct tm_task *gp = S.gfree;
        if (gp) {
            S.gfree = gp->schedlink;
            S.ngfree--;
        }
        tmi_spin_unlock(&S.lock);
        if (gp) return gp;
    }
    return slab_alloc(pp);
}

void tmg_gfput(struct p *pp, struct tm_task *gp)
{
    atomic_store_explicit(&gp->status, G_IDLE, memory_order_relaxed);
    if (!pp) {
        tmi_spin_lock(&S.lock);
        gp->schedlink = S.gfree;
        S.gfree = gp;
        S.ngfree++;
        tmi_spin_unlock(&S.lock);
        return;
    }
    gp->schedlink = pp->gfree;
    pp->gfree = gp;
    if (++pp->ngfree < GF_MAX) return;
    tmi_spin_lock(&S.lock);
    while (pp->ngfree > GF_BATCH) {
        struct tm_task *g1 = pp->gfree;
        pp->gfree = g1->schedlink;
        pp->ngfree--;
        g1->schedlink = S.gfree;
        S.gfree = g1;
        S.ngfree++;
    }
    tmi_spin_unlock(&S.lock);
}

/* fini: every G struct goes with its slab. */
void tmg_gfree_all(void)
{
    for (int i = 0; i < S.nslabs; i++)
        free(S.slabs[i]);
    free(S.slabs);
    S.slabs = NULL;
    S.nslabs = S.capslabs = 0;
    S.gfree = NULL;
    S.ngfree = 0;
}

/* ---- a P's timers ----
 *
 * A G that parks with a deadline puts its own timer (embedded in the G)
 * on its current P's heap. Any M may fire a P's due timers: the owner in
 * schedule, a spinning M in its last steal round, the netpoller's M when
 * it wakes. Firing moves the waiter from W_PARKED to W_TIMEDOUT and
 * readies the G onto the firing M's P, or from W_INIT (the G is between
 * arming its timer and committing its park) to W_TIMEDOUT, which the
 * park's commit notices. Both happen under tlock, and the G takes tlock
 * to disarm its timer before its park returns, so a firing M never
 * touches a waiter that is gone. */

static void publish_timer0(struct p *pp)
{
    int64_t next = tmi_timers_next(&pp->timers);
    atomic_store_explicit(&pp->timer0, next < 0 ? INT64_MAX : next, memory_order_relaxed);
}

int tmg_addtimer(struct p *pp, struct tm_task *gp, int64_t when)
{
    gp->timer.when = when;
    gp->timer.arg = gp->parkw;
    tmi_spin_lock(&pp->tlock);
    int r = tmi_timers_add(&pp->timers, &gp->timer);
    if (r == 0) {
        gp->timerp = pp;
        publish_timer0(pp);
    }
    tmi_spin_unlock(&pp->tlock);
    if (r != 0) return -1;
    /* Go's wakeNetPoller: an M blocked in the netpoller sleeps until the
     * earliest timer it knew of; if ours is earlier, interrupt it. With
     * nobody polling, wake an idle P so the timer has an M that will sleep
     * until it (the P running us may stay busy). */
    if (atomic_load_explicit(&S.lastpoll, memory_order_seq_cst) == 0) {
        int64_t until = atomic_load_explicit(&S.polluntil, memory_order_relaxed);
        if (until == 0 || until > when) tmi_netpoll_wake();
    } else if (S.nprocs > 1) {
        tmg_wakep();
    }
    /* Every P busy: nobody else will fire this timer while this P runs
     * some other G; have this M interrupted then (sysmon is the fallback,
     * should the P change hands meanwhile). */
    if (atomic_load_explicit(&S.npidle, memory_order_relaxed) == 0) tmg_timer_signal(when);
    return 0;
}

void tmg_deltimer(struct tm_task *gp)
{
    struct p *pp = gp->timerp;
    if (!pp) return;
    tmi_spin_lock(&pp->tlock);
    tmi_timers_del(&pp->timers, &gp->timer);
    publish_timer0(pp);
    tmi_spin_unlock(&pp->tlock);
    gp->timerp = NULL;
}

int64_t tmg_timers_next(void)
{
    int64_t next = INT64_MAX;
    for (int i = 0; i < S.nprocs; i++) {
        int64_t t = atomic_load_explicit(&S.allp[i].timer0, memory_order_relaxed);
        if (t < next) next = t;
    }
    return next;
}

int tmg_checktimers(struct p *pp, int64_t now, int64_t *next)
{
    int64_t t0 = atomic_load_explicit(&pp->timer0, memory_order_relaxed);
    if (t0 > now) {
        *next = t0;
        return 0;
    }
    struct tm_task *fired = NULL;
    int n = 0;
    struct tmi_timer *tm;
    tmi_spin_lock(&pp->tlock);
    while ((tm = tmi_timers_pop_due(&pp->timers, now)) != NULL) {
        struct tm_waiter *w = tm->arg;
        struct tm_task *gp = w->task;
        /* acq_rel: a win hands us the G (PARKED) or tells its commit (INIT) */
        int st = atomic_load_explicit(&w->state, memory_order_acquire);
        while (st == W_INIT || st == W_PARKED) {
            if (atomic_compare_exchange_weak_explicit(&w->state, &st, W_TIMEDOUT,
                                                      memory_order_acq_rel, memory_order_acquire)) {
                if (st == W_PARKED) {
                    gp->schedlink = fired;
                    fired = gp;
                }
                break;
            }
        }
        n++;
    }
    publish_timer0(pp);
    *next = atomic_load_explicit(&pp->timer0, memory_order_relaxed);
    tmi_spin_unlock(&pp->tlock);
    if (n) atomic_fetch_add_explicit(&pp->n_timers, (uint64_t)n, memory_order_relaxed);
    while (fired) {
        struct tm_task *gp = fired;
        fired = gp->schedlink;
        tmg_ready_g(gp, 1);
    }
    return n;
}
