"""The Raft log: entries with terms, 1-based, in memory (made durable with log replication).

Election needs only its tail (last index and term) for the up-to-date check
of section 5.4.1, and heartbeats need ``matches`` for the consistency check of
AppendEntries. Index 0 is a sentinel with term 0, so an empty log has
last_index 0 and last_term 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry: the term it was created in, its position, and the command."""

    term: int
    index: int
    data: bytes = b""


class RaftLog:
    """An in-memory sequence of entries; terms never decrease along the log."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: list[Entry] = []

    @classmethod
    def from_terms(cls, terms: Iterable[int]) -> "RaftLog":
        """A log whose entry i+1 has term terms[i] (how tests build logs)."""
        log = cls()
        for t in terms:
            log.append(t)
        return log

    def append(self, term: int, data: bytes = b"") -> Entry:
        """Add an entry at the end; its term may not be below the last one."""
        if term < self.last_term:
            raise ValueError(f"log terms never decrease: appending term {term} after term {self.last_term}")
        entry = Entry(term, self.last_index + 1, data)
        self._entries.append(entry)
        return entry

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def last_index(self) -> int:
        return len(self._entries)

    @property
    def last_term(self) -> int:
        return self._entries[-1].term if self._entries else 0

    def term_at(self, index: int) -> int | None:
        """The term of the entry at ``index`` (0 for the sentinel), None past the end."""
        if index == 0:
            return 0
        if 1 <= index <= len(self._entries):
            return self._entries[index - 1].term
        return None

    def matches(self, index: int, term: int) -> bool:
        """True when this log holds an entry at ``index`` with ``term`` (AppendEntries' consistency check)."""
        return self.term_at(index) == term

    def is_up_to_date(self, last_term: int, last_index: int) -> bool:
        """Is a log ending at (last_term, last_index) at least as up to date as this one? (section 5.4.1)

        The later last term wins; with equal last terms, the longer log wins.
        """
        if last_term != self.last_term:
            return last_term > self.last_term
        return last_index >= self.last_index
