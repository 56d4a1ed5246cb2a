"""The simulator mode: a seed replays exactly, raft passes, and the broken raft variants are caught."""
from __future__ import annotations

import concurrent.futures as cf

import pytest

from quorumlab.bench.check.campaign import check_seed, run_seeds
from quorumlab.bench.check.report import judge
from quorumlab.bench.check.simulated import run_simulated
from quorumlab.bench.check.spec import CheckSpec
from tests.check_bench.mutants import AckBeforeCommit, KeepsLeading, ServesReadsFromOwnState


def spec(algo: str = "raft", **kw) -> CheckSpec:
    return CheckSpec(algo, **{"transport": "sim", "duration_s": 8.0, **kw})


def spec_of(cls: type, **kw) -> CheckSpec:
    return spec(f"{cls.__module__}:{cls.__qualname__}", observers=False, **kw)


def test_one_seed_gives_the_same_history_and_faults_every_time():
    a, b = run_simulated(spec(seed=3, duration_s=5.0)), run_simulated(spec(seed=3, duration_s=5.0))
    assert a.faults and a.history.operations() == b.history.operations()
    assert [f.to_dict() for f in a.faults] == [f.to_dict() for f in b.faults]


def test_raft_under_every_nemesis_is_linearizable_with_exact_outcomes():
    report, result = judge(run_simulated(spec(seed=1, duration_s=10.0)))
    assert report["verdict"] == "ok" and report["observer"] is None
    ops = report["operations"]
    assert ops["ok"] > 1000 and ops["indeterminate"] < 0.01 * ops["ok"]
    assert report["faults"] and all(f["end"] > f["start"] for f in report["faults"])
    assert 0 < report["availability"]["served_fraction"] < 1


def first_caught(make, seeds: range) -> int | None:
    """The first seed whose run is not linearizable (judged by the history alone)."""
    return next((s for s in seeds if check_seed(make(s)).verdict == "violation"), None)


def test_a_leader_that_acknowledges_before_commit_is_caught_within_five_seeds():
    assert first_caught(lambda s: spec_of(AckBeforeCommit, seed=s, duration_s=20.0), range(5)) is not None


def test_a_follower_that_serves_reads_from_its_own_state_is_caught_within_five_seeds():
    assert first_caught(lambda s: spec_of(ServesReadsFromOwnState, seed=s, duration_s=20.0, read_from="any"),
                        range(5)) is not None


@pytest.mark.parametrize("reads, read_from, config", [
    ("linearizable", "any", ()), ("lease", "leader", (("check_quorum", "true"),)),
    ("lease", "any", (("check_quorum", "true"),)), ("log", "leader", ())])
def test_every_read_mode_is_linearizable_under_every_nemesis(reads, read_from, config):
    report, _ = judge(run_simulated(spec(seed=2, duration_s=10.0, reads=reads, read_from=read_from, config=config)))
    assert report["verdict"] == "ok" and report["observer"] is None
    assert report["operations"]["ok"] > 1000


def test_stale_reads_at_any_node_are_caught():
    report, _ = judge(run_simulated(spec(seed=1, duration_s=10.0, reads="stale", read_from="any")))
    assert report["verdict"] == "violation"


@pytest.mark.campaign
def test_a_leader_that_does_not_step_down_on_a_higher_term_is_caught_within_ten_seeds():
    assert first_caught(lambda s: spec_of(KeepsLeading, seed=s, duration_s=20.0), range(10)) is not None


def test_a_safety_observer_stops_a_broken_run_and_makes_it_a_violation():
    report, _ = judge(run_simulated(spec(f"{KeepsLeading.__module__}:KeepsLeading", seed=3, duration_s=20.0)))
    assert report["verdict"] == "violation" and "log matching" in report["observer"]


def test_verdicts_do_not_depend_on_the_number_of_workers():
    s = spec_of(AckBeforeCommit, duration_s=3.0)
    one = run_seeds(s, range(3), cf.ThreadPoolExecutor(1), window=1)
    with cf.ProcessPoolExecutor(2) as pool:
        two = run_seeds(s, range(3), pool, window=4)
    assert [(r.seed, r.verdict, r.ok, r.failed, r.indeterminate) for r in one] == \
           [(r.seed, r.verdict, r.ok, r.failed, r.indeterminate) for r in two]


def test_a_dask_cluster_runs_the_same_campaign():
    distributed = pytest.importorskip("distributed", reason="Dask's distributed is not installed "
                                      "(pip install 'quorumlab[dask]')")
    s = spec(duration_s=2.0)
    alone = run_seeds(s, range(2), cf.ThreadPoolExecutor(1), window=1)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as lc, \
            distributed.Client(lc) as client:
        on_dask = run_seeds(s, range(2), client.get_executor(), window=4)
    assert [(r.seed, r.verdict, r.ok) for r in on_dask] == [(r.seed, r.verdict, r.ok) for r in alone]
