"""Messages drawn from traffic counters, for real processes (which publish no event per message).

Between two samples of every node's counters (``sent`` and ``recv`` per message type), each
node's sent count of a type is spread over its peers in proportion to what each peer received
of that type in the same interval, so a follower's replies go to the leader and a leader's
heartbeats to every follower. How many messages of each type left each node is exact; their
destinations are inferred and their instants spread evenly over the interval. The page draws
them one interval late, each for ``VISUAL_MS``, and says that they come from counters.
"""
from __future__ import annotations

VISUAL_MS = 150
"""How long a message drawn from counters is shown in flight (a loopback message takes well under 1 ms)."""
MAX_PER_LINK = 6
"""At most this many messages of one type are drawn per link and interval; the rest are only counted."""


def _delta(cur: dict[str, int], prev: dict[str, int]) -> dict[str, int]:
    return {k: v - prev.get(k, 0) for k, v in cur.items() if v > prev.get(k, 0)}


def flights_from_counters(prev: dict[int, dict], cur: dict[int, dict], t0: float, t1: float) -> tuple[list[list], int]:
    """Flights ``[src, dst, type, start, end, "ok"]`` for the traffic between two samples taken at
    ``t0`` and ``t1`` (node id -> counters, as in status), drawn during [t1, t1 + (t1 - t0)); and how
    many messages were left undrawn by the per-link cap."""
    sent = {i: _delta(c.get("sent", {}), prev[i].get("sent", {})) for i, c in cur.items() if i in prev}
    recv = {i: _delta(c.get("recv", {}), prev[i].get("recv", {})) for i, c in cur.items() if i in prev}
    span = max(1.0, t1 - t0)
    flights: list[list] = []
    undrawn = 0
    for src, by_type in sorted(sent.items()):
        for kind, count in sorted(by_type.items()):
            takers = {p: r[kind] for p, r in recv.items() if p != src and r.get(kind)}
            total = sum(takers.values())
            if not total:
                continue
            shares = _apportion(count, takers, total)
            for dst, n in sorted(shares.items()):
                drawn = min(n, MAX_PER_LINK)
                undrawn += n - drawn
                for k in range(drawn):
                    start = t1 + span * (k + 0.5) / drawn
                    flights.append([src, dst, kind, start, start + VISUAL_MS, "ok"])
    flights.sort(key=lambda f: f[3])
    return flights, undrawn


def _apportion(count: int, weights: dict[int, int], total: int) -> dict[int, int]:
    """Split ``count`` over the keys of ``weights`` in proportion (largest remainders get the leftovers)."""
    exact = {k: count * w / total for k, w in weights.items()}
    shares = {k: int(v) for k, v in exact.items()}
    left = count - sum(shares.values())
    for k in sorted(exact, key=lambda k: exact[k] - shares[k], reverse=True)[:left]:
        shares[k] += 1
    return shares
