"""The commands every story can use, whatever the algorithm. ``COMMANDS`` maps each name to its function.

Time: delivering a message takes 1 ms; timers fire only when a command says so (``campaign``,
``fire``, ``tick``, ``run``), except those armed with no delay, which fire at once. Messages
wait in flight until ``deliver``, ``stabilize`` or ``run`` hands them over; one to or from a
node that is down, or across a cut link, is then lost.
"""
from __future__ import annotations

import importlib
from typing import Any

from quorumlab.core import registry
from quorumlab.core.algorithm import ElectionAlgorithm
from quorumlab.core.scenario import trace
from quorumlab.core.scenario.recorder import RecordingCluster
from quorumlab.core.scenario.script import ScriptError
from quorumlab.core.scenario.story import Args, Handler, Story

MAX_STEPS = 100_000
"""A command that would deliver or fire more than this is stuck (the nodes keep sending): an error."""


# -- the cluster --------------------------------------------------------------------------


def cluster(story: Story, a: Args) -> None:
    """cluster <algo> <n> [key=value ...] [mistake=<name>]: a new cluster of nodes 1..n (the story goes on with it).

    ``algo`` is a registered algorithm (``raft``) or ``module:Class``; the options are its config
    (``Config.from_strings``); ``mistake`` runs a deliberately broken variant the test suite names,
    checked by the same safety observers. ``cluster raft 3 pre_vote=true``
    """
    algo = _algorithm(a.word(0, "algorithm"))
    n = a.word(1, "number of nodes")
    if not n.isdigit() or int(n) < 1:
        raise ScriptError(f"cluster size must be a positive number, got {n!r}")
    mistake = a.option("mistake")
    cls = algo
    if mistake is not None:
        if mistake not in story.mistakes:
            raise ScriptError(f"unknown mistake {mistake!r}; known: {', '.join(sorted(story.mistakes)) or 'none'}")
        cls = story.mistakes[mistake]
        if not issubclass(cls, algo):
            raise ScriptError(f"mistake {mistake!r} ({cls.__name__}) is not a variant of {algo.__name__}")
    config = algo.Config.from_strings(a.options)
    a.options.clear()
    story.start(RecordingCluster(cls, int(n), config, algo.safety_observers()), mistake)


def _algorithm(name: str) -> type[ElectionAlgorithm]:
    if ":" not in name:
        return registry.load(name)
    module, _, attr = name.partition(":")
    cls = getattr(importlib.import_module(module), attr, None)
    if not (isinstance(cls, type) and issubclass(cls, ElectionAlgorithm)):
        raise ScriptError(f"{name} is not an ElectionAlgorithm subclass")
    return cls


def crash(story: Story, a: Args) -> None:
    """crash <i>: node i stops; its timers and what its disk had not flushed are gone. ``crash 3``"""
    story.cluster.crash(story.up(a.word(0, "node")))


def restart(story: Story, a: Args) -> None:
    """restart <i>: a crashed node starts again from its disk. ``restart 3``"""
    i = story.node(a.word(0, "node"))
    if i in story.cluster.up:
        raise ScriptError(f"node {i} is up: crash it first")
    story.step(None, lambda: story.cluster.restart(i))


def cut(story: Story, a: Args) -> None:
    """cut <a> <b>: every message between a and b is lost, both ways, until ``heal``. ``cut 1 2``"""
    story.cluster.cut(story.node(a.word(0, "node")), story.node(a.word(1, "node")))


def partition(story: Story, a: Args) -> None:
    """partition <group> [<group> ...]: cut every link between groups (``1,2``); the nodes named in no group
    form one more. ``partition 3`` cuts node 3 off; ``partition 1,2 3,4,5``"""
    c = story.cluster
    groups = [[story.node(w) for w in g.split(",")] for g in a.words]
    if not groups:
        raise ScriptError("missing group")
    rest = [i for i in c.ids if not any(i in g for g in groups)]
    groups = [g for g in [*groups, rest] if g]
    for k, g in enumerate(groups):
        for h in groups[k + 1:]:
            for x in g:
                for y in h:
                    c.cut(x, y)


def link_down(story: Story, a: Args) -> None:
    """link-down <i> <j>: node i's transport reports its connection to node j lost (the hint a crash or a dropped
    link gives); messages still flow unless cut. ``link-down 2 1``"""
    i, j = story.up(a.word(0, "node")), story.node(a.word(1, "peer"))
    story.step(None, lambda: story.cluster.peer_down(i, j))


def link_up(story: Story, a: Args) -> None:
    """link-up <i> <j>: node i's transport reports its connection to node j made again. ``link-up 2 1``"""
    i, j = story.up(a.word(0, "node")), story.node(a.word(1, "peer"))
    story.step(None, lambda: story.cluster.peer_up(i, j))


def heal(story: Story, a: Args) -> None:
    """heal: every cut link works again. ``heal``"""
    story.cluster.heal()


# -- events into the nodes --------------------------------------------------------------------


