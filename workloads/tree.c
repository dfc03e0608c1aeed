/* tree.c — many-task workloads: idle (memory per parked task) and skynet
 * (a 10-ary tree of a million tasks summing through channels). */
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "tm/chan.h"
#include "tm/sync.h"
#include "wl.h"

/* Resident set size of the process now, in bytes (/proc/self/statm). */
static long rss_bytes(void)
{
    long pages_total = 0, pages_res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    int n = fscanf(f, "%ld %ld", &pages_total, &pages_res);
    fclose(f);
    return n == 2 ? pages_res * sysconf(_SC_PAGESIZE) : -1;
}

/* ---- idle: N tasks parked on one channel; memory per task ---- */

struct idle_state {
    struct tm_chan *gate;   /* every task waits to receive from it */
    struct tm_waitgroup wg; /* tasks that have not finished */
    _Atomic int64_t parked; /* tasks that reached their receive */
    _Atomic int64_t woken;  /* tasks the close woke */
};

static void idle_task(void *p)
{
    struct idle_state *s = p;
    atomic_fetch_add_explicit(&s->parked, 1, memory_order_relaxed);
    if (tm_chan_recv(s->gate, NULL, -1) == -1 && errno == EPIPE)
        atomic_fetch_add_explicit(&s->woken, 1, memory_order_relaxed);
    tm_waitgroup_done(&s->wg);
}

static int idle_setup(struct tm_run *r)
{
    struct idle_state *s = calloc(1, sizeof *s);
    if (!s || !(s->gate = tm_chan_make(1, 0))) {
        free(s);
        return tm_run_fail(r, "idle: out of memory");
    }
    tm_waitgroup_init(&s->wg);
    r->state = s;
    return 0;
}

static int idle_body(struct tm_run *r)
{
    struct idle_state *s = r->state;
    int64_t n = tm_run_param(r, "tasks"), i;
    long before = rss_bytes();
    for (i = 0; i < n; i++) {
        tm_waitgroup_add(&s->wg, 1);
        if (tm_go(idle_task, s) != 0) {
            tm_waitgroup_done(&s->wg);
            break;
        }
    }
    int rc = i < n ? wl_spawn_failed(r, i, n) : 0;
    /* wait until every spawned task has reached its receive */
    while (atomic_load(&s->parked) < i) tm_sleep_ns(200000);
    long after = rss_bytes();
    if (rc == 0 && before > 0 && after > 0) {
        tm_run_metric(r, "rss_bytes_before", (double)before);
        tm_run_metric(r, "rss_bytes_parked", (double)after);
        tm_run_metric(r, "bytes_per_task", (double)(after - before) / (double)n);
    }
    tm_chan_close(s->gate);
    tm_waitgroup_wait(&s->wg, -1);
    r->ops = (uint64_t)i;
    return rc;
}

static uint64_t idle_verify(struct tm_run *r)
{
    return (uint64_t)atomic_load(&((struct idle_state *)r->state)->woken);
}

static uint64_t idle_expected(const struct tm_run *r) { return (uint64_t)tm_run_param(r, "tasks"); }

static void idle_teardown(struct tm_run *r)
{
    struct idle_state *s = r->state;
    if (!s) return;
    tm_chan_free(s->gate);
    free(s);
}

static const struct tm_param_def idle_params[] = {
    {"tasks", TM_PARAM_INT, 100000, 1, 100000000, NULL, "tasks parked at once"},
};

const struct tm_workload_ops tm_wl_idle = {
    .name = "idle",
    .kind = "micro",
    .summary = "N tasks parked on one channel, then all woken by close; metrics.bytes_per_task",
    .op = "one task spawned, parked and woken",
    .params = idle_params,
    .nparams = WL_NPARAMS(idle_params),
    .setup = idle_setup,
    .body = idle_body,
    .verify = idle_verify,
    .expected = idle_expected,
    .teardown = idle_teardown,
};

/* ---- skynet: a 10-ary tree of tasks summing its leaves' numbers ---- */

