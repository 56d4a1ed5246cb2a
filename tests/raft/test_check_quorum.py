"""check_quorum (thesis 6.2): a leader out of touch with a majority steps down; followers keep a leader lease."""
from __future__ import annotations

from quorumlab.algorithms.raft import (
    ELECTION,
    CHECK_QUORUM,
    HEARTBEAT,
    AppendEntries,
    AppendEntriesResponse,
    Raft,
    RaftConfig,
    RequestVote,
    RequestVoteResponse,
)
from quorumlab.core.algorithm import Role
from quorumlab.core.effects import CancelTimer
from quorumlab.core.sim import Simulation
from quorumlab.core.testing import arrive, notes, outgoing, timers
from tests.raft.helpers import CLUSTER, elect, make_node

CHECK = RaftConfig(check_quorum=True)


def ack(src: int, term: int = 1, match: int = 0) -> AppendEntriesResponse:
    return arrive(AppendEntriesResponse, src, 1, term, success=True, match_index=match, hint_index=match)


# -- the leader --------------------------------------------------------------------------------------


def test_leader_arms_the_quorum_check_one_election_timeout_max_after_winning():
    node, _ = make_node(config=CHECK)
    assert timers(elect(node), CHECK_QUORUM) == [300]


def test_leader_that_heard_from_no_majority_within_election_timeout_max_steps_down():
    node, _ = make_node(config=CHECK)
    elect(node)
    effects = node.fire(CHECK_QUORUM, 300)
    assert (node.role, node.term, node.leader) == (Role.FOLLOWER, 1, None)
    assert CancelTimer(HEARTBEAT) in effects
    (delay,) = timers(effects, ELECTION)
    assert 150 <= delay <= 300
    assert notes(effects, "leadership_lost") == [
        {"term": 1, "reason": "no quorum heard within election_timeout_max"}
    ]


def test_leader_keeps_leading_while_a_majority_was_heard_and_checks_again_when_that_contact_expires():
    node, _ = make_node(config=CHECK)
    elect(node)
    node.receive(ack(2), 250)
    effects = node.fire(CHECK_QUORUM, 300)
    assert node.role == Role.LEADER
    assert timers(effects, CHECK_QUORUM) == [250]  # node 2 was last heard at 250: it counts until 550
    node.fire(CHECK_QUORUM, 549)
    assert node.role == Role.LEADER
    node.fire(CHECK_QUORUM, 550)
    assert node.role == Role.FOLLOWER


def test_leader_of_five_counts_itself_toward_the_majority():
    node, _ = make_node(voters=range(1, 6), config=CHECK)
    elect(node)
    node.receive(ack(2), 100)
    node.fire(CHECK_QUORUM, 300)
    assert node.role == Role.FOLLOWER  # itself and node 2: 2 of 5
    node, _ = make_node(voters=range(1, 6), config=CHECK)
    elect(node)
    node.receive(ack(2), 100)
    node.receive(ack(3), 120)
    node.fire(CHECK_QUORUM, 300)
    assert node.role == Role.LEADER  # itself, 2 and 3: 3 of 5


def test_without_check_quorum_a_leader_never_checks():
    node, _ = make_node()
    assert timers(elect(node), CHECK_QUORUM) == []
    node.fire(CHECK_QUORUM, 10_000)
    assert node.role == Role.LEADER


# -- the follower's lease ----------------------------------------------------------------------------


def test_follower_ignores_request_vote_within_minimum_timeout_of_hearing_its_leader():
    node, _ = make_node(2, term=4, config=CHECK)
    node.receive(arrive(AppendEntries, 3, 2, 4, prev_log_index=0, prev_log_term=0), 100)
    ask = arrive(RequestVote, 1, 2, 5, last_log_index=0, last_log_term=0)
    effects = node.receive(ask, 249)
    assert outgoing(effects) == [] and (node.term, node.voted_for, node.leader) == (4, None, 3)
    assert notes(effects, "vote_ignored") == [{"term": 5, "candidate": 1, "leader": 3}]
    effects = node.receive(ask, 250)
    assert outgoing(effects) == [RequestVoteResponse(cluster=CLUSTER, src=2, dst=1, term=5, granted=True)]
    assert (node.term, node.voted_for) == (5, 1)


def test_leader_with_check_quorum_ignores_a_higher_term_request_vote():
    node, _ = make_node(config=CHECK)
    elect(node)
    effects = node.receive(arrive(RequestVote, 3, 1, 9, last_log_index=5, last_log_term=5), 100)
    assert outgoing(effects) == [] and (node.role, node.term) == (Role.LEADER, 1)


def test_without_check_quorum_follower_grants_a_vote_right_after_hearing_its_leader():
    node, _ = make_node(2, term=4)
    node.receive(arrive(AppendEntries, 3, 2, 4, prev_log_index=0, prev_log_term=0), 100)
    effects = node.receive(arrive(RequestVote, 1, 2, 5, last_log_index=0, last_log_term=0), 101)
    assert outgoing(effects) == [RequestVoteResponse(cluster=CLUSTER, src=2, dst=1, term=5, granted=True)]


def test_follower_that_never_heard_a_leader_votes_at_once():
    node, _ = make_node(2, config=CHECK)
    effects = node.receive(arrive(RequestVote, 1, 2, 1, last_log_index=0, last_log_term=0), 1)
    assert outgoing(effects)[0].granted is True


# -- what it buys ------------------------------------------------------------------------------------


def two_leader_overlap(config: RaftConfig, seed: int, cut_ms: int = 2_000) -> tuple[int, bool]:
    """5 nodes: elect, cut the leader and one follower off for ``cut_ms``. Returns the longest stretch (ms)
    with two live leaders, and whether the old leader still leads at the end of the cut."""
    sim = Simulation(Raft, 5, seed=seed, config=config)
    assert sim.run_until(lambda s: s.unanimous_leader() is not None, 3_000), f"seed={seed}: no leader"
    sim.run_for(500)
    old = sim.leader()
    sim.partition([old, next(i for i in sim.ids if i != old)])
    end = sim.now + cut_ms
    since: list[int | None] = [None]
    longest = [0]

    def watch(s: Simulation) -> bool:
        if len(s.leaders()) >= 2:
            since[0] = s.now if since[0] is None else since[0]
            longest[0] = max(longest[0], s.now - since[0])
        else:
            since[0] = None
        return False

    sim.run_until(watch, end - sim.now)
    return longest[0], sim.node(old).role == Role.LEADER


def test_with_check_quorum_a_leader_cut_off_in_a_minority_steps_down_within_an_election_timeout():
    for seed in range(5):
        overlap, old_leads = two_leader_overlap(CHECK, seed)
        assert overlap <= CHECK.election_timeout_max and not old_leads, f"seed={seed}: two leaders for {overlap} ms"
        # without it the old leader leads on in its minority for the whole cut
        overlap, old_leads = two_leader_overlap(RaftConfig(), seed)
        assert overlap > 1_500 and old_leads, f"seed={seed}: two leaders for only {overlap} ms without check_quorum"
