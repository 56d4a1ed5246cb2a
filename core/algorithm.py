"""The contract every election algorithm implements: a deterministic state machine.

Events come in through ``start``, ``receive``, ``fire``, ``peer_down``,
``peer_up``, ``propose``, ``propose_many``, ``read`` and ``transfer``; each returns the list of effects (quorumlab.core.effects)
the runtime must carry out, in order. The algorithm owns no socket, clock,
thread or global randomness: the time of each event is passed in (ms, virtual
in the simulator, monotonic on real processes) and randomness comes from the
``random.Random`` it is given. Subclasses implement the ``on_*`` hooks and use
the helpers (``send``, ``broadcast``, ``set_timer``, ``persist``, ``note``);
the base class reports role, term and leader changes itself, so no algorithm
can forget to.
"""
from __future__ import annotations

import enum
import random
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Protocol, Sequence

from quorumlab.core.config import AlgorithmConfig
from quorumlab.core.effects import (
    BROADCAST,
    INVALID,
    NO_LOG,
    NOT_LEADER,
    Broadcast,
    CancelTimer,
    ForwardLost,
    LeaderChanged,
    Note,
    Persist,
    Proposed,
    ProposeRejected,
    ReadReady,
    ReadRejected,
    RoleChanged,
    Send,
    SetTimer,
    TermChanged,
    TransferRefused,
)
from quorumlab.core.limits import MAX_COMMAND_BYTES
from quorumlab.core.messages import Message

if TYPE_CHECKING:
    from quorumlab.core.storage import Storage


MAX_TERM = 1 << 63
"""Terms (ballot rounds, epochs) at or above this are refused as input: room to grow stays on the wire."""


class StateMachine(Protocol):
    """What committed log entries are applied to (quorumlab.core.kv.KVStore is the reference one).

    ``apply`` runs once per entry, in index order, on every node, and must be deterministic: the
    same entries give the same results and the same state everywhere. Its result (bytes or None)
    is the client's answer. ``read`` answers a read-only query from the current state, outside
    the log (reads without the log need it). ``contents`` returns the contents, JSON-friendly,
    for checks.

    Snapshots (Raft's log compaction, docs/raft.md "Snapshots"): ``write_snapshot`` writes the whole
    state as it is at ``applied_index`` to a binary stream, piece by piece, and ``restore`` replaces
    the whole state with such an image (its ``applied_index`` included). Everything ``apply``'s
    answers depend on must be in the image (the key-value store's client sessions are), or a node
    restored from a snapshot would answer a retried command differently from one that applied the log.
    """

    applied_index: int

    def apply(self, index: int, data: bytes) -> bytes | None: ...
    def read(self, query: bytes) -> bytes: ...
    def contents(self) -> dict: ...
    def write_snapshot(self, stream: BinaryIO) -> None: ...
    def restore(self, stream: BinaryIO) -> None: ...


class Role(enum.IntEnum):
    """The common view of a node's role; each algorithm maps its own states onto these."""

    FOLLOWER = 0
    CANDIDATE = 1
    LEADER = 2

    def __str__(self) -> str:
        return self.name.lower()


