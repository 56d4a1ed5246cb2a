"""Measure the linearizability checker: time and peak memory, compiled and twin, on generated histories.

    .venv/bin/python -m tests.bench.measure_check --sizes 10000,100000,1000000 --keys 5,50

Each history is generated once (quorumlab.core.check.generate: 8 clients, one operation
outstanding each, 3% info, 1% fail, seed 0) and written as a history file.
Then each (history, implementation) runs in a fresh interpreter
(QUORUMLAB_PURE_PYTHON=1 for the twin) that loads the file and checks it,
and reports the load time, the check time (``check()``: validation,
partitioning, search), the verdict, the RSS once the history is loaded and
the peak RSS of the process (ru_maxrss). Runs one at a time: the machine
is shared, so read the ratios more than the absolute numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def rss_mb() -> float:
    """The current resident set size, from /proc."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def one(path: str, timeout_s: float) -> dict:
    """Load and check one history file in this process (the child's side)."""
    import quorumlab.core
    from quorumlab.core.check import check
    from quorumlab.core.check.history_format import load_history

    t0 = time.perf_counter()
    history = load_history(path)
    loaded = time.perf_counter() - t0
    after_load = rss_mb()
    t0 = time.perf_counter()
    result = check(history, timeout_s=timeout_s)
    checked = time.perf_counter() - t0
    return {"ops": result.operations, "partitions": len(result.partitions), "verdict": result.verdict.value,
            "load_s": loaded, "check_s": checked, "steps": sum(p.steps for p in result.partitions),
            "rss_loaded_mb": after_load, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "implementation": result.implementation, "accelerated": quorumlab.core.ACCELERATED}


def run(path: Path, pure: bool, timeout_s: float) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "QUORUMLAB_PURE_PYTHON"}
    if pure:
        env["QUORUMLAB_PURE_PYTHON"] = "1"
    out = subprocess.run([sys.executable, "-m", "tests.bench.measure_check", "--one", str(path),
                          "--timeout", str(timeout_s)], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--keys", default="5,50")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=600.0, help="check() time limit per run, seconds")
    parser.add_argument("--out", help="also write the rows as JSON here")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.timeout)))
        return
    from quorumlab.core.check.generate import generate
    from quorumlab.core.check.history_format import write_history

    rows = []
    print("| operations | keys | implementation | load (s) | check (s) | verdict | peak RSS (MB) | RSS after load (MB) |")
    print("|---:|---:|---|---:|---:|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(s) for s in args.sizes.split(",")]:
            for keys in [int(k) for k in args.keys.split(",")]:
                path = Path(tmp) / f"h{n}-{keys}.jsonl"
                write_history(generate(n, keys=keys, clients=args.clients, seed=0), path)
                for pure in (False, True):
                    r = run(path, pure, args.timeout)
                    r.update(keys=keys, twin=pure)
                    rows.append(r)
                    name = "python twin" if pure else "compiled"
                    print(f"| {n:,} | {keys} | {name} | {r['load_s']:.2f} | {r['check_s']:.2f} | {r['verdict']} | "
                          f"{r['peak_rss_mb']:.0f} | {r['rss_loaded_mb']:.0f} |", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
