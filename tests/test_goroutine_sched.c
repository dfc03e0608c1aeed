/* test_goroutine_sched.c — the goroutine model's scheduling promises:
 *
 *   runnext        a readied G runs next, ahead of a full local queue
 *   steal          an idle P steals, so both Ps run at once
 *   global         a G on the global queue runs while local Gs churn
 *   handoff        a G blocked in tm_blocking_read on -p 1 does not stop
 *                  the others (sysmon retakes the P)
 *   preempt        a call-free spinning G on -p 1 is preempted
 *   timers_busy    sleepers wake on time while a hog holds a P
 *   timers_all_busy  ... and while hogs hold every P (needs preemption)
 *
 * Usage: test_goroutine_sched CASE PROCS. Model metrics are read through
 * the model's ops table (model.h), the test's window into the runtime.
 * Exit 77 (CTest's skip code) when a case cannot run in this build.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "model.h"
#include "preempt.h"
#include "tm/chan.h"
#include "tm/io.h"
#include "tt.h"

/* ---- reading a model metric ---- */

struct metric_q {
    const char *name;
    double value;
    int found;
};

static void metric_cb(void *ctx, const char *name, double value)
{
    struct metric_q *q = ctx;
    if (strcmp(q->name, name) == 0) {
        q->value = value;
        q->found = 1;
    }
}

static double metric(const char *name)
{
    struct metric_q q = {.name = name};
    tmi_model->metrics(metric_cb, &q);
    CHECK(q.found);
    return q.value;
}

static _Atomic int stop;
static _Atomic long counter;

/* ---- runnext ---- */

static void spinner(void *p)
{
    (void)p;
    while (!atomic_load(&stop)) {
        atomic_fetch_add(&counter, 1);
        tm_yield();
    }
}

static struct tm_chan *ping, *pong;

static void echo(void *p)
{
    (void)p;
    int v;
    while (tm_chan_recv(ping, &v, -1) == 0)
        tm_chan_send(pong, &v, -1);
}

/* -p 1: 50 Gs yield in a loop, so the local ring is never empty. A pair
 * bouncing a message over unbuffered channels readies each other into
 * runnext: each round trip runs without waiting for the 50, so the 50
 * barely move meanwhile. Queued at the ring's tail instead, every half
 * round trip would wait for all 50 to yield once (100 yields per trip). */
static void runnext(void)
{
    enum { SPINNERS = 50, TRIPS = 2000 };
    struct tm_task *t[SPINNERS], *e;
    atomic_store(&stop, 0);
    atomic_store(&counter, 0);
    CHECK((ping = tm_chan_make(sizeof(int), 0)) && (pong = tm_chan_make(sizeof(int), 0)));
    for (int i = 0; i < SPINNERS; i++)
        CHECK((t[i] = tm_spawn(spinner, NULL)));
    CHECK((e = tm_spawn(echo, NULL)));
    while (atomic_load(&counter) < SPINNERS * 10)
        tm_yield(); /* all of them run */
    long before = atomic_load(&counter);
    for (int i = 0; i < TRIPS; i++) {
        int v = i;
        CHECK_EQ(tm_chan_send(ping, &v, -1), 0);
        CHECK_EQ(tm_chan_recv(pong, &v, -1), 0);
        CHECK_EQ(v, i);
    }
    long during = atomic_load(&counter) - before;
    atomic_store(&stop, 1);
    tm_chan_close(ping);
    for (int i = 0; i < SPINNERS; i++)
        CHECK_EQ(tm_join(t[i]), 0);
    CHECK_EQ(tm_join(e), 0);
    tm_chan_free(ping);
    tm_chan_free(pong);
    /* FIFO would give 2 * TRIPS * SPINNERS = 200000; a 10 ms slice ending
     * mid-way lets the 50 run once or so */
    if (during >= TRIPS) fprintf(stderr, "spinners yielded %ld times in %d trips\n", during, TRIPS);
    CHECK(during < TRIPS);
}

/* ---- steal ---- */

struct span {
    int64_t from, to;
    long tid;
};

