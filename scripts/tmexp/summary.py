"""summary.csv (every metric of every cell, long format) and summary.md.

Each value is the median of a cell's successful repetitions with a
nonparametric 95% confidence interval (see stats.py); failed repetitions
are counted and their errors listed, never averaged in.
"""
import csv
import json
import os

from . import records, stats

# The columns summary.md shows per figure kind (summary.csv has every metric).
FIGURE_METRICS = {
    "ns_per_op": ["ns_per_op", "ops_per_s"],
    "throughput_vs_procs": ["ops_per_s", "wall_ms"],
    "latency_vs_load": ["lat_p50_us", "lat_p99_us", "ops_per_s"],
    "lateness_cdf": ["lat_p50_us", "lat_p99_us", "lat_max_us"],
    "memory_vs_tasks": ["bytes_per_task", "max_rss_mib", "wall_ms"],
    "time_and_rss": ["wall_ms", "max_rss_mib"],
}
LABELS = {"ns_per_op": "ns/op", "ops_per_s": "ops/s", "wall_ms": "wall ms", "cpu_ms": "CPU ms",
          "max_rss_mib": "max RSS MiB", "bytes_per_task": "bytes/task",
          "lat_p50_us": "p50 µs", "lat_p99_us": "p99 µs", "lat_max_us": "max µs",
          "progress_ratio": "progress"}
CSV_COLUMNS = ["experiment", "model", "peer", "workload", "params", "procs", "options",
               "metric", "unit", "n", "n_failed", "median", "ci_low", "ci_high", "ci_level",
               "ci_method", "min", "max", "error"]


def sweep_dirs(top):
    """Every directory under top (top included) that holds a records.jsonl."""
    out = []
    for root, dirs, files in os.walk(top):
        dirs.sort()
        if "records.jsonl" in files:
            out.append(root)
    return out


class Sweep:
    """One sweep directory: its manifest, machine, records grouped by cell."""

    def __init__(self, d):
        self.dir = d
        self.run = _json(os.path.join(d, "run.json")) or {}
        self.machine = _json(os.path.join(d, "machine.json")) or {}
        self.records = records.load(os.path.join(d, "records.jsonl"))
        self.groups = records.group(self.records, self.run.get("workloads") or ())
        self.name = self.run.get("experiment") or os.path.basename(os.path.abspath(d))
        self.figure = self.run.get("figure") or guess_figure(self.groups)
        self.title = self.run.get("title") or self.name

    def varying(self, workload):
        """Param names whose value differs between this workload's cells."""
        seen = {}
        for g in self.groups:
            if g.cell["workload"] == workload:
                for k, v in g.cell["params"].items():
                    seen.setdefault(k, set()).add(json.dumps(v))
        return [k for k, vs in seen.items() if len(vs) > 1]

    def fixed_text(self):
        out = []
        for w in dict.fromkeys(g.cell["workload"] for g in self.groups):
            vary = self.varying(w)
            cell = next(g.cell for g in self.groups if g.cell["workload"] == w)
            fixed = {k: v for k, v in cell["params"].items() if k not in vary}
            if fixed:
                out.append(f"{w}: {records.params_text(fixed)}")
        return "; ".join(out)


def _json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def guess_figure(groups):
    kinds = {g.cell["workload"] for g in groups}
    for fig, ws in (("latency_vs_load", {"echo", "http"}), ("lateness_cdf", {"hoglat"}),
                    ("memory_vs_tasks", {"idle"})):
        if kinds & ws:
            return fig
    return "ns_per_op"


def cell_stats(group, metric):
    vals = group.values(metric)
    ci = stats.median_ci(vals)
    if ci is None:
        return None
    return {"n": len(vals), "median": stats.median(vals), "ci_low": ci[0], "ci_high": ci[1],
            "ci_level": ci[2], "ci_method": ci[3], "min": min(vals), "max": max(vals)}


def fmt(v):
    if v is None:
        return "–"
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def write(d):
    s = Sweep(d)
    return [write_csv(s), write_md(s)]


def write_csv(s):
    path = os.path.join(s.dir, "summary.csv")
    tmp = path + ".tmp"
    peers = {m.get("name"): m.get("peer") for m in s.machine.get("models", [])}
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for g in s.groups:
            c = g.cell
            base = [s.name, c["model"], int(bool(peers.get(c["model"]))), c["workload"],
                    records.params_text(c["params"]), c["procs"],
                    records.options_text(c["options"])]
            err = g.errors[0] if g.errors else ""
            rows = 0
            for m, (unit, _, _) in records.METRICS.items():
                st = cell_stats(g, m)
                if st is None:
                    continue
                rows += 1
                w.writerow(base + [m, unit, st["n"], len(g.recs) - len(g.ok), _num(st["median"]),
                                   _num(st["ci_low"]), _num(st["ci_high"]), f"{st['ci_level']:.4f}",
                                   st["ci_method"], _num(st["min"]), _num(st["max"]), err])
            if rows == 0:  # every repetition failed: one row that says so
                w.writerow(base + ["", "", 0, len(g.recs), "", "", "", "", "", "", "", err])
    os.replace(tmp, path)
    return path


