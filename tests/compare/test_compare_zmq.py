"""`bench compare` over real node processes: a short run measures every scenario, and nothing outlives it,
not even after Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ALGOS = ["raft", "paxos", "bully"]


def _reap_nodes(marker: str) -> None:
    """SIGCONT then SIGKILL every node process of this test still alive (a paused one included)."""
    for pid in _node_pids(marker):
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break


def _node_pids(marker: str) -> list[int]:
    """PIDs of live node processes whose command line mentions ``marker`` (the test's private TMPDIR). Node
    processes only: ``bench compare`` itself names the marker in its --out, and counting it would make the Ctrl-C
    test interrupt a run that had not started a cluster yet (a slow import on a loaded machine)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if marker in cmdline and "quorumlab.bench.cli node" in cmdline and state != "Z":  # not bench compare itself
            pids.append(int(entry.name))
    return pids


def _bench(tmp_path: Path, *args: str) -> subprocess.Popen:
    """Start the real ``bench`` command with a private TMPDIR, so its node processes can be recognised."""
    private = tmp_path / "tmp"
    private.mkdir(exist_ok=True)
    env = dict(os.environ, TMPDIR=str(private), COLUMNS="200")
    return subprocess.Popen([sys.executable, "-m", "quorumlab.bench.cli", "compare", *args], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_short_zmq_run_measures_every_scenario_and_leaves_no_process(tmp_path):
    proc = _bench(tmp_path, "--nodes", "3", "--trials", "2", "--format", "json", "--out", str(tmp_path / "out"))
    out, err = proc.communicate(timeout=170)
    assert proc.returncode == 0, err
    data = json.loads(out)
    failures = [f"{t['algo']} {t['scenario']}: {t['error']}" for t in data["trials"] if not t["ok"]]
    assert not failures, failures
    assert data["config"]["transport"] == "zmq" and data["config"]["algos"] == ALGOS
    for scenario in ("cold-start", "crash", "pause", "partition", "rejoin", "contention"):
        for algo in ALGOS:
            assert data["stats"][scenario][algo]["3"]["_trials"] == {"ok": 2, "total": 2}, (scenario, algo)
    crash = data["stats"]["crash"]
    for algo in ALGOS:
        # Not 100 ms or more, as before transport hints: with them (every algorithm's default) a killed leader's
        # dropped connection starts the election, well before the detection range ends.
        assert 0 < crash[algo]["3"]["failover_ms"]["median"] < 2000, crash[algo]["3"]
        assert crash[algo]["3"]["messages"]["median"] > 0
        assert crash[algo]["3"]["round_trips"]["n"] == 0  # no modeled round trip on a real network
    assert (tmp_path / "out" / "report.md").exists() and (tmp_path / "out" / "failover_cdf.png").exists()
    assert _node_pids(str(tmp_path)) == []


def test_first_write_is_measured_from_a_client_for_algorithms_with_a_log(tmp_path):
    proc = _bench(tmp_path, "--algos", "raft,bully", "--nodes", "3", "--trials", "2", "--scenarios", "crash,pause",
                  "--first-write", "--format", "json", "--out", str(tmp_path / "out"))
    out, err = proc.communicate(timeout=170)
    assert proc.returncode == 0, err
    data = json.loads(out)
    failures = [f"{t['algo']} {t['scenario']}: {t['error']}" for t in data["trials"] if not t["ok"]]
    assert not failures, failures
    for t in data["trials"]:
        first, leader = t["metrics"]["first_write_ms"], t["metrics"]["failover_ms"]
        if t["algo"] == "bully":
            assert first is None, "bully has no log to write through"
        else:
            # the first write is acknowledged by the new leader, so after it leads (a majority follows it once its
            # first message arrived, which may be a little after the write's own AppendEntries left)
            assert 0 < first < 20_000 and first > leader - 5, t
    assert "--first-write" in (tmp_path / "out" / "report.md").read_text()
    assert "first_write_ms" in (tmp_path / "out" / "report.md").read_text()
    assert _node_pids(str(tmp_path)) == []


def test_ctrl_c_stops_the_clusters_and_still_reports_what_finished(tmp_path):
    proc = _bench(tmp_path, "--algos", "raft", "--nodes", "3", "--trials", "50", "--format", "json",
                  "--out", str(tmp_path / "out"))
    try:
        deadline = time.monotonic() + 30
        while not _node_pids(str(tmp_path)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _node_pids(str(tmp_path)), "no node process started"
        time.sleep(4)  # a few trials finish
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            _reap_nodes(str(tmp_path))  # the harness was killed: stop what it left, by PID, before failing
    assert proc.returncode == 130, err
    data = json.loads(out)
    assert data["run"]["interrupted"] is True
    assert 1 <= len(data["trials"]) < 50 * 6
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["trials"] == data["trials"]
    assert "interrupted" in (tmp_path / "out" / "report.md").read_text().lower()
    assert _node_pids(str(tmp_path)) == []
