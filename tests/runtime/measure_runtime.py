"""Measure the ZeroMQ runtime: failover after SIGKILL of the leader (vs the simulator) and idle cost.

    .venv/bin/python -m tests.runtime.measure_runtime --trials 30 --idle-s 10

Failover: a 3-process raft cluster with default timeouts and transport_hints off (the
timeout path, which the simulator models; with hints a kill is detected by the dropped
connection instead: `bench failover`); each trial waits for
a leader every node agrees on, waits a random 0-100 ms (so the kill lands at a
random phase of the heartbeat), SIGKILLs the leader and takes, from the events,
the time from the kill to the first survivor becoming leader in a higher term,
split into detection (kill -> first election_started) and election (that ->
leader). The killed node is restarted and rejoins before the next trial. The
simulator runs the same scenario with the same config on its seeded network
(delay 0-1 ms, like loopback). Idle: a 5-process cluster with a stable leader;
CPU time of every node from /proc/<pid>/stat over the window, and VmRSS.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time

from quorumlab.core.cluster import LocalCluster
from quorumlab.core.sim import Network, Simulation


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation."""
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "median": statistics.median(values), "p90": percentile(values, 0.9), "mean": statistics.fmean(values),
            "min": min(values), "max": max(values)}


def agreed(c: LocalCluster):
    st = c.status()
    if any(s is None for s in st.values()):
        return None
    leaders = [i for i, s in st.items() if s["role"] == "leader"]
    if len(leaders) == 1 and all(s["leader"] == leaders[0] for s in st.values()):
        return leaders[0], st[leaders[0]]["term"]
    return None


def real_failover(trials: int, seed: int) -> dict[str, list[float]]:
    rng = random.Random(seed)
    out: dict[str, list[float]] = {"failover": [], "detection": [], "election": [], "winner_timer_late": []}
    with LocalCluster("raft", 3, config={"transport_hints": False}) as c:
        for _ in range(trials):
            leader, term = c.wait_until(lambda: agreed(c), 30, "agreement")
            time.sleep(rng.uniform(0, 0.1))
            before = {i: s["counters"]["timers"] for i, s in c.status().items() if s}
            t_kill = c.crash(leader)
            won = c.wait_for(lambda e: e["kind"] == "role" and e["to"] == "leader" and e["term"] > term, 30, since=t_kill)
            after = c.status([won["node"]])[won["node"]]["counters"]["timers"]
            first = c.wait_for(lambda e: e["kind"] == "election_started" and e["node"] != leader, 30, since=t_kill)
            out["failover"].append(won["t"] - t_kill)
            out["detection"].append(first["t"] - t_kill)
            out["election"].append(won["t"] - first["t"])
            out["winner_timer_late"].append(timer_late_ms(before[won["node"]], after))
            c.restart(leader)
    return out


def timer_late_ms(before: dict, after: dict) -> float:
    """Mean lateness (ms past deadline) of the timers a node fired between two status snapshots."""
    fired = after["fired"] - before["fired"]
    total = after["late_ms_mean"] * after["fired"] - before["late_ms_mean"] * before["fired"]
    return total / fired if fired else 0.0


def sim_failover(trials: int, seed: int, network: Network) -> dict[str, list[float]]:
    rng = random.Random(seed)
    out: dict[str, list[float]] = {"failover": [], "detection": [], "election": []}
    for trial in range(trials):
        sim = Simulation("raft", 3, seed=rng.getrandbits(32), network=network)
        assert sim.run_until(lambda s: s.unanimous_leader() is not None, 10_000)
        sim.run_for(500 + rng.randint(0, 100))
        leader = sim.unanimous_leader()
        assert leader is not None, f"trial {trial}: no stable leader"
        term = sim.node(leader).term
        sim.crash(leader)
        t_kill = sim.now
        mark = len(sim.events)
        assert sim.run_until(lambda s: any(t > term for _, t in s.leaders()), 10_000)
        after = sim.events[mark:]
        first = next(e for e in after if e["kind"] == "election_started")
        won = next(e for e in after if e["kind"] == "role" and e["to"] == "leader" and e["term"] > term)
        out["failover"].append(won["t"] - t_kill)
        out["detection"].append(first["t"] - t_kill)
        out["election"].append(won["t"] - first["t"])
    return out


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def idle_cost(seconds: float) -> dict:
    with LocalCluster("raft", 5) as c:
        c.wait_until(lambda: agreed(c), 30, "agreement")
        time.sleep(1.0)
        pids = {i: c.pid(i) for i in c.ids}
        before = {i: cpu_ticks(p) for i, p in pids.items()}
        t0 = time.monotonic()
        time.sleep(seconds)
        wall = time.monotonic() - t0
        after = {i: cpu_ticks(p) for i, p in pids.items()}
        rss = {i: rss_kib(p) for i, p in pids.items()}
        leader = agreed(c)
    hz = os.sysconf("SC_CLK_TCK")
    cpu = {i: 100.0 * (after[i] - before[i]) / hz / wall for i in pids}
    return {"window_s": round(wall, 2), "leader": leader[0] if leader else None, "cpu_percent": cpu,
            "cpu_percent_total": sum(cpu.values()), "rss_kib": rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--sim-trials", type=int, default=2000)
    ap.add_argument("--idle-s", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    real = real_failover(args.trials, args.seed)
    sim = sim_failover(args.sim_trials, args.seed, Network(delay_ms=(0, 1)))
    sim13 = sim_failover(args.sim_trials, args.seed, Network(delay_ms=(1, 3)))
    idle = idle_cost(args.idle_s)
    report = {
        "load_average_1m": os.getloadavg()[0],
        "real": {k: summary(v) for k, v in real.items()},
        "sim_delay_0_1": {k: summary(v) for k, v in sim.items()},
        "sim_delay_1_3": {k: summary(v) for k, v in sim13.items()},
        "real_failover_samples_ms": [round(x, 1) for x in real["failover"]],
        "idle": idle,
    }
    print(json.dumps(report, indent=2))
    r, s = report["real"]["failover"], report["sim_delay_0_1"]["failover"]
    print(f"\nfailover kill->leader, ms   real (n={r['n']}): median {r['median']:.1f}  p90 {r['p90']:.1f}"
          f"   sim (n={s['n']}): median {s['median']:.1f}  p90 {s['p90']:.1f}"
          f"   ratio median {r['median'] / s['median']:.3f}  p90 {r['p90'] / s['p90']:.3f}")
    print(f"idle 5 nodes: total CPU {idle['cpu_percent_total']:.2f}% of one core, "
          f"RSS per node {min(idle['rss_kib'].values()) / 1024:.1f}-{max(idle['rss_kib'].values()) / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
