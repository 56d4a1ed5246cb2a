"""The embedding examples run as documented: three processes from one command, briefly."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_example(path: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, os.path.join(ROOT, path), *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def test_the_replicated_counter_runs_as_three_processes_whose_copies_agree():
    done = run_example("examples/replicated_counter/counter.py", "--duration", "1.5")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all 3 copies agree" in done.stdout
    nodes = [line for line in done.stdout.splitlines() if line.startswith("node ")]
    assert len(nodes) == 3
    value = int(done.stdout.split("all 3 copies agree: ")[1].split()[0])
    assert value > 0
    # every member incremented: the two followers' calls went to the leader
    assert all(int(line.split("incremented_here=")[1].split()[0]) > 0 for line in nodes), nodes


def test_the_leader_scheduler_survives_its_leaders_sigkill_and_fences_tokens():
    done = run_example("examples/leader_scheduler/scheduler.py", "--duration", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "took over from node" in done.stdout and "SIGKILL node" in done.stdout
