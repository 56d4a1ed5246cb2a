"""A follower forwards its clients' commands to the leader (thesis 6.2, etcd's MsgProp; PySyncObj does the same).

``forward(ctx, commands)`` on a follower sends one Propose to the leader it follows. The leader admits the
commands as it would its own clients' (the same refusals: empty commands, the uncommitted budget, a transfer
in progress), appends them, and answers with their index before the entries leave, so the follower knows where
they are before it can apply them; once they commit it tells the follower at once instead of after
commit_notify_delay. The follower reports ``Proposed(..., ctx)`` (its runtime answers the client once it has
applied them), ``ProposeRejected(..., ctx)`` (nothing was appended) or ``ForwardLost`` (the leader changed or
fell silent: they may have been appended, so the client hears "maybe").
"""
from __future__ import annotations

from quorumlab.algorithms.raft import HEARTBEAT, Propose, ProposeResponse, RaftConfig
from quorumlab.algorithms.raft.node import COMMIT_NOTIFY, MAX_FORWARDED
from quorumlab.core.effects import BUSY, INVALID, NOT_LEADER, ForwardLost, Proposed, ProposeRejected
from quorumlab.core.testing import ManualCluster, arrive, outgoing

SLOW_NOTIFY = RaftConfig(commit_notify_delay=500)


def led_by_1(config: RaftConfig | None = None, n: int = 3) -> ManualCluster:
    """Node 1 leads term 1, its no-op committed and known everywhere."""
    cluster = ManualCluster("raft", n, config, auto=("flush",))
    cluster.trigger(1, "election")
    cluster.deliver()
    cluster.trigger(1, HEARTBEAT)
    cluster.deliver()
    assert all(cluster.node(i).leader == 1 for i in cluster.ids)
    return cluster


def forward(cluster: ManualCluster, i: int, ctx: int, commands: list[bytes]) -> list:
    effects = cluster.node(i).forward(ctx, commands, cluster.now)
    cluster.run(i, effects)
    return effects


def answers(cluster: ManualCluster, node: int) -> list[dict]:
    return [e for e in cluster.events if e["node"] == node and e.get("ctx")]


def test_a_followers_commands_are_appended_by_the_leader_and_applied_everywhere():
    cluster = led_by_1()
    effects = forward(cluster, 2, 7, [b"put a", b"put b"])
    assert [(m.dst, [c for _, _, c in m.commands]) for m in outgoing(effects, Propose)] == \
        [(1, [b"put a", b"put b"])]
    cluster.deliver()
    assert answers(cluster, 2) == [{"t": answers(cluster, 2)[0]["t"], "node": 2, "kind": "proposed", "index": 2,
                                    "term": 1, "count": 2, "ctx": 7}]
    for i in (1, 2):  # the leader, and the forwarder, told of the commit at once
        assert [(a.index, a.data) for a in cluster.applied[i]][-2:] == [(2, b"put a"), (3, b"put b")]
    cluster.trigger(1, COMMIT_NOTIFY)  # the others, by the commit notification
    cluster.deliver()
    assert [(a.index, a.data) for a in cluster.applied[3]][-2:] == [(2, b"put a"), (3, b"put b")]


def test_the_leader_answers_before_the_entries_leave_so_the_index_is_known_before_they_can_apply():
    cluster = led_by_1()
    forward(cluster, 2, 7, [b"x"])
    k = next(k for k, (_, dst, m) in enumerate(cluster.queue) if m.name == "Propose")
    cluster.hand_over(k)
    to_2 = [m for src, dst, m in cluster.queue if src == 1 and dst == 2]
    assert [m.name for m in to_2][:2] == ["ProposeResponse", "AppendEntries"]
    assert to_2[0].index == 2 and to_2[0].count == 1 and to_2[1].entries[0][1:] == (2, b"x")


def test_the_forwarder_hears_of_the_commit_at_once_not_after_commit_notify_delay():
    cluster = led_by_1(SLOW_NOTIFY)
    forward(cluster, 2, 7, [b"x"])
    cluster.deliver()  # the commit notification timer (500 ms) is never fired
    assert COMMIT_NOTIFY in cluster.armed[1]
    assert [a.data for a in cluster.applied[2]][-1:] == [b"x"]
    assert b"x" not in [a.data for a in cluster.applied[3]]  # node 3 forwarded nothing: it hears with the timer


