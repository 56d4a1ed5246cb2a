"""Task 5, split votes and term management: retry in a new term; higher terms first, lower terms answered."""
from __future__ import annotations

import pytest

from quorumlab.algorithms.raft import (
    ELECTION,
    HEARTBEAT,
    AppendEntries,
    AppendEntriesResponse,
    Raft,
    RequestVote,
    RequestVoteResponse,
)
from quorumlab.core.algorithm import Role
from quorumlab.core.effects import CancelTimer, Persist, Send
from quorumlab.core.sim import Simulation
from quorumlab.core.testing import arrive, notes, outgoing, timers
from tests.raft.helpers import CLUSTER, elect, make_node, persisted_before_sends


def test_candidate_without_majority_retries_in_next_term_with_a_new_random_timeout():
    node, _ = make_node(seed=8)
    first = node.fire(ELECTION, 200)
    second = node.fire(ELECTION, 450)
    assert node.term == 2 and node.role == Role.CANDIDATE
    assert outgoing(second) == [RequestVote(cluster=CLUSTER, src=1, dst=0, term=2, last_log_index=0, last_log_term=0)]
    assert persisted_before_sends(second)
    assert notes(second, "election_lost") == [{"term": 1, "reason": "election timeout without a majority"}]
    assert notes(second, "election_started") == [{"term": 2}]
    assert timers(first, ELECTION) != timers(second, ELECTION)  # drawn anew (these two draws differ for this seed)


def _in_role(role: Role) -> Raft:
    node, _ = make_node(term=2, voted_for=3)
    if role == Role.CANDIDATE:
        node.fire(ELECTION, 10)
    elif role == Role.LEADER:
        elect(node, 10)
    node.storage.flush()
    return node


# The vote request comes from a candidate holding the no-op entry (index 1, term 3) that a node
# elected in _in_role appends at once, so a leader's log is not more up to date than the sender's.
HIGHER = [
    (RequestVote, {"last_log_index": 1, "last_log_term": 3}),
    (RequestVoteResponse, {"granted": False}),
    (AppendEntries, {}),
    (AppendEntriesResponse, {"success": False}),
]


@pytest.mark.parametrize("role", [Role.FOLLOWER, Role.CANDIDATE, Role.LEADER])
@pytest.mark.parametrize("cls,fields", HIGHER, ids=[c.name for c, _ in HIGHER])
def test_any_message_with_higher_term_first_updates_term_clears_vote_steps_down_and_persists(role, cls, fields):
    node = _in_role(role)
    effects = node.receive(arrive(cls, 2, 1, 9, **fields), 20)
    assert node.term == 9 and node.role == Role.FOLLOWER
    assert type(effects[0]) is Persist  # the very first thing done
    node.storage.flush()
    durable = node.storage.durable()
    assert durable["term"] == 9
    assert durable["voted_for"] in (None, 2)  # cleared, then possibly given to the sender (RequestVote)
    assert node.voted_for == (2 if cls is RequestVote else None)
    assert node.leader == (2 if cls is AppendEntries else None)
    if role == Role.LEADER:
        assert CancelTimer(HEARTBEAT) in effects and len(timers(effects, ELECTION)) >= 1


def test_reply_to_higher_term_vote_request_carries_the_new_term_and_is_sent_after_persisting():
    node = _in_role(Role.LEADER)
    effects = node.receive(arrive(RequestVote, 2, 1, 9, last_log_index=1, last_log_term=3), 20)
    sends = [e for e in effects if type(e) is Send]
    assert [s.msg for s in sends] == [RequestVoteResponse(cluster=CLUSTER, src=1, dst=2, term=9, granted=True)]
    assert max(i for i, e in enumerate(effects) if type(e) is Persist) < effects.index(sends[0])


@pytest.mark.parametrize("role", [Role.FOLLOWER, Role.CANDIDATE, Role.LEADER])
def test_lower_term_requests_are_answered_with_current_term_and_otherwise_ignored(role):
    node = _in_role(role)
    term, voted, leader = node.term, node.voted_for, node.leader
    rv = node.receive(arrive(RequestVote, 2, 1, 1, last_log_index=5, last_log_term=1), 30)
    ae = node.receive(arrive(AppendEntries, 2, 1, 1), 30)
    assert outgoing(rv) == [RequestVoteResponse(cluster=CLUSTER, src=1, dst=2, term=term, granted=False)]
    assert outgoing(ae) == [
        AppendEntriesResponse(cluster=CLUSTER, src=1, dst=2, term=term, success=False, match_index=0, hint_index=0)
    ]
    assert (node.role, node.term, node.voted_for, node.leader) == (role, term, voted, leader)
    assert timers(rv, ELECTION) == [] and timers(ae, ELECTION) == []


@pytest.mark.parametrize("role", [Role.FOLLOWER, Role.CANDIDATE, Role.LEADER])
def test_lower_term_responses_are_ignored(role):
    node = _in_role(role)
    assert node.receive(arrive(RequestVoteResponse, 2, 1, 1, granted=True), 30) == []
    assert node.receive(arrive(AppendEntriesResponse, 2, 1, 1, success=True), 30) == []


@pytest.mark.parametrize("leader_term", [3, 4])
def test_candidate_steps_down_on_append_entries_from_leader_of_its_term_or_higher(leader_term):
    node, _ = make_node(term=2)
    node.fire(ELECTION, 10)
    effects = node.receive(arrive(AppendEntries, 2, 1, leader_term), 20)
    assert (node.role, node.term, node.leader) == (Role.FOLLOWER, leader_term, 2)
    assert len(notes(effects, "election_lost")) == 1


def test_forced_split_vote_is_resolved_by_new_terms_with_new_random_timeouts():
    """Every node starts an election at the same instant: round one cannot be won, a later round is."""
    rounds = []
    for seed in range(30):
        sim = Simulation(Raft, 5, seed=seed)
        sim.trigger(sim.ids, ELECTION)
        assert sim.run_until(lambda s: s.unanimous_leader() is not None, 2000), f"seed={seed}"
        won = [e for e in sim.events if e["kind"] == "election_won"]
        assert won[0]["term"] >= 2, f"seed={seed}: the all-at-once round 1 cannot have a winner"
        rounds.append(won[0]["term"])
        leader = sim.unanimous_leader()
        assert {sim.node(i).term for i in sim.ids} == {sim.node(leader).term}, f"seed={seed}"
    assert max(rounds) <= 4
