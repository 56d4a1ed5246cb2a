"""A raft voter in a process of its own, for the test that SIGKILLs it right after it votes.

``python -m tests.raft.vote_child DATA_DIR``: node 3 of (1, 2, 3) on FileStorage in DATA_DIR
receives RequestVote(term 5) from node 2, its effects carried out by the runtimes' interpreter
(Persist flushes to disk; each message sent is printed), then it waits to be killed.
"""
from __future__ import annotations

import random
import sys
import time
from typing import Any

from quorumlab.algorithms.raft import Raft, RequestVote
from quorumlab.core.interpret import execute
from quorumlab.core.storage import FileStorage
from quorumlab.core.testing import arrive


class PrintingSink:
    """Flush on Persist; print each message sent; nothing else matters here."""

    def __init__(self, node: Raft) -> None:
        self.node = node

    def send(self, to: int, msg: Any) -> None:
        print("sent", msg.name, msg.term, msg.granted, flush=True)

    def broadcast(self, msg: Any) -> None:
        self.send(0, msg)

    def set_timer(self, name: str, delay_ms: int) -> None:
        pass

    def cancel_timer(self, name: str) -> None:
        pass

    def persist(self) -> None:
        self.node.storage.flush()

    def apply(self, run: list) -> None:
        pass

    def observe(self, effect: Any) -> None:
        pass


def main() -> None:
    node = Raft(3, (1, 2, 3), storage=FileStorage(sys.argv[1]), rng=random.Random(0), cluster=7)
    sink = PrintingSink(node)
    execute(node.start(0), sink)
    execute(node.receive(arrive(RequestVote, 2, 3, term=5, cluster=7, last_log_index=0, last_log_term=0), 1), sink)
    time.sleep(120)


if __name__ == "__main__":
    main()
