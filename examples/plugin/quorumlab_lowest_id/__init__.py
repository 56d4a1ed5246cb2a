"""quorumlab-lowest-id: an example plugin in which the lowest live node id leads.

Installed on its own (``pip install -e examples/plugin``), it registers the
entry point ``lowest`` in the ``quorumlab.algorithms`` group, and quorumlab
finds it the same way it finds raft, paxos and bully.
"""
from quorumlab_lowest_id.algorithm import LowestId
from quorumlab_lowest_id.config import LowestIdConfig
from quorumlab_lowest_id.messages import ALGO_ID, Alive

__all__ = ["ALGO_ID", "Alive", "LowestId", "LowestIdConfig"]