static void burn(void *p)
{
    struct span *s = p;
    s->tid = syscall(SYS_gettid);
    s->from = tm_now();
    volatile uint64_t x = 1;
    while (tm_now() - s->from < 30000000) /* 30 ms of running */
        for (int i = 0; i < 10000; i++)
            x = x * 6364136223846793005ULL + 1;
    s->to = tm_now();
}

/* -p 2: the main G spawns 8 CPU-bound Gs onto its own P, and does not
 * yield. The other P must steal some, so two of them run at the same time
 * on two kernel threads. */
static void steal(void)
{
    enum { N = 8 };
    struct span s[N];
    struct tm_task *t[N];
    double steals0 = metric("steals");
    for (int i = 0; i < N; i++)
        CHECK((t[i] = tm_spawn(burn, &s[i])));
    for (int i = 0; i < N; i++)
        CHECK_EQ(tm_join(t[i]), 0);
    int overlap = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (s[i].tid != s[j].tid && s[i].from < s[j].to && s[j].from < s[i].to) overlap = 1;
    CHECK(overlap);
    CHECK(metric("steals") > steals0);
}

/* ---- global ---- */

static _Atomic long marker_at = -1; /* counter value when the marker ran */

static void marker(void *p)
{
    (void)p;
    atomic_store(&marker_at, atomic_load(&counter));
}

static void *outsider(void *p)
{
    (void)p;
    /* not an M: the spawn goes to the global queue */
    CHECK_EQ(tm_go(marker, NULL), 0);
    return NULL;
}

/* -p 1: two Gs yield to each other forever, so the local queue never
 * empties and no P idles. A G spawned from a thread outside the model
 * waits in the global queue, which schedule() checks every 61st pick: it
 * must run within a bounded number of local picks. */
static void global(void)
{
    atomic_store(&stop, 0);
    atomic_store(&counter, 0);
    atomic_store(&marker_at, -1);
    struct tm_task *a, *b;
    CHECK((a = tm_spawn(spinner, NULL)) && (b = tm_spawn(spinner, NULL)));
    while (atomic_load(&counter) < 100)
        tm_yield();
    long spawned_at = atomic_load(&counter);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, outsider, NULL) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    long queued_at = atomic_load(&counter);
    int64_t t0 = tm_now();
    while (atomic_load(&marker_at) < 0 && tm_now() - t0 < 5000000000)
        tm_yield();
    atomic_store(&stop, 1);
    CHECK_EQ(tm_join(a), 0);
    CHECK_EQ(tm_join(b), 0);
    CHECK(atomic_load(&marker_at) >= 0);
    /* 61 picks per global pick, 3 Gs yielding: a few hundred at most */
    long waited = atomic_load(&marker_at) - queued_at;
    if (waited > 1000) fprintf(stderr, "marker waited %ld local yields\n", waited);
    CHECK(waited <= 1000);
    (void)spawned_at;
}

/* ---- handoff ---- */

static int pfd[2];

static void reader(void *p)
{
    char c;
    CHECK_EQ(tm_blocking_read(pfd[0], &c, 1), 1); /* really blocks this M */
    *(char *)p = c;
}

static void counting(void *p)
{
    (void)p;
    while (!atomic_load(&stop)) {
        atomic_fetch_add(&counter, 1);
        tm_yield();
    }
}

/* -p 1: one G sits in a plain blocking read(); on one P nothing else could
 * run unless sysmon hands the P to another M. */
static void handoff(void)
{
    CHECK(pipe(pfd) == 0); /* blocking */
    atomic_store(&stop, 0);
    atomic_store(&counter, 0);
    double h0 = metric("syscall_handoffs");
    char got = 0;
    struct tm_task *r, *c;
    CHECK((r = tm_spawn(reader, &got)));
    tm_yield(); /* let it block */
    CHECK((c = tm_spawn(counting, NULL)));
    tm_sleep_ns(50000000);
    long progress = atomic_load(&counter);
    CHECK_EQ(write(pfd[1], "x", 1), 1);
    CHECK_EQ(tm_join(r), 0);
    atomic_store(&stop, 1);
    CHECK_EQ(tm_join(c), 0);
    CHECK_EQ(got, 'x');
    CHECK(progress > 0);
    CHECK(metric("syscall_handoffs") > h0);
    close(pfd[0]);
    close(pfd[1]);
}

