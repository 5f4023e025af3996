"""Running and stopping a loop: run_until_complete, run_forever, stop, close.

From the asyncio-eventloop page, "Running and stopping the loop".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket

import pytest
from conformance import check_removed, run, run_forever_bounded, uvloop_deviates


def test_run_until_complete_returns_result(loop):
    async def main(x):
        await asyncio.sleep(0)
        return x * 2

    assert loop.run_until_complete(main(21)) == 42


def test_run_until_complete_wraps_coroutine_in_task(loop):
    seen = []

    async def main():
        seen.append(asyncio.current_task())
        return "ok"

    assert loop.run_until_complete(main()) == "ok"
    assert isinstance(seen[0], asyncio.Task)
    assert seen[0].get_loop() is loop


def test_run_until_complete_accepts_future(loop):
    fut = loop.create_future()
    loop.call_soon(fut.set_result, "done")
    assert loop.run_until_complete(fut) == "done"


def test_run_until_complete_raises_future_exception(loop):
    async def main():
        await asyncio.sleep(0)
        raise ZeroDivisionError("boom")

    with pytest.raises(ZeroDivisionError, match="boom"):
        loop.run_until_complete(main())


def test_run_until_complete_returns_when_done_not_when_idle(loop):
    # Callbacks scheduled far in the future do not keep run_until_complete running.
    fired = []
    h = loop.call_later(3600, fired.append, 1)
    assert loop.run_until_complete(asyncio.sleep(0, "x")) == "x"
    assert not fired
    h.cancel()


def test_is_running(loop):
    assert not loop.is_running()
    seen = []
    loop.call_soon(lambda: seen.append(loop.is_running()))
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == [True]
    assert not loop.is_running()

    async def main():
        return loop.is_running()

    assert loop.run_until_complete(main()) is True
    assert not loop.is_running()


def test_get_running_loop_inside_callback_and_task(loop):
    seen = []
    loop.call_soon(lambda: seen.append(asyncio.get_running_loop()))

    async def main():
        seen.append(asyncio.get_running_loop())
        seen.append(asyncio.get_event_loop())

    run(loop, main())
    assert seen == [loop, loop, loop]
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def test_stop_while_running_finishes_current_batch(loop, request):
    # Docs: "If stop() is called while run_forever() is running, the loop will
    # run the current batch of callbacks and then exit. Note that new callbacks
    # scheduled by callbacks will not run in this case; instead, they will run
    # the next time run_forever() or run_until_complete() is called."
    uvloop_deviates(request, "runs callbacks scheduled after stop() in the same run "
                    "(MagicStack/uvloop#517)")
    calls = []

    def first():
        calls.append("first")
        loop.stop()
        loop.call_soon(calls.append, "scheduled-by-callback")

    loop.call_soon(first)
    loop.call_soon(calls.append, "same-batch")
    assert run_forever_bounded(loop)
    assert calls == ["first", "same-batch"]
    loop.call_soon(loop.stop)
    assert run_forever_bounded(loop)
    assert calls == ["first", "same-batch", "scheduled-by-callback"]


def test_stop_before_run_forever_runs_ready_queue_once(loop):
    # Docs: "If stop() is called before run_forever() is called, the loop will
    # poll the I/O selector once with a timeout of zero, run all callbacks
    # scheduled in response to I/O events (and those that were already
    # scheduled), and then exit."
    calls = []
    a, b = socket.socketpair()
    try:
        a.setblocking(False)
        b.send(b"x")
        loop.add_reader(a, lambda: calls.append(("readable", a.recv(1))))
        loop.call_soon(lambda: (calls.append("ready"), loop.call_soon(calls.append, "later")))
        loop.stop()
        loop.run_forever()  # must return by itself
        assert "ready" in calls
        assert ("readable", b"x") in calls
        assert "later" not in calls
        loop.call_soon(loop.stop)
        assert run_forever_bounded(loop)
        assert calls.count("later") == 1
        assert calls.count("ready") == 1
        check_removed(loop, loop.remove_reader(a), True)
    finally:
        a.close()
        b.close()


def test_stop_is_not_sticky(loop):
    # One stop() ends one run_forever(); the next run starts afresh.
    loop.stop()
    loop.run_forever()
    assert run(loop, asyncio.sleep(0.01, "ran")) == "ran"
    fired = []
    loop.call_later(0.02, lambda: (fired.append(1), loop.stop()))
    assert run_forever_bounded(loop)
    assert fired == [1]


def test_stop_inside_run_until_complete_raises(loop):
    # Reference behaviour: stopping the loop before the future is done makes
    # run_until_complete raise RuntimeError instead of hanging or returning None.
    fut = loop.create_future()
    loop.call_soon(loop.stop)
    with pytest.raises(RuntimeError):
        loop.run_until_complete(fut)
    assert not fut.done()
    loop.call_soon(fut.set_result, 5)
    assert loop.run_until_complete(fut) == 5


def test_run_forever_while_running_raises(loop):
    errors = []

    def nested():
        try:
            loop.run_forever()
        except RuntimeError as exc:
            errors.append(exc)
        loop.stop()

    loop.call_soon(nested)
    assert run_forever_bounded(loop)
    assert len(errors) == 1


def test_run_until_complete_while_running_raises(loop):
    # A future, not a coroutine: uvloop wraps a coroutine in a task before it
    # raises, asyncio raises first; either is fine for this contract.
    async def main():
        fut = loop.create_future()
        with pytest.raises(RuntimeError):
            loop.run_until_complete(fut)
        fut.cancel()
        return "still fine"

    assert run(loop, main()) == "still fine"


def test_cannot_run_while_another_loop_runs_in_thread(loop, loop_factory):
    other = loop_factory()
    try:
        async def main():
            fut = other.create_future()
            with pytest.raises(RuntimeError):
                other.run_until_complete(fut)
            fut.cancel()

        run(loop, main())
    finally:
        other.close()


def test_close_discards_pending_callbacks(loop):
    # Docs: close(): "The loop must not be running. Pending callbacks will be
    # discarded." "This method is idempotent and irreversible."
    fired = []
    loop.call_soon(fired.append, "soon")
    loop.call_later(0.001, fired.append, "later")
    loop.close()
    assert loop.is_closed()
    assert fired == []
    loop.close()  # idempotent
    assert loop.is_closed()


def test_closed_loop_rejects_run_and_scheduling(loop):
    loop.close()
    coro = asyncio.sleep(0)
    try:
        with pytest.raises(RuntimeError):
            loop.run_until_complete(coro)
    finally:
        coro.close()
    with pytest.raises(RuntimeError):
        loop.run_forever()
    with pytest.raises(RuntimeError):
        loop.call_soon(print)
    with pytest.raises(RuntimeError):
        loop.call_later(1, print)
    with pytest.raises(RuntimeError):
        loop.call_soon_threadsafe(print)


def test_close_while_running_raises(loop):
    errors = []

    def try_close():
        try:
            loop.close()
        except RuntimeError as exc:
            errors.append(exc)
        loop.stop()

    loop.call_soon(try_close)
    assert run_forever_bounded(loop)
    assert len(errors) == 1
    assert not loop.is_closed()


def test_close_shuts_down_default_executor_without_waiting(loop):
    # Docs: close() "clears all queues and shuts down the executor, but does
    # not wait for the executor to finish."
    calls = []

    class Recording(concurrent.futures.ThreadPoolExecutor):
        def shutdown(self, wait=True, **kw):
            calls.append(wait)
            super().shutdown(wait=wait, **kw)

    ex = Recording(max_workers=1)
    loop.set_default_executor(ex)
    assert run(loop, loop.run_in_executor(None, sum, [1, 2, 3])) == 6
    loop.close()
    assert calls == [False]
    ex.shutdown(wait=True)


def test_system_exit_in_callback_propagates(loop):
    # Reference behaviour: SystemExit and KeyboardInterrupt raised by a
    # callback are not given to the exception handler; they leave run_forever().
    def bail():
        raise SystemExit(3)

    loop.call_soon(bail)
    with pytest.raises(SystemExit):
        run_forever_bounded(loop)
    assert not loop.is_running()
    assert run(loop, asyncio.sleep(0, "usable")) == "usable"


def test_keyboard_interrupt_in_task_propagates(loop):
    async def main():
        await asyncio.sleep(0)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        loop.run_until_complete(main())
    assert not loop.is_running()
    assert run(loop, asyncio.sleep(0, "usable")) == "usable"
