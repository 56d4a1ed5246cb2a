"""Exact message flights in the simulator, read through its public hooks: an observer and the trace.

The observer sees each Send and Broadcast effect at the instant it leaves (``sim.now``); the
trace records each delivery with the decoded message. A copy is matched to its delivery by
sender, destination and equal message, so a delivered flight has its exact send and arrival
times. A copy cut by a partition is known when it is sent (the simulator drops it at once).
A copy still undelivered once the network's longest delay has passed was lost on the way or
dropped on arrival (its node was down or cut off): drops on arrival are counted per node at
the instant they happen and given to that node's oldest undelivered copy that could have
arrived then, so only their pairing, never their times, can be off. The recorder also notes
when each node's detection timer (raft's election timer) is armed, fires or is cancelled.
Nothing the simulator does changes.
"""
from __future__ import annotations

import collections
from typing import Any

from quorumlab.core.effects import Broadcast, CancelTimer, Send, SetTimer
from quorumlab.core.observers import Observer

OK, DUPLICATE, LOST, DROPPED, CUT = "ok", "dup", "lost", "dropped", "cut"
"""A flight's fate: delivered; a duplicate delivered; lost on the way; dropped on arrival; cut at send by a
partition."""


class _Copy:
    """One copy of a message on the wire, from ``src`` to ``dst``."""

    __slots__ = ("src", "dst", "kind", "msg", "sent", "done")

    def __init__(self, src: int, dst: int, kind: str, msg: Any, sent: int) -> None:
        self.src, self.dst, self.kind, self.msg, self.sent, self.done = src, dst, kind, msg, sent, False


