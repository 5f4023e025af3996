"""Tornado's `IOLoop` API on top of an asyncio event loop.

An `IOLoop` wraps one asyncio loop (its ``asyncio_loop`` attribute), as
Tornado 6 does. Code written for Tornado's IOLoop runs unchanged; new code can
just as well use asyncio directly, since the two are the same loop::

    import asyncio
    from embedtornado.ioloop import IOLoop, PeriodicCallback

    async def main():
        loop = IOLoop.current()                 # wraps the running asyncio loop
        loop.call_later(0.5, print, "half a second later")
        heartbeat = PeriodicCallback(lambda: print("tick"), 1000)   # ms
        heartbeat.start()
        await asyncio.sleep(3)
        heartbeat.stop()

    asyncio.run(main())

or, in the older style::

    IOLoop.current().run_sync(main)

Loops that embedtornado creates come from `embedtornado.loop.new_event_loop`,
the seam where the compiled epoll loop will plug in.

Exceptions raised by callbacks (`IOLoop.add_callback`, timeouts, futures'
callbacks, `PeriodicCallback`, I/O handlers) are logged with their
traceback on ``embedtornado.application`` and never stop the loop; a
callback that returns a coroutine or future has that awaited and its
exception logged the same way.

.. note:: embedtornado differs from Tornado 6.6.1 in these details:

   * `IOLoop.current` never emits asyncio's "There is no current event loop"
     `DeprecationWarning`: when the thread has no loop it makes one with
     `embedtornado.loop.new_event_loop` and sets it. With ``instance=False``
     it creates nothing at all.
   * Exceptions from I/O handlers (`IOLoop.add_handler`) are logged on
     ``embedtornado.application`` rather than through asyncio's exception
     handler.
   * `PeriodicCallback` rejects a zero or negative `datetime.timedelta` at
     construction, as it already does for a number.
   * `IOLoop.add_future` raises `TypeError` for something that is not a
     future (Tornado uses a bare ``assert``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import logging
import math
import numbers
import os
import sys
import time
import typing
import warnings
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from embedtornado import loop as _loop_seam
from embedtornado.concurrent import (
    Future,
    chain_future,  # noqa: F401 (Tornado's ioloop module exposes it too)
    future_add_done_callback,
    future_set_exc_info,
    is_future,
)
from embedtornado.util import Configurable, TimeoutError, import_object

if TYPE_CHECKING:
    import datetime

__all__ = [
    "AsyncIOLoop",
    "AsyncIOMainLoop",
    "BaseAsyncIOLoop",
    "IOLoop",
    "PeriodicCallback",
    "TimeoutError",
]

app_log = logging.getLogger("embedtornado.application")

_T = TypeVar("_T")


class _Selectable(Protocol):
    def fileno(self) -> int: ...

    def close(self) -> None: ...


_S = TypeVar("_S", bound=_Selectable)

# Before Python 3.14 the policy getter is public; from 3.14 the public one
# warns and a private twin exists. Either way this does not create a loop.
_get_policy: Callable[[], asyncio.AbstractEventLoopPolicy] = getattr(
    asyncio.events, "_get_event_loop_policy", asyncio.get_event_loop_policy
)


def _thread_event_loop() -> asyncio.AbstractEventLoop | None:
    """Return the running loop, else the loop set for this thread, else None.

    Unlike `asyncio.get_event_loop` this never creates a loop and so never
    warns. The stdlib policies (and ones derived from them, like uvloop's)
    keep the thread's loop in ``_local._loop``, which we read directly; for
    any other policy we fall back on its public ``get_event_loop``.
    """
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    policy = _get_policy()
    local = getattr(policy, "_local", None)
    if local is not None and hasattr(local, "_loop"):
        loop: asyncio.AbstractEventLoop | None = local._loop
        return loop
    try:
        return policy.get_event_loop()
    except RuntimeError:
        return None


# embedtornado.gen (another module) provides Tornado's convert_yielded, which
# also understands lists and dicts of awaitables. It is looked up lazily so
# that importing ioloop does not import gen (gen imports ioloop), and so that
# ioloop works on its own; the result is cached once gen is complete.
_gen_module: Any = None
_gen_looked_up = False


def _gen() -> Any:
    global _gen_module, _gen_looked_up
    if _gen_looked_up:
        return _gen_module
    try:
        from embedtornado import gen
    except ModuleNotFoundError as e:
        if e.name != "embedtornado.gen":
            raise
        _gen_looked_up = True
        return None
    if not hasattr(gen, "convert_yielded"):
        return None  # still being imported; ask again next time
    _gen_module = gen
    _gen_looked_up = True
    return gen


class _NotYieldable(TypeError):
    """Raised for a value that cannot be waited for (when gen is absent)."""


def _convert_yielded(value: Any) -> Future[Any] | concurrent.futures.Future[Any]:
    """Turn an awaitable into a future, as ``gen.convert_yielded`` does.

    :raises gen.BadYieldError: (or `_NotYieldable` without ``embedtornado.gen``)
        if *value* cannot be waited for.
    """
    gen = _gen()
    if gen is not None:
        return gen.convert_yielded(value)  # type: ignore[no-any-return]
    if is_future(value):
        return value  # type: ignore[no-any-return]
    if inspect.isawaitable(value):
        return asyncio.ensure_future(value)
    raise _NotYieldable(f"yielded unknown object {value!r}")


def _not_yieldable_errors() -> tuple[type[BaseException], ...]:
    gen = _gen()
    if gen is None:
        return (_NotYieldable,)
    return (_NotYieldable, getattr(gen, "BadYieldError", _NotYieldable))


class IOLoop(Configurable):
    """An I/O event loop: Tornado's interface to an asyncio event loop.

    Applications normally start asyncio (``asyncio.run``) and use
    `IOLoop.current`. Constructing ``IOLoop()`` creates a *new* asyncio loop
    (an `AsyncIOLoop`) and, by default, makes it the thread's current loop;
    pass ``make_current=False`` for a loop to be run on another thread. Close
    loops you construct with `close`.

    An IOLoop cannot be shared across a `os.fork`: start worker processes
    (`embedtornado.process.fork_processes`) before creating any loop.

    :arg make_current: make the new loop the current asyncio loop of this
        thread (default ``True``).
    :arg asyncio_loop: wrap this existing asyncio loop instead of creating
        one (it must not already have an IOLoop).
    """

    #: Event masks for `add_handler` (values from Tornado, originally epoll's).
    NONE = 0
    READ = 0x001
    WRITE = 0x004
    ERROR = 0x018

    # The IOLoop wrapping each asyncio loop.
    _ioloop_for_asyncio: ClassVar[dict[asyncio.AbstractEventLoop, IOLoop]] = {}

    # Strong references to tasks spawned by embedtornado.gen, so that the
    # garbage collector cannot destroy a pending task (see the warning in
    # asyncio.create_task's documentation).
    _pending_tasks: ClassVar[set[Future[Any]]] = set()

    asyncio_loop: asyncio.AbstractEventLoop

    @classmethod
    def configure(cls, impl: str | type[Configurable] | None, **kwargs: Any) -> None:
        """Choose the IOLoop class; only `BaseAsyncIOLoop` subclasses are allowed.

        :raises RuntimeError: for any other class.
        """
        if isinstance(impl, str):
            impl = import_object(impl)
        if isinstance(impl, type) and not issubclass(impl, BaseAsyncIOLoop):
            raise RuntimeError("only AsyncIOLoop is allowed when asyncio is available")
        super().configure(impl, **kwargs)

    @classmethod
    def configurable_base(cls) -> type[Configurable]:
        return IOLoop

    @classmethod
    def configurable_default(cls) -> type[Configurable]:
        return AsyncIOLoop

    def initialize(self, make_current: bool = True) -> None:
        if make_current:
            self._make_current()

    @staticmethod
    def instance() -> IOLoop:
        """Deprecated alias for `IOLoop.current()`.

        .. deprecated:: 5.0
        """
        return IOLoop.current()

    def install(self) -> None:
        """Deprecated alias for `make_current`.

        .. deprecated:: 5.0
        """
        self.make_current()

    @staticmethod
    def clear_instance() -> None:
        """Deprecated alias for `clear_current`.

        .. deprecated:: 5.0
        """
        IOLoop.clear_current()

    @typing.overload
    @staticmethod
    def current() -> IOLoop: ...

    @typing.overload
    @staticmethod
    def current(instance: bool = True) -> IOLoop | None: ...

    @staticmethod
    def current(instance: bool = True) -> IOLoop | None:
        """Return the `IOLoop` of the running asyncio loop, or of this thread's.

        If no asyncio loop is running, the loop set for this thread
        (`asyncio.set_event_loop`) is used. If there is none and *instance*
        is true, a new loop is made with `embedtornado.loop.new_event_loop`
        and set as the thread's loop. An IOLoop is created to wrap the loop
        the first time one is asked for.

        :arg instance: when false, return ``None`` instead of creating a loop
            or an IOLoop.

        .. note:: embedtornado differs from Tornado 6.6.1: no
           `DeprecationWarning` is raised when no loop is running, and
           ``instance=False`` never creates an asyncio loop.
        """
        loop = _thread_event_loop()
        if loop is None:
            if not instance:
                return None
            loop = _loop_seam.new_event_loop()
            asyncio.set_event_loop(loop)
        existing = IOLoop._ioloop_for_asyncio.get(loop)
        if existing is not None:
            return existing
        if not instance:
            return None
        created: IOLoop = AsyncIOMainLoop(asyncio_loop=loop)
        return created

    def make_current(self) -> None:
        """Make this the current loop of this thread (deprecated).

        .. deprecated:: 6.2
           Warns with `DeprecationWarning`, as in Tornado; call
           `asyncio.set_event_loop` or start the loop instead.
        """
        warnings.warn(
            "make_current is deprecated; start the event loop first",
            DeprecationWarning,
            stacklevel=2,
        )
        self._make_current()

    def _make_current(self) -> None:
        raise NotImplementedError()

    @staticmethod
    def clear_current() -> None:
        """Undo `make_current` for this thread (deprecated).

        .. deprecated:: 6.2
           Warns with `DeprecationWarning`, as in Tornado.
        """
        warnings.warn("clear_current is deprecated", DeprecationWarning, stacklevel=2)
        IOLoop._clear_current()

    @staticmethod
    def _clear_current() -> None:
        old = IOLoop.current(instance=False)
        if old is not None:
            old._clear_current_hook()

    def _clear_current_hook(self) -> None:
        """Called when this loop stops being current; subclasses may restore state."""

    def close(self, all_fds: bool = False) -> None:
        """Close the loop and free its resources.

        The loop must be stopped (`start` has returned) first. With *all_fds*
        every file descriptor or file object still registered with
        `add_handler` is closed as well.
        """
        raise NotImplementedError()

    @typing.overload
    def add_handler(self, fd: int, handler: Callable[[int, int], None], events: int) -> None: ...

    @typing.overload
    def add_handler(self, fd: _S, handler: Callable[[_S, int], None], events: int) -> None: ...

    def add_handler(self, fd: int | _Selectable, handler: Callable[..., None], events: int) -> None:
        """Call ``handler(fd, events)`` whenever *fd* is ready for *events*.

        :arg fd: a file descriptor, or an object with ``fileno()`` (and
            ``close()``); the handler receives back whatever was passed.
        :arg events: a bitwise or of `READ`, `WRITE` and `ERROR`.
        :raises ValueError: if *fd* already has a handler.
        """
        raise NotImplementedError()

    def update_handler(self, fd: int | _Selectable, events: int) -> None:
        """Change the events *fd*'s handler listens for."""
        raise NotImplementedError()

    def remove_handler(self, fd: int | _Selectable) -> None:
        """Stop listening on *fd*; does nothing if it has no handler."""
        raise NotImplementedError()

    def start(self) -> None:
        """Run the loop until `stop` is called."""
        raise NotImplementedError()

    def stop(self) -> None:
        """Make `start` return after the current loop iteration.

        If the loop is not running, the next `start` returns at once. Work
        already scheduled may still run before the loop stops.
        """
        raise NotImplementedError()

    def run_sync(self, func: Callable[[], Any], timeout: float | None = None) -> Any:
        """Start the loop, run *func*, stop the loop and return its result.

        *func* may be a plain function (returning ``None`` or an awaitable),
        a coroutine function, or anything returning a future. The loop runs
        until the awaitable is done; its result is returned and its exception
        raised here::

            async def main():
                ...

            IOLoop.current().run_sync(main)

        :arg timeout: seconds to wait at most; on expiry the awaitable is
            cancelled and `TimeoutError` raised.
        :raises TimeoutError: if *timeout* expires.
        :raises RuntimeError: if the loop stopped before the awaitable was done.
        """
        done: list[Future[Any] | concurrent.futures.Future[Any]] = []
        timed_out = False

        def run() -> None:
            fut: Future[Any] | concurrent.futures.Future[Any]
            try:
                result = func()
                if result is not None:
                    result = _convert_yielded(result)
            except Exception:
                fut = Future()
                future_set_exc_info(fut, sys.exc_info())
            else:
                if is_future(result):
                    fut = result
                else:
                    fut = Future()
                    fut.set_result(result)
            done.append(fut)
            self.add_future(fut, lambda f: self.stop())

        def on_timeout() -> None:
            nonlocal timed_out
            timed_out = True
            # A cancelled task finishes (and add_future stops the loop); a
            # future that refuses cancellation is left pending and we stop.
            if not done[0].cancel():
                self.stop()

        self.add_callback(run)
        handle = None
        if timeout is not None:
            handle = self.add_timeout(self.time() + timeout, on_timeout)
        self.start()
        if handle is not None:
            self.remove_timeout(handle)
        if not done:
            raise RuntimeError("Event loop stopped before Future completed.")
        fut = done[0]
        if fut.cancelled() or not fut.done():
            if timed_out:
                raise TimeoutError(f"Operation timed out after {timeout} seconds")
            raise RuntimeError("Event loop stopped before Future completed.")
        return fut.result()

    def time(self) -> float:
        """Return the loop's clock: `time.time`, the scale of `add_timeout`."""
        return time.time()

    def add_timeout(
        self,
        deadline: float | datetime.timedelta,
        callback: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> object:
        """Run ``callback(*args, **kwargs)`` at *deadline*.

        :arg deadline: a time on the `time` scale, or a `datetime.timedelta`
            from now.
        :returns: a handle for `remove_timeout` (without asyncio's
            ``cancel()`` guarantee: use `remove_timeout`).
        :raises TypeError: for any other kind of deadline.

        Call this from the loop's thread only (use `add_callback` to get there).
        """
        if isinstance(deadline, numbers.Real):
            return self.call_at(deadline, callback, *args, **kwargs)
        import datetime  # (not at the top: a server may never need it)

        if isinstance(deadline, datetime.timedelta):
            return self.call_at(self.time() + deadline.total_seconds(), callback, *args, **kwargs)
        raise TypeError(f"Unsupported deadline {deadline!r}")

    def call_later(
        self, delay: float, callback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> object:
        """Run ``callback(*args, **kwargs)`` after *delay* seconds.

        :returns: a handle for `remove_timeout`.
        """
        return self.call_at(self.time() + delay, callback, *args, **kwargs)

    def call_at(
        self, when: float, callback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> object:
        """Run ``callback(*args, **kwargs)`` at time *when* (on the `time` scale).

        :returns: a handle for `remove_timeout`.
        """
        return self.add_timeout(when, callback, *args, **kwargs)

    def remove_timeout(self, timeout: object) -> None:
        """Cancel a pending timeout; harmless if it has already run."""
        raise NotImplementedError()

    def add_callback(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``callback(*args, **kwargs)`` on the next loop iteration.

        The only IOLoop method that is safe to call from any thread (but not
        from a signal handler). Callbacks added after `close` are dropped.
        """
        raise NotImplementedError()

    def add_callback_from_signal(
        self, callback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        """Like `add_callback`, for use from a signal handler.

        .. deprecated:: 6.4
           Warns with `DeprecationWarning`; use
           `asyncio.loop.add_signal_handler` instead.
        """
        raise NotImplementedError()

    def spawn_callback(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Same as `add_callback` (the two differ only in old Tornado versions)."""
        self.add_callback(callback, *args, **kwargs)

    def add_future(
        self,
        future: Future[_T] | concurrent.futures.Future[_T],
        callback: Callable[[Any], Any],
    ) -> None:
        """Run ``callback(future)`` on the loop once *future* is done.

        The callback always runs on a later loop iteration, even if *future*
        is already done. Only futures are accepted, not other awaitables.
        """
        if isinstance(future, Future):
            # Route through _run_callback so errors reach our logger rather
            # than asyncio's.
            future.add_done_callback(lambda f: self._run_callback(functools.partial(callback, f)))
        else:
            if not is_future(future):
                raise TypeError(f"add_future needs a future, not {future!r}")
            # A concurrent future may finish on another thread; add_callback
            # is the thread-safe way back.
            future_add_done_callback(future, lambda f: self.add_callback(callback, f))

    def run_in_executor(
        self,
        executor: concurrent.futures.Executor | None,
        func: Callable[..., _T],
        *args: Any,
    ) -> Awaitable[_T]:
        """Run ``func(*args)`` on *executor* (``None``: the default one).

        Returns an awaitable future. Use `functools.partial` for keyword
        arguments.
        """
        raise NotImplementedError()

    def set_default_executor(self, executor: concurrent.futures.Executor) -> None:
        """Set the executor `run_in_executor` uses when given ``None``."""
        raise NotImplementedError()

    def _run_callback(self, callback: Callable[[], Any]) -> None:
        """Run *callback*, logging (not raising) any exception it raises.

        A returned coroutine or future is waited for and its exception logged
        too; any other return value is ignored. `asyncio.CancelledError` is
        not logged.
        """
        try:
            ret = callback()
            if ret is not None:
                try:
                    fut = _convert_yielded(ret)
                except _not_yieldable_errors():
                    # add_callback is often given methods that return
                    # something unrelated; that is fine.
                    pass
                else:
                    self.add_future(fut, self._discard_future_result)
        except asyncio.CancelledError:
            pass
        except Exception:
            app_log.error("Exception in callback %r", callback, exc_info=True)

    def _discard_future_result(self, future: Future[Any]) -> None:
        # Raising here sends the exception through _run_callback's logging.
        future.result()

    def split_fd(self, fd: int | _Selectable) -> tuple[int, int | _Selectable]:
        """Return ``(fileno, original object)`` for an fd or a file-like object."""
        if isinstance(fd, int):
            return fd, fd
        return fd.fileno(), fd

    def close_fd(self, fd: int | _Selectable) -> None:
        """Close an fd (`os.close`) or file-like object, ignoring `OSError`."""
        try:
            if isinstance(fd, int):
                os.close(fd)
            else:
                fd.close()
        except OSError:
            pass

    def _register_task(self, f: Future[Any]) -> None:
        self._pending_tasks.add(f)

    def _unregister_task(self, f: Future[Any]) -> None:
        self._pending_tasks.discard(f)


class BaseAsyncIOLoop(IOLoop):
    """The `IOLoop` implementation over an asyncio loop (``asyncio_loop``).

    `AsyncIOMainLoop` and `AsyncIOLoop` differ only in how they become current.
    Tornado has these classes in ``tornado.platform.asyncio``.
    """

    def initialize(  # type: ignore[override]
        self, asyncio_loop: asyncio.AbstractEventLoop, **kwargs: Any
    ) -> None:
        self.asyncio_loop = asyncio_loop
        # fd -> (the object given to add_handler, handler)
        self.handlers: dict[int, tuple[int | _Selectable, Callable[..., None]]] = {}
        self.readers: set[int] = set()
        self.writers: set[int] = set()
        self.closing = False
        # Forget loops that were closed through asyncio rather than close().
        for old in list(IOLoop._ioloop_for_asyncio):
            if old.is_closed():
                IOLoop._ioloop_for_asyncio.pop(old, None)
        existing = IOLoop._ioloop_for_asyncio.setdefault(asyncio_loop, self)
        if existing is not self:
            raise RuntimeError(
                f"IOLoop {existing} already associated with asyncio loop {asyncio_loop}"
            )
        super().initialize(**kwargs)

    def close(self, all_fds: bool = False) -> None:
        self.closing = True
        for fd in list(self.handlers):
            fileobj = self.handlers[fd][0]
            self.remove_handler(fd)
            if all_fds:
                self.close_fd(fileobj)
        # Unmap before closing, so a concurrent initialize() cannot mistake
        # the entry for one left behind by a loop closed through asyncio.
        del IOLoop._ioloop_for_asyncio[self.asyncio_loop]
        self.asyncio_loop.close()

    def add_handler(self, fd: int | _Selectable, handler: Callable[..., None], events: int) -> None:
        fileno, fileobj = self.split_fd(fd)
        if fileno in self.handlers:
            raise ValueError(f"fd {fileno} added twice")
        self.handlers[fileno] = (fileobj, handler)
        if events & IOLoop.READ:
            self.asyncio_loop.add_reader(fileno, self._handle_events, fileno, IOLoop.READ)
            self.readers.add(fileno)
        if events & IOLoop.WRITE:
            self.asyncio_loop.add_writer(fileno, self._handle_events, fileno, IOLoop.WRITE)
            self.writers.add(fileno)

    def update_handler(self, fd: int | _Selectable, events: int) -> None:
        fileno, _ = self.split_fd(fd)
        loop = self.asyncio_loop
        if events & IOLoop.READ:
            if fileno not in self.readers:
                loop.add_reader(fileno, self._handle_events, fileno, IOLoop.READ)
                self.readers.add(fileno)
        elif fileno in self.readers:
            loop.remove_reader(fileno)
            self.readers.discard(fileno)
        if events & IOLoop.WRITE:
            if fileno not in self.writers:
                loop.add_writer(fileno, self._handle_events, fileno, IOLoop.WRITE)
                self.writers.add(fileno)
        elif fileno in self.writers:
            loop.remove_writer(fileno)
            self.writers.discard(fileno)

    def remove_handler(self, fd: int | _Selectable) -> None:
        fileno, _ = self.split_fd(fd)
        if fileno not in self.handlers:
            return
        if fileno in self.readers:
            self.asyncio_loop.remove_reader(fileno)
            self.readers.discard(fileno)
        if fileno in self.writers:
            self.asyncio_loop.remove_writer(fileno)
            self.writers.discard(fileno)
        del self.handlers[fileno]

    def _handle_events(self, fd: int, events: int) -> None:
        fileobj, handler = self.handlers[fd]
        try:
            handler(fileobj, events)
        except Exception:
            app_log.error("Exception in I/O handler for fd %s", fd, exc_info=True)

    def start(self) -> None:
        self.asyncio_loop.run_forever()

    def stop(self) -> None:
        self.asyncio_loop.stop()

    def call_at(
        self, when: float, callback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> object:
        # The asyncio clock is monotonic and ours is time.time(), so convert
        # the absolute deadline into a delay.
        return self.asyncio_loop.call_later(
            max(0, when - self.time()),
            self._run_callback,
            functools.partial(callback, *args, **kwargs),
        )

    def remove_timeout(self, timeout: object) -> None:
        timeout.cancel()  # type: ignore[attr-defined]

    def add_callback(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        loop = self.asyncio_loop
        try:
            same_thread = asyncio.get_running_loop() is loop
        except RuntimeError:
            same_thread = False
        call_soon = loop.call_soon if same_thread else loop.call_soon_threadsafe
        try:
            call_soon(self._run_callback, functools.partial(callback, *args, **kwargs))
        except (RuntimeError, AttributeError):
            # RuntimeError: the loop is closed. add_callback can never promise
            # the callback will run, so dropping it silently is consistent.
            # AttributeError: a close() racing with call_soon_threadsafe.
            pass

    def add_callback_from_signal(
        self, callback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        warnings.warn("add_callback_from_signal is deprecated", DeprecationWarning, stacklevel=2)
        try:
            self.asyncio_loop.call_soon_threadsafe(
                self._run_callback, functools.partial(callback, *args, **kwargs)
            )
        except RuntimeError:
            pass

    def run_in_executor(
        self,
        executor: concurrent.futures.Executor | None,
        func: Callable[..., _T],
        *args: Any,
    ) -> asyncio.Future[_T]:
        return self.asyncio_loop.run_in_executor(executor, func, *args)

    def set_default_executor(self, executor: concurrent.futures.Executor) -> None:
        self.asyncio_loop.set_default_executor(executor)


class AsyncIOMainLoop(BaseAsyncIOLoop):
    """The `IOLoop` that `IOLoop.current` creates for an existing asyncio loop.

    Without *asyncio_loop* it wraps the running loop or the thread's current
    loop (creating and setting one, as `IOLoop.current` does, if there is
    none). Closing it closes the asyncio loop.

    .. deprecated:: 5.0
       Created automatically; there is no need to refer to it.
    """

    def initialize(  # type: ignore[override]
        self, asyncio_loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any
    ) -> None:
        if asyncio_loop is None:
            asyncio_loop = _thread_event_loop()
            if asyncio_loop is None:
                asyncio_loop = _loop_seam.new_event_loop()
                asyncio.set_event_loop(asyncio_loop)
        super().initialize(asyncio_loop, **kwargs)

    def _make_current(self) -> None:
        # It already is the thread's loop.
        pass


class AsyncIOLoop(BaseAsyncIOLoop):
    """An `IOLoop` owning a new asyncio loop (what ``IOLoop()`` builds).

    The loop comes from `embedtornado.loop.new_event_loop` unless one is
    passed as *asyncio_loop*. While current (the default at construction) it
    is also the thread's current asyncio loop; `close` restores the previous
    one.

    .. deprecated:: 5.0
       Construct `IOLoop` instead of naming this class.
    """

    def initialize(self, **kwargs: Any) -> None:  # type: ignore[override]
        self.is_current = False
        self.old_asyncio: asyncio.AbstractEventLoop | None = None
        created = None
        if "asyncio_loop" not in kwargs:
            kwargs["asyncio_loop"] = created = _loop_seam.new_event_loop()
        try:
            super().initialize(**kwargs)
        except Exception:
            # We own a loop we created only once initialize() succeeds.
            if created is not None:
                created.close()
            raise

    def close(self, all_fds: bool = False) -> None:
        if self.is_current:
            self._clear_current()
        super().close(all_fds=all_fds)

    def _make_current(self) -> None:
        if not self.is_current:
            self.old_asyncio = _thread_event_loop()
            self.is_current = True
        asyncio.set_event_loop(self.asyncio_loop)

    def _clear_current_hook(self) -> None:
        if self.is_current:
            asyncio.set_event_loop(self.old_asyncio)
            self.is_current = False


class PeriodicCallback:
    """Call *callback* every *callback_time* milliseconds once `start`\\ ed.

    ::

        pc = PeriodicCallback(poll_sensors, datetime.timedelta(seconds=5))
        pc.start()

    The period runs from the start of one call to the start of the next. If
    a call (including an awaited coroutine) overruns, the runs it missed are
    skipped, not made up, so calls stay on the original grid of multiples of
    the period. If the clock steps backwards the next call is simply one
    period later.

    :arg callback: a function or coroutine function taking no arguments;
        its exceptions are logged on ``embedtornado.application``.
    :arg callback_time: the period, in milliseconds (a number) or as a
        `datetime.timedelta`.
    :arg jitter: spread each period randomly over
        ``callback_time * (1 ± jitter / 2)``; ``0.1`` allows 10% variation.
    :raises ValueError: if the period is not positive.

    .. note:: embedtornado differs from Tornado 6.6.1: a non-positive
       `datetime.timedelta` is rejected here too (Tornado fails later, in
       `start`, with `ZeroDivisionError` or a busy loop).
    """

    def __init__(
        self,
        callback: Callable[[], Awaitable[Any] | None],
        callback_time: datetime.timedelta | float,
        jitter: float = 0,
    ) -> None:
        import datetime  # (not at the top: a server may never need it)

        self.callback = callback
        if isinstance(callback_time, datetime.timedelta):
            self.callback_time = callback_time / datetime.timedelta(milliseconds=1)
        else:
            self.callback_time = callback_time
        if self.callback_time <= 0:
            raise ValueError("Periodic callback must have a positive callback_time")
        self.jitter = jitter
        self._running = False
        self._timeout: object = None

    def start(self) -> None:
        """Start calling; the first call comes one period from now.

        The loop is the one current when `start` runs, so the object may be
        built on another thread and started there with `IOLoop.add_callback`.
        """
        self.io_loop = IOLoop.current()
        self._running = True
        self._next_timeout = self.io_loop.time()
        self._schedule_next()

    def stop(self) -> None:
        """Stop calling (a call in progress finishes)."""
        self._running = False
        if self._timeout is not None:
            self.io_loop.remove_timeout(self._timeout)
            self._timeout = None

    def is_running(self) -> bool:
        """Return ``True`` between `start` and `stop`."""
        return self._running

    async def _run(self) -> None:
        if not self._running:
            return
        try:
            result = self.callback()
            if result is not None and inspect.isawaitable(result):
                await result
        except Exception:
            app_log.error("Exception in callback %r", self.callback, exc_info=True)
        finally:
            self._schedule_next()

    def _schedule_next(self) -> None:
        if self._running:
            self._update_next(self.io_loop.time())
            self._timeout = self.io_loop.add_timeout(self._next_timeout, self._run)

    def _update_next(self, current_time: float) -> None:
        """Advance ``_next_timeout`` past *current_time* on the period grid."""
        period = self.callback_time / 1000.0
        if self.jitter:
            import random

            period *= 1 + self.jitter * (random.random() - 0.5)
        if self._next_timeout <= current_time:
            # Skip every slot that has already passed, landing on the first
            # grid point strictly after now.
            missed = math.floor((current_time - self._next_timeout) / period)
            self._next_timeout += (missed + 1) * period
        else:
            # The clock went backwards (say an NTP step): move on by one
            # period rather than computing the same deadline again.
            self._next_timeout += period
