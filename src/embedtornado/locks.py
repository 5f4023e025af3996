"""Coroutine synchronisation primitives: Tornado's ``tornado.locks``.

`Condition`, `Event`, `Semaphore`, `BoundedSemaphore` and `Lock` for
coroutines that share one event loop. None of them is thread-safe (use
`threading` for threads)::

    from embedtornado import locks

    lock = locks.Lock()
    ready = locks.Event()

    async def writer():
        async with lock:                    # one writer at a time
            await write_file()
        ready.set()

    async def reader():
        await ready.wait(timeout=datetime.timedelta(seconds=5))

Every ``wait``/``acquire`` takes an optional *timeout*, given as Tornado
gives timeouts: an absolute deadline on the `.IOLoop.time` scale (a
number) or a `datetime.timedelta` from now. The waiting methods return
futures at once (they are not ``async def``), so they work with ``yield``
in `.gen.coroutine` code as well as with ``await``.

How this relates to `asyncio`'s primitives: these are our own classes, not
aliases, because asyncio's differ in ways Tornado code notices. Their
methods are coroutines rather than futures, take no timeout, and
`asyncio.Condition` needs a lock while Tornado's needs none. The behaviour
here is Tornado 6.6.1's: `Condition.wait` resolves to ``False`` on
timeout rather than raising; `Event.wait` and the ``acquire`` methods raise
`TimeoutError` (the builtin one, which is `asyncio.TimeoutError`); a
waiter is woken by completing its future, so waiters are served in FIFO
order and a waiter whose future was cancelled is skipped; the lock classes
support ``async with`` and refuse a plain ``with``.
"""

from __future__ import annotations

import collections
import datetime
import types
from collections.abc import Awaitable
from typing import Any

from embedtornado import gen
from embedtornado.concurrent import Future, future_set_result_unless_cancelled
from embedtornado.ioloop import IOLoop

__all__ = ["BoundedSemaphore", "Condition", "Event", "Lock", "Semaphore"]

_Timeout = float | datetime.timedelta | None


class _TimeoutGarbageCollector:
    """Holds a queue of waiters, dropping timed-out ones now and then.

    A waiter that times out stays in the deque until it reaches the front
    (where it is skipped); so that many timeouts without a wake-up cannot
    grow the deque for ever, every 100th timeout rebuilds it without the
    finished waiters.
    """

    def __init__(self) -> None:
        self._waiters: collections.deque[Future[Any]] = collections.deque()
        self._timeouts = 0

    def _garbage_collect(self) -> None:
        self._timeouts += 1
        if self._timeouts > 100:
            self._timeouts = 0
            self._waiters = collections.deque(w for w in self._waiters if not w.done())


def _on_deadline(
    waiter: Future[Any], timeout: float | datetime.timedelta, expire: Any
) -> None:
    """Call ``expire()`` at *timeout* unless *waiter* is done by then."""
    io_loop = IOLoop.current()
    handle = io_loop.add_timeout(timeout, expire)
    waiter.add_done_callback(lambda _: io_loop.remove_timeout(handle))


class Condition(_TimeoutGarbageCollector):
    """Lets coroutines wait until another one notifies them.

    ::

        condition = locks.Condition()

        async def waiter():
            await condition.wait()          # until notify()
            ...

        async def notifier():
            condition.notify()

    Unlike `threading.Condition` (and `asyncio.Condition`) there is no
    lock to hold around `wait` and `notify`.
    """

    def __repr__(self) -> str:
        text = "<%s" % type(self).__name__
        if self._waiters:
            text += " waiters[%s]" % len(self._waiters)
        return text + ">"

    def wait(self, timeout: _Timeout = None) -> Awaitable[bool]:
        """Wait for `notify`; the future resolves to ``True``, or ``False`` on timeout."""
        waiter: Future[bool] = gen._create_future()
        self._waiters.append(waiter)
        if timeout is not None:

            def expire() -> None:
                if not waiter.done():
                    future_set_result_unless_cancelled(waiter, False)
                self._garbage_collect()

            _on_deadline(waiter, timeout, expire)
        return waiter

    def notify(self, n: int = 1) -> None:
        """Wake up to *n* waiters, the longest waiting first."""
        woken = []
        while n and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # skip those that timed out or were cancelled
                n -= 1
                woken.append(waiter)
        for waiter in woken:
            future_set_result_unless_cancelled(waiter, True)

    def notify_all(self) -> None:
        """Wake every waiter."""
        self.notify(len(self._waiters))


