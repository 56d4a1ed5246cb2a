"""The scenario file format: stanzas of commands, a ``----`` line, then the output they are expected to print.

::

    # a comment line, kept as it is when the file is rewritten
    campaign 1          # a command: a word, then arguments (after " #", a comment)
    stabilize
    ----
    1->2 RequestVote term=1
    ...

A stanza ends at a blank line or at the end of the file, so expected output never holds a
blank line (the runner never prints one; a stanza that prints nothing expects ``ok``).
Parsing keeps the line numbers of every part, so a mismatch names its line and a rewrite
replaces the output blocks and nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass, field

SEPARATOR = "----"
EMPTY = "ok"
"""The output of a stanza that prints nothing."""


class ScriptError(Exception):
    """A file that is not well formed, or a command that failed; the message starts with ``path:line``."""


@dataclass
class Command:
    """One command line: its 1-based line number, the command word and its arguments as written."""

    line: int
    word: str
    args: list[str]

    def __str__(self) -> str:
        return " ".join([self.word, *self.args])


@dataclass
class Stanza:
    """Commands and the output expected of them. ``output_at`` is the index of the first output line in the
    file's lines (or where it would go), ``output_end`` the index just past it; ``has_separator`` is False
    for a stanza written without ``----`` yet (its output is filled in by a rewrite)."""

    commands: list[Command]
    expected: list[str]
    output_at: int
    output_end: int
    has_separator: bool = True


@dataclass
class Script:
    """A parsed scenario file: its lines as read, and its stanzas in order."""

    path: str
    lines: list[str]
    stanzas: list[Stanza] = field(default_factory=list)

    def where(self, line: int) -> str:
        return f"{self.path}:{line}"

    def rewritten(self, outputs: list[list[str]]) -> str:
        """The file's text with each stanza's output replaced by ``outputs`` (one list of lines per stanza)."""
        lines = list(self.lines)
        for stanza, out in reversed(list(zip(self.stanzas, outputs))):
            block = out if stanza.has_separator else [SEPARATOR, *out]
            lines[stanza.output_at:stanza.output_end] = block
        return "\n".join(lines) + "\n"


def parse(path: str, text: str) -> Script:
    """Split ``text`` into stanzas; a malformed stanza raises ScriptError naming its line."""
    script = Script(path, text.splitlines())
    lines = script.lines
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        commands: list[Command] = []
        while i < len(lines) and lines[i].strip() and lines[i].strip() != SEPARATOR:
            command = _command(lines[i], i + 1)
            if command is not None:
                commands.append(command)
            i += 1
        if not commands:
            raise ScriptError(f"{script.where(i + 1)}: {SEPARATOR} without a command above it")
        if i == len(lines) or not lines[i].strip():
            script.stanzas.append(Stanza(commands, [], i, i, has_separator=False))
            continue
        start = i = i + 1
        while i < len(lines) and lines[i].strip():
            i += 1
        script.stanzas.append(Stanza(commands, [s.rstrip() for s in lines[start:i]], start, i))
    return script


def _command(text: str, line: int) -> Command | None:
    """The command on a line (None for a comment line); `` #`` starts a trailing comment."""
    text = text.strip()
    if text.startswith("#"):
        return None
    cut = text.find(" #")
    words = (text[:cut] if cut >= 0 else text).split()
    return Command(line, words[0], words[1:])
