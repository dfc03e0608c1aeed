/* micro.c — the per-model microbenchmarks of tmbench-micro: spawn, yield,
 * pingpong, mutex, registered for every model in tmi_models[].
 *
 * Every run of a benchmark starts its model from scratch: tm_init (procs 0:
 * the model's default, 1 for coro) -> tm_run(main task) -> tm_fini, and the
 * main task runs the timed loop. Start-up and shut-down are outside the
 * timer. A model that cannot start is reported as a skipped run carrying
 * tm_last_error(), so the other models still run. Each family is followed
 * by its yardsticks (yard.c), so their ratios come from adjacent runs.
 *
 * What one iteration is (items_per_second counts what `items` says):
 *   spawn     tm_spawn + tm_join of one empty task          items: tasks
 *   yield     one tm_yield of the main task, while a partner task yields
 *             in a loop (coro: a round trip, two switches)   items: yields of both
 *   pingpong  send + receive of a value over two unbuffered channels
 *             to a partner that echoes it                    items: round trips
 *   mutex     one lock + increment + unlock; two tasks share the iterations
 *             and contend for one tm_mutex (their spawn+join is timed,
 *             amortised over all iterations)                 items: lock/unlock pairs
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "micro.h"
#include "model.h"
#include "tm/chan.h"
#include "tm/sync.h"
#include "tm/tm.h"

/* Skip the run, naming the benchmark step and the tm error. */
static void fail(struct tmb_state *s, const char *what)
{
    char msg[384];
    const char *why = tm_last_error();
    snprintf(msg, sizeof msg, "%s: %s%s%s", what, strerror(errno), why[0] ? ": " : "", why);
    tmb_skip_with_error(s, msg);
}

/* ---- spawn ---- */

static void empty_task(void *arg)
{
    (void)arg;
}

static void bm_spawn(struct tmb_state *s)
{
    uint64_t n = tmb_start(s);
    for (uint64_t i = 0; i < n; i++) {
        struct tm_task *t = tm_spawn(empty_task, NULL);
        if (!t || tm_join(t) != 0) {
            fail(s, t ? "tm_join" : "tm_spawn");
            break;
        }
    }
    tmb_stop(s);
    tmb_set_items_processed(s, (int64_t)n);
}

/* ---- yield ---- */

struct yield_pair {
    _Atomic int stop; /* set by the main task after its loop; relaxed: the
                         partner only needs to see it eventually */
    uint64_t partner; /* yields the partner made; read after tm_join */
};

static void yield_partner(void *arg)
{
    struct yield_pair *y = arg;
    uint64_t k = 0;
    while (!atomic_load_explicit(&y->stop, memory_order_relaxed)) {
        tm_yield();
        k++;
    }
    y->partner = k;
}

static void bm_yield(struct tmb_state *s)
{
    struct yield_pair y = {.stop = 0};
    struct tm_task *t = tm_spawn(yield_partner, &y);
    if (!t) {
        fail(s, "tm_spawn");
        return;
    }
    uint64_t n = tmb_start(s);
    for (uint64_t i = 0; i < n; i++)
        tm_yield();
    tmb_stop(s);
    atomic_store_explicit(&y.stop, 1, memory_order_relaxed);
    if (tm_join(t) != 0) fail(s, "tm_join");
    tmb_set_items_processed(s, (int64_t)(n + y.partner));
}

/* ---- pingpong ---- */

struct pingpong {
    struct tm_chan *ping, *pong; /* unbuffered, uint64_t elements */
};

static void pong_task(void *arg)
{
    struct pingpong *p = arg;
    uint64_t v;
    while (tm_chan_recv(p->ping, &v, -1) == 0)
        if (tm_chan_send(p->pong, &v, -1) != 0) break;
}

