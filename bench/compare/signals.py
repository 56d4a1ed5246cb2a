"""Ctrl-C during cleanup: stopping node processes must finish even if the user presses it then."""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


@contextlib.contextmanager
def sigint_held(deliver: bool) -> Iterator[None]:
    """Hold SIGINT off inside the block, so the cleanup in it finishes (main thread only; elsewhere signals
    cannot be changed and this is a no-op).

    ``deliver=True``: a Ctrl-C that came during the block is raised as KeyboardInterrupt once the block
    is done: a cluster closed between two trials must not swallow the user's Ctrl-C (it did, which
    left a run going after Ctrl-C when the press fell into a close). ``deliver=False``: it is dropped,
    for the final cleanup after a Ctrl-C was already taken, which must not be cut short by a second one.
    """
    if threading.current_thread() is not threading.main_thread() or _holding:
        yield  # nested in an outer hold: the outer block decides what a Ctrl-C does
        return
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: pressed.append(signum))
    _holding.append(True)
    try:
        yield
    finally:
        _holding.pop()
        signal.signal(signal.SIGINT, previous)
    if pressed and deliver:
        raise KeyboardInterrupt


_holding: list[bool] = []
"""Non-empty while a hold is active (main thread only)."""
