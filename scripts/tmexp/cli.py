"""scripts/experiment: run experiment files, plot and compare their records.

  experiment run FILE [--profile quick|full] [--out DIR] [--only-models M ...]
                      [--retry-failed] [--dry-run] [--tmbench PATH] [--machine-tag TAG]
  experiment plot DIR       summary.csv, summary.md and figures for every sweep under DIR
  experiment compare A B    per-cell ratios of medians with a Mann-Whitney U test

Exit status: 0 ok (failed cells are data, not errors), 2 bad input (one line
on stderr naming the file and key), 130 interrupted by SIGINT (143 SIGTERM).
"""
import argparse
import json
import os
import re
import sys

from . import bench, runner, spec
from .args import Parser


def cmd_run(a):
    path = a.file
    doc = spec.load(path)
    tmbench = bench.find_tmbench(a.tmbench)
    cat = bench.catalog(tmbench)
    spec.check_against_build(path, doc, cat)
    only = set(a.only_models or [])
    for m in only:
        if m not in cat.models and m not in spec.DESIGN_MODELS:
            raise spec.SpecError(f"--only-models: unknown model '{m}'")
    machine, build = bench.probe(tmbench, cat)
    plan = spec.expand(path, doc, a.profile, cat, machine.get("pus") or os.cpu_count(), only)
    info = bench.machine_info(tmbench, cat, machine, build)
    info["tag"] = a.machine_tag or info["tag"]
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", info["tag"]):
        raise spec.SpecError(f"--machine-tag: '{info['tag']}' is not a directory name "
                             "[A-Za-z0-9._-]")
    out = os.path.join(a.out, info["tag"], plan.name)
    if a.dry_run:
        return dry_run(plan, out)
    os.makedirs(out, exist_ok=True)
    if runner.lock_dir(out) is None:
        raise spec.SpecError(f"{out}: another sweep is running into this directory")
    old = load_json(os.path.join(out, "run.json"))
    if old and old.get("profile") != plan.profile:
        raise spec.SpecError(f"{out}: holds a '{old.get('profile')}' sweep; "
                             f"use another --out for '{plan.profile}' or remove it")
    for note in plan.notes:
        print(f"note: {note}", file=sys.stderr)
    if a.retry_failed:
        n = runner.drop_failed(os.path.join(out, "records.jsonl"),
                               os.path.join(out, "records.retried.jsonl"))
        print(f"note: {n} failed records moved to records.retried.jsonl, their cells rerun",
              file=sys.stderr)
    warn_build_change(load_json(os.path.join(out, "machine.json")), build)
    bench.write_json_atomic(os.path.join(out, "machine.json"), info)
    manifest = new_manifest(path, plan, cat, old, only)
    bench.write_json_atomic(os.path.join(out, "run.json"), manifest)
    ctx = {"tmbench": tmbench, "dir": out, "records": os.path.join(out, "records.jsonl"),
           "name": plan.name, "profile": plan.profile, "seed": plan.seed,
           "machine": machine, "build": build}
    status, code, n, failed, error = "failed", 0, None, None, None
    try:
        n, failed = runner.sweep(plan, ctx)
        status = "complete"
    except runner.Interrupted as e:
        status, code = "interrupted", 128 + e.signum
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except Exception as e:  # a bug, tmbench gone: never leave run.json saying "running"
        error = str(e) or type(e).__name__
        raise
    finally:
        manifest["runs"][-1].update(finished=bench.now_rfc3339(), status=status,
                                    units_run=n, units_failed=failed, error=error)
        bench.write_json_atomic(os.path.join(out, "run.json"), manifest)
    if code:
        print(f"experiment: interrupted; finished records kept in {ctx['records']} "
              "(run the same command again to resume)", file=sys.stderr)
        return code
    print(f"experiment {plan.name}: records in {ctx['records']}"
          + (f" ({failed} runs failed, recorded)" if failed else ""), file=sys.stderr)
    return 0


