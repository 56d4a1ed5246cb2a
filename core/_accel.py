"""Chooses, once at import, between the compiled hot path and its pure-Python twins.

``QUORUMLAB_PURE_PYTHON=1`` forces the twins (used by tests and by machines
whose compiled modules misbehave). When a compiled module is missing the twins
are used and ``ACCELERATED`` is False; ``bench`` prints a one-line warning.
"""
from __future__ import annotations

import importlib
import os

FORCED_PURE = os.environ.get("QUORUMLAB_PURE_PYTHON", "") == "1"


def _load(compiled: str, twin: str):
    if not FORCED_PURE:
        try:
            return importlib.import_module(compiled), True
        except ImportError:
            pass
    return importlib.import_module(twin), False


codec, _c1 = _load("quorumlab.core._codec", "quorumlab.core.codec_py")
timerwheel, _c2 = _load("quorumlab.core._timerwheel", "quorumlab.core.timerwheel_py")
quorum, _c3 = _load("quorumlab.core._quorum", "quorumlab.core.quorum_py")
framing, _c4 = _load("quorumlab.core._framing", "quorumlab.core.framing_py")
checksearch, _c5 = _load("quorumlab.core.check._search", "quorumlab.core.check.search_py")

ACCELERATED: bool = _c1 and _c2 and _c3 and _c4 and _c5
IMPLEMENTATIONS = {
    "codec": codec.__name__,
    "timerwheel": timerwheel.__name__,
    "quorum": quorum.__name__,
    "framing": framing.__name__,
    "checksearch": checksearch.__name__,
}
