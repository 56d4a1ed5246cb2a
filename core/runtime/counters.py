"""Message counters of one node, and a rate limit for reporting dropped input.

Counters are kept per message type (``sent``, ``recv``, ``bytes_sent``,
``bytes_recv``) plus totals of what was dropped and why, and how late the
timers fired (ms past their deadline: this process's scheduling delay). ``DropReporter``
decides when a drop is worth a log line: at most ten a minute in all, each with
the number suppressed since the last line, so a flood of garbage cannot flood
the log or the event file.
"""
from __future__ import annotations

import collections
from typing import Any

REPORT_EVERY_S = 60.0
REPORTS_PER_WINDOW = 10


class Counters:
    """Traffic counters; ``snapshot()`` is the JSON shape of status and of the ``counters`` event."""

    def __init__(self) -> None:
        self.sent: collections.Counter = collections.Counter()
        self.recv: collections.Counter = collections.Counter()
        self.bytes_sent: collections.Counter = collections.Counter()
        self.bytes_recv: collections.Counter = collections.Counter()
        self.dropped_bad = 0
        self.dropped_bad_by_reason: collections.Counter = collections.Counter()
        self.dropped_partition = 0
        self.dropped_unreachable = 0
        self.replies_dropped = 0
        self.reads = 0
        self.requests_ignored = 0
        self.timers_fired = 0
        self.timer_late_total_ms = 0.0
        self.timer_late_max_ms = 0.0
        self.timers_late_5ms = 0

    def on_sent(self, kind: str, size: int) -> None:
        self.sent[kind] += 1
        self.bytes_sent[kind] += size

    def on_recv(self, kind: str, size: int) -> None:
        self.recv[kind] += 1
        self.bytes_recv[kind] += size

    def on_timer(self, late_ms: float) -> None:
        """A timer fired ``late_ms`` after its deadline (scheduling delay of this process)."""
        self.timers_fired += 1
        self.timer_late_total_ms += late_ms
        self.timer_late_max_ms = max(self.timer_late_max_ms, late_ms)
        if late_ms > 5:
            self.timers_late_5ms += 1

    def on_bad(self, reason: str) -> None:
        self.dropped_bad += 1
        self.dropped_bad_by_reason[reason] += 1

    def total(self) -> int:
        """All messages sent plus received: a cheap "did anything change" marker."""
        return (
            sum(self.sent.values()) + sum(self.recv.values())
            + self.dropped_bad + self.dropped_partition + self.dropped_unreachable
        )

    def snapshot(self) -> dict[str, Any]:
        return {
            "sent": dict(self.sent),
            "recv": dict(self.recv),
            "bytes_sent": dict(self.bytes_sent),
            "bytes_recv": dict(self.bytes_recv),
            "dropped_bad": self.dropped_bad,
            "dropped_bad_by_reason": dict(self.dropped_bad_by_reason),
            "dropped_partition": self.dropped_partition,
            "dropped_unreachable": self.dropped_unreachable,
            "replies_dropped": self.replies_dropped,
            "reads": self.reads,
            "requests_ignored": self.requests_ignored,
            "timers": {
                "fired": self.timers_fired,
                "late_ms_mean": round(self.timer_late_total_ms / self.timers_fired, 3) if self.timers_fired else 0.0,
                "late_ms_max": round(self.timer_late_max_ms, 3),
                "late_over_5ms": self.timers_late_5ms,
            },
        }


class DropReporter:
    """``should_report(now_s)`` is True for at most ``limit`` drops per ``every_s`` seconds in all.

    The limit is global, not per source: a source is only what a frame claims (or an
    address an attacker can vary), so a flood under random claimed ids must not buy one
    log line per id. The drops left unreported are counted and given with the next report.
    """

    def __init__(self, limit: int = REPORTS_PER_WINDOW, every_s: float = REPORT_EVERY_S) -> None:
        self.limit = limit
        self.every_s = every_s
        self._recent: collections.deque[float] = collections.deque()
        self._suppressed = 0

    def should_report(self, now_s: float) -> bool:
        recent = self._recent
        while recent and now_s - recent[0] >= self.every_s:
            recent.popleft()
        if len(recent) >= self.limit:
            self._suppressed += 1
            return False
        recent.append(now_s)
        return True

    def take_suppressed(self) -> int:
        """How many drops went unreported since the last report (and reset that count)."""
        count, self._suppressed = self._suppressed, 0
        return count
