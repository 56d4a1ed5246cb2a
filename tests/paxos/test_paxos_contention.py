"""Forced contention: every node's detection timer fires at the same instant.

All nodes run phase 1 at once with ballots (1, id): they duel. A proposer that
promises a higher foreign ballot yields for a detection period, and one that
loses a round backs off for a randomized, growing time. The tests report the
phase 1 rounds until a leader and show, with ablations, that this resolves the
duel: backoff alone still converges, and with neither backoff nor yielding
the proposers keep preempting each other.
"""
from __future__ import annotations

import statistics

from quorumlab.core.sim import Network, Simulation

from quorumlab.algorithms.paxos import DETECT, Paxos, ProposerState


class BackoffOnly(Paxos):
    """Ablation: a preempted proposer does not yield; it backs off like after any lost round."""

    def _yield_to(self, now: int, reason: str) -> None:
        if self.proposer is not ProposerState.WAITING:
            self._round_failed(now, reason)
        else:
            self._arm_detect()


class Eager(Paxos):
    """Ablation: no backoff, no yielding, no quiet period: retry 1 ms after any loss."""

    def _backoff_ms(self) -> int:
        return 1

    def _blocked_until(self, now: int) -> int:
        return 0

    def _yield_to(self, now: int, reason: str) -> None:
        if self.proposer is not ProposerState.WAITING:
            self.note("election_lost", term=self.ballot[0], reason=reason)
            self._close_round()
        self._enter(ProposerState.WAITING)
        self.set_timer(DETECT, 1)


def contend(algo: type[Paxos], nodes: int, seed: int, timeout_ms: int = 3000, delay_hi: int = 10) -> tuple[bool, int, int, int]:
    """(elected, phase-1 rounds started until the first win, rounds lost, ms to the first win)."""
    sim = Simulation(algo, nodes, seed=seed, network=Network(delay_ms=(1, delay_hi)))
    sim.trigger(sim.ids, DETECT)
    ok = sim.run_until(lambda s: s.unanimous_leader() is not None, timeout_ms)
    won = [e["t"] for e in sim.events if e["kind"] == "election_won"]
    until = won[0] if won else sim.now
    started = sum(1 for e in sim.events if e["kind"] == "election_started" and e["t"] <= until)
    lost = sum(1 for e in sim.events if e["kind"] == "election_lost" and e["t"] <= until)
    return ok, started, lost, until


def rounds_table(algo: type[Paxos], sizes=(3, 5, 7), seeds=range(100)) -> dict[int, dict]:
    table = {}
    for n in sizes:
        runs = [contend(algo, n, seed) for seed in seeds]
        stuck = [seed for seed, r in zip(seeds, runs) if not r[0]]
        rounds = sorted(r[1] for r in runs)
        times = sorted(r[3] for r in runs)
        table[n] = {
            "stuck": stuck,
            "rounds_median": statistics.median(rounds),
            "rounds_max": rounds[-1],
            "lost": sum(r[2] for r in runs),
            "min_lost": min(r[2] for r in runs),
            "ms_median": statistics.median(times),
            "ms_max": times[-1],
        }
        print(f"{algo.__name__} contention n={n}: rounds until leader median {table[n]['rounds_median']} max {rounds[-1]}, "
              f"ms median {table[n]['ms_median']} max {times[-1]}, rounds lost {table[n]['lost']}, stuck {len(stuck)}")
    return table


def test_aligned_detection_duels_then_one_leader_emerges():
    for n, row in rounds_table(Paxos).items():
        assert not row["stuck"], f"n={n}: no leader for seeds {row['stuck']}"
        assert row["min_lost"] >= 1, f"n={n}: some run had no competing round lost, so no duel was forced"
        assert row["rounds_max"] <= 3 * n
        assert row["ms_max"] <= 500


def test_backoff_alone_resolves_the_duel():
    for n, row in rounds_table(BackoffOnly).items():
        assert not row["stuck"], f"n={n}: backoff did not resolve contention for seeds {row['stuck']}"


def test_without_backoff_or_yielding_proposers_keep_preempting_each_other():
    seeds = range(12)
    runs = [contend(Eager, 3, seed, timeout_ms=1000) for seed in seeds]
    stuck = sum(1 for r in runs if not r[0])
    rounds = statistics.median(r[1] for r in runs)
    print(f"Eager contention n=3: stuck {stuck}/{len(runs)}, median rounds {rounds}")
    assert rounds >= 10 * statistics.median(contend(Paxos, 3, seed)[1] for seed in seeds)
