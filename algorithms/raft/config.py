"""Raft's settings, validated: election timeout range and heartbeat interval (ms), replication window (messages and
bytes) and batch, snapshots (how often, chunk size; off by default), the two optional etcd extensions (pre-vote,
check quorum), both off by default, and the reaction to the transport's connection hints (on by default)."""
from __future__ import annotations

import dataclasses

from quorumlab.core.config import AlgorithmConfig, setting
from quorumlab.core.errors import ConfigError
from quorumlab.core.limits import MAX_FRAME_BYTES, REPLICATION_FIXED_BYTES, fits_one_message


@dataclasses.dataclass(frozen=True)
class RaftConfig(AlgorithmConfig):
    """Defaults are the paper's: election timeout drawn from [150, 300] ms, heartbeat every 50 ms."""

    election_timeout_min: int = setting(
        150, 2, 600_000, "ms", "lower bound of the randomized election timeout (drawn anew each time it is armed)"
    )
    election_timeout_max: int = setting(
        300, 2, 600_000, "ms", "upper bound of the randomized election timeout (inclusive)"
    )
    heartbeat_interval: int = setting(
        50, 1, 600_000, "ms", "how often a leader sends AppendEntries to every follower"
    )
    max_inflight: int = setting(
        16, 1, 4096, "messages", "AppendEntries with entries a leader keeps unacknowledged per follower (pipelining)"
    )
    max_inflight_bytes: int = setting(
        256 << 20, 1, 1 << 40, "bytes",
        "command bytes a leader keeps unacknowledged per follower; past it no further AppendEntries leaves until "
        "one is acknowledged (the default is far above max_inflight full batches of max_batch_bytes)",
    )
    max_batch_entries: int = setting(
        1024, 1, 1_000_000, "entries", "most entries in one AppendEntries"
    )
    commit_notify_delay: int = setting(
        1, 0, 600_000, "ms",
        "how long a leader waits for a new AppendEntries to carry a new commit index before sending idle followers "
        "an empty one (0: at once)",
    )
    max_batch_bytes: int = setting(
        1 << 20, 1, 64 << 20, "bytes", "most command bytes in one AppendEntries (a larger single entry still goes alone)"
    )
    max_uncommitted_bytes: int = setting(
        64 << 20, 1, 1 << 40, "bytes",
        "command bytes a leader holds appended but not committed; more proposals are refused \"busy\" until commits "
        "catch up (etcd's MaxUncommittedEntriesSize; one proposal is always let in when nothing is uncommitted)",
    )

    lease_drift_ms: int = setting(
        15, 0, 600_000, "ms",
        "how much shorter than election_timeout_min a leader's read lease is: a bound on how far clocks may drift "
        "apart over one lease (lease reads need check_quorum; at or above election_timeout_min, lease reads always "
        "take a quorum round)",
    )
    max_pending_reads: int = setting(
        65_536, 1, 10_000_000, "reads", "reads a node holds waiting for a read index; more are answered busy"
    )

    snapshot_entries: int = setting(
        0, 0, 1 << 40, "entries",
        "take a snapshot of the state machine and compact the log once this many entries were applied since the "
        "last snapshot (0: never; off by default until it has run at scale, see docs/raft.md \"Snapshots\")",
    )
    snapshot_bytes: int = setting(
        0, 0, 1 << 50, "bytes",
        "take a snapshot once this many bytes of commands were applied since the last snapshot (0: never; with "
        "snapshot_entries too, whichever comes first)",
    )
    snapshot_chunk_bytes: int = setting(
        1 << 20, 1, MAX_FRAME_BYTES - REPLICATION_FIXED_BYTES, "bytes",
        "most snapshot bytes one InstallSnapshot carries (one chunk in flight per follower)",
    )

    max_learner_lag: int = setting(
        1000, 0, 1 << 40, "entries",
        "a learner is promoted to voter only once its log lags the leader's by at most this many entries (a lagging "
        "voter would slow every commit, or stall one, until it caught up)",
    )
    auto_leave_joint: bool = setting(
        True,
        help="a leader leaves a joint configuration (C_old,new) by itself once it has committed; off: the change "
        "stays joint until asked to leave (leave_joint), as etcd's ConfChangeV2 allows",
    )

    pre_vote: bool = setting(
        False, help="ask a majority for pre-votes at term+1 before campaigning (thesis 9.6); pre-votes change no term"
    )
    check_quorum: bool = setting(
        False,
        help="a leader steps down when it has not heard from a majority within election_timeout_max (thesis 6.2); "
        "a leader, or a follower that heard from its leader within election_timeout_min, ignores RequestVote",
    )

    transport_hints: bool = setting(
        True,
        help="react to the transport's connection hints (peer down/up): a follower whose connection to its leader "
        "drops campaigns at once, always through a pre-vote round, and a voter whose own connection to the leader is "
        "down no longer counts the leader as heard (grants pre-votes, and votes within check_quorum's lease); off: the "
        "election timeout alone detects a dead leader",
    )
    hint_stagger_ms: int = setting(
        5, 0, 600_000, "ms",
        "with transport_hints: how long a follower waits, per follower still connected with a lower id, before its "
        "hinted campaign, so that one candidate usually runs alone (the first goes at once)",
    )

    def check(self) -> None:
        """min <= max, and a heartbeat must come before the shortest election timeout can expire."""
        lo, hi, hb = self.election_timeout_min, self.election_timeout_max, self.heartbeat_interval
        if lo > hi:
            raise ConfigError(
                f"RaftConfig.election_timeout_min ({lo}ms) must be <= RaftConfig.election_timeout_max ({hi}ms)"
            )
        if hb >= lo:
            raise ConfigError(
                f"RaftConfig.heartbeat_interval ({hb}ms) must be < RaftConfig.election_timeout_min ({lo}ms), "
                "or followers time out between heartbeats"
            )
        if not fits_one_message(self.max_batch_bytes, self.max_batch_entries):
            raise ConfigError(
                f"RaftConfig.max_batch_bytes ({self.max_batch_bytes}) with RaftConfig.max_batch_entries "
                f"({self.max_batch_entries}) can make an AppendEntries over the {MAX_FRAME_BYTES}-byte limit between "
                "nodes (quorumlab.core.limits.MAX_FRAME_BYTES); lower one of them"
            )
