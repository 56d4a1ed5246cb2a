"""A node's event stream: JSON lines in ``<data-dir>/events.jsonl`` and on a PUB socket.

Each event is one JSON object with ``t`` (ms as a float, from
``time.monotonic_ns()``: comparable across processes on one Linux host),
``mono_ns``, ``wall`` (epoch seconds), ``node`` and ``kind``, then the same
fields the simulator records for that kind (``Simulation.events``). Events are
buffered during one loop iteration and written by ``flush()``: first to the
file (so a reader woken by the PUB message finds them there), then published,
one frame per event, to subscribers.
"""
from __future__ import annotations

import json
import os
import time
from typing import Any

import zmq

EVENTS_FILE = "events.jsonl"


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def make_event(node: int, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """An event dict stamped with the monotonic and wall clocks now."""
    ns = time.monotonic_ns()
    return {"t": ns / 1e6, "mono_ns": ns, "wall": time.time(), "node": node, "kind": kind, **data}


class EventLog:
    """Append events to a JSON-lines file and publish them on ``pub`` (a zmq PUB socket or None)."""

    def __init__(self, data_dir: str, node: int, pub: Any = None) -> None:
        self.node = node
        self.path = os.path.join(data_dir, EVENTS_FILE)
        self._pub = pub
        self._pending: list[bytes] = []
        self._fh = open(self.path, "ab")
        if self._fh.tell() > 0 and not self._ends_with_newline():
            # A previous incarnation was killed mid-line: start on a fresh line.
            self._fh.write(b"\n")

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"

    def record(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        """Stamp and queue one event; it reaches the file and subscribers at the next ``flush()``."""
        event = make_event(self.node, kind, data)
        self._pending.append(json.dumps(event, default=_json_default, separators=(",", ":")).encode())
        return event

    def flush(self) -> None:
        """Write the queued events to the file, then publish them."""
        if not self._pending:
            return
        lines = self._pending
        self._pending = []
        self._fh.write(b"\n".join(lines) + b"\n")
        self._fh.flush()
        pub = self._pub
        if pub is not None:
            for line in lines:
                try:
                    pub.send(line, zmq.NOBLOCK)
                except zmq.Again:
                    break

    def close(self) -> None:
        self.flush()
        self._fh.close()


class EventFollower:
    """Reads the event files of many nodes as they grow, merged in time order, and waits for news.

    The files are the record (a subscriber that joined late misses nothing); the
    PUB sockets are only a doorbell: ``wait_for_news`` blocks until some node
    publishes, and a node publishes an event only after writing it to its file.
    """

    def __init__(self, ctx: zmq.Context, paths: list[str], pub_addresses: list[str], auth: Any = None) -> None:
        """``auth`` (quorumlab.core.runtime.auth.ClientAuth): subscribe with these keys, to nodes that have a keyring."""
        self.paths = list(paths)
        self.events: list[dict[str, Any]] = []
        self.bad_lines = 0
        self._offsets = {p: 0 for p in self.paths}
        self._sub = ctx.socket(zmq.SUB)
        self._sub.setsockopt(zmq.LINGER, 0)
        self._sub.setsockopt(zmq.SUBSCRIBE, b"")
        for address in pub_addresses:
            if auth is not None:
                auth.secure(self._sub, address)  # CURVE options are taken at each connect
            self._sub.connect(address)

    def follow(self, path: str, pub_address: str, auth: Any = None) -> None:
        """Follow one more node's file and PUB socket (a node added to the cluster)."""
        if path not in self._offsets:
            self.paths.append(path)
            self._offsets[path] = 0
        if auth is not None:
            auth.secure(self._sub, pub_address)
        self._sub.connect(pub_address)

    def add(self, event: dict[str, Any]) -> None:
        """Insert an event that did not come from a file (a harness action such as a kill)."""
        self.events.append(event)
        self.events.sort(key=lambda e: e["t"])

    def refresh(self) -> bool:
        """Read whatever the files gained since the last call; True when there were new events."""
        added = False
        for path in self.paths:
            try:
                with open(path, "rb") as fh:
                    fh.seek(self._offsets[path])
                    chunk = fh.read()
            except FileNotFoundError:
                continue
            end = chunk.rfind(b"\n") + 1
            if not end:
                continue
            self._offsets[path] += end
            for line in chunk[:end].splitlines():
                if not line.strip():
                    continue
                try:
                    self.events.append(json.loads(line))
                    added = True
                except ValueError:
                    self.bad_lines += 1  # a line cut short by SIGKILL
        if added:
            self.events.sort(key=lambda e: e["t"])
        return added

    def wait_for_news(self, timeout_s: float) -> bool:
        """Block until some node publishes (or ``timeout_s`` passes); True when something arrived."""
        got = False
        if self._sub.poll(max(0, int(timeout_s * 1000))):
            while True:
                try:
                    self._sub.recv(zmq.NOBLOCK)
                    got = True
                except zmq.Again:
                    break
        return got

    def wait_for(self, predicate: Any, timeout_s: float, since: float | None = None) -> dict[str, Any]:
        """The first event in time order with ``t >= since`` matching ``predicate``, waiting up to ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.refresh()
            for e in self.events:
                if (since is None or e["t"] >= since) and predicate(e):
                    return e
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                tail = "\n".join(json.dumps(e) for e in self.events[-15:])
                raise TimeoutError(f"no matching event within {timeout_s}s; last events:\n{tail}")
            self.wait_for_news(min(remaining, 0.25))

    def close(self) -> None:
        self._sub.close(linger=0)
