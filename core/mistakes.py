"""Deliberately broken variants of an algorithm, for teaching: the ``quorumlab.mistakes`` entry-point group.

An algorithm package may register the common mistakes people make when they write it,
each as a ``Mistake``: a subclass that makes exactly that mistake and/or config overrides.
``bench web`` offers them in the simulator only, labelled as broken, so a learner can switch
one on and watch the invariant it breaks (the observer's violation message). Like
algorithms, they are found through entry points (``<algo>.<mistake> = "pkg.module:NAME"``),
so core and bench never name an algorithm.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from quorumlab.core.algorithm import ElectionAlgorithm

GROUP = "quorumlab.mistakes"


@dataclass(frozen=True)
class Mistake:
    """One deliberately broken variant: what it gets wrong, what breaks, and how to make it show."""

    algo: str
    name: str
    title: str
    breaks: str
    """What goes wrong, in a sentence (the invariant or the liveness it costs)."""
    how_to_see: str
    """What to do in the simulator to make it show."""
    cls: type[ElectionAlgorithm] | None = None
    """A subclass of the algorithm making exactly this mistake (None: the mistake is in ``config`` alone)."""
    config: dict[str, Any] = field(default_factory=dict)
    """Config overrides making the mistake (e.g. the same timeout everywhere)."""


def available(algo: str) -> dict[str, Mistake]:
    """The registered mistakes of algorithm ``algo``, by name; a broken entry point is skipped."""
    found: dict[str, Mistake] = {}
    for ep in entry_points(group=GROUP):
        owner, _, name = ep.name.partition(".")
        if owner != algo:
            continue
        try:
            mistake = ep.load()
        except Exception:  # a broken plugin must not hide the others
            continue
        if isinstance(mistake, Mistake):
            found[name] = mistake
    return dict(sorted(found.items()))


def broken_class(base: type[ElectionAlgorithm], chosen: list[Mistake]) -> type[ElectionAlgorithm]:
    """``base`` with every chosen mistake's subclass mixed in (each overrides its own method)."""
    classes = tuple(m.cls for m in chosen if m.cls is not None)
    if not classes:
        return base
    title = "+".join(m.name for m in chosen)
    return type(f"{base.__name__}Broken[{title}]", classes, {"__doc__": f"{base.__name__} with mistakes: {title}"})


def broken_config(chosen: list[Mistake]) -> dict[str, Any]:
    """The config overrides of every chosen mistake, merged in order."""
    merged: dict[str, Any] = {}
    for m in chosen:
        merged.update(m.config)
    return merged
