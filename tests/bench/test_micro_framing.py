"""Micro-benchmark: framing 1,000 log records (60 bytes, the size of a 16-byte key-value put) and packing /
unpacking a client request of 1,000 commands, compiled vs Python twin."""
from __future__ import annotations

import importlib

import pytest

from quorumlab.core import framing_py

try:
    _compiled = importlib.import_module("quorumlab.core._framing")
except ImportError:
    _compiled = None

RECORDS = [b"r" * 52 + i.to_bytes(8, "little") for i in range(1000)]
TWINS = [
    pytest.param(_compiled, id="compiled", marks=pytest.mark.skipif(_compiled is None, reason="quorumlab.core._framing is not built")),
    pytest.param(framing_py, id="python"),
]


@pytest.mark.benchmark(group="frame 1,000 log records of 60 bytes")
@pytest.mark.parametrize("f", TWINS)
def test_frame_records(benchmark, f):
    data, offsets = benchmark(f.frame_records, RECORDS, 8)
    assert len(offsets) == 1000 and len(data) == 1000 * 72


@pytest.mark.benchmark(group="pack + unpack a request of 1,000 commands")
@pytest.mark.parametrize("f", TWINS)
def test_blob_round_trip(benchmark, f):
    assert benchmark(lambda: f.unpack_blobs(f.pack_blobs(RECORDS))) == RECORDS
