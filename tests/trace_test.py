#!/usr/bin/env python3
"""--trace end to end: run small workloads with --trace on every model and
validate the Chrome trace-event JSON they write.

Usage: trace_test.py TMBENCH [MODEL...]   (default: every non-peer model of
`tmbench list --json`). Standard library only; every check is an assertion.

A model whose scheduler does not call the trace.h hooks yet may be named
in PENDING_HOOKS while its hooks are written: it must still write a valid
file, and when its trace has no run slices at all the counting checks are
skipped. Once a model records runs it gets every check; take its name out
when its hooks land, so that a regression cannot hide (mn and goroutine
are wired: the set is empty).

Then the scripts beside the traces: scripts/gantt draws a trace in either
JSON form, and gantt and scripts/wrk-compare refuse bad input in one line
with exit 2 (wrk-compare's checks need wrk and end before measuring).
"""
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile

TMBENCH = sys.argv[1]
SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts")
BUILD = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(TMBENCH))))
PENDING_HOOKS = set()
EPS = 1e-6  # µs; timestamps are printed with 3 decimals


def run_traced(model, workload, sets, path, procs=None):
    args = [TMBENCH, "run", "-m", model, "-w", workload, "--format", "json", "--trace", path]
    if procs:
        args += ["-p", str(procs)]
    for kv in sets:
        args += ["--set", kv]
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"{args}: exit {p.returncode}: {p.stderr}"
    assert p.stderr == "", f"{args}: stderr {p.stderr!r}"
    rec = json.loads(p.stdout.splitlines()[-1])
    assert rec["status"] == "ok", rec
    leftovers = [f for f in os.listdir(os.path.dirname(path)) if ".tmp." in f]
    assert not leftovers, f"temporary files left behind: {leftovers}"
    with open(path) as f:
        return json.load(f)


REQUIRED = {
    "X": ("name", "ts", "dur", "pid", "tid", "cat"),
    "i": ("name", "ts", "pid", "tid", "s"),
    "s": ("name", "ts", "pid", "tid", "id", "cat"),
    "f": ("name", "ts", "pid", "tid", "id", "cat", "bp"),
    "C": ("name", "ts", "pid", "args"),
    "M": ("name", "pid", "args"),
}


