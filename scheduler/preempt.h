/* preempt.h — asynchronous preemption for user-level schedulers: a timer
 * signal per worker thread, the safe-point test, and the preemption-disable
 * counter. Shared by mn and the goroutine runtime; the design note (how a
 * switch from a signal handler is made safe, and what was rejected) is at
 * the top of preempt.c.
 *
 * The model supplies one function, the tick. Every slice each armed worker
 * thread gets TMI_PREEMPT_SIGNAL; the handler raises tmi_preempt_off and
 * calls tick(pp) on the interrupted stack, with pp describing the point:
 *
 *   was_off   tmi_preempt_off of the interrupted code: > 0 means runtime
 *             code or a spin lock was interrupted (or the worker's own
 *             scheduler context was running)
 *   pc_ok     the interrupted PC is in code that may be suspended there
 *             (the main executable, not the handler), and this build
 *             allows switching in the handler at all
 *
 * A switch is safe when was_off == 0, pc_ok, and tmi_preempt_frames_ok()
 * for the task's stack (no foreign frame, such as libc calling back into a
 * task's comparison function, anywhere on it). Then the tick may switch to
 * another context (after tmi_preempt_unblock); the task resumes later,
 * perhaps on another worker, when something switches back, and the
 * handler then restores errno and returns through sigreturn, which
 * restores every register. Otherwise the tick may only flag the task, to
 * yield at its next runtime call.
 *
 * The switch invariant this rests on: whenever control passes between
 * contexts on a worker thread, that thread's tmi_preempt_off is exactly 1
 * (raised by the op or handler that switches away, lowered by whatever
 * resumes). The scheduler context itself runs with it at 1.
 */
#ifndef TMI_PREEMPT_H
#define TMI_PREEMPT_H

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "tmi.h"

/* SIGURG, as Go: ignored by default, not used by libc, and a standard
 * (non-queued) signal, so a late tick coalesces with the next. */
#define TMI_PREEMPT_SIGNAL SIGURG

/* Where a tick interrupted a thread. */
struct tmi_preempt_point {
    int was_off;    /* tmi_preempt_off of the interrupted code */
    int pc_ok;      /* PC in the main executable, outside the handler; async allowed */
    const void *uc; /* the ucontext_t, for tmi_preempt_frames_ok */
};

typedef void (*tmi_preempt_tick_fn)(const struct tmi_preempt_point *pp);

/* Install the handler for tick (process-wide) and find the code ranges of
 * the safe-point test. Errors: as sigaction. */
int tmi_preempt_init(tmi_preempt_tick_fn tick);
/* Put the previous handler back. Every worker timer must be deleted. */
void tmi_preempt_fini(void);

/* 1 when ticks may switch from the handler in this build and process;
 * 0 when preemption is only the cooperative flag (ThreadSanitizer builds,
 * clang ASan builds, or a runtime outside the main executable). */
int tmi_preempt_async(void);
/* Why not, when tmi_preempt_async() is 0 (a short phrase). */
const char *tmi_preempt_async_why(void);

/* The safe-point address test alone (for tests): pc lies in the main
 * executable's code and outside the handler's own section. */
int tmi_preempt_pc_ok(uintptr_t pc);

/* Walk the interrupted frame-pointer chain on the stack [lo, hi): 1 when
 * every return address on it lies in the main executable up to `base`
 * (the frame of the task's entry function: what lies below it is the
 * context backend's start-up, which may be libc's for ucontext) or to the
 * chain's end (RBP = 0, where an asm context starts), and neither of the
 * two words at the stack pointer is a return address into another object
 * (a function in its prologue or epilogue). 0 — unsafe — when a frame
 * returns into libc or any other shared object (a callback from qsort,
 * from dl_iterate_phdr with the loader's lock held...), or the chain
 * leaves the stack or is broken. Needs frame pointers (the build keeps
 * them). */
int tmi_preempt_frames_ok(const struct tmi_preempt_point *pp, const void *lo, const void *hi,
                          const void *base);

/* One worker thread's tick timer. Owned by that thread. */
struct tmi_preempt_timer {
    timer_t id;        /* POSIX timer signalling this thread */
    int64_t period_ns; /* the slice */
    int created;       /* id is valid */
    int armed;         /* ticking */
};

/* Create the calling thread's timer (not armed), unblock the signal on this
 * thread and remember its alternate signal stack (call after
 * tmi_stack_thread_init). Errors: as timer_create. */
int tmi_preempt_thread_init(struct tmi_preempt_timer *pt, int64_t period_ns);
void tmi_preempt_thread_fini(struct tmi_preempt_timer *pt);

/* Start / stop ticking every period_ns. No-ops when already so. */
void tmi_preempt_arm(struct tmi_preempt_timer *pt);
void tmi_preempt_disarm(struct tmi_preempt_timer *pt);
/* An armed timer's next tick in ns (then every period_ns again): a model
 * moves it onto a deadline that falls before the next tick. No-op when
 * disarmed. Async-signal-safe. */
void tmi_preempt_arm_in(struct tmi_preempt_timer *pt, int64_t ns);

/* Unblock the signal on the calling thread: a tick about to switch away
 * from inside the handler calls this first, or the worker would run its
 * next tasks with ticks blocked. */
void tmi_preempt_unblock(void);

/* The preemption-disable counter (tmi_preempt_off, tmi.h). The signal
 * fences keep the compiler from moving memory accesses across the change:
 * the handler on this thread must see the counter raised before anything
 * it protects is touched.
 *
 * Not instrumented by TSan: gcc hands TSan a thread-local's address
 * computed once per function, so when the function spans a context switch
 * and the task resumes on another worker, the (correct, FS-relative)
 * access is recorded against the old worker's counter and reported as a
 * race. The counter is only ever touched by its own thread. */
#define TMI_NO_TSAN __attribute__((no_sanitize("thread")))

TMI_NO_TSAN static inline void tmi_preempt_disable(void)
{
    tmi_preempt_off++;
    atomic_signal_fence(memory_order_seq_cst);
}

TMI_NO_TSAN static inline void tmi_preempt_enable(void)
{
    atomic_signal_fence(memory_order_seq_cst);
    tmi_preempt_off--;
}

TMI_NO_TSAN static inline int tmi_preempt_depth(void)
{
    return tmi_preempt_off;
}

/* errno through a real call: glibc's __errno_location is declared const,
 * so within one function the compiler may reuse the address it returned
 * before a context switch — the old worker's errno — after it. */
int tmi_errno_get(void) __attribute__((noinline));
void tmi_errno_set(int e) __attribute__((noinline));

#endif
