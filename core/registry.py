"""Algorithm discovery through the ``quorumlab.algorithms`` entry-point group, and nothing else.

raft, paxos and bully are registered in pyproject.toml exactly as a third-party
package would register its own algorithm, so a plugin installed from PyPI shows
up here with no change to core or bench.
"""
from __future__ import annotations

from importlib.metadata import entry_points

from quorumlab.core.errors import UnknownAlgorithmError

GROUP = "quorumlab.algorithms"


def _entry_points() -> dict:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available() -> list[str]:
    """Names of every registered algorithm, sorted."""
    return sorted(_entry_points())


def load(name: str):
    """The ``ElectionAlgorithm`` subclass registered as ``name``; unknown names list the available ones."""
    eps = _entry_points()
    ep = eps.get(name)
    if ep is None:
        names = ", ".join(sorted(eps)) or "(none: is quorumlab installed?)"
        raise UnknownAlgorithmError(f"unknown algorithm {name!r}; available: {names}")
    cls = ep.load()
    from quorumlab.core.algorithm import ElectionAlgorithm

    if not (isinstance(cls, type) and issubclass(cls, ElectionAlgorithm)):
        raise UnknownAlgorithmError(f"entry point {name!r} ({ep.value}) is not an ElectionAlgorithm subclass")
    return cls


def describe() -> list[tuple[str, str, str]]:
    """(name, one-line description, where it comes from) for every registered algorithm that loads."""
    rows = []
    for name, ep in sorted(_entry_points().items()):
        try:
            cls = load(name)
            rows.append((name, cls.description, ep.value))
        except Exception as exc:  # a broken plugin must not hide the others
            rows.append((name, f"(failed to load: {exc})", ep.value))
    return rows
