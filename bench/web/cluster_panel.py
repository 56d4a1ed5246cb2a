"""Real node processes on the page: a LocalCluster the page started, or a cluster attached by address.

Events come from the nodes themselves (the files of a cluster started here, the PUB sockets
of an attached one), status (vote, log, commit, counters) from a poller thread every
``STATUS_EVERY_S``, messages from the nodes' send/receive events (a cluster started here traces its
messages; an attached one when its nodes run with ``--trace-messages``), else from the counters
(quorumlab.bench.web.traffic). Every blocking call to
the cluster (start, kill, restart, control requests) runs on the panel's own worker thread,
so the server's event loop never waits for a process.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time
from typing import Any

import zmq

from quorumlab.core.client import ClientError, KVClient
from quorumlab.core.cluster import LocalCluster, now_ms
from quorumlab.core.keys import Keyring
from quorumlab.core.runtime.addresses import control_address, events_address
from quorumlab.core.runtime.auth import ClientAuth
from quorumlab.core.runtime.control import ControlClient, ControlError

from quorumlab.bench.web.traffic import MessageTrace, flights_from_counters

STATUS_EVERY_S = 0.25
STATUS_KEEP = ("role", "term", "leader", "voted_for", "last_log_index", "commit_index", "last_applied", "peers_up",
               "partitioned", "pid")
"""The status fields the page shows (counters become messages). Role, term and leader come from events; the page
takes them from status only until a node's first role event (a cluster attached while stable sends none)."""
MAX_EVENTS_PER_FRAME = 2000


