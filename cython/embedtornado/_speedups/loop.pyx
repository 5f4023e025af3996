# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled core of embedtornado's asyncio event loop, over Linux epoll.

`LoopBase` holds the hot paths: the ready queue, the timer heap (on
``CLOCK_MONOTONIC``, the clock of `time.monotonic`), the epoll set with
per-fd reader and writer callbacks, an ``eventfd`` for thread-safe wake-ups,
signal wake-ups through `signal.set_wakeup_fd`, and native socket transports
and listeners (``transports.pxi``, ``server.pxi``). It is not used on its own:
`embedtornado.loop.Loop` combines it with `asyncio.AbstractEventLoop` and
fills in the cold-path API (executors, name resolution, TLS, datagrams,
pipes) from asyncio's own implementation::

    import asyncio
    from embedtornado.loop import new_event_loop

    loop = new_event_loop()
    try:
        loop.run_until_complete(asyncio.sleep(0.1))
    finally:
        loop.close()

asyncio's documented behaviour is the specification: a difference from the
stdlib loop is a bug.
"""

cimport cython
from cpython.tuple cimport PyTuple_GET_SIZE
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE, PyBUF_WRITABLE
from cpython.exc cimport PyErr_CheckSignals
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from libc.stdint cimport uint32_t, uint64_t, int64_t
from libc.math cimport ceil

from embedtornado._speedups._syscalls cimport *

cdef extern from "Python.h":
    int PyContext_Enter(object) except -1
    int PyContext_Exit(object) except -1
    object PyContext_CopyCurrent()

import asyncio
import collections.abc
import errno as _errno
import io
import os
import signal as _signal
import socket as _socket
import sys
import threading
import time as _time
import warnings
import weakref

from asyncio import constants as _constants
from asyncio import coroutines as _coroutines
from asyncio import events as _events
from asyncio import futures as _futures
from asyncio import tasks as _tasks
from asyncio import trsock as _trsock
from asyncio.format_helpers import _format_callback_source
from asyncio.format_helpers import extract_stack as _extract_stack
from asyncio.log import logger

import traceback as _traceback

cdef object _set_running_loop = _events._set_running_loop
cdef object _get_running_loop = _events._get_running_loop
cdef object _Future = _futures.Future
cdef object _Task = _tasks.Task
cdef object _BufferedProtocol = asyncio.BufferedProtocol
cdef object _set_task_name = getattr(_tasks, "_set_task_name", None)
# What __del__ and close() use, held here and not looked up in the module's
# dict: a loop that was never closed can be collected at interpreter exit
# after that dict was cleared (the stdlib loop binds warnings.warn as a
# default argument of its __del__ for the same reason).
cdef object _warn = warnings.warn
cdef object _is_finalizing = sys.is_finalizing
cdef object _logger = logger

#: epoll events fetched per ``epoll_wait`` call (h2o uses the same figure).
cdef enum:
    MAX_EVENTS = 256
    READ_BUF_SIZE = 256 * 1024
    MAX_SELECT_TIMEOUT_MS = 24 * 3600 * 1000

cdef uint32_t _READ_MASK = EPOLLIN
cdef uint32_t _WRITE_MASK = EPOLLOUT

include "handles.pxi"
include "timers.pxi"


def _sighandler_noop(signum, frame):
    """Python-level signal handler: the loop does the real work."""
    pass


cdef int _fileobj_to_fd(object fileobj) except -1:
    cdef long fd
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"Invalid file object: {fileobj!r}") from None
    if fd < 0:
        raise ValueError(f"Invalid file descriptor: {fd}")
    return <int>fd


def _run_until_complete_cb(fut):
    if not fut.cancelled():
        exc = fut.exception()
        if isinstance(exc, (SystemExit, KeyboardInterrupt)):
            # Issue #22429: run_forever() already finished, no need to stop it.
            return
    _futures._get_loop(fut).stop()


@cython.final
cdef class FdEntry:
    """Per-fd state: callbacks and the interest mask epoll knows about.

    ``registered`` is the event mask epoll holds for the fd (``EPOLLET``
    included in edge mode); ``edge`` is the mode asked for with
    ``set_edge_triggered``, which lasts while the fd has any interest.
    """

    def __cinit__(self, int fd):
        self.fd = fd


cdef class NativeIO:
    """Base of the loop's own I/O objects, dispatched without a Handle."""

    cdef int _on_read(self) except -1:
        return 0

    cdef int _on_write(self) except -1:
        return 0

    cdef int _flush(self) except -1:
        return 0


