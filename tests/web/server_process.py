"""Runs `bench web --port 0` as a child process for the tests, and stops it with Ctrl-C (SIGINT)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys


class WebServer:
    """A `bench web` process on a free port; ``url`` once it printed it."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "quorumlab.bench.cli", "web", "--port", "0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
        line = ""
        for line in self.proc.stdout:
            found = re.search(r"http://127\.0\.0\.1:\d+/", line)
            if found:
                self.url = found.group(0)
                return
        raise RuntimeError(f"bench web did not print its URL; last line: {line!r}")

    def interrupt(self, timeout_s: float = 15.0) -> tuple[int, str]:
        """Ctrl-C; returns the exit code and what it printed after the URL."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=timeout_s)
        return self.proc.returncode, out


def node_processes_of(pid: int) -> list[int]:
    """PIDs of `bench node` processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and b"node" in cmd and b"quorumlab.bench.cli" in cmd:
            found.append(int(entry))
    return found