def campaign(story: Story, a: Args) -> None:
    """campaign <i>: node i's detection timer fires (raft: election; paxos: detect; bully: coordinator_silence).
    ``campaign 1``"""
    timer = story.cluster.algo.detection_timer
    if not timer:
        raise ScriptError(f"{story.cluster.algo.__name__} names no detection_timer")
    _fire(story, story.up(a.word(0, "node")), timer)


def fire(story: Story, a: Args) -> None:
    """fire <i> <timer>: node i's timer fires now, armed or not. ``fire 1 heartbeat``"""
    _fire(story, story.up(a.word(0, "node")), a.word(1, "timer"))


def _fire(story: Story, i: int, timer: str) -> None:
    story.step(None, lambda: story.cluster.trigger(i, timer))


def tick(story: Story, a: Args) -> None:
    """tick [<i>] <ms> | tick [<i>] next: time passes; node i's timers (every node's if no i is named) fire
    as they come due, in order, each line saying when. No message is delivered meanwhile. ``next`` goes to the
    first timer due and fires it alone. ``tick 3 300``, ``tick next``"""
    c = story.cluster
    words = list(a.words)
    if not words:
        raise ScriptError("missing ms (or next)")
    span = words.pop()
    nodes = story.nodes(words)
    if span == "next":
        due = _next_timer(c, nodes)
        if due is None:
            raise ScriptError(f"no timer is armed on node(s) {','.join(map(str, nodes))}")
        _fire_due(story, *due)
        return
    end = c.now + _ms(span)
    for _ in range(MAX_STEPS):
        due = _next_timer(c, nodes)
        if due is None or due[0] > end:
            c.now = max(c.now, end)
            return
        _fire_due(story, *due)
    raise ScriptError(f"tick {span}: timers keep firing")


def run(story: Story, a: Args) -> None:
    """run <ms>: time passes on the whole cluster: timers fire when due and messages are delivered as they are
    sent, 1 ms each. Only a step that changed something shows (a change, a note, an applied entry), under the
    message or timer that caused it; the rest (heartbeats and their answers) goes by silently. ``run 1000``"""
    c = story.cluster
    end = c.now + _ms(a.word(0, "ms"))
    for _ in range(MAX_STEPS):
        due = _next_timer(c, list(c.ids))
        if c.queue and c.now < end and (due is None or due[0] > c.now):
            src, dst, m = c.queue[0]
            story.step(trace.message(src, dst, m), lambda: c.hand_over(0), quiet=True)
        elif due is not None and due[0] <= end:
            _fire_due(story, *due, quiet=True)
        else:
            c.now = max(c.now, end)
            return
    raise ScriptError(f"run: more than {MAX_STEPS} steps")


def _next_timer(c: RecordingCluster, nodes: list[int]) -> tuple[int, int, str] | None:
    """(deadline, node, timer) of the first timer due among ``nodes`` that are up."""
    due = [(at, i, name) for i in nodes if i in c.up for name, at in c.armed[i].items()]
    return min(due) if due else None


def _fire_due(story: Story, at: int, i: int, timer: str, quiet: bool = False) -> None:
    c = story.cluster
    c.now = max(c.now, at)
    story.step(f"{i} fires {timer} (t={c.now})", lambda: c.trigger(i, timer), quiet)


def _ms(word: str) -> int:
    if not word.isdigit():
        raise ScriptError(f"expected a number of ms, got {word!r}")
    return int(word)


def propose(story: Story, a: Args) -> None:
    """propose <i> <text>: a client command (the rest of the line, as bytes) arrives at node i. ``propose 1 x=1``"""
    i = story.up(a.word(0, "node"))
    text = " ".join(a.raw[1:])
    a.options.clear()
    if not text:
        raise ScriptError("missing command text")
    story.step(None, lambda: story.cluster.propose(i, text.encode()))


def transfer(story: Story, a: Args) -> None:
    """transfer <i> [<j>]: node i is asked to hand its leadership to node j (none named: its own pick).
    ``transfer 1 3``"""
    i = story.up(a.word(0, "node"))
    to = int(a.word(1, "node")) if len(a.words) > 1 else None
    story.step(None, lambda: story.cluster.transfer(i, to))


# -- the network ----------------------------------------------------------------------------


def deliver(story: Story, a: Args) -> None:
    """deliver [<i>-><j> ...] [types=<Name>,...] [limit=<n>]: hand over the messages in flight now (on those routes,
    of those types, the first n), oldest first; the replies they cause stay in flight. ``*`` is any node.
    ``deliver``, ``deliver 1->2 1->3``, ``deliver *->1 types=RequestVoteResponse``"""
    c = story.cluster
    chosen = _matching(story, a)
    limit = a.option("limit")
    if limit is not None:
        chosen = chosen[:_ms(limit)]
    for entry in chosen:
        _hand_over(story, next(k for k, e in enumerate(c.queue) if e is entry))


