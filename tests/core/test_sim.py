"""The deterministic simulator: one seed, one run; a network model that does what it says; faults with teeth."""
from __future__ import annotations

import dataclasses

import pytest

from quorumlab.core import AlgorithmConfig, ElectionAlgorithm, Role, message_type, setting
from quorumlab.core import codec
from quorumlab.core.errors import InvariantViolation
from quorumlab.core.observers import ElectionSafety, Observer
from quorumlab.core.sim import Network, Simulation
from tests.fixture_algos import Beacon, BeaconConfig, Beat

# -- small test-only algorithms -----------------------------------------------------------

Stamp = message_type("SimTestStamp", 0xFD01, 1, [("sent_at", "u64"), ("seq", "u64")])


class Gossip(ElectionAlgorithm):
    """Every node sends a Stamp to a random peer after a random pause; receivers note when it arrived."""

    name = "sim-test-gossip"
    algo_id = 0xFD01
    messages = (Stamp,)

    def on_start(self, now):
        self.seq = 0
        self.arrivals: list[tuple[int, int, int, int]] = []  # (src, seq, sent_at, received_at)
        self.set_timer("talk", self.rng.randint(1, 5))

    def on_timer(self, timer, now):
        self.seq += 1
        self.send(self.rng.choice(self.peers), Stamp(sent_at=now, seq=self.seq))
        self.note("talked", seq=self.seq)
        self.set_timer("talk", self.rng.randint(1, 5))

    def on_message(self, msg, now):
        self.arrivals.append((msg.src, msg.seq, msg.sent_at, now))


Ledger = message_type("SimTestLedger", 0xFD02, 1, [])


@dataclasses.dataclass(frozen=True)
class LedgerConfig(AlgorithmConfig):
    tick_ms: int = setting(10, 1, 1000, "ms", "how often the counter grows")
    late_ms: int = setting(100, 1, 10_000, "ms", "a one-shot timer armed at start")


class LedgerAlgo(ElectionAlgorithm):
    """Counts ticks: even values are persisted (flushed), odd ones only staged. Counts its boots durably."""

    name = "sim-test-ledger"
    algo_id = 0xFD02
    Config = LedgerConfig
    messages = (Ledger,)

    def on_start(self, now):
        stored = self.storage.read()
        self.value = stored.get("value", 0)
        self.boots = stored.get("boots", 0) + 1
        self.started_at = now
        self.persist({"value": self.value, "boots": self.boots})
        self.note("booted", value=self.value, boots=self.boots)
        self.set_timer("tick", self.config.tick_ms)
        self.set_timer("late", self.config.late_ms)

    def on_timer(self, timer, now):
        if timer == "late":
            self.note("late_fired")
            return
        self.value += 1
        state = {"value": self.value, "boots": self.boots}
        if self.value % 2 == 0:
            self.persist(state)
        else:
            self.storage.write(state)
        self.set_timer("tick", self.config.tick_ms)

    def on_message(self, msg, now):
        pass


Crown = message_type("SimTestCrown", 0xFD03, 1, [])


class TwoKings(ElectionAlgorithm):
    """Broken on purpose: nodes 1 and 2 both declare themselves leader of term 1 at start."""

    name = "sim-test-two-kings"
    algo_id = 0xFD03
    messages = (Crown,)

    @classmethod
    def safety_observers(cls):
        return [ElectionSafety()]

    def on_start(self, now):
        self.term = 1
        if self.id in (1, 2):
            self.role = Role.LEADER
            self.leader = self.id
        self.set_timer("crown", 5)

    def on_timer(self, timer, now):
        self.broadcast(Crown())

    def on_message(self, msg, now):
        pass


def beacon_sim(nodes: int = 5, seed: int = 0, interval_ms: int = 10, **kw) -> Simulation:
    return Simulation(Beacon, nodes, seed=seed, config=BeaconConfig(interval_ms=interval_ms), **kw)


def fingerprint(sim: Simulation) -> tuple:
    """Everything observable about a run, for comparing two runs."""
    trace = [(t, n, k, repr(d)) for t, n, k, d in sim.trace]
    return (sim.now, sim.events, trace, dataclasses.asdict(sim.stats))


def scripted_run(seed: int) -> Simulation:
    """A run with every kind of randomness and fault: jitter, loss, duplication, partition, crash, restart."""
    sim = Simulation(Gossip, 5, seed=seed, network=Network(delay_ms=(1, 9), loss=0.1, duplicate=0.1))
    sim.run_for(200)
    sim.partition([1, 2], [3, 4, 5])
    sim.run_for(100)
    sim.crash(4)
    sim.run_for(50)
    sim.heal()
    sim.restart(4)
    sim.run_for(200)
    return sim