def validate(tr, model, workload):
    """Structural checks every trace must pass; returns the run slices."""
    where = f"{model}/{workload}"
    assert isinstance(tr, dict) and isinstance(tr.get("traceEvents"), list), where
    od = tr["otherData"]
    assert od["schema"] == "tmbench-trace/1", od
    assert od["model"] == model and od["workload"] == workload, od
    evs = tr["traceEvents"]
    rows = collections.defaultdict(list)  # (pid, tid) -> events in file order
    names = {}
    for e in evs:
        ph = e.get("ph")
        assert ph in REQUIRED, f"{where}: unknown phase in {e}"
        for k in REQUIRED[ph]:
            assert k in e, f"{where}: {ph} event without {k!r}: {e}"
        if ph == "M":
            assert e["name"] in ("process_name", "thread_name", "thread_sort_index"), e
            if e["name"] == "thread_name":
                names[(e["pid"], e["tid"])] = e["args"]["name"]
            continue
        assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0, e
        if ph == "X":
            assert e["dur"] >= 0, e
            assert e["cat"] in ("run", "blocking"), e
            task = e["args"]["task"]
            assert isinstance(task, int) and task >= 0, e
            # a blocking region knows its task once the model records its runs
            assert task > 0 or (e["cat"] == "blocking" and model in PENDING_HOOKS), e
        if ph == "i":
            assert e["s"] in ("t", "p", "g"), e
        if ph == "C":
            assert all(isinstance(v, (int, float)) for v in e["args"].values()), e
        if ph == "f":
            assert e["bp"] == "e", e
        rows[(e["pid"], e["tid"])].append(e)

    runs = []
    for row, es in rows.items():
        assert row in names, f"{where}: row {row} has no thread_name"
        ts = [e["ts"] for e in es]
        assert ts == sorted(ts), f"{where}: timestamps not monotone on row {names[row]}"
        slices = [e for e in es if e["ph"] == "X" and e["cat"] == "run"]
        for a, b in zip(slices, slices[1:]):
            assert b["ts"] >= a["ts"] + a["dur"] - EPS, \
                f"{where}: overlapping run slices on {names[row]}: {a} {b}"
        for blk in (e for e in es if e["ph"] == "X" and e["cat"] == "blocking"):
            inside = [s for s in slices if s["ts"] - EPS <= blk["ts"]
                      and blk["ts"] + blk["dur"] <= s["ts"] + s["dur"] + EPS]
            if not slices and model in PENDING_HOOKS:
                continue  # the core saw the region; the model records no runs yet
            assert inside, f"{where}: blocking slice outside any run on {names[row]}: {blk}"
            assert inside[0]["args"]["task"] == blk["args"]["task"], (inside[0], blk)
        runs += [(row, s) for s in slices]

    # flows: each f has exactly one s with the same id, earlier, on another row
    starts = {}
    for row, es in rows.items():
        for e in es:
            if e["ph"] == "s":
                assert e["id"] not in starts, f"{where}: duplicate flow id {e}"
                starts[e["id"]] = (row, e)
    finishes = [(row, e) for row, es in rows.items() for e in es if e["ph"] == "f"]
    assert len(finishes) == len(starts), f"{where}: {len(starts)} s vs {len(finishes)} f"
    for row, f in finishes:
        assert f["id"] in starts, f"{where}: flow end without start: {f}"
        srow, s = starts[f["id"]]
        assert srow != row and s["ts"] <= f["ts"] + EPS, (s, f)
        assert s["args"]["task"] == f["args"]["task"], (s, f)
    assert od["migrations"] == len(starts), od

    # task ids: every task that ran was spawned first (unless the ring dropped it)
    if od["dropped_events"] == 0:
        spawned = {}
        for es in rows.values():
            for e in es:
                if e["ph"] == "i" and e["name"] == "spawn":
                    assert e["args"]["task"] not in spawned, f"{where}: spawned twice: {e}"
                    spawned[e["args"]["task"]] = e["ts"]
        first_run = {}
        for _, s in runs:
            t = s["args"]["task"]
            first_run[t] = min(first_run.get(t, s["ts"]), s["ts"])
        for t, ts in first_run.items():
            assert t in spawned, f"{where}: task {t} ran but was never spawned"
            assert spawned[t] <= ts + EPS, f"{where}: task {t} ran before its spawn"
        for es in rows.values():
            for e in es:
                if e["ph"] == "i" and e["name"] == "ready":
                    assert e["args"]["task"] in spawned, f"{where}: ready of unknown task {e}"
    return runs


