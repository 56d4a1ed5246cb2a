# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Message codec, compiled twin of ``quorumlab.core.codec_py`` (same API, byte-identical output).

The wire format is documented in ``quorumlab.core.codec_py``. Each message class gets a
cached plan: its wire kinds as C bytes and, since message classes are slotted,
the byte offset of every slot, so that fields are read and written without
attribute lookups (a class whose fields are not plain slots falls back to
getattr/setattr). Encoding writes into one growable C buffer; decoding reads a
borrowed buffer with every length checked against the bytes left, builds the
message without running its Python ``__init__`` and raises ``CodecError``
for anything malformed.
"""
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.long cimport (
    PyLong_AsLongLong,
    PyLong_AsUnsignedLongLong,
    PyLong_Check,
    PyLong_FromLongLong,
    PyLong_FromUnsignedLongLong,
)
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.number cimport PyNumber_Index
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint64_t
from libc.string cimport memcpy

cdef extern from *:
    """
    #include <structmember.h>
    /* Byte offset of a writable object slot described by ``descr``, or -1 if it is anything else. */
    static Py_ssize_t qlab_slot_offset(PyObject *descr) {
        PyMemberDef *m;
        if (Py_TYPE(descr) != &PyMemberDescr_Type) return -1;
        m = ((PyMemberDescrObject *)descr)->d_member;
        if (m->type != T_OBJECT_EX || (m->flags & READONLY)) return -1;
        return m->offset;
    }
    """
    Py_ssize_t qlab_slot_offset(PyObject* descr)

from quorumlab.core.errors import CodecError
from quorumlab.core.messages import HEADER_FIELDS, PROTOCOL_VERSION, SCHEMAS, Message

cdef enum:
    INLINE_CAP = 256

cdef enum:
    K_U8 = 0
    K_BOOL = 1
    K_U32 = 2
    K_U64 = 3
    K_I64 = 4
    K_BYTES = 5
    K_U64LIST = 6
    K_ENTRIES = 7

HEADER_SIZE = 24
cdef Py_ssize_t _HEADER = 24
cdef uint8_t _VERSION = PROTOCOL_VERSION
cdef dict _SCHEMAS = SCHEMAS
cdef dict _plans = {}
cdef tuple _EMPTY = ()
cdef object _BYTES_LIKE = (bytes, bytearray, memoryview)
cdef object _SEQUENCES = (list, tuple)


cdef class _Plan:
    """What the codec needs to know about one message class, resolved once."""

    cdef object cls
    cdef str name
    cdef uint16_t algo_id
    cdef uint8_t type_id
    cdef tuple names      # header fields, then the type's own fields
    cdef bytes kinds
    cdef Py_ssize_t nfields
    cdef Py_ssize_t* offsets  # slot offset of each name, or NULL to use getattr/setattr

    def __dealloc__(self):
        PyMem_Free(self.offsets)


cdef object _find_descriptor(object cls, str name):
    for klass in cls.__mro__:
        found = klass.__dict__.get(name)
        if found is not None:
            return found
    return None


cdef _Plan _plan_for(object cls):
    cdef _Plan plan = <_Plan>_plans.get(cls)
    cdef Py_ssize_t i, off
    if plan is not None:
        return plan
    if not (isinstance(cls, type) and issubclass(cls, Message)):
        raise CodecError(f"{cls!r} is not a message class")
    plan = _Plan()
    plan.cls = cls
    plan.name = cls.name
    algo_id = cls.algo_id
    type_id = cls.type_id
    if not (0 <= algo_id <= 0xFFFF and 0 <= type_id <= 0xFF):
        raise CodecError(f"{plan.name}: message id {algo_id}/{type_id} is out of range")
    plan.algo_id = algo_id
    plan.type_id = type_id
    fields = tuple(cls.fields)
    kinds = tuple(cls.kinds)
    if len(kinds) != len(fields) or any(not (0 <= k <= K_ENTRIES) for k in kinds):
        raise CodecError(f"{plan.name}: bad schema kinds {kinds!r}")
    plan.names = HEADER_FIELDS + fields
    plan.kinds = bytes(kinds)
    plan.nfields = len(fields)
    plan.offsets = <Py_ssize_t*>PyMem_Malloc(len(plan.names) * sizeof(Py_ssize_t))
    if plan.offsets == NULL:
        raise MemoryError()
    for i, name in enumerate(plan.names):
        descr = _find_descriptor(cls, name)
        off = -1 if descr is None else qlab_slot_offset(<PyObject*>descr)
        if off < 0:
            PyMem_Free(plan.offsets)
            plan.offsets = NULL
            break
        plan.offsets[i] = off
    _plans[cls] = plan
    return plan


cdef inline object _field(object msg, _Plan plan, Py_ssize_t i):
    """Field i of plan.names (header first) of ``msg``, whose type is exactly plan.cls."""
    cdef PyObject* value
    if plan.offsets != NULL:
        value = (<PyObject**>((<char*><PyObject*>msg) + plan.offsets[i]))[0]
        if value == NULL:
            raise CodecError(f"{plan.name}.{plan.names[i]} is not set")
        return <object>value
    try:
        return getattr(msg, plan.names[i])
    except AttributeError:
        raise CodecError(f"{plan.name}.{plan.names[i]} is not set") from None


cdef inline int _set_field(object msg, _Plan plan, Py_ssize_t i, object value) except -1:
    cdef PyObject** slot
    if plan.offsets != NULL:
        slot = <PyObject**>((<char*><PyObject*>msg) + plan.offsets[i])
        Py_INCREF(value)
        Py_XDECREF(slot[0])
        slot[0] = <PyObject*>value
    else:
        setattr(msg, plan.names[i], value)
    return 0


# -- encoding ----------------------------------------------------------------------------

cdef struct Buf:
    char* data
    Py_ssize_t length
    Py_ssize_t cap
    bint heap


cdef int _reserve(Buf* b, Py_ssize_t extra) except -1:
    cdef Py_ssize_t need = b.length + extra
    cdef Py_ssize_t cap
    cdef char* p
    if need <= b.cap:
        return 0
    cap = b.cap * 2
    if cap < need:
        cap = need
    if b.heap:
        p = <char*>PyMem_Realloc(b.data, cap)
        if p == NULL:
            raise MemoryError()
    else:
        p = <char*>PyMem_Malloc(cap)
        if p == NULL:
            raise MemoryError()
        memcpy(p, b.data, b.length)
        b.heap = True
    b.data = p
    b.cap = cap
    return 0


cdef inline void _put(char* p, uint64_t v, int width) noexcept:
    cdef int i
    for i in range(width):
        p[i] = <char>((v >> (8 * i)) & 0xFF)


cdef int _put_uint(Buf* b, uint64_t v, int width) except -1:
    _reserve(b, width)
    _put(b.data + b.length, v, width)
    b.length += width
    return 0


cdef uint64_t _as_uint(object v, uint64_t limit, str what) except? 0xFFFFFFFFFFFFFFFF:
    """An unsigned int in 0..limit, the way struct.pack reads it (ints and __index__ objects)."""
    cdef uint64_t x
    if not PyLong_Check(v):
        try:
            v = PyNumber_Index(v)
        except TypeError:
            raise CodecError(f"{what} must be an integer, got {type(v).__name__}") from None
    try:
        x = PyLong_AsUnsignedLongLong(v)
    except OverflowError:
        raise CodecError(f"{what} = {v} is out of range 0..{limit}") from None
    if x > limit:
        raise CodecError(f"{what} = {v} is out of range 0..{limit}")
    return x


cdef int64_t _as_i64(object v, str what) except? -1:
    if not PyLong_Check(v):
        try:
            v = PyNumber_Index(v)
        except TypeError:
            raise CodecError(f"{what} must be an integer, got {type(v).__name__}") from None
    try:
        return PyLong_AsLongLong(v)
    except OverflowError:
        raise CodecError(f"{what} = {v} is out of range for i64") from None


cdef bytes _as_bytes(object v, str what):
    if PyBytes_CheckExact(v):
        return <bytes>v
    if isinstance(v, _BYTES_LIKE):
        return bytes(v)
    raise CodecError(f"{what} must be bytes, got {type(v).__name__}")


cdef int _put_bytes(Buf* b, bytes data, str what) except -1:
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    if <uint64_t>n > 0xFFFFFFFF:
        raise CodecError(f"{what}: {n} bytes do not fit a u32 length")
    _reserve(b, 4 + n)
    _put(b.data + b.length, <uint64_t>n, 4)
    memcpy(b.data + b.length + 4, PyBytes_AS_STRING(data), n)
    b.length += 4 + n
    return 0


cdef int _put_count(Buf* b, Py_ssize_t n, str what) except -1:
    if <uint64_t>n > 0xFFFFFFFF:
        raise CodecError(f"{what}: {n} items do not fit a u32 count")
    return _put_uint(b, <uint64_t>n, 4)


cdef int _encode_field(Buf* b, uint8_t kind, object v, str what) except -1:
    cdef object item
    if kind == K_U64:
        _put_uint(b, _as_uint(v, 0xFFFFFFFFFFFFFFFF, what), 8)
    elif kind == K_BYTES:
        _put_bytes(b, _as_bytes(v, what), what)
    elif kind == K_BOOL:
        if v is True:
            _put_uint(b, 1, 1)
        elif v is False:
            _put_uint(b, 0, 1)
        else:
            raise CodecError(f"{what} must be a bool, got {v!r}")
    elif kind == K_U32:
        _put_uint(b, _as_uint(v, 0xFFFFFFFF, what), 4)
    elif kind == K_I64:
        _put_uint(b, <uint64_t>_as_i64(v, what), 8)
    elif kind == K_U8:
        _put_uint(b, _as_uint(v, 0xFF, what), 1)
    elif kind == K_U64LIST:
        if not isinstance(v, _SEQUENCES):
            raise CodecError(f"{what} must be a list of u64, got {type(v).__name__}")
        _put_count(b, len(v), what)
        for item in v:
            _put_uint(b, _as_uint(item, 0xFFFFFFFFFFFFFFFF, what), 8)
    else:  # K_ENTRIES
        if not isinstance(v, _SEQUENCES):
            raise CodecError(f"{what} must be a list of (term, index, data), got {type(v).__name__}")
        _put_count(b, len(v), what)
        for item in v:
            if not isinstance(item, _SEQUENCES) or len(item) != 3:
                raise CodecError(f"{what}: an entry must be (term, index, data), got {item!r}")
            _put_uint(b, _as_uint(item[0], 0xFFFFFFFFFFFFFFFF, what), 8)
            _put_uint(b, _as_uint(item[1], 0xFFFFFFFFFFFFFFFF, what), 8)
            _put_bytes(b, _as_bytes(item[2], what), what)
    return 0


def encode(msg: Message) -> bytes:
    """Encode a message of a registered type to bytes. Values out of range raise CodecError."""
    cdef _Plan plan = <_Plan>_plans.get(type(msg))
    cdef char inline[INLINE_CAP]
    cdef Buf b
    cdef Py_ssize_t i
    cdef const unsigned char* kinds
    if plan is None:
        if not isinstance(msg, Message):
            raise CodecError(f"cannot encode {type(msg).__name__}: not a Message")
        plan = _plan_for(type(msg))
    b.data = inline
    b.length = 0
    b.cap = INLINE_CAP
    b.heap = False
    try:
        b.data[0] = <char>_VERSION
        _put(b.data + 1, plan.algo_id, 2)
        b.data[3] = <char>plan.type_id
        _put(b.data + 4, _as_uint(_field(msg, plan, 0), 0xFFFFFFFF, "cluster"), 4)
        _put(b.data + 8, _as_uint(_field(msg, plan, 1), 0xFFFFFFFF, "src"), 4)
        _put(b.data + 12, _as_uint(_field(msg, plan, 2), 0xFFFFFFFF, "dst"), 4)
        _put(b.data + 16, _as_uint(_field(msg, plan, 3), 0xFFFFFFFFFFFFFFFF, "term"), 8)
        b.length = _HEADER
        kinds = <const unsigned char*>PyBytes_AS_STRING(plan.kinds)
        for i in range(plan.nfields):
            _encode_field(&b, kinds[i], _field(msg, plan, 4 + i), <str>plan.names[4 + i])
        return PyBytes_FromStringAndSize(b.data, b.length)
    finally:
        if b.heap:
            PyMem_Free(b.data)


# -- decoding ----------------------------------------------------------------------------

cdef inline uint64_t _get(const unsigned char* p, int width) noexcept:
    cdef uint64_t v = 0
    cdef int i
    for i in range(width):
        v |= (<uint64_t>p[i]) << (8 * i)
    return v


cdef object _decode(const unsigned char* p, Py_ssize_t n):
    cdef Py_ssize_t pos
    cdef uint64_t length, count, j
    cdef uint16_t algo_id
    cdef uint8_t type_id, kind, byte
    cdef Py_ssize_t i
    cdef _Plan plan
    cdef const unsigned char* kinds
    cdef list items
    cdef object value
    if n < _HEADER:
        raise CodecError(f"frame of {n} bytes is shorter than the {_HEADER}-byte header")
    if p[0] != _VERSION:
        raise CodecError(f"protocol version {p[0]} is not {_VERSION}")
    algo_id = <uint16_t>_get(p + 1, 2)
    type_id = p[3]
    cls = _SCHEMAS.get((<long>algo_id << 8) | type_id)
    if cls is None:
        raise CodecError(f"unknown message type {algo_id}/{type_id}")
    plan = _plan_for(cls)
    msg = (<PyTypeObject*>cls).tp_new(<type>cls, <PyObject*>_EMPTY, NULL)
    _set_field(msg, plan, 0, PyLong_FromUnsignedLongLong(_get(p + 4, 4)))
    _set_field(msg, plan, 1, PyLong_FromUnsignedLongLong(_get(p + 8, 4)))
    _set_field(msg, plan, 2, PyLong_FromUnsignedLongLong(_get(p + 12, 4)))
    _set_field(msg, plan, 3, PyLong_FromUnsignedLongLong(_get(p + 16, 8)))
    pos = _HEADER
    kinds = <const unsigned char*>PyBytes_AS_STRING(plan.kinds)
    for i in range(plan.nfields):
        kind = kinds[i]
        if kind == K_U64 or kind == K_I64:
            if n - pos < 8:
                raise CodecError(f"{plan.name}: truncated at byte {pos}")
            if kind == K_U64:
                value = PyLong_FromUnsignedLongLong(_get(p + pos, 8))
            else:
                value = PyLong_FromLongLong(<int64_t>_get(p + pos, 8))
            pos += 8
        elif kind == K_BYTES:
            if n - pos < 4:
                raise CodecError(f"{plan.name}: truncated at byte {pos}")
            length = _get(p + pos, 4)
            pos += 4
            if <uint64_t>(n - pos) < length:
                raise CodecError(f"{plan.name}: bytes field of {length} runs past the end")
            value = PyBytes_FromStringAndSize(<const char*>(p + pos), <Py_ssize_t>length)
            pos += <Py_ssize_t>length
        elif kind == K_BOOL or kind == K_U8:
            if n - pos < 1:
                raise CodecError(f"{plan.name}: truncated at byte {pos}")
            byte = p[pos]
            pos += 1
            if kind == K_BOOL:
                if byte > 1:
                    raise CodecError(f"{plan.name}: bool byte {byte} is not 0 or 1")
                value = byte == 1
            else:
                value = PyLong_FromUnsignedLongLong(byte)
        elif kind == K_U32:
            if n - pos < 4:
                raise CodecError(f"{plan.name}: truncated at byte {pos}")
            value = PyLong_FromUnsignedLongLong(_get(p + pos, 4))
            pos += 4
        elif kind == K_U64LIST:
            if n - pos < 4:
                raise CodecError(f"{plan.name}: truncated at byte {pos}")
            count = _get(p + pos, 4)
            pos += 4
            if <uint64_t>(n - pos) < 8 * count:
                raise CodecError(f"{plan.name}: list of {count} runs past the end")
            items = []
            for j in range(count):
                items.append(PyLong_FromUnsignedLongLong(_get(p + pos, 8)))
                pos += 8
            value = items
        else:  # K_ENTRIES
            if n - pos < 4:
                raise CodecError(f"{plan.name}: truncated at byte {pos}")
            count = _get(p + pos, 4)
            pos += 4
            if <uint64_t>(n - pos) < 20 * count:
                raise CodecError(f"{plan.name}: {count} entries run past the end")
            items = []
            for j in range(count):
                if n - pos < 20:
                    raise CodecError(f"{plan.name}: truncated entry at byte {pos}")
                length = _get(p + pos + 16, 4)
                if <uint64_t>(n - pos - 20) < length:
                    raise CodecError(f"{plan.name}: entry data of {length} runs past the end")
                items.append((
                    PyLong_FromUnsignedLongLong(_get(p + pos, 8)),
                    PyLong_FromUnsignedLongLong(_get(p + pos + 8, 8)),
                    PyBytes_FromStringAndSize(<const char*>(p + pos + 20), <Py_ssize_t>length),
                ))
                pos += 20 + <Py_ssize_t>length
            value = items
        _set_field(msg, plan, 4 + i, value)
    if pos != n:
        raise CodecError(f"{plan.name}: {n - pos} trailing bytes")
    return msg


def decode(data) -> Message:
    """Decode bytes into a message. Anything malformed raises CodecError, nothing else."""
    cdef Py_buffer view
    if PyBytes_CheckExact(data):
        return _decode(<const unsigned char*>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
    try:
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    except (TypeError, BufferError, ValueError):
        raise CodecError(f"expected bytes, got {type(data).__name__}") from None
    try:
        return _decode(<const unsigned char*>view.buf, view.len)
    finally:
        PyBuffer_Release(&view)
