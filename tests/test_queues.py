"""Tests for embedtornado.queues, each scenario run beside Tornado 6.6.1's tornado.queues."""

from __future__ import annotations

import asyncio
import datetime
import re

import pytest
import tornado.queues

from embedtornado import queues
from embedtornado.queues import LifoQueue, PriorityQueue, Queue, QueueEmpty, QueueFull
from test_gen import both, run_ours

SHORT = datetime.timedelta(seconds=0.01)
LONG = datetime.timedelta(seconds=60)


def Q(g):
    """The queues module that goes with the gen module *g*."""
    return tornado.queues if g.__name__.startswith("tornado") else queues


def clean(text: str) -> str:
    return re.sub(r"0x[0-9a-f]+", "0x", text)


def test_names():
    assert set(queues.__all__) == set(tornado.queues.__all__)


def test_constructor_checks():
    with pytest.raises(TypeError, match="maxsize can't be None"):
        Queue(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="maxsize can't be negative"):
        Queue(-1)
    q: Queue[int] = Queue(3)
    assert q.maxsize == 3 and q.qsize() == 0 and q.empty() and not q.full()
    assert not Queue().full()


def test_nowait_and_repr():
    def scenario(g):
        m = Q(g)
        q = m.Queue(2)
        out = [clean(repr(q)), str(q)]

        async def main():
            q.put_nowait(1)
            q.put_nowait(2)
            out.extend([q.full(), q.qsize(), str(q)])
            try:
                q.put_nowait(3)
            except m.QueueFull:
                out.append("full")
            out.extend([q.get_nowait(), q.get_nowait()])
            try:
                q.get_nowait()
            except m.QueueEmpty:
                out.append("empty")
            out.append(str(q))
            q.task_done()
            q.task_done()
            try:
                q.task_done()
            except ValueError as e:
                out.append(str(e))
            getter = q.get()
            out.append(str(q))
            putter1 = q.put("a")
            out.append((await getter, putter1.done()))
            q.put_nowait("b")
            q.put_nowait("c")
            putter2 = q.put("d")
            out.append(str(q))
            out.append((q.get_nowait(), putter2.done(), q.qsize()))
            return out

        return main()

    assert both(scenario) == [
        "<Queue at 0x maxsize=2>", "<Queue maxsize=2>",
        True, 2, "<Queue maxsize=2 queue=deque([1, 2]) tasks=2>",
        "full", 1, 2, "empty", "<Queue maxsize=2 tasks=2>",
        "task_done() called too many times",
        "<Queue maxsize=2 getters[1]>",
        ("a", True),
        "<Queue maxsize=2 queue=deque(['b', 'c']) putters[1] tasks=3>",
        ("b", True, 2),
    ]


def test_producer_consumer_with_join_and_async_for():
    def scenario(g):
        q = Q(g).Queue(maxsize=2)
        trace = []

        async def consumer():
            async for item in q:
                try:
                    trace.append(("got", item))
                    await asyncio.sleep(0)
                finally:
                    q.task_done()

        async def producer():
            for i in range(5):
                await q.put(i)
                trace.append(("put", i))

        async def main():
            task = asyncio.ensure_future(consumer())
            await producer()
            await q.join()
            trace.append("joined")
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            return trace

        return main()

    trace = both(scenario)
    assert [t for t in trace if t[0] == "got"] == [("got", i) for i in range(5)]
    assert trace[-1] == "joined"
    # The producer is held back by maxsize=2: item i + 2 goes in only once
    # item i has been taken.
    for i in range(3):
        assert trace.index(("got", i)) < trace.index(("put", i + 2))


