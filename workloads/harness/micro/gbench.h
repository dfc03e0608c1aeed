/* gbench.h — a C shim over Google Benchmark (gbench.cc, the only C++ file).
 *
 * Register C functions as benchmarks, run them with Google Benchmark's own
 * command line, counters, reporters and JSON (so compare.py works on it).
 *
 *   static void bm(struct tmb_state *s, void *arg) {
 *       setup();                              // untimed
 *       uint64_t n = tmb_start(s);            // timer starts: run n iterations
 *       for (uint64_t i = 0; i < n; i++) op();
 *       tmb_stop(s);                          // timer stops
 *       tmb_set_items_processed(s, (int64_t)n);
 *       teardown();                           // untimed
 *   }
 *   tmb_bench_real_time(tmb_register("op/x", bm, NULL));
 *
 * The batch form (tmb_start + a plain C loop + tmb_stop) costs nothing per
 * iteration: the loop is the caller's own. tmb_keep_running() is the
 * Google-style alternative for iterations that cost microseconds, where
 * one out-of-line call each does not matter.
 *
 * Errors: C++ exceptions never cross into C. A registration that cannot
 * allocate aborts with a message (it runs at start-up, before anything is
 * measured); everything else here cannot fail.
 */
#ifndef TMB_GBENCH_H
#define TMB_GBENCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tmb_state; /* one run of one benchmark (wraps benchmark::State) */
struct tmb_bench; /* one registered benchmark (benchmark::internal::Benchmark) */

typedef void tmb_fn(struct tmb_state *s, void *arg);

/* ---- process: the Google Benchmark main() in three steps ---- */

/* Parse and remove --benchmark_* flags. Returns 0, or -1 after printing the
 * arguments it did not recognise (the caller should exit 2). */
int tmb_initialize(int *argc, char **argv);
/* Run the benchmarks the flags select; returns how many ran. */
size_t tmb_run_specified(void);
void tmb_shutdown(void);
/* A key/value pair for the "context" object of the report (and the console
 * header). Call before tmb_run_specified. */
void tmb_add_custom_context(const char *key, const char *value);

/* ---- registration; each returns b for chaining ---- */

/* Register fn(state, arg) under name (copied). arg must outlive the run. */
struct tmb_bench *tmb_register(const char *name, tmb_fn *fn, void *arg);
/* One more argument set with a single value / every power of 8 in [lo, hi]
 * (Google's Arg / Range). The running function reads them with tmb_arg. */
struct tmb_bench *tmb_bench_arg(struct tmb_bench *b, int64_t x);
struct tmb_bench *tmb_bench_range(struct tmb_bench *b, int64_t lo, int64_t hi);
/* Report wall-clock time (the name gets "/real_time"), not CPU time. */
struct tmb_bench *tmb_bench_real_time(struct tmb_bench *b);
/* The time is what the function reports with tmb_set_iteration_time. */
struct tmb_bench *tmb_bench_manual_time(struct tmb_bench *b);
/* CPU time of the whole process, all threads ("/process_time"). */
struct tmb_bench *tmb_bench_process_cpu_time(struct tmb_bench *b);
/* Fixed iteration count instead of growing to --benchmark_min_time. */
struct tmb_bench *tmb_bench_iterations(struct tmb_bench *b, uint64_t n);

enum tmb_unit { TMB_NS, TMB_US, TMB_MS, TMB_S };
struct tmb_bench *tmb_bench_unit(struct tmb_bench *b, enum tmb_unit u);

/* ---- inside a benchmark function ---- */

/* Start the timer; returns the number of iterations to run now, or 0 when
 * the run is already skipped (tmb_skip_with_error). Call at most once per
 * run, and then tmb_stop once the n iterations are done. */
uint64_t tmb_start(struct tmb_state *s);
/* Stop the timer after tmb_start's iterations (also after a skip inside
 * the loop). Does nothing if tmb_start returned 0 or was not called. */
void tmb_stop(struct tmb_state *s);
/* Google's `while (state.KeepRunning())`: 1 while iterations remain.
 * Do not mix with tmb_start/tmb_stop in one run. */
int tmb_keep_running(struct tmb_state *s);
/* Exclude a stretch inside the timed region from the measurement. */
void tmb_pause(struct tmb_state *s);
void tmb_resume(struct tmb_state *s);

/* Iterations this run will do / has done so far. */
uint64_t tmb_max_iterations(const struct tmb_state *s);
uint64_t tmb_iterations(const struct tmb_state *s);
/* Argument i of the current argument set (tmb_bench_arg / _range). */
int64_t tmb_arg(const struct tmb_state *s, int i);

/* Throughput: items_per_second / bytes_per_second in the report. */
void tmb_set_items_processed(struct tmb_state *s, int64_t items);
void tmb_set_bytes_processed(struct tmb_state *s, int64_t bytes);

/* User counter flags (benchmark::Counter::Flags, combinable). */
enum {
    TMB_RATE = 1 << 0,           /* divide by the run's time: per second */
    TMB_AVG_THREADS = 1 << 1,    /* divide by the number of threads */
    TMB_PER_ITERATION = 1 << 2,  /* value is per iteration: multiply by iterations */
    TMB_AVG_ITERATIONS = 1 << 3, /* divide by the iterations */
    TMB_INVERT = 1 << 4,         /* report 1/value (with TMB_RATE: seconds per unit) */
};
/* Set user counter name (copied) to value, shown as flags say. */
void tmb_counter(struct tmb_state *s, const char *name, double value, unsigned flags);

/* With tmb_bench_manual_time: the time this iteration took, in seconds. */
void tmb_set_iteration_time(struct tmb_state *s, double seconds);
/* Mark this run failed with msg (copied): it is reported as an error and
 * its timings are dropped. Later tmb_keep_running returns 0. */
void tmb_skip_with_error(struct tmb_state *s, const char *msg);
int tmb_error_occurred(const struct tmb_state *s);
/* A free-form label shown next to this run's results (copied). */
void tmb_set_label(struct tmb_state *s, const char *label);

/* Keep the compiler from optimising away a value / reordering memory
 * accesses across this point (Google's DoNotOptimize / ClobberMemory). */
static inline void tmb_do_not_optimize(const void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}
static inline void tmb_clobber_memory(void)
{
    __asm__ volatile("" : : : "memory");
}

#ifdef __cplusplus
}
#endif

#endif
