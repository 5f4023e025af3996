"""Two asyncio libraries from PyPI that use only the public loop API, on each loop.

Issue 4: "Two small asyncio libraries from PyPI that use only the loop API
(e.g. an async SQLite wrapper, and the ``websockets`` client) work in a test
on our loop." Each test skips when its library is not installed (they belong
in the project's test extras).
"""

from __future__ import annotations

import pytest
from conformance import run


def test_aiosqlite_round_trip(loop):
    aiosqlite = pytest.importorskip("aiosqlite")

    async def main():
        async with aiosqlite.connect(":memory:") as db:
            await db.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)")
            await db.executemany("INSERT INTO kv VALUES (?, ?)",
                                 [(f"key{i}", i * i) for i in range(100)])
            await db.commit()
            async with db.execute("SELECT v FROM kv WHERE k = ?", ("key7",)) as cur:
                assert await cur.fetchone() == (49,)
            async with db.execute("SELECT COUNT(*), SUM(v) FROM kv") as cur:
                return await cur.fetchone()

    assert run(loop, main()) == (100, sum(i * i for i in range(100)))


def test_websockets_client_and_server(loop):
    pytest.importorskip("websockets")
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve

    async def handler(ws):
        async for message in ws:
            await ws.send(message[::-1])

    async def main():
        async with serve(handler, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}") as ws:
                await ws.send("hello")
                assert await ws.recv() == "olleh"
                blob = bytes(range(256)) * 256  # 64 KiB, binary frame
                await ws.send(blob)
                assert await ws.recv() == blob[::-1]
                await ws.ping()
            return True

    assert run(loop, main())
