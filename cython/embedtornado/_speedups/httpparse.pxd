# cython: language_level=3
"""The compiled request parser's C-level interface, for ``httpproto.pyx`` to cimport.

``from embedtornado._speedups.httpparse cimport RequestParser`` gives direct
access to the fields below and to ``feed_raw``/``next_event`` without Python
calls. The Python-level API (and the behaviour) is that of
:mod:`embedtornado._pure.httpparse`.
"""


cdef class RequestParser:
    # input buffer: bytes [_pos, _len) are unconsumed; _buf[_len] is always 0 (a sentinel
    # that stops every table-driven scan, since NUL is in none of the tables)
    cdef unsigned char* _buf
    cdef Py_ssize_t _cap
    cdef Py_ssize_t _len
    cdef Py_ssize_t _pos
    cdef Py_ssize_t _scan            # head: bytes after _pos already framed (as in the twin)
    cdef int _state
    cdef bint _busy                  # in next_event: the buffer must not move (see feed_raw)
    cdef unsigned long long _remaining  # body bytes left (Content-Length) or in this chunk
    cdef unsigned long long _body_total     # sum of chunk sizes, low 64 bits
    cdef unsigned long long _body_total_hi  # ... and the carries (16 hex digits per chunk)
    cdef Py_ssize_t _trailer_bytes
    cdef object _error
    cdef Py_ssize_t _fields_hint     # fields in the last head: the next dict is presized

    # limits as given (the Python attributes) and clamped to C ranges
    cdef object _o_max_header_size
    cdef object _o_max_body_size
    cdef object _o_max_request_line
    cdef object _o_max_header_count
    cdef object _o_max_chunk_line
    cdef Py_ssize_t _mhs
    cdef Py_ssize_t _mrl
    cdef Py_ssize_t _mhc
    cdef Py_ssize_t _mcl
    cdef unsigned long long _mbs     # max_body_size when >= 0: low 64 bits
    cdef unsigned long long _mbs_hi  # ... high 64 bits (saturated at 2**128 - 1)
    cdef bint _mbs_neg               # max_body_size < 0: every body is too large

    # the current message (valid after HEAD)
    cdef readonly str method
    cdef readonly str target
    cdef readonly str version
    cdef readonly dict headers
    cdef readonly bint keep_alive
    cdef readonly bint chunked
    cdef readonly long long content_length
    cdef readonly bint expect_continue
    cdef readonly bytes data

    cdef int feed_raw(self, const char* data, Py_ssize_t n) except -1
    cpdef int next_event(self) except -1

    cdef object _fail(self, object cls, str msg)
    cdef int _set_limits(self, object mhs, object mbs, object mrl, object mhc, object mcl) except -1
    cdef int _parse_head(self) except -1
    cdef int _parse_head_at(self, Py_ssize_t pos, Py_ssize_t end, bint framed) except -1
    cdef int _set_max_body(self, object v) except -1
    cdef int _field_error(self, const unsigned char* b, Py_ssize_t p, Py_ssize_t le) except -1
    cdef int _value_error(self, const unsigned char* b, Py_ssize_t v) except -1
    cdef int _check_trailer_field(self, const unsigned char* b, Py_ssize_t p,
                                  Py_ssize_t le) except -1
    cdef int _apply_te(self, str te) except -1
    cdef long long _apply_cl(self, list cl) except -2
    cdef int _parse_body(self) except -1
    cdef Py_ssize_t _line(self, Py_ssize_t limit, bint trailer) except -2
    cdef object _line_too_long(self, bint trailer)
    cdef int _chunk_step(self, Py_ssize_t* first, Py_ssize_t* total) except -1
