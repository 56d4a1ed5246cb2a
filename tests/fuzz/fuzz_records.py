"""Fuzz target: the record-log framing, read back by ``quorumlab.core.storage.RecordLog`` from a file of any bytes.

Rules: opening a ``RecordLog`` on the file either succeeds or raises ``StorageError``; when it
opens, the file it leaves (torn tail cut) is a log header (magic, two mark slots) followed by
exactly ``frame_records`` of the records it reads back, in both framing twins, and it holds at
least as many records as its header's high-water mark says were durable.
"""
from __future__ import annotations

import os
import tempfile

from quorumlab.core.errors import StorageError
from quorumlab.core.storage import RecordLog
from tests.fuzz.target import Target, implementations

FRAMINGS = implementations("quorumlab.core._framing", "quorumlab.core.framing_py")
_SCRATCH = tempfile.TemporaryDirectory(prefix="quorumlab-fuzz-records-")
PATH = os.path.join(_SCRATCH.name, "log")


def _empty_log() -> bytes:
    """The bytes of a new, empty log, as RecordLog writes them (its header)."""
    path = os.path.join(_SCRATCH.name, "empty")
    RecordLog(path).close()
    with open(path, "rb") as fh:
        return fh.read()


HEADER = _empty_log()


def run(data: bytes) -> None:
    with open(PATH, "wb") as fh:
        fh.write(data)
    try:
        log = RecordLog(PATH)
    except StorageError:
        return
    with log:
        records = log.records()
        assert len(records) >= log.high_water_mark, "opened with fewer records than its mark says were durable"
    with open(PATH, "rb") as fh:
        kept = fh.read()
    assert kept[:8] == HEADER[:8], "the file left on open lost its magic"
    for f in FRAMINGS:
        framed, _ = f.frame_records(records, len(HEADER))
        assert kept[len(HEADER):] == framed, f"{f.__name__}: the file left on open is not the records it read"


def seeds() -> list[bytes]:
    framed, _ = FRAMINGS[0].frame_records([b"entry one", b"", b"x" * 40], len(HEADER))
    return [b"", HEADER, HEADER + framed, HEADER + framed[:-3], HEADER + framed + bytes(12)]


def structured():
    from hypothesis import strategies as st

    from tests.fuzz.mutate import damaged

    def log_file(bodies: list[bytes]) -> bytes:
        return HEADER + FRAMINGS[0].frame_records(bodies, len(HEADER))[0]

    return damaged(st.lists(st.binary(max_size=30), max_size=5).map(log_file))


TARGET = Target(run, seeds, structured)
