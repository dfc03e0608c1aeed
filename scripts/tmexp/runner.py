"""The sweep: order, warm-ups, timeouts, resume, SIGINT, progress.

Units. A cell runs as one tmbench process (`--warmup W --reps R`), or, with
split_reps, as R processes of one repetition each (each with its W
warm-ups): max_rss_kb is a process's high-water mark, so memory and RSS
experiments need a fresh process per repetition. All units of a sweep are
shuffled together with random.Random(seed); the seed is in run.json and in
every record.

Records. tmbench writes a process' records to a scratch file (-o; it
writes them when the process ends, all repetitions at once); we renumber
`rep` (a resumed cell continues at its first missing repetition), add the
"experiment" object (see records.py) and append the lines to records.jsonl
with one O_APPEND write plus fsync; a SIGINT/SIGTERM that arrives while a
unit runs is noted and acted on once its records are written (noted()).
Nothing else writes records.jsonl: a sweep holds an flock on its
directory, so a second `run` into the same directory stops with exit 2.

Resume. A unit is skipped when records.jsonl already holds all its
repetitions, or (one-process cells) any failed repetition of the cell: a
failed repetition ends a tmbench run, and the failure is the data point.
--retry-failed first moves the failed records to records.retried.jsonl
(drop_failed), so their cells run again.

Timeouts. Each tmbench process runs in its own session, limited to
timeout_s x (warm-ups + repetitions) seconds of wall-clock time; then its
whole process group is killed (SIGTERM, then SIGKILL 2 s later; peers are
children of tmbench), and its first missing repetition is recorded as
status "failed", error "timeout after Ns". The sweep goes on. Crashes and
usage errors are recorded the same way.

SIGINT/SIGTERM. The running process group is killed, every record already
appended stays, and we exit 130 (143 for SIGTERM). What the killed process
had measured is lost (tmbench writes at exit), so the granularity of
durability is one process: one cell, or one repetition with split_reps.
The next `run` of the same command resumes.
"""
import contextlib
import fcntl
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time

from . import bench, records


SIGNALS = (signal.SIGINT, signal.SIGTERM)
_unit_serial = itertools.count()


class Interrupted(Exception):
    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class Unit:
    """A contiguous block of repetitions of one cell run in one process."""

    def __init__(self, cell, first, count):
        self.cell, self.first, self.count = cell, first, count

    def weight(self):
        """tmbench runs in the process: warm-ups + repetitions."""
        return self.count + self.cell.warmup

    def limit(self):
        """The process' wall-clock limit: timeout_s per run."""
        return self.cell.timeout_s * self.weight()


def units_of(cell, done):
    """The units still to run for a cell, given {rep: ok?} already recorded."""
    reps = range(cell.reps)
    if cell.split_reps:
        return [Unit(cell, r, 1) for r in reps if r not in done]
    if any(ok is False for ok in done.values()):
        return []
    missing = [r for r in reps if r not in done]
    return [Unit(cell, missing[0], cell.reps - missing[0])] if missing else []


def command(tmbench, unit, scratch):
    c = unit.cell
    cmd = [tmbench, "run", "-m", c.model, "-w", c.workload, "-p", str(c.procs)]
    for k, v in c.params.items():
        cmd += ["--set", f"{k}={v}"]
    for k, v in c.options.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    return cmd + ["--reps", str(unit.count), "--warmup", str(c.warmup), "-o", scratch]


def kill_group(proc):
    """End the process group we started for one tmbench run."""
    for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def synthetic(unit, rep, error, ctx):
    """A failed record for a repetition tmbench could not write itself."""
    c = unit.cell
    rec = {"schema": "tmbench/1", "model": c.model, "workload": c.workload,
           "procs": c.procs, "placement": c.options.get("placement", "none"),
           "slice_us": c.options.get("slice_us"), "stack_kb": c.options.get("stack_kb"),
           "warmup": c.warmup, "reps": unit.count, "rep": rep, "status": "failed",
           "error": error, "valid": False, "checksum": None, "expected": None}
    for k in ("wall_ns", "cpu_user_ns", "cpu_sys_ns", "max_rss_kb", "ctx_vol", "ctx_invol",
              "ops", "ops_per_s", "ns_per_op"):
        rec[k] = None
    rec.update(params=c.params, metrics={}, machine=ctx["machine"], build=ctx["build"],
               timestamp=bench.now_rfc3339())
    return rec


