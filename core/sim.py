"""The deterministic simulator: many nodes in one process, a virtual clock, a seeded network.

One ``random.Random(seed)`` decides everything random (network delays, loss,
duplication, each node's own RNG seed), and every event goes through one timer
wheel ordered by (deadline, schedule order), so the same arguments give the
same run, event for event. Messages travel encoded: every send goes through
the codec, every delivery through the decoder.

Clients: ``submit(command)`` proposes a command at the current leader and
returns a ``Submission`` that completes when the entry is applied (by any
node: state machine safety makes them agree) or fails when the leader refuses
it or another entry takes its index. An algorithm with a log reports a
proposal with the effect ``Proposed(index, term, count)`` and a refusal with
``ProposeRejected(code, reason, leader)``; ``applied(node)`` lists the
commands a node has applied since it last (re)started, in order.

Connection hints: with ``connection_hints=True`` a crash is seen by every live node as its transport
would see it, a ``peer_down`` for the crashed node once whatever that node had already sent has
arrived (the network's longest delay later, as TCP delivers what was sent before the connection's end),
and a restart as a ``peer_up`` as long after. A partition gives no hint (the connection stays, the
messages are lost), nor does a pause. ``hint(node, peer, up)`` hands one hint over at once (a link that
flaps). Off by default, so seeded runs recorded before hints existed replay unchanged.
"""
from __future__ import annotations

import collections
import heapq
import math
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from quorumlab.core import codec
from quorumlab.core.algorithm import ElectionAlgorithm, Role
from quorumlab.core.config import AlgorithmConfig
from quorumlab.core.effects import (BROADCAST, NOT_LEADER, Apply, ForwardLost, Proposed, ProposeRejected, ReadReady,
                                    ReadRejected,
                          TransferRefused, as_event)
from quorumlab.core.errors import CodecError, InvariantViolation
from quorumlab.core.interpret import TimerTable, execute
from quorumlab.core.snapshots import restore_snapshot, take_snapshot
from quorumlab.core.storage import MemoryStorage
from quorumlab.core.timerwheel import TimerWheel

_DELIVER = 0
"""First item of a delivery on the wheel; a timer's key starts with its node id instead (ids start at 1)."""
_HINT = -1
"""First item of a connection hint on the wheel: (_HINT, node told, peer, up)."""


@dataclass
class Network:
    """The simulated network: per-message delay in [lo, hi] ms, loss and duplication probabilities.

    ``distribution`` shapes the delay: "uniform" (every value in [lo, hi] equally likely) or
    "long-tail" (lo plus an exponential with mean (hi - lo) / 4, capped at hi: most messages
    are fast, a few are slow, as on a loaded host).
    """

    delay_ms: tuple[int, int] = (1, 3)
    loss: float = 0.0
    duplicate: float = 0.0
    distribution: str = "uniform"

    def draw(self, rng: random.Random) -> int:
        """One message delay in ms."""
        lo, hi = self.delay_ms
        if lo == hi:
            return lo
        if self.distribution == "uniform":
            return rng.randint(lo, hi)
        return lo + min(hi - lo, int(rng.expovariate(4.0 / (hi - lo))))

    def __post_init__(self) -> None:
        lo, hi = self.delay_ms
        if not (0 <= lo <= hi):
            raise ValueError(f"Network.delay_ms must satisfy 0 <= lo <= hi, got {self.delay_ms}")
        if self.distribution not in ("uniform", "long-tail"):
            raise ValueError(f"Network.distribution must be 'uniform' or 'long-tail', got {self.distribution!r}")
        for name in ("loss", "duplicate"):
            p = getattr(self, name)
            if not (0.0 <= p <= 1.0):
                raise ValueError(f"Network.{name} must be in 0..1, got {p}")


@dataclass
class SimStats:
    """Counters of one simulation (messages are counted per destination)."""

    sent: int = 0
    delivered: int = 0
    dropped_loss: int = 0
    dropped_partition: int = 0
    dropped_down: int = 0
    dropped_bad: int = 0
    duplicated: int = 0
    bytes_sent: int = 0
    sent_by_type: collections.Counter = field(default_factory=collections.Counter)
    bytes_by_type: collections.Counter = field(default_factory=collections.Counter)

    @property
    def dropped(self) -> int:
        return self.dropped_loss + self.dropped_partition + self.dropped_down + self.dropped_bad


