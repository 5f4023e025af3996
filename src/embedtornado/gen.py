"""Generator-based coroutines and helpers for waiting on several futures.

This is Tornado's ``tornado.gen``. New code is better written with
``async def`` and ``await``; this module keeps code written in the older
style running, and offers helpers that are useful in both::

    from embedtornado import gen

    @gen.coroutine
    def fetch_both(client):
        # Yielding a list (or dict) waits for all of its awaitables.
        a, b = yield [client.fetch("/a"), client.fetch("/b")]
        yield gen.sleep(0.1)
        return a, b                      # or, old style: raise gen.Return((a, b))

    async def bounded(client):
        # with_timeout raises TimeoutError, without cancelling the fetch.
        return await gen.with_timeout(datetime.timedelta(seconds=5), client.fetch("/slow"))

A ``@coroutine`` function returns a `.Future` (an `asyncio.Future`). Its
generator may yield a future (asyncio or `concurrent.futures`), any
awaitable (native coroutines are started as tasks), a list or dict of
those (waited for with `multi`), or ``None``/`moment` to let the loop run
one iteration. What else may be yielded can be extended by registering a
converter with `convert_yielded` (a `functools.singledispatch` function).

Semantics kept from Tornado 6.6.1:

* The generator runs up to its first unfinished yield during the call;
  yielding an already finished future resumes it at once, without a loop
  iteration.
* Each call runs in a copy of the caller's `contextvars` context, so
  context variables set inside survive across its yields and do not leak
  out to the caller.
* Cancelling the returned future does *not* stop the generator (there is
  no task to cancel); the generator's own result is then dropped. A
  generator that lets `asyncio.CancelledError` escape (say by yielding a
  cancelled future) gets its future cancelled.
* `multi` waits for *every* child before it reports the first failure (in
  the children's order), and logs the later failures; `with_timeout` does
  not cancel what it waits for.
"""

from __future__ import annotations

import asyncio
import builtins
import collections
import collections.abc
import concurrent.futures
import contextvars
import datetime
import functools
import os
import sys
import types
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from functools import singledispatch
from inspect import isawaitable
from typing import Any, TypeVar, Union, cast, overload

from embedtornado.concurrent import (
    Future,
    chain_future,
    future_add_done_callback,
    future_set_exc_info,
    future_set_result_unless_cancelled,
    is_future,
)
from embedtornado.ioloop import IOLoop, _thread_event_loop
from embedtornado.log import app_log
from embedtornado.util import TimeoutError  # Tornado re-exports it here too

__all__ = [
    "BadYieldError",
    "KeyReuseError",
    "LeakedCallbackError",
    "Multi",
    "Return",
    "ReturnValueIgnoredError",
    "Runner",
    "TimeoutError",
    "UnknownKeyError",
    "WaitIterator",
    "convert_yielded",
    "coroutine",
    "is_coroutine_function",
    "maybe_future",
    "moment",
    "multi",
    "multi_future",
    "sleep",
    "with_timeout",
]

_T = TypeVar("_T")

_Yieldable = Union[
    None,
    Awaitable[Any],
    list[Awaitable[Any]],
    dict[Any, Awaitable[Any]],
    "concurrent.futures.Future[Any]",
]

_QuietExceptions = Union[type[Exception], tuple[type[Exception], ...]]


class KeyReuseError(Exception):
    """Kept for compatibility (it belonged to Tornado's removed callback API)."""


class UnknownKeyError(Exception):
    """Kept for compatibility (it belonged to Tornado's removed callback API)."""


class LeakedCallbackError(Exception):
    """Kept for compatibility (it belonged to Tornado's removed callback API)."""


class BadYieldError(Exception):
    """A coroutine yielded something that cannot be waited for."""


class ReturnValueIgnoredError(Exception):
    """Kept for compatibility (it belonged to Tornado's removed callback API)."""


class Return(Exception):
    """Return *value* from a `coroutine` the way Python 2 had to.

    ``raise gen.Return(x)`` in a coroutine is the same as ``return x``;
    the value is optional. Prefer ``return``.
    """

    def __init__(self, value: Any = None) -> None:
        super().__init__()
        self.value = value
        self.args = (value,)


def _returned_value(stop: BaseException) -> Any:
    """The value carried by a `StopIteration` or `Return`."""
    value = getattr(stop, "value", None)
    if value is None and stop.args:
        # A StopIteration subclass that does not set .value, say.
        value = stop.args[0]
    return value


_ASYNCIO_DIR = os.path.dirname(asyncio.__file__) + os.sep