class FlightRecorder(Observer):
    """Turns a simulation's sends and deliveries into flights ``[src, dst, type, t0, t1, fate]``.

    ``flights`` and ``timers`` grow as the simulation runs; the caller takes and clears them.
    A flight is complete when it is appended: delivered, or older than the longest delay.
    """

    def __init__(self, delay_ms: tuple[int, int], detection_timer: str) -> None:
        self.lo, self.hi = delay_ms
        self.detection_timer = detection_timer
        self.flights: list[list] = []
        self.timers: list[dict] = []
        """{"t", "node", "deadline"} (deadline None: disarmed) for the detection timer."""
        self._by_dst: dict[int, collections.deque[_Copy]] = collections.defaultdict(collections.deque)
        self._in_order: collections.deque[_Copy] = collections.deque()
        self._delivered: collections.deque[_Copy] = collections.deque()
        self._arrival_drops: dict[int, list[int]] = collections.defaultdict(list)
        self._marks = (0, 0, 0)
        self._last_trace: Any = None
        self._groups: dict[int, int] | None = None
        self._events_seen = 0

    # -- observer hooks -----------------------------------------------------------------

    def on_effect(self, sim: Any, node: int, effect: Any) -> None:
        self._scan_trace(sim)
        t = type(effect)
        if t is Send:
            if effect.to != node and effect.to in sim.ids:
                self._sent(sim, node, [effect.to], effect.msg)
        elif t is Broadcast:
            self._sent(sim, node, sim.node(node).peers, effect.msg)
        elif t is SetTimer:
            if effect.name == self.detection_timer:
                self.timers.append({"t": sim.now, "node": node, "deadline": sim.now + effect.delay_ms})
        elif t is CancelTimer:
            if effect.name == self.detection_timer:
                self.timers.append({"t": sim.now, "node": node, "deadline": None})

    def after_event(self, sim: Any) -> None:
        self._scan_trace(sim)
        drops = self._drop_marks(sim)
        new = drops[2] - self._marks[2]
        if new and sim.last_node is not None:
            self._arrival_drops[sim.last_node].extend([sim.now] * new)
        self._marks = drops
        self._expire(sim.now)

    # -- internals ----------------------------------------------------------------------

    @staticmethod
    def _drop_marks(sim: Any) -> tuple[int, int, int]:
        """(lost at send, cut at send, dropped on arrival) so far, as the simulator counts them."""
        st = sim.stats
        return st.dropped_loss, st.dropped_partition, st.dropped_down + st.dropped_bad + st.dropped_partition

    def _sent(self, sim: Any, src: int, dsts: Any, msg: Any) -> None:
        self._sync_groups(sim)
        now = sim.now
        kind = msg.name
        loss, cut, arrival = self._drop_marks(sim)
        lost = loss - self._marks[0]
        groups = self._groups
        for dst in dsts:
            if groups is not None and groups[dst] != groups[src]:
                self.flights.append([src, dst, kind, now, now, CUT])
            elif lost and len(dsts) == 1:
                self.flights.append([src, dst, kind, now, now + (self.lo + self.hi) / 2, LOST])
            else:
                copy = _Copy(src, dst, kind, msg, now)
                self._by_dst[dst].append(copy)
                self._in_order.append(copy)
        # cuts at send are not drops on arrival: keep them out of the arrival count
        self._marks = (loss, cut, arrival)

    def _sync_groups(self, sim: Any) -> None:
        """Follow partition and heal events (the simulator records them; it calls no observer for them)."""
        events = sim.events
        for ev in events[self._events_seen:]:
            if ev["kind"] == "partition":
                named = {m: g for g, members in enumerate(ev["groups"]) for m in members}
                self._groups = {i: named.get(i, len(ev["groups"])) for i in sim.ids}
            elif ev["kind"] == "heal":
                self._groups = None
        self._events_seen = len(events)

    def _scan_trace(self, sim: Any) -> None:
        """Handle the trace entries added since the last look: deliveries, timer firings, crashes."""
        trace = sim.trace
        if not trace or trace[-1] is self._last_trace:
            return
        new = []
        for entry in reversed(trace):
            if entry is self._last_trace:
                break
            new.append(entry)
        self._last_trace = trace[-1]
        for t, node, kind, detail in reversed(new):
            if kind == "recv":
                self._delivery(t, node, detail)
            elif (kind == "timer" and detail == self.detection_timer) or kind == "crash":
                self.timers.append({"t": t, "node": node, "deadline": None})

    def _delivery(self, t: int, dst: int, msg: Any) -> None:
        queue = self._by_dst[dst]
        match = next((c for c in queue if c.src == msg.src and c.msg == msg), None)
        if match is None:
            match = next((c for c in queue if c.src == msg.src and c.kind == msg.name), None)
        if match is not None:
            queue.remove(match)
            match.done = True
            self._delivered.append(match)
            self.flights.append([match.src, dst, match.kind, match.sent, t, OK])
            return
        original = next((c for c in reversed(self._delivered)
                         if c.dst == dst and c.src == msg.src and c.msg == msg), None)
        sent = original.sent if original is not None else t
        self.flights.append([msg.src, dst, msg.name, sent, t, DUPLICATE])

    def _expire(self, now: int) -> None:
        """Settle every copy older than the longest delay: dropped on arrival if a drop fits it, else lost."""
        horizon = now - self.hi
        while self._delivered and self._delivered[0].sent < horizon:
            self._delivered.popleft()
        order = self._in_order
        while order and order[0].sent < horizon:
            c = order.popleft()
            if c.done:
                continue
            self._by_dst[c.dst].remove(c)
            drops = self._arrival_drops.get(c.dst)
            at = next((d for d in drops if c.sent <= d <= c.sent + self.hi), None) if drops else None
            if at is not None:
                drops.remove(at)
                self.flights.append([c.src, c.dst, c.kind, c.sent, at, DROPPED])
            else:
                self.flights.append([c.src, c.dst, c.kind, c.sent, c.sent + (self.lo + self.hi) / 2, LOST])
        for node, drops in self._arrival_drops.items():
            if drops and drops[0] < horizon - self.hi:
                self._arrival_drops[node] = [d for d in drops if d >= horizon - self.hi]
