/* idle.c — a worker with nothing queued: timers, stealing, the netpoller,
 * and sleeping and waking workers without losing a wake-up.
 *
 * Design. A worker whose queue is empty runs its scheduler context
 * (mn_find_runnable): it checks its own queue and the global queue, then
 * *spins* — a few rounds of stealing half of another worker's ring, nearest
 * workers first (victim order fixed at start from the placement plan:
 * SMT sibling, shared L2, shared L3, same package/NUMA node, remote; a
 * random start within a level) — and then sleeps. Sleeping is one of two
 * kinds: if timers or IO waiters exist and nobody polls, the worker becomes
 * *the poller* and blocks in the netpoller until the earliest deadline
 * (tmi_netpoll_wake interrupts it); otherwise it sleeps on its own futex
 * word, on the idle list.
 *
 * The wake-up protocol (Go's spinning Ms). Whoever makes work visible to
 * other workers (a spawn, a ready that leaves more than one task queued, the
 * global queue, a new earliest timer) calls mn_wakep: it wakes one sleeper,
 * unless a worker is already spinning (that one will find the work), and
 * counts the woken worker as spinning. A spinner that finds work stops
 * spinning and, if it was the last, calls mn_wakep in turn, so one spinner
 * keeps looking while work remains. No wake-up is lost because each side
 * writes, fences (seq_cst), then reads the other side's word:
 *
 *   pusher:  publish work;  fence;  read nspinning, nidle -> wake one
 *   spinner: nspinning--;   fence;  look at every queue again
 *   sleeper: nidle++ (on the idle list);  fence;  look again, then sleep
 *   poller:  poll_until = tnext;  fence;  read tnext again
 *   timer:   tnext = deadline;    fence;  read polling, poll_until
 *
 * Either the pusher sees the counter, or the looker sees the work.
 *
 * `next` slots are not "visible work" for these re-checks: a task readied
 * into a busy worker's `next` usually runs there in a moment (a channel
 * hand-off), and waking a thief for it would bounce ping-pong pairs between
 * cores. Such a task is stolen only on a spinner's last round, and only if
 * its worker has not switched during the spin (Go sleeps 3 us instead); a
 * worker's tick wakes an idle worker whenever it holds queued work, so a
 * task stuck behind a hog waits one slice at most.
 *
 * Deadlock: when the last worker goes to sleep with no timer, no IO waiter,
 * nothing queued anywhere and the main task still running, nothing can ever
 * wake any task (but a thread outside the model): tm_run returns EDEADLK,
 * as on coro.
 */
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mn.h"
#include "netpoll.h"
#include "trace.h"

enum { SPIN_ROUNDS = 4, SPIN_PAUSES = 64 };