def _create_future() -> Future[Any]:
    """A new `.Future` on the running loop, else on this thread's loop.

    Unlike a bare ``asyncio.Future()`` this never warns when no loop is
    running: the thread's loop is found (or made) as `.IOLoop.current` does.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        thread_loop = _thread_event_loop()
        loop = thread_loop if thread_loop is not None else IOLoop.current().asyncio_loop
    future = loop.create_future()
    # In asyncio debug mode a future records where it was created; as in
    # Tornado, that place is the caller of the coroutine, not this module.
    # (asyncio's own create_future is a frame too, on its selector loop).
    source_traceback = getattr(future, "_source_traceback", None)
    while source_traceback and (source_traceback[-1][0] == __file__
                                or source_traceback[-1][0].startswith(_ASYNCIO_DIR)):
        del source_traceback[-1]
    return future


class _NullFuture:
    """A finished stand-in for a future, with result ``None``.

    `moment` is one of these: the coroutine runner treats it specially
    (it resumes the generator on the next loop iteration). It belongs to
    no event loop, so it cannot be awaited; only yielded.
    """

    __slots__ = ()

    def result(self) -> None:
        return None

    def done(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "<gen.moment>" if self is moment else "<gen._null_future>"


_null_future = cast(Future, _NullFuture())

#: Yield this (``yield gen.moment``) to let the loop run one iteration before
#: the coroutine goes on. ``yield None`` (or a bare ``yield``) does the same;
#: in native coroutines use ``await asyncio.sleep(0)``.
#:
#: .. deprecated:: 4.5
#:    Use ``yield None``.
moment = cast(Future, _NullFuture())


# --- the decorator ----------------------------------------------------------


@overload
def coroutine(
    func: Callable[..., Generator[Any, Any, _T]],
) -> Callable[..., Future[_T]]: ...


@overload
def coroutine(func: Callable[..., _T]) -> Callable[..., Future[_T]]: ...


def coroutine(func: Callable[..., Any]) -> Callable[..., Future[Any]]:
    """Decorate a generator function into a coroutine returning a `.Future`.

    ::

        @gen.coroutine
        def get(self):
            response = yield self.client.fetch(url)
            return json.loads(response.body)

    The generator's ``return`` value (or `Return`'s) becomes the future's
    result, its exception the future's exception. A decorated function that
    is not a generator just has its return value (or exception) wrapped in
    a finished future.

    Exceptions end up in the returned future: someone must look at it
    (``yield`` or ``await`` it, `.IOLoop.run_sync`, `.IOLoop.add_future`),
    or they go unnoticed.

    .. versionchanged:: 6.6
       If `asyncio.CancelledError` escapes the generator, the future is
       cancelled.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Future[Any]:
        future = _create_future()
        ctx_run: Callable[..., Any] = contextvars.copy_context().run
        try:
            result = ctx_run(func, *args, **kwargs)
        except (Return, StopIteration) as e:
            result = _returned_value(e)
        except asyncio.CancelledError:
            future.cancel()
            return future
        except Exception:
            future_set_exc_info(future, sys.exc_info())
            try:
                return future
            finally:
                # Break the cycle future -> exception -> traceback -> this
                # frame -> future, so an unretrieved failure is reported at once.
                del future
        if not isinstance(result, collections.abc.Generator):
            future_set_result_unless_cancelled(future, result)
            return future
        # Run up to the first yield now, in the caller's turn of the loop.
        try:
            first = ctx_run(next, result)
        except (StopIteration, Return) as e:
            future_set_result_unless_cancelled(future, _returned_value(e))
        except asyncio.CancelledError:
            future.cancel()
        except Exception:
            future_set_exc_info(future, sys.exc_info())
        else:
            runner = Runner(ctx_run, result, future, first)
            # The future keeps the runner alive (and so the generator and
            # whatever it waits for) for as long as someone holds the future.
            future.add_done_callback(functools.partial(_keep_alive, runner))
        # The generator's first step can fail inside Runner (when what it
        # yielded was already done); its traceback then reaches this frame.
        result = first = runner = None
        try:
            return future
        finally:
            del future  # the same cycle, when the first step failed

    wrapper.__wrapped__ = func  # type: ignore[attr-defined]
    # The marker Tornado uses, so either framework's is_coroutine_function
    # recognises the other's coroutines.
    wrapper.__tornado_coroutine__ = True  # type: ignore[attr-defined]
    return wrapper


def _keep_alive(runner: Runner, future: Future[Any]) -> None:
    """Done callback whose only job is holding a reference to *runner*."""


