"""Typed, validated settings of the lowest-id algorithm (times in ms)."""
import dataclasses

from quorumlab.core import AlgorithmConfig, ConfigError, setting


@dataclasses.dataclass(frozen=True)
class LowestIdConfig(AlgorithmConfig):
    """How often a node says it is alive, and how long silence means a peer is gone."""

    interval_ms: int = setting(50, 1, 60_000, "ms", "heartbeat period; also how often liveness is re-checked")
    timeout_ms: int = setting(200, 2, 600_000, "ms", "a peer not heard from for longer than this is considered down")

    def check(self) -> None:
        if self.timeout_ms <= self.interval_ms:
            raise ConfigError(
                f"LowestIdConfig.timeout_ms ({self.timeout_ms}) must be greater than "
                f"interval_ms ({self.interval_ms}), or live peers would be declared down between heartbeats"
            )
