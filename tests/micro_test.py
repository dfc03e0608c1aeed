#!/usr/bin/env python3
"""micro_test.py — smoke test of tmbench-micro (the Google Benchmark shim).

    micro_test.py TMBENCH_MICRO TMBENCH

Runs every benchmark family briefly, twice, as JSON, and checks:
  * each family (spawn, yield, pingpong, mutex) exists for every model that
    `tmbench list --json` shows with peer false, and each yardstick
    (ctx_switch/tm_*, ctx_switch/boost_fcontext when built with Boost,
    spawn/bare_pthread) exists;
  * every run finished without error, with real_time > 0 and
    items_per_second > 0;
  * the context names the models;
  * compare.py accepts the two files (exit 0), when it is installed with
    its numpy/scipy (python3-scipy); otherwise that check is skipped, saying so.
Standard library only.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

MICRO, TMBENCH = sys.argv[1], sys.argv[2]
FAMILIES = ["spawn", "yield", "pingpong", "mutex"]
FILTER = "^(spawn|yield|pingpong|mutex|ctx_switch)/"
COMPARE = "/usr/share/benchmark/compare.py"


def models():
    out = subprocess.run([TMBENCH, "list", "--json"], check=True, capture_output=True, text=True)
    return [m["name"] for m in json.loads(out.stdout)["models"] if not m.get("peer")]


def run_micro(out_path):
    """One short run of every family; returns the parsed JSON (also in out_path)."""
    cmd = [MICRO, "--benchmark_filter=" + FILTER, "--benchmark_min_time=0.01",
           "--benchmark_format=json", "--benchmark_out_format=json",
           "--benchmark_out=" + out_path]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"tmbench-micro exited {p.returncode}: {p.stderr[-2000:]}")
    stdout_doc = json.loads(p.stdout)  # --benchmark_format=json on stdout
    with open(out_path) as f:
        file_doc = json.load(f)  # --benchmark_out= file
    return stdout_doc, file_doc


def base_name(run):
    """"spawn/coro/process_time/real_time" -> "spawn/coro"."""
    parts = run["name"].split("/")
    while parts and parts[-1] in ("process_time", "real_time", "manual_time"):
        parts.pop()
    return "/".join(parts)


def python_with_scipy():
    """Debian's interpreter (where python3-scipy lands), else ours; None if neither has it."""
    for py in ("/usr/bin/python3", sys.executable):
        if os.path.exists(py) and subprocess.run(
                [py, "-c", "import numpy, scipy.stats"], capture_output=True).returncode == 0:
            return py
    return None


class MicroTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.models = models()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.files = [os.path.join(cls.tmp.name, n) for n in ("a.json", "b.json")]
        cls.docs = [run_micro(f) for f in cls.files]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def runs(self, doc):
        return {base_name(r): r for r in doc["benchmarks"] if r.get("run_type") == "iteration"}

    def expected(self, doc):
        names = [f"{f}/{m}" for f in FAMILIES for m in self.models]
        names += ["spawn/bare_pthread"]
        if doc["context"].get("tm.boost_context", "none") != "none":
            names.append("ctx_switch/boost_fcontext")
        return names

    def test_models_listed(self):
        self.assertTrue(self.models, "tmbench list shows no model")
        for stdout_doc, _ in self.docs:
            self.assertEqual(stdout_doc["context"]["tm.models"].split(","), self.models)

    def test_every_benchmark_ran(self):
        for doc in (d for pair in self.docs for d in pair):
            runs = self.runs(doc)
            tm_ctx = [n for n in runs if n.startswith("ctx_switch/tm_")]
            self.assertEqual(len(tm_ctx), 1, f"ctx_switch/tm_* missing: {sorted(runs)}")
            for name in self.expected(doc) + tm_ctx:
                with self.subTest(name=name):
                    self.assertIn(name, runs, f"missing; have {sorted(runs)}")
                    r = runs[name]
                    self.assertFalse(r.get("error_occurred"), r.get("error_message"))
                    self.assertGreater(r["real_time"], 0)
                    self.assertGreater(r.get("items_per_second", 0), 0)

    def test_compare_py(self):
        if not os.path.exists(COMPARE):
            self.skipTest(f"{COMPARE} not installed (libbenchmark-tools)")
        py = python_with_scipy()
        if py is None:
            self.skipTest("compare.py needs numpy and scipy (python3-scipy)")
        p = subprocess.run([py, COMPARE, "benchmarks"] + self.files, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout[-2000:] + p.stderr[-2000:])
        self.assertIn("OVERALL_GEOMEAN", p.stdout)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
