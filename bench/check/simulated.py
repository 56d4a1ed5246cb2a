"""A ``bench check`` run in the deterministic simulator: one seed fixes everything, so a failing seed replays.

Time is virtual (ms). Clients are simulated the way KVClient behaves: each
has one call at a time, proposes it at the node it believes leads, follows
that node's redirect when refused, tries the next node after a refusal
without a hint or an attempt that is not answered within ``ATTEMPT_MS``, and
gives up at the call's timeout. A call is answered the way a real node
answers (quorumlab.core.runtime.node): when the node it was proposed to applies the
entry at its index with its term, from that node's own key-value store;
leadership lost, or a crash, fails the wait (the client retries the same
command, which the store applies at most once). Outcomes are exact: ``fail``
only when no attempt was ever appended to a log, ``info`` when one was and
no answer came. A get with a consistency other than ``log`` is a read
(``Simulation.read``) at the believed leader, or with ``read_from="any"`` at
each node in turn; a read changes nothing, so one that is never answered is
``fail``.

The algorithm's safety observers run too (unless ``observers`` is off): a
broken invariant stops the run at that moment, and is reported with the
history so far.
"""
from __future__ import annotations

import random
from typing import Any

from quorumlab.core.algorithm import Role
from quorumlab.core.check import FAIL, INFO, OK, History
from quorumlab.core.effects import Apply, RoleChanged
from quorumlab.core.errors import InvariantViolation
from quorumlab.core.kv import KVStore
from quorumlab.core.observers import Observer
from quorumlab.core.sim import Network, Simulation

from quorumlab.bench.check import harness as H
from quorumlab.bench.check import nemesis
from quorumlab.bench.check.record import FaultRecord, Run
from quorumlab.bench.check.spec import CheckSpec
from quorumlab.bench.check.workload import Call, ClientWorkload, answer, command

NETWORK = Network(delay_ms=(1, 5))
"""The simulated network of every check run: 1-5 ms one way, no loss (the nemesis brings the faults)."""
ATTEMPT_MS = 500
RETRY_MS = 10
THINK_MS = (0, 20)
"""Pause between a client's calls (uniform, virtual ms)."""
TICK_MS = 1


class _Wait:
    """One attempt waiting for its answer at (node, index)."""

    __slots__ = ("term", "data", "raw", "lost")

    def __init__(self, term: int, data: bytes) -> None:
        self.term, self.data = term, data
        self.raw: bytes | None = None
        self.lost = False


class Replies(Observer):
    """Answers attempts as a real node does: from the proposing node's own store, when it applies their entry."""

    def __init__(self) -> None:
        self._stores: dict[int, tuple[Any, KVStore]] = {}
        self._waits: dict[tuple[int, int], _Wait] = {}

    def wait(self, node: int, index: int, term: int, data: bytes) -> _Wait:
        w = _Wait(term, data)
        self._waits[(node, index)] = w
        return w

    def _store(self, sim: Any, node: int) -> KVStore:
        algo = sim.node(node)
        have = self._stores.get(node)
        if have is None or have[0] is not algo:  # a new incarnation: its state machine starts empty, its waits are gone
            self._drop(node)
            have = self._stores[node] = (algo, KVStore())
        return have[1]

    def _drop(self, node: int) -> None:
        for key in [k for k in self._waits if k[0] == node]:
            self._waits.pop(key).lost = True

    def on_effect(self, sim: Any, node: int, effect: Any) -> None:
        t = type(effect)
        if t is Apply:
            raw = self._store(sim, node).apply(effect.index, effect.data)
            w = self._waits.pop((node, effect.index), None)
            if w is not None:
                if effect.term == w.term and effect.data == w.data:
                    w.raw = raw or b""
                else:
                    w.lost = True
        elif t is RoleChanged and effect.old == Role.LEADER:
            self._store(sim, node)
            self._drop(node)


class _Episode:
    """A fault being held: its plan, its record, and the restarts of a bounce episode."""

    def __init__(self, fault: nemesis.Fault, cluster: H.SimHarness, now: int) -> None:
        self.plan = nemesis.plan(fault, cluster.ids, cluster.leader())
        self.record = FaultRecord(fault.kind, self.plan.describe(), now)
        self.bouncer = nemesis.Bouncer(fault, self.plan.bounce, now / 1000)
        self.restarts = 0
        H.inflict(cluster, self.plan)

    def bounce(self, cluster: H.SimHarness, now: int) -> None:
        node = self.bouncer.due(now / 1000, cluster.leader())
        if node is not None:
            cluster.crash(node)
            cluster.restart(node)
            self.restarts += 1

    def close(self, cluster: H.SimHarness, now: int) -> None:
        H.repair(cluster, self.plan)
        self.record.end = now
        if self.plan.bounce:
            self.record.what += f" ({self.restarts} restarts)"


class _Client:
    """One simulated client: its workload, the node it believes leads, and its call in progress."""

    def __init__(self, number: int, spec: CheckSpec, ids: tuple[int, ...]) -> None:
        self.number = number
        self.work = ClientWorkload(number, spec.seed, spec.keys)
        self.rng = random.Random(f"quorumlab-check-client:{spec.seed}:{number}")
        self.ids = ids
        self.node = ids[(number - 1) % len(ids)]
        self.seq = 0
        self.call: Call | None = None
        self.index = -1
        self.data = b""
        self.deadline = self.next_at = 0
        self.waits: list[_Wait] = []
        self.pending: _Wait | None = None
        self.reading: Any = None  # quorumlab.core.sim.Read of a get without the log
        self.attempt_at = 0

    def next_node(self) -> None:
        self.node = self.ids[(self.ids.index(self.node) + 1) % len(self.ids)]


