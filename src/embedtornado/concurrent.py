"""Helpers for futures (Tornado's ``tornado.concurrent``).

embedtornado's `Future` *is* `asyncio.Future`. The helpers here paper over
the differences between it and `concurrent.futures.Future` and avoid
`asyncio.InvalidStateError` when a future was cancelled under your feet::

    import concurrent.futures
    from embedtornado.concurrent import Future, chain_future, run_on_executor

    class Hasher:
        executor = concurrent.futures.ThreadPoolExecutor(4)

        @run_on_executor
        def digest(self, data: bytes) -> str:
            return hashlib.sha256(data).hexdigest()   # runs on a worker thread

    async def handler():
        hex = await Hasher().digest(b"payload")       # an awaitable Future

Most applications never need this module; the server code uses it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import types
import typing
from collections.abc import Callable
from concurrent import futures
from typing import Any, TypeVar

__all__ = [
    "FUTURES",
    "DummyExecutor",
    "Future",
    "ReturnValueIgnoredError",
    "chain_future",
    "dummy_executor",
    "future_add_done_callback",
    "future_set_exc_info",
    "future_set_exception_unless_cancelled",
    "future_set_result_unless_cancelled",
    "is_future",
    "run_on_executor",
]

_T = TypeVar("_T")

app_log = logging.getLogger("embedtornado.application")


class ReturnValueIgnoredError(Exception):
    """Kept for compatibility; nothing raises it since Tornado 6 (it belonged
    to the removed ``return_future`` decorator)."""


#: The future class used throughout embedtornado: `asyncio.Future` itself.
Future = asyncio.Future

#: The future types that `is_future` recognises.
FUTURES = (futures.Future, Future)


def is_future(x: Any) -> bool:
    """Return ``True`` if *x* is an asyncio or a `concurrent.futures` future."""
    return isinstance(x, FUTURES)


class DummyExecutor(futures.Executor):
    """An executor that runs each function at once, in the calling thread.

    `submit` returns an already finished `concurrent.futures.Future`.
    """

    def submit(  # type: ignore[override]
        self, fn: Callable[..., _T], *args: Any, **kwargs: Any
    ) -> futures.Future[_T]:
        future: futures.Future[_T] = futures.Future()
        try:
            result = fn(*args, **kwargs)
        except Exception:
            future_set_exc_info(future, sys.exc_info())
        else:
            future_set_result_unless_cancelled(future, result)
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """Do nothing: there are no threads to stop."""


#: A shared `DummyExecutor`.
dummy_executor = DummyExecutor()


def run_on_executor(*args: Any, **kwargs: Any) -> Callable[..., Any]:
    """Decorate a blocking method so that calling it runs it on an executor.

    The decorated method returns an awaitable `Future` at once. The executor
    is read from the instance attribute ``executor``; name another attribute
    with the keyword form::

        @run_on_executor(executor="_pool")
        def resize(self, image): ...

    The result is delivered on the `.IOLoop` current when the method was
    called. Prefer `.IOLoop.run_in_executor` at the call site in new code.

    :arg executor: the name of the attribute holding the executor
        (default ``"executor"``).
    :arg io_loop: accepted and ignored, as in Tornado 5+ (which always uses
        the current `.IOLoop`).
    :raises ValueError: if positional and keyword arguments are mixed, or more
        than one positional argument is given.
    """

    def decorator(fn: Callable[..., Any]) -> Callable[..., Future[Any]]:
        attr = kwargs.get("executor", "executor")

        @functools.wraps(fn)
        def wrapper(self: Any, *a: Any, **kw: Any) -> Future[Any]:
            result: Future[Any] = Future()
            chain_future(getattr(self, attr).submit(fn, self, *a, **kw), result)
            return result

        return wrapper

    if args and kwargs:
        raise ValueError("cannot combine positional and keyword args")
    if len(args) == 1:
        return decorator(args[0])
    if args:
        raise ValueError(f"expected 1 argument, got {len(args)}")
    return decorator


def chain_future(a: futures.Future[_T] | Future[_T], b: futures.Future[_T] | Future[_T]) -> None:
    """Make *b* finish the way *a* does.

    When *a* is done its result, exception or cancellation is copied to *b*,
    unless *b* is already done by then. *a* may be a `concurrent.futures`
    future; its outcome is then delivered on the current `.IOLoop`.

    .. versionchanged:: 6.6
       Cancelling *a* cancels *b*.
    """

    def copy(done: Any) -> None:
        if b.done():
            return
        if done.cancelled():
            b.cancel()
            return
        # Futures from Tornado 4 carried exc_info(); keep their tracebacks.
        exc_info = getattr(done, "exc_info", None)
        if exc_info is not None and exc_info() is not None:
            future_set_exc_info(b, exc_info())
            return
        exc = done.exception()
        if exc is not None:
            b.set_exception(exc)
        else:
            b.set_result(done.result())

    if isinstance(a, Future):
        future_add_done_callback(a, copy)
    else:
        from embedtornado.ioloop import IOLoop

        IOLoop.current().add_future(a, copy)


def future_set_result_unless_cancelled(future: futures.Future[_T] | Future[_T], value: _T) -> None:
    """Set *future*'s result unless it was cancelled (then do nothing).

    .. versionadded:: 5.0
    """
    if not future.cancelled():
        future.set_result(value)


def future_set_exception_unless_cancelled(
    future: futures.Future[_T] | Future[_T], exc: BaseException
) -> None:
    """Set *future*'s exception; if it was cancelled, log *exc* instead.

    The log record goes to ``embedtornado.application`` with the traceback.
    Check ``future.cancelled()`` yourself if that logging is unwanted.

    .. versionadded:: 6.0
    """
    if future.cancelled():
        app_log.error("Exception after Future was cancelled", exc_info=exc)
    else:
        future.set_exception(exc)


def future_set_exc_info(
    future: futures.Future[_T] | Future[_T],
    exc_info: tuple[type | None, BaseException | None, types.TracebackType | None],
) -> None:
    """Set *future*'s exception from a `sys.exc_info` triple.

    Does nothing but log if *future* was cancelled (see
    `future_set_exception_unless_cancelled`).

    :raises Exception: if the triple holds no exception.
    """
    exc = exc_info[1]
    if exc is None:
        raise Exception("future_set_exc_info called with no exception")
    future_set_exception_unless_cancelled(future, exc)


@typing.overload
def future_add_done_callback(
    future: futures.Future[_T], callback: Callable[[futures.Future[_T]], None]
) -> None: ...


@typing.overload
def future_add_done_callback(
    future: Future[_T], callback: Callable[[Future[_T]], None]
) -> None: ...


def future_add_done_callback(future: Any, callback: Callable[..., None]) -> None:
    """Call ``callback(future)`` when *future* is done.

    Unlike ``Future.add_done_callback``, a future that is already done gets
    its callback run immediately, in this call.

    .. versionadded:: 5.0
    """
    if future.done():
        callback(future)
    else:
        future.add_done_callback(callback)
