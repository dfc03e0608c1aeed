/* preempt.c — timer-signal preemption and its safe points.
 *
 * Design. Each worker thread owns a POSIX timer (CLOCK_MONOTONIC,
 * SIGEV_THREAD_ID) that sends it TMI_PREEMPT_SIGNAL every slice while it
 * runs tasks; the model disarms it while the worker idles or blocks. The
 * handler runs on the interrupted task's own stack (no SA_ONSTACK), so the
 * kernel's signal frame — every register, the FPU and vector state, the
 * signal mask — lies on that stack and travels with the task. To preempt,
 * the tick simply makes the model's ordinary switch from inside the
 * handler: the task's saved context *is* "inside the handler". Whoever
 * switches back (any worker) returns into the handler, which returns, and
 * rt_sigreturn restores the interrupted state exactly. We write no
 * register-saving code; the kernel already did it.
 *
 * When a switch from the handler is safe — all three must hold:
 *  1. The interrupted code had tmi_preempt_off == 0: no runtime spin lock
 *     held (tmi_spin_lock raises it), not inside a model op (each op
 *     raises it), not the worker's scheduler context (which runs at 1).
 *  2. The interrupted PC lies in the main executable's code and outside
 *     this file's handler section. libc, libpthread, ld.so (lazy PLT
 *     binding), libm, libhwloc, the vDSO and gcc's sanitizer runtimes are
 *     all shared objects, so a task is never suspended inside malloc,
 *     stdio, a syscall wrapper or the dynamic linker, whose locks and
 *     thread-local state belong to the kernel thread. It is a whitelist
 *     (found once with dl_iterate_phdr), so a library nobody thought of is
 *     unsafe by default.
 *  3. No frame on the task's stack returns into another object: the model
 *     walks the frame-pointer chain (tmi_preempt_frames_ok) from the
 *     interrupted RBP to the task entry function's frame. A task's
 *     code called back *from* libc — qsort's comparison function, a
 *     dl_iterate_phdr callback run under the loader's lock — passes test 2
 *     but not this one. The build keeps frame pointers everywhere
 *     (-fno-omit-frame-pointer); a function in its prologue or epilogue
 *     has its return address at the stack pointer instead, so the two
 *     words there must not point into another object either.
 *  4. The build allows it (tmi_preempt_async: not under TSan, not with
 *     clang's ASan, whose runtime is linked into the executable and would
 *     pass test 2).
 * Otherwise the tick only flags the task, which yields at its next runtime
 * call; the next tick tries again while the task keeps running.
 *
 * After a preempted task resumes on another thread:
 *  - TLS: the FS base is the new thread's (sigreturn does not restore it).
 *    The handler touches thread-locals only before the switch or after it
 *    returns; errno, a thread-local, is saved at entry and written back on
 *    the resuming thread, through real calls (tmi_errno_get/set).
 *  - The signal mask: the kernel blocks the signal while the handler runs,
 *    so the tick unblocks it (tmi_preempt_unblock) before switching away,
 *    or the worker would run its next tasks without ticks. rt_sigreturn
 *    later restores the mask saved at the interruption: every worker runs
 *    tasks with the same mask, so which worker does it does not matter.
 *  - The alternate signal stack: rt_sigreturn also restores the
 *    sigaltstack settings saved in the frame — the *old* worker's. The
 *    handler overwrites uc_stack with the resuming thread's own first.
 *  - The last instructions: after the handler lowers tmi_preempt_off,
 *    its epilogue lies in the section tmi_preempt_text (excluded by test
 *    2), then libc's __restore_rt; a tick there only flags.
 *
 * What the address test does not see: runtime code compiled into the
 * executable (chan.c, sync.c, waitq.c, core.c) running with the counter at
 * 0. It is written to be interrupted anywhere outside its spin locks
 * (pthreads does exactly that) and keeps no thread-local state across a
 * possible switch, except tmi_rand's seed (a random value either way) and
 * tm_last_error's buffer (a known limitation). A task holding a lock that
 * is not a tm lock (a pthread mutex) can be preempted, as in Go.
 *
 * Rejected:
 *  - Bracketing the tm runtime's own text by address (section symbols or
 *    function bounds): a static library is not contiguous in the
 *    executable (gcc moves cold blocks to .text.unlikely; the linker
 *    interleaves archive members), so the bounds would be wrong. Runtime
 *    code instead declares itself with the counter.
 *  - A blacklist of libc / ld.so ranges: any other library (libstdc++,
 *    libm, libhwloc, libasan) would be preempted inside its locks.
 *  - Saving the interrupted registers ourselves (copying the ucontext and
 *    resuming through an assembly trampoline, or Go's injected call to
 *    asyncPreempt): per-architecture code for every register, which the
 *    kernel's frame already holds.
 *  - SA_ONSTACK: the frame would sit on the per-thread alternate stack,
 *    which stays with the worker; the task could not migrate.
 *  - SA_NODEFER instead of unblocking: a second tick could land in the
 *    handler's prologue before the counter is raised.
 *  - One ticker thread with pthread_kill (Go's sysmon): a third thread to
 *    be scheduled on two busy cores, waking 20,000 times a second for a
 *    50 us slice; the per-thread timer is delivered from the timer
 *    interrupt, on time, with no third party.
 *  - CLOCK_THREAD_CPUTIME_ID timers: CPU-time timers are checked at the
 *    kernel's scheduler tick (4 ms at HZ=250), too coarse for a 1 ms slice.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "preempt.h"

#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "ctx/ctx_san.h"

/* The handler's own section; the linker defines its bounds. */
#define HANDLER_SECTION __attribute__((section("tmi_preempt_text"), noinline))
extern const char __start_tmi_preempt_text[] __attribute__((weak));
extern const char __stop_tmi_preempt_text[] __attribute__((weak));

