#!/usr/bin/env python3
"""Every workload x every built model: status ok, valid, and one checksum.

Usage: matrix_test.py TMBENCH [MODEL...]   (default: every model `tmbench list` shows)
Sizes are small so the whole matrix runs in seconds, even under sanitizers.
"""
import json
import subprocess
import sys

TMBENCH = sys.argv[1]
SMALL = {  # per workload: parameters that keep the run short
    "spawn": ["tasks=2000", "batch=100"],
    "yield": ["tasks=4", "iters=2000"],
    "pingpong": ["iters=2000"],
    "mutex": ["tasks=4", "iters=2000"],
    "idle": ["tasks=2000"],
    "fib": ["n=20", "cutoff=10"],
    "skynet": ["tasks=10000"],
    "parfor": ["tasks=16", "work=2000"],
    "sleep": ["tasks=8", "us=200", "iters=5"],
    "ring": ["tasks=16", "hops=500"],
    "ring/chan": ["tasks=16", "hops=500", "via=chan"],
    "echo": ["conns=4", "duration_ms=300"],
    "http": ["conns=4", "duration_ms=300"],
    "blockio": ["blockers=1", "delay_us=20000"],
    "hoglat": ["hogs=1", "duration_ms=100"],
}
SKIP = {"overflow"}  # diagnostic: fails on purpose; tested on its own
# "name/variant" rows run the workload `name` again with other parameters.


def main():
    listing = json.loads(subprocess.run([TMBENCH, "list", "--json"], check=True,
                                        capture_output=True, text=True).stdout)
    models = sys.argv[2:] or [m["name"] for m in listing["models"] if not m.get("peer")]
    names = [w["name"] for w in listing["workloads"] if w["name"] not in SKIP]
    workloads = names + [k for k in SMALL if "/" in k and k.split("/")[0] in names]
    failures = []
    for w in workloads:
        sums = {}
        for m in models:
            args = [TMBENCH, "run", "-m", m, "-w", w.split("/")[0], "--format", "json"]
            for kv in SMALL.get(w, []):
                args += ["--set", kv]
            p = subprocess.run(args, capture_output=True, text=True, timeout=600)
            lines = [x for x in p.stdout.splitlines() if x.strip()]
            if not lines:
                failures.append(f"{m}/{w}: no record (exit {p.returncode}): {p.stderr.strip()}")
                continue
            r = json.loads(lines[-1])
            if r["status"] != "ok" or not r["valid"] or p.returncode != 0:
                failures.append(f"{m}/{w}: status {r['status']} valid {r['valid']} "
                                f"exit {p.returncode}: {r.get('error', '')}")
            sums[m] = r["checksum"]
            print(f"{m:10} {w:9} {r['status']:7} checksum {r['checksum']}")
        if len(set(sums.values())) > 1:
            failures.append(f"{w}: checksums differ across models: {sums}")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
