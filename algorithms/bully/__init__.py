"""The Bully election algorithm (Garcia-Molina 1982), registered as ``bully`` in ``quorumlab.algorithms``."""
from algorithms.bully.algorithm import Bully
from algorithms.bully.config import BullyConfig

__all__ = ["Bully", "BullyConfig"]
