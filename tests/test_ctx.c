/* test_ctx.c — the context switch (scheduler/ctx/ctx.h), on either backend.
 *
 *   test_ctx [regs|fpu|align|ring|dispatch|call|requeue|returned]...   (none = all)
 *
 * Every switch is bracketed with the ctx_san.h annotations, so the test also
 * runs under ASan and TSan. Register- and alignment-level checks use small
 * x86-64 assembly helpers at the end of the file.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctx/ctx.h"

#include "check.h"

#define STACK_BYTES ((size_t)64 << 10)

/* ---- fibers: a context, its stack and its sanitizer state ------------- */

struct fiber {
    struct tmi_ctx *ctx;    /* the suspended context, while not running */
    struct tmi_ctx_san san; /* sanitizer bookkeeping */
    char *mem;              /* stack memory (NULL for the thread's own) */
    size_t len;
    int id;
};

/* What every switch in this file carries. Lives on the sender's stack,
 * which stays put while the sender is suspended. */
struct msg {
    struct fiber *from, *to;
    uintptr_t val;
};

static struct fiber main_f;

static void fiber_make_at(struct fiber *f, void (*fn)(struct tmi_transfer), size_t top_off)
{
    f->len = STACK_BYTES;
    f->mem = mmap(NULL, f->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(f->mem != MAP_FAILED);
    f->ctx = tmi_ctx_make(f->mem + f->len - top_off, f->len - top_off, fn);
    CHECK(f->ctx != NULL);
    tmi_ctx_san_init(&f->san, f->mem, f->len);
}

static void fiber_make(struct fiber *f, void (*fn)(struct tmi_transfer))
{
    fiber_make_at(f, fn, 0);
}

static void fiber_drop(struct fiber *f)
{
    tmi_ctx_san_fini(&f->san);
    munmap(f->mem, f->len);
    memset(f, 0, sizeof *f);
}

/* We have been resumed with t: remember the sender's context. */
static struct msg *land(struct tmi_transfer t)
{
    struct msg *m = t.data;
    m->from->ctx = t.ctx;
    return m;
}

/* First thing in every fiber function. */
static struct msg *start(struct tmi_transfer t)
{
    struct msg *m = t.data;
    tmi_ctx_san_enter(&m->to->san);
    return land(t);
}

/* Switch from self to `to` with value val; returns what resumed us. */
static struct msg *send(struct fiber *self, struct fiber *to, uintptr_t val)
{
    struct msg m = {self, to, val};
    tmi_ctx_san_leave(&self->san, &to->san, 0);
    struct tmi_transfer t = tmi_ctx_switch(to->ctx, &m);
    tmi_ctx_san_enter(&self->san);
    return land(t);
}

/* Leave for good (the fiber never runs again). The message cannot live in
 * this frame: with ASan's detect_stack_use_after_return it would be on the
 * fiber's fake stack, which the final leave destroys. */
static _Noreturn void send_last(struct fiber *self, struct fiber *to, uintptr_t val)
{
    static struct msg last[64];
    static int next;
    struct msg *m = &last[next++ % 64];
    *m = (struct msg){self, to, val};
    tmi_ctx_san_leave(&self->san, &to->san, 1);
    tmi_ctx_switch(to->ctx, m);
    CHECK(!"a finished fiber was resumed");
    abort();
}

/* ---- regs: callee-saved registers survive switches -------------------- */

/* Assembly (below): set RBX, RBP, R12-R15 to seed+1..seed+6, switch to `to`
 * with data, and once resumed store those six registers and the transfer
 * into out[0..5], out[6..7]; restores the caller's registers. */
void regs_switch(struct tmi_ctx *to, void *data, uint64_t out[8], uint64_t seed);

#define SEED_MAIN UINT64_C(0x1000000000000000)
#define SEED_FIB UINT64_C(0x2000000000000000)
#define REG_ROUNDS 1000

static void check_regs(const uint64_t out[8], uint64_t seed)
{
    for (int i = 0; i < 6; i++)
        CHECK(out[i] == seed + (uint64_t)i + 1);
}

static struct fiber reg_f;

static void regs_fn(struct tmi_transfer t)
{
    struct msg *m = start(t);
    uint64_t out[8];
    for (int i = 0; i < REG_ROUNDS; i++) {
        struct msg back = {&reg_f, &main_f, m->val + 1};
        tmi_ctx_san_leave(&reg_f.san, &main_f.san, 0);
        regs_switch(main_f.ctx, &back, out, SEED_FIB);
        tmi_ctx_san_enter(&reg_f.san);
        check_regs(out, SEED_FIB);
        m = land((struct tmi_transfer){(struct tmi_ctx *)out[6], (void *)out[7]});
        CHECK(m->val == (uintptr_t)(2 * i + 2));
    }
    send_last(&reg_f, &main_f, 0);
}

static void test_regs(void)
{
    fiber_make(&reg_f, regs_fn);
    uint64_t out[8];
    for (int i = 0; i < REG_ROUNDS; i++) {
        struct msg m = {&main_f, &reg_f, (uintptr_t)(2 * i)};
        tmi_ctx_san_leave(&main_f.san, &reg_f.san, 0);
        regs_switch(reg_f.ctx, &m, out, SEED_MAIN);
        tmi_ctx_san_enter(&main_f.san);
        check_regs(out, SEED_MAIN);
        struct msg *r = land((struct tmi_transfer){(struct tmi_ctx *)out[6], (void *)out[7]});
        CHECK(r->from == &reg_f);
        CHECK(r->val == (uintptr_t)(2 * i + 1));
    }
    struct msg *r = send(&main_f, &reg_f, 2 * REG_ROUNDS);
    CHECK(r->from == &reg_f);
    fiber_drop(&reg_f);
}

/* ---- fpu: MXCSR and x87 control word are per context ------------------ */

/* The MXCSR's control bits; bits 0-5 are sticky exception flags, which
 * any inexact division sets. */
static uint32_t get_mxcsr(void)
{
    uint32_t v;
    __asm__ volatile("stmxcsr %0" : "=m"(v));
    return v & ~0x3Fu;
}
static void set_mxcsr(uint32_t v)
{
    __asm__ volatile("ldmxcsr %0" : : "m"(v));
}
static uint16_t get_x87cw(void)
{
    uint16_t v;
    __asm__ volatile("fnstcw %0" : "=m"(v));
    return v;
}
static void set_x87cw(uint16_t v)
{
    __asm__ volatile("fldcw %0" : : "m"(v));
}

#define MXCSR_RC_MASK 0x6000u
#define MXCSR_RC_DOWN 0x2000u
#define MXCSR_RC_ZERO 0x6000u
#define X87_RC_MASK 0x0C00u
#define X87_RC_DOWN 0x0400u
#define X87_RC_ZERO 0x0C00u

static uint32_t mx0;
static uint16_t cw0;
static struct fiber fpu_f;

static double divide(double a, double b)
{
    volatile double x = a, y = b;
    return x / y;
}

static void fpu_fn(struct tmi_transfer t)
{
    start(t);
    /* a new context inherits the FP control state of its maker */
    CHECK(get_mxcsr() == mx0);
    CHECK(get_x87cw() == cw0);
    set_mxcsr((mx0 & ~MXCSR_RC_MASK) | MXCSR_RC_ZERO);
    set_x87cw((uint16_t)((cw0 & ~X87_RC_MASK) | X87_RC_ZERO));
    double z = divide(-1.0, 3.0);
    send(&fpu_f, &main_f, 0);
    /* ours survived main's round-down */
    CHECK((get_mxcsr() & MXCSR_RC_MASK) == MXCSR_RC_ZERO);
    CHECK((get_x87cw() & X87_RC_MASK) == X87_RC_ZERO);
    CHECK(divide(-1.0, 3.0) == z);
    set_mxcsr(mx0);
    set_x87cw(cw0);
    send_last(&fpu_f, &main_f, 0);
}

static void test_fpu(void)
{
    mx0 = get_mxcsr();
    cw0 = get_x87cw();
    fiber_make(&fpu_f, fpu_fn);
    set_mxcsr((mx0 & ~MXCSR_RC_MASK) | MXCSR_RC_DOWN);
    set_x87cw((uint16_t)((cw0 & ~X87_RC_MASK) | X87_RC_DOWN));
    double d = divide(-1.0, 3.0);
    send(&main_f, &fpu_f, 0);
    /* the fiber's round-toward-zero did not leak into us */
    CHECK((get_mxcsr() & MXCSR_RC_MASK) == MXCSR_RC_DOWN);
    CHECK((get_x87cw() & X87_RC_MASK) == X87_RC_DOWN);
    CHECK(divide(-1.0, 3.0) == d);
    set_mxcsr(mx0);
    set_x87cw(cw0);
    double n = divide(-1.0, 3.0);
    CHECK(d < n); /* round-down really was in effect */
    send(&main_f, &fpu_f, 0);
    CHECK(get_mxcsr() == mx0);
    CHECK(get_x87cw() == cw0);
    fiber_drop(&fpu_f);
}

/* ---- align: 16-byte stack alignment at every function entry ----------- */

/* Assembly (below): entry points that record RSP + 8 in probe_rsp and
 * tail-jump to the C function of the same name without the _probe. */
void align_fn_probe(struct tmi_transfer t);
struct tmi_transfer call_fn_probe(struct tmi_transfer t);
uintptr_t probe_rsp;

static struct fiber align_f;
static int call_ran;

void align_fn(struct tmi_transfer t);
struct tmi_transfer call_fn(struct tmi_transfer t);

void align_fn(struct tmi_transfer t)
{
    uintptr_t at_entry = probe_rsp;
    start(t);
    CHECK(at_entry % 16 == 0);
    /* and once more after switch-with-call into this suspended context */
    send(&align_f, &main_f, 0);
    send_last(&align_f, &main_f, 0);
}

struct tmi_transfer call_fn(struct tmi_transfer t)
{
    CHECK(probe_rsp % 16 == 0);
    call_ran++;
    return t;
}

static void test_align(void)
{
    for (size_t off = 0; off < 48; off++) {
        /* a fresh context entered by a plain switch */
        fiber_make_at(&align_f, align_fn_probe, off);
        probe_rsp = 1;
        send(&main_f, &align_f, 0);
        /* a suspended context entered by switch-with-call */
        probe_rsp = 1;
        call_ran = 0;
        struct msg m = {&main_f, &align_f, 0};
        tmi_ctx_san_leave(&main_f.san, &align_f.san, 0);
        struct tmi_transfer t = tmi_ctx_switch_call(align_f.ctx, &m, call_fn_probe);
        tmi_ctx_san_enter(&main_f.san);
        land(t);
        CHECK(call_ran == 1);
        fiber_drop(&align_f);

        /* a fresh context entered by switch-with-call: both entries aligned */
        fiber_make_at(&align_f, align_fn_probe, off);
        call_ran = 0;
        struct msg m2 = {&main_f, &align_f, 0};
        tmi_ctx_san_leave(&main_f.san, &align_f.san, 0);
        t = tmi_ctx_switch_call(align_f.ctx, &m2, call_fn_probe);
        tmi_ctx_san_enter(&main_f.san);
        land(t);
        CHECK(call_ran == 1);
        send(&main_f, &align_f, 0);
        fiber_drop(&align_f);
    }
}

/* ---- ring: a value passed around several contexts --------------------- */

#define RING_N 5
#define RING_ROUNDS 20000

static struct fiber ring[RING_N];

static void ring_fn(struct tmi_transfer t)
{
    struct msg *m = start(t);
    struct fiber *self = m->to;
    int i = self->id;
    struct fiber *prev = &ring[(i + RING_N - 1) % RING_N];
    for (int r = 0; r < RING_ROUNDS; r++) {
        CHECK(m->from == (i == 0 && r == 0 ? &main_f : prev));
        CHECK(m->to == self);
        CHECK(m->val == (uintptr_t)(r * RING_N + i));
        if (i == RING_N - 1 && r == RING_ROUNDS - 1) send_last(self, &main_f, m->val + 1);
        m = send(self, &ring[(i + 1) % RING_N], m->val + 1);
    }
    send_last(self, &main_f, 0); /* not reached for RING_N - 1 */
}

static void test_ring(void)
{
    for (int i = 0; i < RING_N; i++) {
        fiber_make(&ring[i], ring_fn);
        ring[i].id = i;
    }
    struct msg *m = send(&main_f, &ring[0], 0);
    CHECK(m->from == &ring[RING_N - 1]);
    CHECK(m->val == (uintptr_t)RING_N * RING_ROUNDS);
    /* the others are parked waiting for a round that never comes */
    for (int i = 0; i < RING_N; i++)
        fiber_drop(&ring[i]);
}

/* ---- jump: the switch that saves its own context, as a yield uses it ---- */

#define JUMP_ROUNDS 20000

static int on_stack(const struct fiber *f, const void *p);

static struct fiber jf;
static uint64_t jump_rounds; /* bumped by the fiber, checked by main */

/* A scheduler's yield in miniature: its last act is the switch, and the
 * switch itself records where `from` stopped (no code runs after it in
 * the asm build, so the compiler may make it a tail call). */
static __attribute__((noinline)) void jump_to(struct fiber *from, struct fiber *to)
{
    tmi_ctx_san_leave(&from->san, &to->san, 0);
    tmi_ctx_jump(to->ctx, to, &from->ctx);
    tmi_ctx_san_enter(&from->san);
}

static uint64_t lcg(uint64_t x) { return x * 6364136223846793005ULL + 1442695040888963407ULL; }

static void jump_fn(struct tmi_transfer t)
{
    tmi_ctx_san_enter(&jf.san);
    CHECK(t.data == &jf);
    uint64_t x = 3; /* lives in a register across every switch */
    for (;;) {
        x = lcg(x);
        jump_rounds++;
        CHECK(on_stack(&jf, (void *)&x)); /* we run on our own stack */
        jump_to(&jf, &main_f);
        CHECK(jf.ctx != NULL);
    }
}

static void test_jump(void)
{
    fiber_make(&jf, jump_fn);
    uint64_t y = 5, want_x = 3;
    for (int r = 0; r < JUMP_ROUNDS; r++) {
        jump_to(&main_f, &jf);
        y = lcg(y);
        want_x = lcg(want_x);
        CHECK(jump_rounds == (uint64_t)r + 1);
        /* the fiber saved its own context, on its own stack */
        CHECK(on_stack(&jf, (void *)jf.ctx));
    }
    uint64_t want_y = 5;
    for (int r = 0; r < JUMP_ROUNDS; r++) want_y = lcg(want_y);
    CHECK(y == want_y);
    (void)want_x;
    fiber_drop(&jf);
}

/* ---- dispatch: main resumes fibers in a pseudo-random order ----------- */

#define DISP_N 7
#define DISP_SWITCHES 50000

static struct fiber disp[DISP_N];
static uint64_t disp_count[DISP_N];

static void disp_fn(struct tmi_transfer t)
{
    struct msg *m = start(t);
    struct fiber *self = m->to;
    for (;;) {
        CHECK(m->from == &main_f);
        if (m->val == UINTPTR_MAX) send_last(self, &main_f, 0);
        disp_count[self->id]++;
        m = send(self, &main_f, m->val * 31 + (uintptr_t)self->id);
    }
}

static void test_dispatch(void)
{
    for (int i = 0; i < DISP_N; i++) {
        fiber_make(&disp[i], disp_fn);
        disp[i].id = i;
    }
    uint64_t rng = 88172645463325252u, expect[DISP_N] = {0};
    for (int n = 0; n < DISP_SWITCHES; n++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        int k = (int)(rng % DISP_N);
        struct msg *m = send(&main_f, &disp[k], (uintptr_t)n);
        CHECK(m->from == &disp[k]);
        CHECK(m->val == (uintptr_t)n * 31 + (uintptr_t)k);
        expect[k]++;
    }
    for (int i = 0; i < DISP_N; i++) {
        CHECK(disp_count[i] == expect[i]);
        send(&main_f, &disp[i], UINTPTR_MAX);
        fiber_drop(&disp[i]);
    }
}

/* ---- call: switch-with-call runs on the target's stack, first --------- */

static struct fiber call_f;
static int fiber_resumed, fn_calls;
static struct msg call_marker;
static struct tmi_ctx *main_ctx_seen;

static int on_stack(const struct fiber *f, const void *p)
{
    return (const char *)p >= f->mem && (const char *)p < f->mem + f->len;
}

static struct tmi_transfer on_target(struct tmi_transfer t)
{
    struct msg *m = t.data;
    CHECK(on_stack(&call_f, __builtin_frame_address(0)));
    CHECK(!on_stack(&call_f, t.ctx)); /* t.ctx: main's frame, on main's stack */
    CHECK(m->from == &main_f && m->to == &call_f && m->val == 42);
    CHECK(fiber_resumed == fn_calls); /* the target has not resumed yet */
    fn_calls++;
    main_ctx_seen = t.ctx;
    call_marker = (struct msg){&main_f, &call_f, 1000 + (uintptr_t)fn_calls};
    return (struct tmi_transfer){t.ctx, &call_marker};
}

static void call_fn_target(struct tmi_transfer t)
{
    CHECK(fn_calls == 1);
    CHECK(t.data == &call_marker);
    CHECK(t.ctx == main_ctx_seen);
    struct msg *m = start(t);
    CHECK(m->val == 1001);
    fiber_resumed++;
    m = send(&call_f, &main_f, 7);
    /* resumed by the second switch-with-call */
    CHECK(fn_calls == 2);
    CHECK(m == &call_marker && m->val == 1002);
    fiber_resumed++;
    send_last(&call_f, &main_f, 8);
}

static struct msg *send_call(struct fiber *self, struct fiber *to, uintptr_t val,
                             struct tmi_transfer (*fn)(struct tmi_transfer))
{
    struct msg m = {self, to, val};
    tmi_ctx_san_leave(&self->san, &to->san, 0);
    struct tmi_transfer t = tmi_ctx_switch_call(to->ctx, &m, fn);
    tmi_ctx_san_enter(&self->san);
    return land(t);
}

static void test_call(void)
{
    fiber_make(&call_f, call_fn_target);
    /* into a fresh context */
    struct msg *m = send_call(&main_f, &call_f, 42, on_target);
    CHECK(m->from == &call_f && m->val == 7 && fiber_resumed == 1);
    /* into a suspended one */
    m = send_call(&main_f, &call_f, 42, on_target);
    CHECK(m->from == &call_f && m->val == 8 && fiber_resumed == 2);
    fiber_drop(&call_f);
}

/* ---- requeue: the M:N pattern — a task leaves via switch-with-call
 *      and the function, on the scheduler's stack, queues it ------------ */

#define RQ_TASKS 4
#define RQ_YIELDS 2000

static struct fiber rq_task[RQ_TASKS];
static struct fiber *runq[RQ_TASKS + 1];
static int rq_head, rq_tail, rq_len;
static uint64_t rq_work[RQ_TASKS];

static void rq_push(struct fiber *f)
{
    runq[rq_tail] = f;
    rq_tail = (rq_tail + 1) % (RQ_TASKS + 1);
    rq_len++;
}

/* Runs on the scheduler (main) stack, after the task is fully suspended. */
static struct tmi_transfer requeue(struct tmi_transfer t)
{
    struct msg *m = t.data;
    CHECK(!on_stack(m->from, __builtin_frame_address(0))); /* off the task's stack */
    m->from->ctx = t.ctx;
    rq_push(m->from);
    return t;
}

static void rq_fn(struct tmi_transfer t)
{
    struct msg *m = start(t);
    struct fiber *self = m->to;
    for (int i = 0; i < RQ_YIELDS; i++) {
        rq_work[self->id] += (uint64_t)i;
        /* yield: back to the scheduler, which gets us re-queued */
        struct msg y = {self, &main_f, 0};
        tmi_ctx_san_leave(&self->san, &main_f.san, 0);
        struct tmi_transfer r = tmi_ctx_switch_call(main_f.ctx, &y, requeue);
        tmi_ctx_san_enter(&self->san);
        m = land(r);
        CHECK(m->from == &main_f && m->to == self);
    }
    send_last(self, &main_f, 1);
}

static void test_requeue(void)
{
    for (int i = 0; i < RQ_TASKS; i++) {
        fiber_make(&rq_task[i], rq_fn);
        rq_task[i].id = i;
        rq_push(&rq_task[i]);
    }
    int done = 0;
    while (rq_len > 0) {
        struct fiber *f = runq[rq_head];
        rq_head = (rq_head + 1) % (RQ_TASKS + 1);
        rq_len--;
        struct msg *m = send(&main_f, f, 0);
        CHECK(m->from == f);
        if (m->val == 1)
            done++;
        else
            CHECK(runq[(rq_tail + RQ_TASKS) % (RQ_TASKS + 1)] == f); /* requeue ran */
    }
    CHECK(done == RQ_TASKS);
    for (int i = 0; i < RQ_TASKS; i++) {
        CHECK(rq_work[i] == (uint64_t)RQ_YIELDS * (RQ_YIELDS - 1) / 2);
        fiber_drop(&rq_task[i]);
    }
}

/* ---- returned: a context function that returns aborts, with a message - */

static struct fiber ret_f;

static void returning_fn(struct tmi_transfer t)
{
    start(t);
}

static void test_returned(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        fiber_make(&ret_f, returning_fn);
        send(&main_f, &ret_f, 0);
        _exit(0); /* not reached */
    }
    close(p[1]);
    char buf[4096];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(p[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = 0;
    close(p[0]);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    CHECK(strstr(buf, "ctx: task function returned\n") != NULL);
}

/* ---- main -------------------------------------------------------------- */

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    {"regs", test_regs},       {"fpu", test_fpu},           {"align", test_align},
    {"ring", test_ring},       {"dispatch", test_dispatch}, {"call", test_call},
    {"requeue", test_requeue}, {"returned", test_returned},     {"jump", test_jump},
};

int main(int argc, char **argv)
{
    tmi_ctx_san_init_thread(&main_f.san);
    int ran = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int want = argc < 2;
        for (int a = 1; a < argc; a++)
            want |= strcmp(argv[a], tests[i].name) == 0;
        if (want) {
            tests[i].fn();
            ran++;
        }
    }
    CHECK(ran > 0 && (argc < 2 || ran == argc - 1));
    tmi_ctx_san_fini(&main_f.san);
    return 0;
}

