"""The clusters ``bench check`` attacks, behind one small interface: the only module that names the methods of
``quorumlab.core.cluster.LocalCluster`` and ``quorumlab.core.sim.Simulation`` it uses for faults, leaders and clients.

Both harnesses take a ``nemesis.Plan`` at the start of an episode (``inflict``) and undo it at the end
(``repair``): heal the network, resume what was paused, restart what was killed.
"""
from __future__ import annotations

import os
from typing import Any, Protocol

from quorumlab.bench.check.nemesis import Plan


class Harness(Protocol):
    """A running cluster under test (node ids 1..n)."""

    ids: tuple[int, ...]

    def leader(self) -> int | None: ...
    def crash(self, node: int) -> None: ...
    def restart(self, node: int) -> None: ...
    def pause(self, node: int) -> None: ...
    def resume(self, node: int) -> None: ...
    def partition(self, groups: list[list[int]]) -> None: ...
    def heal(self) -> None: ...


def inflict(h: Harness, plan: Plan) -> None:
    """Start an episode: partition first (so a kill or pause lands in a split cluster), then kill, then pause."""
    if plan.groups:
        h.partition(plan.groups)
    for node in plan.kill:
        h.crash(node)
    for node in plan.pause:
        h.pause(node)


def repair(h: Harness, plan: Plan) -> None:
    """End an episode: heal, resume, restart."""
    if plan.groups:
        h.heal()
    for node in plan.pause:
        h.resume(node)
    for node in plan.kill:
        h.restart(node)


class ProcessHarness:
    """Real node processes (quorumlab.core.cluster.LocalCluster, secure by default), optionally each in a network namespace
    (quorumlab.bench.check.netns), where partitions are cut in the kernel; elsewhere they use the runtime's switch."""

    def __init__(self, algo: str, nodes: int, config: dict[str, str], seed: int, *, network: Any = None,
                 secure: bool = True, data_dir: str | os.PathLike | None = None) -> None:
        from quorumlab.core.cluster import LocalCluster

        self.network = network
        placement = {} if network is None else {
            "hosts": {i: network.host(i) for i in range(1, nodes + 1)}, "launcher": network.launcher}
        self.cluster = LocalCluster(algo, nodes, data_dir=data_dir, config=config, seed=seed, secure=secure,
                                    **placement)
        self.ids = self.cluster.ids

    def start(self, leader_timeout_s: float = 30.0) -> int:
        """Start every node and wait for a leader; returns it."""
        self.cluster.start()
        return self.cluster.wait_for_leader(leader_timeout_s)

    def leader(self) -> int | None:
        return self.cluster.majority_leader()

    def crash(self, node: int) -> None:
        if self.cluster.is_running(node):
            self.cluster.crash(node)

    def restart(self, node: int) -> None:
        if not self.cluster.is_running(node):
            self.cluster.restart(node)

    def pause(self, node: int) -> None:
        if node in self.cluster.live_ids():
            self.cluster.pause(node)

    def resume(self, node: int) -> None:
        if self.cluster.is_running(node) and node not in self.cluster.live_ids():
            self.cluster.resume(node)

    def partition(self, groups: list[list[int]]) -> None:
        if self.network is not None:
            self.network.partition(groups)
        else:
            self.cluster.partition(*groups)

    def heal(self) -> None:
        if self.network is not None:
            self.network.heal()
        else:
            self.cluster.heal()

    def client(self, timeout_s: float, attempt_s: float, read_from: str = "leader") -> Any:
        """A new KVClient of this cluster (one per client thread: its sockets are its own)."""
        return self.cluster.kv_client(timeout_s=timeout_s, attempt_s=attempt_s, read_from=read_from)

    def close(self) -> None:
        self.cluster.close()


class SimHarness:
    """A ``quorumlab.core.sim.Simulation``. A paused node is isolated in a group of its own (the simulator has no SIGSTOP;
    unlike a stopped process it keeps its timers running), on top of any partition."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.ids = sim.ids
        self._groups: list[list[int]] | None = None
        self._paused: set[int] = set()

    def leader(self) -> int | None:
        return self.sim.leader()

    def crash(self, node: int) -> None:
        self.sim.crash(node)

    def restart(self, node: int) -> None:
        self.sim.restart(node)

    def pause(self, node: int) -> None:
        self._paused.add(node)
        self._network()

    def resume(self, node: int) -> None:
        self._paused.discard(node)
        self._network()

    def partition(self, groups: list[list[int]]) -> None:
        self._groups = [list(g) for g in groups]
        self._network()

    def heal(self) -> None:
        self._groups = None
        self._network()

    def _network(self) -> None:
        groups = [[n for n in g if n not in self._paused] for g in (self._groups or [list(self.ids)])]
        groups = [g for g in groups if g] + [[n] for n in sorted(self._paused)]
        if len(groups) > 1:
            self.sim.partition(*groups)
        else:
            self.sim.heal()

    def submit(self, command: bytes, node: int) -> Any:
        """Propose ``command`` at ``node`` now; the simulator's Submission."""
        return self.sim.submit(command, node)

    def believed_leader(self, node: int) -> int | None:
        """Who ``node`` believes leads (what it would name in a redirect); None when it is down."""
        return self.sim.node(node).leader if self.sim.is_up(node) else None
