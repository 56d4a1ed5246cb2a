"""The example plugin (examples/plugin), found through its entry point and run in the simulator.

`make test` installs it (`pip install -e examples/plugin`); nothing here imports it directly,
so the test fails if the entry-point registration is broken.
"""
from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from quorumlab.core import ConfigError, ElectionAlgorithm, Role, registry
from quorumlab.core.errors import InvariantViolation
from quorumlab.core.sim import Network, Simulation

SEED = 8


@pytest.fixture(scope="module")
def lowest() -> type[ElectionAlgorithm]:
    return registry.load("lowest")


def test_the_plugin_is_registered_by_its_own_distribution():
    (ep,) = [ep for ep in entry_points(group=registry.GROUP) if ep.name == "lowest"]
    assert ep.value == "quorumlab_lowest_id:LowestId"
    assert ep.dist.name == "quorumlab-lowest-id"
    assert "lowest" in registry.available()


def test_the_plugin_declares_the_whole_contract(lowest):
    assert issubclass(lowest, ElectionAlgorithm)
    assert lowest.name == "lowest" and lowest.description and lowest.detection_timer == "check"
    assert [m.name for m in lowest.messages] == ["Alive"]
    assert lowest.Config().interval_ms == 50 and lowest.Config().timeout_ms == 200


def test_node_1_leads_then_2_when_1_crashes_then_1_again_after_restart(lowest):
    sim = Simulation(lowest, 5, seed=SEED, network=Network(delay_ms=(1, 5), loss=0.05))
    assert sim.run_until(lambda s: s.unanimous_leader() == 1, timeout_ms=1000), f"seed={SEED}"
    assert [n for n, _ in sim.leaders()] == [1], f"seed={SEED}"
    term_before = sim.node(1).term

    sim.crash(1)
    crashed_at = sim.now
    assert sim.run_until(lambda s: s.unanimous_leader() == 2, timeout_ms=1000), f"seed={SEED}"
    cfg = sim.config
    assert sim.now - crashed_at <= cfg.timeout_ms + cfg.interval_ms + 5, f"seed={SEED}: detected too late"
    assert [n for n, _ in sim.leaders()] == [2], f"seed={SEED}"

    sim.restart(1)
    assert sim.run_until(lambda s: s.unanimous_leader() == 1, timeout_ms=1000), f"seed={SEED}"
    assert [n for n, _ in sim.leaders()] == [1], f"seed={SEED}"
    assert sim.node(1).term > term_before, f"seed={SEED}: the term is read back from storage and grows"
    sim.run_for(2000)
    assert sim.unanimous_leader() == 1, f"seed={SEED}: a stable cluster keeps its leader"


def test_a_partition_gives_each_side_its_own_lowest_leader(lowest):
    sim = Simulation(lowest, 5, seed=SEED)
    sim.run_until(lambda s: s.unanimous_leader() == 1, timeout_ms=1000)
    sim.partition([1, 2], [3, 4, 5])
    assert sim.run_until(lambda s: s.unanimous_leader(among=[3, 4, 5]) == 3, timeout_ms=1000), f"seed={SEED}"
    assert sim.unanimous_leader(among=[1, 2]) == 1
    sim.heal()
    assert sim.run_until(lambda s: s.unanimous_leader() == 1, timeout_ms=1000), f"seed={SEED}"


def test_terms_count_leader_changes_and_only_grow(lowest):
    sim = Simulation(lowest, 3, seed=SEED)
    sim.run_for(500)
    assert [sim.node(i).term for i in sim.ids] == [1, 1, 1]
    sim.crash(1)
    sim.run_for(500)
    assert [sim.node(i).term for i in (2, 3)] == [2, 2]
    sim.restart(1)
    sim.run_for(500)
    assert [sim.node(i).term for i in sim.ids] == [2, 3, 3]
    assert [sim.node(i).role for i in sim.ids] == [Role.LEADER, Role.FOLLOWER, Role.FOLLOWER]


def test_forgetting_the_term_on_restart_is_caught_by_the_plugins_observer(lowest):
    class Forgetful(lowest):
        def on_start(self, now):
            self.storage.write({})
            self.storage.flush()
            super().on_start(now)

    sim = Simulation(Forgetful, 3, seed=SEED)
    sim.run_for(500)
    sim.crash(1)
    sim.run_for(500)
    sim.restart(1)
    sim.run_for(500)
    assert sim.node(2).term == 3, f"seed={SEED}"
    sim.crash(2)
    sim.restart(2)
    with pytest.raises(InvariantViolation, match="term went back: node 2"):
        sim.run_for(500)


def test_detection_config_spans_the_requested_range(lowest):
    overrides = lowest.detection_config(150, 300)
    cfg = lowest.Config().replace(**overrides)
    assert cfg.timeout_ms - cfg.interval_ms == 150 and cfg.timeout_ms + cfg.interval_ms == 300
    tight = lowest.Config().replace(**lowest.detection_config(100, 100))
    assert tight.timeout_ms > tight.interval_ms


def test_config_refuses_a_timeout_not_longer_than_the_heartbeat(lowest):
    with pytest.raises(ConfigError, match="timeout_ms .* interval_ms"):
        lowest.Config(interval_ms=100, timeout_ms=100)
    with pytest.raises(ConfigError, match="LowestIdConfig.interval_ms"):
        lowest.Config(interval_ms=0)
