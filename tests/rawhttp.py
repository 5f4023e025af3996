"""A raw-bytes HTTP/1.1 test client and a server harness for the server and web tests.

Tests speak exact bytes so that malformed input can be sent and every byte of
the answer checked::

    with ServerHarness(handle_request) as h:
        resp = h.run(h.request(b"GET / HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n"))
        assert resp.code == 200
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, Awaitable, Callable

from embedtornado import netutil
from embedtornado.httpserver import HTTPServer
from embedtornado.ioloop import IOLoop


class Response:
    def __init__(self, code: int, reason: str, headers: list[tuple[str, str]], body: bytes,
                 raw_head: bytes) -> None:
        self.code = code
        self.reason = reason
        self.header_list = headers
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        self.raw_head = raw_head

    def __repr__(self) -> str:
        return f"<Response {self.code} {self.reason} {self.header_list} {self.body[:80]!r}>"


async def read_response(reader: asyncio.StreamReader, method: str = "GET") -> Response:
    """Read one response (interim 1xx responses are skipped and returned by read_interim)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    version, code, reason = lines[0].decode("latin-1").split(" ", 2)
    assert version == "HTTP/1.1", lines[0]
    headers = []
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name, value.strip()))
    hmap = {k.lower(): v for k, v in headers}
    body = b""
    status = int(code)
    if method == "HEAD" or status in (204, 304) or status < 200:
        pass
    elif hmap.get("transfer-encoding") == "chunked":
        parts = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line[:-2], 16)
            if size == 0:
                assert await reader.readuntil(b"\r\n") == b"\r\n"
                break
            parts.append(await reader.readexactly(size))
            assert await reader.readexactly(2) == b"\r\n"
        body = b"".join(parts)
    elif "content-length" in hmap:
        body = await reader.readexactly(int(hmap["content-length"]))
    else:
        body = await reader.read()
    return Response(status, reason, headers, body, head)


class ServerHarness:
    """Runs an HTTPServer on 127.0.0.1 in a fresh event loop owned by the test."""

    def __init__(self, app: Any, **server_kwargs: Any) -> None:
        self.io_loop = IOLoop(make_current=False)
        self.loop = self.io_loop.asyncio_loop
        self.app = app
        self.server_kwargs = server_kwargs
        self.server: HTTPServer | None = None
        self.port = 0
        self._writers: list[asyncio.StreamWriter] = []

    def __enter__(self) -> ServerHarness:
        async def start() -> None:
            socks = netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
            self.port = socks[0].getsockname()[1]
            self.server = HTTPServer(self.app, **self.server_kwargs)
            self.server.add_sockets(socks)

        self.run(start())
        return self

    def __exit__(self, *exc: Any) -> None:
        async def stop() -> None:
            for w in self._writers:
                w.close()
            assert self.server is not None
            self.server.stop()
            await self.server.close_all_connections()
            await asyncio.sleep(0)

        try:
            self.run(stop())
        finally:
            self.io_loop.close(all_fds=True)

    def run(self, coro: Awaitable[Any], timeout: float = 10) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port,
                                                       limit=1 << 22)
        self._writers.append(writer)
        return reader, writer

    async def request(self, data: bytes, method: str = "GET") -> Response:
        """Send *data* on a new connection and read one response."""
        reader, writer = await self.connect()
        writer.write(data)
        return await read_response(reader, method)

    async def exchange(self, data: bytes) -> bytes:
        """Send *data* on a new connection and return everything until the server closes."""
        reader, writer = await self.connect()
        writer.write(data)
        return await reader.read()


def simple_handler(body_fn: Callable[[Any], bytes] | None = None) -> Callable[[Any], None]:
    """A plain request callback answering 200 with ``body_fn(request)``."""
    from embedtornado.httputil import HTTPHeaders, ResponseStartLine

    def handle(request: Any) -> None:
        body = body_fn(request) if body_fn else b"ok"
        request.connection.write_headers(
            ResponseStartLine("HTTP/1.1", 200, "OK"),
            HTTPHeaders({"Content-Length": str(len(body))}))
        request.connection.write(body)
        request.connection.finish()

    return handle
