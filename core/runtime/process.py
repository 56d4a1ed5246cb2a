"""Running a Node as the process's main loop: SIGTERM and Ctrl-C stop it cleanly."""
from __future__ import annotations

import signal

from core.runtime.node import Node


def serve(node: Node) -> str:
    """Open ``node``, run it until SIGTERM/SIGINT (or a control ``stop``), and return the stop reason.

    The handlers only record the reason and wake the loop through its pipe, so the
    node finishes the step it is in, flushes storage and the event log, closes its
    sockets and returns, well within a second.
    """

    def on_signal(signum: int, _frame: object) -> None:
        node.request_stop(signal.Signals(signum).name)

    node.open()
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return node.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
