"""The message codec: both twins (compiled quorumlab.core._codec and pure quorumlab.core.codec_py) give the same bytes and reject bad input alike.

Property tests register throw-away message types with algo ids 0xFE00..0xFEFE
(0xFEFF belongs to the micro-benchmarks) and run every case through both twins.
"""
from __future__ import annotations

import array
import itertools
import struct

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from quorumlab.core import CodecError, codec_py, message_type
from quorumlab.core.messages import KIND_CODES, SCHEMAS
from tests.core.twins import twins

_compiled, TWINS, BOTH = twins("quorumlab.core._codec", codec_py)
PROPS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)

U64_MAX = 2**64 - 1
Vote = message_type("TestVote", 0xFE00, 0, [("last_index", "u64"), ("last_term", "u64"), ("granted", "bool")])
Ping = message_type("TestPing", 0xFE00, 2, [("seq", "u64")])
Everything = message_type(
    "TestEverything",
    0xFE00,
    1,
    [
        ("a_u8", "u8"),
        ("a_bool", "bool"),
        ("a_u32", "u32"),
        ("a_u64", "u64"),
        ("a_i64", "i64"),
        ("a_bytes", "bytes"),
        ("a_list", "u64list"),
        ("a_entries", "entries"),
    ],
)


def full_message(**overrides) -> Everything:
    values = dict(
        cluster=7, src=1, dst=2, term=9, a_u8=255, a_bool=True, a_u32=2**32 - 1, a_u64=U64_MAX,
        a_i64=-(2**63), a_bytes=b"\x00hello", a_list=[0, 1, U64_MAX], a_entries=[(1, 1, b"x"), (2, 2, b"")],
    )
    msg = Everything(**values)
    for name, value in overrides.items():  # set after construction: __init__ would turn a None list into []
        setattr(msg, name, value)
    return msg


def outcome(codec, fn, *args):
    """("ok", result) or ("err", None); any exception other than CodecError fails the test."""
    try:
        return "ok", fn(codec, *args)
    except CodecError:
        return "err", None


def encode_all(msg):
    return [outcome(c, lambda c, m: c.encode(m), msg) for c in BOTH]


def decode_all(data):
    return [outcome(c, lambda c, d: c.decode(d), data) for c in BOTH]


# -- examples -----------------------------------------------------------------------------


@pytest.mark.parametrize("codec", TWINS)
def test_header_is_24_little_endian_bytes_in_declared_order(codec):
    frame = codec.encode(Vote(cluster=1, src=2, dst=3, term=4, last_index=5, last_term=6, granted=True))
    assert codec.HEADER_SIZE == 24
    assert frame == struct.pack("<BHBIIIQ", 1, 0xFE00, 0, 1, 2, 3, 4) + struct.pack("<QQ?", 5, 6, True)


@pytest.mark.parametrize("codec", TWINS)
def test_every_wire_kind_round_trips_at_its_limits(codec):
    msg = full_message()
    assert codec.decode(codec.encode(msg)) == msg


@pytest.mark.parametrize("codec", TWINS)
def test_decoded_fields_have_wire_types(codec):
    msg = codec.decode(codec.encode(full_message(a_list=(4, 5), a_entries=[[3, 4, bytearray(b"z")]])))
    assert type(msg.a_bool) is bool and type(msg.a_bytes) is bytes
    assert msg.a_list == [4, 5] and msg.a_entries == [(3, 4, b"z")]


@pytest.mark.parametrize("codec", TWINS)
def test_decode_accepts_bytearray_and_memoryview(codec):
    frame = codec.encode(full_message())
    assert codec.decode(bytearray(frame)) == codec.decode(memoryview(frame)) == full_message()


@pytest.mark.parametrize("codec", TWINS)
def test_decode_reads_any_contiguous_buffer_as_raw_bytes(codec):
    words = array.array("I")
    words.frombytes(codec.encode(Ping(seq=3)))  # 32 bytes: 8 words of 4 bytes
    assert codec.decode(words) == codec.decode(memoryview(words)) == Ping(seq=3)


