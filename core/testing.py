"""Helpers for tests of algorithms, shared by quorumlab's own tests and plugin authors.

Reading effects: ``outgoing`` (messages sent), ``notes`` (observations of one kind),
``timers`` (delays armed for one timer), ``armed`` and ``disarmed`` (all timers set and
cancelled), ``proposals`` and ``rejections`` (what became of client commands). Making input: ``arrive`` (a message as it arrives). Playing the runtime:
``flush_persists`` for one node, ``ManualCluster`` for many, driven message by message (connection hints
included: ``peer_down``, ``peer_up``).
"""
from __future__ import annotations

import random
from typing import Any, Iterable

from quorumlab.core.effects import (
    Apply,
    Broadcast,
    CancelTimer,
    Note,
    Persist,
    Proposed,
    ProposeRejected,
    Send,
    SetTimer,
    as_event,
)
from quorumlab.core.errors import InvariantViolation
from quorumlab.core.interpret import execute
from quorumlab.core.snapshots import restore_snapshot, take_snapshot
from quorumlab.core.storage import MemoryStorage


def outgoing(effects: list, cls: type | None = None) -> list[Any]:
    """The messages among ``effects``, in order (a Broadcast counts once), of class ``cls`` if given."""
    msgs = [e.msg for e in effects if type(e) in (Send, Broadcast)]
    return msgs if cls is None else [m for m in msgs if type(m) is cls]


def notes(effects: list, kind: str) -> list[dict]:
    """The data of every ``Note`` of ``kind`` among ``effects``."""
    return [e.data for e in effects if type(e) is Note and e.kind == kind]


def timers(effects: list, name: str) -> list[int]:
    """Delays of every ``SetTimer(name)`` among ``effects``."""
    return [e.delay_ms for e in effects if type(e) is SetTimer and e.name == name]


def armed(effects: list) -> dict[str, int]:
    """Timer name -> delay, for every timer ``effects`` arm (the last arming of a name wins)."""
    return {e.name: e.delay_ms for e in effects if type(e) is SetTimer}


def disarmed(effects: list) -> set[str]:
    """Names of the timers ``effects`` cancel."""
    return {e.name for e in effects if type(e) is CancelTimer}


def proposals(effects: list) -> list[Proposed]:
    """The ``Proposed`` effects: client commands appended (first index, term, count)."""
    return [e for e in effects if type(e) is Proposed]


def rejections(effects: list) -> list[ProposeRejected]:
    """The ``ProposeRejected`` effects: client commands refused (code, reason, leader)."""
    return [e for e in effects if type(e) is ProposeRejected]


def arrive(cls: type, src: int, dst: int, term: int = 0, cluster: int = 1, **fields: Any) -> Any:
    """A message of ``cls`` as it arrives at ``dst`` from ``src`` (header filled in)."""
    m = cls(term=term, **fields)
    m.cluster, m.src, m.dst = cluster, src, dst
    return m


def flush_persists(storage: Any, effects: list) -> list:
    """Play the runtime's part for ``Persist``: flush ``storage`` if the effects ask for it (returns them)."""
    if any(type(e) is Persist for e in effects):
        storage.flush()
    return effects


class _Sink:
    """How a ManualCluster carries out one node's effects (quorumlab.core.interpret.EffectSink)."""

    __slots__ = ("cluster", "id")

    def __init__(self, cluster: "ManualCluster", node_id: int) -> None:
        self.cluster, self.id = cluster, node_id

    def send(self, to: int, msg: Any) -> None:
        if to in self.cluster.ids and to != self.id:  # a peer not started yet gets it once it is
            self.cluster.queue.append((self.id, to, msg))

    def broadcast(self, msg: Any) -> None:
        self.cluster.queue.extend((self.id, p, msg) for p in self.cluster.nodes[self.id].peers)

    def set_timer(self, name: str, delay_ms: int) -> None:
        self.cluster.armed[self.id][name] = self.cluster.now + delay_ms

    def cancel_timer(self, name: str) -> None:
        self.cluster.armed[self.id].pop(name, None)

    def persist(self) -> None:
        self.cluster.storage[self.id].flush()

    def apply(self, run: list[Apply]) -> None:
        self.cluster.applied[self.id].extend(run)
        machine = self.cluster.machines[self.id]
        if machine is not None:
            for e in run:
                machine.apply(e.index, e.data)

    def take_snapshot(self, effect: Any) -> None:
        take_snapshot(self.cluster.storage[self.id], self.cluster.machines[self.id], effect.index, effect.term,
                      effect.meta)

    def restore_snapshot(self, effect: Any) -> None:
        self.cluster.machines[self.id] = restore_snapshot(self.cluster.storage[self.id], self.cluster.algo.StateMachine,
                                                          effect.index)

    def observe(self, effect: Any) -> None:
        self.cluster.log(self.id, *as_event(effect))

    def after(self, effect: Any) -> None:
        for o in self.cluster.observers:
            o.on_effect(self.cluster, self.id, effect)


