"""Parameters that keep each workload's run short, shared by the tests that
run every workload (matrix_test.py on the models, peer_test.py on the peers).
A "name/variant" key runs workload `name` again with other parameters."""

SMALL = {
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
    "hoglat": ["hogs=1", "duration_ms=50"],
}
