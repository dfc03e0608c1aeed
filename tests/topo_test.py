#!/usr/bin/env python3
"""`tmbench topo`: exact plans on synthetic topologies, and bad input.

Usage: topo_test.py TMBENCH
"""
import json
import subprocess
import sys

TMBENCH = sys.argv[1]


def topo(*args):
    return subprocess.run([TMBENCH, "topo", *args], capture_output=True, text=True, timeout=60)


def plan(synthetic, placement, n):
    p = topo("--synthetic", synthetic, "--placement", placement, "-p", str(n), "--json")
    assert p.returncode == 0 and not p.stderr, (p.returncode, p.stderr)
    return json.loads(p.stdout)


def main():
    # the worked example at the top of scheduler/place.c
    ex = "pack:2 core:2 pu:2"
    for placement, pus in [("compact", [[0], [1], [2], [3]]), ("scatter", [[0], [4], [2], [6]]),
                           ("pus:6,7,0-1", [[6], [7], [0], [1]]),
                           ("none", [list(range(8))] * 4)]:
        r = plan(ex, placement, 4)
        assert [w["pus"] for w in r["workers"]] == pus, (placement, r["workers"])
        assert [w["worker"] for w in r["workers"]] == [0, 1, 2, 3]
        assert r["placement"] == placement and r["binds"] == (placement != "none")
        t = r["topology"]
        assert (t["source"], t["synthetic"], t["packages"], t["cores"], t["pus"]) == \
            ("synthetic", ex, 2, 4, 8), t
    r = plan(ex, "compact", 4)
    order = [(v["worker"], v["level"]) for v in r["workers"][0]["steal_order"]]
    assert order == [(1, "smt"), (2, "package"), (3, "package")], order

    r = plan("pack:4 numa:2 core:8 pu:2", "scatter", 8)
    assert [w["pus"][0] for w in r["workers"]] == [0, 32, 64, 96, 16, 48, 80, 112], r["workers"]
    assert r["topology"]["numa_nodes"] == 8 and r["topology"]["pus"] == 128

    # this machine, human output, default -p (one worker per PU)
    p = topo()
    assert p.returncode == 0 and p.stdout.startswith("topology: this machine"), p
    p = topo("--json")
    r = json.loads(p.stdout)
    assert len(r["workers"]) == r["topology"]["pus"], r

    # bad input: one line "tmbench: ..." on stderr, exit 2, nothing on stdout
    for args in [["--synthetic", "pack:2 bogus:3"], ["--xml", "/nonexistent/topo.xml"],
                 ["--placement", "bogus"], ["--placement", "pus:1-"], ["-p", "0"], ["-p", "x"],
                 ["-p", "2000"], ["--synthetic", ex, "--xml", "f.xml"], ["--frob"], ["-p"],
                 ["--synthetic", ex, "--placement", "pus:99"]]:
        p = topo(*args)
        lines = p.stderr.splitlines()
        assert p.returncode == 2 and not p.stdout and len(lines) == 1, (args, p)
        assert lines[0].startswith("tmbench: "), (args, lines)
    p = topo("--help")
    assert p.returncode == 0 and "usage: tmbench topo" in p.stdout
    print("ok topo")
    return 0


if __name__ == "__main__":
    sys.exit(main())