class ManualCluster:
    """Nodes 1..n of an algorithm driven by hand: nothing happens unless the test says so.

    Effects are carried out by the runtimes' own interpreter (quorumlab.core.interpret.execute): messages
    wait in ``queue`` until ``deliver`` hands them over (a message to or from a node that is
    down is lost); timers are only recorded in ``armed`` and fire when the test ``trigger``\\ s
    them, except the names in ``auto`` (zero-delay timers such as raft's ``flush``), which fire
    as soon as they are armed; ``Persist`` flushes the node's simulated disk, which ``crash``
    keeps. The algorithm's safety observers (or ``observers``) see every effect and event, as
    in the simulator: the cluster offers them the same ``ids``, ``node``, ``is_up``, ``last_node``,
    ``now``, ``config`` and ``fail``. ``events`` lists what the nodes observed (role, term, leader, notes), as
    ``Simulation.events`` does; ``now`` moves by one ms per delivery unless ``advance``\\ d.
    """

    def __init__(self, algo: type | str, n: int, config: Any = None, *, observers: Iterable[Any] | None = None,
                 auto: Iterable[str] = (), cluster: int = 1) -> None:
        if isinstance(algo, str):
            from quorumlab.core import registry

            algo = registry.load(algo)
        self.algo = algo
        self.config = config if config is not None else algo.Config()
        self.cluster = cluster
        self.ids = tuple(range(1, n + 1))
        self.bootstrap = self.ids
        """The voters every node starts with (nodes added later join this cluster and learn the rest)."""
        self.auto = frozenset(auto)
        self.storage = {i: MemoryStorage() for i in self.ids}
        self.nodes: dict[int, Any] = {}
        self.up: set[int] = set()
        self.queue: list[tuple[int, int, Any]] = []
        self.applied: dict[int, list[Apply]] = {i: [] for i in self.ids}
        self.machines: dict[int, Any] = {i: None for i in self.ids}
        self.armed: dict[int, dict[str, int]] = {i: {} for i in self.ids}
        self.events: list[dict] = []
        self.observers = list(observers) if observers is not None else list(algo.safety_observers())
        self.cut_links: set[frozenset[int]] = set()
        self.now = 0
        self.last_node: int | None = None
        self._sinks = {i: _Sink(self, i) for i in self.ids}
        for i in self.ids:
            self.restart(i)

    # -- the observers' view, as the simulator gives it ----------------------------------

    def node(self, i: int) -> Any:
        return self.nodes.get(i)

    def machine(self, i: int) -> Any:
        """Node ``i``'s state machine (what its applied entries built; None for an algorithm without one)."""
        return self.machines[i]

    def is_up(self, i: int) -> bool:
        return i in self.up

    def fail(self, message: str) -> None:
        raise InvariantViolation(message)

    def log(self, node: int, kind: str, data: dict) -> None:
        self.events.append({"t": self.now, "node": node, "kind": kind, **data})

    # -- driving ------------------------------------------------------------------------

    def run(self, i: int, effects: list) -> None:
        """Carry out node ``i``'s effects as a runtime would, then fire its armed ``auto`` timers."""
        sink = self._sinks[i]
        execute(effects, sink, sink.after if self.observers else None)
        self.last_node = i
        for o in self.observers:
            o.after_event(self)
        due = [name for name in self.auto if name in self.armed[i]]
        for name in due:
            if i in self.up and name in self.armed[i]:
                self.trigger(i, name)

    def restart(self, i: int) -> None:
        """Start node ``i`` (again) from its disk."""
        self.nodes[i] = self.algo(i, self.bootstrap, self.config, self.storage[i], random.Random(i), self.cluster)
        self.up.add(i)
        self.applied[i] = []
        self.machines[i] = self.algo.StateMachine() if self.algo.StateMachine is not None else None
        self.armed[i] = {}
        self.log(i, "restart", {})
        self.run(i, self.nodes[i].start(self.now))

    def crash(self, i: int) -> None:
        """Node ``i`` stops: its timers and what its disk had not flushed are gone."""
        self.up.discard(i)
        self.armed[i] = {}
        self.storage[i].crash()
        self.log(i, "crash", {})

    def trigger(self, i: int, timer: str) -> None:
        """Fire node ``i``'s timer ``timer`` now (armed or not)."""
        self.armed[i].pop(timer, None)
        self.run(i, self.nodes[i].fire(timer, self.now))

    def peer_down(self, i: int, peer: int) -> None:
        """Node ``i``'s transport reports its connection to ``peer`` lost (the hint a crash or a dropped link gives)."""
        self.log(i, "peer_down", {"peer": peer})
        self.run(i, self.nodes[i].peer_down(peer, self.now))

    def peer_up(self, i: int, peer: int) -> None:
        """Node ``i``'s transport reports its connection to ``peer`` (re)made."""
        self.log(i, "peer_up", {"peer": peer})
        self.run(i, self.nodes[i].peer_up(peer, self.now))

    def propose(self, i: int, command: bytes) -> list:
        """A client command at node ``i``; returns the effects (Proposed or ProposeRejected among them)."""
        effects = self.nodes[i].propose(command, self.now)
        self.run(i, effects)
        return effects

    def transfer(self, i: int, to: int | None) -> list:
        """Ask node ``i`` to hand leadership to ``to``; returns the effects (a TransferRefused among them if not)."""
        effects = self.nodes[i].transfer(to, self.now)
        self.run(i, effects)
        return effects

    def add_node(self) -> int:
        """Start a new, empty node (the next id) that joins this cluster: it knows the bootstrap voters and waits
        for a leader to replicate to it; returns its id."""
        i = max(self.ids) + 1
        self.ids += (i,)
        self.storage[i] = MemoryStorage()
        self.applied[i] = []
        self.machines[i] = None
        self.armed[i] = {}
        self._sinks[i] = _Sink(self, i)
        self.restart(i)
        return i

    def change(self, i: int, change: list) -> list:
        """Ask node ``i`` to change the membership (quorumlab.algorithms.raft.membership); returns the effects (Proposed for
        the configuration entry, or ProposeRejected saying why not)."""
        effects = self.nodes[i].change_membership(change, self.now)
        self.run(i, effects)
        return effects

    def advance(self, ms: int) -> None:
        """Let ``ms`` of time pass (nothing fires by itself)."""
        self.now += ms

    def cut(self, a: int, b: int) -> None:
        """Lose every message between ``a`` and ``b`` from now on (both ways) until ``heal``."""
        self.cut_links.add(frozenset((a, b)))

    def heal(self) -> None:
        self.cut_links.clear()

    def deliver(self, among: Iterable[int] | None = None, types: Iterable[str] | None = None,
                limit: int | None = None) -> int:
        """Hand over queued messages between nodes of ``among`` (default all), of ``types`` (message names)
        if given, oldest first, replies included, at most ``limit``, until none is left; returns how many."""
        among = set(self.ids if among is None else among)
        types = None if types is None else set(types)
        delivered = 0
        for _ in range(1_000_000 if limit is None else limit):
            k = next((k for k, (s, d, m) in enumerate(self.queue)
                      if s in among and d in among and (types is None or m.name in types)), None)
            if k is None:
                return delivered
            delivered += self.hand_over(k)
        if limit is None:
            raise AssertionError("deliver did not settle: the nodes keep sending")
        return delivered

    def hand_over(self, k: int) -> bool:
        """Take the ``k``-th queued message out and deliver it (one ms passes), unless ``lost`` says why it
        cannot arrive; returns whether it arrived."""
        src, dst, m = self.queue.pop(k)
        if self.lost(src, dst) is not None:
            return False
        self.now += 1
        self.run(dst, self.nodes[dst].receive(m, self.now))
        return True

    def lost(self, src: int, dst: int) -> str | None:
        """Why a message from ``src`` to ``dst`` would be lost now (a node down, their link cut), or None."""
        for i in (src, dst):
            if i not in self.up:
                return f"{i} is down"
        if frozenset((src, dst)) in self.cut_links:
            return f"{src} and {dst} are cut off"
        return None

    def drop_all(self) -> None:
        """Lose every message in flight."""
        self.queue.clear()
