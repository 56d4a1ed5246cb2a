"""Task 3, randomized election timeout: drawn anew from [min, max] each time it is armed, from the node's RNG."""
from __future__ import annotations

import statistics

from quorumlab.algorithms.raft import ELECTION, AppendEntries, Raft, RaftConfig, RequestVote
from quorumlab.core.effects import SetTimer
from quorumlab.core.observers import Observer
from quorumlab.core.sim import Simulation
from quorumlab.core.testing import arrive, timers
from tests.raft.helpers import make_node


def draws(seed: int, count: int, config: RaftConfig | None = None) -> list[int]:
    """The election timeouts one node arms over ``count`` consecutive elections."""
    node, effects = make_node(seed=seed, config=config)
    out = timers(effects, ELECTION)
    for k in range(count - 1):
        out += timers(node.fire(ELECTION, 1000 * (k + 1)), ELECTION)
    return out


def test_timeout_is_drawn_anew_each_time_and_stays_in_range():
    values = draws(seed=3, count=3000)
    assert min(values) == 150 and max(values) == 300  # both ends are reachable (inclusive range)
    assert len(set(values)) == 151
    assert abs(statistics.mean(values) - 225) < 4


def test_timeout_follows_the_configured_range():
    values = draws(seed=4, count=500, config=RaftConfig(election_timeout_min=1000, election_timeout_max=1010, heartbeat_interval=100))
    assert set(values) <= set(range(1000, 1011)) and len(set(values)) > 5


def test_same_seed_same_timeouts_different_seed_different_timeouts():
    assert draws(seed=9, count=50) == draws(seed=9, count=50)
    assert draws(seed=9, count=50) != draws(seed=10, count=50)


def test_timer_is_redrawn_on_heartbeat_and_on_granting_a_vote():
    node, _ = make_node(2, seed=1)
    on_heartbeat = [timers(node.receive(arrive(AppendEntries, 1, 2, 1), 10 * k), ELECTION)[0] for k in range(1, 40)]
    assert len(set(on_heartbeat)) > 10
    node, _ = make_node(2, seed=1)
    granted = timers(node.receive(arrive(RequestVote, 3, 2, 1), 5), ELECTION)
    assert len(granted) == 1 and 150 <= granted[0] <= 300


class ArmedTimeouts(Observer):
    """Records every election timeout a node arms, per node, in order."""

    def __init__(self) -> None:
        self.armed: dict[int, list[tuple[int, int]]] = {}

    def on_effect(self, sim, node, effect):
        if type(effect) is SetTimer and effect.name == ELECTION:
            self.armed.setdefault(node, []).append((sim.now, effect.delay_ms))


def test_follower_that_hears_nothing_becomes_candidate_exactly_when_its_timeout_expires():
    for seed in range(20):
        armed = ArmedTimeouts()
        sim = Simulation(Raft, 5, seed=seed, observers=[armed])
        first_deadline = min(d for (_, d), *_ in armed.armed.values())
        sim.run_until(lambda s: any(e["kind"] == "election_started" for e in s.events), 1000)
        first = next(e for e in sim.events if e["kind"] == "election_started")
        assert first["t"] == first_deadline, f"seed={seed}"
        assert armed.armed[first["node"]][0][1] == first_deadline, f"seed={seed}"


def test_randomization_makes_simultaneous_timeouts_rare():
    """As in etcd's nonconflict test: how often does a second of 5 nodes time out within 2 ms of the first?"""
    nodes = [make_node(i, (1, 2, 3, 4, 5), seed=100 + i)[0] for i in range(1, 6)]
    rounds, close = 2000, 0
    for r in range(1, rounds + 1):
        deadlines = sorted(timers(n.fire(ELECTION, 1000 * r), ELECTION)[0] for n in nodes)
        close += deadlines[1] - deadlines[0] <= 2
    assert close / rounds < 0.12


def test_same_seed_replays_the_same_election_event_for_event():
    runs = []
    for _ in range(2):
        sim = Simulation(Raft, 5, seed=77)
        sim.run_for(2000)
        runs.append(sim.events)
    assert runs[0] == runs[1]
