"""Shared WebSocket test harness: a server on either loop, raw frames, a raw client.

Used by ``test_websocket.py`` (the server side), ``test_websocket_client.py``
and ``test_upgrade_keepalive.py``. `new_loop` makes the loop that the
``loop_kind`` fixture (``tests/conftest.py``) names: embedtornado's default
loop or the stdlib ``asyncio.SelectorEventLoop``.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any, Callable

import tornado.httpserver
import tornado.web
import tornado.websocket

import embedtornado.web
import embedtornado.websocket
from embedtornado import netutil
from embedtornado.httpserver import HTTPServer
from embedtornado.ioloop import IOLoop

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
TIMEOUT = 10


def ws_module(web: Any) -> Any:
    return tornado.websocket if web is tornado.web else embedtornado.websocket


# --------------------------------------------------------------------------- harness


def new_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "asyncio":
        return asyncio.SelectorEventLoop()
    return IOLoop(make_current=False).asyncio_loop  # type: ignore[no-any-return]


class Harness:
    """Our server (and optionally Tornado's, same handlers) on 127.0.0.1 in one loop."""

    def __init__(self, handlers_fn: Callable[[Any], list], loop_kind: str = "default",
                 tornado_too: bool = False, **settings: Any) -> None:
        self.loop = new_loop(loop_kind)
        self.handlers_fn = handlers_fn
        self.tornado_too = tornado_too
        self.settings = settings
        self.port = 0
        self.tornado_port = 0
        self._servers: list[Any] = []
        self._writers: list[asyncio.StreamWriter] = []

    def __enter__(self) -> Harness:
        async def start() -> None:
            socks = netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
            self.port = socks[0].getsockname()[1]
            server = HTTPServer(embedtornado.web.Application(
                self.handlers_fn(embedtornado.web), **self.settings))
            server.add_sockets(socks)
            self._servers.append(server)
            if self.tornado_too:
                socks = netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
                self.tornado_port = socks[0].getsockname()[1]
                tserver = tornado.httpserver.HTTPServer(tornado.web.Application(
                    self.handlers_fn(tornado.web), **self.settings))
                tserver.add_sockets(socks)
                self._servers.append(tserver)

        self.run(start())
        return self

    def __exit__(self, *exc: Any) -> None:
        async def stop() -> None:
            for w in self._writers:
                w.close()
            for s in self._servers:
                s.stop()
            await asyncio.sleep(0.01)
            for s in self._servers:
                await s.close_all_connections()

        try:
            self.run(stop())
            # Let transports closed above finish (connection_lost callbacks).
            self.loop.run_until_complete(asyncio.sleep(0.02))
        finally:
            self.loop.close()

    def run(self, coro: Any, timeout: float = TIMEOUT) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    def url(self, path: str = "/ws", tornado: bool = False) -> str:
        return "ws://127.0.0.1:%d%s" % (self.tornado_port if tornado else self.port, path)

    async def raw(self, path: str = "/ws", headers: dict[str, str] | None = None,
                  tornado: bool = False, extra: bytes = b"") -> RawWS:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", self.tornado_port if tornado else self.port, limit=1 << 24)
        self._writers.append(writer)
        ws = RawWS(reader, writer)
        await ws.handshake(path, headers, extra)
        return ws

    async def http(self, request: bytes, tornado: bool = False) -> bytes:
        """Send raw request bytes; return everything until the server closes (or 2 s idle)."""
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", self.tornado_port if tornado else self.port)
        self._writers.append(writer)
        writer.write(request)
        out = b""
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), 2)
            except asyncio.TimeoutError:
                break
            if not chunk:
                break
            out += chunk
            head, sep, body = out.partition(b"\r\n\r\n")
            if sep and out.startswith(b"HTTP/1.1 101"):
                break
            length = [ln.split(b":")[1] for ln in head.split(b"\r\n")
                      if ln.lower().startswith(b"content-length:")]
            if sep and length and len(body) >= int(length[0]):
                break
        return out


def frame(opcode: int, payload: bytes = b"", fin: bool = True, rsv: int = 0,
          mask: bytes | None = b"\x11\x22\x33\x44", length: int | None = None) -> bytes:
    """One frame as a client sends it (masked unless ``mask=None``)."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | rsv | opcode
    mbit = 0x80 if mask is not None else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask is None:
        return head + payload
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


class RawWS:
    """A raw WebSocket client: exact frames out, parsed frames in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.response_head = b""

    async def handshake(self, path: str, headers: dict[str, str] | None, extra: bytes) -> None:
        h = {"Host": "127.0.0.1", "Upgrade": "websocket", "Connection": "Upgrade",
             "Sec-WebSocket-Key": KEY, "Sec-WebSocket-Version": "13"}
        h.update(headers or {})
        req = "GET %s HTTP/1.1\r\n" % path + "".join("%s: %s\r\n" % kv for kv in h.items())
        self.writer.write(req.encode("latin-1") + b"\r\n" + extra)
        self.response_head = await self.reader.readuntil(b"\r\n\r\n")
        assert self.response_head.startswith(b"HTTP/1.1 101 "), self.response_head

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def read_frame(self) -> tuple[int, int, bytes]:
        """(first byte, opcode, payload) of the next frame; server frames are unmasked."""
        b0, b1 = await self.reader.readexactly(2)
        assert not b1 & 0x80, "server frames must not be masked"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        return b0, b0 & 0x0F, await self.reader.readexactly(n)

    async def read_close(self) -> tuple[int | None, bytes]:
        """Skip to the close frame; return (code, reason) and check the TCP close follows."""
        while True:
            _, op, payload = await self.read_frame()
            if op == 0x8:
                break
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        assert await self.reader.read() == b"", "the server must close the connection"
        return code, payload[2:]


def echo_handlers(web: Any, **extra: Any) -> list:
    websocket = ws_module(web)

    class Echo(websocket.WebSocketHandler):
        def on_message(self, message):
            self.write_message(message, binary=isinstance(message, bytes))

        def get_compression_options(self):
            return extra.get("compression")

    return [(r"/ws", Echo)]
