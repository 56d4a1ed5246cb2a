"""Effects: what an algorithm asks its runtime to do. Runtimes execute them in order.

An algorithm never performs I/O. It returns these small records from every
event handler; the simulator and the ZeroMQ runtime carry them out. Order
matters: a ``Persist`` must be flushed before any ``Send`` that follows it.

The records are slotted dataclasses, not frozen ones: one is built for every
message sent and every entry applied, and a frozen dataclass costs about four
times as much to build (365 ns against 95 ns here). Treat them as immutable.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BROADCAST = 0
"""Destination id meaning "every other voter". Node ids start at 1."""


@dataclass(slots=True)
class Send:
    """Send ``msg`` to node ``to`` (``msg.dst`` already says who)."""

    to: int
    msg: Any


@dataclass(slots=True)
class Broadcast:
    """Send ``msg`` to every other voter; it is encoded once, with ``dst`` = BROADCAST."""

    msg: Any


@dataclass(slots=True)
class SetTimer:
    """Arm (or re-arm: the previous one of that name is cancelled) timer ``name`` to fire in ``delay_ms``."""

    name: str
    delay_ms: int


@dataclass(slots=True)
class CancelTimer:
    """Cancel timer ``name`` if it is armed."""

    name: str


@dataclass(slots=True)
class Persist:
    """Durable state changed: flush storage before executing any later effect."""


@dataclass(slots=True)
class Apply:
    """Apply a committed log entry to the state machine (in order, exactly once)."""

    index: int
    term: int
    data: bytes


@dataclass(slots=True)
class TakeSnapshot:
    """Write the state machine's image, which has applied exactly up to ``index`` (of ``term``), durably into the
    storage's snapshot store (quorumlab.core.snapshots) with ``meta`` in its header, before any later effect."""

    index: int
    term: int
    meta: dict = field(default_factory=dict)


@dataclass(slots=True)
class RestoreSnapshot:
    """Replace the state machine with the image of ``index`` in the storage's snapshot store (a node restarting
    from its snapshot, or a follower that received its leader's); later Applies continue from ``index`` + 1."""

    index: int
    term: int


@dataclass(slots=True)
class Proposed:
    """Client commands were appended: ``count`` entries from ``index``, all of ``term``; they are answered once
    applied (or failed if another term's entry takes one of their indexes)."""

    index: int
    term: int
    count: int = 1
    ctx: int = 0
    """Non-zero for commands the node forwarded to its leader (``ElectionAlgorithm.forward``): the ctx it was given."""


NOT_LEADER = "not_leader"
BUSY = "busy"
INVALID = "invalid"
NO_LOG = "no_log"
REJECTION_CODES = (NOT_LEADER, BUSY, INVALID, NO_LOG)
"""Why commands are refused: ask the leader; retry later (the same node); never (the commands as they are);
never (the algorithm keeps no log)."""


@dataclass(slots=True)
class ProposeRejected:
    """Client commands were refused and nothing was appended: why (a ``REJECTION_CODES`` code and a sentence
    for people), and the leader to try instead when known."""

    code: str
    reason: str
    leader: int | None = None
    ctx: int = 0
    """Non-zero for commands given to ``ElectionAlgorithm.forward``: the ctx it was given."""


@dataclass(slots=True)
class ForwardLost:
    """Commands forwarded to the leader under ``ctx`` will get no answer, and may have been appended there
    (the leader changed or fell silent after they were sent): they may be applied, at most once."""

    ctx: int
    reason: str
    leader: int | None = None


LINEARIZABLE = "linearizable"
LEASE = "lease"
READ_CONSISTENCIES = (LINEARIZABLE, LEASE)
"""What an algorithm's ``read`` may be asked for: a read index confirmed by a quorum round, or one a leader's
lease vouches for. (The runtimes also offer ``log`` reads, through the log, and ``stale`` ones, from any node's
state as it is; neither involves the algorithm's read path.)"""


@dataclass(slots=True)
class ReadReady:
    """Read ``ctx`` may be answered from the state machine once it has applied ``index``: everything committed
    before the read arrived is at or below ``index``."""

    ctx: int
    index: int


@dataclass(slots=True)
class ReadRejected:
    """Read ``ctx`` cannot be served here: a ``REJECTION_CODES`` code, a sentence, the leader to try when known."""

    ctx: int
    code: str
    reason: str
    leader: int | None = None


