"""Talking to tmbench: the catalogue (`list --json`), the probe run, machine.json.

The machine tag names the directory a sweep's results go to. It is derived
deterministically from the machine as tmbench reports it:

    <cpu model>-<PUs>pu-linux<kernel major>      e.g. amd-epyc-2pu-linux6

lower-cased, "(R)", "(TM)", "CPU", "Processor" and any "@ 2.40GHz" dropped,
every run of other characters turned into one "-", at most 48 characters.
`--machine-tag` overrides it.
"""
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_TMBENCH = os.path.join(ROOT, "build", "release", "workloads", "harness", "tmbench")


class BenchError(Exception):
    """tmbench is missing or misbehaves; str() is a one-line message."""


@dataclass
class Catalog:
    models: dict      # name -> the model object of `tmbench list --json`
    workloads: dict   # name -> {param name -> param object}, in catalogue order
    raw: dict


def find_tmbench(arg):
    path = arg or os.environ.get("TMBENCH") or DEFAULT_TMBENCH
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise BenchError(f"tmbench not found at {path} (build it with scripts/build, "
                         "or pass --tmbench PATH)")
    return os.path.abspath(path)


def catalog(tmbench):
    try:
        p = subprocess.run([tmbench, "list", "--json"], capture_output=True, text=True,
                           timeout=60)
        raw = json.loads(p.stdout)
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
        raise BenchError(f"{tmbench} list --json: {e}")
    models = {m["name"]: m for m in raw.get("models", [])}
    workloads = {w["name"]: {p["name"]: p for p in w.get("params", [])}
                 for w in raw.get("workloads", [])}
    return Catalog(models=models, workloads=workloads, raw=raw)


def probe(tmbench, cat):
    """One cheap unrecorded run, for the machine{} and build{} tmbench reports."""
    model = next((n for n, m in cat.models.items() if not m.get("peer")), None)
    if model is None or not cat.workloads:
        raise BenchError(f"{tmbench} list --json: no model or no workload")
    w = "yield" if "yield" in cat.workloads else next(iter(cat.workloads))
    sets = []
    for p in cat.workloads[w].values():  # every integer parameter at its minimum
        if p.get("type") == "int" and p.get("min") is not None:
            sets += ["--set", f"{p['name']}={p['min']}"]
    cmd = [tmbench, "run", "-m", model, "-w", w, "-p", "1", *sets, "--format", "json"]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        rec = json.loads(p.stdout.splitlines()[0])
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError, IndexError) as e:
        raise BenchError(f"probe run failed: {' '.join(cmd)}: {e}")
    return rec.get("machine", {}), rec.get("build", {})


def machine_tag(machine):
    cpu = machine.get("cpu_model") or platform.processor() or "cpu"
    cpu = re.sub(r"\((r|tm)\)|\bcpu\b|\bprocessor\b|@.*$", " ", cpu.lower())
    kernel = (machine.get("kernel") or platform.release()).split(".")[0]
    tag = f"{cpu}-{machine.get('pus', os.cpu_count())}pu-linux{kernel}"
    return re.sub(r"[^a-z0-9]+", "-", tag).strip("-")[:48]


def _cmd_text(cmd):
    if not shutil.which(cmd[0]):
        return None
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return p.stdout if p.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def governor():
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor") as f:
            return f.read().strip()
    except OSError:
        return None


def gnuplot_version():
    text = _cmd_text(["gnuplot", "--version"])
    return text.strip() if text else None


def machine_info(tmbench, cat, machine, build):
    """Everything machine.json holds: tmbench's machine{} and build{} + lstopo."""
    lstopo = (_cmd_text(["lstopo-no-graphics", "--of", "console"])
              or _cmd_text(["lstopo", "--of", "console"]))
    return {
        "schema": "tmbench-machine/1",
        "tag": machine_tag(machine),
        "machine": machine,
        "build": build,
        "uname": " ".join(platform.uname()),
        "governor": governor(),
        "lstopo": lstopo,
        "hwloc_summary": {k: machine.get(k) for k in ("pus", "cores", "packages", "numa_nodes")},
        "models": [{k: m.get(k) for k in ("name", "peer", "version", "caps") if k in m}
                   for m in cat.models.values()],
        "tmbench": tmbench,
        "python": sys.version.split()[0],
        "gnuplot": gnuplot_version(),
        "written": now_rfc3339(),
    }


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def write_json_atomic(path, obj):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