def dry_run(plan, out):
    for note in plan.notes:
        print(f"note: {note}", file=sys.stderr)
    for c in plan.cells:
        print(f"{c.label()}  reps={c.reps} warmup={c.warmup} timeout={c.timeout_s:g}s/run"
              + (" split" if c.split_reps else ""))
    print(f"{len(plan.cells)} cells -> {out}", file=sys.stderr)
    return 0


def new_manifest(path, plan, cat, old, only):
    """run.json: what was run, in which order (seed), what was skipped; one
    entry per invocation under "runs"."""
    wl = {w["name"]: w for w in cat.raw.get("workloads", [])}
    runs = (old or {}).get("runs", [])
    runs.append({"started": bench.now_rfc3339(), "status": "running",
                 "only_models": sorted(only) or None})
    return {
        "schema": "tmbench-experiment-run/1", "experiment": plan.name, "title": plan.title,
        "figure": plan.figure, "description": plan.description, "file": os.path.abspath(path),
        "profile": plan.profile, "seed": plan.seed, "order": "random.Random(seed).shuffle",
        "cells": len(plan.cells), "notes": plan.notes,
        "workloads": {w: {"kind": wl.get(w, {}).get("kind"), "op": wl.get(w, {}).get("op")}
                      for w in dict.fromkeys(c.workload for c in plan.cells)},  # file order
        "runs": runs,
    }


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def warn_build_change(old, build):
    if not old:
        return
    was = (old.get("build") or {}).get("git_describe")
    now = build.get("git_describe")
    if was != now or (old.get("build") or {}).get("git_dirty") != build.get("git_dirty"):
        print(f"note: resuming with a different build (was {was}, now {now}); "
              "every record carries its own build{}", file=sys.stderr)


def cmd_plot(a):
    from . import figures, summary
    dirs = summary.sweep_dirs(a.dir)
    if not dirs:
        raise spec.SpecError(f"{a.dir}: no records.jsonl found under it")
    for d in dirs:
        made = summary.write(d)
        made += figures.plot_all(d, pdf=not a.no_pdf)
        print(f"{d}: " + ", ".join(os.path.basename(p) for p in made), file=sys.stderr)
    return 0


def cmd_compare(a):
    from . import compare
    return compare.main(a.dir_a, a.dir_b, sys.stdout)


def parser():
    p = Parser(prog="experiment", description=__doc__.split("\n\n")[0],
               formatter_class=argparse.RawDescriptionHelpFormatter,
               epilog="Experiment file schema: scripts/experiments/README.md")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run one experiment file (resumes an interrupted sweep)")
    r.add_argument("file", help="scripts/experiments/NAME.toml")
    r.add_argument("--profile", default="quick", help="profile of the file (default: quick)")
    r.add_argument("--out", default="out", help="results root (default: out)")
    r.add_argument("--only-models", nargs="+", metavar="M", help="run these models only")
    r.add_argument("--tmbench", help="the tmbench binary (default: $TMBENCH or "
                   "build/release/workloads/harness/tmbench)")
    r.add_argument("--machine-tag", help="override the machine tag directory name")
    r.add_argument("--dry-run", action="store_true", help="print the cells and exit")
    r.add_argument("--retry-failed", action="store_true",
                   help="rerun cells with failed records (moved to records.retried.jsonl)")
    r.set_defaults(func=cmd_run)
    pl = sub.add_parser("plot", help="summaries and figures for every sweep under DIR")
    pl.add_argument("dir")
    pl.add_argument("--no-pdf", action="store_true", help="SVG and PNG only")
    pl.set_defaults(func=cmd_plot)
    c = sub.add_parser("compare", help="compare two sweeps cell by cell")
    c.add_argument("dir_a")
    c.add_argument("dir_b")
    c.set_defaults(func=cmd_compare)
    return p


def main(argv=None):
    a = parser().parse_args(argv)
    try:
        return a.func(a)
    except (spec.SpecError, bench.BenchError) as e:
        print(f"experiment: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except OSError as e:  # an unreadable file, a full disk: one line, no traceback
        print(f"experiment: {e.filename}: {e.strerror}" if e.filename else f"experiment: {e}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
