"""quorumlab's public import name: ``from quorumlab import Node, ReplicatedObject, replicated, ...``.

Everything quorumlab installs lives under this one name: the repository's
folders ``core/``, ``algorithms/`` and ``bench/`` install as ``quorumlab.core``,
``quorumlab.algorithms`` and ``quorumlab.bench`` (setup.py maps them). This
package re-exports the public API from them; these names are the stable way in.

  Node               one member of a cluster inside this process (quorumlab.core.embedded.EmbeddedNode)
  Lease, LeadershipLost   the leader-election recipe: ``with node.leadership() as lease`` (quorumlab.core.leadership)
  ReplicatedObject, replicated, ReplicatedCallError   objects whose methods run through the log (quorumlab.core.replicated)
  SubmitError, NotLeader  what ``node.submit`` raises
  Simulation, Network     the deterministic simulator (quorumlab.core.sim)
  LocalCluster            local clusters of ``bench node`` processes (quorumlab.core.cluster)
  KVClient                the replicated key-value store's client (quorumlab.core.client)
  ElectionAlgorithm, Role, AlgorithmConfig   the plugin contract (quorumlab.core.algorithm, quorumlab.core.config)
  create_keyring, free_ports  a cluster's CurveZMQ keys (quorumlab.core.keys), free local ports (quorumlab.core.cluster)
"""
from quorumlab.core import ACCELERATED, __version__
from quorumlab.core.algorithm import ElectionAlgorithm, Role
from quorumlab.core.client import KVClient
from quorumlab.core.cluster import LocalCluster, free_ports
from quorumlab.core.config import AlgorithmConfig
from quorumlab.core.embedded import EmbeddedNode as Node
from quorumlab.core.embedded import NodeError, NotLeader, SubmitError
from quorumlab.core.keys import create_keyring
from quorumlab.core.leadership import Lease, LeadershipLost
from quorumlab.core.replicated import NotAttached, ReplicatedCallError, ReplicatedObject, replicated
from quorumlab.core.sim import Network, Simulation

__all__ = [
    "ACCELERATED",
    "AlgorithmConfig",
    "ElectionAlgorithm",
    "KVClient",
    "Lease",
    "LeadershipLost",
    "LocalCluster",
    "Network",
    "Node",
    "NodeError",
    "NotAttached",
    "NotLeader",
    "ReplicatedCallError",
    "ReplicatedObject",
    "Role",
    "Simulation",
    "SubmitError",
    "__version__",
    "create_keyring",
    "free_ports",
    "replicated",
]
