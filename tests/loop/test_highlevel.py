"""asyncio's high-level API running on each loop.

Issue 4: "asyncio.sleep, wait_for, gather, Queue, Lock, to_thread,
open_connection, start_server, timeout() work on it." These only use the
loop's public API, so they are a cheap integration check.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys

import pytest
from conformance import close_server, run, short_tmpdir


def test_sleep_gather_wait_for(loop):
    async def value(x, delay):
        await asyncio.sleep(delay)
        return x

    async def main():
        got = await asyncio.gather(value(1, 0.02), value(2, 0.0), value(3, 0.01))
        assert got == [1, 2, 3]
        assert await asyncio.wait_for(value("in time", 0), 1) == "in time"
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(value("late", 10), 0.02)
        results = await asyncio.gather(value(1, 0), asyncio.sleep(0, "x"),
                                       return_exceptions=True)
        assert results == [1, "x"]

    run(loop, main())


PY311 = pytest.mark.skipif(sys.version_info < (3, 11), reason="Python 3.11 API")


@PY311
def test_timeout_context_manager(loop):
    async def main():
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.02):
                await asyncio.sleep(10)
        async with asyncio.timeout(None) as cm:
            cm.reschedule(asyncio.get_running_loop().time() + 10)
            await asyncio.sleep(0)
        assert not cm.expired()

    run(loop, main())


def test_wait_and_as_completed(loop):
    async def main():
        # The later two wait on events, not timers: on a loaded machine three
        # short timers can all be due by the time the loop polls again.
        gate2, gate3 = asyncio.Event(), asyncio.Event()

        async def after(gate, value):
            await gate.wait()
            return value

        tasks = [loop.create_task(after(gate3, 0.03)),
                 loop.create_task(asyncio.sleep(0.01, 0.01)),
                 loop.create_task(after(gate2, 0.02))]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        assert [t.result() for t in done] == [0.01] and len(pending) == 2
        completed = asyncio.as_completed(tasks)
        order = [await next(completed)]
        gate2.set()
        order.append(await next(completed))
        gate3.set()
        order.append(await next(completed))
        assert order == [0.01, 0.02, 0.03]

    run(loop, main())


def test_queue_lock_event_semaphore_condition(loop):
    async def main():
        q: asyncio.Queue[int] = asyncio.Queue(maxsize=2)
        lock = asyncio.Lock()
        sem = asyncio.Semaphore(2)
        event = asyncio.Event()
        cond = asyncio.Condition()
        inside = []
        log = []

        async def producer():
            for i in range(10):
                await q.put(i)
            await q.put(-1)

        async def consumer():
            while (i := await q.get()) != -1:
                async with lock:
                    log.append(i)
                q.task_done()
            q.task_done()

        async def limited(n):
            async with sem:
                inside.append(n)
                assert len(inside) <= 2
                await asyncio.sleep(0.001)
                inside.remove(n)

        async def waiter():
            async with cond:
                await cond.wait_for(event.is_set)
                return "notified"

        w = loop.create_task(waiter())
        await asyncio.gather(producer(), consumer(), *(limited(n) for n in range(6)))
        await q.join()
        assert log == list(range(10))
        event.set()
        async with cond:
            cond.notify_all()
        assert await w == "notified"

    run(loop, main())


@PY311
def test_task_group_and_shield(loop):
    async def main():
        results = []
        async with asyncio.TaskGroup() as tg:
            for i in range(3):
                tg.create_task(asyncio.sleep(0.001 * i, i)).add_done_callback(
                    lambda t: results.append(t.result()))
        assert sorted(results) == [0, 1, 2]

        inner = loop.create_task(asyncio.sleep(0.02, "survived"))

        async def shielded():
            return await asyncio.shield(inner)

        outer = loop.create_task(shielded())
        await asyncio.sleep(0)
        outer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await outer
        assert await inner == "survived"

        with pytest.raises(ExceptionGroup):  # noqa: F821 (a builtin from 3.11)
            async with asyncio.TaskGroup() as tg:
                tg.create_task(asyncio.sleep(10))

                async def fail():
                    raise ValueError

                tg.create_task(fail())

    run(loop, main())


def test_streams_tcp_echo(loop):
    async def handle(reader, writer):
        while line := await reader.readline():
            writer.write(line.upper())
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        try:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for word in (b"alpha", b"beta", b"x" * 50_000):  # StreamReader limit: 64 KiB
                writer.write(word + b"\n")
                await writer.drain()
                assert await reader.readline() == word.upper() + b"\n"
            assert writer.get_extra_info("peername") == ("127.0.0.1", port)
            writer.write_eof()
            assert await reader.read() == b""
            writer.close()
            await writer.wait_closed()
        finally:
            await close_server(server)

    run(loop, main())


def test_streams_unix(loop):
    async def handle(reader, writer):
        writer.write(await reader.readexactly(4))
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main():
        with short_tmpdir() as d:
            path = str(d / "s")
            server = await asyncio.start_unix_server(handle, path)
            try:
                reader, writer = await asyncio.open_unix_connection(path)
                writer.write(b"unix")
                assert await reader.read() == b"unix"
                writer.close()
                await writer.wait_closed()
            finally:
                await close_server(server)

    run(loop, main())


def test_streams_drain_with_slow_reader(loop):
    # StreamWriter.drain relies on the transport's pause_writing/resume_writing.
    payload = b"d" * (8 * 1024 * 1024)

    async def main():
        got = loop.create_future()

        async def handle(reader, writer):
            await asyncio.sleep(0.05)
            data = await reader.read()
            got.set_result(len(data))
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        try:
            port = server.sockets[0].getsockname()[1]
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.transport.set_write_buffer_limits(high=256 * 1024)
            for i in range(0, len(payload), 1024 * 1024):
                writer.write(payload[i:i + 1024 * 1024])
                await writer.drain()
                assert writer.transport.get_write_buffer_size() <= 1024 * 1024 + 256 * 1024
            writer.write_eof()
            assert await got == len(payload)
            writer.close()
            await writer.wait_closed()
        finally:
            await close_server(server)

    run(loop, main())


@PY311
def test_runner_with_loop_factory(loop_factory):
    # asyncio.Runner(loop_factory=...) is how embedtornado.ioloop starts a loop.
    var = contextvars.ContextVar("v", default=0)

    async def main():
        var.set(var.get() + 1)
        await asyncio.sleep(0)
        return asyncio.get_running_loop(), var.get()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        lp, v1 = runner.run(main())
        _, v2 = runner.run(main())
        assert runner.get_loop() is lp
    assert lp.is_closed()
    assert (v1, v2) == (1, 2)  # Runner keeps one context across run() calls


def test_run_coroutine_threadsafe_and_wrap_future(loop):
    import concurrent.futures

    async def main():
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            cf = ex.submit(lambda: "from thread")
            return await asyncio.wrap_future(cf)

    assert run(loop, main()) == "from thread"