def _num(v):
    return f"{v:.6g}" if isinstance(v, float) else v


def write_md(s):
    path = os.path.join(s.dir, "summary.md")
    lines = [f"# {s.name}: {s.title}", ""]
    m, b = s.machine.get("machine", {}), s.machine.get("build", {})
    if m or b:
        lines.append(f"Machine `{s.machine.get('tag', '?')}` ({m.get('cpu_model', '?')}, "
                     f"{m.get('pus', '?')} PUs, kernel {str(m.get('kernel', '?')).split()[0]}); "
                     f"build {b.get('git_describe', '?')}{' (dirty)' if b.get('git_dirty') else ''}, "
                     f"{b.get('compiler', '?')}; profile {s.run.get('profile', '?')}, "
                     f"seed {s.run.get('seed', '?')}.")
        lines.append("")
    lines.append("Medians of the successful repetitions (n) with a nonparametric 95% "
                 "confidence interval from order statistics; † marks an interval that is "
                 "min–max because n < 6 (its coverage is only 1 − 2^(1−n)).")
    fixed = s.fixed_text()
    if fixed:
        lines += ["", f"Fixed parameters: {fixed}."]
    lines += ["", *table(s), ""]
    lines += failures_md(s)
    if s.figure == "memory_vs_tasks":
        lines += reach_md(s)
    notes = s.run.get("notes") or []
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines))
    os.replace(path + ".tmp", path)
    return path


def table(s):
    metrics = FIGURE_METRICS.get(s.figure, ["ns_per_op"])
    has_opts = any(g.cell["options"] for g in s.groups)
    has_params = any(s.varying(g.cell["workload"]) for g in s.groups)
    head = ["model", "workload"] + (["params"] if has_params else []) + ["procs"]
    head += (["options"] if has_opts else []) + ["n"] + [LABELS.get(m, m) for m in metrics]
    right = len(metrics) + 1
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join("---" if i < len(head) - right else "---:"
                          for i in range(len(head))) + "|"]
    for g in s.groups:
        c = g.cell
        row = [c["model"], c["workload"]]
        if has_params:
            row.append(records.params_text(c["params"], s.varying(c["workload"])) or "–")
        row.append(str(c["procs"]))
        if has_opts:
            row.append(records.options_text(c["options"]) or "–")
        n_fail = len(g.recs) - len(g.ok)
        row.append(f"{len(g.ok)}" + (f" (+{n_fail} failed)" if n_fail else ""))
        for m in metrics:
            row.append(cell_text(g, m, n_fail))
        out.append("| " + " | ".join(row) + " |")
    return out


def cell_text(g, metric, n_fail):
    """'median [low, high]', † for a min-max interval; the bare value when n = 1."""
    st = cell_stats(g, metric)
    if st is None:
        return "failed" if n_fail else "–"
    if st["n"] == 1:
        return fmt(st["median"])
    dag = "†" if st["ci_method"] == "min-max" else ""
    return f"{fmt(st['median'])} [{fmt(st['ci_low'])}, {fmt(st['ci_high'])}]{dag}"


def failure_lines(s):
    """'model workload params -p N: error (k of n reps)' for every cell with a failure."""
    out = []
    for g in s.groups:
        errs = g.errors
        if errs:
            c = g.cell
            vary = s.varying(c["workload"])
            ps = records.params_text(c["params"], vary)
            out.append(f"{c['model']} {c['workload']}{' ' + ps if ps else ''} -p {c['procs']}: "
                       f"{errs[0]} ({len(errs)} of {len(g.recs)} reps)")
    return out


def failures_md(s):
    lines = failure_lines(s)
    return ["## Failures", ""] + [f"- {x}" for x in lines] + [""] if lines else []


def reach(s, param="tasks"):
    """model -> (largest value with a successful repetition, smallest value
    where every repetition failed, its error). Cells that failed only some
    repetitions are listed under Failures, not here."""
    out = {}
    for g in s.groups:
        v = g.cell["params"].get(param)
        if not isinstance(v, int):
            continue
        best, fail, err = out.get(g.cell["model"], (None, None, None))
        if g.ok and (best is None or v > best):
            best = v
        if not g.ok and g.errors and (fail is None or v < fail):
            fail, err = v, g.errors[0]
        out[g.cell["model"]] = (best, fail, err)
    return out


def reach_md(s):
    r = reach(s)
    lines = ["## How far each model gets", "", "| model | largest tasks reached | first failure |",
             "|---|---:|---|"]
    for m in sorted(r, key=records.model_rank):
        best, fail, err = r[m]
        lines.append(f"| {m} | {fmt(best) if best else '–'} | "
                     + (f"tasks={fail:,}: {err}" if fail else "none") + " |")
    return lines + [""]
