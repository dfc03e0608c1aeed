/* mixed.c — workloads that mix computation with blocking or hogging, to
 * show what each model does when a task will not cooperate:
 *   blockio  tasks make plain blocking read()s while others compute;
 *   hoglat   tasks spin with no calls at all while a probe tries to sleep
 *            1 ms at a time. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "tm/io.h"
#include "tm/sync.h"
#include "wl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static inline uint64_t cycles(void) { return __rdtsc(); }
#elif defined(__aarch64__)
static inline uint64_t cycles(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
    return v;
}
#else
#error "hoglat needs a call-free cycle counter for this processor"
#endif

/* ---- compute in chunks, counting progress inside a time window ---- */

enum { CHUNK_ROUNDS = 2000 }; /* a few microseconds of hashing */

static uint64_t spin_hash(uint64_t x, int rounds)
{
    for (int i = 0; i < rounds; i++) x = (x ^ (x >> 31)) * 0x9E3779B97F4A7C15ULL + 1;
    return x;
}

struct window {
    int64_t from, to;        /* count chunks finished in [from, to) */
    _Atomic int *gate;       /* start once *gate >= gate_at */
    int gate_at;
    _Atomic uint64_t chunks; /* progress inside the window */
    _Atomic uint64_t sink;   /* keeps the hashing alive */
};

static void computer(void *p)
{
    struct window *w = p;
    uint64_t x = (uint64_t)(uintptr_t)&x, mine = 0;
    while (atomic_load(w->gate) < w->gate_at) tm_yield();
    for (;;) {
        x = spin_hash(x, CHUNK_ROUNDS);
        int64_t now = tm_now();
        if (now >= w->to) break;
        if (now >= w->from) mine++;
        tm_yield(); /* a cooperative citizen: the blocking is someone else's */
    }
    atomic_fetch_add(&w->chunks, mine);
    atomic_fetch_add(&w->sink, x);
}

/* ---- blockio ---- */

struct blocker {
    int fd;                /* read end of a blocking pipe */
    _Atomic int *entered;  /* blockers about to call read() */
    _Atomic int64_t *bytes;
};

static void blocker_task(void *p)
{
    struct blocker *b = p;
    int64_t v;
    atomic_fetch_add(b->entered, 1);
    ssize_t n = tm_blocking_read(b->fd, &v, sizeof v); /* really blocks */
    if (n > 0) atomic_fetch_add(b->bytes, n);
}

/* The outside world: a kernel thread (not a task: on coro no task could
 * run while the thread is blocked) that feeds every pipe at `when`. */
struct feeder {
    int64_t when;
    int *wfds, n;
};

static void *feeder_main(void *p)
{
    struct feeder *f = p;
    int64_t left;
    while ((left = f->when - tm_now()) > 0) usleep((useconds_t)(left / 1000 + 1));
    for (int i = 0; i < f->n; i++) {
        int64_t v = i;
        if (write(f->wfds[i], &v, sizeof v) < 0) break;
    }
    return NULL;
}

/* Run `ncomp` computers over [from, to), with `nblock` blockers started
 * first when nblock > 0. Returns chunks finished inside the window, or -1. */
static int64_t blockio_phase(struct tm_run *r, int ncomp, int nblock, int64_t delay_ns,
                             _Atomic int64_t *bytes)
{
    _Atomic int entered = 0;
    int fds[64][2], nfds = 0;
    struct blocker b[64];
    struct tm_task *t[128];
    int nt = 0, rc = 0;
    pthread_t feeder;
    int64_t t0 = tm_now();
    struct window w = {.from = t0, .to = t0 + delay_ns, .gate = &entered, .gate_at = nblock};
    struct feeder f = {.when = w.to, .n = nblock};
    int wfds[64];
    for (; nfds < nblock; nfds++)
        if (pipe(fds[nfds]) != 0) {
            rc = tm_run_fail(r, "blockio: pipe: %s", strerror(errno));
            break;
        }
    for (int i = 0; i < nfds; i++) wfds[i] = fds[i][1];
    f.wfds = wfds;
    f.n = nfds;
    if (rc == 0 && nblock && pthread_create(&feeder, NULL, feeder_main, &f) != 0)
        rc = tm_run_fail(r, "blockio: cannot start the feeder thread");
    for (int i = 0; rc == 0 && i < nblock; i++) {
        b[i] = (struct blocker){fds[i][0], &entered, bytes};
        if (!(t[nt] = tm_spawn(blocker_task, &b[i]))) rc = wl_spawn_failed(r, i, nblock);
        else nt++;
    }
    for (int i = 0; rc == 0 && i < ncomp; i++) {
        if (!(t[nt] = tm_spawn(computer, &w))) rc = wl_spawn_failed(r, i, ncomp);
        else nt++;
    }
    if (rc != 0) atomic_store(&entered, nblock); /* let started computers through */
    for (int i = 0; i < nt; i++) tm_join(t[i]);
    if (nblock && nfds == nblock && (rc == 0 || nt > 0)) pthread_join(feeder, NULL);
    for (int i = 0; i < nfds; i++) close(fds[i][0]), close(fds[i][1]);
    return rc == 0 ? (int64_t)atomic_load(&w.chunks) : -1;
}

static _Atomic int64_t blockio_bytes;

