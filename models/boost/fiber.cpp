// fiber.cpp — tmbench-boost, the Boost.Fiber peer: the micro workloads of
// workloads/micro.c (spawn, yield, pingpong, mutex) on boost::fibers, run
// by `tmbench run -m boost`.
//
// It speaks tmbench-peer/1, described at the top of
// workloads/harness/peer.c:
//   tmbench-boost info
//   tmbench-boost run WORKLOAD --procs 1 --reps R --warmup W --stack-kb K
//                 --tmbench PATH --set KEY=VALUE...
// and measures like runner.c: setup untimed, CLOCK_MONOTONIC around the
// body only, getrusage deltas over it, ru_maxrss after it. tmbench judges
// the checksum against the C workload's expected().
//
// Every fiber runs on the main thread under the default round_robin
// scheduler (like coro: N:1, so --procs must be 1), on stacks of
// --stack-kb from a pooled_fixedsize_stack (Boost.Pool, no guard page),
// kept across repetitions like coro's stack pool. Rejected: the default
// fixedsize_stack, which mallocs each stack: glibc gives the freed 64 KiB
// blocks back to the kernel between batches, so spawn measured page
// faults (~4 us/op, 17x the pooled cost), not Boost.Fiber. Each workload
// is the idiomatic Boost.Fiber form of its C twin (fiber + join,
// this_fiber::yield, unbuffered_channel, fibers::mutex) with the same
// parameters, ops and checksum.
#include <sys/resource.h>

#include <algorithm>
#include <boost/fiber/all.hpp>
#include <boost/version.hpp>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fibers = boost::fibers;

