"""The plugin's one message: "I am alive" (the header already carries sender and term)."""
from core import message_type

ALGO_ID = 0x4C4F
"""This algorithm's id in every message header; unique among installed algorithms."""

Alive = message_type("LowestAlive", ALGO_ID, 1, [])
