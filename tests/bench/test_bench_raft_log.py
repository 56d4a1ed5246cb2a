"""Raft log replication, measured: catch-up of a follower 100,000 entries behind (simulated; on real
processes ``bench catchup``), and commit throughput and latency on 3 real processes over ZeroMQ with
fsync (``bench throughput``), plus the CLI.

Numbers land in each benchmark's extra_info (``make bench-micro``); the full comparison with PySyncObj is
``bench throughput --nodes 3 --size 16 --duration 10 --outstanding K --pysyncobj`` (see docs/raft.md).
"""
from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from quorumlab.algorithms.raft import Raft
from quorumlab.bench.cli import main
from quorumlab.bench.throughput import measure_catch_up, measure_log
from quorumlab.core.cluster import LocalCluster
from quorumlab.core.runtime.addresses import format_cluster
from quorumlab.core.sim import Simulation


def catch_up(behind: int) -> dict:
    """A 3-node simulated cluster whose node 3 restarts with an empty log while the others hold ``behind`` entries."""
    sim = Simulation(Raft, 3, seed=1)
    assert sim.run_until(lambda s: s.unanimous_leader() is not None, 3_000)
    leader = sim.leader()
    sim.crash(3 if leader != 3 else 2)
    lagging = 3 if leader != 3 else 2
    while sim.node(leader).commit_index < behind:
        for k in range(2_000):
            sim.submit(b"entry-%d" % k)
        sim.run_for(20)
    target = sim.node(leader).log.last_index
    sent_before = sim.stats.sent_by_type["AppendEntries"]
    start = sim.now
    sim.restart(lagging)
    assert sim.run_until(lambda s: s.node(lagging).log.durable_index >= target, 60_000), "seed=1"
    return {
        "entries": target,
        "simulated_ms": sim.now - start,
        "append_messages": sim.stats.sent_by_type["AppendEntries"] - sent_before,
    }


@pytest.mark.benchmark(group="raft log: catch-up")
def test_bench_catch_up_of_a_follower_100000_entries_behind(benchmark):
    report = benchmark.pedantic(catch_up, args=(100_000,), rounds=1)
    benchmark.extra_info.update(report)
    assert report["entries"] >= 100_000
    # batches of 1,024 entries: a hundred or so messages (more where the simulated network reorders
    # pipelined ones and they are resent), not one per entry
    assert report["append_messages"] < 100_000 // 50


@pytest.mark.parametrize("outstanding,batch", [(1, 1), (200, 1), (400, 50)])
def test_bench_throughput_on_three_processes(outstanding, batch):
    report = measure_log(3, 16, 1.0, outstanding, batch)
    assert report["ops"] > 50, report
    if report["errors"]:
        # Only an election during the load explains errors, and only "maybe applied" or "ask the leader" ones: a
        # starved machine (the pure-Python twins on 2 cores) can let a follower's election timer run out.
        why = {k: report[k] for k in ("error_kinds", "leader_changes", "elections_started", "terms_raised")}
        assert report["terms_raised"] and all(k.startswith(("leadership lost", "not leader"))
                                              for k in report["error_kinds"]), why
    assert report["median_ms"] is not None and report["p99_ms"] >= report["median_ms"]
    print(json.dumps(report))


def test_bench_catch_up_on_real_processes_applies_every_missed_entry():
    report = measure_catch_up(3_000)
    assert report["entries_behind"] >= 3_000 and 0 < report["catch_up_ms"] < 30_000, report


def test_bench_catchup_cli_reports_the_log_path_and_the_snapshot_path():
    result = CliRunner().invoke(main, ["catchup", "--entries", "600", "--snapshot-entries", "100", "--json"])
    assert result.exit_code == 0, result.output
    log, snapshot = json.loads(result.stdout)
    assert log["by"] == "log" and log["config"] == {} and log["snapshot_bytes"] == 0
    assert snapshot["by"] == "snapshot" and snapshot["config"] == {"snapshot_entries": 100}, snapshot
    assert snapshot["snapshot_bytes"] > 0
    if snapshot["same_leader"]:  # bytes_sent counts the first leader's: a successor may have sent the image
        assert snapshot["bytes_sent"] >= snapshot["snapshot_bytes"], snapshot
    for report in (log, snapshot):
        assert report["entries_behind"] >= 600 and report["catch_up_ms"] > 0 and report["bytes_sent"] > 0, report


