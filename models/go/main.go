// Command tmbench-go is tmbench's Go peer: the real Go runtime running Go
// versions of the catalogue's workloads, driven by `tmbench run -m go`.
//
// It speaks tmbench-peer/1, described at the top of
// workloads/harness/peer.c:
//
//	tmbench-go info
//	tmbench-go run WORKLOAD --procs N --reps R --warmup W --tmbench PATH --set KEY=VALUE...
//
// tmbench validates every argument against the C catalogue and judges the
// checksum; this program only runs and measures, the way runner.c does:
// setup untimed, the wall clock around the body only, getrusage deltas
// over it, ru_maxrss after it. GOMAXPROCS is set to --procs; nothing else
// is tuned. Rejected: a runtime.GC() before each repetition, as testing.B
// does: a collection while only the main goroutine lives makes Go 1.19's
// adaptive initial stack size jump (2 -> 8 KiB), so the next repetition
// measured the harness, and the C runner resets no model between
// repetitions either. The record's metrics show the collections
// (gc_cycles, gc_pause_ns) that fell inside the body.
//
// Each workload is the idiomatic Go form of its C twin (goroutines,
// channels, sync.Mutex, sync.WaitGroup, runtime.Gosched) with the same
// parameters, the same `ops` and the same checksum.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const protocol = "tmbench-peer/1"

// phases is one prepared repetition: setup has run (untimed).
type phases struct {
	body   func() error  // timed; sets run.ops
	verify func() uint64 // untimed: the checksum of what body computed
}

// workload is the Go version of one entry of the C catalogue.
type workload struct {
	name    string
	params  []string                     // the C catalogue's parameter names
	prepare func(r *run) (phases, error) // untimed setup
}

// catalogue lists every workload this peer has, in the C catalogue's order.
var catalogue = []*workload{
	&spawnWL, &yieldWL, &pingpongWL, &mutexWL, &idleWL, &fibWL, &skynetWL, &parforWL,
	&sleepWL, &ringWL, &echoWL, &httpWL, &blockioWL, &hoglatWL,
}

type metric struct {
	name  string
	value float64
}

// run is one repetition's context, like struct tm_run.
type run struct {
	set     map[string]string // --set values as given
	procs   int               // GOMAXPROCS
	ops     uint64            // out: operations done by body
	metrics []metric          // out: the workload's metrics, in order
	hist    *hist             // out: latency histogram, made on first use
}

// int is parameter name as a number; tmbench always passes it.
func (r *run) int(name string) int64 {
	v, err := strconv.ParseInt(r.set[name], 10, 64)
	if err != nil {
		panic(fmt.Sprintf("parameter %s=%q is not a number", name, r.set[name]))
	}
	return v
}

// word is an enum parameter's choice.
func (r *run) word(name string) string { return r.set[name] }

// metric sets (or overwrites) a metric for the record's metrics{}.
func (r *run) metric(name string, v float64) {
	for i := range r.metrics {
		if r.metrics[i].name == name {
			r.metrics[i].value = v
			return
		}
	}
	r.metrics = append(r.metrics, metric{name, v})
}

// histogram is the repetition's latency histogram.
func (r *run) histogram() *hist {
	if r.hist == nil {
		r.hist = &hist{}
		r.hist.reset()
	}
	return r.hist
}

// fail is a workload's failure, reported as status "failed".
func fail(format string, args ...any) error { return fmt.Errorf(format, args...) }

func version() string { return runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH }

// ---- output: one JSON object per line ----

type line struct{ b strings.Builder }

