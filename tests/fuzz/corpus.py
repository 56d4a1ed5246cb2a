"""Writes each target's seeds to ``tests/fuzz/corpus/<name>/``: ``python -m tests.fuzz.corpus [NAME ...]``.

Run it after adding a target or changing a format, and commit the result. A seed file is
named after its content (``seed-<sha1>``), so unchanged seeds keep their names; seeds a
target no longer produces are removed.
"""
from __future__ import annotations

import hashlib
import sys

from tests.fuzz.target import CORPUS, load, names


def write(name: str) -> int:
    """Replace the seed files of ``name`` with its current seeds; returns how many there are."""
    folder = CORPUS / name
    folder.mkdir(parents=True, exist_ok=True)
    seeds = {f"seed-{hashlib.sha1(s).hexdigest()}": s for s in load(name).seeds()}
    for stale in folder.glob("seed-*"):
        if stale.name not in seeds:
            stale.unlink()
    for file, data in seeds.items():
        (folder / file).write_bytes(data)
    return len(seeds)


if __name__ == "__main__":
    for target in sys.argv[1:] or names():
        print(f"{target}: {write(target)} seeds in {CORPUS / target}")
