# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: cdivision=True, embedsignature=True
"""JSON for responses, compiled: the twin of :mod:`embedtornado._pure.jsonenc`.

Same names and results as the readable twin, which is the specification
(``tests/test_jsonenc.py`` holds the two together): ``dumps(value)`` is
``escape.json_encode(value)`` as ASCII bytes for a value built from the exact
types the twin lists, and ``None`` for anything else.

How it is fast: one recursive walk writes the text straight into a growing C
buffer, copied once into the result. The walk gives up (``None``) at the
first value that is not of a taken type, before any Python code could run,
so nothing it reads can change under it. Strings are escaped as ``json``'s
``ensure_ascii`` encoder escapes them (the same escapes, lower-case hex,
surrogate pairs above U+FFFF), with ``</`` written ``<\\/`` on the way;
floats are written by ``PyOS_double_to_string`` with the arguments
``float.__repr__`` uses.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.dict cimport PyDict_Next
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.math cimport isinf, isnan
from libc.string cimport memcpy, strlen

__all__ = ["MAX_DEPTH", "dumps"]

MAX_DEPTH = 32
cdef int _MAX_DEPTH = MAX_DEPTH


cdef extern from "Python.h":
    int PyUnicode_READY(object o) except -1
    unsigned int PyUnicode_KIND(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    Py_UCS4 PyUnicode_READ(int kind, void* data, Py_ssize_t index)
    long long PyLong_AsLongLongAndOverflow(object o, int* overflow) except? -1
    double PyFloat_AS_DOUBLE(object o)
    char* PyOS_double_to_string(double val, char format_code, int precision, int flags,
                                int* ptype) except NULL
    int Py_DTSF_ADD_DOT_0


cdef struct Out:
    char* p
    Py_ssize_t n
    Py_ssize_t cap


cdef int _grow(Out* o, Py_ssize_t extra) except -1:
    cdef Py_ssize_t cap = o.cap * 2
    cdef char* p
    if cap < o.n + extra:
        cap = o.n + extra + 64
    p = <char*>PyMem_Realloc(o.p, cap)
    if p == NULL:
        raise MemoryError()
    o.p = p
    o.cap = cap
    return 0


cdef inline int _put(Out* o, const char* s, Py_ssize_t k) except -1:
    if o.n + k > o.cap:
        _grow(o, k)
    memcpy(o.p + o.n, s, k)
    o.n += k
    return 0


cdef const char* _HEX = b"0123456789abcdef"

# 0: the byte is written as it is; 1: it needs an escape (or, for "/", a look back).
cdef unsigned char _SPECIAL[128]
cdef int _c
for _c in range(128):
    _SPECIAL[_c] = 1 if _c < 0x20 or _c == 0x22 or _c == 0x5c or _c == 0x2f else 0


cdef inline void _put_u(char* w, unsigned int c) noexcept:
    w[0] = 92  # backslash
    w[1] = 117  # u
    w[2] = _HEX[(c >> 12) & 15]
    w[3] = _HEX[(c >> 8) & 15]
    w[4] = _HEX[(c >> 4) & 15]
    w[5] = _HEX[c & 15]


cdef int _put_str(Out* o, object s) except -1:
    cdef Py_ssize_t i, n, start
    cdef unsigned int c, prev = 0
    cdef int kind
    cdef void* data
    cdef char* w
    PyUnicode_READY(s)
    kind = PyUnicode_KIND(s)
    data = PyUnicode_DATA(s)
    n = PyUnicode_GET_LENGTH(s)
    # Worst case 12 bytes a character (a surrogate pair); reserve for the common case
    # (plain ASCII) and grow as escapes need.
    if o.n + n + 2 > o.cap:
        _grow(o, n + 2)
    o.p[o.n] = 34
    o.n += 1
    i = 0
    while i < n:
        if kind == 1:
            # A run of bytes written as they are.
            start = i
            while i < n:
                c = (<unsigned char*>data)[i]
                if c >= 0x7f or _SPECIAL[c]:
                    if c != 0x2f or prev == 0x3c:  # "/" only after "<"
                        break
                prev = c
                i += 1
            if i > start:
                _put(o, <char*>data + start, i - start)
            if i >= n:
                break
        c = <unsigned int>PyUnicode_READ(kind, data, i)
        i += 1
        if o.n + 12 > o.cap:
            _grow(o, 12)
        w = o.p + o.n
        if c == 0x22:
            w[0] = 92; w[1] = 34; o.n += 2
        elif c == 0x5c:
            w[0] = 92; w[1] = 92; o.n += 2
        elif c == 0x2f:
            if prev == 0x3c:
                w[0] = 92; w[1] = 47; o.n += 2
            else:
                w[0] = 47; o.n += 1
        elif c == 0x0a:
            w[0] = 92; w[1] = 110; o.n += 2
        elif c == 0x0d:
            w[0] = 92; w[1] = 114; o.n += 2
        elif c == 0x09:
            w[0] = 92; w[1] = 116; o.n += 2
        elif c == 0x08:
            w[0] = 92; w[1] = 98; o.n += 2
        elif c == 0x0c:
            w[0] = 92; w[1] = 102; o.n += 2
        elif c < 0x20 or c >= 0x7f:
            if c >= 0x10000:
                c -= 0x10000
                _put_u(w, 0xd800 | ((c >> 10) & 0x3ff))
                _put_u(w + 6, 0xdc00 | (c & 0x3ff))
                o.n += 12
                c += 0x10000
            else:
                _put_u(w, c)
                o.n += 6
        else:
            w[0] = <char>c; o.n += 1
        prev = c
    _put(o, b'"', 1)
    return 0


cdef int _put_float(Out* o, object value) except -1:
    cdef double x = PyFloat_AS_DOUBLE(value)
    cdef char* s
    if isnan(x):
        _put(o, b"NaN", 3)
    elif isinf(x):
        if x > 0:
            _put(o, b"Infinity", 8)
        else:
            _put(o, b"-Infinity", 9)
    else:
        s = PyOS_double_to_string(x, b'r', 0, Py_DTSF_ADD_DOT_0, NULL)
        try:
            _put(o, s, strlen(s))
        finally:
            PyMem_Free(s)
    return 0


cdef int _put_int(Out* o, object value) except -1:
    # 0: written; 1: outside the range the twin takes.
    cdef int overflow = 0
    cdef long long v = PyLong_AsLongLongAndOverflow(value, &overflow)
    cdef unsigned long long u
    cdef char tmp[24]
    cdef int k = 24
    if overflow:
        return 1
    if v < 0:
        u = <unsigned long long>(-(v + 1)) + 1
    else:
        u = <unsigned long long>v
    while True:
        k -= 1
        tmp[k] = <char>(48 + u % 10)
        u //= 10
        if u == 0:
            break
    if v < 0:
        k -= 1
        tmp[k] = 45  # "-"
    _put(o, tmp + k, 24 - k)
    return 0


cdef int _put_value(Out* o, object value, int depth) except -1:
    # 0: written; 1: not a value the twin takes (the caller gives up).
    cdef type kind = type(value)
    cdef Py_ssize_t i, n, pos
    cdef PyObject* k
    cdef PyObject* v
    cdef bint first
    if kind is str:
        return _put_str(o, value)
    if kind is int:
        return _put_int(o, value)
    if value is None:
        return _put(o, b"null", 4)
    if kind is bool:
        if value is True:
            return _put(o, b"true", 4)
        return _put(o, b"false", 5)
    if kind is float:
        return _put_float(o, value)
    if kind is dict:
        if depth >= _MAX_DEPTH:
            return 1
        _put(o, b"{", 1)
        pos = 0
        first = True
        while PyDict_Next(value, &pos, &k, &v):
            if type(<object>k) is not str:
                return 1
            if not first:
                _put(o, b", ", 2)
            first = False
            _put_str(o, <object>k)
            _put(o, b": ", 2)
            if _put_value(o, <object>v, depth + 1):
                return 1
        return _put(o, b"}", 1)
    if kind is list or kind is tuple:
        if depth >= _MAX_DEPTH:
            return 1
        _put(o, b"[", 1)
        n = PyList_GET_SIZE(value) if kind is list else PyTuple_GET_SIZE(value)
        for i in range(n):
            if i:
                _put(o, b", ", 2)
            v = PyList_GET_ITEM(value, i) if kind is list else PyTuple_GET_ITEM(value, i)
            if _put_value(o, <object>v, depth + 1):
                return 1
        return _put(o, b"]", 1)
    return 1


def dumps(value):
    """``escape.json_encode(value)`` as ASCII bytes, or ``None`` (see the twin)."""
    cdef Out o
    o.n = 0
    o.cap = 256
    o.p = <char*>PyMem_Malloc(o.cap)
    if o.p == NULL:
        raise MemoryError()
    try:
        if _put_value(&o, value, 0):
            return None
        return PyBytes_FromStringAndSize(o.p, o.n)
    finally:
        PyMem_Free(o.p)
