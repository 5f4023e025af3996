"""Tests for embedtornado.ioloop and embedtornado.loop.

Where behaviour must match Tornado 6.6.1, the same scenario runs on
``tornado.ioloop`` and on ``embedtornado.ioloop`` and the results are compared.
Timing-sensitive checks use a controlled clock; wall-clock waits appear only
as generous upper bounds on "it happened at all".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import functools
import glob
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings

import pytest
import tornado.ioloop

import embedtornado
import embedtornado.loop
from embedtornado import ioloop as et_ioloop
from embedtornado.concurrent import Future
from embedtornado.ioloop import (
    AsyncIOLoop,
    AsyncIOMainLoop,
    BaseAsyncIOLoop,
    IOLoop,
    PeriodicCallback,
)
from embedtornado.util import TimeoutError

APP_LOGGER = "embedtornado.application"
SRC_DIR = os.path.dirname(os.path.dirname(embedtornado.__file__))


def in_thread(fn, *args):
    """Run fn in a fresh thread (which has no event loop) and return its result."""
    result: list = []
    error: list = []

    def target():
        try:
            result.append(fn(*args))
        except BaseException as e:  # re-raised in the test's thread
            error.append(e)

    t = threading.Thread(target=target)
    t.start()
    t.join(30)
    assert not t.is_alive()
    if error:
        raise error[0]
    return result[0] if result else None


@pytest.fixture
def io_loop():
    loop = IOLoop(make_current=False)
    yield loop
    loop.close()


def app_errors(caplog):
    return [r for r in caplog.records if r.name == APP_LOGGER and r.levelno >= logging.ERROR]


# --- embedtornado.loop ----------------------------------------------------------


def test_loop_seam_default():
    if embedtornado.speedups()["loop"] == "cython":
        assert embedtornado.loop.COMPILED
        assert embedtornado.loop.Loop.__mro__[1].__module__ == "embedtornado._speedups.loop"
    else:
        assert embedtornado.loop.Loop is asyncio.SelectorEventLoop
    loop = embedtornado.loop.new_event_loop()
    try:
        assert isinstance(loop, asyncio.AbstractEventLoop)
        assert loop.run_until_complete(asyncio.sleep(0, "ok")) == "ok"
    finally:
        loop.close()


def test_loop_install_policy():
    old = asyncio.get_event_loop_policy()
    try:
        embedtornado.loop.install()
        policy = asyncio.get_event_loop_policy()
        assert isinstance(policy, embedtornado.loop.EventLoopPolicy)
        loop = embedtornado.loop.new_event_loop()
        try:
            assert isinstance(loop, embedtornado.loop.Loop)
        finally:
            loop.close()

        async def main():
            return type(asyncio.get_running_loop())

        assert issubclass(asyncio.run(main()), embedtornado.loop.Loop)
    finally:
        asyncio.set_event_loop_policy(old)
    with pytest.raises(AttributeError):
        embedtornado.loop.NoSuchThing  # noqa: B018


# --- IOLoop.current and friends -------------------------------------------------


def test_current_inside_running_loop():
    async def main():
        current = IOLoop.current()
        assert isinstance(current, AsyncIOMainLoop)
        assert current.asyncio_loop is asyncio.get_running_loop()
        assert IOLoop.current() is current
        assert IOLoop.instance() is current
        assert IOLoop.current(instance=False) is current
        return current

    current = asyncio.run(main())
    assert current.asyncio_loop.is_closed()


def test_current_creates_loop_through_seam(monkeypatch):
    created = []
    real = embedtornado.loop.new_event_loop

    def spy():
        loop = real()
        created.append(loop)
        return loop

    monkeypatch.setattr(embedtornado.loop, "new_event_loop", spy)

    def body():
        assert IOLoop.current(instance=False) is None
        assert created == []  # instance=False creates nothing
        current = IOLoop.current()
        try:
            assert created == [current.asyncio_loop]
            assert IOLoop.current() is current
            # it became the thread's asyncio loop
            assert asyncio.get_event_loop() is current.asyncio_loop

            async def inner():
                return IOLoop.current()

            assert current.run_sync(inner) is current
        finally:
            current.close()
            asyncio.set_event_loop(None)
        return True

    assert in_thread(body)


def test_current_wraps_thread_loop_set_by_asyncio():
    def body():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            assert IOLoop.current(instance=False) is None  # no IOLoop yet
            current = IOLoop.current()
            assert current.asyncio_loop is loop
            assert isinstance(current, AsyncIOMainLoop)
        finally:
            current.close()
            asyncio.set_event_loop(None)
        assert loop.is_closed()  # closing an AsyncIOMainLoop closes its loop
        return True

    assert in_thread(body)


_NO_WARNING_SCRIPT = r"""
import asyncio, sys, threading, warnings
warnings.simplefilter("error")
import embedtornado.loop
from embedtornado.ioloop import IOLoop

