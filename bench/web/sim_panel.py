"""A live simulation for the page: the simulator runs ahead of the shown time by the longest network delay.

Running ahead means every message shown leaving a node already has a known fate (its arrival,
loss or drop: see quorumlab.bench.web.flights), so the animation is exact. Faults act at the simulator's
clock, that is at most one longest delay after the instant the page shows. Node status (vote,
log, commit) is sampled after every slice of virtual time and released with the events.
"""
from __future__ import annotations

import heapq
import math
import time
from typing import Any

from quorumlab.core import registry
from quorumlab.core.errors import InvariantViolation
from quorumlab.core.mistakes import Mistake, broken_class, broken_config
from quorumlab.core.sim import Network, Simulation

from quorumlab.bench.web.flights import FlightRecorder
from quorumlab.bench.web.statuses import StatusSampler

SLICE_MS = 10
"""Virtual ms run between two checks of the wall-clock budget."""
PROPOSAL_KEY = b"web"


class SimPanel:
    """One simulated cluster; the session advances it, takes what is due, and forwards the page's actions."""

    kind = "sim"

    def __init__(self, pid: str, algo: str, nodes: int, seed: int, delay_ms: tuple[int, int], loss: float,
                 mistakes: list[Mistake] | None = None) -> None:
        base = registry.load(algo)
        self.pid, self.algo, self.mistakes = pid, algo, list(mistakes or [])
        cls = broken_class(base, self.mistakes)
        config = base.Config().replace(**broken_config(self.mistakes))
        self.network = Network(delay_ms=delay_ms, loss=loss)
        self.recorder = FlightRecorder(delay_ms, base.detection_timer)
        self.detection_timer = base.detection_timer
        self.lookahead = delay_ms[1] + 1
        self.violation: str | None = None
        self.groups: list[set[int]] = []
        self.paused: set[int] = set()
        self._events_seen = 0
        self._events: list[dict] = []
        self._timers: list[dict] = []
        self._flights: list[tuple[float, int, list]] = []  # heap by send time
        self._arrivals: list[float] = []  # heap of arrival times of released flights
        self._statuses: list[dict] = []
        self.sampler = StatusSampler()
        self._seq = 0
        self._proposals = 0
        self.sim = Simulation(cls, nodes, seed=seed, config=config, network=self.network,
                              observers=[*base.safety_observers(), self.recorder, self.sampler])
        self._collect()

    def describe(self) -> dict[str, Any]:
        """What the page needs to draw this panel and offer its controls."""
        return {
            "id": self.pid, "kind": self.kind, "algo": self.algo, "ids": list(self.sim.ids),
            "timer": self.detection_timer, "delay_ms": list(self.network.delay_ms), "loss": self.network.loss,
            "seed": self.sim.seed, "actions": ["crash", "restart", "pause", "resume", "partition", "heal", "trigger",
                                               "propose"],
            "mistakes": [{"name": m.name, "title": m.title, "breaks": m.breaks} for m in self.mistakes],
            "exact": True,
            "snapshot": {"t": self.sim.now, "nodes": {i: self.sim.node(i).status() for i in self.sim.up_ids()},
                         "down": [i for i in self.sim.ids if not self.sim.is_up(i)]},
        }

    # -- running ------------------------------------------------------------------------

    @property
    def now(self) -> int:
        return self.sim.now

    @property
    def ids(self) -> tuple[int, ...]:
        return self.sim.ids

    def advance(self, until: float, deadline: float) -> None:
        """Run the simulation up to virtual time ``until`` or until ``time.monotonic()`` passes ``deadline``."""
        sim = self.sim
        end = math.ceil(until)
        while self.violation is None and sim.now < end and time.monotonic() < deadline:
            try:
                sim.run_for(min(SLICE_MS, end - sim.now))
            except InvariantViolation as exc:
                self.violation = str(exc)
            self._collect()

    def reached(self) -> float:
        """The latest instant that may be shown: everything that left a node by then has a known fate."""
        if self.violation is not None:
            return float(self.sim.now)
        return float(self.sim.now - self.lookahead)

    def _collect(self) -> None:
        """Move new events, timer changes, settled flights and status changes into the release buffers."""
        sim = self.sim
        events = sim.events
        self._events.extend(events[self._events_seen:])
        self._events_seen = len(events)
        rec = self.recorder
        if rec.timers:
            self._timers.extend(rec.timers)
            rec.timers = []
        for flight in rec.flights:
            self._seq += 1
            heapq.heappush(self._flights, (flight[3], self._seq, flight))
        rec.flights = []
        self._statuses.extend(self.sampler.samples)
        self.sampler.samples = []

    def take(self, upto: float) -> dict[str, Any]:
        """Everything due at or before ``upto``, in the page's frame shape."""
        events, self._events = _split(self._events, upto)
        timers, self._timers = _split(self._timers, upto)
        statuses, self._statuses = _split(self._statuses, upto)
        flights = []
        while self._flights and self._flights[0][0] <= upto:
            flight = heapq.heappop(self._flights)[2]
            flights.append(flight)
            heapq.heappush(self._arrivals, flight[4])
        while self._arrivals and self._arrivals[0] <= upto:
            heapq.heappop(self._arrivals)
        st = self.sim.stats
        return {"events": events, "timers": timers, "flights": flights, "statuses": statuses,
                "stats": {"sent": st.sent, "bytes": st.bytes_sent, "delivered": st.delivered, "dropped": st.dropped},
                "violation": self.violation if self.violation is not None and upto >= self.sim.now else None}

    def next_time(self, after: float) -> float | None:
        """The first instant after ``after`` at which something happens (an event, a send, an arrival)."""
        candidates = [e["t"] for e in self._events[:1]] + [t["t"] for t in self._timers[:1]]
        if self._flights:
            candidates.append(self._flights[0][0])
        if self._arrivals:
            candidates.append(self._arrivals[0])
        later = [c for c in candidates if c > after]
        return min(later) if later else None

    # -- actions (at the simulator's clock) -------------------------------------------

    def act(self, action: str, node: int | None = None, groups: list[list[int]] | None = None) -> str | None:
        """Carry out one page action; returns a message for the page, or None."""
        if self.violation is not None:
            return "this run stopped at an invariant violation: start a new one"
        try:
            return self._act(action, node, groups)
        except InvariantViolation as exc:  # a restart or a proposal can break an invariant too
            self.violation = str(exc)
            self._collect()
            return None

    def _act(self, action: str, node: int | None, groups: list[list[int]] | None) -> str | None:
        sim = self.sim
        if action == "crash":
            self.paused.discard(node)
            sim.crash(node)
        elif action == "restart":
            sim.restart(node)
        elif action == "pause":
            self.paused.add(node)
            self._apply_partition()
            self._mark(node, "pause")
        elif action == "resume":
            self.paused.discard(node)
            self._apply_partition()
            self._mark(node, "resume")
        elif action == "partition":
            self.groups = [set(g) for g in groups or [] if g]
            self._apply_partition()
        elif action == "heal":
            self.groups = []
            self._apply_partition()
        elif action == "trigger":
            if not self.detection_timer:
                return f"{self.algo} declares no detection_timer to fire"
            sim.trigger(sim.up_ids(), self.detection_timer)
        elif action == "propose":
            return self._propose()
        else:
            return f"the simulator has no action {action!r}"
        self._collect()
        return None

    def _mark(self, node: int, kind: str) -> None:
        """A fault the simulator has no event for (a pause is a partition there), shown on the page."""
        self._collect()
        self._events.append({"t": self.sim.now, "node": node, "kind": kind, "source": "page"})

    def _apply_partition(self) -> None:
        """The user's groups, with every paused node isolated on its own (a pause cannot freeze a simulated node)."""
        groups = [g - self.paused for g in self.groups]
        groups = [g for g in groups if g] + [{p} for p in sorted(self.paused)]
        if groups:
            self.sim.partition(*groups)
        else:
            self.sim.heal()

    def _propose(self) -> str:
        self._proposals += 1
        sub = self.sim.submit(PROPOSAL_KEY + b"-%d" % self._proposals)
        self._collect()
        if sub.done and not sub.ok:
            return f"proposal refused: {sub.error}"
        return f"proposed at node {sub.node}: index {sub.index}, term {sub.term}"


def _split(items: list[dict], upto: float) -> tuple[list[dict], list[dict]]:
    """(items with t <= upto, the rest); ``items`` is in time order."""
    k = 0
    for k, item in enumerate(items):
        if item["t"] > upto:
            return items[:k], items[k:]
    return items, []
