"""Algorithm configuration: typed, ranged, and every error names the field and what is allowed."""
from __future__ import annotations

import dataclasses

import pytest

from quorumlab.core import AlgorithmConfig, ConfigError, setting


@dataclasses.dataclass(frozen=True)
class ElectionishConfig(AlgorithmConfig):
    timeout_min_ms: int = setting(150, 10, 60_000, "ms", "shortest election timeout")
    timeout_max_ms: int = setting(300, 10, 60_000, "ms", "longest election timeout")
    jitter: float = setting(0.5, 0.0, 1.0, "", "fraction of randomness")
    pre_vote: bool = setting(True, help="ask before campaigning")
    label: str = setting("main", help="free text")

    def check(self) -> None:
        if self.timeout_min_ms > self.timeout_max_ms:
            raise ConfigError(
                f"{type(self).__name__}.timeout_min_ms ({self.timeout_min_ms}) must not exceed "
                f"timeout_max_ms ({self.timeout_max_ms})"
            )


def test_defaults_are_valid():
    c = ElectionishConfig()
    assert (c.timeout_min_ms, c.timeout_max_ms, c.jitter, c.pre_vote, c.label) == (150, 300, 0.5, True, "main")


@pytest.mark.parametrize(
    "field,value,allowed",
    [
        ("timeout_min_ms", 9, "10..60000ms"),
        ("timeout_max_ms", 60_001, "10..60000ms"),
        ("jitter", 1.5, "0.0..1.0"),
        ("jitter", -0.1, "0.0..1.0"),
    ],
)
def test_out_of_range_value_names_the_field_and_the_allowed_range(field, value, allowed):
    with pytest.raises(ConfigError) as err:
        ElectionishConfig(**{field: value})
    text = str(err.value)
    assert f"ElectionishConfig.{field}" in text
    assert f"allowed {allowed}" in text
    assert str(value) in text


@pytest.mark.parametrize(
    "field,value",
    [
        ("timeout_min_ms", "150"),
        ("timeout_min_ms", 150.0),
        ("timeout_min_ms", True),
        ("jitter", "0.5"),
        ("jitter", float("nan")),
        ("pre_vote", 1),
        ("pre_vote", "yes"),
    ],
)
def test_wrong_type_names_the_field(field, value):
    with pytest.raises(ConfigError, match=f"ElectionishConfig.{field} must be"):
        ElectionishConfig(**{field: value})


def test_an_int_is_accepted_where_a_float_is_declared():
    assert ElectionishConfig(jitter=1).jitter == 1


def test_cross_field_rule_names_both_fields():
    with pytest.raises(ConfigError) as err:
        ElectionishConfig(timeout_min_ms=500, timeout_max_ms=400)
    assert "timeout_min_ms" in str(err.value) and "timeout_max_ms" in str(err.value)


def test_config_is_frozen():
    c = ElectionishConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.timeout_min_ms = 1  # type: ignore[misc]


def test_replace_validates_the_copy_and_leaves_the_original():
    c = ElectionishConfig()
    d = c.replace(timeout_max_ms=900)
    assert d.timeout_max_ms == 900 and c.timeout_max_ms == 300
    with pytest.raises(ConfigError, match="timeout_max_ms"):
        c.replace(timeout_max_ms=5)
    with pytest.raises(ConfigError, match="timeout_min_ms"):
        c.replace(timeout_min_ms=400)


def test_replace_with_an_unknown_field_lists_the_fields():
    with pytest.raises(ConfigError) as err:
        ElectionishConfig().replace(timout_ms=1)
    assert "timout_ms" in str(err.value)
    assert "timeout_min_ms, timeout_max_ms, jitter, pre_vote, label" in str(err.value)


def test_from_strings_converts_each_field_to_its_type():
    c = ElectionishConfig.from_strings(
        {"timeout_min_ms": "200", "timeout_max_ms": "400", "jitter": "0.25", "pre_vote": "off", "label": "x=y"}
    )
    assert c == ElectionishConfig(timeout_min_ms=200, timeout_max_ms=400, jitter=0.25, pre_vote=False, label="x=y")


@pytest.mark.parametrize("raw,expected", [("1", True), ("TRUE", True), ("yes", True), ("on", True), ("0", False), ("False", False), ("no", False)])
def test_from_strings_reads_the_usual_spellings_of_booleans(raw, expected):
    assert ElectionishConfig.from_strings({"pre_vote": raw}).pre_vote is expected


def test_from_strings_with_no_overrides_gives_the_defaults():
    assert ElectionishConfig.from_strings({}) == ElectionishConfig()


@pytest.mark.parametrize(
    "overrides,needle",
    [
        ({"timeout_min_ms": "fast"}, "ElectionishConfig.timeout_min_ms must be int, got 'fast'"),
        ({"timeout_min_ms": "1.5"}, "ElectionishConfig.timeout_min_ms must be int"),
        ({"jitter": "lots"}, "ElectionishConfig.jitter must be float"),
        ({"pre_vote": "maybe"}, "ElectionishConfig.pre_vote must be bool, got 'maybe'"),
        ({"timeout_min_ms": "5"}, "allowed 10..60000ms"),
        ({"nope": "1"}, "has no field 'nope'; fields: timeout_min_ms"),
    ],
)
def test_from_strings_errors_name_the_field(overrides, needle):
    with pytest.raises(ConfigError) as err:
        ElectionishConfig.from_strings(overrides)
    assert needle in str(err.value)


def test_describe_lists_each_field_with_default_range_and_meaning():
    rows = {name: (default, rng, meaning) for name, default, rng, meaning in ElectionishConfig.describe()}
    assert rows["timeout_min_ms"] == (150, "10..60000ms", "shortest election timeout")
    assert rows["jitter"] == (0.5, "0.0..1.0", "fraction of randomness")
    assert rows["pre_vote"] == (True, "", "ask before campaigning")


def test_as_dict_round_trips_through_the_constructor():
    c = ElectionishConfig(timeout_min_ms=111)
    assert ElectionishConfig(**c.as_dict()) == c


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)
