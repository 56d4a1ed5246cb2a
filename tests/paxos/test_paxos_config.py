"""Paxos configuration: ranges and cross-field rules name the fields; the detection mapping."""
from __future__ import annotations

import pytest

from quorumlab.core.errors import ConfigError

from quorumlab.algorithms.paxos import Paxos, PaxosConfig, drift_widened


def test_defaults_are_the_mapping_of_raft_like_detection():
    cfg = PaxosConfig()
    assert (cfg.detect_min_ms, cfg.detect_max_ms) == (150, 300)
    assert PaxosConfig(**Paxos.detection_config(150, 300)) == cfg
    assert drift_widened(cfg.lease_ms, cfg.max_clock_drift) < cfg.detect_min_ms


@pytest.mark.parametrize(
    "changes, fields",
    [
        ({"detect_min_ms": 400}, ("detect_min_ms", "detect_max_ms")),
        ({"backoff_base_ms": 500}, ("backoff_base_ms", "backoff_max_ms")),
        ({"renew_ms": 70}, ("renew_ms", "lease_ms")),
        ({"round_timeout_ms": 135}, ("round_timeout_ms", "lease_ms")),
        ({"lease_ms": 1}, ("lease_ms",)),
        ({"max_clock_drift": 0.5}, ("max_clock_drift",)),
        ({"renew_ms": 0}, ("renew_ms",)),
    ],
)
def test_bad_values_name_the_fields(changes, fields):
    with pytest.raises(ConfigError) as err:
        PaxosConfig(**changes)
    for f in fields:
        assert f"PaxosConfig.{f}" in str(err.value)


def test_from_strings_converts_the_drift_ratio():
    assert PaxosConfig.from_strings({"max_clock_drift": "0.01", "lease_ms": "200"}).max_clock_drift == 0.01


@pytest.mark.parametrize("lo, hi", [(20, 40), (50, 100), (150, 300), (1000, 2000)])
def test_detection_mapping_keeps_the_lease_hold_below_the_earliest_detection(lo, hi):
    cfg = PaxosConfig(**Paxos.detection_config(lo, hi))
    assert (cfg.detect_min_ms, cfg.detect_max_ms) == (lo, hi)
    assert drift_widened(cfg.lease_ms, cfg.max_clock_drift) <= lo
    assert 2 * cfg.renew_ms <= cfg.lease_ms
