"""bench.web.replay: saved runs for the time slider (compare folders re-run exactly, event files as written)."""
from __future__ import annotations

import json

import pytest

from bench.compare import schema
from bench.compare.runner import CompareConfig, run
from bench.compare.runner_sim import SimTransport
from bench.web.replay import ReplayError, compare_trials, load_event_files, replay_trial
from core.cluster import LocalCluster


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
