"""The cluster a story drives: quorumlab.core.testing.ManualCluster, keeping what every node shows along the way.

Three differences from a plain ManualCluster, each for the sake of a readable story:
every observable effect is recorded (``Recorder``) so the story can print it under the step
that caused it; a safety violation is recorded and the story goes on, so the file shows it
where it happened instead of stopping at an exception; and every timer armed with no delay
fires as soon as its node's effects are carried out, as a runtime's next turn would fire it
(raft's group-commit ``flush``), without the story naming any algorithm's timers.
"""
from __future__ import annotations

from typing import Any, Iterable

from quorumlab.core.effects import Apply, LeaderChanged, Note, Proposed, ProposeRejected, RoleChanged, TermChanged, as_event
from quorumlab.core.observers import Observer
from quorumlab.core.scenario.trace import Record
from quorumlab.core.testing import ManualCluster, armed


class Recorder(Observer):
    """Every role, term and leader change, note, proposal outcome and applied entry, in order, per node."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.leader_of: dict[int, int | None] = {}

    def on_effect(self, sim: Any, node: int, effect: Any) -> None:
        t = type(effect)
        if t is RoleChanged:
            self.records.append((node, "role", effect.old, effect.new))
        elif t is TermChanged:
            self.records.append((node, "term", effect.old, effect.new))
        elif t is LeaderChanged:
            self.records.append((node, "leader", self.leader_of.get(node), effect.leader))
            self.leader_of[node] = effect.leader
        elif t is Apply:
            self.records.append((node, "apply", effect.index, (effect.term, effect.data)))
        elif t is Note or t is Proposed or t is ProposeRejected:
            self.records.append((node, "note", *as_event(effect)))


class RecordingCluster(ManualCluster):
    """A ManualCluster whose steps a story can print: ``recorder.records`` and ``violations`` only grow."""

    def __init__(self, algo: type, n: int, config: Any, observers: Iterable[Any]) -> None:
        self.recorder = Recorder()
        self.violations: list[str] = []
        super().__init__(algo, n, config, observers=[*observers, self.recorder])

    def fail(self, message: str) -> None:
        """Record a safety violation (once per message) and let the story go on."""
        if message not in self.violations:
            self.violations.append(message)

    def restart(self, i: int) -> None:
        self.recorder.leader_of[i] = None  # a fresh node knows no leader
        super().restart(i)

    def run(self, i: int, effects: list) -> None:
        """Carry out node ``i``'s effects, then fire the timers they armed with no delay."""
        zero = [name for name, delay in armed(effects).items() if delay == 0]
        super().run(i, effects)
        for name in zero:
            if i in self.up and self.armed[i].get(name, self.now + 1) <= self.now:
                self.trigger(i, name)