enum { MAX_RANGES = 8, MAX_FOREIGN = 64 };

/* Process-wide; written by tmi_preempt_init before any timer exists,
 * read-only afterwards (the handler reads them). */
static struct {
    tmi_preempt_tick_fn tick;
    int async;                                /* switching from the handler allowed */
    const char *why;                          /* why not, when !async */
    uintptr_t lo[MAX_RANGES], hi[MAX_RANGES]; /* the executable's code */
    int nranges;
    uintptr_t flo[MAX_FOREIGN], fhi[MAX_FOREIGN]; /* every other object's code */
    int nforeign;
    struct sigaction old; /* the handler we replaced */
    int installed;
} P;

/* The calling worker's alternate signal stack, for the frame fix-up. */
static _Thread_local stack_t my_altstack;
static _Thread_local int have_altstack;

int tmi_errno_get(void)
{
    return errno;
}
void tmi_errno_set(int e)
{
    errno = e;
}

/* The interrupted PC, stack pointer and frame pointer. */
static void uc_regs(const ucontext_t *uc, uintptr_t *pc, uintptr_t *sp, uintptr_t *fp)
{
#if defined(__x86_64__)
    *pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    *sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    *fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
#elif defined(__aarch64__)
    *pc = (uintptr_t)uc->uc_mcontext.pc;
    *sp = (uintptr_t)uc->uc_mcontext.sp;
    *fp = (uintptr_t)uc->uc_mcontext.regs[29];
#else
    (void)uc;
    *pc = *sp = *fp = 0; /* no range contains 0: async preemption never happens */
#endif
}

static int foreign(uintptr_t a)
{
    for (int i = 0; i < P.nforeign; i++)
        if (a >= P.flo[i] && a < P.fhi[i]) return 1;
    return 0;
}

static int in_exe(uintptr_t a)
{
    for (int i = 0; i < P.nranges; i++)
        if (a >= P.lo[i] && a < P.hi[i]) return 1;
    return 0;
}

