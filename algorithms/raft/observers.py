"""Raft's safety observers: the election invariants and the four log invariants of Figure 3.

The election observers (one leader per term, one vote per node per term, terms
never go back) read only effects, so the same checks run on the event log of
real processes. The log observers (Log Matching, Leader Completeness, State
Machine Safety, committed entries never lost) learn what is committed from
``Apply`` effects and read the nodes' logs in the simulator. They hold across
log compaction: entries before a log's base are in its snapshot (committed ones,
which State Machine Safety checks by comparing the state machines' contents at
every snapshot index, taken or restored).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from quorumlab.core.algorithm import Role
from quorumlab.algorithms.raft.membership import Membership, decode, is_config
from quorumlab.core.effects import Apply, Note, RestoreSnapshot, RoleChanged, TakeSnapshot
from quorumlab.core.observers import ElectionSafety, Observer, TermNeverDecreases

__all__ = [
    "CommittedNeverLost",
    "ElectionSafety",
    "LeaderCompleteness",
    "LogMatching",
    "StateMachineSafety",
    "TermNeverDecreases",
    "VoteOnce",
    "election_observers",
    "replication_observers",
]


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


class LogMatching(Observer):
    """Two logs holding an entry with the same index and term hold the same command there and agree before it.

    Checked by induction over every entry any node ever holds: each (index, term) must always
    come with the same command and the same term at index - 1. After every event only the log of
    the node that handled it can have changed (``sim.last_node``), and of that log only the
    entries appended since the last look are checked (the whole log again after a truncation).
    """

    def __init__(self) -> None:
        self.seen: dict[tuple[int, int], tuple[int, bytes]] = {}
        self.checked: dict[int, tuple[Any, int, int]] = {}

    def after_event(self, sim: Any) -> None:
        i = sim.last_node
        if i is None:
            return
        seen = self.seen
        node = sim.node(i)
        if node is not None:
            log = node.log
            mark = self.checked.get(i)
            start = log.first_index
            if mark is not None and mark[0] is log and mark[1] == log.truncations:
                start = max(start, min(mark[2], len(log)) + 1)
            for index in range(start, len(log) + 1):
                e = log.entry(index)
                here = (log.term_at(index - 1), e.data)
                there = seen.setdefault((index, e.term), here)
                if there != here:
                    sim.fail(
                        f"log matching: node {i} holds entry {index} of term {e.term} with (previous term, command) "
                        f"{here!r}; another log holds {there!r}"
                    )
            self.checked[i] = (log, log.truncations, len(log))


class StateMachineSafety(Observer):
    """No two nodes apply different entries at the same index (restarted nodes re-apply the same ones), and no two
    state machines differ at a snapshot index: the image a node writes, and the state a node restores from one,
    hash to the same contents at that index everywhere (what stands in for the entries a snapshot replaced)."""

    def __init__(self) -> None:
        self.applied: dict[int, tuple[int, bytes]] = {}
        self.states: dict[int, tuple[int, str]] = {}  # snapshot index -> (node that first had it, contents hash)

    def on_effect(self, sim: Any, node: int, effect: Any) -> None:
        t = type(effect)
        if t is TakeSnapshot or t is RestoreSnapshot:
            machine = sim.machine(node)
            if machine is None:
                return
            digest = hashlib.blake2b(json.dumps(machine.contents(), sort_keys=True).encode(), digest_size=16).hexdigest()
            first, there = self.states.setdefault(effect.index, (node, digest))
            if there != digest:
                sim.fail(f"state machine safety: node {node}'s state at snapshot index {effect.index} differs from "
                         f"node {first}'s")
        elif t is Apply:
            here = (effect.term, effect.data)
            there = self.applied.setdefault(effect.index, here)
            if there != here:
                sim.fail(
                    f"state machine safety: node {node} applied (term, command) {here!r} at index {effect.index}, "
                    f"another node applied {there!r}"
                )


class LeaderCompleteness(Observer):
    """A node that becomes leader holds every entry committed before (committed = applied somewhere)."""

    def __init__(self) -> None:
        self.committed: dict[int, int] = {}

    def on_effect(self, sim: Any, node: int, effect: Any) -> None:
        t = type(effect)
        if t is Apply:
            self.committed[effect.index] = effect.term
        elif t is RoleChanged and effect.new == Role.LEADER:
            log = sim.node(node).log
            for index, term in self.committed.items():
                if index >= log.base and log.term_at(index) != term:  # before the base: in its snapshot
                    sim.fail(
                        f"leader completeness: node {node} leads term {effect.term} without committed entry "
                        f"{index} of term {term} (it holds term {log.term_at(index)} there)"
                    )


class CommittedNeverLost(Observer):
    """At every moment the highest committed entry is durable (crashed nodes included) on enough voters that every
    majority meets one of them: of the newest committed configuration, and of every newer one that a node holding
    the entry already uses (for a joint one, of either set). A node that lacks the entry and uses an older, stale
    configuration can only lead if that configuration's majority elects it, which Leader Completeness checks."""

    def __init__(self) -> None:
        self.top: tuple[int, int] = (0, 0)
        self.committed_config: tuple[int, Any] = (0, None)  # the newest configuration entry applied anywhere

    def on_effect(self, sim: Any, node: int, effect: Any) -> None:
        if type(effect) is Apply:
            if effect.index > self.top[0]:
                self.top = (effect.index, effect.term)
            if effect.index > self.committed_config[0] and is_config(effect.data):
                self.committed_config = (effect.index, decode(effect.data))

    def after_event(self, sim: Any) -> None:
        index, term = self.top
        if index == 0:
            return
        logs = [(i, sim.node(i).log) for i in sim.ids if sim.node(i) is not None]
        holders = {i for i, log in logs
                   if log.durable_index >= index and (index < log.base or log.term_at(index) == term)}
        since, config = self.committed_config
        configs = [config if config is not None else Membership.bootstrap(getattr(sim, "bootstrap", sim.ids))]
        for i in holders:
            history = getattr(sim.node(i), "_history", None)
            if history is not None and history.current_index > since:
                configs.append(history.current)
        for m in set(configs):
            # a joint configuration's leader needs a majority of both sets: either set that every majority of meets
            # a holder is enough
            if all(len(holders & voters) <= len(voters) - (len(voters) // 2 + 1)
                   for voters in ((m.voters, m.outgoing) if m.outgoing else (m.voters,))):
                sim.fail(
                    f"committed entry lost: entry {index} of term {term} is durable only on nodes {sorted(holders)}"
                    f" of the voters {sorted(m.voters)}"
                    + (f" (joint with {sorted(m.outgoing)})" if m.outgoing else "")
                )


def election_observers() -> list[Observer]:
    """Fresh instances of every election invariant observer."""
    return [ElectionSafety(), VoteOnce(), TermNeverDecreases()]


def replication_observers() -> list[Observer]:
    """Fresh instances of every election and log invariant observer (what Raft.safety_observers returns)."""
    return [*election_observers(), LogMatching(), StateMachineSafety(), LeaderCompleteness(), CommittedNeverLost()]