@dataclass
class Submission:
    """A command submitted through ``Simulation.submit``: pending until applied somewhere, or failed."""

    command: bytes
    node: int | None
    index: int = 0
    term: int = 0
    done: bool = False
    ok: bool = False
    error: str = ""
    applied_at: int = -1
    result: bytes | None = None
    """What the state machine answered when it applied the command (the first node to apply it)."""
    entry: bytes | None = None
    """The data of the log entry the answer is for: the command itself, unless a node reported a wrong index."""

    def _finish(self, ok: bool, error: str, now: int) -> None:
        self.done, self.ok, self.error, self.applied_at = True, ok, error, now


@dataclass
class Read:
    """A read submitted through ``Simulation.read``: pending until answered from a node's state, or failed."""

    query: bytes
    node: int | None
    consistency: str
    done: bool = False
    ok: bool = False
    result: bytes | None = None
    error: str = ""
    index: int = 0
    answered_at: int = -1

    def _finish(self, ok: bool, result: bytes | None, error: str, now: int) -> None:
        self.done, self.ok, self.result, self.error, self.answered_at = True, ok, result, error, now


class _Node:
    """One simulated node: its algorithm, disk, timers, clock, state machine, and how the simulator carries out
    its effects (the EffectSink of quorumlab.core.interpret)."""

    __slots__ = ("id", "sim", "algo", "storage", "up", "timers", "rate", "machine", "reads", "waiting_reads",
                 "forwards")

    def __init__(self, sim: "Simulation", node_id: int, storage: Any, rate: float) -> None:
        self.id = node_id
        self.sim = sim
        self.algo: ElectionAlgorithm | None = None
        self.storage = storage
        self.up = False
        self.timers = TimerTable(sim._wheel, node_id)  # keys [node id, name, handle, deadline]; ids start at 1
        self.rate = rate
        self.machine: Any = None
        self.reads: dict[int, Read] = {}  # reads the algorithm has not answered yet, by ctx
        self.waiting_reads: list[tuple[int, int, Read]] = []  # heap of (index, ctx, read) waiting for applies
        self.forwards: dict[int, Submission] = {}  # submissions forwarded to the leader, by ctx, until answered

    def clock(self) -> int:
        """What this node's clock reads now (ms): the simulation's time at this node's rate."""
        now = self.sim.now
        return now if self.rate == 1.0 else int(now * self.rate)

    def send(self, to: int, msg: Any) -> None:
        if to in self.sim._nodes and to != self.id:
            self.sim._transmit(self.id, to, codec.encode(msg), msg.name)

    def broadcast(self, msg: Any) -> None:
        data = codec.encode(msg)
        kind = msg.name
        for peer in self.algo.peers:
            self.sim._transmit(self.id, peer, data, kind)

    def set_timer(self, name: str, delay_ms: int) -> None:
        delay = delay_ms if self.rate == 1.0 else math.ceil(delay_ms / self.rate)
        self.timers.arm(name, self.sim.now + delay)

    def cancel_timer(self, name: str) -> None:
        self.timers.cancel(name)

    def persist(self) -> None:
        self.storage.flush()

    def apply(self, run: list[Apply]) -> None:
        sim = self.sim
        machine = self.machine
        for e in run:
            sim._record(self.id, *as_event(e))
            if e.data:
                sim._applied[self.id].append(e.data)
            result = machine.apply(e.index, e.data) if machine is not None else None
            if sim._next_forward and e.index not in sim._first_applied:  # kept only once forwarding is used
                sim._first_applied[e.index] = (e, result)
            if sim._waiting:
                sim._resolve(e, result)
        waiting = self.waiting_reads
        while waiting and machine is not None and waiting[0][0] <= machine.applied_index:
            self.answer(heapq.heappop(waiting)[2])

    def take_snapshot(self, effect: Any) -> None:
        info = take_snapshot(self.storage, self.machine, effect.index, effect.term, effect.meta)
        self.sim._record(self.id, "snapshot_saved", {"index": info.index, "term": info.term, "bytes": info.size})

    def restore_snapshot(self, effect: Any) -> None:
        self.machine = restore_snapshot(self.storage, self.sim.algo_cls.StateMachine, effect.index)
        self.sim._record(self.id, "snapshot_restored", {"index": effect.index, "term": effect.term})
        waiting = self.waiting_reads
        while waiting and waiting[0][0] <= self.machine.applied_index:
            self.answer(heapq.heappop(waiting)[2])

    def answer(self, read: Read) -> None:
        """Answer ``read`` from this node's state machine as it is now."""
        read._finish(True, self.machine.read(read.query), "", self.sim.now)

    def observe(self, effect: Any) -> None:
        t = type(effect)
        if t is ReadReady:
            read = self.reads.pop(effect.ctx, None)
            if read is not None:
                read.index = effect.index
                if effect.index <= self.machine.applied_index:
                    self.answer(read)
                else:
                    heapq.heappush(self.waiting_reads, (effect.index, effect.ctx, read))
        elif t is ReadRejected:
            read = self.reads.pop(effect.ctx, None)
            if read is not None:
                read._finish(False, None, f"{effect.code}: {effect.reason} (leader: {effect.leader})", self.sim.now)
        elif (t is Proposed or t is ProposeRejected or t is ForwardLost) and effect.ctx:
            sub = self.forwards.pop(effect.ctx, None)
            if sub is not None and t is Proposed:
                sub.index, sub.term = effect.index, effect.term
                applied = self.sim._first_applied.get(sub.index)
                if applied is None:
                    self.sim._waiting.setdefault(sub.index, []).append(sub)
                else:  # applied somewhere before the leader's answer arrived here
                    self.sim._settle(sub, *applied)
            elif sub is not None:
                maybe = " (it may be applied)" if t is ForwardLost else ""
                sub._finish(False, f"{effect.reason}{maybe} (leader: {effect.leader})", self.sim.now)
        self.sim._record(self.id, *as_event(effect))

    def after(self, effect: Any) -> None:
        """Let every safety observer see ``effect`` now that it took effect."""
        for o in self.sim.observers:
            o.on_effect(self.sim, self.id, effect)


