"""``make fuzz``: every fuzz target under atheris in turn, for a fixed time each; exit 1 if any crashed.

``python -m tests.fuzz [--seconds N] [NAME ...]`` (default: every target, 60 s each).
Each target runs in a process of its own (``tests.fuzz.engine``), starting from its
checked-in seeds (``tests/fuzz/corpus/<name>/``) and the inputs earlier runs found
(``.fuzz/<name>/corpus/``), with libFuzzer's output in ``.fuzz/<name>/log``. An input that
crashes a target is copied to ``tests/fuzz/regressions/<name>/``, where ``make test``
replays it until the bug is fixed; commit it with the fix.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

from tests.fuzz.target import CORPUS, HERE, REGRESSIONS, load, names

WORK = HERE.parent.parent / ".fuzz"
PER_INPUT_TIMEOUT_S = 10
"""An input that takes longer than this is reported as a hang (libFuzzer's ``timeout-`` artifact)."""


def fuzz(name: str, seconds: int) -> bool:
    """Run one target for ``seconds``; print a summary line; True if it found no crash."""
    work = WORK / name
    corpus, artifacts = work / "corpus", work / "artifacts"
    shutil.rmtree(artifacts, ignore_errors=True)
    for d in (corpus, artifacts):
        d.mkdir(parents=True, exist_ok=True)
    seeds = CORPUS / name
    command = [sys.executable, "-m", "tests.fuzz.engine", name, str(corpus), str(seeds),
               f"-max_total_time={seconds}", f"-max_len={load(name).max_len}", f"-timeout={PER_INPUT_TIMEOUT_S}",
               f"-artifact_prefix={artifacts}/", "-print_final_stats=1"]
    log = work / "log"
    with open(log, "wb") as out, scratch(name) as tmp:
        env = {**os.environ, "TMPDIR": tmp}
        code = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, cwd=HERE.parent.parent, env=env).returncode
    text = log.read_text(errors="replace")
    crashes = sorted(artifacts.iterdir())
    print(f"{name:10} {summary(text)}" + (f", exit status {code}" if code and not crashes else ""), flush=True)
    for crash in crashes:
        kept = REGRESSIONS / name / crash.name
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(crash, kept)
        print(f"  CRASH: {kept.relative_to(HERE.parent.parent)} (libFuzzer's output: {log})")
    if crashes or code:
        print("\n".join("  | " + line for line in text.splitlines()[-40:]))
    return not crashes and code == 0


def scratch(name: str) -> tempfile.TemporaryDirectory:
    """The target's temporary directory (its TMPDIR), in memory where there is /dev/shm. The parent removes it:
    libFuzzer ends the target's process without running its exit handlers."""
    return tempfile.TemporaryDirectory(prefix=f"quorumlab-fuzz-{name}-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)


def summary(log: str) -> str:
    """Executions, speed and coverage from libFuzzer's output."""
    runs = re.findall(r"stat::number_of_executed_units: (\d+)", log)
    speed = re.findall(r"stat::average_exec_per_sec: (\d+)", log)
    cov = re.findall(r"cov: (\d+) ft: (\d+) corp: (\d+)", log)
    parts = [f"{int(runs[-1]):,} executions" if runs else "no final stats"]
    if speed:
        parts.append(f"{int(speed[-1]):,}/s")
    if cov:
        parts.append(f"coverage {cov[-1][0]} edges, {cov[-1][1]} features, corpus {cov[-1][2]} inputs")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="how long to fuzz each target (default 60)")
    parser.add_argument("targets", nargs="*", metavar="NAME", help=f"targets to run (default: all of {', '.join(names())})")
    args = parser.parse_args(argv)
    unknown = set(args.targets) - set(names())
    if unknown:
        parser.error(f"unknown target(s) {', '.join(sorted(unknown))}; targets: {', '.join(names())}")
    ok = [fuzz(name, args.seconds) for name in args.targets or names()]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
