"""Safety observers for Paxos election, checked on every simulated run.

* LeaseExclusion: at no moment of simulated time do two nodes hold a
  majority-granted lease. Each lease a node announces (``lease_acquired`` /
  ``lease_renewed`` notes: start, until) is widened by the drift bound, as if
  the holder's clock ran slow and the acceptors' fast, and no two nodes'
  widened intervals may overlap. In a simulation it also ties the notes to the
  role: a live node in the LEADER role past the end of its last announced
  lease is a violation (otherwise a leader that never steps down would go
  unseen, since it announces nothing).
* BallotSafety: at most one leader per ballot, the ballot is the winner's own,
  and successive leaderships carry growing ballots (so the fencing token grows).
* PromiseKept: a node never promises or accepts a ballot below one it promised
  earlier, crashes and restarts included (checked on its ``promised`` /
  ``accepted`` notes and on every Promise and Accepted it sends).

``check_event_log`` replays a real run's event log (for example
``LocalCluster.events()``: lease times are CLOCK_MONOTONIC ms, comparable
across processes on one host) through the same observers.

The core's per-term ElectionSafety does not apply: ``term`` is a ballot round,
and two nodes may lead, one after the other, with the same round and
different node ids. BallotSafety is the per-ballot version.
"""
from __future__ import annotations

from typing import Any, Iterable

from quorumlab.core.algorithm import Role
from quorumlab.core.effects import Broadcast, Note, RoleChanged, Send
from quorumlab.core.errors import InvariantViolation
from quorumlab.core.observers import Observer

from quorumlab.algorithms.paxos.ballot import Ballot, drift_widened
from quorumlab.algorithms.paxos.config import PaxosConfig
from quorumlab.algorithms.paxos.messages import Accepted, Promise


class LeaseExclusion(Observer):
    """At most one node holds a valid majority lease at any moment, with leases widened by the drift bound."""

    def __init__(self, drift: float | None = None) -> None:
        self.drift = drift
        self.spans: dict[int, list[list]] = {}
        self.lease_end: dict[int, int] = {}
        self.leading: set[int] = set()

    def on_effect(self, sim: Any, node: int, effect: Any) -> None:
        if type(effect) is RoleChanged:
            if effect.new == Role.LEADER:
                self.leading.add(node)
            else:
                self.leading.discard(node)
            return
        if type(effect) is not Note or effect.kind not in ("lease_acquired", "lease_renewed"):
            return
        self.lease_end[node] = effect.data["until"]
        drift = self.drift if self.drift is not None else getattr(sim.config, "max_clock_drift", 0.0)
        start, until = effect.data["start"], effect.data["until"]
        length = until - start
        end = start + drift_widened(length, drift)
        horizon = start - 2 * length
        for other, spans in self.spans.items():
            if other == node:
                continue
            spans[:] = [s for s in spans if s[1] > horizon]
            for s_start, s_end, s_ballot in spans:
                if s_start < end and start < s_end:
                    sim.fail(
                        f"lease exclusion: node {node} holds a lease [{start}, {end}) under ballot {effect.data['ballot']} "
                        f"while node {other} holds [{s_start}, {s_end}) under ballot {s_ballot} (drift bound {drift})"
                    )
        mine = self.spans.setdefault(node, [])
        if mine and start <= mine[-1][1]:
            mine[-1][1] = max(mine[-1][1], end)
            mine[-1][2] = effect.data["ballot"]
        else:
            mine.append([start, end, effect.data["ballot"]])

    def after_event(self, sim: Any) -> None:
        """A live leader must hold an unexpired lease (its lease timer fires at ``until``, so ``now > until`` is late)."""
        for node in list(self.leading):
            if not sim.is_up(node):
                self.leading.discard(node)
            elif sim.now > self.lease_end.get(node, -1):
                sim.fail(f"lease exclusion: node {node} is still leader at {sim.now}, after its lease ended at {self.lease_end.get(node)}")


class BallotSafety(Observer):
    """One leader per ballot, a leader's ballot carries its own id, and leadership ballots only grow."""

    def __init__(self) -> None:
        self.winner: dict[Ballot, int] = {}
        self.last: Ballot = (0, 0)

    def on_effect(self, sim: Any, node: int, effect: Any) -> None:
        if type(effect) is not Note or effect.kind != "election_won":
            return
        ballot = tuple(effect.data["ballot"])
        if ballot[1] != node:
            sim.fail(f"ballot safety: node {node} won under ballot {list(ballot)}, which is not its own")
        other = self.winner.setdefault(ballot, node)
        if other != node:
            sim.fail(f"ballot safety: nodes {other} and {node} both led under ballot {list(ballot)}")
        if ballot <= self.last:
            sim.fail(f"ballot safety: node {node} won under ballot {list(ballot)} after ballot {list(self.last)} had led")
        self.last = ballot


class PromiseKept(Observer):
    """No node promises or accepts a ballot below the highest it promised before, restarts included."""

    def __init__(self) -> None:
        self.highest: dict[int, Ballot] = {}

    def _check(self, sim: Any, node: int, ballot: Ballot, what: str) -> None:
        before = self.highest.get(node, (0, 0))
        if ballot < before:
            sim.fail(f"promise broken: node {node} {what} ballot {list(ballot)} after promising {list(before)}")
        self.highest[node] = max(before, ballot)

    def on_effect(self, sim: Any, node: int, effect: Any) -> None:
        t = type(effect)
        if t is Note:
            if effect.kind in ("promised", "accepted"):
                self._check(sim, node, tuple(effect.data["ballot"]), effect.kind)
        elif t is Send or t is Broadcast:
            msg = effect.msg
            mt = type(msg)
            if mt is Promise or mt is Accepted:
                self._check(sim, node, (msg.round, msg.bid), "sent " + msg.name + " for")


def default_observers() -> list[Observer]:
    """A fresh set of the three Paxos observers (observers keep per-run state)."""
    return [LeaseExclusion(), BallotSafety(), PromiseKept()]


class _LoggedRun:
    """Stands in for a Simulation when the observers replay an event log."""

    def __init__(self, config: PaxosConfig) -> None:
        self.config = config

    def fail(self, message: str) -> None:
        raise InvariantViolation(message)


def check_event_log(events: Iterable[dict], config: PaxosConfig | None = None) -> None:
    """Replay the notes of an event log, in time order, through fresh observers; raises InvariantViolation."""
    run = _LoggedRun(config if config is not None else PaxosConfig())
    checks = default_observers()
    for event in sorted(events, key=lambda e: e["t"]):
        note = Note(event["kind"], event)
        for check in checks:
            check.on_effect(run, event["node"], note)