struct sky_arg {
    int64_t num, size;    /* first leaf number of this subtree, leaves in it */
    struct tm_chan *out;  /* where to send the subtree's sum */
    _Atomic int64_t *spawned;
};

enum { SKY_DIV = 10 };

/* The first failure in the tree: its errno (0: none yet), the detail,
 * and how many tasks had been spawned when it happened. The failing task
 * copies the detail at once (tm_last_error is per kernel thread); its send
 * up the tree orders the copy before the root reads it. */
static _Atomic int sky_errno;
static char sky_why[256];
static int64_t sky_failed_at;
static _Atomic int64_t sky_spawned;

static void sky_fail(int e, const char *why)
{
    int none = 0;
    if (atomic_compare_exchange_strong(&sky_errno, &none, e)) {
        snprintf(sky_why, sizeof sky_why, "%s", why);
        sky_failed_at = atomic_load(&sky_spawned);
    }
}

static void sky_node(void *p)
{
    struct sky_arg a = *(struct sky_arg *)p; /* the parent's copy may go */
    int64_t sum = a.num;
    if (a.size > 1) {
        /* Children's arguments live in this frame: each child copies its
         * own before this node can receive its sum and return. */
        struct sky_arg kids[SKY_DIV];
        struct tm_chan *rc = tm_chan_make(sizeof(int64_t), SKY_DIV);
        int64_t sub = a.size / SKY_DIV;
        int spawned = 0;
        sum = 0;
        if (!rc) sky_fail(ENOMEM, "out of memory for a channel");
        for (int i = 0; rc && i < SKY_DIV; i++) {
            kids[i] = (struct sky_arg){a.num + i * sub, sub, rc, a.spawned};
            if (tm_go(sky_node, &kids[i]) != 0) {
                sky_fail(errno, tm_last_error());
                break;
            }
            spawned++;
        }
        atomic_fetch_add_explicit(a.spawned, spawned, memory_order_relaxed);
        for (int i = 0; i < spawned; i++) {
            int64_t v;
            tm_chan_recv(rc, &v, -1);
            sum += v;
        }
        if (rc) tm_chan_free(rc);
    }
    tm_chan_send(a.out, &sum, -1);
}

static int64_t sky_sum;

static int sky_body(struct tm_run *r)
{
    int64_t n = tm_run_param(r, "tasks"), p = 1;
    while (p < n) p *= SKY_DIV;
    if (p != n) return tm_run_fail(r, "skynet: tasks must be a power of 10, not %lld", (long long)n);
    atomic_store(&sky_errno, 0);
    sky_why[0] = '\0';
    atomic_store(&sky_spawned, 0);
    struct tm_chan *out = tm_chan_make(sizeof(int64_t), 1);
    if (!out) return tm_run_fail(r, "skynet: out of memory");
    struct sky_arg root = {0, n, out, &sky_spawned};
    sky_node(&root); /* the root runs in the main task */
    tm_chan_recv(out, &sky_sum, -1);
    tm_chan_free(out);
    r->ops = (uint64_t)atomic_load(&sky_spawned) + 1;
    if (atomic_load(&sky_errno)) /* the tree is done: every task has sent its sum */
        return wl_spawn_failed_as(r, sky_failed_at, n + n / 9, atomic_load(&sky_errno), sky_why);
    return 0;
}

static uint64_t sky_verify(struct tm_run *r) { return (uint64_t)sky_sum; }

static uint64_t sky_expected(const struct tm_run *r)
{
    uint64_t n = (uint64_t)tm_run_param(r, "tasks");
    return n * (n - 1) / 2;
}

static const struct tm_param_def sky_params[] = {
    {"tasks", TM_PARAM_INT, 1000000, 1, 100000000, NULL, "leaves (a power of 10)"},
};

const struct tm_workload_ops tm_wl_skynet = {
    .name = "skynet",
    .kind = "cpu",
    .summary = "10-ary tree of tasks with `tasks` leaves summing through channels",
    .op = "one task of the tree (leaves and inner nodes)",
    .params = sky_params,
    .nparams = WL_NPARAMS(sky_params),
    .body = sky_body,
    .verify = sky_verify,
    .expected = sky_expected,
};
