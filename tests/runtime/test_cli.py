"""``bench node``, ``bench status`` and ``bench cluster`` from the command line."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest
import zmq
from click.testing import CliRunner

from quorumlab.bench.cli import main
from quorumlab.core.cluster import LocalCluster, free_ports
from quorumlab.core.datadir import Identity
from quorumlab.core.storage import STATE_FILE, FileStorage
from quorumlab.core.runtime.addresses import format_cluster
from quorumlab.core.runtime.eventlog import EventFollower
from tests.runtime.helpers import processes_mentioning

WAIT = 20.0


def run_node(*args: str):
    """``bench node`` in plain mode (these tests are about its other checks)."""
    return CliRunner().invoke(main, ["node", *args, "--insecure"])


def cluster_spec(n: int = 3) -> str:
    return format_cluster({i: f"tcp://127.0.0.1:{p}" for i, p in enumerate(free_ports(n), start=1)})


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["--algo", "raft", "--config", "election_timeout_min=1"], "RaftConfig.election_timeout_min = 1ms is out of range"),
        (["--algo", "raft", "--config", "heartbeat_interval=fast"], "heartbeat_interval must be int"),
        (["--algo", "raft", "--config", "nonsense"], "is not KEY=VALUE"),
        (["--algo", "raft", "--config", "colour=blue"], "has no field 'colour'"),
        (["--algo", "no-such-algo"], "unknown algorithm 'no-such-algo'"),
    ],
)
def test_bad_node_arguments_exit_2_with_the_reason_and_no_traceback(tmp_path, args, complaint):
    result = run_node("--id", "1", "--cluster", cluster_spec(), "--data-dir", str(tmp_path), *args)
    assert result.exit_code == 2, result.output
    assert complaint in result.output
    assert "Traceback" not in result.output


def test_node_id_missing_from_the_cluster_exits_2(tmp_path):
    result = run_node("--algo", "raft", "--id", "7", "--cluster", cluster_spec(), "--data-dir", str(tmp_path))
    assert result.exit_code == 2 and "--id 7 is not in --cluster" in result.output


def test_damaged_state_file_stops_the_node_naming_the_file(tmp_path):
    storage = FileStorage(tmp_path, Identity(cluster_id=1, node_id=1, algo="raft"))
    storage.write({"term": 3})
    storage.close()
    path = tmp_path / STATE_FILE
    raw = path.read_bytes()
    path.write_bytes(raw[:9] + bytes([raw[9] ^ 1]) + raw[10:])  # the header's slot size: neither slot can be read
    result = run_node("--algo", "raft", "--id", "1", "--cluster", cluster_spec(), "--data-dir", str(tmp_path))
    assert result.exit_code == 1
    assert str(path) in result.output and "checksum" in result.output


def test_a_data_dir_of_another_node_stops_the_node_naming_both(tmp_path):
    FileStorage(tmp_path, Identity(cluster_id=1, node_id=2, algo="raft")).close()
    result = run_node("--algo", "raft", "--id", "1", "--cluster", cluster_spec(), "--data-dir", str(tmp_path))
    assert result.exit_code == 1
    assert "belongs to cluster 1, node 2, algorithm raft" in result.output
    assert "refusing to start cluster 1, node 1, algorithm raft" in result.output


def test_busy_port_exits_1_naming_the_addresses(tmp_path):
    spec = cluster_spec()
    host_port = spec.split(",")[0].split("//")[1]
    busy = socket.socket()
    busy.bind(("127.0.0.1", int(host_port.split(":")[1])))
    busy.listen()
    try:
        result = run_node("--algo", "raft", "--id", "1", "--cluster", spec, "--data-dir", str(tmp_path),
                          "--control", f"tcp://127.0.0.1:{free_ports(1)[0]}", "--events", f"tcp://127.0.0.1:{free_ports(1)[0]}")
    finally:
        busy.close()
    assert result.exit_code == 1 and "cannot use its sockets" in result.output and host_port in result.output


@pytest.mark.integration
def test_status_prints_every_node_and_exits_1_when_one_is_down():
    with LocalCluster("raft", 3) as c:
        leader = c.wait_for_leader(WAIT)
        args = ["status", "--cluster", format_cluster(c.addresses), "--control", format_cluster(c.control_addresses),
                "--keys", c.keyring.path]
        table = CliRunner().invoke(main, args)
        assert table.exit_code == 0, table.output
        assert "leader" in table.output and "follower" in table.output
        doc = json.loads(CliRunner().invoke(main, [*args, "--json"]).stdout)
        assert {int(k): v["leader"] for k, v in doc.items()} == {1: leader, 2: leader, 3: leader}
        c.crash(3)
        down = CliRunner().invoke(main, [*args, "--timeout", "0.3"])
        assert down.exit_code == 1 and "no reply" in down.output


@pytest.mark.integration
def test_cluster_command_runs_until_ctrl_c_then_stops_every_node_and_says_where_the_logs_are(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "quorumlab.bench.cli", "cluster", "--algo", "raft", "-n", "3", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ctx = zmq.Context()
    follower = EventFollower(ctx, [str(tmp_path / str(i) / "events.jsonl") for i in (1, 2, 3)], [])
    try:
        follower.wait_for(lambda e: e["kind"] == "role" and e["to"] == "leader", WAIT)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        follower.close()
        ctx.term()
    assert proc.returncode == 0, output
    assert "interrupted: stopped every node process" in output
    assert f"data: {tmp_path}" in output
    for i in (1, 2, 3):
        assert str(tmp_path / str(i) / "events.jsonl") in output
    assert processes_mentioning(str(tmp_path)) == []
    stopped = [e for e in events_in(tmp_path) if e["kind"] == "stopped"]
    assert sorted(e["node"] for e in stopped) == [1, 2, 3]


@pytest.mark.integration
def test_cluster_command_with_a_duration_stops_by_itself(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "quorumlab.bench.cli", "cluster", "--algo", "raft", "-n", "3", "--data-dir", str(tmp_path), "--duration", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stopped every node process" in result.stdout and "interrupted" not in result.stdout
    assert processes_mentioning(str(tmp_path)) == []


def events_in(data_dir) -> list[dict]:
    """Every event in a cluster data dir's event logs."""
    events = []
    for entry in sorted(os.listdir(data_dir)):
        path = os.path.join(data_dir, entry, "events.jsonl")
        if os.path.exists(path):
            with open(path) as fh:
                events += [json.loads(line) for line in fh if line.strip()]
    return events
