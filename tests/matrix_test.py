#!/usr/bin/env python3
"""Every workload x every built model: status ok, valid, and one checksum.

Usage: matrix_test.py TMBENCH [MODEL...]   (default: every model `tmbench list` shows)
Sizes are small so the whole matrix runs in seconds, even under sanitizers.
"""
import json
import subprocess
import sys

TMBENCH = sys.argv[1]
from small_params import SMALL  # tests/small_params.py
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