cdef class LoopBase:
    """The compiled half of `embedtornado.loop.Loop` (see the module docstring)."""

    def __cinit__(self, *args, **kwargs):
        cdef epoll_event ev
        self._epfd = -1
        self._evfd = -1
        self._sigfd = -1
        self._ready = []
        self._ready_spare = []
        self._timers = []
        self._fdtab = []
        self._dirty = []
        self._flushq = []
        self._signal_handlers = {}
        self._asyncgens = weakref.WeakSet()
        self._transports = weakref.WeakValueDictionary()
        self._clock_resolution = _time.get_clock_info("monotonic").resolution
        self._slow_callback_duration = 0.1
        self._events = <epoll_event *>PyMem_Malloc(sizeof(epoll_event) * MAX_EVENTS)
        self._rbuf = <char *>PyMem_Malloc(READ_BUF_SIZE)
        if self._events == NULL or self._rbuf == NULL:
            raise MemoryError()
        self._epfd = epoll_create1(EPOLL_CLOEXEC)
        if self._epfd < 0:
            _raise_errno()
        self._evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)
        if self._evfd < 0:
            _raise_errno()
        ev.events = EPOLLIN
        ev.data.u64 = 0
        ev.data.fd = self._evfd
        if epoll_ctl(self._epfd, EPOLL_CTL_ADD, self._evfd, &ev) < 0:
            _raise_errno()
        self._ssock, self._csock = _socket.socketpair()
        self._ssock.setblocking(False)
        self._csock.setblocking(False)
        self._sigfd = self._ssock.fileno()
        ev.events = EPOLLIN
        ev.data.u64 = 0
        ev.data.fd = self._sigfd
        if epoll_ctl(self._epfd, EPOLL_CTL_ADD, self._sigfd, &ev) < 0:
            _raise_errno()
        self._debug_flag = bool(_coroutines._is_debug_mode())

    def __dealloc__(self):
        self._close_fds()
        if self._events != NULL:
            PyMem_Free(self._events)
            self._events = NULL
        if self._rbuf != NULL:
            PyMem_Free(self._rbuf)
            self._rbuf = NULL

    def __del__(self):
        # (_epfd < 0: __cinit__ failed, there is nothing to warn about.)
        if not self._closed and self._epfd >= 0:
            _warn(f"unclosed event loop {self!r}", ResourceWarning, source=self)
            if not self._running:
                self.close()

    def __repr__(self):
        return (f"<{self.__class__.__name__} running={self.is_running()} "
                f"closed={self.is_closed()} debug={self.get_debug()}>")

    cdef _close_fds(self):
        if self._epfd >= 0:
            close(self._epfd)
            self._epfd = -1
        if self._evfd >= 0:
            close(self._evfd)
            self._evfd = -1
        self._sigfd = -1
        if self._ssock is not None:
            self._ssock.close()
            self._ssock = None
        if self._csock is not None:
            self._csock.close()
            self._csock = None

    # ------------------------------------------------------------------
    # Running and stopping

    cdef int _check_closed_c(self) except -1:
        if self._closed:
            raise RuntimeError("Event loop is closed")
        return 0

    def _check_closed(self):
        self._check_closed_c()

    def _check_running(self):
        if self._running:
            raise RuntimeError("This event loop is already running")
        if _get_running_loop() is not None:
            raise RuntimeError("Cannot run the event loop while another loop is running")

    def _check_thread(self):
        if self._thread_id is None:
            return
        if threading.get_ident() != self._thread_id:
            raise RuntimeError(
                "Non-thread-safe operation invoked on an event loop other "
                "than the current one")

    def _check_callback(self, callback, method):
        if (_coroutines.iscoroutine(callback) or
                _coroutines.iscoroutinefunction(callback)):
            raise TypeError(f"coroutines cannot be used with {method}()")
        if not callable(callback):
            raise TypeError(
                f"a callable object was expected by {method}(), got {callback!r}")

    def run_forever(self):
        """Run the loop until `stop` is called."""
        self._check_closed_c()
        self._check_running()
        self._set_coroutine_origin_tracking(self._debug_flag)
        old_agen_hooks = sys.get_asyncgen_hooks()
        try:
            self._thread_id = threading.get_ident()
            sys.set_asyncgen_hooks(firstiter=self._asyncgen_firstiter_hook,
                                   finalizer=self._asyncgen_finalizer_hook)
            self._running = True
            _set_running_loop(self)
            while True:
                self._run_once()
                if self._stopping:
                    break
        finally:
            self._stopping = False
            self._running = False
            self._thread_id = None
            _set_running_loop(None)
            self._set_coroutine_origin_tracking(False)
            sys.set_asyncgen_hooks(*old_agen_hooks)

    def run_until_complete(self, future):
        """Run until *future* (a future, task or coroutine) is done; return its result."""
        self._check_closed_c()
        self._check_running()
        new_task = not _futures.isfuture(future)
        future = _tasks.ensure_future(future, loop=self)
        if new_task:
            # An exception is raised if the future didn't complete, so there
            # is no need to log the "destroy pending task" message.
            future._log_destroy_pending = False
        future.add_done_callback(_run_until_complete_cb)
        try:
            self.run_forever()
        except:
            if new_task and future.done() and not future.cancelled():
                # The coroutine raised a BaseException. Consume the exception
                # to not log a warning, the caller doesn't have access to the
                # local task.
                future.exception()
            raise
        finally:
            future.remove_done_callback(_run_until_complete_cb)
        if not future.done():
            raise RuntimeError("Event loop stopped before Future completed.")
        return future.result()

    def stop(self):
        """Stop after the callbacks of the current iteration have run."""
        self._stopping = True

    def is_running(self):
        """Return True if the loop is running."""
        return self._running

    def is_closed(self):
        """Return True if `close` was called."""
        return self._closed

    def close(self):
        """Close the loop: drop pending callbacks, release its file descriptors.

        The loop must not be running. Idempotent. Signal handlers are
        removed and the default executor is shut down without waiting.
        """
        if self._running:
            raise RuntimeError("Cannot close a running event loop")
        if self._closed:
            return
        if self._debug_flag:
            _logger.debug("Close %r", self)
        if not _is_finalizing():
            for sig in list(self._signal_handlers):
                self.remove_signal_handler(sig)
        elif self._signal_handlers:
            _warn(f"Closing the loop {self!r} on interpreter shutdown "
                          f"stage, skipping signal handlers removal",
                          ResourceWarning, source=self)
            self._signal_handlers.clear()
        self._closed = True
        self._ready.clear()
        self._ready_spare.clear()
        for t in self._timers:
            (<TimerHandle>t)._scheduled = False
        self._timers.clear()
        self._timer_cancelled_count = 0
        self._executor_shutdown_called = True
        executor = self._default_executor
        if executor is not None:
            self._default_executor = None
            executor.shutdown(wait=False)
        self._fdtab.clear()
        self._dirty.clear()
        self._close_fds()

    def get_debug(self):
        """Return the debug flag (asyncio's debug mode)."""
        return self._debug_flag

    def set_debug(self, enabled):
        """Turn asyncio's debug mode on or off for this loop."""
        self._debug_flag = bool(enabled)
        if self._running:
            self.call_soon_threadsafe(self._set_coroutine_origin_tracking, enabled)

    @property
    def _debug(self):
        return self._debug_flag

    @_debug.setter
    def _debug(self, value):
        self._debug_flag = bool(value)

    @property
    def slow_callback_duration(self):
        """Callbacks that run longer than this (seconds) are logged in debug mode."""
        return self._slow_callback_duration

    @slow_callback_duration.setter
    def slow_callback_duration(self, value):
        self._slow_callback_duration = value

    @property
    def _thread_ident(self):
        return self._thread_id

    def _set_coroutine_origin_tracking(self, enabled):
        if bool(enabled) == self._cot_enabled:
            return
        if enabled:
            self._cot_saved = sys.get_coroutine_origin_tracking_depth()
            sys.set_coroutine_origin_tracking_depth(_constants.DEBUG_STACK_DEPTH)
        else:
            sys.set_coroutine_origin_tracking_depth(self._cot_saved)
        self._cot_enabled = bool(enabled)

    # ------------------------------------------------------------------
    # One iteration

    cdef int _run_once(self) except -1:
        cdef list heap = self._timers
        cdef TimerHandle t
        cdef Py_ssize_t n = len(heap)
        cdef int timeout
        cdef double delta, end
        if (n > _MIN_SCHEDULED_TIMER_HANDLES and
                self._timer_cancelled_count * 2 > n):
            _heap_drop_cancelled(heap)
            self._timer_cancelled_count = 0
        else:
            while len(heap) and (<TimerHandle>heap[0])._cancelled:
                t = _heap_pop(heap)
                t._scheduled = False
                self._timer_cancelled_count -= 1

        if len(self._dirty):
            self._apply_interest()
        # From here to the poll no Python code runs, so a thread that
        # appends to the ready queue either sees _waiting (and writes the
        # eventfd) or ran before and its callback makes the timeout 0.
        self._waiting = True
        if len(self._ready) or self._stopping:
            timeout = 0
        elif len(heap):
            delta = (<TimerHandle>heap[0])._when - self._now()
            if delta <= 0:
                timeout = 0
            elif delta >= 86400.0:
                timeout = MAX_SELECT_TIMEOUT_MS
            else:
                timeout = <int>ceil(delta * 1000.0)
        else:
            timeout = -1
        # Batched writes made from here to the end of the iteration are sent
        # together at its end (SocketTransport._write_batched, _flush_writes).
        self._deferring = True
        try:
            self._poll(timeout)
            self._run_due()
        finally:
            self._deferring = False
            if len(self._flushq):
                self._flush_writes()
        return 0

    cdef int _flush_writes(self) except -1:
        # Send what transports deferred during this iteration: one send per
        # transport, after every callback of the batch has run.
        cdef list q = self._flushq
        cdef Py_ssize_t i, n = len(q)
        self._flushq = []
        for i in range(n):
            try:
                (<NativeIO>q[i])._flush()
            except (SystemExit, KeyboardInterrupt):
                self._flushq[0:0] = q[i + 1:]
                raise
            except BaseException as exc:
                self._report("Exception in deferred write", exc, {"transport": q[i]})
        return 0

    cdef int _run_due(self) except -1:
        cdef list heap = self._timers
        cdef TimerHandle t
        cdef double end
        end = self._now() + self._clock_resolution
        while len(heap):
            t = <TimerHandle>heap[0]
            if t._when >= end:
                break
            _heap_pop(heap)
            t._scheduled = False
            if t._cancelled:
                self._timer_cancelled_count -= 1
            else:
                self._ready.append(t)

        if len(self._ready):
            self._run_ready()
        return 0

    cdef int _run_ready(self) except -1:
        # Run the callbacks that are ready now; those they schedule wait for
        # the next iteration (asyncio's ``ntodo``).
        cdef list todo = self._ready
        cdef Py_ssize_t i = 0, ntodo = len(todo)
        cdef Handle h
        cdef double t0, dt
        self._ready = self._ready_spare
        try:
            if self._debug_flag:
                while i < ntodo:
                    h = <Handle>todo[i]
                    i += 1
                    if h._cancelled:
                        continue
                    self._current_handle = h
                    t0 = self._now()
                    h._run()
                    dt = self._now() - t0
                    if dt >= self._slow_callback_duration:
                        logger.warning("Executing %s took %.3f seconds",
                                       _format_handle(h), dt)
                    self._current_handle = None
            else:
                while i < ntodo:
                    h = <Handle>todo[i]
                    i += 1
                    if not h._cancelled:
                        h._run()
        except BaseException:
            # SystemExit or KeyboardInterrupt: keep what did not run, ahead
            # of what was scheduled meanwhile.
            self._current_handle = None
            rest = todo[i:]
            todo.clear()
            self._ready[0:0] = rest
            self._ready_spare = todo
            raise
        todo.clear()
        self._ready_spare = todo
        return 0

    cdef int _poll(self, int timeout) except -1:
        cdef int n = 0, err = 0, i, fd
        cdef uint32_t mask
        cdef FdEntry e
        cdef Handle h
        cdef Py_ssize_t ntab
        with nogil:
            n = epoll_wait(self._epfd, self._events, MAX_EVENTS, timeout)
            if n < 0:
                err = errno
        self._waiting = False
        if n < 0:
            if err == EINTR:
                # A signal arrived: run the Python-level handlers now (so a
                # KeyboardInterrupt surfaces here, as in asyncio); the wake-up
                # byte is read in the next iteration.
                PyErr_CheckSignals()
                return 0
            _raise_errno(err)
        ntab = len(self._fdtab)
        for i in range(n):
            fd = self._events[i].data.fd
            mask = self._events[i].events
            if fd == self._evfd:
                self._drain_eventfd()
                continue
            if fd == self._sigfd:
                self._read_signals()
                continue
            e = None
            if fd < ntab:
                e = <FdEntry>self._fdtab[fd]
            if e is None:
                self._unknown_fd(fd, mask)
                continue
            if e.registered == 0:
                # Deregistered by a callback earlier in this batch.
                continue
            if mask & ~EPOLLOUT:
                h = e.reader
                if h is not None:
                    if h._cancelled:
                        e.reader = None
                        self._mark_dirty(e)
                    else:
                        self._ready.append(h)
                elif e.native_read:
                    try:
                        e.native._on_read()
                    except (SystemExit, KeyboardInterrupt):
                        raise
                    except BaseException as exc:
                        self._report("Exception in native read callback", exc,
                                     {"transport": e.native})
            if mask & ~EPOLLIN:
                h = e.writer
                if h is not None:
                    if h._cancelled:
                        e.writer = None
                        self._mark_dirty(e)
                    else:
                        self._ready.append(h)
                elif e.native_write:
                    try:
                        e.native._on_write()
                    except (SystemExit, KeyboardInterrupt):
                        raise
                    except BaseException as exc:
                        self._report("Exception in native write callback", exc,
                                     {"transport": e.native})
        return 0

    cdef _unknown_fd(self, int fd, uint32_t mask):
        # An event for an fd nobody watches (closed and reused, say): drop
        # it from the epoll set, and log at most once a minute (h2o).
        epoll_ctl(self._epfd, EPOLL_CTL_DEL, fd, NULL)
        now = self._now()
        if self._last_unknown_log is None or now - self._last_unknown_log >= 60.0:
            self._last_unknown_log = now
            logger.warning("epoll reported events %#x for unwatched fd %d", mask, fd)

    cdef int _drain_eventfd(self) except -1:
        cdef uint64_t value
        read(self._evfd, &value, sizeof(value))
        return 0

    cdef int _wake(self) except -1:
        cdef uint64_t one = 1
        if self._waiting and self._evfd >= 0:
            write(self._evfd, &one, sizeof(one))
        return 0

    def _write_to_self(self):
        """Wake the loop from ``epoll_wait`` (asyncio's name)."""
        cdef uint64_t one = 1
        if self._evfd >= 0:
            write(self._evfd, &one, sizeof(one))

    cdef int _read_signals(self) except -1:
        cdef char buf[256]
        cdef ssize_t n, i
        while True:
            n = recv(self._sigfd, buf, sizeof(buf), 0)
            if n <= 0:
                return 0
            for i in range(n):
                if buf[i]:
                    try:
                        self._handle_signal(<unsigned char>buf[i])
                    except (SystemExit, KeyboardInterrupt):
                        raise
                    except BaseException as exc:
                        self._report("Exception while dispatching a signal", exc,
                                     {"signal": <unsigned char>buf[i]})
        return 0

    def _handle_signal(self, sig):
        handle = self._signal_handlers.get(sig)
        if handle is None:
            return
        if (<Handle>handle)._cancelled:
            self.remove_signal_handler(sig)
        else:
            self._ready.append(handle)

    # ------------------------------------------------------------------
    # Scheduling callbacks

    cdef double _now(self):
        cdef timespec ts
        cdef int64_t ns
        clock_gettime(CLOCK_MONOTONIC, &ts)
        ns = <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec
        # Exactly time.monotonic()'s conversion (_PyTime_AsSecondsDouble).
        if ns % 1000000000 == 0:
            return <double>(ns // 1000000000)
        return (<double>ns) / 1e9

    def time(self):
        """Return the loop's time: `time.monotonic`, as asyncio's loop does."""
        return self._now()

    cdef Handle _call_soon(self, object callback, tuple args, object context):
        cdef Handle h = _new_handle(self, callback, args, context)
        self._ready.append(h)
        return h

    cdef TimerHandle _call_at(self, double when, object callback, tuple args,
                              object context):
        cdef TimerHandle t = _new_timer(self, when, callback, args, context)
        self._timer_seq += 1
        t._seq = self._timer_seq
        _heap_push(self._timers, t)
        t._scheduled = True
        return t

    cdef int _timer_cancelled(self, TimerHandle timer) except -1:
        if timer._scheduled:
            self._timer_cancelled_count += 1
        return 0

    def call_soon(self, callback, *args, context=None):
        """Schedule ``callback(*args)`` for the next iteration; return a `Handle`."""
        self._check_closed_c()
        if self._debug_flag:
            self._check_thread()
            self._check_callback(callback, "call_soon")
        return self._call_soon(callback, args, context)

    def call_soon_threadsafe(self, callback, *args, context=None):
        """Like `call_soon`, callable from any thread; wakes the loop."""
        self._check_closed_c()
        if self._debug_flag:
            self._check_callback(callback, "call_soon_threadsafe")
        h = self._call_soon(callback, args, context)
        self._wake()
        return h

    def call_later(self, delay, callback, *args, context=None):
        """Schedule ``callback(*args)`` after *delay* seconds; return a `TimerHandle`."""
        if delay is None:
            raise TypeError("delay must not be None")
        cdef double when = self._now() + <double>delay
        self._check_closed_c()
        if self._debug_flag:
            self._check_thread()
            self._check_callback(callback, "call_later")
        return self._call_at(when, callback, args, context)

    def call_at(self, when, callback, *args, context=None):
        """Schedule ``callback(*args)`` at loop time *when*; return a `TimerHandle`."""
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed_c()
        if self._debug_flag:
            self._check_thread()
            self._check_callback(callback, "call_at")
        return self._call_at(<double>when, callback, args, context)

    def _add_callback(self, handle):
        """Append an existing handle to the ready queue (asyncio's name)."""
        if not (<Handle?>handle)._cancelled:
            self._ready.append(handle)

    def _timer_handle_cancelled(self, handle):
        self._timer_cancelled(<TimerHandle?>handle)

    @property
    def _ready_count(self):
        return len(self._ready)

    @property
    def _scheduled(self):
        return list(self._timers)

    # ------------------------------------------------------------------
    # Futures and tasks

    def create_future(self):
        """Return a new `asyncio.Future` attached to this loop."""
        return _Future(loop=self)

    def create_task(self, coro, *, name=None, context=None):
        """Wrap coroutine *coro* in a task scheduled on this loop."""
        self._check_closed_c()
        if self._task_factory is None:
            task = _Task(coro, loop=self, name=name, context=context)
            if task._source_traceback:
                del task._source_traceback[len(task._source_traceback) - 1]
        else:
            if context is None:
                task = self._task_factory(self, coro)
            else:
                task = self._task_factory(self, coro, context=context)
            if name is not None:
                if _set_task_name is not None:
                    _set_task_name(task, name)
                else:
                    task.set_name(name)
        return task

    def set_task_factory(self, factory):
        """Set the factory `create_task` uses (``None`` for the default)."""
        if factory is not None and not callable(factory):
            raise TypeError("task factory must be a callable or None")
        self._task_factory = factory

    def get_task_factory(self):
        """Return the task factory, or None."""
        return self._task_factory

    # ------------------------------------------------------------------
    # Async generators

    def _asyncgen_finalizer_hook(self, agen):
        self._asyncgens.discard(agen)
        if not self._closed:
            self.call_soon_threadsafe(self.create_task, agen.aclose())

    def _asyncgen_firstiter_hook(self, agen):
        if self._asyncgens_shutdown_called:
            warnings.warn(
                f"asynchronous generator {agen!r} was scheduled after "
                f"loop.shutdown_asyncgens() call",
                ResourceWarning, source=self)
        self._asyncgens.add(agen)

    # ------------------------------------------------------------------
    # Errors

    def get_exception_handler(self):
        """Return the exception handler, or None for the default."""
        return self._exception_handler

    def set_exception_handler(self, handler):
        """Set ``handler(loop, context)`` as the exception handler (None: default)."""
        if handler is not None and not callable(handler):
            raise TypeError(f"A callable object or None is expected, got {handler!r}")
        self._exception_handler = handler

    def default_exception_handler(self, context):
        """Log *context* as asyncio's default handler does (``asyncio`` logger)."""
        message = context.get("message")
        if not message:
            message = "Unhandled exception in event loop"
        exception = context.get("exception")
        if exception is not None:
            exc_info = (type(exception), exception, exception.__traceback__)
        else:
            exc_info = False
        if ("source_traceback" not in context and
                self._current_handle is not None and
                self._current_handle._source_traceback):
            context["handle_traceback"] = self._current_handle._source_traceback
        log_lines = [message]
        for key in sorted(context):
            if key in {"message", "exception"}:
                continue
            value = context[key]
            if key == "source_traceback":
                tb = "".join(_traceback.format_list(value))
                value = "Object created at (most recent call last):\n"
                value += tb.rstrip()
            elif key == "handle_traceback":
                tb = "".join(_traceback.format_list(value))
                value = "Handle created at (most recent call last):\n"
                value += tb.rstrip()
            else:
                value = repr(value)
            log_lines.append(f"{key}: {value}")
        logger.error("\n".join(log_lines), exc_info=exc_info)

    def call_exception_handler(self, context):
        """Pass *context* (a dict with ``message``, maybe ``exception`` ...) to the handler."""
        if self._exception_handler is None:
            try:
                self.default_exception_handler(context)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                logger.error("Exception in default exception handler", exc_info=True)
        else:
            try:
                self._exception_handler(self, context)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                try:
                    self.default_exception_handler({
                        "message": "Unhandled error in exception handler",
                        "exception": exc,
                        "context": context,
                    })
                except (SystemExit, KeyboardInterrupt):
                    raise
                except BaseException:
                    logger.error("Exception in default exception handler "
                                 "while handling an unexpected error "
                                 "in custom exception handler",
                                 exc_info=True)

    cdef int _report(self, str message, object exc, dict extra) except -1:
        context = {"message": message, "exception": exc}
        if extra:
            context.update(extra)
        self.call_exception_handler(context)
        return 0

    # ------------------------------------------------------------------
    # The epoll set

    cdef FdEntry _entry(self, int fd, bint create):
        cdef Py_ssize_t ntab = len(self._fdtab)
        cdef FdEntry e
        if fd < 0:
            if create:
                raise ValueError(f"Invalid file descriptor: {fd}")
            return None
        if fd < ntab:
            e = <FdEntry>self._fdtab[fd]
            if e is not None or not create:
                return e
        elif not create:
            return None
        else:
            self._fdtab.extend([None] * (fd + 1 - ntab))
        e = FdEntry(fd)
        self._fdtab[fd] = e
        return e

    cdef int _mark_dirty(self, FdEntry e) except -1:
        if not e.dirty:
            e.dirty = True
            self._dirty.append(e)
        return 0

    cdef uint32_t _want(self, FdEntry e):
        # The mask epoll should hold for the entry. An fd with no interest
        # left drops edge mode, so the mode never outlives the fd's last
        # reader and writer (and cannot leak onto a reused fd number).
        cdef uint32_t want = 0
        if e.reader is not None or e.native_read:
            want |= EPOLLIN
        if e.writer is not None or e.native_write:
            want |= EPOLLOUT
        if want == 0:
            e.edge = False
        elif e.edge:
            want |= EPOLLET
        return want

    cdef int _update(self, FdEntry e, bint eager) except -1:
        # Bring the epoll set in line with the entry. An fd new to epoll is
        # added now, so that add_reader() raises for a bad fd as asyncio's
        # does; with *eager*, an fd losing all interest is deleted now (its
        # owner may close it next). Other changes (a mode switch included)
        # wait for the next poll.
        cdef uint32_t want = self._want(e)
        if want == e.registered and not e.dirty:
            return 0
        if e.registered == 0 or (want == 0 and eager):
            return self._ctl(e, want, True)
        return self._mark_dirty(e)

    cdef int _ctl(self, FdEntry e, uint32_t want, bint raise_errors) except -1:
        cdef epoll_event ev
        cdef int r, op, err
        if want == e.registered:
            return 0
        if want == 0:
            epoll_ctl(self._epfd, EPOLL_CTL_DEL, e.fd, NULL)
            e.registered = 0
            return 0
        ev.events = want
        ev.data.u64 = 0
        ev.data.fd = e.fd
        op = EPOLL_CTL_MOD if e.registered else EPOLL_CTL_ADD
        r = epoll_ctl(self._epfd, op, e.fd, &ev)
        if r < 0:
            err = errno
            if err == ENOENT and op == EPOLL_CTL_MOD:
                r = epoll_ctl(self._epfd, EPOLL_CTL_ADD, e.fd, &ev)
            elif err == EEXIST and op == EPOLL_CTL_ADD:
                r = epoll_ctl(self._epfd, EPOLL_CTL_MOD, e.fd, &ev)
            if r < 0:
                err = errno
                e.registered = 0
                if raise_errors:
                    _raise_errno(err)
                return 0
        e.registered = want
        return 0

    cdef int _apply_interest(self) except -1:
        cdef list dirty = self._dirty
        cdef FdEntry e
        cdef uint32_t want
        self._dirty = []
        for item in dirty:
            e = <FdEntry>item
            e.dirty = False
            want = self._want(e)
            if want != e.registered:
                try:
                    self._ctl(e, want, True)
                except OSError as exc:
                    self._report("epoll_ctl() failed", exc, {"fd": e.fd})
        return 0

    cdef int _forget_fd(self, int fd) except -1:
        # The fd is about to be closed by its owner: leave the epoll set now.
        cdef FdEntry e = self._entry(fd, False)
        if e is None:
            return 0
        e.reader = None
        e.writer = None
        e.native = None
        e.native_read = False
        e.native_write = False
        e.edge = False
        if e.registered and self._epfd >= 0:
            epoll_ctl(self._epfd, EPOLL_CTL_DEL, fd, NULL)
        e.registered = 0
        return 0

    cdef int _set_native(self, int fd, NativeIO native, bint rd, bint wr) except -1:
        cdef FdEntry e = self._entry(fd, True)
        e.native = native
        e.native_read = rd
        e.native_write = wr
        self._update(e, False)
        return 0

    def _ensure_fd_no_transport(self, fd):
        fileno = _fileobj_to_fd(fd)
        transport = self._transports.get(fileno)
        if transport is not None and not transport.is_closing():
            raise RuntimeError(f"File descriptor {fd!r} is used by transport {transport!r}")
        cdef FdEntry e = self._entry(fileno, False)
        if e is not None and isinstance(e.native, SocketTransport) and \
                not (<SocketTransport>e.native)._closing:
            raise RuntimeError(f"File descriptor {fd!r} is used by transport {e.native!r}")

    def _add_reader(self, fd, callback, *args):
        self._check_closed_c()
        cdef int fileno = _fileobj_to_fd(fd)
        cdef Handle h = _new_handle(self, callback, args, None)
        cdef FdEntry e = self._entry(fileno, True)
        old = e.reader
        e.reader = h
        try:
            self._update(e, True)
        except BaseException:
            e.reader = old
            raise
        if old is not None:
            old.cancel()
        return h

    def _add_writer(self, fd, callback, *args):
        self._check_closed_c()
        cdef int fileno = _fileobj_to_fd(fd)
        cdef Handle h = _new_handle(self, callback, args, None)
        cdef FdEntry e = self._entry(fileno, True)
        old = e.writer
        e.writer = h
        try:
            self._update(e, True)
        except BaseException:
            e.writer = old
            raise
        if old is not None:
            old.cancel()
        return h

    def _remove_reader(self, fd):
        if self._closed:
            return False
        cdef FdEntry e = self._entry(_fileobj_to_fd(fd), False)
        if e is None or e.reader is None:
            return False
        h = e.reader
        e.reader = None
        self._update(e, True)
        h.cancel()
        return True

    def _remove_writer(self, fd):
        if self._closed:
            return False
        cdef FdEntry e = self._entry(_fileobj_to_fd(fd), False)
        if e is None or e.writer is None:
            return False
        h = e.writer
        e.writer = None
        self._update(e, True)
        h.cancel()
        return True

    def add_reader(self, fd, callback, *args):
        """Call ``callback(*args)`` whenever *fd* is readable."""
        self._ensure_fd_no_transport(fd)
        self._add_reader(fd, callback, *args)

    def remove_reader(self, fd):
        """Stop watching *fd* for reading; return True if it was watched."""
        self._ensure_fd_no_transport(fd)
        return self._remove_reader(fd)

    def add_writer(self, fd, callback, *args):
        """Call ``callback(*args)`` whenever *fd* is writable."""
        self._ensure_fd_no_transport(fd)
        self._add_writer(fd, callback, *args)

    def remove_writer(self, fd):
        """Stop watching *fd* for writing; return True if it was watched."""
        self._ensure_fd_no_transport(fd)
        return self._remove_writer(fd)

    def set_edge_triggered(self, fd, edge=True):
        """Choose edge- (*edge* true) or level-triggered delivery for *fd*.

        Level mode is the default and asyncio's: a reader (writer) callback
        is called on every loop iteration while *fd* is readable (writable).
        In edge mode it is called once per readiness edge -- new data
        arrived, the fd became writable again, a fresh registration -- so the
        callback must read (write) until ``EAGAIN``/``BlockingIOError``, or
        it will not hear of the rest. An extra call without a new edge can
        still happen (changing the fd's reader/writer set re-arms epoll, and
        an edge reports every direction that is ready), so a callback must
        cope with finding nothing to do.

        *fd* (an int or an object with ``fileno()``) must have a reader or a
        writer added on this loop; the choice covers its current and later
        registrations until ``remove_reader`` and ``remove_writer`` have
        dropped both (or until set back), so a closed fd's mode never
        passes to a new fd with the same number. ``edge=False`` on an fd
        that is not watched does nothing. The loop's own fds, and fds owned
        by its transports, cannot be switched. Raises `ValueError` for an fd
        with no reader or writer; `RuntimeError` for a transport's fd.

        `embedtornado.loop.set_edge_triggered` is the loop-agnostic form
        (a no-op on loops without an edge mode, such as asyncio's).
        """
        self._check_closed_c()
        self._ensure_fd_no_transport(fd)
        cdef int fileno = _fileobj_to_fd(fd)
        cdef FdEntry e = self._entry(fileno, False)
        cdef bint on = bool(edge)
        if e is None or (e.reader is None and e.writer is None):
            if not on:
                return
            raise ValueError(f"File descriptor {fd!r} has no reader or writer on this loop")
        if e.native is not None and (e.native_read or e.native_write):
            raise RuntimeError(f"File descriptor {fd!r} is used by the loop itself")
        if e.edge != on:
            e.edge = on
            self._update(e, False)

    def is_edge_triggered(self, fd):
        """Return True if *fd* is watched in edge mode (see `set_edge_triggered`)."""
        cdef FdEntry e = self._entry(_fileobj_to_fd(fd), False)
        return e is not None and e.edge

    # ------------------------------------------------------------------
    # Native transports and listeners (transports.pxi, server.pxi)

    def _sendfile_native(self, transp, file, offset, count):
        """`loop.sendfile`'s zero-copy path: ``sendfile(2)`` on a `SocketTransport`.

        Returns a future for the number of bytes sent. Raises
        `asyncio.SendfileNotAvailableError` (``sendfile`` then falls back
        to reading and writing) for other transports and for files without
        a file descriptor.
        """
        if type(transp) is not SocketTransport:
            raise _SendfileNotAvailableError(
                f"native sendfile is not available for transport {transp!r}")
        return (<SocketTransport>transp)._sendfile_start(file, offset, count)

    def _make_socket_transport(self, sock, protocol, waiter=None, *,
                               extra=None, server=None):
        """Wrap connected non-blocking stream socket *sock* in a `SocketTransport`."""
        self._check_closed_c()
        return _new_socket_transport(self, sock, protocol, waiter, extra, server)

    def _start_serving(self, protocol_factory, sock, sslcontext=None, server=None,
                       backlog=100, ssl_handshake_timeout=None,
                       ssl_shutdown_timeout=None):
        """Accept connections on listening socket *sock* (asyncio.Server calls this)."""
        self._check_closed_c()
        cdef Acceptor acc = Acceptor.__new__(Acceptor)
        acc._loop = self
        acc._sock = sock
        acc._fd = sock.fileno()
        acc._factory = protocol_factory
        acc._sslcontext = sslcontext
        acc._server = server
        acc._backlog = backlog if backlog > 0 else 1
        acc._ssl_handshake_timeout = ssl_handshake_timeout
        acc._ssl_shutdown_timeout = ssl_shutdown_timeout
        acc._active = True
        cdef FdEntry e = self._entry(acc._fd, False)
        if e is not None and isinstance(e.native, Acceptor):
            (<Acceptor>e.native)._stop()
        self._set_native(acc._fd, acc, True, False)

    def _stop_serving(self, sock):
        """Stop accepting on *sock* and close it."""
        cdef int fd = sock.fileno()
        cdef FdEntry e
        if fd >= 0:
            e = self._entry(fd, False)
            if e is not None and isinstance(e.native, Acceptor):
                (<Acceptor>e.native)._stop()
                self._forget_fd(fd)
            else:
                self._remove_reader(fd)
        sock.close()

    # ------------------------------------------------------------------
    # Signals

    def _check_signal(self, sig):
        if not isinstance(sig, int):
            raise TypeError(f"sig must be an int, not {sig!r}")
        if sig not in _signal.valid_signals():
            raise ValueError(f"invalid signal number {sig}")

    def add_signal_handler(self, sig, callback, *args):
        """Run ``callback(*args)`` in the loop when signal *sig* arrives.

        Only from the main thread (`RuntimeError` otherwise, as asyncio).
        """
        if (_coroutines.iscoroutine(callback) or
                _coroutines.iscoroutinefunction(callback)):
            raise TypeError("coroutines cannot be used with add_signal_handler()")
        self._check_signal(sig)
        self._check_closed_c()
        try:
            # set_wakeup_fd() raises ValueError if this is not the main
            # thread, so a loop in another thread cannot add a handler.
            _signal.set_wakeup_fd(self._csock.fileno(), warn_on_full_buffer=False)
        except (ValueError, OSError) as exc:
            raise RuntimeError(str(exc))
        handle = _new_handle(self, callback, args, None)
        self._signal_handlers[sig] = handle
        try:
            # Register a dummy signal handler so Python does not ignore the
            # signal; the real work happens in the loop.
            _signal.signal(sig, _sighandler_noop)
            # Set SA_RESTART to limit EINTR occurrences.
            _signal.siginterrupt(sig, False)
        except OSError as exc:
            del self._signal_handlers[sig]
            if not self._signal_handlers:
                try:
                    _signal.set_wakeup_fd(-1)
                except (ValueError, OSError) as nexc:
                    logger.info("set_wakeup_fd(-1) failed: %s", nexc)
            if exc.errno == _errno.EINVAL:
                raise RuntimeError(f"sig {sig} cannot be caught")
            else:
                raise

    def remove_signal_handler(self, sig):
        """Remove the handler for *sig*; return True if there was one."""
        self._check_signal(sig)
        try:
            del self._signal_handlers[sig]
        except KeyError:
            return False
        if sig == _signal.SIGINT:
            handler = _signal.default_int_handler
        else:
            handler = _signal.SIG_DFL
        try:
            _signal.signal(sig, handler)
        except OSError as exc:
            if exc.errno == _errno.EINVAL:
                raise RuntimeError(f"sig {sig} cannot be caught")
            else:
                raise
        if not self._signal_handlers:
            try:
                _signal.set_wakeup_fd(-1)
            except (ValueError, OSError) as exc:
                logger.info("set_wakeup_fd(-1) failed: %s", exc)
        return True


cdef str _format_handle(Handle h):
    cb = h._callback
    if isinstance(getattr(cb, "__self__", None), _tasks.Task):
        return repr(cb.__self__)
    return str(h)


cdef int _raise_errno(int err=0) except -1:
    if err == 0:
        err = errno
    raise OSError(err, os.strerror(err))


include "transports.pxi"
include "server.pxi"
