"""Measure raft's snapshots: how long writing and restoring an image pauses a node, and catch-up on real processes.

    .venv/bin/python -m tests.raft.measure_snapshots --pause [--gib]
    .venv/bin/python -m tests.raft.measure_snapshots --catchup 200000 --keys 10000 --every 20000
    .venv/bin/python -m tests.raft.measure_snapshots --memory 10000000 --keys 10000 --every 100000
    .venv/bin/python -m tests.raft.measure_snapshots --profile 20 --every 100000 --election-ms 1000   (py-spy)
    .venv/bin/python -m tests.raft.measure_snapshots --rewrite

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

Memory: a 3-process raft cluster with ``snapshot_entries`` = E (0: compaction off) takes N puts
of 16-byte values over K keys from a pipelining client (``bench throughput``'s load: 20,000
outstanding, 1,000 per request); every ``--sample`` puts each node's resident memory, the bytes
in its data dir, its snapshot index and the entries its log holds are printed, one JSON line
each. Afterwards a follower is stopped and restarted: the time from its ``started`` event (and
from the spawn) until it has applied the whole commit index is its restart time.

Profile: the same load for D seconds while py-spy samples every node process (not its forked
children: their cost shows as the CPU they take from the nodes); the share of each node's
samples inside the snapshot work is printed: the fork (``save_in_background``), the
log's rewrite (``RecordLog.replace_prefix``: flush, copy, rename, reopen and check), the
compaction's look for the image (``_compact`` outside those), and everything else.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

from quorumlab.bench.throughput.load import Load, stability
from quorumlab.core.cluster import LocalCluster, now_ms
from quorumlab.core.kv import PUT, Command, KVStore
from quorumlab.core.snapshots import FileSnapshots


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
        print(f"{keys:>9} keys x {vsize:>4} B (process rss {rss_mib(os.getpid()):.0f} MiB): image "
              f"{info.size / 2**20:7.1f} MiB, write {written * 1000:7.0f} ms, "
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


def dir_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(path, n)) for n in os.listdir(path)
               if os.path.isfile(os.path.join(path, n)))


def memory(puts: int, keys: int, every: int, sample: int, election_ms: int) -> None:
    config = {"snapshot_entries": every} if every else {}
    if election_ms:
        config.update(election_timeout_min=election_ms, election_timeout_max=2 * election_ms)
    with LocalCluster("raft", 3, config=config, ready_timeout_s=900) as c:  # a replay of the whole log is long
        c.wait_for_leader(15)
        kv = c.kv_client(timeout_s=30.0)
        kv.put(b"warm", b"up")
        leader = kv.leader
        load = Load(kv, [leader], 16, outstanding=20_000, batch=1_000, keys=keys)
        started, done, errors, since = time.perf_counter(), 0, 0, now_ms()
        print(json.dumps({"config": config, "puts": puts, "keys": keys, "leader": leader}), flush=True)
        while done < puts:
            n = min(sample, puts - done)
            elapsed = load.run(count=n)
            done += n - load.errors
            errors += load.errors
            failed = dict(load.error_kinds)
            if load.errors:  # the leader changed: aim at the new one, the client's session going on
                leader = c.wait_for_leader(30)
                seq = load.seq
                load = Load(kv, [leader], 16, outstanding=20_000, batch=1_000, keys=keys)
                load.seq = seq
            load.latencies.clear()
            status = c.status()
            print(json.dumps({
                "puts": done, "t_s": round(time.perf_counter() - started, 1),
                "ops_per_s": round((n - sum(failed.values())) / elapsed),
                "errors": errors, **({"failed": failed, "leader": leader} if failed else {}),
                "rss_mib": {i: round(rss_mib(c.pid(i)), 1) for i in c.ids},
                "disk_mib": {i: round(dir_bytes(c.node_dir(i)) / 2**20, 1) for i in c.ids},
                "snapshot_index": {i: (status[i] or {}).get("snapshot_index", 0) for i in c.ids},
                "log_entries": {i: (status[i] or {}).get("log_entries", (status[i] or {}).get("last_log_index"))
                                for i in c.ids},
            }), flush=True)
        print(json.dumps({"during_the_load": stability(c.events(), since, now_ms())}), flush=True)
        kv.close()
        target = c.status([leader])[leader]["commit_index"]
        forks = [e["fork_ms"] for e in c.events() if e["kind"] == "snapshot_writing"]
        follower = next(i for i in c.ids if i != leader)
        c.stop(follower)
        spawned = now = c.restart(follower)
        started_event = c.wait_for(lambda e: e["kind"] == "started" and e["node"] == follower, 60, since=now)
        c.wait_until(lambda: (c.status([follower])[follower] or {}).get("last_applied", 0) >= target, 900, "restart")
        serving = time.monotonic_ns() / 1e6
        print(json.dumps({
            "restart": follower, "commit_index": target, "spawn_to_started_ms": round(started_event["t"] - spawned, 1),
            "started_to_serving_ms": round(serving - started_event["t"], 1),
            "spawn_to_serving_ms": round(serving - spawned, 1),
            "rss_mib_after_restart": round(rss_mib(c.pid(follower)), 1),
            "snapshots_forked": len(forks), "fork_ms_median": sorted(forks)[len(forks) // 2] if forks else None,
            "fork_ms_max": max(forks) if forks else None,
        }), flush=True)


PARTS = {  # a sample belongs to the first part whose function is on its stack
    "fork (save_in_background)": "save_in_background",
    "log rewrite (replace_prefix)": "replace_prefix",
    "restore (restore_snapshot)": "restore_snapshot",
    "compact timer, rest (_compact)": "_compact",
}


def profile(seconds: int, every: int, election_ms: int) -> None:
    import subprocess
    import threading

    config = {"snapshot_entries": every} if every else {}
    if election_ms:
        config.update(election_timeout_min=election_ms, election_timeout_max=2 * election_ms)
    with LocalCluster("raft", 3, config=config) as c, tempfile.TemporaryDirectory() as out:
        c.wait_for_leader(15)
        kv = c.kv_client(timeout_s=30.0)
        kv.put(b"warm", b"up")
        leader = kv.leader
        load = Load(kv, [leader], 16, outstanding=20_000, batch=1_000, keys=10_000)
        spies = {i: subprocess.Popen([os.path.join(os.path.dirname(os.path.abspath(sys.executable)), "py-spy"),
                                      "record", "-p", str(c.pid(i)), "-d", str(seconds), "-r", "200", "-f", "raw",
                                      "-o", os.path.join(out, f"{i}.txt"), "--nonblocking"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in c.ids}
        runner = threading.Thread(target=lambda: load.run(duration=seconds))
        runner.start()
        runner.join()
        for spy in spies.values():
            spy.wait()
        ops = len(load.latencies)
        kv.close()
        print(f"snapshot_entries={every or 'off'}: {ops} puts in {seconds} s ({ops / seconds:.0f}/s), "
              f"{load.errors} errors; leader {leader}")
        for i in c.ids:
            counts = dict.fromkeys([*PARTS, "everything else"], 0)
            with open(os.path.join(out, f"{i}.txt")) as fh:
                for line in fh:
                    stack, _, n = line.rstrip().rpartition(" ")
                    part = next((p for p, fn in PARTS.items() if f"{fn} (" in stack), "everything else")
                    counts[part] += int(n)
            total = sum(counts.values()) or 1
            print(f"  node {i}{' (leader)' if i == leader else ''}: {total} samples; "
                  + ", ".join(f"{p} {100 * n / total:.1f}%" for p, n in counts.items()))


def rewrite(rounds: int = 20, added: int = 20_000, kept: int = 3_000) -> None:
    """The log's compacted rewrite alone (RecordLog.replace_prefix), as a snapshot every ``added`` entries leaves it
    with ``kept`` entries applied while the image was written: the median and the longest of ``rounds``."""
    from quorumlab.core.storage import RecordLog

    with tempfile.TemporaryDirectory() as d:
        log = RecordLog(os.path.join(d, "raft-log"), dir_id=b"measured", create=True)
        times = []
        for _ in range(rounds):
            log.append([b"x" * 60 for _ in range(added)])
            log.flush()
            t = time.perf_counter()
            log.replace_prefix(len(log) - kept, b"base")
            times.append(time.perf_counter() - t)
        log.close()
    times.sort()
    print(f"replace_prefix keeping {kept} of {kept + added} records of 60 bytes: median "
          f"{times[len(times) // 2] * 1000:.1f} ms, longest {times[-1] * 1000:.1f} ms ({rounds} rounds)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pause", action="store_true")
    p.add_argument("--gib", action="store_true", help="--pause: only 1,000,000 keys x 1,000 B (about 1 GiB of state)")
    p.add_argument("--catchup", type=int, default=0, help="puts to commit while a follower is down")
    p.add_argument("--keys", type=int, default=10_000)
    p.add_argument("--every", type=int, default=20_000, help="snapshot_entries for the run with compaction")
    p.add_argument("--memory", type=int, default=0, help="puts to write while memory is sampled (then a restart)")
    p.add_argument("--sample", type=int, default=500_000, help="puts between two memory samples")
    p.add_argument("--election-ms", type=int, default=0,
                   help="--memory, --profile: election timeouts of T..2T ms (default raft's 150..300): fewer leader changes "
                        "when the machine is too loaded to heartbeat on time")
    p.add_argument("--profile", type=int, default=0, help="seconds of load to profile the nodes under (py-spy)")
    p.add_argument("--rewrite", action="store_true", help="time the log's compacted rewrite alone")
    args = p.parse_args()
    if args.pause:
        pause([(1_000_000, 1000)] if args.gib else [(10_000, 100), (100_000, 100), (1_000_000, 100), (100_000, 1000)])
    if args.catchup:
        catchup(args.catchup, args.keys, 0)
        catchup(args.catchup, args.keys, args.every)
    if args.memory:
        memory(args.memory, args.keys, args.every, args.sample, args.election_ms)
    if args.profile:
        profile(args.profile, args.every, args.election_ms)
    if args.rewrite:
        rewrite()


if __name__ == "__main__":
    main()
