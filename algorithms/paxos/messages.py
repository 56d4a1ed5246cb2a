"""Paxos election messages (algo_id 2). Ballots travel as (round u64, node id u32) field pairs.

Prepare/Promise/Nack are phase 1, Accept/Accepted phase 2; Nack serves both
phases and always carries the acceptor's promised ballot and any lease it
holds, so a loser can jump ahead or wait exactly as long as it must.
"""
from __future__ import annotations

from quorumlab.core.messages import Message, UInt8, UInt32, UInt64, message

ALGO_ID = 2


@message(ALGO_ID, 1)
class Prepare(Message):
    """Phase 1a: may I lead under ballot (round, bid)?"""

    round: UInt64
    bid: UInt32


@message(ALGO_ID, 2)
class Promise(Message):
    """Phase 1b: promised; with the ballot last accepted here and the lease this acceptor holds, if any."""

    round: UInt64
    bid: UInt32
    acc_round: UInt64
    acc_bid: UInt32
    lease_holder: UInt32
    lease_left: UInt32


@message(ALGO_ID, 3)
class Nack(Message):
    """Refused (either phase): the promised ballot and any lease held, so the loser can jump ahead or wait."""

    round: UInt64
    bid: UInt32
    phase: UInt8
    seq: UInt64
    reason: UInt8
    p_round: UInt64
    p_bid: UInt32
    holder: UInt32
    wait_ms: UInt32


@message(ALGO_ID, 4)
class Accept(Message):
    """Phase 2a: accept the proposer's lease of ``lease_ms`` under ballot (round, bid); ``seq`` numbers the round."""

    round: UInt64
    bid: UInt32
    seq: UInt64
    lease_ms: UInt32


@message(ALGO_ID, 5)
class Accepted(Message):
    """Phase 2b: accepted round ``seq`` under ballot (round, bid)."""

    round: UInt64
    bid: UInt32
    seq: UInt64


ALL = (Prepare, Promise, Nack, Accept, Accepted)
