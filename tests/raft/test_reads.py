"""Reads without the log (thesis 6.4): ReadIndex rounds, the leader lease, follower reads.

A read is linearizable if it sees every write that completed before it began. Without the
log, a leader serves a read at its commit index only once it knows it still leads: a quorum
answered a round it started after the read arrived (ReadIndex), or, with check_quorum, a
quorum answered a round recent enough that none of them will vote for another leader yet
(the lease). A new leader's commit index may lag until an entry of its own term commits.
"""
from __future__ import annotations

from quorumlab.algorithms.raft import (
    FLUSH,
    HEARTBEAT,
    AppendEntries,
    AppendEntriesResponse,
    RaftConfig,
    ReadIndex,
    ReadIndexResponse,
    RequestVote,
)
from quorumlab.core.effects import BUSY, INVALID, NOT_LEADER, ReadReady, ReadRejected
from quorumlab.core.testing import arrive, flush_persists, outgoing
from tests.raft.cluster import QUIET, Cluster
from tests.raft.helpers import elect, make_node

CHECK = RaftConfig(check_quorum=True)


def ready(effects: list) -> list[tuple[int, int]]:
    return [(e.ctx, e.index) for e in effects if type(e) is ReadReady]


def rejected(effects: list) -> list[tuple[int, str]]:
    return [(e.ctx, e.code) for e in effects if type(e) is ReadRejected]


def leading(config: RaftConfig = RaftConfig(), peers=(1, 2, 3)):
    """Node 1, leader of term 1, its no-op acknowledged by node 2 (so it is committed)."""
    node, _ = make_node(1, peers, config=config)
    flush_persists(node.storage, elect(node))
    flush_persists(node.storage, node.fire(FLUSH, 1))
    node.receive(arrive(AppendEntriesResponse, 2, 1, 1, success=True, match_index=1, hint_index=1), 2)
    assert node.commit_index == 1
    return node


def answer_round(node, peer: int, read_round: int, now: int) -> list:
    return node.receive(arrive(AppendEntriesResponse, peer, 1, node.term, success=True, match_index=node.log.last_index,
                               hint_index=node.log.last_index, read_round=read_round), now)


def test_a_leader_serves_a_read_only_after_a_quorum_answers_a_round_started_after_it():
    node = leading()
    effects = node.read(7, "linearizable", 10)
    assert ready(effects) == []
    rounds = outgoing(effects, AppendEntries)
    assert [m.dst for m in rounds] == [2, 3] and {m.read_round for m in rounds} == {1} and not rounds[0].entries
    assert ready(answer_round(node, 2, 0, 11)) == [], "an answer to an older round proves nothing about this read"
    assert ready(answer_round(node, 2, 1, 12)) == [(7, 1)]


def test_reads_that_arrive_during_a_round_share_the_next_one():
    node = leading()
    node.read(1, "linearizable", 10)
    during = [node.read(k, "linearizable", 11) for k in (2, 3, 4)]
    assert all(outgoing(e) == [] for e in during), "no round per read"
    effects = answer_round(node, 3, 1, 12)
    assert ready(effects) == [(1, 1)]
    assert {m.read_round for m in outgoing(effects, AppendEntries)} == {2}, "the next round starts at once"
    assert ready(answer_round(node, 2, 2, 13)) == [(2, 1), (3, 1), (4, 1)]


def test_a_heartbeat_is_a_read_round_too():
    node = leading()
    node.read(5, "linearizable", 10)
    beat = node.fire(HEARTBEAT, 50)
    assert {m.read_round for m in outgoing(beat, AppendEntries)} == {2}
    assert ready(answer_round(node, 2, 2, 51)) == [(5, 1)]


def test_a_new_leader_holds_reads_until_an_entry_of_its_term_commits():
    node, _ = make_node(1, (1, 2, 3), term=1, log_terms=[1, 1])
    flush_persists(node.storage, elect(node))
    assert node.commit_index == 0
    assert ready(node.read(9, "linearizable", 5)) == [] and node._reads_before_commit == [(0, 9)]
    flush_persists(node.storage, node.fire(FLUSH, 6))
    effects = node.receive(arrive(AppendEntriesResponse, 2, 1, 2, success=True, match_index=3, hint_index=3), 7)
    assert node.commit_index == 3
    assert {m.read_round for m in outgoing(effects, AppendEntries)} == {1}, "a round starts once it commits"
    assert ready(answer_round(node, 2, 1, 8)) == [(9, 3)]


