"""Leadership transfer (thesis 3.10): the leader brings a target up to date and tells it to campaign now.

While a transfer runs the leader takes no commands (they would keep the target behind) and answers "busy",
naming the target. TimeoutNow goes out only once the target's log matches the leader's to the end, so the
target wins on log freshness; it campaigns at once, past pre-vote, and its RequestVote says it is a transfer so
that voters still inside a leader lease (check_quorum) do not hold their vote back. The leader's own lease ends
when the transfer starts: it no longer answers lease reads from it. A transfer that does not complete within
election_timeout_max is abandoned.
"""
from __future__ import annotations

import pytest

from quorumlab.algorithms.raft import (
    FLUSH,
    HEARTBEAT,
    TRANSFER,
    AppendEntries,
    AppendEntriesResponse,
    Raft,
    RaftConfig,
    RequestVote,
    TimeoutNow,
)
from quorumlab.core.algorithm import Role
from quorumlab.core.effects import BUSY, INVALID, NOT_LEADER, ProposeRejected, ReadReady, TransferRefused
from quorumlab.core.kv import PUT, Command
from quorumlab.core.sim import Network, Simulation
from quorumlab.core.testing import arrive, flush_persists, notes, outgoing
from tests.raft.helpers import elect, make_node

CHECK = RaftConfig(check_quorum=True, pre_vote=True)
LEASE = RaftConfig(check_quorum=True)


def leading(config: RaftConfig = RaftConfig(), peers=(1, 2, 3)):
    """Node 1, leader of term 1 with its no-op durable and acknowledged by node 2 (committed)."""
    node, _ = make_node(1, peers, config=config)
    flush_persists(node.storage, elect(node))
    flush_persists(node.storage, node.fire(FLUSH, 1))
    node.receive(arrive(AppendEntriesResponse, 2, 1, 1, success=True, match_index=1, hint_index=1), 2)
    return node


def ack(node, peer: int, match: int, now: int) -> list:
    return node.receive(arrive(AppendEntriesResponse, peer, 1, node.term, success=True, match_index=match,
                               hint_index=match), now)


def refused(effects: list) -> list[tuple[int | None, str]]:
    return [(e.to, e.code) for e in effects if type(e) is TransferRefused]


def test_a_caught_up_target_gets_timeout_now_at_once_and_commands_wait_for_the_new_leader():
    node = leading()
    effects = node.transfer(2, 10)
    assert refused(effects) == [] and notes(effects, "transfer_started")[0]["to"] == 2
    assert [(m.dst, m.term) for m in outgoing(effects, TimeoutNow)] == [(2, 1)]
    assert node.status()["transferring_to"] == 2
    rejection = [e for e in node.propose(b"x", 11) if type(e) is ProposeRejected]
    assert [(r.code, r.leader) for r in rejection] == [(BUSY, 2)], "busy, and the hint names the target"


def test_a_lagging_target_is_brought_up_to_date_before_timeout_now():
    node = leading()
    flush_persists(node.storage, node.propose(b"a", 5) + node.fire(FLUSH, 5))  # index 2, which node 3 lacks
    effects = node.transfer(3, 10)
    assert outgoing(effects, TimeoutNow) == [], "node 3 has not acknowledged index 2"
    assert notes(effects, "transfer_started")[0]["behind"] == 2
    assert outgoing(ack(node, 3, 1, 11), TimeoutNow) == [], "still one entry behind"
    assert [m.dst for m in outgoing(ack(node, 3, 2, 12), TimeoutNow)] == [3]
    assert outgoing(ack(node, 3, 2, 13), TimeoutNow) == [], "TimeoutNow goes once per transfer"


def test_the_target_campaigns_at_once_past_pre_vote_and_says_it_is_a_transfer():
    node, _ = make_node(2, (1, 2, 3), config=CHECK)
    node.receive(arrive(AppendEntries, 1, 2, 1, prev_log_index=0, prev_log_term=0, entries=[], leader_commit=0), 5)
    assert node.leader == 1
    effects = node.receive(arrive(TimeoutNow, 1, 2, 1), 6)
    assert node.role == Role.CANDIDATE and node.term == 2, "no pre-vote round first"
    votes = outgoing(effects, RequestVote)
    assert votes and all(v.transfer for v in votes)


def test_a_voter_inside_its_leader_lease_grants_a_transfer_vote_and_refuses_any_other():
    voter, _ = make_node(3, (1, 2, 3), config=CHECK)
    voter.receive(arrive(AppendEntries, 1, 3, 1, prev_log_index=0, prev_log_term=0, entries=[], leader_commit=0), 5)
    plain = voter.receive(arrive(RequestVote, 2, 3, 2, last_log_index=0, last_log_term=0), 6)
    assert outgoing(plain) == [] and voter.term == 1, "the lease holds an ordinary vote back"
    transfer = voter.receive(arrive(RequestVote, 2, 3, 2, last_log_index=0, last_log_term=0, transfer=True), 7)
    assert [m.granted for m in outgoing(transfer)] == [True] and voter.voted_for == 2


def test_timeout_now_from_a_node_we_do_not_follow_is_dropped():
    node, _ = make_node(2, (1, 2, 3))
    node.receive(arrive(AppendEntries, 1, 2, 1, prev_log_index=0, prev_log_term=0, entries=[], leader_commit=0), 5)
    effects = node.receive(arrive(TimeoutNow, 3, 2, 1), 6)
    assert node.role == Role.FOLLOWER and node.term == 1 and notes(effects, "message_dropped")


