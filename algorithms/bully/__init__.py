"""The Bully election algorithm (Garcia-Molina 1982), registered as ``bully`` in ``quorumlab.algorithms``."""
from quorumlab.algorithms.bully.algorithm import Bully
from quorumlab.algorithms.bully.config import BullyConfig

__all__ = ["Bully", "BullyConfig"]
