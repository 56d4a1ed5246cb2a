"""bench.web.traffic: messages of real processes drawn from their counters."""
from __future__ import annotations

from bench.web.traffic import MAX_PER_LINK, VISUAL_MS, flights_from_counters


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
