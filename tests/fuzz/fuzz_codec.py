"""Fuzz target: the message codec, on frames of every registered algorithm's messages.

Rules: ``decode`` of any bytes returns a message or raises ``CodecError``; the compiled
``quorumlab.core._codec`` and the twin ``quorumlab.core.codec_py`` agree (the same message, or both refuse);
and what decodes encodes back to the very same bytes in both (one encoding per message).
"""
from __future__ import annotations

from quorumlab.core import registry
from quorumlab.core.errors import CodecError
from quorumlab.core.messages import BOOL, BYTES, ENTRIES, I64, U8, U32, U64, U64LIST, Message
from tests.fuzz.target import Target, implementations, outcome

CODECS = implementations("quorumlab.core._codec", "quorumlab.core.codec_py")
MESSAGES: list[type[Message]] = [m for name in registry.available() for m in registry.load(name).messages]
"""Every registered algorithm's message types (loading the algorithms registers their schemas)."""

_SAMPLE = {U8: 200, BOOL: True, U32: 70_000, U64: 1 << 40, I64: -5, BYTES: b"seed",
           U64LIST: [1, (1 << 64) - 1], ENTRIES: [(1, 1, b"a"), (2, 2, b"")]}


def run(data: bytes) -> None:
    outcomes = [outcome(lambda c=c: c.decode(data), CodecError) for c in CODECS]
    first = outcomes[0]
    for other in outcomes[1:]:
        if isinstance(first, CodecError):
            assert isinstance(other, CodecError), f"twin refused ({first}), compiled decoded {other!r}"
        else:
            assert type(other) is type(first) and other == first, f"twins decode differently: {first!r} / {other!r}"
    if isinstance(first, Message):
        for c in CODECS:
            assert c.encode(first) == data, f"{c.__name__}: {first!r} does not encode back to its frame"


def seeds() -> list[bytes]:
    """Each message type with its defaults, and with a sample value in every field."""
    out = []
    for cls in MESSAGES:
        out.append(CODECS[0].encode(cls(7, 1, 2, 3)))
        out.append(CODECS[0].encode(cls(7, 1, 0, 9, *(_SAMPLE[k] for k in cls.kinds))))
    return out


def structured():
    from hypothesis import strategies as st

    from tests.fuzz.mutate import damaged

    u64 = st.integers(0, (1 << 64) - 1)
    kinds = {U8: st.integers(0, 255), BOOL: st.booleans(), U32: st.integers(0, (1 << 32) - 1), U64: u64,
             I64: st.integers(-(1 << 63), (1 << 63) - 1), BYTES: st.binary(max_size=40),
             U64LIST: st.lists(u64, max_size=4), ENTRIES: st.lists(st.tuples(u64, u64, st.binary(max_size=20)), max_size=3)}
    header = st.tuples(st.integers(0, (1 << 32) - 1), st.integers(0, (1 << 32) - 1), st.integers(0, (1 << 32) - 1), u64)

    def message(cls: type[Message]):
        return st.builds(lambda h, v: CODECS[0].encode(cls(*h, *v)), header, st.tuples(*(kinds[k] for k in cls.kinds)))

    return damaged(st.sampled_from(MESSAGES).flatmap(message))


TARGET = Target(run, seeds, structured)
