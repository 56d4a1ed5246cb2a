"""Every story in ``tests/**/testdata/*.txt``, run by quorumlab.core.scenario and compared with the trace written below each step.

A failure shows a diff naming the file and line. When behaviour changes on purpose,
``QUORUMLAB_REWRITE=1 .venv/bin/python -m pytest tests/test_scenarios.py`` writes the new
traces into the files; read ``git diff`` before committing them (docs/testing.md).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from quorumlab.core.scenario import check_file
from tests.raft.mistakes import MISTAKES as RAFT_MISTAKES
from tests.raft.story_commands import COMMANDS as RAFT_COMMANDS

HERE = Path(__file__).parent
STORIES = sorted(HERE.glob("**/testdata/*.txt"))


@pytest.mark.parametrize("path", STORIES, ids=[str(p.relative_to(HERE)) for p in STORIES])
def test_story(path: Path) -> None:
    check_file(path, commands=RAFT_COMMANDS, mistakes=RAFT_MISTAKES)