func (l *line) sep() {
	if s := l.b.String(); s != "" && s[len(s)-1] != '{' {
		l.b.WriteByte(',')
	}
}
func (l *line) key(k string) { l.sep(); l.b.WriteString(strconv.Quote(k) + ":") }
func (l *line) str(k, v string) {
	l.key(k)
	l.b.WriteString(strconv.QuoteToASCII(v))
}
func (l *line) i64(k string, v int64)  { l.key(k); l.b.WriteString(strconv.FormatInt(v, 10)) }
func (l *line) u64(k string, v uint64) { l.key(k); l.b.WriteString(strconv.FormatUint(v, 10)) }
func (l *line) boolean(k string, v bool) {
	l.key(k)
	l.b.WriteString(strconv.FormatBool(v))
}
func (l *line) dbl(k string, v float64) {
	l.key(k)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		l.b.WriteString("null")
	} else {
		l.b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	}
}
func (l *line) open(k string) { l.key(k); l.b.WriteByte('{') }
func (l *line) close()        { l.b.WriteByte('}') }

var out = bufio.NewWriter(os.Stdout)

func emit(l *line) {
	out.WriteString("{" + l.b.String() + "}\n")
	out.Flush()
}

func hello(withWorkloads bool) {
	var l line
	l.str("protocol", protocol)
	l.str("name", "go")
	l.str("version", version())
	if withWorkloads {
		names := make([]string, len(catalogue))
		for i, w := range catalogue {
			names[i] = strconv.Quote(w.name)
		}
		l.key("workloads")
		l.b.WriteString("[" + strings.Join(names, ",") + "]")
	}
	emit(&l)
}

// ---- measuring one repetition ----

type result struct {
	status, err string
	measured    bool
	wall        time.Duration
	ru0, ru1    syscall.Rusage
	ms0, ms1    runtime.MemStats
	checksum    uint64
}

func tvNs(t syscall.Timeval) int64 { return t.Sec*1e9 + t.Usec*1e3 }

// one runs setup, the timed body and verify, like one_rep in runner.c.
func one(w *workload, r *run) (res result) {
	defer func() { // a panic in a workload is a failed repetition, not a crash
		if p := recover(); p != nil {
			res.status, res.err = "failed", fmt.Sprintf("go: panic: %v", p)
		}
	}()
	ph, err := w.prepare(r)
	if err != nil {
		return result{status: "failed", err: "setup: " + err.Error()}
	}
	runtime.ReadMemStats(&res.ms0)
	syscall.Getrusage(syscall.RUSAGE_SELF, &res.ru0)
	t0 := time.Now()
	err = ph.body()
	res.wall = time.Since(t0)
	syscall.Getrusage(syscall.RUSAGE_SELF, &res.ru1)
	runtime.ReadMemStats(&res.ms1)
	res.measured, res.status = true, "ok"
	if err != nil {
		res.status, res.err = "failed", err.Error()
	} else {
		res.checksum = ph.verify()
	}
	return res
}

func report(warm bool, rep int, r *run, res result) {
	var l line
	l.boolean("warmup", warm)
	l.i64("rep", int64(rep))
	l.str("status", res.status)
	if res.status != "ok" {
		l.str("error", strings.ReplaceAll(res.err, "\n", " "))
	}
	if res.measured {
		l.i64("wall_ns", res.wall.Nanoseconds())
		l.i64("cpu_user_ns", tvNs(res.ru1.Utime)-tvNs(res.ru0.Utime))
		l.i64("cpu_sys_ns", tvNs(res.ru1.Stime)-tvNs(res.ru0.Stime))
		l.i64("max_rss_kb", res.ru1.Maxrss)
		l.i64("ctx_vol", res.ru1.Nvcsw-res.ru0.Nvcsw)
		l.i64("ctx_invol", res.ru1.Nivcsw-res.ru0.Nivcsw)
		l.u64("ops", r.ops)
	}
	if res.status == "ok" {
		l.u64("checksum", res.checksum)
	}
	if h := r.hist; h != nil && res.measured {
		l.open("latency_ns")
		l.u64("count", h.count.Load())
		for _, p := range []struct {
			k string
			p float64
		}{{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p999", 99.9}} {
			l.i64(p.k, h.percentile(p.p))
		}
		l.i64("min", h.minimum())
		l.i64("max", h.maximum())
		l.close()
	}
	if len(r.metrics) > 0 {
		l.open("metrics")
		for _, m := range r.metrics {
			l.dbl(m.name, m.value)
		}
		l.close()
	}
	if res.measured {
		l.open("runtime")
		l.u64("gc_cycles", uint64(res.ms1.NumGC-res.ms0.NumGC))
		l.u64("gc_pause_ns", res.ms1.PauseTotalNs-res.ms0.PauseTotalNs)
		l.u64("heap_sys_kb", res.ms1.HeapSys/1024)
		l.u64("stacks_sys_kb", res.ms1.StackSys/1024)
		l.close()
	}
	emit(&l)
}

// unsupported answers a run this peer cannot do, as repetition 0.
func unsupported(format string, args ...any) int {
	var l line
	l.boolean("warmup", false)
	l.i64("rep", 0)
	l.str("status", "unsupported")
	l.str("error", fmt.Sprintf(format, args...))
	emit(&l)
	return 1
}

// ---- the command line ----

type sets map[string]string

func (s sets) String() string { return "" }
func (s sets) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" {
		return errors.New("--set wants KEY=VALUE")
	}
	s[k] = v
	return nil
}

