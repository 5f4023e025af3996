"""Tests for embedtornado.gen.

Most scenarios are written once against a ``gen`` module and run twice, on
``embedtornado.gen`` with our IOLoop and on Tornado 6.6.1's ``tornado.gen``
with its own; the two traces must be equal, and each test also asserts the
expected trace, so both agreeing on a wrong answer still fails. The loop
under our IOLoop is the compiled one or stdlib asyncio, as the environment
selects. No test measures time: timeouts are either far away (never expected
to fire) or short and waited for.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import datetime
import gc
import logging
import sys
import threading

import pytest
import tornado.gen
import tornado.ioloop

import embedtornado.gen
import embedtornado.ioloop
from embedtornado import gen
from embedtornado import ioloop as et_ioloop
from embedtornado.concurrent import Future, run_on_executor
from embedtornado.ioloop import IOLoop

FRAMEWORKS = {
    "ours": (embedtornado.gen, embedtornado.ioloop.IOLoop, "embedtornado.application"),
    "tornado": (tornado.gen, tornado.ioloop.IOLoop, "tornado.application"),
}


class Capture(logging.Handler):
    def __init__(self, name: str) -> None:
        super().__init__(logging.DEBUG)
        self.logger = logging.getLogger(name)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def __enter__(self):
        self.logger.addHandler(self)
        self._level = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.setLevel(self._level)

    def messages(self) -> list[str]:
        out = []
        for r in self.records:
            exc = r.exc_info[1] if r.exc_info else None
            # The format string without its arguments (reprs differ).
            text = str(r.msg).replace(" %r", "").replace(" %s", "")
            out.append((text, type(exc).__name__ if exc else None,
                        str(exc) if exc else None))
        return out


def run_one(framework: str, scenario, *, logs: bool = False):
    g, loop_class, logger = FRAMEWORKS[framework]
    loop = loop_class(make_current=False)
    try:
        with Capture(logger) as cap:
            result = loop.run_sync(lambda: scenario(g), timeout=20)
            # Let late callbacks (late failures, logging) run.
            loop.run_sync(lambda: asyncio.sleep(0.02))
    finally:
        loop.close()
    return (result, cap.messages()) if logs else result


def run_ours(func):
    """Run *func* on a new IOLoop of ours, closed afterwards."""
    io_loop = IOLoop(make_current=False)
    try:
        return io_loop.run_sync(func, timeout=20)
    finally:
        io_loop.close()


def both(scenario, *, logs: bool = False):
    """Run *scenario(gen)* on both frameworks; assert equal results, return ours."""
    ours = run_one("ours", scenario, logs=logs)
    theirs = run_one("tornado", scenario, logs=logs)
    assert ours == theirs
    return ours


# --- coroutine ------------------------------------------------------------------


def test_coroutine_return_values():
    def scenario(g):
        @g.coroutine
        def plain(x):
            return x + 1

        @g.coroutine
        def old_style(x):
            yield g.moment
            raise g.Return(x * 10)

        @g.coroutine
        def bare_return():
            yield None

        @g.coroutine
        def modern(x):
            y = yield plain(x)
            return y, (yield old_style(x))

        @g.coroutine
        def returns_without_yield():
            raise g.Return("r")

        async def main():
            return [
                await plain(1),
                await old_style(2),
                await bare_return(),
                await modern(3),
                await returns_without_yield(),
            ]

        return main()

    assert both(scenario) == [2, 20, None, (4, 30), "r"]


def test_coroutine_runs_synchronously_until_first_pending_yield():
    def scenario(g):
        trace = []

        @g.coroutine
        def coro():
            trace.append("start")
            f = asyncio.get_running_loop().create_future()
            f.set_result("done-now")
            trace.append((yield f))  # already done: resumes without a loop turn
            trace.append((yield [f, f]))
            trace.append((yield {}))
            yield g.sleep(0)
            trace.append("after sleep")
            return "end"

        async def main():
            fut = coro()
            trace.append("returned")
            trace.append(await fut)
            return trace

        return main()

    assert both(scenario) == [
        "start", "done-now", ["done-now", "done-now"], {}, "returned", "after sleep", "end",
    ]


def test_yield_none_and_moment_give_the_loop_a_turn():
    def scenario(g):
        trace = []

        @g.coroutine
        def coro(name, how):
            for i in range(3):
                trace.append((name, i))
                yield how

        async def main():
            await g.multi([coro("a", None), coro("b", g.moment)])
            return trace

        return main()

    # Interleaved: each yield lets the other coroutine run.
    assert both(scenario) == [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]


def test_exceptions_propagate_and_can_be_caught():
    def scenario(g):
        @g.coroutine
        def failing():
            yield g.sleep(0)
            raise KeyError("k")

        @g.coroutine
        def fails_before_yield():
            raise ValueError("v")

        @g.coroutine
        def catcher():
            try:
                yield failing()
            except KeyError as e:
                caught = repr(e)
            try:
                yield 42  # not yieldable: BadYieldError thrown in
            except g.BadYieldError as e:
                bad = str(e)
            return caught, bad

        async def main():
            out = [await catcher()]
            try:
                await fails_before_yield()
            except ValueError as e:
                out.append(repr(e))
            return out

        return main()

    assert both(scenario) == [("KeyError('k')", "yielded unknown object 42"), "ValueError('v')"]


def test_exception_context_is_not_leaked_between_resumptions():
    def scenario(g):
        @g.coroutine
        def failing():
            yield g.sleep(0)
            raise KeyError("inner")

        @g.coroutine
        def reraises():
            try:
                yield failing()
            except KeyError:
                raise ValueError("in handler")

        @g.coroutine
        def raises_later():
            try:
                yield failing()
            except KeyError:
                pass
            yield g.sleep(0)
            raise ValueError("after")

        async def main():
            out = []
            for coro in (reraises, raises_later):
                try:
                    await coro()
                except ValueError as e:
                    out.append((str(e), type(e.__context__).__name__))
            return out

        return main()

    # Raised inside the except clause: chained to the KeyError. Raised
    # after it: no stray context from the runner.
    assert both(scenario) == [("in handler", "KeyError"), ("after", "NoneType")]


def test_all_done_yields_finish_during_the_call():
    def scenario(g):
        @g.coroutine
        def coro():
            done = asyncio.get_running_loop().create_future()
            done.set_result(2)
            a = yield done
            b = yield [done, g.maybe_future(3)]
            return a + sum(b)

        async def main():
            f = coro()
            return f.done(), await f

        return main()

    assert both(scenario) == (True, 7)


def test_uncaught_bad_yield_fails_the_future():
    def scenario(g):
        @g.coroutine
        def coro():
            yield object

        async def main():
            try:
                await coro()
            except g.BadYieldError as e:
                return str(e)

        return main()

    assert both(scenario) == "yielded unknown object <class 'object'>"


def test_native_coroutines_and_awaitables_can_be_yielded():
    def scenario(g):
        class Awaitable:
            def __await__(self):
                yield from asyncio.sleep(0).__await__()
                return "custom"

        async def native(x):
            await asyncio.sleep(0)
            return x

        @g.coroutine
        def coro():
            a = yield native(1)
            b = yield [native(2), Awaitable()]
            c = yield {"k": native(3)}
            return a, b, c

        return coro()

    assert both(scenario) == (1, [2, "custom"], {"k": 3})


def test_concurrent_futures_can_be_yielded():
    def scenario(g):
        pool = concurrent.futures.ThreadPoolExecutor(1)

        @g.coroutine
        def coro():
            try:
                return (yield pool.submit(lambda: threading.current_thread().name != "x"))
            finally:
                pool.shutdown(wait=False)

        return coro()

    assert both(scenario) is True


def test_contextvars_persist_inside_and_do_not_leak():
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="outer")

    def scenario(g):
        @g.coroutine
        def coro(name):
            var.set(name)
            yield g.sleep(0)
            first = var.get()
            yield g.sleep(0)
            return first, var.get()

        async def main():
            results = await g.multi([coro("a"), coro("b")])
            return results, var.get()

        return main()

    assert both(scenario) == ([("a", "a"), ("b", "b")], "outer")


def test_cancelled_yield_cancels_the_coroutine():
    def scenario(g):
        @g.coroutine
        def coro(f):
            yield f

        async def main():
            f = asyncio.get_running_loop().create_future()
            result = coro(f)
            f.cancel()
            try:
                await result
            except asyncio.CancelledError:
                return result.cancelled()

        return main()

    assert both(scenario) is True


def test_cancelling_the_result_does_not_stop_the_generator():
    # Tornado has no task to cancel: the generator runs to its end and its
    # result is dropped.
    def scenario(g):
        trace = []

        @g.coroutine
        def coro(f):
            trace.append((yield f))
            trace.append("still running")
            return "ignored"

        async def main():
            f = asyncio.get_running_loop().create_future()
            result = coro(f)
            result.cancel()
            f.set_result("value")
            await asyncio.sleep(0.01)
            return trace, result.cancelled()

        return main()

    assert both(scenario) == (["value", "still running"], True)


def test_exception_after_cancel_is_logged():
    def scenario(g):
        @g.coroutine
        def coro(f):
            yield f
            raise RuntimeError("late")

        async def main():
            f = asyncio.get_running_loop().create_future()
            result = coro(f)
            result.cancel()
            f.set_result(None)
            await asyncio.sleep(0.01)

        return main()

    _, logs = both(scenario, logs=True)
    assert logs == [("Exception after Future was cancelled", "RuntimeError", "late")]


def test_is_coroutine_function():
    @gen.coroutine
    def f():
        yield None

    async def native():
        pass

    assert gen.is_coroutine_function(f)
    assert not gen.is_coroutine_function(native)
    assert not gen.is_coroutine_function(len)
    # The marker is Tornado's, so each recognises the other's.
    assert tornado.gen.is_coroutine_function(f)
    assert gen.is_coroutine_function(tornado.gen.coroutine(lambda: None))
    assert f.__wrapped__.__name__ == "f"
    assert f.__name__ == "f"


def test_return_class():
    r = gen.Return(5)
    assert r.value == 5 and r.args == (5,)
    assert gen.Return().value is None
    for name in ("KeyReuseError", "UnknownKeyError", "LeakedCallbackError",
                 "BadYieldError", "ReturnValueIgnoredError"):
        assert issubclass(getattr(gen, name), Exception)
    assert gen.TimeoutError is asyncio.TimeoutError is tornado.gen.TimeoutError
    assert gen.Multi is gen.multi


def test_coroutine_outside_a_running_loop_does_not_warn():
    # The future comes from the thread's loop, which is made if needed.
    loop = IOLoop(make_current=False)
    try:
        asyncio.set_event_loop(loop.asyncio_loop)

        @gen.coroutine
        def f():
            return 3

        fut = f()
        assert fut.result() == 3
        assert loop.run_sync(lambda: fut) == 3
    finally:
        asyncio.set_event_loop(None)
        loop.close()


# --- multi ----------------------------------------------------------------------


def test_multi_shapes():
    def scenario(g):
        async def value(x):
            await asyncio.sleep(0)
            return x

        async def main():
            shared = asyncio.ensure_future(value("s"))
            return [
                await g.multi([]),
                await g.multi({}),
                await g.multi([value(1), value(2), None]),
                await g.multi({"a": value(1), "b": [value(2), value(3)]}),
                await g.multi([shared, shared]),
                await g.multi_future((value(4), value(5))),
            ]

        return main()

    assert both(scenario) == [
        [], {}, [1, 2, None], {"a": 1, "b": [2, 3]}, ["s", "s"], [4, 5],
    ]


def test_multi_waits_for_all_children_and_raises_the_first_in_order():
    def scenario(g):
        trace = []

        async def fail(name, delay_turns):
            for _ in range(delay_turns):
                await asyncio.sleep(0)
            trace.append(name)
            raise ValueError(name)

        async def slow_ok():
            for _ in range(5):
                await asyncio.sleep(0)
            trace.append("ok")
            return "ok"

        async def main():
            try:
                await g.multi([fail("late", 3), fail("early", 0), slow_ok()])
            except ValueError as e:
                trace.append("raised " + str(e))
            return trace

        return main()

    result, logs = both(scenario, logs=True)
    # "late" fails later but comes first in the list; the multi only
    # fails once slow_ok has finished too.
    assert result == ["early", "late", "ok", "raised late"]
    assert logs == [("Multiple exceptions in yield list", "ValueError", "early")]


@pytest.mark.parametrize("quiet", [ValueError, (KeyError, ValueError)])
def test_multi_quiet_exceptions(quiet):
    def scenario(g):
        async def fail(exc):
            raise exc

        async def main():
            try:
                await g.multi([fail(ValueError("1")), fail(ValueError("2")),
                               fail(TypeError("3"))], quiet_exceptions=quiet)
            except ValueError as e:
                return str(e)

        return main()

    result, logs = both(scenario, logs=True)
    assert result == "1"
    assert logs == [("Multiple exceptions in yield list", "TypeError", "3")]


def test_multi_with_cancelled_child():
    def scenario(g):
        async def main():
            loop = asyncio.get_running_loop()
            a, b, c = loop.create_future(), loop.create_future(), loop.create_future()
            m = g.multi([a, b, c])
            a.set_result(1)
            b.cancel()
            c.set_exception(ValueError("after"))
            try:
                await m
            except asyncio.CancelledError:
                return "cancelled", m.cancelled()

        return main()

    result, logs = both(scenario, logs=True)
    # The multi fails with CancelledError as its exception; it is not
    # itself in the cancelled state.
    assert result == ("cancelled", False)
    assert logs == [("Multiple exceptions in yield list", "ValueError", "after")]


def test_multi_cancelling_the_result_leaves_children_running():
    def scenario(g):
        async def main():
            child = asyncio.ensure_future(asyncio.sleep(0.01, "child"))
            m = g.multi([child])
            m.cancel()
            return await child, m.cancelled()

        return main()

    assert both(scenario) == ("child", True)


# --- with_timeout ----------------------------------------------------------------


def test_with_timeout_result_before_deadline():
    def scenario(g):
        async def main():
            io_loop = tornado.ioloop.IOLoop.current() if g is tornado.gen else IOLoop.current()
            far = datetime.timedelta(seconds=60)
            a = await g.with_timeout(far, g.sleep(0))
            b = await g.with_timeout(io_loop.time() + 60, asyncio.sleep(0, "native"))
            c = await g.with_timeout(far, [asyncio.sleep(0, 1), asyncio.sleep(0, 2)])
            return a, b, c

        return main()

    assert both(scenario) == (None, "native", [1, 2])


def test_with_timeout_expires_without_cancelling():
    def scenario(g):
        async def main():
            inner = asyncio.get_running_loop().create_future()
            out = []
            for message in (None, "custom", lambda: "called"):
                try:
                    await g.with_timeout(datetime.timedelta(seconds=0.01), inner,
                                         message=message)
                except g.TimeoutError as e:
                    out.append(str(e))
            out.append(inner.done())
            inner.set_result("late")
            out.append(await inner)
            return out

        return main()

    assert both(scenario) == ["Timeout", "custom", "called", False, "late"]


def test_with_timeout_message_callable_only_called_on_timeout():
    calls = []

    def scenario(g):
        async def main():
            def message():
                calls.append(1)
                return "m"

            return await g.with_timeout(datetime.timedelta(seconds=60), g.sleep(0, ),
                                        message=message)

        return main()

    assert both(scenario) is None
    assert calls == []


@pytest.mark.parametrize("quiet", [(), KeyError, (KeyError,)])
def test_with_timeout_late_failure_logging(quiet):
    def scenario(g):
        async def main():
            inner = asyncio.get_running_loop().create_future()
            try:
                await g.with_timeout(datetime.timedelta(seconds=0.01), inner,
                                     quiet_exceptions=quiet)
            except g.TimeoutError:
                pass
            inner.set_exception(KeyError("late"))
            await asyncio.sleep(0.01)
            other = asyncio.get_running_loop().create_future()
            try:
                await g.with_timeout(datetime.timedelta(seconds=0.01), other)
            except g.TimeoutError:
                pass
            other.cancel()  # never logged
            await asyncio.sleep(0.01)

        return main()

    _, logs = both(scenario, logs=True)
    expected = [] if quiet else [("Exception in Future after timeout", "KeyError", "'late'")]
    assert logs == expected


def test_with_timeout_on_cancelled_future():
    def scenario(g):
        async def main():
            out = []
            loop = asyncio.get_running_loop()
            pre = loop.create_future()
            pre.cancel()
            w = g.with_timeout(datetime.timedelta(seconds=60), pre)
            try:
                await w
            except asyncio.CancelledError:
                out.append(("already cancelled", w.cancelled()))
            later = loop.create_future()
            w = g.with_timeout(datetime.timedelta(seconds=60), later)
            later.cancel()
            try:
                await w
            except asyncio.CancelledError:
                out.append(("cancelled while waiting", w.cancelled()))
            # Cancelling the wrapper does not cancel what it wraps.
            inner = loop.create_future()
            w = g.with_timeout(datetime.timedelta(seconds=60), inner)
            w.cancel()
            await asyncio.sleep(0)
            out.append(("wrapper cancelled", inner.cancelled()))
            inner.set_result(1)
            return out

        return main()

    assert both(scenario) == [
        ("already cancelled", True),
        ("cancelled while waiting", True),
        ("wrapper cancelled", False),
    ]


def test_with_timeout_concurrent_future():
    def scenario(g):
        pool = concurrent.futures.ThreadPoolExecutor(1)
        release = threading.Event()

        async def main():
            try:
                ok = await g.with_timeout(datetime.timedelta(seconds=60),
                                          pool.submit(lambda: "thread"))
                try:
                    await g.with_timeout(datetime.timedelta(seconds=0.01),
                                         pool.submit(release.wait, 30))
                except g.TimeoutError:
                    timed_out = True
                return ok, timed_out
            finally:
                release.set()
                pool.shutdown(wait=True)

        return main()

    assert both(scenario) == ("thread", True)


def test_with_timeout_rejects_bad_deadline():
    async def main():
        with pytest.raises(TypeError):
            gen.with_timeout("soon", gen.sleep(0))

    run_ours(main)


# --- sleep, maybe_future, convert_yielded --------------------------------------


def test_sleep_and_maybe_future():
    def scenario(g):
        async def main():
            f = g.sleep(0.001)
            assert not f.done()
            out = [await f]
            done = asyncio.get_running_loop().create_future()
            assert g.maybe_future(done) is done
            done.set_result(1)
            out.append(await g.maybe_future(5))
            # A cancelled sleep does not break the loop when its timer fires.
            s = g.sleep(0.001)
            s.cancel()
            await asyncio.sleep(0.01)
            out.append(s.cancelled())
            return out

        return main()

    assert both(scenario) == [None, 5, True]


def test_convert_yielded_basics():
    async def main():
        assert gen.convert_yielded(None) is gen.moment
        assert gen.convert_yielded(gen.moment) is gen.moment
        f = Future()
        assert gen.convert_yielded(f) is f
        cf: concurrent.futures.Future = concurrent.futures.Future()
        assert gen.convert_yielded(cf) is cf
        task = gen.convert_yielded(asyncio.sleep(0, "x"))
        assert isinstance(task, asyncio.Task)
        assert task in IOLoop._pending_tasks  # held until done
        assert await task == "x"
        await asyncio.sleep(0)
        assert task not in IOLoop._pending_tasks
        with pytest.raises(gen.BadYieldError):
            gen.convert_yielded(3)
        assert gen.moment.done() and gen.moment.result() is None

    run_ours(main)


def test_convert_yielded_is_extensible():
    class Deferred:
        def __init__(self, value):
            self.value = value

    @gen.convert_yielded.register(Deferred)
    def _(d):
        f = Future()
        f.set_result(d.value * 2)
        return f

    # (singledispatch has no way to unregister; the class is local anyway.)
    io_loop = IOLoop(make_current=False)
    try:
        @gen.coroutine
        def coro():
            return (yield Deferred(21)), (yield [Deferred(1), asyncio.sleep(0, 0)])

        assert io_loop.run_sync(coro) == (42, [2, 0])
    finally:
        io_loop.close()


# --- WaitIterator ------------------------------------------------------------------


def test_wait_iterator_order_and_indices():
    def scenario(g):
        async def main():
            loop = asyncio.get_running_loop()
            fs = [loop.create_future() for _ in range(4)]
            fs[2].set_result("two")  # done before iteration starts
            it = g.WaitIterator(*fs)
            out = []
            order = [3, 0, 1]
            while not it.done():
                nxt = it.next()
                if not nxt.done() and order:
                    i = order.pop(0)
                    if i == 1:
                        fs[i].set_exception(KeyError("one"))
                    else:
                        fs[i].set_result(i)
                try:
                    value = await nxt
                except KeyError as e:
                    value = "error " + str(e)
                out.append((it.current_index, value, it.current_future is fs[it.current_index]))
            out.append((it.current_index, it.current_future))
            return out

        return main()

    assert both(scenario) == [
        (2, "two", True), (3, 3, True), (0, 0, True), (1, "error 'one'", True), (None, None),
    ]


def test_wait_iterator_kwargs_async_for_and_duplicates():
    def scenario(g):
        async def main():
            loop = asyncio.get_running_loop()
            a, b = loop.create_future(), loop.create_future()
            it = g.WaitIterator(x=a, y=b)
            loop.call_soon(b.set_result, "B")
            loop.call_later(0.005, a.set_result, "A")
            out = []
            async for value in it:
                out.append((it.current_index, value))
            same = loop.create_future()
            same.set_result("s")
            it2 = g.WaitIterator(same, same)
            async for value in it2:
                out.append((it2.current_index, value))
            it3 = g.WaitIterator()
            out.append(it3.done())
            return out

        return main()

    assert both(scenario) == [("y", "B"), ("x", "A"), (0, "s"), (1, "s"), True]


def test_wait_iterator_rejects_mixed_arguments():
    f = object()
    with pytest.raises(ValueError):
        gen.WaitIterator(f, key=f)  # type: ignore[arg-type]


# --- the IOLoop hook and executors --------------------------------------------------


def test_ioloop_uses_gen():
    assert et_ioloop._gen() is gen


def test_ioloop_accepts_what_tornado_accepts():
    def scenario(g):
        io_loop = tornado.ioloop.IOLoop.current() if g is tornado.gen else IOLoop.current()
        done = asyncio.get_running_loop().create_future()
        trace = []

        @g.coroutine
        def spawned(x):
            yield g.sleep(0)
            trace.append(x)

        @g.coroutine
        def failing():
            yield g.sleep(0)
            raise ZeroDivisionError("spawned")

        async def main():
            io_loop.spawn_callback(spawned, 1)
            io_loop.add_callback(spawned, 2)
            io_loop.add_callback(failing)  # its exception is logged
            io_loop.add_callback(lambda: [g.sleep(0)])  # a list is waited for
            io_loop.add_callback(lambda: 42)  # not awaitable: ignored
            io_loop.add_future(spawned(3), lambda f: done.set_result(f.result()))
            await done
            await g.sleep(0.01)
            return sorted(trace)

        return main()

    result, logs = both(scenario, logs=True)
    assert result == [1, 2, 3]
    assert logs == [("Exception in callback", "ZeroDivisionError", "spawned")]


def test_run_sync_with_gen_coroutines():
    io_loop = IOLoop(make_current=False)
    try:
        @gen.coroutine
        def f():
            yield gen.sleep(0)
            return "f"

        @gen.coroutine
        def slow():
            yield gen.sleep(30)

        assert io_loop.run_sync(f) == "f"
        assert io_loop.run_sync(lambda: [f(), f()]) == ["f", "f"]
        assert io_loop.run_sync(lambda: {"k": f()}) == {"k": "f"}
        with pytest.raises(gen.BadYieldError):
            io_loop.run_sync(lambda: 5)
        with pytest.raises(gen.TimeoutError):
            io_loop.run_sync(slow, timeout=0.01)
    finally:
        io_loop.close()


def test_run_on_executor_and_run_in_executor():
    class Worker:
        def __init__(self):
            self.executor = concurrent.futures.ThreadPoolExecutor(2)
            self.other = concurrent.futures.ThreadPoolExecutor(1)

        @run_on_executor
        def name(self, suffix):
            return threading.current_thread().name + suffix

        @run_on_executor(executor="other")
        def boom(self):
            raise OSError("from thread")

    w = Worker()
    main_name = threading.current_thread().name

    @gen.coroutine
    def coro():
        name = yield w.name("!")
        try:
            yield w.boom()
        except OSError as e:
            err = str(e)
        via_loop = yield IOLoop.current().run_in_executor(None, threading.current_thread)
        return name, err, via_loop

    try:
        name, err, via_loop = run_ours(coro)
    finally:
        w.executor.shutdown()
        w.other.shutdown()
    assert name.endswith("!") and name != main_name + "!"
    assert err == "from thread"
    assert via_loop is not threading.current_thread()


@pytest.mark.parametrize("framework", ["ours", "tornado"])
def test_unretrieved_failure_is_reported_without_waiting_for_gc(framework):
    # No reference cycle keeps a failed coroutine's future alive, so asyncio
    # reports the unretrieved exception as soon as the future is dropped.
    g = FRAMEWORKS[framework][0]

    @g.coroutine
    def fails_at_once():
        raise ValueError("at once")

    @g.coroutine
    def fails_in_first_step():
        raise ValueError("first step")
        yield  # a generator

    async def main():
        with Capture("asyncio") as cap:
            fails_at_once()
            fails_in_first_step()
            return [str(r.exc_info[1]) for r in cap.records if r.exc_info]

    gc.disable()
    try:
        assert run_ours(main) == ["at once", "first step"]
    finally:
        gc.enable()


# --- no reference cycles; debug creation site ------------------------------------


def test_failed_coroutine_frees_its_locals_without_the_cycle_collector():
    # A coroutine whose first yield is already done runs its next step inside
    # the Runner; when that step raises, the traceback reaches the frames of
    # the call. Nothing may keep the failed generator's locals alive after it.
    import weakref

    def scenario(g):
        refs = []

        class Local:
            pass

        @g.coroutine
        def inner():
            local = Local()
            refs.append(weakref.ref(local))
            yield g.coroutine(lambda: None)()
            raise ValueError("boom")

        @g.coroutine
        def outer():
            try:
                yield inner()
            except ValueError:
                pass
            return refs

        return outer()

    enabled = gc.isenabled()
    gc.disable()
    try:
        for framework in ("ours", "tornado"):
            refs = run_one(framework, scenario)
            assert refs[0]() is None, framework
    finally:
        if enabled:
            gc.enable()


@pytest.mark.parametrize("framework", ["ours", "tornado"])
def test_debug_mode_future_is_created_at_the_coroutine_call(framework):
    g, loop_class, _ = FRAMEWORKS[framework]
    loop = loop_class(make_current=False)
    try:
        async def check():
            asyncio.get_running_loop().set_debug(True)

            def f():
                yield g.moment

            future = g.coroutine(f)()
            line = sys._getframe().f_lineno - 1
            text = repr(future)
            await future
            return text, line

        text, line = loop.run_sync(check)
    finally:
        loop.close()
    assert f"created at {__file__}:{line}" in text
