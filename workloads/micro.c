/* micro.c — the micro workloads: spawn, yield, pingpong, mutex.
 * Each isolates one runtime cost; ns_per_op is that cost. */
#include <stdatomic.h>
#include <stdlib.h>

#include "tm/chan.h"
#include "tm/sync.h"
#include "wl.h"

/* ---- spawn: spawn + join N empty tasks, `batch` alive at a time ---- */

struct spawn_state {
    struct tm_task **tasks; /* one batch of handles */
    _Atomic uint64_t ran;   /* tasks whose body ran */
};

static void spawn_task(void *p)
{
    struct spawn_state *s = p;
    atomic_fetch_add_explicit(&s->ran, 1, memory_order_relaxed);
}

static int spawn_setup(struct tm_run *r)
{
    struct spawn_state *s = calloc(1, sizeof *s);
    int64_t batch = tm_run_param(r, "batch");
    if (batch > tm_run_param(r, "tasks")) batch = tm_run_param(r, "tasks");
    if (!s || !(s->tasks = calloc((size_t)batch, sizeof *s->tasks))) {
        free(s);
        return tm_run_fail(r, "spawn: out of memory for %lld handles", (long long)batch);
    }
    r->state = s;
    return 0;
}

static int spawn_body(struct tm_run *r)
{
    struct spawn_state *s = r->state;
    int64_t n = tm_run_param(r, "tasks"), batch = tm_run_param(r, "batch");
    for (int64_t done = 0; done < n; done += batch) {
        int64_t k = n - done < batch ? n - done : batch, i;
        for (i = 0; i < k; i++)
            if (!(s->tasks[i] = tm_spawn(spawn_task, s))) break;
        int failed = i < k;
        if (failed) wl_spawn_failed(r, done + i, n);
        for (int64_t j = 0; j < i; j++) tm_join(s->tasks[j]);
        if (failed) return -1;
    }
    r->ops = (uint64_t)n;
    return 0;
}

static uint64_t spawn_verify(struct tm_run *r) { return ((struct spawn_state *)r->state)->ran; }
static uint64_t spawn_expected(const struct tm_run *r) { return (uint64_t)tm_run_param(r, "tasks"); }

static void free_state(struct tm_run *r)
{
    struct spawn_state *s = r->state;
    if (s) free(s->tasks);
    free(s);
}

static const struct tm_param_def spawn_params[] = {
    {"tasks", TM_PARAM_INT, 100000, 1, 100000000, NULL, "tasks spawned and joined in total"},
    {"batch", TM_PARAM_INT, 1000, 1, 100000000, NULL, "tasks alive at once (spawned, then all joined)"},
};

const struct tm_workload_ops tm_wl_spawn = {
    .name = "spawn",
    .kind = "micro",
    .summary = "spawn and join empty tasks, `batch` at a time",
    .op = "one task spawned, run and joined",
    .params = spawn_params,
    .nparams = WL_NPARAMS(spawn_params),
    .setup = spawn_setup,
    .body = spawn_body,
    .verify = spawn_verify,
    .expected = spawn_expected,
    .teardown = free_state,
};

/* ---- yield: T tasks each yield K times ---- */

struct yield_arg {
    int64_t iters;
    _Atomic uint64_t *total;
};

static void yield_task(void *p)
{
    struct yield_arg *a = p;
    uint64_t n = 0;
    for (int64_t i = 0; i < a->iters; i++, n++) tm_yield();
    atomic_fetch_add_explicit(a->total, n, memory_order_relaxed);
}

/* Spawn `n` copies of fn(arg) and join them all; 0 or -1 after tm_run_fail. */
static int spawn_join_all(struct tm_run *r, int64_t n, void (*fn)(void *), void *arg)
{
    struct tm_task **t = calloc((size_t)n, sizeof *t);
    if (!t) return tm_run_fail(r, "%s: out of memory", r->wl->name);
    int64_t i;
    for (i = 0; i < n; i++)
        if (!(t[i] = tm_spawn(fn, arg))) break;
    int rc = i < n ? wl_spawn_failed(r, i, n) : 0;
    for (int64_t j = 0; j < i; j++) tm_join(t[j]);
    free(t);
    return rc;
}

static _Atomic uint64_t yield_total;

static int yield_body(struct tm_run *r)
{
    struct yield_arg a = {.iters = tm_run_param(r, "iters"), .total = &yield_total};
    int64_t tasks = tm_run_param(r, "tasks");
    atomic_store(&yield_total, 0);
    if (spawn_join_all(r, tasks, yield_task, &a) < 0) return -1;
    r->ops = (uint64_t)(tasks * a.iters);
    return 0;
}

static uint64_t yield_verify(struct tm_run *r) { return atomic_load(&yield_total); }
static uint64_t yield_expected(const struct tm_run *r)
{
    return (uint64_t)(tm_run_param(r, "tasks") * tm_run_param(r, "iters"));
}