static int blockio_body(struct tm_run *r)
{
    int nblock = (int)tm_run_param(r, "blockers");
    int ncomp = r->procs > 0 ? r->procs : 1;
    int64_t delay = tm_run_param(r, "delay_us") * 1000;
    atomic_store(&blockio_bytes, 0);
    int64_t base = blockio_phase(r, ncomp, 0, delay, &blockio_bytes);
    if (base < 0) return -1;
    int64_t blocked = blockio_phase(r, ncomp, nblock, delay, &blockio_bytes);
    if (blocked < 0) return -1;
    tm_run_metric(r, "chunks_alone", (double)base);
    tm_run_metric(r, "chunks_blocked", (double)blocked);
    tm_run_metric(r, "progress_ratio", base > 0 ? (double)blocked / (double)base : 0.0);
    r->ops = (uint64_t)(base + blocked);
    return 0;
}

static uint64_t blockio_verify(struct tm_run *r) { return (uint64_t)atomic_load(&blockio_bytes); }
static uint64_t blockio_expected(const struct tm_run *r)
{
    return (uint64_t)tm_run_param(r, "blockers") * sizeof(int64_t);
}

static const struct tm_param_def blockio_params[] = {
    {"blockers", TM_PARAM_INT, 1, 1, 64, NULL, "tasks blocked in a plain read()"},
    {"delay_us", TM_PARAM_INT, 50000, 1000, 10000000, NULL, "how long the reads block (the window)"},
};

const struct tm_workload_ops tm_wl_blockio = {
    .name = "blockio",
    .kind = "mixed",
    .summary = "blockers sit in plain read()s while `procs` tasks compute; "
               "metrics.progress_ratio = compute done meanwhile / compute done alone",
    .op = "one compute chunk (~2000 hash rounds) inside the window",
    .params = blockio_params,
    .nparams = WL_NPARAMS(blockio_params),
    .body = blockio_body,
    .verify = blockio_verify,
    .expected = blockio_expected,
};

/* ---- hoglat: hogs spin without calls; a probe sleeps 1 ms at a time ---- */

struct hog_state {
    uint64_t end_cycles;  /* hogs spin until the cycle counter passes this */
    _Atomic int done;     /* hogs finished */
    _Atomic int asleep;   /* the probe has begun its first sleep */
    int hogs;
    struct tm_hist *lat;
    uint64_t wakeups;     /* probe wake-ups */
};

static void hog(void *p)
{
    struct hog_state *s = p;
    /* No calls, no loads of shared data that a compiler could turn into a
     * safe point: only asynchronous preemption can take the CPU away. */
    while (cycles() < s->end_cycles) {
    }
    atomic_fetch_add(&s->done, 1);
}

static void probe(void *p)
{
    struct hog_state *s = p;
    while (atomic_load(&s->done) < s->hogs) {
        int64_t deadline = tm_now() + 1000000;
        atomic_store(&s->asleep, 1);
        tm_sleep_until(deadline);
        tm_hist_record(s->lat, tm_now() - deadline);
        s->wakeups++;
    }
}

static struct hog_state hog_state;

static int hoglat_body(struct tm_run *r)
{
    struct hog_state *s = &hog_state;
    int64_t dur = tm_run_param(r, "duration_ms") * 1000000;
    *s = (struct hog_state){.hogs = (int)tm_run_param(r, "hogs"), .lat = tm_run_hist(r)};
    if (!s->lat) return tm_run_fail(r, "hoglat: out of memory");
    /* calibrate the cycle counter against the clock over 2 ms */
    int64_t t0 = tm_now();
    uint64_t c0 = cycles();
    while (tm_now() - t0 < 2000000) {
    }
    double per_ns = (double)(cycles() - c0) / (double)(tm_now() - t0);
    s->end_cycles = cycles() + (uint64_t)(per_ns * (double)dur);
    struct tm_task *pt = tm_spawn(probe, s), *ht[64];
    if (!pt) return wl_spawn_failed(r, 0, s->hogs + 1);
    /* The hogs start only once the probe is asleep, so its first wake-up
     * already competes with them. */
    while (!atomic_load(&s->asleep)) tm_sleep_ns(20000);
    int i, rc = 0;
    for (i = 0; i < s->hogs; i++)
        if (!(ht[i] = tm_spawn(hog, s))) break;
    if (i < s->hogs) {
        rc = wl_spawn_failed(r, i + 1, s->hogs + 1);
        atomic_store(&s->done, s->hogs);
    }
    for (int j = 0; j < i; j++) tm_join(ht[j]);
    tm_join(pt);
    tm_run_metric(r, "probe_wakeups", (double)s->wakeups);
    r->ops = s->wakeups;
    return rc;
}

static uint64_t hoglat_verify(struct tm_run *r) { return (uint64_t)atomic_load(&hog_state.done); }
static uint64_t hoglat_expected(const struct tm_run *r) { return (uint64_t)tm_run_param(r, "hogs"); }

static const struct tm_param_def hoglat_params[] = {
    {"hogs", TM_PARAM_INT, 2, 1, 64, NULL, "tasks spinning with no calls"},
    {"duration_ms", TM_PARAM_INT, 200, 1, 600000, NULL, "how long each hog spins"},
};

const struct tm_workload_ops tm_wl_hoglat = {
    .name = "hoglat",
    .kind = "mixed",
    .summary = "H hogs spin with no calls for duration_ms; a probe sleeps 1 ms at a time; "
               "latency_ns is the probe's lateness",
    .op = "one probe wake-up",
    .params = hoglat_params,
    .nparams = WL_NPARAMS(hoglat_params),
    .body = hoglat_body,
    .verify = hoglat_verify,
    .expected = hoglat_expected,
};
