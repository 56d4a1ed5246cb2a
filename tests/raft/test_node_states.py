"""Task 1, node states: every node starts as a follower; Figure 4's transitions and no others."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from quorumlab.algorithms.raft import (
    ELECTION,
    HEARTBEAT,
    AppendEntries,
    AppendEntriesResponse,
    RequestVote,
    RequestVoteResponse,
)
from quorumlab.core.algorithm import Role
from quorumlab.core.effects import RoleChanged
from quorumlab.core.storage import MemoryStorage
from quorumlab.core.testing import arrive, flush_persists, outgoing, timers
from tests.raft.helpers import elect, make_node

FIGURE_4 = {
    (Role.FOLLOWER, Role.CANDIDATE),  # times out, starts election
    (Role.CANDIDATE, Role.LEADER),  # receives votes from a majority
    (Role.CANDIDATE, Role.FOLLOWER),  # discovers current leader or new term
    (Role.LEADER, Role.FOLLOWER),  # discovers server with higher term
}


def test_every_node_starts_as_follower_without_leader_or_messages():
    node, effects = make_node()
    assert (node.role, node.term, node.leader, node.voted_for) == (Role.FOLLOWER, 0, None, None)
    assert outgoing(effects) == []
    assert len(timers(effects, ELECTION)) == 1


def test_a_restarted_node_starts_as_follower_in_its_durable_term():
    node, _ = make_node(term=7, voted_for=3)
    assert (node.role, node.term, node.voted_for, node.leader) == (Role.FOLLOWER, 7, 3, None)


def test_follower_becomes_candidate_when_its_election_timer_fires():
    node, _ = make_node()
    effects = node.fire(ELECTION, 200)
    assert node.role == Role.CANDIDATE
    assert RoleChanged(Role.FOLLOWER, Role.CANDIDATE, 1) in effects


def test_candidate_that_times_out_stays_candidate_in_a_new_term():
    node, _ = make_node()
    node.fire(ELECTION, 200)
    effects = node.fire(ELECTION, 400)
    assert (node.role, node.term) == (Role.CANDIDATE, 2)
    assert not [e for e in effects if type(e) is RoleChanged]


def test_candidate_with_majority_becomes_leader():
    node, _ = make_node()
    effects = elect(node)
    assert (node.role, node.leader) == (Role.LEADER, 1)
    assert RoleChanged(Role.CANDIDATE, Role.LEADER, 1) in effects


def test_candidate_returns_to_follower_when_a_leader_of_its_term_appears():
    node, _ = make_node()
    node.fire(ELECTION, 200)
    node.receive(arrive(AppendEntries, 2, 1, 1), 201)
    assert (node.role, node.term, node.leader) == (Role.FOLLOWER, 1, 2)


def test_leader_returns_to_follower_on_a_higher_term():
    node, _ = make_node()
    elect(node)
    node.receive(arrive(RequestVoteResponse, 3, 1, 5, granted=False), 10)
    assert (node.role, node.term, node.leader) == (Role.FOLLOWER, 5, None)


def test_answers_to_a_round_no_longer_open_change_nothing():
    node, _ = make_node()
    assert node.receive(arrive(AppendEntriesResponse, 2, 1, 0, success=True, match_index=0), 5) == []
    assert node.receive(arrive(RequestVoteResponse, 2, 1, 0, granted=True), 5) == []
    elect(node)
    assert node.receive(arrive(RequestVoteResponse, 3, 1, 1, granted=True), 6) == []


def test_leader_ignores_the_election_timer():
    node, _ = make_node()
    elect(node)
    effects = node.fire(ELECTION, 10)
    assert (node.role, node.term) == (Role.LEADER, 1) and effects == []


def test_follower_ignores_the_heartbeat_timer():
    node, _ = make_node()
    assert node.fire(HEARTBEAT, 10) == [] and node.role == Role.FOLLOWER


def test_single_node_cluster_elects_itself_on_first_timeout():
    node, _ = make_node(1, (1,))
    node.fire(ELECTION, 150)
    assert (node.role, node.term, node.leader) == (Role.LEADER, 1, 1)


# -- property: whatever arrives, only Figure 4's transitions happen -----------------------------

peers = st.sampled_from([2, 3])
terms = st.integers(0, 4)
events = st.one_of(
    st.tuples(st.just("timer"), st.sampled_from([ELECTION, HEARTBEAT])),
    st.tuples(st.just("vote"), peers, terms, st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("vote_response"), peers, terms, st.booleans()),
    st.tuples(st.just("append"), peers, terms),
    st.tuples(st.just("append_response"), peers, terms, st.booleans()),
    st.tuples(st.just("restart")),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(events, max_size=40), st.lists(st.integers(1, 3), max_size=3).map(sorted))
def test_any_event_sequence_only_takes_figure_4_transitions(sequence, log_terms):
    storage = MemoryStorage()
    node, _ = make_node(storage=storage, log_terms=log_terms)
    highest_term = 0
    for now, ev in enumerate(sequence, start=1):
        kind = ev[0]
        if kind == "timer":
            effects = node.fire(ev[1], now)
        elif kind == "vote":
            _, src, t, li, lt = ev
            effects = node.receive(arrive(RequestVote, src, 1, t, last_log_index=li, last_log_term=lt), now)
        elif kind == "vote_response":
            effects = node.receive(arrive(RequestVoteResponse, ev[1], 1, ev[2], granted=ev[3]), now)
        elif kind == "append":
            effects = node.receive(arrive(AppendEntries, ev[1], 1, ev[2]), now)
        elif kind == "append_response":
            effects = node.receive(arrive(AppendEntriesResponse, ev[1], 1, ev[2], success=ev[3]), now)
        else:
            storage.crash()
            node, effects = make_node(storage=storage, log_terms=log_terms)
        flush_persists(node.storage, effects)
        for e in effects:
            if type(e) is RoleChanged:
                assert (e.old, e.new) in FIGURE_4, f"illegal transition {e.old} -> {e.new} after {ev}"
        assert node.term >= highest_term, "term went backwards"
        highest_term = node.term
        if node.role == Role.LEADER:
            assert node.leader == 1
