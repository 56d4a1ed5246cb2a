"""RaftConfig: the paper's defaults, named range errors, and the detection-range mapping."""
import pytest

from quorumlab.algorithms.raft import Raft, RaftConfig
from quorumlab.core.errors import ConfigError


def test_defaults_are_the_papers_timers():
    c = RaftConfig()
    assert (c.election_timeout_min, c.election_timeout_max, c.heartbeat_interval) == (150, 300, 50)


def test_etcd_extensions_default_off_and_parse_from_cli_strings():
    assert (RaftConfig().pre_vote, RaftConfig().check_quorum) == (False, False)
    c = RaftConfig.from_strings({"pre_vote": "true", "check_quorum": "on"})
    assert (c.pre_vote, c.check_quorum) == (True, True)


def test_min_above_max_is_rejected_naming_both_fields():
    with pytest.raises(ConfigError, match="election_timeout_min .*election_timeout_max"):
        RaftConfig(election_timeout_min=400, election_timeout_max=300)


def test_heartbeat_not_below_min_timeout_is_rejected_naming_both_fields():
    with pytest.raises(ConfigError, match="heartbeat_interval .*election_timeout_min"):
        RaftConfig(heartbeat_interval=150)


def test_out_of_range_value_names_field_and_range():
    with pytest.raises(ConfigError, match=r"heartbeat_interval = 0ms is out of range: allowed 1\.\.600000ms"):
        RaftConfig(heartbeat_interval=0)


def test_inflight_byte_bound_defaults_far_above_a_full_window_of_full_batches():
    c = RaftConfig()
    assert c.max_inflight_bytes >= 16 * c.max_inflight * c.max_batch_bytes


def test_inflight_byte_bound_out_of_range_names_field_and_range():
    with pytest.raises(ConfigError, match=r"max_inflight_bytes = 0bytes is out of range: allowed 1\.\.1099511627776bytes"):
        RaftConfig(max_inflight_bytes=0)


def test_fixed_timeout_is_a_legal_config():
    assert RaftConfig(election_timeout_min=150, election_timeout_max=150).election_timeout_max == 150


def test_from_strings_builds_a_validated_config():
    c = RaftConfig.from_strings({"election_timeout_min": "200", "election_timeout_max": "400"})
    assert (c.election_timeout_min, c.election_timeout_max) == (200, 400)


@pytest.mark.parametrize("lo,hi,hb", [(150, 300, 50), (2, 2, 1), (3, 10, 1), (1000, 2000, 333)])
def test_detection_config_maps_range_to_election_timeout_and_a_third_to_heartbeat(lo, hi, hb):
    overrides = Raft.detection_config(lo, hi)
    assert overrides == {"election_timeout_min": lo, "election_timeout_max": hi, "heartbeat_interval": hb}
    RaftConfig(**overrides)  # always a valid config
