"""BullyConfig: timing bounds, the timeouts derived from them, validation, detection mapping, registration."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from quorumlab.algorithms.bully import Bully, BullyConfig
from quorumlab.core import registry
from quorumlab.core.errors import ConfigError


def test_bully_is_registered_through_the_plugin_entry_point():
    assert registry.load("bully") is Bully
    assert Bully.algo_id == 3


def test_answer_timeout_is_two_delays_plus_processing():
    c = BullyConfig(max_delay_ms=7, max_processing_ms=3)
    assert c.answer_timeout_ms == 2 * 7 + 3


def test_coordinator_timeout_covers_the_highest_live_node_waiting_its_own_answer_timeout():
    c = BullyConfig(max_delay_ms=7, max_processing_ms=3)
    # ELECTION reaches it (delay), it handles it (processing), waits its own T, handles that
    # timeout (processing), and its COORDINATOR travels back (delay).
    assert c.coordinator_timeout_ms == 7 + 3 + c.answer_timeout_ms + 3 + 7 == 2 * c.answer_timeout_ms + 3


def test_defaults_detect_a_crash_inside_raft_classic_election_timeout_range():
    c = BullyConfig()
    earliest = c.failure_timeout_ms - c.heartbeat_ms
    assert 150 <= earliest and c.failure_timeout_ms <= 300
    assert c.quorum_gated is False


def test_out_of_range_value_names_the_field():
    with pytest.raises(ConfigError, match="max_delay_ms"):
        BullyConfig(max_delay_ms=0)


def test_failure_timeout_must_outlast_a_heartbeat_and_its_delivery():
    with pytest.raises(ConfigError, match="failure_timeout_ms.*heartbeat_ms"):
        BullyConfig(heartbeat_ms=100, max_delay_ms=10, max_processing_ms=5, failure_timeout_ms=115)
    BullyConfig(heartbeat_ms=100, max_delay_ms=10, max_processing_ms=5, failure_timeout_ms=116)


def test_quorum_gate_needs_room_for_an_acknowledged_heartbeat_inside_the_lease():
    BullyConfig(failure_timeout_ms=175)
    with pytest.raises(ConfigError, match="quorum_gated"):
        BullyConfig(failure_timeout_ms=175, quorum_gated=True)  # 2 * 50 + 3 * (20 + 5)
    assert BullyConfig(failure_timeout_ms=176, quorum_gated=True).lease_ms == 176 - 50 - 20 - 5


def test_config_from_cli_strings():
    c = BullyConfig.from_strings({"quorum_gated": "on", "heartbeat_ms": "40"})
    assert c.quorum_gated is True and c.heartbeat_ms == 40


def test_detection_config_for_raft_classic_range_gives_the_defaults():
    assert Bully.detection_config(150, 300) == {"heartbeat_ms": 50, "failure_timeout_ms": 200}


@given(lo=st.integers(30, 20_000), spread=st.integers(0, 20_000))
def test_detection_config_suspects_a_crash_between_min_and_max(lo, spread):
    hi = lo + spread
    over = Bully.detection_config(lo, hi)
    c = BullyConfig(**over)  # valid with the default delay bounds
    h, f = c.heartbeat_ms, c.failure_timeout_ms
    # the last heartbeat left at most h before the crash: suspicion comes f - h .. f after it
    assert f - h == lo
    assert f <= max(hi, lo + 1)
