"""Planned leadership changes on local processes: transfer latency, and a rolling restart under write load.

``measure_transfers``: the leader is asked (control ``transfer``) to hand over to each follower in turn; the time
runs from the request to the first client write the new leader has applied, as a client sees it (it sends to the
target and follows redirects and "busy" hints). Each transfer should take one election round: the new term is
the old one plus one.

``measure_rolling_restart``: one client writes one put at a time for the whole run while every node is
restarted in turn (SIGTERM, start again from its data dir), the leader included; the longest gap between two
successful writes around each restart is the unavailability it caused. With ``hand_over`` a stopping leader
transfers its leadership first; without it, the others wait out an election timeout.
"""
from __future__ import annotations

import statistics
import threading
import time
from typing import Any

from quorumlab.core.cluster import LocalCluster

from quorumlab.bench.throughput.load import MeasurementFailed


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def measure_transfers(nodes: int = 3, trials: int = 20, config: dict | None = None) -> dict[str, Any]:
    """Transfer latency (ms) from the request to the new leader's first applied write, ``trials`` times."""
    samples: list[float] = []
    extra_rounds = 0
    with LocalCluster("raft", nodes, config=config or {}) as c:
        c.wait_for_leader(20)
        kv = c.kv_client(timeout_s=5.0)
        kv.put(b"warm", b"up")
        for k in range(trials):
            leader = kv.leader
            followers = [i for i in c.ids if i != leader]
            target = followers[k % len(followers)]
            term = c.request(leader, "status")["term"]
            start = time.perf_counter()
            c.request(leader, "transfer", to=target)
            kv.leader = target
            kv.put(b"t%d" % k, b"v")
            samples.append((time.perf_counter() - start) * 1000)
            status = c.request(kv.leader, "status")
            if kv.leader != target or status["term"] != term + 1:
                extra_rounds += 1
        kv.close()
    return {"nodes": nodes, "trials": trials, "median_ms": round(statistics.median(samples), 2),
            "p99_ms": _pct(samples, 0.99), "max_ms": round(max(samples), 2),
            "not_one_round": extra_rounds, "samples_ms": [round(s, 2) for s in samples]}


class _Writer(threading.Thread):
    """One put at a time until stopped; the completion time of every success, and the failures."""

    def __init__(self, cluster: LocalCluster) -> None:
        super().__init__(name="rolling-restart-writer", daemon=True)
        self.kv = cluster.kv_client(timeout_s=10.0)
        self.done: list[float] = []
        self.failed = 0
        self.stop = threading.Event()

    def run(self) -> None:
        k = 0
        try:
            while not self.stop.is_set():
                k += 1
                try:
                    self.kv.put(b"r%d" % (k % 100), b"%d" % k)
                    self.done.append(time.perf_counter())
                except Exception:  # a failed write is what this measures; keep writing
                    self.failed += 1
        finally:
            self.kv.close()


def measure_replacement(nodes: int = 3, settle_s: float = 1.0, config: dict | None = None) -> dict[str, Any]:
    """Replace a server under one writing client: add a learner, let it catch up, promote it, remove an old voter
    (the leader: the hardest case, it hands over first). Per step, how long it took and the longest write gap."""
    steps: list[dict[str, Any]] = []
    with LocalCluster("raft", nodes, config=config or {}) as c:
        c.wait_for_leader(20)
        writer = _Writer(c)
        writer.start()
        time.sleep(settle_s)

        def step(name: str, action: Any) -> Any:
            start = time.perf_counter()
            out = action()
            took = time.perf_counter() - start
            time.sleep(settle_s)
            end = time.perf_counter()
            times = [start] + [t for t in writer.done if start <= t <= end] + [end]
            steps.append({"step": name, "took_ms": round(took * 1000, 1),
                          "longest_gap_ms": round(max(b - a for a, b in zip(times, times[1:])) * 1000, 1)})
            return out

        new = step("add learner", lambda: c.add_node(voter=False))
        writer.kv.learn(new, c.addresses[new], c.control_addresses[new],
                        c.keyring.nodes[new] if c.keyring is not None else None)
        leader = c.wait_for_leader(20)
        target = c.request(leader, "status")["last_log_index"]
        step("catch up", lambda: c.wait_until(
            lambda: (c.status([new]).get(new) or {}).get("commit_index", 0) >= target, 30, "the learner to catch up"))
        step("promote", lambda: c.change_membership([{"op": "promote", "node": new}], 30))
        old = c.wait_for_leader(20)
        step("remove the old leader", lambda: c.remove_node(old))
        writer.stop.set()
        writer.join(15)
        members = c.members()
        writes, failed = len(writer.done), writer.failed
    return {"nodes": nodes, "writes": writes, "failed_writes": failed, "added": new, "removed": old,
            "voters": members["voters"], "steps": steps}


def measure_rolling_restart(nodes: int = 5, hand_over: bool = True, settle_s: float = 1.0,
                            config: dict | None = None) -> dict[str, Any]:
    """Restart every node in turn under one writing client; per restart, the longest gap between writes (ms)."""
    restarts: list[dict[str, Any]] = []
    with LocalCluster("raft", nodes, config=config or {}, hand_over=hand_over) as c:
        c.wait_for_leader(20)
        writer = _Writer(c)
        writer.start()
        time.sleep(settle_s)
        for node in c.ids:
            was_leader = c.request(node, "status")["role"] == "leader"
            start = time.perf_counter()
            c.restart(node)
            c.wait_for_leader(20)
            time.sleep(settle_s)
            end = time.perf_counter()
            times = [start] + [t for t in writer.done if start <= t <= end] + [end]
            gap = max(b - a for a, b in zip(times, times[1:]))
            restarts.append({"node": node, "was_leader": was_leader, "longest_gap_ms": round(gap * 1000, 1)})
        writer.stop.set()
        writer.join(15)
        writes, failed = len(writer.done), writer.failed
    if not any(r["was_leader"] for r in restarts):
        raise MeasurementFailed("no restart hit the leader (it moved ahead of the order): run again")
    leader_gaps = [r["longest_gap_ms"] for r in restarts if r["was_leader"]]
    return {"nodes": nodes, "hand_over": hand_over, "writes": writes, "failed_writes": failed,
            "leader_restart_gap_ms": max(leader_gaps),
            "follower_restart_gap_ms": max((r["longest_gap_ms"] for r in restarts if not r["was_leader"]),
                                           default=None),
            "restarts": restarts}
