"""The ElectionAlgorithm contract: events in, effects out, and the base class reports every change."""
from __future__ import annotations

import random

import pytest

from quorumlab.core import ElectionAlgorithm, Role, message_type
from quorumlab.core.effects import (
    BROADCAST,
    NO_LOG,
    Apply,
    Broadcast,
    CancelTimer,
    LeaderChanged,
    Note,
    Persist,
    ProposeRejected,
    RoleChanged,
    Send,
    SetTimer,
    TermChanged,
)
from quorumlab.core.storage import MemoryStorage

Poke = message_type("ContractPoke", 0xFD30, 1, [("n", "u64")])


class Scripted(ElectionAlgorithm):
    """Each hook runs the function the test put in ``self.script``."""

    name = "contract-scripted"
    algo_id = 0xFD30
    messages = (Poke,)

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.script = lambda algo, *a: None

    def on_start(self, now):
        self.script(self, now)

    def on_message(self, msg, now):
        self.script(self, msg, now)

    def on_timer(self, timer, now):
        self.script(self, timer, now)


def make(node_id: int = 1, voters=(1, 2, 3), **kw) -> Scripted:
    return Scripted(node_id, voters, cluster=4, **kw)


def test_changes_are_reported_once_each_after_the_hooks_own_effects():
    algo = make()

    def become_leader(a, now):
        a.set_timer("heartbeat", 50)
        a.term = 3
        a.role = Role.LEADER
        a.leader = a.id
        a.broadcast(Poke(n=1))

    algo.script = become_leader
    out = algo.start(0)
    assert [type(e) for e in out] == [SetTimer, Broadcast, TermChanged, RoleChanged, LeaderChanged]
    assert out[2:] == [TermChanged(0, 3), RoleChanged(Role.FOLLOWER, Role.LEADER, 3), LeaderChanged(1, 3)]


def test_no_change_means_no_change_effects():
    algo = make()
    algo.script = lambda a, now: a.note("idle")
    assert algo.start(0) == [Note("idle", {})]


def test_a_change_undone_within_the_same_hook_is_not_reported():
    algo = make()

    def flap(a, timer, now):
        a.role = Role.CANDIDATE
        a.leader = 2
        a.role = Role.FOLLOWER
        a.leader = None

    algo.script = flap
    assert algo.fire("t", 5) == []


def test_each_attribute_is_diffed_on_its_own():
    algo = make()
    algo.script = lambda a, now: setattr(a, "leader", 2)
    assert algo.start(0) == [LeaderChanged(2, 0)]
    algo.script = lambda a, msg, now: setattr(a, "term", 7)
    assert algo.receive(Poke(), 1) == [TermChanged(0, 7)]
    algo.script = lambda a, timer, now: setattr(a, "role", Role.CANDIDATE)
    assert algo.fire("t", 2) == [RoleChanged(Role.FOLLOWER, Role.CANDIDATE, 7)]
    algo.script = lambda a, timer, now: setattr(a, "leader", None)
    assert algo.fire("t", 3) == [LeaderChanged(None, 7)]


def test_every_event_entry_point_runs_its_hook_with_the_time():
    algo = make()
    seen = []
    algo.script = lambda a, *args: seen.append(args)
    algo.start(10)
    algo.receive(Poke(n=2), 11)
    algo.fire("election", 12)
    assert seen == [(10,), (Poke(n=2), 11), ("election", 12)]


def test_send_and_broadcast_fill_in_the_header():
    algo = make(node_id=2)

    def talk(a, now):
        a.send(3, Poke(n=1, term=9))
        a.broadcast(Poke(n=2))

    algo.script = talk
    out = algo.start(0)
    send, bcast = out
    assert type(send) is Send and send.to == 3
    assert (send.msg.cluster, send.msg.src, send.msg.dst, send.msg.term) == (4, 2, 3, 9)
    assert type(bcast) is Broadcast
    assert (bcast.msg.cluster, bcast.msg.src, bcast.msg.dst) == (4, 2, BROADCAST)


def test_timer_helpers_emit_set_and_cancel_with_integer_delays():
    algo = make()

    def timers(a, now):
        a.set_timer("election", 150.7)
        a.cancel_timer("heartbeat")

    algo.script = timers
    assert algo.start(0) == [SetTimer("election", 150), CancelTimer("heartbeat")]


