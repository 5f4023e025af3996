# cython: language_level=3
# Augmenting declarations for src/embedtornado/_pure/httpproto.py, which setup.py
# compiles as embedtornado._speedups.httpproto (single source: the .py is the twin
# and the compiled module at once, so the two cannot drift).
#
# What this buys, measured with bench/bench_inproc.py: the two classes become
# extension types, so every ``self._x`` on the hot path is a C struct access
# instead of a dict lookup, the parser is the cimported ``RequestParser`` (its
# ``next_event`` and fields are C calls and C fields), and the protocol's
# internal calls are C calls. ``cdef dict __dict__`` keeps both classes open to
# new attributes (as the plain classes are), and every field is ``public`` so
# Python code sees the same attributes in both builds.

cimport cython

from embedtornado._speedups.httpparse cimport RequestParser

# connection phases (module constants of the .py; C ints here)
cdef int _IDLE, _BODY, _HANDLER, _CLOSED
# what happens once a file being sent is out (HTTP1ServerProtocol._file_close)
cdef int _FILE_KEEP, _FILE_CLOSE_AFTER, _FILE_CLOSE, _FILE_ABORT

@cython.locals(parser=RequestParser)
cpdef object _take_parser(object params)
cpdef object _give_back_parser(object params, RequestParser parser)


cdef class HTTP1Connection:
    cdef dict __dict__
    cdef object __weakref__
    cdef public HTTP1ServerProtocol _proto
    cdef public object context
    cdef public object params
    cdef public str _method
    cdef public str _version
    cdef public object _request_headers
    cdef public bint _disconnect_on_finish
    cdef public bint _chunking_output
    cdef public object _expected_content_remaining
    cdef public bint _write_started
    cdef public bint _write_finished
    cdef public bint _switching
    cdef public object _close_callback

    cpdef object _format_chunk(self, object chunk)
    cpdef object _on_connection_close(self)


cdef class HTTP1ServerProtocol:
    cdef dict __dict__
    cdef object __weakref__
    cdef public object _server
    cdef public object params
    cdef public object _context_factory
    cdef public object context
    cdef public object transport
    cdef public object _write_out
    cdef public object _loop
    cdef public RequestParser _parser
    cdef public object _max_pending
    cdef public int _phase
    cdef public double _phase_since
    cdef public double _body_deadline
    cdef public object _body_timeout
    cdef public object _timer
    cdef public HTTP1Connection _request
    cdef public object _delegate
    cdef public bint _waiting
    cdef public bint _reading_paused
    cdef public bint _writing_paused
    cdef public double _paused_since
    cdef public list _drain_waiters
    cdef public bint _closing
    cdef public bint _detached
    cdef public bint _scheduled
    cdef public bint _continue_pending
    cdef public bytes _rest
    cdef public Py_ssize_t _rest_pos
    cdef public object _sender
    cdef public list _out_queue
    cdef public double _sendfile_since
    cdef public int _file_close
    cdef public bint _unread
    cdef public bint _peer_eof
    cdef public object _linger_timer
    cdef public Py_ssize_t _linger_left

    @cython.locals(parser=RequestParser, ev=int, rest=bytes, data=bytes, pos=Py_ssize_t,
                   end=Py_ssize_t)
    cpdef object _process(self)
    @cython.locals(p=RequestParser, request=HTTP1Connection)
    cpdef object _on_head(self)
    cpdef object _send_continue(self)
    cpdef object _on_end(self)
    cpdef object _call(self, object method, tuple args)
    cpdef object _response_finished(self, HTTP1Connection request)
    @cython.locals(parser=RequestParser)
    cpdef object _next_request(self)
    cpdef object _input_error(self, object e)
    cpdef object _send(self, object data)
    cpdef object _close(self)
    @cython.locals(parser=RequestParser)
    cpdef object _close_transport(self)
    cpdef bint _linger(self) except -1
    cpdef object _linger_end(self)
    cpdef object _abort(self)
    cpdef double _deadline(self)
    cpdef object _arm_timer(self)
