"""A replicated counter: three processes, each holding a copy, incremented through Raft's log.

One command starts the three members on 127.0.0.1 (secure: a fresh CurveZMQ
keyring in a temporary directory), lets every member increment for a few seconds
(a follower's call is forwarded to the leader and returns once its own copy has
run it), then has every process print its copy and checks that the copies agree
and that the value is the sum of the increments the members saw acknowledged
(plus at most those answered "maybe applied", when leadership moved):

    python examples/replicated_counter/counter.py --duration 5

With ``--id`` the script is one member (that is how the launcher starts each of
the three; on three machines, give each its own ``--id`` and the same
``--cluster`` and ``--keys``).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from quorumlab import Node, NotLeader, ReplicatedObject, SubmitError, create_keyring, free_ports, replicated


class Counter(ReplicatedObject):
    """The replicated state: one number. ``increment`` runs on every copy, in log order."""

    def __init__(self) -> None:
        self.value = 0

    @replicated
    def increment(self, by: int) -> int:
        self.value += by
        return self.value


def member(node_id: int, cluster: str, keys: str, data_dir: str, duration: float) -> None:
    counter = Counter()
    with Node("raft", id=node_id, cluster=cluster, data_dir=data_dir, keys=keys, state_machine=counter) as node:
        node.wait_for_leader(timeout=20)
        deadline = time.monotonic() + duration
        done = maybe = 0
        while time.monotonic() < deadline:
            try:
                counter.increment(1)  # on the leader's log (forwarded from a follower), applied on every copy
                done += 1
            except NotLeader:
                time.sleep(0.05)  # no leader right now (an election): nothing was applied
            except SubmitError as error:
                if error.applied is None:
                    maybe += 1  # leadership moved while it waited: it may have been applied, at most once
        time.sleep(1.0)  # let the last increments reach every copy before reading it
        value = node.call(lambda: counter.value).result(5)
        print(f"node {node_id}: value={value} last_applied={counter.last_applied} incremented_here={done} "
              f"maybe={maybe}", flush=True)


def launch(duration: float) -> int:
    """Start three members of one cluster as child processes, wait for them, check that their copies agree."""
    root = tempfile.mkdtemp(prefix="quorumlab-counter-")
    ports = free_ports(3)
    cluster = ",".join(f"{i}=tcp://127.0.0.1:{ports[i - 1]}" for i in (1, 2, 3))
    create_keyring(os.path.join(root, "keys"), [1, 2, 3])
    children = [
        subprocess.Popen([sys.executable, __file__, "--id", str(i), "--cluster", cluster, "--keys",
                          os.path.join(root, "keys"), "--data-dir", os.path.join(root, str(i)),
                          "--duration", str(duration)], stdout=subprocess.PIPE, text=True)
        for i in (1, 2, 3)
    ]
    try:
        outputs = [child.communicate(timeout=duration + 60)[0] for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()  # by PID: only the processes started here
                child.wait()
        shutil.rmtree(root, ignore_errors=True)
    print("".join(outputs), end="")
    lines = [dict(f.split("=") for f in line.split()[2:]) for out in outputs for line in out.splitlines()
             if line.startswith("node ")]
    values = {int(fields["value"]) for fields in lines}
    acked = sum(int(fields["incremented_here"]) for fields in lines)
    maybe = sum(int(fields["maybe"]) for fields in lines)
    if len(values) != 1 or len(lines) != 3 or any(child.returncode != 0 for child in children):
        print(f"the copies disagree or a member failed: {sorted(values)}", file=sys.stderr)
        return 1
    value = values.pop()
    if not acked <= value <= acked + maybe:
        print(f"the copies agree on {value}, but the members saw {acked} increments acknowledged and {maybe} "
              "maybe applied", file=sys.stderr)
        return 1
    print(f"all 3 copies agree: {value} ({acked} increments acknowledged to the 3 members, {maybe} maybe applied)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of incrementing")
    parser.add_argument("--id", type=int, help="run one member (the launcher passes this)")
    parser.add_argument("--cluster", help="1=tcp://host:port,2=...,3=...")
    parser.add_argument("--keys", help="the cluster's keyring directory")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    if args.id is None:
        return launch(args.duration)
    member(args.id, args.cluster, args.keys, args.data_dir, args.duration)
    return 0


if __name__ == "__main__":
    sys.exit(main())