func usage(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "tmbench-go: "+format+"\n", args...)
	return 2
}

func runCmd(args []string) int {
	if len(args) < 1 || strings.HasPrefix(args[0], "-") {
		return usage("run: no workload given")
	}
	name := args[0]
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	procs := fs.Int("procs", runtime.NumCPU(), "GOMAXPROCS")
	reps := fs.Int("reps", 1, "recorded repetitions")
	warmup := fs.Int("warmup", 0, "unrecorded repetitions first")
	fs.Int("stack-kb", 0, "ignored: goroutine stacks grow")
	fs.StringVar(&tmbenchPath, "tmbench", "tmbench", "the tmbench to run `tmbench load` with")
	set := sets{}
	fs.Var(set, "set", "KEY=VALUE, once per parameter")
	if err := fs.Parse(args[1:]); err != nil {
		return usage("run: %v", err)
	}
	if fs.NArg() > 0 || *procs < 1 || *reps < 1 || *warmup < 0 {
		return usage("run: bad arguments %q", args)
	}
	runtime.GOMAXPROCS(*procs)
	hello(false)

	var w *workload
	for _, c := range catalogue {
		if c.name == name {
			w = c
		}
	}
	if w == nil {
		return unsupported("go: no Go version of workload '%s' in this peer", name)
	}
	known := map[string]bool{}
	for _, p := range w.params {
		known[p] = true
		if _, ok := set[p]; !ok {
			return unsupported("go: parameter '%s' of %s not given", p, name)
		}
	}
	var extra []string
	for k := range set {
		if !known[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return unsupported("go: %s has no parameter '%s' in this peer (older than the C catalogue)",
			name, extra[0])
	}

	for i := 0; i < *warmup+*reps; i++ {
		warm := i < *warmup
		r := &run{set: set, procs: *procs}
		res := one(w, r)
		rep := i - *warmup
		if warm {
			rep = i
		}
		report(warm, rep, r, res)
		if res.status != "ok" {
			return 1
		}
	}
	return 0
}

func main() {
	if len(os.Args) < 2 {
		os.Exit(usage("usage: tmbench-go info | run WORKLOAD --procs N --reps R --warmup W --set KEY=VALUE... | serve echo|http --procs N --port P --host H | nethttp --port P"))
	}
	switch os.Args[1] {
	case "info":
		hello(true)
	case "run":
		os.Exit(runCmd(os.Args[2:]))
	case "nethttp":
		os.Exit(nethttpCmd(os.Args[2:]))
	case "serve":
		os.Exit(serveCmd(os.Args[2:]))
	default:
		os.Exit(usage("unknown command '%s' (info, run, serve, nethttp)", os.Args[1]))
	}
}
