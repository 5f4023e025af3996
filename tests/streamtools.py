"""Helpers for the stream, TCP and HTTP client tests: loops, socket pairs, raw servers."""

from __future__ import annotations

import asyncio
import importlib
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import embedtornado.loop

#: Stream implementations compared in tests: ours and the real Tornado 6.6.1.
IMPLS = ["embedtornado", "tornado"]


def impl_module(impl: str, name: str) -> Any:
    return importlib.import_module(f"{impl}.{name}")


def run(coro_fn: Callable[[], Awaitable[Any]], timeout: float = 15) -> Any:
    """Run ``coro_fn()`` on a fresh loop of the live kind (compiled or stdlib)."""
    loop = embedtornado.loop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(asyncio.wait_for(coro_fn(), timeout))
    finally:
        try:
            tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in tasks:
                t.cancel()
            if tasks:
                loop.run_until_complete(asyncio.wait(tasks))
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def tcp_pair() -> tuple[socket.socket, socket.socket]:
    """Two connected TCP sockets on 127.0.0.1 (client, server side)."""
    with socket.socket() as lst:
        lst.bind(("127.0.0.1", 0))
        lst.listen(1)
        a = socket.create_connection(lst.getsockname())
        b, _ = lst.accept()
    return a, b


class RawServer:
    """A TCP server whose per-connection behaviour is a coroutine on asyncio streams.

    Used to play hostile or scripted HTTP servers to the client.
    """

    def __init__(self, handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                         Awaitable[None]]) -> None:
        self.handler = handler
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> RawServer:
        async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            self._writers.append(writer)
            try:
                await self.handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for w in self._writers:
            w.close()
        await asyncio.sleep(0)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


async def read_head(reader: asyncio.StreamReader) -> bytes:
    """Read one request head (through the blank line)."""
    return await reader.readuntil(b"\r\n\r\n")