static void bm_pingpong(struct tmb_state *s)
{
    struct pingpong p = {tm_chan_make(sizeof(uint64_t), 0), tm_chan_make(sizeof(uint64_t), 0)};
    struct tm_task *t = NULL;
    if (!p.ping || !p.pong) {
        fail(s, "tm_chan_make");
        goto out;
    }
    if (!(t = tm_spawn(pong_task, &p))) {
        fail(s, "tm_spawn");
        goto out;
    }
    uint64_t n = tmb_start(s);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = i;
        if (tm_chan_send(p.ping, &v, -1) != 0 || tm_chan_recv(p.pong, &v, -1) != 0 || v != i) {
            fail(s, "pingpong: lost a value");
            break;
        }
    }
    tmb_stop(s);
    tmb_set_items_processed(s, (int64_t)n);
    tm_chan_close(p.ping);
    tm_join(t);
out:
    if (p.ping) tm_chan_free(p.ping);
    if (p.pong) tm_chan_free(p.pong);
}

/* ---- mutex ---- */

struct mutex_share {
    struct tm_mutex *m;
    uint64_t *counter; /* guarded by m */
    uint64_t iters;    /* this task's lock/unlock pairs */
};

static void mutex_task(void *arg)
{
    struct mutex_share *w = arg;
    for (uint64_t i = 0; i < w->iters; i++) {
        tm_mutex_lock(w->m);
        (*w->counter)++;
        tm_mutex_unlock(w->m);
    }
}

static void bm_mutex(struct tmb_state *s)
{
    struct tm_mutex m;
    uint64_t counter = 0;
    struct tm_task *t[2] = {NULL, NULL};
    tm_mutex_init(&m);
    uint64_t n = tmb_start(s);
    struct mutex_share w[2] = {{&m, &counter, n / 2}, {&m, &counter, n - n / 2}};
    for (int i = 0; i < 2; i++)
        if (!(t[i] = tm_spawn(mutex_task, &w[i]))) fail(s, "tm_spawn");
    for (int i = 0; i < 2; i++)
        if (t[i]) tm_join(t[i]);
    tmb_stop(s);
    if (!tmb_error_occurred(s) && counter != n) tmb_skip_with_error(s, "mutex: lost increments");
    tmb_set_items_processed(s, (int64_t)n);
}

/* ---- one run on one model ---- */

struct on_model {
    struct tmb_state *s;
    void (*body)(struct tmb_state *);
};

static void main_task(void *arg)
{
    struct on_model *r = arg;
    r->body(r->s);
}

/* One benchmark of one model: the registered function's arg. */
struct model_bench {
    const char *model;                /* tmi_models[i]->name */
    void (*body)(struct tmb_state *); /* runs as the model's main task */
};

static void run_on_model(struct tmb_state *s, void *arg)
{
    const struct model_bench *b = arg;
    struct tm_config cfg = {.model = b->model}; /* zeros: every default */
    if (tm_init(&cfg) != 0) {
        char msg[320];
        const char *why = tm_last_error();
        snprintf(msg, sizeof msg, "tm_init(%s): %s", b->model, why[0] ? why : strerror(errno));
        tmb_skip_with_error(s, msg);
        return;
    }
    const struct tm_config *c = tm_config();
    char label[96];
    snprintf(label, sizeof label, "procs=%d placement=%s", c->procs, c->placement);
    tmb_set_label(s, label);
    struct on_model r = {s, b->body};
    if (tm_run(main_task, &r) != 0 && !tmb_error_occurred(s)) fail(s, "tm_run");
    tm_fini();
}

static const struct {
    const char *name;
    void (*body)(struct tmb_state *);
} families[] = {
    {"spawn", bm_spawn},
    {"yield", bm_yield},
    {"pingpong", bm_pingpong},
    {"mutex", bm_mutex},
};

int tmb_register_models(void)
{
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        for (int i = 0; tmi_models[i]; i++) {
            struct model_bench *b = malloc(sizeof *b); /* lives until exit */
            if (!b) return -1;
            *b = (struct model_bench){tmi_models[i]->name, families[f].body};
            char name[128];
            snprintf(name, sizeof name, "%s/%s", families[f].name, b->model);
            tmb_bench_process_cpu_time(tmb_bench_real_time(tmb_register(name, run_on_model, b)));
        }
        /* the family's yardsticks run right after it: drift on a noisy
         * machine then hurts the ratios least */
        tmb_register_yardsticks(families[f].name);
    }
    return 0;
}