def is_coroutine_function(func: Any) -> bool:
    """Return whether *func* was decorated with `coroutine`.

    ``async def`` functions are not: use `inspect.iscoroutinefunction` for those.

    .. versionadded:: 4.5
    """
    return bool(getattr(func, "__tornado_coroutine__", False))


class Runner:
    """Drives one `coroutine`'s generator: sends it results, throws it errors.

    Internal to `coroutine`; public in name only, as in Tornado. The
    outcome of the generator goes to *result_future*.
    """

    def __init__(
        self,
        ctx_run: Callable[..., Any],
        gen: Generator[_Yieldable, Any, Any],
        result_future: Future[Any],
        first_yielded: _Yieldable,
    ) -> None:
        self.ctx_run = ctx_run
        self.gen = gen
        self.result_future: Future[Any] | None = result_future
        # What the generator is waiting for: a future or a _NullFuture.
        self.future: Any = _null_future
        self.running = False
        self.finished = False
        self.io_loop = IOLoop.current()
        if self.ctx_run(self.handle_yield, first_yielded):
            # A failure in run() keeps its traceback, whose frames reach this
            # one: drop the references to the result future first, or the
            # future and the failed generator's locals would wait for the
            # cycle collector.
            gen = result_future = first_yielded = None  # type: ignore[assignment]
            self.ctx_run(self.run)

    def run(self) -> None:
        """Resume the generator and keep it going while what it yields is done."""
        if self.running or self.finished:
            return
        self.running = True
        try:
            while True:
                waited = self.future
                if waited is None:
                    raise Exception("No pending future")
                if not waited.done():
                    return
                self.future = None
                error: BaseException | None = None
                value: Any = None
                try:
                    value = waited.result()
                except (Exception, asyncio.CancelledError) as e:
                    error = e
                del waited
                # Resume outside the except clause above, so that what the
                # generator raises is not chained to this error by accident.
                try:
                    if error is not None:
                        try:
                            yielded = self.gen.throw(error)
                        finally:
                            error = None
                    else:
                        yielded = self.gen.send(value)
                        value = None
                except (StopIteration, Return) as e:
                    self._finish()
                    future_set_result_unless_cancelled(self._take_result(), _returned_value(e))
                    return
                except asyncio.CancelledError:
                    self._finish()
                    self._take_result().cancel()
                    return
                except Exception:
                    self._finish()
                    future_set_exc_info(self._take_result(), sys.exc_info())
                    return
                if not self.handle_yield(yielded):
                    return
                yielded = None
        finally:
            self.running = False

    def _finish(self) -> None:
        self.finished = True
        self.future = _null_future

    def _take_result(self) -> Future[Any]:
        future = self.result_future
        assert future is not None
        self.result_future = None  # let the future (and its callbacks) go
        return future

    def handle_yield(self, yielded: _Yieldable) -> bool:
        """Start waiting for *yielded*; return whether it is already done.

        A value that cannot be waited for becomes a `BadYieldError`
        thrown into the generator.
        """
        try:
            future = convert_yielded(yielded)
        except BadYieldError:
            future = _create_future()
            future_set_exc_info(future, sys.exc_info())
        self.future = future
        if future is moment:
            self.io_loop.add_callback(self.ctx_run, self.run)
            return False
        if future is None:
            raise Exception("no pending future")
        if not future.done():
            self.io_loop.add_future(future, self._resume)
            return False
        return True

    def _resume(self, future: Any) -> None:
        self.ctx_run(self.run)

    def handle_exception(
        self,
        typ: type[BaseException],
        value: BaseException,
        tb: types.TracebackType | None,
    ) -> bool:
        """Throw an exception into an idle generator; return whether it was.

        Kept from Tornado's callback era; nothing in embedtornado calls it.
        """
        if self.running or self.finished:
            return False
        self.future = _create_future()
        future_set_exc_info(self.future, (typ, value, tb))
        self.ctx_run(self.run)
        return True


# --- waiting for several things ------------------------------------------------


