"""LocalCluster: n node processes on 127.0.0.1, with fault injection and the merged event stream.

Used by ``bench cluster``, benchmarks and the runtime's tests::

    with LocalCluster("raft", 3, config={"election_timeout_min": 150}) as c:
        leader = c.wait_for_leader(10)
        t_kill = c.crash(leader)
        c.wait_for(lambda e: e["kind"] == "role" and e["to"] == "leader", 10, since=t_kill)

Every node is a real ``bench node`` process (``python -m quorumlab.bench.cli node``) with
its own data dir ``<data_dir>/<id>/`` (identity.json, state.bin, events.jsonl,
node.log). The cluster is secure by default: it makes a keyring in
``<data_dir>/keys`` (quorumlab.core.keys) the first time, every node and the harness use
CurveZMQ, and the harness speaks as the keyring's ``admin``; ``secure=False``
runs the nodes in plain mode, for teaching. ``<data_dir>/cluster.json`` keeps
the cluster id, so a cluster started again on the same data dir is the same
cluster (its nodes refuse a data dir of another).
Ports are picked free on 127.0.0.1 unless ``base_port`` is given (then node i
uses base_port + i, control and events by the rule of quorumlab.core.runtime.addresses).
Nodes can live elsewhere than 127.0.0.1: ``hosts`` gives each node the address
it binds and is reached at, and ``launcher`` a command prefix that starts it
there (quorumlab.bench.check.netns runs each node in a network namespace of its own with
``ip netns exec NAME``); ports then follow ``base_port`` (default
``HOSTED_BASE_PORT``), as each host has ports of its own.
``trace_messages`` makes every node record an event per message sent and
received (``send``/``recv``: peer, type, bytes; what ``bench web`` draws).
A leader that is stopped (``stop``, ``restart``, ``close``) first hands its
leadership to a follower (``hand_over=False``: it just stops, and the others
wait out an election timeout).
Leaving the context stops every process it started, by PID (SIGTERM, SIGKILL
after a grace period), even when the body raised; a temporary data dir is
removed then, a given one is kept. Waiting is event-driven: the cluster
subscribes to every node's PUB socket and re-reads the event files whenever
something was published, so nothing sleeps blindly.
"""
from __future__ import annotations

import collections
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

if TYPE_CHECKING:
    from quorumlab.core.client import KVClient

import zmq

from quorumlab.core.algorithm import ElectionAlgorithm
from quorumlab.core.config import AlgorithmConfig
from quorumlab.core.keys import KEYRING_FILE, Keyring, add_node, create_keyring
from quorumlab.core.runtime.addresses import control_address, events_address, format_cluster
from quorumlab.core.runtime.auth import ClientAuth
from quorumlab.core.runtime.control import ControlClient, ControlError
from quorumlab.core.runtime.eventlog import EVENTS_FILE, EventFollower, make_event
from quorumlab.core.runtime.loader import algorithm_spec, import_root, load_algorithm

HOST = "127.0.0.1"
HOSTED_BASE_PORT = 7100
"""Node i listens on HOSTED_BASE_PORT + i when nodes run on hosts of their own (``hosts=``)."""
CLUSTER_FILE = "cluster.json"
"""In a LocalCluster's data dir: the cluster id and algorithm, so that starting it again finds the same cluster."""


def free_ports(count: int, host: str = HOST) -> list[int]:
    """``count`` distinct ports that were free on ``host`` a moment ago (bind-tested together).

    They are drawn at random below the kernel's ephemeral range: a port the OS hands out for
    ``bind(0)`` or for an outgoing connection could be taken again by someone else's connection
    in the moment between this test and the node's own bind, and many clusters started at
    once (tests, ``bench web``) would draw the same few ports.
    """
    low, high = _listen_range()
    rng = random.SystemRandom()
    socks: list[socket.socket] = []
    ports: list[int] = []
    try:
        for _ in range(count * 50):
            if len(ports) == count:
                break
            port = rng.randint(low, high)
            if port in ports:
                continue
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((host, port))
            except OSError:
                s.close()
                continue
            socks.append(s)
            ports.append(port)
        if len(ports) < count:
            raise RuntimeError(f"found only {len(ports)} free ports of {count} on {host} in {low}..{high}")
        return ports
    finally:
        for s in socks:
            s.close()


