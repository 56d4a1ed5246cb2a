"""The ZeroMQ runtime: one node per process on real sockets, with control and event sockets.

``Node`` (quorumlab.core.runtime.node) is the event loop; ``Transport`` the algorithm
traffic; ``ControlClient`` speaks the control protocol; ``EventLog`` writes the
event stream; addresses derive the control and event ports. ``quorumlab.core.cluster``
starts whole local clusters of node processes.
"""
from quorumlab.core.runtime.addresses import AddressError, control_address, events_address, format_cluster, parse_cluster
from quorumlab.core.runtime.control import ControlClient, ControlError
from quorumlab.core.runtime.loader import algorithm_spec, load_algorithm
from quorumlab.core.runtime.node import Node, mono_ms
from quorumlab.core.runtime.process import serve

__all__ = [
    "AddressError",
    "ControlClient",
    "ControlError",
    "Node",
    "algorithm_spec",
    "control_address",
    "events_address",
    "format_cluster",
    "load_algorithm",
    "mono_ms",
    "parse_cluster",
    "serve",
]
