"""Bully's configuration: the timing bounds the algorithm assumes, and the timeouts derived from them.

Garcia-Molina's algorithm is correct only in a synchronous system: every
message arrives within ``max_delay_ms`` and every node handles an event within
``max_processing_ms``. The election timeouts are derived from those bounds:

  T  (answer timeout)      = 2 * max_delay + max_processing
      an ELECTION reaches a live higher node and its ANSWER comes back within T.
  T' (coordinator timeout) = 2 * T + max_processing
      counted from the ANSWER's arrival, which is no earlier than our ELECTION was
      sent: the highest live node gets our ELECTION within max_delay, handles it
      within max_processing, waits its own T, handles that timeout within
      max_processing, and its COORDINATOR arrives within max_delay:
      max_delay + 2 * max_processing + T + max_delay = 2T + max_processing.

The defaults (heartbeat every 50 ms, suspect after 200 ms of silence) make a
follower suspect a crashed coordinator 150-200 ms after the crash, inside
raft's classic 150-300 ms election timeout. The default bounds (20 ms delay,
5 ms processing: T = 45 ms, T' = 95 ms) cover ``bench compare``'s simulated
5-15 ms latency and a loaded localhost; a network slower than ``max_delay_ms``
is outside Bully's assumptions and can make a lower id announce itself while a
higher one lives.
"""
from __future__ import annotations

import dataclasses

from quorumlab.core.config import AlgorithmConfig, setting
from quorumlab.core.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class BullyConfig(AlgorithmConfig):
    """Timing bounds (ms) and the optional quorum gate."""

    max_delay_ms: int = setting(20, 1, 60_000, "ms", "assumed upper bound on one message's delay")
    max_processing_ms: int = setting(5, 0, 60_000, "ms", "assumed upper bound on handling one event")
    heartbeat_ms: int = setting(50, 1, 60_000, "ms", "how often the coordinator sends HEARTBEAT")
    failure_timeout_ms: int = setting(200, 2, 600_000, "ms", "coordinator silence after which a follower starts an election")
    transport_hints: bool = setting(
        True,
        help="react to the transport's connection hints: a follower whose connection to its coordinator drops holds an "
        "election at once, and a node whose connections to every higher id are down announces itself without waiting "
        "T for an answer; off: the silence timeout alone detects a dead coordinator",
    )
    quorum_gated: bool = setting(
        False, help="variant, off by default: the coordinator leads only while a majority acknowledges its heartbeats"
    )

    @property
    def answer_timeout_ms(self) -> int:
        """T: how long a node that sent ELECTION waits for an ANSWER before announcing itself."""
        return 2 * self.max_delay_ms + self.max_processing_ms

    @property
    def coordinator_timeout_ms(self) -> int:
        """T': how long a node that got an ANSWER waits for a COORDINATOR before restarting its election."""
        return 2 * self.answer_timeout_ms + self.max_processing_ms

    @property
    def lease_ms(self) -> int:
        """Quorum-gated variant: a coordinator leads for this long after a majority last acknowledged it.

        failure_timeout - heartbeat - max_delay - max_processing: followers that acknowledged
        a heartbeat will not suspect the coordinator before that lease has run out.
        """
        return self.failure_timeout_ms - self.heartbeat_ms - self.max_delay_ms - self.max_processing_ms

    def check(self) -> None:
        d, p, h, f = self.max_delay_ms, self.max_processing_ms, self.heartbeat_ms, self.failure_timeout_ms
        if f <= h + d + p:
            raise ConfigError(
                f"BullyConfig.failure_timeout_ms = {f}ms must exceed heartbeat_ms + max_delay_ms + max_processing_ms"
                f" = {h + d + p}ms, or a healthy coordinator is suspected between two heartbeats"
            )
        if self.quorum_gated and f <= 2 * h + 3 * (d + p):
            raise ConfigError(
                f"BullyConfig.failure_timeout_ms = {f}ms must exceed 2 * heartbeat_ms + 3 * (max_delay_ms +"
                f" max_processing_ms) = {2 * h + 3 * (d + p)}ms when quorum_gated is on, or the lease of a"
                " healthy coordinator runs out between two acknowledged heartbeats"
            )
