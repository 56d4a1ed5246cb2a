"""quorumlab's public import name: ``from quorumlab import Node, ReplicatedObject, replicated, ...``.

Everything quorumlab installs lives under this one name: the repository's
folders ``core/``, ``algorithms/`` and ``bench/`` install as ``quorumlab.core``,
``quorumlab.algorithms`` and ``quorumlab.bench`` (setup.py maps them). This
package re-exports the public API from them; these names are the stable way in.

  Node               one member of a cluster inside this process (core.embedded.EmbeddedNode)
  Lease, LeadershipLost   the leader-election recipe: ``with node.leadership() as lease`` (core.leadership)
  ReplicatedObject, replicated, ReplicatedCallError   objects whose methods run through the log (core.replicated)
  SubmitError, NotLeader  what ``node.submit`` raises
  Simulation, Network     the deterministic simulator (core.sim)
  LocalCluster            local clusters of ``bench node`` processes (core.cluster)
  KVClient                the replicated key-value store's client (core.client)
  ElectionAlgorithm, Role, AlgorithmConfig   the plugin contract (core.algorithm, core.config)
  create_keyring, free_ports  a cluster's CurveZMQ keys (core.keys), free local ports (core.cluster)
"""
from core import ACCELERATED, __version__
from core.algorithm import ElectionAlgorithm, Role
from core.client import KVClient
from core.cluster import LocalCluster, free_ports
from core.config import AlgorithmConfig
from core.embedded import EmbeddedNode as Node
from core.embedded import NodeError, NotLeader, SubmitError
from core.keys import create_keyring
from core.leadership import Lease, LeadershipLost
from core.replicated import NotAttached, ReplicatedCallError, ReplicatedObject, replicated
from core.sim import Network, Simulation

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