class EventTail:
    """New lines of each node's events.jsonl since the last call (a line still being written waits)."""

    def __init__(self, paths: list[str]) -> None:
        self.offsets = {p: 0 for p in paths}

    def read(self) -> list[dict]:
        events: list[dict] = []
        for path, offset in self.offsets.items():
            try:
                with open(path, "rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
            except FileNotFoundError:
                continue
            end = chunk.rfind(b"\n") + 1
            self.offsets[path] = offset + end
            for line in chunk[:end].splitlines():
                try:
                    events.append(json.loads(line))
                except ValueError:
                    continue  # a line cut short by SIGKILL
        events.sort(key=lambda e: e.get("t", 0))
        return events


class EventSubscription:
    """Events straight from the nodes' PUB sockets (an attached cluster's files may be on other hosts).

    Each event is stamped with this server's clock on arrival (``t``; the node's own is kept as
    ``t_node``): monotonic clocks of different hosts cannot be compared.
    """

    def __init__(self, ctx: zmq.Context, addresses: list[str], auth: ClientAuth | None) -> None:
        self._sub = ctx.socket(zmq.SUB)
        self._sub.setsockopt(zmq.LINGER, 0)
        self._sub.setsockopt(zmq.SUBSCRIBE, b"")
        for address in addresses:
            if auth is not None:
                auth.secure(self._sub, address)
            self._sub.connect(address)

    def read(self) -> list[dict]:
        events = []
        while len(events) < MAX_EVENTS_PER_FRAME:
            try:
                frame = self._sub.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            try:
                event = json.loads(frame)
            except ValueError:
                continue
            if isinstance(event, dict) and "node" in event and "kind" in event:
                event["t_node"], event["t"] = event.get("t"), now_ms()
                events.append(event)
        return events

    def close(self) -> None:
        self._sub.close(linger=0)


class LocalBackend:
    """A LocalCluster started (and stopped, by PID) for the page; secure, with its own keyring."""

    actions = ["crash", "restart", "pause", "resume", "partition", "heal", "trigger", "propose"]

    def __init__(self, algo: str, nodes: int) -> None:
        self.cluster = LocalCluster(algo, nodes, trace_messages=True)
        self.ids = self.cluster.ids
        self.timer = self.cluster.algo_cls.detection_timer
        self.auth = self.cluster.auth
        self.control = dict(self.cluster.control_addresses)
        self.feed = EventTail([self.cluster.event_log(i) for i in self.ids])
        self.label = f"{nodes} processes, data in {self.cluster.data_dir}"
        self.messages = "traced"
        """Where the page's messages come from: "traced" (the nodes' send/receive events) or "counters"."""

    def start(self) -> None:
        self.cluster.start()

    def polled(self) -> dict[int, str]:
        return {i: self.control[i] for i in self.cluster.live_ids()}

    def act(self, action: str, node: int | None, groups: list[list[int]]) -> list[dict]:
        """Carry out ``action``; returns the harness events to show."""
        c = self.cluster
        if action == "crash":
            return [_mark(c.crash(node), node, "crash")]
        if action == "restart":
            return [_mark(c.restart(node), node, "restart")]
        if action == "pause":
            return [_mark(c.pause(node), node, "pause")]
        if action == "resume":
            return [_mark(c.resume(node), node, "resume")]
        if action == "partition":
            c.partition(*groups)
            return [_mark(now_ms(), 0, "partition", groups=groups)]
        if action == "heal":
            c.heal()
            return [_mark(now_ms(), 0, "heal")]
        if action == "trigger":
            c.trigger(c.live_ids(), self.timer)
            return []
        raise ValueError(f"no action {action!r} on a started cluster")

    def kv_client(self) -> KVClient:
        return self.cluster.kv_client(timeout_s=3.0)

    def close(self) -> None:
        self.cluster.close()


class AttachedBackend:
    """A running cluster reached by address: control and events ports by the +1000/+2000 rule."""

    actions = ["stop", "partition", "heal", "trigger", "propose"]

    def __init__(self, addresses: dict[int, str], algo_timer: str, keys_dir: str | None, identity: str) -> None:
        self.ids = tuple(sorted(addresses))
        self.addresses = addresses
        self.timer = algo_timer
        self.control = {i: control_address(a) for i, a in addresses.items()}
        events = {i: events_address(a) for i, a in addresses.items()}
        self.keys_dir, self.identity = keys_dir, identity
        self.auth = None
        if keys_dir is not None:
            ring = Keyring(keys_dir)
            self.auth = ClientAuth.from_keyring(ring, identity, {i: [self.control[i], events[i]] for i in self.ids})
        self._ctx = zmq.Context()
        self._client = ControlClient(self._ctx, self.auth)
        self.feed = EventSubscription(self._ctx, [events[i] for i in self.ids], self.auth)
        self.label = f"attached: {', '.join(f'{i}={a}' for i, a in sorted(addresses.items()))}"
        self.messages = "traced if the nodes run with --trace-messages, else counters"
        self.stopped: set[int] = set()

    def start(self) -> None:
        replies = self._client.request_many(self.control, "status", 2.0)
        silent = {i: str(r) for i, r in replies.items() if isinstance(r, ControlError)}
        if len(silent) == len(self.ids):
            raise ConnectionError(f"no node answered status: {silent[min(silent)]}")

    def polled(self) -> dict[int, str]:
        return {i: a for i, a in self.control.items() if i not in self.stopped}

    def act(self, action: str, node: int | None, groups: list[list[int]]) -> list[dict]:
        if action == "stop":
            self._client.request(self.control[node], "stop", 3.0)
            self.stopped.add(node)
            return [_mark(now_ms(), node, "stop")]
        if action in ("partition", "heal"):
            named = [set(g) for g in groups] if action == "partition" else []
            rest = set(self.ids) - set().union(*named)
            everyone = named + ([rest] if rest else [])
            for i in self.ids:
                if i in self.stopped:
                    continue
                mine = next((g for g in everyone if i in g), set(self.ids))
                cut = sorted(set(self.ids) - mine)
                if cut:
                    self._client.request(self.control[i], "partition", 3.0, peers=cut)
                else:
                    self._client.request(self.control[i], "heal", 3.0)
            return [_mark(now_ms(), 0, action, **({"groups": groups} if named else {}))]
        if action == "trigger":
            for i in self.ids:
                if i not in self.stopped:
                    self._client.request(self.control[i], "fire", 3.0, timer=self.timer)
            return []
        raise ValueError(f"no action {action!r} on an attached cluster")

    def kv_client(self) -> KVClient:
        return KVClient(self.addresses, control=self.control, timeout_s=3.0, keys=self.keys_dir,
                        identity=self.identity)

    def close(self) -> None:
        """Leave the cluster running: the page only watched it."""
        self.feed.close()
        self._client.close()
        self._ctx.term()


def _mark(t: float, node: int, kind: str, **data: Any) -> dict:
    return {"t": t, "node": node, "kind": kind, "source": "harness", **data}


class ClusterPanel:
    """One cluster of real processes on the page (``backend``: LocalBackend or AttachedBackend)."""

    kind = "cluster"

    def __init__(self, pid: str, algo: str, backend: LocalBackend | AttachedBackend) -> None:
        self.pid, self.algo, self.backend = pid, algo, backend
        self.ids = backend.ids
        self.ready = False
        self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"web-{pid}")
        self._lock = threading.Lock()
        self._marks: list[dict] = []
        self._samples: list[tuple[float, dict[int, dict]]] = []
        self._counters: dict[int, dict] = {}
        self._latest: dict[int, dict] = {}
        self._counted_at = 0.0
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._undrawn = 0
        self._trace = MessageTrace()

    def describe(self) -> dict[str, Any]:
        return {"id": self.pid, "kind": self.kind, "algo": self.algo, "ids": list(self.backend.ids),
                "timer": self.backend.timer, "actions": self.backend.actions, "label": self.backend.label,
                "messages": self.backend.messages,
                "mistakes": [], "exact": False}

    async def start(self) -> None:
        """Start (or reach) the cluster on the worker thread, then poll its status in the background."""
        await asyncio.get_running_loop().run_in_executor(self._worker, self.backend.start)
        self.ready = True
        self._poller = threading.Thread(target=self._poll, name=f"web-{self.pid}-status", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        client = ControlClient(zmq.Context.instance(), self.backend.auth)
        try:
            while not self._stop.wait(STATUS_EVERY_S):
                replies = client.request_many(self.backend.polled(), "status", 1.0)
                sample = {i: r for i, r in replies.items() if isinstance(r, dict)}
                with self._lock:
                    self._samples.append((now_ms(), sample))
        finally:
            client.close()

    def take(self) -> dict[str, Any]:
        """The events, status and traffic that arrived since the last call."""
        now = now_ms()
        events = self.backend.feed.read() if self.ready else []
        with self._lock:
            samples, self._samples = self._samples, []
            marks, self._marks = self._marks, []
        events = sorted(events + marks, key=lambda e: e["t"])
        flights = self._trace.feed(events, now)
        if self._trace.seen:
            events = [e for e in events if e.get("kind") not in ("send", "recv")]
        status: dict[int, dict] = {}
        for t, sample in samples:
            current = {i: s.get("counters", {}) for i, s in sample.items()}
            if self._counters and not self._trace.seen:
                drawn, undrawn = flights_from_counters(self._counters, current, self._counted_at, t)
                flights += drawn
                self._undrawn += undrawn
            self._counters = {**self._counters, **current}
            self._counted_at = t
            self._latest = sample
            for i, s in sample.items():
                status[i] = {k: s.get(k) for k in STATUS_KEEP if k in s}
        totals = self._totals()
        return {"now": now, "events": events, "status": status, "flights": flights, "timers": [],
                "stats": totals, "violation": None}

    def leader(self) -> int | None:
        """The node that said it leads in the highest term at the last status poll (for fault scripts)."""
        leading = [(s.get("term", 0), i) for i, s in self._latest.items() if s.get("role") == "leader"]
        return max(leading)[1] if leading else None

    def _totals(self) -> dict[str, int]:
        c = self._counters.values()
        return {"sent": sum(sum(x.get("sent", {}).values()) for x in c),
                "bytes": sum(sum(x.get("bytes_sent", {}).values()) for x in c),
                "dropped": sum(x.get("dropped_partition", 0) + x.get("dropped_unreachable", 0)
                               + x.get("dropped_bad", 0) for x in c),
                "undrawn": self._undrawn}

    async def act(self, action: str, node: int | None = None, groups: list[list[int]] | None = None) -> str | None:
        """Carry out one page action on the worker thread; returns a message for the page, or None."""
        loop = asyncio.get_running_loop()
        if action == "propose":
            return await loop.run_in_executor(self._worker, self._propose)
        if action not in self.backend.actions:
            return f"{action} is not available on this cluster (it offers {', '.join(self.backend.actions)})"
        if action == "trigger" and not self.backend.timer:
            return f"{self.algo} declares no detection_timer to fire"
        try:
            marks = await loop.run_in_executor(self._worker, self.backend.act, action, node, groups or [])
        except (ControlError, RuntimeError, KeyError, ValueError, TimeoutError) as exc:
            return f"{action} failed: {exc}"
        with self._lock:
            self._marks.extend(marks)
        return None

    def _propose(self) -> str:
        client = self.backend.kv_client()
        try:
            key = f"web-{int(time.time() * 1000) % 100000}"
            client.put(key, "from the page")
            return f"put {key}: applied (leader {client.leader})"
        except (ClientError, ValueError) as exc:
            return f"proposal failed: {exc}"
        finally:
            client.close()

    def close(self) -> None:
        """Stop polling and release the cluster (a started one is stopped by PID); blocks until done."""
        self._stop.set()
        if self._poller is not None:
            self._poller.join(2.0)
        self._worker.submit(self.backend.close).result()
        self._worker.shutdown(wait=True)

