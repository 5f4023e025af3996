# Declarations of the compiled event loop's classes (see loop.pyx).

from libc.stdint cimport uint32_t, uint64_t

from embedtornado._speedups._syscalls cimport epoll_event


cdef class Handle:
    cdef:
        LoopBase _loop
        readonly object _callback
        readonly tuple _args
        object _context
        readonly bint _cancelled
        object _repr
        public object _source_traceback
        object __weakref__

    cdef int _run(self) except -1
    cdef str _repr_info_str(self)


cdef class TimerHandle(Handle):
    cdef:
        readonly double _when
        uint64_t _seq
        bint _scheduled

    cdef str _repr_info_str(self)


cdef class NativeIO:
    cdef int _on_read(self) except -1
    cdef int _on_write(self) except -1
    cdef int _flush(self) except -1


cdef class FdEntry:
    cdef:
        int fd
        uint32_t registered
        bint dirty
        bint edge
        Handle reader
        Handle writer
        NativeIO native
        bint native_read
        bint native_write


cdef class LoopBase:
    cdef:
        list _ready
        list _ready_spare
        list _timers
        uint64_t _timer_seq
        Py_ssize_t _timer_cancelled_count
        int _epfd
        int _evfd
        int _sigfd
        list _fdtab
        list _dirty
        list _flushq
        bint _deferring
        epoll_event *_events
        char *_rbuf
        bint _stopping
        bint _closed
        bint _running
        bint _waiting
        bint _debug_flag
        double _clock_resolution
        double _slow_callback_duration
        object _csock
        object _ssock
        object _thread_id
        object _exception_handler
        object _task_factory
        object _last_unknown_log
        bint _cot_enabled
        object _cot_saved
        public object _current_handle
        public dict _signal_handlers
        public object _asyncgens
        public bint _asyncgens_shutdown_called
        public object _default_executor
        public bint _executor_shutdown_called
        public object _transports
        object __weakref__

    cdef double _now(self)
    cdef int _check_closed_c(self) except -1
    cdef Handle _call_soon(self, object callback, tuple args, object context)
    cdef TimerHandle _call_at(self, double when, object callback, tuple args, object context)
    cdef int _timer_cancelled(self, TimerHandle timer) except -1
    cdef int _run_once(self) except -1
    cdef int _run_ready(self) except -1
    cdef int _flush_writes(self) except -1
    cdef int _run_due(self) except -1
    cdef int _poll(self, int timeout) except -1
    cdef int _apply_interest(self) except -1
    cdef FdEntry _entry(self, int fd, bint create)
    cdef int _mark_dirty(self, FdEntry entry) except -1
    cdef int _forget_fd(self, int fd) except -1
    cdef int _wake(self) except -1
    cdef int _drain_eventfd(self) except -1
    cdef int _read_signals(self) except -1
    cdef int _report(self, str message, object exc, dict extra) except -1
    cdef _close_fds(self)
    cdef _unknown_fd(self, int fd, uint32_t mask)
    cdef uint32_t _want(self, FdEntry e)
    cdef int _update(self, FdEntry e, bint eager) except -1
    cdef int _ctl(self, FdEntry e, uint32_t want, bint raise_errors) except -1
    cdef int _set_native(self, int fd, NativeIO native, bint rd, bint wr) except -1
