"""The quorum gate of Bully's optional variant: how long a majority has been hearing the coordinator.

The coordinator records when each peer last acknowledged it. It may lead until
``lease_ms`` after the moment a majority (itself included) had all acknowledged;
past that it steps down. This is the piece a quorum adds to Bully, kept apart so
the plain algorithm does not carry it.
"""
from __future__ import annotations

from typing import Sequence


class QuorumLease:
    """Acknowledgement times of the peers; ``expires_at`` is when the majority's lease runs out."""

    def __init__(self, voters: Sequence[int], self_id: int, lease_ms: int) -> None:
        self.self_id = self_id
        self.lease_ms = lease_ms
        self.needed = len(voters) // 2  # peers needed besides the coordinator itself for a majority
        self._heard: dict[int, int] = {}

    def reset(self) -> None:
        """Forget every acknowledgement (a new reign starts counting from nothing)."""
        self._heard.clear()

    def record(self, peer: int, now: int) -> None:
        """``peer`` acknowledged the current coordinator at ``now``."""
        if peer != self.self_id:
            self._heard[peer] = now

    def unconditional(self) -> bool:
        """True for a one-node cluster: the coordinator alone is a majority."""
        return self.needed == 0

    def expires_at(self) -> int | None:
        """The time the lease runs out; None if it never does (one node) or no majority ever acknowledged."""
        if self.needed == 0 or len(self._heard) < self.needed:
            return None
        latest = sorted(self._heard.values(), reverse=True)
        return latest[self.needed - 1] + self.lease_ms

    def holds(self, now: int) -> bool:
        """Does a majority (the coordinator included) currently back the coordinator?"""
        if self.unconditional():
            return True
        end = self.expires_at()
        return end is not None and now < end
