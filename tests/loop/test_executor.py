"""Executors on the loop: run_in_executor, set_default_executor,
shutdown_default_executor.

From the asyncio-eventloop page, "Executing code in thread or process pools".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest
from conformance import run


def test_run_in_executor_default(loop):
    main_ident = threading.get_ident()

    def work(a, b):
        return a + b, threading.get_ident()

    async def main():
        fut = loop.run_in_executor(None, work, 2, 3)
        assert asyncio.isfuture(fut)
        return await fut

    result, ident = run(loop, main())
    assert result == 5
    assert ident != main_ident


def test_run_in_executor_propagates_exception(loop):
    def fail():
        raise LookupError("from the pool")

    async def main():
        with pytest.raises(LookupError, match="from the pool"):
            await loop.run_in_executor(None, fail)

    run(loop, main())


def test_run_in_executor_explicit_executor(loop):
    with concurrent.futures.ThreadPoolExecutor(max_workers=1,
                                               thread_name_prefix="explicit") as ex:
        async def main():
            return await loop.run_in_executor(ex, lambda: threading.current_thread().name)

        assert run(loop, main()).startswith("explicit")


def test_set_default_executor(loop):
    ex = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="dflt")
    loop.set_default_executor(ex)

    async def main():
        names = await asyncio.gather(*(
            loop.run_in_executor(None, lambda: threading.current_thread().name)
            for _ in range(3)))
        return names

    assert all(n.startswith("dflt") for n in run(loop, main()))
    # The fixture's shutdown_default_executor() shuts ``ex`` down.


def test_set_default_executor_requires_thread_pool(loop, request):
    # Docs (3.11): "executor must be an instance of ThreadPoolExecutor."
    from conformance import uvloop_deviates

    uvloop_deviates(request, "set_default_executor accepts any object")
    try:
        with pytest.raises(TypeError):
            loop.set_default_executor(object())
    finally:
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=1))


def test_shutdown_default_executor_joins_threads(loop):
    # Docs: "Schedule the closure of the default executor and wait for it to
    # join all of the threads in the ThreadPoolExecutor."
    calls = []

    class Recording(concurrent.futures.ThreadPoolExecutor):
        def shutdown(self, wait=True, **kw):
            calls.append(wait)
            super().shutdown(wait=wait, **kw)

    ex = Recording(max_workers=2)
    loop.set_default_executor(ex)

    async def main():
        await loop.run_in_executor(None, lambda: None)
        threads = list(ex._threads)
        await loop.shutdown_default_executor()
        return threads

    threads = run(loop, main())
    assert calls and calls[0] is True
    assert threads and not any(t.is_alive() for t in threads)


def test_shutdown_default_executor_without_executor(loop):
    run(loop, loop.shutdown_default_executor())


def test_executor_does_not_block_loop(loop):
    # While a worker blocks, the loop keeps running callbacks.
    release = threading.Event()
    ticks = []

    async def ticker():
        while not release.is_set():
            ticks.append(1)
            if len(ticks) == 5:
                release.set()
            await asyncio.sleep(0.001)

    async def main():
        await asyncio.gather(loop.run_in_executor(None, release.wait, 5), ticker())

    run(loop, main())
    assert len(ticks) >= 5


def test_to_thread(loop):
    async def main():
        return await asyncio.to_thread(lambda x: x * 3, 14)

    assert run(loop, main()) == 42
