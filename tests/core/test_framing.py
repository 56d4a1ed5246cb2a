"""Blob lists and log-record frames: the compiled quorumlab.core._framing and the twin quorumlab.core.framing_py agree byte for byte."""
from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorumlab.core import framing_py
from quorumlab.core.errors import CodecError
from quorumlab.core.storage import RecordLog
from tests.core.twins import twins

_compiled, TWINS, BOTH = twins("quorumlab.core._framing", framing_py)
blobs = st.lists(st.binary(max_size=300), max_size=40)


@given(blobs)
def test_blob_lists_round_trip_and_both_twins_write_the_same_bytes(items):
    packed = [f.pack_blobs(items) for f in BOTH]
    assert all(p == packed[0] for p in packed)
    assert packed[0][:4] == struct.pack("<I", len(items))
    for f in BOTH:
        assert f.unpack_blobs(packed[0]) == items


@given(st.binary(max_size=80))
def test_any_bytes_either_unpack_the_same_way_in_both_twins_or_are_refused_by_both(data):
    outcomes = []
    for f in BOTH:
        try:
            outcomes.append(("ok", f.unpack_blobs(data)))
        except CodecError:
            outcomes.append(("refused", None))
    assert all(o == outcomes[0] for o in outcomes)
    if outcomes[0][0] == "ok":
        assert framing_py.pack_blobs(outcomes[0][1]) == data


@pytest.mark.parametrize("f", TWINS)
@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x01\x00", "at least 4 bytes"),
        (struct.pack("<I", 1), "cannot hold 1 blobs"),
        (struct.pack("<II", 1, 5) + b"abc", "runs past the end"),
        (struct.pack("<II", 1, 1) + b"ab", "1 bytes after the last blob"),
        (struct.pack("<I", 0xFFFFFFFF) + b"\x00" * 8, "cannot hold"),
    ],
)
def test_malformed_blob_lists_are_refused_with_the_reason(f, data, message):
    with pytest.raises(CodecError, match=message):
        f.unpack_blobs(data)


@pytest.mark.parametrize("f", TWINS)
def test_only_bytes_like_blobs_are_packed(f):
    assert f.unpack_blobs(f.pack_blobs([bytearray(b"ab"), memoryview(b"cd")])) == [b"ab", b"cd"]
    with pytest.raises(CodecError, match="must be bytes, got str"):
        f.pack_blobs(["text"])


@settings(max_examples=200)
@given(st.binary(max_size=2000))
def test_crc32_is_zlibs_in_both_twins(data):
    for f in BOTH:
        assert f.crc32(data) == zlib.crc32(data)


@given(st.lists(st.binary(max_size=200), max_size=20), st.integers(0, 1 << 40))
def test_record_frames_are_what_the_record_log_reads_back(bodies, offset):
    framed = [f.frame_records(bodies, offset) for f in BOTH]
    assert all(x == framed[0] for x in framed)
    data, offsets = framed[0]
    pos = 0
    for body, off in zip(bodies, offsets):
        length, body_crc, head_crc = struct.unpack_from("<III", data, pos)
        assert (length, body_crc, head_crc) == (len(body), zlib.crc32(body), zlib.crc32(data[pos : pos + 8]))
        assert data[pos + 12 : pos + 12 + length] == body and off == offset + pos
        pos += 12 + length
    assert pos == len(data)


def test_a_record_log_written_through_the_frames_reopens_with_every_record(tmp_path):
    bodies = [b"r%d" % i * (i % 7) for i in range(500)]
    with RecordLog(tmp_path / "log") as log:
        log.append(bodies)
    with RecordLog(tmp_path / "log") as log:
        assert log.records() == bodies and log.torn is None


@pytest.mark.parametrize("f", TWINS)
def test_both_twins_take_any_iterable_and_refuse_bad_offsets_alike(f):
    assert f.unpack_blobs(f.pack_blobs((b"x", bytearray(b"y")))) == [b"x", b"y"]
    assert f.frame_records((b"a",), 0)[1] == [0]
    with pytest.raises(ValueError, match="cannot be negative"):
        f.frame_records([b"a"], -1)
    with pytest.raises(TypeError):
        f.frame_records([b"a"], 1.5)
    with pytest.raises(OverflowError):
        f.frame_records([b"a"], 1 << 64)