class ElectionAlgorithm:
    """Base class of raft, paxos, bully and any plugin.

    Class attributes a plugin sets:
      name         registry name (also the entry-point name)
      description  one line for ``bench algorithms``
      algo_id      16-bit id in every message header of this algorithm (unique per algorithm)
      Config       an ``AlgorithmConfig`` dataclass with defaults and ranges
      messages     the message classes it declares with ``quorumlab.core.messages.message_type``
      detection_timer  name of the timer whose expiry means "I suspect there is no leader"
                   (bench's contention scenario fires it on every node at once)
      StateMachine     (algorithms with a log) the state machine class its committed entries are applied to
      core_idea        (optional) one sentence for ``bench compare``'s table
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    core_idea: ClassVar[str] = ""
    """One sentence for ``bench compare``'s table ("how does it decide?"); ``description`` is used when empty."""
    algo_id: ClassVar[int] = 0
    Config: ClassVar[type[AlgorithmConfig]] = AlgorithmConfig
    messages: ClassVar[Sequence[type[Message]]] = ()
    detection_timer: ClassVar[str] = ""
    StateMachine: ClassVar[type[StateMachine] | None] = None
    """For an algorithm with a log: what runtimes apply its committed entries to (one per node)."""
    joins: ClassVar[bool] = False
    """True for an algorithm with membership change (Raft): a node may start outside ``voters`` (the cluster it
    joins) and learn its place from the cluster; ``change_membership`` changes who is in it."""

    def __init__(
        self,
        node_id: int,
        voters: Sequence[int],
        config: AlgorithmConfig | None = None,
        storage: Storage | None = None,
        rng: random.Random | None = None,
        cluster: int = 0,
    ) -> None:
        if node_id < 1:
            raise ValueError(f"node ids start at 1, got {node_id}")
        if node_id not in voters and not self.joins:
            raise ValueError(f"node {node_id} is not among the voters {sorted(voters)}")
        from quorumlab.core.storage import MemoryStorage  # local: storage imports nothing of ours that imports us

        self.id = node_id
        self.voters: tuple[int, ...] = tuple(sorted(set(voters)))
        self.peers: tuple[int, ...] = tuple(v for v in self.voters if v != node_id)
        self.config = config if config is not None else self.Config()
        self.storage = storage if storage is not None else MemoryStorage()
        self.rng = rng if rng is not None else random.Random(node_id)
        self.cluster = cluster
        self.role: Role = Role.FOLLOWER
        self.term: int = 0
        self.leader: int | None = None
        self._out: list = []
        self._absurd_term_noted = False

    # -- the contract's observable state, summarized -------------------------------

    def status(self) -> dict:
        """Role, term and leader (algorithms may add their own keys)."""
        return {"id": self.id, "role": str(self.role), "term": self.term, "leader": self.leader}

    @classmethod
    def safety_observers(cls) -> list:
        """Invariant observers (quorumlab.core.observers) the simulator attaches to every run of this algorithm."""
        return []

    @classmethod
    def detection_config(cls, detect_min_ms: int, detect_max_ms: int) -> dict[str, int]:
        """Config overrides that make this algorithm detect a silent leader within [min, max] ms.

        ``bench compare`` uses this so no algorithm wins by having a shorter timer. Each
        plugin documents its own rule; the default has no timers to map.
        """
        return {}

    # -- events in: the runtime calls these; each returns the effects --------------

    def start(self, now: int) -> list:
        """The node (re)starts: read durable state, arm the first timers."""
        return self._run(self.on_start, now)

    def receive(self, msg: Message, now: int) -> list:
        """A message arrived (already decoded and checked to come from a voter of this cluster).

        A term at or above ``MAX_TERM`` can only be forged or corrupt: adopting it would make the
        next term overflow the wire's u64, so it is dropped and noted once per incarnation.
        """
        if msg.term >= MAX_TERM:
            return self._run(self._drop_absurd_term, msg)
        return self._run(self.on_message, msg, now)

    def fire(self, timer: str, now: int) -> list:
        """Timer ``timer`` expired."""
        return self._run(self.on_timer, timer, now)

    def peer_down(self, peer: int, now: int) -> list:
        """The transport lost its connection to ``peer`` (a hint: algorithms may ignore it)."""
        return self._run(self.on_peer_down, peer, now)

    def peer_up(self, peer: int, now: int) -> list:
        """The transport (re)gained its connection to ``peer`` (a hint)."""
        return self._run(self.on_peer_up, peer, now)

    def propose(self, command: bytes, now: int) -> list:
        """A client command (algorithms with a log accept it when they lead).

        A command over ``quorumlab.core.limits.MAX_COMMAND_BYTES`` could never travel to the other nodes
        in one message: it is refused here, for every algorithm, before the hook sees it.
        """
        if len(command) > MAX_COMMAND_BYTES:
            return self._run(self._refuse_oversized, len(command))
        return self._run(self.on_propose, command, now)

    def forward(self, ctx: int, commands: list[bytes], now: int) -> list:
        """Client commands this node does not lead for (``propose_many`` refused them "not leader"), to be sent to
        the leader, as PySyncObj and etcd's raft do. Answered later, under the same ``ctx``, by ``Proposed(...,
        ctx=ctx)`` (appended there: the runtime answers once it applies them here), ``ProposeRejected(...,
        ctx=ctx)`` (nothing appended) or ``ForwardLost`` (no answer will come; they may have been appended).
        Default: refused "not leader", as before forwarding existed."""
        longest = max(map(len, commands), default=0)
        if longest > MAX_COMMAND_BYTES:
            return self._run(self.reject_proposal, INVALID, f"a command of {longest} bytes is over the "
                             f"{MAX_COMMAND_BYTES}-byte limit", self.leader, ctx)
        return self._run(self.on_forward, ctx, commands, now)

    def read(self, ctx: int, consistency: str, now: int) -> list:
        """A client read (``ctx`` names it; ``consistency`` is quorumlab.core.effects.LINEARIZABLE or LEASE): answered by a
        ``ReadReady`` (or ``ReadRejected``) effect, now or later, carrying the same ``ctx``."""
        return self._run(self.on_read, ctx, consistency, now)

    def transfer(self, to: int | None, now: int) -> list:
        """Hand leadership to node ``to`` (None: the algorithm picks the best placed one), as a planned restart
        or a move does: answered by a ``transfer_started`` note or a ``TransferRefused`` effect."""
        return self._run(self.on_transfer, to, now)

    def change_membership(self, change: list, now: int) -> list:
        """Change who is in the cluster (``change``: a list of {"op", "node"[, "address"]}, see
        quorumlab.algorithms.raft.membership): answered like a command, by ``Proposed`` for the configuration entry (done once
        it is applied) or ``ProposeRejected`` saying why not."""
        return self._run(self.on_change_membership, change, now)

    def propose_many(self, commands: list[bytes], now: int) -> list:
        """Several client commands at once, in order (one batch of effects; see ``on_propose_many``)."""
        longest = max(map(len, commands), default=0)
        if longest > MAX_COMMAND_BYTES:
            return self._run(self._refuse_oversized, longest)
        return self._run(self.on_propose_many, commands, now)

    # -- hooks a subclass implements --------------------------------------------------

    def on_start(self, now: int) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement on_start")

    def on_message(self, msg: Message, now: int) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement on_message")

    def on_timer(self, timer: str, now: int) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement on_timer")

    def on_peer_down(self, peer: int, now: int) -> None:
        """Default: ignore the hint."""

    def on_peer_up(self, peer: int, now: int) -> None:
        """Default: ignore the hint."""

    def on_propose(self, command: bytes, now: int) -> None:
        """Default: an election-only algorithm has no log and refuses commands."""
        self.reject_proposal(NO_LOG, f"{self.name or type(self).__name__} keeps no log")

    def on_forward(self, ctx: int, commands: list[bytes], now: int) -> None:
        """Default: no forwarding; the client is told to go to the leader."""
        self.reject_proposal(NOT_LEADER, "not leader", self.leader, ctx)

    def on_read(self, ctx: int, consistency: str, now: int) -> None:
        """Default: an algorithm without a log has nothing to read."""
        self.reject_read(ctx, NO_LOG, f"{self.name or type(self).__name__} keeps no log")

    def on_change_membership(self, change: list, now: int) -> None:
        """Default: the membership is fixed at start."""
        self.reject_proposal(INVALID, f"{self.name or type(self).__name__} has a fixed membership")

    def on_transfer(self, to: int | None, now: int) -> None:
        """Default: an algorithm without leadership transfer refuses it."""
        self.refuse_transfer(to, INVALID, f"{self.name or type(self).__name__} does not transfer leadership")

    def on_propose_many(self, commands: list[bytes], now: int) -> None:
        """Default: ``on_propose`` for each command in turn, stopping at the first refusal.

        An algorithm with a log overrides this to append the whole batch at once and report it
        with one ``proposed(first index, term, count)``.
        """
        for command in commands:
            before = len(self._out)
            self.on_propose(command, now)
            if any(type(e) is ProposeRejected for e in self._out[before:]):
                return

    # -- helpers for subclasses: effects out -------------------------------------------

    def send(self, to: int, msg: Message) -> None:
        msg.cluster, msg.src, msg.dst = self.cluster, self.id, to
        self._out.append(Send(to, msg))

    def broadcast(self, msg: Message) -> None:
        msg.cluster, msg.src, msg.dst = self.cluster, self.id, BROADCAST
        self._out.append(Broadcast(msg))

    def set_timer(self, name: str, delay_ms: int) -> None:
        self._out.append(SetTimer(name, int(delay_ms)))

    def cancel_timer(self, name: str) -> None:
        self._out.append(CancelTimer(name))

    def persist(self, state: dict) -> None:
        """Stage durable state and ask the runtime to flush it before anything that follows."""
        self.storage.write(state)
        self._out.append(Persist())

    def note(self, kind: str, **data: Any) -> None:
        self._out.append(Note(kind, data))

    def proposed(self, index: int, term: int, count: int = 1, ctx: int = 0) -> None:
        """Report client commands appended at ``index``.. (the runtime answers each once applied); ``ctx``: the
        forward these are the answer to (appended by the leader)."""
        self._out.append(Proposed(index, term, count, ctx))

    def read_ready(self, ctx: int, index: int) -> None:
        """Read ``ctx`` may be answered once the state machine has applied ``index``."""
        self._out.append(ReadReady(ctx, index))

    def reject_read(self, ctx: int, code: str, reason: str, leader: int | None = None) -> None:
        """Read ``ctx`` cannot be served here (``code``: one of quorumlab.core.effects.REJECTION_CODES)."""
        self._out.append(ReadRejected(ctx, code, reason, leader))

    def reject_proposal(self, code: str, reason: str, leader: int | None = None, ctx: int = 0) -> None:
        """Refuse client commands: ``code`` is one of quorumlab.core.effects.REJECTION_CODES, ``reason`` says why;
        ``ctx``: the forward refused."""
        self._out.append(ProposeRejected(code, reason, leader, ctx))

    def forward_lost(self, ctx: int, reason: str, leader: int | None = None) -> None:
        """The commands forwarded under ``ctx`` will get no answer and may have been appended (ForwardLost)."""
        self._out.append(ForwardLost(ctx, reason, leader))

    def refuse_transfer(self, to: int | None, code: str, reason: str, leader: int | None = None) -> None:
        """A leadership transfer to ``to`` is not started (``code``: one of quorumlab.core.effects.REJECTION_CODES)."""
        self._out.append(TransferRefused(to, code, reason, leader))

    def emit(self, effect: Any) -> None:
        """Append any other effect (for example ``Apply``)."""
        self._out.append(effect)

    def emit_many(self, effects: list) -> None:
        """Append several effects at once, in order (for example one ``Apply`` per newly committed entry)."""
        self._out.extend(effects)

    # -- internals ----------------------------------------------------------------------

    def _refuse_oversized(self, size: int) -> None:
        self.reject_proposal(INVALID, f"a command of {size} bytes is over the {MAX_COMMAND_BYTES}-byte limit "
                             "(quorumlab.core.limits.MAX_COMMAND_BYTES: one command must fit in one message between nodes)",
                             self.leader)

    def _drop_absurd_term(self, msg: Message) -> None:
        if not self._absurd_term_noted:
            self._absurd_term_noted = True
            self.note("dropped_absurd_term", type=msg.name, src=msg.src, term=msg.term)

    def _run(self, hook, *args) -> list:
        role, term, leader = self.role, self.term, self.leader
        hook(*args)
        out = self._out
        self._out = []
        if self.term != term:
            out.append(TermChanged(term, self.term))
        if self.role != role:
            out.append(RoleChanged(role, self.role, self.term))
        if self.leader != leader:
            out.append(LeaderChanged(self.leader, self.term))
        return out
