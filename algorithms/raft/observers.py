"""Raft's safety observers: one leader per term, one vote per node per term, terms never go back.

They read only effects (notes and term changes), never a node's internals, so
the same checks run on the event log of real processes.
"""
from __future__ import annotations

from typing import Any

from core.effects import Note, TermChanged
from core.observers import ElectionSafety, Observer

__all__ = ["ElectionSafety", "TermMonotonic", "VoteOnce", "election_observers"]


class VoteOnce(Observer):
    """No node grants its vote to two different candidates in one term, across crashes and restarts.

    Raft nodes emit a ``vote_granted`` note {"term", "candidate"} for every vote they give,
    their own vote as a candidate included.
    """

    def __init__(self) -> None:
        self.vote_of: dict[tuple[int, int], int] = {}

    def on_effect(self, sim: Any, node: int, effect: Any) -> None:
        if type(effect) is Note and effect.kind == "vote_granted":
            term = effect.data["term"]
            candidate = effect.data["candidate"]
            earlier = self.vote_of.setdefault((node, term), candidate)
            if earlier != candidate:
                sim.fail(f"vote once: node {node} voted for {earlier} and then for {candidate} in term {term}")


class TermMonotonic(Observer):
    """A node's term never goes below the highest term it has reported, across crashes and restarts."""

    def __init__(self) -> None:
        self.highest: dict[int, int] = {}

    def on_effect(self, sim: Any, node: int, effect: Any) -> None:
        if type(effect) is TermChanged:
            seen = self.highest.get(node, 0)
            if effect.new < seen:
                sim.fail(f"term monotonic: node {node} went from term {seen} back to term {effect.new}")
            self.highest[node] = max(seen, effect.new)


def election_observers() -> list[Observer]:
    """Fresh instances of every election invariant observer."""
    return [ElectionSafety(), VoteOnce(), TermMonotonic()]