namespace
{

const char protocol[] = "tmbench-peer/1";

// One repetition's context, like struct tm_run.
struct run {
    explicit run(size_t stack_bytes) : stack(stack_bytes) {}
    std::map<std::string, int64_t> param; // --set values
    fibers::pooled_fixedsize_stack stack; // every fiber's stacks (a shared pool)
    uint64_t ops = 0;                     // out: operations done by body
    std::string error;                    // out: why body failed
};

// One prepared repetition: setup has run (untimed).
struct phases {
    std::function<bool()> body;       // timed; false after setting run.error
    std::function<uint64_t()> verify; // untimed: the checksum of what body did
};

struct workload {
    const char *name;
    std::vector<std::string> params;      // the C catalogue's parameter names
    std::function<phases(run &)> prepare; // untimed setup
};

// "1234567" -> "1,234,567", for messages as wl.h writes them.
std::string commas(int64_t v)
{
    std::string s = std::to_string(v);
    for (int i = (int)s.size() - 3; i > 0; i -= 3)
        s.insert((size_t)i, ",");
    return s;
}

// ---- spawn: start and join `tasks` fibers, `batch` alive at a time ----
// ops = tasks; checksum = fibers whose body ran.
phases spawn(run &r)
{
    int64_t n = r.param["tasks"], batch = r.param["batch"];
    auto ran = std::make_shared<uint64_t>(0); // one thread: no atomics needed
    auto handles = std::make_shared<std::vector<fibers::fiber>>();
    handles->reserve((size_t)std::min(batch, n));
    auto body = [&r, n, batch, ran, handles] {
        for (int64_t done = 0; done < n; done += batch) {
            int64_t k = std::min(batch, n - done), i = 0;
            try {
                for (; i < k; i++)
                    handles->emplace_back(std::allocator_arg, r.stack, [ran] { ++*ran; });
            } catch (const std::exception &e) {
                r.error = "boost: " + std::string(e.what()) + " creating task " +
                          commas(done + i + 1) + " of " + commas(n);
            }
            for (auto &f : *handles)
                f.join();
            handles->clear();
            if (!r.error.empty()) return false;
        }
        r.ops = (uint64_t)n;
        return true;
    };
    return {body, [ran] { return *ran; }};
}

// Start n fibers running fn and join them all; false after setting r.error.
bool spawn_join_all(run &r, int64_t n, const std::function<void()> &fn)
{
    std::vector<fibers::fiber> f;
    f.reserve((size_t)n);
    try {
        for (int64_t i = 0; i < n; i++)
            f.emplace_back(std::allocator_arg, r.stack, fn);
    } catch (const std::exception &e) {
        r.error = "boost: " + std::string(e.what()) + " creating task " +
                  commas((int64_t)f.size() + 1) + " of " + commas(n);
    }
    for (auto &x : f)
        x.join();
    return r.error.empty();
}

// ---- yield: `tasks` fibers each yield `iters` times ----
// ops = checksum = tasks * iters.
phases yield(run &r)
{
    int64_t tasks = r.param["tasks"], iters = r.param["iters"];
    auto total = std::make_shared<uint64_t>(0);
    auto body = [&r, tasks, iters, total] {
        bool ok = spawn_join_all(r, tasks, [iters, total] {
            uint64_t n = 0;
            for (int64_t i = 0; i < iters; i++, n++)
                boost::this_fiber::yield();
            *total += n;
        });
        r.ops = (uint64_t)(tasks * iters);
        return ok;
    };
    return {body, [total] { return *total; }};
}

// ---- pingpong: round trips of 1..iters over two unbuffered channels ----
// ops = iters; checksum = the sum of the values that came back.
phases pingpong(run &r)
{
    using chan = fibers::unbuffered_channel<uint64_t>;
    uint64_t iters = (uint64_t)r.param["iters"];
    auto ping = std::make_shared<chan>(), pong = std::make_shared<chan>();
    auto sum = std::make_shared<uint64_t>(0);
    auto body = [&r, iters, ping, pong, sum] {
        fibers::fiber echo(std::allocator_arg, r.stack, [ping, pong] {
            uint64_t v;
            while (ping->pop(v) == fibers::channel_op_status::success)
                pong->push(v);
        });
        for (uint64_t i = 1; i <= iters; i++) {
            uint64_t v = 0;
            ping->push(i);
            pong->pop(v);
            *sum += v;
        }
        ping->close();
        echo.join();
        r.ops = iters;
        return true;
    };
    return {body, [sum] { return *sum; }};
}

// ---- mutex: `tasks` fibers increment one counter under a fibers::mutex ----
// ops = checksum = tasks * iters.
phases mutex(run &r)
{
    int64_t tasks = r.param["tasks"], iters = r.param["iters"];
    auto m = std::make_shared<fibers::mutex>();
    auto counter = std::make_shared<uint64_t>(0); // guarded by *m
    auto body = [&r, tasks, iters, m, counter] {
        bool ok = spawn_join_all(r, tasks, [iters, m, counter] {
            for (int64_t i = 0; i < iters; i++) {
                m->lock();
                ++*counter;
                m->unlock();
            }
        });
        r.ops = (uint64_t)(tasks * iters);
        return ok;
    };
    return {body, [counter] { return *counter; }};
}

const workload catalogue[] = {
    {"spawn", {"tasks", "batch"}, spawn},
    {"yield", {"tasks", "iters"}, yield},
    {"pingpong", {"iters"}, pingpong},
    {"mutex", {"tasks", "iters"}, mutex},
};

// ---- the protocol ----

std::string version()
{
    char buf[128];
    snprintf(buf, sizeof buf, "Boost.Fiber %d.%d.%d round_robin (g++ %s)", BOOST_VERSION / 100000,
             BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100, __VERSION__);
    return buf;
}

// s as a JSON string.
std::string quote(const std::string &s)
{
    std::string q = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            q += '\\';
            q += (char)c;
        } else if (c < 0x20) {
            char u[8];
            snprintf(u, sizeof u, "\\u%04x", c);
            q += u;
        } else {
            q += (char)c;
        }
    }
    return q + "\"";
}

