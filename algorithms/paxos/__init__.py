"""Paxos leader election with leader leases (registered as the ``paxos`` plugin)."""
from quorumlab.algorithms.paxos.acceptor import Acceptor
from quorumlab.algorithms.paxos.ballot import Ballot, drift_widened, fencing_token
from quorumlab.algorithms.paxos.config import PaxosConfig
from quorumlab.algorithms.paxos.messages import Accept, Accepted, Nack, Prepare, Promise
from quorumlab.algorithms.paxos.node import DETECT, LEASE_TIMER, RENEW, ROUND, Paxos, ProposerState
from quorumlab.algorithms.paxos.observers import BallotSafety, LeaseExclusion, PromiseKept, check_event_log, default_observers

__all__ = [
    "DETECT",
    "LEASE_TIMER",
    "RENEW",
    "ROUND",
    "Accept",
    "Accepted",
    "Acceptor",
    "Ballot",
    "BallotSafety",
    "LeaseExclusion",
    "Nack",
    "Paxos",
    "PaxosConfig",
    "Prepare",
    "Promise",
    "PromiseKept",
    "ProposerState",
    "check_event_log",
    "default_observers",
    "drift_widened",
    "fencing_token",
]
