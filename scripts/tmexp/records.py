"""Reading records.jsonl: cells, resume keys and the metrics we summarise.

A record written by `scripts/experiment run` carries an extra object
(an extension of the tmbench/1 record, no field renamed or dropped):

    "experiment": {"name", "profile", "seed", "cell": {model, workload,
                   params, procs, options}}

`cell` is the cell exactly as the experiment file expanded it, so resume
never depends on how a model reports options it did not use (an
unsupported record has slice_us null, say). Records without it (plain
tmbench output) get a cell derived from their own fields.
"""
import json
import os
import sys

from .spec import SpecError, cell_key

MODEL_ORDER = ("pthreads", "coro", "mn", "goroutine", "go", "boost", "epoll-baseline")

# name -> (unit, getter, better): better is "lower" or "higher"
METRICS = {
    "ns_per_op": ("ns", lambda r: r.get("ns_per_op"), "lower"),
    "ops_per_s": ("ops/s", lambda r: r.get("ops_per_s"), "higher"),
    "wall_ms": ("ms", lambda r: _div(r.get("wall_ns"), 1e6), "lower"),
    "cpu_ms": ("ms", lambda r: _div(_sum(r.get("cpu_user_ns"), r.get("cpu_sys_ns")), 1e6), "lower"),
    "max_rss_mib": ("MiB", lambda r: _div(r.get("max_rss_kb"), 1024), "lower"),
    "bytes_per_task": ("B", lambda r: (r.get("metrics") or {}).get("bytes_per_task"), "lower"),
    "progress_ratio": ("", lambda r: (r.get("metrics") or {}).get("progress_ratio"), "higher"),
}
LATENCY_POINTS = ("min", "p50", "p90", "p99", "p999", "max")
for _p in LATENCY_POINTS:
    METRICS[f"lat_{_p}_us"] = ("µs", (lambda p: lambda r: _div((r.get("latency_ns") or {}).get(p), 1e3))(_p), "lower")


def _div(v, d):
    return None if v is None else v / d


def _sum(a, b):
    return None if a is None or b is None else a + b


def load(path):
    """The records of a JSON Lines file; malformed lines are reported and
    skipped; a file that is not UTF-8 text is a SpecError."""
    out = []
    if not os.path.exists(path):
        return out
    with open(path, "rb") as f:
        for i, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise SpecError(f"{path}:{i}: not UTF-8 text: not a records file")
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                rec = None
            if isinstance(rec, dict):
                out.append(rec)
            else:
                print(f"experiment: {path}:{i}: not a JSON record, ignored", file=sys.stderr)
    return out


def cell_of(rec):
    exp = rec.get("experiment")
    if isinstance(exp, dict) and isinstance(exp.get("cell"), dict):
        return exp["cell"]
    options = {}
    if rec.get("slice_us") is not None:
        options["slice_us"] = rec["slice_us"]
    if rec.get("placement") not in (None, "none"):
        options["placement"] = rec["placement"]
    if rec.get("stack_kb") not in (None, 64):
        options["stack_kb"] = rec["stack_kb"]
    return {"model": rec.get("model"), "workload": rec.get("workload"),
            "params": rec.get("params") or {}, "procs": rec.get("procs"), "options": options}


def is_ok(rec):
    return rec.get("status") == "ok" and rec.get("valid") is not False


def error_of(rec):
    if rec.get("status") != "ok":
        return rec.get("error") or rec.get("status") or "failed"
    if rec.get("valid") is False:
        return f"checksum {rec.get('checksum')} != expected {rec.get('expected')}"
    return None


def done_index(records):
    """cell key -> {rep: ok?} for resume."""
    idx = {}
    for r in records:
        if isinstance(r.get("rep"), int):
            idx.setdefault(cell_key(cell_of(r)), {})[r["rep"]] = is_ok(r)
    return idx


class Group:
    """All records of one cell."""

    def __init__(self, cell):
        self.cell = cell
        self.recs = []

    @property
    def ok(self):
        return [r for r in self.recs if is_ok(r)]

    @property
    def errors(self):
        return [e for e in (error_of(r) for r in self.recs) if e]

    def values(self, metric):
        get = METRICS[metric][1]
        return [v for v in (get(r) for r in self.ok) if isinstance(v, (int, float))]


def model_rank(m):
    return (MODEL_ORDER.index(m), "") if m in MODEL_ORDER else (len(MODEL_ORDER), m)


def group(records, workload_order=()):
    """Records grouped by cell, sorted by model, workload (in workload_order,
    then by name), params (numbers as numbers), procs and options."""
    groups = {}
    for r in records:
        c = cell_of(r)
        groups.setdefault(cell_key(c), Group(c)).recs.append(r)
    order = list(workload_order)
    return sorted(groups.values(), key=lambda g: _sort_key(g.cell, order))


def _sort_key(cell, order):
    w = cell["workload"]
    return (model_rank(cell["model"]), order.index(w) if w in order else len(order), w,
            _values_key(cell["params"]), cell["procs"] or 0, _values_key(cell["options"]))


def _values_key(d):
    # numbers sort as numbers, so tasks=1000 comes before tasks=10000
    return [(k, (0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v)))
            for k, v in sorted(d.items())]


def params_text(params, only=None):
    keys = [k for k in params if only is None or k in only]
    return " ".join(f"{k}={params[k]}" for k in keys)


def options_text(options):
    names = {"slice_us": "slice", "placement": "placement", "stack_kb": "stack"}
    units = {"slice_us": "µs", "stack_kb": "KiB"}
    return " ".join(f"{names.get(k, k)}={v}{units.get(k, '')}" for k, v in options.items())
