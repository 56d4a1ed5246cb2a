"""Membership change (paper section 6, thesis chapter 4): configurations in the log, single-server changes, joint
consensus, learners, removal, and the rules that keep each safe.

A configuration takes effect on a node when it is appended, committed or not; a leader starts a change only after
an entry of its own term has committed and while no other change is pending; a change of more than one voter goes
through the joint configuration C_old,new, where every decision needs a majority of both; learners get the log and
count for nothing; a leader that removes itself steps down once the change has committed, handing over first.
"""
from __future__ import annotations

import pytest

from quorumlab.algorithms.raft import RaftConfig
from quorumlab.algorithms.raft.membership import (
    CONFIG_MAGIC,
    ConfigHistory,
    Membership,
    MembershipError,
    decode,
    parse_change,
    plan,
)
from quorumlab.algorithms.raft.mistakes import ChangesMembershipBeforeCommittingItsTerm
from quorumlab.core.algorithm import Role
from quorumlab.core.effects import BUSY, INVALID, MembershipChanged, ProposeRejected, Proposed, TransferRefused
from quorumlab.core.errors import InvariantViolation
from quorumlab.core.sim import Simulation
from quorumlab.core.testing import flush_persists
from tests.raft.helpers import elect, make_node


def settled(sim: Simulation, timeout_ms: int = 5000) -> int:
    """The leader, once every node follows it and its no-op has committed (a change may start)."""
    def ready(s: Simulation) -> bool:
        leader = s.unanimous_leader()
        return leader is not None and s.node(leader).log.term_at(s.node(leader).commit_index) == s.node(leader).term

    assert sim.run_until(ready, timeout_ms), "no leader"
    return sim.leader()


def commit_some(sim: Simulation, n: int, tag: bytes = b"c") -> None:
    subs = [sim.submit(tag + b"%d" % k) for k in range(n)]
    assert sim.run_until(lambda s: all(x.done for x in subs), 5000)
    assert all(x.ok for x in subs), [x.error for x in subs]


def change(sim: Simulation, ops: list, timeout_ms: int = 3000):
    sub = sim.change(ops)
    sim.run_until(lambda s: sub.done, timeout_ms)
    return sub


def rejection(effects: list) -> tuple[str, str] | None:
    r = [e for e in effects if type(e) is ProposeRejected]
    return (r[0].code, r[0].reason) if r else None


# -- the configuration entry and its bookkeeping ---------------------------------------------------------------

KEY = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"


def test_a_configuration_entry_round_trips_and_no_command_can_pose_as_one():
    m = Membership(frozenset({1, 2, 4}), frozenset({5}), frozenset({1, 2, 3}), ((4, "tcp://127.0.0.1:9004"),),
                   ((4, KEY),))
    assert decode(m.encode()) == m
    assert Membership.from_meta(m.as_meta()) == m
    assert Membership.from_meta({"voters": [1, 2, 3]}) == Membership.bootstrap([1, 2, 3]), "older snapshot headers"
    assert decode(b"K\x00\x00") is None and decode(CONFIG_MAGIC + b"{not json") is None
    node, _ = make_node(1, (1,))
    flush_persists(node.storage, elect(node))
    assert rejection(node.propose(CONFIG_MAGIC + b"{}", 5))[0] == INVALID


def test_history_falls_back_when_a_configuration_entry_is_truncated_and_folds_on_compaction():
    h = ConfigHistory(Membership.bootstrap([1, 2, 3]))
    c4 = plan(h.current, [("add_voter", 4, None)])
    h.scan([(1, 1, b""), (1, 2, c4.encode()), (1, 3, b"x")])
    assert h.current == c4 and h.current_index == 2 and h.at(1).voters == {1, 2, 3}
    assert h.truncate_after(1) and h.current.voters == {1, 2, 3}, "the configuration of a dropped entry is gone"
    h.scan([(2, 2, c4.encode())])
    h.compact(3)
    assert (h.base, h.base_index, h.entries) == (c4, 2, [])


