"""The observers catch what they claim to catch (they are not vacuous), and raft attaches them by default."""
from __future__ import annotations

import pytest

from quorumlab.algorithms.raft import (
    CommittedNeverLost,
    LeaderCompleteness,
    LogMatching,
    Raft,
    StateMachineSafety,
    TermNeverDecreases,
    VoteOnce,
)
from quorumlab.core.algorithm import Role
from quorumlab.core.effects import Note, RoleChanged, TermChanged
from quorumlab.core.errors import InvariantViolation
from quorumlab.core.observers import ElectionSafety
from quorumlab.core.sim import Simulation


class FakeSim:
    def fail(self, message: str) -> None:
        raise InvariantViolation(message)


def test_vote_once_flags_two_candidates_in_one_term():
    o, sim = VoteOnce(), FakeSim()
    o.on_effect(sim, 3, Note("vote_granted", {"term": 4, "candidate": 1}))
    o.on_effect(sim, 3, Note("vote_granted", {"term": 4, "candidate": 1}))  # same candidate again: fine
    o.on_effect(sim, 3, Note("vote_granted", {"term": 5, "candidate": 2}))  # another term: fine
    o.on_effect(sim, 2, Note("vote_granted", {"term": 4, "candidate": 2}))  # another node: fine
    with pytest.raises(InvariantViolation, match="node 3 voted for 1 and then for 2 in term 4"):
        o.on_effect(sim, 3, Note("vote_granted", {"term": 4, "candidate": 2}))


def test_term_never_decreases_flags_a_term_going_back():
    o, sim = TermNeverDecreases(), FakeSim()
    o.on_effect(sim, 1, TermChanged(0, 5))
    o.on_effect(sim, 1, TermChanged(0, 5))  # a restart that read term 5 back
    with pytest.raises(InvariantViolation, match="node 1 is at term 1 after having reached term 5"):
        o.on_effect(sim, 1, TermChanged(0, 1))


def test_election_safety_flags_two_leaders_in_one_term():
    o, sim = ElectionSafety(), FakeSim()
    o.on_effect(sim, 1, RoleChanged(Role.CANDIDATE, Role.LEADER, 3))
    with pytest.raises(InvariantViolation, match="both became leader in term 3"):
        o.on_effect(sim, 2, RoleChanged(Role.CANDIDATE, Role.LEADER, 3))


def test_simulation_attaches_fresh_raft_observers_by_default():
    a, b = Simulation(Raft, 3, seed=1), Simulation(Raft, 3, seed=1)
    kinds = {type(o) for o in a.observers}
    assert kinds == {
        ElectionSafety, VoteOnce, TermNeverDecreases, LogMatching, StateMachineSafety, LeaderCompleteness, CommittedNeverLost
    }
    assert not set(map(id, a.observers)) & set(map(id, b.observers))
