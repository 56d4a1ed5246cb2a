"""Safety observers: invariants checked on every simulated run (and on event logs of real runs).

An observer sees every effect a node emits (``on_effect``) and may inspect the
whole simulation after each event (``after_event``). A violation calls
``sim.fail(message)``, which raises InvariantViolation with the seed and the
last events of the trace, so the run can be replayed.
"""
from __future__ import annotations

from typing import Any

from quorumlab.core.algorithm import Role
from quorumlab.core.effects import LeaderChanged, RoleChanged, TermChanged


class Observer:
    """Base class: override what you need."""

    def on_effect(self, sim: Any, node: int, effect: Any) -> None:
        """Called for each effect a node emits, in order."""

    def after_event(self, sim: Any) -> None:
        """Called after each event (delivery, timer, crash, restart) is fully handled.

        ``sim.last_node`` names the node that handled it (None for network-wide events such as
        a partition), so an observer of per-node state can look at that node alone.
        """


class ElectionSafety(Observer):
    """At most one leader per term over the whole run, crashed and restarted nodes included."""

    def __init__(self) -> None:
        self.leader_of_term: dict[int, int] = {}

    def on_effect(self, sim: Any, node: int, effect: Any) -> None:
        if type(effect) is RoleChanged and effect.new == Role.LEADER:
            other = self.leader_of_term.setdefault(effect.term, node)
            if other != node:
                sim.fail(f"election safety: nodes {other} and {node} both became leader in term {effect.term}")


class TermNeverDecreases(Observer):
    """A node's term only grows, across restarts too: a restarted node must read its term back from storage."""

    def __init__(self) -> None:
        self.highest: dict[int, int] = {}

    def on_effect(self, sim: Any, node: int, effect: Any) -> None:
        t = type(effect)
        if t is TermChanged:
            term = effect.new
        elif t is RoleChanged or t is LeaderChanged:
            term = effect.term
        else:
            return
        best = self.highest.get(node, 0)
        if term < best:
            sim.fail(f"term went back: node {node} is at term {term} after having reached term {best}")
        self.highest[node] = max(best, term)