def run_simulated(spec: CheckSpec, watchers: list[Observer] | None = None) -> Run:
    """Run ``spec`` in the simulator for ``spec.duration_s`` virtual seconds, seed ``spec.seed``. ``watchers``
    are more observers (``bench web``'s recorders, when it replays a run); the simulation is ``Run.sim``."""
    from quorumlab.core.runtime.loader import load_algorithm

    algo = load_algorithm(spec.algo)
    replies = Replies()
    observers = (list(algo.safety_observers()) if spec.observers else []) + [replies, *(watchers or [])]
    sim = Simulation(algo, spec.nodes, seed=spec.seed, config=algo.Config.from_strings(spec.settings()),
                     network=NETWORK, observers=observers)
    cluster = H.SimHarness(sim)
    history = History(clock=lambda: sim.now, time_unit="ms")
    clients = [_Client(n, spec, sim.ids) for n in range(1, spec.clients + 1)]
    faults: list[FaultRecord] = []
    episodes = [(int(f.start * 1000), int(f.end * 1000), f) for f in
                nemesis.schedule(spec.seed, spec.duration_s, spec.nemeses)]
    active: _Episode | None = None
    end = int(spec.duration_s * 1000)
    error = None
    try:
        while sim.now < end:
            if active is not None and sim.now >= episodes[0][1]:
                active.close(cluster, sim.now)
                active = None
                episodes.pop(0)
            if active is None and episodes and sim.now >= episodes[0][0]:
                active = _Episode(episodes[0][2], cluster, sim.now)
                faults.append(active.record)
            if active is not None:
                active.bounce(cluster, sim.now)
            for c in clients:
                _serve(c, cluster, replies, history, spec)
            sim.run_for(TICK_MS)
    except InvariantViolation as exc:
        error = str(exc)
    if active is not None:
        active.record.end = sim.now
    return Run(spec, history, faults, 0.0, float(sim.now), error=error, sim=sim)


def _serve(c: _Client, cluster: H.SimHarness, replies: Replies, history: History, spec: CheckSpec) -> None:
    """Move client ``c`` on by one tick: start a call, settle an answer, retry, or give up."""
    now = cluster.sim.now
    if c.call is None:
        if now < c.next_at:
            return
        c.call, c.seq = c.work.next(), c.seq + 1
        c.data = command(c.call, c.number, c.seq)
        c.index = history.invoke(c.number, c.call.op, c.call.key, *c.call.args)
        c.deadline = now + int(spec.op_timeout_s * 1000)
        c.waits, c.pending, c.reading, c.attempt_at = [], None, None, now
    if c.reading is not None and c.reading.done:
        if c.reading.ok:
            outcome, result = answer(c.call, c.reading.result)
            done = history.complete(c.index, outcome, result)
            if outcome == OK:
                c.work.saw(c.call, done.result)
            _finish(c, now)
            return
        hint = cluster.believed_leader(c.node)
        c.reading = None
        _redirect(c, hint)
        c.attempt_at = min(c.attempt_at, now + RETRY_MS)
    answered = next((w for w in c.waits if w.raw is not None), None)
    if answered is not None:
        outcome, result = answer(c.call, answered.raw)
        done = history.complete(c.index, outcome, result)
        if outcome == OK:
            c.work.saw(c.call, done.result)
        _finish(c, now)
        return
    if now >= c.deadline:
        history.complete(c.index, INFO if c.waits else FAIL)
        _finish(c, now)
        return
    if c.pending is not None and c.pending.lost:  # leadership lost or the node crashed: retry soon, elsewhere
        c.pending = None
        c.next_node()
        c.attempt_at = min(c.attempt_at, now + RETRY_MS)
    if now >= c.attempt_at:
        _attempt(c, cluster, replies, now, spec)


def _attempt(c: _Client, cluster: H.SimHarness, replies: Replies, now: int, spec: CheckSpec) -> None:
    """Propose the call's command at the believed leader; on a refusal follow its hint or try the next node.
    A get without the log is a read instead, at the believed leader or (read_from any) the next node."""
    if c.pending is not None or c.reading is not None:  # not answered in ATTEMPT_MS
        c.next_node()
        c.pending = c.reading = None
    if c.call.op == "get" and spec.reads != "log":
        if spec.read_from == "any":
            c.next_node()
        c.reading = cluster.sim.read(c.data, c.node, spec.reads)
        c.attempt_at = now + (RETRY_MS if c.reading.done else ATTEMPT_MS)
        return
    sub = cluster.submit(c.data, c.node)
    if sub.index:
        c.pending = replies.wait(c.node, sub.index, sub.term, c.data)
        c.waits.append(c.pending)
        c.attempt_at = now + ATTEMPT_MS
        return
    _redirect(c, cluster.believed_leader(c.node))
    c.attempt_at = now + RETRY_MS


def _redirect(c: _Client, hint: int | None) -> None:
    """After a refusal: to the node named as leader, or else the next one."""
    if hint is not None and hint != c.node:
        c.node = hint
    else:
        c.next_node()


def _finish(c: _Client, now: int) -> None:
    c.call = None
    c.next_at = now + c.rng.randint(*THINK_MS)
