"""Metrics computed only from event streams (and message counter series), never from algorithm internals.

An event is a dict ``{"t": ms, "node": id, "kind": ..., ...}`` as produced by the
simulator (``Simulation.events``) and the ZeroMQ runtime: ``role`` {from, to,
term}, ``term`` {from, to}, ``leader`` {leader, term}, notes such as
``election_started`` {term}, plus fault marks ``crash``/``restart``/``pause``/
``resume`` (node = the node concerned) and ``partition``/``heal``. Because every
registered algorithm emits the same kinds, the same functions measure raft,
paxos, bully and any third-party plugin.

State is evaluated at the end of each timestamp: all events that share a ``t``
are applied before any predicate looks at the cluster, so the order of events
inside one millisecond never creates a leader that did not exist.
"""
from __future__ import annotations

from collections import Counter

from dataclasses import dataclass
from itertools import groupby
from typing import Callable, Iterable, Iterator, Sequence

LEADER = "leader"
DOWN_KINDS = frozenset({"crash", "stopped"})
UP_KINDS = frozenset({"restart", "started"})


@dataclass
class NodeView:
    """What the event stream says about one node."""

    up: bool = True
    role: str = "follower"
    term: int = 0
    lead_term: int = 0
    """The term of the role event that made the node leader (what "leader of term T" means, as in ElectionSafety)."""
    leader: int | None = None


class ClusterView:
    """The cluster as the event stream describes it: each node's liveness, role, term and leader belief."""

    def __init__(self, ids: Iterable[int]) -> None:
        self.nodes: dict[int, NodeView] = {i: NodeView() for i in ids}

    def apply(self, ev: dict) -> None:
        """Fold one event into the view (unknown kinds and node 0 marks are ignored; a ``pause`` changes
        nothing, since a stopped node still believes what it believed)."""
        n = self.nodes.get(ev.get("node"))
        if n is None:
            return
        kind = ev["kind"]
        if kind == "role":
            n.role = ev["to"]
            n.term = ev.get("term", n.term)
            if n.role == LEADER:
                n.lead_term = n.term
        elif kind == "term":
            n.term = ev["to"]
        elif kind == "leader":
            n.leader = ev["leader"]
        elif kind in DOWN_KINDS:
            n.up, n.role, n.leader = False, "follower", None
        elif kind in UP_KINDS:
            n.up, n.role, n.leader = True, "follower", None

    def leaders(self) -> list[tuple[int, int]]:
        """(node, term it was elected in) of every live node whose last role is leader (paused ones included:
        they still believe it). The election term, not the latest ``term`` event: a leader that learns of a
        higher term records the term change just before stepping down, and is not a leader of that term."""
        return [(i, n.lead_term) for i, n in self.nodes.items() if n.up and n.role == LEADER]

    def followed_leader(self, among: Iterable[int], need: int, exclude: Iterable[int] = ()) -> int | None:
        """A leader L in ``among`` (not excluded) that leads and that at least ``need`` nodes of ``among`` follow.

        L counts itself. Returns None if there is no such leader.
        """
        among = [i for i in among if self.nodes[i].up]
        excluded = set(exclude)
        votes: dict[int, int] = {}
        for i in among:
            n = self.nodes[i]
            choice = i if n.role == LEADER else n.leader
            if choice is not None:
                votes[choice] = votes.get(choice, 0) + 1
        for cand, count in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0])):
            c = self.nodes.get(cand)
            if cand in excluded or c is None or cand not in among or c.role != LEADER:
                continue
            if count >= need:
                return cand
        return None


Predicate = Callable[[ClusterView], bool]


def timestamp_groups(events: Sequence[dict]) -> Iterator[tuple[float, list[dict]]]:
    """(t, events at t) in stream order; the stream must be time-ordered."""
    for t, group in groupby(events, key=lambda e: e["t"]):
        yield t, list(group)


def first_time(events: Sequence[dict], ids: Iterable[int], since: float, pred: Predicate) -> float | None:
    """The first time >= ``since`` at which ``pred`` holds for the cluster, or None.

    If it already holds at ``since`` (after every event up to and including ``since``), returns ``since``.
    """
    view = ClusterView(ids)
    checked = False
    for t, group in timestamp_groups(events):
        if t > since and not checked:
            checked = True
            if pred(view):
                return since
        for ev in group:
            view.apply(ev)
        if t >= since:
            checked = True
            if pred(view):
                return t
    if not checked and pred(view):
        return since
    return None


def view_at(events: Sequence[dict], ids: Iterable[int], t: float) -> ClusterView:
    """The cluster after every event with time <= ``t``."""
    view = ClusterView(ids)
    for ev in events:
        if ev["t"] > t:
            break
        view.apply(ev)
    return view


def majority(n: int) -> int:
    """Smallest majority of ``n`` voters."""
    return n // 2 + 1


def agreement(among: Iterable[int], need: int, exclude: Iterable[int] = ()) -> Predicate:
    """Predicate: ``need`` nodes of ``among`` follow one leader (not in ``exclude``)."""
    among, exclude = tuple(among), tuple(exclude)
    return lambda v: v.followed_leader(among, need, exclude) is not None


def sole_leader(ids: Iterable[int]) -> Predicate:
    """Predicate: exactly one live node leads and every live node follows it."""
    ids = tuple(ids)

    def pred(v: ClusterView) -> bool:
        live = [i for i in ids if v.nodes[i].up]
        return len(v.leaders()) == 1 and v.followed_leader(live, len(live)) is not None

    return pred


