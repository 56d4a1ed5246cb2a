"""Measuring an embedded node: the driver inside the leader's process, and leader-change notification.

``bench throughput --embedded`` starts ``nodes`` ``bench node`` processes, replaces node 1 by an
embedded node in this process (``quorumlab.Node`` on node 1's data dir, keys and ports), has it win
an election (its election timer fired through its control socket), and drives it with one
``submit`` per command: PySyncObj's own setting (a driver inside its leader), with fsync on.
``--leader-changes N`` then times N leader changes as the application sees them: from the SIGKILL
of the process that leads to the embedded node's ``on_leader_change`` naming the next leader.
"""
from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import os
import queue
import statistics
import threading
import time
from typing import Any, Iterator

from quorumlab.bench.throughput.load import MeasurementFailed, summary
from quorumlab.core.cluster import LocalCluster
from quorumlab.core.embedded import EmbeddedNode
from quorumlab.core.kv import PUT, Command

EMBEDDED = 1
"""The id of the member that runs in this process."""


@contextlib.contextmanager
def embedded_member(algo: str, nodes: int, config: dict | None, secure: bool) -> Iterator[tuple[LocalCluster, EmbeddedNode]]:
    """A LocalCluster whose node 1 runs in this process (its process is stopped, its data dir taken over)."""
    with LocalCluster(algo, nodes, config=config or {}, secure=secure) as cluster:
        cluster.wait_for_leader(20)
        cluster.stop(EMBEDDED)
        node = EmbeddedNode(algo, id=EMBEDDED, cluster=cluster.addresses, data_dir=cluster.node_dir(EMBEDDED),
                            keys=cluster.keyring, insecure=not secure, cluster_id=cluster.cluster_id,
                            control=cluster.control_addresses[EMBEDDED], events=cluster.event_addresses[EMBEDDED],
                            config=config or None)
        try:
            yield cluster, node
        finally:
            node.close()


def make_leader(cluster: LocalCluster, node: EmbeddedNode, timer: str, timeout_s: float = 30.0) -> None:
    """Fire the embedded node's election timer until it leads and the processes follow it."""
    deadline = time.monotonic() + timeout_s
    while not (node.is_leader and followed(cluster, node.id)):
        if time.monotonic() > deadline:
            raise MeasurementFailed(f"the embedded node did not become leader within {timeout_s:.0f}s")
        if not node.is_leader:
            cluster.request(node.id, "fire", timer=timer)
        time.sleep(0.5)


def followed(cluster: LocalCluster, leader: int) -> bool:
    """Whether every running process follows (or is) ``leader``; LocalCluster's majority_leader only counts
    processes, and the embedded member is none."""
    statuses = cluster.status()
    return all(s is not None and s["leader"] == leader for i, s in statuses.items() if cluster.is_running(i))


def drive(node: EmbeddedNode, size: int, duration: float, outstanding: int, futures: bool = False
          ) -> tuple[list[float], collections.Counter, float]:
    """Submit key-value puts one per call for ``duration`` s with ``outstanding`` in flight, each with a callback
    (``submit_with_callback``, as PySyncObj's driver passes ``callback=``) or, with ``futures``, a Future
    (``submit`` and ``add_done_callback``); the latencies, the errors by code and the elapsed seconds (commands
    without an answer 10 s after the end count as errors)."""
    value = os.urandom(size // 2 + 1).hex()[:size].encode()
    keys = [b"k%d" % k for k in range(1000)]
    client = int.from_bytes(os.urandom(4), "little") | 1
    slots = threading.Semaphore(outstanding)
    latencies: list[float] = []
    errors: collections.Counter = collections.Counter()
    clock = time.perf_counter

    def answered(t0: float):
        def done(_result, exc) -> None:  # on the completer's thread: as little as possible
            if exc is None:
                latencies.append(clock() - t0)
            else:
                errors[getattr(exc, "code", type(exc).__name__)] += 1
            slots.release()
        return done

    def future_answered(t0: float):
        done = answered(t0)
        return lambda future: done(None, future.exception())

    submit = node.submit_with_callback

    node.submit(Command(client, 1, PUT, b"warm", b"up").encode()).result(20)
    seq = 1
    start = clock()
    end = start + duration
    while clock() < end:
        if not slots.acquire(timeout=0.1):
            continue
        seq += 1
        command = Command(client, seq, PUT, keys[seq % 1000], value).encode()
        if futures:
            node.submit(command).add_done_callback(future_answered(clock()))
        else:
            submit(command, answered(clock()))
    returned = 0
    give_up = clock() + 10
    while returned < outstanding and slots.acquire(timeout=max(0.0, give_up - clock())):
        returned += 1
    elapsed = clock() - start
    if returned < outstanding:
        errors["no answer"] += outstanding - returned
    return latencies, errors, elapsed


def measure_embedded(nodes: int, size: int, duration: float, outstanding: int, config: dict | None = None,
                     algo: str = "raft", secure: bool = True, timer: str = "election", futures: bool = False,
                     follower: bool = False) -> dict[str, Any]:
    """Throughput and latency of puts submitted inside the leader's process (fsync on), one per call (a callback
    each, or with ``futures`` a Future each); with ``follower``, inside a follower's process (each command
    forwarded to the leader, answered once the follower applied it)."""
    with embedded_member(algo, nodes, config, secure) as (cluster, node):
        if follower:
            make_follower(cluster, node, timer)
        else:
            make_leader(cluster, node, timer)
        latencies, errors, elapsed = drive(node, size, duration, outstanding, futures)
    mode = "ZeroMQ+CURVE" if secure else "ZeroMQ plain"
    api = "submit -> Future" if futures else "submit_with_callback"
    where = "at a follower, forwarded" if follower else "at its leader"
    return summary(f"quorumlab {algo} embedded, {api}, {where} ({mode}, fsync)", latencies, elapsed,
                   sum(errors.values()), nodes=nodes, size=size, outstanding=outstanding, batch=1, secure=secure,
                   embedded=True, follower=follower, error_kinds=dict(errors))


def make_follower(cluster: LocalCluster, node: EmbeddedNode, timer: str, timeout_s: float = 30.0) -> None:
    """Wait until a process leads and every member, the embedded one included, follows it."""
    deadline = time.monotonic() + timeout_s
    while True:
        leader = node.leader
        if leader not in (None, node.id) and followed(cluster, leader):
            return
        if time.monotonic() > deadline:
            raise MeasurementFailed(f"no process led with the embedded node following within {timeout_s:.0f}s")
        if leader == node.id:
            cluster.trigger([i for i in cluster.ids if i != node.id and cluster.is_running(i)][:1], timer)
        time.sleep(0.3)


class AnsweredAtOnce:
    """Stands in for the node in ``drive``: every command is answered at once on a thread of its own (as the
    embedded node's completer answers), with no consensus, storage or network. What ``drive`` reaches against it
    is the ceiling of this driver on this machine: no system driven this way, in this process, can go faster."""

    def __init__(self) -> None:
        self._answers: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="quorumlab-bench-answers", daemon=True)
        self._thread.start()

    def submit(self, command: bytes) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._answers.put((lambda result, exc: future.set_result(result), command))
        return future

    def submit_with_callback(self, command: bytes, callback: Any) -> None:
        self._answers.put((callback, command))

    def _run(self) -> None:
        get = self._answers.get
        while True:
            item = get()
            if item is None:
                return
            item[0](b"", None)

    def close(self) -> None:
        self._answers.put(None)
        self._thread.join(5)


