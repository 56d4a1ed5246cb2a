"""Measuring a log's throughput and latency on local processes: the load generator and what it measures.

``Load`` is a pipelining client at the leader's control socket; ``measure_log`` runs it against a
``LocalCluster``, ``measure_catch_up`` times a restarted follower catching up. ``bench throughput``
and ``bench catchup`` print what these return; they raise ``MeasurementFailed`` when a run cannot
give a number.
"""
from __future__ import annotations

import collections
import os
import statistics
import time
from typing import Any

from quorumlab.core.client import KVClient
from quorumlab.core.cluster import LocalCluster, now_ms
from quorumlab.core.kv import GET, PUT, Command
from quorumlab.core.runtime.control import parse_propose_reply, propose_frames, read_frames


class MeasurementFailed(RuntimeError):
    """A measurement could not finish (the message says what went wrong)."""


def summary(name: str, latencies: list[float], elapsed: float, errors: int, **extra: Any) -> dict[str, Any]:
    """One measurement's result: operations, errors, throughput, median and p99 latency, plus ``extra`` fields."""
    lat = sorted(latencies)
    return {
        "system": name,
        "ops": len(lat),
        "errors": errors,
        "seconds": round(elapsed, 3),
        "ops_per_s": round(len(lat) / elapsed, 1) if elapsed > 0 else 0.0,
        "median_ms": round(statistics.median(lat) * 1000, 3) if lat else None,
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 3) if lat else None,
        **extra,
    }


