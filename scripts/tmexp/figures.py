"""gnuplot figures, one function per figure, SVG + PNG (+ PDF for the paper).

Every figure is written as <sweep>/<name>.{svg,png,pdf}; its data and the
gnuplot script that draws it stay in <sweep>/plot-data/<name>.{dat,gp}, so
`cd <sweep> && gnuplot -e 'set terminal svg; set output "x.svg"' plot-data/x.gp`
redraws it. One colour per model, the same in every figure (PALETTE);
variants of one model (procs, slice) differ by dash and point type.
Failed cells are named in a caption under the plot.
"""
import json
import math
import os
import re
import shutil
import subprocess
import sys

from . import records, summary

# Okabe-Ito, colour-blind safe. Fixed: a model keeps its colour everywhere.
PALETTE = {
    "pthreads": "#0072B2",        # blue
    "coro": "#E69F00",            # orange
    "mn": "#009E73",              # bluish green
    "goroutine": "#D55E00",       # vermillion
    "go": "#CC79A7",              # reddish purple
    "boost": "#56B4E9",           # sky blue
    "epoll-baseline": "#000000",  # black
}
OTHER_COLOURS = ("#999999", "#F0E442", "#6A3D9A", "#8C564B")

TERMINALS = {
    "svg": 'set terminal svg size 960,600 dynamic noenhanced font "Helvetica,14" background rgb "white"',
    "png": 'set terminal pngcairo size 1200,750 noenhanced font "Sans,13" background rgb "white"',
    "pdf": 'set terminal pdfcairo size 6.4in,4in noenhanced font "Sans,10"',
}
PREAMBLE = """set encoding utf8
set datafile missing "?"
set border 3 lw 1 lc rgb "#555555"
set tics nomirror
set grid ytics lc rgb "#dddddd" lw 1 dt 1
set key outside right top vertical Left reverse samplen 2 spacing 1.2
"""


def colour(model):
    if model in PALETTE:
        return PALETTE[model]
    return OTHER_COLOURS[sum(map(ord, model)) % len(OTHER_COLOURS)]


def have_gnuplot():
    return shutil.which("gnuplot") is not None


def pdf_available():
    try:
        p = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True,
                           timeout=30)
        return "pdfcairo" in p.stdout + p.stderr
    except (OSError, subprocess.TimeoutExpired):
        return False


# ------------------------------------------------------------------ helpers

class Series:
    """One line or bar colour group: a model at one procs, option and params setting."""

    def __init__(self, model, procs, options, params, label, index):
        self.model, self.procs, self.options, self.params = model, procs, options, params
        self.label, self.colour = label, colour(model)
        self.dt = 1 + index % 5          # dash type: variants of one model differ
        self.pt = (7, 5, 9, 11, 13)[index % 5]


def varying_params(groups, exclude=()):
    """Param names with more than one value among groups, minus exclude."""
    seen = {}
    for g in groups:
        for k, v in g.cell["params"].items():
            seen.setdefault(k, set()).add(json.dumps(v))
    return [k for k, vs in seen.items() if len(vs) > 1 and k not in exclude]


def series_of(groups, by_procs=True, split=()):
    """Distinct (model, procs, options, params in split) in model order, with
    readable labels; by_procs=False when procs is the x axis (procs None: any)."""
    keys = []
    for g in sorted(groups, key=lambda g: records.model_rank(g.cell["model"])):
        p = g.cell["procs"] if by_procs else None
        ps = {k: g.cell["params"].get(k) for k in split}
        k = (g.cell["model"], p, json.dumps(g.cell["options"], sort_keys=True),
             json.dumps(ps, sort_keys=True))
        if k not in keys:
            keys.append(k)
    procs_vary = len({k[1] for k in keys}) > 1
    out, per_model = [], {}
    for m, p, o, ps in keys:
        opts, params = json.loads(o), json.loads(ps)
        label = m + (f" (p={p})" if procs_vary else "")
        if opts:
            label += " " + records.options_text(opts)
        if params:
            label += " " + records.params_text(params)
        i = per_model.get(m, 0)
        per_model[m] = i + 1
        out.append(Series(m, p, opts, params, label, i))
    return out


