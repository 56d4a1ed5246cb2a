"""Blob lists and log-record frames: ``pack_blobs``, ``unpack_blobs``, ``frame_records``, ``crc32``
(compiled or twin, see core._accel; formats in core.framing_py)."""
from core._accel import framing as _impl

pack_blobs = _impl.pack_blobs
unpack_blobs = _impl.unpack_blobs
frame_records = _impl.frame_records
crc32 = _impl.crc32
MAX_BLOBS = _impl.MAX_BLOBS
IMPLEMENTATION = _impl.__name__
