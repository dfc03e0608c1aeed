// gbench.cc — the C shim over Google Benchmark (see gbench.h). The only
// C++ file of tmbench; it stays a thin translation layer.
//
// A benchmark registered from C is a lambda that wraps the benchmark::State
// in a struct tmb_state (which remembers whether tmb_start left the timer
// running) and calls the C function. If that function returns with the
// timer still running (it forgot tmb_stop, or a model abandoned the task
// running the loop), the lambda ends the run so Google Benchmark's own
// checks hold.
#include "gbench.h"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

struct tmb_state {
    benchmark::State *st; // the run being measured
    bool running;         // tmb_start returned n > 0 and tmb_stop has not run yet
};

namespace
{

benchmark::internal::Benchmark *B(tmb_bench *b)
{
    return reinterpret_cast<benchmark::internal::Benchmark *>(b);
}

tmb_bench *C(benchmark::internal::Benchmark *b)
{
    return reinterpret_cast<tmb_bench *>(b);
}

[[noreturn]] void die(const char *what)
{
    std::fprintf(stderr, "tmbench-micro: %s\n", what);
    std::abort();
}

// Finish a batch started by tmb_start: past the end, KeepRunningBatch stops
// the timer (unless a skip already did) and returns false.
void finish(tmb_state *s)
{
    if (!s->running) return;
    s->running = false;
    while (s->st->KeepRunningBatch(1)) {
    }
}

} // namespace

extern "C" {

int tmb_initialize(int *argc, char **argv)
{
    benchmark::Initialize(argc, argv);
    return benchmark::ReportUnrecognizedArguments(*argc, argv) ? -1 : 0;
}

size_t tmb_run_specified(void)
{
    return benchmark::RunSpecifiedBenchmarks();
}
void tmb_shutdown(void)
{
    benchmark::Shutdown();
}

void tmb_add_custom_context(const char *key, const char *value)
{
    try {
        benchmark::AddCustomContext(key, value ? value : "");
    } catch (const std::exception &e) {
        die(e.what());
    }
}

tmb_bench *tmb_register(const char *name, tmb_fn *fn, void *arg)
{
    try {
        return C(benchmark::RegisterBenchmark(name, [fn, arg](benchmark::State &st) {
            tmb_state s = {&st, false};
            fn(&s, arg);
            finish(&s);
        }));
    } catch (const std::exception &e) {
        die(e.what());
    }
}

tmb_bench *tmb_bench_arg(tmb_bench *b, int64_t x)
{
    return C(B(b)->Arg(x));
}
tmb_bench *tmb_bench_range(tmb_bench *b, int64_t lo, int64_t hi)
{
    return C(B(b)->Range(lo, hi));
}
tmb_bench *tmb_bench_real_time(tmb_bench *b)
{
    return C(B(b)->UseRealTime());
}
tmb_bench *tmb_bench_manual_time(tmb_bench *b)
{
    return C(B(b)->UseManualTime());
}
tmb_bench *tmb_bench_process_cpu_time(tmb_bench *b)
{
    return C(B(b)->MeasureProcessCPUTime());
}

tmb_bench *tmb_bench_iterations(tmb_bench *b, uint64_t n)
{
    return C(B(b)->Iterations(static_cast<benchmark::IterationCount>(n)));
}

tmb_bench *tmb_bench_unit(tmb_bench *b, enum tmb_unit u)
{
    static const benchmark::TimeUnit units[] = {benchmark::kNanosecond, benchmark::kMicrosecond,
                                                benchmark::kMillisecond, benchmark::kSecond};
    return C(B(b)->Unit(units[u]));
}

uint64_t tmb_start(tmb_state *s)
{
    if (s->running) die("tmb_start called twice in one run");
    benchmark::IterationCount n = s->st->max_iterations;
    // The first KeepRunningBatch starts the timer; it returns false (and
    // ends the run) only when the run was skipped before it began.
    if (!s->st->KeepRunningBatch(n)) return 0;
    s->running = true;
    return static_cast<uint64_t>(n);
}

void tmb_stop(tmb_state *s)
{
    finish(s);
}
int tmb_keep_running(tmb_state *s)
{
    return s->st->KeepRunning();
}
void tmb_pause(tmb_state *s)
{
    s->st->PauseTiming();
}
void tmb_resume(tmb_state *s)
{
    s->st->ResumeTiming();
}

uint64_t tmb_max_iterations(const tmb_state *s)
{
    return static_cast<uint64_t>(s->st->max_iterations);
}

uint64_t tmb_iterations(const tmb_state *s)
{
    return static_cast<uint64_t>(s->st->iterations());
}
int64_t tmb_arg(const tmb_state *s, int i)
{
    return s->st->range(static_cast<std::size_t>(i));
}

void tmb_set_items_processed(tmb_state *s, int64_t items)
{
    s->st->SetItemsProcessed(items);
}
void tmb_set_bytes_processed(tmb_state *s, int64_t bytes)
{
    s->st->SetBytesProcessed(bytes);
}

void tmb_counter(tmb_state *s, const char *name, double value, unsigned flags)
{
    using F = benchmark::Counter;
    int f = F::kDefaults;
    if (flags & TMB_RATE) f |= F::kIsRate;
    if (flags & TMB_AVG_THREADS) f |= F::kAvgThreads;
    if (flags & TMB_PER_ITERATION) f |= F::kIsIterationInvariant;
    if (flags & TMB_AVG_ITERATIONS) f |= F::kAvgIterations;
    if (flags & TMB_INVERT) f |= F::kInvert;
    try {
        s->st->counters[name] = F(value, static_cast<F::Flags>(f));
    } catch (const std::exception &e) {
        die(e.what());
    }
}

void tmb_set_iteration_time(tmb_state *s, double seconds)
{
    s->st->SetIterationTime(seconds);
}
void tmb_skip_with_error(tmb_state *s, const char *msg)
{
    s->st->SkipWithError(msg);
}
int tmb_error_occurred(const tmb_state *s)
{
    return s->st->error_occurred();
}

void tmb_set_label(tmb_state *s, const char *label)
{
    try {
        s->st->SetLabel(label);
    } catch (const std::exception &e) {
        die(e.what());
    }
}

} // extern "C"
