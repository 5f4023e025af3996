"""Tests for embedtornado.locks, each scenario run beside Tornado 6.6.1's tornado.locks.

``both`` (from test_gen) runs a scenario on both frameworks, asserts the two
traces are equal, and the test then asserts the expected trace.
"""

from __future__ import annotations

import asyncio
import datetime
import re

import pytest
import tornado.locks

from embedtornado import locks
from test_gen import both, run_ours

SHORT = datetime.timedelta(seconds=0.01)
LONG = datetime.timedelta(seconds=60)


def L(g):
    """The locks module that goes with the gen module *g*."""
    return tornado.locks if g.__name__.startswith("tornado") else locks


def ioloop_of(g):
    if g.__name__.startswith("tornado"):
        import tornado.ioloop

        return tornado.ioloop.IOLoop.current()
    from embedtornado.ioloop import IOLoop

    return IOLoop.current()


def test_names():
    assert set(locks.__all__) == set(tornado.locks.__all__)


# --- Condition ----------------------------------------------------------------


def test_condition_notify_order_and_counts():
    def scenario(g):
        c = L(g).Condition()
        trace = []

        async def waiter(name):
            trace.append((name, await c.wait()))

        async def main():
            tasks = [asyncio.ensure_future(waiter(i)) for i in range(5)]
            await asyncio.sleep(0)
            trace.append(repr(c))
            c.notify()
            await asyncio.sleep(0)
            c.notify(2)
            await asyncio.sleep(0)
            c.notify_all()
            await asyncio.gather(*tasks)
            c.notify()  # nobody waiting: nothing happens
            trace.append(repr(c))
            return trace

        return main()

    assert both(scenario) == [
        "<Condition waiters[5]>", (0, True), (1, True), (2, True), (3, True), (4, True),
        "<Condition>",
    ]


def test_condition_timeout_resolves_false_and_is_skipped_by_notify():
    def scenario(g):
        c = L(g).Condition()

        async def main():
            loop = ioloop_of(g)
            timed = c.wait(timeout=SHORT)
            absolute = c.wait(timeout=loop.time() + 0.01)
            patient = c.wait()
            out = [await timed, await absolute]
            c.notify()  # goes to the one still waiting
            out.append(await patient)
            cancelled = c.wait()
            cancelled.cancel()
            after = c.wait(timeout=LONG)
            c.notify()
            out.append(await after)
            return out

        return main()

    assert both(scenario) == [False, False, True, True]


def test_condition_garbage_collects_timed_out_waiters():
    async def main():
        c = locks.Condition()
        waiters = [c.wait(timeout=SHORT) for _ in range(102)]
        await asyncio.gather(*waiters)
        # More than 100 timeouts: the deque was rebuilt without them.
        assert len(c._waiters) <= 1
        return [w.result() for w in waiters]

    assert set(run_ours(main)) == {False}


# --- Event ----------------------------------------------------------------------


def test_event_set_wait_clear():
    def scenario(g):
        e = L(g).Event()
        out = [repr(e), e.is_set()]

        async def main():
            w1, w2 = e.wait(), e.wait(timeout=LONG)
            e.set()
            e.set()  # harmless
            out.extend([await w1, await w2, repr(e), e.is_set()])
            out.append(e.wait().done())  # already set: done at once
            e.clear()
            w3 = e.wait()
            await asyncio.sleep(0)
            out.extend([w3.done(), repr(e)])
            e.set()
            out.append(await w3)
            return out

        return main()

    assert both(scenario) == [
        "<Event clear>", False, None, None, "<Event set>", True, True, False, "<Event clear>",
        None,
    ]


def test_event_wait_timeout_raises_and_forgets_the_waiter():
    def scenario(g):
        e = L(g).Event()

        async def main():
            out = []
            try:
                await e.wait(timeout=SHORT)
            except TimeoutError as exc:
                out.append(("timeout", str(exc), isinstance(exc, asyncio.TimeoutError)))
            await asyncio.sleep(0)
            out.append(len(e._waiters))
            w = e.wait()
            e.set()
            out.append(await w)
            return out

        return main()

    result, logs = both(scenario, logs=True)
    assert result == [("timeout", "Timeout", True), 0, None]
    assert logs == []


# --- Semaphore, BoundedSemaphore --------------------------------------------------


def test_semaphore_counts_and_fifo():
    def scenario(g):
        sem = L(g).Semaphore(2)
        trace = [re.sub(r" at 0x[0-9a-f]+", "", repr(sem)).split(".")[-1]]

        async def worker(i, gate):
            async with sem:
                trace.append(("in", i))
                await gate
                trace.append(("out", i))

        async def main():
            loop = asyncio.get_running_loop()
            gates = [loop.create_future() for _ in range(4)]
            tasks = [asyncio.ensure_future(worker(i, gates[i])) for i in range(4)]
            await asyncio.sleep(0)
            trace.append(re.sub(r" at 0x[0-9a-f]+", "", repr(sem)).split(".")[-1])
            for i in (1, 0, 2, 3):
                gates[i].set_result(None)
                await asyncio.sleep(0)
                await asyncio.sleep(0)
            await asyncio.gather(*tasks)
            trace.append(sem._value)
            return trace

        return main()

    assert both(scenario) == [
        "Semaphore object [unlocked,value:2]>",
        ("in", 0), ("in", 1),
        "Semaphore object [locked,waiters:2]>",
        ("out", 1), ("in", 2), ("out", 0), ("in", 3), ("out", 2), ("out", 3),
        2,
    ]


