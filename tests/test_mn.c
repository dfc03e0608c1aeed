/* test_mn.c — the preemptive M:N model (models/mn, scheduler/preempt.c).
 *
 *   test_mn affinity|stress1|stress2|spin|steal|blocking|timers|deadlock|errors
 *
 * One case per process (the model is process-wide). Cases that need
 * switching in the signal handler exit 77 (skipped) in flag-only builds
 * (TSan). The internals reached here — which worker runs the caller — come
 * from models/mn/mn.h, read with preemption disabled so the answer cannot
 * go stale between reading it and using it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mn.h"
#include "model.h"
#include "place.h"
#include "preempt.h"
#include "tm/io.h"
#include "tm/tm.h"

#define CHECK_DETAIL() tm_last_error()
#include "check.h"

enum { SKIP = 77 };

static void start(int procs, const char *placement, int64_t slice_ns)
{
    struct tm_config cfg = {
        .model = "mn", .procs = procs, .placement = placement, .slice_ns = slice_ns};
    CHECK(tm_init(&cfg) == 0);
}

/* The worker running the caller, right now. */
static int worker_id(void)
{
    tmi_preempt_disable();
    int id = mn_self_worker ? mn_self_worker->id : -1;
    tmi_preempt_enable();
    return id;
}

/* The model's metrics, all at once: each call counts since the previous. */
struct metrics {
    int n;
    char name[32][48];
    double value[32];
};

static void take_metric(void *ctx, const char *name, double v)
{
    struct metrics *m = ctx;
    if (m->n == 32) return;
    snprintf(m->name[m->n], sizeof m->name[0], "%s", name);
    m->value[m->n++] = v;
}

static void metrics_take(struct metrics *m)
{
    m->n = 0;
    tmi_model->metrics(take_metric, m);
}

static double metric(const struct metrics *m, const char *name)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->name[i], name) == 0) return m->value[i];
    fprintf(stderr, "test_mn: no metric %s\n", name);
    _exit(1);
}

/* A watchdog thread (not a task): a hang fails the case with a message. */
static void *watchdog_main(void *arg)
{
    sleep((unsigned)(uintptr_t)arg);
    fprintf(stderr, "test_mn: watchdog: still running after %u s\n", (unsigned)(uintptr_t)arg);
    _exit(1);
}

static void watchdog(unsigned seconds)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, watchdog_main, (void *)(uintptr_t)seconds) == 0);
    pthread_detach(t);
}

/* Some computation the compiler cannot drop. */
static void burn(int n)
{
    uint64_t x = (uint64_t)n;
    for (int i = 0; i < n; i++)
        x = x * 6364136223846793005ULL + (uint64_t)i;
    __asm__ volatile("" : : "r"(x)); /* the result is "used" */
}

static void run(void (*fn)(void *))
{
    CHECK(tm_run(fn, NULL) == 0);
}

/* ---- affinity: each worker runs where its plan says ---- */

static struct tmi_place_plan aff_plan;
static _Atomic int aff_seen[64], aff_bad; /* observations per worker; a mismatch */

static void aff_task(void *p)
{
    for (int k = 0; k < 50; k++) {
        cpu_set_t got;
        tmi_preempt_disable(); /* the worker and its affinity, read together */
        int id = mn_self_worker->id;
        int rc = sched_getaffinity(0, sizeof got, &got);
        tmi_preempt_enable();
        CHECK(rc == 0);
        int c;
        const int *pus = tmi_place_pus(&aff_plan, id, &c);
        cpu_set_t want;
        CPU_ZERO(&want);
        for (int i = 0; i < c; i++)
            CPU_SET(pus[i], &want);
        if (!CPU_EQUAL(&got, &want)) atomic_store(&aff_bad, 1);
        atomic_fetch_add(&aff_seen[id], 1);
        burn(20000);
        tm_yield();
    }
}