/* An unwinder: it reads stack words that ASan counts as redzones. */
__attribute__((no_sanitize_address)) int tmi_preempt_frames_ok(const struct tmi_preempt_point *pp,
                                                               const void *lo, const void *hi,
                                                               const void *base)
{
    uintptr_t pc, sp, fp, l = (uintptr_t)lo, h = (uintptr_t)hi, b = (uintptr_t)base;
    uc_regs(pp->uc, &pc, &sp, &fp);
    if (sp < l || sp + 16 > h) return 0;
    const uintptr_t *top = (const uintptr_t *)sp;
    if (foreign(top[0]) || foreign(top[1])) return 0; /* prologue / epilogue of a callback */
    for (int depth = 0; depth < 4096; depth++) {
        if (fp == 0 || fp == b) return 1; /* the context's first frame, or the task's */
        if (fp < sp || fp + 16 > h || (fp & 7)) return 0;
        const uintptr_t *f = (const uintptr_t *)fp;
        if (!in_exe(f[1])) return 0;           /* returns into libc or garbage */
        if (f[0] != 0 && f[0] <= fp) return 0; /* chains go up the stack */
        sp = fp;
        fp = f[0];
    }
    return 0;
}

int tmi_preempt_pc_ok(uintptr_t pc)
{
    if (pc >= (uintptr_t)__start_tmi_preempt_text && pc < (uintptr_t)__stop_tmi_preempt_text)
        return 0;
    return in_exe(pc);
}

/* The handler's last steps, after a tick that may have switched away and
 * come back on another worker: a separate call, so that every thread-local
 * here is addressed afresh through the resuming thread's FS base. Give
 * sigreturn this thread's own alternate stack to restore, this thread's
 * errno the task's value, and lower the counter last. */
HANDLER_SECTION static void on_signal_return(ucontext_t *uc, int saved_errno)
{
    if (have_altstack) uc->uc_stack = my_altstack;
    tmi_errno_set(saved_errno);
    tmi_preempt_enable();
}

HANDLER_SECTION static void on_signal(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    int saved_errno = tmi_errno_get();
    struct tmi_preempt_point pp = {.was_off = tmi_preempt_depth(), .uc = uc};
    tmi_preempt_disable();
    uintptr_t pc, sp, fp;
    uc_regs(uc, &pc, &sp, &fp);
    pp.pc_ok = P.async && tmi_preempt_pc_ok(pc);
    P.tick(&pp);
    on_signal_return(uc, saved_errno); /* possibly on another worker now */
    (void)sig, (void)si;
}

#if defined(TMI_CTX_TSAN)
/* Suppressions TSan reads at start-up, for every program linking the
 * runtime. One by one:
 *   race:tmi_spin_lock, race:tmi_spin_unlock — the only plain access in
 *     these inline functions (tmi.h) is the calling thread's own
 *     tmi_preempt_off. gcc passes TSan that thread-local's address computed
 *     once per function, before any context switch in it; after a task
 *     migrates, the access (correctly made through the live FS base) is
 *     recorded against its old worker's counter and reported as a race
 *     with that worker. Runtime code we own reads such thread-locals
 *     through TMI_NO_TSAN helpers instead (preempt.h); tmi.h is shared. */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return "race:tmi_spin_lock\n"
           "race:tmi_spin_unlock\n";
}
#endif

/* The first object dl_iterate_phdr reports is the main program; every
 * other one (libc, ld.so, the vDSO, ...) is foreign. */
static int find_code(struct dl_phdr_info *info, size_t size, void *data)
{
    int *first = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (*first && P.nranges < MAX_RANGES) {
            P.lo[P.nranges] = lo;
            P.hi[P.nranges++] = hi;
        } else if (!*first && P.nforeign < MAX_FOREIGN) {
            P.flo[P.nforeign] = lo;
            P.fhi[P.nforeign++] = hi;
        }
    }
    *first = 0;
    (void)size;
    return 0;
}