def test_a_lease_read_is_served_at_once_within_the_lease_and_takes_a_round_after_it():
    node = leading(CHECK)
    flush_persists(node.storage, node.fire(HEARTBEAT, 50))
    answer_round(node, 2, 1, 55)
    lease_ends = 50 + CHECK.election_timeout_min - CHECK.lease_drift_ms
    effects = node.read(1, "lease", lease_ends - 1)
    assert ready(effects) == [(1, 1)] and outgoing(effects) == []
    late = node.read(2, "lease", lease_ends)
    assert ready(late) == [] and outgoing(late, AppendEntries), "past the lease: a round, as for ReadIndex"


def test_lease_reads_need_check_quorum():
    node = leading()
    assert rejected(node.read(1, "lease", 10)) == [(1, INVALID)]


def test_a_follower_asks_its_leader_for_the_read_index_and_serves_the_read_itself():
    node, _ = make_node(2, (1, 2, 3))
    node.receive(arrive(AppendEntries, 1, 2, 1, prev_log_index=0, prev_log_term=0), 5)
    effects = node.read(4, "linearizable", 6)
    (ask,) = outgoing(effects, ReadIndex)
    assert (ask.dst, ask.lease) == (1, False)
    reply = node.receive(arrive(ReadIndexResponse, 1, 2, 1, request=ask.request, ok=True, index=7), 7)
    assert ready(reply) == [(4, 7)]


def test_a_leader_answers_a_followers_read_index_after_its_round():
    node = leading()
    effects = node.receive(arrive(ReadIndex, 3, 1, 1, request=42, lease=False), 10)
    assert outgoing(effects, ReadIndexResponse) == []
    (answer,) = outgoing(answer_round(node, 2, 1, 11), ReadIndexResponse)
    assert (answer.dst, answer.request, answer.ok, answer.index) == (3, 42, True, 1)


def test_reads_held_by_a_leader_that_steps_down_are_refused():
    node = leading()
    node.read(1, "linearizable", 10)
    node.receive(arrive(ReadIndex, 3, 1, 1, request=8, lease=False), 10)
    effects = node.receive(arrive(RequestVote, 2, 1, 5, last_log_index=9, last_log_term=4), 11)
    assert rejected(effects) == [(1, NOT_LEADER)]
    refused = [m for m in outgoing(effects, ReadIndexResponse)]
    assert [(m.dst, m.request, m.ok) for m in refused] == [(3, 8, False)]


def test_a_follower_whose_leader_changes_refuses_the_reads_it_forwarded():
    node, _ = make_node(2, (1, 2, 3))
    node.receive(arrive(AppendEntries, 1, 2, 1, prev_log_index=0, prev_log_term=0), 5)
    node.read(4, "linearizable", 6)
    effects = node.receive(arrive(AppendEntries, 3, 2, 2, prev_log_index=0, prev_log_term=0), 7)
    assert rejected(effects) == [(4, NOT_LEADER)]


def test_without_a_leader_a_read_is_refused_at_once():
    node, _ = make_node(2, (1, 2, 3))
    assert rejected(node.read(1, "linearizable", 1)) == [(1, NOT_LEADER)]


def test_too_many_waiting_reads_are_answered_busy():
    node = leading(RaftConfig(max_pending_reads=2))
    node.read(1, "linearizable", 10)
    node.read(2, "linearizable", 10)
    assert rejected(node.read(3, "linearizable", 10)) == [(3, BUSY)]


def test_a_restarted_node_with_check_quorum_keeps_a_lease_it_may_have_promised():
    node, _ = make_node(2, (1, 2, 3), term=4, config=CHECK)
    early = node.receive(arrive(RequestVote, 3, 2, 5, last_log_index=0, last_log_term=0), CHECK.election_timeout_min - 1)
    assert outgoing(early) == [], "it may have heard a leader just before its restart: no vote yet"
    late = node.receive(arrive(RequestVote, 3, 2, 5, last_log_index=0, last_log_term=0), CHECK.election_timeout_min)
    assert outgoing(late)[0].granted


def test_three_nodes_serve_reads_at_the_leader_and_at_a_follower():
    c = Cluster(3, config=QUIET)
    c.elect(1, [2, 3])
    c.deliver()
    c.propose(1, b"x")
    c.deliver()
    leader_read = c.nodes[1].read(1, "linearizable", c.now)
    c.run(1, leader_read)
    follower_read = c.nodes[3].read(2, "linearizable", c.now)
    c.run(3, follower_read)
    c.deliver()
    assert c.nodes[1].commit_index == 2
    assert [e for e in c.events if e["kind"] == "read_ready"] == [
        {"t": c.events[-2]["t"], "node": 1, "kind": "read_ready", "ctx": 1, "index": 2},
        {"t": c.events[-1]["t"], "node": 3, "kind": "read_ready", "ctx": 2, "index": 2},
    ]
