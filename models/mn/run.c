/* run.c — the mn model's life: worker threads, start-up and shut-down,
 * the main task, metrics, and the ops table. The scheduler itself is in
 * sched.c (its design note), idle.c and tick.c. */
#include <errno.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mn.h"
#include "model.h"
#include "netpoll.h"
#include "trace.h"

enum { MAX_WORKERS = 1024 };

static double last[32]; /* mn_metrics' previous sums; the metrics caller's (one run) */

/* ---- start-up, the main task, shut-down --------------------------------- */

static size_t describe(const struct tmi_stack *s, char *buf, size_t len)
{
    const struct tm_task *t = s->owner;
    return tmi_stack_describe_id(buf, len, "task", t ? t->id : 0);
}

static _Atomic int nstarted; /* workers through their start-up; futex */

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    mn_self_worker = w;
    char name[32];
    snprintf(name, sizeof name, "mn worker %d", w->id);
    TMI_TRACE_NAME(name);
    int err = 0;
    if (tmi_place_apply(mn.topo, &mn.plan, w->id) != 0 || tmi_stack_thread_init() != 0 ||
        tmi_preempt_thread_init(&w->pt, mn.slice_ns) != 0)
        err = errno ? errno : EINVAL;
    w->start_err = err;
    tmi_ctx_san_init_thread(&w->idle.san);
    w->idle.state = T_RUNNING;
    atomic_store_explicit(&w->cur, &w->idle, RLX);
    tmi_preempt_disable(); /* the scheduler context runs at 1 */
    /* release: start_err reaches mn_init */
    atomic_fetch_add_explicit(&nstarted, 1, REL);
    mn_futex(&nstarted, FUTEX_WAKE, 1);
    while (!err) {
        struct tm_task *t = mn_find_runnable(w);
        if (!t) break;
        w->idle.leave = L_IDLE;
        mn_run_task(w, &w->idle, t); /* back when this worker runs dry */
    }
    tmi_preempt_thread_fini(&w->pt);
    tmi_ctx_san_fini(&w->idle.san);
    tmi_stack_thread_fini();
    tmi_preempt_enable();
    mn_self_worker = NULL;
    return NULL;
}

static void free_workers(void)
{
    while (mn.tpool) {
        struct tm_task *t = mn.tpool;
        mn.tpool = (struct tm_task *)t->rn.next;
        free(t);
    }
    atomic_store(&mn.tpool_n, 0);
    for (int i = 0; mn.w && i < mn.n; i++) {
        struct worker *w = &mn.w[i];
        while (w->free_tasks) {
            struct tm_task *t = w->free_tasks;
            w->free_tasks = (struct tm_task *)t->rn.next;
            free(t);
        }
        free(w->victims);
    }
    free(mn.w);
    mn.w = NULL;
}

static void stop_workers(int started)
{
    atomic_store_explicit(&mn.stopping, 1, SEQ);
    mn_wake_all();
    for (int i = 0; i < started; i++)
        pthread_join(mn.w[i].thread, NULL);
}

static void mn_fini(void)
{
    stop_workers(mn.n);
    free_workers();
    tmi_gq_term(&mn.gq);
    tmi_place_plan_free(&mn.plan);
    tmi_topo_free(mn.topo);
    tmi_timers_term(&mn.timers);
    tmi_preempt_fini();
    tmi_netpoll_term();
    tmi_stack_fini();
}

static int mn_init(struct tm_config *cfg)
{
    memset(&mn, 0, sizeof mn);
    atomic_store(&nstarted, 0);
    if (tmi_topo_load(&mn.topo, NULL, NULL) != 0) return -1;
    struct tmi_topo_info ti;
    tmi_topo_info(mn.topo, &ti);
    if (cfg->procs == 0) cfg->procs = ti.pus;
    if (cfg->procs > MAX_WORKERS) {
        tmi_topo_free(mn.topo);
        return tmi_fail(EINVAL, "mn: --procs %d: at most %d workers", cfg->procs, MAX_WORKERS);
    }
    if (tmi_place_plan(mn.topo, cfg->placement, cfg->procs, &mn.plan) != 0) {
        tmi_topo_free(mn.topo);
        return -1;
    }
    if (cfg->slice_ns <= 0) cfg->slice_ns = 1000000;
    mn.n = cfg->procs;
    mn.slice_ns = cfg->slice_ns;
    struct tmi_stack_opts opts = {.size = cfg->stack_size, .guard_max = -1, .keep = -1};
    int err = 0;
    if (tmi_stack_init(&opts) != 0) {
        err = tmi_fail(errno, "mn: bad stack size %zu KiB", cfg->stack_size / 1024);
        goto out_plan;
    }
    tmi_stack_set_overflow_hook("mn", describe);
    if (tmi_netpoll_init() != 0) {
        err = tmi_fail(errno, "mn: netpoller: %s", strerror(errno));
        goto out_stack;
    }
    if (tmi_preempt_init(mn_tick) != 0) {
        err = -1;
        goto out_netpoll;
    }
    tmi_timers_init(&mn.timers);
    atomic_store(&mn.tnext, INT64_MAX);
    atomic_store(&mn.run_state, RUN_DONE);
    memset(last, 0, sizeof last);
    tmi_gq_init(&mn.gq);
    mn.w = aligned_alloc(64, sizeof(struct worker) * (size_t)mn.n);
    if (!mn.w) {
        err = tmi_fail(ENOMEM, "mn: out of memory for %d workers", mn.n);
        goto out_preempt;
    }
    memset(mn.w, 0, sizeof(struct worker) * (size_t)mn.n);
    for (int i = 0; i < mn.n; i++) {
        struct worker *w = &mn.w[i];
        w->id = i;
        tmi_runq_init(&w->rq);
        mn_steal_order(w);
        if (!w->victims) {
            err = tmi_fail(ENOMEM, "mn: out of memory");
            goto out_workers;
        }
    }
    int started = 0;
    for (; started < mn.n; started++) {
        int e = pthread_create(&mn.w[started].thread, NULL, worker_main, &mn.w[started]);
        if (e) {
            err = tmi_fail(e, "mn: cannot start worker %d: %s", started, strerror(e));
            break;
        }
    }
    int n;
    /* acquire: pairs with each worker's release increment */
    while ((n = atomic_load_explicit(&nstarted, ACQ)) < started)
        mn_futex(&nstarted, FUTEX_WAIT, n);
    for (int i = 0; !err && i < started; i++)
        if (mn.w[i].start_err)
            err = tmi_fail(mn.w[i].start_err, "mn: worker %d could not start (placement '%s'): %s",
                           i, mn.plan.policy, strerror(mn.w[i].start_err));
    if (!err) return 0;
    stop_workers(started);
out_workers:
    free_workers();
out_preempt:
    tmi_timers_term(&mn.timers);
    tmi_preempt_fini();
out_netpoll:
    tmi_netpoll_term();
out_stack:
    tmi_stack_fini();
out_plan:
    tmi_place_plan_free(&mn.plan);
    tmi_topo_free(mn.topo);
    mn.topo = NULL;
    return err;
}

