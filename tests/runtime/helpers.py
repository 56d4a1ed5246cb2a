"""Shared pieces of the runtime tests: an in-process node on real sockets, raw peers, process checks."""
from __future__ import annotations

import os
import threading
from typing import Any

import zmq

from quorumlab.core import codec
from quorumlab.core.cluster import free_ports
from quorumlab.core.runtime.eventlog import EVENTS_FILE, EventFollower
from quorumlab.core.runtime.node import Node


class InProcessNode:
    """A ``Node`` running in a thread of the test process; the test plays its peers with raw sockets."""

    def __init__(self, algo_cls: type, data_dir: str, peers: int = 2, config: Any = None, cluster_id: int = 7) -> None:
        ports = free_ports(3 + peers)
        self.addresses = {i: f"tcp://127.0.0.1:{ports[i - 1]}" for i in range(1, peers + 2)}
        self.cluster_id = cluster_id
        self.data_dir = data_dir
        self.node = Node(
            algo_cls,
            1,
            self.addresses,
            data_dir,
            config,
            cluster_id=cluster_id,
            seed=1,
            control=f"tcp://127.0.0.1:{ports[peers + 1]}",
            events=f"tcp://127.0.0.1:{ports[peers + 2]}",
            counters_every_ms=200,
        )
        self.ctx = zmq.Context()
        self.events = EventFollower(self.ctx, [os.path.join(data_dir, EVENTS_FILE)], [self.node.events_address])
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self, before_run: Any = None) -> "InProcessNode":
        """Open the node's sockets and storage, call ``before_run(node)`` if given, then run its loop."""
        self.node.open()
        if before_run is not None:
            before_run(self.node)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.node.run()
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def bind_peer(self, peer: int) -> zmq.Socket:
        """Play peer ``peer``: a ROUTER bound at its address (the node's DEALER connects to it)."""
        sock = self.ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(self.addresses[peer])
        return sock

    def sender(self) -> zmq.Socket:
        """A plain DEALER connected to the node's algorithm address, for sending it frames."""
        sock = self.ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.addresses[1])
        return sock

    def request(self, cmd: str, **args: Any) -> Any:
        from quorumlab.core.runtime.control import ControlClient

        client = ControlClient(self.ctx)
        try:
            return client.request(self.node.control_address, cmd, 5.0, **args)
        finally:
            client.close()

    def stop(self) -> None:
        if self._thread is not None:
            self.node.request_stop("test over")
            self._thread.join(10)
            assert not self._thread.is_alive(), "the node's loop did not stop"
        self.events.close()
        self.ctx.destroy(linger=0)
        if self.error is not None:
            raise self.error


def recv_message(sock: zmq.Socket, timeout_ms: int = 5000):
    """The next message a raw ROUTER peer receives, decoded (AssertionError on timeout)."""
    assert sock.poll(timeout_ms), f"nothing arrived within {timeout_ms} ms"
    frames = sock.recv_multipart()
    return codec.decode(frames[-1])


def process_alive(pid: int) -> bool:
    """True when /proc shows ``pid`` as a process that is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def processes_mentioning(text: str) -> list[int]:
    """PIDs of live processes whose command line contains ``text`` (psutil-free, via /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and process_alive(int(entry)):
            found.append(int(entry))
    return found


def assert_one_leader_per_term(events: list[dict]) -> dict[int, int]:
    """Election Safety on a real run's merged events: term -> the one node that became leader in it."""
    leaders: dict[int, set[int]] = {}
    for e in events:
        if e["kind"] == "role" and e["to"] == "leader":
            leaders.setdefault(e["term"], set()).add(e["node"])
    bad = {t: sorted(n) for t, n in leaders.items() if len(n) > 1}
    assert not bad, f"more than one leader in a term: {bad}"
    return {t: next(iter(n)) for t, n in leaders.items()}


def became_leader(after_term: int, among: Any = None):
    """Event predicate: some node (of ``among``, if given) became leader in a term above ``after_term``."""

    def match(e: dict) -> bool:
        return (
            e["kind"] == "role"
            and e["to"] == "leader"
            and e["term"] > after_term
            and (among is None or e["node"] in among)
        )

    return match


def assert_votes_and_terms_survive_restarts(events: list[dict]) -> None:
    """From a real run's events: no node granted its vote to two candidates in one term, across all its
    incarnations, and a restarted node read back at least the highest term it had announced before."""
    votes: dict[tuple[int, int], set[int]] = {}
    highest: dict[int, int] = {}
    for e in events:
        node = e["node"]
        if e["kind"] == "vote_granted":
            votes.setdefault((node, e["term"]), set()).add(e["candidate"])
        elif e["kind"] == "term":
            highest[node] = max(highest.get(node, 0), e["to"])
        elif e["kind"] == "restart_detected":
            durable = int(e["durable"].get("term", 0))
            assert durable >= highest.get(node, 0), f"node {node} came back with term {durable} after announcing {highest[node]}"
    double = {k: sorted(v) for k, v in votes.items() if len(v) > 1}
    assert not double, f"(node, term) -> more than one candidate voted for: {double}"
