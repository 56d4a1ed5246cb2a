"""Message schemas: declared once, checked at declaration, registered for any runtime to decode."""
from __future__ import annotations

import pytest

from quorumlab.core import codec
from quorumlab.core.messages import HEADER_FIELDS, KIND_CODES, SCHEMAS, Message, message_type

ALGO = 0xFD20

Probe = message_type(
    "MsgTestProbe",
    ALGO,
    1,
    [("flag", "bool"), ("small", "u8"), ("count", "u32"), ("index", "u64"), ("delta", "i64"),
     ("blob", "bytes"), ("ids", "u64list"), ("entries", "entries")],
)


def test_a_declared_type_carries_its_schema_and_is_registered():
    assert issubclass(Probe, Message)
    assert (Probe.name, Probe.algo_id, Probe.type_id) == ("MsgTestProbe", ALGO, 1)
    assert Probe.fields == ("flag", "small", "count", "index", "delta", "blob", "ids", "entries")
    assert Probe.kinds == tuple(KIND_CODES[k] for k in ("bool", "u8", "u32", "u64", "i64", "bytes", "u64list", "entries"))
    assert SCHEMAS[(ALGO << 8) | 1] is Probe


def test_fields_default_to_zero_values_and_lists_are_not_shared():
    a, b = Probe(), Probe()
    assert (a.cluster, a.src, a.dst, a.term) == (0, 0, 0, 0)
    assert a.values() == (False, 0, 0, 0, 0, b"", [], [])
    a.ids.append(5)
    assert b.ids == []


def test_construct_by_keyword_and_compare_by_value():
    a = Probe(term=3, index=9, blob=b"hi", entries=[(1, 1, b"x")])
    b = Probe(term=3, index=9, blob=b"hi", entries=[(1, 1, b"x")])
    assert a == b and a is not b
    b.src = 2
    assert a != b
    assert "MsgTestProbe(" in repr(a) and "index=9" in repr(a) and "term=3" in repr(a)


def test_messages_are_slotted_records():
    with pytest.raises(AttributeError):
        Probe().not_a_field = 1  # type: ignore[attr-defined]
    assert set(HEADER_FIELDS) <= set(Message.__slots__)


def test_a_declared_type_round_trips_through_the_codec():
    msg = Probe(cluster=7, src=1, dst=2, term=5, flag=True, small=255, count=2**32 - 1, index=2**64 - 1,
                delta=-(2**63), blob=b"\x00\xff", ids=[1, 2, 3], entries=[(4, 1, b"cmd"), (4, 2, b"")])
    assert codec.decode(codec.encode(msg)) == msg


def test_declaring_the_same_type_again_returns_the_same_class():
    again = message_type(
        "MsgTestProbe",
        ALGO,
        1,
        [("flag", "bool"), ("small", "u8"), ("count", "u32"), ("index", "u64"), ("delta", "i64"),
         ("blob", "bytes"), ("ids", "u64list"), ("entries", "entries")],
    )
    assert again is Probe


@pytest.mark.parametrize(
    "name,fields",
    [("OtherName", []), ("MsgTestProbe", [("flag", "bool")]), ("MsgTestProbe", [("flag", "u8")])],
)
def test_a_taken_message_id_is_refused_naming_its_owner(name, fields):
    with pytest.raises(ValueError, match=f"message id {ALGO}/1 is already taken by MsgTestProbe"):
        message_type(name, ALGO, 1, fields)


@pytest.mark.parametrize("algo_id", [0, -1, 0x10000])
def test_algo_id_out_of_range_is_refused(algo_id):
    with pytest.raises(ValueError, match="algo_id must be 1..65535"):
        message_type("Bad", algo_id, 1, [])


@pytest.mark.parametrize("type_id", [-1, 256])
def test_type_id_out_of_range_is_refused(type_id):
    with pytest.raises(ValueError, match="type_id must be 0..255"):
        message_type("Bad", ALGO, type_id, [])


@pytest.mark.parametrize("kind", ["u16", "string", "U64", "float", ""])
def test_unknown_wire_kind_is_refused_listing_the_known_ones(kind):
    with pytest.raises(ValueError) as err:
        message_type("Bad", ALGO, 200, [("x", kind)])
    assert f"unknown wire kind {kind!r}" in str(err.value)
    assert "u8, bool, u32, u64, i64, bytes, u64list, entries" in str(err.value)


@pytest.mark.parametrize("fname", ["term", "src", "dst", "cluster", "not valid", "1st", "class", ""])
def test_bad_field_names_are_refused(fname):
    with pytest.raises(ValueError, match="bad field name"):
        message_type("Bad", ALGO, 201, [(fname, "u8")])


def test_a_field_declared_twice_is_refused():
    with pytest.raises(ValueError, match="appears twice"):
        message_type("Bad", ALGO, 202, [("x", "u8"), ("x", "u64")])


def test_a_type_name_that_is_not_an_identifier_is_refused():
    with pytest.raises(ValueError, match="not an identifier"):
        message_type("Bad Name", ALGO, 203, [])


def test_a_refused_declaration_registers_nothing():
    for type_id in (200, 201, 202, 203):
        assert (ALGO << 8) | type_id not in SCHEMAS