static void aff_main(void *p)
{
    struct tm_task *t[16];
    for (int i = 0; i < 16; i++)
        CHECK((t[i] = tm_spawn(aff_task, NULL)));
    for (int i = 0; i < 16; i++)
        CHECK(tm_join(t[i]) == 0);
}

static void test_affinity(void)
{
    struct tmi_topo *topo;
    CHECK(tmi_topo_load(&topo, NULL, NULL) == 0);
    struct tmi_topo_info ti;
    tmi_topo_info(topo, &ti);
    int n = ti.pus < 64 ? ti.pus : 64;
    const char *policies[] = {"compact", "scatter"};
    for (int k = 0; k < 2; k++) {
        /* each run in its own child: the model is process-wide */
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            CHECK(tmi_place_plan(topo, policies[k], n, &aff_plan) == 0);
            start(n, policies[k], 0);
            run(aff_main);
            CHECK(!atomic_load(&aff_bad));
            /* and every worker thread, seen from outside */
            for (int i = 0; i < n; i++) {
                cpu_set_t got, want;
                CHECK(pthread_getaffinity_np(mn.w[i].thread, sizeof got, &got) == 0);
                int c;
                const int *pus = tmi_place_pus(&aff_plan, i, &c);
                CPU_ZERO(&want);
                for (int j = 0; j < c; j++)
                    CPU_SET(pus[j], &want);
                CHECK(CPU_EQUAL(&got, &want));
            }
            tm_fini();
            printf("ok affinity %s (%d workers)\n", policies[k], n);
            fflush(stdout);
            _exit(0);
        }
        int st;
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    tmi_topo_free(topo);
}

/* ---- stress: libc in tight loops under a 50 us slice ---- */

enum { NSTRESS = 4 };

struct stress {
    uint64_t seed;
    uint64_t iters; /* loops done */
    uint64_t sum;   /* running checksum over everything computed */
    double fsum;    /* floating point: FPU/SSE state must survive preemption */
    int workers;    /* bit i: ran on worker i */
};

static struct stress st[NSTRESS];
static int64_t stress_end;
static int stress_procs;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static inline uint64_t xs(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* One iteration; the same code replays the checksum afterwards. */
static void stress_step(struct stress *s, uint64_t *rng, int check_errno)
{
    uint64_t r = xs(rng);
    size_t n = 16 + r % 2048;
    unsigned char *buf = malloc(n);
    CHECK(buf);
    memset(buf, (int)(r & 0xff), n);
    char text[96];
    int len = snprintf(text, sizeof text, "%zu-%llx-%s", n, (unsigned long long)r, "tm");
    CHECK(len > 0 && (size_t)len < sizeof text);
    char *end;
    CHECK(strtoull(text, &end, 10) == n && *end == '-');
    CHECK(strtoull(end + 1, &end, 16) == r);
    uint32_t v[16];
    for (int i = 0; i < 16; i++)
        v[i] = (uint32_t)xs(rng);
    qsort(v, 16, sizeof v[0], cmp_u32); /* a callback from libc */
    for (int i = 1; i < 16; i++)
        CHECK(v[i - 1] <= v[i]);
    void *copy = malloc(n);
    CHECK(copy);
    memcpy(copy, buf, n);
    for (size_t i = 0; i < n; i += 97)
        CHECK(((unsigned char *)copy)[i] == (unsigned char)r);
    if (check_errno) {
        errno = 0;
        unsigned long long big = strtoull("999999999999999999999999", NULL, 10);
        CHECK(big == ~0ULL && errno == ERANGE); /* errno survives a preemption here */
    }
    free(copy);
    free(buf);
    s->sum = s->sum * 31 + r + v[0] + v[15] + (uint64_t)len;
    s->fsum = s->fsum * 0.999 + (double)(r % 1000) / 7.0;
    s->iters++;
}

static void stress_task(void *p)
{
    struct stress *s = p;
    uint64_t rng = s->seed;
    int coop = !tmi_preempt_async();
    while (tm_now() < stress_end) { /* tm_now is not a yield point: only ticks preempt */
        stress_step(s, &rng, stress_procs == 1);
        s->workers |= 1 << worker_id();
        /* flag-only builds (TSan): a runtime call, where a flagged task yields */
        if (coop) tm_self();
    }
}

static void stress_main(void *p)
{
    struct tm_task *t[NSTRESS];
    stress_end = tm_now() + 3000000000LL;
    for (int i = 0; i < NSTRESS; i++) {
        st[i] = (struct stress){.seed = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1)};
        CHECK((t[i] = tm_spawn(stress_task, &st[i])));
    }
    for (int i = 0; i < NSTRESS; i++)
        CHECK(tm_join(t[i]) == 0);
}