def max_leaders(events: Sequence[dict], ids: Iterable[int], since: float, until: float) -> tuple[int, int]:
    """(most live nodes leading at once, most leading at once in the same term) within [since, until]."""
    view = ClusterView(ids)
    best = best_same = 0

    def measure() -> None:
        nonlocal best, best_same
        leaders = view.leaders()
        per_term: dict[int, int] = {}
        for _, term in leaders:
            per_term[term] = per_term.get(term, 0) + 1
        best = max(best, len(leaders))
        best_same = max(best_same, max(per_term.values(), default=0))

    measured_at_since = False
    for t, group in timestamp_groups(events):
        if t > until:
            break
        if t > since and not measured_at_since:
            measured_at_since = True
            measure()
        for ev in group:
            view.apply(ev)
        if t >= since:
            measured_at_since = True
            measure()
    if not measured_at_since:
        measure()
    return best, best_same


def in_window(events: Sequence[dict], since: float, until: float) -> Iterator[dict]:
    """Events with since <= t <= until."""
    return (e for e in events if since <= e["t"] <= until)


def first_event(events: Sequence[dict], kind: str, since: float, until: float | None = None, node: int | None = None) -> dict | None:
    """The first event of ``kind`` (from ``node`` if given) at or after ``since``."""
    for e in events:
        if e["t"] < since or e["kind"] != kind or (node is not None and e["node"] != node):
            continue
        if until is not None and e["t"] > until:
            return None
        return e
    return None


def rounds(events: Sequence[dict], since: float, until: float) -> int:
    """Election rounds in the window: for each term (ballot round, epoch) of ``election_started``
    notes, the most elections any one node started in it, summed over the terms.

    Raft and paxos start at most one election per node per term, so this is their number of
    distinct terms; bully restarts elections inside one epoch, and each restart is a round.
    """
    starts: Counter = Counter(
        (e.get("term"), e["node"]) for e in in_window(events, since, until) if e["kind"] == "election_started"
    )
    per_term: dict = {}
    for (term, _node), count in starts.items():
        per_term[term] = max(per_term.get(term, 0), count)
    return sum(per_term.values())


def elections_started(events: Sequence[dict], since: float, until: float) -> int:
    """How many ``election_started`` notes (all nodes) fall in the window."""
    return sum(1 for e in in_window(events, since, until) if e["kind"] == "election_started")


def leader_changes(events: Sequence[dict], since: float, until: float) -> int:
    """How many times a node took the leader role in the window [since, until].

    Inclusive at ``since``: in the simulator a rejoining node can take over in the very
    millisecond it restarts (bully's takeover), and that change must count.
    """
    return sum(1 for e in events if since <= e["t"] <= until and e["kind"] == "role" and e["to"] == LEADER)


def win_ms(events: Sequence[dict], leader: int, since: float, until: float) -> float | None:
    """Duration of the leader's winning round: its last ``election_won`` in the window minus its latest
    ``election_started`` before that (the round that won; terms are not compared, since an algorithm may
    win in the term it announces rather than the one it started in); None if either note is missing."""
    won = None
    for e in in_window(events, since, until):
        if e["kind"] == "election_won" and e["node"] == leader:
            won = e
    if won is None:
        return None
    started = None
    for e in events:
        if e["t"] > won["t"]:
            break
        if e["kind"] == "election_started" and e["node"] == leader:
            started = e
    return None if started is None else won["t"] - started["t"]


def uncontested(node: int) -> Predicate:
    """Predicate: ``node`` does not lead beside another leader (it stepped down, or is the only leader)."""
    return lambda v: v.nodes[node].role != LEADER or len(v.leaders()) == 1


def counter_at(series: Sequence[tuple[float, int, int]], t: float, before: bool = False) -> tuple[int, int]:
    """Cumulative (messages, bytes) sent at time ``t`` from a series of (t, messages, bytes) samples.

    ``before=True`` gives the value just before ``t`` (sends at ``t`` excluded), otherwise just after.
    """
    msgs = nbytes = 0
    for st, m, b in series:
        if st > t or (before and st == t):
            break
        msgs, nbytes = m, b
    return msgs, nbytes


def sent_between(series: Sequence[tuple[float, int, int]], since: float, until: float) -> tuple[int, int]:
    """(messages, bytes) sent in [since, until] according to a cumulative counter series."""
    m0, b0 = counter_at(series, since, before=True)
    m1, b1 = counter_at(series, until)
    return m1 - m0, b1 - b0


def counter_totals(counters: dict) -> tuple[int, int]:
    """(messages, bytes) from a runtime counters snapshot: messages are every send the algorithm asked for
    (handed to a connection, or dropped because the peer is unreachable, as the simulator counts a send to
    a crashed node); bytes are those handed to a connection."""
    messages = sum(counters.get("sent", {}).values()) + counters.get("dropped_unreachable", 0)
    return messages, sum(counters.get("bytes_sent", {}).values())


def counts_before(events: Sequence[dict], since: float) -> dict[int, tuple[int, int]]:
    """Each node's sent (messages, bytes) as its own ``counters``/``stopped`` events last reported them
    before ``since``; a ``started`` event resets the node to zero (counters are per process)."""
    out: dict[int, tuple[int, int]] = {}
    for e in events:
        if e["t"] >= since:
            break
        kind = e["kind"]
        if kind == "started":
            out[e["node"]] = (0, 0)
        elif kind in ("counters", "stopped") and "counters" in e:
            out[e["node"]] = counter_totals(e["counters"])
    return out


def sent_since(before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """(messages, bytes) sent between two per-node snapshots, over the nodes present in ``after``."""
    msgs = nbytes = 0
    for node, (m, b) in after.items():
        m0, b0 = before.get(node, (0, 0))
        msgs += m - m0
        nbytes += b - b0
    return msgs, nbytes