class WaitIterator:
    """Wait for several awaitables and take their results as they come.

    ::

        waiter = gen.WaitIterator(fetch_a(), fetch_b())
        while not waiter.done():
            try:
                result = await waiter.next()
            except Exception as e:
                log.warning("%s failed: %s", waiter.current_index, e)
            else:
                use(waiter.current_index, result)

    Results come in the order they finish, not the order given.
    `current_index` is the position (or keyword, when built with keyword
    arguments) of the awaitable whose result `next` just delivered, and
    `current_future` that future itself. ``async for result in
    WaitIterator(...)`` works too, but stops at the first failure.

    :raises ValueError: if given both positional and keyword arguments.

    .. versionadded:: 4.1
    """

    def __init__(self, *args: Future[Any], **kwargs: Future[Any]) -> None:
        if args and kwargs:
            raise ValueError("You must provide args or kwargs, not both")
        # Each pending future, with the positions/keys it was given at (the
        # same future may be given twice).
        self._unfinished: dict[Any, collections.deque[int | str]] = {}
        pairs: Sequence[tuple[int | str, Any]] = (
            list(kwargs.items()) if kwargs else list(enumerate(args))
        )
        for key, future in pairs:
            self._unfinished.setdefault(future, collections.deque()).append(key)
        self._finished: collections.deque[Any] = collections.deque()
        self.current_index: int | str | None = None
        self.current_future: Future[Any] | None = None
        self._running_future: Future[Any] | None = None
        for _, future in pairs:
            future_add_done_callback(future, self._done_callback)

    def done(self) -> bool:
        """Return ``True`` once every result has been delivered."""
        if self._finished or self._unfinished:
            return False
        self.current_index = self.current_future = None
        return True

    def next(self) -> Future[Any]:
        """Return a new `.Future` for the next result to come.

        It resolves (or fails) as the next awaitable to finish did.
        """
        self._running_future = _create_future()
        if self._finished:
            return self._return_result(self._finished.popleft())
        return self._running_future

    def _done_callback(self, done: Any) -> None:
        running = self._running_future
        if running is not None and not running.done():
            self._return_result(done)
        else:
            self._finished.append(done)

    def _return_result(self, done: Any) -> Future[Any]:
        running = self._running_future
        if running is None:
            raise Exception("no future is running")
        chain_future(done, running)
        self._running_future = None
        self.current_future = done
        keys = self._unfinished[done]
        self.current_index = keys.popleft()
        if not keys:
            del self._unfinished[done]
        return running

    def __aiter__(self) -> WaitIterator:
        return self

    def __anext__(self) -> Future[Any]:
        if self.done():
            raise builtins.StopAsyncIteration()
        return self.next()


@overload
def multi(
    children: Sequence[_Yieldable], quiet_exceptions: _QuietExceptions = ()
) -> Future[list[Any]]: ...


@overload
def multi(
    children: Mapping[Any, _Yieldable], quiet_exceptions: _QuietExceptions = ()
) -> Future[dict[Any, Any]]: ...


def multi(
    children: Sequence[_Yieldable] | Mapping[Any, _Yieldable],
    quiet_exceptions: _QuietExceptions = (),
) -> Future[list[Any]] | Future[dict[Any, Any]]:
    """Wait for a list or dict of awaitables; resolve to their results.

    The result has the shape of *children*: a list in the same order, or a
    dict with the same keys. A coroutine's ``yield [a, b]`` calls this for
    you; in ``async def`` code write ``await gen.multi([a, b])``.

    If children fail, the returned future fails with the first failure in
    *children*'s order, once every child has finished; the other failures
    are logged on ``embedtornado.application`` unless they are instances of
    *quiet_exceptions* (or `asyncio.CancelledError`).

    Cancelling the returned future does not cancel the children
    (`asyncio.gather` does).

    .. versionchanged:: 6.6
       A cancelled child makes the result fail with
       `asyncio.CancelledError`.
    """
    return multi_future(children, quiet_exceptions=quiet_exceptions)


#: Old name of `multi`.
Multi = multi


def multi_future(
    children: Sequence[_Yieldable] | Mapping[Any, _Yieldable],
    quiet_exceptions: _QuietExceptions = (),
) -> Future[list[Any]] | Future[dict[Any, Any]]:
    """The same as `multi` (a separate function before Tornado 4.3).

    .. deprecated:: 4.3
       Use `multi`.
    """
    keys: list[Any] | None
    if isinstance(children, dict):
        keys = list(children)
        values: Any = children.values()
    else:
        keys = None
        values = children
    futures = [convert_yielded(child) for child in values]
    result: Future[Any] = _create_future()
    if not futures:
        result.set_result({} if keys is not None else [])
        return result
    pending = set(futures)

    def on_child_done(child: Any) -> None:
        pending.discard(child)
        if pending:
            return
        results = []
        for f in futures:
            try:
                results.append(f.result())
            except (Exception, asyncio.CancelledError) as e:
                if not result.done():
                    future_set_exc_info(result, sys.exc_info())
                elif not isinstance(e, (asyncio.CancelledError, quiet_exceptions)):
                    app_log.error("Multiple exceptions in yield list", exc_info=True)
        if not result.done():
            if keys is not None:
                future_set_result_unless_cancelled(result, dict(zip(keys, results)))
            else:
                future_set_result_unless_cancelled(result, results)

    seen: set[Any] = set()
    for f in futures:
        if f not in seen:
            seen.add(f)
            future_add_done_callback(f, on_child_done)
    return result


