"""A voter configuration that decides by simple majority (etcd-io/raft: quorum.MajorityConfig).

Algorithms ask their configuration, not a voter count, who has won a vote and
which index is committed, so that a joint configuration (two majorities that
must both agree, for membership change: ``JointConfig``) is used in its place
by the same calls, as etcd's quorum.JointConfig. The counting itself is ``quorumlab.core.quorum``'s: the compiled
``VoteTally`` and ``committed_index`` when they are built.
"""
from __future__ import annotations

from typing import Iterable, Mapping

from quorumlab.core.quorum import JointTally, VoteTally, committed_index


class MajorityConfig:
    """A set of voters; more than half of them decide."""

    __slots__ = ("voters",)

    def __init__(self, voters: Iterable[int]) -> None:
        self.voters: tuple[int, ...] = tuple(dict.fromkeys(voters))
        if not self.voters:
            raise ValueError("a majority configuration needs at least one voter")

    def tally(self) -> VoteTally:
        """A fresh count of one vote among these voters (answers from anyone else are ignored)."""
        return VoteTally(self.voters)

    def committed_index(self, acked: Mapping[int, int]) -> int:
        """The largest value a majority of the voters have reached in ``acked`` (a voter missing from it counts 0).

        For log indexes this is the commit index; for the times voters were last heard from, the latest
        moment by which a majority had been heard.
        """
        return committed_index(acked, self.voters)

    def __repr__(self) -> str:
        return f"MajorityConfig({list(self.voters)})"


class JointConfig:
    """C_old,new of a membership change (thesis 4.3): two voter sets, and every decision needs a majority of each."""

    __slots__ = ("incoming", "outgoing", "voters")

    def __init__(self, incoming: MajorityConfig, outgoing: MajorityConfig) -> None:
        self.incoming = incoming
        self.outgoing = outgoing
        self.voters: tuple[int, ...] = tuple(dict.fromkeys(incoming.voters + outgoing.voters))

    def tally(self) -> JointTally:
        """A vote that is won when both majorities are won, lost when either is lost (quorumlab.core.quorum)."""
        return JointTally(self.incoming.voters, self.outgoing.voters)

    def committed_index(self, acked: Mapping[int, int]) -> int:
        """What both majorities have reached: the smaller of the two."""
        return min(self.incoming.committed_index(acked), self.outgoing.committed_index(acked))

    def __repr__(self) -> str:
        return f"JointConfig({list(self.incoming.voters)}, {list(self.outgoing.voters)})"
