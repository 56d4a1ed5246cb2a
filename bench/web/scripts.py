"""Fault scripts: the same faults, at the same offsets, on every panel (the comparison table made visible).

A step's target is a node id, or ``"leader"``: each panel's own leader at that moment.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    at_ms: int
    action: str
    target: int | str | None = None
    """A node id, "leader", "leader+1" (the leader's ring neighbour), or None for cluster-wide actions."""


@dataclass(frozen=True)
class Script:
    name: str
    title: str
    steps: tuple[Step, ...]


SCRIPTS = {
    s.name: s
    for s in (
        Script("leader-crash", "crash the leader, restart it 2 s later",
               (Step(0, "crash", "leader"), Step(2000, "restart", "crashed"))),
        Script("leader-isolated", "cut the leader off for 3 s, then heal",
               (Step(0, "partition", "leader"), Step(3000, "heal"))),
        Script("split-vote", "fire every node's detection timer at once",
               (Step(0, "trigger"),)),
        Script("pause-leader", "pause the leader for 2 s, then resume it",
               (Step(0, "pause", "leader"), Step(2000, "resume", "paused"))),
    )
}
