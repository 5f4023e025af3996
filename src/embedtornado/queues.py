"""Queues for coroutines: Tornado's ``tornado.queues``.

A producer/consumer queue shared by coroutines of one event loop (not by
threads)::

    from embedtornado.queues import Queue

    q = Queue(maxsize=100)                  # put() waits while 100 are queued

    async def consumer():
        async for item in q:                # forever; q.get() each time
            try:
                await process(item)
            finally:
                q.task_done()

    async def producer(items):
        for item in items:
            await q.put(item)
        await q.join()                      # until every item is task_done()

`Queue` is first in, first out; `PriorityQueue` returns the smallest item
first (put ``(priority, item)`` tuples); `LifoQueue` the newest. Subclasses
may override ``_init``, ``_put`` and ``_get`` to store items differently.

How this relates to `asyncio.Queue`: it is our own class with Tornado 6.6.1's
behaviour, which asyncio's lacks. `put`, `get` and `join` return futures at
once (so ``yield q.get()`` works in `.gen.coroutine` code) and take a
*timeout*, as an absolute deadline on the `.IOLoop.time` scale or a
`datetime.timedelta`, failing with `TimeoutError` when it passes; the
``_nowait`` variants raise this module's `QueueEmpty`/`QueueFull`; and
``async for`` iterates over the queue for ever. Waiting getters and
putters are served in FIFO order, skipping any whose future is done
(timed out or cancelled).
"""

from __future__ import annotations

import collections
import datetime
import heapq
from collections.abc import Awaitable
from typing import Any, Generic, TypeVar

from embedtornado import gen
from embedtornado.concurrent import Future, future_set_result_unless_cancelled
from embedtornado.ioloop import IOLoop
from embedtornado.locks import Event

__all__ = ["LifoQueue", "PriorityQueue", "Queue", "QueueEmpty", "QueueFull"]

_T = TypeVar("_T")

_Timeout = float | datetime.timedelta | None


class QueueEmpty(Exception):
    """Raised by `Queue.get_nowait` when the queue has no items."""


class QueueFull(Exception):
    """Raised by `Queue.put_nowait` when the queue is at its `~Queue.maxsize`."""


def _fail_at(future: Future[Any], timeout: _Timeout) -> None:
    """Fail *future* with `TimeoutError` at *timeout*, unless done by then."""
    if timeout is None:
        return

    def expire() -> None:
        if not future.done():
            future.set_exception(gen.TimeoutError())

    io_loop = IOLoop.current()
    handle = io_loop.add_timeout(timeout, expire)
    future.add_done_callback(lambda _: io_loop.remove_timeout(handle))


class _QueueIterator(Generic[_T]):
    """What ``async for item in queue`` iterates with: `Queue.get`, for ever."""

    def __init__(self, q: Queue[_T]) -> None:
        self.q = q

    def __anext__(self) -> Awaitable[_T]:
        return self.q.get()


