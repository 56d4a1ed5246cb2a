"""`bench compare --transport sim` end to end: reproducible JSON, the seed's table, plugins, report, plots."""
from __future__ import annotations

import json

from quorumlab.bench.compare import schema
from tests.compare.conftest import bench, results_without_run

SEED_ROWS = ["Core idea", "Split-vote handling", "Election speed", "Stable leader", "Message cost", "Partition safety"]
ALGOS = ["raft", "paxos", "bully"]


def _failures(results: dict) -> list[str]:
    return [f"{t['algo']} {t['scenario']} seed={t['seed']}: {t['error']}" for t in results["trials"] if not t["ok"]]


def test_sim_run_with_a_fixed_seed_gives_identical_json_twice(tmp_path):
    outs = []
    for name in ("a", "b"):
        r = bench("compare", "--transport", "sim", "--algos", ",".join(ALGOS), "--trials", "3", "--seed", "11",
                  "--format", "json", "--out", str(tmp_path / name))
        assert r.exit_code == 0, r.output
        outs.append(results_without_run(r.stdout))
    assert outs[0] == outs[1]
    saved = [results_without_run((tmp_path / n / "results.json").read_text()) for n in ("a", "b")]
    assert saved[0] == saved[1] == outs[0]
    assert not _failures(outs[0]), _failures(outs[0])
    assert {t["scenario"] for t in outs[0]["trials"]} == {"cold-start", "crash", "pause", "partition", "rejoin", "contention"}
    assert len(outs[0]["trials"]) == 3 * 6 * 3


def test_a_different_seed_gives_different_trials(tmp_path):
    runs = []
    for seed in ("1", "2"):
        r = bench("compare", "--transport", "sim", "--algos", "raft", "--trials", "3", "--seed", seed,
                  "--scenarios", "crash", "--format", "json", "--out", str(tmp_path / seed))
        runs.append(json.loads(r.stdout)["trials"])
    assert [t["metrics"] for t in runs[0]] != [t["metrics"] for t in runs[1]]


