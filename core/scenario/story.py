"""A story in progress: the cluster the commands drive, and the lines they print.

Commands are functions ``(story, args)`` looked up by name (quorumlab.core.scenario.commands holds the
common ones; an algorithm's tests may add their own). A command changes the cluster through
``step``, which prints what the nodes showed during that step, under a header line (the
message delivered, the timer fired) when there is one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from quorumlab.core.scenario import trace
from quorumlab.core.scenario.recorder import RecordingCluster
from quorumlab.core.scenario.script import Command, ScriptError

Handler = Callable[["Story", "Args"], None]
"""A command: it reads its arguments, drives ``story.cluster`` and prints with ``story.say`` or ``story.step``."""


@dataclass
class Args:
    """A command's arguments: the plain words in order, and the ``key=value`` options (a command pops those it
    knows); ``raw`` is all of them as written, for a command that takes free text."""

    words: list[str]
    options: dict[str, str] = field(default_factory=dict)
    raw: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, args: list[str]) -> "Args":
        words, options = [], {}
        for a in args:
            key, eq, value = a.partition("=")
            if eq and key:
                options[key] = value
            else:
                words.append(a)
        return cls(words, options, list(args))

    def word(self, k: int, what: str) -> str:
        """The ``k``-th word, which the command needs (``what`` names it in the error)."""
        if k >= len(self.words):
            raise ScriptError(f"missing {what}")
        return self.words[k]

    def option(self, name: str, default: str | None = None) -> str | None:
        return self.options.pop(name, default)


class Story:
    """Runs commands one at a time; ``lines`` collects what the current stanza prints."""

    def __init__(self, commands: Mapping[str, Handler], mistakes: Mapping[str, type] | None = None) -> None:
        self.commands = dict(commands)
        self.mistakes = dict(mistakes or {})
        self._cluster: RecordingCluster | None = None
        self.mistake: str | None = None
        self.lines: list[str] = []
        self.unexpected: list[str] = []
        """Safety violations of a cluster running a correct algorithm (no ``mistake=``): never an accepted outcome."""

    @property
    def cluster(self) -> RecordingCluster:
        if self._cluster is None:
            raise ScriptError("no cluster yet: start the story with `cluster <algo> <n>`")
        return self._cluster

    def start(self, cluster: RecordingCluster, mistake: str | None) -> None:
        """Tell the rest of the story with ``cluster``; print what its nodes showed as they started."""
        self._cluster, self.mistake = cluster, mistake
        self._show(None, 0, 0)

    def run(self, command: Command) -> None:
        """Run one command (its output goes to ``lines``); ScriptError says what is wrong with it."""
        handler = self.commands.get(command.word)
        if handler is None:
            raise ScriptError(f"unknown command {command.word!r}; commands: {', '.join(sorted(self.commands))}")
        args = Args.parse(command.args)
        handler(self, args)
        if args.options:
            raise ScriptError(f"{command.word} takes no option {', '.join(sorted(args.options))}")

    def say(self, line: str) -> None:
        self.lines.append(line)

    def step(self, header: str | None, action: Callable[[], Any], quiet: bool = False) -> None:
        """Do ``action`` and print what the nodes showed meanwhile, indented under ``header`` if given;
        ``quiet`` prints nothing, header included, when they showed nothing."""
        c = self.cluster
        records, violations = len(c.recorder.records), len(c.violations)
        action()
        self._show(header, records, violations, quiet)

    def node(self, word: str) -> int:
        """A node id of the cluster."""
        ids = self.cluster.ids
        if not word.isdigit() or int(word) not in ids:
            raise ScriptError(f"no node {word!r}: the nodes are {ids[0]}..{ids[-1]}")
        return int(word)

    def up(self, word: str) -> int:
        """A node id of a node that is up."""
        i = self.node(word)
        if i not in self.cluster.up:
            raise ScriptError(f"node {i} is down")
        return i

    def nodes(self, words: list[str]) -> list[int]:
        """The nodes named (all of them when none is)."""
        return [self.node(w) for w in words] if words else list(self.cluster.ids)

    def _show(self, header: str | None, records: int, violations: int, quiet: bool = False) -> None:
        c = self.cluster
        found = c.violations[violations:]
        if self.mistake is None:
            self.unexpected.extend(found)
        lines = trace.node_lines(c.recorder.records[records:]) + [f"VIOLATION {v}" for v in found]
        if quiet and not lines:
            return
        if header is not None:
            self.say(header)
            lines = ["  " + line for line in lines]
        self.lines.extend(lines)
