"""Ballots and lease arithmetic shared by the acceptor, the proposer and the observers.

A ballot is ``(round, node id)``, compared lexicographically, so no two nodes
ever propose under the same ballot. Lease lengths are widened by the clock
drift bound wherever one node's timer must outlast another's.
"""
from __future__ import annotations

import math

Ballot = tuple[int, int]
ZERO: Ballot = (0, 0)


def fencing_token(ballot: Ballot) -> int:
    """The ballot as one integer that orders like the ballot: round in the high bits, node id in the low 32."""
    return (ballot[0] << 32) | ballot[1]


def drift_widened(ms: int, drift: float) -> int:
    """How long a lease of ``ms`` can last in real time, seen by a slow holder against a fast acceptor.

    With clock rates within ``1 +/- drift``, the holder's ``ms`` can stretch to
    ``ms / (1 - drift)`` real ms and an acceptor's ``h`` can shrink to
    ``h / (1 + drift)``; an acceptor that holds ``ceil(ms * (1 + drift) / (1 - drift))``
    therefore never lets go before the holder does.
    """
    return math.ceil(ms * (1.0 + drift) / (1.0 - drift))