def test_bench_throughput_measures_several_read_modes_in_one_run_and_compares_them():
    result = CliRunner().invoke(main, ["throughput", "--reads", "log,linearizable,lease", "--config", "check_quorum=true",
                                       "--duration", "0.5", "--outstanding", "200", "--batch", "20"])
    assert result.exit_code == 0, result.output
    for mode in ("log reads", "linearizable reads", "lease reads"):
        assert mode in result.output
    assert "linearizable / log reads:" in result.output and "lease / log reads:" in result.output
    assert result.output.count(" ops, 0 errors)") == 3


def test_bench_throughput_versus_measures_other_settings_in_the_same_run_and_prints_the_ratio():
    result = CliRunner().invoke(main, ["throughput", "--duration", "0.5", "--outstanding", "200", "--batch", "20",
                                       "--versus", "snapshot_entries=100"])
    assert result.exit_code == 0, result.output
    assert result.output.count(" ops, 0 errors)") == 2
    assert "config {}" in result.output and "config {'snapshot_entries': '100'}" in result.output
    assert "ratio with snapshot_entries=100 / without: " in result.output


def test_bench_throughput_versus_is_refused_with_reads_and_checked_like_config():
    result = CliRunner().invoke(main, ["throughput", "--reads", "log", "--versus", "snapshot_entries=100"])
    assert result.exit_code != 0 and "--versus measures puts twice" in result.output
    result = CliRunner().invoke(main, ["throughput", "--versus", "snapshot_entries=-1"])
    assert result.exit_code != 0 and "snapshot_entries" in result.output


@pytest.mark.parametrize("args, message", [
    (["--reads", "lease"], "lease reads need --config check_quorum=true"),
    (["--reads", "log,fast"], "read modes are linearizable, lease, log, stale; got fast"),
])
def test_bench_throughput_refuses_read_modes_it_cannot_measure(args, message):
    result = CliRunner().invoke(main, ["throughput", *args])
    assert result.exit_code == 2 and message in result.output


def _children() -> set[int]:
    """PIDs of this process's children (from /proc)."""
    me = str(os.getpid())
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if fh.read().rsplit(")", 1)[1].split()[1] == me:
                        out.add(int(entry))
            except OSError:
                continue
    return out


def test_bench_floor_measures_the_bare_pattern_and_leaves_no_process():
    before = _children()
    result = CliRunner().invoke(main, ["floor", "--commands", "200", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["commands"] == 180 and 0 < report["median_ms"] <= report["p99_ms"]
    assert _children() <= before


def test_bench_kv_cli_put_get_cas_delete():
    with LocalCluster("raft", 3) as c:
        c.wait_for_leader(15)
        spec = ["--cluster", format_cluster(c.addresses), "--control", format_cluster(c.control_addresses),
                "--keys", c.keyring.path]
        runner = CliRunner()

        def kv(*args: str):
            return runner.invoke(main, ["kv", *args, *spec])

        assert kv("put", "color", "red").exit_code == 0
        got = kv("get", "color")
        assert got.exit_code == 0 and got.stdout.strip() == "red"
        assert kv("cas", "color", "blue", "green").exit_code == 1
        assert kv("cas", "color", "red", "green").exit_code == 0
        assert kv("get", "color").stdout.strip() == "green"
        assert kv("delete", "color").exit_code == 0
        missing = kv("get", "color")
        assert missing.exit_code == 1 and "(absent)" in missing.output
        reader = kv("put", "color", "grey", "--as", "reader", "--timeout", "2")
        assert reader.exit_code == 2 and "forbidden: the role 'read' may not propose" in reader.output
