"""One PySyncObj node for ``bench throughput --pysyncobj`` (run as ``python -m quorumlab.bench.throughput._pysyncobj_node``).

Arguments: this node's address, its partners (comma-separated), the result file, command size,
duration (s) and commands outstanding. Every node waits for a leader; a follower serves until
the harness stops it; the leader drives ``ReplDict.set`` with callbacks for the duration and
writes the latencies to the result file (PySyncObj's best case: the driver is in its leader).
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time

from pysyncobj import SyncObj, SyncObjConf
from pysyncobj.batteries import ReplDict


def main() -> None:
    me, partners, out = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
    size, duration, outstanding = int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
    conf = SyncObjConf(appendEntriesUseBatch=outstanding > 1, dynamicMembershipChange=False)
    d = ReplDict()
    o = SyncObj(me, partners, consumers=[d], conf=conf)
    while o._getLeader() is None or not o.isReady():  # PySyncObj has no public "who leads"
        time.sleep(0.05)
    d.set("warm", "up", sync=True)
    if not o._isLeader():
        while True:  # a follower: serve until the harness stops it
            time.sleep(1)
    value = "v" * size
    slots = threading.Semaphore(outstanding)
    lock = threading.Lock()
    lat: list[float] = []
    errors = [0]

    def done(t0: float):
        def cb(result, error):
            with lock:
                if error == 0:
                    lat.append(time.perf_counter() - t0)
                else:
                    errors[0] += 1
            slots.release()
        return cb

    start = time.perf_counter()
    end = start + duration
    k = 0
    while time.perf_counter() < end:
        if not slots.acquire(timeout=0.1):
            continue
        k += 1
        d.set("k%d" % (k % 1000), value, callback=done(time.perf_counter()))
    give_up = time.perf_counter() + 10
    returned = 0
    while returned < outstanding and slots.acquire(timeout=max(0.0, give_up - time.perf_counter())):
        returned += 1
    elapsed = time.perf_counter() - start
    with lock:
        doc = json.dumps({"lat": lat, "errors": errors[0] + outstanding - returned, "elapsed": elapsed})
    with open(out + ".tmp", "w") as fh:
        fh.write(doc)
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