def in_series(g, s):
    return (g.cell["model"] == s.model and g.cell["options"] == s.options
            and s.procs in (None, g.cell["procs"])
            and all(g.cell["params"].get(k) == v for k, v in s.params.items()))


def short_error(model, err):
    """'warm-up 1 of 2: pthreads: EAGAIN creating task 9,074 of 100,000: pthread_create: ...'
    -> 'EAGAIN creating task 9,074 of 100,000 (warm-up)'."""
    parts, where = err.split(": "), ""
    while len(parts) > 1 and (parts[0] == model or re.fullmatch(r"warm-up \d+ of \d+", parts[0])):
        where = " (warm-up)" if parts[0].startswith("warm-up") else where
        parts = parts[1:]
    return parts[0][:90] + where


def caption(sweep, groups):
    """gnuplot commands printing, under the plot, the cells where every
    repetition failed: one line per model and workload, listing the values
    of the parameters that vary, with the first error."""
    fails = {}
    for g in groups:
        if g.errors and not g.ok:
            c = g.cell
            key = (c["model"], c["workload"], c["procs"], json.dumps(c["options"]))
            vary = sweep.varying(c["workload"])
            fails.setdefault(key, ([], g.errors[0]))[0].append(
                records.params_text(c["params"], vary))
    lines = []
    for (m, w, _, _), (settings, err) in fails.items():
        at = f" at {', '.join(settings)}" if any(settings) else ""
        lines.append(f"✗ {m} {w}{at}: {short_error(m, err)}")
    if len(lines) > 3:
        lines = lines[:2] + [f"… and {len(lines) - 2} more failed cells (see summary.md)"]
    cmds = [f"set bmargin {4 + len(lines)}"] if lines else []
    for i, text in enumerate(lines):
        y = 0.012 + 0.035 * (len(lines) - 1 - i)
        cmds.append(f'set label {100 + i} "{_q(text)}" at screen 0.01, screen {y:.3f} '
                    f'left font ",10" tc rgb "#B00000"')
    return "\n".join(cmds) + "\n"


def subtitle(sweep, extra="median, 95% CI"):
    tag = sweep.machine.get("tag", "")
    prof = sweep.run.get("profile")
    bits = [b for b in (tag, f"{prof} profile" if prof else "", extra) if b]
    return ", ".join(bits)


GP_NEWLINE = "\\n"  # a line break inside a gnuplot double-quoted string


def _q(s):
    return str(s).replace("\\", "\\\\").replace('"', '\\"')


def log_if_wide(values, ratio=20):
    vals = [v for v in values if v and v > 0]
    return bool(vals) and max(vals) / min(vals) > ratio


def decade_below(v):
    """The largest 1, 2 or 5 x 10^k at or below v (a log axis' lower end)."""
    if not v or v <= 0:
        return 1
    d = 10 ** math.floor(math.log10(v))
    return max(m * d for m in (1, 2, 5) if m * d <= v)


def si(v):
    """2000 -> 2k, 1500000 -> 1.5M."""
    for f, u in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= f:
            return f"{v / f:.3g}{u}"
    return f"{v:g}"


def op_text(sweep, workload):
    return ((sweep.run.get("workloads") or {}).get(workload) or {}).get("op")


