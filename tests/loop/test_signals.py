"""Unix signal handlers on the loop.

From the asyncio-eventloop page, "Unix signals": add_signal_handler,
remove_signal_handler.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest
from conformance import in_thread, run, run_forever_bounded, uvloop_deviates


@pytest.fixture(autouse=True)
def _restore_sigusr():
    saved = {s: signal.getsignal(s) for s in (signal.SIGUSR1, signal.SIGUSR2)}
    yield
    for s, h in saved.items():
        signal.signal(s, h)


def test_signal_wakes_loop_and_runs_handler_in_loop_thread(loop):
    fut = loop.create_future()
    seen = []

    def handler(tag):
        seen.append((tag, threading.get_ident()))
        if not fut.done():
            fut.set_result("signalled")

    loop.add_signal_handler(signal.SIGUSR1, handler, "usr1")
    try:
        # The loop is idle in its poll (no timer due before TIMEOUT) when the
        # signal arrives from another thread.
        t = in_thread(lambda: os.kill(os.getpid(), signal.SIGUSR1), delay=0.05)
        assert run(loop, fut) == "signalled"
        t.join()
        assert seen == [("usr1", threading.get_ident())]
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)


def test_signal_stops_run_forever(loop):
    loop.add_signal_handler(signal.SIGUSR2, loop.stop)
    try:
        t = in_thread(lambda: os.kill(os.getpid(), signal.SIGUSR2), delay=0.05)
        assert run_forever_bounded(loop), "only the watchdog stopped the loop"
        t.join()
    finally:
        loop.remove_signal_handler(signal.SIGUSR2)


def test_signal_sent_from_loop_thread(loop):
    got = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, lambda: got.done() or got.set_result(1))
    try:
        loop.call_soon(os.kill, os.getpid(), signal.SIGUSR1)
        assert run(loop, got) == 1
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)


def test_signal_handler_replaced(loop):
    got = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, lambda: got.done() or got.set_result("old"))
    loop.add_signal_handler(signal.SIGUSR1, lambda: got.done() or got.set_result("new"))
    try:
        loop.call_soon(os.kill, os.getpid(), signal.SIGUSR1)
        assert run(loop, got) == "new"
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)


def test_remove_signal_handler_return_values_and_default_restored(loop):
    # Docs: "Return True if the signal handler was removed, or False if no
    # handler was set for the given signal."
    async def main():
        assert loop.remove_signal_handler(signal.SIGUSR1) is False
        loop.add_signal_handler(signal.SIGUSR1, print)
        assert signal.getsignal(signal.SIGUSR1) not in (signal.SIG_DFL, signal.SIG_IGN, None)
        assert loop.remove_signal_handler(signal.SIGUSR1) is True
        assert loop.remove_signal_handler(signal.SIGUSR1) is False
        # Reference behaviour: the default disposition is back.
        assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL

    run(loop, main())


def test_remove_signal_handler_before_loop_runs(loop, request):
    # The same contract holds on a loop that has not been started yet (a
    # daemon installs its SIGTERM handler before run_forever()).
    uvloop_deviates(request, "remove_signal_handler returns False and leaves the handler "
                    "installed when the loop has not run yet")
    loop.add_signal_handler(signal.SIGUSR1, print)
    assert loop.remove_signal_handler(signal.SIGUSR1) is True
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_handler_added_before_run_fires(loop):
    got = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, lambda: got.done() or got.set_result("early"))
    try:
        loop.call_soon(os.kill, os.getpid(), signal.SIGUSR1)
        assert run(loop, got) == "early"
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)


def test_sigint_removal_restores_keyboard_interrupt(loop):
    # Reference behaviour: removing a SIGINT handler restores Python's
    # default_int_handler (so Ctrl-C raises KeyboardInterrupt again).
    saved = signal.getsignal(signal.SIGINT)

    async def main():
        loop.add_signal_handler(signal.SIGINT, print)
        assert loop.remove_signal_handler(signal.SIGINT) is True
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    try:
        run(loop, main())
    finally:
        signal.signal(signal.SIGINT, saved)


def test_invalid_signals(loop):
    # Docs: "Raise ValueError if the signal number is invalid or uncatchable.
    # Raise RuntimeError if there is a problem setting up the handler."
    with pytest.raises(ValueError):
        loop.add_signal_handler(100000, print)
    with pytest.raises(ValueError):
        loop.remove_signal_handler(100000)
    # SIGKILL is a valid number that cannot be caught: the docs say
    # ValueError, the stdlib loop raises RuntimeError. Either is accepted.
    with pytest.raises((ValueError, RuntimeError)):
        loop.add_signal_handler(signal.SIGKILL, print)
    assert loop.remove_signal_handler(signal.SIGKILL) is False


def test_coroutine_function_rejected(loop):
    # Reference behaviour: a coroutine function is not a signal handler.
    async def handler():
        pass

    with pytest.raises(TypeError):
        loop.add_signal_handler(signal.SIGUSR1, handler)
    assert loop.remove_signal_handler(signal.SIGUSR1) is False


def test_add_signal_handler_outside_main_thread(loop_factory):
    # Docs: "Like signal.signal(), this function must be invoked in the main
    # thread." The stdlib raises RuntimeError (from set_wakeup_fd's
    # ValueError); either of the two documented exceptions is accepted.
    errors = []

    def worker():
        lp = loop_factory()
        try:
            lp.add_signal_handler(signal.SIGUSR1, print)
        except (RuntimeError, ValueError) as exc:
            errors.append(exc)
        else:
            lp.remove_signal_handler(signal.SIGUSR1)
        finally:
            lp.close()

    t = threading.Thread(target=worker)
    t.start()
    t.join(10)
    assert len(errors) == 1


def test_close_removes_signal_handlers(loop_factory, request):
    # Reference behaviour: closing the loop uninstalls its signal handlers.
    uvloop_deviates(request, "close() leaves the loop's signal handlers installed")
    lp = loop_factory()
    lp.add_signal_handler(signal.SIGUSR1, print)
    lp.close()
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_exception_in_signal_handler_reaches_exception_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    done = loop.create_future()

    def bad():
        loop.call_soon(done.set_result, None)
        raise ValueError("in signal handler")

    loop.add_signal_handler(signal.SIGUSR1, bad)
    try:
        loop.call_soon(os.kill, os.getpid(), signal.SIGUSR1)
        run(loop, done)
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)
    assert [type(c.get("exception")) for c in contexts] == [ValueError]
