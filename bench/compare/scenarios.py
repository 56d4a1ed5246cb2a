"""The scenarios of ``bench compare``: each drives one trial through a Driver and measures it from events.

Every scenario but cold-start begins from a stable cluster (all live nodes
follow one leader for a settle period). Measurements are taken afterwards from
the event stream with quorumlab.bench.compare.metrics, so the waiting (which may be
polled) never decides a number: the nodes' own timestamps do.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from quorumlab.bench.compare import metrics as M
from quorumlab.bench.compare.driver import Driver, TrialFailed


@dataclass(frozen=True)
class TrialContext:
    """What a scenario needs to know besides the cluster: the detection range and the algorithm's timer."""

    detect_ms: tuple[int, int]
    detection_timer: str = ""

    @property
    def timeout_ms(self) -> int:
        """How long to wait for a leader before a trial counts as failed."""
        return 20 * self.detect_ms[1] + 2000

    @property
    def settle_ms(self) -> int:
        """Quiet time after agreement, so heartbeats (and leases) are flowing before a fault."""
        return self.detect_ms[0]


@dataclass(frozen=True)
class Scenario:
    """A named scenario: its function, what it needs from the driver, and a one-line description."""

    name: str
    run: Callable[[Driver, TrialContext], dict]
    help: str
    metrics: tuple[str, ...]
    needs_trigger: bool = False


def _stable(d: Driver, ctx: TrialContext) -> int:
    """Wait until every live node follows one leader, let it settle, and return that leader."""
    pred = M.sole_leader(d.ids)
    if not d.wait_until(pred, ctx.timeout_ms):
        raise TrialFailed(f"no single leader followed by every node within {ctx.timeout_ms} ms")
    d.sleep(ctx.settle_ms)
    deadline = d.now() + ctx.timeout_ms
    while d.wait_until(pred, max(0, deadline - d.now())):
        view = d.view()  # on real processes more events may have arrived since the wait returned
        live = [i for i in d.ids if view.nodes[i].up]
        leader = view.followed_leader(live, len(live))
        if leader is not None:
            return leader
    raise TrialFailed(f"the leader did not stay stable within {ctx.timeout_ms} ms")


def _first_time(d: Driver, since: float, pred: M.Predicate) -> float:
    """When ``pred`` first held after ``since`` according to the event stream (the wait saw it hold)."""
    t = M.first_time(d.events(), d.ids, since, pred)
    if t is None:
        raise TrialFailed("the awaited state was seen live but is not in the nodes' event streams")
    return t


def _window_stats(d: Driver, since: float, until: float, among: tuple[int, ...], leader: int, from_detection: bool = True) -> dict:
    """Rounds, starts, messages, bytes and the winning round's duration within [since, until].

    Messages are counted from the first ``election_started`` among ``among`` (the election itself,
    not the silence before it) when ``from_detection``, else from ``since``.
    """
    ev = d.events()
    own = [e for e in ev if e["node"] in among]
    started = M.first_event(own, "election_started", since, until)
    msg_from = started["t"] if (started is not None and from_detection) else since
    messages, nbytes = d.sent_between(msg_from, until)
    win = M.win_ms(ev, leader, since, until)
    return {
        "rounds": M.rounds(own, since, until),
        "elections": M.elections_started(own, since, until),
        "messages": messages,
        "bytes": nbytes,
        "win_ms": win,
        "round_trips": None if (win is None or not d.rtt_ms) else round(win / d.rtt_ms, 3),
        "detect_ms": None if started is None else started["t"] - since,
    }


def _failover(d: Driver, ctx: TrialContext, old: int, t_fault: float, among: tuple[int, ...]) -> tuple[dict, int, float]:
    """Wait for a new leader (not ``old``) followed by a majority of the whole cluster within ``among``;
    return (metrics, new leader, time of agreement)."""
    need = M.majority(len(d.ids))
    pred = M.agreement(among, need, exclude=(old,))
    if not d.wait_until(pred, ctx.timeout_ms):
        raise TrialFailed(f"no new leader followed by {need} nodes within {ctx.timeout_ms} ms")
    t = _first_time(d, t_fault, pred)
    new = M.view_at(d.events(), d.ids, t).followed_leader(among, need, (old,))
    out = _window_stats(d, t_fault, t, among, new)
    out["failover_ms"] = t - t_fault
    out["election_ms"] = None if out["detect_ms"] is None else out["failover_ms"] - out["detect_ms"]
    return out, new, t


