"""Experiment files: schema, validation and matrix expansion.

The schema is documented in scripts/experiments/README.md. In short:

  [experiment]              name, title, figure, description, models, seed + settings
  [workload.<w>]            params = {k = v | [v, ...]} + settings (+ skip)
  [model.<m>]               settings (+ skip)
  [model.<m>.workload.<w>]  params + settings (+ skip): one model on one workload
  [profile.<p>]             an overlay with the same shape (experiment, workload,
                            model), deep-merged over the file; lists replace lists

Settings, valid at every level, the most specific winning
(experiment < workload < model < model.workload), with the ranges
`tmbench run` accepts (workloads/harness/cli.c), so a value it would refuse
fails here, before any cell runs:
  procs       1..1024, a list of them and "max", "all" (1..PUs) or "max" (PUs)
  slice_us    1..10000000 or a list (an empty list: option not passed)
  placement   none|compact|scatter|pus:LIST (LIST like 0,2-3) or a list (idem)
  stack_kb    4..1048576 or a list (idem)
  reps        recorded repetitions per cell, 1..100000
  warmup      unrecorded repetitions before them (per process), 0..100000
  timeout_s   wall-clock limit of one run, seconds, finite, > 0 and <= 86400
  split_reps  true: one process per repetition (memory, RSS)

Every error is a SpecError whose message is one line: "<file>: <key>: <problem>".
"""
import itertools
import json
import math
import os
import re
import tomllib
from dataclasses import dataclass, field

# Names the design fixes (DESIGN.md §1, §5): absent from a build means
# "skip with a note"; anything else is a typo and an error.
DESIGN_MODELS = ("pthreads", "coro", "mn", "goroutine", "go", "boost")
DESIGN_WORKLOADS = ("spawn", "yield", "pingpong", "mutex", "idle", "fib", "skynet",
                    "parfor", "sleep", "ring", "echo", "http", "blockio", "hoglat",
                    "overflow")
FIGURES = ("ns_per_op", "throughput_vs_procs", "latency_vs_load", "lateness_cdf",
           "memory_vs_tasks", "time_and_rss")

OPTION_AXES = ("slice_us", "placement", "stack_kb")  # tmbench run --<option>
SETTINGS = ("procs", "reps", "warmup", "timeout_s", "split_reps") + OPTION_AXES
EXPERIMENT_KEYS = SETTINGS + ("name", "title", "figure", "description", "models", "seed")
WORKLOAD_KEYS = SETTINGS + ("params", "skip")
MODEL_KEYS = SETTINGS + ("skip", "workload")
RANGES = {"procs": (1, 1024), "reps": (1, 100000), "warmup": (0, 100000),  # as tmbench run
          "slice_us": (1, 10000000), "stack_kb": (4, 1048576)}
MAX_TIMEOUT_S = 86400  # the most TMBENCH_PEER_TIMEOUT allows
PLACEMENT = re.compile(r"none|compact|scatter|pus:\d+(-\d+)?(,\d+(-\d+)?)*")
NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
DEFAULTS = {"procs": "max", "reps": 5, "warmup": 1, "timeout_s": 120.0,
            "split_reps": False, "slice_us": [], "placement": [], "stack_kb": []}


class SpecError(Exception):
    """Bad input (an experiment file, a flag, a records file); str() is the
    one-line message."""


@dataclass
class Cell:
    """One point of the matrix: a model, a workload, full params, procs, options."""
    model: str
    workload: str
    params: dict          # every parameter, defaults filled in from `tmbench list`
    procs: int
    options: dict         # tmbench run options: slice_us, placement, stack_kb
    reps: int
    warmup: int
    timeout_s: float
    split_reps: bool
    peer: bool = False

    def ident(self):
        return {"model": self.model, "workload": self.workload, "params": self.params,
                "procs": self.procs, "options": self.options}

    def key(self):
        return cell_key(self.ident())

    def label(self):
        ps = " ".join(f"{k}={v}" for k, v in self.params.items())
        os_ = "".join(f" --{k.replace('_', '-')} {v}" for k, v in self.options.items())
        return f"{self.model} {self.workload} {ps} -p {self.procs}{os_}"


def cell_key(ident):
    """The resume key of a cell (without rep): canonical JSON."""
    return json.dumps(ident, sort_keys=True, separators=(",", ":"))


