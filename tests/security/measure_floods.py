"""Measure issue 12's floods on a 3-node cluster with keys: node memory, leader changes, and a steady writer.

    .venv/bin/python -m tests.security.measure_floods status|envelope|big [--seconds 8] [--config KEY=VALUE ...]

``status``: a reader key sends status requests as fast as it can and never reads a reply.
``envelope``: an admin key sends requests with 4 MiB envelopes. ``big``: 8 clients put 4 MiB
values back to back (the issue's heaviest case). Meanwhile a well-behaved client puts one small
key every 10 ms; the script prints each node's memory before and at its peak, the leader's
counters, the terms, and the writer's successes and latencies.
"""
from __future__ import annotations

import argparse
import json
import os
import threading
import time

import zmq

from quorumlab.core.client import ClientError
from quorumlab.core.cluster import LocalCluster
from tests.security.helpers import SteadyWriter, agreed, attacker_socket, rss_mib


def _flood_requests(c: LocalCluster, leader: int, seconds: float, frames_of, identity: str) -> int:
    ctx = zmq.Context()
    try:
        sock = attacker_socket(ctx, c.control_addresses[leader], c.keyring.nodes[leader],
                               c.keyring.client_keys(identity)[0], hwm=100)
        end, sent = time.monotonic() + seconds, 0
        while time.monotonic() < end:
            try:
                sock.send_multipart(frames_of(sent), zmq.NOBLOCK)
                sent += 1
            except zmq.Again:
                time.sleep(0.001)
        return sent
    finally:
        ctx.destroy(linger=0)


def _big_writers(c: LocalCluster, seconds: float, clients: int = 8, size: int = 4 << 20) -> int:
    end, done = time.monotonic() + seconds, [0] * clients

    def writer(k: int) -> None:
        kv = c.kv_client(timeout_s=60)
        value = os.urandom(size)
        while time.monotonic() < end:
            try:
                kv.put(b"big-%d-%d" % (k, done[k] % 5), value)
                done[k] += 1
            except ClientError:
                pass
        kv.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("flood", choices=["status", "envelope", "big"])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    config = dict(item.split("=", 1) for item in args.config)
    with LocalCluster("raft", 3, config=config) as c:
        leader, term = c.wait_until(lambda: agreed(c), 20, "agreement")
        before = {i: rss_mib(c.pid(i)) for i in c.ids}
        peak = dict(before)
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                for i in c.ids:
                    peak[i] = max(peak[i], rss_mib(c.pid(i)))
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        with SteadyWriter(c) as writer:
            if args.flood == "status":
                body = json.dumps({"cmd": "status"}).encode()
                work = _flood_requests(c, leader, args.seconds, lambda n: [b"%d" % n, body], "reader")
            elif args.flood == "envelope":
                envelope, body = os.urandom(4 << 20), json.dumps({"cmd": "status"}).encode()
                work = _flood_requests(c, leader, args.seconds, lambda n: [envelope, body], "admin")
            else:
                work = _big_writers(c, args.seconds)
        stop.set()
        sampler.join()
        status = c.status()
        lat = sorted(writer.latencies)
        print(f"flood {args.flood} for {args.seconds:g} s: {work} requests or commands sent")
        print("memory MiB before -> peak:", {i: f"{before[i]:.0f} -> {peak[i]:.0f}" for i in c.ids})
        print("terms:", {i: s and s["term"] for i, s in status.items()}, f"(was {term})")
        counters = status[leader]["counters"] if status.get(leader) else {}
        print("leader counters:", {k: counters.get(k) for k in ("replies_dropped", "requests_ignored",
                                                                "dropped_bad_by_reason")})
        if lat:
            print(f"steady writer: {len(lat)} writes, {len(writer.failures)} failed, median "
                  f"{lat[len(lat) // 2] * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms")
        else:
            print(f"steady writer: no write got through, {len(writer.failures)} failed")


if __name__ == "__main__":
    main()
