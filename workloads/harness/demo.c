/* demo.c — `tmbench demo`: classroom demonstrations.
 *
 *   tmbench demo --list                 the demonstrations, one line each
 *   tmbench demo NAME [--out DIR]       run one (default DIR: out/demo/NAME)
 *
 * The demonstrations themselves live in scripts/demo (Python 3 standard
 * library + gnuplot): each runs `tmbench run` a few times, with --trace
 * where it needs a picture of the schedule, draws PNG and SVG figures and
 * prints its three-line explanation. This command only finds that script
 * in the source tree this binary was built from (TMI_SOURCE_DIR, set by
 * CMake) and execs python3 on it with this binary's own path, so a demo
 * always drives the tmbench that was asked. Unknown names, --list and
 * --help are answered by the script, which is the one list of demos.
 *
 * Why not C: the demos are mostly orchestration, JSON reading and gnuplot
 * scripts, all of which the experiment scripts already do in Python; in C
 * each would be several times longer and a teacher could not adapt one.
 *
 * One piece must be C: the `parallelism` demo needs tasks that compute in
 * fixed chunks of CPU work and yield between them, so that a trace shows
 * exactly when each task held a core. No catalogue workload does that
 * (parfor never yields, yield never computes), and the catalogue is a
 * contract, so the work is a demo-private workload run through the normal
 * runner by an internal form of this command:
 *
 *   tmbench demo --kernel slices MODEL PROCS TRACE|- [KEY=VALUE...]
 *
 * which prints one JSON result record (DESIGN.md §4) on stdout. Keys:
 * tasks (default 2), chunks (10), chunk_us (2000: sizes `rounds` by a short
 * calibration when rounds is 0), rounds (hash rounds per chunk).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "model.h"
#include "../wl.h" /* wl_hash_rounds: the same compute as parfor */

#ifndef TMI_SOURCE_DIR
#define TMI_SOURCE_DIR "."
#endif

/* ---- the slices kernel ---- */

static uint64_t rounds_hash(uint64_t x, int64_t rounds) { return wl_hash_rounds(x, rounds); }

/* CPU time of the calling thread, ns. */
static int64_t cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct slices_task {
    struct tm_task *t;
    uint64_t seed, out;
    int64_t chunks, rounds;
};

static void slices_main(void *p)
{
    struct slices_task *s = p;
    uint64_t x = s->seed;
    for (int64_t c = 0; c < s->chunks; c++) {
        x = rounds_hash(x, s->rounds);
        tm_yield();
    }
    s->out = x;
}

static uint64_t slices_sum;

static int slices_body(struct tm_run *r)
{
    int64_t n = tm_run_param(r, "tasks"), chunks = tm_run_param(r, "chunks");
    int64_t rounds = tm_run_param(r, "rounds");
    if (rounds == 0) { /* calibrate on CPU time, so a busy machine does not skew it */
        int64_t t0 = cpu_now(), done = 0;
        uint64_t x = 1;
        while (cpu_now() - t0 < 5000000) {
            x = rounds_hash(x, 20000);
            done += 20000;
        }
        rounds = (int64_t)((double)done * (double)tm_run_param(r, "chunk_us") * 1000.0 /
                           (double)(cpu_now() - t0)) + (int64_t)(x & 1);
    }
    struct slices_task *ts = calloc((size_t)n, sizeof *ts);
    if (!ts) return tm_run_fail(r, "slices: out of memory");
    int64_t i;
    for (i = 0; i < n; i++) {
        ts[i] = (struct slices_task){.seed = (uint64_t)i + 1, .chunks = chunks, .rounds = rounds};
        if (!(ts[i].t = tm_spawn(slices_main, &ts[i]))) break;
    }
    int rc = i < n ? tm_run_fail(r, "slices: spawn %" PRId64 " of %" PRId64 ": %s", i + 1, n,
                                 strerror(errno))
                   : 0;
    slices_sum = 0;
    for (int64_t j = 0; j < i; j++) {
        tm_join(ts[j].t);
        slices_sum += ts[j].out;
    }
    free(ts);
    tm_run_metric(r, "rounds_per_chunk", (double)rounds);
    r->ops = (uint64_t)(i * chunks);
    return rc;
}

static uint64_t slices_verify(struct tm_run *r) { return slices_sum; }

