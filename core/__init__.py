"""quorumlab core: the algorithm contract, messages and codec, timer wheel, quorum counting, storage, simulator.

``core.ACCELERATED`` is True when the compiled (Cython) codec, timer wheel,
quorum, framing and linearizability-search modules are loaded, False when
their pure-Python twins are in use.
"""
from core._accel import ACCELERATED, IMPLEMENTATIONS
from core.algorithm import ElectionAlgorithm, Role
from core.config import AlgorithmConfig, setting
from core.errors import (
    CodecError,
    ConfigError,
    InvariantViolation,
    QuorumlabError,
    StorageError,
    UnknownAlgorithmError,
)
from core.messages import Message, message_type

__version__ = "0.1.0"

__all__ = [
    "ACCELERATED",
    "IMPLEMENTATIONS",
    "AlgorithmConfig",
    "CodecError",
    "ConfigError",
    "ElectionAlgorithm",
    "InvariantViolation",
    "Message",
    "QuorumlabError",
    "Role",
    "StorageError",
    "UnknownAlgorithmError",
    "message_type",
    "setting",
    "__version__",
]