int tmi_preempt_init(tmi_preempt_tick_fn tick)
{
    P.tick = tick;
    P.nranges = P.nforeign = 0;
    int first = 1;
    dl_iterate_phdr(find_code, &first);
    P.async = 1;
    P.why = "";
#if defined(TMI_CTX_TSAN)
    P.async = 0;
    P.why = "ThreadSanitizer build: TSan defers signals and cannot follow a switch in a handler";
#elif defined(TMI_CTX_ASAN) && defined(__clang__)
    P.async = 0;
    P.why = "clang ASan build: its runtime is inside the executable";
#endif
#if !defined(__x86_64__) && !defined(__aarch64__)
    P.async = 0;
    P.why = "no interrupted-PC access for this processor";
#endif
    if (P.async && !tmi_preempt_pc_ok((uintptr_t)&tmi_preempt_pc_ok)) {
        P.async = 0;
        P.why = "the tm runtime is not in the main executable";
    }
    if (!__start_tmi_preempt_text || !__stop_tmi_preempt_text ||
        !((uintptr_t)&on_signal >= (uintptr_t)__start_tmi_preempt_text &&
          (uintptr_t)&on_signal < (uintptr_t)__stop_tmi_preempt_text)) {
        P.async = 0;
        P.why = "the handler's section bounds are missing";
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART; /* not SA_ONSTACK, not SA_NODEFER: see above */
    sigemptyset(&sa.sa_mask);
    if (sigaction(TMI_PREEMPT_SIGNAL, &sa, &P.old) != 0)
        return tmi_fail(errno, "preempt: sigaction: %s", strerror(errno));
    P.installed = 1;
    return 0;
}

void tmi_preempt_fini(void)
{
    if (P.installed) sigaction(TMI_PREEMPT_SIGNAL, &P.old, NULL);
    P.installed = 0;
}

int tmi_preempt_async(void)
{
    return P.async;
}
const char *tmi_preempt_async_why(void)
{
    return P.why;
}

void tmi_preempt_unblock(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, TMI_PREEMPT_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
}

int tmi_preempt_thread_init(struct tmi_preempt_timer *pt, int64_t period_ns)
{
    memset(pt, 0, sizeof *pt);
    pt->period_ns = period_ns;
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = TMI_PREEMPT_SIGNAL;
    sev._sigev_un._tid = gettid(); /* sigev_notify_thread_id; glibc 2.36 lacks the macro */
    if (timer_create(CLOCK_MONOTONIC, &sev, &pt->id) != 0)
        return tmi_fail(errno, "preempt: timer_create: %s", strerror(errno));
    pt->created = 1;
    tmi_preempt_unblock();
    stack_t ss;
    if (sigaltstack(NULL, &ss) == 0) {
        ss.ss_flags &= ~SS_ONSTACK; /* we are not on it now */
        my_altstack = ss;
        have_altstack = 1;
    }
    return 0;
}

void tmi_preempt_thread_fini(struct tmi_preempt_timer *pt)
{
    if (pt->created) timer_delete(pt->id);
    pt->created = pt->armed = 0;
    have_altstack = 0;
}

static struct timespec ts_of(int64_t ns)
{
    return (struct timespec){.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
}

/* First tick in `first` ns, then every `every` ns; 0, 0 stops it. */
static void set(struct tmi_preempt_timer *pt, int64_t first, int64_t every)
{
    struct itimerspec its = {.it_interval = ts_of(every), .it_value = ts_of(first)};
    if (pt->created) timer_settime(pt->id, 0, &its, NULL);
}

void tmi_preempt_arm(struct tmi_preempt_timer *pt)
{
    if (pt->armed || !pt->created) return;
    set(pt, pt->period_ns, pt->period_ns);
    pt->armed = 1;
}

void tmi_preempt_disarm(struct tmi_preempt_timer *pt)
{
    if (!pt->armed) return;
    set(pt, 0, 0);
    pt->armed = 0;
}

void tmi_preempt_arm_in(struct tmi_preempt_timer *pt, int64_t ns)
{
    if (!pt->armed) return;
    set(pt, ns > 1000 ? ns : 1000, pt->period_ns);
}
