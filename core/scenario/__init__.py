"""Scenario files: multi-node stories written as commands, each followed by the trace it must print.

In the manner of etcd's datadriven interaction tests: a text file of stanzas (commands, a
``----`` line, the expected output; quorumlab.core.scenario.script), run on a hand-driven cluster of any
algorithm (quorumlab.core.scenario.recorder), with a common command set (quorumlab.core.scenario.commands) that
a test suite can extend, printed in one compact form (quorumlab.core.scenario.trace) and checked or
rewritten by quorumlab.core.scenario.check. docs/testing.md describes the commands.
"""
from quorumlab.core.scenario.check import REWRITE_ENV, Outcome, check_file, run_file
from quorumlab.core.scenario.commands import COMMANDS
from quorumlab.core.scenario.script import ScriptError
from quorumlab.core.scenario.story import Args, Handler, Story

__all__ = ["COMMANDS", "REWRITE_ENV", "Args", "Handler", "Outcome", "ScriptError", "Story", "check_file", "run_file"]