@dataclass
class Plan:
    name: str
    title: str
    figure: str
    description: str
    seed: int
    profile: str
    cells: list
    notes: list = field(default_factory=list)   # models/workloads skipped, and why


# ---------------------------------------------------------------- loading

def load(path):
    """Parse and structurally validate a file; returns the raw dict."""
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as e:
        raise SpecError(f"{path}: cannot read: {e.strerror}")
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: TOML syntax error: {e}")
    except UnicodeDecodeError as e:
        raise SpecError(f"{path}: not UTF-8 text (byte {e.start})")
    check_document(path, doc, top=True)
    return doc


def _fail(path, key, msg):
    raise SpecError(f"{path}: {key}: {msg}")


def _desc(v):
    kind = {bool: "boolean", int: "integer", float: "float", str: "string",
            list: "array", dict: "table"}.get(type(v), type(v).__name__)
    return f"{kind} {json.dumps(v, default=str)[:40]}"


def _is_int(v):
    return type(v) is int


def _check_keys(path, key, table, allowed):
    if not isinstance(table, dict):
        _fail(path, key, f"expected a table, got {_desc(table)}")
    for k in table:
        if k not in allowed:
            _fail(path, f"{key}.{k}" if key else k,
                  f"unknown key (expected one of: {', '.join(allowed)})")


def check_document(path, doc, top, pre=""):
    """Shapes and types of every key; `pre` names a profile ("profile.quick.")."""
    allowed = ("experiment", "workload", "model") + (("profile",) if top else ())
    _check_keys(path, pre[:-1], doc, allowed)
    exp = doc.get("experiment", {})
    _check_keys(path, pre + "experiment", exp, EXPERIMENT_KEYS)
    check_settings(path, pre + "experiment", exp)
    for k, v in exp.items():
        check_experiment_value(path, f"{pre}experiment.{k}", k, v)
    for w, wt in _table(path, pre + "workload", doc.get("workload", {})).items():
        check_workload_table(path, f"{pre}workload.{w}", wt)
    for m, mt in _table(path, pre + "model", doc.get("model", {})).items():
        _check_keys(path, f"{pre}model.{m}", mt, MODEL_KEYS)
        check_settings(path, f"{pre}model.{m}", mt)
        for w, wt in _table(path, f"{pre}model.{m}.workload", mt.get("workload", {})).items():
            check_workload_table(path, f"{pre}model.{m}.workload.{w}", wt)
    if top:
        for p, pt in _table(path, "profile", doc.get("profile", {})).items():
            check_document(path, _table(path, f"profile.{p}", pt), False, f"profile.{p}.")


def _table(path, key, v):
    if not isinstance(v, dict):
        _fail(path, key, f"expected a table, got {_desc(v)}")
    return v


def check_workload_table(path, key, wt):
    _check_keys(path, key, wt, WORKLOAD_KEYS)
    check_settings(path, key, wt)
    params = _table(path, f"{key}.params", wt.get("params", {}))
    for p, v in params.items():
        vals = v if isinstance(v, list) else [v]
        if not vals:
            _fail(path, f"{key}.params.{p}", "empty array")
        for x in vals:
            if not (_is_int(x) or isinstance(x, str)):
                _fail(path, f"{key}.params.{p}",
                      f"expected an integer, a string or an array of them, got {_desc(x)}")


def check_experiment_value(path, key, k, v):
    if k in ("name",):
        if not isinstance(v, str) or not NAME.fullmatch(v):
            _fail(path, key, f"expected a lower-case name [a-z0-9_-], got {_desc(v)}")
    elif k in ("title", "description"):
        if not isinstance(v, str):
            _fail(path, key, f"expected a string, got {_desc(v)}")
    elif k == "figure":
        if v not in FIGURES:
            _fail(path, key, f"expected one of {', '.join(FIGURES)}, got {_desc(v)}")
    elif k == "models":
        if v != "all" and not (isinstance(v, list) and v and all(isinstance(x, str) for x in v)):
            _fail(path, key, f'expected "all" or a non-empty array of model names, got {_desc(v)}')
    elif k == "seed":
        if not _is_int(v):
            _fail(path, key, f"expected an integer, got {_desc(v)}")


def _in_range(k, x):
    lo, hi = RANGES[k]
    return _is_int(x) and lo <= x <= hi


