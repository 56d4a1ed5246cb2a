# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Hierarchical hashed timer wheel, compiled twin of ``quorumlab.core.timerwheel_py`` (same API and expiry order).

Timers live in a C slab of small structs (deadline, slot, intrusive prev/next
links, generation); freed entries go on a free list. A handle is
``generation << 32 | slab index``, so cancelling with a stale handle finds a
newer generation and returns False. Keys are kept in a Python list parallel
to the slab so that the garbage collector sees them. Each level keeps a
256-bit occupancy map, so ``next_deadline`` finds the first non-empty slot
with a few bit scans; its answer is cached until the wheel changes.
"""
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_Check, PyLong_FromUnsignedLongLong
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t

cdef extern from *:
    """
    static inline int qlab_ctz64(unsigned long long x) { return __builtin_ctzll(x); }
    static inline int qlab_clz64(unsigned long long x) { return __builtin_clzll(x); }
    """
    int qlab_ctz64(unsigned long long x) nogil
    int qlab_clz64(unsigned long long x) nogil

cdef enum:
    NLEVELS = 6
    SLOT_BITS = 8
    NSLOTS = 256
    SLOT_MASK = 255
    NIL = -1

LEVELS = NLEVELS
SLOTS = NSLOTS
MASK = SLOT_MASK
MAX_DEADLINE = 0xFFFFFFFFFFFF  # 6 levels x 8 bits
cdef int64_t _MAX = MAX_DEADLINE
cdef uint64_t _NO_DEADLINE = 0xFFFFFFFFFFFFFFFF


cdef struct Timer:
    uint64_t deadline
    int32_t prev
    int32_t next      # next in the slot's list, or in the free list when free
    uint32_t gen
    int32_t slot      # level * 256 + index while pending, -1 when free


cdef inline int _level_of(uint64_t deadline, uint64_t now) noexcept nogil:
    cdef uint64_t diff = deadline ^ now
    if diff == 0:
        return 0
    return (63 - qlab_clz64(diff)) >> 3


cdef class TimerWheel:
    """schedule(deadline_ms, key) -> handle; cancel(handle); advance(now_ms) -> expired keys."""

    cdef Timer* _timers
    cdef int32_t _cap
    cdef int32_t _used
    cdef int32_t _free
    cdef Py_ssize_t _pending
    cdef list _keys
    cdef uint64_t _now
    cdef int32_t _head[NLEVELS * NSLOTS]
    cdef int32_t _tail[NLEVELS * NSLOTS]
    cdef uint64_t _occupied[NLEVELS * 4]
    cdef Py_ssize_t _counts[NLEVELS]
    cdef uint64_t _next_cache
    cdef bint _cache_valid

    def __cinit__(self, now=0) -> None:
        cdef int i
        if not PyLong_Check(now):
            raise TypeError(f"now must be an int, got {type(now).__name__}")
        if now < 0 or now > MAX_DEADLINE:
            raise ValueError(f"now must be 0..{MAX_DEADLINE}, got {now}")
        self._now = now
        self._timers = NULL
        self._cap = 0
        self._used = 0
        self._free = NIL
        self._pending = 0
        self._keys = []
        for i in range(NLEVELS * NSLOTS):
            self._head[i] = NIL
            self._tail[i] = NIL
        for i in range(NLEVELS * 4):
            self._occupied[i] = 0
        for i in range(NLEVELS):
            self._counts[i] = 0
        self._cache_valid = False

    def __dealloc__(self) -> None:
        PyMem_Free(self._timers)

    @property
    def now(self) -> int:
        return PyLong_FromUnsignedLongLong(self._now)

    def __len__(self) -> int:
        return self._pending

    def schedule(self, deadline, key) -> int:
        """Arrange for ``key`` to expire at ``deadline`` (ms); a deadline in the past expires at the next advance."""
        cdef int overflow = 0
        cdef int64_t d
        cdef int32_t idx
        cdef Timer* t
        if not PyLong_Check(deadline):
            raise TypeError(f"deadline must be an int, got {type(deadline).__name__}")
        d = PyLong_AsLongLongAndOverflow(deadline, &overflow)
        if overflow > 0 or d > _MAX:
            raise ValueError(f"deadline {deadline} is beyond the wheel's range ({MAX_DEADLINE})")
        if overflow < 0 or d < <int64_t>self._now:
            d = <int64_t>self._now
        idx = self._alloc()
        self._keys[idx] = key
        t = &self._timers[idx]
        t.deadline = <uint64_t>d
        self._link(idx)
        self._pending += 1
        if self._cache_valid and <uint64_t>d < self._next_cache:
            self._next_cache = <uint64_t>d
        return PyLong_FromUnsignedLongLong((<uint64_t>t.gen << 32) | <uint32_t>idx)

    def cancel(self, handle) -> bool:
        """Forget a timer; False when it already expired or was cancelled (or the handle is not ours)."""
        cdef int overflow = 0
        cdef int64_t h
        cdef int32_t idx
        cdef Timer* t
        if not PyLong_Check(handle):
            return False
        h = PyLong_AsLongLongAndOverflow(handle, &overflow)
        if overflow or h < 0:
            return False
        idx = <int32_t>(h & 0xFFFFFFFF)
        if idx >= self._used:
            return False
        t = &self._timers[idx]
        if t.slot < 0 or t.gen != <uint32_t>(h >> 32):
            return False
        if self._cache_valid and t.deadline == self._next_cache:
            self._cache_valid = False
        self._unlink(idx)
        self._release(idx)
        self._pending -= 1
        return True

    def next_deadline(self):
        """The earliest pending deadline, or None when no timer is pending."""
        cdef uint64_t nd = self._earliest()
        if nd == _NO_DEADLINE:
            return None
        return PyLong_FromUnsignedLongLong(nd)

    def advance(self, now) -> list:
        """Move time forward to ``now`` and return the keys that expired, in deadline then schedule order."""
        cdef int overflow = 0
        cdef int64_t target
        cdef uint64_t nd
        cdef int32_t idx, nxt
        cdef int s
        cdef list expired = []
        if not PyLong_Check(now):
            raise TypeError(f"now must be an int, got {type(now).__name__}")
        target = PyLong_AsLongLongAndOverflow(now, &overflow)
        if overflow < 0 or (overflow == 0 and target < <int64_t>self._now):
            raise ValueError(f"time cannot go back: now={now} < {self._now}")
        if overflow > 0 or target > _MAX:
            raise ValueError(f"now {now} is beyond the wheel's range ({MAX_DEADLINE})")
        while True:
            nd = self._earliest()
            if nd == _NO_DEADLINE or nd > <uint64_t>target:
                break
            self._move_to(nd)
            s = <int>(nd & SLOT_MASK)
            idx = self._head[s]
            self._head[s] = NIL
            self._tail[s] = NIL
            self._occupied[s >> 6] &= ~(1ULL << (s & 63))
            self._cache_valid = False
            while idx != NIL:
                nxt = self._timers[idx].next
                expired.append(self._keys[idx])
                self._release(idx)
                self._counts[0] -= 1
                self._pending -= 1
                idx = nxt
        self._move_to(<uint64_t>target)
        return expired

    # -- internals -------------------------------------------------------------------

    cdef int32_t _alloc(self) except -1:
        cdef int32_t idx
        cdef int32_t cap
        cdef Timer* grown
        if self._free != NIL:
            idx = self._free
            self._free = self._timers[idx].next
            return idx
        if self._used == self._cap:
            if self._cap >= 0x40000000:
                raise MemoryError("too many pending timers")
            cap = 1024 if self._cap == 0 else self._cap * 2
            grown = <Timer*>PyMem_Realloc(self._timers, <size_t>cap * sizeof(Timer))
            if grown == NULL:
                raise MemoryError()
            self._timers = grown
            self._keys.extend([None] * (cap - self._cap))
            self._cap = cap
        idx = self._used
        self._used += 1
        self._timers[idx].gen = 1
        return idx

    cdef void _release(self, int32_t idx) noexcept:
        cdef Timer* t = &self._timers[idx]
        t.slot = NIL
        t.gen += 1
        if t.gen == 0:
            t.gen = 1
        t.next = self._free
        self._free = idx
        self._keys[idx] = None

    cdef void _link(self, int32_t idx) noexcept:
        """Append timer idx to the tail of the slot its deadline belongs in, relative to now."""
        cdef Timer* t = &self._timers[idx]
        cdef int level = _level_of(t.deadline, self._now)
        cdef int s = level * NSLOTS + <int>((t.deadline >> (level * SLOT_BITS)) & SLOT_MASK)
        cdef int32_t tail = self._tail[s]
        t.slot = s
        t.next = NIL
        t.prev = tail
        if tail == NIL:
            self._head[s] = idx
            self._occupied[s >> 6] |= 1ULL << (s & 63)
        else:
            self._timers[tail].next = idx
        self._tail[s] = idx
        self._counts[level] += 1

    cdef void _unlink(self, int32_t idx) noexcept:
        cdef Timer* t = &self._timers[idx]
        cdef int s = t.slot
        if t.prev == NIL:
            self._head[s] = t.next
        else:
            self._timers[t.prev].next = t.next
        if t.next == NIL:
            self._tail[s] = t.prev
        else:
            self._timers[t.next].prev = t.prev
        if self._head[s] == NIL:
            self._occupied[s >> 6] &= ~(1ULL << (s & 63))
        self._counts[s >> SLOT_BITS] -= 1

    cdef int _first_slot(self, int level, int start) noexcept:
        """Index of the first non-empty slot of ``level`` at or after ``start``, or -1."""
        cdef int w = start >> 6
        cdef uint64_t bits = self._occupied[level * 4 + w] & (~0ULL << (start & 63))
        while True:
            if bits:
                return (w << 6) + qlab_ctz64(bits)
            w += 1
            if w == 4:
                return -1
            bits = self._occupied[level * 4 + w]

    cdef uint64_t _earliest(self) noexcept:
        cdef int level, index
        cdef int32_t idx
        cdef uint64_t best
        if self._cache_valid:
            return self._next_cache
        best = _NO_DEADLINE
        for level in range(NLEVELS):
            if self._counts[level] == 0:
                continue
            index = self._first_slot(level, <int>((self._now >> (level * SLOT_BITS)) & SLOT_MASK))
            if index < 0:
                continue
            idx = self._head[level * NSLOTS + index]
            while idx != NIL:
                if self._timers[idx].deadline < best:
                    best = self._timers[idx].deadline
                idx = self._timers[idx].next
            break
        self._next_cache = best
        self._cache_valid = True
        return best

    cdef void _move_to(self, uint64_t now) noexcept:
        """Set the current time and cascade the timers whose window now contains it."""
        cdef uint64_t old = self._now
        cdef int level, s
        cdef int32_t idx, nxt
        self._now = now
        if old == now:
            return
        self._cache_valid = False
        for level in range(NLEVELS - 1, 0, -1):
            if (old >> (level * SLOT_BITS)) == (now >> (level * SLOT_BITS)) or self._counts[level] == 0:
                continue
            s = level * NSLOTS + <int>((now >> (level * SLOT_BITS)) & SLOT_MASK)
            idx = self._head[s]
            if idx == NIL:
                continue
            self._head[s] = NIL
            self._tail[s] = NIL
            self._occupied[s >> 6] &= ~(1ULL << (s & 63))
            while idx != NIL:
                nxt = self._timers[idx].next
                self._counts[level] -= 1
                self._link(idx)
                idx = nxt
