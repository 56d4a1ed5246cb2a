"""quorumlab.bench.web.traffic: messages of real processes drawn from their counters."""
from __future__ import annotations

from quorumlab.bench.web.traffic import MAX_PER_LINK, TRACE_EXPIRE_MS, VISUAL_MS, MessageTrace, flights_from_counters


def _counters(sent=None, recv=None):
    return {"sent": sent or {}, "recv": recv or {}}


def test_a_leaders_heartbeats_go_to_every_follower_and_their_replies_to_the_leader():
    before = {i: _counters() for i in (1, 2, 3)}
    after = {
        1: _counters({"Heartbeat": 4}, {"Ack": 4}),
        2: _counters({"Ack": 2}, {"Heartbeat": 2}),
        3: _counters({"Ack": 2}, {"Heartbeat": 2}),
    }
    flights, undrawn = flights_from_counters(before, after, 1000.0, 1250.0)
    links = sorted((f[0], f[1], f[2]) for f in flights)
    assert links == [(1, 2, "Heartbeat")] * 2 + [(1, 3, "Heartbeat")] * 2 + [(2, 1, "Ack")] * 2 + [(3, 1, "Ack")] * 2
    assert undrawn == 0
    assert all(1250 <= f[3] < 1500 and f[4] == f[3] + VISUAL_MS for f in flights), "drawn during the next interval"


def test_a_busy_link_is_drawn_up_to_the_cap_and_the_rest_is_counted():
    before = {1: _counters(), 2: _counters()}
    after = {1: _counters({"Append": 50}), 2: _counters(recv={"Append": 50})}
    flights, undrawn = flights_from_counters(before, after, 0.0, 250.0)
    assert len(flights) == MAX_PER_LINK and undrawn == 50 - MAX_PER_LINK


def test_messages_nobody_received_are_not_drawn():
    before = {1: _counters(), 2: _counters()}
    after = {1: _counters({"Vote": 3}), 2: _counters()}
    assert flights_from_counters(before, after, 0.0, 250.0) == ([], 0)


def _send(t, src, dst, kind, dropped=None):
    e = {"t": t, "node": src, "kind": "send", "peer": dst, "type": kind, "bytes": 40}
    return {**e, "dropped": dropped} if dropped else e


def _recv(t, dst, src, kind, dropped=None):
    e = {"t": t, "node": dst, "kind": "recv", "peer": src, "type": kind}
    return {**e, "dropped": dropped} if dropped else e


def test_traced_messages_pair_each_receive_with_its_send_on_the_same_link_in_order():
    trace = MessageTrace()
    flights = trace.feed([_send(10.0, 1, 2, "AppendEntries"), _send(10.1, 1, 3, "AppendEntries"),
                          _send(11.0, 1, 2, "AppendEntries"), _recv(10.3, 2, 1, "AppendEntries"),
                          _recv(10.4, 3, 1, "AppendEntries"), _recv(11.2, 2, 1, "AppendEntries")], now=12.0)
    assert trace.seen
    assert [(f[0], f[1], f[3], f[5]) for f in flights] == [(1, 2, 10.0, "ok"), (1, 3, 10.1, "ok"), (1, 2, 11.0, "ok")]
    assert all(f[4] == f[3] + VISUAL_MS for f in flights), "a loopback hop is drawn for at least VISUAL_MS"


def test_a_send_the_next_receive_on_its_link_skipped_was_lost_and_a_cut_send_is_a_cross_at_once():
    trace = MessageTrace()
    flights = trace.feed([_send(1.0, 1, 2, "Heartbeat"), _send(2.0, 1, 2, "RequestVote"),
                          _send(3.0, 1, 3, "RequestVote", dropped="partition"), _recv(2.5, 2, 1, "RequestVote")],
                         now=4.0)
    fates = {(f[1], f[2]): (f[3], f[5]) for f in flights}
    assert fates == {(2, "Heartbeat"): (1.0, "lost"), (2, "RequestVote"): (2.0, "ok"), (3, "RequestVote"): (3.0, "cut")}


def test_a_receive_read_before_its_send_waits_for_it_and_a_receivers_partition_drop_is_marked():
    trace = MessageTrace()
    assert trace.feed([_recv(5.2, 2, 1, "Vote", dropped="partition")], now=6.0) == []
    flights = trace.feed([_send(5.0, 1, 2, "Vote")], now=6.0)
    assert [(f[0], f[1], f[5]) for f in flights] == [(1, 2, "dropped")]


def test_a_send_never_received_expires_as_lost_and_an_orphan_receive_is_forgotten():
    trace = MessageTrace()
    assert trace.feed([_send(0.0, 1, 2, "AppendEntries"), _recv(0.0, 3, 1, "Ping")], now=1.0) == []
    flights = trace.feed([], now=TRACE_EXPIRE_MS + 1)
    assert [(f[1], f[5]) for f in flights] == [(2, "lost")]
    assert trace.feed([_send(TRACE_EXPIRE_MS + 2, 1, 3, "Ping")], now=TRACE_EXPIRE_MS + 3) == []


def test_counters_are_not_traced_messages():
    trace = MessageTrace()
    assert trace.feed([{"t": 1.0, "node": 1, "kind": "role", "role": "leader"}], now=2.0) == [] and not trace.seen
