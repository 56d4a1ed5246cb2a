"""The failover-time model both raft's and paxos's benchmarks check the simulator against.

A leader's last heartbeat (renewal) re-armed each of the n-1 followers' detection timers
with T_i uniform over {lo..hi}; the leader crashed U ms after sending it, U uniform over
{0..period-1}. The first follower to suspect it does so M = min(T_1..T_{n-1}) after the
heartbeat, P(M >= m) = ((hi - m + 1) / (hi - lo + 1))^(n-1), and the election then costs a
fixed number of network delays. So  time_to_new_leader = M + fixed_ms - U.
"""
from __future__ import annotations


def failover_distribution(followers: int, lo: int, hi: int, period: int, fixed_ms: int) -> list[tuple[int, float]]:
    """The distribution of M + fixed_ms - U as (ms, probability) pairs, ascending."""
    width = hi - lo + 1

    def at_least(m: int) -> float:
        return ((hi - m + 1) / width) ** followers

    dist: dict[int, float] = {}
    for m in range(lo, hi + 1):
        p_m = at_least(m) - at_least(m + 1)
        for u in range(period):
            t = m + fixed_ms - u
            dist[t] = dist.get(t, 0.0) + p_m / period
    return sorted(dist.items())


def model_quantile(dist: list[tuple[int, float]], q: float) -> int:
    """The smallest time whose cumulative probability reaches q."""
    acc = 0.0
    for t, p in dist:
        acc += p
        if acc >= q - 1e-12:
            return t
    return dist[-1][0]
