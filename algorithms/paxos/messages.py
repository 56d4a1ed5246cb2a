"""Paxos election messages (algo_id 2). Ballots travel as (round u64, node id u32) field pairs.

Prepare/Promise/Nack are phase 1, Accept/Accepted phase 2; Nack serves both
phases and always carries the acceptor's promised ballot and any lease it
holds, so a loser can jump ahead or wait exactly as long as it must.
"""
from __future__ import annotations

from core.messages import message_type

ALGO_ID = 2

Prepare = message_type("Prepare", ALGO_ID, 1, [("round", "u64"), ("bid", "u32")])
Promise = message_type(
    "Promise",
    ALGO_ID,
    2,
    [
        ("round", "u64"),
        ("bid", "u32"),
        ("acc_round", "u64"),
        ("acc_bid", "u32"),
        ("lease_holder", "u32"),
        ("lease_left", "u32"),
    ],
)
Nack = message_type(
    "Nack",
    ALGO_ID,
    3,
    [
        ("round", "u64"),
        ("bid", "u32"),
        ("phase", "u8"),
        ("seq", "u64"),
        ("reason", "u8"),
        ("p_round", "u64"),
        ("p_bid", "u32"),
        ("holder", "u32"),
        ("wait_ms", "u32"),
    ],
)
Accept = message_type("Accept", ALGO_ID, 4, [("round", "u64"), ("bid", "u32"), ("seq", "u64"), ("lease_ms", "u32")])
Accepted = message_type("Accepted", ALGO_ID, 5, [("round", "u64"), ("bid", "u32"), ("seq", "u64")])

ALL = (Prepare, Promise, Nack, Accept, Accepted)
