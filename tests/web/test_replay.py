"""quorumlab.bench.web.replay: saved runs for the time slider (compare folders re-run exactly, event files as written)."""
from __future__ import annotations

import json

import pytest

from quorumlab.bench.compare import schema
from quorumlab.bench.compare.runner import CompareConfig, run
from quorumlab.bench.compare.runner_sim import SimTransport
from quorumlab.bench.check.processes import run_processes
from quorumlab.bench.check.simulated import run_simulated
from quorumlab.bench.check.spec import CheckSpec
from quorumlab.bench.web.replay import ReplayError, compare_trials, load_event_files, replay_check, replay_trial
from quorumlab.core.cluster import LocalCluster


@pytest.fixture(scope="module")
def compare_folder(tmp_path_factory):
    """A small `bench compare --transport sim` run, saved as the command saves it."""
    folder = tmp_path_factory.mktemp("compare")
    cfg = CompareConfig(("raft", "bully"), "sim", (5,), 2, ("crash", "partition"), (150, 300), (5, 15), 7)
    schema.dump(run(cfg, SimTransport((5, 15))), folder / "results.json")
    return folder


def test_a_simulator_trial_of_a_compare_folder_replays_exactly_with_the_metrics_it_recorded(compare_folder):
    trials = compare_trials(compare_folder)
    assert len(trials) == 2 * 2 * 2 and all(t["replayable"] for t in trials)
    crash = next(t for t in trials if t["algo"] == "raft" and t["scenario"] == "crash")
    bundle = replay_trial(compare_folder, crash["index"])
    assert bundle["label"].endswith("same metrics as recorded")
    assert any(e["kind"] == "crash" for e in bundle["events"])
    assert bundle["flights"] == sorted(bundle["flights"], key=lambda f: f[3])
    assert bundle["statuses"] and bundle["timers"] and bundle["exact"]


def test_a_compare_run_on_real_processes_is_listed_but_refused_with_the_reason(compare_folder, tmp_path):
    results = json.loads((compare_folder / "results.json").read_text())
    results["config"]["transport"] = "zmq"
    (tmp_path / "results.json").write_text(json.dumps(results))
    assert not any(t["replayable"] for t in compare_trials(tmp_path))
    with pytest.raises(ReplayError, match="only simulator trials"):
        replay_trial(tmp_path, 0)


def test_a_folder_without_events_or_results_says_what_it_expected(tmp_path):
    with pytest.raises(ReplayError, match="holds no events.jsonl"):
        load_event_files(tmp_path)


@pytest.mark.integration
def test_the_event_files_of_a_real_cluster_replay_its_elections_and_faults(tmp_path):
    with LocalCluster("raft", 3, data_dir=tmp_path / "run") as cluster:
        leader = cluster.wait_for_leader(10)
        cluster.stop(leader)
        cluster.wait_for_leader(10, among=[i for i in cluster.ids if i != leader])
    bundle = load_event_files(tmp_path / "run")
    kinds = {e["kind"] for e in bundle["events"]}
    assert {"started", "role", "leader", "stopped"} <= kinds
    assert bundle["algo"] == "raft" and bundle["ids"] == [1, 2, 3]
    assert [e["t"] for e in bundle["events"]] == sorted(e["t"] for e in bundle["events"])


def _check_folder(tmp_path, spec):
    """A `bench check` run saved as the command saves it."""
    from quorumlab.bench.check.report import judge, write

    runner = run_simulated if spec.transport == "sim" else (lambda s: run_processes(s, lambda line: None))
    checked = runner(spec)
    report, result = judge(checked)
    write(checked, report, result, tmp_path)
    return report


def test_a_simulated_check_run_replays_exactly_with_its_operations_faults_and_verdict(tmp_path):
    spec = CheckSpec("raft", nodes=3, clients=3, duration_s=5.0, seed=0, transport="sim", nemeses=("kill",))
    report = _check_folder(tmp_path, spec)
    bundle = replay_check(tmp_path)
    assert f"the same {sum(report['operations'].values())} operations as recorded" in bundle["label"]
    assert "verdict ok" in bundle["label"] and "faults: kill 2.0-" in bundle["label"]
    assert bundle["exact"] and bundle["flights"] and any(e["kind"] == "crash" for e in bundle["events"])


def test_a_check_report_the_code_no_longer_reproduces_says_so(tmp_path):
    spec = CheckSpec("raft", nodes=3, clients=2, duration_s=1.0, seed=2, transport="sim", nemeses=())
    _check_folder(tmp_path, spec)
    report = json.loads((tmp_path / "check.json").read_text())
    report["operations"]["ok"] += 1
    (tmp_path / "check.json").write_text(json.dumps(report))
    assert "the code changed since this run" in replay_check(tmp_path)["label"]


@pytest.mark.integration
def test_a_check_run_on_real_processes_keeps_and_replays_its_nodes_events(tmp_path):
    spec = CheckSpec("raft", nodes=3, clients=2, duration_s=5.0, seed=0, nemeses=("kill",), network="cooperative")
    _check_folder(tmp_path, spec)
    bundle = replay_check(tmp_path)
    kinds = {e["kind"] for e in bundle["events"]}
    assert {"started", "role", "leader", "crash"} <= kinds, kinds
    assert bundle["algo"] == "raft" and bundle["ids"] == [1, 2, 3] and "faults: kill" in bundle["label"]


def test_a_check_folder_without_a_readable_report_says_what_it_expected(tmp_path):
    (tmp_path / "check.json").write_text("{}")
    with pytest.raises(ReplayError, match="is not a `bench check` report"):
        replay_check(tmp_path)