@pytest.mark.parametrize("codec", TWINS)
@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x01" * 23, id="short-header"),
        pytest.param(struct.pack("<BHBIIIQ", 2, 0xFE00, 0, 0, 0, 0, 0) + bytes(17), id="wrong-version"),
        pytest.param(struct.pack("<BHBIIIQ", 1, 0xFE00, 250, 0, 0, 0, 0), id="unknown-type"),
        pytest.param(struct.pack("<BHBIIIQ", 1, 0xFE00, 0, 0, 0, 0, 0) + bytes(16), id="truncated-field"),
        pytest.param(struct.pack("<BHBIIIQ", 1, 0xFE00, 0, 0, 0, 0, 0) + bytes(17) + b"!", id="trailing-byte"),
        pytest.param(struct.pack("<BHBIIIQ", 1, 0xFE00, 0, 0, 0, 0, 0) + bytes(16) + b"\x02", id="bool-byte-2"),
        pytest.param("not bytes", id="str"),
        pytest.param(None, id="none"),
        pytest.param(12, id="int"),
        pytest.param(memoryview(bytes(48))[::2], id="non-contiguous"),
    ],
)
def test_malformed_frames_raise_codec_error(codec, data):
    with pytest.raises(CodecError):
        codec.decode(data)


@pytest.mark.parametrize("codec", TWINS)
def test_lengths_past_the_end_raise_codec_error(codec):
    frame = bytearray(codec.encode(full_message()))
    offsets = length_offsets(Everything, bytes(frame))
    assert len(offsets) == 5  # a_bytes, a_list, a_entries count, two entry lengths
    for off in offsets:
        for value in (0xFFFFFFFF, 0x7FFFFFFF, len(frame)):
            bad = frame.copy()
            bad[off : off + 4] = struct.pack("<I", value)
            with pytest.raises(CodecError):
                codec.decode(bytes(bad))


@pytest.mark.parametrize("codec", TWINS)
def test_released_buffer_raises_codec_error(codec):
    view = memoryview(codec.encode(Vote()))
    view.release()
    with pytest.raises(CodecError):
        codec.decode(view)


@pytest.mark.parametrize("codec", TWINS)
def test_encode_rejects_what_is_not_a_message(codec):
    with pytest.raises(CodecError):
        codec.encode(("TestVote", 1, 2))


@pytest.mark.parametrize("codec", TWINS)
def test_encode_rejects_a_message_with_an_unset_field(codec):
    msg = Vote.__new__(Vote)
    with pytest.raises(CodecError):
        codec.encode(msg)


class ComputedVote(Vote):
    """A subclass whose field is a property, not a slot: the compiled codec must fall back to getattr."""

    __slots__ = ("_index",)

    @property
    def last_index(self):
        return self._index * 2

    @last_index.setter
    def last_index(self, value):
        self._index = value


def test_a_field_that_is_a_property_encodes_the_same_in_both_twins():
    msg = ComputedVote(cluster=1, src=2, dst=3, term=4, last_index=21, last_term=5, granted=False)
    frames = [c.encode(msg) for c in BOTH]
    assert all(f == frames[0] for f in frames)
    assert codec_py.decode(frames[0]) == Vote(cluster=1, src=2, dst=3, term=4, last_index=42, last_term=5, granted=False)