static void test_stress(int procs)
{
    watchdog(60);
    stress_procs = procs;
    start(procs, "none", 50000);
    struct metrics m;
    metrics_take(&m); /* start counting */
    run(stress_main);
    metrics_take(&m);
    double async = metric(&m, "preemptions"), coop = metric(&m, "preempt_coop");
    double flagged = metric(&m, "preempt_flagged");
    uint64_t min = ~0ULL, max = 0;
    int migrated = 0;
    for (int i = 0; i < NSTRESS; i++) {
        /* replay: the same steps without the runtime must give the same sums */
        struct stress r = {.seed = st[i].seed};
        uint64_t rng = r.seed;
        for (uint64_t k = 0; k < st[i].iters; k++)
            stress_step(&r, &rng, 0);
        CHECK(r.sum == st[i].sum);
        CHECK(r.fsum == st[i].fsum);
        if (st[i].iters < min) min = st[i].iters;
        if (st[i].iters > max) max = st[i].iters;
        migrated += st[i].workers != (st[i].workers & -st[i].workers);
    }
    printf("stress -p %d: iterations %llu..%llu per task, %.0f preemptions in the handler, "
           "%.0f ticks at unsafe points, %.0f flags honoured at runtime calls, %d of %d tasks "
           "ran on several workers\n",
           procs, (unsigned long long)min, (unsigned long long)max, async, flagged, coop, migrated,
           NSTRESS);
    CHECK(min > 0);
    CHECK(tmi_preempt_async() ? async > 0 : coop > 0);
    CHECK(min * 10 >= max); /* every task got its share */
    tm_fini();
    printf("ok stress -p %d\n", procs);
}

/* ---- spin: a task with no calls at all is preempted ---- */

static _Atomic int spin_flag;
static int64_t spin_t0, spin_t1;

static void spinner(void *p)
{
    while (!atomic_load_explicit(&spin_flag, memory_order_relaxed)) {
    }
}

static void setter(void *p)
{
    spin_t1 = tm_now();
    atomic_store(&spin_flag, 1);
}

static void spin_main(void *p)
{
    spin_t0 = tm_now();
    struct tm_task *a = tm_spawn(spinner, NULL);
    CHECK(a);
    tm_yield(); /* the spinner runs; only a tick can bring us back */
    struct tm_task *b = tm_spawn(setter, NULL);
    CHECK(b);
    CHECK(tm_join(b) == 0);
    CHECK(tm_join(a) == 0);
}

static int test_spin(void)
{
    start(1, "none", 1000000);
    if (!tmi_preempt_async()) {
        printf("skip spin: %s\n", tmi_preempt_async_why());
        tm_fini();
        return SKIP;
    }
    watchdog(30);
    run(spin_main);
    double ms = (double)(spin_t1 - spin_t0) / 1e6;
    struct metrics m;
    metrics_take(&m);
    printf("spin: the second task ran %.2f ms after the spinner started, %.0f preemptions\n", ms,
           metric(&m, "preemptions"));
    CHECK(ms < 2000); /* a slice is 1 ms; generous for a shared machine */
    tm_fini();
    printf("ok spin\n");
    return 0;
}

