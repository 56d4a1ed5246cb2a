"""Message codec: ``encode(msg) -> bytes`` and ``decode(bytes) -> msg`` (compiled or twin, see quorumlab.core._accel)."""
from quorumlab.core._accel import codec as _impl

encode = _impl.encode
decode = _impl.decode
HEADER_SIZE = _impl.HEADER_SIZE
IMPLEMENTATION = _impl.__name__