def test_table_has_a_column_per_algorithm_and_the_seed_rows(tmp_path):
    r = bench("compare", "--transport", "sim", "--algos", ",".join(ALGOS), "--trials", "2", "--format", "markdown",
              "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    header = lines.index("| Dimension | raft | paxos | bully |")
    rows = [line.split(" | ")[0].lstrip("| ") for line in lines[header + 2: header + 2 + len(SEED_ROWS)]]
    assert rows == SEED_ROWS
    for line in lines[header + 2: header + 2 + len(SEED_ROWS)]:
        cells = line.strip("|").split(" | ")
        assert len(cells) == 4 and all(c.strip() and "not measured" not in c for c in cells), line
    for scenario in ("cold-start", "crash", "pause", "partition", "rejoin", "contention"):
        assert any(line.startswith(f"## {scenario}: ") for line in lines), scenario
    assert (tmp_path / "report.md").read_text() == r.stdout


def test_terminal_table_shows_the_same_rows_and_columns(tmp_path):
    r = bench("compare", "--transport", "sim", "--algos", ",".join(ALGOS), "--trials", "2", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    header = next(line for line in r.stdout.splitlines() if "Dimension" in line)
    assert [c.strip() for c in header.strip("┃ ").split("┃")] == ["Dimension", *ALGOS]
    for row in SEED_ROWS:
        assert f"│ {row}" in r.stdout


def test_each_algorithm_runs_with_its_own_mapping_of_the_detection_range(tmp_path):
    from quorumlab.core import registry

    r = bench("compare", "--transport", "sim", "--algos", ",".join(ALGOS), "--trials", "1", "--scenarios", "crash",
              "--detect-ms", "200-400", "--format", "json", "--out", str(tmp_path))
    data = json.loads(r.stdout)
    for name in ALGOS:
        mapped = registry.load(name).detection_config(200, 400)
        assert mapped, f"{name} maps no timers"
        assert {k: data["algorithms"][name]["config"][k] for k in mapped} == mapped
    assert data["config"]["detect_ms"] == [200, 400]


def test_a_third_party_plugin_is_compared_without_any_change_to_bench(tmp_path, plugin_site):
    r = bench("compare", "--transport", "sim", "--algos", "pocketvote,lowest,raft", "--trials", "2",
              "--format", "json", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert not _failures(data), _failures(data)
    assert data["algorithms"]["pocketvote"]["origin"] == "pocketvote:PocketVote"
    crash = data["stats"]["crash"]["pocketvote"]["5"]
    assert crash["failover_ms"]["n"] == 2 and crash["messages"]["median"] > 0


def test_unknown_algorithm_is_refused_with_the_list_of_available_ones(tmp_path):
    r = bench("compare", "--transport", "sim", "--algos", "raft,zab", "--out", str(tmp_path))
    assert r.exit_code == 2
    assert "unknown algorithm 'zab'" in r.output and "bully, " in r.output and "raft" in r.output


def test_bad_options_are_refused_with_the_reason(tmp_path):
    assert "--latency-ms" in bench("compare", "--transport", "zmq", "--latency-ms", "5-10").output
    assert "LO-HI" in bench("compare", "--transport", "sim", "--detect-ms", "300-150").output
    assert "unknown scenario(s) storm" in bench("compare", "--transport", "sim", "--scenarios", "crash,storm").output
    assert "at least 3" in bench("compare", "--transport", "sim", "--nodes", "5,2").output


def test_config_sets_one_algorithms_setting_records_it_and_reproduces_it(tmp_path):
    r = bench("compare", "--transport", "sim", "--algos", "raft,paxos", "--trials", "2", "--scenarios", "partition",
              "--config", "raft.pre_vote=true", "--config", "raft.check_quorum=on", "--format", "json",
              "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    results = json.loads(r.stdout)
    assert results["config"]["settings"] == [["raft", "pre_vote", "true"], ["raft", "check_quorum", "on"]]
    raft, paxos = results["algorithms"]["raft"]["config"], results["algorithms"]["paxos"]["config"]
    assert raft["pre_vote"] is True and raft["check_quorum"] is True and raft["election_timeout_min"] == 150
    assert "pre_vote" not in paxos
    report = (tmp_path / "report.md").read_text()
    assert "--config raft.pre_vote=true --config raft.check_quorum=on" in report
    assert "settings beyond the fair defaults: raft.pre_vote=true, raft.check_quorum=on" in report


def test_config_refuses_unknown_settings_foreign_algorithms_and_the_mapped_timers(tmp_path):
    def refused(*items: str) -> str:
        r = bench("compare", "--transport", "sim", "--algos", "raft", "--trials", "1", "--out", str(tmp_path),
                  *[a for item in items for a in ("--config", item)])
        assert r.exit_code == 2
        return r.output

    assert "no field 'nope'" in refused("raft.nope=1")
    assert "'bully' is not among --algos" in refused("bully.quorum_gated=true")
    assert "is set from --detect-ms" in refused("raft.heartbeat_interval=10")
    assert "ALGO.KEY=VALUE" in refused("pre_vote=true")
    assert "must be bool" in refused("raft.pre_vote=maybe")


def test_report_renders_a_saved_run_again(tmp_path):
    r = bench("compare", "--transport", "sim", "--algos", "raft,bully", "--trials", "2", "--format", "markdown",
              "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    again = bench("report", str(tmp_path), "--format", "markdown")
    assert again.exit_code == 0, again.output
    assert again.stdout == r.stdout == (tmp_path / "report.md").read_text()
    assert "| Dimension | raft | bully |" in bench("report", str(tmp_path), "--format", "markdown", "--rewrite").stdout


def test_report_refuses_a_directory_without_results(tmp_path):
    r = bench("report", str(tmp_path))
    assert r.exit_code == 1 and "results.json" in r.output


def test_report_refuses_another_schema_version(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"schema": schema.SCHEMA, "version": 99}))
    r = bench("report", str(tmp_path))
    assert r.exit_code == 1 and "version 99" in r.output


def test_sweep_writes_both_plots_and_a_row_per_size(tmp_path):
    r = bench("compare", "--transport", "sim", "--algos", ",".join(ALGOS), "--nodes", "3,5,9,17", "--trials", "2",
              "--scenarios", "crash", "--format", "markdown", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    for png in ("failover_cdf.png", "messages_vs_nodes.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"![{png}]({png})" in r.stdout
    for size in (3, 5, 9, 17):
        assert f"| n={size} messages |" in r.stdout
    data = json.loads((tmp_path / "results.json").read_text())
    med = {n: data["stats"]["crash"]["bully"][str(n)]["messages"]["median"] for n in (3, 17)}
    assert med[17] > med[3]


def test_every_metric_is_defined_in_the_catalog_and_the_docs():
    from pathlib import Path

    from quorumlab.bench.compare.scenarios import SCENARIOS

    docs = (Path(__file__).parents[2] / "docs" / "compare.md").read_text()
    used = {m for sc in SCENARIOS.values() for m in sc.metrics}
    assert used == set(schema.METRICS)
    for metric in schema.METRICS:
        assert f"`{metric}`" in docs, metric


def test_a_cut_off_leader_without_leases_is_reported_as_keeping_its_minority(tmp_path, plugin_site):
    # pocketvote's leader never steps down unless it hears a higher term: cut off, it leads on
    r = bench("compare", "--transport", "sim", "--algos", "pocketvote", "--trials", "3", "--scenarios", "partition",
              "--seed", "5", "--format", "json", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    trials = json.loads(r.stdout)["trials"]
    assert [t["ok"] for t in trials] == [True] * 3, _failures({"trials": trials})
    for t in trials:
        m = t["metrics"]
        assert (m["minority_leader"], m["max_leaders"], m["max_leaders_same_term"]) == (1, 2, 1), f"seed={t['seed']}: {m}"


def test_every_results_json_field_is_documented_in_docs_compare_md(tmp_path):
    import re
    from pathlib import Path

    docs = (Path(__file__).parents[2] / "docs" / "compare.md").read_text()
    block = docs.split("## results.json", 1)[1].split("```")[1]
    documented = set(re.findall(r'"(\w+)"', block))
    r = bench("compare", "--transport", "sim", "--algos", "raft", "--trials", "1", "--scenarios", "crash",
              "--format", "json", "--out", str(tmp_path))
    data = json.loads(r.stdout)
    top = set(re.findall(r'^  "(\w+)":', block, re.M))
    assert set(data) == top
    shown = set(data) | set(data["machine"]) | set(data["run"]) | set(data["config"]) | set(data["algorithms"]["raft"])
    shown |= set(data["trials"][0]) | set(data["stats"]["crash"]["raft"]["5"]["failover_ms"])
    assert shown <= documented, shown - documented


def test_simulated_latency_shows_raft_winning_in_one_round_trip_and_paxos_in_two(tmp_path):
    r = bench("compare", "--transport", "sim", "--algos", "raft,paxos", "--trials", "10", "--scenarios", "crash",
              "--latency-ms", "10-30", "--seed", "3", "--format", "json", "--out", str(tmp_path))
    stats = json.loads(r.stdout)["stats"]["crash"]
    assert 0.75 <= stats["raft"]["5"]["round_trips"]["median"] <= 1.5, stats["raft"]["5"]["round_trips"]
    assert 1.6 <= stats["paxos"]["5"]["round_trips"]["median"] <= 2.6, stats["paxos"]["5"]["round_trips"]
