"""One node in one process: the ZeroMQ runtime's event loop.

The loop polls the transport, the control socket, the transport monitors and
a wake-up pipe (signals and ``request_stop`` write to it), then fires due
timers from a ``TimerWheel`` driven by ``time.monotonic()`` in integer ms,
then writes the events of the iteration. Effects are executed in order exactly
as the simulator does (quorumlab.core.sim.Simulation._execute): ``Persist`` flushes the
FileStorage before any later effect, so durable state is on disk before a send
that depends on it leaves; a broadcast is encoded once and sent to every peer.

Client commands arrive on the control socket (``propose``, binary or JSON):
the node hands a request's commands to the algorithm at once
(``propose_many``), and replies once all their log entries are applied to the
algorithm's state machine (its ``StateMachine`` class, e.g. the key-value
store), or at once with "not leader" and the leader's address, or with
"leadership lost" when the node stops leading before the entries are applied
(or another term's entry takes one of their indexes). A request refused "not leader"
by a node that knows no leader (an election is on), or only one whose
connection from this node is down (it crashed: an election is about to
start), is held instead, up to ``HOLD_MS`` (at most ``MAX_HELD`` requests): as
soon as the node learns a leader (or a connection comes back) it proposes them
again, so they are accepted if it won, or answered at once with the new
leader's address, and the client needs no retry loop to find it. Waiting requests sit in
index order; a run of entries applied in one step answers every request it
completes and is written to the event log as one ``apply`` event.

Incoming frames that are malformed, come from an unknown node id, carry another
cluster id or algorithm, or are addressed to another node are dropped, counted
and reported (at most ten reports a minute in all); they never reach the
algorithm.

With a keyring (quorumlab.core.keys) every socket is CurveZMQ (quorumlab.core.runtime.auth): only
members' keys may connect to the peer port, and a message whose claimed sender
is not the member whose key made the connection is dropped; only clients' keys
may connect to the control and event sockets, and each control command must be
allowed to the client's role. Without one (plain mode) the node says so at
start: anyone who can reach its ports can speak as a member or stop it.

An application that runs the node in its own process (quorumlab.core.embedded) reaches the
loop through an in-process channel instead of the control socket: ``submit_local``
and ``call_local`` queue work from any thread and wake the loop through the same
pipe; its proposals take the control socket's path (``_propose``, the waiting
requests, the answer on apply or the failure on lost leadership) and are answered
by a callback instead of a reply frame. ``listener`` sees every recorded event.

Every buffer at the control socket is bounded (quorumlab.core.limits): a request's
envelope, the replies queued per connection (a client that does not read them
is cut off for a while), the propose requests waiting per connection (more are
answered "busy"), and the size of a reply.
"""
from __future__ import annotations

import base64
import collections
import heapq
import json
import logging
import os
import random
import time
from typing import Any, Callable

import zmq

from quorumlab.core import codec
from quorumlab.core.algorithm import ElectionAlgorithm, Role
from quorumlab.core.config import AlgorithmConfig
from quorumlab.core.effects import (
    BROADCAST,
    BUSY,
    INVALID,
    NO_LOG,
    NOT_LEADER,
    Apply,
    ForwardLost,
    LeaderChanged,
    MembershipChanged,
    Note,
    Proposed,
    ProposeRejected,
    ReadReady,
    ReadRejected,
    RestoreSnapshot,
    RoleChanged,
    TransferRefused,
    TakeSnapshot,
    applied_event,
    as_event,
)
from quorumlab.core.errors import CodecError
from quorumlab.core.interpret import TimerTable, execute
from quorumlab.core.framing import pack_blobs, unpack_blobs
from quorumlab.core.keys import ALLOWED, Keyring, KeyringError
from quorumlab.core.limits import (
    CONTROL_MAX_BYTES,
    CONTROL_MAX_REPLY_BYTES,
    CONTROL_REPLY_QUEUE,
    CONTROL_WAITING_PER_CONNECTION,
    CURVE_OVERHEAD_BYTES,
    MAX_BATCH,
    MAX_ENVELOPE_BYTES,
    MAX_ENVELOPE_FRAMES,
    MAX_FRAME_BYTES,
)
from quorumlab.core.runtime.addresses import control_address, events_address
from quorumlab.core.runtime.auth import (
    CONTROL_DOMAIN,
    EVENTS_DOMAIN,
    ZapHandler,
    member_of,
    role_of,
    serve_securely,
    user_id,
)
from quorumlab.core.runtime.control import (
    FORBIDDEN,
    INTERNAL,
    LEADERSHIP_LOST,
    READ,
    READ_CONSISTENCIES,
    REPLY_ERROR,
    REPLY_OK,
    REPLY_TOO_LARGE,
    ControlError,
    encode_reply,
    find_propose,
    parse_request,
)
from quorumlab.core.runtime.counters import Counters, DropReporter
from quorumlab.core.runtime.eventlog import EventLog
from quorumlab.core.runtime.transport import Transport, peer_address
from quorumlab.core.datadir import Identity
from quorumlab.core.snapshots import restore_snapshot, take_snapshot
from quorumlab.core.storage import FileStorage
from quorumlab.core.timerwheel import TimerWheel

log = logging.getLogger("quorumlab.node")

RECV_BATCH = 256
"""Incoming messages handled per loop iteration before timers get their turn."""
HOUSEKEEPING_MS = 1000
REDIAL_MS = 250
"""How long after a peer refused our key the node connects to it again (a member added since the peer started)."""
"""Longest poll: the loop wakes at least this often (counters event, parent check)."""
HANDOVER_MAX_MS = 2000
"""A leader asked to stop hands its leadership over first, for at most this long (its algorithm abandons a
transfer sooner: raft after election_timeout_max)."""
CLOSE_LINGER_MS = 200
"""How long closing the control and event sockets may wait to deliver what is already queued."""
ELECTION_NOTES = ("election_started", "election_won", "election_lost")
PROPOSE_BUDGET = 1024
"""Client commands taken per loop iteration before timers run, so a flood cannot starve heartbeats."""
PROPOSE_BYTES_BUDGET = 4 << 20
"""Client command bytes taken per loop iteration (at least one request): large commands cost copies, a CRC and
an fsync each, and a loop that took them all at once would fire its timers (heartbeats) hundreds of ms late."""
RECV_BYTES_BUDGET = 8 << 20
"""Peer message bytes handled per loop iteration (at least one message), for the same reason."""
CUT_OFF_S = 5.0
"""How long a control connection whose reply queue overflowed (a client that does not read) is ignored."""
HOLD_MS = 300
"""How long a propose request refused "not leader" with no leader known waits for a leader to be learned before it
is answered so (an election at the default timeouts is over well within this)."""
MAX_HELD = 1024
"""Propose requests held that way at once; more are answered "not leader" at once."""
LOCAL_QUEUE = 65_536
"""In-process requests (quorumlab.core.embedded) queued for the loop before ``submit_local`` refuses more."""
LOCAL_ROUTE = b"\x00local"
"""The routing id the in-process channel's requests are counted under (one connection, with its bound)."""
SEAL_EVERY_MS = 1000
"""How often the node marks its flushed log records as durable in the log header (quorumlab.core.storage.RecordLog.seal):
at most one extra fdatasync a second, and only when records were flushed since the last mark."""


def mono_ms() -> int:
    """The runtime's clock: integer ms of CLOCK_MONOTONIC (what the algorithm sees as ``now``)."""
    return time.monotonic_ns() // 1_000_000