class Load:
    """A pipelining client at nodes' control sockets: key-value puts, or gets (``reads``: "log" through the log,
    or "linearizable", "lease", "stale" without it), ``batch`` per request (binary protocol), at most
    ``outstanding`` commands in flight, requests spread over ``nodes`` in turn; records each command's latency
    to its reply. Puts go to ``keys`` distinct keys in turn; reads ask for the first 1,000."""

    def __init__(self, kv: KVClient, nodes: list[int], size: int, outstanding: int, batch: int,
                 reads: str | None = None, keys: int = 1000) -> None:
        self.socks = [kv._socket(n) for n in nodes]
        self.client = kv.client_id
        self.value = os.urandom(size // 2 + 1).hex()[:size].encode()
        self.keys = [b"k%d" % k for k in range(keys)]
        self.outstanding, self.batch = outstanding, batch
        self.reads = reads
        self._queries = [Command(self.client, 0, GET, key).encode() for key in self.keys[:1000]]
        self.seq = 10**9
        self.latencies: list[float] = []
        self.errors = 0
        self.error_kinds: collections.Counter = collections.Counter()

    def _request(self, n: int) -> list[bytes]:
        """The frames of one request of ``n`` commands (or queries)."""
        if self.reads not in (None, "log"):
            # a read outside the log has no session: the same query bytes serve every read of a key
            queries = self._queries
            start = self.seq
            self.seq += n
            return read_frames([queries[(start + k + 1) % 1000] for k in range(n)], self.reads)
        commands = []
        for _ in range(n):
            self.seq += 1
            key = self.keys[self.seq % len(self.keys)]
            if self.reads is None:
                commands.append(Command(self.client, self.seq, PUT, key, self.value).encode())
            else:
                commands.append(Command(self.client, self.seq, GET, key).encode())
        return propose_frames(commands)

    def run(self, duration: float | None = None, count: int | None = None) -> float:
        """Send for ``duration`` seconds (or until ``count`` commands were sent), then wait for the replies
        (commands without one after 10 s count as errors); returns the elapsed seconds."""
        import zmq

        socks, sent, in_flight = self.socks, {}, 0
        poller = zmq.Poller()
        for sock in socks:
            poller.register(sock, zmq.POLLIN)
        turn = 0
        start = last_reply = time.perf_counter()
        end = start + duration if duration is not None else float("inf")
        left = count if count is not None else float("inf")
        while True:
            while left > 0 and in_flight < self.outstanding and time.perf_counter() < end:
                n = int(min(self.batch, self.outstanding - in_flight, left))
                frames = self._request(n)
                rid = str(self.seq).encode()
                socks[turn].send_multipart([rid, *frames])
                turn = (turn + 1) % len(socks)
                sent[rid] = (time.perf_counter(), n)
                in_flight += n
                left -= n
            if not sent:
                break
            ready = poller.poll(1000)
            if ready:
                for sock, _ in ready:
                    while True:
                        try:
                            frames = sock.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        t0, n = sent.pop(frames[0], (None, 0))
                        if t0 is None:
                            continue
                        last_reply = time.perf_counter()
                        in_flight -= n
                        reply = parse_propose_reply(frames[1:])
                        if reply["ok"]:
                            self.latencies.extend([time.perf_counter() - t0] * n)
                        else:
                            self.errors += n
                            self.error_kinds[str(reply.get("error"))] += n
            elif (left <= 0 or time.perf_counter() >= end) and time.perf_counter() > last_reply + 10:
                self.errors += in_flight
                self.error_kinds["no reply"] += in_flight
                break
        return time.perf_counter() - start


def measure_log(
    nodes: int, size: int, duration: float, outstanding: int, batch: int = 1, config: dict | None = None,
    algo: str = "raft", secure: bool = True, reads: str | None = None, read_from: str = "leader",
) -> dict:
    """Throughput and latency of key-value puts through ``algo``'s log on ``nodes`` local processes (fsync on),
    or of gets (``reads``: "log", "linearizable", "lease" or "stale") of 1,000 keys written first.

    Commands go to the leader ``batch`` per request (one control-socket round trip for all of
    them; each still is its own log entry); ``outstanding`` commands are kept in flight. Reads go to
    the leader, or (``read_from="any"``) to every node in turn.
    """
    with LocalCluster(algo, nodes, config=config or {}, secure=secure) as c:
        c.wait_for_leader(20)
        kv = c.kv_client()
        kv.put(b"warm", b"up")
        if reads is not None:
            filler = Load(kv, [kv.leader], size, outstanding=20_000, batch=1_000)
            filler.run(count=1_000)  # every key the reads ask for holds a value
        targets = sorted(c.ids) if read_from == "any" else [kv.leader]
        load = Load(kv, targets, size, outstanding, batch, reads)
        since = now_ms()
        elapsed = load.run(duration=duration)
        kv.close()
        calm = stability(c.events(), since, now_ms())
    mode = "ZeroMQ+CURVE" if secure else "ZeroMQ plain"
    what = "puts" if reads is None else f"{reads} reads" + (" from every node" if read_from == "any" else "")
    return summary(f"quorumlab {algo} {what} ({mode}, fsync)", load.latencies, elapsed, load.errors, nodes=nodes,
                   config=dict(config or {}), size=size, outstanding=outstanding, batch=batch, secure=secure,
                   reads=reads, read_from=read_from, error_kinds=dict(load.error_kinds), **calm)


def stability(events: list[dict], since: float, until: float) -> dict[str, int]:
    """What happened to leadership during a load (none of it should, with no fault): leader changes (a node
    naming a new leader), elections and pre-vote rounds begun, terms raised, connections reported down."""
    window = [e for e in events if since <= e["t"] <= until]
    kinds = collections.Counter(e["kind"] for e in window)
    return {
        "leader_changes": sum(1 for e in window if e["kind"] == "leader" and e.get("leader") is not None),
        "elections_started": kinds["election_started"],
        "pre_votes_started": kinds["pre_vote_started"],
        "terms_raised": kinds["term"],
        "connections_dropped": kinds["peer_down"],
    }


def measure_catch_up(entries: int, nodes: int = 3, size: int = 16, config: dict | None = None,
                     algo: str = "raft", keys: int = 1000) -> dict:
    """How long a follower that was down while ``entries`` commands were committed takes to hold and apply them.

    One follower is stopped (SIGTERM), the others commit ``entries`` puts over ``keys`` keys, the follower
    restarts; the time runs from its ``started`` event to the first status poll (every 10 ms) whose applied
    index reaches the leader's commit index, so process start-up is not counted. Also reported: the bytes
    the leader sent meanwhile (every message type, heartbeats included), how the follower got there (a
    ``snapshot_installed`` event, or the log), and any leader change or election in that window.
    """
    with LocalCluster(algo, nodes, config=config or {}) as c:
        leader = c.wait_for_leader(20)
        kv = c.kv_client()
        kv.put(b"warm", b"up")
        leader = kv.leader
        lagging = next(i for i in sorted(c.addresses) if i != leader)
        c.stop(lagging)
        load = Load(kv, [leader], size, outstanding=20_000, batch=1_000, keys=keys)
        load.run(count=entries)
        if load.errors:
            raise MeasurementFailed(f"{load.errors} of {entries} commands failed while the follower was down: "
                                    f"{dict(load.error_kinds)}")
        before = c.request(leader, "status")
        target = before["commit_index"]
        restarted = c.restart(lagging)
        started = c.wait_for(lambda e: e["kind"] == "started" and e["node"] == lagging, 10, since=restarted)
        deadline = time.monotonic() + 600
        while True:
            status = c.request(lagging, "status")
            if status["last_applied"] >= target:
                caught_up = time.monotonic_ns() / 1e6
                break
            if time.monotonic() > deadline:
                raise MeasurementFailed(f"node {lagging} applied {status['last_applied']} of {target} in 600 s")
            time.sleep(0.01)
        after = c.request(leader, "status")
        events = c.events()
        kv.close()
    sent = (sum(after["counters"].get("bytes_sent", {}).values())
            - sum(before["counters"].get("bytes_sent", {}).values()))
    installed = [e for e in events if e["kind"] == "snapshot_installed" and e["node"] == lagging
                 and started["t"] <= e["t"] <= caught_up]
    calm = stability(events, started["t"], caught_up)
    # the restarted follower learning the leader it missed is no change: only another leader or term counts
    calm["leader_changes"] = sum(1 for e in events if e["kind"] == "leader" and e.get("leader") is not None
                                 and started["t"] <= e["t"] <= caught_up
                                 and (e["leader"], e.get("term")) != (leader, before["term"]))
    return {"system": f"quorumlab {algo} (ZeroMQ, fsync)", "entries_behind": target, "nodes": nodes, "size": size,
            "keys": keys, "config": dict(config or {}), "catch_up_ms": round(caught_up - started["t"], 1),
            "bytes_sent": sent, "by": "snapshot" if installed else "log",
            "snapshot_bytes": sum(e.get("bytes", 0) for e in installed),
            "same_leader": after["role"] == "leader" and after["term"] == before["term"], **calm}
