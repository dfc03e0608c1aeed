/* ctx.h — the context switch: make, switch, switch-with-call.
 *
 * The whole contract is three operations in the spirit of Boost.Context's
 * fcontext. A context is a suspended flow of control, named by a pointer to
 * the frame it saved on its own stack (struct tmi_ctx is opaque). A context
 * pointer is one-shot: it is valid from the moment its owner suspends until
 * somebody resumes it, and never again after that — the resumed code gets a
 * fresh pointer for the context that resumed it in the transfer.
 *
 *   c = tmi_ctx_make(top, size, fn)   a context that will start fn(t)
 *   t = tmi_ctx_switch(c, data)       suspend here, resume c; c's switch (or
 *                                     fn's first argument) returns {us, data}
 *   t = tmi_ctx_switch_call(c, d, f)  as switch, but f({us, d}) runs on c's
 *                                     stack first and its result is what c
 *                                     receives
 *
 * Switch-with-call is how an M:N scheduler leaves a task safely: the task
 * switches to the worker's scheduler context with a function that stores the
 * task's fresh context pointer and re-queues it. By the time another worker
 * can steal the task, the task is completely off its stack — no window in
 * which two threads run on it.
 *
 * Backends (picked by CMake, TM_CTX): x86-64 SysV assembly, one file per
 * operation (make_/switch_/switch_call_x86_64_sysv_elf_gas.S), or a portable
 * ucontext version (ctx_ucontext.c) with the same semantics. Both save the
 * callee-saved registers, the MXCSR and the x87 control word; a new context
 * inherits the MXCSR and x87 control word of the thread that made it.
 *
 * A context's function must never return: it ends by switching away for the
 * last time. If it does return, the process aborts with
 * "ctx: task function returned".
 *
 * Sanitizers: ASan and TSan must be told about every switch; see ctx_san.h,
 * included at the end of this header, for the exact calling protocol.
 */
#ifndef TMI_CTX_H
#define TMI_CTX_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A suspended context: a pointer to its saved frame. Opaque. */
struct tmi_ctx;

/* What a switch delivers to the context it resumes. Returned in rax:rdx. */
struct tmi_transfer {
    struct tmi_ctx *ctx; /* the context that switched to us, now suspended */
    void *data;          /* the value it passed */
};

/* ---- the platform layer (assembly or ctx_ucontext.c) ---------------- */

struct tmi_ctx *tmd_ctx_make(void *top, size_t size, void (*fn)(struct tmi_transfer));
struct tmi_transfer tmd_ctx_switch(struct tmi_ctx *to, void *data);
struct tmi_transfer tmd_ctx_switch_call(struct tmi_ctx *to, void *data,
                                        struct tmi_transfer (*fn)(struct tmi_transfer));

struct tmi_transfer tmd_ctx_jump(struct tmi_ctx *to, void *data, struct tmi_ctx **save);

/* Called when a context's function returns; prints the message, aborts. */
__attribute__((noreturn)) void tmd_ctx_returned(void);

/* ---- the API ------------------------------------------------------- */

/* Prepare a context on the stack [top - size, top) that, when first
 * switched to, calls fn with the transfer of that switch. top need not be
 * aligned (it is rounded down to 16 bytes); the asm backend uses the top
 * ~64 bytes, the ucontext one ~1 KiB. fn must never return. Never fails. */
static inline struct tmi_ctx *tmi_ctx_make(void *top, size_t size, void (*fn)(struct tmi_transfer))
{
    return tmd_ctx_make(top, size, fn);
}

/* Suspend the calling context and resume `to`, handing it data. Returns
 * when some context switches back here: .ctx is that context (suspended
 * now) and .data what it passed. `to` is consumed. */
static inline struct tmi_transfer tmi_ctx_switch(struct tmi_ctx *to, void *data)
{
    return tmd_ctx_switch(to, data);
}

/* Suspend the calling context, switch to `to`, and on to's stack call
 * fn({calling context, data}) before `to` resumes; whatever fn returns is
 * the transfer `to` resumes with (its pending switch returns it, or a new
 * context's function receives it). fn runs with to's registers and FP
 * control state; it must return (not switch away). `to` is consumed. */
static inline struct tmi_transfer
tmi_ctx_switch_call(struct tmi_ctx *to, void *data, struct tmi_transfer (*fn)(struct tmi_transfer))
{
    return tmd_ctx_switch_call(to, data, fn);
}

#ifdef __cplusplus
}
#endif

/* tmi_ctx_switch that stores the suspended caller's context in *save
 * itself (before leaving), so the caller needs no code after the switch and
 * can reach it by a tail call — `return tmi_ctx_jump(...)` in a function
 * returning void or the transfer. Resumed, the context then returns straight
 * to that function's caller, which keeps the CPU's return-stack predictor
 * right (a switch followed by a `ret` mispredicts it every time). `to` is
 * consumed; *save must stay valid until the context is resumed. */
static inline struct tmi_transfer tmi_ctx_jump(struct tmi_ctx *to, void *data, struct tmi_ctx **save)
{
    return tmd_ctx_jump(to, data, save);
}

#include "ctx_san.h"

#endif