/* ---- preemption ---- */

static void hog(void *p)
{
    (void)p;
    /* no calls: only an asynchronous preemption takes the P away */
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    }
}

/* -p 1: a G spins without calls; the main G sleeps. Only preempting the
 * spinner lets the main G (and its timer) run again. */
static void preempt(void)
{
    if (!tmi_preempt_async()) {
        printf("skip: %s\n", tmi_preempt_async_why());
        exit(77);
    }
    atomic_store(&stop, 0);
    double a0 = metric("preempt_async");
    struct tm_task *h;
    CHECK((h = tm_spawn(hog, NULL)));
    int64_t t0 = tm_now();
    tm_sleep_ns(20000000);
    int64_t late = tm_now() - t0 - 20000000;
    atomic_store(&stop, 1);
    CHECK_EQ(tm_join(h), 0);
    CHECK(metric("preempt_async") > a0);
    CHECK(late < 2000000000); /* generous: the machine is shared */
}

/* ---- timers on busy Ps ---- */

enum { SLEEPS = 20 };
static int64_t lateness[SLEEPS];

static void sleeper(void *p)
{
    (void)p;
    for (int i = 0; i < SLEEPS; i++) {
        int64_t d = tm_now() + 1000000;
        tm_sleep_until(d);
        lateness[i] = tm_now() - d;
    }
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Hogs hold `hogs` Ps while a G sleeps 1 ms twenty times. With a P free
 * its M fires the busy P's timers (steal rounds, the netpoller's timeout);
 * with every P busy, sysmon preempts the hog whose P has a timer due.
 * Without either, the sleeper would wait for the hogs, which wait for it. */
static void timers_with(int hogs)
{
    struct tm_task *h[2], *s;
    atomic_store(&stop, 0);
    for (int i = 0; i < hogs; i++)
        CHECK((h[i] = tm_spawn(hog, NULL)));
    CHECK((s = tm_spawn(sleeper, NULL)));
    CHECK_EQ(tm_join(s), 0); /* the main G is woken by the sleeper's exit */
    atomic_store(&stop, 1);
    for (int i = 0; i < hogs; i++)
        CHECK_EQ(tm_join(h[i]), 0);
    qsort(lateness, SLEEPS, sizeof lateness[0], cmp64);
    int64_t median = lateness[SLEEPS / 2], worst = lateness[SLEEPS - 1];
    printf("lateness median %.3f ms, worst %.3f ms\n", median / 1e6, worst / 1e6);
    /* On time is well under a 10 ms slice; the bounds leave room for a
     * shared, overloaded machine that deschedules us for a while. */
    CHECK(median < 100000000);
    CHECK(worst < 2000000000);
}

static void timers_busy(void)
{
    timers_with(1);
}

static void timers_all_busy(void)
{
    if (!tmi_preempt_async()) {
        printf("skip: %s\n", tmi_preempt_async_why());
        exit(77);
    }
    timers_with(2);
}

/* ---- main ---- */

static const struct tt_case cases[] = {
    {"runnext", runnext},
    {"steal", steal},
    {"global", global},
    {"handoff", handoff},
    {"preempt", preempt},
    {"timers_busy", timers_busy},
    {"timers_all_busy", timers_all_busy},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s CASE PROCS\n", argv[0]);
        return 2;
    }
    const struct tt_case *c = cases;
    while (c->name && strcmp(c->name, argv[1]) != 0)
        c++;
    if (!c->name) {
        fprintf(stderr, "unknown case %s\n", argv[1]);
        return 2;
    }
    struct tm_config cfg = {.model = "goroutine", .procs = atoi(argv[2])};
    if (tm_init(&cfg) != 0) {
        fprintf(stderr, "tm_init: %s %s\n", strerror(errno), tm_last_error());
        return 1;
    }
    CHECK(tm_run(tt_body, (void *)c->fn) == 0);
    printf("ok %s (goroutine, procs %s)\n", c->name, argv[2]);
    tm_fini();
    return 0;
}
