/* io.c — IO-bound workloads: sleep (timer wake-up lateness) and ring (a
 * token passed around a ring of tasks through pipes or channels). */
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "tm/chan.h"
#include "tm/io.h"
#include "wl.h"

/* ---- sleep: T tasks sleep D us K times; lateness of each wake-up ---- */

struct sleep_state {
    int64_t us, iters;
    struct tm_hist *lat;
    _Atomic uint64_t wakeups;
};

static void sleeper(void *p)
{
    struct sleep_state *s = p;
    for (int64_t k = 0; k < s->iters; k++) {
        int64_t deadline = tm_now() + s->us * 1000;
        tm_sleep_until(deadline);
        tm_hist_record(s->lat, tm_now() - deadline);
        atomic_fetch_add_explicit(&s->wakeups, 1, memory_order_relaxed);
    }
}

static struct sleep_state sleep_state;

static int sleep_body(struct tm_run *r)
{
    struct sleep_state *s = &sleep_state;
    *s = (struct sleep_state){.us = tm_run_param(r, "us"), .iters = tm_run_param(r, "iters"),
                              .lat = tm_run_hist(r)};
    if (!s->lat) return tm_run_fail(r, "sleep: out of memory");
    int64_t n = tm_run_param(r, "tasks"), i;
    struct tm_task **t = calloc((size_t)n, sizeof *t);
    if (!t) return tm_run_fail(r, "sleep: out of memory");
    for (i = 0; i < n; i++)
        if (!(t[i] = tm_spawn(sleeper, s))) break;
    int rc = i < n ? wl_spawn_failed(r, i, n) : 0;
    for (int64_t j = 0; j < i; j++) tm_join(t[j]);
    free(t);
    r->ops = atomic_load(&s->wakeups);
    return rc;
}

static uint64_t sleep_verify(struct tm_run *r) { return atomic_load(&sleep_state.wakeups); }
static uint64_t sleep_expected(const struct tm_run *r)
{
    return (uint64_t)(tm_run_param(r, "tasks") * tm_run_param(r, "iters"));
}

static const struct tm_param_def sleep_params[] = {
    {"tasks", TM_PARAM_INT, 100, 1, 1000000, NULL, "sleeping tasks"},
    {"us", TM_PARAM_INT, 1000, 1, 10000000, NULL, "microseconds per sleep"},
    {"iters", TM_PARAM_INT, 20, 1, 1000000, NULL, "sleeps per task"},
};

const struct tm_workload_ops tm_wl_sleep = {
    .name = "sleep",
    .kind = "io",
    .summary = "T tasks sleep D us K times; latency_ns is each wake-up's lateness",
    .op = "one wake-up",
    .params = sleep_params,
    .nparams = WL_NPARAMS(sleep_params),
    .body = sleep_body,
    .verify = sleep_verify,
    .expected = sleep_expected,
};

/* ---- ring: a token makes H hops around a ring of T tasks ----
 * Task i receives the token from its inbox and passes token+1 to task
 * i+1's. The task that receives the value H is the final holder; it sends
 * a stop mark (-1) round the ring and waits for it to come back. Each hop
 * is a real fd read and write with via=pipe, a channel hand-off with
 * via=chan. checksum = holder + tasks * (hops forwarded), which is
 * H % T + T * H when nothing is lost or duplicated. */

enum { VIA_PIPE = 0, VIA_CHAN = 1 };

struct ring_state {
    int64_t tasks, hops;
    int via;
    int (*fds)[2];            /* via=pipe: task i reads fds[i][0], writes fds[i+1][1] */
    struct tm_chan **chans;   /* via=chan: task i receives from chans[i] */
    _Atomic int64_t forwarded;
    _Atomic int64_t holder;
};

struct ring_arg {
    struct ring_state *s;
    int64_t i;
};

