"""Cluster specs and the addresses a node binds: ``1=tcp://host:7101,2=...`` and the derived ports.

A node has three endpoints. Its algorithm traffic uses the address in the
cluster spec. Unless given explicitly, its control socket listens on that
address's port + 1000 and its event PUB socket on port + 2000, on the same
host (``tcp://10.0.0.5:7101`` -> control ``tcp://10.0.0.5:8101``, events
``tcp://10.0.0.5:9101``), so ``bench status`` can find every node's control
socket from the cluster spec alone.
"""
from __future__ import annotations

import re

CONTROL_OFFSET = 1000
EVENTS_OFFSET = 2000

_TCP = re.compile(r"^tcp://(?P<host>\[[^\]]+\]|[^:/\[\]]+):(?P<port>\d{1,5})$")


class AddressError(ValueError):
    """A cluster spec or address that cannot be used; the message says which part and why."""


def split_tcp(address: str) -> tuple[str, int]:
    """(host, port) of a ``tcp://host:port`` address."""
    m = _TCP.match(address.strip())
    if not m:
        raise AddressError(f"{address!r} is not a tcp://host:port address")
    port = int(m.group("port"))
    if not 1 <= port <= 65535:
        raise AddressError(f"{address!r}: port {port} is outside 1..65535")
    return m.group("host"), port


def with_port_offset(address: str, offset: int) -> str:
    """The same host with the port moved by ``offset`` (the documented control/events rule)."""
    host, port = split_tcp(address)
    moved = port + offset
    if not 1 <= moved <= 65535:
        raise AddressError(f"{address!r}: port {port} + {offset} = {moved} is outside 1..65535; pass the address explicitly")
    return f"tcp://{host}:{moved}"


def control_address(address: str) -> str:
    """Default control endpoint of the node whose algorithm traffic uses ``address``."""
    return with_port_offset(address, CONTROL_OFFSET)


def events_address(address: str) -> str:
    """Default event PUB endpoint of the node whose algorithm traffic uses ``address``."""
    return with_port_offset(address, EVENTS_OFFSET)


def parse_cluster(spec: str) -> dict[int, str]:
    """``1=tcp://127.0.0.1:7101,2=tcp://...`` -> {1: 'tcp://127.0.0.1:7101', ...}; ids are 1..2**32-1."""
    nodes: dict[int, str] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        key, sep, address = part.partition("=")
        if not sep:
            raise AddressError(f"cluster entry {part!r} is not ID=tcp://host:port")
        try:
            node_id = int(key)
        except ValueError:
            raise AddressError(f"cluster entry {part!r}: node id {key!r} is not an integer") from None
        if not 1 <= node_id <= 0xFFFFFFFF:
            raise AddressError(f"cluster entry {part!r}: node ids are 1..{0xFFFFFFFF}")
        if node_id in nodes:
            raise AddressError(f"node id {node_id} appears twice in the cluster spec")
        split_tcp(address)
        nodes[node_id] = address.strip()
    if not nodes:
        raise AddressError("the cluster spec names no node")
    seen: dict[str, int] = {}
    for node_id, address in nodes.items():
        if address in seen:
            raise AddressError(f"nodes {seen[address]} and {node_id} share the address {address}")
        seen[address] = node_id
    return nodes


def format_cluster(nodes: dict[int, str]) -> str:
    """The inverse of ``parse_cluster``."""
    return ",".join(f"{i}={nodes[i]}" for i in sorted(nodes))
