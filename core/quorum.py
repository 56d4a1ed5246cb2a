"""Vote counting and quorum commit index (compiled or twin, see quorumlab.core._accel)."""
from quorumlab.core._accel import quorum as _impl

PENDING = _impl.PENDING
WON = _impl.WON
LOST = _impl.LOST
VoteTally = _impl.VoteTally
JointTally = _impl.JointTally
committed_index = _impl.committed_index
joint_committed_index = _impl.joint_committed_index
IMPLEMENTATION = _impl.__name__
