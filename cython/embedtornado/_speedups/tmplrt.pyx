# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: cdivision=True, embedsignature=True
"""Template runtime, compiled: the twin of :mod:`embedtornado._pure.tmplrt`.

Same names, results and exceptions as the readable twin, which is the
specification (``tests/test_tmplrt.py`` holds the two together)::

    from embedtornado.escape import xhtml_escape
    from embedtornado._speedups import tmplrt

    tmplrt.escaped('a < "b"', xhtml_escape)   # b'a &lt; &quot;b&quot;'

How it is fast: for an exact ``str`` with the stock `xhtml_escape`, one
scan over the string's own storage (ASCII strings) or over its UTF-8
encoding (others) counts the bytes the five entities add; a string with
nothing to escape is copied (or its encoding returned) as it is, and
otherwise the escaped bytes are written straight into a new ``bytes`` of the
final size. No intermediate ``str`` is built, and encoding errors are
raised by the same CPython codec calls as ``str.encode("utf-8")`` and
``bytes.decode("utf-8")``, so they carry the same message. Everything that
is not an exact ``str`` or ``bytes`` after ``str()`` goes through the same
Python calls as the twin.
"""

from cpython.bytes cimport (
    PyBytes_AS_STRING,
    PyBytes_CheckExact,
    PyBytes_FromStringAndSize,
    PyBytes_GET_SIZE,
)
from cpython.object cimport PyObject_Str
from cpython.unicode cimport PyUnicode_AsUTF8String, PyUnicode_CheckExact, PyUnicode_DecodeUTF8

from embedtornado.escape import utf8 as _utf8
from embedtornado.escape import xhtml_escape

__all__ = ["escaped", "join", "text", "xhtml_escape"]


cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX
    bint PyUnicode_IS_ASCII(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)


# Bytes each character adds when escaped (0 for the rest).
cdef unsigned char _EXTRA[256]
_EXTRA[:] = [0] * 256
_EXTRA[<unsigned char>b'&'] = 4   # &amp;
_EXTRA[<unsigned char>b'<'] = 3   # &lt;
_EXTRA[<unsigned char>b'>'] = 3   # &gt;
_EXTRA[<unsigned char>b'"'] = 5   # &quot;
_EXTRA[<unsigned char>b"'"] = 5   # &#x27;

cdef object _XHTML = xhtml_escape
cdef bytes _EMPTY = b""


cdef inline unsigned long long _extra(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    # 64 bits even on 32-bit builds: up to 5 extra bytes per input byte.
    cdef Py_ssize_t i
    cdef unsigned long long extra = 0
    for i in range(n):
        extra += _EXTRA[p[i]]
    return extra


cdef inline bint _all_ascii(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef unsigned char acc = 0
    for i in range(n):
        acc |= p[i]
    return acc < 0x80


cdef bytes _write_escaped(const unsigned char* p, Py_ssize_t n, unsigned long long extra):
    """A new bytes of ``n + extra`` bytes: ``p[:n]`` with the five characters escaped."""
    if extra > <unsigned long long>(PY_SSIZE_T_MAX - n):
        raise MemoryError()  # what the twin's bytes.replace raises for such a size
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n + <Py_ssize_t>extra)
    cdef unsigned char* q = <unsigned char*>PyBytes_AS_STRING(out)
    cdef Py_ssize_t i
    cdef unsigned char c
    for i in range(n):
        c = p[i]
        if _EXTRA[c] == 0:
            q[0] = c
            q += 1
        elif c == b'&':
            q[0] = b'&'; q[1] = b'a'; q[2] = b'm'; q[3] = b'p'; q[4] = b';'
            q += 5
        elif c == b'<':
            q[0] = b'&'; q[1] = b'l'; q[2] = b't'; q[3] = b';'
            q += 4
        elif c == b'>':
            q[0] = b'&'; q[1] = b'g'; q[2] = b't'; q[3] = b';'
            q += 4
        elif c == b'"':
            q[0] = b'&'; q[1] = b'q'; q[2] = b'u'; q[3] = b'o'; q[4] = b't'; q[5] = b';'
            q += 6
        else:  # "'"
            q[0] = b'&'; q[1] = b'#'; q[2] = b'x'; q[3] = b'2'; q[4] = b'7'; q[5] = b';'
            q += 6
    return out


cdef bytes _escape_bytes(bytes data):
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef unsigned long long extra = _extra(p, n)
    if extra == 0:
        return data
    return _write_escaped(p, n, extra)


cdef bytes _escape_str(str value):
    cdef const unsigned char* p
    cdef Py_ssize_t n
    cdef unsigned long long extra
    if PyUnicode_IS_ASCII(value):
        # The storage of an ASCII string is its UTF-8 encoding.
        p = <const unsigned char*>PyUnicode_DATA(value)
        n = PyUnicode_GET_LENGTH(value)
        extra = _extra(p, n)
        if extra == 0:
            return PyBytes_FromStringAndSize(<char*>p, n)
        return _write_escaped(p, n, extra)
    return _escape_bytes(PyUnicode_AsUTF8String(value))


cpdef object text(object value):
    """Return ``value`` as the UTF-8 ``bytes`` a ``{% raw %}`` expression writes.

    ``str`` is encoded (lone surrogates raise `UnicodeEncodeError`), ``bytes``
    pass through unchanged (they are not checked), and anything else,
    ``None`` included, is converted with ``str()`` first.
    """
    if PyUnicode_CheckExact(value):
        return PyUnicode_AsUTF8String(value)
    if PyBytes_CheckExact(value):
        return <bytes>value
    if isinstance(value, (str, bytes)):
        return _utf8(value)
    value = PyObject_Str(value)
    if PyUnicode_CheckExact(value):
        return PyUnicode_AsUTF8String(value)
    return _utf8(value)


cpdef object escaped(object value, object escape):
    """Return what ``{{ value }}`` writes when the template's autoescape is ``escape``.

    That is ``utf8(escape(text(value)))``; with the stock `xhtml_escape` and
    an exact ``str`` or ``bytes`` value it is done in one pass (``bytes``
    must then be valid UTF-8, as `xhtml_escape` decodes them).
    """
    cdef const unsigned char* p
    cdef Py_ssize_t n
    if escape is _XHTML:
        if PyUnicode_CheckExact(value):
            return _escape_str(<str>value)
        if PyBytes_CheckExact(value):
            p = <const unsigned char*>PyBytes_AS_STRING(value)
            n = PyBytes_GET_SIZE(value)
            if not _all_ascii(p, n):
                PyUnicode_DecodeUTF8(<char*>p, n, "strict")  # raises as bytes.decode
            return _escape_bytes(<bytes>value)
        if not isinstance(value, (str, bytes)):
            # str() of a number, None, or an object: usually an exact str.
            value = PyObject_Str(value)
            if PyUnicode_CheckExact(value):
                return _escape_str(<str>value)
    return _utf8(escape(text(value)))


def join(chunks):
    """Concatenate the output buffer of a template (``b"".join``)."""
    return _EMPTY.join(chunks)
