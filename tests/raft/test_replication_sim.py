"""The behaviour users test, in the simulator: commit by majority, minorities cannot commit, leaders change."""
from __future__ import annotations

from quorumlab.algorithms.raft import Raft
from quorumlab.core.algorithm import Role
from quorumlab.core.sim import Simulation


def settled(seed: int = 1, nodes: int = 5) -> Simulation:
    sim = Simulation(Raft, nodes, seed=seed)
    assert sim.run_until(lambda s: s.unanimous_leader() is not None, 3_000), f"seed={seed}"
    return sim


def test_submitted_commands_are_applied_on_every_node_in_submission_order():
    sim = settled()
    subs = [sim.submit(b"cmd-%d" % k) for k in range(20)]
    assert sim.run_until(lambda s: all(x.done for x in subs), 1_000)
    assert all(x.ok for x in subs) and [x.index for x in subs] == list(range(2, 22))
    sim.run_for(200)  # followers learn the commit index from the next AppendEntries
    for i in sim.ids:
        assert sim.applied(i) == [b"cmd-%d" % k for k in range(20)], f"node {i}"


def test_submit_without_a_leader_or_to_a_follower_fails_at_once():
    sim = Simulation(Raft, 3, seed=2)
    assert sim.submit(b"x").error == "no leader"
    assert sim.run_until(lambda s: s.unanimous_leader() is not None, 3_000)
    follower = next(i for i in sim.ids if i != sim.leader())
    sub = sim.submit(b"x", node=follower)
    assert sub.done and not sub.ok and f"leader: {sim.leader()}" in sub.error


def test_a_minority_partition_cannot_commit():
    sim = settled()
    old = sim.leader()
    others = [i for i in sim.ids if i != old]
    sim.partition([old, others[0]], others[1:])
    sub = sim.submit(b"in-the-minority", node=old)
    sim.run_for(2_000)
    assert not sub.ok and sim.node(old).commit_index < sub.index
    assert all(b"in-the-minority" not in sim.applied(i) for i in sim.ids)


def test_old_leader_steps_down_on_heal_and_its_uncommitted_entries_are_overwritten():
    sim = settled(seed=3)
    old = sim.leader()
    others = [i for i in sim.ids if i != old]
    sim.partition([old, others[0]], others[1:])
    lost = sim.submit(b"uncommitted", node=old)
    assert sim.run_until(lambda s: any(s.node(i).role == Role.LEADER for i in others[1:]), 3_000)
    new = next(i for i in others[1:] if sim.node(i).role == Role.LEADER)
    kept = sim.submit(b"committed-by-majority", node=new)
    assert sim.run_until(lambda s: kept.done, 1_000) and kept.ok
    sim.heal()
    assert sim.run_until(lambda s: lost.done and s.unanimous_leader() == new, 3_000)
    assert not lost.ok and "leadership lost" in lost.error
    sim.run_for(300)
    for i in sim.ids:
        assert b"uncommitted" not in sim.applied(i) and b"committed-by-majority" in sim.applied(i), f"node {i}"
        assert sim.node(i).log.entry(lost.index).data != b"uncommitted"


def test_committed_entries_survive_any_leader_change():
    sim = settled(seed=4)
    done = []
    for round_ in range(4):
        leader = sim.leader()
        subs = [sim.submit(b"r%d-%d" % (round_, k)) for k in range(5)]
        assert sim.run_until(lambda s: all(x.done for x in subs), 1_000)
        done += [x.command for x in subs if x.ok]
        sim.crash(leader)
        assert sim.run_until(lambda s: s.leader() not in (None, leader), 3_000)
        sim.restart(leader)
    sim.run_for(500)
    for i in sim.ids:
        assert sim.applied(i) == done, f"node {i}"
    assert len(done) == 20


def test_a_restarted_node_applies_each_command_again_once_rebuilding_its_state_machine():
    sim = settled(seed=5, nodes=3)
    subs = [sim.submit(b"c%d" % k) for k in range(10)]
    assert sim.run_until(lambda s: all(x.ok for x in subs), 1_000)
    follower = next(i for i in sim.ids if i != sim.leader())
    sim.run_for(200)
    sim.crash(follower)
    sim.restart(follower)
    assert sim.applied(follower) == []
    sim.run_for(300)
    assert sim.applied(follower) == [b"c%d" % k for k in range(10)]
