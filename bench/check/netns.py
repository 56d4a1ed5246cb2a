"""Real network partitions: every node in a network namespace of its own, cut apart in the kernel.

Layout (``ip`` from iproute2, as root): one bridge in the host namespace with
the harness's address ``10.207.K.1/24``; node ``i`` in namespace
``qlck<pid>-n<i>`` with a veth pair into the bridge and the address
``10.207.K.(10+i)``. The harness (its clients, control and event sockets)
reaches every node through the bridge. A partition adds, inside each node's
namespace, a policy rule that drops what arrives from each node on the other
side (``ip rule add pref 10 from PEER iif eth0 blackhole``): packets leave and
vanish, as on a cut cable, and neither the runtime nor the algorithm is told.
The harness's own address is never blocked, so clients still reach both sides.
``heal`` deletes the rules. (iptables/nftables would do the same; they are not
part of a base install, iproute2 is.)

Everything made here is named after this process's pid and removed by
``close`` (called on exit, Ctrl-C and errors alike); namespaces and links left
by a process that died without cleaning up (SIGKILL) are removed by the next
``NetnsNetwork`` made on this machine.
"""
from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from typing import Iterable

PREFIX = "qlck"
"""Start of every namespace, bridge and veth name made here (then the owner's pid)."""
SUBNET = "10.207.{}.0/24"
RULE_PREF = 10
LOCK_FILE = "/tmp/quorumlab-netns.lock"
_OWNED = re.compile(rf"^{PREFIX}(\d+)(?:-n\d+|br|h\d+)$")


class NetnsError(RuntimeError):
    """A namespace, link or rule could not be made or removed (the message has the command and its error)."""


def unavailable() -> str | None:
    """Why network namespaces cannot be used here (not root, no ``ip``), or None when they can be tried."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "network namespaces need iproute2's `ip` command"
    return None


def ip(*args: str) -> str:
    """Run ``ip ARGS``; its output, or NetnsError naming the command and what it said."""
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise NetnsError(f"`ip {' '.join(args)}` failed: {proc.stderr.strip() or proc.returncode}")
    return proc.stdout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale() -> list[str]:
    """Remove the namespaces and links of processes that are gone (a SIGKILLed run); returns their names."""
    removed = []
    for line in ip("netns", "list").splitlines():
        name = line.split()[0] if line.split() else ""
        m = _OWNED.match(name)
        if m and not _alive(int(m.group(1))):
            ip("netns", "del", name)
            removed.append(name)
    for line in ip("-o", "link", "show").splitlines():
        name = line.split(":")[1].strip().split("@")[0] if line.count(":") >= 2 else ""
        m = _OWNED.match(name)
        if m and not _alive(int(m.group(1))):
            try:
                ip("link", "del", name)
            except NetnsError:
                continue  # went with its namespace's peer meanwhile
            removed.append(name)
    return removed


class NetnsNetwork:
    """Namespaces for node ids ``ids`` joined by a bridge; see the module docstring. Use as a context manager."""

    def __init__(self, ids: Iterable[int]) -> None:
        self.ids = tuple(sorted(ids))
        if not self.ids or self.ids[0] < 1 or self.ids[-1] > 240:
            raise ValueError(f"namespaced nodes need ids in 1..240, got {self.ids}")
        self.tag = f"{PREFIX}{os.getpid()}"
        self.bridge = f"{self.tag}br"
        self.subnet = -1
        self.made: list[str] = []
        self._blocked: set[tuple[int, int]] = set()

    def namespace(self, node: int) -> str:
        return f"{self.tag}-n{node}"

    def host(self, node: int) -> str:
        """The address node ``node`` binds and is reached at."""
        return f"10.207.{self.subnet}.{10 + node}"

    @property
    def gateway(self) -> str:
        """The harness's address on the bridge."""
        return f"10.207.{self.subnet}.1"

    def launcher(self, node: int) -> list[str]:
        """The command prefix that starts a program inside node ``node``'s namespace."""
        return ["ip", "netns", "exec", self.namespace(node)]

    def __enter__(self) -> "NetnsNetwork":
        try:
            self.create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create(self) -> None:
        """Make the bridge, the namespaces and their links (stale ones of dead processes are removed first)."""
        reason = unavailable()
        if reason:
            raise NetnsError(reason)
        with open(LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            sweep_stale()
            self.subnet = self._free_subnet()
            ip("link", "add", self.bridge, "type", "bridge")
            self.made.append(self.bridge)
            ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
            ip("link", "set", self.bridge, "up")
        for node in self.ids:
            ns, veth = self.namespace(node), f"{self.tag}h{node}"
            ip("netns", "add", ns)
            self.made.append(ns)
            ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            self.made.append(veth)
            ip("link", "set", veth, "master", self.bridge, "up")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "addr", "add", f"{self.host(node)}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            # The local table is looked up first (rule 0); move it after the drop rules partitions add.
            ip("-n", ns, "rule", "add", "pref", "100", "lookup", "local")
            ip("-n", ns, "rule", "del", "pref", "0")

    def _free_subnet(self) -> int:
        used = ip("-4", "-o", "addr", "show") + ip("-4", "route", "show", "table", "all")
        for k in range(1, 255):
            if f"10.207.{k}." not in used:
                return k
        raise NetnsError("no free 10.207.K.0/24 subnet for the namespaces' bridge")

    def partition(self, groups: list[list[int]] | None) -> None:
        """Cut every link between nodes of different groups (nodes not named form one more group); None heals."""
        want: set[tuple[int, int]] = set()
        if groups:
            named = [set(g) for g in groups]
            rest = set(self.ids) - set().union(*named)
            side = {n: k for k, g in enumerate(named + ([rest] if rest else [])) for n in g}
            want = {(a, b) for a in self.ids for b in self.ids if side[a] != side[b]}
        for a, b in sorted(self._blocked - want):
            self._rule("del", a, b)
            self._blocked.discard((a, b))
        for a, b in sorted(want - self._blocked):
            self._rule("add", a, b)
            self._blocked.add((a, b))

    def heal(self) -> None:
        self.partition(None)

    def blocked(self) -> set[tuple[int, int]]:
        """(receiver, sender) pairs whose traffic is dropped now."""
        return set(self._blocked)

    def _rule(self, action: str, receiver: int, sender: int) -> None:
        ip("-n", self.namespace(receiver), "rule", action, "pref", str(RULE_PREF), "from", self.host(sender),
           "iif", "eth0", "blackhole")

    def close(self) -> None:
        """Remove every veth, namespace and bridge made here, newest first; safe to call twice.

        Each veth is deleted explicitly (both ends go): the kernel tears a deleted namespace down in the
        background, and its veth would otherwise linger in the host namespace until it has."""
        errors = []
        for name in reversed(self.made):
            try:
                ip("netns", "del", name) if "-n" in name else ip("link", "del", name)
            except NetnsError as exc:
                errors.append(str(exc))
        self.made.clear()
        self._blocked.clear()
        if errors:
            raise NetnsError("; ".join(errors))
