"""call_soon, call_soon_threadsafe, the exception handler API and debug mode.

From the asyncio-eventloop page: "Scheduling callbacks", "Error Handling API",
"Enabling debug mode", and "Callback Handles".
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time

import pytest
from conformance import (
    assert_handle,
    asyncio_debug_default,
    in_thread,
    run,
    run_forever_bounded,
    uvloop_deviates,
)

var = contextvars.ContextVar("var", default="unset")


# --------------------------------------------------------------------------- call_soon

def test_call_soon_fifo_with_args(loop):
    # Docs: "Callbacks are called in the order in which they are registered.
    # Each callback will be called exactly once."
    calls = []
    for i in range(100):
        loop.call_soon(calls.append, (i, "arg"))
    loop.call_soon(loop.stop)
    assert run_forever_bounded(loop)
    assert calls == [(i, "arg") for i in range(100)]


def test_call_soon_multiple_positional_args(loop):
    got = []
    loop.call_soon(lambda *a: got.append(a), 1, "two", None)
    loop.call_soon(loop.stop)
    assert run_forever_bounded(loop)
    assert got == [(1, "two", None)]


def test_call_soon_returns_handle_and_cancel(loop):
    calls = []
    h1 = loop.call_soon(calls.append, 1)
    h2 = loop.call_soon(calls.append, 2)
    h3 = loop.call_soon(calls.append, 3)
    assert_handle(h2)
    assert not h2.cancelled()
    h2.cancel()
    assert h2.cancelled()
    h2.cancel()  # cancelling twice is harmless
    loop.call_soon(loop.stop)
    assert run_forever_bounded(loop)
    assert calls == [1, 3]
    # Cancelling a handle that already ran does not raise.
    h1.cancel()
    h3.cancel()


def test_callback_cancelled_by_earlier_callback(loop):
    calls = []
    later = None

    def first():
        calls.append("first")
        later.cancel()

    loop.call_soon(first)
    later = loop.call_soon(calls.append, "cancelled")
    loop.call_soon(loop.stop)
    assert run_forever_bounded(loop)
    assert calls == ["first"]


def test_call_soon_inside_callback_runs_after_current_batch(loop):
    calls = []

    def a():
        calls.append("a")
        loop.call_soon(calls.append, "c")

    loop.call_soon(a)
    loop.call_soon(calls.append, "b")
    loop.call_soon(loop.call_soon, loop.stop)
    assert run_forever_bounded(loop)
    assert calls == ["a", "b", "c"]


def test_call_soon_default_context_is_a_copy_of_current(loop):
    # Docs: "The current context is used when no context is provided" (a copy:
    # a callback's changes do not leak back into the caller's context).
    seen = []

    def cb():
        seen.append(var.get())
        var.set("changed-in-callback")

    def schedule():
        var.set("caller")
        loop.call_soon(cb)
        loop.call_soon(lambda: seen.append(var.get()))

    contextvars.copy_context().run(schedule)
    loop.call_soon(loop.stop)
    assert run_forever_bounded(loop)
    assert seen == ["caller", "caller"]


def test_call_soon_explicit_context(loop):
    ctx = contextvars.Context()
    ctx.run(var.set, "in-ctx")
    seen = []
    loop.call_soon(lambda: seen.append(var.get()), context=ctx)
    loop.call_soon(lambda: seen.append(var.get()))
    loop.call_soon(loop.stop)
    assert run_forever_bounded(loop)
    assert seen == ["in-ctx", "unset"]


def test_many_callbacks_each_called_once(loop):
    n = 50_000
    count = [0]

    def inc():
        count[0] += 1

    for _ in range(n):
        loop.call_soon(inc)
    loop.call_soon(loop.stop)
    assert run_forever_bounded(loop)
    assert count[0] == n


def test_coroutine_is_not_a_callback_in_debug_mode(loop, request):
    # Reference behaviour (not in the docs): in debug mode a coroutine object
    # given where a callback is expected is rejected with TypeError.
    uvloop_deviates(request, "accepts a coroutine object as a callback in debug mode")

    async def coro_fn():
        pass

    loop.set_debug(True)
    loop.set_exception_handler(lambda lp, ctx: None)  # where a loop accepted it
    coro = coro_fn()
    try:
        with pytest.raises(TypeError):
            loop.call_soon(coro)
        with pytest.raises(TypeError):
            loop.call_later(1, coro)
    finally:
        coro.close()
        loop.set_debug(False)


# --------------------------------------------------------------------------- threadsafe

def test_call_soon_threadsafe_wakes_blocked_loop(loop):
    # The loop sleeps in the selector with no timer due for TIMEOUT seconds;
    # only the thread's call can finish the future before wait_for gives up.
    fut = loop.create_future()
    idents = []

    def done():
        idents.append(threading.get_ident())
        fut.set_result("woken")

    t = in_thread(lambda: loop.call_soon_threadsafe(done), delay=0.05)
    assert run(loop, fut) == "woken"
    t.join()
    assert idents == [threading.get_ident()]


def test_call_soon_threadsafe_stop_wakes_run_forever(loop):
    t = in_thread(lambda: loop.call_soon_threadsafe(loop.stop), delay=0.05)
    assert run_forever_bounded(loop), "run_forever was only ended by the watchdog"
    t.join()


def test_call_soon_threadsafe_returns_handle_with_args_and_context(loop):
    ctx = contextvars.Context()
    ctx.run(var.set, "threadctx")
    seen = []
    box = []

    def from_thread():
        box.append(loop.call_soon_threadsafe(lambda a, b: seen.append((a, b, var.get())),
                                             1, 2, context=ctx))
        loop.call_soon_threadsafe(loop.stop)

    in_thread(from_thread).join()
    assert_handle(box[0])
    assert run_forever_bounded(loop)
    assert seen == [(1, 2, "threadctx")]


def test_call_soon_threadsafe_many_threads_keep_per_thread_order(loop):
    n_threads, n_calls = 4, 500
    got = []
    done = loop.create_future()
    remaining = [n_threads * n_calls]

    def record(tid, i):
        got.append((tid, i))
        remaining[0] -= 1
        if remaining[0] == 0:
            done.set_result(None)

    start = threading.Event()

    def worker(tid):
        start.wait()
        for i in range(n_calls):
            loop.call_soon_threadsafe(record, tid, i)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    start.set()
    run(loop, done)
    for t in threads:
        t.join()
    for tid in range(n_threads):
        assert [i for (k, i) in got if k == tid] == list(range(n_calls))


def test_threadsafe_future_from_thread(loop):
    # run_coroutine_threadsafe: the documented way to submit to a running loop.
    async def square(x):
        await asyncio.sleep(0)
        return x * x

    results = []

    def client():
        results.append(asyncio.run_coroutine_threadsafe(square(7), loop).result(5))
        loop.call_soon_threadsafe(loop.stop)

    t = in_thread(client)
    assert run_forever_bounded(loop)
    t.join()
    assert results == [49]


# --------------------------------------------------------------------------- errors

def test_exception_handler_get_set(loop):
    # The loop fixture installed a recording handler; None restores the default.
    assert loop.get_exception_handler() is not None
    loop.set_exception_handler(None)
    assert loop.get_exception_handler() is None

    def handler(lp, ctx):
        pass

    loop.set_exception_handler(handler)
    assert loop.get_exception_handler() is handler
    with pytest.raises(TypeError):
        loop.set_exception_handler("not callable")
    loop.set_exception_handler(None)


def test_exception_in_callback_reaches_handler_and_loop_keeps_running(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append((lp, ctx)))
    calls = []
    err = ValueError("in callback")

    def bad():
        raise err

    loop.call_soon(bad)
    loop.call_soon(calls.append, "after")
    loop.call_later(0.01, calls.append, "timer after")
    loop.call_later(0.02, loop.stop)
    assert run_forever_bounded(loop)
    assert calls == ["after", "timer after"]
    assert len(contexts) == 1
    lp, ctx = contexts[0]
    assert lp is loop
    assert ctx["exception"] is err
    assert isinstance(ctx["message"], str)


def test_exception_in_timer_reaches_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    def bad():
        raise KeyError("timer")

    loop.call_later(0.001, bad)
    run(loop, asyncio.sleep(0.02))
    assert [type(c["exception"]) for c in contexts] == [KeyError]


def test_call_exception_handler_uses_custom_handler(loop):
    got = []
    loop.set_exception_handler(lambda lp, ctx: got.append(ctx))
    ctx = {"message": "custom", "exception": RuntimeError("x"), "extra": 1}
    loop.call_exception_handler(ctx)
    assert got == [ctx]


def test_default_exception_handler_logs_to_asyncio_logger(loop, caplog):
    # Docs (asyncio-dev): asyncio logs through the "asyncio" logger.
    loop.set_exception_handler(None)
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        loop.call_exception_handler({"message": "the-message", "exception": OSError("the-exc")})
        loop.default_exception_handler({"message": "direct-default"})
    text = caplog.text
    assert "the-message" in text and "the-exc" in text
    assert "direct-default" in text
    assert all(r.name == "asyncio" for r in caplog.records)


def test_exception_in_callback_with_default_handler_is_logged(loop, caplog):
    loop.set_exception_handler(None)

    def bad():
        raise LookupError("logged-by-default")

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        loop.call_soon(bad)
        run(loop, asyncio.sleep(0.01))
    assert "logged-by-default" in caplog.text


def test_failing_exception_handler_does_not_break_loop(loop, caplog):
    # Reference behaviour: an error inside the custom handler is logged and
    # the loop continues.
    def broken_handler(lp, ctx):
        raise RuntimeError("handler is broken")

    loop.set_exception_handler(broken_handler)

    def bad():
        raise ValueError("original")

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        loop.call_soon(bad)
        assert run(loop, asyncio.sleep(0.01, "alive")) == "alive"
    assert "handler is broken" in caplog.text


def test_unretrieved_task_exception_reaches_handler(loop):
    # asyncio-dev: "If a Future.set_exception() is called but the Future
    # object is never awaited on, the exception would never be propagated to
    # the user code" -- it is reported to the exception handler when the task
    # is destroyed.
    import gc

    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    async def fails():
        raise ValueError("never retrieved")

    async def main():
        t = loop.create_task(fails())
        await asyncio.sleep(0.01)
        assert t.done()
        del t
        gc.collect()
        await asyncio.sleep(0)

    run(loop, main())
    gc.collect()
    assert any(isinstance(c.get("exception"), ValueError) for c in contexts)


# --------------------------------------------------------------------------- debug

def test_debug_getters(loop):
    assert loop.get_debug() is asyncio_debug_default()
    loop.set_debug(True)
    assert loop.get_debug() is True
    loop.set_debug(False)
    assert loop.get_debug() is False


def test_debug_mode_logs_slow_callbacks(loop, caplog):
    # Docs: in debug mode, "callbacks taking longer than 100 milliseconds are
    # logged"; loop.slow_callback_duration sets that threshold.
    assert loop.slow_callback_duration == pytest.approx(0.1)
    loop.set_debug(True)
    loop.slow_callback_duration = 0.01
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        loop.call_soon(time.sleep, 0.05)
        run(loop, asyncio.sleep(0.01))
    loop.set_debug(False)
    assert any("took" in r.getMessage() for r in caplog.records), caplog.text


def test_debug_mode_wrong_thread_call_soon_raises(loop):
    # Docs (asyncio-dev): in debug mode, "many non-threadsafe asyncio APIs
    # (such as loop.call_soon() and loop.call_at() methods) raise an exception
    # if they are called from a wrong thread."
    loop.set_debug(True)
    errors = []

    def from_thread():
        try:
            loop.call_soon(print)
        except RuntimeError as exc:
            errors.append(exc)
        loop.call_soon_threadsafe(loop.stop)

    loop.call_soon(lambda: in_thread(from_thread))
    assert run_forever_bounded(loop)
    loop.set_debug(False)
    assert len(errors) == 1
