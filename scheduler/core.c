/* core.c — the public tm.h functions: model selection, thin wrappers over
 * the running model's ops, the waiter claim protocol, the clock.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "tmi.h"
#include "trace.h"

const struct tm_model_ops *tmi_model;
static struct tm_config config; /* with defaults filled in; set by tm_init */

_Thread_local int tmi_preempt_off;
static _Thread_local char last_error[256];

_Noreturn void tmi_panic(const char *file, int line, const char *msg)
{
    fprintf(stderr, "tmbench: internal error: %s (%s:%d)\n", msg, file, line);
    abort();
}

int tmi_fail(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    errno = err;
    return -1;
}

const char *tm_last_error(void) { return last_error; }

uint64_t tmi_rand(void)
{
    static _Thread_local uint64_t s;
    if (s == 0) s = ((uint64_t)(uintptr_t)&s ^ (uint64_t)tm_now()) | 1;
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1DULL;
}

int64_t tm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int tm_init(const struct tm_config *cfg)
{
    last_error[0] = 0;
    if (tmi_model) return tmi_fail(EBUSY, "tm_init: a model is already running");
    const struct tm_model_ops *m = tmi_model_find(cfg->model ? cfg->model : "");
    if (!m) return tmi_fail(ENOENT, "unknown model '%s'", cfg->model ? cfg->model : "");
    config = *cfg;
    config.model = m->name;
    if (config.procs < 0) config.procs = 0; /* the model picks */
    if (!config.placement) config.placement = "none";
    if (config.stack_size == 0) config.stack_size = 64 * 1024;
    if (m->init(&config) != 0) return -1;
    tmi_model = m;
    return 0;
}

int tm_run(void (*main)(void *), void *arg)
{
    if (!tmi_model) return tmi_fail(EINVAL, "tm_run before tm_init");
    return tmi_model->run(main, arg);
}

void tm_fini(void)
{
    if (!tmi_model) return;
    tmi_model->fini();
    tmi_model = NULL;
}

const char *tm_model_name(void) { return tmi_model ? tmi_model->name : NULL; }
const struct tm_config *tm_config(void) { return &config; }

/* last_error is cleared first so that a failure's detail is never a stale
 * one: a spawn that fails may or may not explain itself. */
struct tm_task *tm_spawn(void (*fn)(void *), void *arg)
{
    last_error[0] = 0;
    return tmi_model->spawn(fn, arg, 0);
}

int tm_go(void (*fn)(void *), void *arg)
{
    last_error[0] = 0;
    return tmi_model->spawn(fn, arg, 1) ? 0 : -1;
}

int tm_join(struct tm_task *t)
{
    if (!t) return tmi_fail(EINVAL, "tm_join: NULL task");
    if (t == tmi_model->self()) return tmi_fail(EDEADLK, "tm_join: a task cannot join itself");
    return tmi_model->join(t);
}

void tm_yield(void) { tmi_model->yield(); }
struct tm_task *tm_self(void) { return tmi_model->self(); }

/* ---- waiters ---- */

void tm_waiter_init(struct tm_waiter *w)
{
    w->task = tmi_model->self();
    atomic_init(&w->claimed, 0);
    atomic_init(&w->state, 0);
    w->model_word = 0;
}

int tm_waiter_claim(struct tm_waiter *w)
{
    int open = 0;
    /* acq_rel: the winner's later writes (results) happen after the claim,
     * and a loser observes the winner's claim. */
    return atomic_compare_exchange_strong_explicit(&w->claimed, &open, 1, memory_order_acq_rel,
                                                   memory_order_acquire);
}

void tm_ready(struct tm_waiter *w) { tmi_model->ready(w); }

int tm_park(struct tm_waiter *w, int64_t deadline)
{
    if (tmi_model->park(w, deadline) == 0) return 0;
    if (tm_waiter_claim(w)) {
        errno = ETIMEDOUT;
        return -1;
    }
    /* A readier won the claim just before the deadline: its tm_ready is on
     * the way, and w must stay alive until it lands. */
    int r = tmi_model->park(w, -1);
    tm_assert(r == 0, "park: a wait without deadline timed out");
    return 0;
}

int tm_sleep_until(int64_t deadline)
{
    if (deadline <= tm_now()) {
        tm_yield();
        return 0;
    }
    struct tm_waiter w;
    tm_waiter_init(&w);
    int r = tm_park(&w, deadline); /* nobody else knows w: it times out */
    tm_assert(r == -1, "sleep: a private waiter was readied");
    return 0;
}

int tm_sleep_ns(int64_t ns) { return tm_sleep_until(tm_now() + ns); }

void tm_blocking_enter(void)
{
    TMI_TRACE_BLOCK_ENTER();
    if (tmi_model->blocking_enter) tmi_model->blocking_enter();
}

void tm_blocking_exit(void)
{
    /* The system call has returned: the blocked interval ends here. The
     * model's exit may then wait for a processor (goroutine: no P free, the
     * task is queued and its M parks) — that is scheduling, recorded by the
     * model's own switch hooks, not time blocked in the kernel. */
    TMI_TRACE_BLOCK_EXIT();
    if (tmi_model->blocking_exit) tmi_model->blocking_exit();
}
