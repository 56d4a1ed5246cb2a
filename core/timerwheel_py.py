"""Hierarchical hashed timer wheel, pure-Python twin of ``quorumlab.core._timerwheel`` (same API).

Millisecond resolution. Six levels of 256 slots: level L holds timers whose
deadline shares every bit above 8*(L+1) with the wheel's current time but
differs at level L, so level 0 slots are exact milliseconds and a timer moves
down at most five times in its life. schedule and cancel are O(1);
``next_deadline`` looks at the first non-empty slot of the lowest non-empty
level; ``advance`` jumps from deadline to deadline rather than ticking.
Keys that expire together come out in deadline order, then schedule order.
"""
from __future__ import annotations

from typing import Any

LEVELS = 6
SLOT_BITS = 8
SLOTS = 1 << SLOT_BITS
MASK = SLOTS - 1
MAX_DEADLINE = (1 << (LEVELS * SLOT_BITS)) - 1


class TimerWheel:
    """schedule(deadline_ms, key) -> handle; cancel(handle); advance(now_ms) -> expired keys."""

    def __init__(self, now: int = 0) -> None:
        if not isinstance(now, int):
            raise TypeError(f"now must be an int, got {type(now).__name__}")
        if now < 0 or now > MAX_DEADLINE:
            raise ValueError(f"now must be 0..{MAX_DEADLINE}, got {now}")
        self._now = now
        self._slots: list[list[dict[int, tuple[int, Any]]]] = [[{} for _ in range(SLOTS)] for _ in range(LEVELS)]
        self._counts = [0] * LEVELS
        self._where: dict[int, tuple[int, int]] = {}
        self._next_handle = 1

    @property
    def now(self) -> int:
        return self._now

    def __len__(self) -> int:
        return len(self._where)

    def schedule(self, deadline: int, key: Any) -> int:
        """Arrange for ``key`` to expire at ``deadline`` (ms); a deadline in the past expires at the next advance."""
        if not isinstance(deadline, int):
            raise TypeError(f"deadline must be an int, got {type(deadline).__name__}")
        if deadline > MAX_DEADLINE:
            raise ValueError(f"deadline {deadline} is beyond the wheel's range ({MAX_DEADLINE})")
        handle = self._next_handle
        self._next_handle += 1
        self._insert(handle, max(deadline, self._now), key)
        return handle

    def cancel(self, handle: int) -> bool:
        """Forget a timer; False when it already expired or was cancelled (or the handle is not one of ours)."""
        if type(handle) is not int:
            return False
        where = self._where.pop(handle, None)
        if where is None:
            return False
        level, index = where
        del self._slots[level][index][handle]
        self._counts[level] -= 1
        return True

    def next_deadline(self) -> int | None:
        """The earliest pending deadline, or None when no timer is pending."""
        for level in range(LEVELS):
            if not self._counts[level]:
                continue
            slots = self._slots[level]
            start = (self._now >> (level * SLOT_BITS)) & MASK
            for index in range(start, SLOTS):
                slot = slots[index]
                if slot:
                    return min(d for d, _ in slot.values())
        return None

    def advance(self, now: int) -> list:
        """Move time forward to ``now`` and return the keys that expired, in deadline then schedule order."""
        if not isinstance(now, int):
            raise TypeError(f"now must be an int, got {type(now).__name__}")
        if now < self._now:
            raise ValueError(f"time cannot go back: now={now} < {self._now}")
        if now > MAX_DEADLINE:
            raise ValueError(f"now {now} is beyond the wheel's range ({MAX_DEADLINE})")
        expired: list = []
        while True:
            nd = self.next_deadline()
            if nd is None or nd > now:
                break
            self._move_to(nd)
            slot = self._slots[0][nd & MASK]
            batch = sorted(slot.items())
            slot.clear()
            self._counts[0] -= len(batch)
            for handle, (_, key) in batch:
                del self._where[handle]
                expired.append(key)
        self._move_to(now)
        return expired

    # -- internals -----------------------------------------------------------------

    def _insert(self, handle: int, deadline: int, key: Any) -> None:
        diff = deadline ^ self._now
        level = 0
        while diff >> ((level + 1) * SLOT_BITS):
            level += 1
        index = (deadline >> (level * SLOT_BITS)) & MASK
        self._slots[level][index][handle] = (deadline, key)
        self._counts[level] += 1
        self._where[handle] = (level, index)

    def _move_to(self, now: int) -> None:
        """Set the current time and cascade the timers whose window now contains it."""
        old = self._now
        self._now = now
        if old == now:
            return
        for level in range(LEVELS - 1, 0, -1):
            if (old >> (level * SLOT_BITS)) == (now >> (level * SLOT_BITS)) or not self._counts[level]:
                continue
            slot = self._slots[level][(now >> (level * SLOT_BITS)) & MASK]
            if not slot:
                continue
            moved = list(slot.items())
            slot.clear()
            self._counts[level] -= len(moved)
            for handle, (deadline, key) in moved:
                self._insert(handle, deadline, key)