def test_semaphore_context_manager_forms():
    def scenario(g):
        sem = L(g).Semaphore(1)
        out = []

        @g.coroutine
        def old_style():
            with (yield sem.acquire()):
                out.append(sem._value)
            out.append(sem._value)

        async def main():
            await old_style()
            try:
                with sem:
                    pass
            except RuntimeError as e:
                out.append(str(e))
            lock = L(g).Lock()
            try:
                with lock:
                    pass
            except RuntimeError as e:
                out.append(str(e))
            async with lock:
                out.append(lock._block._value)
            out.append(lock._block._value)
            return out

        return main()

    assert both(scenario) == [
        0, 1,
        "Use 'async with' instead of 'with' for Semaphore",
        "Use `async with` instead of `with` for Lock",
        0, 1,
    ]


def test_semaphore_timeout_and_cancelled_waiters():
    def scenario(g):
        sem = L(g).Semaphore(0)

        async def main():
            out = []
            try:
                await sem.acquire(timeout=SHORT)
            except TimeoutError as e:
                out.append(("timeout", str(e)))
            cancelled = sem.acquire()
            cancelled.cancel()
            waiting = sem.acquire(timeout=LONG)
            sem.release()  # skips the cancelled waiter
            out.append(waiting.done())
            await waiting
            out.append(sem._value)
            sem.release()
            out.append(sem._value)
            return out

        return main()

    assert both(scenario) == [("timeout", ""), True, 0, 1]


def test_semaphore_bad_values():
    with pytest.raises(ValueError, match="must be >= 0"):
        locks.Semaphore(-1)
    with pytest.raises(ValueError, match="must be >= 0"):
        locks.BoundedSemaphore(-1)

    async def main():
        sem = locks.Semaphore(1)
        sem.release()  # unbounded: fine
        assert sem._value == 2
        bounded = locks.BoundedSemaphore(2)
        await bounded.acquire()
        bounded.release()
        with pytest.raises(ValueError, match="released too many times"):
            bounded.release()

    run_ours(main)


# --- Lock --------------------------------------------------------------------------


def test_lock_mutual_exclusion_fifo_and_timeout():
    def scenario(g):
        lock = L(g).Lock()
        trace = []

        async def critical(i):
            async with lock:
                trace.append(("enter", i))
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                trace.append(("leave", i))

        async def main():
            await asyncio.gather(*(critical(i) for i in range(3)))
            await lock.acquire()
            trace.append(re.sub(r" at 0x[0-9a-f]+", "", repr(lock)).split(".locks.")[-1])
            try:
                await lock.acquire(timeout=SHORT)
            except TimeoutError:
                trace.append("timed out")
            lock.release()
            try:
                lock.release()
            except RuntimeError as e:
                trace.append(str(e))
            return trace

        return main()

    assert both(scenario) == [
        ("enter", 0), ("leave", 0), ("enter", 1), ("leave", 1), ("enter", 2), ("leave", 2),
        "BoundedSemaphore object [locked]>>", "timed out", "release unlocked lock",
    ]


def test_lock_with_gen_coroutine():
    def scenario(g):
        lock = L(g).Lock()
        trace = []

        @g.coroutine
        def worker(i):
            with (yield lock.acquire()):
                trace.append(i)
                yield g.sleep(0)
                trace.append(-i)

        async def main():
            await g.multi([worker(1), worker(2)])
            return trace

        return main()

    assert both(scenario) == [1, -1, 2, -2]


def test_condition_notify_n_skips_timed_out_and_nested_notify():
    def scenario(g):
        c = L(g).Condition()
        trace = []

        async def main():
            waiters = [c.wait(timeout=SHORT if i in (1, 3) else None) for i in range(5)]
            # 1 and 3 time out first.
            trace.append((await waiters[1], await waiters[3]))
            c.notify(2)  # wakes 0 and 2, skipping 1
            await asyncio.sleep(0)
            trace.append([w.done() and w.result() for w in waiters])

            async def chain(name):
                await c.wait()
                trace.append(name)
                c.notify()  # a woken waiter wakes the next

            tasks = [asyncio.ensure_future(chain(n)) for n in "ab"]
            await asyncio.sleep(0)
            c.notify()  # wakes waiter 4 (first in line), not the chain
            await asyncio.sleep(0)
            c.notify()
            await asyncio.gather(*tasks)
            trace.append(waiters[4].result())
            return trace

        return main()

    assert both(scenario) == [
        (False, False), [True, False, True, False, False], "a", "b", True,
    ]


def test_semaphore_released_when_the_with_block_raises():
    def scenario(g):
        sem = L(g).Semaphore(1)

        @g.coroutine
        def old_style():
            with (yield sem.acquire()):
                raise KeyError("inside")

        async def native():
            async with sem:
                raise ValueError("inside")

        async def main():
            out = []
            for f in (old_style, native):
                try:
                    await f()
                except (KeyError, ValueError) as e:
                    out.append((type(e).__name__, sem._value))
            return out

        return main()

    assert both(scenario) == [("KeyError", 1), ("ValueError", 1)]
