"""Task 4, RequestVote: how a candidate asks, when a voter grants (term, one vote, up-to-date log), how votes count."""
from __future__ import annotations

import pytest

from quorumlab.algorithms.raft import ELECTION, RequestVote, RequestVoteResponse
from quorumlab.core.algorithm import Role
from quorumlab.core.effects import Persist
from quorumlab.core.testing import arrive, notes, outgoing, timers
from tests.raft.helpers import CLUSTER, make_node, persisted_before_sends


def vote_reply(src: int, dst: int, term: int, granted: bool) -> RequestVoteResponse:
    return RequestVoteResponse(cluster=CLUSTER, src=src, dst=dst, term=term, granted=granted)


# -- the candidate -------------------------------------------------------------------------------


def test_candidate_increments_term_votes_for_itself_persists_then_asks_everyone():
    node, _ = make_node(term=4, log_terms=[1, 3])
    effects = node.fire(ELECTION, 200)
    assert (node.role, node.term, node.voted_for) == (Role.CANDIDATE, 5, 1)
    assert outgoing(effects) == [RequestVote(cluster=CLUSTER, src=1, dst=0, term=5, last_log_index=2, last_log_term=3)]
    assert persisted_before_sends(effects)
    node.storage.flush()
    assert node.storage.durable() == {"term": 5, "voted_for": 1}
    assert notes(effects, "election_started") == [{"term": 5}]
    assert notes(effects, "vote_granted") == [{"term": 5, "candidate": 1}]


@pytest.mark.parametrize(
    "size,votes,role",
    [
        (1, {}, Role.LEADER),
        (3, {2: True, 3: True}, Role.LEADER),
        (3, {2: True}, Role.LEADER),
        (5, {2: True, 3: True, 4: True, 5: True}, Role.LEADER),
        (5, {2: True, 3: True}, Role.LEADER),
        # refused by a majority: the paper's candidate waits for its timeout (Figure 4 has no such edge)
        (3, {2: False, 3: False}, Role.CANDIDATE),
        (5, {2: True, 3: False, 4: False, 5: False}, Role.CANDIDATE),
        # no majority yet
        (3, {}, Role.CANDIDATE),
        (5, {2: True}, Role.CANDIDATE),
        (5, {2: False, 3: False}, Role.CANDIDATE),
    ],
)
def test_candidate_becomes_leader_exactly_on_a_majority_of_votes(size, votes, role):
    node, _ = make_node(voters=range(1, size + 1))
    node.fire(ELECTION, 200)
    for voter, granted in votes.items():
        node.receive(arrive(RequestVoteResponse, voter, 1, 1, granted=granted), 201)
    assert (node.role, node.term) == (role, 1)


def test_candidate_refused_by_a_majority_reports_the_lost_election_once():
    node, _ = make_node()
    node.fire(ELECTION, 200)
    lost = notes(node.receive(arrive(RequestVoteResponse, 2, 1, 1, granted=False), 201), "election_lost")
    lost += notes(node.receive(arrive(RequestVoteResponse, 3, 1, 1, granted=False), 201), "election_lost")
    lost += notes(node.fire(ELECTION, 400), "election_lost")
    assert lost == [{"term": 1, "reason": "a majority refused its vote"}]


def test_a_voter_is_counted_once_however_often_it_answers():
    node, _ = make_node(voters=range(1, 6))
    node.fire(ELECTION, 200)
    for _ in range(3):
        node.receive(arrive(RequestVoteResponse, 2, 1, 1, granted=True), 201)
    assert node.role == Role.CANDIDATE
    node.receive(arrive(RequestVoteResponse, 3, 1, 1, granted=True), 202)
    assert node.role == Role.LEADER


def test_votes_from_an_earlier_term_are_not_counted():
    node, _ = make_node(term=3)
    node.fire(ELECTION, 200)
    node.receive(arrive(RequestVoteResponse, 2, 1, 3, granted=True), 201)
    assert (node.role, node.term) == (Role.CANDIDATE, 4)


def test_leader_ignores_late_votes():
    node, _ = make_node(voters=range(1, 6))
    node.fire(ELECTION, 200)
    for voter in (2, 3):
        node.receive(arrive(RequestVoteResponse, voter, 1, 1, granted=True), 201)
    assert node.role == Role.LEADER
    assert node.receive(arrive(RequestVoteResponse, 4, 1, 1, granted=True), 202) == []


# -- the voter -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "voted_for,candidate,granted",
    [(None, 2, True), (None, 3, True), (2, 2, True), (3, 3, True), (2, 3, False), (3, 2, False)],
)
def test_follower_votes_at_most_once_per_term_first_come_first_served(voted_for, candidate, granted):
    node, _ = make_node(1, term=1, voted_for=voted_for)
    effects = node.receive(arrive(RequestVote, candidate, 1, 1), 10)
    assert outgoing(effects) == [vote_reply(1, candidate, 1, granted)]
    assert node.voted_for == (candidate if granted else voted_for)


def test_follower_rejects_candidate_of_lower_term_and_tells_it_the_current_term():
    node, _ = make_node(1, term=5)
    effects = node.receive(arrive(RequestVote, 2, 1, 4), 10)
    assert outgoing(effects) == [vote_reply(1, 2, 5, False)]
    assert (node.term, node.voted_for) == (5, None) and timers(effects, ELECTION) == []


@pytest.mark.parametrize(
    "cand_last_term,cand_last_index,granted",
    [
        (2, 2, True),  # identical logs
        (2, 5, True),  # same last term, longer
        (3, 1, True),  # later last term, shorter
        (2, 1, False),  # same last term, shorter
        (1, 9, False),  # earlier last term, longer
        (0, 0, False),  # empty
    ],
)
def test_follower_rejects_vote_for_stale_log(cand_last_term, cand_last_index, granted):
    node, _ = make_node(1, term=2, log_terms=[1, 2])
    effects = node.receive(
        arrive(RequestVote, 2, 1, 3, last_log_index=cand_last_index, last_log_term=cand_last_term), 10
    )
    assert outgoing(effects) == [vote_reply(1, 2, 3, granted)]
    assert node.term == 3  # the higher term is adopted either way


def test_granting_a_vote_persists_it_before_replying_and_resets_the_election_timer():
    node, _ = make_node(1, term=1)
    effects = node.receive(arrive(RequestVote, 2, 1, 1), 10)
    assert persisted_before_sends(effects)
    assert node.storage.read() == {"term": 1, "voted_for": 2}
    assert len(timers(effects, ELECTION)) == 1
    assert notes(effects, "vote_granted") == [{"term": 1, "candidate": 2}]


def test_denying_a_vote_neither_persists_nor_resets_the_election_timer():
    node, _ = make_node(1, term=1, voted_for=3)
    effects = node.receive(arrive(RequestVote, 2, 1, 1), 10)
    assert [e for e in effects if type(e) is Persist] == [] and timers(effects, ELECTION) == []
    assert notes(effects, "vote_granted") == []


def test_candidate_and_leader_refuse_other_candidates_of_their_term():
    node, _ = make_node()
    node.fire(ELECTION, 200)
    assert outgoing(node.receive(arrive(RequestVote, 2, 1, 1), 201)) == [vote_reply(1, 2, 1, False)]
    node.receive(arrive(RequestVoteResponse, 3, 1, 1, granted=True), 202)
    assert node.role == Role.LEADER
    assert outgoing(node.receive(arrive(RequestVote, 2, 1, 1), 203)) == [vote_reply(1, 2, 1, False)]