@dataclass(slots=True)
class TransferRefused:
    """A leadership transfer to ``to`` was not started: a ``REJECTION_CODES`` code, a sentence, and the leader to
    ask instead when known. (A started one is a ``transfer_started`` note; it ends when ``to`` leads, or with a
    ``transfer_aborted`` note.)"""

    to: int | None
    code: str
    reason: str
    leader: int | None = None


@dataclass(slots=True)
class MembershipChanged:
    """The node's configuration changed (an algorithm with membership change: Raft): who votes, who learns, who
    votes in the outgoing configuration while a joint change runs, the addresses of members added at run time.
    A runtime connects to new members and forgets removed ones; the event stream records it."""

    index: int
    voters: list[int]
    learners: list[int]
    outgoing: list[int]
    addresses: dict[int, str]
    keys: dict[int, str] = field(default_factory=dict)
    """CurveZMQ public keys (Z85) of members added at run time."""


@dataclass(slots=True)
class RoleChanged:
    """The node's role changed (emitted by the base class, not by algorithms)."""

    old: Any
    new: Any
    term: int


@dataclass(slots=True)
class TermChanged:
    """The node's term (term, ballot round, epoch) grew (emitted by the base class)."""

    old: int
    new: int


@dataclass(slots=True)
class LeaderChanged:
    """The node's belief about who leads changed (emitted by the base class)."""

    leader: int | None
    term: int


@dataclass(slots=True)
class Note:
    """An observation for the event stream: election_started, election_won, election_lost, ...

    ``data`` holds JSON-friendly values. Runtimes log notes; bench turns them into metrics.
    """

    kind: str
    data: dict = field(default_factory=dict)


def as_event(effect: Any) -> tuple[str, dict]:
    """The event-stream form (kind, fields) of an observable effect: RoleChanged, TermChanged,
    LeaderChanged, Note, the client answers (proposed, rejected, read, transfer refused) or Apply. Both runtimes write events through this one function, so the
    simulator's ``Simulation.events`` and a real node's events.jsonl share one schema."""
    t = type(effect)
    if t is RoleChanged:
        return "role", {"from": str(effect.old), "to": str(effect.new), "term": effect.term}
    if t is TermChanged:
        return "term", {"from": effect.old, "to": effect.new}
    if t is LeaderChanged:
        return "leader", {"leader": effect.leader, "term": effect.term}
    if t is Note:
        return effect.kind, effect.data
    if t is ProposeRejected:
        data = {"code": effect.code, "reason": effect.reason, "leader": effect.leader}
        if effect.ctx:
            data["ctx"] = effect.ctx
        return "propose_rejected", data
    if t is Proposed:
        data = {"index": effect.index, "term": effect.term, "count": effect.count}
        if effect.ctx:
            data["ctx"] = effect.ctx
        return "proposed", data
    if t is ForwardLost:
        return "forward_lost", {"ctx": effect.ctx, "reason": effect.reason, "leader": effect.leader}
    if t is ReadReady:
        return "read_ready", {"ctx": effect.ctx, "index": effect.index}
    if t is ReadRejected:
        return "read_rejected", {"ctx": effect.ctx, "code": effect.code, "reason": effect.reason, "leader": effect.leader}
    if t is TransferRefused:
        return "transfer_refused", {"to": effect.to, "code": effect.code, "reason": effect.reason,
                                    "leader": effect.leader}
    if t is MembershipChanged:
        data = {"index": effect.index, "voters": effect.voters, "learners": effect.learners}
        if effect.outgoing:
            data["outgoing"] = effect.outgoing
        return "membership", data
    if t is Apply:
        return applied_event(effect, effect)
    if t is TakeSnapshot:
        return "snapshot_write", {"index": effect.index, "term": effect.term}
    if t is RestoreSnapshot:
        return "snapshot_restore", {"index": effect.index, "term": effect.term}
    raise TypeError(f"{t.__name__} is not an observable effect")


def applied_event(first: Apply, last: Apply) -> tuple[str, dict]:
    """The event for a run of consecutive applied entries ``first``..``last``: ("apply", {"first", "index", "term"})
    where index and term are the last entry's. The simulator writes one per entry (first == index); a
    real node writes one per run of entries applied in one loop iteration, not one line per command."""
    return "apply", {"first": first.index, "index": last.index, "term": last.term}
