"""quorumlab.bench.web.sim_panel and session: a live simulation runs ahead of the shown time and releases what is due."""
from __future__ import annotations

import asyncio
import time

import pytest

from quorumlab.core import mistakes

from quorumlab.bench.web.session import Session, UserError
from quorumlab.bench.web.sim_panel import SimPanel


def _run(panel: SimPanel, until: float) -> None:
    panel.advance(until + panel.lookahead, time.monotonic() + 30)


def test_a_panel_releases_only_what_happened_by_the_shown_time_and_every_flight_has_a_known_fate():
    panel = SimPanel("p0", "raft", 5, 1, (10, 30), 0.0)
    _run(panel, 1000)
    assert panel.reached() >= 1000
    part = panel.take(1000)
    assert part["events"] and all(e["t"] <= 1000 for e in part["events"])
    fates = ("ok", "dup", "lost", "dropped", "cut")
    assert part["flights"] and all(f[3] <= 1000 and f[5] in fates for f in part["flights"])
    assert any(e["kind"] == "role" and e["to"] == "leader" for e in part["events"])
    later = panel.take(1000)
    assert later["events"] == [] and later["flights"] == [], "nothing is released twice"


def test_single_steps_go_to_the_next_instant_something_happens():
    panel = SimPanel("p0", "raft", 3, 1, (10, 30), 0.0)
    _run(panel, 400)
    released = panel.take(300)
    nxt = panel.next_time(300)
    part = panel.take(nxt)
    at_next = [e["t"] for e in part["events"]] + [f[3] for f in part["flights"]] + [t["t"] for t in part["timers"]]
    assert nxt > 300
    assert all(t == nxt for t in at_next), "nothing between the two instants is skipped"
    assert at_next or nxt in {f[4] for f in released["flights"]}, "something happens then: an event, a send, an arrival"


def test_a_deliberate_mistake_is_labelled_and_the_violation_it_causes_stops_the_panel_with_the_observers_message():
    chosen = [mistakes.available("raft")["term_and_vote_in_memory"]]
    panel = SimPanel("p0", "raft", 3, 2, (10, 30), 0.0, chosen)
    assert panel.describe()["mistakes"][0]["title"] == chosen[0].title
    _run(panel, 1000)
    # every node votes for itself in a new term; node 1 restarts having forgotten that term and its vote
    panel.act("trigger")
    panel.act("crash", 1)
    panel.act("restart", 1)
    _run(panel, 2000)
    assert panel.violation is not None
    assert "term went back: node 1 is at term 1 after having reached term 2" in panel.violation
    assert panel.take(panel.reached())["violation"] == panel.violation
    assert "start a new one" in panel.act("crash", 2)


def test_pausing_a_simulated_node_isolates_it_and_resuming_puts_it_back_in_its_group():
    panel = SimPanel("p0", "raft", 5, 1, (1, 3), 0.0)
    panel.act("partition", groups=[[1, 2]])
    panel.act("pause", 3)
    groups = [e for e in panel.sim.events if e["kind"] == "partition"][-1]["groups"]
    assert groups == [[1, 2], [3]]
    panel.act("resume", 3)
    assert [e for e in panel.sim.events if e["kind"] == "partition"][-1]["groups"] == [[1, 2]]
    panel.act("heal")
    assert panel.sim.events[-1]["kind"] == "heal"


def _session() -> tuple[Session, list[dict]]:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    return Session(send), sent


def _sim(**changes) -> dict:
    return {"op": "sim", "algos": ["raft"], "nodes": 5, "seed": 1, "delay_lo": 1, "delay_hi": 3, "loss": 0, **changes}


@pytest.mark.parametrize("request_, says", [
    (_sim(nodes=500), "nodes = 500 is out of range"),
    (_sim(algos=["nope"]), "unknown algorithm 'nope'"),
    (_sim(delay_lo=9), "lo <= hi"),
    (_sim(algos=["raft"] * 4), "1 to 3"),
    (_sim(algos=["paxos"], mistakes={"paxos": ["same_timeout"]}), "paxos has no mistake same_timeout"),
    ({"op": "speed", "value": 50}, "allowed 0.01..10"),
    ({"op": "act", "action": "crash", "node": 1}, "start a simulation or a cluster first"),
    ({"op": "replay", "path": "/nonexistent/run"}, "does not exist"),
    ({"op": "attach", "algo": "raft", "cluster": "1=udp://x"}, "cluster:"),
])
def test_a_request_the_session_cannot_serve_is_answered_with_what_to_change(request_, says):
    session, _ = _session()
    with pytest.raises(UserError, match=says.replace("(", r"\(").replace(".", r"\.")):
        asyncio.run(session.handle(request_))


def test_side_by_side_panels_share_one_clock_and_a_linked_fault_reaches_every_one():
    session, sent = _session()

    async def scenario() -> dict:
        await session.handle({"op": "sim", "algos": ["raft", "paxos", "bully"], "nodes": 5, "seed": 1,
                              "delay_lo": 1, "delay_hi": 3, "loss": 0})
        session.speed = 10
        for _ in range(5):
            await asyncio.sleep(0.05)
            await session._tick()
        await session.handle({"op": "act", "panel": "all", "action": "crash", "node": 2})
        return await session._tick()

    frame = asyncio.run(scenario())
    assert set(frame["panels"]) == {"p0", "p1", "p2"}
    assert all(not p.sim.is_up(2) for p in session.panels)
    crashed_at = {e["t"] for p in session.panels for e in p.sim.events if e["kind"] == "crash"}
    assert len(crashed_at) == 1, "the fault reached every simulation at the same instant"


def test_a_command_proposed_from_the_page_is_placed_in_the_leaders_log():
    panel = SimPanel("p0", "raft", 3, 1, (1, 3), 0.0)
    _run(panel, 1000)
    text = panel.act("propose")
    assert text.startswith(f"proposed at node {panel.sim.leader()}: index ")
    assert "refused: no leader" in SimPanel("p1", "raft", 3, 1, (1, 3), 0.0).act("propose")
