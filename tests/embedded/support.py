"""Embedded nodes for the tests: n of them in this process, on free ports of 127.0.0.1, secure by default."""
from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any, Callable, Iterator

from quorumlab.core.cluster import free_ports
from quorumlab.core.embedded import EmbeddedNode
from quorumlab.core.keys import create_keyring

WAIT = 20.0


def cluster_spec(n: int) -> tuple[dict[int, str], dict[int, tuple[str, str]]]:
    """Member addresses and each member's (control, events) addresses, on free ports."""
    ports = free_ports(3 * n)
    members = {i: f"tcp://127.0.0.1:{ports[3 * (i - 1)]}" for i in range(1, n + 1)}
    sides = {i: (f"tcp://127.0.0.1:{ports[3 * (i - 1) + 1]}", f"tcp://127.0.0.1:{ports[3 * (i - 1) + 2]}")
             for i in range(1, n + 1)}
    return members, sides


def our_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("quorumlab-")]


@contextlib.contextmanager
def embedded_cluster(algo: str, n: int, root: str | os.PathLike, *, secure: bool = True,
                     state_machines: Callable[[int], Any] | None = None,
                     config: dict | None = None) -> Iterator[list[EmbeddedNode]]:
    """n embedded nodes of one cluster; all closed on exit, and no thread of theirs left behind."""
    members, sides = cluster_spec(n)
    keys = create_keyring(os.path.join(root, "keys"), members) if secure else None
    nodes: list[EmbeddedNode] = []
    try:
        for i in members:
            nodes.append(EmbeddedNode(
                algo, id=i, cluster=members, data_dir=os.path.join(root, str(i)), keys=keys, insecure=not secure,
                control=sides[i][0], events=sides[i][1], config=config,
                state_machine=state_machines(i) if state_machines is not None else None,
            ))
        yield nodes
    finally:
        for node in nodes:
            node.close()
    assert not our_threads(), our_threads()


def wait_until(condition: Callable[[], Any], timeout: float = WAIT, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        time.sleep(0.01)


def sole_leader(nodes: list[EmbeddedNode]) -> EmbeddedNode | None:
    """The one open node that leads while every other open node follows it, or None."""
    open_nodes = [n for n in nodes if not n.closed]
    leaders = [n for n in open_nodes if n.is_leader]
    if len(leaders) == 1 and all(n.leader == leaders[0].id for n in open_nodes):
        return leaders[0]
    return None
