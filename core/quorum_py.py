"""Quorum arithmetic, pure-Python twin of ``quorumlab.core._quorum`` (same API).

``VoteTally`` counts one election's votes over a fixed voter set as two
bitsets (granted, rejected): a voter counts once, whatever it sends again.
``committed_index`` is the largest index that a majority of voters hold
(of every index given, or of the given voters' only).
``JointTally`` / ``joint_committed_index`` need both voter sets to agree, the
rule for joint configurations during membership change.
"""
from __future__ import annotations

from typing import Iterable, Mapping

PENDING = 0
WON = 1
LOST = 2


class VoteTally:
    """Votes of one election: record(voter, granted) then result() -> PENDING, WON or LOST."""

    __slots__ = ("_bit", "_granted", "_rejected", "_n", "_need", "_ngranted", "_nrejected")

    def __init__(self, voters: Iterable[int]) -> None:
        ids = list(dict.fromkeys(voters))  # distinct voters, any hashable id, in first-seen order
        if not ids:
            raise ValueError("a tally needs at least one voter")
        self._bit = {v: 1 << i for i, v in enumerate(ids)}
        self._granted = 0
        self._rejected = 0
        self._n = len(ids)
        self._need = self._n // 2 + 1
        self._ngranted = 0
        self._nrejected = 0

    def record(self, voter: int, granted: bool) -> int:
        """Count ``voter``'s answer once (later answers from it are ignored); returns the result."""
        bit = self._bit.get(voter)
        if bit is not None and not ((self._granted | self._rejected) & bit):
            if granted:
                self._granted |= bit
                self._ngranted += 1
            else:
                self._rejected |= bit
                self._nrejected += 1
        return self.result()

    def result(self) -> int:
        if self._ngranted >= self._need:
            return WON
        if self._nrejected > self._n - self._need:
            return LOST
        return PENDING

    @property
    def granted(self) -> int:
        return self._ngranted

    @property
    def rejected(self) -> int:
        return self._nrejected

    @property
    def size(self) -> int:
        return self._n

    def voted(self, voter: int) -> bool:
        bit = self._bit.get(voter, 0)
        return bool((self._granted | self._rejected) & bit)


class JointTally:
    """An election under a joint configuration: it is won only when both voter sets are won."""

    __slots__ = ("_a", "_b")

    def __init__(self, old_voters: Iterable[int], new_voters: Iterable[int]) -> None:
        self._a = VoteTally(old_voters)
        self._b = VoteTally(new_voters)

    def record(self, voter: int, granted: bool) -> int:
        self._a.record(voter, granted)
        self._b.record(voter, granted)
        return self.result()

    def result(self) -> int:
        ra, rb = self._a.result(), self._b.result()
        if ra == LOST or rb == LOST:
            return LOST
        if ra == WON and rb == WON:
            return WON
        return PENDING

    def voted(self, voter: int) -> bool:
        """Has ``voter`` answered, in either voter set?"""
        return self._a.voted(voter) or self._b.voted(voter)


def committed_index(match: Mapping[int, int] | Iterable[int], voters: Iterable[int] | None = None) -> int:
    """The largest index held by a majority: sort descending and take the middle one.

    With ``voters``, of those voters' indexes in the mapping ``match`` only (a voter missing from it holds 0).
    """
    if voters is not None:
        match = [match.get(v, 0) for v in voters]
    values = sorted(match.values() if isinstance(match, Mapping) else match, reverse=True)
    if not values:
        raise ValueError("committed_index needs at least one voter")
    return values[len(values) // 2]


def joint_committed_index(old: Mapping[int, int], new: Mapping[int, int]) -> int:
    """Under a joint configuration an index is committed only when both majorities hold it."""
    return min(committed_index(old), committed_index(new))
