"""What a run leaves behind before it is judged: the history, the faults with their times, and notes."""
from __future__ import annotations

import threading
from typing import Any
from dataclasses import dataclass, field

from quorumlab.core.check import FAIL, INFO, OK, History

from quorumlab.bench.check.spec import CheckSpec


@dataclass
class FaultRecord:
    """One episode as it happened: its kind, what it did, and when (the history's clock and unit)."""

    kind: str
    what: str
    start: float
    end: float | None = None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "what": self.what, "start": self.start, "end": self.end}


@dataclass
class Run:
    """A finished (or interrupted) run: ``start``/``end`` bound it on the history's clock."""

    spec: CheckSpec
    history: History
    faults: list[FaultRecord]
    start: float
    end: float
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    """Why a simulated run stopped early (a safety observer's report), None otherwise."""
    events: list[dict] = field(default_factory=list)
    """On real processes: every node's events and the harness's (kill, pause, ...), kept as events.jsonl."""
    sim: Any = None
    """In the simulator: the quorumlab.core.sim.Simulation that ran."""


class Tally:
    """Outcomes counted as clients report them (thread-safe), for progress lines."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts = {OK: 0, FAIL: 0, INFO: 0}

    def add(self, outcome: str) -> None:
        with self._lock:
            self.counts[outcome] += 1

    def line(self) -> str:
        with self._lock:
            c = dict(self.counts)
        return f"ok {c[OK]}  fail {c[FAIL]}  info {c[INFO]}"
