"""``bench check`` from the command line: runs, verdicts as exit statuses, saved histories, Ctrl-C."""
from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from quorumlab.bench.check import netns
from quorumlab.bench.cmd_check import check_cmd
from quorumlab.core.check import History
from quorumlab.core.check.history_format import write_history

MUTANT = "tests.check_bench.mutants:AckBeforeCommit"
REPO = Path(__file__).resolve().parents[2]


def bench(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(check_cmd, list(args))
    return result.exit_code, result.output


def test_a_simulated_run_prints_its_outcomes_and_verdict_and_keeps_its_files(tmp_path):
    code, out = bench("--algo", "raft", "--transport", "sim", "--duration", "6", "--seed", "2", "--out", str(tmp_path))
    assert code == 0, out
    assert "verdict: linearizable" in out and "operations:" in out and "faults (s from the start):" in out
    report = json.loads((tmp_path / "check.json").read_text())
    assert report["verdict"] == "ok" and report["spec"]["seed"] == 2
    assert (tmp_path / "history.jsonl").exists() and (tmp_path / "availability.png").exists()
    code, out = bench("--history", str(tmp_path / "history.jsonl"))
    assert code == 0 and "ok:" in out
    with open(tmp_path / "history.jsonl", "rb") as f, gzip.open(tmp_path / "history.jsonl.gz", "wb") as z:
        z.write(f.read())
    code, out = bench("--history", str(tmp_path / "history.jsonl.gz"))
    assert code == 0 and f"{report['check']['operations']:,} operations" in out


def test_a_saved_history_that_is_not_linearizable_exits_1_with_its_counterexample(tmp_path):
    h = History(clock=iter(range(100)).__next__)
    h.complete(h.invoke(1, "put", "x", "a"), "ok", None)
    h.complete(h.invoke(2, "get", "x"), "ok", None)
    write_history(h, tmp_path / "h.jsonl")
    code, out = bench("--history", str(tmp_path / "h.jsonl"))
    assert code == 1 and "violation" in out and "cannot take effect" in out


def test_a_campaign_names_each_failing_seed_with_the_command_that_replays_it(tmp_path):
    code, out = bench("--algo", MUTANT, "--transport", "sim", "--seeds", "2", "--seed", "1", "--duration", "10",
                      "--workers", "2", "--no-observers", "--out", str(tmp_path))
    assert code == 1, out
    assert "replay: bench check --algo tests.check_bench.mutants:AckBeforeCommit" in out and "--seed 1" in out
    summary = json.loads((tmp_path / "campaign.json").read_text())
    assert summary["finished"] == 2 and summary["counts"]["violation"] >= 1


@pytest.mark.parametrize("args, message", [
    (["--algo", "raft", "--nemesis", "clock"], "unknown nemesis clock"),
    (["--algo", "raft", "--config", "pre_vote=maybe"], "pre_vote must be bool"),
    (["--algo", "raft", "--seeds", "5"], "many seeds run in the simulator"),
    (["--algo", "raft", "--transport", "sim", "--network", "netns"], "about real processes"),
    ([], "pass --algo"),
])
def test_bad_options_are_refused_with_what_to_do(args, message):
    code, out = bench(*args)
    assert code == 2 and message in out


def start(tmp_path: Path, *args: str) -> subprocess.Popen:
    """``bench check`` in a child process that takes Ctrl-C as a terminal would deliver it."""
    return subprocess.Popen(
        [sys.executable, "-m", "quorumlab.bench.cli", "check", "--out", str(tmp_path), *args], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.add(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def leftovers(pid: int) -> str:
    if netns.unavailable():
        return ""
    tag = f"{netns.PREFIX}{pid}"
    return " ".join(w for w in (netns.ip("netns", "list") + netns.ip("-o", "link", "show")).split() if tag in w)


@pytest.mark.integration
def test_a_short_run_on_real_processes_is_linearizable_and_leaves_nothing_behind(tmp_path):
    proc = start(tmp_path, "--algo", "raft", "--nodes", "3", "--duration", "8", "--seed", "4")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert "verdict: linearizable" in out and "faults (s from the start):" in out
    assert json.loads((tmp_path / "check.json").read_text())["operations"]["ok"] > 100
    assert leftovers(proc.pid) == ""


@pytest.mark.integration
def test_ctrl_c_stops_every_node_removes_the_namespaces_and_still_checks_the_history(tmp_path):
    proc = start(tmp_path, "--algo", "raft", "--nodes", "3", "--duration", "60", "--seed", "5")
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "clients for" in line:
            break
    time.sleep(2.0)
    nodes = children(proc.pid)
    assert len(nodes) >= 3, "".join(lines)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, "".join(lines) + out
    assert "interrupted" in out and "verdict: linearizable" in out
    assert (tmp_path / "history.jsonl").stat().st_size > 0
    assert not any(os.path.exists(f"/proc/{p}") for p in nodes)
    assert leftovers(proc.pid) == ""