def test_a_forwarder_whose_acknowledgement_comes_after_the_commit_is_told_when_it_comes():
    """Node 3's acknowledgement commits the entry while node 2's is still on its way: an AppendEntries sent to node 2
    then would let it commit only up to what it had acknowledged, so node 2 is told once its own arrives."""
    cluster = led_by_1(SLOW_NOTIFY)
    forward(cluster, 2, 7, [b"x"])
    cluster.deliver(types=["Propose"])
    cluster.deliver(among=[1, 3])  # committed by node 3's answer
    assert cluster.node(1).commit_index == 2 and cluster.node(2).commit_index == 1
    cluster.deliver(among=[1, 2])  # node 2 gets the entries and acknowledges; the leader tells it the commit
    assert COMMIT_NOTIFY in cluster.armed[1] and HEARTBEAT in cluster.armed[1]  # neither fired
    assert [a.data for a in cluster.applied[2]][-1:] == [b"x"]


def test_without_a_leader_forwarding_is_refused_at_once_and_nothing_is_sent():
    cluster = ManualCluster("raft", 3, auto=("flush",))
    effects = forward(cluster, 2, 5, [b"x"])
    assert [(e.code, e.ctx) for e in effects if type(e) is ProposeRejected] == [(NOT_LEADER, 5)]
    assert outgoing(effects) == []


def test_an_empty_command_is_refused_by_the_follower_without_a_round_trip():
    cluster = led_by_1()
    effects = forward(cluster, 2, 5, [b"ok", b""])
    assert [(e.code, e.ctx, e.leader) for e in effects if type(e) is ProposeRejected] == [(INVALID, 5, 1)]
    assert outgoing(effects, Propose) == []


def test_a_leader_that_is_transferring_refuses_busy_and_nothing_is_appended():
    cluster = led_by_1()
    cluster.run(1, cluster.node(1).transfer(3, cluster.now))
    last = cluster.node(1).log.last_index
    forward(cluster, 2, 9, [b"x"])
    cluster.deliver(types=["Propose", "ProposeResponse"])
    assert [(e["kind"], e["code"], e["ctx"]) for e in answers(cluster, 2)] == [("propose_rejected", BUSY, 9)]
    assert cluster.node(1).log.last_index == last


def test_a_propose_that_reaches_a_node_that_does_not_lead_is_refused_not_leader():
    cluster = led_by_1()
    effects = cluster.node(3).receive(arrive(Propose, 2, 3, 1, request=4, commands=[(0, 0, b"x")]), cluster.now)
    assert [(m.dst, m.request, m.code) for m in outgoing(effects, ProposeResponse)] == [(2, 4, 1)]
    assert cluster.node(3).log.last_index == 1


def test_a_propose_of_another_term_is_refused_and_nothing_is_appended():
    cluster = led_by_1()
    effects = cluster.node(1).receive(arrive(Propose, 2, 1, 0, request=4, commands=[(0, 0, b"x")]), cluster.now)
    assert [(m.request, m.code) for m in outgoing(effects, ProposeResponse)] == [(4, 1)]
    assert cluster.node(1).log.last_index == 1


def test_a_change_of_leader_before_the_answer_reports_the_commands_lost_not_refused():
    """The Propose may have been appended by the old leader, which may still be committed by the next one:
    "lost" (maybe applied), never "refused" (certainly not)."""
    cluster = led_by_1()
    forward(cluster, 2, 7, [b"x"])
    cluster.queue.clear()  # the Propose is dropped
    cluster.trigger(3, "election")
    cluster.deliver()
    assert [(e["kind"], e["ctx"]) for e in answers(cluster, 2)] == [("forward_lost", 7)]


def test_no_answer_within_an_election_timeout_reports_the_commands_lost_on_the_next_heartbeat():
    cluster = led_by_1()
    forward(cluster, 2, 7, [b"x"])
    cluster.queue.clear()
    cluster.advance(cluster.config.election_timeout_max - 10)
    cluster.trigger(1, HEARTBEAT)
    cluster.deliver()
    assert answers(cluster, 2) == []
    cluster.advance(20)
    cluster.trigger(1, HEARTBEAT)
    cluster.deliver()
    assert [(e["kind"], e["ctx"]) for e in answers(cluster, 2)] == [("forward_lost", 7)]


