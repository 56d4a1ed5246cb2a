"""What the attack tests share: sockets an attacker opens, memory readings, a steady well-behaved writer."""
from __future__ import annotations

import threading
import time

import zmq

from quorumlab.core.client import ClientError
from quorumlab.core.cluster import LocalCluster
from quorumlab.core.keys import KeyPair
from quorumlab.core.runtime.auth import connect_securely

WAIT = 20.0


def attacker_socket(ctx: zmq.Context, address: str, server_key: bytes | None = None,
                    pair: KeyPair | None = None, hwm: int = 1000) -> zmq.Socket:
    """A DEALER to ``address``: plain, or a CURVE client of ``server_key`` with ``pair`` (a fresh random key if None);
    at most ``hwm`` messages queue in it, so a flood goes as fast as the node takes it, not faster."""
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, hwm)
    if server_key is not None:
        if pair is None:
            public, secret = zmq.curve_keypair()
            pair = KeyPair(public, secret)
        connect_securely(sock, pair, server_key)
    sock.connect(address)
    return sock


def try_send(sock: zmq.Socket, frame: bytes) -> bool:
    """Send without blocking; False when the socket has no connection to queue on (its handshake was refused)."""
    try:
        sock.send(frame, zmq.NOBLOCK)
        return True
    except zmq.Again:
        return False


def rss_mib(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB (from /proc)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def agreed(c: LocalCluster):
    """(leader, term) once every live node answers and follows one leader in its term, else None."""
    st = c.status()
    if any(s is None for s in st.values()):
        return None
    leaders = [i for i, s in st.items() if s["role"] == "leader"]
    if len(leaders) != 1:
        return None
    term = st[leaders[0]]["term"]
    if all(s["leader"] == leaders[0] and s["term"] == term for s in st.values()):
        return leaders[0], term
    return None


class SteadyWriter:
    """A well-behaved client writing one small key at a time in a thread; records each write's latency."""

    def __init__(self, cluster: LocalCluster, prefix: bytes = b"steady") -> None:
        self.kv = cluster.kv_client(timeout_s=30.0)
        self.prefix = prefix
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.written: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "SteadyWriter":
        self._thread.start()
        return self

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            key = b"%s-%d" % (self.prefix, i)
            t0 = time.monotonic()
            try:
                self.kv.put(key, b"x")
            except ClientError as exc:
                self.failures.append(str(exc))
            else:
                self.latencies.append(time.monotonic() - t0)
                self.written.append(key)
            i += 1
            time.sleep(0.01)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)
        self.kv.close()