def cold_start(d: Driver, ctx: TrialContext) -> dict:
    """All nodes start at once: time until every node follows one leader."""
    t0 = d.start(fresh=True)
    pred = M.sole_leader(d.ids)
    if not d.wait_until(pred, ctx.timeout_ms):
        raise TrialFailed(f"no single leader followed by every node within {ctx.timeout_ms} ms")
    t = _first_time(d, t0, pred)
    leader = M.view_at(d.events(), d.ids, t).followed_leader(d.ids, len(d.ids))
    out = _window_stats(d, t0, t, d.ids, leader, from_detection=False)
    out["agree_ms"] = t - t0
    out.pop("detect_ms")
    return out


def _first_write(d: Driver, writer, t_fault: float, old: int, ctx: TrialContext) -> float:
    """Ms from the fault to the first write a node other than ``old`` answered (the writer's own clock reading at
    each completion, the nodes' clock)."""
    ms = writer.first_after(t_fault, old, ctx.timeout_ms / 1000)
    if ms is None:
        raise TrialFailed(f"no client write succeeded within {ctx.timeout_ms} ms of the fault "
                          f"({(writer.errors or ['no client error'])[-1]})")
    return ms


def crash(d: Driver, ctx: TrialContext) -> dict:
    """The leader is killed: failover time, the election's rounds, messages and bytes (and, with a client writing,
    the first successful write after the kill)."""
    d.start()
    leader = _stable(d, ctx)
    writer = d.writer(attempt_s=1.0)  # a killed leader's connection drops: the client moves on at once
    try:
        t_fault = d.now()
        d.crash(leader)
        out, _, _ = _failover(d, ctx, leader, t_fault, tuple(i for i in d.ids if i != leader))
        if writer is not None:
            out["first_write_ms"] = _first_write(d, writer, t_fault, leader, ctx)
    finally:
        if writer is not None:
            writer.stop()
    return out


def pause(d: Driver, ctx: TrialContext) -> dict:
    """The leader freezes with its connections open: failover by timeouts only (and, with a client writing, the
    first successful write after the pause), then how long the old leader goes on leading after it resumes."""
    d.start()
    leader = _stable(d, ctx)
    writer = d.writer(attempt_s=0.02)  # a stopped leader keeps its connections: the client's attempts time out
    try:
        t_fault = d.now()
        d.pause(leader)
        out, _, _ = _failover(d, ctx, leader, t_fault, tuple(i for i in d.ids if i != leader))
        if writer is not None:
            out["first_write_ms"] = _first_write(d, writer, t_fault, leader, ctx)
    finally:
        if writer is not None:
            writer.stop()
    t_resume = d.now()
    d.resume(leader)
    pred = M.sole_leader(d.ids)
    if not d.wait_until(pred, ctx.timeout_ms):
        raise TrialFailed(f"no single leader within {ctx.timeout_ms} ms after the old leader {leader} resumed")
    t_one = _first_time(d, t_resume, pred)
    out["stale_leader_ms"] = _first_time(d, t_resume, M.uncontested(leader)) - t_resume
    out["resume_agree_ms"] = t_one - t_resume
    out["old_leader_back"] = int(M.view_at(d.events(), d.ids, t_one).followed_leader(d.ids, len(d.ids)) == leader)
    return out


