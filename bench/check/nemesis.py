"""The nemesis: a seeded schedule of faults, and how each becomes concrete once the leader is known.

``schedule`` is a pure function of its arguments: the same seed gives the same
episodes at the same times with the same random draws. An episode is one fault
(or several at once) held for a few seconds, then repaired, then a quiet
period. Which node is "the leader" is only known when the fault starts, so an
episode carries random draws, and ``plan`` turns it into nodes to kill, pause
and a partition from the leader of that moment.

Kinds, by the nemesis that enables them:

- kill: ``kill`` (SIGKILL one node, the leader half of the time; restarted at
  the end), ``kill-majority`` (a majority at once, the leader first),
  ``bounce`` (one node after another killed and restarted at once, every
  ``BOUNCE_S``, the leader half of the time: elections, and restarts that
  land in the middle of them);
- pause: ``pause`` (SIGSTOP one node, the leader half of the time; SIGCONT at the end);
- partition: ``partition`` (a random minority cut off), ``partition-leader``
  (the leader in the minority);
- two or more nemeses: ``all`` (at once: kill a follower, pause the leader,
  and cut the cluster in two, as far as each of them is enabled).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

NEMESES = ("kill", "pause", "partition")
KINDS = {
    "kill": ("kill", "kill-majority", "bounce"),
    "pause": ("pause",),
    "partition": ("partition", "partition-leader"),
}
"""The episode kinds each nemesis brings."""
BOUNCE_S = (0.01, 0.2)
"""Time between two restarts of a bounce episode (uniform, seconds)."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One episode: from ``start`` to ``end`` (seconds from the run's start), with the draws its targets use."""

    start: float
    end: float
    kind: str
    draws: tuple[int, ...]
    nemeses: tuple[str, ...] = ()


@dataclass(slots=True)
class Plan:
    """What an episode does to the cluster: nodes to kill and to pause, the network split (None: whole), and
    the nodes a bounce episode restarts, one at a time, until it ends."""

    kill: list[int] = field(default_factory=list)
    bounce: list[int] = field(default_factory=list)
    pause: list[int] = field(default_factory=list)
    groups: list[list[int]] | None = None

    def describe(self) -> str:
        parts = []
        if self.kill:
            parts.append(f"kill {', '.join(map(str, self.kill))}")
        if self.pause:
            parts.append(f"pause {', '.join(map(str, self.pause))}")
        if self.bounce:
            parts.append(f"bounce {', '.join(map(str, self.bounce))}")
        if self.groups:
            parts.append("partition " + " | ".join(",".join(map(str, g)) for g in self.groups))
        return "; ".join(parts) or "nothing"


def schedule(seed: int, duration_s: float, nemeses: tuple[str, ...] | list[str], *, warmup_s: float = 2.0,
             fault_s: tuple[float, float] = (2.0, 6.0), quiet_s: tuple[float, float] = (2.0, 5.0)) -> list[Fault]:
    """The episodes of a run of ``duration_s``: the first after ``warmup_s``, each held for ``fault_s`` and
    followed by ``quiet_s`` (ranges, drawn uniformly), none ending after the run. No nemesis: no episode."""
    unknown = [n for n in nemeses if n not in KINDS]
    if unknown:
        raise ValueError(f"unknown nemesis {', '.join(unknown)}; known: {', '.join(NEMESES)}")
    chosen = tuple(n for n in NEMESES if n in nemeses)
    if not chosen:
        return []
    kinds = [k for n in chosen for k in KINDS[n]] + (["all"] if len(chosen) > 1 else [])
    rng = random.Random(f"quorumlab-nemesis:{seed}")
    faults: list[Fault] = []
    t = warmup_s
    while True:
        held = rng.uniform(*fault_s)
        if t + held > duration_s:
            return faults
        kind = rng.choice(kinds)
        draws = tuple(rng.randrange(1 << 30) for _ in range(8))
        faults.append(Fault(round(t, 3), round(t + held, 3), kind, draws, chosen))
        t += held + rng.uniform(*quiet_s)


def plan(fault: Fault, ids: tuple[int, ...] | list[int], leader: int | None) -> Plan:
    """The concrete targets of ``fault`` in a cluster of ``ids`` whose leader is ``leader`` (None: unknown)."""
    ids = sorted(ids)
    draws = list(fault.draws)
    minority = (len(ids) - 1) // 2

    def pick(candidates: list[int]) -> int:
        return candidates[draws.pop() % len(candidates)]

    def leader_or_any(candidates: list[int]) -> int:
        if leader in candidates and draws.pop() % 2 == 0:
            return leader
        return pick(candidates)

    def split(first: int | None) -> list[list[int]]:
        """Two groups: a minority (``first`` in it, when given) and the rest."""
        if minority < 1:
            return [ids[:]]
        size = 1 + draws.pop() % minority
        small = [first] if first is not None else []
        while len(small) < size:
            small.append(pick([i for i in ids if i not in small]))
        return [sorted(small), [i for i in ids if i not in small]]

    kind = fault.kind
    if kind == "kill":
        return Plan(kill=[leader_or_any(ids)])
    if kind == "kill-majority":
        chosen = [leader] if leader in ids else []
        while len(chosen) < len(ids) // 2 + 1:
            chosen.append(pick([i for i in ids if i not in chosen]))
        return Plan(kill=sorted(chosen))
    if kind == "bounce":
        return Plan(bounce=ids[:])
    if kind == "pause":
        return Plan(pause=[leader_or_any(ids)])
    if kind == "partition":
        return Plan(groups=split(None))
    if kind == "partition-leader":
        return Plan(groups=split(leader if leader in ids else None))
    if kind == "all":
        out = Plan()
        rest = ids[:]
        if "pause" in fault.nemeses:
            out.pause = [leader if leader in rest else pick(rest)]
            rest = [i for i in rest if i not in out.pause]
        if "kill" in fault.nemeses and len(rest) > 1:
            out.kill = [pick([i for i in rest if i != leader] or rest)]
        if "partition" in fault.nemeses:
            out.groups = split(leader if leader in ids else None)
        return out
    raise ValueError(f"unknown fault kind {kind!r}")


class Bouncer:
    """When a bounce episode restarts which node: one every ``BOUNCE_S``, the leader or a random node (seeded)."""

    def __init__(self, fault: Fault, nodes: list[int], start_s: float) -> None:
        self.rng = random.Random(f"quorumlab-bounce:{fault.draws[0]}")
        self.nodes = sorted(nodes)
        self.at = start_s + self.rng.uniform(*BOUNCE_S)

    def due(self, now_s: float, leader: int | None) -> int | None:
        """The node to kill and restart now, if one is due (then the next one is scheduled)."""
        if not self.nodes or now_s < self.at:
            return None
        self.at = now_s + self.rng.uniform(*BOUNCE_S)
        choice = self.rng.choice(self.nodes)
        return leader if self.rng.random() < 0.5 and leader in self.nodes else choice