/* ---- steal: a parfor-like load keeps both workers busy ---- */

enum { NCHUNK = 64 };
static _Atomic int ran_on[2];

static void chunk(void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    for (int i = 0; i < 400000; i++)
        x = (x ^ (x >> 31)) * 0x9E3779B97F4A7C15ULL + 1;
    *(volatile uint64_t *)p = x; /* p points to its own slot */
    atomic_fetch_add(&ran_on[worker_id()], 1);
}

static void steal_main(void *p)
{
    static uint64_t slot[NCHUNK];
    struct tm_task *t[NCHUNK];
    for (int i = 0; i < NCHUNK; i++)
        CHECK((t[i] = tm_spawn(chunk, &slot[i])));
    for (int i = 0; i < NCHUNK; i++)
        CHECK(tm_join(t[i]) == 0);
}

static void test_steal(void)
{
    watchdog(120);
    start(2, "compact", 0);
    struct metrics m;
    metrics_take(&m);
    run(steal_main);
    metrics_take(&m);
    double steals = 0;
    const char *lv[] = {"steals_smt", "steals_l2", "steals_l3", "steals_package", "steals_remote"};
    for (int i = 0; i < 5; i++)
        steals += metric(&m, lv[i]);
    int a = atomic_load(&ran_on[0]), b = atomic_load(&ran_on[1]);
    printf("steal: chunks finished on worker 0: %d, worker 1: %d; %.0f steals\n", a, b, steals);
    CHECK(a + b == NCHUNK);
    CHECK(steals > 0);
    /* Both workers ran chunks. How evenly depends on the kernel giving both
     * threads a core, which a shared machine does not promise. */
    CHECK(a >= 1 && b >= 1);
    tm_fini();
    printf("ok steal\n");
}

/* ---- blocking: a blocked worker does not stop the other one ---- */

static int bl_pipe[2];
static _Atomic int64_t bl_written, bl_done_before;
static _Atomic int bl_computed;

static void *feeder(void *p)
{
    usleep(300000);
    atomic_store(&bl_written, tm_now());
    char c = 'x';
    CHECK(write(bl_pipe[1], &c, 1) == 1);
    return NULL;
}

static void blocker(void *p)
{
    char c;
    CHECK(tm_blocking_read(bl_pipe[0], &c, 1) == 1);
}

static void computer(void *p)
{
    burn(200000);
    atomic_fetch_add(&bl_computed, 1);
    if (!atomic_load(&bl_written)) atomic_fetch_add(&bl_done_before, 1);
}

static void blocking_main(void *p)
{
    pthread_t f;
    CHECK(pipe(bl_pipe) == 0);
    CHECK(pthread_create(&f, NULL, feeder, NULL) == 0);
    struct tm_task *b = tm_spawn(blocker, NULL), *c[32];
    CHECK(b);
    tm_sleep_ns(20000000); /* the blocker is in read() now, holding one worker */
    for (int i = 0; i < 32; i++)
        CHECK((c[i] = tm_spawn(computer, NULL)));
    for (int i = 0; i < 32; i++)
        CHECK(tm_join(c[i]) == 0);
    CHECK(tm_join(b) == 0);
    pthread_join(f, NULL);
    close(bl_pipe[0]);
    close(bl_pipe[1]);
}

static void test_blocking(void)
{
    watchdog(60);
    start(2, "none", 0);
    run(blocking_main);
    printf("blocking: %d of 32 computations done while a worker sat in read()\n",
           (int)atomic_load(&bl_done_before));
    CHECK(atomic_load(&bl_computed) == 32);
    CHECK(atomic_load(&bl_done_before) == 32);
    tm_fini();
    printf("ok blocking\n");
}

/* ---- timers: sleepers wake while every worker runs a hog ---- */

static _Atomic int stop_hogs, wakes;

