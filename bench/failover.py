"""Failover seen from a client: a leader is SIGKILLed (or SIGSTOPped) on real processes, and the time until a client
write succeeds again is measured, with the algorithm's transport hints on and off in the same run.

One cluster per (algorithm, hints) variant serves every trial: wait until one leader is followed by every node, let
it settle, start a writer that puts one key after another (one outstanding), kill (or stop) the leader, and take the
first write answered by another node. Times are CLOCK_MONOTONIC ms, the clock of the nodes' events, so the fault's
time (taken just before the signal) and the client's completion compare directly. The old leader is then restarted
(or resumed) and the next trial waits for a stable cluster again.

For an algorithm without a log (no writes), the time is that of the first ``election_won`` (or leader change to a
survivor) in the survivors' events. ``detect_ms``: until the first survivor's transport reported the old leader's
connection down (kill only: a stopped process keeps its connections). Rounds: how many elections (``election_started`` events) the survivors began
between the fault and that moment; ``single_round`` is the fraction of trials with exactly one.
"""
from __future__ import annotations

import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from quorumlab.core.client import KVClient
from quorumlab.core.cluster import LocalCluster, now_ms
from quorumlab.core.registry import load as load_algorithm

FAULTS = ("kill", "stop")
PHASES = ("campaign", "pre_vote", "vote", "commit")


@dataclass
class Trial:
    """One fault and what followed (ms from the fault)."""

    fault: str
    old: int
    first_write_ms: float | None
    new_leader_ms: float | None
    detect_ms: float | None
    elections: int
    pre_votes: int
    error: str = ""
    phases: dict[str, float] = field(default_factory=dict)
    """Where the time went, from the survivors' events (ms): ``campaign`` fault -> the first survivor's campaign
    (``pre_vote_started`` or ``election_started``), ``pre_vote`` the winner's last pre-vote round -> its
    ``election_started`` (its term and vote fsynced), ``vote`` -> its ``election_won``, ``commit`` -> the first
    write (the no-op and the write committed, the reply at the client)."""


@dataclass
class Variant:
    """One algorithm with hints on or off, and its trials."""

    algo: str
    hints: bool
    fault: str
    trials: list[Trial] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.algo} {'hints' if self.hints else 'timeout-only'}"

    def summary(self) -> dict[str, Any]:
        ok = [t for t in self.trials if not t.error]
        writes = sorted(t.first_write_ms for t in ok if t.first_write_ms is not None)
        leaders = sorted(t.new_leader_ms for t in ok if t.new_leader_ms is not None)
        return {
            "variant": self.label,
            "algo": self.algo,
            "hints": self.hints,
            "fault": self.fault,
            "trials": len(self.trials),
            "failed": len(self.trials) - len(ok),
            "first_write_median_ms": _q(writes, 0.5),
            "first_write_p99_ms": _q(writes, 0.99),
            "first_write_max_ms": writes[-1] if writes else None,
            "detect_median_ms": _q(sorted(t.detect_ms for t in ok if t.detect_ms is not None), 0.5),
            "election_median_ms": _q(sorted(t.new_leader_ms - t.detect_ms for t in ok
                                            if t.new_leader_ms is not None and t.detect_ms is not None), 0.5),
            "write_after_leader_median_ms": _q(sorted(t.first_write_ms - t.new_leader_ms for t in ok
                                                      if t.first_write_ms is not None and t.new_leader_ms is not None),
                                               0.5),
            "phase_medians_ms": {name: _q(sorted(t.phases[name] for t in ok if name in t.phases), 0.5)
                                 for name in PHASES},
            "new_leader_median_ms": _q(leaders, 0.5),
            "new_leader_p99_ms": _q(leaders, 0.99),
            "single_round": (sum(1 for t in ok if t.elections == 1) / len(ok)) if ok else None,
            "pre_vote_rounds_mean": (statistics.fmean(t.pre_votes for t in ok)) if ok else None,
        }


