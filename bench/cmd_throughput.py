"""``bench throughput``: committed commands per second and commit latency on local processes.

quorumlab's algorithm (raft by default) runs as n ``bench node`` processes over ZeroMQ with fsync on;
one client keeps ``--outstanding`` put commands of ``--size`` bytes in flight
at the leader (1 = wait for each command) for ``--duration`` seconds and
records each command's latency from send to applied-reply. ``--batch B`` sends
quorumlab's commands B per control request (each is still its own log entry and
its own result), which is how a pipelining client amortizes the round trip. ``--pysyncobj``
measures the Python peer PySyncObj the same way in the same run (n processes,
``ReplDict.set`` of ``--size``-byte values through its callback API; the
driver is whichever of the n processes leads, its best case) and prints
the ratio. PySyncObj keeps its journal in memory unless given a file, so it
runs without fsync; the table says so.
"""
from __future__ import annotations

import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import click

from bench import options
from core import registry
from core.errors import UnknownAlgorithmError
from core.kv import PUT, Command
from core.client import KVClient
from core.runtime.control import parse_propose_reply, propose_frames
from core.limits import CONTROL_MAX_BYTES
from core.cluster import LocalCluster, free_ports
from core.errors import ConfigError


def _summary(name: str, latencies: list[float], elapsed: float, errors: int, **extra: Any) -> dict[str, Any]:
    lat = sorted(latencies)
    return {
        "system": name,
        "ops": len(lat),
        "errors": errors,
        "seconds": round(elapsed, 3),
        "ops_per_s": round(len(lat) / elapsed, 1) if elapsed > 0 else 0.0,
        "median_ms": round(statistics.median(lat) * 1000, 3) if lat else None,
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 3) if lat else None,
        **extra,
    }