def maybe_future(x: Any) -> Future[Any]:
    """Return *x* if it is a future, else a finished future whose result is *x*.

    .. deprecated:: 4.3
       Check for the plain values you expect (often ``None``) and await
       the rest.
    """
    if is_future(x):
        return cast("Future[Any]", x)
    future = _create_future()
    future.set_result(x)
    return future


def with_timeout(
    timeout: float | datetime.timedelta,
    future: _Yieldable,
    quiet_exceptions: _QuietExceptions = (),
    *,
    message: str | Callable[[], str] | None = None,
) -> Future[Any]:
    """Wrap *future* so that it fails with `TimeoutError` after *timeout*.

    ::

        body = await gen.with_timeout(datetime.timedelta(seconds=2), read_body())

    *future* is anything `convert_yielded` accepts. It is *not* cancelled
    when the time is up (unlike with `asyncio.wait_for`), so it may still
    be used. If it then fails, its exception is logged on
    ``embedtornado.application`` unless it is an instance of
    *quiet_exceptions* or `asyncio.CancelledError`. If *future* is
    cancelled first, the returned future is cancelled too.

    :arg timeout: an absolute deadline on the `.IOLoop.time` scale, or a
        `datetime.timedelta` from now (as `.IOLoop.add_timeout` takes).
    :arg message: the `TimeoutError`'s message (default ``"Timeout"``), or
        a function that returns it, called only if the time runs out.

    .. versionchanged:: 6.6
       Added *message*.
    """
    inner = convert_yielded(future)
    result: Future[Any] = _create_future()
    chain_future(inner, result)
    io_loop = IOLoop.current()

    def log_late_failure(f: Any) -> None:
        try:
            f.result()
        except asyncio.CancelledError:
            pass
        except Exception as e:
            if not isinstance(e, quiet_exceptions):
                app_log.error("Exception in Future %r after timeout", f, exc_info=True)

    def on_timeout() -> None:
        if not result.done():
            if message is None:
                text = "Timeout"
            elif callable(message):
                text = message()
            else:
                text = message
            result.set_exception(TimeoutError(text))
        future_add_done_callback(inner, log_late_failure)

    handle = io_loop.add_timeout(timeout, on_timeout)
    if isinstance(inner, Future):
        future_add_done_callback(inner, lambda f: io_loop.remove_timeout(handle))
    else:
        # A concurrent.futures future may finish on another thread.
        io_loop.add_future(inner, lambda f: io_loop.remove_timeout(handle))
    return result


def sleep(duration: float) -> Future[None]:
    """Return a `.Future` that resolves (to ``None``) after *duration* seconds.

    The non-blocking `time.sleep`: ``yield gen.sleep(0.5)`` in a coroutine,
    ``await gen.sleep(0.5)`` in native code.

    .. versionadded:: 4.1
    """
    future: Future[None] = _create_future()
    IOLoop.current().call_later(duration, future_set_result_unless_cancelled, future, None)
    return future


# --- what may be yielded --------------------------------------------------------


def _wrap_awaitable(awaitable: Awaitable[Any]) -> Future[Any]:
    """Start *awaitable* as a task, held by the `.IOLoop` until it is done."""
    io_loop = IOLoop.current()
    task = asyncio.ensure_future(awaitable, loop=io_loop.asyncio_loop)
    io_loop._register_task(task)
    task.add_done_callback(io_loop._unregister_task)
    return task


@singledispatch
def convert_yielded(yielded: _Yieldable) -> Future[Any]:
    """Turn what a coroutine yielded into a future to wait for.

    Understands ``None`` and `moment` (returning `moment`), lists and
    dicts (through `multi`), futures (returned as they are) and any other
    awaitable (a coroutine is started as a task, as by
    `asyncio.ensure_future`).

    It is a `functools.singledispatch` function, so other types can be
    taught to it::

        @gen.convert_yielded.register(MyDeferred)
        def _(d):
            future = asyncio.get_running_loop().create_future()
            d.add_callbacks(future.set_result, future.set_exception)
            return future

    :raises BadYieldError: for anything else.

    .. versionadded:: 4.1
    """
    if yielded is None or yielded is moment:
        return moment
    if yielded is _null_future:
        return _null_future
    if isinstance(yielded, (list, dict)):
        return multi(yielded)
    if is_future(yielded):
        return cast("Future[Any]", yielded)
    if isawaitable(yielded):
        return _wrap_awaitable(yielded)
    raise BadYieldError(f"yielded unknown object {yielded!r}")