void emit(const std::string &line)
{
    fputs(line.c_str(), stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

void hello(bool with_workloads)
{
    std::string l = std::string("{\"protocol\":") + quote(protocol) +
                    ",\"name\":\"boost\",\"version\":" + quote(version());
    if (with_workloads) {
        l += ",\"workloads\":[";
        for (const auto &w : catalogue)
            l += std::string(&w == catalogue ? "" : ",") + quote(w.name);
        l += "]";
    }
    emit(l + "}");
}

int unsupported(const std::string &why)
{
    emit("{\"warmup\":false,\"rep\":0,\"status\":\"unsupported\",\"error\":" + quote(why) + "}");
    return 1;
}

int64_t ns(const timespec &t)
{
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}
int64_t ns(const timeval &t)
{
    return (int64_t)t.tv_sec * 1000000000 + (int64_t)t.tv_usec * 1000;
}

// One repetition, reported as one line; true when it was ok.
bool one(const workload &w, run &r, bool warm, int rep)
{
    phases ph = w.prepare(r);
    rusage ru0, ru1;
    timespec t0, t1;
    getrusage(RUSAGE_SELF, &ru0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool ok = ph.body();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    getrusage(RUSAGE_SELF, &ru1);
    char buf[512];
    snprintf(buf, sizeof buf,
             "{\"warmup\":%s,\"rep\":%d,\"status\":\"%s\",\"wall_ns\":%" PRId64
             ",\"cpu_user_ns\":%" PRId64 ",\"cpu_sys_ns\":%" PRId64 ",\"max_rss_kb\":%ld"
             ",\"ctx_vol\":%ld,\"ctx_invol\":%ld,\"ops\":%" PRIu64,
             warm ? "true" : "false", rep, ok ? "ok" : "failed", ns(t1) - ns(t0),
             ns(ru1.ru_utime) - ns(ru0.ru_utime), ns(ru1.ru_stime) - ns(ru0.ru_stime),
             ru1.ru_maxrss, ru1.ru_nvcsw - ru0.ru_nvcsw, ru1.ru_nivcsw - ru0.ru_nivcsw, r.ops);
    std::string l = buf;
    if (ok)
        l += ",\"checksum\":" + std::to_string(ph.verify());
    else
        l += ",\"error\":" + quote(r.error);
    emit(l + "}");
    return ok;
}

int usage(const std::string &msg)
{
    fprintf(stderr, "tmbench-boost: %s\n", msg.c_str());
    return 2;
}

// A whole number argument, or -1.
int64_t number(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return *s && !*end && !errno && v >= 0 ? v : -1;
}

int run_cmd(int argc, char **argv)
{
    if (argc < 1 || argv[0][0] == '-') return usage("run: no workload given");
    const char *name = argv[0];
    int64_t procs = 1, reps = 1, warmup = 0, stack_kb = 64;
    std::map<std::string, std::string> set;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (i + 1 >= argc) return usage("run: " + a + " needs a value");
        const char *v = argv[++i];
        if (a == "--procs")
            procs = number(v);
        else if (a == "--reps")
            reps = number(v);
        else if (a == "--warmup")
            warmup = number(v);
        else if (a == "--stack-kb")
            stack_kb = number(v);
        else if (a == "--tmbench")
            continue; // for echo/http's load generator: none here
        else if (a == "--set" && strchr(v, '=') && v[0] != '=')
            set[std::string(v, strchr(v, '='))] = strchr(v, '=') + 1;
        else
            return usage("run: bad argument " + a + " " + v);
    }
    if (procs < 1 || reps < 1 || warmup < 0 || stack_kb < 4)
        return usage("run: --procs, --reps, --warmup or --stack-kb out of range");
    hello(false);
    if (procs != 1)
        return unsupported("boost: fibers run on one thread here (N:1): --procs must be 1, not " +
                           std::to_string(procs));
    const workload *w = nullptr;
    for (const auto &c : catalogue)
        if (std::string(c.name) == name) w = &c;
    if (!w)
        return unsupported(std::string("boost: no Boost.Fiber version of workload '") + name + "'");
    size_t min = boost::context::stack_traits::minimum_size();
    if ((size_t)stack_kb * 1024 < min)
        return unsupported("boost: --stack-kb " + std::to_string(stack_kb) +
                           " is below Boost.Context's minimum stack of " +
                           std::to_string((min + 1023) / 1024) + " KiB");
    run proto((size_t)stack_kb * 1024);
    for (const auto &p : w->params) {
        auto it = set.find(p);
        if (it == set.end())
            return unsupported("boost: parameter '" + p + "' of " + name + " not given");
        if ((proto.param[p] = number(it->second.c_str())) < 0)
            return usage("run: " + p + "=" + it->second + " is not a whole number");
    }
    for (const auto &kv : set)
        if (!proto.param.count(kv.first))
            return unsupported(std::string("boost: ") + name + " has no parameter '" + kv.first +
                               "' in this peer (older than the C catalogue)");
    for (int64_t i = 0; i < warmup + reps; i++) {
        run r = proto;
        bool warm = i < warmup;
        if (!one(*w, r, warm, (int)(warm ? i : i - warmup))) return 1;
    }
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "info") == 0) {
        hello(true);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "run") == 0) return run_cmd(argc - 2, argv + 2);
    return usage("usage: tmbench-boost info | run WORKLOAD --procs 1 --reps R --warmup W "
                 "--stack-kb K --set KEY=VALUE...");
}
