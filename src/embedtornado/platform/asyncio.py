"""The asyncio side of the `.IOLoop`, under the names Tornado gives it.

Every `.IOLoop` runs on an asyncio event loop. The classes that do so are
defined in `embedtornado.ioloop` and re-exported here, so code written for
``tornado.platform.asyncio`` ports unchanged and gets the very same objects::

    import asyncio
    from embedtornado.ioloop import IOLoop
    from embedtornado.platform.asyncio import AsyncIOMainLoop, to_asyncio_future

    async def main():
        loop = IOLoop.current()
        assert isinstance(loop, AsyncIOMainLoop)  # wraps asyncio.run's loop
        await to_asyncio_future(loop.run_in_executor(None, sum, [1, 2]))

    asyncio.run(main())

`AddThreadSelectorEventLoop` and `SelectorThread` give ``add_reader`` and
friends to an event loop that lacks them by running ``select()`` on a
helper thread. Tornado applies them to Windows' proactor loop; on Linux,
where every loop has its own ``add_reader``, nothing uses them unless a
program does so itself.

``AnyThreadEventLoopPolicy`` (deprecated) is created on first access, as in
Tornado, and warns when instantiated.

.. note:: embedtornado differs from Tornado 6.6.1 in these details:

   * `SelectorThread` starts its thread when it is created (Tornado waits
     for the loop to run it once) and stops it in `SelectorThread.close`
     or at interpreter exit, not through the loop's ``shutdown_asyncgens``.
   * A `SelectorThread` callback that raises is logged on
     ``embedtornado.application`` and the other descriptors keep being
     served; in Tornado the exception escapes to asyncio's handler and the
     selector stops watching everything. A watched socket closed without
     ``remove_reader`` does not end the selector thread either.
   * `BaseAsyncIOLoop` has no ``selector_loop`` attribute: on Linux it would
     always be ``asyncio_loop`` itself.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import select
import socket
import sys
import threading
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from embedtornado.ioloop import AsyncIOLoop, AsyncIOMainLoop, BaseAsyncIOLoop
from embedtornado.log import app_log

if TYPE_CHECKING:
    from embedtornado.gen import _Yieldable

__all__ = [
    "AddThreadSelectorEventLoop",
    "AsyncIOLoop",
    "AsyncIOMainLoop",
    "BaseAsyncIOLoop",
    "SelectorThread",
    "to_asyncio_future",
    "to_tornado_future",
]


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


_FileDescriptorLike = int | _HasFileno


def to_tornado_future(asyncio_future: asyncio.Future[Any]) -> asyncio.Future[Any]:
    """Return *asyncio_future* itself: Tornado's futures are asyncio's.

    .. versionadded:: 4.1 (in Tornado)

    .. deprecated:: 5.0
       A no-op since Tornado 5.
    """
    return asyncio_future


def to_asyncio_future(tornado_future: _Yieldable) -> asyncio.Future[Any]:
    """Turn anything a Tornado coroutine may yield into an `asyncio.Future`.

    Same as `embedtornado.gen.convert_yielded`: futures come back as they
    are, coroutines are wrapped, lists and dicts of them are gathered.

    .. versionadded:: 4.1 (in Tornado)

    .. deprecated:: 5.0
       Use `embedtornado.gen.convert_yielded`.
    """
    from embedtornado.gen import convert_yielded

    return convert_yielded(tornado_future)


_any_thread_policy: type | None = None


def __getattr__(name: str) -> Any:
    # AnyThreadEventLoopPolicy derives from asyncio's default policy, a name
    # that warns on access from Python 3.14 on: build the class only when a
    # program asks for it.
    if name != "AnyThreadEventLoopPolicy":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    global _any_thread_policy
    if _any_thread_policy is None:
        _any_thread_policy = _make_any_thread_policy()
    return _any_thread_policy


def _make_any_thread_policy() -> type:
    base: type = asyncio.DefaultEventLoopPolicy
    if sys.platform == "win32" and hasattr(asyncio, "WindowsSelectorEventLoopPolicy"):
        base = asyncio.WindowsSelectorEventLoopPolicy

    class AnyThreadEventLoopPolicy(base):  # type: ignore[valid-type,misc]
        """An event loop policy whose `get_event_loop` works on every thread.

        asyncio's default policy makes a loop on demand only in the main
        thread; with this one installed
        (``asyncio.set_event_loop_policy(AnyThreadEventLoopPolicy())``),
        ``get_event_loop`` in any other thread makes and sets one too.

        .. versionadded:: 5.0 (in Tornado)

        .. deprecated:: 6.2
           Creating a loop implicitly is deprecated in Python itself. Call
           `asyncio.run` or `asyncio.new_event_loop` in the threads that
           need a loop. Instantiating this class warns.
        """

        def __init__(self) -> None:
            super().__init__()
            warnings.warn(
                "AnyThreadEventLoopPolicy is deprecated: give each thread its "
                "loop with asyncio.run or asyncio.new_event_loop",
                DeprecationWarning,
                stacklevel=2,
            )

        def get_event_loop(self) -> asyncio.AbstractEventLoop:
            try:
                loop: asyncio.AbstractEventLoop = super().get_event_loop()
            except RuntimeError:
                loop = self.new_event_loop()
                self.set_event_loop(loop)
            return loop

    AnyThreadEventLoopPolicy.__module__ = __name__
    AnyThreadEventLoopPolicy.__qualname__ = "AnyThreadEventLoopPolicy"
    return AnyThreadEventLoopPolicy


# SelectorThread instances still open; closed at interpreter exit so that
# their threads stop and their wake-up sockets are released.
_open_selectors: set[SelectorThread] = set()


@atexit.register
def _close_open_selectors() -> None:
    for selector in list(_open_selectors):
        selector.close()


class SelectorThread:
    """Serve ``add_reader``/``add_writer`` for *real_loop* from a helper thread.

    The thread only waits in ``select()``; when descriptors are ready it
    hands them to *real_loop* (``call_soon_threadsafe``), and every callback
    runs there, on the loop's own thread. A callback that raises is logged
    on ``embedtornado.application`` and does not stop the others.

    Usually reached through `AddThreadSelectorEventLoop`. `close` stops the
    thread (an ``atexit`` hook closes any left open).
    """

    _closed = False

    def __init__(self, real_loop: asyncio.AbstractEventLoop) -> None:
        self._real_loop = real_loop
        self._readers: dict[_FileDescriptorLike, Callable[[], None]] = {}
        self._writers: dict[_FileDescriptorLike, Callable[[], None]] = {}
        # The loop thread hands the next sets to wait on through _next, under
        # _cond; the helper thread takes them, waits, and reports back.
        self._cond = threading.Condition()
        self._next: tuple[list[_FileDescriptorLike], list[_FileDescriptorLike]] | None = None
        self._stopping = False
        # A byte on the waker interrupts a select() that waits on stale sets.
        self._waker_r, self._waker_w = socket.socketpair()
        self._waker_r.setblocking(False)
        self._waker_w.setblocking(False)
        self._readers[self._waker_r] = self._drain_waker
        _open_selectors.add(self)
        self._thread = threading.Thread(
            target=self._select_loop, name="embedtornado selector", daemon=True
        )
        self._thread.start()
        self._arm()

    def close(self) -> None:
        """Stop the helper thread and release its sockets (idempotent)."""
        if self._closed:
            return
        self._closed = True
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._wake()
        if self._thread is not threading.current_thread():
            self._thread.join()
        _open_selectors.discard(self)
        self._readers.clear()
        self._writers.clear()
        self._waker_r.close()
        self._waker_w.close()

    def add_reader(
        self, fd: _FileDescriptorLike, callback: Callable[..., None], *args: Any
    ) -> None:
        """Call ``callback(*args)`` on the loop whenever *fd* is readable."""
        self._readers[fd] = functools.partial(callback, *args)
        self._wake()

    def add_writer(
        self, fd: _FileDescriptorLike, callback: Callable[..., None], *args: Any
    ) -> None:
        """Call ``callback(*args)`` on the loop whenever *fd* is writable."""
        self._writers[fd] = functools.partial(callback, *args)
        self._wake()

    def remove_reader(self, fd: _FileDescriptorLike) -> bool:
        """Stop watching *fd* for reading; False if it was not watched."""
        if self._readers.pop(fd, None) is None:
            return False
        self._wake()
        return True

    def remove_writer(self, fd: _FileDescriptorLike) -> bool:
        """Stop watching *fd* for writing; False if it was not watched."""
        if self._writers.pop(fd, None) is None:
            return False
        self._wake()
        return True

    # --- the loop thread's side -------------------------------------------------------

    def _arm(self) -> None:
        """Give the helper thread the current sets to wait on."""
        with self._cond:
            self._next = (list(self._readers), list(self._writers))
            self._cond.notify()

    def _dispatch(
        self, readable: list[_FileDescriptorLike], writable: list[_FileDescriptorLike]
    ) -> None:
        if self._closed:
            return
        for ready, callbacks in ((readable, self._readers), (writable, self._writers)):
            for fd in ready:
                # Looked up now: an earlier callback may have removed it.
                callback = callbacks.get(fd)
                if callback is None:
                    continue
                try:
                    callback()
                except Exception:
                    app_log.error("Exception in selector callback for %r", fd, exc_info=True)
        if not self._closed:
            self._arm()

    def _wake(self) -> None:
        # OSError: the buffer is full (a wake-up is pending anyway) or, after
        # close, the socket is gone.
        with contextlib.suppress(OSError):
            self._waker_w.send(b"\0")

    def _drain_waker(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while self._waker_r.recv(4096):
                pass

    # --- the helper thread ----------------------------------------------------------

    def _select_loop(self) -> None:
        while True:
            with self._cond:
                while self._next is None and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                assert self._next is not None
                to_read, to_write = self._next
                self._next = None
            try:
                # Also ask for exceptional conditions on the writers, so that
                # a failed connect shows up as writable (as selectors does).
                readable, writable, failed = select.select(to_read, to_write, to_write)
            except (OSError, ValueError):
                # A watched descriptor is closed: the loop thread removed it
                # after these sets were taken (and woke us), or the program
                # closed it without removing it. Either way, wait until the
                # registrations change, then go round with fresh sets (never
                # spinning on, or dying of, a bad descriptor).
                select.select([self._waker_r], [], [])
                readable, writable, failed = [], [], []
            for fd in failed:
                if fd not in writable:
                    writable.append(fd)
            try:
                self._real_loop.call_soon_threadsafe(self._dispatch, readable, writable)
            except RuntimeError:
                # The loop is closed: nobody is left to serve.
                return


class AddThreadSelectorEventLoop(asyncio.AbstractEventLoop):
    """Wrap *real_loop*, adding ``add_reader`` and friends through a `SelectorThread`.

    Everything else (``run_forever``, ``call_soon``, ...) is *real_loop*'s
    own: the wrapper forwards every other attribute. Closing the wrapper
    stops the selector thread and closes *real_loop*.

    Useful only for a loop without a working ``add_reader`` (Windows'
    proactor loop, where Tornado applies it automatically); any loop
    embedtornado runs on Linux has its own.
    """

    #: The attributes the wrapper answers itself; the rest come from the real loop.
    MY_ATTRIBUTES = frozenset(
        {
            "_real_loop",
            "_selector",
            "add_reader",
            "add_writer",
            "close",
            "remove_reader",
            "remove_writer",
        }
    )

    def __getattribute__(self, name: str) -> Any:
        if name in AddThreadSelectorEventLoop.MY_ATTRIBUTES:
            return super().__getattribute__(name)
        return getattr(super().__getattribute__("_real_loop"), name)

    def __init__(self, real_loop: asyncio.AbstractEventLoop) -> None:
        self._real_loop = real_loop
        self._selector = SelectorThread(real_loop)

    def close(self) -> None:
        self._selector.close()
        self._real_loop.close()

    def add_reader(  # type: ignore[override]
        self, fd: _FileDescriptorLike, callback: Callable[..., None], *args: Any
    ) -> None:
        self._selector.add_reader(fd, callback, *args)

    def add_writer(  # type: ignore[override]
        self, fd: _FileDescriptorLike, callback: Callable[..., None], *args: Any
    ) -> None:
        self._selector.add_writer(fd, callback, *args)

    def remove_reader(self, fd: _FileDescriptorLike) -> bool:
        return self._selector.remove_reader(fd)

    def remove_writer(self, fd: _FileDescriptorLike) -> bool:
        return self._selector.remove_writer(fd)
