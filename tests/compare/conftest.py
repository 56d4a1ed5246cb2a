"""Shared helpers for bench compare tests: the third-party plugin fixture and running the real CLI."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

PLUGIN_SITE = Path(__file__).parent / "plugin_site"


@pytest.fixture
def plugin_site(monkeypatch):
    """Make the ``pocketvote`` plugin installed for this test (in-process and for child processes)."""
    monkeypatch.syspath_prepend(str(PLUGIN_SITE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(PLUGIN_SITE), os.environ.get("PYTHONPATH", "")) if p))
    return PLUGIN_SITE


def bench(*args: str):
    """Run ``bench <args>`` in-process; returns the click Result."""
    from quorumlab.bench.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False, env={"COLUMNS": "220"})


def results_without_run(text: str) -> dict:
    """Parsed results JSON minus the ``run`` block (start time, elapsed, interrupted): the reproducible part."""
    data = json.loads(text)
    data.pop("run")
    return data