long mn_futex(_Atomic int *addr, int op, int val)
{
    return syscall(SYS_futex, (int *)addr, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

/* ---- steal order ---- */

void mn_steal_order(struct worker *w)
{
    int n = mn.n, k = 0;
    w->victims = malloc((size_t)(n > 1 ? n - 1 : 1) * sizeof *w->victims);
    if (!w->victims) return;
    for (int lv = 0; lv < TMI_LV_COUNT; lv++) {
        w->lv_start[lv] = k;
        for (int d = 1; d < n; d++) {
            int j = (w->id + d) % n;
            if ((int)tmi_place_level(&mn.plan, w->id, j) == lv) w->victims[k++] = j;
        }
    }
    w->lv_start[TMI_LV_COUNT] = k;
}

/* Take half of the nearest non-empty ring. With take_next, a victim's
 * `next` too, if the victim has not switched since snap[] was taken. */
static struct tm_task *steal(struct worker *w, int take_next, const uint32_t *snap)
{
    for (int lv = 0; lv < TMI_LV_COUNT; lv++) {
        int a = w->lv_start[lv], m = w->lv_start[lv + 1] - a;
        int off = m > 1 ? (int)(tmi_rand() % (uint64_t)m) : 0;
        for (int k = 0; k < m; k++) {
            int v = w->victims[a + (off + k) % m];
            struct worker *vw = &mn.w[v];
            int nx = take_next && snap && atomic_load_explicit(&vw->schedtick, RLX) == snap[v];
            struct tmi_rnode *n = tmi_runq_steal(&w->rq, &vw->rq, nx);
            if (n) {
                w->inherit = 0;
                stat_add(&w->st.steals[lv], 1);
                TMI_TRACE_STEAL(task_of(n)->id, v, 1 + tmi_runq_ring_len(&w->rq));
                return task_of(n);
            }
        }
    }
    return NULL;
}

/* ---- timers ---- */

static void update_tnext(void) /* under mn.tlock */
{
    int64_t nx = tmi_timers_next(&mn.timers);
    atomic_store_explicit(&mn.tnext, nx < 0 ? INT64_MAX : nx, RLX);
}

int mn_timer_add(struct tm_task *t, struct tm_waiter *wt, int64_t deadline)
{
    t->timer.when = deadline;
    t->timer.arg = wt;
    tmi_spin_lock(&mn.tlock);
    int r = tmi_timers_add(&mn.timers, &t->timer);
    int first = r == 0 && mn.timers.heap[0] == &t->timer;
    update_tnext();
    tmi_spin_unlock(&mn.tlock);
    if (!first) return r;
    /* A new earliest deadline: the poller must wake earlier, or an idle
     * worker must become the poller; busy workers see tnext at every
     * switch, and this one moves its next tick onto it (tick.c). */
    struct worker *w = mn_me();
    int64_t left = deadline - tm_now();
    if (w && left > 0 && left < mn.slice_ns) tmi_preempt_arm_in(&w->pt, left);
    if (mn.n > 1) {
        mn_fence();
        if (atomic_load_explicit(&mn.polling, RLX)) {
            if (deadline < atomic_load_explicit(&mn.poll_until, RLX)) tmi_netpoll_wake();
        } else {
            mn_wakep();
        }
    }
    return r;
}

void mn_timer_del(struct tm_task *t)
{
    tmi_spin_lock(&mn.tlock);
    tmi_timers_del(&mn.timers, &t->timer);
    update_tnext();
    tmi_spin_unlock(&mn.tlock);
}

/* Fire every due deadline: W_PARKED -> W_TIMEDOUT queues the task here;
 * W_INIT -> W_TIMEDOUT (still switching away) lets its after_switch queue
 * it; W_READIED means ready won. The waiter is alive while we hold tlock:
 * its task cannot leave park without deleting its timer under it. */
void mn_fire_timers(struct worker *w)
{
    int64_t nx = atomic_load_explicit(&mn.tnext, RLX);
    if (nx == INT64_MAX) return;
    int64_t now = tm_now();
    if (nx > now) return;
    struct tm_task *fired = NULL;
    struct tmi_timer *tm;
    tmi_spin_lock(&mn.tlock);
    while ((tm = tmi_timers_pop_due(&mn.timers, now)) != NULL) {
        struct tm_waiter *wt = tm->arg;
        struct tm_task *t = wt->task;
        /* acq_rel: acquire pairs with after_switch's release of W_PARKED
         * (t->ctx); release orders our queueing after the decision */
        int st = atomic_load_explicit(&wt->state, ACQ);
        while (st != W_READIED &&
               !atomic_compare_exchange_weak_explicit(&wt->state, &st, W_TIMEDOUT, ACQ_REL, ACQ)) {
        }
        if (st == W_PARKED) {
            TMI_TRACE_READY(t->id);
            t->rn.next = (struct tmi_rnode *)fired;
            fired = t;
        }
    }
    update_tnext();
    tmi_spin_unlock(&mn.tlock);
    while (fired) {
        struct tm_task *t = fired;
        fired = (struct tm_task *)t->rn.next;
        mn_make_runnable(w, t, 1);
    }
}

/* ---- waking ---- */

void mn_wakep(void)
{
    mn_fence(); /* see the protocol above */
    if (atomic_load_explicit(&mn.nspinning, RLX) != 0) return;
    if (atomic_load_explicit(&mn.nidle, RLX) == 0) return;
    struct worker *s;
    tmi_spin_lock(&mn.idle_lock);
    if ((s = mn.idle_head) != NULL) {
        mn.idle_head = s->idle_next;
        s->on_idle_list = 0;
        atomic_fetch_sub_explicit(&mn.nidle, 1, SEQ);
        atomic_fetch_add_explicit(&mn.nspinning, 1, SEQ); /* it wakes up spinning */
        /* release: pairs with the sleeper's acquire load of its word */
        atomic_store_explicit(&s->sleep_word, 0, REL);
    }
    tmi_spin_unlock(&mn.idle_lock);
    if (s)
        mn_futex(&s->sleep_word, FUTEX_WAKE, 1);
    else if (atomic_load_explicit(&mn.polling, RLX))
        tmi_netpoll_wake(); /* nobody on the futex list: the poller must look */
}

void mn_wake_all(void)
{
    tmi_spin_lock(&mn.idle_lock);
    for (int i = 0; i < mn.n; i++)
        atomic_store_explicit(&mn.w[i].sleep_word, 0, REL);
    tmi_spin_unlock(&mn.idle_lock);
    for (int i = 0; i < mn.n; i++)
        mn_futex(&mn.w[i].sleep_word, FUTEX_WAKE, 1);
    tmi_netpoll_wake();
}

static void stop_spinning(struct worker *w)
{
    if (!w->spinning) return;
    w->spinning = 0;
    /* the last spinner found work: someone else should look for more */
    if (atomic_fetch_sub_explicit(&mn.nspinning, 1, SEQ) == 1) mn_wakep();
}

/* ---- looking ---- */

/* Is there work another worker could take (rings, global queue, due
 * timers)? With all_next, `next` slots count too (the deadlock test). */
static int work_visible(struct worker *w, int all_next)
{
    if (tmi_gq_len(&mn.gq)) return 1;
    for (int i = 0; i < mn.n; i++) {
        if (i == w->id) continue;
        struct tmi_runq *q = &mn.w[i].rq;
        if (all_next ? tmi_runq_len(q) : tmi_runq_ring_len(q)) return 1;
    }
    int64_t nx = atomic_load_explicit(&mn.tnext, RLX);
    return nx != INT64_MAX && nx <= tm_now();
}

/* A few rounds of stealing; the last one may take `next` slots. */
static struct tm_task *spin(struct worker *w, uint32_t *snap)
{
    if (!w->spinning) {
        /* Go's limit: at most half the busy workers spin */
        int busy = mn.n - atomic_load_explicit(&mn.nidle, RLX);
        if (2 * atomic_load_explicit(&mn.nspinning, RLX) >= busy) return NULL;
        w->spinning = 1;
        atomic_fetch_add_explicit(&mn.nspinning, 1, SEQ);
    }
    w->wstate = WK_SPINNING;
    for (int i = 0; i < mn.n; i++)
        snap[i] = atomic_load_explicit(&mn.w[i].schedtick, RLX);
    for (int r = 0; r < SPIN_ROUNDS; r++) {
        struct tm_task *t = steal(w, r == SPIN_ROUNDS - 1, snap);
        if (!t) t = mn_gq_take(w);
        if (t && mn_start(w, t) == 0) return t;
        if (t) continue; /* it could not start and has ended */
        for (int k = 0; k < SPIN_PAUSES; k++)
            __builtin_ia32_pause();
    }
    return NULL;
}

/* Block in the netpoller until IO, the earliest deadline, or a wake. */
static void poll_sleep(struct worker *w)
{
    w->wstate = WK_POLLING;
    atomic_fetch_add_explicit(&mn.nidle, 1, SEQ);
    int64_t nx = atomic_load_explicit(&mn.tnext, SEQ);
    atomic_store_explicit(&mn.poll_until, nx, SEQ);
    mn_fence(); /* pairs with mn_timer_add's fence */
    if (!work_visible(w, 0) && atomic_load_explicit(&mn.tnext, SEQ) >= nx &&
        !atomic_load_explicit(&mn.stopping, RLX)) {
        stat_add(&w->st.polls, 1);
        tmi_netpoll_poll(nx == INT64_MAX ? -1 : nx);
    }
    atomic_store_explicit(&mn.polling, 0, SEQ);
    atomic_fetch_sub_explicit(&mn.nidle, 1, SEQ);
    mn_fire_timers(w);
}

static void report_deadlock(void)
{
    int going = RUN_GOING; /* not RUN_QUEUED: tm_run's thread is about to wake us */
    if (atomic_compare_exchange_strong_explicit(&mn.run_state, &going, RUN_DEADLOCK, SEQ, RLX))
        mn_futex(&mn.run_state, FUTEX_WAKE, 1);
}

/* Sleep on our futex word, on the idle list, until mn_wakep takes us off. */
static void futex_sleep(struct worker *w)
{
    tmi_spin_lock(&mn.idle_lock);
    atomic_store_explicit(&w->sleep_word, 1, RLX);
    w->idle_next = mn.idle_head;
    mn.idle_head = w;
    w->on_idle_list = 1;
    int idle = atomic_fetch_add_explicit(&mn.nidle, 1, SEQ) + 1;
    tmi_spin_unlock(&mn.idle_lock);
    mn_fence(); /* see the protocol above */
    int timers_or_io = atomic_load_explicit(&mn.tnext, RLX) != INT64_MAX || tmi_netpoll_pending();
    int must_poll = timers_or_io && !atomic_load_explicit(&mn.polling, SEQ);
    if (!work_visible(w, 0) && !must_poll && !atomic_load_explicit(&mn.stopping, RLX)) {
        w->wstate = WK_SLEEPING;
        if (idle == mn.n && !timers_or_io && !atomic_load_explicit(&mn.polling, SEQ) &&
            !work_visible(w, 1))
            report_deadlock();
        stat_add(&w->st.sleeps, 1);
        /* acquire: pairs with mn_wakep's release store */
        while (atomic_load_explicit(&w->sleep_word, ACQ) == 1 &&
               !atomic_load_explicit(&mn.stopping, RLX))
            mn_futex(&w->sleep_word, FUTEX_WAIT, 1);
    }
    tmi_spin_lock(&mn.idle_lock);
    if (w->on_idle_list) { /* nobody woke us: leave the list ourselves */
        struct worker **p = &mn.idle_head;
        while (*p != w)
            p = &(*p)->idle_next;
        *p = w->idle_next;
        w->on_idle_list = 0;
        atomic_fetch_sub_explicit(&mn.nidle, 1, SEQ);
    } else {
        w->spinning = 1; /* mn_wakep counted us as spinning */
    }
    tmi_spin_unlock(&mn.idle_lock);
}

/* The scheduler context's search: a started task to run, or NULL when the
 * model is stopping. Blocks while there is nothing. */
struct tm_task *mn_find_runnable(struct worker *w)
{
    uint32_t snap[mn.n];
    while (!atomic_load_explicit(&mn.stopping, ACQ)) {
        struct tm_task *t = mn_pick_local(w, 0);
        if (!t && tmi_netpoll_pending() && !atomic_load_explicit(&mn.polling, RLX)) {
            tmi_netpoll_poll(0);
            t = mn_pick_local(w, 0);
        }
        if (!t && mn.n > 1) t = spin(w, snap);
        if (t) {
            stop_spinning(w);
            w->wstate = WK_RUNNING;
            return t;
        }
        /* Nothing: stop spinning, look once more, then sleep. */
        if (w->spinning) {
            w->spinning = 0;
            atomic_fetch_sub_explicit(&mn.nspinning, 1, SEQ);
            mn_fence(); /* see the protocol above */
            if (work_visible(w, 0)) continue;
        }
        tmi_preempt_disarm(&w->pt); /* no task runs here: no ticks */
        int timers_or_io =
            atomic_load_explicit(&mn.tnext, RLX) != INT64_MAX || tmi_netpoll_pending();
        int expect = 0;
        if (timers_or_io &&
            atomic_compare_exchange_strong_explicit(&mn.polling, &expect, 1, SEQ, RLX))
            poll_sleep(w);
        else
            futex_sleep(w);
    }
    stop_spinning(w);
    return NULL;
}