def stabilize(story: Story, a: Args) -> None:
    """stabilize [<i> ...] [types=<Name>,...]: deliver messages among the nodes named (all by default), of those
    types, replies included, until none is in flight between them. ``stabilize``, ``stabilize 1 2 3``"""
    c = story.cluster
    among = set(story.nodes(a.words))
    names = _types(a)
    for _ in range(MAX_STEPS):
        k = next((k for k, (s, d, m) in enumerate(c.queue)
                  if s in among and d in among and (names is None or m.name in names)), None)
        if k is None:
            return
        _hand_over(story, k)
    raise ScriptError(f"stabilize: still not quiet after {MAX_STEPS} messages")


def drop(story: Story, a: Args) -> None:
    """drop [<i>-><j> ...] [types=<Name>,...]: the messages in flight (on those routes, of those types) are lost.
    ``drop``, ``drop 1->*``"""
    c = story.cluster
    for entry in _matching(story, a):
        c.queue.remove(entry)
        story.say(trace.message(*entry) + " (dropped)")


def inflight(story: Story, a: Args) -> None:
    """inflight: the messages in flight, oldest first, without delivering them. ``inflight``"""
    for entry in story.cluster.queue:
        story.say(trace.message(*entry))


def _hand_over(story: Story, k: int) -> None:
    c = story.cluster
    src, dst, m = c.queue[k]
    header = trace.message(src, dst, m)
    why = c.lost(src, dst)
    if why is not None:
        c.queue.pop(k)
        story.say(f"{header} (lost: {why})")
        return
    story.step(header, lambda: c.hand_over(k))


def _matching(story: Story, a: Args) -> list[tuple[int, int, Any]]:
    """The messages in flight on the routes named in ``a.words`` (all if none) and of the ``types`` option."""
    routes = [_route(story, w) for w in a.words]
    names = _types(a)
    return [
        e for e in story.cluster.queue
        if (not routes or any(s in (None, e[0]) and d in (None, e[1]) for s, d in routes))
        and (names is None or e[2].name in names)
    ]


def _types(a: Args) -> set[str] | None:
    """The message names of the ``types`` option (None: any type)."""
    types = a.option("types")
    return None if types is None else set(types.split(","))


def _route(story: Story, word: str) -> tuple[int | None, int | None]:
    src, arrow, dst = word.partition("->")
    if not arrow:
        raise ScriptError(f"expected a route such as 1->2 or *->3, got {word!r}")
    return (None if src == "*" else story.node(src)), (None if dst == "*" else story.node(dst))


# -- what the nodes hold -----------------------------------------------------------------------


def status(story: Story, a: Args) -> None:
    """status [<i> ...]: role, term, leader and the algorithm's own status fields (``status()``) of each node (raft's
    membership fields once the configuration is not the bootstrap one). ``status``, ``status 1``"""
    c = story.cluster
    for i in story.nodes(a.words):
        if i not in c.up:
            story.say(f"{i}: down")
            continue
        s = c.nodes[i].status()
        rest = {k: v for k, v in s.items() if k not in ("id", "role", "term", "leader")}
        if rest.get("config_index") == 0 and rest.get("member") == "voter":  # the bootstrap configuration: not news
            for k in ("member", "config_index", "membership"):
                rest.pop(k, None)
        story.say(f"{i}: {s['role']} term={s['term']} leader={trace.value(s['leader'])} {trace.fields(rest)}".rstrip())


def log(story: Story, a: Args) -> None:
    """log [<i> ...]: the terms of each node's log entries, in index order, and its commit index (algorithms whose
    nodes keep a ``log`` with ``last_index`` and ``term_at``, and a ``commit_index``, as raft's do). ``log 1 2``"""
    c = story.cluster
    for i in story.nodes(a.words):
        node = c.nodes[i]
        held = getattr(node, "log", None)
        if i not in c.up:
            story.say(f"{i}: down")
        elif held is None or not hasattr(held, "term_at"):
            story.say(f"{i}: no log")
        else:
            terms = " ".join(str(held.term_at(k)) for k in range(1, held.last_index + 1))
            story.say(f"{i}: [{terms}] commit={getattr(node, 'commit_index', 0)}")


def timers(story: Story, a: Args) -> None:
    """timers [<i> ...]: each node's armed timers with the time each is due, soonest first. ``timers 2``"""
    c = story.cluster
    for i in story.nodes(a.words):
        due = sorted((at, name) for name, at in c.armed[i].items())
        shown = " ".join(f"{name}@{at}" for at, name in due) if i in c.up else "down"
        story.say(f"{i}: {shown or 'none'}")


COMMANDS: dict[str, Handler] = {
    "cluster": cluster,
    "crash": crash,
    "restart": restart,
    "cut": cut,
    "partition": partition,
    "heal": heal,
    "link-down": link_down,
    "link-up": link_up,
    "campaign": campaign,
    "fire": fire,
    "tick": tick,
    "run": run,
    "propose": propose,
    "transfer": transfer,
    "deliver": deliver,
    "stabilize": stabilize,
    "drop": drop,
    "inflight": inflight,
    "status": status,
    "log": log,
    "timers": timers,
}
"""Every command a story can use without an algorithm's additions."""