def test_a_late_answer_after_the_loss_was_reported_is_ignored():
    cluster = led_by_1()
    forward(cluster, 2, 7, [b"x"])
    propose = cluster.queue.pop()
    cluster.advance(cluster.config.election_timeout_max + 1)
    cluster.trigger(1, HEARTBEAT)
    cluster.deliver()
    cluster.queue.append(propose)
    cluster.deliver()
    assert [(e["kind"], e["ctx"]) for e in answers(cluster, 2)] == [("forward_lost", 7)]


def test_too_many_forwards_waiting_are_refused_busy():
    cluster = led_by_1()
    node = cluster.node(2)
    for ctx in range(1, MAX_FORWARDED + 1):
        node.forward(ctx, [b"x"], cluster.now)
    effects = node.forward(MAX_FORWARDED + 1, [b"x"], cluster.now)
    assert [(e.code, e.ctx) for e in effects if type(e) is ProposeRejected] == [(BUSY, MAX_FORWARDED + 1)]


def test_a_leader_given_a_forward_appends_it_itself():
    cluster = led_by_1()
    effects = forward(cluster, 1, 3, [b"x"])
    assert [(e.index, e.term, e.count, e.ctx) for e in effects if type(e) is Proposed] == [(2, 1, 1, 3)]
    assert outgoing(effects, Propose) == []


def test_an_answer_that_does_not_match_what_was_forwarded_is_reported_lost():
    cluster = led_by_1()
    request = outgoing(forward(cluster, 2, 7, [b"x", b"y"]), Propose)[0].request
    cluster.queue.clear()
    effects = cluster.node(2).receive(arrive(ProposeResponse, 1, 2, 1, request=request, code=0, index=2, count=1),
                                      cluster.now)
    assert [e.ctx for e in effects if type(e) is ForwardLost] == [7]


def test_a_duplicated_propose_is_appended_once():
    cluster = led_by_1()
    forward(cluster, 2, 7, [b"x"])
    propose = next(m for _, _, m in cluster.queue if m.name == "Propose")
    cluster.queue.append((2, 1, propose))
    cluster.deliver()
    assert [a.data for a in cluster.applied[1]].count(b"x") == 1
    assert [(e["kind"], e["ctx"]) for e in answers(cluster, 2)] == [("proposed", 7)]


def test_a_restarted_node_numbers_its_requests_past_those_of_its_previous_incarnation():
    """Else the answer to a request sent before a crash, arriving after the restart, would be taken for the answer
    to a new request with the same number: "applied" for a command nobody appended."""
    cluster = led_by_1()
    before = outgoing(forward(cluster, 2, 7, [b"old"]), Propose)[0].request
    cluster.crash(2)
    cluster.advance(1)
    cluster.restart(2)
    cluster.trigger(1, HEARTBEAT)
    cluster.deliver(types=["AppendEntries", "AppendEntriesResponse"])
    after = outgoing(forward(cluster, 2, 8, [b"new"]), Propose)[0].request
    assert after > before


def test_a_removed_node_refuses_to_forward_the_leader_would_drop_it():
    cluster = led_by_1()
    cluster.run(1, cluster.node(1).change_membership([{"op": "remove", "node": 3}], cluster.now))
    cluster.deliver()
    cluster.trigger(1, HEARTBEAT)
    cluster.deliver()
    assert cluster.node(3).status()["member"] == "removed" and cluster.node(3).leader == 1
    effects = forward(cluster, 3, 5, [b"x"])
    assert [(e.code, e.ctx) for e in effects if type(e) is ProposeRejected] == [(NOT_LEADER, 5)]
    assert outgoing(effects, Propose) == []


def test_forwards_expire_on_the_nodes_own_timers_when_no_append_entries_come():
    cluster = led_by_1()
    forward(cluster, 2, 7, [b"x"])
    cluster.queue.clear()
    cluster.advance(cluster.config.election_timeout_max + 1)
    cluster.trigger(2, "flush")  # any timer of its own
    assert [(e["kind"], e["ctx"]) for e in answers(cluster, 2)] == [("forward_lost", 7)]
