"""A job scheduler that runs on exactly one of three processes, fenced so a deposed leader cannot write.

One command starts three members on 127.0.0.1 (secure, a fresh keyring in a
temporary directory). Whichever leads runs a "job" every 100 ms: it appends a
line to a shared job log through a fenced store that remembers the highest
fencing token it has seen and refuses writes under a lower one. Once jobs run,
the launcher SIGKILLs the process that leads; another member is elected and
takes over with a higher token; ``--duration`` seconds later the launcher stops
the survivors (SIGTERM) and checks the log: tokens never go down, and the last
jobs are the new leader's:

    python examples/leader_scheduler/scheduler.py --duration 4

Why the token and not ``if node.is_leader``: a leader that is paused (GC, a
stopped VM, a slow disk) or cut off keeps believing it leads until it hears
otherwise, and its next write could land after the new leader's. The fence
refuses it at the place the write lands. See docs/embedding.md, "Fencing".
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from quorumlab import LeadershipLost, Node, create_keyring, free_ports


class FencedLog:
    """A job log in a file shared by the members: refuses an append under a token below the highest seen."""

    def __init__(self, path: str) -> None:
        self.path = path

    def append(self, token: int, record: dict) -> bool:
        with open(self.path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            highest = -1
            if os.path.exists(self.path):
                with open(self.path) as fh:
                    for line in fh:
                        highest = max(highest, json.loads(line)["token"])
            if token < highest:
                return False
            with open(self.path, "a") as fh:
                fh.write(json.dumps({"token": token, **record}) + "\n")
            return True


def member(node_id: int, cluster: str, keys: str, data_dir: str, job_log: str) -> None:
    fence = FencedLog(job_log)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _sig, _frame: stop.set())

    def schedule(lease) -> None:
        """Run the jobs while this node leads: every write carries the lease's token."""
        print(f"node {node_id}: leading, fencing token {lease.token}", flush=True)
        job = 0
        while not lease.lost.wait(0.1) and not stop.is_set():  # wakes at once when leadership is lost
            job += 1
            if not fence.append(lease.token, {"node": node_id, "pid": os.getpid(), "job": job}):
                print(f"node {node_id}: my write was refused: a newer leader exists", flush=True)
                return

    with Node("raft", id=node_id, cluster=cluster, data_dir=data_dir, keys=keys) as node:
        while not stop.is_set():
            try:
                node.run_as_leader(schedule, timeout=0.2)
            except (TimeoutError, LeadershipLost):
                pass


def launch(duration: float) -> int:
    root = tempfile.mkdtemp(prefix="quorumlab-scheduler-")
    ports = free_ports(3)
    cluster = ",".join(f"{i}=tcp://127.0.0.1:{ports[i - 1]}" for i in (1, 2, 3))
    keys = os.path.join(root, "keys")
    create_keyring(keys, [1, 2, 3])
    job_log = os.path.join(root, "jobs.jsonl")
    children = {
        i: subprocess.Popen([sys.executable, __file__, "--id", str(i), "--cluster", cluster, "--keys", keys,
                             "--data-dir", os.path.join(root, str(i)), "--job-log", job_log])
        for i in (1, 2, 3)
    }
    try:
        first = wait_for(lambda: read(job_log), "a first job")
        victim = first[-1]["node"]
        print(f"launcher: SIGKILL node {victim} (pid {children[victim].pid}), the leader", flush=True)
        children[victim].send_signal(signal.SIGKILL)
        wait_for(lambda: [j for j in read(job_log) if j["node"] != victim], "a job of another node")
        time.sleep(duration)
        for i, child in children.items():
            if i != victim:
                child.send_signal(signal.SIGTERM)
        for child in children.values():
            child.wait(timeout=60)
        return check(read(job_log), victim)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()  # by PID: only the processes started here
                child.wait()
        shutil.rmtree(root, ignore_errors=True)


def wait_for(condition, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not come within {timeout}s")
        time.sleep(0.05)
    return value


def read(path: str) -> list[dict]:
    try:
        with open(path) as fh:
            return [json.loads(line) for line in fh]
    except FileNotFoundError:
        return []


def check(jobs: list[dict], victim: int) -> int:
    tokens = [j["token"] for j in jobs]
    leaders = [j["node"] for j in jobs]
    reigns = [(n, t) for k, (n, t) in enumerate(zip(leaders, tokens)) if k == 0 or (n, t) != (leaders[k - 1], tokens[k - 1])]
    print(f"{len(jobs)} jobs run; reigns (node, token) in order: {reigns}")
    if tokens != sorted(tokens):
        print("tokens went down: the fence failed", file=sys.stderr)
        return 1
    if leaders[-1] == victim:
        print("no other node took over after the kill", file=sys.stderr)
        return 1
    print(f"one leader at a time, tokens never went down; node {leaders[-1]} took over from node {victim}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds the new leader runs after the takeover")
    parser.add_argument("--id", type=int, help="run one member (the launcher passes this)")
    parser.add_argument("--cluster")
    parser.add_argument("--keys")
    parser.add_argument("--data-dir")
    parser.add_argument("--job-log")
    args = parser.parse_args()
    if args.id is None:
        return launch(args.duration)
    member(args.id, args.cluster, args.keys, args.data_dir, args.job_log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