static uint64_t slices_expected(const struct tm_run *r)
{
    return slices_sum; /* the work is calibrated per run: nothing to compare across runs */
}

static const struct tm_param_def slices_params[] = {
    {"tasks", TM_PARAM_INT, 2, 1, 64, NULL, "tasks computing at once"},
    {"chunks", TM_PARAM_INT, 10, 1, 100000, NULL, "chunks of work per task, a yield after each"},
    {"chunk_us", TM_PARAM_INT, 2000, 1, 1000000, NULL, "CPU time per chunk when rounds=0"},
    {"rounds", TM_PARAM_INT, 0, 0, INT64_MAX / 2, NULL, "hash rounds per chunk (0: calibrate)"},
};

static const struct tm_workload_ops slices_wl = {
    .name = "demo-slices",
    .kind = "cpu",
    .summary = "T tasks compute `chunks` equal chunks each, yielding between chunks",
    .op = "one chunk",
    .params = slices_params,
    .nparams = (int)(sizeof slices_params / sizeof slices_params[0]),
    .body = slices_body,
    .verify = slices_verify,
    .expected = slices_expected,
};

static int kernel(int argc, char **argv)
{
    /* argv: --kernel slices MODEL PROCS TRACE [KEY=VALUE...] */
    if (argc < 5 || strcmp(argv[1], "slices") != 0)
        return tmi_usage_error("demo --kernel: usage: slices MODEL PROCS TRACE|- [KEY=VALUE...]");
    struct tmi_run_opts o = {.wl = &slices_wl, .reps = 1, .format = TMI_FMT_JSON};
    if (!(o.model = tmi_model_find(argv[2])))
        return tmi_usage_error("demo --kernel: unknown model '%s'", argv[2]);
    int64_t procs;
    if (tmi_parse_int(argv[3], &procs) != 0 || procs < 1 || procs > TMI_MAX_PROCS)
        return tmi_usage_error("demo --kernel: bad procs '%s'", argv[3]);
    o.procs = (int)procs;
    char err[512];
    if (strcmp(argv[4], "-") != 0) {
        o.trace = argv[4];
        if (tmi_out_check(o.trace, "--trace", err, sizeof err) != 0)
            return tmi_usage_error("%s", err);
    }
    tmi_param_defaults(o.wl, o.param);
    for (int i = 5; i < argc; i++)
        if (tmi_param_set(o.wl, o.param, argv[i], err, sizeof err) != 0)
            return tmi_usage_error("%s", err);
    struct tmi_result res;
    if (tmi_runner(&o, &res) != 0) return tmi_usage_error("demo: %s", strerror(errno));
    struct tmi_rec rec = {0};
    tmi_rep_record(&o, &res, &res.rep[0], &rec);
    int failed = res.rep[0].status != TMI_OK;
    int werr = rec.oom || tmi_out_stream(stdout, TMI_FMT_JSON, &rec, 1) != 0 || fflush(stdout);
    tmi_rec_free(&rec);
    tmi_result_free(&res);
    return werr ? 2 : failed;
}

/* ---- the front: exec python3 on scripts/demo ---- */

int tmi_cmd_demo(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--kernel") == 0) return kernel(argc - 1, argv + 1);

    char script[PATH_MAX], self[PATH_MAX];
    snprintf(script, sizeof script, "%s/scripts/demo", TMI_SOURCE_DIR);
    if (access(script, R_OK) != 0)
        return tmi_usage_error("demo: cannot read %s (the source tree this tmbench was built "
                               "from): %s", script, strerror(errno));
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return tmi_usage_error("demo: cannot find this executable: %s", strerror(errno));
    self[n] = '\0';

    /* python3 SCRIPT --tmbench SELF ARGS... */
    char **av = calloc((size_t)argc + 5, sizeof *av);
    if (!av) return tmi_usage_error("demo: out of memory");
    int k = 0;
    av[k++] = "python3";
    av[k++] = script;
    av[k++] = "--tmbench";
    av[k++] = self;
    for (int i = 1; i < argc; i++) av[k++] = argv[i];
    av[k] = NULL;
    fflush(NULL);
    execvp("python3", av);
    execv("/usr/bin/python3", av);
    fprintf(stderr, "tmbench: demo: cannot run python3: %s\n", strerror(errno));
    free(av);
    return 1;
}