static int ring_recv(struct ring_state *s, int64_t i, int64_t *v)
{
    if (s->via == VIA_CHAN) return tm_chan_recv(s->chans[i], v, -1);
    char *p = (char *)v;
    size_t got = 0;
    while (got < sizeof *v) { /* pipes may split a read; 8 bytes never do in practice */
        ssize_t n = tm_read(s->fds[i][0], p + got, sizeof *v - got, -1);
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    return 0;
}

static int ring_send(struct ring_state *s, int64_t i, int64_t v)
{
    int64_t next = (i + 1) % s->tasks;
    if (s->via == VIA_CHAN) return tm_chan_send(s->chans[next], &v, -1);
    return tm_write_all(s->fds[next][1], &v, sizeof v, -1);
}

static void ring_task(void *p)
{
    struct ring_arg *a = p;
    struct ring_state *s = a->s;
    int64_t v;
    for (;;) {
        if (ring_recv(s, a->i, &v) != 0) return;
        if (v < 0) { /* the stop mark: pass it on, unless it came home */
            if (atomic_load(&s->holder) != a->i) ring_send(s, a->i, -1);
            return;
        }
        if (v == s->hops) {
            atomic_store(&s->holder, a->i);
            ring_send(s, a->i, -1);
            continue; /* wait for the mark to come round */
        }
        atomic_fetch_add_explicit(&s->forwarded, 1, memory_order_relaxed);
        ring_send(s, a->i, v + 1);
    }
}

static void ring_teardown(struct tm_run *r)
{
    struct ring_state *s = r->state;
    if (!s) return;
    for (int64_t i = 0; i < s->tasks; i++) {
        if (s->fds && s->fds[i][0] >= 0) close(s->fds[i][0]), close(s->fds[i][1]);
        if (s->chans && s->chans[i]) tm_chan_free(s->chans[i]);
    }
    free(s->fds);
    free(s->chans);
    free(s);
}

static int ring_setup(struct tm_run *r)
{
    struct ring_state *s = calloc(1, sizeof *s);
    if (!s) return tm_run_fail(r, "ring: out of memory");
    r->state = s;
    s->tasks = tm_run_param(r, "tasks");
    s->hops = tm_run_param(r, "hops");
    s->via = (int)tm_run_param(r, "via");
    atomic_store(&s->holder, -1);
    if (s->via == VIA_PIPE) {
        if (!(s->fds = malloc((size_t)s->tasks * sizeof *s->fds)))
            return tm_run_fail(r, "ring: out of memory");
        for (int64_t i = 0; i < s->tasks; i++) s->fds[i][0] = s->fds[i][1] = -1;
        for (int64_t i = 0; i < s->tasks; i++)
            if (tm_pipe(s->fds[i]) != 0)
                return tm_run_fail(r, "ring: pipe %lld of %lld: %s", (long long)i + 1,
                                   (long long)s->tasks, strerror(errno));
    } else {
        if (!(s->chans = calloc((size_t)s->tasks, sizeof *s->chans)))
            return tm_run_fail(r, "ring: out of memory");
        for (int64_t i = 0; i < s->tasks; i++)
            if (!(s->chans[i] = tm_chan_make(sizeof(int64_t), 1)))
                return tm_run_fail(r, "ring: out of memory");
    }
    return 0;
}

static int ring_body(struct tm_run *r)
{
    struct ring_state *s = r->state;
    struct ring_arg *args = calloc((size_t)s->tasks, sizeof *args);
    struct tm_task **t = calloc((size_t)s->tasks, sizeof *t);
    int64_t i;
    int rc = 0;
    if (!args || !t) rc = tm_run_fail(r, "ring: out of memory");
    for (i = 0; rc == 0 && i < s->tasks; i++) {
        args[i] = (struct ring_arg){s, i};
        if (!(t[i] = tm_spawn(ring_task, &args[i]))) break;
    }
    if (rc == 0 && i < s->tasks) rc = wl_spawn_failed(r, i, s->tasks);
    if (rc == 0) ring_send(s, s->tasks - 1, 0); /* inject token 0 into task 0 */
    else if (i > 0) /* stop the tasks already running: the mark runs 0 -> i-1 */
        ring_send(s, s->tasks - 1, -1);
    for (int64_t j = 0; j < i; j++) tm_join(t[j]);
    free(args);
    free(t);
    r->ops = (uint64_t)atomic_load(&s->forwarded);
    return rc;
}

static uint64_t ring_verify(struct tm_run *r)
{
    struct ring_state *s = r->state;
    return (uint64_t)(atomic_load(&s->holder) + s->tasks * atomic_load(&s->forwarded));
}

static uint64_t ring_expected(const struct tm_run *r)
{
    int64_t t = tm_run_param(r, "tasks"), h = tm_run_param(r, "hops");
    return (uint64_t)(h % t + t * h);
}

static const struct tm_param_def ring_params[] = {
    {"tasks", TM_PARAM_INT, 100, 2, 100000, NULL, "tasks in the ring"},
    {"hops", TM_PARAM_INT, 100000, 1, 1000000000, NULL, "hops the token makes"},
    {"via", TM_PARAM_ENUM, 0, 0, 0, "pipe|chan", "pipe: an fd write+read per hop; chan: a channel"},
};

const struct tm_workload_ops tm_wl_ring = {
    .name = "ring",
    .kind = "io",
    .summary = "a token passed H hops around a ring of T tasks, via pipes or channels",
    .op = "one hop (receive + send)",
    .params = ring_params,
    .nparams = WL_NPARAMS(ring_params),
    .setup = ring_setup,
    .body = ring_body,
    .verify = ring_verify,
    .expected = ring_expected,
    .teardown = ring_teardown,
};