def main():
    listing = json.loads(subprocess.run([TMBENCH, "list", "--json"], capture_output=True,
                                        text=True, check=True, timeout=120).stdout)
    models = sys.argv[2:] or [m["name"] for m in listing["models"] if not m.get("peer")]
    iters = 1000
    with tempfile.TemporaryDirectory() as d:
        for m in models:
            procs = 1 if m == "coro" else 2
            path = os.path.join(d, f"{m}-pingpong.json")
            tr = run_traced(m, "pingpong", [f"iters={iters}"], path, procs)
            runs = validate(tr, m, "pingpong")
            pending = not runs and m in PENDING_HOOKS
            if pending:
                print(f"{m}: valid pingpong trace without run slices (hooks pending)")
            else:
                check_pingpong(m, tr, runs, iters)

            # a blocking read: one blocking slice per blocker (core.c records them)
            path = os.path.join(d, f"{m}-blockio.json")
            tr = run_traced(m, "blockio", ["blockers=2", "delay_us=5000"], path, procs)
            validate(tr, m, "blockio")
            blk = [e for e in tr["traceEvents"] if e.get("cat") == "blocking"]
            enters = [e for e in tr["traceEvents"] if e.get("name") == "blocking enter"]
            assert len(blk) == 2 and len(enters) == 2, f"{m}: blocking slices {blk}"
            if pending:
                continue

            # many tasks, many rows for pthreads; timers for coro (sleep)
            path = os.path.join(d, f"{m}-sleep.json")
            tr = run_traced(m, "sleep", ["tasks=50", "us=200", "iters=5"], path, procs)
            runs = validate(tr, m, "sleep")
            assert len({s["args"]["task"] for _, s in runs}) >= 51, f"{m}: sleep tasks"
            if m == "pthreads":
                assert len({row for row, _ in runs}) >= 51, "pthreads: one row per thread"

            # several workers: steals and migrations (flows) when the model has them
            path = os.path.join(d, f"{m}-yield.json")
            tr = run_traced(m, "yield", ["tasks=8", "iters=2000"], path, procs)
            runs = validate(tr, m, "yield")
            assert len({s["args"]["task"] for _, s in runs}) >= 9, f"{m}: yield tasks"
            print(f"{m}: blockio, sleep and yield ok "
                  f"({tr['otherData']['migrations']} migrations)")

        # an existing file is replaced whole; an unwritable path is a usage error
        path = os.path.join(d, "again.json")
        with open(path, "w") as f:
            f.write("old")
        run_traced(models[0], "pingpong", ["iters=10"], path)
        p = subprocess.run([TMBENCH, "run", "-m", models[0], "-w", "pingpong", "--trace",
                            "/nonexistent-dir/t.json"], capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and "--trace" in p.stderr, (p.returncode, p.stderr)
        check_gantt(d, path)
        check_wrk_compare(d)
    return 0


def refused(args, needle, timeout=60):
    """args (a script and its arguments) fail at once: one line naming needle, exit 2."""
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and needle in lines[0], \
        (args, p.returncode, p.stderr)


def check_gantt(d, trace):
    """scripts/gantt on a real trace, as an object and as a bare array, and bad input."""
    gantt = os.path.join(SCRIPTS, "gantt")
    with open(trace) as f:
        events = json.load(f)["traceEvents"]
    forms = {"object.json": None, "array.json": json.dumps(events),
             "cut.json": json.dumps(events)[:-1] + ",\n"}  # the array's ']' is optional
    for name, text in forms.items():
        path = os.path.join(d, name)
        if text is None:
            shutil.copy(trace, path)
        else:
            with open(path, "w") as f:
                f.write(text)
        if not shutil.which("gnuplot"):
            continue
        png = os.path.join(d, name.replace(".json", "-drawn.png"))
        p = subprocess.run([gantt, path, "-o", png], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0 and os.path.getsize(png) > 5000, (name, p.returncode, p.stderr)
    assert not [f for f in os.listdir(d) if ".tmp." in f], os.listdir(d)
    obj = os.path.join(d, "object.json")
    for text in ("[]", '{"traceEvents": []}', "[1]", "3", "{"):
        path = os.path.join(d, "empty.json")
        with open(path, "w") as f:
            f.write(text)
        refused([gantt, path, "-o", os.path.join(d, "empty.png")], path)
    refused([gantt, obj, "-o", os.path.join(d, "x.pdf")], "x.pdf")
    refused([gantt, obj, "-o", "/nonexistent-dir/x.png"], "/nonexistent-dir")
    refused([gantt, obj, "-o", os.path.join(obj, "x.png")], obj)  # a file for a directory
    refused([gantt, obj, "--from", "50", "--to", "10"], "--from")
    refused([gantt, obj, "--rows", "nope"], "gantt: error:")
    refused([gantt], "gantt: error:")
    assert not os.path.exists(os.path.join(d, "object.png")), "a refused chart was drawn"
    print("gantt: object and array forms drawn; bad input refused")


def check_wrk_compare(d):
    """scripts/wrk-compare refuses a bad model or --json before measuring anything."""
    wc = [os.path.join(SCRIPTS, "wrk-compare"), "--build", BUILD]
    refused(wc + ["--conns", "x"], "wrk-compare: error:")
    refused(wc + ["--rounds", "0"], "wrk-compare: error:")
    if not shutil.which("wrk"):
        print("wrk-compare: wrk is not installed: bad model and --json checks skipped")
        return
    # without the up-front checks these measure for seconds, then fail with a traceback
    quick = ["--rounds", "1", "--duration", "1"]
    refused(wc + quick + ["-m", "nope"], "unknown model 'nope'", timeout=30)
    refused(wc + quick + ["-m", "coro", "--json", "/nonexistent-dir/x.json"], "--json",
            timeout=30)
    refused(wc + quick + ["-m", "coro", "--json", d], "--json", timeout=30)
    print("wrk-compare: bad model and --json refused before measuring")


def check_pingpong(m, tr, runs, iters):
    tasks = {s["args"]["task"] for _, s in runs}
    assert len(tasks) >= 2, f"{m}: pingpong ran {tasks}"
    # each round trip parks each side once: at least iters runs
    assert len(runs) >= iters, f"{m}: only {len(runs)} run slices for {iters} iters"
    if m == "coro":
        assert len(runs) >= 2 * iters, f"coro: {len(runs)} slices for {iters} round trips"
        assert len({row for row, _ in runs}) == 1, "coro: one worker row"
    print(f"{m}: pingpong ok, {len(runs)} run slices, {len(tasks)} tasks, "
          f"{tr['otherData']['events']} events")


if __name__ == "__main__":
    sys.exit(main())
