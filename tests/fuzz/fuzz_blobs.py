"""Fuzz target: the blob-list framing of client requests and replies (``quorumlab.core.framing``).

Rules: ``unpack_blobs`` of any bytes returns a list of bytes or raises ``CodecError``; the
compiled ``quorumlab.core._framing`` and the twin ``quorumlab.core.framing_py`` agree; and what unpacks packs
back to the very same bytes in both.
"""
from __future__ import annotations

from quorumlab.core.errors import CodecError
from tests.fuzz.target import Target, implementations, outcome

FRAMINGS = implementations("quorumlab.core._framing", "quorumlab.core.framing_py")


def run(data: bytes) -> None:
    outcomes = [outcome(lambda f=f: f.unpack_blobs(data), CodecError) for f in FRAMINGS]
    first = outcomes[0]
    for other in outcomes[1:]:
        if isinstance(first, CodecError):
            assert isinstance(other, CodecError), f"twin refused ({first}), compiled unpacked {other!r}"
        else:
            assert other == first, f"twins unpack differently: {first!r} / {other!r}"
    if not isinstance(first, CodecError):
        assert all(type(b) is bytes for b in first), f"a blob that is not bytes: {first!r}"
        for f in FRAMINGS:
            assert f.pack_blobs(first) == data, f"{f.__name__}: {first!r} does not pack back to its bytes"


def seeds() -> list[bytes]:
    pack = FRAMINGS[0].pack_blobs
    return [pack([]), pack([b""]), pack([b"a", b"bc", b""]), pack([b"K" + bytes(17) + b"\x00" * 4] * 3)]


def structured():
    from hypothesis import strategies as st

    from tests.fuzz.mutate import damaged

    return damaged(st.lists(st.binary(max_size=30), max_size=8).map(FRAMINGS[0].pack_blobs))


TARGET = Target(run, seeds, structured)
