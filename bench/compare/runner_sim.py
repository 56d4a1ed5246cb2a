"""The simulator transport: each trial is a fresh, seeded ``quorumlab.core.sim.Simulation`` on a virtual clock.

Faults map onto the simulator as follows: crash -> ``sim.crash``; restart ->
``sim.restart``; partition/heal -> the same; trigger -> ``sim.trigger``. A real
SIGSTOP has no simulated twin, so pause isolates the node in a partition of its
own: its connections stay "open" (nothing tells the peers it is gone), but,
unlike a stopped process, it keeps running its own timers while isolated, and
resume (heal) delivers nothing that was sent to it meanwhile.
"""
from __future__ import annotations

from typing import Any, Iterable

from quorumlab.core.algorithm import ElectionAlgorithm
from quorumlab.core.config import AlgorithmConfig
from quorumlab.core.effects import Broadcast, Send
from quorumlab.core.observers import Observer
from quorumlab.core.sim import Network, Simulation

from quorumlab.bench.compare.metrics import ClusterView, Predicate, sent_between


class CounterSeries(Observer):
    """Records the simulation's cumulative (t, messages, bytes) after every send, one sample per instant."""

    def __init__(self) -> None:
        self.series: list[tuple[float, int, int]] = [(0, 0, 0)]

    def on_effect(self, sim: Any, node: int, effect: Any) -> None:
        if type(effect) is Send or type(effect) is Broadcast:
            sample = (sim.now, sim.stats.sent, sim.stats.bytes_sent)
            if self.series[-1][0] == sim.now:
                self.series[-1] = sample
            else:
                self.series.append(sample)


class SimDriver:
    """A ``Driver`` over one Simulation (see quorumlab.bench.compare.driver)."""

    reusable = False
    connection_hints = True
    """A crash is seen by the others as a real transport sees it (quorumlab.core.sim); off to replay runs recorded before."""

    def __init__(
        self,
        algo: type[ElectionAlgorithm],
        nodes: int,
        config: AlgorithmConfig,
        seed: int,
        latency_ms: tuple[int, int],
    ) -> None:
        self.algo, self.nodes, self.config, self.seed = algo, nodes, config, seed
        self.network = Network(delay_ms=latency_ms)
        self.rtt_ms: float | None = float(latency_ms[0] + latency_ms[1])
        self.ids = tuple(range(1, nodes + 1))
        self.sim: Simulation | None = None
        self._counter = CounterSeries()
        self._view = ClusterView(self.ids)
        self._fed = 0

    def start(self, fresh: bool = False) -> float:
        observers = list(self.algo.safety_observers()) + [self._counter]
        self.sim = Simulation(self.algo, self.nodes, seed=self.seed, config=self.config, network=self.network,
                              observers=observers, connection_hints=self.connection_hints)
        return 0

    def now(self) -> float:
        return self.sim.now

    def view(self) -> ClusterView:
        events = self.sim.events
        for ev in events[self._fed:]:
            self._view.apply(ev)
        self._fed = len(events)
        return self._view

    def events(self) -> list[dict]:
        return self.sim.events

    def sent_between(self, since: float, until: float) -> tuple[int, int]:
        return sent_between(self._counter.series, since, until)

    def wait_until(self, pred: Predicate, timeout_ms: float) -> bool:
        sim = self.sim
        deadline = sim.now + int(timeout_ms)
        seen = [-1, False]

        def check(_: Simulation) -> bool:
            if len(sim.events) != seen[0]:  # the view only changes when events arrive
                seen[1] = pred(self.view())
                seen[0] = len(sim.events)
            return seen[1]

        while sim.run_until(check, max(0, deadline - sim.now)):
            sim.run_for(0)  # finish this instant: predicates hold at timestamp boundaries only
            if check(sim):
                return True
        return False

    def sleep(self, ms: float) -> None:
        self.sim.run_for(int(ms))

    def crash(self, node: int) -> None:
        self.sim.crash(node)

    def restart(self, node: int) -> None:
        self.sim.restart(node)

    def pause(self, node: int) -> None:
        self.sim.partition([node])

    def resume(self, node: int) -> None:
        self.sim.heal()

    def partition(self, *groups: Iterable[int]) -> None:
        self.sim.partition(*groups)

    def heal(self) -> None:
        self.sim.heal()

    def trigger(self, nodes: Iterable[int], timer: str) -> None:
        self.sim.trigger(list(nodes), timer)

    def writer(self, attempt_s: float) -> None:
        return None  # the simulator has no clients

    def restore(self) -> None:
        self.sim.heal()
        for i in self.ids:
            self.sim.restart(i)

    def close(self) -> None:
        self.sim = None


class SimTransport:
    """Builds one fresh SimDriver per trial, seeded by the trial's seed."""

    name = "sim"
    can_trigger = True

    def __init__(self, latency_ms: tuple[int, int]) -> None:
        self.latency_ms = latency_ms

    def driver(self, algo: type[ElectionAlgorithm], nodes: int, config: AlgorithmConfig, seed: int) -> SimDriver:
        return SimDriver(algo, nodes, config, seed, self.latency_ms)

    def close(self) -> None:
        """Nothing outlives a simulated trial."""
