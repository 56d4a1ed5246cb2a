"""Seeded chaos campaigns: crashes, restarts, partitions, loss, duplication, reordering; sizes 3, 5 and 7.

Every run carries the three Paxos safety observers (lease exclusion under the
drift bound, one leader per ballot, promises kept across restarts); any
violation raises with the seed. After the faults stop, the cluster must agree
on a leader; the time it takes is reported as median and p99 (run with -s).
"""
from __future__ import annotations

import statistics

import pytest

from quorumlab.algorithms.paxos import Paxos, PaxosConfig
from tests.paxos.scenarios import SIZES, chaos_run


def campaign(seeds: range, config: PaxosConfig | None = None, max_delays: tuple[int, ...] = (2, 5, 10, 30)) -> dict:
    times: dict[int, list[int]] = {n: [] for n in SIZES}
    stuck = []
    for seed in seeds:
        result = chaos_run(seed, config=config, max_delays=max_delays)
        if not result.recovered:
            stuck.append(seed)
        times[result.nodes].append(result.time_to_leader_ms)
    assert not stuck, f"no leader within 5 s after the faults stopped, seeds {stuck[:20]}"
    return {n: sorted(t) for n, t in times.items() if t}


def summarize(label: str, times: dict[int, list[int]]) -> dict[int, tuple[float, int]]:
    """(median, p99) per cluster size, printed for the report."""
    out = {}
    for n, t in times.items():
        p99 = t[max(0, int(round(0.99 * len(t))) - 1)]
        out[n] = (statistics.median(t), p99)
        print(f"paxos {label}: n={n} runs={len(t)} time to leader after faults stop: median {out[n][0]} ms, p99 {p99} ms, max {t[-1]} ms")
    return out


def test_chaos_seeds_keep_safety_and_recover():
    stats = summarize("chaos x240", campaign(range(240)))
    for n, (median, p99) in stats.items():
        assert p99 <= 2000, f"n={n}: p99 {p99} ms to a leader after faults stop"


@pytest.mark.campaign
def test_chaos_campaign_3000_seeds():
    stats = summarize("chaos x3000", campaign(range(1000, 4000)))
    for n, (median, p99) in stats.items():
        assert p99 <= 2000, f"n={n}: p99 {p99} ms to a leader after faults stop"


@pytest.mark.campaign
def test_chaos_campaign_with_a_loose_drift_bound():
    summarize("chaos drift=0.05 x1000", campaign(range(5000, 6000), config=PaxosConfig(max_clock_drift=0.05)))


@pytest.mark.campaign
def test_chaos_campaign_with_tight_timers():
    """Detection in 20-40 ms (lease 18 ms, renewal every 6 ms) on a 1-5 ms network: lease edges everywhere."""
    config = PaxosConfig(**Paxos.detection_config(20, 40))
    summarize("chaos tight x600", campaign(range(7000, 7600), config=config, max_delays=(1, 2, 5)))
