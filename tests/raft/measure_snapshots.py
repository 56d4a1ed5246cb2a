"""Measure raft's snapshots: how long writing and restoring an image pauses a node, and catch-up on real processes.

    .venv/bin/python -m tests.raft.measure_snapshots --pause
    .venv/bin/python -m tests.raft.measure_snapshots --catchup 200000 --keys 10000 --every 20000

Pause: a KVStore of K keys (100- or 1000-byte values, 1,000 client sessions) is written to a
snapshot file (FileSnapshots.save: stream, fsync, rename, fsync of the directory), restored
from it, and the file checked as on open; then written again from a forked child
(FileSnapshots.save_in_background, what the ZeroMQ runtime does): the node's event loop pauses
only for the fork.

Catch-up: a 3-process raft cluster (127.0.0.1), one follower SIGKILLed, N puts over K keys
committed in batches of 1,000; then the follower restarts and the time until it has applied
the leader's commit index is measured, with the bytes the leader sent it, whether the leader
changed, and each node's resident memory and log size; then the follower is stopped and
restarted, and the time until it has applied everything again is measured. Run once with
compaction off (from the log) and once with ``snapshot_entries`` = E (by InstallSnapshot, and
from its own snapshot).
"""
from __future__ import annotations

import argparse
import tempfile
import time

from core.cluster import LocalCluster
from core.kv import PUT, Command, KVStore
from core.snapshots import FileSnapshots


def pause(sizes: list[tuple[int, int]]) -> None:
    for keys, vsize in sizes:
        kv = KVStore()
        for i in range(1, keys + 1):
            kv.apply(i, Command(i % 1000 + 1, i // 1000 + 1, PUT, b"key-%d" % i, b"v" * vsize).encode())
        with tempfile.TemporaryDirectory() as d:
            store = FileSnapshots(d)
            t = time.perf_counter()
            info = store.save(kv.applied_index, 1, {}, kv.write_snapshot)
            written = time.perf_counter() - t
            t = time.perf_counter()
            with store.body(info) as fh:
                KVStore().restore(fh)
            restored = time.perf_counter() - t
            t = time.perf_counter()
            FileSnapshots(d)
            checked = time.perf_counter() - t
            t = time.perf_counter()
            store.save_in_background(kv.applied_index + 1, 1, {}, kv.write_snapshot)
            forked = time.perf_counter() - t
            while store.writing() is not None:
                time.sleep(0.001)
            background = time.perf_counter() - t
        print(f"{keys:>9} keys x {vsize:>4} B: image {info.size / 2**20:7.1f} MiB, write {written * 1000:7.0f} ms, "
              f"restore {restored * 1000:7.0f} ms, check on open {checked * 1000:6.0f} ms; in the background: "
              f"the fork {forked * 1000:5.1f} ms, the child done after {background * 1000:7.0f} ms")


def rss_mib(pid: int | None) -> float:
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def catchup(puts: int, keys: int, every: int) -> None:
    config = {"snapshot_entries": every} if every else {}
    with LocalCluster("raft", 3, config=config) as c:
        leader = c.wait_for_leader(15)
        term = c.status([leader])[leader]["term"]
        behind = next(i for i in c.ids if i != leader)
        c.crash(behind)
        started = time.perf_counter()
        with c.kv_client(timeout_s=30.0) as kv:
            for first in range(0, puts, 1000):
                kv.put_many((b"key-%d" % (k % keys), b"value-%d" % k) for k in range(first, min(first + 1000, puts)))
        wrote = time.perf_counter() - started
        st = c.status([leader])[leader]
        target = st["commit_index"]
        sent_before = sum(st["counters"].get("bytes_sent", {}).values())
        t = time.perf_counter()
        c.restart(behind)
        c.wait_until(lambda: (c.status([behind])[behind] or {}).get("last_applied", 0) >= target, 600, "catch-up")
        took = time.perf_counter() - t
        after = c.status()
        sent = sum(after[leader]["counters"].get("bytes_sent", {}).values()) - sent_before
        same = after[leader]["role"] == "leader" and after[leader]["term"] == term
        print(f"snapshot_entries={every or 'off'}: {puts} puts over {keys} keys in {wrote:.1f} s; follower caught up "
              f"with {target} entries in {took:.2f} s (restart included), leader sent {sent / 2**20:.1f} MiB meanwhile, "
              f"{'no leader change' if same else 'LEADER CHANGED'}")
        c.stop(behind)
        t = time.perf_counter()
        c.restart(behind)
        c.wait_until(lambda: (c.status([behind])[behind] or {}).get("last_applied", 0) >= target, 600, "restart")
        print(f"  a clean restart of node {behind} applied everything again (from its "
              f"{'snapshot and log' if every else 'log'}) in {time.perf_counter() - t:.2f} s")
        for i in c.ids:
            s = after[i]
            print(f"  node {i}: rss {rss_mib(c.pid(i)):.0f} MiB, snapshot_index {s.get('snapshot_index', 0)}, "
                  f"log entries held {s.get('log_entries', s['last_log_index'])}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pause", action="store_true")
    p.add_argument("--catchup", type=int, default=0, help="puts to commit while a follower is down")
    p.add_argument("--keys", type=int, default=10_000)
    p.add_argument("--every", type=int, default=20_000, help="snapshot_entries for the run with compaction")
    args = p.parse_args()
    if args.pause:
        pause([(10_000, 100), (100_000, 100), (1_000_000, 100), (100_000, 1000)])
    if args.catchup:
        catchup(args.catchup, args.keys, 0)
        catchup(args.catchup, args.keys, args.every)


if __name__ == "__main__":
    main()