def test_plan_goes_joint_for_more_than_one_voter_and_refuses_what_cannot_be():
    base = Membership.bootstrap([1, 2, 3])
    assert plan(base, [("add_voter", 4, None)]).outgoing == frozenset(), "one voter: a single step"
    joint = plan(base, [("add_voter", 4, None), ("remove", 1, None)])
    assert (joint.voters, joint.outgoing) == ({2, 3, 4}, {1, 2, 3})
    with pytest.raises(MembershipError, match="joint change"):
        plan(joint, [("add_voter", 5, None)])
    with pytest.raises(MembershipError, match="already a voter"):
        plan(base, [("add_learner", 2, None)])
    with pytest.raises(MembershipError, match="no voter"):
        plan(Membership.bootstrap([1]), [("remove", 1, None)])
    with pytest.raises(MembershipError, match="not a learner"):
        plan(base, [("promote", 3, None)])
    with pytest.raises(MembershipError, match="once"):
        parse_change([{"op": "remove", "node": 2}, {"op": "add_learner", "node": 2}])
    with pytest.raises(MembershipError, match="CurveZMQ public key"):
        parse_change([{"op": "add_voter", "node": 4, "key": "not a key"}])
    keyed = plan(base, parse_change([{"op": "add_voter", "node": 4, "key": KEY}]))
    assert keyed.keys == ((4, KEY),), "a new member's key travels in the configuration"
    assert plan(keyed, [("remove", 4, None)]).keys == (), "and leaves with it"


# -- the leader's rules --------------------------------------------------------------------------------------

def test_a_change_before_the_leader_has_committed_an_entry_of_its_term_is_refused():
    node, _ = make_node(1, (1, 2, 3))
    flush_persists(node.storage, elect(node))
    code, reason = rejection(node.change_membership([{"op": "add_voter", "node": 4}], 5))
    assert code == BUSY and "own term" in reason


def test_only_one_change_is_pending_at_a_time():
    sim = Simulation("raft", 3, seed=2)
    settled(sim)
    commit_some(sim, 2)
    leader = sim.node(sim.leader())
    sim.partition([sim.leader()], [i for i in sim.ids if i != sim.leader()])  # nothing can commit now
    first = leader.change_membership([{"op": "add_learner", "node": 4}], sim.now)
    assert [type(e) for e in first if type(e) in (Proposed, ProposeRejected)] == [Proposed]
    code, reason = rejection(leader.change_membership([{"op": "add_learner", "node": 5}], sim.now))
    assert code == BUSY and "not committed yet" in reason


def test_a_configuration_takes_effect_on_a_follower_when_appended_not_when_committed():
    sim = Simulation("raft", 3, seed=3)
    leader = settled(sim)
    commit_some(sim, 1)
    follower = next(i for i in sim.ids if i != leader)
    sim.node(leader).change_membership([{"op": "add_voter", "node": 4}], sim.now)  # node 4 never comes
    assert sim.run_until(lambda s: s.node(follower).membership.voters == {1, 2, 3, 4}, 1000)
    f = sim.node(follower)
    assert f.commit_index < f._history.current_index, "in force on the follower before it is committed"
    assert f.quorum.voters == (1, 2, 3, 4)


def test_learners_get_the_log_count_toward_no_quorum_and_never_campaign():
    sim = Simulation("raft", 3, seed=4)
    settled(sim)
    commit_some(sim, 3)
    learner = sim.add_node()
    assert change(sim, [{"op": "add_learner", "node": learner}]).ok
    commit_some(sim, 3, b"after")
    assert sim.run_until(lambda s: s.node(learner).commit_index == s.node(s.leader()).commit_index, 2000)
    assert sim.applied(learner) == sim.applied(sim.leader()), "the learner applies the same log"
    assert sim.node(learner).status()["member"] == "learner"
    voters = [i for i in sim.ids if i != learner]
    for i in voters:
        sim.crash(i)
    sim.run_for(3000)
    assert sim.node(learner).role == Role.FOLLOWER and sim.node(learner).term == sim.node(voters[0]).term, \
        "alone, the learner never campaigned"
    # with two of three voters down, a learner's acknowledgement does not commit anything
    for i in voters:
        sim.restart(i)
    leader = settled(sim)
    down = next(i for i in voters if i != leader)
    other = next(i for i in voters if i not in (leader, down))
    sim.crash(down)
    sim.crash(other)
    sub = sim.submit(b"needs a voter")
    sim.run_for(1000)
    assert not sub.done, "the leader and its learner are no majority"


def test_promotion_is_refused_while_the_learner_lags_and_granted_once_it_caught_up():
    sim = Simulation("raft", 3, seed=5, config=RaftConfig(max_learner_lag=5))
    leader = settled(sim)
    learner = sim.add_node()
    assert change(sim, [{"op": "add_learner", "node": learner}]).ok
    sim.partition([learner], [i for i in sim.ids if i != learner])
    commit_some(sim, 20)
    refused = change(sim, [{"op": "promote", "node": learner}])
    assert not refused.ok and f"learner {learner} lags by" in refused.error and "max_learner_lag 5" in refused.error
    sim.heal()
    lead = sim.node(leader)
    assert sim.run_until(lambda s: lead.progress[learner].match == lead.log.last_index, 3000), "the leader saw it"
    assert change(sim, [{"op": "promote", "node": learner}]).ok
    assert sim.node(learner).status()["member"] == "voter"