/* ---- assembly helpers (x86-64 System V) -------------------------------- */

__asm__(".text\n"
        /* void regs_switch(to=rdi, data=rsi, out=rdx, seed=rcx) */
        ".globl regs_switch\n"
        ".type regs_switch, @function\n"
        "regs_switch:\n"
        "  pushq %rbp\n"
        "  pushq %rbx\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  pushq %rdx\n" /* out; 7 pushes: RSP is 16-aligned for the call */
        "  leaq 1(%rcx), %rbx\n"
        "  leaq 2(%rcx), %rbp\n"
        "  leaq 3(%rcx), %r12\n"
        "  leaq 4(%rcx), %r13\n"
        "  leaq 5(%rcx), %r14\n"
        "  leaq 6(%rcx), %r15\n"
        "  call tmd_ctx_switch\n"
        "  popq %rcx\n" /* out */
        "  movq %rbx, 0(%rcx)\n"
        "  movq %rbp, 8(%rcx)\n"
        "  movq %r12, 16(%rcx)\n"
        "  movq %r13, 24(%rcx)\n"
        "  movq %r14, 32(%rcx)\n"
        "  movq %r15, 40(%rcx)\n"
        "  movq %rax, 48(%rcx)\n" /* transfer.ctx */
        "  movq %rdx, 56(%rcx)\n" /* transfer.data */
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size regs_switch, .-regs_switch\n"
        /* entry probes: record RSP + 8 (16-aligned iff the ABI holds) */
        ".globl align_fn_probe\n"
        ".type align_fn_probe, @function\n"
        "align_fn_probe:\n"
        "  leaq 8(%rsp), %rax\n"
        "  movq %rax, probe_rsp(%rip)\n"
        "  jmp align_fn\n"
        ".size align_fn_probe, .-align_fn_probe\n"
        ".globl call_fn_probe\n"
        ".type call_fn_probe, @function\n"
        "call_fn_probe:\n"
        "  leaq 8(%rsp), %rax\n"
        "  movq %rax, probe_rsp(%rip)\n"
        "  jmp call_fn\n"
        ".size call_fn_probe, .-call_fn_probe\n");
