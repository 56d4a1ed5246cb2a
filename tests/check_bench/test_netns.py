"""Network namespaces: nodes reachable from the harness, partitions cut in the kernel, nothing left behind.

Needs root and iproute2 (skipped otherwise, with the reason).
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from quorumlab.bench.check import netns
from quorumlab.bench.check.netns import NetnsError, NetnsNetwork

pytestmark = pytest.mark.skipif(netns.unavailable() is not None, reason=f"{netns.unavailable()}")

SERVER = textwrap.dedent("""
    import socket, sys
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], 7000)); s.listen(); print("ready", flush=True)
    while True:
        c, _ = s.accept(); c.sendall(b"hi"); c.close()
""")
CLIENT = textwrap.dedent("""
    import socket, sys
    try:
        socket.create_connection((sys.argv[1], 7000), timeout=float(sys.argv[2])).recv(2); print("reached")
    except OSError as exc:
        print("cut", type(exc).__name__)
""")


def owned() -> str:
    """Every namespace and link name this process owns right now."""
    tag = f"{netns.PREFIX}{os.getpid()}"
    names = netns.ip("netns", "list") + netns.ip("-o", "link", "show")
    return " ".join(w for w in names.split() if tag in w)


def reaches(net: NetnsNetwork, src: int | None, dst: int, timeout_s: float = 0.5) -> bool:
    prefix = net.launcher(src) if src is not None else []
    out = subprocess.run([*prefix, sys.executable, "-c", CLIENT, net.host(dst), str(timeout_s)],
                         capture_output=True, text=True, timeout=30).stdout
    return out.startswith("reached")


@pytest.fixture
def servers():
    with NetnsNetwork([1, 2, 3]) as net:
        procs = [subprocess.Popen([*net.launcher(i), sys.executable, "-c", SERVER, net.host(i)],
                                  stdout=subprocess.PIPE, text=True) for i in net.ids]
        try:
            for p in procs:
                assert p.stdout.readline().startswith("ready")
            yield net
        finally:
            for p in procs:
                p.kill()
                p.wait()
    assert owned() == ""


def test_every_node_reaches_every_other_and_the_harness_reaches_all(servers):
    assert all(reaches(servers, None, i) for i in servers.ids)
    assert reaches(servers, 1, 2) and reaches(servers, 3, 1)


def test_a_partition_drops_traffic_across_it_silently_but_never_the_harnesses(servers):
    servers.partition([[1], [2, 3]])
    t0 = time.monotonic()
    assert not reaches(servers, 1, 2, timeout_s=0.5)
    assert time.monotonic() - t0 >= 0.4, "a drop makes the connection time out, not fail at once"
    assert not reaches(servers, 3, 1)
    assert reaches(servers, 2, 3)
    assert all(reaches(servers, None, i) for i in servers.ids)
    servers.heal()
    assert servers.blocked() == set()
    assert reaches(servers, 1, 2) and reaches(servers, 3, 1)


def test_a_new_partition_replaces_the_previous_one(servers):
    servers.partition([[1], [2, 3]])
    servers.partition([[3]])
    assert servers.blocked() == {(1, 3), (3, 1), (2, 3), (3, 2)}
    assert reaches(servers, 1, 2) and not reaches(servers, 2, 3)


def test_everything_is_removed_when_the_block_raises():
    with pytest.raises(RuntimeError, match="boom"):
        with NetnsNetwork([1, 2]):
            assert owned() != ""
            raise RuntimeError("boom")
    assert owned() == ""


def test_what_a_dead_process_left_behind_is_swept():
    dead = subprocess.Popen(["true"])
    dead.wait()
    name = f"{netns.PREFIX}{dead.pid}-n1"
    netns.ip("netns", "add", name)
    try:
        assert name in netns.sweep_stale()
    finally:
        if name in netns.ip("netns", "list"):
            netns.ip("netns", "del", name)
    assert name not in netns.ip("netns", "list")


def test_a_failing_command_says_what_it_ran_and_what_ip_answered():
    with pytest.raises(NetnsError, match=r"`ip netns del qlck-no-such` failed: .*"):
        netns.ip("netns", "del", "qlck-no-such")
