"""The ZeroMQ transport: one real node process per node on 127.0.0.1, through quorumlab.core.cluster.LocalCluster.

Times are the nodes' own event timestamps (CLOCK_MONOTONIC ms, the same clock
in every process and in this one). Faults are real: crash = SIGKILL, pause =
SIGSTOP (connections stay open, so only timeouts can detect it), resume =
SIGCONT, partition = every node drops traffic from the other side. One cluster
serves every trial of an algorithm (``restore`` brings it back whole between
trials); cold-start trials start a fresh cluster each time.

Message counts: the runtime reports each node's counters in ``counters``
events at most every ``COUNTERS_EVERY_MS``; the count at the end of a window
is read from the nodes (status) the moment agreement is seen, the count at its
start from the last ``counters`` event before it. That start value is exact
when the node sent nothing in the ``COUNTERS_EVERY_MS`` before the election
(true after a silent detection period: crash, pause), approximate otherwise.
"""
from __future__ import annotations

import time
from typing import Iterable

from quorumlab.core.algorithm import ElectionAlgorithm
from quorumlab.core.config import AlgorithmConfig

from quorumlab.bench.compare.metrics import ClusterView, Predicate, counter_totals, counts_before, sent_since
from quorumlab.bench.compare.signals import sigint_held

COUNTERS_EVERY_MS = 100
"""How often nodes report counters in their event stream (the runtime's minimum)."""


def runtime_missing() -> str | None:
    """Why the ZeroMQ runtime cannot be used here, or None when it can."""
    try:
        import quorumlab.core.cluster  # noqa: F401
    except ImportError as exc:
        return f"quorumlab.core.cluster cannot be imported ({exc})"
    return None


def now_ms() -> float:
    """The nodes' event clock (CLOCK_MONOTONIC, ms)."""
    return time.monotonic_ns() / 1e6


class ZmqDriver:
    """A ``Driver`` over a LocalCluster of real node processes (see quorumlab.bench.compare.driver)."""

    reusable = True
    rtt_ms = None

    def __init__(self, algo: type[ElectionAlgorithm], nodes: int, config: AlgorithmConfig, seed: int,
                 secure: bool = True, writes: bool = False) -> None:
        self.algo, self.config, self.seed, self.secure = algo, config, seed, secure
        self.writes = writes and algo.StateMachine is not None
        self.ids = tuple(range(1, nodes + 1))
        self.cluster = None
        self._t0 = 0.0
        self._paused: set[int] = set()
        self._partitioned = False
        self._reset_view()
        self._snapshot: tuple[float, dict[int, tuple[int, int]]] | None = None

    def _reset_view(self) -> None:
        self._view = ClusterView(self.ids)
        self._fed = 0
        self._last: dict | None = None

    def start(self, fresh: bool = False) -> float:
        if self.cluster is not None and not fresh:
            return self._t0
        self.close()
        from quorumlab.core.cluster import LocalCluster

        self._reset_view()
        self.cluster = LocalCluster(self.algo, len(self.ids), config=self.config.as_dict(), seed=self.seed,
                                    counters_every_ms=COUNTERS_EVERY_MS, secure=self.secure)
        self.cluster.start()
        started = [e["t"] for e in self.cluster.events() if e["kind"] == "started"]
        self._t0 = max(started) if started else now_ms()
        return self._t0

    def now(self) -> float:
        return now_ms()

    def events(self) -> list[dict]:
        return self.cluster.events()

    def view(self) -> ClusterView:
        ev = self.cluster.events()
        if self._fed and (len(ev) < self._fed or ev[self._fed - 1] is not self._last):
            self._reset_view()  # a late event was sorted in before what the view had folded: refold
        for e in ev[self._fed:]:
            self._view.apply(e)
        self._fed = len(ev)
        self._last = ev[-1] if ev else None
        return self._view

    def wait_until(self, pred: Predicate, timeout_ms: float) -> bool:
        try:
            self.cluster.wait_until(lambda: pred(self.view()), timeout_ms / 1000, "the awaited cluster state")
        except TimeoutError:
            return False
        self._snapshot = (now_ms(), self._counters_now())
        return True

    def _counters_now(self) -> dict[int, tuple[int, int]]:
        return {i: counter_totals(s.get("counters", {})) for i, s in self.cluster.status(timeout_s=1.0).items() if s}

    def sent_between(self, since: float, until: float) -> tuple[int, int]:
        after = self._snapshot
        if after is None or after[0] < until:
            after = (now_ms(), self._counters_now())
        return sent_since(counts_before(self.events(), since), after[1])

    def sleep(self, ms: float) -> None:
        time.sleep(ms / 1000)

    def crash(self, node: int) -> None:
        self.cluster.crash(node)

    def restart(self, node: int) -> None:
        self.cluster.restart(node)

    def pause(self, node: int) -> None:
        self.cluster.pause(node)
        self._paused.add(node)

    def resume(self, node: int) -> None:
        self.cluster.resume(node)
        self._paused.discard(node)

    def partition(self, *groups: Iterable[int]) -> None:
        self.cluster.partition(*groups)
        self._partitioned = True

    def heal(self) -> None:
        self.cluster.heal()
        self._partitioned = False

    def trigger(self, nodes: Iterable[int], timer: str) -> None:
        self.cluster.trigger(list(nodes), timer)

    def writer(self, attempt_s: float):
        if not self.writes:
            return None
        from quorumlab.bench.failover import Writer

        return Writer(self.cluster, attempt_s).start_writing()

    def restore(self) -> None:
        if self.cluster is None:
            return
        for node in sorted(self._paused):
            self.resume(node)
        if self._partitioned:
            self.heal()
        for node in self.ids:
            if not self.cluster.is_running(node):
                self.cluster.restart(node)

    def close(self) -> None:
        with sigint_held(deliver=True):
            if self.cluster is not None:
                self.cluster.close()
                self.cluster = None
            self._paused.clear()
            self._partitioned = False


class ZmqTransport:
    """One reusable ZmqDriver per (algorithm, size, config); ``close`` stops every cluster it started."""

    name = "zmq"
    can_trigger = True

    def __init__(self, secure: bool = True, writes: bool = False) -> None:
        """``writes``: a client writes through the log of every algorithm that has one during the crash and pause
        trials (``bench compare --first-write``), and the first write after the fault is measured."""
        self.secure = secure
        self.writes = writes
        self._drivers: dict[tuple, ZmqDriver] = {}

    def driver(self, algo: type[ElectionAlgorithm], nodes: int, config: AlgorithmConfig, seed: int) -> ZmqDriver:
        key = (algo, nodes, config)
        if key not in self._drivers:
            self._drivers[key] = ZmqDriver(algo, nodes, config, seed, self.secure, self.writes)
        return self._drivers[key]

    def close(self) -> None:
        drivers, self._drivers = list(self._drivers.values()), {}
        for d in drivers:
            d.close()