# -- determinism --------------------------------------------------------------------------


def test_same_seed_gives_the_same_run_event_for_event():
    a, b = scripted_run(seed=42), scripted_run(seed=42)
    assert fingerprint(a) == fingerprint(b)
    assert a.stats.sent > 300 and a.stats.dropped_loss and a.stats.duplicated and a.stats.dropped_partition


def test_different_seeds_give_different_runs():
    runs = [fingerprint(scripted_run(seed)) for seed in (1, 2, 3)]
    assert runs[0] != runs[1] and runs[1] != runs[2] and runs[0] != runs[2]


def test_each_node_gets_its_own_seeded_rng():
    sim = Simulation(Gossip, 3, seed=5)
    draws = [sim.node(i).rng.random() for i in sim.ids]
    assert len(set(draws)) == 3
    again = Simulation(Gossip, 3, seed=5)
    assert [again.node(i).rng.random() for i in again.ids] == draws


# -- the network model --------------------------------------------------------------------


@pytest.mark.parametrize("lo,hi", [(1, 9), (0, 0), (5, 5), (2, 40)])
def test_message_delays_stay_within_the_network_bounds(lo, hi):
    seed = 7
    sim = Simulation(Gossip, 4, seed=seed, network=Network(delay_ms=(lo, hi)))
    sim.run_for(3000)
    delays = [at - sent for i in sim.ids for _, _, sent, at in sim.node(i).arrivals]
    assert len(delays) > 1000, f"seed={seed}"
    assert min(delays) >= lo and max(delays) <= hi, f"seed={seed}"
    if lo < hi:
        assert min(delays) == lo and max(delays) == hi, f"seed={seed}: the whole range is used"