class _Load:
    """A pipelining client at the leader's control socket: key-value puts, ``batch`` per request (binary
    protocol), at most ``outstanding`` commands in flight; records each command's latency to its reply."""

    def __init__(self, kv: KVClient, node: int, size: int, outstanding: int, batch: int) -> None:
        self.sock = kv._socket(node)
        self.client = kv.client_id
        self.value = os.urandom(size // 2 + 1).hex()[:size].encode()
        self.keys = [b"k%d" % k for k in range(1000)]
        self.outstanding, self.batch = outstanding, batch
        self.seq = 10**9
        self.latencies: list[float] = []
        self.errors = 0
        self.error_kinds: collections.Counter = collections.Counter()

    def run(self, duration: float | None = None, count: int | None = None) -> float:
        """Send for ``duration`` seconds (or until ``count`` commands were sent), then wait for the replies
        (commands without one after 10 s count as errors); returns the elapsed seconds."""
        import zmq

        sock, sent, in_flight = self.sock, {}, 0
        start = last_reply = time.perf_counter()
        end = start + duration if duration is not None else float("inf")
        left = count if count is not None else float("inf")
        while True:
            while left > 0 and in_flight < self.outstanding and time.perf_counter() < end:
                n = int(min(self.batch, self.outstanding - in_flight, left))
                commands = []
                for _ in range(n):
                    self.seq += 1
                    commands.append(Command(self.client, self.seq, PUT, self.keys[self.seq % 1000], self.value).encode())
                rid = str(self.seq).encode()
                sock.send_multipart([rid, *propose_frames(commands)])
                sent[rid] = (time.perf_counter(), n)
                in_flight += n
                left -= n
            if not sent:
                break
            if sock.poll(1000):
                while True:
                    try:
                        frames = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    t0, n = sent.pop(frames[0], (None, 0))
                    if t0 is None:
                        continue
                    last_reply = time.perf_counter()
                    in_flight -= n
                    reply = parse_propose_reply(frames[1:])
                    if reply["ok"]:
                        self.latencies.extend([time.perf_counter() - t0] * n)
                    else:
                        self.errors += n
                        self.error_kinds[str(reply.get("error"))] += n
            elif (left <= 0 or time.perf_counter() >= end) and time.perf_counter() > last_reply + 10:
                self.errors += in_flight
                self.error_kinds["no reply"] += in_flight
                break
        return time.perf_counter() - start


def measure_log(
    nodes: int, size: int, duration: float, outstanding: int, batch: int = 1, config: dict | None = None,
    algo: str = "raft", secure: bool = True,
) -> dict:
    """Throughput and latency of key-value puts through ``algo``'s log on ``nodes`` local processes (fsync on).

    Commands go to the leader ``batch`` per request (one control-socket round trip for all of
    them; each still is its own log entry); ``outstanding`` commands are kept in flight.
    """
    with LocalCluster(algo, nodes, config=config or {}, secure=secure) as c:
        c.wait_for_leader(20)
        kv = c.kv_client()
        kv.put(b"warm", b"up")
        load = _Load(kv, kv.leader, size, outstanding, batch)
        elapsed = load.run(duration=duration)
        kv.close()
    mode = "ZeroMQ+CURVE" if secure else "ZeroMQ plain"
    return _summary(f"quorumlab {algo} ({mode}, fsync)", load.latencies, elapsed, load.errors, nodes=nodes,
                    size=size, outstanding=outstanding, batch=batch, secure=secure, error_kinds=dict(load.error_kinds))


def measure_catch_up(entries: int, nodes: int = 3, size: int = 16, config: dict | None = None,
                     algo: str = "raft") -> dict:
    """How long a follower that was down while ``entries`` commands were committed takes to hold and apply them.

    One follower is stopped (SIGTERM), the others commit ``entries`` puts, the follower restarts; the
    time runs from its ``started`` event to the first status poll (every 10 ms) whose applied index
    reaches the leader's commit index, so process start-up is not counted.
    """
    with LocalCluster(algo, nodes, config=config or {}) as c:
        leader = c.wait_for_leader(20)
        kv = c.kv_client()
        kv.put(b"warm", b"up")
        leader = kv.leader
        lagging = next(i for i in sorted(c.addresses) if i != leader)
        c.stop(lagging)
        load = _Load(kv, leader, size, outstanding=20_000, batch=1_000)
        load.run(count=entries)
        if load.errors:
            raise click.ClickException(f"{load.errors} of {entries} commands failed while the follower was down: "
                                       f"{dict(load.error_kinds)}")
        target = c.request(leader, "status")["commit_index"]
        restarted = c.restart(lagging)
        started = c.wait_for(lambda e: e["kind"] == "started" and e["node"] == lagging, 10, since=restarted)
        deadline = time.monotonic() + 120
        while True:
            status = c.request(lagging, "status")
            if status["last_applied"] >= target:
                caught_up = time.monotonic_ns() / 1e6
                break
            if time.monotonic() > deadline:
                raise click.ClickException(f"node {lagging} applied {status['last_applied']} of {target} in 120 s")
            time.sleep(0.01)
        kv.close()
    return {"system": f"quorumlab {algo} (ZeroMQ, fsync)", "entries_behind": target, "nodes": nodes, "size": size,
            "catch_up_ms": round(caught_up - started["t"], 1)}


PYSYNCOBJ_NODE = r"""
import json, os, sys, threading, time
from pysyncobj import SyncObj, SyncObjConf
from pysyncobj.batteries import ReplDict
me, partners, out, size, duration, outstanding = sys.argv[1], sys.argv[2].split(','), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
conf = SyncObjConf(appendEntriesUseBatch=outstanding > 1, dynamicMembershipChange=False)
d = ReplDict()
o = SyncObj(me, partners, consumers=[d], conf=conf)
while o._getLeader() is None or not o.isReady():
    time.sleep(0.05)
d.set('warm', 'up', sync=True)
if not o._isLeader():
    while True:  # a follower: serve until the harness stops it
        time.sleep(1)
value = 'v' * size
slots = threading.Semaphore(outstanding)
lock = threading.Lock()
lat, errors = [], [0]
def done(t0):
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
    d.set('k%d' % (k % 1000), value, callback=done(time.perf_counter()))
give_up = time.perf_counter() + 10
returned = 0
while returned < outstanding and slots.acquire(timeout=max(0.0, give_up - time.perf_counter())):
    returned += 1
elapsed = time.perf_counter() - start
with lock:
    doc = json.dumps({'lat': lat, 'errors': errors[0] + outstanding - returned, 'elapsed': elapsed})
with open(out + '.tmp', 'w') as fh:
    fh.write(doc)
os.replace(out + '.tmp', out)
"""


def measure_pysyncobj(nodes: int, size: int, duration: float, outstanding: int) -> dict:
    """The same load on PySyncObj: ``nodes`` processes; the one that is leader drives ReplDict.set with callbacks.

    Driving from the leader is PySyncObj's best case (a follower forwards each command and learns
    its commit one AppendEntries later), so the comparison never flatters quorumlab, whose
    client is a separate process two ZeroMQ hops away from the leader.
    """
    ports = free_ports(nodes)
    addrs = [f"127.0.0.1:{p}" for p in ports]
    procs = []
    with tempfile.TemporaryDirectory(prefix="quorumlab-pysyncobj-") as tmp:
        out = os.path.join(tmp, "result.json")
        try:
            for me in addrs:
                partners = ",".join(a for a in addrs if a != me)
                procs.append(subprocess.Popen(
                    [sys.executable, "-c", PYSYNCOBJ_NODE, me, partners, out, str(size), str(duration),
                     str(outstanding)],
                    stdout=subprocess.DEVNULL, cwd=tmp,
                ))
            deadline = time.monotonic() + duration + 120
            while not os.path.exists(out):
                if time.monotonic() > deadline:
                    raise click.ClickException(f"PySyncObj gave no result within {duration + 120:.0f}s")
                if any(p.poll() not in (None, 0) for p in procs):
                    raise click.ClickException("a PySyncObj process failed; see its stderr above")
                time.sleep(0.05)
            with open(out) as fh:
                result = json.load(fh)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.wait()
    return _summary("PySyncObj (in-memory journal, driven at its leader)", result["lat"], result["elapsed"],
                    result["errors"], nodes=nodes, size=size, outstanding=outstanding)


@click.command("catchup")
@click.option("--entries", type=click.IntRange(1, 10_000_000), default=100_000, show_default=True,
              help="Commands committed while the follower is down.")
@click.option("--nodes", type=click.IntRange(2, 9), default=3, show_default=True)
@click.option("--size", type=click.IntRange(1, 1 << 20), default=16, show_default=True, help="Command value bytes.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def catchup_cmd(entries: int, nodes: int, size: int, as_json: bool) -> None:
    """Time for a restarted raft follower to catch up with ENTRIES commands it missed (real processes)."""
    result = measure_catch_up(entries, nodes, size)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"{nodes} processes, {size}-byte commands: a follower {result['entries_behind']} entries behind "
               f"held and applied them {result['catch_up_ms']} ms after it started")


@click.command("throughput")
@click.option("--algo", default="raft", show_default=True,
              help="A registered algorithm with a log and a state machine (its class has StateMachine).")
@click.option("--nodes", type=click.IntRange(1, 9), default=3, show_default=True)
@click.option("--size", type=click.IntRange(1, 1 << 20), default=16, show_default=True, help="Command value bytes.")
@click.option("--duration", type=click.FloatRange(0.5, 3600), default=10.0, show_default=True, help="Seconds.")
@click.option("--outstanding", type=click.IntRange(1, 1_000_000), default=1, show_default=True,
              help="Commands in flight at once (1: wait for each).")
@click.option("--batch", type=click.IntRange(1, 10_000), default=1, show_default=True,
              help="quorumlab: commands per client request (each is still its own log entry).")
@click.option("--config", "config_items", multiple=True, metavar="KEY=VALUE",
              help="Setting of the algorithm, e.g. election_timeout_min=1000 (repeatable).")
@click.option("--pysyncobj", "with_pysyncobj", is_flag=True, help="Also measure PySyncObj the same way.")
@options.insecure
@click.option("--also-insecure", is_flag=True,
              help="Also measure the same load in plain mode (no CurveZMQ), in the same run: what encryption costs.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def throughput_cmd(algo: str, nodes: int, size: int, duration: float, outstanding: int, batch: int,
                   config_items: tuple[str, ...], with_pysyncobj: bool, insecure: bool, also_insecure: bool,
                   as_json: bool) -> None:
    """Committed commands per second and commit latency (median, p99) on local processes."""
    config = {}
    for item in config_items:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--config")
        config[key.strip()] = value.strip()
    try:
        cls = registry.load(algo)
    except UnknownAlgorithmError as exc:
        raise click.BadParameter(str(exc), param_hint="--algo") from None
    if getattr(cls, "StateMachine", None) is None:
        with_log = [n for n in registry.available() if getattr(registry.load(n), "StateMachine", None) is not None]
        raise click.BadParameter(
            f"{algo} has no log to replicate commands through; algorithms with one: {', '.join(with_log) or 'none'}",
            param_hint="--algo",
        )
    try:
        cls.Config.from_strings(config)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--config") from None
    request_bytes = 8 + batch * (size + 40)
    if request_bytes > CONTROL_MAX_BYTES:
        raise click.BadParameter(
            f"a request of {batch} commands of {size} bytes is about {request_bytes >> 20} MiB, over the control "
            f"socket's {CONTROL_MAX_BYTES >> 20} MiB limit; use a smaller --batch", param_hint="--batch")
    results = [measure_log(nodes, size, duration, outstanding, batch, config, algo, secure=not insecure)]
    if also_insecure and not insecure:
        results.append(measure_log(nodes, size, duration, outstanding, batch, config, algo, secure=False))
    if with_pysyncobj:
        try:
            results.append(measure_pysyncobj(nodes, size, duration, outstanding))
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            raise click.ClickException(f"PySyncObj measurement failed (is pysyncobj installed?): {exc}") from None
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    click.echo(f"{nodes} processes, {size}-byte commands, {outstanding} outstanding, {duration:g} s, "
               f"quorumlab requests of {batch} command(s)")
    for r in results:
        click.echo(
            f"  {r['system']:<52} {r['ops_per_s']:>10.1f} ops/s   median {r['median_ms']} ms   "
            f"p99 {r['p99_ms']} ms   ({r['ops']} ops, {r['errors']} errors)"
        )
    plain = next((r for r in results[1:] if r.get("secure") is False), None)
    if plain is not None and plain["ops_per_s"]:
        click.echo(f"  ratio with CURVE / plain: {results[0]['ops_per_s'] / plain['ops_per_s']:.2f}x")
    other = results[-1] if with_pysyncobj else None
    if other is not None and other["ops_per_s"]:
        click.echo(f"  ratio quorumlab / PySyncObj: {results[0]['ops_per_s'] / other['ops_per_s']:.2f}x")