def append_records(path, recs):
    if not recs:
        return
    data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in recs).encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        while data:
            data = data[os.write(fd, data):]
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def noted(caught):
    """Inside, SIGINT and SIGTERM are only appended to `caught`, never raised:
    an Interrupted raised inside Popen, or between a process' start and the
    code that kills it, would leave a tmbench running that nobody kills,
    writing records after the sweep stopped; one raised while records are
    being collected would lose them. (A signal that arrived just before is
    run by the old, raising handler as the new one is installed: harmless,
    since no child has been started yet.)"""
    old = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def start(cmd, env, caught, patience=30.0):
    """Popen tmbench in its own session. A binary that cannot be executed
    (being relinked by a concurrent build: EACCES, ETXTBSY, ENOENT) is retried
    for `patience` seconds, then the sweep stops: that is not the cell's fault."""
    deadline = time.monotonic() + patience
    while True:
        if caught:
            raise Interrupted(caught[0])
        try:
            return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, env=env, start_new_session=True)
        except OSError as e:
            if time.monotonic() > deadline:
                raise bench.BenchError(f"cannot run {cmd[0]}: {e.strerror} "
                                       "(finished records are kept; run again to resume)")
            time.sleep(1.0)


def run_unit(unit, ctx):
    """Run one unit; returns (records to append, outcome text)."""
    # in a subdirectory: tmbench -o flocks the file's directory, we hold ours;
    # a name of its own, so no other process can have written it
    sdir = os.path.join(ctx["dir"], ".scratch")
    os.makedirs(sdir, exist_ok=True)
    scratch = os.path.join(sdir, f"unit-{os.getpid()}-{next(_unit_serial)}.jsonl")
    limit = unit.limit()
    # a peer's silence limit: tmbench takes 1..86400 s (a day of silence is a hang anyway)
    env = dict(os.environ, TMBENCH_PEER_TIMEOUT=str(min(86400, max(1, int(limit)))))
    caught, timed_out, err = [], False, b""
    with noted(caught):
        proc = start(command(ctx["tmbench"], unit, scratch), env, caught)
        try:
            deadline = time.monotonic() + limit
            while not caught:
                try:  # in short waits, to see a noted signal soon
                    _, err = proc.communicate(
                        timeout=min(0.2, max(0.0, deadline - time.monotonic())))
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() >= deadline:
                        timed_out = True
                        break
        finally:  # interrupted, timed out, or anything unexpected: no tmbench outlives us
            if proc.returncode is None:
                kill_group(proc)
                try:
                    _, err = proc.communicate(timeout=5)
                except (subprocess.TimeoutExpired, ValueError, OSError):
                    err = b""
        recs, outcome = collect(unit, ctx, scratch, proc.returncode, timed_out, bool(caught),
                                (err or b"").decode(errors="replace"))
        append_records(ctx["records"], recs)
    if caught:
        raise Interrupted(caught[0])
    return recs, outcome