INVALID = {
    "u8": [-1, 256, 1.0, "1", None, [], 2**64],
    "bool": [0, 1, None, "True", 1.0],
    "u32": [-1, 2**32, 0.5, None, "3"],
    "u64": [-1, 2**64, 1.0, None, "x", b"1"],
    "i64": [-(2**63) - 1, 2**63, 0.0, None],
    "bytes": ["text", 5, None, [1, 2], (1,)],
    "u64list": [None, 5, "abc", b"abc", [-1], [2**64], [1.0], {1, 2}, [None]],
    "entries": [None, "x", [(1, 2)], [(1, 2, 3)], [(-1, 0, b"")], [(0, 2**64, b"")], [(0, 0, "s")], [[1, 2, b""], 5], [(1, 2, b"", 4)]],
}
HEADER_INVALID = {"cluster": [-1, 2**32, None], "src": [-1, 2**32, 1.5], "dst": ["1", 2**40], "term": [-1, 2**64, 2.0]}
FIELD_OF_KIND = {
    "u8": "a_u8", "bool": "a_bool", "u32": "a_u32", "u64": "a_u64", "i64": "a_i64",
    "bytes": "a_bytes", "u64list": "a_list", "entries": "a_entries",
}


@pytest.mark.parametrize("codec", TWINS)
@pytest.mark.parametrize(
    "field,value",
    [(FIELD_OF_KIND[k], v) for k, vs in INVALID.items() for v in vs] + [(f, v) for f, vs in HEADER_INVALID.items() for v in vs],
    ids=repr,
)
def test_encoding_an_invalid_value_raises_codec_error(codec, field, value):
    with pytest.raises(CodecError):
        codec.encode(full_message(**{field: value}))


def test_both_twins_accept_the_same_lenient_inputs_with_the_same_bytes():
    lenient = [
        full_message(a_bytes=bytearray(b"ab"), a_list=(1, 2), a_entries=((1, 2, memoryview(b"cd")),)),
        full_message(a_u8=True, a_u32=False, a_u64=True),
        full_message(a_bytes=memoryview(b"abcdef")[::2]),
    ]
    for msg in lenient:
        results = encode_all(msg)
        assert results[0][0] == "ok" and all(r == results[0] for r in results), msg


def test_both_twins_encode_the_same_bytes_for_a_fixed_message():
    assert len({c.encode(full_message()) for c in BOTH}) == 1


# -- properties over generated schemas ----------------------------------------------------

_kind_values = {
    "u8": st.integers(0, 255),
    "bool": st.booleans(),
    "u32": st.integers(0, 2**32 - 1),
    "u64": st.integers(0, U64_MAX),
    "i64": st.integers(-(2**63), 2**63 - 1),
    "bytes": st.binary(max_size=40),
    "u64list": st.lists(st.integers(0, U64_MAX), max_size=6),
    "entries": st.lists(st.tuples(st.integers(0, U64_MAX), st.integers(0, U64_MAX), st.binary(max_size=12)), max_size=4),
}
_schema_ids = itertools.count()
_schema_types: dict[tuple[str, ...], type] = {}


def schema_type(kinds: tuple[str, ...]) -> type:
    """The message class for a generated list of wire kinds, registered once under a test algo id."""
    cls = _schema_types.get(kinds)
    if cls is None:
        while True:
            n = next(_schema_ids)
            algo_id, type_id = 0xFE01 + n // 256, n % 256
            assert algo_id < 0xFEFF, "ran out of test message ids"
            if ((algo_id << 8) | type_id) not in SCHEMAS:
                break
        cls = message_type(f"Gen{n}", algo_id, type_id, [(f"f{i}", k) for i, k in enumerate(kinds)])
        _schema_types[kinds] = cls
    return cls


@st.composite
def messages(draw):
    kinds = tuple(draw(st.lists(st.sampled_from(list(KIND_CODES)), max_size=6)))
    cls = schema_type(kinds)
    header = dict(
        cluster=draw(st.integers(0, 2**32 - 1)),
        src=draw(st.integers(0, 2**32 - 1)),
        dst=draw(st.integers(0, 2**32 - 1)),
        term=draw(st.integers(0, U64_MAX)),
    )
    values = {f"f{i}": draw(_kind_values[k]) for i, k in enumerate(kinds)}
    return cls(**header, **values)


