"""quorumlab core: the algorithm contract, messages and codec, timer wheel, quorum counting, storage, simulator.

``quorumlab.core.ACCELERATED`` is True when the compiled (Cython) codec, timer wheel,
quorum, framing and linearizability-search modules are loaded, False when
their pure-Python twins are in use.
"""
from quorumlab.core._accel import ACCELERATED, IMPLEMENTATIONS
from quorumlab.core.algorithm import ElectionAlgorithm, Role
from quorumlab.core.config import AlgorithmConfig, setting
from quorumlab.core.errors import (
    CodecError,
    ConfigError,
    InvariantViolation,
    QuorumlabError,
    StorageError,
    UnknownAlgorithmError,
)
from quorumlab.core.messages import Message, message_type

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
