#!/usr/bin/env python3
"""Tests of scripts/experiment: run, resume, interruption, timeouts, bad
files and flags, plot, compare (and its bad inputs), and the statistics.

Usage: experiment_test.py TMBENCH CASE
  CASE: run_resume | interrupt | interrupt_storm | interrupt_at_start | timeout
        | malformed | plot | stats
Standard library only; every check is an assertion that fails the test.
"""
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TMBENCH = os.path.abspath(sys.argv[1])
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENT = os.path.join(ROOT, "scripts", "experiment")
sys.path.insert(0, os.path.join(ROOT, "scripts"))

TINY = """
[experiment]
name = "tiny"
figure = "ns_per_op"
models = ["pthreads", "coro", "mn"]      # mn may be absent: skipped with a note
procs = 1
reps = 2
warmup = 0
timeout_s = 30
[workload.yield]
params = { tasks = 2, iters = [100, 200] }
[workload.pingpong]
params = { iters = 100 }
[profile.quick]
[profile.full]
experiment = { reps = 3 }
"""


def run(*args, check=None, **kw):
    p = subprocess.run([sys.executable, EXPERIMENT, *args], capture_output=True, text=True,
                       timeout=120, **kw)
    if check is not None:
        assert p.returncode == check, (args, p.returncode, p.stdout, p.stderr)
    return p


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def records_of(out, name):
    path = os.path.join(out, "t", name, "records.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def lines_of(out, name):
    """Complete lines in records.jsonl (safe to read while it is appended to)."""
    try:
        with open(os.path.join(out, "t", name, "records.jsonl"), "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def keys_of(recs):
    return [(r["model"], r["workload"], json.dumps(r["params"], sort_keys=True), r["procs"],
             r["rep"]) for r in recs]


def sweep(tmp, toml, name, *extra, check=0):
    out = os.path.join(tmp, "out")
    p = run("run", write(tmp, name + ".toml", toml), "--out", out, "--tmbench", TMBENCH,
            "--machine-tag", "t", *extra, check=check)
    return out, p


def run_resume():
    """A tiny sweep writes records + machine.json; a second run redoes nothing."""
    with tempfile.TemporaryDirectory() as tmp:
        out, p = sweep(tmp, TINY, "tiny")
        recs = records_of(out, "tiny")
        models = {r["model"] for r in recs}
        assert {"pthreads", "coro"} <= models <= {"pthreads", "coro", "mn"}, models
        assert len(recs) == len(models) * 3 * 2, (len(recs), p.stderr)  # 3 cells x 2 reps
        assert all(r["status"] == "ok" for r in recs), [r.get("error") for r in recs]
        assert len(set(keys_of(recs))) == len(recs), "duplicate records"
        assert all(r["experiment"]["name"] == "tiny" and r["experiment"]["seed"] == 1
                   for r in recs)
        d = os.path.join(out, "t", "tiny")
        with open(os.path.join(d, "machine.json")) as f:
            m = json.load(f)
        for k in ("tag", "machine", "build", "lstopo", "uname", "models"):
            assert k in m, f"machine.json lacks {k}"
        assert m["build"].get("compiler"), m["build"]
        with open(os.path.join(d, "run.json")) as f:
            assert json.load(f)["profile"] == "quick"
        if "mn" not in {x["name"] for x in m["models"]}:
            assert "mn" in p.stderr and "skipped" in p.stderr, p.stderr
        before = open(os.path.join(d, "records.jsonl")).read()
        out, p = sweep(tmp, TINY, "tiny")
        assert "0 tmbench runs to do" in p.stderr, p.stderr
        assert open(os.path.join(d, "records.jsonl")).read() == before, "resume redid cells"
        # another profile into the same directory is refused
        _, p = sweep(tmp, TINY, "tiny", "--profile", "full", check=2)
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr


INTERRUPTIBLE = """
[experiment]
name = "slow"
models = ["pthreads", "coro"]
procs = 1
reps = 2
warmup = 0
timeout_s = 30
[workload.hoglat]
params = { hogs = 1, duration_ms = [100, 150, 200, 250] }
[profile.quick]
"""


def interrupt():
    """SIGINT mid-sweep keeps finished records and exits 130; a rerun completes."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        path = write(tmp, "slow.toml", INTERRUPTIBLE)
        proc = subprocess.Popen([sys.executable, EXPERIMENT, "run", path, "--out", out,
                                 "--tmbench", TMBENCH, "--machine-tag", "t"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not records_of(out, "slow") and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, (proc.returncode, err)
        got = records_of(out, "slow")
        assert 0 < len(got) < 16, (len(got), err)
        assert "interrupted" in err, err
        assert not glob.glob(os.path.join(out, "t", "slow", ".scratch", "*")), "scratch left"
        with open(os.path.join(out, "t", "slow", "run.json")) as f:
            assert json.load(f)["runs"][-1]["status"] == "interrupted"
        run("run", path, "--out", out, "--tmbench", TMBENCH, "--machine-tag", "t", check=0)
        recs = records_of(out, "slow")
        keys = keys_of(recs)
        dups = sorted({k for k in keys if keys.count(k) > 1})
        assert not dups, ("duplicate records after resume", dups, err)
        assert len(recs) == 16, len(recs)
        assert recs[: len(got)] == got, "finished records were changed"


SHORT = """
[experiment]
name = "short"
models = ["pthreads", "coro"]
procs = 1
reps = 4
split_reps = true  # 64 tmbench processes: many starts to land a signal in
warmup = 0
timeout_s = 30
[workload.yield]
params = { iters = [10, 20, 30, 40, 50, 60, 70, 80] }
[profile.quick]
"""


def interrupt_storm():
    """SIGINT at random moments (also while a tmbench is being started), then
    resume, until the sweep is complete: every repetition recorded exactly
    once, and no tmbench left behind to write records later."""
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        path = write(tmp, "short.toml", SHORT)
        cmd = [sys.executable, EXPERIMENT, "run", path, "--out", out, "--tmbench", TMBENCH,
               "--machine-tag", "t"]
        interrupted = 0
        for attempt in range(60):
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True)
            before = lines_of(out, "short")
            while lines_of(out, "short") == before and proc.poll() is None:
                time.sleep(0.005)  # until this run has recorded a unit: it is sweeping
            time.sleep(rng.random() * 0.1)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
            if proc.returncode == 0 or "experiment short: records in" in err:
                break  # it finished first (a late SIGINT can still hit Python's exit)
            assert proc.returncode == 130, (proc.returncode, err)
            interrupted += 1
        assert interrupted >= 3, f"only {interrupted} sweeps were interrupted: too fast to test"
        time.sleep(1.0)  # an orphaned tmbench would have written its records by now
        run("run", path, "--out", out, "--tmbench", TMBENCH, "--machine-tag", "t", check=0)
        time.sleep(1.0)
        recs = records_of(out, "short")
        keys = keys_of(recs)
        dups = sorted({k for k in keys if keys.count(k) > 1})
        assert not dups, ("recorded twice", dups, interrupted)
        assert len(recs) == 64 and all(r["status"] == "ok" for r in recs), (len(recs), interrupted)
        assert all(r["params"]["iters"] == r["experiment"]["cell"]["params"]["iters"]
                   for r in recs), "a record filed under another cell"
        left = glob.glob(os.path.join(out, "t", "short", ".scratch", "*"))
        assert not left, ("scratch files written after the sweep ended", left)


def interrupt_at_start():
    """A SIGINT that arrives while tmbench is being started (raised right
    after Popen returns, inside the runner's start) is held until the child
    is the runner's: run_unit kills it and raises Interrupted, and no
    tmbench is left running to write records later. Then: an error that
    stops a sweep leaves run.json "failed" (run_json_after_error)."""
    sys.path.insert(0, os.path.dirname(EXPERIMENT))
    from tmexp import runner

    class Cell:
        model, workload, procs, options = "pthreads", "yield", 1, {}
        params = {"iters": 10 ** 9}  # minutes: still running when interrupted
        warmup, reps, timeout_s, split_reps = 0, 1, 60, False

        def ident(self):
            return {"model": self.model, "workload": self.workload, "params": self.params,
                    "procs": self.procs, "options": self.options}

    real_popen, started = subprocess.Popen, []

    def popen(*a, **kw):
        p = real_popen(*a, **kw)
        started.append(p)
        os.kill(os.getpid(), signal.SIGINT)  # lands before start() can return p
        return p

    with tempfile.TemporaryDirectory() as tmp:
        ctx = {"tmbench": TMBENCH, "dir": tmp, "records": os.path.join(tmp, "records.jsonl"),
               "name": "t", "profile": "quick", "seed": 1, "machine": {}, "build": {}}
        old = signal.signal(signal.SIGINT, runner._raise_interrupted)
        subprocess.Popen = popen
        try:
            runner.run_unit(runner.Unit(Cell(), 0, 1), ctx)
            raise AssertionError("run_unit was not interrupted")
        except runner.Interrupted:
            pass
        finally:
            subprocess.Popen = real_popen
            signal.signal(signal.SIGINT, old)
        assert len(started) == 1, started
        alive = started[0].poll() is None
        if alive:
            os.killpg(started[0].pid, signal.SIGKILL)
        assert not alive, "the interrupted tmbench was left running"
        assert not glob.glob(os.path.join(tmp, ".scratch", "*")), "scratch left"
    run_json_after_error()


def run_json_after_error():
    """An unexpected error in the sweep (a bug) propagates, and run.json
    says "failed" with the error, never "running" (which publish refuses
    for ever)."""
    from tmexp import cli, runner

    def boom(plan, ctx):
        raise OverflowError("cannot convert float infinity to integer")

    real = runner.sweep
    with tempfile.TemporaryDirectory() as tmp:
        path = write(tmp, "tiny.toml", TINY)
        runner.sweep = boom
        try:
            cli.main(["run", path, "--out", tmp, "--tmbench", TMBENCH, "--machine-tag", "t"])
            raise AssertionError("the error was swallowed")
        except OverflowError:
            pass
        finally:
            runner.sweep = real
        with open(os.path.join(tmp, "t", "tiny", "run.json")) as f:
            last = json.load(f)["runs"][-1]
        assert last["status"] == "failed" and "infinity" in last["error"], last


HANGS = """
[experiment]
name = "hang"
models = ["pthreads"]
procs = 1
reps = 2
warmup = 0
[workload.yield]
params = { iters = 100 }
timeout_s = 60
[workload.hoglat]
params = { hogs = 1, duration_ms = 20000 }
timeout_s = 0.4          # x (0 warm-ups + 2 reps) = 0.8 s
[profile.quick]
"""


def timeout():
    """A cell over its time limit is killed, recorded as failed, and the sweep goes on."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        out, p = sweep(tmp, HANGS, "hang")
        assert time.monotonic() - t0 < 20, "the hanging cell was not killed"
        recs = records_of(out, "hang")
        bad = [r for r in recs if r["workload"] == "hoglat"]
        good = [r for r in recs if r["workload"] == "yield"]
        assert len(good) == 2 and all(r["status"] == "ok" for r in good), good
        assert len(bad) == 1, bad
        assert bad[0]["status"] == "failed" and bad[0]["error"] == "timeout after 0.8s", bad[0]
        assert bad[0]["schema"] == "tmbench/1" and bad[0]["rep"] == 0
        out, p = sweep(tmp, HANGS, "hang")   # the timed-out cell is done: not retried
        assert len(records_of(out, "hang")) == 3
        out, p = sweep(tmp, HANGS, "hang", "--retry-failed")  # ...unless asked
        recs = records_of(out, "hang")
        assert len(recs) == 3 and sum(r["status"] == "failed" for r in recs) == 1, recs
        with open(os.path.join(out, "t", "hang", "records.retried.jsonl")) as f:
            assert [json.loads(x)["error"] for x in f] == ["timeout after 0.8s"]


BASE = """[experiment]
models = ["pthreads"]
reps = 1
[workload.yield]
params = { iters = 100 }
[profile.quick]
"""
MALFORMED = {  # name: (edit of BASE, text the one-line message must hold)
    "syntax": (("reps = 1", "reps = = 1"), "line 3"),
    "type": (("reps = 1", 'reps = "five"'), "experiment.reps"),
    "unknown_key": (("reps = 1", "reps = 1\nrepz = 2"), "experiment.repz"),
    "model": (('"pthreads"', '"pthread"'), "experiment.models[0]"),
    "workload": (("workload.yield", "workload.yeild"), "workload.yeild"),
    "param": (("iters = 100", "iter = 100"), "workload.yield.params.iter"),
    "param_value": (("iters = 100", "iters = 0"), "workload.yield.params.iters"),
    "profile": (("[profile.quick]", "[profile.quick]\nworkload.yield.params = { tasks = \"x\" }"),
                "profile.quick.workload.yield.params.tasks"),
    "procs": (("reps = 1", "reps = 1\nprocs = [0]"), "experiment.procs"),
    # values tmbench run would refuse (its ranges), found before any cell runs
    "procs_range": (("reps = 1", "reps = 1\nprocs = 99999"), "experiment.procs"),
    "stack_kb": (("reps = 1", "reps = 1\nstack_kb = 1"), "experiment.stack_kb"),
    "placement": (("reps = 1", 'reps = 1\nplacement = "bogus"'), "experiment.placement"),
    "pus_list": (("reps = 1", 'reps = 1\nplacement = ["none", "pus:3-2"]'),
                 "experiment.placement"),
    "slice_us": (("[profile.quick]", "[profile.quick]\nmodel.pthreads.slice_us = [0]"),
                 "profile.quick.model.pthreads.slice_us"),
    "warmup": (("reps = 1", "reps = 1\nwarmup = -1"), "experiment.warmup"),
    "timeout_inf": (("reps = 1", "reps = 1\ntimeout_s = inf"), "experiment.timeout_s"),
    "timeout_nan": (("[workload.yield]", "[workload.yield]\ntimeout_s = nan"),
                    "workload.yield.timeout_s"),
    "Bad Name": (("reps = 1", "reps = 1"), "experiment.name"),   # from the file name
}
BAD_FLAGS = [  # (arguments, text the one-line message must hold)
    (["run"], "required: file"),
    (["run", "FILE", "--bogus"], "--bogus"),
    (["run", "FILE", "--tmbench", TMBENCH, "--machine-tag", "../up"], "--machine-tag"),
    (["compare", "x"], "required: dir_b"),
    ([], "required: cmd"),
]


def one_line_error(p, what, needle):
    """p exited 2 with one line on stderr holding needle, nothing on stdout."""
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2, (what, p.returncode, p.stdout, p.stderr)
    assert len(lines) == 1 and needle in lines[0], (what, p.stderr)
    assert not p.stdout, (what, p.stdout)


def malformed():
    """Each bad file or flag: exit 2, one line on stderr naming the file and
    the key (or the flag), no usage block, no traceback."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        for name, ((old, new), needle) in MALFORMED.items():
            assert old in BASE, name
            path = write(tmp, f"{name}.toml", BASE.replace(old, new, 1))
            p = run("run", path, "--out", out, "--tmbench", TMBENCH)
            one_line_error(p, name, needle)
            assert f"{name}.toml" in p.stderr, (name, p.stderr)
        path = os.path.join(tmp, "binary.toml")
        with open(path, "wb") as f:
            f.write(b"\xff\xfe[experiment]\n")
        one_line_error(run("run", path, "--out", out), "binary", "binary.toml: not UTF-8")
        good = write(tmp, "good.toml", BASE)
        for args, needle in BAD_FLAGS:
            args = [good if x == "FILE" else x for x in args]
            one_line_error(run(*args), args, needle)
        assert not os.path.exists(out), "a bad file started a sweep"


def plot():
    """plot writes summary.csv, summary.md and figures; compare prints U tests."""
    with tempfile.TemporaryDirectory() as tmp:
        out, _ = sweep(tmp, TINY, "tiny")
        run("plot", out, check=0)
        d = os.path.join(out, "t", "tiny")
        with open(os.path.join(d, "summary.csv")) as f:
            rows = f.read().splitlines()
        assert rows[0].startswith("experiment,model,peer,workload,params,procs"), rows[0]
        assert any(",coro,0,yield," in r and ",ns_per_op," in r for r in rows), rows[:5]
        md = open(os.path.join(d, "summary.md")).read()
        assert "| model |" in md and "ns/op" in md, md
        if shutil.which("gnuplot"):
            for ext in ("svg", "png"):
                f = os.path.join(d, f"ns-per-op.{ext}")
                assert os.path.getsize(f) > 1000, f
        out2 = os.path.join(tmp, "out2")
        shutil.copytree(out, out2)
        p = run("compare", out, out2, check=0)
        assert "_pvalue" in p.stdout and "U Test" in p.stdout, p.stdout
        assert "tiny/coro/yield" in p.stdout, p.stdout
        assert "note:" not in p.stdout, p.stdout
        compare_inputs(tmp, out)


def rewrite_records(src, dst, edit):
    """A copy of sweep root src at dst, every record passed through edit(rec)."""
    shutil.copytree(src, dst)
    path = os.path.join(dst, "t", "tiny", "records.jsonl")
    with open(path) as f:
        recs = [edit(json.loads(line)) for line in f]
    with open(path, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in recs)


def compare_inputs(tmp, out):
    """compare: a missing, empty, non-directory or non-UTF-8 side is a
    one-line error (exit 2); cells on one side only are counted in a note,
    and no cell in common says so instead of printing an empty table."""
    os.mkdir(os.path.join(tmp, "empty"))
    for bad, needle in (("missing", "not a directory"), ("empty", "no records.jsonl"),
                        ("tiny.toml", "not a directory")):
        one_line_error(run("compare", out, os.path.join(tmp, bad)), bad, needle)
    binary = os.path.join(tmp, "binary")
    shutil.copytree(out, binary)
    with open(os.path.join(binary, "t", "tiny", "records.jsonl"), "ab") as f:
        f.write(b"\xff\xfe\n")
    one_line_error(run("compare", out, binary), "binary", "not UTF-8")
    one_line_error(run("plot", binary), "binary plot", "not UTF-8")

    def bigger(scale, only_iters=None):
        def edit(r):
            for ps in (r["params"], r["experiment"]["cell"]["params"]):
                if only_iters in (None, ps["iters"]):
                    ps["iters"] *= scale
            return r
        return edit
    rewrite_records(out, os.path.join(tmp, "some"), bigger(10, only_iters=100))
    p = run("compare", out, os.path.join(tmp, "some"), check=0)
    assert "_pvalue" in p.stdout, p.stdout
    assert "cell(s) only in A" in p.stdout and "cell(s) only in B" in p.stdout, p.stdout
    assert "iters=1000/" in p.stdout, p.stdout          # an example of B's own cells
    rewrite_records(out, os.path.join(tmp, "none"), bigger(7))
    p = run("compare", out, os.path.join(tmp, "none"), check=0)
    assert "no cell in common" in p.stdout and "Benchmark" not in p.stdout, p.stdout
    assert "cell(s) only in A" in p.stdout, p.stdout


def stats():
    """Mann-Whitney U and the median's CI on known cases."""
    from tmexp.stats import mann_whitney_u, median, median_ci
    # Mann & Whitney's textbook example as in SciPy's documentation
    males, females = [19, 22, 16, 29, 24], [20, 11, 17, 12]
    u, p, how = mann_whitney_u(males, females)
    assert (u, how) == (17.0, "exact") and abs(p - 0.111111) < 1e-6, (u, p, how)
    u, p, how = mann_whitney_u(males, females, method="normal")
    assert abs(p - 0.1113469) < 1e-6, p                    # SciPy, asymptotic
    u, p, how = mann_whitney_u([1, 2, 2, 3], [2, 3, 4, 5])  # ties: normal + tie correction
    assert (u, how) == (2.5, "normal") and abs(p - 0.136658) < 1e-5, (u, p, how)
    u, p, _ = mann_whitney_u([1, 2, 3], [4, 5, 6])
    assert u == 0 and abs(p - 0.1) < 1e-12, p               # 2 / C(6,3)
    assert mann_whitney_u([1, 2, 3], [1, 2, 3])[1] == 1.0
    # median CI: n=10 -> [x(2), x(9)] at 97.85 %; n=20 -> [x(6), x(15)]; n=5 -> min-max
    lo, hi, cov, how = median_ci(list(range(10, 0, -1)))
    assert (lo, hi, how) == (2, 9, "order-statistic") and abs(cov - 0.978515625) < 1e-9
    assert median_ci(list(range(1, 21)))[:2] == (6, 15)
    assert median_ci([5, 1, 3, 2, 4]) == (1, 5, 0.9375, "min-max")
    assert median([3, 1, 2]) == 2 and median([4, 1, 2, 3]) == 2.5


CASES = {f.__name__: f for f in (run_resume, interrupt, interrupt_storm, interrupt_at_start,
                                  timeout, malformed, plot, stats)}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[2] not in CASES:
        sys.exit(f"usage: experiment_test.py TMBENCH {{{'|'.join(CASES)}}}")
    CASES[sys.argv[2]]()
    print(f"experiment_test {sys.argv[2]}: ok")