class Node:
    """One algorithm instance on real sockets. ``open()``, then ``run()`` until ``request_stop``."""

    def __init__(
        self,
        algo_cls: type[ElectionAlgorithm],
        node_id: int,
        addresses: dict[int, str],
        data_dir: str,
        config: AlgorithmConfig | None = None,
        *,
        cluster_id: int = 1,
        seed: int | None = None,
        bind: str | None = None,
        control: str | None = None,
        events: str | None = None,
        counters_every_ms: int = 2000,
        watch_parent: int | None = None,
        keyring: Keyring | None = None,
        trace_messages: bool = False,
        state_machine: Any = None,
        listener: Callable[[dict[str, Any]], None] | None = None,
        join: bool = False,
    ) -> None:
        """``state_machine``: what committed entries are applied to, instead of one made from the algorithm's
        ``StateMachine`` class; ``listener``: called on the loop's thread with every event as it is recorded
        (quorumlab.core.embedded uses both to run a node inside an application's process)."""
        if node_id not in addresses:
            raise ValueError(f"node {node_id} is not in the cluster {sorted(addresses)}")
        if join and not getattr(algo_cls, "joins", False):
            raise ValueError(f"{algo_cls.name} has a fixed membership: a node cannot join a running cluster")
        self.algo_cls = algo_cls
        self.join = join
        """Started as a server being added: the other addresses are the cluster's current members."""
        self.id = node_id
        self.addresses = dict(addresses)
        self.peers = {i: a for i, a in self.addresses.items() if i != node_id}
        self.data_dir = os.fspath(data_dir)
        self.config = config if config is not None else algo_cls.Config()
        self.cluster_id = cluster_id
        self.seed = seed if seed is not None else int.from_bytes(os.urandom(8), "little")
        self.bind = bind or self.addresses[node_id]
        self.control_address = control or control_address(self.bind)
        self.events_address = events or events_address(self.bind)
        self.counters_every_ms = counters_every_ms
        self.watch_parent = watch_parent
        self.trace_messages = trace_messages
        self.hand_over_on_stop = True
        """A leader asked to stop transfers its leadership first (algorithms without transfer refuse at once)."""
        self._handover: tuple[str, int | None] | None = None  # (stop reason, deadline) while handing over
        self._handover_over = False  # the transfer was refused or abandoned: stop now
        self.keyring = keyring
        self.listener = listener
        self._given_state_machine = state_machine
        self._local: collections.deque[tuple[list[bytes] | None, Callable]] = collections.deque()
        self.counters = Counters()
        self.partitioned: set[int] = set()
        self.stop_reason: str | None = None
        self.last_election: dict[str, Any] | None = None
        self.algo: ElectionAlgorithm | None = None
        self.state_machine: Any = None
        self._waiting: collections.deque[_ClientRequest] = collections.deque()
        self._held: collections.deque[tuple[int, _ClientRequest, list[bytes]]] = collections.deque()  # (until, ...)
        self._leader_learned = False
        self._drops = DropReporter()
        self._timers: TimerTable | None = None
        self._zap: ZapHandler | None = None
        self._read_requests: dict[int, _ClientRequest] = {}  # reads the algorithm has not answered yet, by ctx
        self._reads_at: list[tuple[int, int, _ClientRequest]] = []  # heap of (index, ctx, read) waiting for applies
        self._next_read = 0
        self._forwarding: dict[int, _ClientRequest] = {}  # in-process requests sent to the leader, by ctx
        self._next_forward = 0
        self._applied_index = 0
        self._next_redial = 0
        self._learned_keys: dict[int, bytes] = {}  # members' public keys that came in the configuration
        self._prune: tuple[int, set[int]] | None = None  # (configuration index, its members) to disconnect the rest
        self._routes: dict[bytes, int | None] = {}
        self._connections = _Connections()
        self._wheel: TimerWheel | None = None
        self._ctx: zmq.Context | None = None
        self._wake_r = self._wake_w = -1
        self._started_ms = 0
        self._now = 0

    # -- lifecycle ----------------------------------------------------------------------

    def open(self) -> None:
        """Read durable state, bind every socket, open the event log. Raises on a damaged file or a busy port."""
        os.makedirs(self.data_dir, exist_ok=True)
        self.storage = FileStorage(self.data_dir, Identity(self.cluster_id, self.id, self.algo_cls.name))
        keys = peer_keys = None
        if self.keyring is not None:
            keys = self.keyring.node_keys(self.id)
            missing = sorted(set(self.addresses) - set(self.keyring.nodes))
            if missing:
                raise KeyringError(f"{self.keyring.path}: the keyring has no key for node(s) {missing} of the cluster; "
                                   "every member needs one")
            peer_keys = {i: self.keyring.nodes[i] for i in self.peers}
        self._ctx = zmq.Context(io_threads=1)
        try:
            if self.keyring is not None:
                self._zap = ZapHandler(self._ctx, self.keyring)  # before any socket that asks it
            self._pub = self._ctx.socket(zmq.PUB)
            self._pub.setsockopt(zmq.LINGER, 0)
            if keys is not None:
                serve_securely(self._pub, keys, EVENTS_DOMAIN)
            self._pub.bind(self.events_address)
            self._control = self._ctx.socket(zmq.ROUTER)
            self._control.setsockopt(zmq.LINGER, 0)
            self._control.setsockopt(zmq.MAXMSGSIZE, CONTROL_MAX_BYTES + CURVE_OVERHEAD_BYTES)
            # Replies queue per connection up to this bound; with ROUTER_MANDATORY a full queue is an
            # error the node sees (and cuts the client off for), not a silent drop.
            self._control.setsockopt(zmq.SNDHWM, CONTROL_REPLY_QUEUE)
            self._control.setsockopt(zmq.ROUTER_MANDATORY, 1)
            if keys is not None:
                serve_securely(self._control, keys, CONTROL_DOMAIN)
            self._control.bind(self.control_address)
            self.transport = Transport(self._ctx, self.bind, self.peers, keys, peer_keys)
        except BaseException:
            if self._zap is not None:
                self._zap.close()
            self._ctx.destroy(linger=0)
            raise
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._log = EventLog(self.data_dir, self.id, self._pub)
        self._poller = zmq.Poller()
        self._poller.register(self.transport.router, zmq.POLLIN)
        self._poller.register(self._control, zmq.POLLIN)
        self._poller.register(self._wake_r, zmq.POLLIN)
        if self._zap is not None:
            self._poller.register(self._zap.sock, zmq.POLLIN)
        for monitor in self.transport.monitors:
            self._poller.register(monitor, zmq.POLLIN)
        rng = random.Random(self.seed)
        voters = sorted(i for i in self.addresses if not (self.join and i == self.id))
        self.algo = self.algo_cls(self.id, voters, self.config, self.storage, rng, self.cluster_id)
        factory = self.algo_cls.StateMachine
        if self._given_state_machine is not None:
            self.state_machine = self._given_state_machine
        else:
            self.state_machine = factory() if factory is not None else None

    def request_stop(self, reason: str) -> None:
        """Ask the loop to stop after the current step (safe from a signal handler). A leader of an algorithm that
        transfers leadership hands it over first (to the best placed follower; see ``_hand_over``), so that a
        planned stop costs clients a transfer, not an election timeout; a second request stops at once."""
        algo = getattr(self, "algo", None)
        if (self.stop_reason is None and self._handover is None and self.hand_over_on_stop and algo is not None
                and algo.role == Role.LEADER and len(self.addresses) > 1):
            self._handover = (reason, None)
        elif self.stop_reason is None:
            self.stop_reason = reason
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass

    def run(self) -> str:
        """Start the algorithm and serve until stopped; returns the stop reason."""
        try:
            self._boot()
            while self.stop_reason is None:
                self._step()
        except BaseException as exc:
            if self.stop_reason is None:
                self.stop_reason = f"error: {exc!r}"
            raise
        finally:
            self._close()
        return self.stop_reason

    def _boot(self) -> None:
        self._started_ms = now = mono_ms()
        self._wheel = TimerWheel(now)
        self._timers = TimerTable(self._wheel)
        durable = self.storage.read()
        self._record(
            "started",
            {
                "algo": self.algo_cls.name,
                "pid": os.getpid(),
                "config": self.config.as_dict(),
                "seed": self.seed,
                "cluster_id": self.cluster_id,
                "address": self.addresses[self.id],
                "control": self.control_address,
                "events": self.events_address,
                "secure": self.keyring is not None,
            },
        )
        if self.keyring is None:
            log.warning("node %d runs in PLAIN mode (no keyring): anyone who can reach its ports can speak as a member, "
                        "propose commands or stop it. Use it for teaching on a trusted machine only.", self.id)
            self._record("insecure", {"reason": "no keyring: peers and clients are not authenticated"})
        if durable:
            scalars = {k: v for k, v in durable.items() if not isinstance(v, (list, dict))}
            self._record("restart_detected", {"durable": scalars})
        for repair in self.storage.repairs:
            if "torn_slot" in repair:
                log.warning("node %d: %s: slot %d was torn by a crash mid-write (never acknowledged); started from "
                            "the other slot's state", self.id, repair["file"], repair["torn_slot"])
                self._record("torn_state_slot", repair)
                continue
            log.warning("node %d: %s: dropped a torn tail at byte offset %d: %d bytes, %d record(s) from #%d "
                        "(written by a flush a crash interrupted; never acknowledged)", self.id, repair["file"],
                        repair["offset"], repair["bytes"], repair["records"], repair["first_record"])
            self._record("torn_tail", repair)
        self._next_seal = now + SEAL_EVERY_MS
        self._next_counters = now + self.counters_every_ms
        self._counters_mark = -1
        self._dispatch(self.algo.start, now)
        self._log.flush()

    def _close(self) -> None:
        reason = self.stop_reason or "error"
        try:
            self._record("stopped", {"reason": reason, "counters": self.counters.snapshot()})
            self.storage.close()
            self._log.close()
        finally:
            self.transport.close()
            if self._zap is not None:
                self._zap.close()
            # Short lingers: the reply to a control "stop" and the "stopped" event still leave; a stuck
            # client cannot hold the exit back by more than these few hundred ms.
            self._control.close(linger=CLOSE_LINGER_MS)
            self._pub.close(linger=CLOSE_LINGER_MS)
            self._ctx.term()
            for fd in (self._wake_r, self._wake_w):
                os.close(fd)

    # -- the loop -----------------------------------------------------------------------

    def _step(self) -> None:
        for sock, _ in self._poller.poll(self._poll_timeout()):
            if sock is self.transport.router:
                self._on_frames()
            elif sock is self._control:
                self._on_control()
            elif sock == self._wake_r:
                self._drain_wake()
                if self._local:
                    self._on_local()
            elif self._zap is not None and sock is self._zap.sock:
                self._on_zap()
            else:
                self._on_monitor(sock)
        if self._held:
            self._release_held()  # before the timers: a new leader's first flush carries them with its no-op
        self._fire_due_timers()
        self._housekeeping()
        if self._handover is not None:
            self._hand_over()
        self._log.flush()

    def _hand_over(self) -> None:
        """Stopping as leader: ask the algorithm to transfer leadership, then stop once this node no longer leads,
        the transfer was refused or abandoned, or HANDOVER_MAX_MS passed."""
        reason, deadline = self._handover
        now = mono_ms()
        if deadline is None:
            self._handover = (reason, now + HANDOVER_MAX_MS)
            self._record("handing_over", {"reason": reason})
            self._dispatch(self.algo.transfer, None, now)
        if (self.algo.role != Role.LEADER or self._handover_over or now >= self._handover[1]
                or not self.transport.up):  # no peer connected (they are stopping too): nobody to hand over to
            self.stop_reason = reason

    def _poll_timeout(self) -> int:
        now = mono_ms()
        wait = min(HOUSEKEEPING_MS, self._next_counters - now)
        if self._held:
            wait = min(wait, self._held[0][0] - now)
        deadline = self._wheel.next_deadline()
        if deadline is not None:
            wait = min(wait, deadline - now)
        return max(0, wait)

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def _fire_due_timers(self) -> None:
        now = mono_ms()
        for key in self._wheel.advance(now):
            if self._timers.fired(key):
                self.counters.on_timer(time.monotonic_ns() / 1e6 - key[3])
                self._dispatch(self.algo.fire, key[1], now)

    def _housekeeping(self) -> None:
        now = mono_ms()
        if self.transport.refused and now >= self._next_redial:
            self._next_redial = now + REDIAL_MS
            for peer in sorted(self.transport.refused):
                self._redial(peer)
        if now >= self._next_seal:
            self._next_seal = now + SEAL_EVERY_MS
            self.storage.seal()
        if now >= self._next_counters:
            self._next_counters = now + self.counters_every_ms
            mark = self.counters.total()
            if mark != self._counters_mark:
                self._counters_mark = mark
                self._record("counters", {"counters": self.counters.snapshot()})
        if self.watch_parent is not None and os.getppid() != self.watch_parent:
            self.request_stop("parent exited")

    def _dispatch(self, event, *args: Any) -> None:
        """Call one algorithm entry point with ``now`` = its last argument and execute the effects."""
        self._now = args[-1]
        self._execute(event(*args))

    # -- incoming -----------------------------------------------------------------------

    def _on_frames(self) -> None:
        budget = RECV_BYTES_BUDGET
        for _ in range(RECV_BATCH):
            frames = self.transport.recv()
            if frames is None:
                return
            self._deliver(frames)
            budget -= len(frames[-1])
            if budget <= 0:
                return

    def _deliver(self, frames: list) -> None:
        if len(frames) != 2:
            self._drop("frames", frames[-1], None, f"{len(frames) - 1} data frames, expected 1")
            return
        data = frames[1].bytes
        try:
            msg = codec.decode(data)
        except CodecError as exc:
            self._drop("codec", frames[1], None, str(exc))
            return
        src = msg.src
        if self._zap is not None:
            route = frames[0].bytes
            member = self._routes.get(route, -1)
            if member == -1:
                member = member_of(user_id(frames[1]))
                if len(self._routes) >= 4096:
                    self._routes.clear()
                self._routes[route] = member
            if member != src:
                self._drop("impersonation", frames[1], src, f"the connection authenticated as node {member} "
                           f"claims to be node {src}")
                return
        if msg.algo_id != self.algo_cls.algo_id:
            self._drop("algorithm", frames[1], src, f"algo_id {msg.algo_id}, this node runs {self.algo_cls.algo_id}")
        elif msg.cluster != self.cluster_id:
            self._drop("cluster", frames[1], src, f"cluster id {msg.cluster}, this cluster is {self.cluster_id}")
        elif src not in self.peers:
            self._drop("unknown_src", frames[1], src, f"source {src} is not a peer of node {self.id}")
        elif msg.dst != self.id and msg.dst != BROADCAST:
            self._drop("dst", frames[1], src, f"addressed to {msg.dst}, this is node {self.id}")
        elif src in self.partitioned:
            self.counters.dropped_partition += 1
            if self.trace_messages:
                self._record("recv", {"peer": src, "type": msg.name, "dropped": "partition"})
        else:
            self.counters.on_recv(msg.name, len(data))
            if self.trace_messages:
                self._record("recv", {"peer": src, "type": msg.name})
            self._dispatch(self.algo.receive, msg, mono_ms())

    def _drop(self, reason: str, frame: Any, src: int | None, detail: str) -> None:
        self.counters.on_bad(reason)
        source = peer_address(frame) + ("" if src is None else f" claiming node {src}")
        self._report("dropped", {"reason": reason, "source": source, "detail": detail},
                     f"dropped a message from {source} ({reason}): {detail}")

    def _report(self, kind: str, data: dict[str, Any], text: str) -> None:
        """An event and a log line about bad input, within the global report limit (the rest are counted)."""
        if self._drops.should_report(time.monotonic()):
            suppressed = self._drops.take_suppressed()
            log.warning("node %d %s (%d more unreported since the last report)", self.id, text, suppressed)
            self._record(kind, {**data, "suppressed": suppressed})

    def _on_zap(self) -> None:
        for refusal in self._zap.handle():
            self.counters.on_bad("auth")
            self._report("auth_refused", {"address": refusal.address, "socket": refusal.domain,
                                          "reason": refusal.reason},
                         f"refused a connection from {refusal.address} to {refusal.domain}: {refusal.reason}")

    def _on_monitor(self, monitor: zmq.Socket) -> None:
        for peer, up in self.transport.on_monitor(monitor):
            self._record("peer_up" if up else "peer_down", {"peer": peer})
            if up and self._held:
                self._leader_learned = True  # held for want of a reachable leader: this one may be it
            self._dispatch(self.algo.peer_up if up else self.algo.peer_down, peer, mono_ms())

    # -- effects ------------------------------------------------------------------------

    def _execute(self, effects: list) -> None:
        execute(effects, self)

    # the EffectSink of quorumlab.core.interpret: how a real node carries out each effect

    def send(self, to: int, msg: Any) -> None:
        if to in self.peers:
            self._send(to, codec.encode(msg), msg.name)

    def broadcast(self, msg: Any) -> None:
        data = codec.encode(msg)
        kind = msg.name
        for peer in self.algo.peers:
            self._send(peer, data, kind)

    def set_timer(self, name: str, delay_ms: int) -> None:
        self._timers.arm(name, self._now + delay_ms)

    def cancel_timer(self, name: str) -> None:
        self._timers.cancel(name)

    def persist(self) -> None:
        self.storage.flush()

    def observe(self, effect: Any) -> None:
        t = type(effect)
        if t is Proposed:
            if effect.ctx:
                self._forward_appended(effect)
            return  # one per client request: the apply event says the same
        if t is ReadReady:
            self._read_ready(effect.ctx, effect.index)
            return
        if t is TransferRefused or (t is Note and effect.kind in ("transfer_aborted", "transfer_ended")):
            self._handover_over = self._handover is not None
        if t is ReadRejected:
            req = self._read_requests.pop(effect.ctx, None)
            if req is not None:
                hint = ({"leader": effect.leader, "leader_address": self.addresses.get(effect.leader)}
                        if effect.leader else None)
                self._fail(req, effect.code, effect.reason, hint)
            return
        event = self._record(*as_event(effect))
        if (t is ProposeRejected or t is ForwardLost) and effect.ctx:
            self._forward_failed(effect)
            return
        if t is MembershipChanged:
            self._follow_membership(effect)
        if t is LeaderChanged and effect.leader is not None and self._held:
            self._leader_learned = True
        if t is LeaderChanged and self._waiting:
            self._fail_forwarded_waiting(effect.leader)
        if t is RoleChanged:
            if effect.old == Role.LEADER and self._waiting:
                self._fail_waiting("leadership lost")
        elif t is Note and effect.kind in ELECTION_NOTES:
            self.last_election = {"kind": effect.kind, "term": effect.data.get("term"), "t": event["t"]}

    def apply(self, run: list[Apply]) -> None:
        """Run consecutive committed entries through the state machine (one event for the run), answer every
        waiting request they complete (or fail it if another term's entry took its index), then every read
        that waited for them."""
        sm = self.state_machine
        results = [sm.apply(e.index, e.data) for e in run] if sm is not None else [None] * len(run)
        self._answer_waiting(run, results)
        self._applied_index = run[-1].index
        reads = self._reads_at
        while reads and reads[0][0] <= self._applied_index:
            self._answer_read(heapq.heappop(reads)[2])
        self._record(*applied_event(run[0], run[-1]))
        if self._prune is not None:
            self._prune_members()

    def take_snapshot(self, effect: TakeSnapshot) -> None:
        """Write the state machine's image durably from a forked child (quorumlab.core.snapshots.FileSnapshots.save_in_background):
        the loop pauses only for the fork; the algorithm compacts once the store has the image."""
        started = time.monotonic()
        take_snapshot(self.storage, self.state_machine, effect.index, effect.term, effect.meta, background=True)
        self._record("snapshot_writing", {"index": effect.index, "term": effect.term,
                                          "fork_ms": round((time.monotonic() - started) * 1000, 3)})

    def restore_snapshot(self, effect: RestoreSnapshot) -> None:
        """Replace the state machine with the stored image, then answer the reads it now covers."""
        started = time.monotonic()
        given = self._given_state_machine
        # A state machine the application gave (an embedded node's) is restored in place: the application holds it.
        self.state_machine = restore_snapshot(self.storage, (lambda: given) if given is not None
                                              else self.algo_cls.StateMachine, effect.index)
        self._applied_index = effect.index
        waiting = self._waiting
        while waiting and waiting[0].first <= effect.index:  # forwarded commands the image covers, or replaced
            self._fail(waiting.popleft(), LEADERSHIP_LOST, "a snapshot from the leader replaced the entries "
                       "before they were applied here; they may have been applied")
        self._record("snapshot_restored", {"index": effect.index, "term": effect.term,
                                           "ms": round((time.monotonic() - started) * 1000, 3)})
        reads = self._reads_at
        while reads and reads[0][0] <= self._applied_index:
            self._answer_read(heapq.heappop(reads)[2])

    def _answer_waiting(self, run: list[Apply], results: list) -> None:
        waiting = self._waiting
        first = run[0].index
        last = run[-1].index
        while waiting and waiting[0].first <= last:
            req = waiting[0]
            k = req.first + len(req.results) - first
            if k < 0:  # its earlier entries were applied before it was registered: cannot be answered
                waiting.popleft()
                self._fail(req, LEADERSHIP_LOST, "leadership lost")
                continue
            end = min(req.first + req.count - first, len(run))
            if any(run[j].term != req.term for j in range(k, end)):
                waiting.popleft()
                self._fail(req, LEADERSHIP_LOST, "leadership lost")
                continue
            req.results.extend(r or b"" for r in results[k:end])
            if len(req.results) < req.count:
                break
            waiting.popleft()
            self._answer(req)

    def _answer(self, req: "_ClientRequest") -> None:
        """Every command of ``req`` was applied: reply with their results in its format."""
        self._connections.done(req)
        if req.done is not None:
            req.done(req.results, None)
            return
        size = sum(map(len, req.results))
        if size > CONTROL_MAX_REPLY_BYTES:
            self._fail(req, REPLY_TOO_LARGE, f"applied, but the results are {size} bytes, over the {CONTROL_MAX_REPLY_BYTES}-byte "
                            "reply limit; read large values in smaller requests")
            return
        if req.binary:
            self._reply(req.envelope, [REPLY_OK, pack_blobs(req.results)])
            return
        encoded = [base64.b64encode(r).decode() for r in req.results]
        answer = {"results": encoded} if req.batch else {"index": req.first, "result": encoded[0]}
        self._reply(req.envelope, [encode_reply(answer)])

    def _fail(self, req: "_ClientRequest", code: str, reason: str, extra: dict[str, Any] | None = None) -> None:
        """Answer ``req`` with an error: its code (quorumlab.core.runtime.control: whether the commands may have been
        applied), a sentence, and ``extra`` (a leader hint), in the request's format."""
        self._connections.done(req)
        extra = {"code": code, **(extra or {})}
        if req.done is not None:
            req.done(None, {"error": reason, **extra})
            return
        if req.binary:
            self._reply(req.envelope, [REPLY_ERROR, json.dumps({"error": reason, **extra}).encode()])
        else:
            self._reply(req.envelope, [encode_reply(error=reason, extra=extra)])

    def _fail_waiting(self, reason: str) -> None:
        waiting = self._waiting
        while waiting:
            self._fail(waiting.popleft(), LEADERSHIP_LOST, reason)

    def _reply(self, envelope: list, frames: list) -> None:
        try:
            self._control.send_multipart(envelope + frames, zmq.NOBLOCK)
        except zmq.Again:
            # Its reply queue is full: the client does not read. Ignore it for a while instead of buffering.
            self.counters.replies_dropped += 1
            if self._connections.cut_off(envelope[0], time.monotonic()):
                self._report("client_cut_off", {"queued_replies": CONTROL_REPLY_QUEUE, "seconds": CUT_OFF_S},
                             f"cut off a control client that left {CONTROL_REPLY_QUEUE} replies unread")
        except zmq.ZMQError:
            pass  # the client is gone

    def _propose(self, group: list[tuple["_ClientRequest", list[bytes]]]) -> None:
        """Hand the commands of every request read in one pass to the algorithm at once (one
        ``propose_many``: one append, one flush, one AppendEntries per follower for the lot).

        The ``Proposed`` effects (one for the batch, or one per command from the default
        ``on_propose_many``) say which indexes the commands took, in order; each request then
        waits for its own entries. A refusal that appended nothing may be about one request's
        content (raft refuses a batch holding an empty command), so with several requests each
        gets a try of its own; a request only partly appended is told the refusal (its client
        retries with the same sequence numbers, which the state machine applies at most once).
        """
        batch: list[bytes] = []
        accepted: list[tuple[_ClientRequest, list[bytes], int]] = []
        for req, commands in group:
            if 1 <= len(commands) <= MAX_BATCH:
                accepted.append((req, commands, len(batch)))
                batch += commands
            else:
                self._fail(req, INVALID, f"propose needs 1..{MAX_BATCH} commands, got {len(commands)}")
        if not accepted:
            return
        self._now = now = mono_ms()
        effects = self.algo.propose_many(batch, now)
        ranges: list[list[int]] = []  # [first index, term, count, offset of its first command in batch]
        covered = 0
        refusal: tuple[str, str, dict[str, Any]] | None = None
        for e in effects:
            t = type(e)
            if t is Proposed:
                last = ranges[-1] if ranges else None
                if last is not None and last[1] == e.term and last[0] + last[2] == e.index:
                    last[2] += e.count
                else:
                    ranges.append([e.index, e.term, e.count, covered])
                covered += e.count
            elif t is ProposeRejected:
                hint = {"leader": e.leader, "leader_address": self.addresses.get(e.leader)} if e.leader else {}
                refusal = (e.code, e.reason, hint)
        self._execute(effects)
        if refusal is not None and not covered and refusal[0] != NOT_LEADER:
            # Refused together: each request on its own, so one's refusal is not the others'; joined in-process
            # submits too. (Not "not leader": that is the node's answer, the same for each.)
            parts = [part for req, commands, _ in accepted for part in _Joined.split(req, commands)]
            if len(parts) > 1:
                for req, commands in parts:
                    self._propose([(req, commands)])
                return
        if refusal is not None and covered:
            # Some accepted, the rest refused (an algorithm that stops partway): a joined request is answered
            # submit by submit, each by where its own commands went, not all by the refusal.
            expanded: list[tuple[_ClientRequest, list[bytes], int]] = []
            for req, commands, offset in accepted:
                for part, cmds in _Joined.split(req, commands):
                    expanded.append((part, cmds, offset))
                    offset += len(cmds)
            accepted = expanded
        # No leader known, or only one whose connection from here is down (it crashed, most likely, and an
        # election is about to start): hold the request rather than send the client to a dead node.
        leaderless = (refusal is not None and refusal[0] == NOT_LEADER
                      and (not refusal[2] or refusal[2]["leader"] not in self.transport.up))
        forward = refusal is not None and refusal[0] == NOT_LEADER and not leaderless
        for req, commands, offset in accepted:
            home = next((r for r in ranges if r[3] <= offset and offset + req.count <= r[3] + r[2]), None)
            if home is not None:
                req.first, req.term = home[0] + offset - home[3], home[1]
                self._wait_for_entries(req)
                self._connections.wait(req)
            elif leaderless and len(self._held) < MAX_HELD and (not req.held_until or now < req.held_until):
                # Held again if a release found no leader after all (a peer's connection came back, not the
                # leader's), but never past the deadline of its first hold.
                req.held_until = req.held_until or now + HOLD_MS
                self._held.append((req.held_until, req, commands))
                self._connections.wait(req)
            elif forward and req.done is not None:
                self._forward(req, commands)
            elif refusal is not None:
                self._fail(req, *refusal)
            else:
                self._fail(req, INTERNAL, f"{self.algo_cls.name} accepted {covered} of {len(batch)} commands "
                                "without refusing the rest" if covered else
                                f"{self.algo_cls.name} neither accepted nor refused the commands")

    def _forward(self, req: "_ClientRequest", commands: list[bytes]) -> None:
        """An in-process request on a node that does not lead: the algorithm sends it to the leader
        (``ElectionAlgorithm.forward``); its answer, by ctx, says where the commands went (then the request
        waits for its entries like the leader's own) or why they were not appended. A joined request refused for
        one command's sake is forwarded again submit by submit, as ``_propose`` does."""
        self._next_forward += 1
        ctx = self._next_forward
        effects = self.algo.forward(ctx, commands, self._now)
        refused = next((e for e in effects if type(e) is ProposeRejected and e.ctx == ctx), None)
        parts = _Joined.split(req, commands) if refused is not None and refused.code != NOT_LEADER else []
        if len(parts) > 1:
            self._record(*as_event(refused))
            self._execute([e for e in effects if e is not refused])
            for part, cmds in parts:
                self._forward(part, cmds)
            return
        self._forwarding[ctx] = req
        self._connections.wait(req)
        self._execute(effects)

    def _forward_appended(self, effect: Proposed) -> None:
        """The leader appended forwarded commands at ``effect.index``..: their request waits for those entries."""
        req = self._forwarding.pop(effect.ctx, None)
        if req is None:
            return
        if effect.count != req.count:
            self._fail(req, INTERNAL, f"{self.algo_cls.name} reported {effect.count} of {req.count} forwarded "
                       "commands appended")
            return
        req.first, req.term, req.via = effect.index, effect.term, self.algo.leader or 0
        if req.first <= self._applied_index:  # applied here before the leader's answer came: results unknown
            self._fail(req, LEADERSHIP_LOST, "the entries were applied here before the leader's answer arrived; "
                       "they may have been applied")
            return
        self._wait_for_entries(req)

    def _wait_for_entries(self, req: "_ClientRequest") -> None:
        """``req`` waits for its entries, in index order (applies answer the waiting from the front)."""
        waiting = self._waiting
        if not waiting or waiting[-1].first < req.first:
            waiting.append(req)
        else:
            at = next((k for k, w in enumerate(waiting) if w.first > req.first), len(waiting))
            waiting.insert(at, req)

    def _fail_forwarded_waiting(self, leader: int | None) -> None:
        """The leader changed: forwarded commands appended by the one before may never be applied here (it may
        have lost them before they reached anyone, and nothing else would ever fill their index), so they are
        answered "leadership lost" (they may still be applied, at most once), not left waiting."""
        waiting = self._waiting
        if not any(r.via and r.via != leader for r in waiting):
            return
        keep: list[_ClientRequest] = []
        lost: list[_ClientRequest] = []
        for req in waiting:
            (lost if req.via and req.via != leader else keep).append(req)
        waiting.clear()
        waiting.extend(keep)
        for req in lost:
            self._fail(req, LEADERSHIP_LOST, f"the leader that appended the commands (node {req.via}) changed before "
                       "they were applied here; they may have been applied")

    def _forward_failed(self, effect: ProposeRejected | ForwardLost) -> None:
        """Forwarded commands refused by the leader (not appended), or lost on the way (may be appended)."""
        req = self._forwarding.pop(effect.ctx, None)
        if req is None:
            return
        hint = {"leader": effect.leader, "leader_address": self.addresses.get(effect.leader)} if effect.leader else {}
        if type(effect) is ForwardLost:
            self._fail(req, LEADERSHIP_LOST, effect.reason, hint)
        else:
            self._fail(req, effect.code, effect.reason, hint)

    def _release_held(self) -> None:
        """Requests held for want of a leader: proposed again once one may be learned (held again if none was,
        until the deadline of their first hold), answered "not leader" once HOLD_MS has passed."""
        held = self._held
        if self._leader_learned:
            self._leader_learned = False
            again = list(held)
            held.clear()
            for _, req, _ in again:
                self._connections.done(req)
            self._propose([(req, commands) for _, req, commands in again])
            return
        now = mono_ms()
        while held and held[0][0] <= now:
            _, req, _ = held.popleft()
            self._fail(req, NOT_LEADER, f"not leader: no leader was learned within {HOLD_MS} ms")

    def _send(self, peer: int, data: bytes, kind: str) -> None:
        if len(data) > MAX_FRAME_BYTES:
            self.counters.on_bad("oversize_out")
            self._report("dropped", {"reason": "oversize_out", "type": kind, "bytes": len(data)},
                         f"did not send a {kind} of {len(data)} bytes: over the {MAX_FRAME_BYTES}-byte limit")
        elif peer in self.partitioned:
            self.counters.dropped_partition += 1
            if self.trace_messages:
                self._record("send", {"peer": peer, "type": kind, "bytes": len(data), "dropped": "partition"})
        elif self.transport.send(peer, data):
            self.counters.on_sent(kind, len(data))
            if self.trace_messages:
                self._record("send", {"peer": peer, "type": kind, "bytes": len(data)})
        else:
            self.counters.dropped_unreachable += 1
            if self.trace_messages:
                self._record("send", {"peer": peer, "type": kind, "bytes": len(data), "dropped": "unreachable"})

    def _record(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        event = self._log.record(kind, data)
        if self.listener is not None:
            self.listener(event)
        return event

    # -- the in-process channel (quorumlab.core.embedded) -----------------------------------------

    def submit_local(self, commands: list[bytes], done: Callable[[list[bytes] | None, dict | None], None]) -> bool:
        """From any thread: propose ``commands`` as one request of the in-process "connection"; the loop calls
        ``done(results, None)`` once all are applied, or ``done(None, {"code", "error", "leader",
        "leader_address"})`` (the control socket's error reply). False, and nothing queued, when
        LOCAL_QUEUE requests already wait to be taken: the caller answers "busy" itself."""
        return self._enqueue((commands, done))

    def call_local(self, fn: Callable[[], None]) -> bool:
        """From any thread: run ``fn()`` on the loop's thread, in order with ``submit_local`` (False when full)."""
        return self._enqueue((None, fn))

    def _enqueue(self, item: tuple[list[bytes] | None, Callable]) -> bool:
        local = self._local
        if len(local) >= LOCAL_QUEUE:
            return False
        local.append(item)
        if len(local) == 1:  # the loop drains until empty, so only the first of a run needs to wake it
            try:
                os.write(self._wake_w, b"l")
            except (BlockingIOError, OSError):
                pass
        return True

    def _on_local(self) -> None:
        """Take the in-process requests waiting (up to the same budget as the control socket's); a run of
        proposals goes to the algorithm as one group, through the control socket's own ``_propose``, and
        consecutive submits are made one request (``_Joined``, up to MAX_BATCH commands): one request's
        bookkeeping instead of one per submit, each submit still answered with its own entries' results."""
        local = self._local
        group: list[tuple[_ClientRequest, list[bytes]]] = []
        proposed = 0
        joined: _Joined | None = None  # consecutive submits made one request (its commands, its parts' answers)
        while local and proposed < PROPOSE_BUDGET:
            commands, done = local.popleft()
            if commands is None:
                if group:
                    self._propose(group)
                    group = []
                joined = None
                done()
                continue
            if joined is not None and len(joined.commands) + len(commands) <= MAX_BATCH:
                joined.add(commands, done)
                joined.req.count += len(commands)
                proposed += len(commands)
                continue
            req = _ClientRequest([LOCAL_ROUTE], len(commands), binary=True)
            if self._connections.full(LOCAL_ROUTE):
                req.done = done
                self._fail(req, BUSY, f"busy: {CONTROL_WAITING_PER_CONNECTION} in-process requests are waiting; retry")
                joined = None
                continue
            joined = _Joined(req, list(commands), done)
            req.done = joined
            proposed += len(commands)
            group.append((req, joined.commands))
        if group:
            self._propose(group)
        if local:
            try:
                os.write(self._wake_w, b"l")  # the rest next iteration, after timers have had their turn
            except (BlockingIOError, OSError):
                pass

    # -- control ------------------------------------------------------------------------

    def _on_control(self) -> None:
        """Serve waiting control requests; the propose requests of one pass go to the algorithm together."""
        group: list[tuple[_ClientRequest, list[bytes]]] = []
        proposed = proposed_bytes = 0
        now_s = time.monotonic()
        for _ in range(64):
            if proposed >= PROPOSE_BUDGET or proposed_bytes >= PROPOSE_BYTES_BUDGET:
                break  # timers (heartbeats, the log flush) get their turn before more commands
            try:
                parts = self._control.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break
            route = parts[0].bytes
            if self._connections.is_cut_off(route, now_s):
                self.counters.requests_ignored += 1
                continue
            if len(parts) > MAX_ENVELOPE_FRAMES + 2 or any(len(f) > MAX_ENVELOPE_BYTES for f in parts[:-1]):
                self._drop_envelope(parts)  # checked before anything is copied: only the last frame may be large
                continue
            frames = [f.bytes for f in parts]
            proposed_bytes += len(frames[-1])
            role = role_of(user_id(parts[-1])) if self._zap is not None else "admin"
            allowed = ALLOWED.get(role or "", frozenset())
            k = find_propose(frames)
            envelope = frames[:k] if k >= 0 else frames[:-1]
            if len(envelope) > MAX_ENVELOPE_FRAMES or sum(map(len, envelope)) > MAX_ENVELOPE_BYTES:
                self._drop_envelope(parts)
                continue
            if k >= 0 and frames[k] == READ:
                self._on_read_request(frames, k, envelope, role, allowed)
                continue
            if k >= 0:
                req = _ClientRequest(envelope, 0, binary=True)
                if "propose" not in allowed:
                    self._fail(req, FORBIDDEN, f"forbidden: the role {role!r} may not propose")
                    continue
                if self._connections.full(frames[0]):
                    self._fail(req, BUSY, f"busy: {CONTROL_WAITING_PER_CONNECTION} requests of this connection are waiting; "
                                    "retry")
                    continue
                try:
                    if len(frames) != k + 2:
                        raise CodecError(f"{len(frames) - k - 1} frames after the propose marker, expected 1")
                    commands = unpack_blobs(frames[k + 1])
                except CodecError as exc:
                    self._fail(req, INVALID, f"malformed propose request: {exc}")
                    continue
                req.count = len(commands)
                proposed += len(commands)
                group.append((req, commands))
                continue
            try:
                request = parse_request(frames[-1])
                if request["cmd"] not in allowed:
                    raise ControlError(f"forbidden: the role {role!r} may not {request['cmd']!r}")
                if request["cmd"] == "propose":
                    if self._connections.full(frames[0]):
                        raise ControlError(f"busy: {CONTROL_WAITING_PER_CONNECTION} requests of this connection are "
                                           "waiting; retry")
                    commands, batch = self._json_commands(request)
                    proposed += len(commands)
                    group.append((_ClientRequest(envelope, len(commands), batch=batch), commands))
                    continue
                if group:  # earlier proposals first: a request's effects never overtake an earlier one's
                    self._propose(group)
                    group = []
                reply = encode_reply(self._command(request))
            except ControlError as exc:
                reply = encode_reply(error=str(exc))
            self._reply(envelope, [reply])
        if group:
            self._propose(group)

    def _on_read_request(self, frames: list[bytes], k: int, envelope: list[bytes], role: str | None,
                         allowed: frozenset[str]) -> None:
        """A binary read: ``stale`` is answered at once from the state machine; ``linearizable`` and ``lease`` go to
        the algorithm, whose ReadReady says from which applied index they may be answered."""
        req = _ClientRequest(envelope, 0, binary=True)
        if "read" not in allowed:
            self._fail(req, FORBIDDEN, f"forbidden: the role {role!r} may not read")
            return
        sm = self.state_machine
        if sm is None or not hasattr(sm, "read"):
            self._fail(req, NO_LOG, f"{self.algo_cls.name} has no state machine that serves reads")
            return
        if len(frames) != k + 3 or frames[k + 1] not in READ_CONSISTENCIES:
            self._fail(req, INVALID, "malformed read request: READ, a consistency "
                       f"({', '.join(c.decode() for c in READ_CONSISTENCIES)}), then one blob list of queries")
            return
        try:
            req.queries = unpack_blobs(frames[k + 2])
        except CodecError as exc:
            self._fail(req, INVALID, f"malformed read request: {exc}")
            return
        req.count = len(req.queries)
        self.counters.reads += req.count
        if frames[k + 1] == b"stale":
            self._answer_read(req)
            return
        if self._connections.full(frames[0]):
            self._fail(req, BUSY, f"busy: {CONTROL_WAITING_PER_CONNECTION} requests of this connection are waiting; "
                       "retry")
            return
        self._next_read += 1
        ctx = self._next_read
        self._read_requests[ctx] = req
        self._connections.wait(req)
        self._dispatch(self.algo.read, ctx, frames[k + 1].decode(), mono_ms())

    def _answer_read(self, req: "_ClientRequest") -> None:
        sm = self.state_machine
        req.results = [sm.read(q) or b"" for q in req.queries]
        self._answer(req)

    def _read_ready(self, ctx: int, index: int) -> None:
        """Read ``ctx`` may be answered once ``index`` is applied: now, or when the apply that reaches it comes."""
        req = self._read_requests.pop(ctx, None)
        if req is None:
            return
        if index <= self._applied_index:
            self._answer_read(req)
        else:
            heapq.heappush(self._reads_at, (index, ctx, req))

    def _drop_envelope(self, parts: list) -> None:
        self.counters.on_bad("envelope")
        self._report("dropped", {"reason": "envelope", "frames": len(parts)},
                     f"dropped a control request of {len(parts)} frames, {sum(len(f) for f in parts)} bytes: its "
                     f"envelope is over {MAX_ENVELOPE_FRAMES} frames or {MAX_ENVELOPE_BYTES} bytes")

    @staticmethod
    def _json_commands(request: dict[str, Any]) -> tuple[list[bytes], bool]:
        """The commands of a JSON propose ({"data": base64} or {"batch": [base64, ...]}) and whether it is a batch."""
        batch = request.get("batch")
        items = batch if isinstance(batch, list) else [request.get("data", "")]
        if not 1 <= len(items) <= MAX_BATCH:
            raise ControlError(f'propose needs "data" (base64) or "batch" (a list of 1..{MAX_BATCH} base64 commands)')
        try:
            return [base64.b64decode(item, validate=True) for item in items], isinstance(batch, list)
        except (ValueError, TypeError):
            raise ControlError('propose needs "data" (base64) or "batch" (a list of base64 commands)') from None

    def _command(self, request: dict[str, Any]) -> Any:
        """Serve one JSON control command other than ``propose`` (see ``COMMANDS``)."""
        handler = self._commands.get(request["cmd"])
        if handler is None:
            raise ControlError(f"the node does not serve {request['cmd']!r}")
        return handler(request)

    @property
    def _commands(self) -> dict[str, Any]:
        """Control command -> its handler: one entry per name of quorumlab.core.runtime.control.COMMANDS but ``propose``."""
        return {
            "status": lambda _request: self.status(),
            "partition": self._cmd_partition,
            "heal": self._cmd_heal,
            "state_machine": self._cmd_state_machine,
            "fire": self._cmd_fire,
            "stop": self._cmd_stop,
            "transfer": self._cmd_transfer,
            "member": self._cmd_member,
        }

    def _cmd_partition(self, request: dict[str, Any]) -> dict[str, Any]:
        peers = request.get("peers")
        if not isinstance(peers, list) or not all(type(p) is int and p in self.peers for p in peers):
            raise ControlError(f'partition needs "peers": a list of peer ids among {sorted(self.peers)}')
        self.partitioned = set(peers)
        self._record("partition", {"peers": sorted(self.partitioned)})
        return {"partitioned": sorted(self.partitioned)}

    def _cmd_heal(self, _request: dict[str, Any]) -> dict[str, Any]:
        self.partitioned = set()
        self._record("heal", {})
        return {"partitioned": []}

    def _cmd_state_machine(self, _request: dict[str, Any]) -> dict:
        if self.state_machine is None:
            raise ControlError(f"{self.algo_cls.name} has no state machine")
        return self.state_machine.contents()

    def _cmd_fire(self, request: dict[str, Any]) -> dict[str, Any]:
        timer = request.get("timer")
        if not isinstance(timer, str) or not timer:
            raise ControlError('fire needs "timer": the name of an algorithm timer')
        self._timers.cancel(timer)
        self._dispatch(self.algo.fire, timer, mono_ms())
        return {"fired": timer}

    def _cmd_transfer(self, request: dict[str, Any]) -> dict[str, Any]:
        to = request.get("to")
        if to is not None and (type(to) is not int or to not in self.addresses):
            raise ControlError(f'transfer needs "to": a node id of this cluster ({sorted(self.addresses)}) or null')
        now = mono_ms()
        self._now = now
        effects = self.algo.transfer(to, now)
        self._execute(effects)
        refused = next((e for e in effects if type(e) is TransferRefused), None)
        if refused is not None:
            hint = f" (leader: node {refused.leader})" if refused.leader not in (None, self.id) else ""
            raise ControlError(f"{refused.code}: {refused.reason}{hint}")
        started = next((e for e in effects if type(e) is Note and e.kind == "transfer_started"), None)
        return {"to": started.data["to"] if started is not None else to}

    def _cmd_member(self, request: dict[str, Any]) -> dict[str, Any]:
        """A membership change: the algorithm appends the configuration entry (or refuses, saying why); the caller
        polls status until the commit index reaches the returned index. A node new to the cluster needs its address."""
        change = request.get("change")
        if not isinstance(change, list) or not all(isinstance(op, dict) for op in change):
            raise ControlError('member needs "change": a list of {"op", "node"[, "address"]}')
        for op in change:
            node = op.get("node")
            if op.get("op") not in ("add_voter", "add_learner") or type(node) is not int:
                continue
            if node not in self.addresses and not op.get("address"):
                raise ControlError(f'node {node} is new to this cluster: give its "address" (tcp://host:port)')
            if self.keyring is not None and not op.get("key"):
                if node not in self.keyring.nodes:
                    self._reload_keyring()
                if node not in self.keyring.nodes:
                    raise ControlError(f'node {node} has no key in this node\'s keyring ({self.keyring.path}): give '
                                       'its public "key" (Z85, from its own keyring), which then travels in the '
                                       'configuration to every member')
                op["key"] = self.keyring.nodes[node].decode()
        self._now = now = mono_ms()
        effects = self.algo.change_membership(change, now)
        self._execute(effects)
        for e in effects:
            if type(e) is ProposeRejected:
                hint = f" (leader: node {e.leader})" if e.leader not in (None, self.id) else ""
                raise ControlError(f"{e.code}: {e.reason}{hint}")
            if type(e) is Proposed:
                return {"index": e.index, "term": e.term}
        raise ControlError(f"{INTERNAL}: the algorithm neither accepted nor refused the change")

    def _follow_membership(self, effect: MembershipChanged) -> None:
        """Connect at once to members this node has no connection to (their address from the configuration or the
        command line; with CurveZMQ their key from the keyring, read again from its directory for a member added
        since the start). Connections to nodes the configuration leaves out are dropped once it is applied here
        (``_prune_members``): until it commits, a leader it removes still leads, and must be heard."""
        keep = set(effect.voters) | set(effect.learners) | set(effect.outgoing) | set(self.algo.peers)
        keep.discard(self.id)
        for peer in sorted(keep - set(self.peers)):
            address = effect.addresses.get(peer) or self.addresses.get(peer)
            if address is None:
                self._report("member_unreachable", {"peer": peer, "reason": "no address"},
                             f"node {peer} is a member but no address is known for it")
                continue
            key = None
            if self.keyring is not None:
                carried = effect.keys.get(peer)
                if carried is not None and peer not in self.keyring.nodes:
                    self._learned_keys[peer] = carried.encode()
                if peer not in self.keyring.nodes:
                    self._reload_keyring()
                key = self.keyring.nodes.get(peer)
                if key is None:
                    self._report("member_unreachable", {"peer": peer, "reason": "no key"},
                                 f"node {peer} is a member but the keyring {self.keyring.path} has no key for it; add "
                                 "one with `bench keys add`")
                    continue
            self.addresses[peer] = address
            self.peers[peer] = address
            self._poller.register(self.transport.connect(peer, address, key), zmq.POLLIN)
            self._record("member_connected", {"peer": peer, "address": address})
        self._prune = (effect.index, keep)
        self._prune_members()

    def _redial(self, peer: int) -> None:
        """Connect again to a peer that refused our key (libzmq does not retry after that), with the keyring read
        again: it may have been a member that had not yet read this node's key, or a key since replaced."""
        key = None
        if self.keyring is not None:
            self._reload_keyring()
            key = self.keyring.nodes.get(peer)
        monitor = self.transport.disconnect(peer)
        if monitor is not None:
            self._poller.unregister(monitor)
        if key is None and self.keyring is not None:
            del self.peers[peer]
            return
        self._poller.register(self.transport.connect(peer, self.peers[peer], key), zmq.POLLIN)
        self._record("redialed", {"peer": peer})

    def _reload_keyring(self) -> None:
        """Read the keyring's file again (a member's key added since the start) and add the keys that came in the
        configuration (members whose keys are in their own keyrings only); the ZAP handler uses the result."""
        ring = Keyring(self.keyring.path)
        for peer, key in self._learned_keys.items():
            try:
                ring.learn_node(peer, key)
            except KeyringError as exc:
                self._report("member_key_refused", {"peer": peer, "reason": str(exc)}, str(exc))
        self.keyring = ring
        if self._zap is not None:
            self._zap.keyring = ring

    def _prune_members(self) -> None:
        """Once the newest configuration is applied here, forget the nodes it leaves out (and the algorithm no longer
        sends to): their connections close and what they send is dropped as from a stranger."""
        if self._prune is None or self._applied_index < self._prune[0]:
            return
        keep = self._prune[1] | set(self.algo.peers)
        self._prune = None
        for peer in sorted(set(self.peers) - keep):
            monitor = self.transport.disconnect(peer)
            if monitor is not None:
                self._poller.unregister(monitor)
            del self.peers[peer]
            self._record("member_disconnected", {"peer": peer})

    def _cmd_stop(self, _request: dict[str, Any]) -> dict[str, Any]:
        self.request_stop("control stop")
        return {"stopping": True}

    def status(self) -> dict[str, Any]:
        """The control socket's ``status`` answer: the algorithm's own status plus runtime facts."""
        algo = self.algo
        status = dict(algo.status())
        last = None
        if self.last_election is not None:
            now_ms = time.monotonic_ns() / 1e6
            last = {**self.last_election, "ago_s": round((now_ms - self.last_election["t"]) / 1000, 3)}
        status.update(
            {
                "id": self.id,
                "algo": self.algo_cls.name,
                "role": str(algo.role),
                "term": algo.term,
                "leader": algo.leader,
                "pid": os.getpid(),
                "cluster_id": self.cluster_id,
                "secure": self.keyring is not None,
                "uptime_s": round((mono_ms() - self._started_ms) / 1000, 3),
                "counters": self.counters.snapshot(),
                "partitioned": sorted(self.partitioned),
                "peers_up": sorted(self.transport.up),
                "last_election": last,
                "durable": {k: v for k, v in self.storage.read().items() if not isinstance(v, (list, dict))},
                "data_dir": self.data_dir,
            }
        )
        return status


class _Joined:
    """Consecutive in-process submits proposed as one request (the in-process channel's group commit): the
    request's ``done`` hands each submit its own results, or the request's error to each."""

    __slots__ = ("req", "commands", "parts")

    def __init__(self, req: "_ClientRequest", commands: list[bytes], done: Callable) -> None:
        self.req = req
        self.commands = commands
        self.parts: list[tuple[int, Callable]] = [(len(commands), done)]

    def add(self, commands: list[bytes], done: Callable) -> None:
        self.commands += commands
        self.parts.append((len(commands), done))

    def __call__(self, results: list[bytes] | None, error: dict | None) -> None:
        if error is not None:
            for _, done in self.parts:
                done(None, error)
            return
        at = 0
        for count, done in self.parts:
            done(results[at:at + count], None)
            at += count

    @staticmethod
    def split(req: "_ClientRequest", commands: list[bytes]) -> list[tuple["_ClientRequest", list[bytes]]]:
        """``req`` as the requests it was joined from (itself when it is not a join of several)."""
        joined = req.done
        if type(joined) is not _Joined or len(joined.parts) == 1:
            return [(req, commands)]
        out = []
        at = 0
        for count, done in joined.parts:
            part = _ClientRequest([LOCAL_ROUTE], count, binary=True)
            part.done = done
            part.held_until = req.held_until
            out.append((part, commands[at:at + count]))
            at += count
        return out


class _ClientRequest:
    """One propose request: where to reply, its entries (first index, count, term) and their results so far."""

    __slots__ = ("envelope", "count", "binary", "batch", "first", "term", "results", "waiting", "queries",
                 "held_until", "done", "via")

    def __init__(self, envelope: list, count: int, *, binary: bool = False, batch: bool = False) -> None:
        self.envelope = envelope
        self.count = count
        self.binary = binary
        self.batch = batch
        self.first = 0
        self.term = 0
        self.results: list[bytes] = []
        self.waiting = False
        self.queries: list[bytes] = []
        self.held_until = 0  # while no leader is known it is held until then (ms, monotonic); 0: never held
        self.done: Callable[[list[bytes] | None, dict | None], None] | None = None  # an in-process request's answer
        self.via = 0  # forwarded: the leader that appended its commands


class _Connections:
    """Per control connection (its routing id): requests waiting for their entries, and whether it is cut off.

    Only connections with something to remember have an entry, so the table is as large as the
    connections that are waiting or cut off, and no larger.
    """

    def __init__(self) -> None:
        self._waiting: dict[bytes, int] = {}
        self._cut: dict[bytes, float] = {}

    def full(self, route: bytes) -> bool:
        return self._waiting.get(route, 0) >= CONTROL_WAITING_PER_CONNECTION

    def wait(self, req: _ClientRequest) -> None:
        route = req.envelope[0]
        self._waiting[route] = self._waiting.get(route, 0) + 1
        req.waiting = True

    def done(self, req: _ClientRequest) -> None:
        if req.waiting:
            req.waiting = False
            route = req.envelope[0]
            left = self._waiting[route] - 1
            if left:
                self._waiting[route] = left
            else:
                del self._waiting[route]

    def cut_off(self, route: bytes, now_s: float) -> bool:
        """Ignore ``route`` for CUT_OFF_S seconds; True when it was not cut off already."""
        fresh = not self.is_cut_off(route, now_s)
        self._cut[route] = now_s + CUT_OFF_S
        return fresh

    def is_cut_off(self, route: bytes, now_s: float) -> bool:
        until = self._cut.get(route)
        if until is None:
            return False
        if now_s < until:
            return True
        del self._cut[route]
        return False