class Simulation:
    """Simulation(algo, nodes, seed=0, config=None, network=None): see the module docstring.

    ``algo`` is an ElectionAlgorithm subclass or a registered name. Node ids are
    1..nodes. Nodes start at virtual time 0. ``observers`` replaces the
    algorithm's default safety observers when given.
    """

    def __init__(
        self,
        algo: type[ElectionAlgorithm] | str,
        nodes: int,
        seed: int = 0,
        config: AlgorithmConfig | None = None,
        network: Network | None = None,
        cluster: int = 1,
        observers: Iterable[Any] | None = None,
        trace_limit: int = 2000,
        algo_factory: Callable[..., ElectionAlgorithm] | None = None,
        clock_rates: dict[int, float] | None = None,
        connection_hints: bool = False,
    ) -> None:
        if isinstance(algo, str):
            from quorumlab.core import registry

            algo = registry.load(algo)
        if nodes < 1:
            raise ValueError(f"a simulation needs at least 1 node, got {nodes}")
        self.algo_cls = algo
        self.algo_factory = algo_factory or algo
        self.seed = seed
        self.connection_hints = connection_hints
        self.config = config if config is not None else algo.Config()
        self.network = network if network is not None else Network()
        self.cluster = cluster
        self.rng = random.Random(seed)
        self.ids = tuple(range(1, nodes + 1))
        self.bootstrap = self.ids
        """The voters every node starts with; nodes added later (``add_node``) join and learn the rest."""
        self.now = 0
        self.stats = SimStats()
        self.trace: collections.deque = collections.deque(maxlen=trace_limit)
        self.events: list[dict] = []
        self.observers: list[Any] = list(observers) if observers is not None else list(algo.safety_observers())
        self.last_node: int | None = None
        """The node whose event (delivery, timer, start, crash, proposal) was handled last, for observers."""
        self._wheel = TimerWheel(0)
        self._ready: collections.deque = collections.deque()
        self._groups: dict[int, int] | None = None
        rates = dict(clock_rates or {})
        for i, rate in rates.items():
            if i not in self.ids or not 0.0 < rate:
                raise ValueError(f"clock_rates: node {i} must be among {self.ids} with a positive rate, got {rate}")
        self._nodes = {i: _Node(self, i, MemoryStorage(), float(rates.get(i, 1.0))) for i in self.ids}
        self._next_read = 0
        self._lo, self._hi = self.network.delay_ms
        self._uniform = self.network.distribution == "uniform"
        self._applied: dict[int, list[bytes]] = {i: [] for i in self.ids}
        self._waiting: dict[int, list[Submission]] = {}
        self._first_applied: dict[int, tuple[Apply, bytes | None]] = {}  # index -> its first apply, with the result
        self._next_forward = 0
        for i in self.ids:
            self._boot(self._nodes[i])

    # -- observing ----------------------------------------------------------------------

    def node(self, node_id: int) -> ElectionAlgorithm:
        """The node's algorithm instance (its last one if it is down)."""
        return self._nodes[node_id].algo

    def storage(self, node_id: int) -> MemoryStorage:
        return self._nodes[node_id].storage

    def machine(self, node_id: int) -> Any:
        """The node's state machine (None for an algorithm without one)."""
        return self._nodes[node_id].machine

    def is_up(self, node_id: int) -> bool:
        return self._nodes[node_id].up

    def up_ids(self) -> list[int]:
        return [i for i in self.ids if self._nodes[i].up]

    def leaders(self) -> list[tuple[int, int]]:
        """(node id, term) of every live node in the LEADER role."""
        return [(n.id, n.algo.term) for n in self._nodes.values() if n.up and n.algo.role == Role.LEADER]

    def leader(self) -> int | None:
        """The live leader with the highest term, or None."""
        best = max(self.leaders(), key=lambda lt: lt[1], default=None)
        return None if best is None else best[0]

    def unanimous_leader(self, among: Iterable[int] | None = None) -> int | None:
        """The leader every given live node (default: all live nodes) believes in, if they all agree and it leads."""
        ids = [i for i in (among if among is not None else self.ids) if self._nodes[i].up]
        if not ids:
            return None
        first = self._nodes[ids[0]].algo.leader
        if first is None or not self._nodes[first].up or self._nodes[first].algo.role != Role.LEADER:
            return None
        for i in ids[1:]:
            if self._nodes[i].algo.leader != first:
                return None
        return first

    def applied(self, node_id: int) -> list[bytes]:
        """The commands (non-empty entries) node ``node_id`` applied since it last (re)started, in order."""
        return list(self._applied[node_id])

    # -- driving ------------------------------------------------------------------------

    def run_for(self, ms: int) -> None:
        """Process every event up to now + ms, then set the clock there."""
        if ms < 0:
            raise ValueError(f"run_for needs ms >= 0, got {ms}")
        end = self.now + ms
        while self._step(end):
            pass
        self._wheel.advance(end)
        self.now = end

    def run_until(self, predicate: Callable[["Simulation"], bool], timeout_ms: int) -> bool:
        """Run until ``predicate(sim)`` holds (checked after every event) or ``timeout_ms`` passes."""
        end = self.now + timeout_ms
        if predicate(self):
            return True
        while self._step(end):
            if predicate(self):
                return True
        self._wheel.advance(end)
        self.now = end
        return predicate(self)

    def partition(self, *groups: Iterable[int]) -> None:
        """Split the network: messages flow only inside a group. Nodes not named form one more group."""
        where: dict[int, int] = {}
        for g, members in enumerate(groups):
            for m in members:
                if m not in self._nodes:
                    raise ValueError(f"partition names node {m}, which is not in this simulation {self.ids}")
                if m in where:
                    raise ValueError(f"partition puts node {m} in two groups")
                where[m] = g
        rest = len(groups)
        self._groups = {i: where.get(i, rest) for i in self.ids}
        self._record(0, "partition", {"groups": [sorted(g) for g in groups]})

    def heal(self) -> None:
        """Remove every partition."""
        self._groups = None
        self._record(0, "heal", {})

    def crash(self, node_id: int) -> None:
        """Stop a node: volatile state, timers and unflushed storage are lost, flushed storage is kept.

        Messages that arrive while it is down are dropped (``stats.dropped_down``); its own
        messages already on the wire still arrive.
        """
        n = self._nodes[node_id]
        if not n.up:
            return
        n.up = False
        n.timers.clear()
        for read in [*n.reads.values(), *(r for _, _, r in n.waiting_reads)]:
            read._finish(False, None, f"node {node_id} crashed", self.now)
        n.reads, n.waiting_reads = {}, []
        for sub in n.forwards.values():
            sub._finish(False, f"node {node_id} crashed (a forwarded command may be applied)", self.now)
        n.forwards = {}
        n.storage.crash()
        self._record(node_id, "crash", {})
        self._schedule_hints(node_id, False)
        self._after_event(node_id)

    def restart(self, node_id: int) -> None:
        """Start a crashed node again from its durable storage."""
        n = self._nodes[node_id]
        if n.up:
            return
        self._record(node_id, "restart", {})
        self._applied[node_id] = []
        self._boot(n)
        self._schedule_hints(node_id, True)

    def hint(self, node_id: int, peer: int, up: bool) -> None:
        """Node ``node_id``'s transport reports its connection to ``peer`` down or up, now (whatever
        ``connection_hints`` says: a test of a flapping link calls this itself)."""
        n = self._nodes[node_id]
        if not n.up or peer not in self._nodes or peer == node_id:
            return
        self._record(node_id, "peer_up" if up else "peer_down", {"peer": peer})
        self._execute(n, n.algo.peer_up(peer, n.clock()) if up else n.algo.peer_down(peer, n.clock()))
        self._after_event(node_id)

    def add_node(self) -> int:
        """Start a new, empty node with the next id; it knows the bootstrap voters, campaigns for nothing and waits
        for a leader to replicate to it until a configuration makes it a member (``change``). Returns its id."""
        if not getattr(self.algo_cls, "joins", False):
            raise ValueError(f"{self.algo_cls.name} has a fixed membership: nodes cannot be added")
        i = max(self.ids) + 1
        self.ids += (i,)
        self._nodes[i] = _Node(self, i, MemoryStorage(), 1.0)
        self._applied[i] = []
        self._record(i, "added", {})
        self._boot(self._nodes[i])
        return i

    def change(self, change: list, node: int | None = None) -> Submission:
        """Ask ``node`` (default: the current leader) to change the membership (a list of {"op", "node"[, "address"]},
        quorumlab.algorithms.raft.membership); the handle completes once the configuration entry is applied there."""
        return self.submit(b"", node, change=change)

    def submit(self, command: bytes, node: int | None = None, *, change: list | None = None,
               forward: bool = False) -> Submission:
        """Propose ``command`` now at ``node`` (default: the current leader); the handle completes once applied.
        ``forward``: a node that does not lead sends it to its leader (``ElectionAlgorithm.forward``), as an
        embedded node does with its application's commands, instead of refusing it."""
        target = node if node is not None else self.leader()
        sub = Submission(bytes(command), target)
        if target is None or not self._nodes[target].up:
            sub._finish(False, "no leader" if target is None else f"node {target} is down", self.now)
            return sub
        n = self._nodes[target]
        if change is not None:
            effects = n.algo.change_membership(change, n.clock())
        else:
            effects = n.algo.propose(sub.command, n.clock())
        for e in effects:
            if type(e) is Proposed:
                sub.index, sub.term = e.index, e.term
                self._waiting.setdefault(sub.index, []).append(sub)
            elif type(e) is ProposeRejected:
                if forward and change is None and e.code == NOT_LEADER:
                    self._next_forward += 1
                    n.forwards[self._next_forward] = sub
                    effects = effects + n.algo.forward(self._next_forward, [sub.command], n.clock())
                    break
                sub._finish(False, f"{e.reason} (leader: {e.leader})", self.now)
        if not sub.done and not sub.index and sub not in n.forwards.values():
            sub._finish(False, "the algorithm neither accepted nor refused the command", self.now)
        self.trace.append((self.now, target, "propose", sub.command[:32]))
        self._execute(n, effects)
        self._after_event(target)
        return sub

    def read(self, query: bytes, node: int | None = None, consistency: str = "linearizable") -> Read:
        """A read-only query (a get) at ``node`` (default: the current leader), answered from that node's state
        machine: ``stale`` at once as it is; ``linearizable`` and ``lease`` once the algorithm gave a read index
        and the node applied that far (quorumlab.core.effects.ReadReady). The handle completes then, or fails."""
        target = node if node is not None else self.leader()
        read = Read(bytes(query), target, consistency)
        if target is None or not self._nodes[target].up:
            read._finish(False, None, "no leader" if target is None else f"node {target} is down", self.now)
            return read
        n = self._nodes[target]
        if n.machine is None:
            read._finish(False, None, f"{self.algo_cls.name} has no state machine", self.now)
            return read
        if consistency == "stale":
            n.answer(read)
            return read
        self._next_read += 1
        n.reads[self._next_read] = read
        self.trace.append((self.now, target, "read", f"{consistency} {read.query[:32]!r}"))
        self._execute(n, n.algo.read(self._next_read, consistency, n.clock()))
        self._after_event(target)
        return read

    def transfer(self, to: int | None = None, node: int | None = None) -> Any:
        """Ask ``node`` (default: the current leader) to hand leadership to ``to`` (None: its pick). Returns None
        when the transfer started (watch ``leader()``), else the quorumlab.core.effects.TransferRefused saying why."""
        source = node if node is not None else self.leader()
        if source is None or not self._nodes[source].up:
            return TransferRefused(to, NOT_LEADER, "no leader" if source is None else f"node {source} is down")
        n = self._nodes[source]
        self.trace.append((self.now, source, "transfer", f"to {to}"))
        effects = n.algo.transfer(to, n.clock())
        self._execute(n, effects)
        self._after_event(source)
        return next((e for e in effects if type(e) is TransferRefused), None)

    def trigger(self, node_ids: Iterable[int], timer: str) -> None:
        """Fire ``timer`` now on each given live node, in order (for forced-contention scenarios)."""
        for i in node_ids:
            n = self._nodes[i]
            if not n.up:
                continue
            n.timers.cancel(timer)
            self.trace.append((self.now, i, "timer", timer))
            self._execute(n, n.algo.fire(timer, n.clock()))
            self._after_event(i)

    def inject(self, src: int, dst: int, data: bytes) -> None:
        """Put raw bytes on the wire from ``src`` to ``dst`` now, through the network model.

        For tests of malformed or foreign frames: what does not decode, or claims another
        cluster, sender or destination, is dropped and counted in ``stats.dropped_bad``.
        """
        if src not in self._nodes or dst not in self._nodes:
            raise ValueError(f"inject: nodes must be among {self.ids}, got {src} -> {dst}")
        self._transmit(src, dst, bytes(data), "raw")

    def fail(self, message: str) -> None:
        """Report a violated invariant: raises InvariantViolation with the seed and the trace's tail."""
        tail = "\n".join(f"  t={t} n{node} {kind} {detail}" for t, node, kind, detail in list(self.trace)[-40:])
        raise InvariantViolation(
            f"{message}\n  seed={self.seed} algo={self.algo_cls.name} nodes={len(self.ids)} t={self.now}ms\n"
            f"last events:\n{tail}"
        )

    # -- internals ----------------------------------------------------------------------

    def _boot(self, n: _Node) -> None:
        rng = random.Random(self.rng.getrandbits(64))
        n.algo = self.algo_factory(n.id, self.bootstrap, self.config, n.storage, rng, self.cluster)
        n.up = True
        n.machine = self.algo_cls.StateMachine() if self.algo_cls.StateMachine is not None else None
        n.reads, n.waiting_reads, n.forwards = {}, [], {}
        self._execute(n, n.algo.start(n.clock()))
        self._after_event(n.id)

    def _step(self, end: int) -> bool:
        """Handle one event due at or before ``end``; False when there is none."""
        ready = self._ready
        if not ready:
            nd = self._wheel.next_deadline()
            if nd is None or nd > end:
                return False
            ready.extend(self._wheel.advance(nd))
            self.now = nd
        ev = ready.popleft()
        if ev[0] == _HINT:
            self.hint(ev[1], ev[2], ev[3])
            return True
        if ev[0] == _DELIVER:
            self._deliver(ev[1], ev[2], ev[3])
            self._after_event(ev[1])
            return True
        n = self._nodes[ev[0]]  # a timer's key: [node id, name, handle, deadline] (quorumlab.core.interpret.TimerTable)
        if n.up and n.timers.fired(ev):
            self.trace.append((self.now, n.id, "timer", ev[1]))
            self._execute(n, n.algo.fire(ev[1], n.clock()))
        self._after_event(n.id)
        return True

    def _deliver(self, dst: int, src: int, data: bytes) -> None:
        n = self._nodes[dst]
        if not n.up:
            self.stats.dropped_down += 1
            return
        groups = self._groups
        if groups is not None and groups.get(src, -src) != groups.get(dst, -dst):  # a node added since: alone
            self.stats.dropped_partition += 1
            return
        try:
            msg = codec.decode(data)
        except CodecError as exc:
            self.stats.dropped_bad += 1
            self.trace.append((self.now, dst, "drop_bad", f"from {src}: {exc}"))
            return
        if msg.cluster != self.cluster or msg.src != src or msg.dst not in (dst, BROADCAST):
            self.stats.dropped_bad += 1
            self.trace.append((self.now, dst, "drop_bad", f"from {src}: header does not match the wire: {msg!r}"))
            return
        self.stats.delivered += 1
        self.trace.append((self.now, dst, "recv", msg))
        self._execute(n, n.algo.receive(msg, n.clock()))

    def _transmit(self, src: int, dst: int, data: bytes, kind: str) -> None:
        stats = self.stats
        stats.sent += 1
        stats.bytes_sent += len(data)
        stats.sent_by_type[kind] += 1
        stats.bytes_by_type[kind] += len(data)
        groups = self._groups
        if groups is not None and groups.get(src, -src) != groups.get(dst, -dst):  # a node added since: alone
            stats.dropped_partition += 1
            return
        net = self.network
        rng = self.rng
        if net.loss and rng.random() < net.loss:
            stats.dropped_loss += 1
            return
        lo, hi = self._lo, self._hi
        if self._uniform:
            delay = lo if lo == hi else rng.randint(lo, hi)
        else:
            delay = net.draw(rng)
        self._wheel.schedule(self.now + delay, (_DELIVER, dst, src, data))
        if net.duplicate and rng.random() < net.duplicate:
            stats.duplicated += 1
            again = rng.randint(lo, hi) if self._uniform else net.draw(rng)
            self._wheel.schedule(self.now + again, (_DELIVER, dst, src, data))

    def _schedule_hints(self, node_id: int, up: bool) -> None:
        """With connection_hints: every other live node hears that ``node_id``'s connection went down (up), after
        the network's longest delay, so that what ``node_id`` sent before arrives first."""
        if not self.connection_hints:
            return
        for i in self.ids:
            if i != node_id and self._nodes[i].up:
                self._wheel.schedule(self.now + self._hi, (_HINT, i, node_id, up))

    def _execute(self, n: _Node, effects: list) -> None:
        execute(effects, n, n.after if self.observers else None)

    def _resolve(self, e: Apply, result: bytes | None = None) -> None:
        """Complete the submissions waiting on index ``e.index``: theirs if the term matches, else lost."""
        for sub in self._waiting.pop(e.index, ()):
            self._settle(sub, e, result)

    def _settle(self, sub: Submission, e: Apply, result: bytes | None) -> None:
        """``sub`` waited for index ``e.index``, now applied: done if the entry is of its term, else lost."""
        if e.term == sub.term:
            sub.result, sub.entry = result, e.data
            sub._finish(True, "", self.now)
        else:
            sub._finish(False, f"leadership lost: index {e.index} holds an entry of term {e.term}", self.now)

    def _record(self, node: int, kind: str, data: dict) -> None:
        self.trace.append((self.now, node, kind, data))
        self.events.append({"t": self.now, "node": node, "kind": kind, **data})

    def _after_event(self, node_id: int | None = None) -> None:
        self.last_node = node_id
        for o in self.observers:
            o.after_event(self)
