"""KVClient: the replicated key-value store from Python, over the nodes' control sockets (ZeroMQ).

``KVClient(addresses)`` takes the nodes' algorithm addresses (a cluster spec
``1=tcp://127.0.0.1:7101,...``, a dict id -> address, or a list) and talks to
each node's control endpoint. Every command carries this client's id and a
sequence number, so retrying it - after a timeout, a redirect or a leader
change - is applied at most once (the store answers a repeat with the first
result). A "not leader" answer that names the leader is followed at once;
otherwise the client tries the next node at once, pausing (1 ms, doubling up to
20 ms) only once every node was asked without finding a leader. Each control
connection is monitored: when the one an answer is awaited on drops (the node
crashed), the client gives up on that attempt at once and sends the request to
every other node still connected at once (the first to lead applies it; the
others hold it until they learn who leads, then name it), instead of waiting
out ``attempt_s`` and guessing which node the election will pick; a node whose
connection is known to be down is skipped while another is not. The client connects to every node when
it is made (connecting is asynchronous), so the node it turns to after a
crash already has a connection, CurveZMQ handshake done, instead of starting
one then (a few ms on a loaded machine). Errors: ``Timeout`` when no node
applied the command within ``timeout_s`` (the message says what the last
attempt saw: no leader, leadership lost, no reply).

Client ids are 63 random bits from the OS by default, so two clients never
share one by accident. A client that wants its retries to stay at-most-once
across its *own* restarts must keep three things durably: its ``client_id``,
the next sequence number it will use (``next_seq``, passed back as
``KVClient(client_id=..., next_seq=...)``), and every command it sent without
an answer, to resend those exact bytes. A restarted client that reuses its id
from sequence 1 gets ``CommandFailed`` ("already used for a different
command") instead of another command's result.
"""
from __future__ import annotations

import itertools
import os
import time
from typing import Any, Iterable

import zmq
from zmq.utils.monitor import recv_monitor_message

from quorumlab.core.keys import Keyring
from quorumlab.core.kv import (
    CAS,
    CAS_MISMATCH,
    DELETE,
    GET,
    NOT_FOUND,
    OK,
    PUT,
    REUSED,
    SESSION_WINDOW,
    STALE,
    Command,
    Result,
)
from quorumlab.core.effects import NOT_LEADER
from quorumlab.core.runtime.addresses import control_address, parse_cluster
from quorumlab.core.runtime.auth import ClientAuth
from quorumlab.core.runtime.control import APPLIED, parse_propose_reply, propose_frames, read_frames
from quorumlab.core.limits import CONTROL_MAX_BYTES


READ_MODES = ("linearizable", "lease", "log", "stale")
"""The consistency a ``get`` can ask for (see ``KVClient.get``)."""
BUSY_BACKOFF_S = 0.005
BUSY_BACKOFF_MAX_S = 0.2
"""Pauses before retrying at a node that answered "busy" (its uncommitted entries, or this connection's queue):
doubling from BUSY_BACKOFF_S up to BUSY_BACKOFF_MAX_S, so a crowd of retries does not become the load."""
NO_LEADER_PAUSE_S = 0.001
NO_LEADER_PAUSE_MAX_S = 0.02
"""Pauses once every node said "not leader" without naming one (an election is on): doubling from the first
to the second, so a client finds a new leader within a few ms of its election without flooding the nodes."""
_LINK_UP = zmq.EVENT_HANDSHAKE_SUCCEEDED
_LINK_DOWN = zmq.EVENT_DISCONNECTED | zmq.EVENT_CLOSED
_REFUSED = frozenset({"invalid", "no_log", "forbidden"})
"""Error codes a retry cannot change: the request is refused as it is, and nothing of it was applied."""


class ClientError(RuntimeError):
    """A command could not be completed. ``applied`` says what became of it: False (certainly not applied),
    True (applied, but its result could not be returned), None (unknown: it may be applied, at most once)."""

    applied: bool | None = None

    def __init__(self, message: str, applied: bool | None = None) -> None:
        super().__init__(message)
        self.applied = applied


