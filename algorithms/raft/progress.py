"""The leader's view of each follower: how far its log matches ours, what is in flight to it, what to send next.

One ``Progress`` per follower, as etcd-io/raft's ``tracker.Progress``, in one of three states:

- PROBE: the leader does not know where the follower's log matches its own. One
  AppendEntries at a time, resent every heartbeat while unanswered; each rejection
  moves ``next`` back (as far as the follower's hint allows).
- REPLICATE: the follower matched. AppendEntries are pipelined from ``next`` while the
  ``Inflights`` window has room, and ``next`` moves past what each one carries.
- SNAPSHOT: the follower needs entries the leader compacted away. The leader sends
  its snapshot (``pending_snapshot``) in chunks, one in flight at a time, and no
  AppendEntries with entries; the transfer ends when the follower's log matches at
  or past the snapshot's index (it installed it), and the follower replicates from there.

An acknowledgement moves a follower to REPLICATE; a rejection while replicating,
or a heartbeat interval in which its match did not move while messages were in
flight (they were lost), moves it back to PROBE from its match. Invariant:
``match < next``. The rules that need the leader's log (the hint's term lookup)
stay in the node; everything else about one follower is here.
"""
from __future__ import annotations

import collections
import enum


class ProgressState(enum.Enum):
    """How the leader sends to one follower."""

    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


class Inflights:
    """AppendEntries sent to one follower and not yet acknowledged, in send order (etcd: tracker.Inflights).

    Each is (prev_log_index, last index it carries, command bytes). The window is full at
    ``max_count`` messages or ``max_bytes`` command bytes, whichever comes first; a message
    may be sent whenever it is not full, so one larger than ``max_bytes`` still goes, alone.
    """

    __slots__ = ("_sent", "_bytes", "max_count", "max_bytes")

    def __init__(self, max_count: int, max_bytes: int) -> None:
        self._sent: collections.deque[tuple[int, int, int]] = collections.deque()
        self._bytes = 0
        self.max_count = max_count
        self.max_bytes = max_bytes

    def __len__(self) -> int:
        return len(self._sent)

    @property
    def bytes(self) -> int:
        """Command bytes in flight."""
        return self._bytes

    def full(self) -> bool:
        return len(self._sent) >= self.max_count or self._bytes >= self.max_bytes

    def add(self, prev: int, last: int, size: int) -> None:
        """A message carrying entries prev+1..last (``size`` command bytes) left."""
        self._sent.append((prev, last, size))
        self._bytes += size

    def free_to(self, index: int) -> None:
        """The follower holds everything up to ``index``: the messages that carried no more than that are done."""
        sent = self._sent
        while sent and sent[0][1] <= index:
            self._bytes -= sent.popleft()[2]

    def first_prev(self) -> int | None:
        """The prev_log_index of the oldest message in flight, or None when nothing is."""
        return self._sent[0][0] if self._sent else None

    def forget(self, prev: int) -> None:
        """Drop the message(s) sent at ``prev`` (refused after a later one overtook them), keep the rest."""
        self._sent = collections.deque(m for m in self._sent if m[0] != prev)
        self._bytes = sum(m[2] for m in self._sent)

    def clear(self) -> None:
        self._sent.clear()
        self._bytes = 0


