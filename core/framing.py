"""Blob lists and log-record frames: ``pack_blobs``, ``unpack_blobs``, ``frame_records``, ``crc32``
(compiled or twin, see quorumlab.core._accel; formats in quorumlab.core.framing_py)."""
from quorumlab.core._accel import framing as _impl

pack_blobs = _impl.pack_blobs
unpack_blobs = _impl.unpack_blobs
frame_records = _impl.frame_records
crc32 = _impl.crc32
MAX_BLOBS = _impl.MAX_BLOBS
IMPLEMENTATION = _impl.__name__
