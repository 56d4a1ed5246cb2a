"""Task 2, heartbeats: the leader sends AppendEntries every interval; followers reset their timer on it."""
from __future__ import annotations

from quorumlab.algorithms.raft import (
    ELECTION,
    FLUSH,
    HEARTBEAT,
    AppendEntries,
    AppendEntriesResponse,
    Raft,
    RaftConfig,
)
from quorumlab.core.effects import Broadcast, SetTimer
from quorumlab.core.sim import Simulation
from quorumlab.core.testing import arrive, flush_persists, outgoing, timers
from tests.raft.helpers import CLUSTER, elect, make_node


def append(dst: int, term: int, prev_index: int = 0, prev_term: int = 0, entries=(), commit: int = 0,
           read_round: int = 0) -> AppendEntries:
    return AppendEntries(
        cluster=CLUSTER, src=1, dst=dst, term=term, prev_log_index=prev_index, prev_log_term=prev_term,
        entries=list(entries), leader_commit=commit, read_round=read_round,
    )


def test_new_leader_sends_its_no_op_entry_to_each_follower_at_once_and_arms_the_interval():
    node, _ = make_node()
    effects = elect(node)
    no_op = [(1, 1, b"")]
    assert outgoing(effects) == [append(2, 1, entries=no_op), append(3, 1, entries=no_op)]
    assert not [e for e in effects if type(e) is Broadcast]  # one message per follower, each at its own nextIndex
    assert SetTimer(HEARTBEAT, 50) in effects


def test_leader_sends_heartbeat_each_interval_repeating_the_probe_to_silent_followers():
    node, _ = make_node(config=RaftConfig(heartbeat_interval=20))
    elect(node)
    no_op = [(1, 1, b"")]
    for k in range(1, 4):
        effects = node.fire(HEARTBEAT, 20 * k)  # each heartbeat is a read round, too (it keeps the lease fresh)
        assert outgoing(effects) == [append(2, 1, entries=no_op, read_round=k), append(3, 1, entries=no_op, read_round=k)]
        assert timers(effects, HEARTBEAT) == [20]


def test_heartbeat_carries_prev_log_index_prev_log_term_and_leader_commit():
    node, _ = make_node(term=2, log_terms=[1, 1, 2])
    effects = elect(node)
    no_op = [(3, 4, b"")]
    assert outgoing(effects) == [
        append(2, 3, prev_index=3, prev_term=2, entries=no_op),
        append(3, 3, prev_index=3, prev_term=2, entries=no_op),
    ]


def test_follower_resets_election_timer_on_heartbeat_and_acknowledges_it():
    node, _ = make_node(2, term=1)
    effects = node.receive(arrive(AppendEntries, 1, 2, 1, prev_log_index=0, prev_log_term=0), 100)
    (delay,) = timers(effects, ELECTION)
    assert 150 <= delay <= 300
    assert node.leader == 1
    assert outgoing(effects) == [
        AppendEntriesResponse(cluster=CLUSTER, src=2, dst=1, term=1, success=True, match_index=0, hint_index=0)
    ]


def test_follower_does_not_reset_timer_on_heartbeat_from_stale_leader_and_tells_it_the_term():
    node, _ = make_node(2, term=3)
    effects = node.receive(arrive(AppendEntries, 1, 2, 2), 100)
    assert timers(effects, ELECTION) == [] and node.leader is None
    assert outgoing(effects) == [
        AppendEntriesResponse(cluster=CLUSTER, src=2, dst=1, term=3, success=False, match_index=0, hint_index=0)
    ]


def test_follower_with_mismatching_log_still_follows_but_answers_false_with_a_hint():
    node, _ = make_node(2, term=2, log_terms=[1])
    effects = node.receive(arrive(AppendEntries, 1, 2, 2, prev_log_index=3, prev_log_term=2), 100)
    assert len(timers(effects, ELECTION)) == 1 and node.leader == 1
    assert outgoing(effects) == [
        AppendEntriesResponse(
            cluster=CLUSTER, src=2, dst=1, term=2, success=False, match_index=0, hint_index=1, hint_term=1,
            reject_index=3,
        )
    ]


def test_follower_acknowledges_entries_only_once_they_are_durable():
    node, _ = make_node(2, term=2)
    effects = node.receive(arrive(AppendEntries, 1, 2, 2, entries=[(2, 1, b"cmd")]), 100)
    assert outgoing(effects) == [] and len(node.log) == 1 and node.log.durable_index == 0
    assert SetTimer(FLUSH, 0) in effects
    effects = flush_persists(node.storage, node.fire(FLUSH, 100))
    assert node.log.durable_index == 1
    assert outgoing(effects) == [
        AppendEntriesResponse(cluster=CLUSTER, src=2, dst=1, term=2, success=True, match_index=1, hint_index=1)
    ]


def test_leader_records_how_far_each_follower_matches():
    node, _ = make_node(term=1, log_terms=[1, 1])
    elect(node)
    node.receive(arrive(AppendEntriesResponse, 2, 1, 2, success=True, match_index=2, hint_index=2), 5)
    node.receive(arrive(AppendEntriesResponse, 3, 1, 2, success=False, match_index=0, hint_index=0), 5)
    assert {p: pr.match for p, pr in node.progress.items()} == {2: 2, 3: 0}


def test_heartbeats_keep_one_leader_for_ten_seconds():
    sim = Simulation(Raft, 5, seed=11)
    assert sim.run_until(lambda s: s.unanimous_leader() is not None, 2000)
    leader, won_at = sim.unanimous_leader(), sim.now
    sim.run_for(10_000)
    assert sim.unanimous_leader() == leader
    assert [e for e in sim.events if e["kind"] == "election_started" and e["t"] > won_at] == []
    # one heartbeat per follower every 50 ms, plus the first one
    assert sim.stats.sent_by_type["AppendEntries"] >= 4 * (10_000 // 50)