def test_transfer_to_a_learner_is_refused():
    sim = Simulation("raft", 3, seed=6)
    settled(sim)
    learner = sim.add_node()
    assert change(sim, [{"op": "add_learner", "node": learner}]).ok
    refusal = sim.transfer(learner)
    assert type(refusal) is TransferRefused and refusal.code == INVALID and "not a voter" in refusal.reason


# -- joint consensus -------------------------------------------------------------------------------------------

def test_joint_consensus_replaces_two_of_five_and_each_decision_needs_both_majorities():
    sim = Simulation("raft", 5, seed=7, config=RaftConfig(auto_leave_joint=False))
    leader = settled(sim)
    commit_some(sim, 2)
    new = [sim.add_node(), sim.add_node()]
    gone = [i for i in sim.ids if i not in new and i != leader][:2]
    ops = [{"op": "add_voter", "node": n} for n in new] + [{"op": "remove", "node": g} for g in gone]
    entered = change(sim, ops)
    assert entered.ok, entered.error
    m = sim.node(leader).membership
    assert m.joint and m.outgoing == {1, 2, 3, 4, 5} and m.voters == set(sim.ids) - set(gone)
    # C_old,new: the two new nodes and the leader are a majority of C_new but not of C_old
    keep = [i for i in sim.ids if i not in new and i not in gone and i != leader]
    sim.partition([leader, *new], [*gone, *keep])
    sub = sim.submit(b"only C_new's majority")
    sim.run_for(300)
    assert not sub.done, "C_old's majority is missing: nothing commits"
    sim.heal()
    assert sim.run_until(lambda s: sub.done, 3000) and sub.ok
    left = change(sim, [{"op": "leave_joint"}])
    assert left.ok, left.error
    assert not sim.node(sim.leader()).membership.joint
    for g in gone:
        assert sim.run_until(lambda s: s.node(g).status()["member"] == "removed", 2000)


def test_a_joint_configuration_is_left_by_itself_and_a_new_leader_finishes_the_change():
    sim = Simulation("raft", 3, seed=8)
    leader = settled(sim)
    commit_some(sim, 1)
    a, b = sim.add_node(), sim.add_node()
    sim.node(leader).change_membership([{"op": "add_voter", "node": a}, {"op": "add_voter", "node": b}], sim.now)
    assert sim.run_until(lambda s: s.node(leader).commit_index >= s.node(leader)._history.current_index, 2000)
    sim.crash(leader)  # it may not have appended C_new yet: whoever leads next leaves the joint configuration
    assert sim.run_until(lambda s: s.leader() is not None
                         and not s.node(s.leader()).membership.joint
                         and s.node(s.leader()).commit_index >= s.node(s.leader())._history.current_index, 5000)
    assert sim.node(sim.leader()).membership.voters == {1, 2, 3, a, b}


# -- removal ---------------------------------------------------------------------------------------------------

def test_a_leader_removing_itself_commits_the_change_then_hands_over_and_steps_down():
    sim = Simulation("raft", 3, seed=9)
    leader = settled(sim)
    commit_some(sim, 2)
    sub = change(sim, [{"op": "remove", "node": leader}])
    assert sub.ok, sub.error
    assert sim.run_until(lambda s: s.leader() not in (None, leader), 100), \
        "a voter it handed over to leads well before an election timeout"
    assert sim.node(leader).role == Role.FOLLOWER
    assert sim.node(leader).status()["member"] == "removed"
    commit_some(sim, 2, b"after")
    sim.run_for(2000)
    assert sim.node(leader).role == Role.FOLLOWER, "a removed node never campaigns"


def test_a_removed_node_that_restarts_knows_it_was_removed():
    sim = Simulation("raft", 3, seed=10)
    leader = settled(sim)
    victim = next(i for i in sim.ids if i != leader)
    assert change(sim, [{"op": "remove", "node": victim}]).ok
    index = sim.node(leader)._history.current_index
    assert sim.run_until(lambda s: s.node(victim).log.durable_index >= index, 1000), "the removal is on its disk"
    sim.crash(victim)
    sim.restart(victim)
    assert sim.node(victim).status()["member"] == "removed"
    assert any(e["kind"] == "removed_from_cluster" and e["node"] == victim for e in sim.events)
    sim.run_for(2000)
    assert sim.node(victim).role == Role.FOLLOWER