def collect(unit, ctx, scratch, returncode, timed_out, interrupted, err):
    """The unit's records, renumbered and annotated, plus a failed record for
    the first missing repetition when tmbench could not write it."""
    got = [r for r in records.load(scratch) if isinstance(r.get("rep"), int)]
    if os.path.exists(scratch):
        os.unlink(scratch)
    exp = {"name": ctx["name"], "profile": ctx["profile"], "seed": ctx["seed"],
           "cell": unit.cell.ident()}
    recs = []
    for r in got[: unit.count]:
        r["rep"] = unit.first + r["rep"]
        r["experiment"] = exp
        recs.append(r)
    outcome = _outcome(recs)
    ended_by_failure = any(not records.is_ok(r) for r in recs)
    if not interrupted and len(recs) < unit.count and not ended_by_failure:
        if timed_out:
            why = f"timeout after {unit.limit():g}s"
        elif returncode is not None and returncode < 0:
            why = f"tmbench killed by {signal.Signals(-returncode).name}"
        else:
            last = err.strip().splitlines()[-1] if err.strip() else ""
            why = f"tmbench exit {returncode}" + (f": {last}" if last else "")
        fake = synthetic(unit, unit.first + len(recs), why, ctx)
        fake["experiment"] = exp
        recs.append(fake)
        outcome = why
    return recs, outcome


def _outcome(recs):
    bad = [records.error_of(r) for r in recs if not records.is_ok(r)]
    return bad[0] if bad else "ok"


def fmt_secs(s):
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    """One line per unit on stderr: count, elapsed, ETA, the cell, the outcome."""

    def __init__(self, units, stream=sys.stderr):
        self.total = len(units)
        self.weight_left = sum(u.weight() for u in units)
        self.weight_done = 0
        self.start = time.monotonic()
        self.n = 0
        self.stream = stream

    def begin(self, unit):
        self.n += 1
        el = time.monotonic() - self.start
        if self.weight_done:
            eta = fmt_secs(el / self.weight_done * self.weight_left)
        else:
            eta = "?"
        reps = (f"rep {unit.first}" if unit.count == 1
                else f"reps {unit.first}..{unit.first + unit.count - 1}")
        w = len(str(self.total))
        self.stream.write(f"[{self.n:{w}d}/{self.total}] {fmt_secs(el)} elapsed, ETA {eta}  "
                          f"{unit.cell.label()} ({reps}) ... ")
        self.stream.flush()
        self.t0 = time.monotonic()

    def end(self, unit, outcome):
        self.weight_done += unit.weight()
        self.weight_left -= unit.weight()
        self.stream.write(f"{outcome} ({time.monotonic() - self.t0:.1f}s)\n")
        self.stream.flush()


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def drop_failed(path, aside):
    """--retry-failed: move every failed record from records.jsonl to `aside`
    (appended, never lost), rewriting records.jsonl atomically; returns how many."""
    recs = records.load(path)
    bad = [r for r in recs if not records.is_ok(r)]
    if not bad:
        return 0
    append_records(aside, bad)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        for r in recs:
            if records.is_ok(r):
                f.write(json.dumps(r, separators=(",", ":")) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return len(bad)


def lock_dir(d):
    """An exclusive flock on the sweep directory, held until the process exits."""
    fd = os.open(d, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def sweep(plan, ctx, progress_stream=sys.stderr):
    """Run every unit not already recorded; returns (units run, failed units)."""
    idx = records.done_index(records.load(ctx["records"]))
    units = []
    for cell in plan.cells:
        units += units_of(cell, idx.get(cell.key(), {}))
    random.Random(plan.seed).shuffle(units)
    done = len(plan.cells) - len({u.cell.key() for u in units})
    print(f"experiment {plan.name} ({plan.profile}): {len(plan.cells)} cells"
          + (f" ({done} already done)" if done else "")
          + f", {len(units)} tmbench runs to do, seed {plan.seed}", file=progress_stream)
    progress = Progress(units, progress_stream)
    sdir = os.path.join(ctx["dir"], ".scratch")
    for stale in os.listdir(sdir) if os.path.isdir(sdir) else []:
        os.unlink(os.path.join(sdir, stale))  # a killed sweep's (we hold the directory's lock)
    old = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    failed = 0
    try:
        for u in units:
            progress.begin(u)
            try:
                _, outcome = run_unit(u, ctx)
            except Interrupted:
                progress_stream.write("interrupted\n")
                raise
            failed += outcome != "ok"
            progress.end(u, outcome)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        try:
            os.rmdir(os.path.join(ctx["dir"], ".scratch"))
        except OSError:
            pass
    return len(units), failed

