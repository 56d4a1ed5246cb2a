"""``bench floor``: the lowest one-at-a-time commit latency this machine allows, with no consensus logic.

Three processes and a client repeat the message pattern of quorumlab's raft for
one command, and nothing else: the client sends a command to the "leader",
which forwards it to both "followers" over ZeroMQ (TCP on 127.0.0.1), appends
it to its own file and fdatasyncs; each follower appends, fdatasyncs and
acknowledges; the first acknowledgement (leader + one follower: a majority of
three) releases the reply to the client. No log, no terms, no checksums, no
events, no timers. ``bench throughput --outstanding 1`` pays all of this plus
raft; the difference is what the protocol and its runtime cost.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import click
import zmq

from quorumlab.core.cluster import free_ports


def _serve(role: str, port: int, peers: list[int], control_port: int, data_dir: str) -> None:
    """One process of the pattern: ``leader`` (also serves the client on ``control_port``) or ``follower``."""
    ctx = zmq.Context()
    fd = os.open(os.path.join(data_dir, f"log-{port}"), os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind(f"tcp://127.0.0.1:{port}")
    out = []
    for p in peers:
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(f"tcp://127.0.0.1:{p}")
        out.append(s)
    poller = zmq.Poller()
    poller.register(router, zmq.POLLIN)
    control = None
    if role == "leader":
        control = ctx.socket(zmq.ROUTER)
        control.setsockopt(zmq.LINGER, 0)
        control.bind(f"tcp://127.0.0.1:{control_port}")
        poller.register(control, zmq.POLLIN)
    waiting = None
    seq = 0
    parent = os.getppid()
    while os.getppid() == parent:
        for sock, _ in poller.poll(500):
            if sock is control:
                frames = control.recv_multipart()
                if frames[-1] == b"stop":
                    for s in out:
                        s.send(b"stop")
                    return
                seq += 1
                tag = b"%d:" % seq
                for s in out:
                    s.send(tag + frames[-1])
                os.write(fd, frames[-1])
                os.fdatasync(fd)
                waiting = (tag, frames)
            else:
                body = router.recv_multipart()[-1]
                if body == b"stop":
                    return
                if role == "follower":
                    os.write(fd, body)
                    os.fdatasync(fd)
                    out[0].send(body[: body.index(b":") + 1])  # the acknowledgement names the command
                elif waiting is not None and body == waiting[0]:
                    control.send_multipart(waiting[1])
                    waiting = None


def measure_floor(commands: int = 3000, size: int = 60) -> dict:
    """Median and p99 of ``commands`` one-at-a-time round trips through the bare pattern (the first 10% warm up)."""
    leader, f1, f2, control = free_ports(4)
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="quorumlab-floor-") as tmp:
        try:
            for role, port, peers in (("leader", leader, [f1, f2]), ("follower", f1, [leader]),
                                      ("follower", f2, [leader])):
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "quorumlab.bench.cmd_floor", role, str(port), ",".join(map(str, peers)),
                     str(control), tmp]))
            ctx = zmq.Context.instance()
            client = ctx.socket(zmq.DEALER)
            client.setsockopt(zmq.LINGER, 0)
            client.connect(f"tcp://127.0.0.1:{control}")
            payload = b"x" * size
            latencies = []
            deadline = time.monotonic() + 30
            client.send(payload)  # the first reply also says every connection is up
            while not client.poll(100):
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    raise click.ClickException("the floor processes did not come up")
                client.send(payload)
            while client.poll(200):
                client.recv()
            for _ in range(commands):
                t0 = time.perf_counter()
                client.send(payload)
                if not client.poll(5000):
                    raise click.ClickException("no reply within 5 s")
                client.recv()
                latencies.append(time.perf_counter() - t0)
            client.send(b"stop")
            client.close()
        finally:
            for p in procs:
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    lat = sorted(latencies[commands // 10 :])
    return {
        "system": "bare pattern (ZeroMQ + fdatasync, no consensus)",
        "commands": len(lat),
        "median_ms": round(statistics.median(lat) * 1000, 3),
        "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 3),
    }


@click.command("floor")
@click.option("--commands", type=click.IntRange(100, 1_000_000), default=3000, show_default=True)
@click.option("--size", type=click.IntRange(1, 1 << 20), default=60, show_default=True,
              help="Bytes per command (a 16-byte key-value put encodes to about 60).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def floor_cmd(commands: int, size: int, as_json: bool) -> None:
    """The one-at-a-time commit latency floor of this machine: raft's message pattern and fsyncs, no raft."""
    result = measure_floor(commands, size)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"{result['system']}: median {result['median_ms']} ms, p99 {result['p99_ms']} ms "
               f"over {result['commands']} commands")


if __name__ == "__main__":
    role, port, peers, control_port, data_dir = sys.argv[1:6]
    _serve(role, int(port), [int(p) for p in peers.split(",")], int(control_port), data_dir)
