/* m.c — Ms and Ps changing hands: parking and waking Ms (startm, stopm,
 * wakep), the idle lists, handing a P on (handoffp), making Gs runnable
 * from anywhere (ready, injectglist), and blocking regions (entersyscall,
 * exitsyscall). The design is in sched.c's note; who owns what is in
 * goroutine.h.
 *
 * An M parks on its note, a futex word: the waker (startm) writes nextp,
 * the P it hands over, then sets the note with a release store and wakes
 * the futex; the sleeper's acquire exchange sees nextp. Ms are never
 * destroyed while the model runs: an idle M costs a parked thread.
 */
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "goroutine.h"
#include "netpoll.h"

#define S tmg_sched

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

void tmg_pidleput(struct p *pp)
{
    tm_assert(tmg_runqempty(pp), "goroutine: an idle P with queued Gs");
    atomic_store_explicit(&pp->status, P_IDLE, memory_order_relaxed);
    atomic_store_explicit(&pp->m, NULL, memory_order_relaxed);
    pp->link = S.pidle;
    S.pidle = pp;
    atomic_fetch_add_explicit(&S.npidle, 1, memory_order_seq_cst);
}

struct p *tmg_pidleget(void)
{
    struct p *pp = S.pidle;
    if (pp) {
        S.pidle = pp->link;
        atomic_fetch_sub_explicit(&S.npidle, 1, memory_order_seq_cst);
    }
    return pp;
}

void tmg_acquirep(struct m *mp, struct p *pp)
{
    mp->p = pp;
    /* release: sysmon, reading pp->m, sees mp->self */
    atomic_store_explicit(&pp->m, mp, memory_order_release);
    atomic_store_explicit(&pp->status, P_RUNNING, memory_order_relaxed);
}

struct p *tmg_releasep(struct m *mp)
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
        pp = tmg_pidleget();
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
int tmg_stopm(struct m *mp)
{
    tm_assert(!mp->p && !mp->spinning, "goroutine: stopm with a P or spinning");
    tmi_spin_lock(&S.lock);
    mput(mp);
    tmi_spin_unlock(&S.lock);
    mp->status = M_IDLE;
    tmg_note_sleep(&mp->note, -1);
    if (!mp->nextp) return -1; /* only fini wakes an M without a P */
    tmg_acquirep(mp, mp->nextp);
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
void tmg_resetspinning(struct m *mp)
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
    tmg_pidleput(pp);
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
    TMI_TRACE_READY(gp->id);
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
    while (head) { /* one by one: an uncommon path (a poll with no P) */
        struct tm_task *gp = head;
        head = gp->schedlink;
        tmg_globrunqput(gp);
        n++;
    }
    for (int i = 0; i < n && atomic_load_explicit(&S.npidle, memory_order_seq_cst) > 0; i++)
        tmg_startm(NULL, 0);
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
    struct p *pp = tmg_pidleget();
    tmi_spin_unlock(&S.lock);
    if (pp) {
        tmg_acquirep(mp, pp);
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
    if (!mp || !gp || atomic_load_explicit(&gp->status, memory_order_relaxed) != G_SYSCALL) return;
    struct p *pp = mp->oldp;
    mp->oldp = NULL;
    int expect = P_SYSCALL;
    /* acquire: the P comes back with what its last holder wrote */
    if (pp && atomic_compare_exchange_strong_explicit(&pp->status, &expect, P_RUNNING,
                                                      memory_order_acquire, memory_order_relaxed)) {
        /* Usually still ours; but sysmon may have handed it on and another
         * M left it in P_SYSCALL again: any M may take a P in that state. */
        mp->p = pp;
        atomic_store_explicit(&pp->m, mp, memory_order_release); /* as acquirep */
        mp->status = M_RUNNING;
        tmg_gstatus(gp, G_SYSCALL, G_RUNNING);
        return;
    }
    /* Sysmon took it. Any idle P? */
    if (atomic_load_explicit(&S.npidle, memory_order_seq_cst) > 0) {
        tmi_spin_lock(&S.lock);
        pp = tmg_pidleget();
        tmi_spin_unlock(&S.lock);
        if (pp) {
            tmg_acquirep(mp, pp);
            mp->status = M_RUNNING;
            tmg_gstatus(gp, G_SYSCALL, G_RUNNING);
            return;
        }
    }
    /* None: the G waits in the global queue; this M parks on g0. */
    tmg_gstatus(gp, G_SYSCALL, G_RUNNABLE);
    tmg_switch_to(mp, gp, NULL, 0, syscall_commit, TMI_WHY_YIELD);
}
