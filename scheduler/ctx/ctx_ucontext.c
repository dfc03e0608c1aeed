/* ctx_ucontext.c — the ctx.h operations on POSIX ucontext (TM_CTX=ucontext).
 *
 * The portable fallback and the reference the assembly is tested against.
 * It is slow — glibc's swapcontext makes a sigprocmask system call on every
 * switch — but has the same semantics as the assembly backend, so every
 * scheduler works unchanged on it.
 *
 * A context is a `struct tmi_ctx` record holding a ucontext_t:
 *   - a new context's record sits at the top of its stack (tmd_ctx_make);
 *   - a context that suspends itself in tmd_ctx_switch keeps its record in
 *     that call's own stack frame: it lives exactly as long as the context
 *     stays suspended, which is exactly as long as the pointer is valid.
 * The switcher writes the transfer (and, for switch-with-call, the
 * function) into the target's record before swapcontext; the target reads
 * them from its own record when it lands. No thread-local state is used:
 * a context suspended on one thread may be resumed on another (M:N), and a
 * TLS address cached across swapcontext would then be the wrong thread's.
 *
 * Switch-with-call is emulated by the target: on landing, if its record has
 * a function, it calls it (on its own stack, before resuming) and resumes
 * with the function's result as its transfer.
 *
 * Rejected: passing the transfer through a global or TLS variable (breaks
 * under M:N as said); one heap-allocated record per context (an allocation
 * per context and a free per exit, for no gain).
 */
#include "ctx.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

struct tmi_ctx {
    ucontext_t uc;                                    /* registers, signal mask, FP state */
    struct tmi_transfer xfer;                         /* written by whoever switches to us */
    struct tmi_transfer (*call)(struct tmi_transfer); /* switch-with-call: run on landing */
    void (*fn)(struct tmi_transfer);                  /* new contexts: the function */
};

/* getcontext/swapcontext cannot fail on Linux with valid arguments. */
static _Noreturn void die(const char *msg, size_t len)
{
    ssize_t r = write(2, msg, len);
    (void)r;
    abort();
}
#define DIE(lit) die(lit, sizeof lit - 1)

/* We have just been resumed: take the transfer, running the switch-with-call
 * function first if the switcher asked for one. */
static struct tmi_transfer land(struct tmi_ctx *self)
{
    struct tmi_transfer t = self->xfer;
    struct tmi_transfer (*call)(struct tmi_transfer) = self->call;
    if (call) {
        self->call = NULL;
        t = call(t);
    }
    return t;
}

/* A new context starts here; its record's address comes in two halves
 * (makecontext passes int arguments). */
static void entry(unsigned hi, unsigned lo)
{
    struct tmi_ctx *self = (struct tmi_ctx *)(((uintptr_t)hi << 32) | (uintptr_t)lo);
    struct tmi_transfer t = land(self);
    self->fn(t);
    tmd_ctx_returned();
}

struct tmi_ctx *tmd_ctx_make(void *top, size_t size, void (*fn)(struct tmi_transfer))
{
    uintptr_t t = (uintptr_t)top;
    uintptr_t lo = t - size;
    struct tmi_ctx *c = (struct tmi_ctx *)((t - sizeof(struct tmi_ctx)) & ~(uintptr_t)63);
    memset(c, 0, sizeof *c);
    if (getcontext(&c->uc) != 0) DIE("ctx: getcontext failed\n");
    c->uc.uc_link = NULL; /* returning is trapped in entry() instead */
    c->uc.uc_stack.ss_sp = (void *)lo;
    c->uc.uc_stack.ss_size = (uintptr_t)c - lo;
    c->fn = fn;
    makecontext(&c->uc, (void (*)(void))entry, 2, (unsigned)((uintptr_t)c >> 32),
                (unsigned)(uintptr_t)c);
    return c;
}

static struct tmi_transfer go(struct tmi_ctx *to, void *data,
                              struct tmi_transfer (*call)(struct tmi_transfer), struct tmi_ctx **save)
{
    struct tmi_ctx self;
    if (save) *save = &self;
    /* swapcontext fills the registers, mask and FP state; the rest must be
     * defined (ASan's swapcontext interceptor reads uc_stack of the target). */
    self.uc.uc_stack.ss_sp = NULL;
    self.uc.uc_stack.ss_size = 0;
    self.uc.uc_stack.ss_flags = 0;
    self.uc.uc_link = NULL;
    self.call = NULL;
    self.fn = NULL;
    to->xfer.ctx = &self;
    to->xfer.data = data;
    to->call = call;
    if (swapcontext(&self.uc, &to->uc) != 0) DIE("ctx: swapcontext failed\n");
    return land(&self);
}

struct tmi_transfer tmd_ctx_switch(struct tmi_ctx *to, void *data)
{
    return go(to, data, NULL, NULL);
}

struct tmi_transfer tmd_ctx_switch_call(struct tmi_ctx *to, void *data,
                                        struct tmi_transfer (*fn)(struct tmi_transfer))
{
    return go(to, data, fn, NULL);
}

struct tmi_transfer tmd_ctx_jump(struct tmi_ctx *to, void *data, struct tmi_ctx **save)
{
    return go(to, data, NULL, save);
}