def length_offsets(cls: type, frame: bytes) -> list[int]:
    """Byte offsets of every u32 length/count field in a valid frame of ``cls``."""
    pos, found = 24, []
    widths = {KIND_CODES["u8"]: 1, KIND_CODES["bool"]: 1, KIND_CODES["u32"]: 4, KIND_CODES["u64"]: 8, KIND_CODES["i64"]: 8}
    for code in cls.kinds:
        if code in widths:
            pos += widths[code]
        elif code == KIND_CODES["bytes"]:
            found.append(pos)
            pos += 4 + struct.unpack_from("<I", frame, pos)[0]
        elif code == KIND_CODES["u64list"]:
            found.append(pos)
            pos += 4 + 8 * struct.unpack_from("<I", frame, pos)[0]
        else:
            found.append(pos)
            count = struct.unpack_from("<I", frame, pos)[0]
            pos += 4
            for _ in range(count):
                found.append(pos + 16)
                pos += 20 + struct.unpack_from("<I", frame, pos + 16)[0]
    assert pos == len(frame)
    return found


@PROPS
@given(messages())
def test_generated_messages_round_trip_identically_in_both_twins(msg):
    frames = [c.encode(msg) for c in BOTH]
    assert all(f == frames[0] for f in frames)
    for c in BOTH:
        assert c.decode(frames[0]) == msg


@PROPS
@given(st.binary(max_size=80))
def test_random_bytes_raise_only_codec_error_and_twins_agree(data):
    results = decode_all(data)
    assert all(r == results[0] for r in results)


@PROPS
@given(messages(), st.binary(max_size=60))
def test_valid_header_with_random_body_raises_only_codec_error(msg, body):
    results = decode_all(codec_py.encode(msg)[:24] + body)
    assert all(r == results[0] for r in results)


_mutations = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 10_000)),
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(1, 255)),
    st.tuples(st.just("extend"), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("length"), st.integers(0, 10_000), st.sampled_from([0, 1, 7, 8, 19, 20, 255, 2**16, 2**31 - 1, 2**32 - 1])),
    st.tuples(st.just("delta"), st.integers(0, 10_000), st.integers(-3, 3)),
)


def mutate(frame: bytes, offsets: list[int], mutation) -> bytes:
    """Apply one mutation; length mutations rewrite one of the original frame's u32 length fields."""
    kind = mutation[0]
    data = bytearray(frame)
    if kind == "truncate":
        return bytes(data[: mutation[1] % len(data)])
    if kind == "flip":
        data[mutation[1] % len(data)] ^= mutation[2]
        return bytes(data)
    if kind == "extend":
        return frame + mutation[1]
    usable = [o for o in offsets if o + 4 <= len(data)]
    if not usable:
        return frame[:-1]
    off = usable[mutation[1] % len(usable)]
    old = struct.unpack_from("<I", frame, off)[0]
    new = mutation[2] if kind == "length" else max(0, min(2**32 - 1, old + mutation[2]))
    struct.pack_into("<I", data, off, new)
    return bytes(data)


@PROPS
@given(messages(), st.lists(_mutations, min_size=1, max_size=3))
def test_mutated_frames_raise_only_codec_error_and_twins_agree(msg, mutations):
    frame = codec_py.encode(msg)
    offsets = length_offsets(type(msg), frame)
    for m in mutations:
        if frame:
            frame = mutate(frame, offsets, m)
    results = decode_all(frame)
    assert all(r == results[0] for r in results), frame
    if results[0][0] == "ok":  # the encoding is canonical: whatever decodes re-encodes to the same bytes
        assert codec_py.encode(results[0][1]) == frame


KIND_NAMES = {code: name for name, code in KIND_CODES.items()}


@PROPS
@given(messages(), st.data())
def test_twins_agree_on_encoding_generated_invalid_values(msg, data):
    assume(msg.fields)
    index = data.draw(st.integers(0, len(msg.fields) - 1))
    bad = data.draw(st.sampled_from(INVALID[KIND_NAMES[msg.kinds[index]]]))
    setattr(msg, msg.fields[index], bad)
    assert [r[0] for r in encode_all(msg)] == ["err"] * len(BOTH)