def measure_driver_ceiling(size: int, duration: float, outstanding: int, futures: bool = False) -> dict[str, Any]:
    """``drive`` against AnsweredAtOnce: the most commands per second the driver itself can submit and be
    answered for here (PySyncObj's driver does the same work per command)."""
    node = AnsweredAtOnce()
    try:
        latencies, errors, elapsed = drive(node, size, duration, outstanding, futures)  # type: ignore[arg-type]
    finally:
        node.close()
    api = "submit -> Future" if futures else "submit_with_callback"
    return summary(f"the driver alone, {api}, answered at once (no consensus): its ceiling", latencies, elapsed,
                   sum(errors.values()), size=size, outstanding=outstanding, batch=1, embedded=True,
                   ceiling=True, error_kinds=dict(errors))


def measure_leader_changes(trials: int, nodes: int = 3, config: dict | None = None, algo: str = "raft",
                           secure: bool = True, timer: str = "election") -> dict[str, Any]:
    """``trials`` times: make a process lead, SIGKILL it, time until the embedded node's ``on_leader_change``
    names a new leader; the median and each trial (with whether the new leader was the embedded node)."""
    samples: list[dict[str, Any]] = []
    with embedded_member(algo, nodes, config, secure) as (cluster, node):
        seen: list[tuple[float, int | None]] = []
        node.on_leader_change(lambda leader, term: seen.append((time.monotonic_ns() / 1e6, leader)))
        victim = EMBEDDED + 1
        for _ in range(trials):
            for i in cluster.ids:
                if i != EMBEDDED and not cluster.is_running(i):
                    cluster.restart(i)
            deadline = time.monotonic() + 30
            while not (followed(cluster, victim) and node.leader == victim):
                if time.monotonic() > deadline:
                    raise MeasurementFailed(f"node {victim} did not become leader within 30 s")
                if node.leader != victim:
                    cluster.trigger([victim], timer)
                time.sleep(0.3)
            time.sleep(0.5)  # a settled leader, heartbeats flowing
            mark = len(seen)
            killed = cluster.crash(victim)
            deadline = time.monotonic() + 30
            while not [s for s in seen[mark:] if s[1] not in (None, victim)]:
                if time.monotonic() > deadline:
                    raise MeasurementFailed("no new leader within 30 s of the SIGKILL")
                time.sleep(0.01)
            t, leader = next(s for s in seen[mark:] if s[1] not in (None, victim))
            samples.append({"ms": round(t - killed, 1), "new_leader": leader, "embedded_leads": leader == node.id})
            victim = next(i for i in cluster.ids if i not in (EMBEDDED, victim)) if nodes > 2 else victim
    as_leader = [s["ms"] for s in samples if s["embedded_leads"]]
    return {
        "system": f"quorumlab {algo}: SIGKILL of the leader process -> on_leader_change in the embedded node",
        "trials": samples,
        "median_ms": round(statistics.median(s["ms"] for s in samples), 1),
        "median_ms_when_embedded_became_leader": round(statistics.median(as_leader), 1) if as_leader else None,
        "config": config or {},
    }