assert IOLoop.current(instance=False) is None
io = IOLoop.current()
assert IOLoop.current() is io
assert asyncio.get_event_loop() is io.asyncio_loop

async def main():
    await asyncio.sleep(0)
    return IOLoop.current() is io

assert io.run_sync(main)

def worker(out):
    w = IOLoop.current()
    out.append(w.run_sync(lambda: asyncio.sleep(0, "thread ok")))
    w.close()

out = []
t = threading.Thread(target=worker, args=(out,))
t.start(); t.join()
assert out == ["thread ok"], out
io.close()
io2 = IOLoop()
assert IOLoop.current() is io2
io2.close()
print("ok")
"""


def _interpreters():
    """sys.executable, plus any other CPython 3.11-3.13 found on this machine."""
    candidates = [shutil.which(f"python3.{minor}") for minor in (11, 12, 13)]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[123].*/bin/python3")))
    found = [sys.executable]
    seen = {os.path.realpath(sys.executable)}
    for path in candidates:
        if not path or "/shims/" in path:  # pyenv shims may refuse to run
            continue
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            found.append(path)
    return found


@pytest.mark.parametrize("python", _interpreters())
def test_current_in_main_thread_never_warns(python):
    env = dict(os.environ, PYTHONPATH=SRC_DIR, PYTHONWARNINGS="error")
    proc = subprocess.run(
        [python, "-c", _NO_WARNING_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    if python != sys.executable and (proc.returncode == 127 or "pyenv" in proc.stderr):
        pytest.skip(f"{python} is not runnable here")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_new_ioloop_is_current_until_closed():
    def body():
        assert IOLoop.current(instance=False) is None
        io = IOLoop()
        assert isinstance(io, AsyncIOLoop)
        assert IOLoop.current() is io
        other = IOLoop(make_current=False)
        assert IOLoop.current() is io
        other.close()
        io.close()
        # the previous (absent) loop is restored
        assert IOLoop.current(instance=False) is None
        return True

    assert in_thread(body)


def test_ioloop_uses_seam(monkeypatch):
    created = []
    real = embedtornado.loop.new_event_loop

    def spy():
        created.append(real())
        return created[-1]

    monkeypatch.setattr(embedtornado.loop, "new_event_loop", spy)
    io = IOLoop(make_current=False)
    try:
        assert created == [io.asyncio_loop]
    finally:
        io.close()
    assert created[0].is_closed()


def test_make_current_and_clear_current_are_deprecated():
    def body():
        io = IOLoop(make_current=False)
        with pytest.warns(DeprecationWarning):
            io.make_current()
        assert IOLoop.current() is io
        with pytest.warns(DeprecationWarning):
            IOLoop.clear_current()
        assert IOLoop.current(instance=False) is None
        io.close()
        # clear_current with nothing current is harmless
        with pytest.warns(DeprecationWarning):
            IOLoop.clear_current()
        return True

    assert in_thread(body)


def test_explicit_asyncio_loop():
    loop = asyncio.new_event_loop()
    io = IOLoop(asyncio_loop=loop, make_current=False)
    try:
        assert io.asyncio_loop is loop
        # a second IOLoop for the same asyncio loop is refused, and the loop
        # we passed in is not closed by the failure
        with pytest.raises(RuntimeError):
            IOLoop(asyncio_loop=loop, make_current=False)
        assert not loop.is_closed()
    finally:
        io.close()
    assert loop.is_closed()


def test_configure():
    saved = IOLoop._save_configuration()
    try:
        with pytest.raises(RuntimeError):
            IOLoop.configure(object)  # type: ignore[arg-type]
        IOLoop.configure("embedtornado.ioloop.AsyncIOLoop")
        io = IOLoop(make_current=False)
        assert type(io) is AsyncIOLoop
        io.close()

        class Custom(AsyncIOLoop):
            pass

        IOLoop.configure(Custom)
        io = IOLoop(make_current=False)
        assert type(io) is Custom
        io.close()
    finally:
        IOLoop._restore_configuration(saved)
    assert issubclass(IOLoop.configured_class(), BaseAsyncIOLoop)


def test_constants_match_tornado():
    for name in ("NONE", "READ", "WRITE", "ERROR"):
        assert getattr(IOLoop, name) == getattr(tornado.ioloop.IOLoop, name)
    assert et_ioloop.TimeoutError is tornado.ioloop.TimeoutError


# --- callbacks and timeouts -----------------------------------------------------


def _ordering_scenario(mod):
    io_loop = mod.IOLoop(make_current=False)
    events: list = []

    async def main():
        loop = mod.IOLoop.current()
        assert loop is io_loop
        loop.add_callback(events.append, "cb1")
        loop.call_later(0, events.append, "later0")
        loop.spawn_callback(lambda *a, **k: events.append(("spawn", a, k)), 1, x=2)
        handle = loop.call_later(0.01, events.append, "removed")
        loop.remove_timeout(handle)
        loop.add_timeout(datetime.timedelta(seconds=0.02), events.append, "timedelta")
        loop.call_at(loop.time() + 0.01, events.append, "call_at")
        fut = asyncio.get_running_loop().create_future()
        loop.add_future(fut, lambda f: events.append(("future", f.result())))
        fut.set_result(1)
        events.append("sync")
        await asyncio.sleep(0.06)
        loop.add_callback(events.append, "cb2")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return "done"

    try:
        events.append(io_loop.run_sync(main))
    finally:
        io_loop.close()
    return events


def test_callback_ordering_matches_tornado():
    ours = _ordering_scenario(et_ioloop)
    assert ours == _ordering_scenario(tornado.ioloop)
    assert "removed" not in ours
    assert ours.index("call_at") < ours.index("timedelta")


def test_timeout_handles_and_errors(io_loop):
    async def main():
        loop = IOLoop.current()
        for handle in (
            loop.add_timeout(loop.time() + 1000, lambda: None),
            loop.call_at(loop.time() + 1000, lambda: None),
            loop.call_later(1000, lambda: None),
        ):
            assert handle is not None
            loop.remove_timeout(handle)
        fired: list = []
        handle = loop.call_later(0, fired.append, 1)
        await asyncio.sleep(0.01)
        while not fired:  # pragma: no cover - only on a very slow machine
            await asyncio.sleep(0.01)
        loop.remove_timeout(handle)  # after it ran: harmless
        with pytest.raises(TypeError):
            loop.add_timeout("soon", lambda: None)  # type: ignore[arg-type]

    io_loop.run_sync(main)


def test_time_is_wall_clock(io_loop):
    before = time.time()
    now = io_loop.time()
    assert before <= now <= time.time()


def test_add_callback_from_other_thread_wakes_loop(io_loop):
    async def main():
        done = asyncio.Event()
        threading.Thread(target=io_loop.add_callback, args=(done.set,)).start()
        await asyncio.wait_for(done.wait(), 10)
        return True

    assert io_loop.run_sync(main)


def test_add_callback_after_close_is_dropped():
    io = IOLoop(make_current=False)
    io.close()
    io.add_callback(lambda: None)  # no exception
    in_thread(io.add_callback, lambda: None)


def test_add_callback_from_signal_deprecated(io_loop):
    got: list = []
    with pytest.warns(DeprecationWarning):
        io_loop.add_callback_from_signal(got.append, "sig")
    io_loop.run_sync(lambda: asyncio.sleep(0))
    assert got == ["sig"]


def test_callback_exceptions_are_logged_and_loop_survives(io_loop, caplog):
    async def failing_coro():
        await asyncio.sleep(0)
        raise ValueError("in coroutine")

    def returns_failed_future():
        f = Future()
        f.set_exception(KeyError("in future"))
        return f

    def cancelled():
        raise asyncio.CancelledError()

    async def main():
        loop = IOLoop.current()
        loop.add_callback(lambda: 1 / 0)
        loop.add_callback(failing_coro)
        loop.add_callback(returns_failed_future)
        loop.add_callback(cancelled)  # not logged
        loop.add_callback(lambda: 42)  # non-awaitable result: ignored
        loop.call_later(0, lambda: [].pop())
        f = Future()
        loop.add_future(f, lambda fut: {"k": 1}["missing future cb"])
        f.set_result(None)
        for _ in range(10):
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        return "survived"

    with caplog.at_level(logging.ERROR, logger=APP_LOGGER):
        assert io_loop.run_sync(main) == "survived"
    errors = app_errors(caplog)
    kinds = sorted(type(r.exc_info[1]).__name__ for r in errors)
    assert kinds == ["IndexError", "KeyError", "KeyError", "ValueError", "ZeroDivisionError"]
    for record in errors:
        assert record.getMessage().startswith("Exception in callback ")
        assert record.exc_info[2] is not None  # traceback kept


def test_exception_log_message_matches_tornado(caplog):
    def run(mod):
        io = mod.IOLoop(make_current=False)
        try:

            async def main():
                mod.IOLoop.current().add_callback(lambda: 1 / 0)
                await asyncio.sleep(0.01)

            io.run_sync(main)
        finally:
            io.close()

    with caplog.at_level(logging.ERROR):
        run(et_ioloop)
        run(tornado.ioloop)
    ours = [r for r in caplog.records if r.name == APP_LOGGER]
    theirs = [r for r in caplog.records if r.name == "tornado.application"]
    assert len(ours) == len(theirs) == 1
    assert ours[0].msg == theirs[0].msg


def test_add_future_concurrent_future_from_thread(io_loop):
    async def main():
        loop = IOLoop.current()
        cf: concurrent.futures.Future = concurrent.futures.Future()
        got = Future()
        loop.add_future(cf, lambda f: got.set_result((f.result(), threading.get_ident())))
        threading.Thread(target=cf.set_result, args=("v",)).start()
        value, ident = await asyncio.wait_for(got, 10)
        assert value == "v" and ident == threading.get_ident()

    io_loop.run_sync(main)


def test_add_future_callback_runs_later_even_if_done(io_loop):
    async def main():
        calls: list = []
        f = Future()
        f.set_result(1)
        IOLoop.current().add_future(f, calls.append)
        assert calls == []
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert calls == [f]

    io_loop.run_sync(main)


def test_run_in_executor_and_default_executor(io_loop):
    class Recording(concurrent.futures.ThreadPoolExecutor):
        submitted = 0

        def submit(self, fn, *args, **kwargs):  # type: ignore[override]
            Recording.submitted += 1
            return super().submit(fn, *args, **kwargs)

    executor = Recording(1)
    try:

        async def main():
            loop = IOLoop.current()
            main_ident = threading.get_ident()
            ident = await loop.run_in_executor(None, threading.get_ident)
            assert ident != main_ident
            loop.set_default_executor(executor)
            assert await loop.run_in_executor(None, pow, 2, 10) == 1024
            assert Recording.submitted == 1
            other = concurrent.futures.ThreadPoolExecutor(1)
            try:
                assert await loop.run_in_executor(other, str.upper, "x") == "X"
            finally:
                other.shutdown()

        io_loop.run_sync(main)
    finally:
        executor.shutdown()


# --- run_sync --------------------------------------------------------------------


def test_run_sync_variants(io_loop):
    assert io_loop.run_sync(lambda: None) is None

    async def coro():
        await asyncio.sleep(0)
        return "coro"

    assert io_loop.run_sync(coro) == "coro"

    def returns_future():
        f = Future()
        IOLoop.current().call_later(0, f.set_result, "future")
        return f

    assert io_loop.run_sync(returns_future) == "future"

    class Awaitable:
        def __await__(self):
            yield from asyncio.sleep(0).__await__()
            return "awaitable"

    assert io_loop.run_sync(lambda: Awaitable()) == "awaitable"

    with pytest.raises(ZeroDivisionError):
        io_loop.run_sync(lambda: 1 / 0)

    async def failing():
        await asyncio.sleep(0)
        raise KeyError("async")

    with pytest.raises(KeyError):
        io_loop.run_sync(failing)

    # A non-awaitable result is an error (Tornado: gen.BadYieldError).
    with pytest.raises(et_ioloop._not_yieldable_errors()):
        io_loop.run_sync(lambda: 5)

    async def current():
        return IOLoop.current()

    assert io_loop.run_sync(current) is io_loop


def test_convert_yielded_uses_gen_when_present(io_loop, monkeypatch, caplog):
    # Stand in tornado.gen for embedtornado.gen: its convert_yielded handles
    # lists of awaitables and raises BadYieldError for anything else.
    import tornado.gen

    monkeypatch.setattr(et_ioloop, "_gen_module", tornado.gen)
    monkeypatch.setattr(et_ioloop, "_gen_looked_up", True)

    async def one():
        return 1

    async def two():
        return 2

    assert io_loop.run_sync(lambda: [one(), two()]) == [1, 2]
    with pytest.raises(tornado.gen.BadYieldError):
        io_loop.run_sync(lambda: 5)
    with caplog.at_level(logging.ERROR, logger=APP_LOGGER):
        io_loop.run_sync(lambda: io_loop.add_callback(lambda: 42))
        io_loop.run_sync(lambda: asyncio.sleep(0.01))
    assert app_errors(caplog) == []


def test_gen_lookup_is_none_or_complete():
    gen = et_ioloop._gen()
    assert gen is None or hasattr(gen, "convert_yielded")


def test_run_sync_timeout_cancels(io_loop):
    seen = []

    async def slow():
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    with pytest.raises(TimeoutError):
        io_loop.run_sync(slow, timeout=0.01)
    assert seen == ["cancelled"]
    # the loop is usable afterwards
    assert io_loop.run_sync(lambda: asyncio.sleep(0, "again"), timeout=30) == "again"


def test_run_sync_timeout_uncancellable(io_loop):
    release = threading.Event()
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        # A running concurrent future cannot be cancelled: run_sync stops the
        # loop and raises anyway.
        started = threading.Event()

        def block():
            started.set()
            release.wait(30)

        cf = pool.submit(block)
        assert started.wait(30)
        with pytest.raises(TimeoutError):
            io_loop.run_sync(lambda: cf, timeout=0.01)
    finally:
        release.set()
        pool.shutdown()  # joins the worker, which queued cf's done callback
    # As in Tornado, run_sync's stop-on-done callback for cf is still pending;
    # it stops the next run of the loop.
    io_loop.start()


def test_run_sync_stopped_early(io_loop):
    async def stops():
        IOLoop.current().stop()
        await asyncio.sleep(60)

    with pytest.raises(RuntimeError, match="stopped before"):
        io_loop.run_sync(stops)
    # Clean up the pending task. Once cancelled it finishes, and the first
    # run_sync's stop-on-done callback then stops this run of the loop.
    tasks = [t for t in asyncio.all_tasks(io_loop.asyncio_loop) if not t.done()]
    assert len(tasks) == 1
    tasks[0].cancel()
    io_loop.start()
    assert tasks[0].cancelled()


def test_start_stop(io_loop):
    io_loop.add_callback(io_loop.stop)
    io_loop.start()  # returns
    io_loop.stop()
    io_loop.start()  # stop before start: returns at once


# --- handlers -------------------------------------------------------------------


def test_handlers_with_fd_and_file_object(io_loop, caplog):
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    events = []

    def on_a(fd, ev):
        events.append(("a", fd, ev))
        assert a.recv(100) == b"x"
        io_loop.remove_handler(fd)
        io_loop.remove_handler(fd)  # twice: harmless

    def on_c(fd, ev):
        events.append(("c", fd, ev))
        io_loop.update_handler(fd, IOLoop.NONE)
        io_loop.stop()

    try:
        io_loop.add_handler(a, on_a, IOLoop.READ | IOLoop.ERROR)  # file object
        io_loop.add_handler(c.fileno(), on_c, IOLoop.WRITE)  # raw fd
        with pytest.raises(ValueError):
            io_loop.add_handler(a.fileno(), on_a, IOLoop.READ)
        b.send(b"x")
        io_loop.call_later(10, io_loop.stop)  # safety net
        io_loop.start()
        io_loop.run_sync(lambda: asyncio.sleep(0.01))
        assert ("c", c.fileno(), IOLoop.WRITE) in events
        assert ("a", a, IOLoop.READ) in events
        assert a.fileno() not in io_loop.handlers
        # update to READ|WRITE then back to READ, then remove
        io_loop.update_handler(c, IOLoop.READ | IOLoop.WRITE)
        assert c.fileno() in io_loop.readers and c.fileno() in io_loop.writers
        io_loop.update_handler(c, IOLoop.READ)
        assert c.fileno() not in io_loop.writers
        io_loop.remove_handler(c)
        assert not io_loop.readers and not io_loop.writers and not io_loop.handlers
    finally:
        for s in (a, b, c, d):
            s.close()


def test_handler_exception_logged(io_loop, caplog):
    a, b = socket.socketpair()
    calls = []

    def broken(fd, events):
        calls.append(events)
        fd.recv(10)
        if len(calls) == 1:
            raise RuntimeError("handler failed")
        io_loop.stop()

    try:
        io_loop.add_handler(a, broken, IOLoop.READ)
        b.send(b"1")
        with caplog.at_level(logging.ERROR, logger=APP_LOGGER):
            io_loop.call_later(0.05, b.send, b"2")
            io_loop.call_later(10, io_loop.stop)
            io_loop.start()
        assert len(calls) == 2
        [record] = app_errors(caplog)
        assert isinstance(record.exc_info[1], RuntimeError)
        io_loop.remove_handler(a)
    finally:
        a.close()
        b.close()


def test_close_all_fds_closes_registered_objects():
    io = IOLoop(make_current=False)
    a, b = socket.socketpair()
    r, w = os.pipe()
    io.add_handler(a, lambda fd, ev: None, IOLoop.READ)
    io.add_handler(r, lambda fd, ev: None, IOLoop.READ)
    io.close(all_fds=True)
    assert a.fileno() == -1  # the socket object was closed
    with pytest.raises(OSError):
        os.fstat(r)
    b.close()
    os.close(w)
    assert io.asyncio_loop.is_closed()
    assert io.asyncio_loop not in IOLoop._ioloop_for_asyncio


def test_close_without_all_fds_leaves_fds_open():
    io = IOLoop(make_current=False)
    a, b = socket.socketpair()
    try:
        io.add_handler(a, lambda fd, ev: None, IOLoop.READ)
        io.close()
        assert a.fileno() != -1
    finally:
        a.close()
        b.close()


# --- PeriodicCallback -----------------------------------------------------------


def _simulate(pc, durations, start=1000.0):
    """Call times when each call lasts the given (fake) seconds."""
    calls = []
    now = start
    pc._next_timeout = now
    for d in durations:
        pc._update_next(now)
        calls.append(pc._next_timeout)
        now = pc._next_timeout + d
    return calls


@pytest.mark.parametrize(
    "durations",
    [
        [0] * 5,
        [9, 9, 10, 11, 20, 20, 35, 35, 0, 0, 0],
        [-2, -1, -3, -2, 0],
        [-100, 0, 0],
        [0.5, 25.2, 1e-9, 10, 99.99],
    ],
)
def test_periodic_schedule_matches_tornado(durations):
    ours = _simulate(PeriodicCallback(lambda: None, 10000), durations)
    theirs = _simulate(tornado.ioloop.PeriodicCallback(lambda: None, 10000), durations)
    assert ours == theirs


def test_periodic_schedule_skips_missed_runs():
    pc = PeriodicCallback(lambda: None, 10000)
    # A call shorter than the period keeps the schedule; one lasting 11 s
    # misses 1040, one lasting 20 s misses 1060 and 1070.
    assert _simulate(pc, [0, 9, 11, 20, 0]) == [1010, 1020, 1030, 1050, 1080]
    # clock going backwards: one period later, not the same deadline again
    assert _simulate(pc, [-100, 0]) == [1010, 1020]


def test_periodic_jitter(monkeypatch):
    values = [0.5, 1, 0, 0.75]
    import random

    it = iter(values * 2)
    monkeypatch.setattr(random, "random", lambda: next(it))
    ours = _simulate(PeriodicCallback(lambda: None, 10000, jitter=0.5), [0] * 4)
    theirs = _simulate(tornado.ioloop.PeriodicCallback(lambda: None, 10000, jitter=0.5), [0] * 4)
    assert ours == theirs == [1010, 1022.5, 1030, 1041.25]


def test_periodic_callback_time():
    assert (
        PeriodicCallback(lambda: None, datetime.timedelta(minutes=1, seconds=23)).callback_time
        == 83000
    )
    assert PeriodicCallback(lambda: None, 2.5).callback_time == 2.5
    for bad in (0, -1, datetime.timedelta(0), datetime.timedelta(seconds=-1)):
        with pytest.raises(ValueError):
            PeriodicCallback(lambda: None, bad)


def _drive_periodic(mod, durations, coroutine=False, failures=()):
    """Run a PeriodicCallback of 1000 ms on a fake clock.

    The IOLoop's ``time``/``add_timeout``/``remove_timeout`` are replaced so
    that nothing waits: the test jumps the clock to each scheduled deadline
    and runs the scheduled callback. Each call "lasts" the next duration.
    Returns (call times, scheduled deadlines, number of removals).
    """
    io = mod.IOLoop(make_current=False)
    clock = [1000.0]
    scheduled: list = []
    removed: list = []
    io.time = lambda: clock[0]

    def add_timeout(deadline, cb, *a, **k):
        scheduled.append((deadline, functools.partial(cb, *a, **k)))
        return len(scheduled)

    io.add_timeout = add_timeout
    io.remove_timeout = removed.append
    calls: list = []
    steps = iter(durations)

    def note_call():
        calls.append(clock[0])
        if len(calls) in failures:
            clock[0] += next(steps)
            raise RuntimeError("periodic failure")
        clock[0] += next(steps)

    async def async_cb():
        calls.append(clock[0])
        await asyncio.sleep(0)
        clock[0] += next(steps)

    pc = mod.PeriodicCallback(async_cb if coroutine else note_call, 1000)
    try:
        io.run_sync(pc.start)
        assert pc.is_running()
        for _ in durations:
            deadline, run = scheduled[-1]
            clock[0] = max(clock[0], deadline)
            io.run_sync(run)
        io.run_sync(pc.stop)
        assert not pc.is_running()
        # a timeout that fires after stop() does not call the callback
        io.run_sync(scheduled[-1][1])
    finally:
        io.close()
    return calls, [d for d, _ in scheduled], len(removed)


@pytest.mark.parametrize("coroutine", [False, True])
def test_periodic_fake_clock_matches_tornado(coroutine):
    durations = [0.1, 2.5, 0.0, 1.0, 0.3, 3.7]
    ours = _drive_periodic(et_ioloop, durations, coroutine)
    theirs = _drive_periodic(tornado.ioloop, durations, coroutine)
    assert ours == theirs
    calls, deadlines, removals = ours
    assert calls == [1001.0, 1002.0, 1005.0, 1006.0, 1008.0, 1009.0]
    assert deadlines == [1001.0, 1002.0, 1005.0, 1006.0, 1008.0, 1009.0, 1013.0]
    assert removals == 1


def test_periodic_exception_logged_and_rescheduled(caplog):
    with caplog.at_level(logging.ERROR, logger=APP_LOGGER):
        calls, _, _ = _drive_periodic(et_ioloop, [0, 0, 0], failures=(2,))
    assert calls == [1001.0, 1002.0, 1003.0]
    [record] = app_errors(caplog)
    assert record.getMessage().startswith("Exception in callback")
    assert isinstance(record.exc_info[1], RuntimeError)


def test_periodic_runs_on_real_loop():
    async def main():
        count = 0
        done = asyncio.Event()

        def tick():
            nonlocal count
            count += 1
            if count == 3:
                done.set()

        async def atick():
            await asyncio.sleep(0)
            tick()

        for cb in (tick, atick):
            count = 0
            done.clear()
            pc = PeriodicCallback(cb, 5)
            pc.start()
            try:
                await asyncio.wait_for(done.wait(), 20)
            finally:
                pc.stop()
            assert count >= 3

    asyncio.run(main())


def test_periodic_start_in_other_thread_via_add_callback(io_loop):
    async def main():
        done = asyncio.Event()
        pc = PeriodicCallback(done.set, 5)
        threading.Thread(target=io_loop.add_callback, args=(pc.start,)).start()
        await asyncio.wait_for(done.wait(), 20)
        assert pc.io_loop is io_loop
        pc.stop()

    io_loop.run_sync(main)


def test_no_warnings_leak():
    # Guard for this module: everything above ran under filterwarnings=error.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        io = IOLoop(make_current=False)
        io.close()