class Progress:
    """The leader's view of one follower (etcd: tracker.Progress). Invariant: match < next."""

    __slots__ = ("match", "next", "state", "inflights", "commit_sent", "heard_at", "read_round", "_mark",
                 "pending_snapshot", "chunk_at", "chunk_end", "_chunk_mark", "optimistic")

    def __init__(self, next_index: int, inflights: Inflights, heard_at: int) -> None:
        self.match = 0  # the follower's log matches ours up to here (it acknowledged so)
        self.next = next_index  # where the next AppendEntries starts
        self.state = ProgressState.PROBE
        self.inflights = inflights
        self.commit_sent = 0  # the commit index the last AppendEntries to it carried
        self.heard_at = heard_at  # when a message of this term last came from it (check_quorum)
        self.read_round = 0  # the highest read round it has answered in this term
        self._mark = 0  # match at the previous heartbeat: no movement with messages in flight means they were lost
        self.pending_snapshot = 0  # SNAPSHOT: the index of the snapshot being sent
        self.chunk_at = 0  # SNAPSHOT: where the next chunk starts (the image's bytes the follower holds)
        self.chunk_end = 0  # SNAPSHOT: the end of the chunk in flight (0: none in flight)
        self._chunk_mark = -1  # chunk_at at the previous heartbeat: unmoved means the chunk or its answer was lost
        self.optimistic = 0  # replicating on a new leader's guess, unanswered: where probing would have started

    def replicate_optimistically(self) -> None:
        """A new leader's start: its voters' logs are most often its own, so send from ``next`` pipelined at once
        (REPLICATE) instead of one probe at a time; until the follower answers, a refusal goes back to probing
        with its hint, and a silent follower back to probing from ``next`` as it was (not from the match, 0)."""
        self.state = ProgressState.REPLICATE
        self.optimistic = self.next

    def can_send(self, last_index: int) -> bool:
        """May another AppendEntries with entries go now? Probing: only when none is in flight (the probe may
        be empty). Replicating: while the follower lacks entries up to ``last_index`` and the window has room."""
        if self.state is ProgressState.PROBE:
            return not self.inflights
        if self.state is ProgressState.SNAPSHOT:
            return False
        return self.next <= last_index and not self.inflights.full()

    def sent(self, count: int, size: int) -> None:
        """An AppendEntries left with ``count`` entries (``size`` command bytes) from ``next``: it is in flight;
        replicating, the next one starts after it."""
        prev = self.next - 1
        self.inflights.add(prev, prev + count, size)
        if self.state is ProgressState.REPLICATE:
            self.next += count

    def acknowledged(self, index: int) -> bool:
        """The follower holds our log up to ``index``: it replicates from now on, what was in flight up to its
        match is done, and when nothing still in flight continues right after the match (what did was lost or
        refused) the next message starts there. True when the match moved (etcd: MaybeUpdate)."""
        moved = index > self.match
        self.optimistic = 0
        if moved:
            self.match = index
        if self.next <= self.match:
            self.next = self.match + 1
        self.state = ProgressState.REPLICATE
        self.inflights.free_to(self.match)
        self.resend_from_match_on_gap()
        return moved

    def stale_rejection(self, rejected: int) -> bool:
        """A refusal at ``rejected`` that later answers already overtook: at or below the match, or, probing,
        not of the probe in flight."""
        return rejected <= self.match or (self.state is ProgressState.PROBE and rejected != self.next - 1)

    def probe_from(self, index: int) -> None:
        """Probing: the probe was refused; the next one starts at ``index`` (never at or below the match)."""
        self.state = ProgressState.PROBE
        self.optimistic = 0
        self.next = max(index, self.match + 1)
        self.inflights.clear()

    def forget_if_overtaken(self, rejected: int) -> bool:
        """Replicating: if the message refused at ``rejected`` was sent after one still in flight (the network
        reordered them), forget only that message and return True; the follower keeps its place, and what the
        message carried is sent again once the match shows the gap (or, if the earlier one was lost too, when
        the next heartbeat finds the follower stalled)."""
        first = self.inflights.first_prev()
        if first is None or first >= rejected:
            return False
        self.inflights.forget(rejected)
        self.resend_from_match_on_gap()
        return True

    def become_probe(self) -> None:
        """Back to one message at a time, from just after the match (etcd: BecomeProbe)."""
        self.state = ProgressState.PROBE
        self.next = max(self.match + 1, self.optimistic)
        self.inflights.clear()

    def resend_from_match_on_gap(self) -> None:
        """When no message in flight continues right after the match, forget the window and go on from match + 1."""
        first = self.inflights.first_prev()
        if (first is None and self.next != self.match + 1) or (first is not None and first > self.match):
            self.inflights.clear()
            self.next = self.match + 1

    def become_snapshot(self, index: int) -> None:
        """Send the snapshot of ``index`` from its first byte; nothing of the log until it is installed."""
        self.state = ProgressState.SNAPSHOT
        self.pending_snapshot = index
        self.chunk_at = self.chunk_end = 0
        self._chunk_mark = -1
        self.inflights.clear()

    def chunk_sent(self, end: int) -> None:
        """The chunk from ``chunk_at`` to ``end`` left."""
        self.chunk_end = end

    def chunk_answered(self, held: int) -> bool:
        """The follower holds ``held`` bytes of the image: True when the next chunk should go now, from there (the
        one in flight arrived, or the follower holds more or less than we thought: a resent chunk it already had,
        a transfer it lost by restarting). An answer that repeats ``chunk_at`` is about the chunk in flight."""
        if held == self.chunk_at:
            return False
        self.chunk_at, self.chunk_end = held, 0
        return True

    def snapshot_stalled(self) -> bool:
        """Once per heartbeat while sending a snapshot: True when no chunk was taken since the last heartbeat (the
        chunk or its answer was lost), so the chunk at ``chunk_at`` is to be sent again."""
        stalled = self.chunk_at == self._chunk_mark or not self.chunk_end
        self._chunk_mark = self.chunk_at
        if stalled:
            self.chunk_end = 0
        return stalled

    def snapshot_installed(self, match: int) -> None:
        """The follower's log matches ours up to ``match``, at or past the snapshot: back to the log, probing
        right after it (etcd: a snapshot's MsgAppResp, then BecomeProbe)."""
        self.match = max(self.match, match)
        self.pending_snapshot = 0
        self.become_probe()

    def heartbeat(self) -> bool:
        """Once per heartbeat interval: True when the follower is (now) probed, so its probe goes out again.

        A follower already probing has its unanswered probe forgotten; one replicating whose match did not
        move since the last heartbeat while messages were in flight (lost) goes back to probing.
        """
        stalled = bool(self.inflights) and self.match == self._mark
        self._mark = self.match
        if self.state is ProgressState.SNAPSHOT:
            return False
        if self.state is ProgressState.PROBE:
            self.inflights.clear()
            return True
        if stalled:
            self.become_probe()
            return True
        return False
