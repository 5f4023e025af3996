"""create_future, create_task, the task factory, and async generator shutdown.

From the asyncio-eventloop page ("Creating Futures and Tasks",
shutdown_asyncgens) and the asyncio-future / asyncio-task pages.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys

import pytest
from conformance import run

var = contextvars.ContextVar("var", default="unset")


def test_create_future_is_bound_to_loop(loop):
    fut = loop.create_future()
    assert asyncio.isfuture(fut)
    assert fut.get_loop() is loop
    assert not fut.done()
    loop.call_soon(fut.set_result, 3)
    assert run(loop, fut) == 3
    assert fut.done() and fut.result() == 3


def test_future_callbacks_run_via_loop_in_order(loop):
    # asyncio-future: done callbacks are scheduled with call_soon, not called
    # synchronously from set_result.
    fut = loop.create_future()
    calls = []
    fut.add_done_callback(lambda f: calls.append(("a", f.result())))
    fut.add_done_callback(lambda f: calls.append(("b", f.result())))
    fut.set_result("r")
    assert calls == []

    async def main():
        await asyncio.sleep(0)

    run(loop, main())
    assert calls == [("a", "r"), ("b", "r")]


def test_future_done_callback_context(loop):
    fut = loop.create_future()
    ctx = contextvars.Context()
    ctx.run(var.set, "cbctx")
    seen = []
    fut.add_done_callback(lambda f: seen.append(var.get()), context=ctx)
    loop.call_soon(fut.set_result, None)
    run(loop, fut)
    run(loop, asyncio.sleep(0))
    assert seen == ["cbctx"]


def test_future_cancel(loop):
    fut = loop.create_future()

    async def waiter():
        return await fut

    async def main():
        t = loop.create_task(waiter())
        await asyncio.sleep(0)
        fut.cancel("why")
        with pytest.raises(asyncio.CancelledError):
            await t
        assert t.cancelled()

    run(loop, main())


def test_create_task_with_name(loop):
    async def work():
        return asyncio.current_task().get_name()

    async def main():
        t = loop.create_task(work(), name="worker-1")
        assert t.get_name() == "worker-1"
        assert t.get_loop() is loop
        assert t in asyncio.all_tasks(loop)
        return await t

    assert run(loop, main()) == "worker-1"


def test_create_task_default_context_is_copied(loop):
    async def child():
        seen = var.get()
        var.set("child-set")
        return seen

    async def main():
        var.set("parent")
        t = loop.create_task(child())
        got = await t
        return got, var.get()

    assert run(loop, main()) == ("parent", "parent")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="context= is 3.11+")
def test_create_task_with_context(loop):
    # asyncio-eventloop (3.11): create_task(..., context=ctx) runs the coroutine
    # in ctx.
    ctx = contextvars.Context()
    ctx.run(var.set, "given")

    async def child():
        before = var.get()
        var.set("child")
        return before

    async def main():
        t = loop.create_task(child(), context=ctx)
        return await t

    assert run(loop, main()) == "given"
    assert ctx[var] == "child"


def test_task_cancel_and_exception(loop):
    async def sleeper():
        await asyncio.sleep(3600)

    async def boom():
        raise ArithmeticError("x")

    async def main():
        t = loop.create_task(sleeper())
        await asyncio.sleep(0)
        assert t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        assert t.cancelled()
        t2 = loop.create_task(boom())
        with pytest.raises(ArithmeticError):
            await t2
        assert isinstance(t2.exception(), ArithmeticError)

    run(loop, main())


def test_task_factory(loop):
    made = []

    def factory(lp, coro, **kwargs):
        t = asyncio.Task(coro, loop=lp, **kwargs)
        made.append(t)
        return t

    assert loop.get_task_factory() is None
    loop.set_task_factory(factory)
    assert loop.get_task_factory() is factory

    async def child():
        return 5

    async def main():
        return await loop.create_task(child())

    assert run(loop, main()) == 5
    assert len(made) >= 2  # run()'s wrapper task and the child
    loop.set_task_factory(None)
    assert loop.get_task_factory() is None
    with pytest.raises(TypeError):
        loop.set_task_factory(42)


def test_shutdown_asyncgens_finalises_suspended_generator(loop):
    # Docs: shutdown_asyncgens "Schedule all currently open asynchronous
    # generator objects to close with an aclose() call."
    events = []

    async def agen():
        try:
            yield 1
            yield 2
        finally:
            events.append("finalised")

    gens = []

    async def main():
        g = agen()
        gens.append(g)
        assert await g.__anext__() == 1

    run(loop, main())
    assert events == []
    run(loop, loop.shutdown_asyncgens())
    assert events == ["finalised"]


def test_asyncgen_finalised_when_garbage_collected(loop):
    # The loop's asyncgen hooks schedule aclose() for a generator dropped while
    # suspended (reference behaviour).
    events = []

    async def agen():
        try:
            yield 1
            yield 2
        finally:
            events.append("finalised")

    async def main():
        g = agen()
        await g.__anext__()
        del g
        import gc

        gc.collect()
        for _ in range(5):
            await asyncio.sleep(0)

    run(loop, main())
    assert events == ["finalised"]
