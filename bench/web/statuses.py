"""Node status (vote, log, commit...) as it changes, sampled from the node that handled each event."""
from __future__ import annotations

from typing import Any

from quorumlab.core.observers import Observer


class StatusSampler(Observer):
    """After every simulator event, the status of the node that handled it (only it can have changed).

    ``samples`` grows with ``{"t", "nodes": {id: status}}`` whenever a node's ``status()`` differs
    from the last one recorded; the caller takes and clears it.
    """

    def __init__(self) -> None:
        self.samples: list[dict[str, Any]] = []
        self._last: dict[int, dict] = {}

    def after_event(self, sim: Any) -> None:
        node = sim.last_node
        if node is None or not sim.is_up(node):
            return
        status = sim.node(node).status()
        if self._last.get(node) != status:
            self._last[node] = status
            if self.samples and self.samples[-1]["t"] == sim.now:
                self.samples[-1]["nodes"][node] = status
            else:
                self.samples.append({"t": sim.now, "nodes": {node: status}})
