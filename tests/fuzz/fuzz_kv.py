"""Fuzz target: the key-value command decoder and state machine (``quorumlab.core.kv``), on log entries of any bytes.

The input is a run of log entries (a blob list; any other bytes are one entry), applied in
order to one ``KVStore``. Rules: ``Command.decode`` returns a command or raises
``CommandError``, and a command it returns encodes back to the same bytes; ``apply`` never
raises, ignores exactly what ``decode`` refuses (result None, store untouched), and for a
well-formed command does what the command says: a retried (client, seq) gets its first
result again and changes nothing, a different command under a used (client, seq) is refused
(``REUSED``) and changes nothing, a new one reads and writes its key as its op defines.
"""
from __future__ import annotations

from quorumlab.core.framing import pack_blobs
from quorumlab.core.kv import (
    CAS,
    CAS_MISMATCH,
    DELETE,
    GET,
    NOT_FOUND,
    OK,
    PUT,
    REUSED,
    STALE,
    Command,
    CommandError,
    KVStore,
    Result,
    fingerprint,
)
from tests.fuzz.target import Target, outcome, split

STALE_RESULT = Result(STALE).encode()
REUSED_RESULT = Result(REUSED).encode()


def run(data: bytes) -> None:
    store = KVStore()
    for index, entry in enumerate(split(data), 1):
        cmd = outcome(lambda: Command.decode(entry), CommandError)
        assert isinstance(cmd, CommandError) or cmd.encode() == entry, f"{cmd!r} does not encode back to {entry!r}"
        before = dict(store.data)
        seen = store.sessions.get(cmd.client, {}).get(cmd.seq) if isinstance(cmd, Command) else None
        first = None if seen is None else (seen[1] if seen[0] == fingerprint(entry) else REUSED_RESULT)
        stale = isinstance(cmd, Command) and cmd.seq <= store.floor.get(cmd.client, 0)
        result = store.apply(index, entry)
        if isinstance(cmd, CommandError):
            assert result is None and store.data == before, f"apply took an entry decode refuses ({cmd}): {entry!r}"
        elif first is not None or stale:
            assert result == (first if first is not None else STALE_RESULT), f"a replay of {cmd!r} answered {result!r}"
            assert store.data == before, f"a replay of {cmd!r} changed the store"
        else:
            assert result is not None, f"apply ignored the well-formed {cmd!r}"
            expect_store, expect_result = _model(cmd, before)
            assert store.data == expect_store, f"{cmd!r} left {store.data!r}, expected {expect_store!r}"
            assert Result.decode(result) == expect_result, f"{cmd!r} answered {Result.decode(result)!r}"


def _model(cmd: Command, before: dict[bytes, bytes]) -> tuple[dict[bytes, bytes], Result]:
    """What a new command does to the store, and its result, straight from the op's definition."""
    old = before.get(cmd.key)
    after = dict(before)
    if cmd.op == CAS and old != cmd.expected:
        return after, Result(CAS_MISMATCH, old)
    if cmd.op in (PUT, CAS):
        after[cmd.key] = cmd.value
    elif cmd.op == DELETE:
        after.pop(cmd.key, None)
    return after, Result(NOT_FOUND if old is None and cmd.op in (GET, DELETE) else OK, old)


def seeds() -> list[bytes]:
    put, cas = Command(1, 1, PUT, b"k", b"v1"), Command(1, 2, CAS, b"k", b"v2", b"v1")
    single = [put, Command(2, 1, GET, b"k"), Command(2, 2, DELETE, b"k"), cas, Command(3, 1, CAS, b"new", b"v", None)]
    return [c.encode() for c in single] + [pack_blobs([c.encode() for c in single + [put, cas]])]


def structured():
    from hypothesis import strategies as st

    from tests.fuzz.mutate import damaged

    small = st.binary(max_size=3)
    command = st.builds(Command, st.integers(0, 3), st.integers(0, 5), st.sampled_from((PUT, GET, DELETE, CAS)),
                        small, small, st.none() | small)
    encoded = command.map(Command.encode)
    return st.lists(damaged(encoded), max_size=8).map(pack_blobs) | damaged(encoded)


TARGET = Target(run, seeds, structured)