def test_a_removed_server_that_never_heard_cannot_disrupt_the_cluster_with_check_quorum():
    sim = Simulation("raft", 3, seed=11, config=RaftConfig(check_quorum=True))
    leader = settled(sim)
    commit_some(sim, 1)
    victim = next(i for i in sim.ids if i != leader)
    rest = [i for i in sim.ids if i != victim]
    sim.partition([victim], rest)  # it never learns it was removed
    assert change(sim, [{"op": "remove", "node": victim}]).ok
    term = sim.node(leader).term
    sim.heal()
    sim.run_for(3000)  # it times out again and again, with ever higher terms
    assert sim.node(victim).term > term, "the removed node did campaign"
    assert sim.leader() == leader and sim.node(leader).term == term, "its RequestVotes deposed nobody"
    commit_some(sim, 3, b"still")


# -- the single-server bug (the dissertation's, corrected in 2015) -------------------------------------------------

def _single_server_bug(algo_factory) -> Simulation:
    """Four voters. Leader L adds node 5, but the entry reaches only node 5. L is cut off; M is elected among the
    other three and at once removes X, whom its no-op never reaches, committing on M and Y (a majority of {L, M,
    Y}). L comes back with X and 5: under L's configuration (five voters) X and 5 make it leader, without M's
    committed entries."""
    sim = Simulation("raft", 4, seed=12, algo_factory=algo_factory)
    L = settled(sim)
    commit_some(sim, 1)
    five = sim.add_node()
    others = [i for i in (1, 2, 3, 4) if i != L]
    sim.partition([L, five], others)
    assert sim.change([{"op": "add_voter", "node": five}], L).index, "appended at L"
    sim.run_for(50)
    sim.crash(L)
    assert sim.run_until(lambda s: s.leader() in others, 5000)
    M = sim.leader()
    X, Y = [i for i in others if i != M]
    sim.partition([M, Y], [X, five, L])  # the no-op M just sent X is lost
    sub = sim.change([{"op": "remove", "node": X}], M)
    sim.run_until(lambda s: sub.done, 2000)
    sim.partition([M, Y], [X, five, L])
    sim.restart(L)
    sim.run_for(3000)
    return sim, sub


def test_the_single_server_bug_loses_a_committed_entry_when_a_leader_changes_before_committing_its_term():
    with pytest.raises(InvariantViolation, match="leader completeness|committed entry lost|state machine"):
        _single_server_bug(ChangesMembershipBeforeCommittingItsTerm)


def test_the_single_server_bug_cannot_happen_with_the_rule():
    sim, sub = _single_server_bug(None)
    assert not sub.ok and "own term" in sub.error, "M may not change before its no-op commits"


# -- snapshots carry the configuration -------------------------------------------------------------------------

def test_a_new_node_catches_up_by_snapshot_and_learns_the_configuration_from_its_header():
    sim = Simulation("raft", 3, seed=13, config=RaftConfig(snapshot_entries=5))
    settled(sim)
    commit_some(sim, 20)  # compacted before the new node comes: it needs the snapshot
    leader = sim.leader()
    assert sim.run_until(lambda s: s.node(leader).log.base > 0, 1000)
    learner = sim.add_node()
    assert change(sim, [{"op": "add_learner", "node": learner}]).ok
    commit_some(sim, 3, b"more")
    leader = sim.leader()
    assert sim.run_until(lambda s: s.node(learner).commit_index >= s.node(leader).commit_index, 3000)
    assert any(e["kind"] == "snapshot_installed" and e["node"] == learner for e in sim.events)
    assert sim.node(learner).status()["member"] == "learner"
    sim.crash(learner)
    sim.restart(learner)
    assert sim.node(learner).membership == sim.node(leader).membership, "from the snapshot header after a restart"


def test_every_node_announces_its_configuration_at_start_and_on_each_change():
    sim = Simulation("raft", 3, seed=14)
    settled(sim)
    assert {e["node"] for e in sim.events if e["kind"] == "membership"} == {1, 2, 3}
    n = sim.add_node()
    assert change(sim, [{"op": "add_learner", "node": n, "address": "tcp://127.0.0.1:9"}]).ok
    assert sim.run_until(lambda s: s.node(n).status()["member"] == "learner", 1000)
    latest = [e for e in sim.events if e["kind"] == "membership" and e["node"] == n][-1]
    assert latest["learners"] == [n] and latest["voters"] == [1, 2, 3]
    node, effects = make_node(2, (1, 2, 3))
    announced = [e for e in effects if type(e) is MembershipChanged]
    assert [(e.index, e.voters) for e in announced] == [(0, [1, 2, 3])]
