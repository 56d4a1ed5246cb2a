"""Paxos election timers and lease settings, validated (all times in ms)."""
from __future__ import annotations

import dataclasses

from quorumlab.core.config import AlgorithmConfig, setting
from quorumlab.core.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class PaxosConfig(AlgorithmConfig):
    """Defaults make leader-crash detection match Raft's 150-300 ms election timeout.

    A follower that stops receiving renewals suspects the leader after a random
    [detect_min_ms, detect_max_ms] = [150, 300] ms, exactly Raft's range, so the
    two are compared on equal detection. The lease must then never be the slower
    part: the acceptor-side hold (lease_ms widened by the drift bound, 136 ms)
    stays below detect_min_ms, hence lease_ms = 0.9 * 150 = 135 ms. The leader
    renews every lease_ms / 3 = 45 ms (Raft's heartbeat is 50 ms), so two
    renewals in a row can be lost before the lease lapses. max_clock_drift 0.002
    (2000 ppm) is ten times what commodity crystals drift, a deliberately loose
    bound. Backoff starts near a few round trips (20 ms) and doubles up to 400 ms.
    """

    lease_ms: int = setting(135, 2, 600_000, "ms", "lease length a leader asks for; it counts from just before Accept is sent")
    renew_ms: int = setting(45, 1, 300_000, "ms", "how often a leader renews its lease with phase 2 alone (also its heartbeat)")
    round_timeout_ms: int = setting(50, 1, 600_000, "ms", "how long a proposer waits for a majority in phase 1 or 2")
    backoff_base_ms: int = setting(20, 1, 600_000, "ms", "backoff after the first failed round; doubles per failure")
    backoff_max_ms: int = setting(400, 1, 600_000, "ms", "upper bound of the randomized backoff")
    detect_min_ms: int = setting(150, 1, 600_000, "ms", "lower bound of the randomized silence that makes a node suspect no leader")
    detect_max_ms: int = setting(300, 1, 600_000, "ms", "upper bound of that randomized silence (inclusive)")
    transport_hints: bool = setting(
        True,
        help="react to the transport's connection hints: a node whose connection to the leader drops starts phase 1 "
        "as soon as the lease it holds for that leader has run out (never before: the leader may still be alive), "
        "instead of after a detection timeout; off: the detection timeout alone",
    )
    hint_stagger_ms: int = setting(
        5, 0, 600_000, "ms",
        "with transport_hints: added per connected node with a lower id, so one proposer usually runs alone",
    )
    max_clock_drift: float = setting(0.002, 0.0, 0.1, "", "bound on clock rate error, as a ratio (0.002 = 2000 ppm)")

    def check(self) -> None:
        """Ranges that must hold between fields; each error names the fields involved."""
        name = type(self).__name__
        if self.detect_min_ms > self.detect_max_ms:
            raise ConfigError(f"{name}.detect_min_ms ({self.detect_min_ms}ms) must be <= {name}.detect_max_ms ({self.detect_max_ms}ms)")
        if self.backoff_base_ms > self.backoff_max_ms:
            raise ConfigError(f"{name}.backoff_base_ms ({self.backoff_base_ms}ms) must be <= {name}.backoff_max_ms ({self.backoff_max_ms}ms)")
        if 2 * self.renew_ms > self.lease_ms:
            raise ConfigError(
                f"{name}.renew_ms ({self.renew_ms}ms) must be at most half of {name}.lease_ms ({self.lease_ms}ms), "
                "so a leader gets a second renewal in before its lease lapses"
            )
        if self.round_timeout_ms >= self.lease_ms:
            raise ConfigError(
                f"{name}.round_timeout_ms ({self.round_timeout_ms}ms) must be < {name}.lease_ms ({self.lease_ms}ms), "
                "or a won phase 2 could hand out a lease that already ran out"
            )
