"""What a check found: one verdict, and per partition (key) its verdict, size, time, and the linearization or its longest prefix."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Hashable


class Verdict(str, Enum):
    """``ok``: linearizable. ``violation``: certainly not. ``unknown``: the time limit came first."""

    OK = "ok"
    VIOLATION = "violation"
    UNKNOWN = "unknown"


@dataclass
class PartitionResult:
    """The check of one partition (a key, for the key-value model).

    ``order`` holds history indexes: the linearization found (ok) or the
    longest linearizable prefix the search reached (violation, unknown; an
    info operation may appear in it). ``stuck`` is the operation that could
    not take effect before it returned, right after that prefix.
    """

    key: Hashable
    verdict: Verdict
    operations: int
    elapsed_s: float = 0.0
    steps: int = 0
    order: list[int] = field(default_factory=list)
    stuck: int | None = None
    note: str = ""


@dataclass
class CheckResult:
    """The whole history's verdict: a violation anywhere wins, then unknown, else ok."""

    verdict: Verdict
    partitions: list[PartitionResult]
    elapsed_s: float
    model: str
    implementation: str
    operations: int

    @property
    def violations(self) -> list[PartitionResult]:
        return [p for p in self.partitions if p.verdict == Verdict.VIOLATION]

    def summary(self) -> str:
        """One line: verdict, sizes, time."""
        counts = {v: sum(p.verdict == v for p in self.partitions) for v in Verdict}
        parts = ", ".join(f"{counts[v]} {v.value}" for v in Verdict if counts[v])
        return (f"{self.verdict.value}: {self.operations:,} operations in {len(self.partitions)} partitions "
                f"({parts or 'none'}), checked in {self.elapsed_s:.3f} s ({self.implementation})")

    def to_dict(self) -> dict:
        """JSON-friendly, for reports."""
        return {
            "verdict": self.verdict.value, "model": self.model, "operations": self.operations,
            "elapsed_s": self.elapsed_s, "implementation": self.implementation,
            "partitions": [{"key": p.key, "verdict": p.verdict.value, "operations": p.operations,
                            "elapsed_s": p.elapsed_s, "steps": p.steps, "stuck": p.stuck, "note": p.note}
                           for p in self.partitions],
        }
