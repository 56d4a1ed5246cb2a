"""The declared format of replicated calls: every declared value round-trips; anything else is refused."""
from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quorumlab.core import argcodec
from quorumlab.core.errors import CodecError

scalars = (
    st.none() | st.booleans() | st.integers(-(1 << 128) + 1, (1 << 128) - 1) | st.floats(allow_nan=False)
    | st.text() | st.binary()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text() | st.integers(), inner, max_size=5),
    max_leaves=30,
)


@given(values)
def test_every_declared_value_round_trips(value):
    assert argcodec.decode(argcodec.encode(value)) == value


@given(st.lists(st.integers(), max_size=5).map(tuple))
def test_a_tuple_decodes_as_a_list(value):
    assert argcodec.decode(argcodec.encode(value)) == list(value)


def test_nan_round_trips_as_nan():
    assert math.isnan(argcodec.decode(argcodec.encode(float("nan"))))


@given(st.binary(max_size=64))
def test_any_bytes_decode_to_a_value_or_raise_codec_error_only(data):
    try:
        argcodec.decode(data)
    except CodecError:
        pass


@given(values, st.data())
def test_a_truncated_encoding_is_refused(value, data):
    encoded = argcodec.encode(value)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(CodecError):
        argcodec.decode(encoded[:cut])


@pytest.mark.parametrize("value", [object(), {1.5: 1}, {(1, 2): 1}, {1, 2}, 1 << 128, -(1 << 128), range(3)])
def test_undeclared_values_are_refused_when_encoding(value):
    with pytest.raises(TypeError):
        argcodec.encode(value)


def test_a_subclass_of_a_declared_type_is_refused():
    import enum

    class Colour(enum.IntEnum):
        RED = 1

    with pytest.raises(TypeError, match="Colour"):
        argcodec.encode(Colour.RED)


@pytest.mark.parametrize("data, why", [
    (argcodec.encode(1) + b"\x00", "after the value"),
    (bytes([argcodec.DICT, 2, argcodec.STR, 1]) + b"a" + bytes([argcodec.NONE, argcodec.STR, 1]) + b"a"
     + bytes([argcodec.NONE]), "repeated"),
    (bytes([argcodec.LIST, 0x80, 0x80, 0x80, 0x01]), "more than"),
    (bytes([argcodec.LIST, 1]) * 40 + bytes([argcodec.NONE]), "deeper"),
    (bytes([argcodec.STR, 1, 0xFF]), "UTF-8"),
    (bytes([argcodec.DICT, 1, argcodec.FLOAT]) + bytes(8) + bytes([argcodec.NONE]), "key"),
    (bytes([argcodec.INT, 0x80, 0x00]), "redundant"),
    (bytes([argcodec.INT]) + b"\xff" * 19 + b"\x01", "longer"),
    (bytes([200]), "unknown tag"),
])
def test_malformed_input_is_refused_with_a_reason(data, why):
    with pytest.raises(CodecError, match=why):
        argcodec.decode(data)


def test_nesting_beyond_the_limit_is_refused_when_encoding():
    value: list = []
    for _ in range(argcodec.MAX_DEPTH + 1):
        value = [value]
    with pytest.raises(TypeError, match="deeper"):
        argcodec.encode(value)