def test_long_tail_delays_stay_in_bounds_and_are_mostly_fast():
    seed = 11
    sim = Simulation(Gossip, 4, seed=seed, network=Network(delay_ms=(1, 41), distribution="long-tail"))
    sim.run_for(3000)
    delays = sorted(at - sent for i in sim.ids for _, _, sent, at in sim.node(i).arrivals)
    assert len(delays) > 1000, f"seed={seed}"
    assert delays[0] >= 1 and delays[-1] <= 41, f"seed={seed}"
    median = delays[len(delays) // 2]
    assert median <= 1 + 10, f"seed={seed}: exponential with mean 10 ms above lo has its median near 7 ms, got {median}"
    assert delays[-1] > 21, f"seed={seed}: the tail reaches past the middle of the range"


def test_unknown_delay_distribution_is_refused():
    with pytest.raises(ValueError, match="distribution"):
        Network(distribution="gaussian")


def test_jitter_reorders_messages_between_the_same_pair():
    seed = 3
    sim = Simulation(Gossip, 2, seed=seed, network=Network(delay_ms=(1, 20)))
    sim.run_for(2000)
    sim.crash(1)  # stop the sender; what it already put on the wire still arrives
    sim.run_for(20)
    seqs = [seq for _, seq, _, _ in sim.node(2).arrivals]
    assert seqs != sorted(seqs), f"seed={seed}: no reordering with 1..20 ms jitter"
    assert sorted(seqs) == list(range(1, len(seqs) + 1)), f"seed={seed}: no loss configured, none expected"


def test_loss_and_duplication_rates_match_the_configuration():
    seed = 11
    sim = beacon_sim(seed=seed, network=Network(delay_ms=(1, 3), loss=0.2, duplicate=0.1))
    sim.run_for(10_000)
    st = sim.stats
    assert st.sent == 5 * 4 * 1000, f"seed={seed}"
    # At a fixed seed the run is exact; the bounds are ~7 standard deviations wide all the same.
    assert abs(st.dropped_loss / st.sent - 0.2) < 0.02, f"seed={seed}: loss rate {st.dropped_loss / st.sent}"
    survived = st.sent - st.dropped_loss
    assert abs(st.duplicated / survived - 0.1) < 0.015, f"seed={seed}: duplication rate {st.duplicated / survived}"
    assert st.delivered <= survived + st.duplicated, f"seed={seed}"
    last_round = 5 * 4 * 2  # the beats of t=10000 (and their duplicates) are still in flight
    assert st.delivered >= survived + st.duplicated - last_round, f"seed={seed}"
    received = sum(sim.node(i).received for i in sim.ids)
    assert received == st.delivered


def test_no_loss_configured_means_every_message_arrives_exactly_once():
    sim = beacon_sim(network=Network(delay_ms=(1, 1)))
    sim.run_for(1005)
    assert sim.stats.dropped == 0 and sim.stats.duplicated == 0
    assert sim.stats.delivered == sim.stats.sent == 5 * 4 * 100


def test_stats_count_messages_and_encoded_bytes_by_type():
    sim = beacon_sim(nodes=3)
    sim.run_for(100)
    size = len(codec.encode(Beat(seq=1, payload=b"x" * 8)))
    assert sim.stats.sent_by_type == {"Beat": 3 * 2 * 10}
    assert sim.stats.bytes_by_type == {"Beat": 3 * 2 * 10 * size}
    assert sim.stats.bytes_sent == 3 * 2 * 10 * size


# -- partitions ---------------------------------------------------------------------------


def test_partition_lets_messages_flow_only_inside_each_group():
    sim = beacon_sim(network=Network(delay_ms=(1, 1)))
    sim.partition([1, 2], [3, 4, 5])
    before = {i: sim.node(i).received for i in sim.ids}
    sim.run_for(105)
    got = {i: sim.node(i).received - before[i] for i in sim.ids}
    # 10 beats each: nodes 1, 2 hear one peer, nodes 3, 4, 5 hear two.
    assert got == {1: 10, 2: 10, 3: 20, 4: 20, 5: 20}
    assert sim.stats.dropped_partition == 10 * (2 * 3 + 3 * 2)
    assert [e for e in sim.events if e["kind"] == "partition"] == [
        {"t": 0, "node": 0, "kind": "partition", "groups": [[1, 2], [3, 4, 5]]}
    ]


def test_nodes_not_named_in_a_partition_form_one_more_group():
    sim = beacon_sim(network=Network(delay_ms=(1, 1)))
    sim.partition([1])
    sim.run_for(105)
    assert sim.node(1).received == 0
    assert {sim.node(i).received for i in (2, 3, 4, 5)} == {30}


def test_heal_restores_every_link():
    sim = beacon_sim(network=Network(delay_ms=(1, 1)))
    sim.partition([1], [2], [3], [4], [5])
    sim.run_for(100)
    assert all(sim.node(i).received == 0 for i in sim.ids)
    sim.heal()
    sim.run_for(105)
    assert all(sim.node(i).received == 40 for i in sim.ids)
    assert [e["kind"] for e in sim.events if e["node"] == 0] == ["partition", "heal"]


def test_messages_in_flight_across_a_new_partition_are_dropped():
    sim = beacon_sim(nodes=3, network=Network(delay_ms=(5, 5)))
    sim.run_for(12)  # beats sent at t=10 arrive at t=15
    sim.partition([1], [2, 3])
    sim.run_for(4)
    assert sim.node(1).received == 0
    assert sim.node(2).received == 1 and sim.node(3).received == 1  # from each other: same side
    assert sim.stats.dropped_partition == 4


def test_messages_in_flight_when_a_partition_heals_are_delivered():
    sim = beacon_sim(nodes=2, network=Network(delay_ms=(5, 5)))
    sim.partition([1], [2])
    sim.run_for(12)
    sim.heal()
    sim.run_for(4)
    assert sim.stats.dropped_partition == 2, "sent into the partition: dropped at once"
    sim.run_for(10)
    assert sim.node(1).received == sim.node(2).received == 1  # the t=20 beats, sent after the heal


def test_partition_rejects_unknown_nodes_and_overlapping_groups():
    sim = beacon_sim(nodes=3)
    with pytest.raises(ValueError, match="node 9"):
        sim.partition([1], [9])
    with pytest.raises(ValueError, match="two groups"):
        sim.partition([1, 2], [2, 3])


# -- crash and restart --------------------------------------------------------------------


def test_crash_keeps_flushed_state_and_loses_what_was_only_staged():
    sim = Simulation(LedgerAlgo, 1, config=LedgerConfig(tick_ms=10))
    sim.run_for(35)  # ticks at 10, 20, 30: value 3 staged, 2 flushed
    assert sim.node(1).value == 3
    assert sim.storage(1).read()["value"] == 3
    sim.crash(1)
    assert sim.storage(1).read()["value"] == 2
    sim.restart(1)
    assert sim.node(1).value == 2
    assert sim.node(1).boots == 2


def test_crash_loses_timers_and_restart_rearms_only_what_on_start_sets():
    sim = Simulation(LedgerAlgo, 2, config=LedgerConfig(tick_ms=10, late_ms=100))
    sim.run_for(50)
    sim.crash(1)
    assert not sim.is_up(1) and sim.up_ids() == [2]
    sim.run_for(10)
    sim.restart(1)  # at t=60: "late" is due at 160, not at 100
    sim.run_for(200)
    late = [(e["t"], e["node"]) for e in sim.events if e["kind"] == "late_fired"]
    assert late == [(100, 2), (160, 1)]
    ticks = [t for t, n, k, d in sim.trace if n == 1 and k == "timer" and d == "tick"]
    assert ticks[:7] == [10, 20, 30, 40, 50, 70, 80], "no timer of a crashed node fires; restart re-arms at 60+10"


def test_restart_reruns_on_start_from_storage_and_records_both_events():
    sim = Simulation(LedgerAlgo, 3, config=LedgerConfig(tick_ms=10))
    sim.run_for(40)
    first = sim.node(2)
    sim.crash(2)
    sim.run_for(5)
    sim.restart(2)
    assert sim.node(2) is not first and sim.node(2).started_at == 45
    kinds = [(e["kind"], e.get("boots")) for e in sim.events if e["node"] == 2]
    assert kinds == [("booted", 1), ("crash", None), ("restart", None), ("booted", 2)]
    sim.crash(2)
    sim.crash(2)  # crashing a crashed node is a no-op
    sim.restart(2)
    sim.restart(2)  # and so is restarting a live one
    assert sim.node(2).boots == 3


def test_messages_to_a_crashed_node_are_dropped_and_counted():
    sim = beacon_sim(nodes=3, network=Network(delay_ms=(1, 1)))
    sim.crash(3)
    sim.run_for(105)
    assert sim.stats.dropped_down == 2 * 10
    assert sim.node(3).received == 0
    assert sim.node(1).received == 10, "a crashed node sends nothing"


def test_crashed_leader_is_not_reported_as_leading():
    sim = beacon_sim(nodes=3)
    assert sim.leaders() == [(1, 0)] and sim.leader() == 1 and sim.unanimous_leader() == 1
    sim.crash(1)
    assert sim.leaders() == [] and sim.leader() is None and sim.unanimous_leader() is None
    sim.restart(1)
    assert sim.leader() == 1 and sim.unanimous_leader(among=[2, 3]) == 1


# -- driving ------------------------------------------------------------------------------


def test_run_until_returns_at_the_exact_event_that_makes_the_predicate_true():
    sim = beacon_sim(nodes=3, network=Network(delay_ms=(2, 2)))
    assert sim.run_until(lambda s: s.node(2).received >= 1, timeout_ms=1000)
    assert sim.now == 12
    assert sim.node(3).received == 0, "node 3's copy of the same beat is the next event, not yet handled"
    sim.run_for(0)
    assert sim.node(3).received >= 1


def test_run_until_gives_up_after_the_timeout_with_the_clock_there():
    sim = beacon_sim(nodes=2)
    sim.run_for(7)
    assert sim.run_until(lambda s: False, timeout_ms=50) is False
    assert sim.now == 57


def test_run_until_true_at_once_does_not_advance_time():
    sim = beacon_sim(nodes=2)
    assert sim.run_until(lambda s: True, timeout_ms=50)
    assert sim.now == 0


def test_run_for_moves_the_clock_exactly_and_refuses_to_go_back():
    sim = beacon_sim(nodes=2)
    sim.run_for(33)
    sim.run_for(0)
    assert sim.now == 33
    with pytest.raises(ValueError):
        sim.run_for(-1)


def test_trigger_fires_a_timer_now_on_the_given_live_nodes():
    sim = beacon_sim(nodes=3, network=Network(delay_ms=(1, 1)))
    sim.run_for(5)
    sim.crash(3)
    sim.trigger([1, 2, 3], "beat")
    assert sim.stats.sent == 2 * 2
    assert [(t, n, d) for t, n, k, d in sim.trace if k == "timer"] == [(5, 1, "beat"), (5, 2, "beat")]
    sim.run_for(9)  # the re-armed beat is due at 15, the original at 10 was replaced
    assert sim.node(1).seq == 1
    sim.run_for(1)
    assert sim.node(1).seq == 2


# -- observers and invariants -------------------------------------------------------------


def test_violated_invariant_raises_with_the_seed_and_the_recent_trace():
    with pytest.raises(InvariantViolation) as err:
        Simulation(TwoKings, 3, seed=1234)
    text = str(err.value)
    assert "nodes 1 and 2 both became leader in term 1" in text
    assert "seed=1234" in text
    assert "last events:" in text and "n1 role" in text


class StopAfter(Observer):
    """Fails the run once the cluster has delivered ``limit`` messages."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.effects = 0

    def on_effect(self, sim, node, effect):
        self.effects += 1

    def after_event(self, sim):
        if sim.stats.delivered >= self.limit:
            sim.fail(f"delivered {sim.stats.delivered} messages")


def test_custom_observer_stops_the_run_at_the_event_that_broke_it():
    obs = StopAfter(7)
    sim = beacon_sim(nodes=3, seed=99, observers=[obs])
    with pytest.raises(InvariantViolation) as err:
        sim.run_for(1000)
    assert sim.stats.delivered == 7 and sim.now < 1000
    assert "seed=99" in str(err.value) and " recv " in str(err.value)
    assert obs.effects > 0


def test_default_observers_come_from_the_algorithm_and_can_be_replaced():
    assert [type(o) for o in Simulation(Gossip, 2).observers] == []
    sim = Simulation(TwoKings, 3, observers=[])
    assert sorted(n for n, _ in sim.leaders()) == [1, 2]


# -- bad frames ---------------------------------------------------------------------------


def test_frames_from_another_cluster_are_dropped_and_counted():
    def factory(node_id, voters, config, storage, rng, cluster):
        return Beacon(node_id, voters, config, storage, rng, 77 if node_id == 3 else cluster)

    sim = Simulation(Beacon, 3, config=BeaconConfig(interval_ms=10), network=Network(delay_ms=(1, 1)), algo_factory=factory)
    sim.run_for(105)
    assert sim.stats.dropped_bad == 2 * 10
    assert sim.node(1).received == sim.node(2).received == 10, "only each other's beats"
    assert sim.node(3).received == 20
    assert any(k == "drop_bad" and "cluster=77" in d for _, _, k, d in sim.trace)


def test_malformed_and_spoofed_frames_are_dropped_and_counted_never_raised():
    sim = beacon_sim(nodes=3, network=Network(delay_ms=(1, 1)))
    good = codec.encode(Beat(cluster=1, src=2, dst=3, seq=1, payload=b""))
    sim.inject(2, 3, b"\x00garbage")
    sim.inject(2, 3, good[:-1])
    sim.inject(2, 3, good + b"\x00")
    sim.inject(1, 3, good)  # claims to come from 2
    sim.inject(2, 1, good)  # addressed to 3
    sim.inject(2, 3, good)  # fine
    sim.run_for(5)
    assert sim.stats.dropped_bad == 5
    assert sim.node(3).received == 1
    with pytest.raises(ValueError):
        sim.inject(2, 9, good)


# -- the event stream ---------------------------------------------------------------------


def test_event_stream_records_role_term_leader_changes_and_notes_as_dicts():
    sim = Simulation(TwoKings, 3, observers=[])
    first = [e for e in sim.events if e["node"] == 1]
    assert first == [
        {"t": 0, "node": 1, "kind": "term", "from": 0, "to": 1},
        {"t": 0, "node": 1, "kind": "role", "from": "follower", "to": "leader", "term": 1},
        {"t": 0, "node": 1, "kind": "leader", "leader": 1, "term": 1},
    ]
    gossip = Simulation(Gossip, 2, seed=1)
    gossip.run_for(10)
    notes = [e for e in gossip.events if e["kind"] == "talked"]
    assert notes and all(set(e) == {"t", "node", "kind", "seq"} for e in notes)


def test_trace_is_bounded_by_trace_limit():
    sim = beacon_sim(nodes=3, trace_limit=50)
    sim.run_for(1000)
    assert len(sim.trace) == 50
    assert sim.trace[-1][0] <= 1000


def test_simulation_rejects_zero_nodes_and_bad_network_settings():
    with pytest.raises(ValueError):
        Simulation(Beacon, 0)
    with pytest.raises(ValueError, match="delay_ms"):
        Network(delay_ms=(5, 1))
    with pytest.raises(ValueError, match="loss"):
        Network(loss=1.5)
    with pytest.raises(ValueError, match="duplicate"):
        Network(duplicate=-0.1)