class Timeout(ClientError):
    """No node applied the command in time (it may still be applied later, at most once)."""


class CommandFailed(ClientError):
    """The command was refused (by a node, or by the store: for example its sequence number was reused)."""


def _addresses(addresses: Any) -> dict[int, str]:
    if isinstance(addresses, str):
        return parse_cluster(addresses)
    if isinstance(addresses, dict):
        return {int(k): str(v) for k, v in addresses.items()}
    return {i: str(a) for i, a in enumerate(addresses, start=1)}


class KVClient:
    """put/get/delete/cas against a Raft cluster, following leader redirects and retrying safely."""

    def __init__(
        self,
        addresses: str | dict[int, str] | Iterable[str],
        *,
        control: dict[int, str] | None = None,
        timeout_s: float = 10.0,
        attempt_s: float = 1.0,
        client_id: int | None = None,
        next_seq: int = 1,
        ctx: zmq.Context | None = None,
        keys: Keyring | str | os.PathLike | None = None,
        identity: str = "client",
        read_from: str = "leader",
    ) -> None:
        """``keys``: the cluster's keyring (quorumlab.core.keys; a path or a ``Keyring``) when it has one; ``identity``
        names the client key to use from it (the default keyring's ``client`` may read and write).
        ``read_from``: where reads without the log go, "leader" or "any" node in turn (a follower asks the
        leader for a read index and answers itself, so reads spread over the cluster)."""
        if read_from not in ("leader", "any"):
            raise ValueError(f"read_from is 'leader' or 'any', got {read_from!r}")
        self.read_from = read_from
        self._spread = 0
        self.nodes = _addresses(addresses)
        if not self.nodes:
            raise ValueError("KVClient needs at least one node address")
        self.control = dict(control) if control else {i: control_address(a) for i, a in self.nodes.items()}
        by_address = {a: i for i, a in self.nodes.items()}
        self._by_address = by_address
        self.timeout_s = timeout_s
        self.attempt_s = attempt_s
        self.client_id = client_id if client_id is not None else int.from_bytes(os.urandom(8), "little") >> 1
        if next_seq < 1:
            raise ValueError(f"next_seq starts at 1, got {next_seq}")
        self._next_seq = next_seq
        self._rids = itertools.count(1)
        self._ctx = ctx or zmq.Context.instance()
        self._sockets: dict[int, zmq.Socket] = {}
        self._monitors: dict[int, zmq.Socket] = {}
        self._link: dict[int, bool] = {}  # node -> its control connection is up (absent: not known yet)
        self.auth: ClientAuth | None = None
        if keys is not None:
            ring = keys if isinstance(keys, Keyring) else Keyring(keys)
            self.auth = ClientAuth.from_keyring(ring, identity, {i: [a] for i, a in self.control.items()})
        self.leader: int = min(self.nodes)
        self.redirects = 0
        self.retries = 0
        self.link_drops = 0
        """Attempts given up early because the connection to the node dropped while the answer was awaited."""
        self.link_drops_fanned = 0
        """Of those, the retries sent to every other connected node at once."""
        for node in sorted(self.nodes):
            self._socket(node)  # every connection now: a retry after a crash must not wait for a new handshake

    def learn(self, node: int, address: str, control: str | None = None, server_key: bytes | None = None) -> None:
        """Know one more node (a server added to the cluster since this client was made): its algorithm address,
        its control address (default: the algorithm port + 1000) and, with a keyring, its public key."""
        self.nodes[node] = address
        self.control[node] = control or control_address(address)
        self._by_address[address] = node
        if self.auth is not None:
            if server_key is None:
                raise ValueError(f"node {node}: this client uses a keyring, so it needs the node's public key")
            self.auth.servers[self.control[node]] = server_key

    # -- the key-value API --------------------------------------------------------------

    def put(self, key: bytes | str, value: bytes | str) -> bytes | None:
        """Set ``key``; returns the previous value (None if there was none)."""
        return self.execute(PUT, key, value).value

    def get(self, key: bytes | str, consistency: str = "linearizable") -> bytes | None:
        """The value of ``key``, None if absent. ``consistency``:

        - ``"linearizable"`` (default): a read index confirmed by a quorum round (ReadIndex), no log entry;
        - ``"lease"``: the leader answers within its lease, no round (needs check_quorum; assumes clocks drift
          apart by less than lease_drift_ms over a lease);
        - ``"log"``: through the log, as a command (an fsynced entry on a majority);
        - ``"stale"``: the state of whichever node answers, as it is: NOT linearizable (it may miss writes
          that completed before the read began).
        """
        if consistency == "log":
            return self.execute(GET, key).value
        if consistency not in READ_MODES:
            raise ValueError(f"consistency is one of {', '.join(READ_MODES)}; got {consistency!r}")
        cmd = self.command(GET, key)
        return _checked(cmd, self.read_many([cmd.encode()], consistency)[0]).value

    def delete(self, key: bytes | str) -> bool:
        """Remove ``key``; True if it existed."""
        return self.execute(DELETE, key).status == OK

    def cas(self, key: bytes | str, expected: bytes | str | None, new: bytes | str) -> bool:
        """Set ``key`` to ``new`` only if its value is ``expected`` (None: only if absent); True if it was set."""
        return self.execute(CAS, key, new, expected).status == OK

    def execute(self, op: int, key: Any, value: Any = b"", expected: Any = None) -> Result:
        """Run one command to completion; raises Timeout or CommandFailed."""
        cmd = self.command(op, key, value, expected)
        return _checked(cmd, self.run(cmd.encode()))

    def put_many(self, items: Iterable[tuple[bytes | str, bytes | str]]) -> list[bytes | None]:
        """Set many keys in one request (each put is still its own log entry, applied in order); returns
        the previous values. One round trip instead of one per put; retried as a whole, at most once each."""
        return [r.value for r in self.execute_many([(PUT, k, v) for k, v in items])]

    def execute_many(self, commands: Iterable[tuple]) -> list[Result]:
        """Run (op, key[, value[, expected]]) commands as one request; raises Timeout or CommandFailed."""
        cmds = [self.command(*c) for c in commands]
        if not cmds:
            return []
        results = self.run_many([c.encode() for c in cmds])
        for cmd, result in zip(cmds, results):
            _checked(cmd, result)
        return results

    @property
    def next_seq(self) -> int:
        """The sequence number the next command will take (keep it, with ``client_id``, to resume after a restart)."""
        return self._next_seq

    def command(self, op: int, key: Any, value: Any = b"", expected: Any = None) -> Command:
        """A new command of this client (the next sequence number)."""
        seq = self._next_seq
        self._next_seq = seq + 1
        return Command(self.client_id, seq, op, _b(key), _b(value), None if expected is None else _b(expected))

    # -- one command, with redirects and retries ------------------------------------------

    def run(self, data: bytes) -> Result:
        """Propose encoded command ``data`` until some node applies it; the store's result."""
        return self.run_many([data])[0]

    def run_many(self, datas: list[bytes]) -> list[Result]:
        """Propose encoded commands in one request until some node applies them all; their results, in order.

        A retry resends the same commands (same sequence numbers), so each is applied at most once.
        """
        return [Result.decode(r) for r in self._until_answered(propose_frames(list(datas)), len(datas), False)]

    def read_many(self, queries: list[bytes], consistency: str = "linearizable") -> list[Result]:
        """Answer encoded read-only commands (gets) without the log, at ``consistency`` ("linearizable", "lease"
        or "stale"; see ``get``), in one request; their results, in order."""
        if consistency not in READ_MODES or consistency == "log":
            raise ValueError(f"read_many serves {', '.join(m for m in READ_MODES if m != 'log')}; got {consistency!r}")
        frames = read_frames(list(queries), consistency)
        spread = self.read_from == "any" or consistency == "stale"
        return [Result.decode(r) for r in self._until_answered(frames, len(queries), spread)]

    def _until_answered(self, frames: list[bytes], count: int, spread: bool) -> list[bytes]:
        """Send a request until some node answers it with ``count`` results: at the leader, following redirects,
        or (``spread``) at each node in turn."""
        if len(frames[-1]) > CONTROL_MAX_BYTES:
            raise CommandFailed(f"a request of {len(frames[-1])} bytes is over the nodes' {CONTROL_MAX_BYTES >> 20} "
                                "MiB limit for one request", applied=False)
        deadline = time.monotonic() + self.timeout_s
        last = "no attempt"
        busy = 0
        leaderless = 0  # nodes asked in a row that knew no leader (or could not be reached)
        while time.monotonic() < deadline:
            node = self._spread_node() if spread else self.leader
            if self._link.get(node) is False and not spread and not self._all_down():
                self._next_node()  # known to be down: ask one that may answer
                continue
            if leaderless >= len(self.nodes):
                time.sleep(min(NO_LEADER_PAUSE_MAX_S, NO_LEADER_PAUSE_S * 2 ** min(leaderless - len(self.nodes), 10)))
            rid = self._send_frames(node, frames)
            reply = self.wait(node, rid, min(self.attempt_s, max(0.0, deadline - time.monotonic())))
            if reply is None and not spread and self._link.get(node) is False:
                # The node crashed, most likely, and which of the others will lead is not known here: ask every
                # node still connected at once (a retry, so at most once still holds); the first to lead answers.
                self.link_drops_fanned += 1
                node, reply = self._fan_out(node, frames, count, deadline)
            if reply is None:
                dropped = self._link.get(node) is False
                last = f"the connection to node {node} dropped" if dropped else f"no reply from node {node}"
                self._next_node()
                self.retries += 1
                leaderless += 1
                continue
            if reply.get("ok") and len(reply["results"]) == count:
                self.leader = node if not spread else self.leader
                return reply["results"]
            if reply.get("ok"):
                raise CommandFailed(f"node {node} answered {len(reply['results'])} results for {count} commands")
            error, code = str(reply.get("error")), reply.get("code")
            last = f"node {node}: {error}"
            if code in _REFUSED:
                raise CommandFailed(f"node {node} refused the request: {error}", applied=False)
            if code in APPLIED:
                raise CommandFailed(f"node {node}: {error}", applied=True)
            if code == "busy":
                self.retries += 1
                time.sleep(min(BUSY_BACKOFF_MAX_S, BUSY_BACKOFF_S * 2 ** min(busy, 10)))
                busy += 1
                hinted = self._by_address.get(reply.get("leader_address") or "") or reply.get("leader")
                if not spread and hinted in self.nodes and hinted != node:
                    self.leader = hinted  # a leader handing over names its successor: ask it next
                continue
            hinted = self._by_address.get(reply.get("leader_address") or "") or reply.get("leader")
            if hinted in self.nodes and hinted != node and self._link.get(hinted) is not False:
                self.leader = hinted
                self.redirects += 1
                leaderless = 0
            else:
                self._next_node()
                self.retries += 1
                leaderless += 1
        hint = "" if self.auth is not None or not last.startswith("no reply") else (
            " (if the cluster has a keyring, pass keys=)")
        raise Timeout(f"command(s) not applied within {self.timeout_s:.1f}s; last attempt: {last}{hint}")

    def _fan_out(self, dropped: int, frames: list[bytes], count: int, deadline: float) -> tuple[int, dict | None]:
        """Send ``frames`` to every node but ``dropped`` whose connection is not known to be down, and return
        (node, reply) of the first that applied them, or else the answer that says most (a "not leader" naming a
        node not asked, or any error) once every one answered or dropped, or (dropped, None) at ``attempt_s``.

        A node answering "not leader" that names another asked node is not waited on further: that one holds it
        (a node knowing no reachable leader holds a request until it learns one). One that names a node whose
        connection is down here has not seen the crash yet: it is asked again, after 1 ms, doubling up to 20 ms."""
        asked = [i for i in sorted(self.nodes) if i != dropped and self._link.get(i) is not False]
        if not asked:
            return dropped, None
        rid = str(next(self._rids)).encode()
        for i in asked:
            try:
                self._socket(i).send_multipart([rid, *frames], zmq.NOBLOCK)
            except zmq.Again:
                pass
        poller = zmq.Poller()
        for i in asked:
            poller.register(self._sockets[i], zmq.POLLIN)
            poller.register(self._monitors[i], zmq.POLLIN)
        pending = set(asked)
        again: dict[int, float] = {}  # node -> when to ask it again (it named a node that is down here)
        pauses: dict[int, int] = {}
        best: tuple[int, dict] | None = None
        end = min(deadline, time.monotonic() + self.attempt_s)
        while pending:
            now = time.monotonic()
            for i, at in list(again.items()):
                if at <= now:
                    del again[i]
                    try:
                        self._sockets[i].send_multipart([rid, *frames], zmq.NOBLOCK)
                    except zmq.Again:
                        pass
            remaining = min([end] + list(again.values())) - now
            ready = dict(poller.poll(max(1, int(remaining * 1000)))) if remaining > 0 else {}
            if not ready:
                if time.monotonic() >= end:
                    break
                continue
            for i in list(pending):
                if self._monitors[i] in ready and self._read_monitor(i) is False:
                    pending.discard(i)
                    again.pop(i, None)
                if self._sockets[i] not in ready:
                    continue
                while True:
                    try:
                        got = self._sockets[i].recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    if got[0] != rid:
                        continue  # an answer to an earlier, abandoned request
                    reply = parse_propose_reply(got[1:])
                    if reply.get("ok") and len(reply["results"]) == count:
                        return i, reply
                    hinted = self._by_address.get(reply.get("leader_address") or "") or reply.get("leader")
                    if reply.get("code") == NOT_LEADER and hinted in self.nodes and self._link.get(hinted) is False:
                        pauses[i] = pause = pauses.get(i, 0) + 1
                        again[i] = time.monotonic() + min(NO_LEADER_PAUSE_MAX_S, NO_LEADER_PAUSE_S * 2 ** (pause - 1))
                        continue
                    pending.discard(i)
                    if best is None or hinted not in asked:
                        best = (i, reply)
        return best if best is not None else (dropped, None)

    def send(self, node: int, *commands: bytes) -> bytes:
        """Send one binary propose request with ``commands`` to ``node``; returns its request id."""
        frames = propose_frames(list(commands))
        if len(frames[1]) > CONTROL_MAX_BYTES:
            raise CommandFailed(f"a request of {len(frames[1])} bytes is over the nodes' {CONTROL_MAX_BYTES >> 20} MiB "
                                "limit for one request", applied=False)
        return self._send_frames(node, frames)

    def _send_frames(self, node: int, frames: list[bytes]) -> bytes:
        rid = str(next(self._rids)).encode()
        try:
            self._socket(node).send_multipart([rid, *frames], zmq.NOBLOCK)
        except zmq.Again:
            pass  # no connection to queue on (a node down, or a handshake refused): the wait times out
        return rid

    def wait(self, node: int, rid: bytes, timeout_s: float) -> dict | None:
        """The reply to request ``rid`` from ``node`` (quorumlab.core.runtime.control.parse_propose_reply), or None after
        ``timeout_s`` or as soon as the connection to ``node`` drops; replies to earlier, abandoned requests are
        skipped."""
        sock = self._socket(node)
        monitor = self._monitors[node]
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
        end = time.monotonic() + timeout_s
        while True:
            remaining = end - time.monotonic()
            ready = dict(poller.poll(max(1, int(remaining * 1000)))) if remaining > 0 else {}
            if not ready:
                return None
            if monitor in ready and self._read_monitor(node) is False:
                self.link_drops += 1
                return None
            if sock in ready:
                frames = sock.recv_multipart()
                if frames[0] == rid:
                    return parse_propose_reply(frames[1:])

    def _read_monitor(self, node: int) -> bool | None:
        """Take the pending connection events of ``node``'s socket; returns its link state (None: not known)."""
        monitor = self._monitors[node]
        while True:
            try:
                event = recv_monitor_message(monitor, zmq.NOBLOCK)
            except zmq.Again:
                return self._link.get(node)
            if event["event"] & _LINK_UP:
                self._link[node] = True
            elif event["event"] & _LINK_DOWN:
                self._link[node] = False

    def wait_connected(self, timeout_s: float) -> set[int]:
        """Wait until the connection to every node is up (handshake done), at most ``timeout_s``; the nodes whose
        connection is up."""
        end = time.monotonic() + timeout_s
        while True:
            for node in self._monitors:
                self._read_monitor(node)
            up = {i for i in self.nodes if self._link.get(i)}
            remaining = end - time.monotonic()
            if len(up) == len(self.nodes) or remaining <= 0:
                return up
            time.sleep(min(0.002, remaining))

    def _all_down(self) -> bool:
        for node in self._monitors:
            self._read_monitor(node)
        return all(self._link.get(i) is False for i in self.nodes)

    def _spread_node(self) -> int:
        """The next node in turn, for reads any node can serve."""
        ids = sorted(self.nodes)
        self._spread = (self._spread + 1) % len(ids)
        return ids[self._spread]

    def _next_node(self) -> None:
        ids = sorted(self.nodes)
        self.leader = ids[(ids.index(self.leader) + 1) % len(ids)]

    def _socket(self, node: int) -> zmq.Socket:
        sock = self._sockets.get(node)
        if sock is None:
            sock = self._ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RECONNECT_IVL, 20)
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, 200)
            if self.auth is not None:
                self.auth.secure(sock, self.control[node])
            self._monitors[node] = sock.get_monitor_socket(_LINK_UP | _LINK_DOWN)
            sock.connect(self.control[node])
            self._sockets[node] = sock
        return sock

    def close(self) -> None:
        for node, sock in self._sockets.items():
            try:
                sock.disable_monitor()
            except zmq.ZMQError:
                pass
            self._monitors.pop(node).close(linger=0)
            sock.close(linger=0)
        self._sockets.clear()
        self._link.clear()

    def __enter__(self) -> "KVClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _checked(cmd: Command, result: Result) -> Result:
    """``result`` when the store applied ``cmd`` (or answered it), else CommandFailed saying why not."""
    if result.status in (OK, NOT_FOUND, CAS_MISMATCH):
        return result
    if result.status == REUSED:
        raise CommandFailed(
            f"client {cmd.client} sequence number {cmd.seq} was already used for a different command, so the store "
            "applied nothing: two clients share this client id, or this client restarted with its sequence reset. "
            "Give each client its own id (the default), or resume from the sequence number it had reached.",
            applied=False,
        )
    if result.status == STALE:
        raise CommandFailed(
            f"client {cmd.client} sequence number {cmd.seq} is older than the {SESSION_WINDOW} the store remembers "
            "for this client; whether it was applied cannot be told any more",
            applied=None,
        )
    raise CommandFailed(f"the store refused command seq {cmd.seq}: status {result.status}")


def _b(x: Any) -> bytes:
    return x.encode() if isinstance(x, str) else bytes(x)


__all__ = ["ClientError", "CommandFailed", "KVClient", "Timeout", "STALE"]