def render(sweep, name, data, body, pdf):
    """Write plot-data/<name>.{dat,gp} and draw <name>.svg/.png(/.pdf), each
    file atomically (written beside, then renamed); a figure gnuplot fails to
    draw is removed rather than left stale."""
    ddir = os.path.join(sweep.dir, "plot-data")
    os.makedirs(ddir, exist_ok=True)
    write_text(os.path.join(ddir, name + ".dat"), data)
    script = PREAMBLE + body.replace("DATA", f"'plot-data/{name}.dat'")
    write_text(os.path.join(ddir, name + ".gp"),
               f"# {name}: redraw from the sweep directory with\n#   gnuplot -e 'set terminal svg; "
               f"set output \"{name}.svg\"' plot-data/{name}.gp\n" + script)
    made = []
    for ext in ("svg", "png") + (("pdf",) if pdf else ()):
        out, tmp = (os.path.join(sweep.dir, f) for f in (f"{name}.{ext}", f".{name}.tmp.{ext}"))
        text = f"{TERMINALS[ext]}\nset output '{os.path.basename(tmp)}'\n{script}\nunset output\n"
        p = subprocess.run(["gnuplot"], input=text, capture_output=True, text=True,
                           cwd=sweep.dir, timeout=120)
        if p.returncode != 0 or not os.path.exists(tmp):
            msg = (p.stderr.strip().splitlines() or ["?"])[-1]
            print(f"experiment: gnuplot failed on {name}.{ext}: {msg}", file=sys.stderr)
            for f in (tmp, out):
                if os.path.exists(f):
                    os.unlink(f)
            continue
        os.replace(tmp, out)
        made.append(out)
    return made


def write_text(path, text):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


# ------------------------------------------------------------------ bar charts

def bar_chart(sweep, name, groups, metric, category, title, ylabel, pdf):
    """Clustered bars: one cluster per category(group), one bar per series."""
    if not groups:
        return []
    series = series_of(groups)
    order = list(sweep.run.get("workloads") or {})
    cats = []
    for g in sorted(groups, key=lambda g: (order.index(g.cell["workload"])
                                           if g.cell["workload"] in order else len(order))):
        c = category(g)
        if c not in cats:
            cats.append(c)
    rows, allv = [], []
    for c in cats:
        row = [f'"{_q(c)}"']
        for s in series:
            g = next((g for g in groups if in_series(g, s) and category(g) == c), None)
            st = summary.cell_stats(g, metric) if g else None
            if st:
                row += [f"{st['median']:.6g}", f"{st['ci_low']:.6g}", f"{st['ci_high']:.6g}"]
                allv += [st["ci_low"], st["ci_high"]]
            else:
                row += ["?", "?", "?"]
        rows.append(" ".join(row))
    if not allv:
        return []
    log = log_if_wide(allv, 10)
    plots = []
    for i, s in enumerate(series):
        col = 2 + 3 * i
        xt = ":xtic(1)" if i == 0 else ""
        plots.append(f"DATA using {col}:{col + 1}:{col + 2}{xt} title \"{_q(s.label)}\" "
                     f"lc rgb \"{s.colour}\" fs solid 0.85 border lc rgb \"#333333\"")
    body = (f'set title "{_q(title)}\\n{_q(subtitle(sweep))}"\n'
            f'set ylabel "{_q(ylabel)}{", log scale" if log else ""}"\n'
            "set style data histograms\n"
            "set style histogram errorbars gap 1.5 lw 1.2\n"
            "set boxwidth 0.9\nset xtics scale 0\n"
            + (f"set logscale y\nset yrange [{decade_below(min(allv) / 3):g}:*]\n"
               "set format y '%.0s%c'\n" if log else "set yrange [0:*]\n")
            + caption(sweep, groups)
            + "plot " + ", \\\n     ".join(plots) + "\n")
    return render(sweep, name, "\n".join(rows) + "\n", body, pdf)


def category_by_workload(sweep):
    def cat(g):
        vary = sweep.varying(g.cell["workload"])
        ps = records.params_text(g.cell["params"], vary)
        return g.cell["workload"] + (f" {ps}" if ps else "")
    return cat


def fig_ns_per_op(sweep, pdf):
    """Micro: time per operation, one cluster per workload, one bar per model."""
    return bar_chart(sweep, "ns-per-op", sweep.groups, "ns_per_op", category_by_workload(sweep),
                     sweep.title, "time per operation (ns)", pdf)


def fig_skynet_time(sweep, pdf):
    """Skynet: wall time per model, one cluster per tree size."""
    gs = [g for g in sweep.groups if g.cell["workload"] == "skynet"]
    return bar_chart(sweep, "skynet-time", gs, "wall_ms",
                     lambda g: f"{g.cell['params'].get('tasks', 0):,} leaves",
                     "Skynet: wall time", "wall time (ms)", pdf)


