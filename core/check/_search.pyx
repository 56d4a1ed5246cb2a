# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The key-value register's linearization search, compiled twin of ``quorumlab.core.check.search_py`` (same API and results).

The same search, node for node (see search_py for the algorithm): the
linked list, the operations and the stack are C arrays of int64, the
register's step is inlined, and the memo is an open-addressing hash set of
128-bit fingerprints (16 bytes a node, no Python object). A stack frame
holds the move, the state and first return before it, and the writer it
used up (or -1).
"""
import time
from array import array

from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memset

OK, VIOLATION, TIMEOUT = 0, 1, 2
PUT, GET, DELETE, CAS = 1, 2, 3, 4
ANY = -1
PRESENT = -2
JUMP = -1
CHECK_EVERY = 4096

cdef enum:
    C_OK = 0
    C_VIOLATION = 1
    C_TIMEOUT = 2
    C_PUT = 1
    C_GET = 2
    C_DELETE = 3
    C_CAS = 4
    C_CHECK_EVERY = 4096

cdef int64_t C_ANY = -1
cdef int64_t C_PRESENT = -2
cdef int64_t NIL = -1
cdef int64_t START = -2
cdef int64_t SWAPS = 0
cdef int64_t PINS = 1
cdef int64_t DEAD = 2
cdef int64_t FORCED = -2
cdef int64_t C_JUMP = -1


cdef inline uint64_t splitmix64(uint64_t x) noexcept nogil:
    x += 0x9E3779B97F4A7C15ULL
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL
    return x ^ (x >> 31)


cdef inline int64_t kv_step(int64_t s, int64_t code, int64_t a, int64_t b, int64_t out) noexcept nogil:
    if code == C_PUT:
        return a if (out == C_ANY or out == s) else -1
    if code == C_GET:
        return s if (out == C_ANY or out == s) else -1
    if code == C_DELETE:
        return 0 if (out == C_ANY or out == s or (out == C_PRESENT and s != 0)) else -1
    if s == a:
        return b if (out == C_ANY or out == 1) else -1
    return s if (out == C_ANY or out == 0) else -1


cdef struct KeySet:
    uint64_t* hi
    uint64_t* lo
    uint64_t mask
    Py_ssize_t size
    bint has_zero


cdef int keyset_init(KeySet* ks, Py_ssize_t capacity) except -1:
    cdef Py_ssize_t cap = 1024
    while cap < 2 * capacity:
        cap *= 2
    ks.hi = <uint64_t*>PyMem_Malloc(cap * sizeof(uint64_t))
    ks.lo = <uint64_t*>PyMem_Malloc(cap * sizeof(uint64_t))
    if ks.hi == NULL or ks.lo == NULL:
        raise MemoryError()
    memset(ks.hi, 0, cap * sizeof(uint64_t))
    memset(ks.lo, 0, cap * sizeof(uint64_t))
    ks.mask = cap - 1
    ks.size = 0
    ks.has_zero = False
    return 0


cdef void keyset_free(KeySet* ks) noexcept:
    PyMem_Free(ks.hi)
    PyMem_Free(ks.lo)
    ks.hi = NULL
    ks.lo = NULL


cdef int keyset_grow(KeySet* ks) except -1:
    cdef uint64_t* old_hi = ks.hi
    cdef uint64_t* old_lo = ks.lo
    cdef uint64_t old_cap = ks.mask + 1, cap = 2 * (ks.mask + 1), i, j
    cdef uint64_t* hi = <uint64_t*>PyMem_Malloc(cap * sizeof(uint64_t))
    cdef uint64_t* lo = <uint64_t*>PyMem_Malloc(cap * sizeof(uint64_t))
    if hi == NULL or lo == NULL:
        PyMem_Free(hi)
        PyMem_Free(lo)
        raise MemoryError()
    memset(hi, 0, cap * sizeof(uint64_t))
    memset(lo, 0, cap * sizeof(uint64_t))
    for i in range(old_cap):
        if old_hi[i] != 0 or old_lo[i] != 0:
            j = old_lo[i] & (cap - 1)
            while hi[j] != 0 or lo[j] != 0:
                j = (j + 1) & (cap - 1)
            hi[j] = old_hi[i]
            lo[j] = old_lo[i]
    PyMem_Free(old_hi)
    PyMem_Free(old_lo)
    ks.hi = hi
    ks.lo = lo
    ks.mask = cap - 1
    return 0


cdef int keyset_add(KeySet* ks, uint64_t hi, uint64_t lo) except -1:
    """1 if (hi, lo) was added, 0 if it was there already."""
    cdef uint64_t j
    if hi == 0 and lo == 0:
        if ks.has_zero:
            return 0
        ks.has_zero = True
        return 1
    j = lo & ks.mask
    while ks.hi[j] != 0 or ks.lo[j] != 0:
        if ks.hi[j] == hi and ks.lo[j] == lo:
            return 0
        j = (j + 1) & ks.mask
    ks.hi[j] = hi
    ks.lo[j] = lo
    ks.size += 1
    if <uint64_t>(2 * ks.size) > ks.mask:
        keyset_grow(ks)
    return 1


cdef struct Stack:
    int64_t* op
    int64_t* state
    int64_t* ret
    int64_t* used
    Py_ssize_t len
    Py_ssize_t cap


cdef int stack_reserve(Stack* st, Py_ssize_t need) except -1:
    cdef Py_ssize_t cap = st.cap if st.cap else 64
    cdef int64_t* p
    if need <= st.cap:
        return 0
    while cap < need:
        cap *= 2
    p = <int64_t*>PyMem_Realloc(st.op, cap * sizeof(int64_t))
    if p == NULL:
        raise MemoryError()
    st.op = p
    p = <int64_t*>PyMem_Realloc(st.state, cap * sizeof(int64_t))
    if p == NULL:
        raise MemoryError()
    st.state = p
    p = <int64_t*>PyMem_Realloc(st.ret, cap * sizeof(int64_t))
    if p == NULL:
        raise MemoryError()
    st.ret = p
    p = <int64_t*>PyMem_Realloc(st.used, cap * sizeof(int64_t))
    if p == NULL:
        raise MemoryError()
    st.used = p
    st.cap = cap
    return 0


cdef int stack_push(Stack* st, int64_t op, int64_t state, int64_t ret, int64_t used) except -1:
    if st.len == st.cap:
        stack_reserve(st, st.len + 1)
    st.op[st.len] = op
    st.state[st.len] = state
    st.ret[st.len] = ret
    st.used[st.len] = used
    st.len += 1
    return 0


cdef void stack_free(Stack* st) noexcept:
    PyMem_Free(st.op)
    PyMem_Free(st.state)
    PyMem_Free(st.ret)
    PyMem_Free(st.used)


cdef inline object _ints(object seq):
    return seq if isinstance(seq, array) and seq.typecode == "q" else array("q", seq)


def check_events(events, is_info):
    """Validate the entry list; returns the number of ok operations (each needs a call, then a return)."""
    cdef const int64_t[::1] ev = _ints(events)
    cdef const int64_t[::1] info = _ints(is_info)
    cdef Py_ssize_t n = info.shape[0], k, i, n_real = 0
    cdef int64_t e
    cdef bytearray seen_b = bytearray(2 * n)
    cdef unsigned char[::1] seen = seen_b
    for k in range(ev.shape[0]):
        e = ev[k]
        if e < 0 or e >= 2 * n or seen[e]:
            raise ValueError(f"entry {e} is out of range or repeated")
        if e & 1:
            if info[e >> 1] or not seen[e - 1]:
                raise ValueError(f"operation {e >> 1}: a return without an earlier call, or a return for an info op")
            n_real += 1
        seen[e] = 1
    for i in range(n):
        if not seen[2 * i] or (not info[i] and not seen[2 * i + 1]):
            raise ValueError(f"operation {i} is missing its call or return")
    return n_real


cdef struct Ctx:
    const int64_t* ev
    const int64_t* info
    const int64_t* code
    const int64_t* a
    const int64_t* b
    const int64_t* out
    Py_ssize_t n_events
    Py_ssize_t n
    Py_ssize_t n_real
    int64_t n_states
    int64_t jump_to
    int64_t end
    int64_t* nxt
    int64_t* prv
    int64_t* pos
    int64_t* value
    unsigned char* readonly
    unsigned char* observed
    int64_t* garbage
    int64_t g1
    int64_t g2
    int64_t gv1
    int64_t jump_from
    int64_t* wstart
    int64_t* wcount
    int64_t* wflat
    int64_t* used
    unsigned char* spent
    int64_t pin_first
    int64_t* pin_next
    int64_t swaps_all
    int64_t* swaps_from
    int64_t* swap_next_all
    int64_t* swap_next_from
    uint64_t* khi
    uint64_t* klo
    uint64_t* shi
    uint64_t* slo


cdef inline int64_t settle(Ctx* x, int64_t s, int64_t limit) noexcept nogil:
    return x.jump_to if (s != x.jump_to and x.garbage[s] < limit) else s


cdef inline int64_t writer(Ctx* x, int64_t v, int64_t limit) noexcept nogil:
    """The next unused writer of precious value ``v``, if called before ``limit``; else -1."""
    cdef int64_t k = x.used[v], w
    if k >= x.wcount[v]:
        return -1
    w = x.wflat[x.wstart[v] + k]
    return w if x.pos[2 * w] < limit else -1


cdef inline bint garbage_besides(Ctx* x, int64_t v, int64_t limit) noexcept nogil:
    return (x.g1 < limit and x.gv1 != v) or x.g2 < limit


cdef inline int64_t from_any(Ctx* x, int64_t i, int64_t limit, int64_t* w) noexcept nogil:
    """Ok operation ``i`` from ANY: the state after it or -1; sets ``w`` to the writer it uses up or -1."""
    cdef int64_t c = x.code[i], o = x.out[i]
    w[0] = -1
    if c == C_DELETE and o == C_PRESENT:
        return 0 if garbage_besides(x, 0, limit) else -1
    if c == C_CAS and o == 0:
        return x.jump_to if garbage_besides(x, x.a[i], limit) else -1
    w[0] = writer(x, x.a[i] if c == C_CAS else o, limit)
    if w[0] < 0:
        return -1
    if c == C_PUT:
        return x.a[i]
    if c == C_GET:
        return o
    if c == C_DELETE:
        return 0
    return x.b[i]


cdef inline bint swap_helps(Ctx* x, int64_t head, int64_t v, int64_t limit) noexcept nogil:
    """Is value ``v`` one a waiting call accepts, or a waiting info cas expects?"""
    cdef int64_t e = x.nxt[head], i
    while not e & 1:
        i = e >> 1
        if kv_step(v, x.code[i], x.a[i], x.b[i], x.out[i]) >= 0:
            return True
        e = x.nxt[e]
    return x.swaps_from[v] != NIL and x.pos[2 * x.swaps_from[v]] < limit


cdef inline bint pins_needed(Ctx* x, int64_t head, int64_t limit) noexcept nogil:
    cdef int64_t e = x.nxt[head], i
    while not e & 1:
        i = e >> 1
        if ((x.code[i] == C_DELETE and x.out[i] == C_PRESENT and not garbage_besides(x, 0, limit))
                or (x.code[i] == C_CAS and x.out[i] == 0 and not garbage_besides(x, x.a[i], limit))):
            return True
        e = x.nxt[e]
    return False


cdef object _order(Stack* st):
    """The path as operations in the order they took effect, each writer used up just before its reader."""
    cdef Py_ssize_t k
    order = []
    for k in range(st.len):
        if st.used[k] >= 0 and st.used[k] != st.op[k]:
            order.append(st.used[k])
        order.append(st.op[k])
    return order


cdef int64_t* _alloc(Py_ssize_t count, list keep) except NULL:
    cdef int64_t* p = <int64_t*>PyMem_Malloc((count if count > 0 else 1) * sizeof(int64_t))
    if p == NULL:
        raise MemoryError()
    keep.append(<Py_ssize_t>p)
    return p


def search_kv(events, is_info, code, a, b, out, int64_t init, double deadline):
    """Search for a linearization; returns (status, order, stuck, steps), exactly as search_py.search_kv does."""
    cdef Py_ssize_t n_real = check_events(events, is_info)
    cdef const int64_t[::1] ev = _ints(events)
    cdef const int64_t[::1] info = _ints(is_info)
    cdef const int64_t[::1] code_v = _ints(code)
    cdef const int64_t[::1] a_v = _ints(a)
    cdef const int64_t[::1] b_v = _ints(b)
    cdef const int64_t[::1] out_v = _ints(out)
    cdef Py_ssize_t n = info.shape[0], i
    if n_real == 0:
        return OK, [], -1, 0
    if code_v.shape[0] != n or a_v.shape[0] != n or b_v.shape[0] != n or out_v.shape[0] != n:
        raise ValueError("code, a, b and out need one value per operation")
    if init < 0:
        raise ValueError(f"initial state {init} is not a state id")
    cdef int64_t n_states = init + 1
    for i in range(n):
        if not C_PUT <= code_v[i] <= C_CAS:
            raise ValueError(f"operation {i}: code {code_v[i]} is not PUT, GET, DELETE or CAS")
        if a_v[i] < 0 or b_v[i] < 0 or out_v[i] < C_PRESENT or (out_v[i] == C_ANY and not info[i]) or (
                out_v[i] == C_PRESENT and code_v[i] != C_DELETE):
            raise ValueError(f"operation {i}: a negative value id, an ok operation with no output, "
                             f"or PRESENT for another op than delete")
        n_states = max(n_states, a_v[i] + 1, b_v[i] + 1, out_v[i] + 1)
    cdef Ctx x
    cdef Stack st
    cdef Stack best
    cdef KeySet cache
    cdef list blocks = []
    cdef Py_ssize_t block
    memset(&x, 0, sizeof(Ctx))
    memset(&st, 0, sizeof(Stack))
    memset(&best, 0, sizeof(Stack))
    cache.hi = NULL
    cache.lo = NULL
    x.ev = &ev[0]
    x.info = &info[0]
    x.code = &code_v[0]
    x.a = &a_v[0]
    x.b = &b_v[0]
    x.out = &out_v[0]
    x.n_events = ev.shape[0]
    x.n = n
    x.n_real = n_real
    x.n_states = n_states
    x.jump_to = n_states
    x.end = ev.shape[0]
    try:
        x.nxt = _alloc(2 * n + 1, blocks)
        x.prv = _alloc(2 * n + 1, blocks)
        x.pos = _alloc(2 * n, blocks)
        x.value = _alloc(n, blocks)
        x.readonly = <unsigned char*>_alloc(n, blocks)
        x.observed = <unsigned char*>_alloc(n_states, blocks)
        x.garbage = _alloc(n_states, blocks)
        x.wstart = _alloc(n_states, blocks)
        x.wcount = _alloc(n_states, blocks)
        x.wflat = _alloc(n, blocks)
        x.used = _alloc(n_states, blocks)
        x.spent = <unsigned char*>_alloc(n, blocks)
        x.pin_next = _alloc(n, blocks)
        x.swaps_from = _alloc(n_states, blocks)
        x.swap_next_all = _alloc(n, blocks)
        x.swap_next_from = _alloc(n, blocks)
        x.khi = <uint64_t*>_alloc(n, blocks)
        x.klo = <uint64_t*>_alloc(n, blocks)
        x.shi = <uint64_t*>_alloc(n_states + 1, blocks)
        x.slo = <uint64_t*>_alloc(n_states + 1, blocks)
        _prepare(&x)
        keyset_init(&cache, n_real)
        return _run(&x, init, deadline, &st, &best, &cache)
    finally:
        for block in blocks:
            PyMem_Free(<void*>block)
        stack_free(&st)
        stack_free(&best)
        keyset_free(&cache)


cdef int _prepare(Ctx* x) except -1:
    """Link the ok entries; sort the info operations into garbage writers, precious writers and swaps; draw the keys."""
    cdef Py_ssize_t n = x.n, k
    cdef int64_t e, i, v, head = 2 * n, last = head, tail_all = NIL, pin_last = NIL
    cdef list keep = []
    cdef int64_t* tail_from = _alloc(x.n_states, keep)
    cdef int64_t* fill = _alloc(x.n_states, keep)
    try:
        for k in range(2 * n + 1):
            x.nxt[k] = NIL
            x.prv[k] = NIL
        for k in range(x.n_states):
            x.observed[k] = 0
            x.garbage[k] = x.end
            x.wcount[k] = 0
            x.used[k] = 0
            x.swaps_from[k] = NIL
            tail_from[k] = NIL
        for k in range(n):
            x.value[k] = 0
            x.spent[k] = 0
            x.pin_next[k] = NIL
            x.swap_next_all[k] = NIL
            x.swap_next_from[k] = NIL
            x.khi[k] = splitmix64(2 * k)
            x.klo[k] = splitmix64(2 * k + 1)
        for k in range(x.n_states + 1):
            x.shi[k] = splitmix64((1ULL << 62) + 2 * k)
            x.slo[k] = splitmix64((1ULL << 62) + 2 * k + 1)
        for k in range(n):
            x.readonly[k] = not x.info[k] and (
                x.code[k] == C_GET or (x.code[k] == C_CAS and (x.out[k] == 0 or x.a[k] == x.b[k]))
                or (x.code[k] == C_DELETE and x.out[k] == 0) or (x.code[k] == C_PUT and x.a[k] == x.out[k]))
            if x.info[k]:
                if x.code[k] == C_CAS and x.a[k] != x.b[k]:
                    x.observed[x.a[k]] = 1
            elif x.code[k] == C_CAS:
                if x.out[k] == 1:
                    x.observed[x.a[k]] = 1
            elif x.out[k] >= 0:
                x.observed[x.out[k]] = 1
        for k in range(n):
            if x.info[k] and (x.code[k] == C_PUT or x.code[k] == C_DELETE):
                v = x.a[k] if x.code[k] == C_PUT else 0
                x.value[k] = v
                if x.observed[v]:
                    x.wcount[v] += 1
        e = 0
        for k in range(x.n_states):
            x.wstart[k] = e
            fill[k] = e
            e += x.wcount[k]
        x.g1 = x.end
        x.g2 = x.end
        x.gv1 = -1
        x.jump_from = x.end
        x.pin_first = NIL
        x.swaps_all = NIL
        for k in range(x.n_events):
            e = x.ev[k]
            x.pos[e] = k
            i = e >> 1
            if not x.info[i]:
                x.nxt[last] = e
                x.prv[e] = last
                last = e
            elif x.code[i] == C_PUT or x.code[i] == C_DELETE:
                v = x.value[i]
                if x.jump_from == x.end:
                    x.jump_from = k
                if x.observed[v]:
                    x.wflat[fill[v]] = i
                    fill[v] += 1
                    if pin_last == NIL:
                        x.pin_first = i
                    else:
                        x.pin_next[pin_last] = i
                    pin_last = i
                    continue
                if x.garbage[v] == x.end:
                    x.garbage[v] = k
                if x.gv1 < 0:
                    x.g1 = k
                    x.gv1 = v
                elif v != x.gv1 and x.g2 == x.end:
                    x.g2 = k
            elif x.code[i] == C_CAS and x.a[i] != x.b[i]:
                if tail_all == NIL:
                    x.swaps_all = i
                else:
                    x.swap_next_all[tail_all] = i
                tail_all = i
                v = x.a[i]
                if tail_from[v] == NIL:
                    x.swaps_from[v] = i
                else:
                    x.swap_next_from[tail_from[v]] = i
                tail_from[v] = i
    finally:
        PyMem_Free(tail_from)
        PyMem_Free(fill)
    return 0


cdef object _run(Ctx* x, int64_t init, double deadline, Stack* st, Stack* best, KeySet* cache):
    cdef int64_t* nxt = x.nxt
    cdef int64_t* prv = x.prv
    cdef int64_t* pos = x.pos
    cdef int64_t head = 2 * x.n, jump_to = x.jump_to
    cdef int64_t entry, ret, ret2, r, c, i, w, v, s2, state, limit, phase = START, cursor = NIL
    cdef int64_t remaining = x.n_real, steps = 0, depth, best_depth = -1, stuck = -1
    cdef Py_ssize_t k, low = 0
    cdef uint64_t fph = 0, fpl = 0, h2, l2
    cdef bint in_main = True, forced
    cdef int countdown = C_CHECK_EVERY
    ret = nxt[head]
    while not ret & 1:
        ret = nxt[ret]
    state = settle(x, init, pos[ret])
    keyset_add(cache, x.shi[state], x.slo[state])
    entry = nxt[head]
    while True:
        countdown -= 1
        if countdown == 0:
            countdown = C_CHECK_EVERY
            if deadline and time.monotonic() > deadline:
                return TIMEOUT, _order(best), stuck, steps
        if in_main:
            if not entry & 1:
                i = entry >> 1
                steps += 1
                if state == jump_to:
                    s2 = from_any(x, i, pos[ret], &w)
                else:
                    s2 = kv_step(state, x.code[i], x.a[i], x.b[i], x.out[i])
                    w = -1
                if s2 >= 0:
                    r = entry + 1
                    ret2 = ret
                    if r == ret:
                        ret2 = nxt[r]
                        while ret2 != NIL and not ret2 & 1:
                            ret2 = nxt[ret2]
                    forced = x.readonly[i] and state != jump_to
                    s2 = settle(x, s2, pos[ret2] if ret2 != NIL else x.end)
                    h2 = fph ^ x.khi[i]
                    l2 = fpl ^ x.klo[i]
                    if w >= 0:
                        h2 ^= x.khi[w]
                        l2 ^= x.klo[w]
                    if keyset_add(cache, h2 ^ x.shi[s2], l2 ^ x.slo[s2]):
                        stack_push(st, i, state, ret, FORCED if forced else w)
                        if w >= 0:
                            x.used[x.value[w]] += 1
                        state = s2
                        fph = h2
                        fpl = l2
                        ret = ret2
                        nxt[prv[entry]] = nxt[entry]
                        prv[nxt[entry]] = prv[entry]
                        nxt[prv[r]] = nxt[r]
                        if nxt[r] != NIL:
                            prv[nxt[r]] = prv[r]
                        remaining -= 1
                        if remaining == 0:
                            return OK, _order(st), -1, steps
                        entry = nxt[head]
                        continue
                    if forced:
                        in_main = False
                        phase = DEAD
                        continue
                entry = nxt[entry]
                continue
            in_main = False
            phase = START
            continue
        limit = pos[ret]
        if phase == START:
            phase = SWAPS
            cursor = x.swaps_all if state == jump_to else x.swaps_from[state]
            if (state != jump_to and x.jump_from < limit
                    and not (st.len and st.op[st.len - 1] >= 0 and x.info[st.op[st.len - 1]])):
                steps += 1
                if keyset_add(cache, fph ^ x.shi[jump_to], fpl ^ x.slo[jump_to]):
                    stack_push(st, C_JUMP, state, ret, -1)
                    state = jump_to
                    in_main = True
                    entry = nxt[head]
            continue
        if phase == SWAPS:
            if cursor != NIL and pos[2 * cursor] < limit:
                i = cursor
                cursor = x.swap_next_all[i] if state == jump_to else x.swap_next_from[i]
                if x.spent[i]:
                    continue
                w = writer(x, x.a[i], limit) if state == jump_to else -1
                if state == jump_to and w < 0:
                    continue
                steps += 1
                s2 = settle(x, x.b[i], limit)
                if s2 != jump_to and swap_helps(x, head, s2, limit):
                    h2 = fph ^ x.khi[i]
                    l2 = fpl ^ x.klo[i]
                    if w >= 0:
                        h2 ^= x.khi[w]
                        l2 ^= x.klo[w]
                    if keyset_add(cache, h2 ^ x.shi[s2], l2 ^ x.slo[s2]):
                        stack_push(st, i, state, ret, w)
                        if w >= 0:
                            x.used[x.a[i]] += 1
                        x.spent[i] = 1
                        state = s2
                        fph = h2
                        fpl = l2
                        in_main = True
                        entry = nxt[head]
                continue
            phase = PINS
            cursor = x.pin_first if (state == jump_to and pins_needed(x, head, limit)) else NIL
            continue
        if phase == PINS and cursor != NIL and pos[2 * cursor] < limit:
            w = cursor
            cursor = x.pin_next[w]
            v = x.value[w]
            if writer(x, v, limit) != w:
                continue
            steps += 1
            if keyset_add(cache, fph ^ x.khi[w] ^ x.shi[v], fpl ^ x.klo[w] ^ x.slo[v]):
                stack_push(st, w, state, ret, w)
                x.used[v] += 1
                state = v
                fph ^= x.khi[w]
                fpl ^= x.klo[w]
                in_main = True
                entry = nxt[head]
            continue
        depth = x.n_real - remaining
        if depth > best_depth:
            stack_reserve(best, st.len)
            for k in range(low, st.len):
                best.op[k] = st.op[k]
                best.used[k] = st.used[k]
            best.len = st.len
            best_depth = depth
            stuck = ret >> 1
            low = st.len
        if st.len == 0:
            return VIOLATION, _order(best), stuck, steps
        st.len -= 1
        i = st.op[st.len]
        state = st.state[st.len]
        ret = st.ret[st.len]
        w = st.used[st.len]
        if st.len < low:
            low = st.len
        if w >= 0:
            x.used[x.value[w]] -= 1
            fph ^= x.khi[w]
            fpl ^= x.klo[w]
        if i == C_JUMP:
            phase = SWAPS
            cursor = x.swaps_from[state]
        elif x.info[i] and x.code[i] == C_CAS:
            x.spent[i] = 0
            fph ^= x.khi[i]
            fpl ^= x.klo[i]
            phase = SWAPS
            cursor = x.swap_next_all[i] if state == jump_to else x.swap_next_from[i]
        elif x.info[i]:
            phase = PINS
            cursor = x.pin_next[i]
        else:
            c = 2 * i
            r = c + 1
            fph ^= x.khi[i]
            fpl ^= x.klo[i]
            nxt[prv[r]] = r
            if nxt[r] != NIL:
                prv[nxt[r]] = r
            nxt[prv[c]] = c
            prv[nxt[c]] = c
            remaining += 1
            if w == FORCED:
                phase = DEAD
            else:
                in_main = True
                entry = nxt[c]
