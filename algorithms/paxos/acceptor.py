"""The acceptor: durable promise and accepted lease, volatile lease hold, restart abstention.

The promised ballot and the accepted (ballot, lease length) survive restarts;
the caller persists ``durable()`` before any reply that depends on them leaves.
The lease hold (who holds a lease here, until when) lives only in memory, as
in PaxosLease: an acceptor starts its hold when an Accept arrives, for the lease
length widened by the drift bound, and while it holds a lease for X it refuses
to help anyone else (no promise, no accept). A restarted acceptor may have
forgotten such a hold, so it refuses everything for one maximum hold period.
"""
from __future__ import annotations

from typing import NamedTuple

from quorumlab.algorithms.paxos.ballot import ZERO, Ballot, drift_widened

PROMISED = 1
LEASE_HELD = 2
ABSTAIN = 3
TOO_LONG = 4

REASONS = {
    PROMISED: "promised a higher ballot",
    LEASE_HELD: "holds a lease for another node",
    ABSTAIN: "restarted, abstaining for one lease period",
    TOO_LONG: "lease longer than this acceptor's maximum",
}


class Verdict(NamedTuple):
    """An acceptor's answer: ``ok`` (promise or accept given), ``changed`` (durable state moved), refusal reason."""

    ok: bool
    changed: bool = False
    reason: int = 0


GRANTED = Verdict(True, False)
GRANTED_CHANGED = Verdict(True, True)


class Acceptor:
    """One node's acceptor role; ``restarted`` (durable state existed) starts the abstention period."""

    __slots__ = ("promised", "accepted", "accepted_lease_ms", "holder", "hold_until", "abstain_until", "max_lease_ms", "drift")

    def __init__(self, state: dict, max_lease_ms: int, drift: float, now: int) -> None:
        self.promised: Ballot = tuple(state.get("promised", ZERO))  # type: ignore[assignment]
        self.accepted: Ballot = tuple(state.get("accepted", ZERO))  # type: ignore[assignment]
        self.accepted_lease_ms: int = int(state.get("accepted_lease_ms", 0))
        self.max_lease_ms = max_lease_ms
        self.drift = drift
        self.holder = 0
        self.hold_until = 0
        self.abstain_until = now + self.max_hold_ms() if state else now

    def max_hold_ms(self) -> int:
        """The longest any lease granted here is held: the abstention length after a restart."""
        return drift_widened(self.max_lease_ms, self.drift)

    def durable(self) -> dict:
        """The state to persist before replying."""
        return {"promised": list(self.promised), "accepted": list(self.accepted), "accepted_lease_ms": self.accepted_lease_ms}

    def lease_holder(self, now: int) -> int:
        """The node this acceptor currently holds an unexpired lease for, or 0."""
        return self.holder if now < self.hold_until else 0

    def lease_left(self, now: int) -> int:
        """Milliseconds left on the lease this acceptor holds (0 if none)."""
        return max(0, self.hold_until - now) if self.holder else 0

    def wait_ms(self, now: int) -> int:
        """How long before this acceptor could help a node other than the current holder."""
        return max(self.abstain_until - now, self.hold_until - now if self.lease_holder(now) else 0, 0)

    def _blocked(self, proposer: int, now: int) -> int:
        if now < self.abstain_until:
            return ABSTAIN
        held = self.lease_holder(now)
        if held and held != proposer:
            return LEASE_HELD
        return 0

    def prepare(self, ballot: Ballot, now: int) -> Verdict:
        """Phase 1: promise ``ballot`` if at least the current promise and nobody else holds a lease here."""
        blocked = self._blocked(ballot[1], now)
        if blocked:
            return Verdict(False, False, blocked)
        if ballot < self.promised:
            return Verdict(False, False, PROMISED)
        if ballot == self.promised:
            return GRANTED
        self.promised = ballot
        return GRANTED_CHANGED

    def accept(self, ballot: Ballot, lease_ms: int, now: int) -> Verdict:
        """Phase 2: accept "leader = ballot's node, lease = lease_ms" if ``ballot`` is at least the promise."""
        blocked = self._blocked(ballot[1], now)
        if blocked:
            return Verdict(False, False, blocked)
        if lease_ms > self.max_lease_ms:
            return Verdict(False, False, TOO_LONG)
        if ballot < self.promised:
            return Verdict(False, False, PROMISED)
        changed = ballot != self.promised or ballot != self.accepted or lease_ms != self.accepted_lease_ms
        self.promised = ballot
        self.accepted = ballot
        self.accepted_lease_ms = lease_ms
        until = now + drift_widened(lease_ms, self.drift)
        if self.holder == ballot[1] and self.hold_until > until:
            until = self.hold_until
        self.holder = ballot[1]
        self.hold_until = until
        return GRANTED_CHANGED if changed else GRANTED