def fig_skynet_rss(sweep, pdf):
    """Skynet: peak resident memory per model, one cluster per tree size."""
    gs = [g for g in sweep.groups if g.cell["workload"] == "skynet"]
    return bar_chart(sweep, "skynet-rss", gs, "max_rss_mib",
                     lambda g: f"{g.cell['params'].get('tasks', 0):,} leaves",
                     "Skynet: peak resident memory", "max RSS (MiB)", pdf)


# ------------------------------------------------------------------ line charts

def lines_blocks(groups, series, x_of, metric, scale=1.0):
    """Data blocks (one per series, separated by two blank lines): x median lo hi,
    the values divided by scale."""
    blocks, allv, xs = [], [], []
    for s in series:
        pts = []
        for g in groups:
            if not in_series(g, s):
                continue
            st = summary.cell_stats(g, metric)
            if st:
                x = x_of(g)
                pts.append((x, st["median"] / scale, st["ci_low"] / scale, st["ci_high"] / scale))
                allv += [st["ci_low"] / scale, st["ci_high"] / scale]
                xs.append(x)
        pts.sort()
        blocks.append("\n".join(f"{x:g} {m:.6g} {lo:.6g} {hi:.6g}" for x, m, lo, hi in pts)
                      or "? ? ? ?")
    return "\n\n\n".join(blocks) + "\n", allv, xs


def _by_workload(sweep, workload=None):
    ws = []
    for g in sweep.groups:
        if (workload is None or g.cell["workload"] == workload) and g.cell["workload"] not in ws:
            ws.append(g.cell["workload"])
    return ws


def fig_throughput(sweep, workload, pdf):
    """Scaling: throughput against procs for one workload, a line per model."""
    gs = [g for g in sweep.groups if g.cell["workload"] == workload]
    series = series_of(gs, by_procs=False, split=varying_params(gs))
    top = max((g2 for g2 in (summary.cell_stats(g, "ops_per_s") for g in gs) if g2),
              key=lambda st: st["ci_high"], default=None)
    if top is None:
        return []
    scale, unit = next(((f, u) for f, u in ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""))
                        if top["ci_high"] >= f))
    data, allv, xs = lines_blocks(gs, series, lambda g: g.cell["procs"], "ops_per_s", scale)
    log = log_if_wide(allv, 30)
    op = op_text(sweep, workload)
    plots = [f"DATA index {i} using 1:2:3:4 with yerrorlines title \"{_q(s.label)}\" "
             f"lc rgb \"{s.colour}\" lw 2 dt {s.dt} pt {s.pt} ps 1.3"
             for i, s in enumerate(series)]
    best1 = max((st["median"] for st in (summary.cell_stats(g, "ops_per_s") for g in gs
                                         if g.cell["procs"] == 1) if st), default=None)
    if best1 and max(xs) > 1:   # linear speed-up from the best one-core result
        data += "\n\n" + "\n".join(f"{p} {best1 * p / scale:.6g}" for p in range(1, max(xs) + 1))
        plots.append(f"DATA index {len(series)} using 1:2 with lines title \"linear from best 1-core\" "
                     "lc rgb \"#888888\" lw 1.5 dt 3")
    title = [sweep.title + ": " + workload, subtitle(sweep)] + ([f"op = {op}"] if op else [])
    body = (f'set title "{GP_NEWLINE.join(_q(t) for t in title)}"\n'
            f'set xlabel "procs (cores the run may use)"\n'
            f'set ylabel "throughput ({unit}ops/s{", log scale" if log else ""})"\n'
            f"set xrange [0.5:{max(xs) + 0.5:g}]\nset xtics 1\n"
            + ("set logscale y\n" if log else "set yrange [0:*]\n")
            + caption(sweep, gs)
            + "plot " + ", \\\n     ".join(plots) + "\n")
    return render(sweep, f"throughput-{workload}", data, body, pdf)


