# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: cdivision=True, embedsignature=True
"""HTTP/1.1 request parser, compiled: the twin of :mod:`embedtornado._pure.httpparse`.

Same API, events, attributes and exceptions (same class, same message) as the
readable twin, which is the specification; ``tests/test_httpparse_differential.py``
holds the two together::

    p = RequestParser(max_body_size=1 << 20)
    p.feed(b"POST /f HTTP/1.1\\r\\nHost: a\\r\\nContent-Length: 3\\r\\n\\r\\nabc")
    assert p.next_event() == HEAD      # p.method, p.target, p.headers, ...
    assert p.next_event() == DATA      # p.data == b"abc"
    assert p.next_event() == END
    assert p.next_event() == NEED_DATA

How it is fast (picohttpparser's approach): the input sits in one C buffer
(``malloc``/``realloc``/``memmove``) that always ends with a NUL sentinel, so
the inner loops scan ``const unsigned char*`` through 256-entry class tables
without bounds checks (NUL is in no table). A head that arrives complete is
parsed in one pass that builds the result as it goes; anything unusual
(incomplete head, any error, any limit) makes that pass give up without side
effects, and the head is then framed and parsed again by the careful path,
which raises exactly what the twin raises, in the twin's order. Field values
are skipped eight bytes at a time (SWAR); common header names are matched
case-blind a word at a time and shared as interned ``str`` objects, others are
capitalised straight into a new ``str``; per field there is one ``str`` for
the value, one list and one ``PyDict_SetDefault``.

Lengths are ``Py_ssize_t`` (limits are clamped to half its range), body sizes
``unsigned long long`` (chunk sizes have up to 16 hex digits) and the chunked
total is summed in 128 bits, so every limit compares exactly like the twin's
Python ints, on a 32-bit (armhf) build as on a 64-bit one.

One deliberate difference: ``feed()`` or ``take_buffer()`` called while
``next_event()`` runs (only possible from a finalizer run by the garbage
collector) raises ``RuntimeError`` instead of moving the buffer under the parse.
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport (
    PyBytes_AS_STRING,
    PyBytes_CheckExact,
    PyBytes_FromStringAndSize,
    PyBytes_GET_SIZE,
)
from cpython.dict cimport PyDict_Next
from cpython.list cimport PyList_CheckExact, PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_CheckExact
from cpython.object cimport PyObject
from cpython.unicode cimport (
    PyUnicode_1BYTE_DATA,
    PyUnicode_1BYTE_KIND,
    PyUnicode_GET_LENGTH,
    PyUnicode_KIND,
)
from libc.stdint cimport uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memchr, memcmp, memcpy, memmove

import math as _math
import sys as _sys
from operator import index as _index

from embedtornado._httpdefs import (
    DATA,
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MAX_CHUNK_LINE,
    DEFAULT_MAX_HEADER_COUNT,
    DEFAULT_MAX_HEADER_SIZE,
    DEFAULT_MAX_REQUEST_LINE,
    END,
    HEAD,
    NEED_DATA,
    CHUNK_NOT_TERMINATED,
    CHUNKED_TOO_LARGE,
    CONTENT_LENGTH_TOO_LONG,
    FOLDED_HEADER,
    INVALID_CHUNK_SIZE,
    MALFORMED_REQUEST_LINE,
    MISSING_HOST,
    NO_COLON,
    TE_AND_CL,
    HTTPInputError,
    HTTPVersionNotSupported,
    PayloadTooLarge,
    RequestHeaderFieldsTooLarge,
    RequestURITooLong,
    TransferCodingNotImplemented,
    bad_content_length,
    bad_host,
    invalid_header_name,
    invalid_header_value,
    unexpected_version,
    unsupported_transfer_encoding,
)

__all__ = [
    "RequestParser", "normalize_header_name", "encode_head", "split_query",
    "NEED_DATA", "HEAD", "DATA", "END",
]


cdef extern from *:
    """
    /* Skip 8-byte words of field-value text: no byte < 0x20 (controls, and HTAB, which the
       byte loop after this accepts) and no DEL. Exact: a word is only skipped when none of
       its bytes is flagged (bit-twiddling "hasless" and "haszero"). */
    static inline Py_ssize_t et_skip_value_words(const unsigned char *b, Py_ssize_t i,
                                                 Py_ssize_t n, uint64_t *high) {
        uint64_t h = 0;
        while (n - i >= 8) {
            uint64_t x, y;
            memcpy(&x, b + i, 8);
            y = x ^ 0x7f7f7f7f7f7f7f7fULL;
            if (((x - 0x2020202020202020ULL) & ~x & 0x8080808080808080ULL)
                | ((y - 0x0101010101010101ULL) & ~y & 0x8080808080808080ULL))
                break;
            h |= x;
            i += 8;
        }
        *high = (h & 0x8080808080808080ULL) ? 0x80 : 0;  /* any byte >= 0x80 */
        return i;
    }
    /* A str from latin-1 bytes, ASCII known or not: like PyUnicode_DecodeLatin1. */
    static inline PyObject *et_latin1(const unsigned char *s, Py_ssize_t n, int ascii) {
        PyObject *u;
        if (!ascii || n < 2)
            return PyUnicode_DecodeLatin1((const char *)s, n, NULL);
        u = PyUnicode_New(n, 127);
        if (u)
            memcpy(PyUnicode_1BYTE_DATA(u), s, n);
        return u;
    }
    /* s[:n] equals the name nm[:n] ignoring ASCII case where mk has 0x20 (its letters).
       nm and mk are padded to whole words, mk with 0xff: the up to 7 bytes read past
       s[n - 1] (the input buffer keeps 8 spare bytes) are ignored. */
    static inline int et_name_eq(const unsigned char *s, const unsigned char *nm,
                                 const unsigned char *mk, Py_ssize_t n) {
        Py_ssize_t i;
        uint64_t a, b, m;
        for (i = 0; i < n; i += 8) {
            memcpy(&a, s + i, 8);
            memcpy(&b, nm + i, 8);
            memcpy(&m, mk + i, 8);
            if ((a ^ b) & ~m)
                return 0;
        }
        return 1;
    }
    #if PY_VERSION_HEX < 0x030D0000
    #define et_new_dict(n) _PyDict_NewPresized(n)
    #else
    #define et_new_dict(n) PyDict_New()
    #endif
    """
    Py_ssize_t et_skip_value_words(const unsigned char* b, Py_ssize_t i, Py_ssize_t n,
                                   uint64_t* high)
    object et_latin1(const unsigned char* s, Py_ssize_t n, bint ascii)
    bint et_name_eq(const unsigned char* s, const unsigned char* nm, const unsigned char* mk,
                    Py_ssize_t n)
    dict et_new_dict(Py_ssize_t n)


cdef extern from "Python.h":
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    object PyUnicode_DecodeLatin1(const char* s, Py_ssize_t size, const char* errors)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    PyObject* PyDict_SetDefault(object mp, object key, object defaultobj) except NULL
    int PyList_Append(object lst, object item) except -1
    Py_ssize_t PyDict_GET_SIZE(object d)
    long long PyLong_AsLongLongAndOverflow(object o, int* overflow) except? -1
    const Py_ssize_t PY_SSIZE_T_MAX


# C mirrors of the event ints in _httpdefs (checked at import below).
cdef enum:
    EV_NEED_DATA = 0
    EV_HEAD = 1
    EV_DATA = 2
    EV_END = 3

# parser states (as in the twin)
cdef enum:
    S_HEAD = 0
    S_BODY_LENGTH = 1
    S_CHUNK_SIZE = 2
    S_CHUNK_DATA = 3
    S_CHUNK_CRLF = 4
    S_TRAILER = 5
    S_END = 6
    S_ERROR = 7

# byte classes, one bit each in CLS[256]
cdef enum:
    C_TCHAR = 1     # tchar (RFC 9110 5.6.2)
    C_TARGET = 2    # request-target byte: 0x21-0x7e, 0x80-0xff
    C_VALUE = 4     # field-value byte: HTAB, SP, VCHAR, obs-text (also quoted-pair's 2nd byte)
    C_REGNAME = 8   # Host reg-name byte: unreserved / sub-delims
    C_IPLIT = 16    # Host IP-literal byte (between the brackets)
    C_HEX = 32      # HEXDIG
    C_QDTEXT = 64   # qdtext of a quoted chunk-extension value
    C_DIGIT = 128

cdef unsigned char CLS[256]
cdef unsigned char LOWER[256]   # ASCII lower-casing (str.lower() on latin-1 agrees for ASCII
cdef unsigned char UPPER[256]   # targets: no non-ASCII latin-1 character maps into ASCII)
cdef unsigned char HEXVAL[256]

cdef enum:
    INITIAL_CAP = 1024          # first buffer size
    SLACK = 8                   # spare bytes after the sentinel: word loads may overrun
    SHRINK_CAP = 262144         # an idle buffer larger than this is given back
    MAX_NAMES = 96
    NAME_SLOTS = 256            # power of two, well over MAX_NAMES

#: clamp for limits given as Python ints: far beyond any buffer, far from overflow
cdef Py_ssize_t BIG = PY_SSIZE_T_MAX // 2
_U128_MAX = (1 << 128) - 1


cdef void _init_tables():
    cdef int c
    for c in range(256):
        CLS[c] = 0
        LOWER[c] = c + 32 if 65 <= c <= 90 else c
        UPPER[c] = c - 32 if 97 <= c <= 122 else c
        HEXVAL[c] = 0
        if 0x21 <= c <= 0x7E or c >= 0x80:
            CLS[c] |= C_TARGET
        if c == 0x09 or 0x20 <= c <= 0x7E or c >= 0x80:
            CLS[c] |= C_VALUE
        if c == 0x09 or c == 0x20 or c == 0x21 or 0x23 <= c <= 0x5B or 0x5D <= c <= 0x7E \
                or c >= 0x80:
            CLS[c] |= C_QDTEXT
        if 48 <= c <= 57:
            CLS[c] |= C_DIGIT | C_HEX
            HEXVAL[c] = c - 48
        if 65 <= c <= 70 or 97 <= c <= 102:
            CLS[c] |= C_HEX
            HEXVAL[c] = (c | 32) - 87
    for c in b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz":
        CLS[c] |= C_TCHAR
    for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=":
        CLS[c] |= C_REGNAME | C_IPLIT
    CLS[58] |= C_IPLIT  # ':'


_init_tables()
assert (NEED_DATA, HEAD, DATA, END) == (EV_NEED_DATA, EV_HEAD, EV_DATA, EV_END)


def normalize_header_name(name: str) -> str:
    """``"content-TYPE"`` -> ``"Content-Type"``: each dash-separated word capitalised."""
    return "-".join([w.capitalize() for w in name.split("-")])


cdef extern from "Python.h":
    int PyUnicode_READY(object o) except -1
    bint PyUnicode_IS_ASCII(object o)
    object PyUnicode_DecodeASCII(const char* s, Py_ssize_t size, const char* errors)


# --- the response head -----------------------------------------------------------------

cdef inline Py_ssize_t _latin1_line_len(object s) except -2:
    # Length of s as Latin-1 text for a header line; -1 if it is not an exact str of one-byte
    # kind (every character below 256) or holds a CR or LF.
    cdef Py_ssize_t n
    cdef const char* p
    if type(s) is not str:
        return -1
    PyUnicode_READY(s)  # a no-op but for legacy (Python 3.11 wstr) strings
    if PyUnicode_KIND(s) != PyUnicode_1BYTE_KIND:
        return -1
    n = PyUnicode_GET_LENGTH(s)
    p = <const char*>PyUnicode_1BYTE_DATA(s)
    if memchr(p, 13, n) != NULL or memchr(p, 10, n) != NULL:
        return -1
    return n


def encode_head(bytes status not None, dict fields not None, bytes tail not None):
    """``status`` + ``Name: value\\r\\n`` for each value of ``fields`` + ``\\r\\n`` + ``tail``.

    Two passes over ``fields`` (check and measure, then copy) into one bytes
    object. ``None`` in the same cases as the twin (see there).
    """
    cdef Py_ssize_t pos = 0, total, n, m, i, count
    cdef PyObject* k
    cdef PyObject* v
    cdef object name, values, value, out
    cdef char* w
    cdef char* end
    total = PyBytes_GET_SIZE(status) + 2 + PyBytes_GET_SIZE(tail)
    while PyDict_Next(fields, &pos, &k, &v):
        name = <object>k
        values = <object>v
        if type(name) is not str or not PyList_CheckExact(values):
            return None
        count = PyList_GET_SIZE(values)
        if count == 0:
            continue  # a name without values writes nothing (and is not looked at)
        n = _latin1_line_len(name)
        if n < 0:
            return None
        for i in range(count):
            value = <object>PyList_GET_ITEM(values, i)
            m = _latin1_line_len(value)
            if m < 0:
                return None
            total += n + 4 + m
    out = PyBytes_FromStringAndSize(NULL, total)
    w = PyBytes_AS_STRING(out)
    end = w + total
    memcpy(w, PyBytes_AS_STRING(status), PyBytes_GET_SIZE(status))
    w += PyBytes_GET_SIZE(status)
    pos = 0
    while PyDict_Next(fields, &pos, &k, &v):
        name = <object>k
        values = <object>v
        n = PyUnicode_GET_LENGTH(name)
        count = PyList_GET_SIZE(values)
        for i in range(count):
            value = <object>PyList_GET_ITEM(values, i)
            # The lists cannot have changed between the passes (no Python code ran), but
            # the copy stays inside the buffer whatever happens.
            if w + n + 4 + PyUnicode_GET_LENGTH(value) + 2 > end:
                raise RuntimeError("header fields changed while being written")
            memcpy(w, PyUnicode_1BYTE_DATA(name), n)
            w += n
            w[0] = 58  # ':'
            w[1] = 32
            w += 2
            memcpy(w, PyUnicode_1BYTE_DATA(value), PyUnicode_GET_LENGTH(value))
            w += PyUnicode_GET_LENGTH(value)
            w[0] = 13
            w[1] = 10
            w += 2
    w[0] = 13
    w[1] = 10
    w += 2
    memcpy(w, PyBytes_AS_STRING(tail), PyBytes_GET_SIZE(tail))
    return out


# --- the query string ------------------------------------------------------------------

def split_query(query, limit):
    """The query string's ``(arguments, query_arguments)`` when it has no escapes (see the twin).

    One pass over the ASCII storage of ``query``: the names are new ``str``
    objects and the values new ``bytes`` sliced straight from it.
    """
    cdef Py_ssize_t n, i, start, end, eq, fields
    cdef const char* p
    cdef const char* hit
    cdef object name, raw, values
    cdef dict arguments, query_arguments
    if type(query) is not str:
        return None
    PyUnicode_READY(query)
    if not PyUnicode_IS_ASCII(query):
        return None
    n = PyUnicode_GET_LENGTH(query)
    p = <const char*>PyUnicode_1BYTE_DATA(query)
    if memchr(p, 37, n) != NULL or memchr(p, 43, n) != NULL:  # "%", "+"
        return None
    fields = 1
    i = 0
    while True:
        hit = <const char*>memchr(p + i, 38, n - i)  # "&"
        if hit == NULL:
            break
        fields += 1
        i = hit - p + 1
    if limit is not None and fields > limit:
        raise ValueError("Max number of fields exceeded")
    arguments = {}
    query_arguments = {}
    start = 0
    while start <= n:
        hit = <const char*>memchr(p + start, 38, n - start) if start < n else NULL
        end = hit - p if hit != NULL else n
        if end > start:
            hit = <const char*>memchr(p + start, 61, end - start)  # "="
            eq = hit - p if hit != NULL else end
            name = PyUnicode_DecodeASCII(p + start, eq - start, NULL)
            if eq < end:
                raw = PyBytes_FromStringAndSize(p + eq + 1, end - eq - 1)
            else:
                raw = b""
            values = arguments.get(name)
            if values is None:
                arguments[name] = [raw]
                query_arguments[name] = [raw]
            else:
                (<list>values).append(raw)
                (<list>query_arguments[name]).append(raw)
        start = end + 1
    return arguments, query_arguments


# --- shared str objects: common header names, methods, versions ------------------------

# The first five are the fields the head logic reads; their index is their "special" slot.
cdef enum:
    SP_HOST = 0
    SP_TE = 1
    SP_CL = 2
    SP_CONNECTION = 3
    SP_EXPECT = 4
    N_SPECIAL = 5

_COMMON_NAMES = [
    "Host", "Transfer-Encoding", "Content-Length", "Connection", "Expect",
    "User-Agent", "Accept", "Accept-Language", "Accept-Encoding", "Accept-Charset",
    "Referer", "Cookie", "Cache-Control", "Pragma", "Upgrade-Insecure-Requests", "Origin",
    "Content-Type", "Content-Encoding", "Authorization", "If-Modified-Since",
    "If-None-Match", "If-Match", "If-Range", "If-Unmodified-Since", "Range", "Upgrade",
    "DNT", "TE", "Trailer", "Keep-Alive", "Priority", "Forwarded", "Via", "Date",
    "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-User",
    "Sec-CH-UA", "Sec-CH-UA-Mobile", "Sec-CH-UA-Platform", "Sec-GPC",
    "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions",
    "Sec-WebSocket-Protocol", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
    "X-Forwarded-Port", "X-Real-IP", "X-Requested-With", "X-Xsrftoken", "X-Csrftoken",
    "X-Request-Id", "Proxy-Authorization", "Access-Control-Request-Method",
    "Access-Control-Request-Headers", "Content-Disposition", "Content-Range",
]
_name_keep = []   # keeps the str and bytes objects the C arrays point into alive
cdef PyObject* NAME_OBJ[MAX_NAMES]
cdef const unsigned char* NAME_PTR[MAX_NAMES]   # the normalised name
cdef const unsigned char* NAME_MASK[MAX_NAMES]  # 0x20 under each letter: case is ignored there
cdef Py_ssize_t NAME_LEN[MAX_NAMES]
cdef unsigned char NAME_TAB[NAME_SLOTS]  # open addressing: name index + 1, 0 = empty


cdef inline unsigned int _name_hash(const unsigned char* s, Py_ssize_t n):
    # n >= 1. Case-blind (| 0x20) on the first, middle and last byte, plus the length.
    return (<unsigned int>n * 7 + (s[0] | 32) * 3u + (s[n >> 1] | 32)
            + (s[n - 1] | 32) * 5u) & (NAME_SLOTS - 1)


cdef void _init_names():
    cdef int i
    cdef unsigned int h
    names = []
    for raw in _COMMON_NAMES:
        s = _sys.intern(normalize_header_name(raw))
        if s not in names:
            names.append(s)
    assert len(names) <= MAX_NAMES and names[:N_SPECIAL] == [
        "Host", "Transfer-Encoding", "Content-Length", "Connection", "Expect"]
    for i, s in enumerate(names):
        raw = s.encode("ascii")
        pad = (8 - len(raw) % 8) % 8
        b = raw + b"\0" * pad
        mask = bytes([32 if chr(c).isalpha() else 0 for c in raw]) + b"\xff" * pad
        _name_keep.append((s, b, mask))
        NAME_OBJ[i] = <PyObject*>s
        NAME_PTR[i] = <const unsigned char*>PyBytes_AS_STRING(b)
        NAME_MASK[i] = <const unsigned char*>PyBytes_AS_STRING(mask)
        NAME_LEN[i] = len(raw)
        h = _name_hash(NAME_PTR[i], NAME_LEN[i])
        while NAME_TAB[h]:
            h = (h + 1) & (NAME_SLOTS - 1)
        NAME_TAB[h] = i + 1


_init_names()

cdef str V11 = _sys.intern("HTTP/1.1")
cdef str V10 = _sys.intern("HTTP/1.0")
cdef str M_GET = _sys.intern("GET")
cdef str M_POST = _sys.intern("POST")
cdef str M_PUT = _sys.intern("PUT")
cdef str M_HEAD = _sys.intern("HEAD")
cdef str M_PATCH = _sys.intern("PATCH")
cdef str M_DELETE = _sys.intern("DELETE")
cdef str M_OPTIONS = _sys.intern("OPTIONS")


cdef inline str _method_str(const unsigned char* s, Py_ssize_t n):
    if n == 3:
        if memcmp(s, b"GET", 3) == 0:
            return M_GET
        if memcmp(s, b"PUT", 3) == 0:
            return M_PUT
    elif n == 4:
        if memcmp(s, b"POST", 4) == 0:
            return M_POST
        if memcmp(s, b"HEAD", 4) == 0:
            return M_HEAD
    elif n == 5:
        if memcmp(s, b"PATCH", 5) == 0:
            return M_PATCH
    elif n == 6:
        if memcmp(s, b"DELETE", 6) == 0:
            return M_DELETE
    elif n == 7:
        if memcmp(s, b"OPTIONS", 7) == 0:
            return M_OPTIONS
    return PyUnicode_DecodeLatin1(<const char*>s, n, NULL)


cdef inline object _make_name(const unsigned char* s, Py_ssize_t n, int* special):
    """The normalised name for the token s[:n] (what ``normalize_header_name`` returns)."""
    cdef unsigned char* out
    cdef Py_ssize_t i
    cdef int k
    cdef unsigned int h = _name_hash(s, n)
    cdef object u
    special[0] = -1
    # A common name in any case: its shared, interned str.
    while NAME_TAB[h]:
        k = NAME_TAB[h] - 1
        if NAME_LEN[k] == n and et_name_eq(s, NAME_PTR[k], NAME_MASK[k], n):
            if k < N_SPECIAL:
                special[0] = k
            return <object>NAME_OBJ[k]
        h = (h + 1) & (NAME_SLOTS - 1)
    # Otherwise capitalise each dash-separated word straight into a new ASCII str.
    u = PyUnicode_New(n, 127)
    out = <unsigned char*>PyUnicode_DATA(u)
    out[0] = UPPER[s[0]]
    for i in range(1, n):
        out[i] = UPPER[s[i]] if s[i - 1] == 45 else LOWER[s[i]]
    return u


# --- small validators over latin-1 text (str values of the head) -----------------------

cdef inline const unsigned char* _u8(str s):
    # every value str here was made by PyUnicode_DecodeLatin1: one byte per character
    return <const unsigned char*>PyUnicode_DATA(s)


cdef inline bint _ieq(const unsigned char* s, const char* lower, Py_ssize_t n):
    cdef Py_ssize_t i
    for i in range(n):
        if LOWER[s[i]] != <unsigned char>lower[i]:
            return False
    return True


cdef inline Py_ssize_t _elem_end(const unsigned char* s, Py_ssize_t i, Py_ssize_t n):
    while i < n and s[i] != 44:  # ','
        i += 1
    return i


cdef bint _host_ok(str host):
    """``_HOST.fullmatch``: IP-literal or reg-name (with %XX), then an optional ``:port``."""
    cdef const unsigned char* s = _u8(host)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(host), i = 0
    if n and s[0] == 91:  # '['
        i = 1
        while i < n and CLS[s[i]] & C_IPLIT:
            i += 1
        if i == 1 or i >= n or s[i] != 93:  # ']'
            return False
        i += 1
    else:
        while i < n:
            if CLS[s[i]] & C_REGNAME:
                i += 1
            elif s[i] == 37 and n - i > 2 and CLS[s[i + 1]] & C_HEX and CLS[s[i + 2]] & C_HEX:
                i += 3
            else:
                break
    if i == n:
        return True
    if s[i] != 58:  # ':'
        return False
    i += 1
    while i < n and CLS[s[i]] & C_DIGIT:
        i += 1
    return i == n


cdef int _connection_flags(str value):
    """1 if the comma list has ``close``, 2 if it has ``keep-alive`` (case-insensitive)."""
    cdef const unsigned char* s = _u8(value)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(value), i = 0, j, a, z
    cdef int flags = 0
    while True:
        j = _elem_end(s, i, n)
        a = i
        z = j
        while a < z and (s[a] == 32 or s[a] == 9):
            a += 1
        while z > a and (s[z - 1] == 32 or s[z - 1] == 9):
            z -= 1
        if z - a == 5 and _ieq(s + a, "close", 5):
            flags |= 1
        elif z - a == 10 and _ieq(s + a, "keep-alive", 10):
            flags |= 2
        if j >= n:
            return flags
        i = j + 1


cdef inline Py_ssize_t _find_crlf(const unsigned char* s, Py_ssize_t n) noexcept:
    """Offset of the first CR LF pair wholly inside s[0:n], or -1."""
    cdef Py_ssize_t i = 0
    cdef const unsigned char* cr
    while i + 1 < n:
        cr = <const unsigned char*>memchr(s + i, 13, <size_t>(n - 1 - i))
        if cr == NULL:
            return -1
        i = cr - s
        if s[i + 1] == 10:
            return i
        i += 1
    return -1


cdef bint _chunk_line(const unsigned char* s, Py_ssize_t n, unsigned long long* size):
    """``_CHUNK_LINE.fullmatch``: 1-16 HEXDIG, then ``;name[=token|quoted]`` extensions."""
    cdef Py_ssize_t i = 0, j
    cdef unsigned long long v = 0
    while i < n and CLS[s[i]] & C_HEX:
        if i == 16:
            return False
        v = (v << 4) | HEXVAL[s[i]]
        i += 1
    if i == 0:
        return False
    size[0] = v
    while i < n:
        if s[i] != 59:  # ';'
            return False
        i += 1
        j = i
        while i < n and CLS[s[i]] & C_TCHAR:
            i += 1
        if i == j:
            return False
        if i < n and s[i] == 61:  # '='
            i += 1
            if i < n and s[i] == 34:  # '"'
                i += 1
                while True:
                    if i >= n:
                        return False
                    if s[i] == 34:
                        i += 1
                        break
                    if s[i] == 92:  # backslash: quoted-pair
                        if i + 1 < n and CLS[s[i + 1]] & C_VALUE:
                            i += 2
                            continue
                        return False
                    if not CLS[s[i]] & C_QDTEXT:
                        return False
                    i += 1
            else:
                j = i
                while i < n and CLS[s[i]] & C_TCHAR:
                    i += 1
                if i == j:
                    return False
    return True


cdef Py_ssize_t _clamp(object v) except? -1:
    """A limit as a C length: saturated at +-BIG; floats floored (nan/inf: no limit / always)."""
    cdef int overflow = 0
    cdef long long x
    if not PyLong_CheckExact(v):
        if isinstance(v, float):
            if v != v or v > BIG:
                return BIG
            if v < -BIG:
                return -BIG
            v = _math.floor(v)
        else:
            v = _index(v)
    x = PyLong_AsLongLongAndOverflow(v, &overflow)
    if overflow > 0 or x > BIG:
        return BIG
    if overflow < 0 or x < -BIG:
        return -BIG
    return <Py_ssize_t>x


@cython.freelist(8)
cdef class RequestParser:
    """Incremental parser for a stream of pipelined HTTP/1.x requests.

    :arg max_header_size: largest head in bytes, counted from the first byte
        of the request line through the blank line (431 when over).
    :arg max_body_size: largest decoded body (413 when over).
    :arg max_request_line: longest request line without its CRLF (414).
    :arg max_header_count: most header fields (431).
    :arg max_chunk_line: longest chunk-size line, extensions included (400).

    See :class:`embedtornado._pure.httpparse.RequestParser`, the specification.
    """

    def __cinit__(
        self,
        max_header_size=DEFAULT_MAX_HEADER_SIZE,
        max_body_size=DEFAULT_MAX_BODY_SIZE,
        max_request_line=DEFAULT_MAX_REQUEST_LINE,
        max_header_count=DEFAULT_MAX_HEADER_COUNT,
        max_chunk_line=DEFAULT_MAX_CHUNK_LINE,
    ):
        self._set_limits(max_header_size, max_body_size, max_request_line, max_header_count,
                         max_chunk_line)
        self._buf = <unsigned char*>malloc(INITIAL_CAP)
        if self._buf == NULL:
            raise MemoryError()
        self._cap = INITIAL_CAP
        self._len = 0
        self._buf[0] = 0
        self._pos = 0
        self._scan = 0
        self._state = S_HEAD
        self._remaining = 0
        self._body_total = 0
        self._body_total_hi = 0
        self._trailer_bytes = 0
        self._error = None
        self._fields_hint = 8  # a browser's first request has about ten fields
        self.method = ""
        self.target = ""
        self.version = ""
        self.headers = {}
        self.keep_alive = False
        self.chunked = False
        self.content_length = 0
        self.expect_continue = False
        self.data = b""

    def __dealloc__(self):
        free(self._buf)
        self._buf = NULL

    cdef int _set_limits(self, object mhs, object mbs, object mrl, object mhc,
                         object mcl) except -1:
        self._mhs = _clamp(mhs)
        self._mrl = _clamp(mrl)
        self._mhc = _clamp(mhc)
        self._mcl = _clamp(mcl)
        self._o_max_header_size = mhs
        self._o_max_request_line = mrl
        self._o_max_header_count = mhc
        self._o_max_chunk_line = mcl
        self._set_max_body(mbs)
        self._o_max_body_size = mbs
        return 0

    cdef int _set_max_body(self, object v) except -1:
        # Exact for any Python number: chunk sizes add up in 128 bits, so a limit of
        # 2**64 or more still compares like the twin's unbounded ints.
        cdef int overflow = 0
        cdef long long x
        if PyLong_CheckExact(v):
            x = PyLong_AsLongLongAndOverflow(v, &overflow)
            if not overflow:  # the usual case: no Python arithmetic
                self._mbs_neg = x < 0
                self._mbs = <unsigned long long>x if x >= 0 else 0
                self._mbs_hi = 0
                return 0
        else:
            if isinstance(v, float):
                if v != v or v == _math.inf:  # nan compares False: no limit
                    v = _U128_MAX
                elif v == -_math.inf:
                    v = -1
                else:
                    v = _math.floor(v)
            else:
                v = _index(v)
        self._mbs_neg = v < 0
        if self._mbs_neg:
            v = 0
        elif v > _U128_MAX:
            v = _U128_MAX
        self._mbs = v & 0xFFFFFFFFFFFFFFFF
        self._mbs_hi = v >> 64
        return 0

    # The limits read back as given; setting one takes effect from the next check.
    property max_header_size:
        def __get__(self):
            return self._o_max_header_size

        def __set__(self, v):
            self._mhs = _clamp(v)
            self._o_max_header_size = v

    property max_body_size:
        def __get__(self):
            return self._o_max_body_size

        def __set__(self, v):
            self._set_max_body(v)
            self._o_max_body_size = v

    property max_request_line:
        def __get__(self):
            return self._o_max_request_line

        def __set__(self, v):
            self._mrl = _clamp(v)
            self._o_max_request_line = v

    property max_header_count:
        def __get__(self):
            return self._o_max_header_count

        def __set__(self, v):
            self._mhc = _clamp(v)
            self._o_max_header_count = v

    property max_chunk_line:
        def __get__(self):
            return self._o_max_chunk_line

        def __set__(self, v):
            self._mcl = _clamp(v)
            self._o_max_chunk_line = v

    # --- input ---------------------------------------------------------------------

    def feed(self, data):
        """Append bytes received from the peer (any contiguous buffer)."""
        cdef Py_buffer view
        if PyBytes_CheckExact(data):
            self.feed_raw(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
            return
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            self.feed_raw(<const char*>view.buf, view.len)
        finally:
            PyBuffer_Release(&view)

    cdef int feed_raw(self, const char* data, Py_ssize_t n) except -1:
        cdef Py_ssize_t keep, need, cap
        cdef unsigned char* nb
        if self._busy:
            raise RuntimeError("RequestParser.feed() called from within next_event()")
        if self._pos:
            keep = self._len - self._pos
            if keep:
                memmove(self._buf, self._buf + self._pos, <size_t>keep)
            self._len = keep
            self._pos = 0
        if n > 0:
            if n > PY_SSIZE_T_MAX - 1 - SLACK - self._len:
                raise MemoryError()
            need = self._len + n + 1 + SLACK
            if need > self._cap or (self._len == 0 and self._cap > SHRINK_CAP
                                    and need <= INITIAL_CAP):
                cap = INITIAL_CAP
                while cap < need:
                    cap = cap * 2 if cap <= PY_SSIZE_T_MAX // 2 else need
                nb = <unsigned char*>realloc(self._buf, <size_t>cap)
                if nb == NULL:
                    raise MemoryError()
                self._buf = nb
                self._cap = cap
            memcpy(self._buf + self._len, data, <size_t>n)
            self._len += n
        self._buf[self._len] = 0
        return 0

    def pending(self):
        """Number of received bytes not consumed by an event yet."""
        return self._len - self._pos

    def take_buffer(self):
        """Remove and return the unconsumed bytes (the connection leaves HTTP, e.g. WebSocket)."""
        cdef bytes rest
        cdef unsigned char* nb
        if self._busy:
            raise RuntimeError("RequestParser.take_buffer() called from within next_event()")
        rest = PyBytes_FromStringAndSize(<const char*>self._buf + self._pos,
                                         self._len - self._pos)
        self._len = 0
        self._pos = 0
        self._scan = 0
        if self._cap > SHRINK_CAP:
            nb = <unsigned char*>realloc(self._buf, INITIAL_CAP)
            if nb != NULL:
                self._buf = nb
                self._cap = INITIAL_CAP
        self._buf[0] = 0
        return rest

    @property
    def in_message(self):
        """True while a request is partly received (an EOF now would cut it short)."""
        if self._state == S_HEAD:
            return self._pos < self._len
        return self._state != S_END and self._state != S_ERROR

    # --- events --------------------------------------------------------------------

    cpdef int next_event(self) except -1:
        """Return the next event: :data:`NEED_DATA`, :data:`HEAD`, :data:`DATA` or :data:`END`.

        Raises an :class:`HTTPInputError` subclass for bad input; after that
        every call raises the same error again.
        """
        cdef int st = self._state
        if st == S_ERROR:
            raise self._error
        if st == S_END:
            self._state = S_HEAD
            self._scan = 0
            return EV_END
        # The parse holds raw pointers into the buffer across allocations, which may run
        # a finalizer; one that fed this parser would move the buffer under it.
        self._busy = True
        try:
            if st == S_HEAD:
                return self._parse_head()
            return self._parse_body()
        finally:
            self._busy = False

    cdef object _fail(self, object cls, str msg):
        """The exception to raise; the parser is broken from now on."""
        e = cls(msg)
        self._state = S_ERROR
        self._error = e
        return e

    # --- the head ------------------------------------------------------------------

    cdef int _parse_head(self) except -1:
        cdef const unsigned char* b = self._buf
        cdef Py_ssize_t n = self._len, pos = self._pos, i, end, lim, stop
        cdef const unsigned char* cr
        cdef unsigned char c
        # Skip empty lines before the request line (RFC 9112 section 2.2).
        while pos < n and b[pos] == 13:
            if pos + 1 == n:
                self._pos = pos
                return EV_NEED_DATA
            if b[pos + 1] != 10:
                raise self._fail(HTTPInputError, "bare CR in request head")
            pos += 2
        if pos < n and b[pos] == 10:
            raise self._fail(HTTPInputError, "bare LF in request head")
        if pos != self._pos:
            self._pos = pos
            self._scan = 0
        if pos == n:
            return EV_NEED_DATA
        # Fast path: a complete, valid head in one pass. It gives up (0) on anything else.
        if self._scan == 0 and self._parse_head_at(pos, -1, False):
            return EV_HEAD
        # Careful path, the twin's: find the blank line, rejecting bare CR/LF on the way.
        # Scan no further than a limit would let a byte-by-byte feed get (the twin's stop).
        stop = pos + self._mhs + 1  # limits are clamped to +-BIG: no overflow
        if stop > n:
            stop = n
        lim = self._mrl + 2 if self._mrl + 2 < n - pos else n - pos
        if lim <= 0 or _find_crlf(b + pos, lim) < 0:
            if pos + self._mrl + 2 < stop:
                stop = pos + self._mrl + 2
        i = pos + (self._scan - 3 if self._scan > 3 else 0)
        end = -1
        while i < stop:
            c = b[i]
            if c == 10:
                if b[i - 1] != 13:  # i > pos: b[pos] is neither CR nor LF
                    raise self._fail(HTTPInputError, "bare LF in request head")
            elif c == 13:
                if stop - i > 3 and b[i + 1] == 10 and b[i + 2] == 13 and b[i + 3] == 10:
                    end = i
                    break
                if i + 1 < stop and b[i + 1] != 10:
                    raise self._fail(HTTPInputError, "bare CR in request head")
            i += 1
        if end < 0:
            self._scan = n - pos
            if n - pos > self._mrl + 1:
                # the twin: buf.find(b"\r\n", pos, pos + max_request_line + 2) < 0
                lim = self._mrl + 1  # a CR at pos + lim - 1 still has its LF in the window
                cr = NULL
                if lim > 0:
                    cr = <const unsigned char*>memchr(b + pos, 13, <size_t>lim)
                # every CR before n - 1 was checked above to be followed by LF
                if cr == NULL and (n - pos <= self._mhs or self._mrl + 1 <= self._mhs):
                    # both limits crossed: the one a byte-by-byte feed crosses first wins
                    raise self._fail(RequestURITooLong, "request line too long")
            if n - pos > self._mhs:
                raise self._fail(RequestHeaderFieldsTooLarge, "request head too large")
            return EV_NEED_DATA
        if end + 4 - pos > self._mhs:
            raise self._fail(RequestHeaderFieldsTooLarge, "request head too large")
        self._parse_head_at(pos, end, True)
        return EV_HEAD

    cdef int _parse_head_at(self, Py_ssize_t pos, Py_ssize_t end, bint framed) except -1:
        """Parse the head at *pos*: 1 when done (attributes set, HEAD state left).

        ``framed``: the careful path found the blank line at *end* and checked
        bare CR/LF and the size; errors raise in the twin's order. Otherwise
        (the fast path) any irregularity returns 0 with nothing changed.
        """
        cdef const unsigned char* b = self._buf
        cdef Py_ssize_t n = self._len
        cdef Py_ssize_t p, q, mend, tend, v0, v, ve, le = 0, count, head_end
        cdef const unsigned char* cr
        cdef bint http11, chunked, keep_alive, expect
        cdef int special, flags
        cdef uint64_t high
        cdef long long content_length
        cdef PyObject* specials[N_SPECIAL]
        cdef PyObject* got
        cdef object name, value, lst
        cdef dict headers
        cdef str method, target

        if framed:
            self._pos = end + 4  # the twin consumes the head before parsing it
            self._scan = 0
            cr = <const unsigned char*>memchr(b + pos, 13, <size_t>(end + 1 - pos))
            le = cr - b
            if le - pos > self._mrl:
                raise self._fail(RequestURITooLong, "request line too long")
        # --- request line: token SP target SP HTTP/d.d CRLF
        p = pos
        while CLS[b[p]] & C_TCHAR:
            p += 1
        mend = p
        if p == pos or b[p] != 32:
            if not framed:
                return 0
            raise self._fail(HTTPInputError, MALFORMED_REQUEST_LINE)
        p += 1
        q = p
        while CLS[b[p]] & C_TARGET:
            p += 1
        tend = p
        if p == q or b[p] != 32:
            if not framed:
                return 0
            raise self._fail(HTTPInputError, MALFORMED_REQUEST_LINE)
        v0 = p + 1
        if not (n - v0 >= 10 and b[v0] == 72 and b[v0 + 1] == 84 and b[v0 + 2] == 84
                and b[v0 + 3] == 80 and b[v0 + 4] == 47 and CLS[b[v0 + 5]] & C_DIGIT
                and b[v0 + 6] == 46 and CLS[b[v0 + 7]] & C_DIGIT
                and b[v0 + 8] == 13 and b[v0 + 9] == 10):
            if not framed:
                return 0
            raise self._fail(HTTPInputError, MALFORMED_REQUEST_LINE)
        if b[v0 + 5] != 49 or (b[v0 + 7] != 49 and b[v0 + 7] != 48):
            if not framed:
                return 0
            raise self._fail(HTTPVersionNotSupported, unexpected_version(
                PyUnicode_DecodeLatin1(<const char*>b + v0, 8, NULL)))
        http11 = b[v0 + 7] == 49
        if framed:
            # header lines = CRs in the head (the request line's included)
            count = 0
            q = le
            while q < end:
                cr = <const unsigned char*>memchr(b + q, 13, <size_t>(end - q))
                if cr == NULL:
                    break
                count += 1
                q = cr - b + 1
            if count > self._mhc:
                raise self._fail(RequestHeaderFieldsTooLarge, "too many header fields")
        elif v0 + 8 - pos > self._mrl or self._mhc < 0:
            return 0

        # --- header fields
        headers = et_new_dict(count if framed else self._fields_hint)
        for special in range(N_SPECIAL):
            specials[special] = NULL
        count = 0
        p = v0 + 10
        while True:
            if b[p] == 13:
                if b[p + 1] == 10:  # b[n] is 0, so this is in the buffer
                    break
                return 0  # fast path only: the careful path has no bare CR here
            if not framed:
                count += 1
                if count > self._mhc or p - pos > self._mhs:
                    return 0
            q = p
            while CLS[b[q]] & C_TCHAR:
                q += 1
            if q == p or b[q] != 58:  # ':'
                if not framed:
                    return 0
                self._field_error(b, p, -1)
            v = q + 1
            while b[v] == 32 or b[v] == 9:
                v += 1
            ve = et_skip_value_words(b, v, n, &high)
            while CLS[b[ve]] & C_VALUE:
                high |= b[ve]
                ve += 1
            if b[ve] != 13 or b[ve + 1] != 10:
                if not framed:
                    return 0
                self._value_error(b, v)
            le = ve
            while ve > v and (b[ve - 1] == 32 or b[ve - 1] == 9):
                ve -= 1
            name = _make_name(b + p, q - p, &special)
            value = et_latin1(b + v, ve - v, (high & 0x80) == 0)
            lst = [value]
            got = PyDict_SetDefault(headers, name, lst)
            if got != <PyObject*>lst:
                PyList_Append(<object>got, value)
            elif special >= 0:
                specials[special] = got
            p = le + 2
        head_end = p + 2
        self._fields_hint = PyDict_GET_SIZE(headers) if PyDict_GET_SIZE(headers) < 64 else 64
        if not framed:
            if head_end - pos > self._mhs:
                return 0
            self._pos = head_end
            self._scan = 0
        method = _method_str(b + pos, mend - pos)
        target = PyUnicode_DecodeLatin1(<const char*>b + mend + 1, tend - mend - 1, NULL)

        # --- what the fields mean (the twin's _apply_head, same order)
        if specials[SP_HOST] == NULL:
            if http11:
                raise self._fail(HTTPInputError, MISSING_HOST)
        elif (PyList_GET_SIZE(<list><object>specials[SP_HOST]) > 1
              or not _host_ok(<str><object>PyList_GET_ITEM(<list><object>specials[SP_HOST], 0))):
            raise self._fail(HTTPInputError, bad_host(<list><object>specials[SP_HOST]))

        chunked = False
        if specials[SP_TE] != NULL:
            if not http11:
                raise self._fail(HTTPInputError, "Transfer-Encoding in an HTTP/1.0 request")
            if specials[SP_CL] != NULL:
                raise self._fail(HTTPInputError, TE_AND_CL)
            if PyList_GET_SIZE(<list><object>specials[SP_TE]) > 1:
                raise self._fail(HTTPInputError,
                                 unsupported_transfer_encoding(<list><object>specials[SP_TE]))
            self._apply_te(<str><object>PyList_GET_ITEM(<list><object>specials[SP_TE], 0))
            chunked = True

        content_length = 0
        if specials[SP_CL] != NULL:
            content_length = self._apply_cl(<list><object>specials[SP_CL])

        flags = 0
        if specials[SP_CONNECTION] != NULL:
            for value in <list><object>specials[SP_CONNECTION]:
                flags |= _connection_flags(<str>value)
        if http11:
            keep_alive = not (flags & 1)
        else:
            keep_alive = (flags & 2) != 0 and (
                specials[SP_CL] != NULL or method == "GET" or method == "HEAD")

        expect = False
        if specials[SP_EXPECT] != NULL and http11:
            value = <object>PyList_GET_ITEM(<list><object>specials[SP_EXPECT], 0)
            expect = (PyUnicode_GET_LENGTH(value) == 12
                      and _ieq(_u8(<str>value), "100-continue", 12))

        self.method = method
        self.target = target
        self.version = V11 if http11 else V10
        self.headers = headers
        self.keep_alive = keep_alive
        self.chunked = chunked
        self.expect_continue = expect
        self._body_total = 0
        self._body_total_hi = 0
        if chunked:
            self.content_length = -1
            self._state = S_CHUNK_SIZE
        else:
            self.content_length = content_length
            self._remaining = <unsigned long long>content_length
            self._state = S_BODY_LENGTH if content_length else S_END
        return 1

    cdef int _field_error(self, const unsigned char* b, Py_ssize_t p, Py_ssize_t le) except -1:
        """Raise the twin's error for the field line at *p* whose name is not ``token:``."""
        cdef const unsigned char* colon
        if le < 0:
            le = <const unsigned char*>memchr(b + p, 13, <size_t>(self._len - p)) - b
        colon = <const unsigned char*>memchr(b + p, 58, <size_t>(le - p))
        if b[p] == 32 or b[p] == 9:
            raise self._fail(HTTPInputError, FOLDED_HEADER)
        if colon == NULL:
            raise self._fail(HTTPInputError, NO_COLON)
        raise self._fail(HTTPInputError, invalid_header_name(
            PyUnicode_DecodeLatin1(<const char*>b + p, colon - (b + p), NULL)))

    cdef int _value_error(self, const unsigned char* b, Py_ssize_t v) except -1:
        """Raise the twin's error for the field value starting at *v* (CR-terminated)."""
        cdef Py_ssize_t ve = <const unsigned char*>memchr(b + v, 13, <size_t>(self._len - v)) - b
        while v < ve and (b[v] == 32 or b[v] == 9):
            v += 1
        while ve > v and (b[ve - 1] == 32 or b[ve - 1] == 9):
            ve -= 1
        raise self._fail(HTTPInputError, invalid_header_value(
            PyUnicode_DecodeLatin1(<const char*>b + v, ve - v, NULL)))

    cdef int _check_trailer_field(self, const unsigned char* b, Py_ssize_t p,
                                  Py_ssize_t le) except -1:
        """The twin's ``_parse_field`` on the trailer line b[p:le] (no CR or LF in it)."""
        cdef Py_ssize_t q = p, v
        while q < le and CLS[b[q]] & C_TCHAR:
            q += 1
        if q == p or q == le or b[q] != 58:
            self._field_error(b, p, le)
        q += 1
        v = q
        while q < le:
            if not CLS[b[q]] & C_VALUE:
                self._value_error(b, v)  # the line is followed by its CRLF
            q += 1
        return 0

    cdef int _apply_te(self, str te) except -1:
        """Transfer-Encoding must be exactly ``chunked`` (the twin's rules and messages)."""
        cdef const unsigned char* s = _u8(te)
        cdef Py_ssize_t n = PyUnicode_GET_LENGTH(te), i = 0, j, a, z, k
        cdef Py_ssize_t ncodings = 0, nchunked = 0
        cdef bint last_chunked = False
        while True:
            j = _elem_end(s, i, n)
            a = i
            z = j
            while a < z and (s[a] == 32 or s[a] == 9):
                a += 1
            while z > a and (s[z - 1] == 32 or s[z - 1] == 9):
                z -= 1
            if a == z:
                raise self._fail(HTTPInputError, unsupported_transfer_encoding([te]))
            for k in range(a, z):
                if not CLS[s[k]] & C_TCHAR:
                    raise self._fail(HTTPInputError, unsupported_transfer_encoding([te]))
            ncodings += 1
            last_chunked = z - a == 7 and _ieq(s + a, "chunked", 7)
            nchunked += last_chunked
            if j >= n:
                break
            i = j + 1
        if nchunked > 1 or (nchunked == 1 and not last_chunked):
            raise self._fail(HTTPInputError, unsupported_transfer_encoding([te]))
        if ncodings != 1 or nchunked != 1:
            raise self._fail(TransferCodingNotImplemented, unsupported_transfer_encoding([te]))
        return 0

    cdef long long _apply_cl(self, list cl) except -2:
        """The one Content-Length value of all the fields' elements (the twin's rules)."""
        cdef const unsigned char* s
        cdef const unsigned char* seen = NULL
        cdef Py_ssize_t seen_n = 0, n, i, j, a, z, k
        cdef unsigned long long v = 0
        for value in cl:
            s = _u8(<str>value)
            n = PyUnicode_GET_LENGTH(value)
            i = 0
            while True:
                j = _elem_end(s, i, n)
                a = i
                z = j
                while a < z and (s[a] == 32 or s[a] == 9):
                    a += 1
                while z > a and (s[z - 1] == 32 or s[z - 1] == 9):
                    z -= 1
                if a == z:
                    raise self._fail(HTTPInputError, bad_content_length(cl))
                for k in range(a, z):
                    if not CLS[s[k]] & C_DIGIT:
                        raise self._fail(HTTPInputError, bad_content_length(cl))
                while z - a > 1 and s[a] == 48:  # lstrip("0") or "0"
                    a += 1
                if seen_n and (seen_n != z - a or memcmp(seen, s + a, <size_t>seen_n) != 0):
                    raise self._fail(HTTPInputError, bad_content_length(cl))
                seen = s + a
                seen_n = z - a
                if j >= n:
                    break
                i = j + 1
        if seen_n > 18:  # compared with max_body_size by the first _parse_body call
            raise self._fail(PayloadTooLarge, CONTENT_LENGTH_TOO_LONG)
        for k in range(seen_n):
            v = v * 10 + (seen[k] - 48)
        return <long long>v

    # --- the body ------------------------------------------------------------------

    cdef int _parse_body(self) except -1:
        cdef Py_ssize_t avail, take, first = -1, total = 0
        if self._state == S_BODY_LENGTH:
            # Checked here, not at HEAD, so the application can change
            # max_body_size between the two (HTTP1Connection.set_max_body_size).
            if self._remaining == <unsigned long long>self.content_length and (
                    self._mbs_neg or (self._mbs_hi == 0 and self._remaining > self._mbs)):
                raise self._fail(PayloadTooLarge, CONTENT_LENGTH_TOO_LONG)
            avail = self._len - self._pos
            if not avail:
                return EV_NEED_DATA
            take = avail
            if <unsigned long long>avail > self._remaining:
                take = <Py_ssize_t>self._remaining
            self.data = PyBytes_FromStringAndSize(<const char*>self._buf + self._pos, take)
            self._pos += take
            self._remaining -= <unsigned long long>take
            if not self._remaining:
                self._state = S_END
            return EV_DATA
        # Chunked: decode all that is buffered; the data of several chunks is moved
        # together in place (over framing bytes already consumed) and copied once.
        while self._state != S_END and self._chunk_step(&first, &total):
            pass
        if total:
            self.data = PyBytes_FromStringAndSize(<const char*>self._buf + first, total)
            return EV_DATA
        if self._state == S_END:
            self._state = S_HEAD
            self._scan = 0
            return EV_END
        return EV_NEED_DATA

    cdef Py_ssize_t _line(self, Py_ssize_t limit, bint trailer) except -2:
        """Length of the next CRLF-terminated line at _pos (consumed), or -1 for more data."""
        cdef const unsigned char* b = self._buf
        cdef Py_ssize_t pos = self._pos, n = self._len, lf
        cdef Py_ssize_t window = n - pos
        if limit + 2 < window:  # the twin: buf.find(b"\n", pos, pos + limit + 2)
            window = limit + 2 if limit + 2 > 0 else 0
        cdef const unsigned char* p = <const unsigned char*>memchr(b + pos, 10,
                                                                   <size_t>window)
        if p == NULL:
            if n - pos > limit + 1:
                raise self._line_too_long(trailer)
            return -1
        lf = p - b
        if lf == pos or b[lf - 1] != 13:
            raise self._fail(HTTPInputError,
                             "bare LF in chunked body" if trailer else INVALID_CHUNK_SIZE)
        if lf - 1 - pos > limit:
            raise self._line_too_long(trailer)
        self._pos = lf + 1
        return lf - 1 - pos

    cdef object _line_too_long(self, bint trailer):
        if trailer:
            return self._fail(RequestHeaderFieldsTooLarge, "trailer section too large")
        return self._fail(HTTPInputError, "chunk size line too long")

    cdef int _chunk_step(self, Py_ssize_t* first, Py_ssize_t* total) except -1:
        """Advance the chunked decoder by one step; 0 when it needs more bytes."""
        cdef Py_ssize_t start = self._pos, ll, avail, take
        cdef unsigned long long size = 0, sum_lo, sum_hi
        cdef int st = self._state
        if st == S_CHUNK_SIZE:
            ll = self._line(self._mcl, False)
            if ll < 0:
                return 0
            if not _chunk_line(self._buf + start, ll, &size):
                raise self._fail(HTTPInputError, INVALID_CHUNK_SIZE)
            # the twin: body_total += size; body_total > max_body_size (128-bit here)
            sum_lo = self._body_total + size
            sum_hi = self._body_total_hi + (sum_lo < size)
            self._body_total = sum_lo
            self._body_total_hi = sum_hi
            if self._mbs_neg or sum_hi > self._mbs_hi or (
                    sum_hi == self._mbs_hi and sum_lo > self._mbs):
                raise self._fail(PayloadTooLarge, CHUNKED_TOO_LARGE)
            if size:
                self._remaining = size
                self._state = S_CHUNK_DATA
            else:
                self._trailer_bytes = 0
                self._state = S_TRAILER
            return 1
        if st == S_CHUNK_DATA:
            avail = self._len - start
            if not avail:
                return 0
            take = avail
            if <unsigned long long>avail > self._remaining:
                take = <Py_ssize_t>self._remaining
            if first[0] < 0:
                first[0] = start
            elif first[0] + total[0] != start:
                memmove(self._buf + first[0] + total[0], self._buf + start, <size_t>take)
            total[0] += take
            self._pos = start + take
            self._remaining -= <unsigned long long>take
            if not self._remaining:
                self._state = S_CHUNK_CRLF
            return 1
        if st == S_CHUNK_CRLF:
            avail = self._len - start
            if avail and self._buf[start] != 13:
                raise self._fail(HTTPInputError, CHUNK_NOT_TERMINATED)
            if avail < 2:
                return 0
            if self._buf[start + 1] != 10:
                raise self._fail(HTTPInputError, CHUNK_NOT_TERMINATED)
            self._pos = start + 2
            self._state = S_CHUNK_SIZE
            return 1
        # S_TRAILER: fields are checked like headers, then dropped.
        ll = self._line(self._mhs - self._trailer_bytes - 2, True)
        if ll < 0:
            return 0
        self._trailer_bytes += ll + 2
        if not ll:
            self._state = S_END
            return 1
        if memchr(self._buf + start, 13, <size_t>ll) != NULL:
            raise self._fail(HTTPInputError, "bare CR in trailer section")
        self._check_trailer_field(self._buf, start, start + ll)
        return 1
