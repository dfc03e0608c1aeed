/* tm.h — tasks, waiters and the clock: the public core of tmbench.
 *
 * A process picks one threading model at start-up (tm_init) and runs its
 * main function as that model's main task (tm_run). Everything a workload
 * does goes through this header and sync.h, chan.h, io.h; the same workload
 * code therefore runs unchanged on pthreads, coro, mn and goroutine.
 *
 * Error model: functions return 0 (or a count) on success and -1 with errno
 * on failure. Blocking calls take an absolute deadline in nanoseconds on the
 * tm_now() clock: -1 waits forever, 0 only tries.
 *
 * The waiter is the one seam every blocking primitive is built on (Go's
 * gopark/goready). A primitive puts a waiter on its own queue under its own
 * lock, drops the lock and parks; whoever wants to wake it first *claims*
 * the waiter, then readies it. Exactly one party wins the claim — a readier,
 * or the parker itself when its deadline passes — so a timeout can never
 * race with a wake-up and lose it.
 */
#ifndef TM_TM_H
#define TM_TM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tm_task; /* opaque; owned by the model */

/* Run-wide settings, filled by the CLI from its flags. Zero means default. */
struct tm_config {
    const char *model;     /* "pthreads", "coro", "mn", "goroutine" */
    int procs;             /* cores this run may use (--procs); 0 = the model's default
                              (all PUs; 1 for coro); tm_config() shows the value used */
    const char *placement; /* --placement policy; NULL = "none" */
    int64_t slice_ns;      /* preemption slice (mn, goroutine); 0 = model default */
    size_t stack_size;     /* bytes per task stack (--stack-kb); 0 = 64 KiB */
    const char *trace;     /* --trace output path; NULL = tracing off */
};

/* Start model cfg->model. Errors: ENOENT unknown model, EINVAL bad setting
 * (e.g. coro with procs > 1), ENOMEM, or the model's own start-up errno. */
int tm_init(const struct tm_config *cfg);

/* Run main(arg) as the model's main task; returns when it returns. Tasks
 * still running then are abandoned. Errors: EINVAL before tm_init. */
int tm_run(void (*main)(void *), void *arg);

/* Stop the model and release its threads and memory. */
void tm_fini(void);

/* A one-line explanation of the calling thread's last tm failure, more
 * precise than errno ("pthreads: --procs 4 exceeds the 2 PUs of this
 * machine"), or "" when there is none. Valid until the next tm call. */
const char *tm_last_error(void);

/* The running model's name, and its settings with defaults filled in. */
const char *tm_model_name(void);
const struct tm_config *tm_config(void);

/* Spawn fn(arg) as a new task that must be joined with tm_join.
 * Returns NULL on failure. Errors: EAGAIN the model's task/thread limit,
 * ENOMEM no memory for a stack. */
struct tm_task *tm_spawn(void (*fn)(void *), void *arg);

/* Spawn a detached task: its resources are freed when fn returns.
 * Errors: as tm_spawn. */
int tm_go(void (*fn)(void *), void *arg);

/* Wait until t finishes, then free it. Each joinable task is joined exactly
 * once. Errors: EINVAL t is NULL or detached, EDEADLK t is the caller. */
int tm_join(struct tm_task *t);

/* Let other runnable tasks run. Never fails. */
void tm_yield(void);

/* The calling task. */
struct tm_task *tm_self(void);

/* Monotonic clock in nanoseconds; the clock of every deadline. */
int64_t tm_now(void);

/* Sleep until the absolute deadline. Errors: none (returns 0). */
int tm_sleep_until(int64_t deadline);

/* Sleep for ns nanoseconds (ns <= 0 yields). Returns 0. */
int tm_sleep_ns(int64_t ns);

/* ---- waiters: the park/ready seam --------------------------------------
 *
 * Lifecycle, for one wait:
 *   tm_waiter_init(&w)           by the task that will park
 *   ...put &w on a queue, unlock...
 *   tm_park(&w, deadline)        by that task
 * and, from any task or thread that found &w on the queue:
 *   if (tm_waiter_claim(&w)) tm_ready(&w);
 * A waiter is used for one wait only; init it again for the next.
 */
struct tm_waiter {
    struct tm_task *task; /* the task that parks; set by tm_waiter_init */
    _Atomic int claimed;  /* 0 open, 1 claimed; changed only by tm_waiter_claim */
    _Atomic int state;    /* the model's park/ready handshake (pthreads: a futex word) */
    int model_word;       /* free for the model (e.g. the user-level models' timer slot) */
};

/* Prepare w for one wait by the calling task. */
void tm_waiter_init(struct tm_waiter *w);

/* Try to become the one party that ends this wait. Returns 1 if the caller
 * won and must now call tm_ready(w) (after filling in any result), 0 if
 * somebody else already did. Safe from any thread. */
int tm_waiter_claim(struct tm_waiter *w);

/* Wake the task parked (or about to park) on w. Only the claimant calls it,
 * once. Safe from any thread and any model task. */
void tm_ready(struct tm_waiter *w);

/* Block the calling task until w is readied or the deadline passes.
 * Returns 0 when readied. On deadline the parker claims w for itself and
 * returns -1 with errno ETIMEDOUT; if a readier claimed first, it waits for
 * that readier's tm_ready and returns 0. The caller must take w off its
 * queue after a timeout. Errors: ETIMEDOUT. */
int tm_park(struct tm_waiter *w, int64_t deadline);

/* ---- blocking regions -------------------------------------------------
 * Bracket a call that may block the kernel thread (a plain read(), a
 * disk write). The goroutine model hands the thread's P to another M;
 * other models do nothing. Regions do not nest. */
void tm_blocking_enter(void);
void tm_blocking_exit(void);

#ifdef __cplusplus
}
#endif

#endif