def fig_latency(sweep, workload, pdf):
    """Latency: p50 (solid) and p99 (dashed) against offered load, per model."""
    gs = [g for g in sweep.groups if g.cell["workload"] == workload
          and g.cell["params"].get("rate")]
    if not gs:
        return []
    series = series_of(gs, split=varying_params(gs, ("rate",)))
    rate = lambda g: g.cell["params"]["rate"]  # noqa: E731
    d50, v50, xs = lines_blocks(gs, series, rate, "lat_p50_us")
    d99, v99, _ = lines_blocks(gs, series, rate, "lat_p99_us")
    if not v50 + v99:
        return []
    data = d50 + "\n\n" + d99
    n = len(series)
    plots = []
    for i, s in enumerate(series):
        plots.append(f"DATA index {i} using 1:2:3:4 with yerrorlines title \"{_q(s.label)} p50\" "
                     f"lc rgb \"{s.colour}\" lw 2 dt 1 pt 7 ps 1.2")
        plots.append(f"DATA index {n + i} using 1:2:3:4 with yerrorlines title \"{_q(s.label)} p99\" "
                     f"lc rgb \"{s.colour}\" lw 2 dt 2 pt 6 ps 1.2")
    allv = [v for v in v50 + v99 if v > 0]
    body = (f'set title "{_q(sweep.title)}: {workload}\\n{_q(subtitle(sweep))}"\n'
            'set xlabel "offered load (requests/s, open loop, log scale)"\n'
            'set ylabel "latency (µs, log scale)"\n'
            f"set logscale xy\nset yrange [{min(allv) / 1.5:g}:{max(allv) * 1.5:g}]\n"
            f"set xrange [{min(xs) / 1.3:g}:{max(xs) * 1.3:g}]\n"
            f"set xtics ({', '.join(f'{chr(34)}{si(x)}{chr(34)} {x:g}' for x in sorted(set(xs)))})\n"
            "set format y '%.0s%c'\n"
            + caption(sweep, gs)
            + "plot " + ", \\\n     ".join(plots) + "\n")
    return render(sweep, f"latency-{workload}", data, body, pdf)


# Percentile points of the record's latency_ns, on a "nines" axis -log10(1-q).
CDF_POINTS = (("min", 0.0, "0%"), ("p50", 0.30103, "50%"), ("p90", 1.0, "90%"),
              ("p99", 2.0, "99%"), ("p999", 3.0, "99.9%"), ("max", 3.6, "max"))


def fig_lateness_cdf(sweep, pdf):
    """Hog latency: the probe's lateness CDF per model and slice (nines scale)."""
    gs = [g for g in sweep.groups if g.cell["workload"] == "hoglat"]
    series = series_of(gs, split=varying_params(gs))
    blocks, allv = [], []
    for s in series:
        pts = []
        for g in gs:
            if not in_series(g, s):
                continue
            for key, y, _ in CDF_POINTS:
                st = summary.cell_stats(g, f"lat_{key}_us")
                if st:
                    pts.append((max(st["median"], 1.0), y))  # <= 1 us drawn at 1 us
                    allv.append(max(st["median"], 1.0))
        blocks.append("\n".join(f"{x:.6g} {y:g}" for x, y in pts) or "? ?")
    if not allv:
        return []
    plots = [f"DATA index {i} using 1:2 with linespoints title \"{_q(s.label)}\" "
             f"lc rgb \"{s.colour}\" lw 2 dt {s.dt} pt {s.pt} ps 1.2"
             for i, s in enumerate(series)]
    tics = ", ".join(f'"{lab.replace("%", "%%")}" {y:g}' for _, y, lab in CDF_POINTS)
    hog = gs[0].cell["params"] if gs else {}
    body = (f'set title "{_q(sweep.title)} ({hog.get("hogs", "?")} hogs, 1 ms probe sleeps)'
            f'\\n{_q(subtitle(sweep, "median over repetitions of each recorded percentile"))}"\n'
            'set xlabel "probe wake-up lateness (µs, log scale; 1 µs or less drawn at 1)"\n'
            'set ylabel "fraction of wake-ups at most this late"\n'
            f"set logscale x\nset xrange [1:*]\nset ytics ({tics})\nset yrange [-0.1:3.8]\n"
            "set grid xtics ytics lc rgb '#dddddd'\nset format x '%.0s%c'\n"
            + caption(sweep, gs)
            + "plot " + ", \\\n     ".join(plots) + "\n")
    return render(sweep, "lateness-cdf", "\n\n\n".join(blocks) + "\n", body, pdf)


