"""Paxos leader election with leader leases (registered as the ``paxos`` plugin)."""
from algorithms.paxos.acceptor import Acceptor
from algorithms.paxos.ballot import Ballot, drift_widened, fencing_token
from algorithms.paxos.config import PaxosConfig
from algorithms.paxos.messages import Accept, Accepted, Nack, Prepare, Promise
from algorithms.paxos.node import DETECT, LEASE_TIMER, RENEW, ROUND, Paxos, ProposerState
from algorithms.paxos.observers import BallotSafety, LeaseExclusion, PromiseKept, check_event_log, default_observers

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
