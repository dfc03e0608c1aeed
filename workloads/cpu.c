/* cpu.c — CPU-bound workloads: fib (fork-join) and parfor (independent
 * equal chunks). Both are pure compute, so they show parallel speed-up
 * and the cost of the tasks that carry the work. */
#include <stdatomic.h>
#include <stdlib.h>

#include "wl.h"

/* ---- fib: fork-join Fibonacci down to a serial cutoff ---- */

struct fib_job {
    int n, cutoff;
    uint64_t result;
    uint64_t calls;  /* recursive calls made in this subtree */
    int failed;      /* a spawn below failed */
};

static uint64_t fib_serial(int n, uint64_t *calls)
{
    ++*calls;
    return n < 2 ? (uint64_t)n : fib_serial(n - 1, calls) + fib_serial(n - 2, calls);
}

static void fib_task(void *p)
{
    struct fib_job *j = p;
    if (j->n <= j->cutoff || j->n < 2) {
        j->result = fib_serial(j->n, &j->calls);
        return;
    }
    struct fib_job a = {.n = j->n - 1, .cutoff = j->cutoff};
    struct fib_job b = {.n = j->n - 2, .cutoff = j->cutoff};
    struct tm_task *t = tm_spawn(fib_task, &a);
    if (!t) fib_task(&a); /* out of tasks: compute it here, remember the failure */
    fib_task(&b);
    if (t) tm_join(t);
    j->result = a.result + b.result;
    j->calls = 1 + a.calls + b.calls;
    j->failed = !t || a.failed || b.failed;
}

static struct fib_job fib_root;

static int fib_body(struct tm_run *r)
{
    fib_root = (struct fib_job){.n = (int)tm_run_param(r, "n"),
                                .cutoff = (int)tm_run_param(r, "cutoff")};
    fib_task(&fib_root);
    if (fib_root.failed)
        return tm_run_fail(r, "%s: could not spawn a task (%s)", tm_model_name(),
                           strerror(errno));
    r->ops = fib_root.calls;
    return 0;
}

static uint64_t fib_verify(struct tm_run *r) { return fib_root.result; }

static uint64_t fib_expected(const struct tm_run *r)
{
    uint64_t a = 0, b = 1;
    for (int64_t i = 0; i < tm_run_param(r, "n"); i++) {
        uint64_t c = a + b;
        a = b;
        b = c;
    }
    return a;
}

static const struct tm_param_def fib_params[] = {
    {"n", TM_PARAM_INT, 30, 0, 60, NULL, "compute fib(n)"},
    {"cutoff", TM_PARAM_INT, 18, 0, 60, NULL, "below this n, recurse serially in one task"},
};

const struct tm_workload_ops tm_wl_fib = {
    .name = "fib",
    .kind = "cpu",
    .summary = "fork-join Fibonacci: spawn a child for n-1, recurse on n-2, join",
    .op = "one call of the recursion (serial or spawned)",
    .params = fib_params,
    .nparams = WL_NPARAMS(fib_params),
    .body = fib_body,
    .verify = fib_verify,
    .expected = fib_expected,
};

/* ---- parfor: `tasks` independent equal chunks of pure compute ---- */

/* Each chunk: `work` rounds of wl_hash_rounds from its own seed. */
static uint64_t chunk_hash(uint64_t seed, int64_t work) { return wl_hash_rounds(seed, work); }

struct parfor_chunk {
    uint64_t seed, out;
    int64_t work;
};

static void parfor_task(void *p)
{
    struct parfor_chunk *c = p;
    c->out = chunk_hash(c->seed, c->work);
}

struct parfor_state {
    struct parfor_chunk *chunks;
    struct tm_task **tasks;
    int64_t n;
};

static int parfor_setup(struct tm_run *r)
{
    struct parfor_state *s = calloc(1, sizeof *s);
    int64_t n = tm_run_param(r, "tasks");
    if (!s) return tm_run_fail(r, "parfor: out of memory");
    r->state = s;
    s->n = n;
    s->chunks = calloc((size_t)n, sizeof *s->chunks);
    s->tasks = calloc((size_t)n, sizeof *s->tasks);
    if (!s->chunks || !s->tasks) return tm_run_fail(r, "parfor: out of memory");
    for (int64_t i = 0; i < n; i++)
        s->chunks[i] = (struct parfor_chunk){.seed = (uint64_t)i + 1, .work = tm_run_param(r, "work")};
    return 0;
}

static int parfor_body(struct tm_run *r)
{
    struct parfor_state *s = r->state;
    int64_t i;
    for (i = 0; i < s->n; i++)
        if (!(s->tasks[i] = tm_spawn(parfor_task, &s->chunks[i]))) break;
    int rc = i < s->n ? wl_spawn_failed(r, i, s->n) : 0;
    for (int64_t j = 0; j < i; j++) tm_join(s->tasks[j]);
    r->ops = (uint64_t)(s->n * tm_run_param(r, "work"));
    return rc;
}

/* Order-independent combination, so any schedule gives the same checksum. */
static uint64_t parfor_verify(struct tm_run *r)
{
    struct parfor_state *s = r->state;
    uint64_t sum = 0;
    for (int64_t i = 0; i < s->n; i++) sum += s->chunks[i].out;
    return sum;
}

static uint64_t parfor_expected(const struct tm_run *r)
{
    uint64_t sum = 0;
    for (int64_t i = 0; i < tm_run_param(r, "tasks"); i++)
        sum += chunk_hash((uint64_t)i + 1, tm_run_param(r, "work"));
    return sum;
}

static void parfor_teardown(struct tm_run *r)
{
    struct parfor_state *s = r->state;
    if (!s) return;
    free(s->chunks);
    free(s->tasks);
    free(s);
}

static const struct tm_param_def parfor_params[] = {
    {"tasks", TM_PARAM_INT, 64, 1, 10000000, NULL, "independent chunks, one task each"},
    {"work", TM_PARAM_INT, 200000, 1, 1000000000000, NULL, "hash rounds per chunk"},
};

const struct tm_workload_ops tm_wl_parfor = {
    .name = "parfor",
    .kind = "cpu",
    .summary = "independent equal chunks of pure compute (speed-up, placement)",
    .op = "one hash round",
    .params = parfor_params,
    .nparams = WL_NPARAMS(parfor_params),
    .setup = parfor_setup,
    .body = parfor_body,
    .verify = parfor_verify,
    .expected = parfor_expected,
    .teardown = parfor_teardown,
};