static int mn_run(void (*main)(void *), void *arg)
{
    struct tm_task *t = malloc(sizeof *t);
    if (!t) return tmi_fail(ENOMEM, "mn: out of memory for the main task");
    mn_task_init(t, main, arg, 0, 1);
    t->is_main = 1;
    TMI_TRACE_SPAWN(t->id);
    atomic_store_explicit(&mn.run_state, RUN_QUEUED, SEQ);
    mn_make_runnable(NULL, t, 0); /* the global queue; wakes a worker */
    int st;
    /* acquire: pairs with task_done's release */
    while ((st = atomic_load_explicit(&mn.run_state, ACQ)) == RUN_QUEUED || st == RUN_GOING)
        mn_futex(&mn.run_state, FUTEX_WAIT, st);
    if (st == RUN_DEADLOCK) {
        long live = 0;
        for (int i = 0; i < mn.n; i++)
            live += (long)(atomic_load(&mn.w[i].st.spawned) - atomic_load(&mn.w[i].st.exited));
        return tmi_fail(EDEADLK,
                        "mn: deadlock: every worker idle, the main task and %ld others "
                        "parked with no timer or IO to wake them",
                        live);
    }
    int failed = t->failed;
    free(t);
    if (failed) return tmi_fail(ENOMEM, "mn: no stack for the main task");
    return 0;
}

/* ---- metrics: counters since the previous call (so, per repetition) ---- */

static void mn_metrics(void (*add)(void *, const char *, double), void *ctx)
{
    static const char *const names[] = {
        "steals_smt",     "steals_l2",       "steals_l3",      "steals_package", "steals_remote",
        "preemptions",    "preempt_flagged", "preempt_coop",   "parks",          "worker_sleeps",
        "netpoll_blocks", "global_gets",     "start_failures",
    };
    enum { NCOUNT = sizeof names / sizeof names[0] };
    double sum[NCOUNT] = {0};
    for (int i = 0; i < mn.n; i++) {
        struct mn_stats *s = &mn.w[i].st;
        _Atomic uint64_t *c[NCOUNT] = {
            &s->steals[0],     &s->steals[1],    &s->steals[2],      &s->steals[3], &s->steals[4],
            &s->preempt_async, &s->preempt_flag, &s->preempt_coop,   &s->parks,     &s->sleeps,
            &s->polls,         &s->global_gets,  &s->start_failures,
        };
        for (int k = 0; k < NCOUNT; k++)
            sum[k] += (double)atomic_load_explicit(c[k], RLX);
    }
    for (int k = 0; k < NCOUNT; k++) {
        add(ctx, names[k], sum[k] - last[k]);
        last[k] = sum[k];
    }
    add(ctx, "workers", mn.n);
    add(ctx, "slice_us", (double)mn.slice_ns / 1000.0);
    add(ctx, "preempt_async", tmi_preempt_async());
}

const struct tm_model_ops tm_model_mn = {
    .name = "mn",
    .summary = "preemptive M:N: --procs workers placed by --placement (hwloc), per-worker "
               "queues, stealing by topology distance, timer-signal preemption every "
               "--slice-us (default 1000); a blocking read() blocks its worker only",
    .caps = TM_CAP_PARALLEL | TM_CAP_PREEMPTIVE | TM_CAP_MANY_TASKS,
    .init = mn_init,
    .fini = mn_fini,
    .run = mn_run,
    .spawn = mn_spawn,
    .join = mn_join,
    .yield = mn_yield,
    .self = mn_self,
    .park = mn_park,
    .ready = mn_ready,
    .wait_fd = mn_wait_fd,
    .blocking_enter = mn_blocking_enter,
    .blocking_exit = mn_blocking_exit,
    .metrics = mn_metrics,
};