def _listen_range() -> tuple[int, int]:
    """Ports to listen on: below the ephemeral range (``ip_local_port_range``), above the well-known ones."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            ephemeral_low = int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    high = max(2047, ephemeral_low - 1)
    return max(1024, min(20_000, high - 1000)), high


def now_ms() -> float:
    """The clock of every event's ``t``: CLOCK_MONOTONIC in ms, comparable across processes on this host."""
    return time.monotonic_ns() / 1e6


def _config_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class LocalCluster:
    """n ``bench node`` processes (ids 1..n), on 127.0.0.1 unless ``hosts`` says otherwise; see the module docstring."""

    def __init__(
        self,
        algo: str | type[ElectionAlgorithm],
        nodes: int,
        base_port: int | None = None,
        data_dir: str | os.PathLike | None = None,
        config: dict[str, Any] | AlgorithmConfig | None = None,
        *,
        cluster_id: int | None = None,
        seed: int | None = None,
        grace_s: float = 5.0,
        ready_timeout_s: float = 30.0,
        counters_every_ms: int = 2000,
        secure: bool = True,
        keys: str | os.PathLike | None = None,
        hosts: Mapping[int, str] | None = None,
        launcher: Callable[[int], Sequence[str]] | None = None,
        trace_messages: bool = False,
        hand_over: bool = True,
    ) -> None:
        if nodes < 1:
            raise ValueError(f"a cluster needs at least 1 node, got {nodes}")
        self.algo_spec = algorithm_spec(algo)
        self.algo_cls = load_algorithm(self.algo_spec)
        overrides = config.as_dict() if isinstance(config, AlgorithmConfig) else (config or {})
        self.config = {k: _config_str(v) for k, v in overrides.items()}
        self.algo_cls.Config.from_strings(self.config)  # a bad value fails here, not in n child processes
        self.ids = tuple(range(1, nodes + 1))
        if hosts is not None:
            missing = [i for i in self.ids if i not in hosts]
            if missing:
                raise ValueError(f"hosts names no address for node(s) {missing}")
            port = HOSTED_BASE_PORT if base_port is None else base_port
            self.addresses = {i: f"tcp://{hosts[i]}:{port + i}" for i in self.ids}
            self.control_addresses = {i: control_address(a) for i, a in self.addresses.items()}
            self.event_addresses = {i: events_address(a) for i, a in self.addresses.items()}
        elif base_port is None:
            ports = free_ports(3 * nodes)
            self.addresses = {i: f"tcp://{HOST}:{ports[3 * (i - 1)]}" for i in self.ids}
            self.control_addresses = {i: f"tcp://{HOST}:{ports[3 * (i - 1) + 1]}" for i in self.ids}
            self.event_addresses = {i: f"tcp://{HOST}:{ports[3 * (i - 1) + 2]}" for i in self.ids}
        else:
            self.addresses = {i: f"tcp://{HOST}:{base_port + i}" for i in self.ids}
            self.control_addresses = {i: control_address(a) for i, a in self.addresses.items()}
            self.event_addresses = {i: events_address(a) for i, a in self.addresses.items()}
        self._own_dir = data_dir is None
        self.data_dir = tempfile.mkdtemp(prefix="quorumlab-cluster-") if data_dir is None else os.path.abspath(data_dir)
        os.makedirs(self.data_dir, exist_ok=True)
        self.cluster_id = self._cluster_id(cluster_id)
        self.keyring: Keyring | None = None
        self.auth: ClientAuth | None = None
        if secure:
            self.keyring = self._keyring(keys)
            endpoints = {i: [self.control_addresses[i], self.event_addresses[i]] for i in self.ids}
            self.auth = ClientAuth.from_keyring(self.keyring, "admin", endpoints)
        self.seed = seed
        self.launcher = launcher
        self.grace_s = grace_s
        self.ready_timeout_s = ready_timeout_s
        self.counters_every_ms = counters_every_ms
        self.trace_messages = trace_messages
        self.hand_over = hand_over
        self.spawned_pids: list[int] = []
        self._node_keyrings: dict[int, str] = {}  # nodes added with a keyring of their own
        self.joined: set[int] = set()
        """Nodes added by ``add_node``: they (re)start as servers joining the cluster."""
        self.removed: list[int] = []
        """Nodes taken out by ``remove_node`` (stopped; their data dirs and events are kept)."""
        self._procs: dict[int, subprocess.Popen] = {}
        self._paused: set[int] = set()
        self._groups: list[set[int]] | None = None
        self._applied: dict[int, frozenset[int]] = {}
        self._closed = False
        self._ctx = zmq.Context()
        self._client = ControlClient(self._ctx, self.auth)
        self._follower = EventFollower(
            self._ctx, [self.event_log(i) for i in self.ids], [self.event_addresses[i] for i in self.ids], self.auth
        )

    def _cluster_id(self, given: int | None) -> int:
        """The id of the cluster that lives in this data dir: the one it recorded, else ``given`` or a random one."""
        path = os.path.join(self.data_dir, CLUSTER_FILE)
        try:
            with open(path) as fh:
                recorded = json.load(fh)
        except FileNotFoundError:
            recorded = None
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"{path}: cannot read it ({exc}); remove it only if this data dir holds no cluster") from None
        if recorded is not None:
            if given is not None and given != recorded.get("cluster_id"):
                raise ValueError(f"{self.data_dir} holds cluster {recorded.get('cluster_id')}, not cluster {given}")
            return int(recorded["cluster_id"])
        cluster_id = given if given is not None else random.randrange(1, 1 << 32)
        with open(path, "w") as fh:
            json.dump({"cluster_id": cluster_id, "algo": self.algo_spec}, fh)
            fh.write("\n")
        return cluster_id

    def _keyring(self, keys: str | os.PathLike | None) -> Keyring:
        """The given keyring, or this data dir's own (made on first use, with a key for every node id)."""
        path = os.fspath(keys) if keys is not None else os.path.join(self.data_dir, "keys")
        if keys is None and not os.path.exists(os.path.join(path, KEYRING_FILE)):
            return create_keyring(path, self.ids)
        ring = Keyring(path)
        for i in self.ids:
            if i not in ring.nodes and keys is None:
                ring = add_node(path, i)
        return ring

    # -- paths and processes -----------------------------------------------------------

    def node_dir(self, node_id: int) -> str:
        return os.path.join(self.data_dir, str(node_id))

    def event_log(self, node_id: int) -> str:
        return os.path.join(self.node_dir(node_id), EVENTS_FILE)

    def node_log(self, node_id: int) -> str:
        """The node process's stdout/stderr."""
        return os.path.join(self.node_dir(node_id), "node.log")

    def pid(self, node_id: int) -> int | None:
        """PID of the node's current process, or None when it is not running."""
        p = self._procs.get(node_id)
        return p.pid if p is not None and p.poll() is None else None

    def is_running(self, node_id: int) -> bool:
        return self.pid(node_id) is not None

    def live_ids(self) -> list[int]:
        """Nodes whose process runs and is not paused."""
        return [i for i in self.ids if self.is_running(i) and i not in self._paused]

    def command(self, node_id: int) -> list[str]:
        """The command line that starts node ``node_id`` (after the ``launcher``'s prefix, when there is one)."""
        cmd = [
            *(self.launcher(node_id) if self.launcher is not None else ()),
            sys.executable, "-m", "quorumlab.bench.cli", "node",
            "--algo", self.algo_spec,
            "--id", str(node_id),
            "--cluster", format_cluster(self.addresses),
            "--data-dir", self.node_dir(node_id),
            "--cluster-id", str(self.cluster_id),
            "--control", self.control_addresses[node_id],
            "--events", self.event_addresses[node_id],
            "--counters-every", str(self.counters_every_ms),
            "--exit-with-parent",
        ]
        cmd += (["--keys", self._node_keyrings.get(node_id, self.keyring.path)] if self.keyring is not None
                else ["--insecure"])
        if self.trace_messages:
            cmd.append("--trace-messages")
        if not self.hand_over:
            cmd.append("--no-hand-over")
        if node_id in self.joined:
            cmd.append("--join")
        for key, value in sorted(self.config.items()):
            cmd += ["--config", f"{key}={value}"]
        if self.seed is not None:
            cmd += ["--seed", str(self.seed * 1000 + node_id)]
        return cmd

    def _spawn(self, node_id: int) -> None:
        os.makedirs(self.node_dir(node_id), exist_ok=True)
        env = dict(os.environ)
        root = import_root(self.algo_spec)
        if root is not None:
            env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        with open(self.node_log(node_id), "ab") as out:
            proc = subprocess.Popen(
                self.command(node_id),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self._procs[node_id] = proc
        self.spawned_pids.append(proc.pid)
        self._paused.discard(node_id)
        self._applied[node_id] = frozenset()

    def _wait_ready(self, ids: Iterable[int]) -> None:
        pending = set(ids)
        deadline = time.monotonic() + self.ready_timeout_s
        while pending:
            for i in sorted(pending):
                code = self._procs[i].poll()
                if code is not None:
                    raise RuntimeError(f"node {i} exited with code {code} while starting:\n{self._log_tail(i)}")
            replies = self._client.request_many({i: self.control_addresses[i] for i in pending}, "status", 0.5)
            pending -= {i for i, r in replies.items() if not isinstance(r, ControlError)}
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"nodes {sorted(pending)} did not answer within {self.ready_timeout_s}s")
        self._apply_partition(ids)

    def _log_tail(self, node_id: int, lines: int = 20) -> str:
        try:
            with open(self.node_log(node_id), "rb") as fh:
                return b"".join(fh.readlines()[-lines:]).decode(errors="replace")
        except OSError:
            return "(no log)"

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> "LocalCluster":
        """Start every node that is not running and wait until each answers on its control socket."""
        if self._closed:
            raise RuntimeError("this LocalCluster was closed")
        todo = [i for i in self.ids if not self.is_running(i)]
        for i in todo:
            self._spawn(i)
        self._wait_ready(todo)
        return self

    def __enter__(self) -> "LocalCluster":
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every process this cluster started (SIGTERM, then SIGKILL after ``grace_s``) and clean up."""
        if self._closed:
            return
        try:
            running = [(i, p) for i, p in self._procs.items() if p.poll() is None]
            for i, p in running:
                self._signal(p, signal.SIGTERM)
                if i in self._paused:
                    self._signal(p, signal.SIGCONT)
            deadline = time.monotonic() + self.grace_s
            for _, p in running:
                try:
                    p.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self._signal(p, signal.SIGKILL)
                    p.wait()
            self._paused.clear()
            self._follower.refresh()
        finally:
            self._closed = True
            self._client.close()
            self._follower.close()
            self._ctx.term()
            if self._own_dir:
                shutil.rmtree(self.data_dir, ignore_errors=True)

    @staticmethod
    def _signal(proc: subprocess.Popen, sig: int) -> None:
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass

    # -- faults -------------------------------------------------------------------------

    def crash(self, node_id: int) -> float:
        """SIGKILL the node (no cleanup at all); returns the time of the kill (ms, the events' clock)."""
        p = self._running(node_id)
        t = self._harness("crash", node_id, signal="SIGKILL", pid=p.pid)["t"]
        self._signal(p, signal.SIGKILL)
        p.wait()
        self._paused.discard(node_id)
        return t

    def pause(self, node_id: int) -> float:
        """SIGSTOP the node; returns the time (ms)."""
        p = self._running(node_id)
        t = self._harness("pause", node_id, signal="SIGSTOP", pid=p.pid)["t"]
        self._signal(p, signal.SIGSTOP)
        self._paused.add(node_id)
        return t

    def resume(self, node_id: int) -> float:
        """SIGCONT a paused node and re-apply the current partition to it; returns the time (ms)."""
        p = self._running(node_id)
        t = self._harness("resume", node_id, signal="SIGCONT", pid=p.pid)["t"]
        self._signal(p, signal.SIGCONT)
        self._paused.discard(node_id)
        self._apply_partition([node_id])
        return t

    def stop(self, node_id: int) -> int:
        """SIGTERM the node and wait for it (SIGKILL after ``grace_s``); returns its exit code."""
        p = self._running(node_id)
        self._harness("stop", node_id, signal="SIGTERM", pid=p.pid)
        self._signal(p, signal.SIGTERM)
        if node_id in self._paused:
            self._signal(p, signal.SIGCONT)
            self._paused.discard(node_id)
        try:
            return p.wait(self.grace_s)
        except subprocess.TimeoutExpired:
            self._signal(p, signal.SIGKILL)
            return p.wait()

    def restart(self, node_id: int) -> float:
        """Start the node again from its data dir (stopping it first if it runs); returns when it answers."""
        if self.is_running(node_id):
            self.stop(node_id)
        t = self._harness("restart", node_id)["t"]
        self._spawn(node_id)
        self._wait_ready([node_id])
        return t

    def transfer_leadership(self, to: int | None = None, timeout_s: float = 5.0) -> int:
        """Ask the leader to hand leadership to ``to`` (None: the follower it finds best placed) and wait until a
        majority follows a leader of a later term; returns it (the target, unless the transfer failed and an
        election chose another). A refusal raises ControlError with the reason."""
        leader = self.wait_for_leader(timeout_s)
        term = self.request(leader, "status")["term"]
        self._harness("transfer", leader, to=to)
        self.request(leader, "transfer", to=to)
        return self.wait_for_leader(timeout_s, min_term=term + 1)

    # -- membership (raft) ------------------------------------------------------------------

    def change_membership(self, change: list[dict], timeout_s: float = 10.0) -> int:
        """Ask the leader to change the membership (quorumlab.core.runtime.control ``member``) and wait until the change has
        committed there; a "busy" refusal (an earlier change still committing, a learner still catching up, a
        leader that has not committed its first entry) is retried until ``timeout_s``. Returns the configuration
        entry's index; other refusals raise ControlError with the reason."""
        deadline = time.monotonic() + timeout_s
        while True:
            leader = self.wait_for_leader(max(0.1, deadline - time.monotonic()))
            try:
                reply = self.request(leader, "member", change=change)
                break
            except ControlError as exc:
                if not (str(exc).startswith(("busy", "not_leader")) and time.monotonic() < deadline):
                    raise
                time.sleep(0.02)
        index = reply["index"]
        self._harness("member", leader, change=change, index=index)
        self.wait_until(lambda: (self.status([leader]).get(leader) or {}).get("commit_index", 0) >= index,
                        max(0.1, deadline - time.monotonic()), f"the configuration at index {index} to commit")
        return index

    def members(self) -> dict[str, Any]:
        """The leader's configuration: voters, learners, outgoing voters while joint, and its index."""
        leader = self.wait_for_leader()
        s = self.request(leader, "status")
        return {**s["membership"], "config_index": s["config_index"], "leader": leader}

    def add_node(self, voter: bool = True, timeout_s: float = 30.0, own_keyring: bool = False) -> int:
        """Start a new node (the next id, new ports, a key of its own) that joins the cluster: first as a learner,
        which catches up from the leader (by snapshot if the log is compacted), then, with ``voter``, promoted once
        it has caught up (the leader refuses until then). Returns its id.

        ``own_keyring``: the new node's key goes into a keyring of its own (the members' public keys and its own
        pair), not into the cluster's, so the members learn it from the configuration entry, as nodes on other
        machines would."""
        i = max(self.ids + tuple(self.removed)) + 1
        ports = free_ports(3)
        self.addresses[i] = f"tcp://{HOST}:{ports[0]}"
        self.control_addresses[i] = f"tcp://{HOST}:{ports[1]}"
        self.event_addresses[i] = f"tcp://{HOST}:{ports[2]}"
        key = None
        if self.keyring is not None:
            if own_keyring:
                path = os.path.join(self.data_dir, f"keys-{i}")
                shutil.copytree(self.keyring.path, path)
                for name in os.listdir(os.path.join(path, "secret")):
                    if name.startswith("node-"):  # it holds no other member's secret
                        os.remove(os.path.join(path, "secret", name))
                ring = add_node(path, i)
                self._node_keyrings[i] = path
            else:
                ring = self.keyring = add_node(self.keyring.path, i)
            key = ring.nodes[i]
            self.auth.servers[self.control_addresses[i]] = self.auth.servers[self.event_addresses[i]] = key
        self.ids += (i,)
        self.joined.add(i)
        self._follower.follow(self.event_log(i), self.event_addresses[i], self.auth)
        self._harness("add_node", i, address=self.addresses[i])
        self._spawn(i)
        self._wait_ready([i])
        deadline = time.monotonic() + timeout_s
        op = {"op": "add_learner", "node": i, "address": self.addresses[i]}
        if own_keyring and key is not None:
            op["key"] = key.decode()
        self.change_membership([op], timeout_s)
        if voter:
            leader = self.wait_for_leader(max(0.1, deadline - time.monotonic()))
            target = self.request(leader, "status")["commit_index"]
            self.wait_until(lambda: (self.status([i]).get(i) or {}).get("commit_index", 0) >= target,
                            max(0.1, deadline - time.monotonic()), f"node {i} to catch up to index {target}")
            self.change_membership([{"op": "promote", "node": i}], max(0.1, deadline - time.monotonic()))
        return i

    def remove_node(self, node_id: int, timeout_s: float = 30.0) -> None:
        """Take ``node_id`` out of the configuration (a leader removing itself hands over first), wait until that
        has committed, then stop its process; it leaves ``ids`` (its data dir and events are kept)."""
        if node_id not in self.ids:
            raise KeyError(f"no node {node_id} in this cluster (ids {self.ids})")
        self.change_membership([{"op": "remove", "node": node_id}], timeout_s)
        if self.is_running(node_id):
            self.stop(node_id)
        self.ids = tuple(i for i in self.ids if i != node_id)
        self.removed.append(node_id)
        if self._groups is not None:
            self._groups = [g - {node_id} for g in self._groups]

    def partition(self, *groups: Iterable[int]) -> None:
        """Split the cluster: traffic flows only inside a group; nodes not named form one more group."""
        named = [set(g) for g in groups]
        rest = set(self.ids) - set().union(*named)
        self._groups = named + ([rest] if rest else [])
        self._harness("partition", 0, groups=[sorted(g) for g in groups])
        self._apply_partition(self.live_ids())

    def heal(self) -> None:
        """Remove every partition."""
        self._groups = None
        self._harness("heal", 0)
        self._apply_partition(self.live_ids())

    def _blocked(self, node_id: int) -> frozenset[int]:
        """The peers ``node_id`` must drop traffic with under the current partition."""
        if self._groups is None:
            return frozenset()
        mine = next(g for g in self._groups if node_id in g)
        return frozenset(set(self.ids) - mine)

    def _apply_partition(self, ids: Iterable[int]) -> None:
        """Tell each given live node whose drop set differs from the current partition its new one."""
        live = set(self.live_ids())
        failed = {}
        for i in ids:
            want = self._blocked(i)
            if i not in live or self._applied.get(i, frozenset()) == want:
                continue
            address = self.control_addresses[i]
            reply = self._client.request_many({i: address}, "heal" if not want else "partition", 5.0, **({"peers": sorted(want)} if want else {}))[i]
            if isinstance(reply, ControlError):
                failed[i] = reply
            else:
                self._applied[i] = want
        if failed:
            raise ControlError(f"partition change not acknowledged by {failed}")

    def trigger(self, node_ids: Iterable[int], timer: str) -> None:
        """Fire algorithm timer ``timer`` now on each given live node (forced contention)."""
        ids = [i for i in node_ids if i in self.live_ids()]
        replies = self._client.request_many({i: self.control_addresses[i] for i in ids}, "fire", 5.0, timer=timer)
        failed = {i: r for i, r in replies.items() if isinstance(r, ControlError)}
        if failed:
            raise ControlError(f"fire {timer!r} failed on {failed}")

    def _running(self, node_id: int) -> subprocess.Popen:
        if node_id not in self.ids:
            raise KeyError(f"no node {node_id} in this cluster (ids {self.ids})")
        p = self._procs.get(node_id)
        if p is None or p.poll() is not None:
            raise RuntimeError(f"node {node_id} is not running")
        return p

    # -- observing ----------------------------------------------------------------------

    def status(self, ids: Iterable[int] | None = None, timeout_s: float = 2.0) -> dict[int, dict | None]:
        """node id -> its status, or None when it is down, paused or did not answer in time."""
        live = set(self.live_ids())
        ask = [i for i in (self.ids if ids is None else ids) if i in live]
        replies = self._client.request_many({i: self.control_addresses[i] for i in ask}, "status", timeout_s) if ask else {}
        return {
            i: (None if i not in replies or isinstance(replies[i], ControlError) else replies[i])
            for i in (self.ids if ids is None else ids)
        }

    def request(self, node_id: int, cmd: str, timeout_s: float = 2.0, **args: Any) -> Any:
        """Send any control command to one node (see quorumlab.core.runtime.control)."""
        return self._client.request(self.control_addresses[node_id], cmd, timeout_s, **args)

    def majority_leader(self, among: Iterable[int] | None = None, min_term: int = 0) -> int | None:
        """The id a majority of the given live nodes (default all live) name as leader and that reports LEADER itself."""
        live = self.live_ids()
        ids = live if among is None else [i for i in among if i in live]
        if not ids:
            return None
        statuses = self.status(ids, timeout_s=1.0)
        votes = collections.Counter(s["leader"] for s in statuses.values() if s and s.get("leader") is not None)
        for leader, count in votes.most_common():
            s = statuses.get(leader)
            if 2 * count > len(ids) and s is not None and s.get("role") == "leader" and s.get("term", 0) >= min_term:
                return leader
        return None

    def wait_for_leader(self, timeout_s: float = 10.0, among: Iterable[int] | None = None, min_term: int = 0) -> int:
        """Wait until ``majority_leader`` names a node (in term >= min_term) and return its id."""
        among = None if among is None else list(among)
        return self.wait_until(lambda: self.majority_leader(among, min_term), timeout_s, "an agreed leader")

    def kv_client(self, **kwargs: Any) -> "KVClient":
        """A ``quorumlab.core.client.KVClient`` for this cluster (it needs the control ports this cluster chose)."""
        from quorumlab.core.client import KVClient

        if self.keyring is not None:
            ring = self.keyring
            if self._node_keyrings:  # members with keyrings of their own: their public keys too
                ring = Keyring(self.keyring.path)
                for i, path in self._node_keyrings.items():
                    ring.learn_node(i, Keyring(path).nodes[i])
            kwargs.setdefault("keys", ring)
        return KVClient(self.addresses, control=self.control_addresses, **kwargs)

    def events(self) -> list[dict]:
        """Every event so far, of every node and of this harness (kill, pause, ...), in time order."""
        if not self._closed:
            self._follower.refresh()
        return list(self._follower.events)

    def wait_for(self, predicate: Callable[[dict], bool], timeout_s: float = 10.0, since: float | None = None) -> dict:
        """The first event (in time order, with t >= since) matching ``predicate``; waits for it up to ``timeout_s``."""
        return self._follower.wait_for(predicate, timeout_s, since)

    def wait_until(self, condition: Callable[[], Any], timeout_s: float = 10.0, what: str = "the condition") -> Any:
        """Re-evaluate ``condition()`` whenever a node publishes events (at least every 250 ms); return its first truthy value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = condition()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                summary = {i: _brief(s) for i, s in self.status(timeout_s=1.0).items()}
                raise TimeoutError(f"no {what} within {timeout_s}s; nodes: {summary}")
            self._follower.wait_for_news(min(remaining, 0.25))

    def _harness(self, kind: str, node: int, **data: Any) -> dict:
        event = make_event(node, kind, {**data, "source": "harness"})
        self._follower.add(event)
        return event


def _brief(status: dict | None) -> str:
    if status is None:
        return "down/paused/unreachable"
    return f"{status.get('role')} term={status.get('term')} leader={status.get('leader')}"
