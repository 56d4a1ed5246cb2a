"""Hierarchical timer wheel used by both runtimes (compiled or twin, see quorumlab.core._accel)."""
from quorumlab.core._accel import timerwheel as _impl

TimerWheel = _impl.TimerWheel
IMPLEMENTATION = _impl.__name__
