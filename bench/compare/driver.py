"""The small interface scenarios drive a cluster through, whatever the transport.

A scenario never touches a Simulation or a process directly: it starts the
cluster, injects faults, lets time pass and waits for conditions on the
``ClusterView`` built from the event stream. ``runner_sim`` implements this
over ``quorumlab.core.sim``; ``runner_zmq`` over ``quorumlab.core.cluster.LocalCluster``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Protocol

if TYPE_CHECKING:
    from quorumlab.bench.failover import Writer

from quorumlab.bench.compare.metrics import ClusterView, Predicate


class TrialFailed(Exception):
    """A trial could not reach the state it measures (for example: no leader within the timeout)."""


class Driver(Protocol):
    """One cluster of one algorithm, as seen by a scenario. Times are ms on the nodes' clock."""

    ids: tuple[int, ...]
    rtt_ms: float | None
    """The modeled network round trip (sim), or None on a real network."""
    reusable: bool
    """Whether one cluster serves several trials (after ``restore``), or each trial builds its own."""

    def start(self, fresh: bool = False) -> float:
        """Start every node (a running reusable cluster is kept unless ``fresh``, which starts every
        node anew from empty state); returns the time the cluster counts as started."""

    def now(self) -> float:
        """The current time on the nodes' clock."""

    def view(self) -> ClusterView:
        """The cluster as the events received so far describe it."""

    def events(self) -> list[dict]:
        """Every event so far (node events and fault marks), time-ordered."""

    def sent_between(self, since: float, until: float) -> tuple[int, int]:
        """(messages, bytes) the whole cluster sent in [since, until]."""

    def wait_until(self, pred: Predicate, timeout_ms: float) -> bool:
        """Let time pass until ``pred`` holds for the view (checked at timestamp boundaries) or the timeout."""

    def sleep(self, ms: float) -> None:
        """Let ``ms`` pass while events keep flowing."""

    def crash(self, node: int) -> None:
        """Kill the node without warning (SIGKILL / simulated crash)."""

    def restart(self, node: int) -> None:
        """Start a crashed node again from its durable state."""

    def pause(self, node: int) -> None:
        """Freeze the node without closing its connections (SIGSTOP; in sim: isolate it)."""

    def resume(self, node: int) -> None:
        """Undo ``pause``."""

    def partition(self, *groups: Iterable[int]) -> None:
        """Split the network into groups."""

    def heal(self) -> None:
        """Remove every partition."""

    def trigger(self, nodes: Iterable[int], timer: str) -> None:
        """Fire ``timer`` on the given nodes at the same instant (only if the transport ``can_trigger``)."""

    def restore(self) -> None:
        """Bring every node back up, connected, so the next trial starts from a whole cluster."""

    def writer(self, attempt_s: float) -> "Writer | None":
        """A client writing one key after another through the cluster's log, started and past its first write
        (quorumlab.bench.failover.Writer; ``attempt_s``: its KVClient's wait for one answer), or None when the run measures
        no client writes (the default), the algorithm has no log, or the transport has no clients (the sim)."""

    def close(self) -> None:
        """Stop the cluster and release everything it holds (processes, sockets, files)."""
