# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Quorum arithmetic, compiled twin of ``quorumlab.core.quorum_py`` (same API and results).

``VoteTally`` keeps one state byte per voter (none, granted, rejected), so it
handles any number of voters. When every voter id is a small non-negative
int (the usual case) ids map to their slot through a C table; otherwise
through a dict. ``committed_index`` (of every index given, or of the given
voters' only) sorts the match indexes in a C array when they are all
machine-size ints and falls back to Python's sort otherwise.
"""
from collections.abc import Mapping

from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_CheckExact, PyLong_FromLongLong
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.stdlib cimport qsort

PENDING = 0
WON = 1
LOST = 2

cdef enum:
    C_PENDING = 0
    C_WON = 1
    C_LOST = 2
    NO_VOTE = 0
    GRANTED = 1
    REJECTED = 2
    SMALL_IDS = 4096   # ids below this use the direct table


cdef class VoteTally:
    """Votes of one election: record(voter, granted) then result() -> PENDING, WON or LOST."""

    cdef uint8_t* _state      # one byte per voter slot: NO_VOTE, GRANTED or REJECTED
    cdef int32_t* _table      # voter id -> slot, when every voter id is an int in 0..SMALL_IDS-1
    cdef Py_ssize_t _table_len
    cdef dict _index          # voter -> slot, for any other voter set (built lazily for odd lookups)
    cdef Py_ssize_t _n
    cdef Py_ssize_t _need
    cdef Py_ssize_t _ngranted
    cdef Py_ssize_t _nrejected

    def __cinit__(self, voters) -> None:
        cdef Py_ssize_t i, n = 0
        cdef int overflow = 0
        cdef int64_t v, top = -1
        cdef bint small = True
        cdef object seq = voters if type(voters) is tuple or type(voters) is list else tuple(voters)
        for voter in seq:
            overflow = 0
            if PyLong_CheckExact(voter):
                v = PyLong_AsLongLongAndOverflow(voter, &overflow)
                if overflow == 0 and 0 <= v < SMALL_IDS:
                    if v > top:
                        top = v
                    continue
            small = False
            break
        if small:
            self._table_len = top + 1
            self._table = <int32_t*>PyMem_Malloc(self._table_len * sizeof(int32_t) + len(seq))
            if self._table == NULL:
                raise MemoryError()
            for i in range(self._table_len):
                self._table[i] = -1
            for voter in seq:
                v = PyLong_AsLongLongAndOverflow(voter, &overflow)
                if self._table[v] < 0:
                    self._table[v] = <int32_t>n
                    n += 1
            self._state = <uint8_t*>(self._table + self._table_len)
        else:
            self._index = {voter: i for i, voter in enumerate(dict.fromkeys(seq))}
            n = len(self._index)
            self._state = <uint8_t*>PyMem_Malloc(n)
            if self._state == NULL:
                raise MemoryError()
        if n == 0:
            raise ValueError("a tally needs at least one voter")
        for i in range(n):
            self._state[i] = NO_VOTE
        self._n = n
        self._need = n // 2 + 1

    def __dealloc__(self) -> None:
        if self._table != NULL:
            PyMem_Free(self._table)
        else:
            PyMem_Free(self._state)

    cdef dict _lookup_index(self):
        """voter -> slot as a dict (built from the table on first use), for lookups by non-int ids."""
        if self._index is None:
            self._index = {v: self._table[v] for v in range(self._table_len) if self._table[v] >= 0}
        return self._index

    cdef Py_ssize_t _slot(self, object voter) except -2:
        """The voter's slot, or -1 when it is not a voter of this election."""
        cdef int overflow = 0
        cdef int64_t v
        if self._table != NULL and PyLong_CheckExact(voter):
            v = PyLong_AsLongLongAndOverflow(voter, &overflow)
            if overflow == 0 and 0 <= v < self._table_len:
                return self._table[v]
            return -1
        slot = self._lookup_index().get(voter)
        return -1 if slot is None else <Py_ssize_t>slot

    cdef int _record(self, object voter, bint granted) except -1:
        cdef Py_ssize_t slot = self._slot(voter)
        if slot >= 0 and self._state[slot] == NO_VOTE:
            if granted:
                self._state[slot] = GRANTED
                self._ngranted += 1
            else:
                self._state[slot] = REJECTED
                self._nrejected += 1
        return self._result()

    cdef inline int _result(self) noexcept:
        if self._ngranted >= self._need:
            return C_WON
        if self._nrejected > self._n - self._need:
            return C_LOST
        return C_PENDING

    def record(self, voter, granted) -> int:
        """Count ``voter``'s answer once (later answers from it are ignored); returns the result."""
        return self._record(voter, granted)

    def result(self) -> int:
        return self._result()

    @property
    def granted(self) -> int:
        return self._ngranted

    @property
    def rejected(self) -> int:
        return self._nrejected

    @property
    def size(self) -> int:
        return self._n

    def voted(self, voter) -> bool:
        cdef Py_ssize_t slot = self._slot(voter)
        return slot >= 0 and self._state[slot] != NO_VOTE


cdef class JointTally:
    """An election under a joint configuration: it is won only when both voter sets are won."""

    cdef VoteTally _a
    cdef VoteTally _b

    def __init__(self, old_voters, new_voters) -> None:
        self._a = VoteTally(old_voters)
        self._b = VoteTally(new_voters)

    cdef int _result(self) noexcept:
        cdef int ra = self._a._result()
        cdef int rb = self._b._result()
        if ra == C_LOST or rb == C_LOST:
            return C_LOST
        if ra == C_WON and rb == C_WON:
            return C_WON
        return C_PENDING

    def record(self, voter, granted) -> int:
        cdef bint g = granted
        self._a._record(voter, g)
        self._b._record(voter, g)
        return self._result()

    def result(self) -> int:
        return self._result()

    def voted(self, voter) -> bool:
        """Has ``voter`` answered, in either voter set?"""
        return self._a.voted(voter) or self._b.voted(voter)


cdef int _descending(const void* a, const void* b) noexcept nogil:
    cdef int64_t x = (<const int64_t*>a)[0]
    cdef int64_t y = (<const int64_t*>b)[0]
    return (x < y) - (x > y)


cdef object _committed(object match):
    cdef Py_ssize_t n, i
    cdef int overflow = 0
    cdef int64_t* buf
    cdef int64_t result
    values = list(match.values() if isinstance(match, (dict, Mapping)) else match)
    n = len(values)
    if n == 0:
        raise ValueError("committed_index needs at least one voter")
    buf = <int64_t*>PyMem_Malloc(n * sizeof(int64_t))
    if buf == NULL:
        raise MemoryError()
    try:
        for i in range(n):
            v = values[i]
            if not PyLong_CheckExact(v):
                break
            buf[i] = PyLong_AsLongLongAndOverflow(v, &overflow)
            if overflow:
                break
        else:
            qsort(buf, n, sizeof(int64_t), _descending)
            result = buf[n // 2]
            return PyLong_FromLongLong(result)
    finally:
        PyMem_Free(buf)
    values.sort(reverse=True)
    return values[n // 2]


def committed_index(match, voters=None) -> int:
    """The largest index held by a majority: sort descending and take the middle one.

    With ``voters``, of those voters' indexes in the mapping ``match`` only (a voter missing from it holds 0).
    """
    cdef dict d
    if voters is None:
        return _committed(match)
    if type(match) is dict:
        d = <dict>match
        return _committed([d.get(v, 0) for v in voters])
    return _committed([match.get(v, 0) for v in voters])


def joint_committed_index(old, new) -> int:
    """Under a joint configuration an index is committed only when both majorities hold it."""
    return min(_committed(old), _committed(new))
