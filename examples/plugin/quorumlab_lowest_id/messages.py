"""The plugin's one message: "I am alive" (the header already carries sender and term)."""
from quorumlab.core.messages import Message, message

ALGO_ID = 0x4C4F
"""This algorithm's id in every message header; unique among installed algorithms."""


@message(ALGO_ID, 1)
class Alive(Message):
    """Broadcast every ``interval_ms``: the sender is alive, in the term (header) it knows."""