def check_settings(path, key, t):
    for k in SETTINGS:
        if k not in t:
            continue
        v, kk = t[k], f"{key}.{k}"
        if k == "procs":
            ok = v in ("all", "max") or _in_range(k, v) or (
                isinstance(v, list) and v and all(_in_range(k, x) or x == "max" for x in v))
            if not ok:
                _fail(path, kk, 'expected an integer 1..1024, "all", "max" or an array of '
                      f"integers and \"max\", got {_desc(v)}")
        elif k in ("reps", "warmup"):
            lo, hi = RANGES[k]
            if not _in_range(k, v):
                _fail(path, kk, f"expected an integer {lo}..{hi}, got {_desc(v)}")
        elif k == "timeout_s":
            if not (type(v) in (int, float) and math.isfinite(v) and 0 < v <= MAX_TIMEOUT_S):
                _fail(path, kk, f"expected a number of seconds > 0 and <= {MAX_TIMEOUT_S}, "
                      f"got {_desc(v)}")
        elif k == "split_reps":
            if type(v) is not bool:
                _fail(path, kk, f"expected true or false, got {_desc(v)}")
        elif k == "placement":
            for x in _listify(v):
                if not (isinstance(x, str) and PLACEMENT.fullmatch(x) and _pus_ordered(x)):
                    _fail(path, kk, "expected none, compact, scatter or pus:LIST (e.g. pus:0,2-3), "
                          f"or an array of them, got {_desc(x)}")
        else:  # slice_us, stack_kb
            lo, hi = RANGES[k]
            if not all(_in_range(k, x) for x in _listify(v)):
                _fail(path, kk, f"expected an integer {lo}..{hi} or an array of them, "
                      f"got {_desc(v)}")
    if "skip" in t and type(t["skip"]) is not bool:
        _fail(path, f"{key}.skip", f"expected true or false, got {_desc(t['skip'])}")


def _pus_ordered(policy):
    """pus:LIST ranges run upwards (2-3, not 3-2), as tmbench requires."""
    ranges = policy[4:].split(",") if policy.startswith("pus:") else []
    return all(int(r.partition("-")[0]) <= int(r.partition("-")[2] or r) for r in ranges)


# ---------------------------------------------------------------- profiles

