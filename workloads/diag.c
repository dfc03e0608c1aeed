/* diag.c — diagnostic workloads: behaviour that must fail, and fail well.
 *
 *   overflow  a task recurses until its stack runs out. The run must end
 *             with exit 1, a status:"failed" record, and a message naming
 *             the task, the model and the stack size ("stack overflow in
 *             task 2 (model coro, stack 64 KiB)") — never a hang or silent
 *             corruption. The report and the record come from the stack
 *             guard (scheduler/stack.c) and the harness (crash.c); the
 *             workload only has to overflow.
 */
#include <stdint.h>

#include "wl.h"

/* Each frame keeps a 1 KiB buffer alive and uses the callee's result, so
 * the compiler can neither drop the frames nor turn this into a loop. */
static __attribute__((noinline)) uint64_t deep(uint64_t depth, volatile char *parent)
{
    volatile char frame[1024];
    frame[0] = (char)depth;
    frame[sizeof frame - 1] = parent ? parent[0] : 0;
    if (depth > (UINT64_C(1) << 40)) return depth; /* never: a stack runs out first */
    return deep(depth + 1, frame) + (uint64_t)frame[512];
}

static uint64_t overflow_result;

static void overflow_task(void *p)
{
    overflow_result = deep(0, NULL);
}

static int overflow_body(struct tm_run *r)
{
    struct tm_task *t = tm_spawn(overflow_task, NULL);
    if (!t) return wl_spawn_failed(r, 0, 1);
    tm_join(t);
    /* Reaching this line means the overflow went unnoticed. */
    return tm_run_fail(r, "overflow: the task recursed past its stack and nothing stopped it");
}

static uint64_t overflow_verify(struct tm_run *r) { return overflow_result; }
static uint64_t overflow_expected(const struct tm_run *r) { return 0; }

const struct tm_workload_ops tm_wl_overflow = {
    .name = "overflow",
    .kind = "diagnostic",
    .summary = "a task recurses until its stack runs out: must end in a failed record and exit 1",
    .op = "none (the run must fail)",
    .params = NULL,
    .nparams = 0,
    .body = overflow_body,
    .verify = overflow_verify,
    .expected = overflow_expected,
};
