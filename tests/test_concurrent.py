"""Tests for embedtornado.concurrent."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sys
import threading

import pytest
import tornado.concurrent

from embedtornado import concurrent as et_concurrent
from embedtornado.concurrent import (
    DummyExecutor,
    Future,
    ReturnValueIgnoredError,
    chain_future,
    dummy_executor,
    future_add_done_callback,
    future_set_exc_info,
    future_set_exception_unless_cancelled,
    future_set_result_unless_cancelled,
    is_future,
    run_on_executor,
)
from embedtornado.ioloop import IOLoop


def run(coro_fn):
    return asyncio.run(coro_fn())


def test_future_is_asyncio_future():
    assert Future is asyncio.Future
    assert Future is tornado.concurrent.Future
    assert issubclass(ReturnValueIgnoredError, Exception)


def test_is_future():
    async def main():
        assert is_future(Future())
        assert is_future(concurrent.futures.Future())
        coro = asyncio.sleep(0)
        assert not is_future(coro)
        await coro
        task = asyncio.ensure_future(asyncio.sleep(0))
        assert is_future(task)
        await task

    run(main)


def test_set_result_unless_cancelled():
    async def main():
        f = Future()
        future_set_result_unless_cancelled(f, 1)
        assert f.result() == 1
        f = Future()
        f.cancel()
        future_set_result_unless_cancelled(f, 1)  # no InvalidStateError
        assert f.cancelled()
        cf: concurrent.futures.Future = concurrent.futures.Future()
        future_set_result_unless_cancelled(cf, 2)
        assert cf.result() == 2

    run(main)


def test_set_exception_unless_cancelled_logs_when_cancelled(caplog):
    async def main():
        f = Future()
        future_set_exception_unless_cancelled(f, ValueError("x"))
        with pytest.raises(ValueError):
            f.result()
        f = Future()
        f.cancel()
        with caplog.at_level(logging.ERROR, logger="embedtornado.application"):
            future_set_exception_unless_cancelled(f, ValueError("lost"))
        assert f.cancelled()

    run(main)
    [record] = [r for r in caplog.records if r.name == "embedtornado.application"]
    assert "cancelled" in record.getMessage()
    assert record.exc_info and isinstance(record.exc_info[1], ValueError)


def test_future_set_exc_info():
    async def main():
        f = Future()
        try:
            raise KeyError("k")
        except KeyError:
            future_set_exc_info(f, sys.exc_info())
        with pytest.raises(KeyError):
            f.result()
        with pytest.raises(Exception, match="no exception"):
            future_set_exc_info(Future(), (None, None, None))
        g = Future()
        g.cancel()
        future_set_exc_info(g, (None, RuntimeError("quiet"), None))

    logging.getLogger("embedtornado.application").disabled = True
    try:
        run(main)
    finally:
        logging.getLogger("embedtornado.application").disabled = False


def test_future_add_done_callback_runs_inline_when_done():
    async def main():
        calls: list = []
        f = Future()
        f.set_result(1)
        future_add_done_callback(f, calls.append)
        assert calls == [f]  # immediately, unlike add_done_callback
        g = Future()
        future_add_done_callback(g, calls.append)
        assert calls == [f]
        g.set_result(2)
        await asyncio.sleep(0)
        assert calls == [f, g]
        cf: concurrent.futures.Future = concurrent.futures.Future()
        future_add_done_callback(cf, calls.append)
        cf.set_result(3)
        assert calls[-1] is cf

    run(main)


def test_chain_future_result_exception_cancel():
    async def main():
        a, b = Future(), Future()
        chain_future(a, b)
        a.set_result(42)
        assert await b == 42

        a, b = Future(), Future()
        chain_future(a, b)
        a.set_exception(ZeroDivisionError())
        with pytest.raises(ZeroDivisionError):
            await b

        # 6.6: cancelling a cancels b
        a, b = Future(), Future()
        chain_future(a, b)
        a.cancel()
        await asyncio.sleep(0)
        assert b.cancelled()

        # b already done: left alone
        a, b = Future(), Future()
        chain_future(a, b)
        b.set_result("mine")
        a.set_result("theirs")
        await asyncio.sleep(0)
        assert b.result() == "mine"

    run(main)


def test_chain_future_from_concurrent_future_thread():
    async def main():
        cf: concurrent.futures.Future = concurrent.futures.Future()
        b = Future()
        chain_future(cf, b)
        threading.Thread(target=cf.set_result, args=("from thread",)).start()
        assert await asyncio.wait_for(b, 10) == "from thread"

    run(main)


def test_dummy_executor():
    f = dummy_executor.submit(lambda x, y=0: x + y, 1, y=2)
    assert isinstance(f, concurrent.futures.Future)
    assert f.result() == 3
    f = DummyExecutor().submit(lambda: 1 / 0)
    assert isinstance(f.exception(), ZeroDivisionError)
    dummy_executor.shutdown()  # harmless
    assert dummy_executor.submit(lambda: "still works").result() == "still works"


class Worker:
    def __init__(self):
        self.executor = concurrent.futures.ThreadPoolExecutor(1)
        self._other = concurrent.futures.ThreadPoolExecutor(1)

    @run_on_executor
    def where(self, suffix=""):
        return threading.current_thread().name + suffix

    @run_on_executor(executor="_other")
    def fail(self):
        raise ValueError("boom")

    @run_on_executor(executor="_other", io_loop="ignored_like_tornado")
    def add(self, a, b):
        return a + b

    def close(self):
        self.executor.shutdown()
        self._other.shutdown()


def test_run_on_executor():
    w = Worker()

    async def main():
        fut = w.where(suffix="!")
        assert isinstance(fut, asyncio.Future)
        name = await fut
        assert name != threading.current_thread().name and name.endswith("!")
        with pytest.raises(ValueError, match="boom"):
            await w.fail()
        assert await w.add(2, b=3) == 5

    try:
        run(main)
    finally:
        w.close()
    assert Worker.where.__name__ == "where"


def test_run_on_executor_with_ioloop_run_sync():
    w = Worker()
    io_loop = IOLoop(make_current=False)
    try:
        assert io_loop.run_sync(lambda: w.add(1, 1)) == 2
    finally:
        io_loop.close()
        w.close()


def test_run_on_executor_argument_errors():
    with pytest.raises(ValueError):
        run_on_executor(lambda s: None, executor="x")
    with pytest.raises(ValueError):
        run_on_executor(lambda s: None, lambda s: None)


def test_public_names_match_tornado():
    names = [
        "Future",
        "FUTURES",
        "ReturnValueIgnoredError",
        "DummyExecutor",
        "dummy_executor",
        "run_on_executor",
        "chain_future",
        "future_set_result_unless_cancelled",
        "future_set_exception_unless_cancelled",
        "future_set_exc_info",
        "future_add_done_callback",
        "is_future",
    ]
    for name in names:
        assert hasattr(tornado.concurrent, name), name
        assert hasattr(et_concurrent, name), name
