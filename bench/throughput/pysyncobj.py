"""The same load on PySyncObj, for ``bench throughput --pysyncobj`` (pip install pysyncobj)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from quorumlab.bench.throughput.load import MeasurementFailed, summary
from quorumlab.core.cluster import free_ports

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
"""Where ``bench`` is importable from, for the node processes."""


def measure_pysyncobj(nodes: int, size: int, duration: float, outstanding: int) -> dict:
    """The same load on PySyncObj: ``nodes`` processes; the one that is leader drives ReplDict.set with callbacks.

    Driving from the leader is PySyncObj's best case (a follower forwards each command and learns
    its commit one AppendEntries later), so the comparison never flatters quorumlab, whose
    client is a separate process two ZeroMQ hops away from the leader.
    """
    ports = free_ports(nodes)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH", "")) if p))
    addrs = [f"127.0.0.1:{p}" for p in ports]
    procs = []
    with tempfile.TemporaryDirectory(prefix="quorumlab-pysyncobj-") as tmp:
        out = os.path.join(tmp, "result.json")
        logs = [os.path.join(tmp, f"stderr-{k}.txt") for k in range(nodes)]
        try:
            for me, log in zip(addrs, logs):
                partners = ",".join(a for a in addrs if a != me)
                with open(log, "wb") as err:
                    procs.append(subprocess.Popen(
                        [sys.executable, "-m", "quorumlab.bench.throughput._pysyncobj_node", me, partners, out,
                         str(size), str(duration), str(outstanding)],
                        stdout=subprocess.DEVNULL, stderr=err, cwd=tmp, env=env,
                    ))
            deadline = time.monotonic() + duration + 120
            while not os.path.exists(out):
                if time.monotonic() > deadline:
                    raise MeasurementFailed(f"PySyncObj gave no result within {duration + 120:.0f}s")
                failed = next((k for k, p in enumerate(procs) if p.poll() not in (None, 0)), None)
                if failed is not None:
                    with open(logs[failed], errors="replace") as fh:
                        tail = fh.read()[-2000:]
                    raise MeasurementFailed(f"a PySyncObj process failed; its stderr ends:\n{tail}")
                time.sleep(0.05)
            with open(out) as fh:
                result = json.load(fh)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.wait()
        diverged = 0
        for log in logs:
            with open(log, errors="replace") as fh:
                diverged += sum(DIVERGED in line for line in fh)
    return summary("PySyncObj (in-memory journal, driven at its leader)", result["lat"], result["elapsed"],
                    result["errors"], nodes=nodes, size=size, outstanding=outstanding, diverged_warnings=diverged)


DIVERGED = "state machine may have diverged"
"""What PySyncObj 0.3.17 logs when a follower truncates log entries it has already applied (its own warning)."""
