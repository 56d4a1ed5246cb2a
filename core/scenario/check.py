"""Running a scenario file against its expected output, or rewriting that output.

``check_file(path)`` runs every stanza and fails with a unified diff of the first stanza
whose output differs, named by file and line. With ``QUORUMLAB_REWRITE=1`` in the environment
(or ``rewrite=True``) it writes the actual output into the file instead: read the diff
(``git diff``) before committing it. Either way a safety violation in a cluster that runs the
correct algorithm fails the check: that is a bug to fix, never an output to accept.
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from quorumlab.core.scenario.commands import COMMANDS
from quorumlab.core.scenario.script import EMPTY, SEPARATOR, Script, ScriptError, parse
from quorumlab.core.scenario.story import Handler, Story

REWRITE_ENV = "QUORUMLAB_REWRITE"


@dataclass
class Outcome:
    """What running a file gave: its script, each stanza's actual output, and the violations nobody asked for."""

    script: Script
    outputs: list[list[str]]
    unexpected: list[str] = field(default_factory=list)

    def mismatches(self) -> list[int]:
        """Indexes of the stanzas whose output differs from the expected one."""
        return [k for k, (s, out) in enumerate(zip(self.script.stanzas, self.outputs))
                if not s.has_separator or s.expected != out]


def run_file(path: str | Path, commands: Mapping[str, Handler] | None = None,
             mistakes: Mapping[str, type] | None = None) -> Outcome:
    """Run every stanza of the file at ``path``; ``commands`` add to (or replace) the common ones.

    A command that cannot run raises ScriptError naming the file, the line and the command.
    """
    path = str(path)
    script = parse(path, Path(path).read_text())
    story = Story({**COMMANDS, **(commands or {})}, mistakes)
    outcome = Outcome(script, [])
    for stanza in script.stanzas:
        story.lines = []
        for command in stanza.commands:
            seen = len(story.unexpected)
            try:
                story.run(command)
            except ScriptError as exc:
                raise ScriptError(f"{script.where(command.line)}: {command}: {exc}") from None
            except Exception as exc:
                raise ScriptError(f"{script.where(command.line)}: {command}: {type(exc).__name__}: {exc}") from exc
            outcome.unexpected += [f"{script.where(command.line)}: {v}" for v in story.unexpected[seen:]]
        outcome.outputs.append(story.lines or [EMPTY])
    return outcome


def check_file(path: str | Path, commands: Mapping[str, Handler] | None = None,
               mistakes: Mapping[str, type] | None = None, rewrite: bool | None = None) -> None:
    """Run the file and compare (or, rewriting, replace) each stanza's output; raises AssertionError on a mismatch."""
    if rewrite is None:
        rewrite = os.environ.get(REWRITE_ENV, "") not in ("", "0")
    outcome = run_file(path, commands, mistakes)
    script = outcome.script
    if rewrite and outcome.mismatches():
        Path(script.path).write_text(script.rewritten(outcome.outputs))
    elif outcome.mismatches():
        raise AssertionError(_report(outcome))
    if outcome.unexpected:
        raise AssertionError("safety violated by an algorithm run without mistake=:\n" + "\n".join(outcome.unexpected))


def _report(outcome: Outcome) -> str:
    """A diff of the first mismatching stanza, the lines of the others, and how to accept the change."""
    script = outcome.script
    first, *others = outcome.mismatches()
    stanza = script.stanzas[first]
    where = script.where(stanza.commands[0].line)
    commands = "\n".join(f"  {c}" for c in stanza.commands)
    if not stanza.has_separator:
        head = f"{where}: no expected output (no {SEPARATOR} line) for:\n{commands}"
    else:
        diff = difflib.unified_diff(stanza.expected, outcome.outputs[first], "expected", "actual", lineterm="", n=2)
        head = f"{where}: the output of\n{commands}\ndiffers:\n" + "\n".join(diff)
    more = f"\n{len(others)} more stanza(s) differ, at line(s) " + ", ".join(
        str(script.stanzas[k].commands[0].line) for k in others) if others else ""
    return f"{head}{more}\nIf the change is intended: {REWRITE_ENV}=1 rewrites the file; read its diff before committing it."
