#!/usr/bin/env python3
"""tmbench demo end to end: every demonstration runs from a clean output
directory in bounded time and leaves its pictures and explanation.

Usage: demo_test.py TMBENCH. Standard library only; every check is an
assertion. Whether a picture shows its effect is for a person to judge
(look at them); this test checks that each one is there, is a real PNG of
projector size and a real SVG, that the explanation is three lines, that
it points to traces only when it wrote some, and that the preemption
explanation says what the coro trace shows.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

TMBENCH = os.path.abspath(sys.argv[1])
DEMOS = ("parallelism", "blocking-read", "preemption", "memory")
LIMIT_S = 120  # "finishes in seconds": generous for a loaded 2-core machine


def run(*args, timeout=LIMIT_S, cwd=None):
    return subprocess.run([TMBENCH, "demo", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG"
    return struct.unpack(">II", head[16:24])


def main():
    # the list, and usage errors: one line "tmbench: ..." and exit 2
    p = run("--list")
    assert p.returncode == 0, p.stderr
    listed = [line.split()[0] for line in p.stdout.splitlines() if line.strip()]
    assert listed == list(DEMOS), listed
    for args, needle in ((["no-such-demo"], "no-such-demo"), ([], "demo"),
                         (["memory", "--bogus"], "--bogus"), (["memory", "--out"], "--out")):
        p = run(*args)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("tmbench: ") and needle in lines[0], \
            (args, p.stderr)
    assert run("--help").returncode == 0

    with tempfile.TemporaryDirectory() as d:
        # an --out that cannot be a directory: one line, exit 2, nothing run
        # (in d, so that a demo run by mistake stays out of the caller's out/)
        regular = os.path.join(d, "regular-file")
        with open(regular, "w") as f:
            f.write("keep")
        for args, needle in ((["--out", "/dev/null"], "/dev/null"), (["--out", regular], regular),
                             (["--out", os.path.join(regular, "sub")], regular),
                             (["--out", ""], "--out"), (["--out="], "--out"), (["-o", ""], "-o")):
            p = run("memory", *args, cwd=d)
            lines = p.stderr.strip().splitlines()
            assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith("tmbench: ") \
                and needle in lines[0], (args, p.returncode, p.stderr)
        assert os.listdir(d) == ["regular-file"], os.listdir(d)
        for name in DEMOS:
            out = os.path.join(d, name)  # does not exist yet: the demo makes it
            t0 = time.monotonic()
            p = run(name, "--out", out)
            took = time.monotonic() - t0
            assert p.returncode == 0, f"{name}: exit {p.returncode}: {p.stderr}"
            for ext in ("png", "svg"):
                path = os.path.join(out, f"{name}.{ext}")
                assert os.path.getsize(path) > 5000, f"{path}: missing or tiny"
            w, h = png_size(os.path.join(out, f"{name}.png"))
            assert w >= 1600 and h >= 600, f"{name}.png is {w}x{h}: too small for a projector"
            with open(os.path.join(out, f"{name}.svg")) as f:
                assert "<svg" in f.read(2000), f"{name}.svg: not an SVG"
            with open(os.path.join(out, "explanation.txt")) as f:
                lines = f.read().splitlines()
            assert len(lines) == 3 and all(len(x) > 20 for x in lines), (name, lines)
            for line in lines:
                assert line in p.stdout, f"{name}: explanation not printed: {line!r}"
            assert os.path.getsize(os.path.join(out, "records.jsonl")) > 0, name
            tdir = os.path.join(out, "traces")
            traces = os.listdir(tdir) if os.path.isdir(tdir) else []
            assert bool(traces) == (name != "memory"), (name, traces)  # memory draws no schedule
            assert ("perfetto" in p.stdout) == bool(traces), f"{name}: traces line: {p.stdout}"
            assert not [f for f in os.listdir(out) if ".tmp." in f], os.listdir(out)
            if name == "preemption":
                check_preemption(tdir, lines)
            print(f"{name}: ok in {took:.1f} s, {w}x{h}")
            for line in lines:
                print("   ", line)
    return 0


def check_preemption(tdir, lines):
    """The hogs spin until one deadline, not for 100 ms each: on coro the first
    hog spins the whole time and the other none of it. The text must say so."""
    text = " ".join(lines)
    assert "ms each" not in text and "100 ms after the start" in lines[0], lines
    path = os.path.join(tdir, "coro-hoglat.json")
    if not os.path.exists(path):
        return
    with open(path) as f:
        events = json.load(f)["traceEvents"]
    spawned = [e["args"]["task"] for e in events if e.get("name") == "spawn"]
    spun = {t: 0.0 for t in spawned[-2:]}  # the hogs start last
    for e in events:
        if e.get("cat") == "run" and e["args"]["task"] in spun:
            spun[e["args"]["task"]] += e["dur"] / 1000
    low, high = sorted(spun.values())
    assert low < 10 and high > 90, f"coro hogs spun {spun} ms: the explanation is out of date"
    assert "stops at once" in text, lines


if __name__ == "__main__":
    sys.exit(main())
