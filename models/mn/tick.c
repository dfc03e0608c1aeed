/* tick.c — the preemption glue: what a worker's timer signal does.
 *
 * Called by scheduler/preempt.c's handler, on the interrupted stack, with
 * tmi_preempt_off raised by one (read preempt.c's design note first). A
 * tick finds the running task due for preemption when
 *   - it has been running since the previous tick (the worker's slice
 *     count did not move): it has had at least one whole slice, at most
 *     two — tasks handed the CPU through `next` share one slice
 *     (mn_pick_local); or
 *   - a timer is due and no worker is polling to fire it. A tick that sees
 *     the earliest deadline fall before its next tick moves that tick onto
 *     the deadline (tmi_preempt_arm_in), and so does a task that sets the
 *     earliest deadline (mn_timer_add): however busy the workers are, a
 *     sleeper is late by the signal's delivery, not by a slice. Without
 *     this, a 1 ms sleep and a 1 ms tick lock in phase, and every wake-up
 *     comes one whole tick late.
 * A due task is switched away right here when the interrupted point is
 * safe — nothing disabled preemption, the PC is the task's own code, and
 * no frame on the task's stack returns into libc (preempt.h) — otherwise
 * it is flagged, and yields at its next runtime call (op_exit in sched.c)
 * unless a later tick catches it at a safe point first. Either way the preempted task goes to the
 * tail of this worker's ring, behind the work that waited.
 *
 * The tick also guards against stranded work: when this worker holds
 * queued tasks while another worker sleeps, it wakes one to steal them.
 * That takes the idle-list spin lock, so only when the interrupted code
 * held no runtime lock (pp->was_off == 0); the futex and eventfd calls it
 * makes are async-signal-safe.
 *
 * In flag-only builds (TSan; preempt.c says why) a task that never calls
 * the runtime is never preempted: hoglat then measures a cooperative
 * scheduler, and every workload still completes.
 */
#include "mn.h"

/* A deadline is due (1), or comes before this worker's next tick, which
 * is then moved onto it. Not while a worker polls: the poller fires it. */
static int timers_due(struct worker *w, int may_rearm)
{
    int64_t nx = atomic_load_explicit(&mn.tnext, RLX);
    if (nx == INT64_MAX || atomic_load_explicit(&mn.polling, RLX)) return 0;
    int64_t now = tm_now();
    if (nx <= now) return 1;
    if (may_rearm && nx - now < mn.slice_ns) tmi_preempt_arm_in(&w->pt, nx - now);
    return 0;
}

void mn_tick(const struct tmi_preempt_point *pp)
{
    struct worker *w = mn_me();
    if (!w) return; /* a stray signal on a thread that is not a worker */
    struct tm_task *cur = atomic_load_explicit(&w->cur, RLX);
    if (!cur || cur == &w->idle || w->blocking) return;
    uint32_t st = atomic_load_explicit(&w->schedtick, RLX);
    int due = st == w->tick_seen;
    w->tick_seen = st;
    /* runtime code (was_off > 0) may be re-arming the timer itself */
    if (timers_due(w, pp->was_off == 0)) due = 1;
    if (pp->was_off == 0 && mn.n > 1 && atomic_load_explicit(&mn.nidle, RLX) > 0 &&
        !tmi_runq_empty(&w->rq))
        mn_wakep();
    if (!due) return;
    struct tmi_stack *s = cur->stack;
    if (pp->was_off || !pp->pc_ok || !s ||
        !tmi_preempt_frames_ok(pp, s->lo, tmi_stack_top(s), cur->base_fp)) {
        atomic_store_explicit(&cur->preempt_req, 1, RLX);
        stat_add(&w->st.preempt_flag, 1);
        return;
    }
    /* Unblock first, or this worker's next tasks run without ticks (and
     * the ucontext backend would copy the blocked mask into any context
     * the pick below makes). A nested tick from here on only flags. */
    tmi_preempt_unblock();
    struct tm_task *next = mn_pick_local(w, 1);
    if (!next) return; /* nothing else queued here: keep running */
    stat_add(&w->st.preempt_async, 1);
    atomic_store_explicit(&cur->preempt_req, 0, RLX);
    cur->leave = L_PREEMPT;
    mn_run_task(w, cur, next);
    /* resumed, perhaps on another worker: the handler takes it from here */
}