def test_timeouts():
    def scenario(g):
        m = Q(g)
        q = m.Queue(1)
        io_loop = None

        async def main():
            nonlocal io_loop
            from test_locks import ioloop_of

            io_loop = ioloop_of(g)
            out = []
            try:
                await q.get(timeout=SHORT)
            except TimeoutError as e:
                out.append(("get", str(e)))
            try:
                await q.get(timeout=io_loop.time() + 0.01)
            except TimeoutError:
                out.append("get absolute")
            q.put_nowait("x")
            try:
                await q.put("y", timeout=SHORT)
            except TimeoutError:
                out.append("put")
            try:
                await q.join(timeout=SHORT)
            except TimeoutError:
                out.append("join")
            # The timed-out putter's item never went in.
            out.append((q.get_nowait(), q.qsize()))
            q.task_done()
            await q.join(timeout=LONG)
            out.append("joined")
            return out

        return main()

    assert both(scenario) == [("get", ""), "get absolute", "put", "join", ("x", 0), "joined"]


def test_expired_and_cancelled_waiters_are_skipped():
    def scenario(g):
        q = Q(g).Queue()

        async def main():
            cancelled = q.get()
            cancelled.cancel()
            timed = q.get(timeout=SHORT)
            try:
                await timed
            except TimeoutError:
                pass
            live = q.get()
            q.put_nowait("item")
            out = [await live, q.qsize()]
            full = Q(g).Queue(1)
            full.put_nowait(0)
            p1 = full.put(1)
            p1.cancel()
            p2 = full.put(2)
            out.append(full.get_nowait())
            out.append((p2.done(), full.get_nowait(), full.qsize()))
            return out

        return main()

    assert both(scenario) == ["item", 0, 0, (True, 2, 0)]


def test_priority_and_lifo():
    def scenario(g):
        m = Q(g)

        async def main():
            pq = m.PriorityQueue()
            for item in [(2, "b"), (0, "z"), (1, "a")]:
                pq.put_nowait(item)
            lq = m.LifoQueue()
            for item in [1, 2, 3]:
                await lq.put(item)
            bounded = m.PriorityQueue(maxsize=2)
            bounded.put_nowait(5)
            bounded.put_nowait(3)
            full = bounded.full()
            return ([pq.get_nowait() for _ in range(3)], [await lq.get() for _ in range(3)],
                    full, str(bounded).replace("[3, 5]", "heap"))

        return main()

    assert both(scenario) == (
        [(0, "z"), (1, "a"), (2, "b")], [3, 2, 1], True,
        "<PriorityQueue maxsize=2 queue=heap tasks=2>",
    )


def test_subclass_storage_hooks():
    class SetQueue(Queue):
        def _init(self):
            self._queue = set()

        def _put(self, item):
            self._queue.add(item)

        def _get(self):
            return self._queue.pop()

    async def main():
        q = SetQueue()
        for x in (1, 1, 2):
            q.put_nowait(x)
        got = {q.get_nowait(), q.get_nowait()}
        with pytest.raises(QueueEmpty):
            q.get_nowait()
        return got

    assert run_ours(main) == {1, 2}
    assert issubclass(QueueFull, Exception) and issubclass(QueueEmpty, Exception)
    assert issubclass(PriorityQueue, Queue) and issubclass(LifoQueue, Queue)


def test_works_with_gen_coroutines():
    def scenario(g):
        q = Q(g).Queue()

        @g.coroutine
        def consumer():
            items = []
            while len(items) < 3:
                items.append((yield q.get()))
                q.task_done()
            return items

        @g.coroutine
        def producer():
            for i in range(3):
                yield q.put(i)
            yield q.join()

        async def main():
            items, _ = await g.multi([consumer(), producer()])
            return items

        return main()

    assert both(scenario) == [0, 1, 2]


def test_float_maxsize_and_timed_out_waiters_cleared():
    def scenario(g):
        m = Q(g)

        async def main():
            q = m.Queue(maxsize=1.3)
            q.put_nowait(0)
            q.put_nowait(1)  # qsize 1 < 1.3
            out = [q.full()]
            try:
                q.put_nowait(2)
            except m.QueueFull:
                out.append("full")
            timed = [q.put(i, timeout=SHORT) for i in (10, 11)]
            live = q.put(12)
            for t in timed:
                try:
                    await t
                except TimeoutError:
                    pass
            out.append(len(q._putters))
            out.append([q.get_nowait() for _ in range(3)])
            out.append((live.done(), len(q._putters)))
            return out

        return main()

    assert both(scenario) == [True, "full", 3, [0, 1, 12], (True, 0)]