class Event:
    """A flag that coroutines can wait to become true.

    ::

        event = locks.Event()

        async def waiter():
            await event.wait()              # returns at once if already set
            ...

        event.set()

    It starts clear; `set` wakes every waiter and makes later `wait`\\ s
    return at once, until `clear`.
    """

    def __init__(self) -> None:
        self._value = False
        self._waiters: set[Future[None]] = set()

    def __repr__(self) -> str:
        return "<%s %s>" % (type(self).__name__, "set" if self._value else "clear")

    def is_set(self) -> bool:
        """Return ``True`` if the flag is set."""
        return self._value

    def set(self) -> None:
        """Set the flag and wake every waiter."""
        if self._value:
            return
        self._value = True
        for waiter in list(self._waiters):
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        """Reset the flag; later `wait` calls block again."""
        self._value = False

    def wait(self, timeout: _Timeout = None) -> Awaitable[None]:
        """Wait until the flag is set.

        :raises TimeoutError: (in the future) if *timeout* passes first.
        """
        waiter: Future[None] = gen._create_future()
        if self._value:
            waiter.set_result(None)
            return waiter
        self._waiters.add(waiter)
        waiter.add_done_callback(self._waiters.discard)
        if timeout is None:
            return waiter
        timed = gen.with_timeout(timeout, waiter)
        # On timeout, stop waiting (the CancelledError is not logged).
        timed.add_done_callback(lambda _: waiter.cancel())
        return timed


class _ReleasingContextManager:
    """What an acquired lock or semaphore resolves to: ``with`` it to release.

    ``with (yield lock.acquire()):`` in `.gen.coroutine` code releases
    the lock at the end of the block.
    """

    def __init__(self, obj: Semaphore | Lock) -> None:
        self._obj = obj

    def __enter__(self) -> None:
        pass

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: types.TracebackType | None,
    ) -> None:
        self._obj.release()


class Semaphore(_TimeoutGarbageCollector):
    """A counter that `acquire` decrements, waiting while it is zero.

    ::

        sem = locks.Semaphore(2)            # at most two at once

        async def worker():
            async with sem:
                await do_work()

    `release` increments it (or hands the unit straight to the longest
    waiter). A plain ``with sem:`` raises `RuntimeError`.

    :raises ValueError: if *value* is negative.
    """

    def __init__(self, value: int = 1) -> None:
        super().__init__()
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        self._value = value

    def __repr__(self) -> str:
        state = "locked" if self._value == 0 else "unlocked,value:%s" % self._value
        if self._waiters:
            state += ",waiters:%s" % len(self._waiters)
        return "<%s [%s]>" % (object.__repr__(self)[1:-1], state)

    def release(self) -> None:
        """Increment the counter, waking one waiter if there is any."""
        self._value += 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._value -= 1
                waiter.set_result(_ReleasingContextManager(self))
                return

    def acquire(self, timeout: _Timeout = None) -> Awaitable[_ReleasingContextManager]:
        """Decrement the counter, first waiting for it to be positive.

        The future resolves to an object that releases the semaphore at
        the end of a ``with`` block.

        :raises TimeoutError: (in the future) if *timeout* passes first.
        """
        waiter: Future[_ReleasingContextManager] = gen._create_future()
        if self._value > 0:
            self._value -= 1
            waiter.set_result(_ReleasingContextManager(self))
            return waiter
        self._waiters.append(waiter)
        if timeout is not None:

            def expire() -> None:
                if not waiter.done():
                    waiter.set_exception(gen.TimeoutError())
                self._garbage_collect()

            _on_deadline(waiter, timeout, expire)
        return waiter

    def __enter__(self) -> None:
        raise RuntimeError("Use 'async with' instead of 'with' for Semaphore")

    def __exit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self.__enter__()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.release()


class BoundedSemaphore(Semaphore):
    """A `Semaphore` that refuses to be released above its initial value.

    :raises ValueError: from `release`, if that would happen.
    """

    def __init__(self, value: int = 1) -> None:
        super().__init__(value=value)
        self._initial_value = value

    def release(self) -> None:
        """Increment the counter, waking one waiter if there is any.

        :raises ValueError: if the counter is already at its initial value.
        """
        if self._value >= self._initial_value:
            raise ValueError("Semaphore released too many times")
        super().release()


class Lock:
    """A mutex for coroutines: `acquire` waits while another holder has it.

    ::

        lock = locks.Lock()

        async def f():
            async with lock:
                ...                          # one coroutine at a time

    Waiters get the lock in FIFO order. A plain ``with lock:`` raises
    `RuntimeError`.
    """

    def __init__(self) -> None:
        self._block = BoundedSemaphore(value=1)

    def __repr__(self) -> str:
        return "<%s _block=%s>" % (type(self).__name__, self._block)

    def acquire(self, timeout: _Timeout = None) -> Awaitable[_ReleasingContextManager]:
        """Wait for the lock and take it.

        :raises TimeoutError: (in the future) if *timeout* passes first.
        """
        return self._block.acquire(timeout)

    def release(self) -> None:
        """Unlock; the longest waiter (if any) gets the lock.

        :raises RuntimeError: if the lock is not locked.
        """
        try:
            self._block.release()
        except ValueError:
            raise RuntimeError("release unlocked lock") from None

    def __enter__(self) -> None:
        raise RuntimeError("Use `async with` instead of `with` for Lock")

    def __exit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.__enter__()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.release()
