# Callback handles: what call_soon / call_later / call_at return.
#
# Included by loop.pyx. They follow `asyncio.Handle` and `asyncio.TimerHandle`:
# ``cancel()``, ``cancelled()``, ``get_context()`` and, for timers, ``when()``.
# Each handle runs its callback inside its `contextvars.Context` entered with
# the C API (no ``Context.run`` bound-method call per callback).


@cython.no_gc_clear
@cython.freelist(250)
cdef class Handle:
    """A callback scheduled on the loop (`asyncio.Handle`'s API)."""

    def __init__(self):
        raise TypeError("Handle objects are created by the event loop")

    def cancel(self):
        """Cancel the callback; a no-op if it already ran or was cancelled."""
        if not self._cancelled:
            self._cancelled = True
            if self._loop is not None and self._loop._debug_flag:
                self._repr = "<" + self._repr_info_str() + ">"
            self._callback = None
            self._args = None

    def cancelled(self):
        """Return True if the callback was cancelled."""
        return self._cancelled

    def get_context(self):
        """Return the `contextvars.Context` the callback runs in."""
        return self._context

    cdef int _run(self) except -1:
        cdef object ctx = self._context
        cdef object cb = self._callback
        cdef tuple args = self._args
        try:
            PyContext_Enter(ctx)
            try:
                if args is None or PyTuple_GET_SIZE(args) == 0:
                    cb()
                else:
                    cb(*args)
            finally:
                PyContext_Exit(ctx)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            cbs = _format_callback_source(self._callback, self._args)
            context = {
                "message": f"Exception in callback {cbs}",
                "exception": exc,
                "handle": self,
            }
            if self._source_traceback:
                context["source_traceback"] = self._source_traceback
            self._loop.call_exception_handler(context)
        return 0

    cdef str _repr_info_str(self):
        info = [self.__class__.__name__]
        if self._cancelled:
            info.append("cancelled")
        if self._callback is not None:
            info.append(_format_callback_source(self._callback, self._args))
        if self._source_traceback:
            frame = self._source_traceback[len(self._source_traceback) - 1]
            info.append(f"created at {frame[0]}:{frame[1]}")
        return " ".join(info)

    def __repr__(self):
        if self._repr is not None:
            return self._repr
        return "<" + self._repr_info_str() + ">"


@cython.no_gc_clear
cdef class TimerHandle(Handle):
    """A callback scheduled for a time (`asyncio.TimerHandle`'s API)."""

    def when(self):
        """Return the scheduled time, on the loop's `~LoopBase.time` clock."""
        return self._when

    def cancel(self):
        """Cancel the callback; the loop drops it from its timer heap lazily."""
        if not self._cancelled:
            if self._scheduled and self._loop is not None:
                self._loop._timer_cancelled(self)
            Handle.cancel(self)

    cdef str _repr_info_str(self):
        info = Handle._repr_info_str(self).split(" ")
        info.insert(2 if self._cancelled else 1, f"when={self._when}")
        return " ".join(info)

    def __hash__(self):
        return hash(self._when)

    def __richcmp__(self, other, int op):
        if not isinstance(other, TimerHandle):
            return NotImplemented
        cdef double a = self._when
        cdef double b = (<TimerHandle>other)._when
        if op == 0:
            return a < b
        if op == 1:
            return a <= b
        if op == 4:
            return a > b
        if op == 5:
            return a >= b
        if op == 2:
            return self is other or (a == b and self._callback == (<TimerHandle>other)._callback
                                      and self._args == (<TimerHandle>other)._args
                                      and self._cancelled == (<TimerHandle>other)._cancelled)
        if op == 3:
            return not (self is other or (a == b and self._callback == (<TimerHandle>other)._callback
                                          and self._args == (<TimerHandle>other)._args
                                          and self._cancelled == (<TimerHandle>other)._cancelled))
        return NotImplemented


cdef inline Handle _new_handle(LoopBase loop, object callback, tuple args, object context):
    cdef Handle h = Handle.__new__(Handle)
    h._loop = loop
    h._callback = callback
    h._args = args
    if context is None:
        context = PyContext_CopyCurrent()
    h._context = context
    if loop._debug_flag:
        h._source_traceback = _extract_stack(sys._getframe(0))
    return h


cdef inline TimerHandle _new_timer(LoopBase loop, double when, object callback, tuple args,
                                   object context):
    cdef TimerHandle h = TimerHandle.__new__(TimerHandle)
    h._loop = loop
    h._callback = callback
    h._args = args
    if context is None:
        context = PyContext_CopyCurrent()
    h._context = context
    h._when = when
    if loop._debug_flag:
        h._source_traceback = _extract_stack(sys._getframe(0))
    return h