class Queue(Generic[_T]):
    """A first-in, first-out queue for coroutines.

    :arg maxsize: how many items it holds before `put` waits (``0``: no
        limit).
    :raises TypeError: if *maxsize* is ``None``.
    :raises ValueError: if *maxsize* is negative.
    """

    # The storage, made by _init (a class attribute so that __repr__ works
    # on a half-built subclass instance).
    _queue: Any = None

    def __init__(self, maxsize: int = 0) -> None:
        if maxsize is None:
            raise TypeError("maxsize can't be None")
        if maxsize < 0:
            raise ValueError("maxsize can't be negative")
        self._maxsize = maxsize
        self._init()
        self._getters: collections.deque[Future[_T]] = collections.deque()
        self._putters: collections.deque[tuple[_T, Future[None]]] = collections.deque()
        self._unfinished_tasks = 0
        self._finished = Event()
        self._finished.set()

    @property
    def maxsize(self) -> int:
        """The number of items allowed in the queue (``0``: no limit)."""
        return self._maxsize

    def qsize(self) -> int:
        """The number of items in the queue."""
        return len(self._queue)

    def empty(self) -> bool:
        return not self._queue

    def full(self) -> bool:
        return self._maxsize != 0 and self.qsize() >= self._maxsize

    def put(self, item: _T, timeout: _Timeout = None) -> Future[None]:
        """Put *item* in the queue, first waiting for room if it is full.

        Returns a future, done once the item is in.

        :raises TimeoutError: (in the future) if *timeout* passes first.
        """
        future: Future[None] = gen._create_future()
        try:
            self.put_nowait(item)
        except QueueFull:
            self._putters.append((item, future))
            _fail_at(future, timeout)
        else:
            future.set_result(None)
        return future

    def put_nowait(self, item: _T) -> None:
        """Put *item* in the queue without waiting.

        If a getter is waiting, it gets the item at once.

        :raises QueueFull: if there is no room.
        """
        self._drop_expired()
        if self._getters:
            # Getters only wait on an empty queue.
            getter = self._getters.popleft()
            self._put_counted(item)
            future_set_result_unless_cancelled(getter, self._get())
        elif self.full():
            raise QueueFull
        else:
            self._put_counted(item)

    def get(self, timeout: _Timeout = None) -> Awaitable[_T]:
        """Remove and return an item, first waiting for one if the queue is empty.

        Returns a future for the item.

        :raises TimeoutError: (in the future) if *timeout* passes first.
        """
        future: Future[_T] = gen._create_future()
        try:
            future.set_result(self.get_nowait())
        except QueueEmpty:
            self._getters.append(future)
            _fail_at(future, timeout)
        return future

    def get_nowait(self) -> _T:
        """Remove and return an item without waiting.

        If a putter is waiting, its item takes the freed place.

        :raises QueueEmpty: if there is no item.
        """
        self._drop_expired()
        if self._putters:
            # Putters only wait on a full queue.
            item, putter = self._putters.popleft()
            self._put_counted(item)
            future_set_result_unless_cancelled(putter, None)
            return self._get()
        if self.qsize():
            return self._get()
        raise QueueEmpty

    def task_done(self) -> None:
        """Say that the work on an item taken from the queue is complete.

        Each `get` should be matched by a call; `join` waits for them.

        :raises ValueError: if called more times than items were put.
        """
        if self._unfinished_tasks <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished_tasks -= 1
        if self._unfinished_tasks == 0:
            self._finished.set()

    def join(self, timeout: _Timeout = None) -> Awaitable[None]:
        """Wait until every item put has been marked done with `task_done`.

        :raises TimeoutError: (in the future) if *timeout* passes first.
        """
        return self._finished.wait(timeout)

    def __aiter__(self) -> _QueueIterator[_T]:
        return _QueueIterator(self)

    # The storage; override these three to change the order.

    def _init(self) -> None:
        self._queue = collections.deque()

    def _get(self) -> _T:
        return self._queue.popleft()  # type: ignore[no-any-return]

    def _put(self, item: _T) -> None:
        self._queue.append(item)

    def _put_counted(self, item: _T) -> None:
        self._unfinished_tasks += 1
        self._finished.clear()
        self._put(item)

    def _drop_expired(self) -> None:
        """Forget waiting putters and getters at the front whose futures are done."""
        putters = self._putters
        while putters and putters[0][1].done():
            putters.popleft()
        getters = self._getters
        while getters and getters[0].done():
            getters.popleft()

    def __repr__(self) -> str:
        return "<%s at %s %s>" % (type(self).__name__, hex(id(self)), self._format())

    def __str__(self) -> str:
        return "<%s %s>" % (type(self).__name__, self._format())

    def _format(self) -> str:
        text = "maxsize=%r" % (self.maxsize,)
        if getattr(self, "_queue", None):
            text += " queue=%r" % (self._queue,)
        if self._getters:
            text += " getters[%s]" % len(self._getters)
        if self._putters:
            text += " putters[%s]" % len(self._putters)
        if self._unfinished_tasks:
            text += " tasks=%s" % self._unfinished_tasks
        return text


class PriorityQueue(Queue[_T]):
    """A `Queue` that returns the smallest item first (a heap).

    ::

        q = PriorityQueue()
        q.put_nowait((1, "medium"))
        q.put_nowait((0, "high"))
        q.get_nowait()                       # (0, 'high')
    """

    def _init(self) -> None:
        self._queue = []

    def _put(self, item: _T) -> None:
        heapq.heappush(self._queue, item)

    def _get(self) -> _T:
        return heapq.heappop(self._queue)  # type: ignore[no-any-return]


class LifoQueue(Queue[_T]):
    """A `Queue` that returns the most recently put item first (a stack)."""

    def _init(self) -> None:
        self._queue = []

    def _put(self, item: _T) -> None:
        self._queue.append(item)

    def _get(self) -> _T:
        return self._queue.pop()  # type: ignore[no-any-return]
