"""The leader-election recipe: a lease on one reign of this node, with a fencing token.

A *reign* lasts from the moment the loop reports this node's role as leader to the
moment it reports any other role (or the node closes). Work done "as the leader"
is only safe if whatever it touches can tell a deposed leader's late writes from
the new leader's: ``Lease.token`` grows from one reign to the next across the
cluster (raft's term, paxos's ballot as one integer), so a store that remembers
the highest token it has seen and refuses lower ones fences a deposed leader off.
A bare ``if node.is_leader:`` cannot: the answer may be stale by the time the
write lands (a pause, a partition), and the old leader learns it was deposed only
later. docs/embedding.md, "Fencing", shows the pattern.

Python threads cannot be interrupted, so losing leadership is *reported*, not
enforced: ``lease.lost`` (a threading.Event) is set on the loop's thread at the
moment the role changes, ``lease.check()`` raises ``LeadershipLost`` from then
on, and ``lease.on_lost(callback)`` runs the callback on the notifier thread.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from quorumlab.core.errors import QuorumlabError


class LeadershipLost(QuorumlabError):
    """This node no longer leads (or the node closed): work under the lease must stop."""


class Leadership:
    """One reign of this node as leader: its term, its fencing token, and an event set when it ends."""

    def __init__(self, term: int, token: int, notify: Callable[[Callable[[], Any]], None] | None = None) -> None:
        self.term = term
        self.token = token
        self.lost = threading.Event()
        self._notify = notify
        self._callbacks: list[Callable[[], Any]] = []
        self._lock = threading.Lock()

    def lease(self) -> "Lease":
        return Lease(self)

    def end(self) -> None:
        """The reign is over (called once, on the loop's thread): set ``lost``, then run the on_lost callbacks."""
        with self._lock:
            self.lost.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            self._run(callback)

    def on_lost(self, callback: Callable[[], Any]) -> None:
        with self._lock:
            if not self.lost.is_set():
                self._callbacks.append(callback)
                return
        self._run(callback)  # already over: run it at once (on the notifier when there is one)

    def _run(self, callback: Callable[[], Any]) -> None:
        if self._notify is not None:
            self._notify(callback)
        else:
            callback()


class Lease:
    """What ``node.leadership()`` yields and ``node.run_as_leader`` hands to its function.

    ``token``: the fencing token (pass it with every write made as the leader); ``term``: the algorithm's term
    when the reign began; ``lost``: a threading.Event set when the reign ends; ``valid``: not lost yet.
    """

    __slots__ = ("_reign", "_released")

    def __init__(self, reign: Leadership) -> None:
        self._reign = reign
        self._released = False

    @property
    def token(self) -> int:
        return self._reign.token

    @property
    def term(self) -> int:
        return self._reign.term

    @property
    def lost(self) -> threading.Event:
        return self._reign.lost

    @property
    def valid(self) -> bool:
        return not self._released and not self._reign.lost.is_set()

    def check(self) -> None:
        """Raise LeadershipLost unless the reign still lasts (as far as this node knows: fence anyway)."""
        if not self.valid:
            raise LeadershipLost(f"leadership of term {self.term} (token {self.token}) is lost")

    def wait_lost(self, timeout: float | None = None) -> bool:
        """Block until the reign ends (True) or ``timeout`` seconds pass (False)."""
        return self._reign.lost.wait(timeout)

    def on_lost(self, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` once when the reign ends (at once if it already has), on the node's notifier thread."""
        self._reign.on_lost(callback)

    def release(self) -> None:
        """Stop using this lease (leaving ``with node.leadership()`` does it): ``valid`` is False from now on."""
        self._released = True

    def __repr__(self) -> str:
        return f"<Lease term={self.term} token={self.token} {'valid' if self.valid else 'lost'}>"
