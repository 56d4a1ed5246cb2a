"""Size limits at the boundaries, derived in one place so that what is accepted can always travel.

A command accepted from a client must fit, with its headers, in one message
between nodes, or it could never replicate (a leader would resend it forever
and the cluster would stall in elections). So the largest command is derived
from the largest peer message, and algorithms' batch settings are checked
against the same numbers (``RaftConfig.check``).
"""
from __future__ import annotations

from quorumlab.core.codec import HEADER_SIZE

MAX_FRAME_BYTES = 16 << 20
"""Largest message between nodes (after decryption); the transport refuses larger ones."""
CURVE_OVERHEAD_BYTES = 64
"""What CurveZMQ adds to a message on the wire (nonce, MAC, command name, flags), with room to spare."""
ENTRY_OVERHEAD_BYTES = 20
"""Per log entry in a replication message: u64 term, u64 index, u32 length (quorumlab.core.codec's ``entries`` field)."""
REPLICATION_FIXED_BYTES = HEADER_SIZE + 64
"""A replication message without its entries: the header and up to 64 bytes of fixed fields (raft's AppendEntries
has 36: two u64 positions, the u32 entry count, the u64 commit index and the u64 read round)."""
MAX_COMMAND_BYTES = MAX_FRAME_BYTES - REPLICATION_FIXED_BYTES - ENTRY_OVERHEAD_BYTES
"""Largest client command: exactly what fits alone in one replication message."""

CONTROL_MAX_BYTES = 16 << 20
"""Largest control request (a propose request of up to ``MAX_BATCH`` commands); libzmq disconnects a client that
sends more, so clients check the size before sending."""
CONTROL_MAX_REPLY_BYTES = 64 << 20
"""Largest propose reply (the commands' results); a larger one is refused with an error that says the commands were
applied, so a client reads big values in smaller requests."""
MAX_BATCH = 10_000
"""Most commands in one propose request."""
MAX_ENVELOPE_BYTES = 256
"""Largest envelope (routing and request-id frames) a control request may carry: the node echoes it in the reply."""
MAX_ENVELOPE_FRAMES = 3
"""Most envelope frames before the request body (a DEALER's request id plus a REQ delimiter, with one to spare)."""
CONTROL_REPLY_QUEUE = 32_768
"""Replies queued per control connection (its send high-water mark). A client that does not read them is cut off."""
CONTROL_WAITING_PER_CONNECTION = 32_768
"""Propose requests one control connection may have waiting for their entries; more are answered "busy"."""


def fits_one_message(batch_bytes: int, batch_entries: int) -> bool:
    """Does a replication message of up to ``batch_entries`` entries and ``batch_bytes`` of commands fit?"""
    return REPLICATION_FIXED_BYTES + batch_entries * ENTRY_OVERHEAD_BYTES + batch_bytes <= MAX_FRAME_BYTES
