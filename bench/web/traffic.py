"""Messages of real processes: from the nodes' send/receive events when they trace messages (MessageTrace),
else from traffic counters (the default: nodes publish no event per message).

Between two samples of every node's counters (``sent`` and ``recv`` per message type), each
node's sent count of a type is spread over its peers in proportion to what each peer received
of that type in the same interval, so a follower's replies go to the leader and a leader's
heartbeats to every follower. How many messages of each type left each node is exact; their
destinations are inferred and their instants spread evenly over the interval. The page draws
them one interval late, each for ``VISUAL_MS``, and says that they come from counters.
"""
from __future__ import annotations

import collections

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


TRACE_EXPIRE_MS = 2000
"""A traced send with no receive this long after it (a receiver that crashed, a connection that dropped it)
is drawn as lost; a receive whose send never showed up this long is forgotten."""


class MessageTrace:
    """Flights from the nodes' own ``send``/``recv`` events (nodes started with ``--trace-messages``).

    Each link (src, dst) is one ZeroMQ connection, which delivers in order, so the k-th message received on a
    link is the earliest unmatched one sent on it with the same type; sends of other types before it were lost.
    Sources, destinations, types and send instants are exact; a loopback hop takes well under a millisecond, so
    each flight is drawn for at least ``VISUAL_MS`` from its real send instant. A send cut by the runtime's
    partition switch is a cross at its sender, a receive dropped by it a cross at the receiver."""

    def __init__(self) -> None:
        self._sends: dict[tuple[int, int], collections.deque] = collections.defaultdict(collections.deque)
        self._recvs: dict[tuple[int, int], collections.deque] = collections.defaultdict(collections.deque)
        self.seen = False
        """True once any node's events carried a send or a receive (then counters are not drawn)."""

    def feed(self, events: list[dict], now: float) -> list[list]:
        """The flights ``[src, dst, type, start, end, fate]`` that ``events`` (time-ordered) complete."""
        flights: list[list] = []
        touched: set[tuple[int, int]] = set()
        for e in events:
            kind = e.get("kind")
            if kind == "send":
                link = (e["node"], e["peer"])
                if e.get("dropped"):
                    flights.append([*link, e["type"], e["t"], e["t"], "cut"])
                else:
                    self._sends[link].append((e["t"], e["type"]))
            elif kind == "recv":
                link = (e["peer"], e["node"])
                self._recvs[link].append((e["t"], e["type"], bool(e.get("dropped"))))
            else:
                continue
            self.seen = True
            touched.add(link)
        for link in touched:
            flights += self._pair(link)
        flights += self._expire(now)
        flights.sort(key=lambda f: f[3])
        return flights

    def _pair(self, link: tuple[int, int]) -> list[list]:
        sends, recvs, out = self._sends[link], self._recvs[link], []
        while sends and recvs:
            t1, kind, dropped = recvs[0]
            match = next((k for k, s in enumerate(sends) if s[1] == kind), None)
            if match is None:
                break  # its send is not read yet: the sender's line comes in a later batch
            for _ in range(match):
                t0, other = sends.popleft()
                out.append([*link, other, t0, t0 + VISUAL_MS, "lost"])
            t0, _ = sends.popleft()
            recvs.popleft()
            out.append([*link, kind, t0, max(t1, t0 + VISUAL_MS), "dropped" if dropped else "ok"])
        return out

    def _expire(self, now: float) -> list[list]:
        out = []
        for link, sends in self._sends.items():
            while sends and sends[0][0] < now - TRACE_EXPIRE_MS:
                t0, kind = sends.popleft()
                out.append([*link, kind, t0, t0 + VISUAL_MS, "lost"])
        for recvs in self._recvs.values():
            while recvs and recvs[0][0] < now - TRACE_EXPIRE_MS:
                recvs.popleft()
        return out
