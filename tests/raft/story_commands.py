"""Raft's addition to the scenario commands: start a node from a log drawn as the paper draws them."""
from __future__ import annotations

from quorumlab.algorithms.raft import Raft
from quorumlab.algorithms.raft.durable import LOG_FILE, encode_entry
from quorumlab.core.scenario import Args, Handler, ScriptError, Story
from quorumlab.core.storage import MemoryStorage


def set_log(story: Story, a: Args) -> None:
    """set-log <i> <term> ... [term=<t>]: node i restarts from a disk holding entries of these terms (empty
    commands) and current term t (default: the last entry's), with no vote. ``set-log 2 1 1 4 term=7``"""
    c = story.cluster
    if not issubclass(c.algo, Raft):
        raise ScriptError(f"set-log needs a raft cluster, not {c.algo.__name__}")
    i = story.node(a.word(0, "node"))
    bad = [t for t in a.words[1:] if not t.isdigit()]
    if bad:
        raise ScriptError(f"a term is a number, got {bad[0]!r}")
    terms = [int(t) for t in a.words[1:]]
    term = int(a.option("term", str(terms[-1] if terms else 0)))
    if terms != sorted(terms) or (terms and term < terms[-1]):
        raise ScriptError("a log's terms never decrease, and the current term is at least the last entry's")
    storage = MemoryStorage()
    storage.write({"term": term, "voted_for": None})
    storage.open_log(LOG_FILE).append(encode_entry(t, b"") for t in terms)
    storage.flush()
    c.crash(i)
    c.storage[i] = storage
    story.step(None, lambda: c.restart(i))


COMMANDS: dict[str, Handler] = {"set-log": set_log}
