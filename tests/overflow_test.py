#!/usr/bin/env python3
"""A task that overflows its stack ends the run well, on one model.

Usage: overflow_test.py TMBENCH MODEL
Runs the `overflow` workload with --format json and -o: the process must
exit 1 (not hang, not die of a signal), print the one-line report naming the
task, the model and the stack size on stderr, and leave the same failed
record on stdout and in the -o file, with every contract field.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

TMBENCH, MODEL = sys.argv[1], sys.argv[2]
FIELDS = ["schema", "model", "workload", "procs", "placement", "params", "rep", "status", "valid",
          "checksum", "wall_ns", "cpu_user_ns", "cpu_sys_ns", "max_rss_kb", "ctx_vol", "ctx_invol",
          "ops", "ops_per_s", "ns_per_op", "metrics", "machine", "build", "timestamp", "error"]

with tempfile.TemporaryDirectory() as d:
    out = os.path.join(d, "r.jsonl")
    with open(out, "w") as f:
        f.write('{"earlier": "record"}\n')  # appended to, never truncated
    p = subprocess.run([TMBENCH, "run", "-m", MODEL, "-w", "overflow", "--stack-kb", "32",
                        "--format", "json", "-o", out], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1, f"exit {p.returncode}; stderr {p.stderr!r}"
    m = re.search(r"stack overflow in (task|goroutine) \d+ \(model (\w+), stack 32 KiB\)", p.stderr)
    assert m and m.group(2) == MODEL, p.stderr
    printed = json.loads(p.stdout.strip().splitlines()[-1])
    lines = open(out).read().splitlines()
    assert lines[0] == '{"earlier": "record"}', lines[0]
    saved = json.loads(lines[-1])
    assert printed == saved, (printed, saved)
    for k in FIELDS:
        assert k in saved, f"record lacks {k}"
    assert saved["status"] == "failed" and saved["valid"] is False
    assert saved["model"] == MODEL and saved["workload"] == "overflow"
    assert m.group(0) in saved["error"], saved["error"]
print("ok overflow", MODEL)