def test_persist_stages_state_and_orders_the_flush_before_later_sends():
    storage = MemoryStorage()
    algo = make(storage=storage)

    def vote(a, msg, now):
        a.term = 2
        a.persist({"term": 2, "voted_for": msg.src})
        a.send(msg.src, Poke(n=0))

    algo.script = vote
    out = algo.receive(Poke(src=3, n=1), 0)
    assert [type(e) for e in out] == [Persist, Send, TermChanged]
    assert storage.read() == {"term": 2, "voted_for": 3}
    assert storage.durable() == {}, "flushing is the runtime's job, when it executes Persist"


def test_note_and_emit_pass_through_in_order():
    algo = make()

    def observe(a, now):
        a.note("election_started", term=1)
        a.emit(Apply(1, 1, b"x"))

    algo.script = observe
    assert algo.start(0) == [Note("election_started", {"term": 1}), Apply(1, 1, b"x")]


def test_each_event_returns_a_fresh_list():
    algo = make()
    algo.script = lambda a, *args: a.note("x")
    first = algo.start(0)
    second = algo.fire("t", 1)
    assert first == second == [Note("x", {})] and first is not second


def test_default_hooks_ignore_peer_hints_and_refuse_commands():
    algo = make()
    assert algo.peer_down(2, 0) == []
    assert algo.peer_up(2, 1) == []
    assert algo.propose(b"set x", 2) == [ProposeRejected(NO_LOG, f"{algo.name} keeps no log")]


def test_a_subclass_that_forgets_a_hook_says_which():
    class Empty(ElectionAlgorithm):
        name = "contract-empty"

    algo = Empty(1, [1])
    for call in (lambda: algo.start(0), lambda: algo.receive(Poke(), 0), lambda: algo.fire("t", 0)):
        with pytest.raises(NotImplementedError, match="Empty must implement on_"):
            call()


def test_construction_normalizes_voters_and_derives_peers():
    algo = Scripted(2, [3, 1, 2, 3])
    assert algo.voters == (1, 2, 3) and algo.peers == (1, 3)
    assert (algo.role, algo.term, algo.leader) == (Role.FOLLOWER, 0, None)
    assert isinstance(algo.storage, MemoryStorage) and isinstance(algo.rng, random.Random)
    assert algo.config == Scripted.Config()
    assert algo.status() == {"id": 2, "role": "follower", "term": 0, "leader": None}


@pytest.mark.parametrize("node_id,voters,needle", [(0, [0, 1], "start at 1"), (4, [1, 2, 3], "not among the voters")])
def test_construction_refuses_bad_ids(node_id, voters, needle):
    with pytest.raises(ValueError, match=needle):
        Scripted(node_id, voters)


def test_class_level_defaults():
    assert ElectionAlgorithm.safety_observers() == []
    assert ElectionAlgorithm.detection_config(100, 200) == {}
    assert str(Role.CANDIDATE) == "candidate"
    assert Role.FOLLOWER < Role.CANDIDATE < Role.LEADER


def test_as_event_gives_the_one_event_schema_both_runtimes_write():
    from quorumlab.core.effects import Apply, LeaderChanged, Note, RoleChanged, Send, TermChanged, applied_event, as_event

    assert as_event(RoleChanged(Role.CANDIDATE, Role.LEADER, 4)) == ("role", {"from": "candidate", "to": "leader", "term": 4})
    assert as_event(TermChanged(3, 4)) == ("term", {"from": 3, "to": 4})
    assert as_event(LeaderChanged(2, 4)) == ("leader", {"leader": 2, "term": 4})
    assert as_event(Note("election_started", {"term": 4})) == ("election_started", {"term": 4})
    assert as_event(Apply(7, 4, b"x")) == ("apply", {"first": 7, "index": 7, "term": 4})
    assert applied_event(Apply(5, 3, b"a"), Apply(9, 4, b"b")) == ("apply", {"first": 5, "index": 9, "term": 4})
    with pytest.raises(TypeError, match="Send is not an observable effect"):
        as_event(Send(2, None))