def _q(values: list[float], q: float) -> float | None:
    """The q-quantile (nearest rank) of sorted ``values``."""
    if not values:
        return None
    return round(values[min(len(values) - 1, max(0, int(round(q * len(values) + 0.5)) - 1))], 2)


class Writer(threading.Thread):
    """Puts one key after another until stopped (one outstanding, through ``KVClient``); records (completion time,
    answering node) of each write on the nodes' clock. ``bench compare --first-write`` runs one through its crash
    and pause trials too (quorumlab.bench.compare.runner_zmq)."""

    def __init__(self, cluster: LocalCluster, attempt_s: float) -> None:
        super().__init__(daemon=True)
        self.kv = cluster.kv_client(attempt_s=attempt_s, timeout_s=30.0)
        self.done: list[tuple[float, int]] = []
        self.errors: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        k = 0
        try:
            while not self._halt.is_set():
                k += 1
                try:
                    self.kv.put("failover", str(k))
                except Exception as exc:  # a timeout is recorded; the measurement then fails that trial
                    self.errors.append(repr(exc))
                    continue
                self.done.append((now_ms(), self.kv.leader))
        finally:
            self.kv.close()

    def start_writing(self, limit_s: float = 5.0) -> "Writer":
        """Once the client is connected to every node (as a client that has run for a while is), start, and return
        once the first write completed (or ``limit_s`` passed)."""
        deadline = time.monotonic() + limit_s
        self.kv.wait_connected(limit_s)
        self.start()
        while not self.done and time.monotonic() < deadline:
            time.sleep(0.005)
        return self

    def first_after(self, t0: float, old: int, limit_s: float) -> float | None:
        """Ms from ``t0`` (the fault) to the first write completed after it and answered by a node other than
        ``old`` (the faulty leader), waiting up to ``limit_s`` for it; None if none came."""
        end = time.monotonic() + limit_s
        while True:
            later = [t for t, node in list(self.done) if t > t0 and node != old]
            if later:
                return later[0] - t0
            if time.monotonic() >= end:
                return None
            time.sleep(0.002)

    def stop(self) -> None:
        self._halt.set()
        self.join(35.0)