def fig_memory(sweep, pdf):
    """Memory: bytes per parked task against the number of tasks; ✗ where a model fails."""
    gs = [g for g in sweep.groups if isinstance(g.cell["params"].get("tasks"), int)]
    series = series_of(gs, split=varying_params(gs, ("tasks",)))
    tasks = lambda g: g.cell["params"]["tasks"]  # noqa: E731
    data, allv, xs = lines_blocks(gs, series, tasks, "bytes_per_task")
    if not allv:
        return []
    reach = summary.reach(sweep)
    plots, marks, labels = [], [], []
    for i, s in enumerate(series):
        best, fail, err = reach.get(s.model, (None, None, None))
        title = s.label + (f", ✗ at {si(fail)}" if fail else "")
        plots.append(f"DATA index {i} using 1:2:3:4 with yerrorlines title \"{_q(title)}\" "
                     f"lc rgb \"{s.colour}\" lw 2 dt {s.dt} pt {s.pt} ps 1.3")
        if not fail:
            continue
        last = next((summary.cell_stats(g, "bytes_per_task") for g in gs
                     if in_series(g, s) and tasks(g) == best), None) if best else None
        y = last["median"] if last else min(allv)
        marks.append((fail, y, s))
        labels.append(f'set label "{_q(short_error(s.model, err))}" at {fail}, {y:.6g} '
                      f'right offset -1.5,-1.2 font ",10" tc rgb "{s.colour}"')
    for j, (fail, y, s) in enumerate(marks):
        data += f"\n\n{fail} {y:.6g}\n"
        plots.append(f"DATA index {len(series) + j} using 1:2 with points notitle "
                     f"lc rgb \"{s.colour}\" pt 2 ps 3 lw 3")
    fails = [(f, s) for f, _, s in marks]
    log_y = log_if_wide(allv, 20)
    body = (f'set title "{_q(sweep.title)}\\n{_q(subtitle(sweep))}"\n'
            'set xlabel "parked tasks (log scale)"\n'
            f'set ylabel "resident bytes per task{", log scale" if log_y else ""}"\n'
            f"set logscale x\nset xrange [{min(xs + [f for f, _ in fails]) / 2:g}:"
            f"{max(xs + [f for f, _ in fails]) * 2:g}]\n"
            "set format x '%.0s%c'\n" + ("set format y '%.0s%c'\n" if log_y else "")
            + (f"set logscale y\nset yrange [{decade_below(min(allv)):g}:*]\n" if log_y
               else "set yrange [0:*]\n")
            + "\n".join(labels) + "\n" + caption(sweep, gs)
            + "plot " + ", \\\n     ".join(plots) + "\n")
    return render(sweep, "memory-per-task", data, body, pdf)


# ------------------------------------------------------------------ dispatch

def plot_all(d, pdf=True):
    """Every figure of the sweep in directory d; returns the files written."""
    if not have_gnuplot():
        print("experiment: gnuplot not found, figures skipped", file=sys.stderr)
        return []
    sweep = summary.Sweep(d)
    pdf = pdf and pdf_available()
    fig = sweep.figure
    made = []
    if fig == "ns_per_op":
        made += fig_ns_per_op(sweep, pdf)
    elif fig == "throughput_vs_procs":
        for w in _by_workload(sweep):
            made += fig_throughput(sweep, w, pdf)
    elif fig == "latency_vs_load":
        for w in _by_workload(sweep):
            made += fig_latency(sweep, w, pdf)
    elif fig == "lateness_cdf":
        made += fig_lateness_cdf(sweep, pdf)
    elif fig == "memory_vs_tasks":
        made += fig_memory(sweep, pdf)
    elif fig == "time_and_rss":
        made += fig_skynet_time(sweep, pdf)
        made += fig_skynet_rss(sweep, pdf)
    return made
