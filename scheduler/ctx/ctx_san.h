/* ctx_san.h — telling AddressSanitizer and ThreadSanitizer about switches.
 *
 * Both sanitizers track "the current stack" per thread. A context switch
 * they cannot see makes ASan report bogus stack-buffer errors (and lose
 * track of fake stacks) and makes TSan mix up two tasks' shadow call stacks
 * and happens-before state. So every switch between contexts is bracketed,
 * whatever the backend (asm or ucontext).
 *
 * The protocol. Every context that takes part in switching owns one
 * struct tmi_ctx_san, kept where both sides of a switch can find it (in the
 * task, in the worker):
 *
 *   tmi_ctx_san_init(&task->san, stack_lo, stack_size);   when the task's
 *                                 context is made (stack_lo = lowest byte)
 *   tmi_ctx_san_init_thread(&worker->san);   once per kernel thread, for the
 *                                 context it started on (its own stack)
 *
 * Around every switch and switch-with-call, from any context to any other:
 *
 *   tmi_ctx_san_leave(&from->san, &to->san, from_done);  // last thing before
 *   t = tmi_ctx_switch(to->ctx, data);                   // (or _switch_call)
 *   tmi_ctx_san_enter(&from->san);                       // first thing after
 *
 * and as the first statement of every context function, before anything
 * else runs on the new stack:
 *
 *   static void task_main(struct tmi_transfer t) { tmi_ctx_san_enter(&me->san); ...
 *
 * from_done is 1 when `from` will never run again (the task has finished and
 * this is its last switch): ASan then frees its fake stack at once — so the
 * data of that last switch must not point into the dying context's stack
 * frames (under detect_stack_use_after_return they live in that fake
 * stack); pass the task's heap record instead. After that last
 * switch, some other context calls tmi_ctx_san_fini(&task->san) before the
 * task's stack is reused. A thread's own context is fini'd by the thread,
 * when it is running on it (it only forgets the state).
 *
 * A switch-with-call function runs between leave and enter, on the target's
 * stack: keep it short (re-queue a task, release a lock) and never longjmp
 * out of it.
 *
 * Without ASan or TSan every helper is an empty inline function and the
 * struct costs 40 bytes per context. Detection uses the compilers' own
 * macros (__SANITIZE_ADDRESS__ in gcc, __has_feature in clang), so it works
 * whatever TM_SANITIZE list the build was configured with.
 */
#ifndef TMI_CTX_SAN_H
#define TMI_CTX_SAN_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define TMI_CTX_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define TMI_CTX_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(TMI_CTX_ASAN)
#define TMI_CTX_ASAN 1
#endif
#if __has_feature(thread_sanitizer) && !defined(TMI_CTX_TSAN)
#define TMI_CTX_TSAN 1
#endif
#endif

#ifdef TMI_CTX_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef TMI_CTX_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Per-context sanitizer state. Owned by the context's owner; written only
 * by init/fini and by the context itself in leave. */
struct tmi_ctx_san {
    const void *lo; /* ASan: lowest byte of this context's stack */
    size_t size;    /* ASan: size of that stack in bytes */
    void *fake;     /* ASan: our fake stack, saved while we are suspended */
    void *fiber;    /* TSan: this context's fiber */
    int own_fiber;  /* TSan: 1 if init created the fiber (fini destroys it) */
};

/* A context that will run on the stack [lo, lo + size). */
void tmi_ctx_san_init(struct tmi_ctx_san *s, const void *lo, size_t size);
/* The calling thread's own context (the stack the kernel thread started on). */
void tmi_ctx_san_init_thread(struct tmi_ctx_san *s);
/* Forget s. For a task: after its last switch, from another context. */
void tmi_ctx_san_fini(struct tmi_ctx_san *s);

/* Last thing before switching from `from` to `to`. */
static inline void tmi_ctx_san_leave(struct tmi_ctx_san *from, const struct tmi_ctx_san *to,
                                     int from_done)
{
#ifdef TMI_CTX_ASAN
    __sanitizer_start_switch_fiber(from_done ? NULL : &from->fake, to->lo, to->size);
#endif
#ifdef TMI_CTX_TSAN
    /* flags 0: the switch is a happens-before edge, as it is for real */
    __tsan_switch_to_fiber(to->fiber, 0);
#endif
    (void)from, (void)to, (void)from_done;
}

/* First thing after a switch lands in `self` (a switch returned, or a new
 * context's function started). */
static inline void tmi_ctx_san_enter(struct tmi_ctx_san *self)
{
#ifdef TMI_CTX_ASAN
    __sanitizer_finish_switch_fiber(self->fake, NULL, NULL);
#endif
    (void)self;
}

#ifdef __cplusplus
}
#endif

#endif