def partition(d: Driver, ctx: TrialContext) -> dict:
    """The leader is cut off in a minority: leaders at once, whether the minority keeps one, time to
    one leader after heal."""
    d.start()
    leader = _stable(d, ctx)
    others = [i for i in d.ids if i != leader]
    minority = (leader, *others[: (len(d.ids) - 1) // 2 - 1])
    majority_side = tuple(i for i in d.ids if i not in minority)
    t_part = d.now()
    d.partition(minority, majority_side)
    out, _, _ = _failover(d, ctx, leader, t_part, majority_side)
    d.sleep(ctx.settle_ms)
    t_heal = d.now()
    d.heal()
    pred = M.sole_leader(d.ids)
    if not d.wait_until(pred, ctx.timeout_ms):
        raise TrialFailed(f"no single leader within {ctx.timeout_ms} ms after the partition healed")
    t_one = _first_time(d, t_heal, pred)
    at_heal = M.view_at(d.events(), d.ids, t_heal)  # the nodes' own events up to the heal, not a live poll
    minority_leader = any(node in minority for node, _ in at_heal.leaders())
    most, most_same_term = M.max_leaders(d.events(), d.ids, t_part, t_one)
    return {
        "failover_ms": out["failover_ms"],
        "rounds": out["rounds"],
        "max_leaders": most,
        "max_leaders_same_term": most_same_term,
        "minority_leader": int(minority_leader),
        "heal_ms": t_one - t_heal,
    }


def rejoin(d: Driver, ctx: TrialContext) -> dict:
    """The old leader, killed and replaced, comes back: leader changes it causes (for bully: the
    highest id returns, since bully's leader is the highest id)."""
    d.start()
    leader = _stable(d, ctx)
    d.crash(leader)
    _failover(d, ctx, leader, d.now(), tuple(i for i in d.ids if i != leader))
    d.sleep(ctx.settle_ms)
    t_rejoin = d.now()
    d.restart(leader)
    pred = M.sole_leader(d.ids)  # the restarted node counts as live from its restart on
    if not d.wait_until(pred, ctx.timeout_ms):
        raise TrialFailed(f"the cluster did not agree on one leader within {ctx.timeout_ms} ms of the rejoin")
    d.sleep(2 * ctx.detect_ms[1])
    t_end = d.now()
    ev = d.events()
    back = M.first_event(ev, "started", t_rejoin, node=leader) or M.first_event(ev, "restart", t_rejoin, node=leader)
    t_back = back["t"] if back is not None else t_rejoin
    t_agree = _first_time(d, t_back, pred)
    return {
        "leader_changes": M.leader_changes(ev, t_rejoin, t_end),
        "rounds": M.rounds(ev, t_rejoin, t_end),
        "agree_ms": t_agree - t_back,
    }


def contention(d: Driver, ctx: TrialContext) -> dict:
    """The leader dies and every survivor's detection timer fires at the same instant: rounds until a leader."""
    if not ctx.detection_timer:
        raise TrialFailed("the algorithm declares no detection_timer, so contention cannot be forced")
    d.start()
    leader = _stable(d, ctx)
    survivors = tuple(i for i in d.ids if i != leader)
    d.crash(leader)
    t = d.now()
    d.trigger(survivors, ctx.detection_timer)
    out, _, _ = _failover(d, ctx, leader, t, survivors)
    out["agree_ms"] = out.pop("failover_ms")
    out.pop("detect_ms")
    out.pop("election_ms")
    return out


_FAILOVER = ("failover_ms", "first_write_ms", "detect_ms", "election_ms", "win_ms", "round_trips", "rounds", "elections", "messages", "bytes")

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("cold-start", cold_start, "all nodes start together; time until every node follows one leader",
                 ("agree_ms", "win_ms", "round_trips", "rounds", "elections", "messages", "bytes")),
        Scenario("crash", crash, "the leader is killed; failover time and the election's cost", _FAILOVER),
        Scenario("pause", pause, "the leader freezes (SIGSTOP; sim: isolated); failover, then how long it still leads after resuming",
                 _FAILOVER + ("stale_leader_ms", "resume_agree_ms", "old_leader_back")),
        Scenario("partition", partition, "the leader is cut off in a minority, then the partition heals",
                 ("failover_ms", "rounds", "max_leaders", "max_leaders_same_term", "minority_leader", "heal_ms")),
        Scenario("rejoin", rejoin, "the killed old leader comes back; leader changes it causes",
                 ("leader_changes", "rounds", "agree_ms")),
        Scenario("contention", contention, "every survivor's detection timer fires at once after the leader dies",
                 ("rounds", "elections", "agree_ms", "win_ms", "round_trips", "messages", "bytes"), needs_trigger=True),
    )
}
