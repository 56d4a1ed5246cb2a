"""The few harness names that are being renamed (issue: one vocabulary for Simulation and LocalCluster).

``bench web`` calls them only through here, so the rename is a one-line change per name:
``LocalCluster.kill`` -> ``crash``, ``LocalCluster.fire`` -> ``trigger``,
``Simulation.agreed_leader`` -> ``unanimous_leader``.
"""
from __future__ import annotations

from typing import Iterable

from core.cluster import LocalCluster
from core.sim import Simulation


def crash_process(cluster: LocalCluster, node: int) -> float:
    """SIGKILL one node process; returns the kill time on the events' clock."""
    return cluster.kill(node)


def trigger_timers(cluster: LocalCluster, nodes: Iterable[int], timer: str) -> None:
    """Fire ``timer`` now on each given live node process."""
    cluster.fire(list(nodes), timer)


def unanimous_leader(sim: Simulation) -> int | None:
    """The leader every live simulated node agrees on, if any."""
    return sim.agreed_leader()
