"""Compare two sweeps cell by cell, printed like Google Benchmark's compare.py.

For every cell present in both A (old) and B (new): the relative change of
the median, (new - old) / |old|, of the experiment's primary metric and of
CPU time per op, then a `_pvalue` row with the two-sided Mann-Whitney U
test on the repetitions (stats.py). A and B may be sweep directories
(holding records.jsonl) or roots holding several; sweeps are matched by
experiment name, so two machines' tags may differ. Ends with the geometric
mean of the new/old ratios per experiment, like OVERALL_GEOMEAN. Cells
and sweeps present on one side only are counted in notes, with examples
(a quick and a full profile have different sizes: no cell in common).
"""
import math
import os

from . import stats, summary
from .spec import SpecError, cell_key

# the metric compared per figure kind (first), and whether lower is better
PRIMARY = {"ns_per_op": "ns_per_op", "throughput_vs_procs": "ops_per_s",
           "latency_vs_load": "lat_p99_us", "lateness_cdf": "lat_p99_us",
           "memory_vs_tasks": "bytes_per_task", "time_and_rss": "wall_ms"}
ALPHA = 0.05
OPTIMAL_REPS = 9  # compare.py's UTEST_OPTIMAL_REPETITIONS


def sweeps(top):
    if not os.path.isdir(top):
        raise SpecError(f"{top}: not a directory")
    out = {}
    for d in summary.sweep_dirs(top):
        s = summary.Sweep(d)
        out[s.name] = s
    if not out:
        raise SpecError(f"{top}: no records.jsonl found under it")
    return out


def cell_name(sweep, g, every_param=False):
    c = g.cell
    vary = sweep.varying(c["workload"])
    ps = ",".join(f"{k}={v}" for k, v in c["params"].items() if every_param or k in vary)
    opts = ",".join(f"{k}={v}" for k, v in c["options"].items())
    return "/".join(x for x in (sweep.name, c["model"], c["workload"], ps, f"procs:{c['procs']}",
                                opts) if x)


def change(old, new):
    if old is None or new is None:
        return None
    if old == 0:
        return 0.0 if new == 0 else math.inf
    return (new - old) / abs(old)


def _f(v, width, fmt="{:+.4f}"):
    return f"{'NaN' if v is None else fmt.format(v):>{width}}"


def main(dir_a, dir_b, out):
    a, b = sweeps(dir_a), sweeps(dir_b)
    names = [n for n in a if n in b]
    rows, notes = [], []
    for n in names:
        got, only_a, only_b = compare_sweep(a[n], b[n])
        rows += got
        notes += one_side_note(a[n], b[n], only_a, only_b)
    only = sorted(set(a) ^ set(b))
    if only:
        notes.append(f"in one side only, not compared: {', '.join(only)}")
    if not rows:
        out.write(f"Comparing {dir_a} to {dir_b}: no cell in common, nothing to compare\n")
        for note in notes:
            out.write(f"note: {note}\n")
        return 0
    width = max([len(r[0]) + len("_pvalue") for r in rows] + [len("Benchmark")]) + 2
    head = (f"{'Benchmark':<{width}}{'Metric':>16}{'Change':>10}{'CPU':>10}"
            f"{'Old':>14}{'New':>14}{'CPU Old':>12}{'CPU New':>12}")
    out.write(f"Comparing {dir_a} to {dir_b}\n{head}\n{'-' * len(head)}\n")
    for r in rows:
        out.write(r[1](width) + "\n")
    for n in names:
        ratios = [r[2] for r in rows if r[3] == n and r[2] and r[2] > 0 and math.isfinite(r[2])]
        if ratios:
            gm = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
            out.write(f"{'OVERALL_GEOMEAN ' + n:<{width}}{PRIMARY.get(a[n].figure, 'ns_per_op'):>16}"
                      f"{gm - 1:>+10.4f}\n")
    for note in notes:
        out.write(f"note: {note}\n")
    return 0


def one_side_note(sa, sb, only_a, only_b, examples=3):
    """Notes on the cells of one experiment that only A or only B has."""
    notes = []
    for side, sweep, groups in (("A", sa, only_a), ("B", sb, only_b)):
        if groups:
            eg = ", ".join(cell_name(sweep, g, True) for g in groups[:examples])
            notes.append(f"{sa.name}: {len(groups)} cell(s) only in {side}, not compared "
                         f"(e.g. {eg}{', ...' if len(groups) > examples else ''})")
    pa, pb = sa.run.get("profile"), sb.run.get("profile")
    if notes and pa != pb:
        notes.append(f"{sa.name}: A is the {pa or '?'} profile, B the {pb or '?'} one "
                     "(different sizes and repetitions)")
    return notes


def compare_sweep(sa, sb):
    """(rows, groups only in A, groups only in B) of one experiment."""
    metric = PRIMARY.get(sa.figure, "ns_per_op")
    bgroups = {cell_key(g.cell): g for g in sb.groups}
    akeys = {cell_key(g.cell) for g in sa.groups}
    only_b = [g for k, g in bgroups.items() if k not in akeys]
    rows, only_a = [], []
    for ga in sa.groups:
        gb = bgroups.get(cell_key(ga.cell))
        if gb is None:
            only_a.append(ga)
            continue
        name = cell_name(sa, ga)
        xa, xb = ga.values(metric), gb.values(metric)
        ma, mb = stats.median(xa), stats.median(xb)
        ca, cb = _cpu_per_op(ga), _cpu_per_op(gb)
        d, dc = change(ma, mb), change(ca, cb)
        ratio = mb / ma if ma and mb is not None else None

        def line(w, name=name, d=d, dc=dc, ma=ma, mb=mb, ca=ca, cb=cb):
            return (f"{name:<{w}}{metric:>16}{_f(d, 10)}{_f(dc, 10)}"
                    f"{_f(ma, 14, '{:.4g}')}{_f(mb, 14, '{:.4g}')}"
                    f"{_f(ca, 12, '{:.4g}')}{_f(cb, 12, '{:.4g}')}")
        rows.append((name, line, ratio, sa.name))
        if len(xa) >= 2 and len(xb) >= 2:
            _, p, how = stats.mann_whitney_u(xa, xb)
            warn = ("" if min(len(xa), len(xb)) >= OPTIMAL_REPS else
                    f"  WARNING: Results unreliable! {OPTIMAL_REPS}+ repetitions recommended.")
            verdict = "significant" if p < ALPHA else "not significant"

            def pline(w, name=name, p=p, how=how, n=(len(xa), len(xb)), warn=warn,
                      verdict=verdict):
                return (f"{name + '_pvalue':<{w}}{'':>16}{p:>10.4f}{'':>10}"
                        f"      U Test ({how}), Repetitions: {n[0]} vs {n[1]}, "
                        f"{verdict} at alpha {ALPHA}{warn}")
            rows.append((name, pline, None, sa.name))
    return rows, only_a, only_b


def _cpu_per_op(g):
    vals = [(r["cpu_user_ns"] + r["cpu_sys_ns"]) / r["ops"] for r in g.ok
            if isinstance(r.get("cpu_user_ns"), int) and isinstance(r.get("cpu_sys_ns"), int)
            and r.get("ops")]
    return stats.median(vals)
