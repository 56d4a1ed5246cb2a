"""Every input that once crashed a fuzz target, and every checked-in seed, replayed through its target.

A crash that ``make fuzz`` finds is saved under ``tests/fuzz/regressions/<target>/``; this
test fails on it until the bug is fixed, and guards the fix from then on. The seeds are
replayed too: each target must have some, and they must all pass.
"""
from __future__ import annotations

import pytest

from tests.fuzz.target import CORPUS, REGRESSIONS, load, names

REPLAYED = sorted(p for folder in (REGRESSIONS, CORPUS) for p in folder.glob("*/*") if p.is_file())


@pytest.mark.parametrize("path", REPLAYED, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}/{p.name[:18]}")
def test_a_saved_input_passes_its_target(path):
    load(path.parent.name).run(path.read_bytes())


@pytest.mark.parametrize("name", names())
def test_every_target_has_checked_in_seeds(name):
    assert any((CORPUS / name).glob("seed-*")), f"no seeds for {name}: run python -m tests.fuzz.corpus {name}"


def test_saved_inputs_are_filed_under_a_target():
    folders = {p.parent.name for p in REPLAYED}
    assert folders <= set(names()), f"inputs of no target: {sorted(folders - set(names()))}"