static void hog(void *p)
{
    while (!atomic_load_explicit(&stop_hogs, memory_order_relaxed)) {
    }
}

/* Sleeps 1 ms at a time for 300 ms, then stops the hogs: without
 * preemption it never runs again once the hogs hold both workers. */
static void sleeper(void *p)
{
    int64_t end = tm_now() + 300000000;
    while (tm_now() < end) {
        tm_sleep_ns(1000000);
        atomic_fetch_add(&wakes, 1);
    }
    atomic_store(&stop_hogs, 1);
}

static void timers_main(void *p)
{
    struct tm_task *s = tm_spawn(sleeper, NULL), *h[2];
    CHECK(s);
    tm_sleep_ns(1000000);
    for (int i = 0; i < 2; i++)
        CHECK((h[i] = tm_spawn(hog, NULL)));
    for (int i = 0; i < 2; i++)
        CHECK(tm_join(h[i]) == 0);
    CHECK(tm_join(s) == 0);
}

static int test_timers(void)
{
    start(2, "none", 1000000);
    if (!tmi_preempt_async()) {
        printf("skip timers: %s\n", tmi_preempt_async_why());
        tm_fini();
        return SKIP;
    }
    watchdog(60);
    run(timers_main);
    printf("timers: %d 1 ms sleeps completed in 300 ms next to two hogs on two workers\n",
           (int)atomic_load(&wakes));
    CHECK(atomic_load(&wakes) >= 30); /* ~150-300 on a quiet machine */
    tm_fini();
    printf("ok timers\n");
    return 0;
}

/* ---- deadlock and errors ---- */

static void park_forever(void *p)
{
    struct tm_waiter w;
    tm_waiter_init(&w);
    tm_park(&w, -1);
}

static void test_deadlock(void)
{
    watchdog(30);
    start(2, "none", 0);
    errno = 0;
    CHECK(tm_run(park_forever, NULL) == -1);
    CHECK(errno == EDEADLK);
    CHECK(strstr(tm_last_error(), "mn: deadlock"));
    printf("ok deadlock: %s\n", tm_last_error());
    _exit(0); /* the parked main task is abandoned with its stack */
}

static void test_errors(void)
{
    struct tm_config cfg = {.model = "mn", .procs = 2, .placement = "bogus"};
    CHECK(tm_init(&cfg) == -1 && errno == EINVAL);
    CHECK(strstr(tm_last_error(), "unknown placement 'bogus'"));
    cfg.placement = "pus:0-99999";
    CHECK(tm_init(&cfg) == -1 && errno == EINVAL);
    CHECK(strstr(tm_last_error(), "is not in this topology"));
    cfg.placement = "none";
    cfg.procs = 5000;
    CHECK(tm_init(&cfg) == -1 && errno == EINVAL);
    cfg.procs = 0; /* the default: one worker per PU */
    CHECK(tm_init(&cfg) == 0);
    CHECK(tm_config()->procs >= 1 && tm_config()->slice_ns == 1000000);
    tm_fini();
    printf("ok errors\n");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *c = argc == 2 ? argv[1] : "";
    if (!strcmp(c, "affinity"))
        test_affinity();
    else if (!strcmp(c, "stress1"))
        test_stress(1);
    else if (!strcmp(c, "stress2"))
        test_stress(2);
    else if (!strcmp(c, "spin"))
        return test_spin();
    else if (!strcmp(c, "steal"))
        test_steal();
    else if (!strcmp(c, "blocking"))
        test_blocking();
    else if (!strcmp(c, "timers"))
        return test_timers();
    else if (!strcmp(c, "deadlock"))
        test_deadlock();
    else if (!strcmp(c, "errors"))
        test_errors();
    else {
        fprintf(stderr, "usage: test_mn affinity|stress1|stress2|spin|steal|blocking|timers|"
                        "deadlock|errors\n");
        return 2;
    }
    return 0;
}
