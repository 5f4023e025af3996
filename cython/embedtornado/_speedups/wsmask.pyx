# cython: language_level=3, boundscheck=False, wraparound=False
"""XOR masking of WebSocket payloads (RFC 6455 section 5.3), compiled.

Same names and behaviour as ``embedtornado._pure.wsmask`` (the spec): the
payload is XORed with the 4-byte mask, eight bytes at a time.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy


def websocket_mask(mask, data):
    """Return *data* XOR *mask* (repeated); *mask* must be exactly 4 bytes."""
    cdef const unsigned char[::1] m
    cdef const unsigned char[::1] d
    cdef Py_ssize_t n, i
    cdef uint32_t m32
    cdef uint64_t m64, chunk
    cdef bytes out
    cdef unsigned char *o
    mask = bytes(mask)
    if len(mask) != 4:
        raise ValueError("websocket_mask needs a 4-byte mask, got %d bytes" % len(mask))
    # Any contiguous byte buffer (bytes, bytearray, memoryview) is read in place.
    try:
        d = data
    except (TypeError, ValueError, BufferError):  # not a contiguous byte buffer
        d = bytes(data)
    n = d.shape[0]
    if n == 0:
        return b""
    m = mask
    out = PyBytes_FromStringAndSize(NULL, n)
    o = <unsigned char *>PyBytes_AS_STRING(out)
    memcpy(&m32, &m[0], 4)
    m64 = (<uint64_t>m32 << 32) | m32
    i = 0
    while i + 8 <= n:
        memcpy(&chunk, &d[i], 8)
        chunk ^= m64
        memcpy(&o[i], &chunk, 8)
        i += 8
    while i < n:
        o[i] = d[i] ^ m[i & 3]
        i += 1
    return out
