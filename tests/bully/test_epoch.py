"""The epoch: only grows, announced as highest seen + 1, durable, and used to drop a sender's stale announcements."""
from __future__ import annotations

from quorumlab.algorithms.bully.algorithm import ANSWER_WAIT
from quorumlab.algorithms.bully.messages import Coordinator, Election, Heartbeat
from quorumlab.core.algorithm import Role
from quorumlab.core.effects import Note, Persist, Send
from quorumlab.core.storage import MemoryStorage

from quorumlab.core.testing import arrive
from tests.bully.support import EpochNeverFalls, bounded_sim, node, sends, settled


def test_coordinator_announces_the_highest_epoch_it_has_seen_plus_one():
    b, _ = node(3)
    b.receive(arrive(Election, 1, 3, 7), 2)
    out = b.fire(ANSWER_WAIT, 30)
    assert sends(out) == [("Coordinator", 1, 8), ("Coordinator", 2, 8)]
    assert b.term == 8


def test_announced_epoch_is_durable_before_the_coordinator_message_leaves():
    b, _ = node(3)
    out = b.fire(ANSWER_WAIT, 30)
    kinds = [type(e) for e in out]
    assert kinds.index(Persist) < kinds.index(Send)
    assert b.storage.read() == {"epoch": 1}


def test_restarted_node_resumes_from_its_durable_epoch():
    disk = MemoryStorage()
    b, _ = node(5, storage=disk)
    b.receive(arrive(Election, 1, 5, 4), 1)  # sees epoch 4, announces 5 again
    assert b.term == 5
    disk.flush()
    disk.crash()
    again, out = node(5, storage=disk)
    assert sends(out)[0] == ("Coordinator", 1, 6)
    assert again.term == 6


def test_stale_announcement_from_the_same_sender_is_ignored():
    b, _ = node(2)
    b.receive(arrive(Coordinator, 4, 2, 5), 3)
    ignored = [Note("stale_announcement", {"sender": 4, "epoch": 3})]
    assert b.receive(arrive(Coordinator, 4, 2, 3), 4) == ignored
    assert b.receive(arrive(Heartbeat, 4, 2, 3), 5) == ignored
    assert b.leader == 4 and b.term == 5


def test_lower_epoch_from_another_sender_is_not_stale():
    """The epoch is not a safety mechanism: an announcement from another id is taken whatever its epoch."""
    b, _ = node(2)
    b.receive(arrive(Coordinator, 4, 2, 5), 3)
    b.receive(arrive(Coordinator, 5, 2, 2), 4)
    assert b.leader == 5 and b.term == 5


def test_restarted_coordinator_is_not_taken_for_stale_and_takes_over_again():
    sim = bounded_sim(5, seed=3, observers=[EpochNeverFalls()])
    assert sim.run_until(settled, 1000)
    sim.run_for(300)
    before = sim.node(5).term
    sim.crash(5)
    assert sim.run_until(lambda s: s.unanimous_leader() == 4, 1000)
    sim.restart(5)
    assert sim.node(5).term > before
    assert sim.run_until(settled, 200), "the recovering 5 should take over at once"
    assert sim.node(4).role is Role.FOLLOWER
    assert not [e for e in sim.events if e["kind"] == "stale_announcement" and e.get("sender") == 5 and e["t"] >= sim.now - 200]