def optimum_ms(detect: tuple[int, int], heartbeat: int, survivors: int, samples: int = 200_000,
               seed: int = 1) -> dict[str, float]:
    """The timeout distribution's optimum for a silent leader (README, "Failover after the leader crashes"):
    the earliest of the survivors' timeouts, each uniform over ``detect``, less the time since the leader's last
    message (uniform over one heartbeat interval when idle; none under a client's steady writes, whose
    AppendEntries reset the timers continuously). Median and p99 of both, by sampling; no election time added."""
    rng = random.Random(seed)
    lo, hi = detect
    earliest = [min(rng.randint(lo, hi) for _ in range(survivors)) for _ in range(samples)]
    idle = sorted(m - rng.randint(0, heartbeat - 1) for m in earliest)
    busy = sorted(earliest)
    return {"median_ms": busy[len(busy) // 2], "p99_ms": busy[int(0.99 * len(busy))],
            "idle_median_ms": idle[len(idle) // 2], "idle_p99_ms": idle[int(0.99 * len(idle))]}


def _stable(c: LocalCluster, settle_s: float) -> int:
    """Wait until every node follows one leader, let it settle, and return that leader."""
    def every_node_follows() -> int | None:
        st = c.status(timeout_s=1.0)
        if any(s is None for s in st.values()):
            return None
        leaders = {s["leader"] for s in st.values()}
        if len(leaders) != 1:
            return None
        (leader,) = leaders
        return leader if leader is not None and st[leader]["role"] == "leader" else None

    c.wait_until(every_node_follows, 30.0, "a leader every node follows")
    time.sleep(settle_s)
    return c.wait_until(every_node_follows, 30.0, "a leader every node follows")


def _trial(c: LocalCluster, fault: str, has_log: bool, settle_s: float, attempt_s: float,
           limit_s: float = 10.0) -> Trial:
    old = _stable(c, settle_s)
    survivors = [i for i in c.ids if i != old]
    writer = Writer(c, attempt_s).start_writing() if has_log else None
    if fault == "kill":
        t0 = c.crash(old)
    else:
        t0 = c.pause(old)
    first_write = None
    try:
        if writer is not None:
            first_write = writer.first_after(t0, old, limit_s)
        else:
            c.wait_until(lambda: c.majority_leader(survivors), limit_s, "a new leader")
            time.sleep(0.1)
    finally:
        if writer is not None:
            writer.stop()
    ev = [e for e in c.events() if e.get("node") in survivors and e["t"] >= t0]
    won = [e["t"] for e in ev if e["kind"] == "election_won"
           or (e["kind"] == "leader" and e.get("leader") in survivors)]
    new_leader = min(won) - t0 if won else None
    downs = [e["t"] for e in ev if e["kind"] == "peer_down" and e.get("peer") == old]
    detect = round(min(downs) - t0, 2) if downs else None
    until = t0 + (first_write if first_write is not None else (new_leader or limit_s * 1000))
    elections = sum(1 for e in ev if e["kind"] == "election_started" and e["t"] <= until)
    pre_votes = sum(1 for e in ev if e["kind"] == "pre_vote_started" and e["t"] <= until)
    phases = _phases(ev, t0, first_write)
    error = ""
    if has_log and first_write is None:
        error = f"no write at a new leader within {limit_s}s ({(writer.errors or ['no error'])[-1]})"
    if fault == "kill":
        c.restart(old)
    else:
        c.resume(old)
    return Trial(fault, old, None if first_write is None else round(first_write, 2),
                 None if new_leader is None else round(new_leader, 2), detect, elections, pre_votes, error, phases)


def _phases(ev: list[dict], t0: float, first_write: float | None) -> dict[str, float]:
    """Trial.phases from the survivors' events after the fault (only the phases whose events are there)."""
    out: dict[str, float] = {}
    campaigns = [e["t"] for e in ev if e["kind"] in ("pre_vote_started", "election_started")]
    if campaigns:
        out["campaign"] = min(campaigns) - t0
    won = next((e for e in ev if e["kind"] == "election_won"), None)
    if won is None:
        return {k: round(v, 2) for k, v in out.items()}
    mine = [e for e in ev if e["node"] == won["node"] and e["t"] <= won["t"]]
    started = [e["t"] for e in mine if e["kind"] == "election_started"]
    if started:
        out["vote"] = won["t"] - started[-1]
        pre = [e["t"] for e in mine if e["kind"] == "pre_vote_started" and e["t"] <= started[-1]]
        if pre:
            out["pre_vote"] = started[-1] - pre[-1]
    if first_write is not None:
        out["commit"] = t0 + first_write - won["t"]
    return {k: round(v, 2) for k, v in out.items()}


def measure(algo: str, hints: bool, fault: str, trials: int, nodes: int = 3, *, config: dict[str, Any] | None = None,
            settle_s: float = 0.4, attempt_s: float | None = None, secure: bool = True,
            progress: Callable[[Variant, Trial], None] | None = None) -> Variant:
    """``trials`` faults of one kind on one cluster of ``algo`` with transport_hints ``hints``."""
    cls = load_algorithm(algo)
    has_log = cls.StateMachine is not None
    cfg = dict(config or {})
    cfg["transport_hints"] = hints
    variant = Variant(algo, hints, fault)
    if attempt_s is None:
        attempt_s = 1.0 if fault == "kill" else 0.02
    with LocalCluster(algo, nodes, config=cfg, secure=secure) as c:
        c.start()
        for _ in range(trials):
            t = _trial(c, fault, has_log, settle_s, attempt_s)
            variant.trials.append(t)
            if progress is not None:
                progress(variant, t)
    return variant
