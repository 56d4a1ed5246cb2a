"""Effects: what an algorithm asks its runtime to do. Runtimes execute them in order.

An algorithm never performs I/O. It returns these small records from every
event handler; the simulator and the ZeroMQ runtime carry them out. Order
matters: a ``Persist`` must be flushed before any ``Send`` that follows it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BROADCAST = 0
"""Destination id meaning "every other voter". Node ids start at 1."""


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``msg`` to node ``to`` (``msg.dst`` already says who)."""

    to: int
    msg: Any


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send ``msg`` to every other voter; it is encoded once, with ``dst`` = BROADCAST."""

    msg: Any


@dataclass(frozen=True, slots=True)
class SetTimer:
    """Arm (or re-arm: the previous one of that name is cancelled) timer ``name`` to fire in ``delay_ms``."""

    name: str
    delay_ms: int


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Cancel timer ``name`` if it is armed."""

    name: str


@dataclass(frozen=True, slots=True)
class Persist:
    """Durable state changed: flush storage before executing any later effect."""


@dataclass(frozen=True, slots=True)
class Apply:
    """Apply a committed log entry to the state machine (in order, exactly once)."""

    index: int
    term: int
    data: bytes


@dataclass(frozen=True, slots=True)
class RoleChanged:
    """The node's role changed (emitted by the base class, not by algorithms)."""

    old: Any
    new: Any
    term: int


@dataclass(frozen=True, slots=True)
class TermChanged:
    """The node's term (term, ballot round, epoch) grew (emitted by the base class)."""

    old: int
    new: int


@dataclass(frozen=True, slots=True)
class LeaderChanged:
    """The node's belief about who leads changed (emitted by the base class)."""

    leader: int | None
    term: int


@dataclass(frozen=True, slots=True)
class Note:
    """An observation for the event stream: election_started, election_won, election_lost, ...

    ``data`` holds JSON-friendly values. Runtimes log notes; bench turns them into metrics.
    """

    kind: str
    data: dict = field(default_factory=dict)


def as_event(effect: Any) -> tuple[str, dict]:
    """The event-stream form (kind, fields) of an observable effect: RoleChanged, TermChanged,
    LeaderChanged, Note or Apply. Both runtimes write events through this one function, so the
    simulator's ``Simulation.events`` and a real node's events.jsonl share one schema."""
    t = type(effect)
    if t is RoleChanged:
        return "role", {"from": str(effect.old), "to": str(effect.new), "term": effect.term}
    if t is TermChanged:
        return "term", {"from": effect.old, "to": effect.new}
    if t is LeaderChanged:
        return "leader", {"leader": effect.leader, "term": effect.term}
    if t is Note:
        return effect.kind, effect.data
    if t is Apply:
        return "apply", {"index": effect.index, "term": effect.term}
    raise TypeError(f"{t.__name__} is not an observable effect")
