#!/usr/bin/env python3
"""Peers (go, boost) through the tmbench CLI, and the peer protocol's failure paths.

Usage: peer_test.py TMBENCH
For every peer that was built: every workload it has, at small sizes, gives an
ok, valid record marked as a peer, with the pthreads model's checksum. Then
fake peers (this script, re-run as a child) check that an unsupported
workload, a missing peer, a crash, garbage, silence and a wrong checksum are
each one clear record and exit 1, never a crash. Standard library only.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

TMBENCH = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
from small_params import SMALL  # tests/small_params.py


def run(args, env=None, timeout=120):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([TMBENCH, *args], capture_output=True, text=True, timeout=timeout, env=e)


def records(p):
    return [json.loads(x) for x in p.stdout.splitlines() if x.strip()]


def run_json(model, workload, extra=(), env=None):
    args = ["run", "-m", model, "-w", workload, "--format", "json"]
    for kv in SMALL.get(workload, []):
        args += ["--set", kv]
    p = run(args + list(extra), env)
    recs = records(p)
    assert recs, f"{model}/{workload}: no record (exit {p.returncode}): {p.stderr!r}"
    return p, recs


def check_failed(p, recs, status, needle):
    """One record, not ok, exit 1, a one-line error naming the cause."""
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert len(recs) == 1, recs
    r = recs[0]
    assert r["status"] == status and r["valid"] is False, r
    assert "\n" not in r["error"] and needle in r["error"], r["error"]
    assert "machine" in r and "build" in r and r["schema"] == "tmbench/1"
    return r


def real_peers(listing):
    """Each built peer: workloads, the pthreads checksum, the peer marker."""
    peers = [m for m in listing["models"] if m.get("peer")]
    here = os.path.dirname(TMBENCH)
    for name in ("go", "boost"):  # listed exactly when built
        built = os.access(os.path.join(here, "tmbench-" + name), os.X_OK)
        assert built == any(m["name"] == name for m in peers), (name, built, peers)
    assert all(m["peer"] is False for m in listing["models"] if m["name"] in ("pthreads", "coro"))
    catalogue = [w["name"] for w in listing["workloads"]]
    sums = {}
    for peer in peers:
        assert peer["version"], peer
        for w in peer["workloads"]:
            assert w in catalogue, f"{peer['name']} has '{w}', which the C catalogue lacks"
            if w not in sums:
                p, recs = run_json("pthreads", w)
                assert recs[-1]["status"] == "ok", recs[-1]
                sums[w] = recs[-1]["checksum"]
            p, recs = run_json(peer["name"], w, ["--reps", "2", "--warmup", "1"])
            assert p.returncode == 0, (peer["name"], w, p.returncode, recs[-1].get("error"))
            assert [r["rep"] for r in recs] == [0, 1], recs
            for r in recs:
                assert r["model"] == peer["name"] and r["workload"] == w
                assert r["peer"] == {"name": peer["name"], "version": peer["version"]}, r["peer"]
                assert r["status"] == "ok" and r["valid"] is True, r
                assert r["checksum"] == sums[w] == r["expected"], (peer["name"], w, r["checksum"], sums[w])
                assert r["wall_ns"] > 0 and r["ops"] > 0 and r["max_rss_kb"] > 0, r
            print(f"{peer['name']:6} {w:9} ok  checksum {r['checksum']}  {r['ns_per_op']:.1f} ns/op")
        missing = [w for w in catalogue if w not in peer["workloads"] and w != "overflow"]
        if missing:  # a workload the peer does not have: unsupported, one line, exit 1
            p, recs = run_json(peer["name"], missing[0])
            check_failed(p, recs, "unsupported", missing[0])
            assert recs[0]["peer"]["name"] == peer["name"]
    if any(m["name"] == "boost" for m in peers):
        p, recs = run_json("boost", "yield", ["-p", "2"])
        check_failed(p, recs, "unsupported", "--procs must be 1")
    if any(m["name"] == "go" for m in peers):
        p, recs = run_json("go", "fib", ["-p", "1"])
        assert recs[0]["procs"] == 1 and recs[0]["status"] == "ok", recs[0]
    return len(peers)


# ---- fake peers: this script as a peer executable ----

FAKE_HELLO = {"protocol": "tmbench-peer/1", "name": "go", "version": "fake 1.0"}


def fake_peer(mode, argv):
    """Behave as a peer would, or as a broken one would (mode)."""
    out = sys.stdout
    if argv[:1] == ["info"]:
        print(json.dumps(dict(FAKE_HELLO, workloads=["spawn"])), flush=True)
        return 0
    if "FAKE_ARGV" in os.environ:
        with open(os.environ["FAKE_ARGV"], "w") as f:
            json.dump(argv, f)
    hello = dict(FAKE_HELLO, protocol="tmbench-peer/9") if mode == "protocol" else FAKE_HELLO
    print(json.dumps(hello), flush=True)
    ok = {"warmup": False, "rep": 0, "status": "ok", "wall_ns": 1000, "cpu_user_ns": 0,
          "cpu_sys_ns": 0, "max_rss_kb": 1, "ctx_vol": 0, "ctx_invol": 0, "ops": 10,
          "checksum": 2000, "metrics": {"m": 1.5}, "runtime": {"gc_cycles": 3}}
    if mode == "crash":
        out.flush()
        os.kill(os.getpid(), signal.SIGSEGV)
    elif mode == "garbage":
        print("this is not JSON", flush=True)
    elif mode == "silent":
        time.sleep(60)
    elif mode == "panic":
        print("panic: boom\n\ngoroutine 1 [running]:", file=sys.stderr)
        return 2
    elif mode == "checksum":
        print(json.dumps(dict(ok, checksum=42)), flush=True)
    elif mode == "ok":
        print(json.dumps(ok), flush=True)
    elif mode == "short":  # one of two repetitions, then a clean exit
        print(json.dumps(ok), flush=True)
    elif mode == "warmfail":
        print(json.dumps(dict(ok, warmup=True, status="failed", error="out of cheese")), flush=True)
        return 1
    return 0


def fakes():
    with tempfile.TemporaryDirectory() as d:
        exe = os.path.join(d, "fake-peer")
        with open(exe, "w") as f:
            f.write(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n"
                    "import peer_test, os\n"
                    "sys.exit(peer_test.fake_peer(os.environ['FAKE_MODE'], sys.argv[1:]))\n")
        os.chmod(exe, 0o755)
        argv_file = os.path.join(d, "argv.json")

        def fake(mode, extra=(), env=None):
            e = {"TMBENCH_PEER_GO": exe, "FAKE_MODE": mode, "FAKE_ARGV": argv_file}
            e.update(env or {})
            t0 = time.monotonic()
            p, recs = run_json("go", "spawn", extra, e)
            return p, recs, time.monotonic() - t0

        # a good fake: resolved arguments in, a full record out
        p, recs, _ = fake("ok", ["-p", "1"])
        assert p.returncode == 0, (p.returncode, recs)
        r = recs[0]
        assert r["status"] == "ok" and r["valid"] and r["peer"] == {"name": "go", "version": "fake 1.0"}, r
        assert r["metrics"] == {"m": 1.5, "gc_cycles": 3}, r["metrics"]
        assert r["slice_us"] == 10000 and r["stack_kb"] is None, r
        assert json.load(open(argv_file)) == ["run", "spawn", "--procs", "1", "--reps", "1", "--warmup", "0",
                                              "--tmbench", os.path.realpath(TMBENCH),
                                              "--set", "tasks=2000", "--set", "batch=100"]
        # each broken peer: one failed record naming the cause, exit 1
        for mode, needle in [("crash", "signal 11"), ("garbage", "bad reply line 2"),
                             ("panic", "panic: boom"), ("checksum", "checksum mismatch: got 42"),
                             ("protocol", "tmbench-peer/9")]:
            p, recs, _ = fake(mode)
            check_failed(p, recs, "failed", needle)
        p, recs, secs = fake("silent", env={"TMBENCH_PEER_TIMEOUT": "1"})
        check_failed(p, recs, "failed", "no reply for 1 s")
        assert secs < 10, secs
        p, recs, _ = fake("short", ["--reps", "2"])
        assert p.returncode == 1 and [r["status"] for r in recs] == ["ok", "failed"], recs
        assert recs[1]["rep"] == 1 and "after 1 of 2 repetitions" in recs[1]["error"], recs[1]
        p, recs, _ = fake("warmfail", ["--warmup", "1"])
        check_failed(p, recs, "failed", "warm-up 1 of 1: out of cheese")
        # listing a peer that exists: from its own `info`
        listing = json.loads(run(["list", "--json"], {"TMBENCH_PEER_GO": exe, "FAKE_MODE": "ok"}).stdout)
        go = [m for m in listing["models"] if m["name"] == "go"]
        assert go and go[0]["peer"] is True and go[0]["version"] == "fake 1.0", go
        assert go[0]["workloads"] == ["spawn"], go
    # a peer that is not there, and options no peer takes
    p, recs = run_json("go", "spawn", env={"TMBENCH_PEER_GO": "/nonexistent/tmbench-go"})
    check_failed(p, recs, "unsupported", "peer not built")
    assert recs[0]["peer"] == {"name": "go", "version": None}, recs[0]
    for opt, needle in [(["--placement", "compact"], "--placement"), (["--slice-us", "100"], "--slice-us"),
                        (["--stack-kb", "16"], "--stack-kb")]:
        p, recs = run_json("go", "spawn", opt)
        check_failed(p, recs, "unsupported", needle)
    # usage errors stay usage errors
    p = run(["run", "-m", "go", "-w", "spawn", "--set", "bogus=1"])
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "bogus" in p.stderr, p
    p = run(["run", "-m", "go", "-w", "spawn"], {"TMBENCH_PEER_TIMEOUT": "soon"})
    assert p.returncode == 2 and "TMBENCH_PEER_TIMEOUT" in p.stderr and p.stdout == "", p


def main():
    t0 = time.monotonic()
    listing = json.loads(run(["list", "--json"]).stdout)
    n = real_peers(listing)
    fakes()
    print(f"ok: {n} peer(s) built, protocol failure paths checked, {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