def test_the_leaders_lease_ends_when_a_transfer_starts():
    node = leading(LEASE)
    flush_persists(node.storage, node.fire(HEARTBEAT, 50))
    node.receive(arrive(AppendEntriesResponse, 2, 1, 1, success=True, match_index=1, hint_index=1, read_round=1), 52)
    assert node._lease_holds(60)
    node.transfer(3, 61)
    assert not node._lease_holds(62)
    read = node.read(1, "lease", 62)
    assert [e for e in read if type(e) is ReadReady] == [], "a lease read now waits for a round"


def test_an_unfinished_transfer_is_abandoned_after_an_election_timeout_and_commands_are_taken_again():
    node = leading()
    node.transfer(3, 10)
    effects = node.fire(TRANSFER, 10 + node.config.election_timeout_max)
    assert notes(effects, "transfer_aborted")[0]["to"] == 3 and node.role == Role.LEADER
    assert not [e for e in node.propose(b"x", 400) if type(e) is ProposeRejected]


@pytest.mark.parametrize("leader, to, code", [(False, 2, NOT_LEADER), (True, 1, INVALID), (True, 9, INVALID)])
def test_a_transfer_that_cannot_be_made_is_refused_with_the_reason(leader, to, code):
    node = leading() if leader else make_node(1, (1, 2, 3))[0]
    assert refused(node.transfer(to, 10)) == [(to, code)]


def test_a_second_transfer_to_another_node_is_refused_and_to_the_same_node_is_a_no_op():
    node = leading()
    node.transfer(3, 10)
    assert refused(node.transfer(2, 11)) == [(2, BUSY)]
    assert node.transfer(3, 12) == []


def test_without_a_target_the_leader_picks_the_follower_with_the_longest_log():
    node = leading()
    flush_persists(node.storage, node.propose(b"a", 5) + node.fire(FLUSH, 5))
    ack(node, 3, 2, 6)
    effects = node.transfer(None, 10)
    assert notes(effects, "transfer_started")[0]["to"] == 3 and [m.dst for m in outgoing(effects, TimeoutNow)] == [3]


# -- in the simulator ------------------------------------------------------------------------------


def settled(config: RaftConfig, seed: int, nodes: int = 5) -> Simulation:
    sim = Simulation(Raft, nodes, seed=seed, config=config, network=Network(delay_ms=(1, 5)))
    assert sim.run_until(lambda s: s.unanimous_leader() is not None, 3_000)
    return sim


@pytest.mark.parametrize("config", [RaftConfig(), CHECK], ids=["paper", "pre_vote+check_quorum"])
def test_a_transfer_hands_leadership_over_within_a_few_message_delays_without_losing_a_command(config):
    for seed in range(10):
        sim = settled(config, seed)
        old = sim.leader()
        before = sim.submit(Command(1, 1, PUT, b"k", b"v").encode())
        to = next(i for i in sim.ids if i != old)
        assert sim.transfer(to) is None
        start = sim.now
        assert sim.run_until(lambda s: s.unanimous_leader() == to, 200), f"seed {seed}"
        assert sim.now - start < 50, f"seed {seed}: {sim.now - start} ms"
        assert sim.node(to).term == sim.node(old).term == 2
        assert sim.run_until(lambda s: before.done, 500) and before.ok, f"seed {seed}: the command before it"


def test_a_transfer_to_a_crashed_node_is_abandoned_and_the_old_leader_goes_on():
    sim = settled(RaftConfig(), seed=3)
    old = sim.leader()
    to = next(i for i in sim.ids if i != old)
    sim.crash(to)
    assert sim.transfer(to) is None
    sim.run_for(sim.node(old).config.election_timeout_max + 10)
    assert sim.leader() == old and any(e["kind"] == "transfer_aborted" for e in sim.events)
    after = sim.submit(Command(1, 1, PUT, b"k", b"v").encode())
    assert sim.run_until(lambda s: after.done, 500) and after.ok


def transfer_campaign(seed: int, steps: int = 60) -> dict[str, int]:
    """Random transfers interleaved with crashes, restarts, partitions, loss and client commands on 5 nodes; the
    safety observers (one leader per term, one vote per term, log matching, leader completeness, committed entries
    never lost, state machine safety) check every event. Returns how many transfers completed."""
    import random

    rng = random.Random(seed)
    sim = Simulation(Raft, 5, seed=seed, config=CHECK if seed % 2 else RaftConfig(),
                     network=Network(delay_ms=(1, 8), loss=0.02))
    down: set[int] = set()
    for step in range(steps):
        roll = rng.random()
        if roll < 0.35:
            sim.transfer(rng.choice(sim.ids))
        elif roll < 0.5 and len(down) < 2:
            victim = rng.choice([i for i in sim.ids if i not in down])
            sim.crash(victim)
            down.add(victim)
        elif roll < 0.6 and down:
            sim.restart(down.pop())
        elif roll < 0.7:
            sim.partition(set(rng.sample(sim.ids, 2)))
        elif roll < 0.8:
            sim.heal()
        sim.submit(Command(7, step + 1, PUT, b"k%d" % step, b"v").encode())
        sim.run_for(rng.randint(5, 120))
    sim.heal()
    for i in sorted(down):
        sim.restart(i)
    assert sim.run_until(lambda s: s.unanimous_leader() is not None, 5_000), f"seed {seed}: no leader at the end"
    return {"campaigns": sum(e["kind"] == "transfer_campaign" for e in sim.events),
            "started": sum(e["kind"] == "transfer_started" for e in sim.events)}


def test_transfers_among_crashes_partitions_and_loss_never_break_safety():
    totals = [transfer_campaign(seed) for seed in range(30)]
    assert sum(t["started"] for t in totals) > 100 and sum(t["campaigns"] for t in totals) > 50, totals


@pytest.mark.campaign
def test_transfer_campaign_of_1000_seeds():
    for seed in range(1000):
        transfer_campaign(seed, steps=100)