def deep_merge(base, over):
    """Tables merge key by key; everything else (arrays too) is replaced."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def with_profile(path, doc, profile):
    profiles = doc.get("profile", {})
    if profile not in profiles:
        have = ", ".join(profiles) or "none"
        raise SpecError(f"{path}: profile.{profile}: no such profile (the file has: {have})")
    base = {k: v for k, v in doc.items() if k != "profile"}
    return deep_merge(base, profiles[profile])


# ---------------------------------------------------------------- against the build

def check_against_build(path, doc, catalog):
    """Model, workload and param names and values, for the file and every profile.

    Names from the design that this build lacks are accepted here (they are
    skipped with a note when the matrix is expanded)."""
    docs = [("", {k: v for k, v in doc.items() if k != "profile"})]
    docs += [(f"profile.{p}.", pt) for p, pt in doc.get("profile", {}).items()]
    for pre, d in docs:
        models = d.get("experiment", {}).get("models", "all")
        for i, m in enumerate(models if isinstance(models, list) else []):
            _check_model_name(path, f"{pre}experiment.models[{i}]", m, catalog)
        for w, wt in d.get("workload", {}).items():
            _check_workload(path, f"{pre}workload.{w}", w, wt, catalog)
        for m, mt in d.get("model", {}).items():
            _check_model_name(path, f"{pre}model.{m}", m, catalog)
            for w, wt in mt.get("workload", {}).items():
                _check_workload(path, f"{pre}model.{m}.workload.{w}", w, wt, catalog)


def _check_model_name(path, key, m, catalog):
    if m not in catalog.models and m not in DESIGN_MODELS:
        known = sorted(set(catalog.models) | set(DESIGN_MODELS))
        _fail(path, key, f"unknown model '{m}' (known: {', '.join(known)})")


def _check_workload(path, key, w, wt, catalog):
    if w not in catalog.workloads:
        if w in DESIGN_WORKLOADS:
            return  # not in this build: skipped with a note later
        known = sorted(set(catalog.workloads) | set(DESIGN_WORKLOADS))
        _fail(path, key, f"unknown workload '{w}' (known: {', '.join(known)})")
    spec = catalog.workloads[w]
    for p, v in wt.get("params", {}).items():
        if p not in spec:
            _fail(path, f"{key}.params.{p}",
                  f"unknown parameter of {w} (known: {', '.join(spec) or 'none'})")
        for x in (v if isinstance(v, list) else [v]):
            err = param_problem(spec[p], x)
            if err:
                _fail(path, f"{key}.params.{p}", err)


def param_problem(pspec, x):
    if pspec.get("type") == "enum":
        if x not in pspec.get("choices", []):
            return f"expected one of {', '.join(pspec['choices'])}, got {_desc(x)}"
        return None
    if not _is_int(x):
        return f"expected an integer, got {_desc(x)}"
    lo, hi = pspec.get("min"), pspec.get("max")
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        return f"{x} is outside {lo}..{hi}"
    return None


# ---------------------------------------------------------------- expansion

def _listify(v):
    return v if isinstance(v, list) else [v]


def resolve_procs(v, pus):
    if v == "all":
        return list(range(1, pus + 1))
    out = []
    for x in _listify(v):
        n = pus if x == "max" else x
        if n not in out:
            out.append(n)
    return out


def expand(path, doc, profile, catalog, pus, only_models=None):
    """The cells of one profile, in file order (the runner shuffles them)."""
    d = with_profile(path, doc, profile)
    exp = d.get("experiment", {})
    name = exp.get("name") or os.path.splitext(os.path.basename(path))[0]
    if not NAME.fullmatch(name):
        raise SpecError(f"{path}: experiment.name: not set, and the file name '{name}' is not "
                        "a lower-case name [a-z0-9_-]; set it")
    plan = Plan(name=name, title=exp.get("title", name), figure=exp.get("figure", "ns_per_op"),
                description=exp.get("description", ""), seed=exp.get("seed", 1),
                profile=profile, cells=[])
    models = exp.get("models", "all")
    if models == "all":
        models = list(catalog.models) + [m for m in DESIGN_MODELS if m not in catalog.models]
    if only_models:
        models = [m for m in models if m in only_models]
    workloads = d.get("workload", {})
    if not workloads:
        raise SpecError(f"{path}: workload: no [workload.<name>] table")
    for w, wt in workloads.items():
        if wt.get("skip"):
            continue
        if w not in catalog.workloads:
            plan.notes.append(f"workload {w}: not in this build, skipped")
    seen = set()
    for m in models:
        if m not in catalog.models:
            plan.notes.append(f"model {m}: not in this build, skipped")
            continue
        info = catalog.models[m]
        mt = d.get("model", {}).get(m, {})
        if mt.get("skip"):
            plan.notes.append(f"model {m}: skipped by the experiment file")
            continue
        for w, wt in workloads.items():
            if wt.get("skip") or w not in catalog.workloads:
                continue
            if info.get("peer") and "workloads" in info and w not in info["workloads"]:
                plan.notes.append(f"model {m}: no {w} in this peer, skipped")
                continue
            mw = mt.get("workload", {}).get(w, {})
            if mw.get("skip"):
                continue
            for cell in _cells(m, info, w, catalog.workloads[w], exp, wt, mt, mw, pus, plan):
                if cell.key() not in seen:
                    seen.add(cell.key())
                    plan.cells.append(cell)
    return plan


def _cells(m, info, w, wspec, exp, wt, mt, mw, pus, plan):
    s = dict(DEFAULTS)
    for layer in (exp, wt, mt, mw):
        s.update({k: layer[k] for k in SETTINGS if k in layer})
    procs = resolve_procs(s["procs"], pus)
    if "parallel" not in info.get("caps", []) and "procs" not in mt and "procs" not in mw:
        if procs != [1]:
            note = f"model {m}: not parallel, run with procs 1 only"
            if note not in plan.notes:
                plan.notes.append(note)
        procs = [1]
    params = dict(wt.get("params", {}))
    params.update(mw.get("params", {}))
    names = list(wspec)  # catalogue order
    grid = [_listify(params[p]) if p in params else [wspec[p].get("default")] for p in names]
    axes = [(k, _listify(s[k])) for k in OPTION_AXES if _listify(s[k])]
    for pvals in itertools.product(*grid):
        for n in procs:
            for ovals in itertools.product(*[v for _, v in axes]):
                yield Cell(model=m, workload=w, params=dict(zip(names, pvals)), procs=n,
                           options=dict(zip([k for k, _ in axes], ovals)), reps=s["reps"],
                           warmup=s["warmup"], timeout_s=float(s["timeout_s"]),
                           split_reps=s["split_reps"], peer=bool(info.get("peer")))