static const struct tm_param_def yield_params[] = {
    {"tasks", TM_PARAM_INT, 2, 1, 1000000, NULL, "tasks yielding concurrently"},
    {"iters", TM_PARAM_INT, 200000, 1, 1000000000, NULL, "yields per task"},
};

const struct tm_workload_ops tm_wl_yield = {
    .name = "yield",
    .kind = "micro",
    .summary = "T tasks each yield K times (with 2 tasks on one core: the switch cost)",
    .op = "one tm_yield() call",
    .params = yield_params,
    .nparams = WL_NPARAMS(yield_params),
    .body = yield_body,
    .verify = yield_verify,
    .expected = yield_expected,
};

/* ---- pingpong: round trips over two unbuffered channels ---- */

struct pp_state {
    struct tm_chan *ping, *pong;
    int64_t iters;
    uint64_t sum; /* of the values that came back */
};

static void pong_task(void *p)
{
    struct pp_state *s = p;
    uint64_t v;
    while (tm_chan_recv(s->ping, &v, -1) == 0) tm_chan_send(s->pong, &v, -1);
}

static int pp_setup(struct tm_run *r)
{
    struct pp_state *s = calloc(1, sizeof *s);
    if (!s) return tm_run_fail(r, "pingpong: out of memory");
    r->state = s;
    s->iters = tm_run_param(r, "iters");
    s->ping = tm_chan_make(sizeof(uint64_t), 0);
    s->pong = tm_chan_make(sizeof(uint64_t), 0);
    if (!s->ping || !s->pong) return tm_run_fail(r, "pingpong: out of memory");
    return 0;
}

static int pp_body(struct tm_run *r)
{
    struct pp_state *s = r->state;
    struct tm_task *t = tm_spawn(pong_task, s);
    if (!t) return wl_spawn_failed(r, 0, 1);
    for (uint64_t i = 1; i <= (uint64_t)s->iters; i++) {
        uint64_t v = i;
        tm_chan_send(s->ping, &v, -1);
        tm_chan_recv(s->pong, &v, -1);
        s->sum += v;
    }
    tm_chan_close(s->ping);
    tm_join(t);
    r->ops = (uint64_t)s->iters;
    return 0;
}

static uint64_t pp_verify(struct tm_run *r) { return ((struct pp_state *)r->state)->sum; }
static uint64_t pp_expected(const struct tm_run *r)
{
    uint64_t n = (uint64_t)tm_run_param(r, "iters");
    return n * (n + 1) / 2;
}

static void pp_teardown(struct tm_run *r)
{
    struct pp_state *s = r->state;
    if (!s) return;
    if (s->ping) tm_chan_free(s->ping);
    if (s->pong) tm_chan_free(s->pong);
    free(s);
}

static const struct tm_param_def pp_params[] = {
    {"iters", TM_PARAM_INT, 100000, 1, 1000000000, NULL, "round trips"},
};

const struct tm_workload_ops tm_wl_pingpong = {
    .name = "pingpong",
    .kind = "micro",
    .summary = "two tasks bounce a value over unbuffered channels",
    .op = "one round trip (send + receive each way)",
    .params = pp_params,
    .nparams = WL_NPARAMS(pp_params),
    .setup = pp_setup,
    .body = pp_body,
    .verify = pp_verify,
    .expected = pp_expected,
    .teardown = pp_teardown,
};

/* ---- mutex: T tasks increment one counter under a tm_mutex ---- */

struct mutex_state {
    struct tm_mutex m;
    uint64_t counter; /* guarded by m */
    int64_t iters;
};

static void mutex_task(void *p)
{
    struct mutex_state *s = p;
    for (int64_t i = 0; i < s->iters; i++) {
        tm_mutex_lock(&s->m);
        s->counter++;
        tm_mutex_unlock(&s->m);
    }
}

static struct mutex_state mutex_state;

static int mutex_body(struct tm_run *r)
{
    struct mutex_state *s = &mutex_state;
    tm_mutex_init(&s->m);
    s->counter = 0;
    s->iters = tm_run_param(r, "iters");
    int64_t tasks = tm_run_param(r, "tasks");
    if (spawn_join_all(r, tasks, mutex_task, s) < 0) return -1;
    r->ops = (uint64_t)(tasks * s->iters);
    return 0;
}

static uint64_t mutex_verify(struct tm_run *r) { return mutex_state.counter; }
static uint64_t mutex_expected(const struct tm_run *r) { return yield_expected(r); }

static const struct tm_param_def mutex_params[] = {
    {"tasks", TM_PARAM_INT, 4, 1, 1000000, NULL, "tasks contending for the lock"},
    {"iters", TM_PARAM_INT, 100000, 1, 1000000000, NULL, "lock/unlock pairs per task"},
};

const struct tm_workload_ops tm_wl_mutex = {
    .name = "mutex",
    .kind = "micro",
    .summary = "T tasks increment one counter under one tm_mutex",
    .op = "one lock + increment + unlock",
    .params = mutex_params,
    .nparams = WL_NPARAMS(mutex_params),
    .body = mutex_body,
    .verify = mutex_verify,
    .expected = mutex_expected,
};
