"""The harness names being renamed (one vocabulary for Simulation and LocalCluster), used only through here.

``bench web`` calls ``LocalCluster.kill`` (to become ``crash``) and ``LocalCluster.fire`` (to become
``trigger``) in these two functions alone, so the rename is a one-line change each. It calls no
``agreed_leader``: a fault script's "leader" is ``Simulation.leader()`` or the last status poll.
"""
from __future__ import annotations

from typing import Iterable

from core.cluster import LocalCluster


def crash_process(cluster: LocalCluster, node: int) -> float:
    """SIGKILL one node process; returns the kill time on the events' clock."""
    return cluster.kill(node)


def trigger_timers(cluster: LocalCluster, nodes: Iterable[int], timer: str) -> None:
    """Fire ``timer`` now on each given live node process."""
    cluster.fire(list(nodes), timer)
