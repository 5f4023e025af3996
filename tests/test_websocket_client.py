"""WebSocket client (`websocket_connect`): against our server and Tornado's, and
Tornado's client against ours; handshake checks, masking, errors, and what
Tornado's own websocket tests found. The harness is ``wstools``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import socket
from typing import Any, Callable

import pytest
import tornado.httpserver
import tornado.web
import tornado.websocket

import embedtornado.web
import embedtornado.websocket
from embedtornado import netutil
from embedtornado.httpserver import HTTPServer
from embedtornado.websocket import WebSocketClosedError, WebSocketError, websocket_connect

from wstools import (
    ACCEPT, KEY, TIMEOUT, Harness, echo_handlers, frame, new_loop, ws_module,
)


# --------------------------------------------------------------------------- client


def test_client_against_tornado_server_and_tornado_client_against_ours():
    with Harness(lambda web: echo_handlers(web, compression={}), tornado_too=True) as h:
        async def go():
            conn = await websocket_connect(h.url(tornado=True), compression_options={})
            await conn.write_message("to tornado " * 50)
            assert await conn.read_message() == "to tornado " * 50
            conn.close()
            tconn = await tornado.websocket.websocket_connect(h.url(), compression_options={})
            await tconn.write_message("from tornado " * 50)
            assert await tconn.read_message() == "from tornado " * 50
            await tconn.write_message(b"\x01" * 70000, binary=True)
            assert await tconn.read_message() == b"\x01" * 70000
            tconn.close(1000, "ok")
            assert await tconn.read_message() is None
            assert tconn.close_code == 1000

        h.run(go())


def test_client_on_message_callback_and_ping():
    got: list[Any] = []

    def handlers(web):
        websocket = ws_module(web)

        class H(websocket.WebSocketHandler):
            def on_message(self, message):
                self.write_message(message)

            def on_ping(self, data):
                self.write_message("pinged " + data.decode())

        return [(r"/ws", H)]

    with Harness(handlers) as h:
        async def go():
            done = asyncio.get_running_loop().create_future()

            def cb(msg):
                got.append(msg)
                if msg is None:
                    done.set_result(None)

            conn = await websocket_connect(h.url(), on_message_callback=cb)
            conn.ping(b"p1")
            await conn.write_message("m1")
            while len(got) < 2:
                await asyncio.sleep(0.01)
            conn.close()
            await done

        h.run(go())
    assert got == ["pinged p1", "m1", None]


def test_client_errors():
    def handlers(web):
        class Plain(web.RequestHandler):
            def get(self):
                self.write("not a websocket")

        return [(r"/plain", Plain)] + echo_handlers(web)

    with Harness(handlers) as h:
        async def go():
            with pytest.raises(WebSocketError, match="^Non-websocket response$"):
                await websocket_connect(h.url("/plain"))
            with pytest.raises(Exception) as info:
                await websocket_connect(h.url("/missing"))
            assert "404" in str(info.value) or "Not Found" in str(info.value)
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            with pytest.raises(OSError):
                await websocket_connect("ws://127.0.0.1:%d/" % port)
            with pytest.raises(ValueError):
                websocket_connect("ftp://127.0.0.1/")
            conn = await websocket_connect(h.url())
            conn.close()
            with pytest.raises(WebSocketClosedError):
                conn.write_message("x")

        h.run(go())


async def _raw_server(respond: Callable[[bytes], bytes]) -> tuple[asyncio.AbstractServer, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        writer.write(respond(head))
        try:
            await reader.read()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _accept_for(head: bytes) -> str:
    key = [ln.split(b":", 1)[1].strip() for ln in head.split(b"\r\n")
           if ln.lower().startswith(b"sec-websocket-key:")][0]
    return base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                            .digest()).decode()


def _switching(head: bytes, accept: str | None = None) -> bytes:
    return ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: %s\r\n\r\n" % (accept or _accept_for(head))).encode()


def test_client_checks_the_accept_value():
    loop = new_loop("default")
    try:
        async def go():
            server, port = await _raw_server(lambda head: _switching(head, "wrong"))
            with pytest.raises(WebSocketError, match="Sec-WebSocket-Accept"):
                await websocket_connect("ws://127.0.0.1:%d/" % port)
            server.close()

        loop.run_until_complete(asyncio.wait_for(go(), TIMEOUT))
    finally:
        loop.close()


def test_client_rejects_masked_server_frames_and_gets_early_frames():
    loop = new_loop("default")
    try:
        async def go():
            # The server's first (valid) frame comes in the same packet as its 101.
            server, port = await _raw_server(
                lambda head: _switching(head) + frame(0x1, b"first", mask=None)
                + frame(0x1, b"masked"))
            conn = await websocket_connect("ws://127.0.0.1:%d/" % port)
            assert await conn.read_message() == "first"
            assert await conn.read_message() is None
            server.close()

        loop.run_until_complete(asyncio.wait_for(go(), TIMEOUT))
    finally:
        loop.close()


def test_client_masks_its_frames():
    captured: list[bytes] = []
    loop = new_loop("default")
    try:
        async def go():
            async def handle(reader, writer):
                head = await reader.readuntil(b"\r\n\r\n")
                writer.write(_switching(head))
                captured.append(await reader.readexactly(2 + 4 + 5))
                writer.close()

            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            conn = await websocket_connect("ws://127.0.0.1:%d/" % port)
            await conn.write_message("hello")
            assert await conn.read_message() is None
            server.close()

        loop.run_until_complete(asyncio.wait_for(go(), TIMEOUT))
    finally:
        loop.close()
    data = captured[0]
    assert data[0] == 0x81 and data[1] == 0x80 | 5
    mask = data[2:6]
    assert bytes(b ^ mask[i % 4] for i, b in enumerate(data[6:])) == b"hello"


def test_client_accepts_request_like_objects():
    class Req:
        def __init__(self, url):
            self.url = url
            self.headers = {"X-Custom": "1"}

    def handlers(web):
        websocket = ws_module(web)

        class H(websocket.WebSocketHandler):
            def open(self):
                self.write_message(self.request.headers.get("X-Custom", "-"))

        return [(r"/ws", H)]

    with Harness(handlers) as h:
        async def go():
            conn = await websocket_connect(Req(h.url()))
            msg = await conn.read_message()
            conn.close()
            return msg

        assert h.run(go()) == "1"


def test_compute_accept_value_rfc_example():
    assert embedtornado.websocket.WebSocketProtocol13.compute_accept_value(KEY) == ACCEPT


def test_wss_with_an_ssl_context(loop_kind):
    import ssl

    certdir = os.path.join(os.path.dirname(tornado.__file__), "test")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(os.path.join(certdir, "test.crt"), os.path.join(certdir, "test.key"))
    client_ctx = ssl.create_default_context()
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    loop = new_loop(loop_kind)
    try:
        async def go():
            socks = netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
            port = socks[0].getsockname()[1]
            server = HTTPServer(embedtornado.web.Application(echo_handlers(embedtornado.web)),
                                ssl_options=server_ctx)
            server.add_sockets(socks)
            conn = await websocket_connect("wss://127.0.0.1:%d/ws" % port, ssl_options=client_ctx)
            await conn.write_message("secure")
            reply = await conn.read_message()
            conn.close()
            assert await conn.read_message() is None
            server.stop()
            await server.close_all_connections()
            return reply

        assert loop.run_until_complete(asyncio.wait_for(go(), TIMEOUT)) == "secure"
    finally:
        loop.close()


def test_client_accepts_an_httpclient_request():
    httpclient = pytest.importorskip("embedtornado.httpclient")

    def handlers(web):
        websocket = ws_module(web)

        class H(websocket.WebSocketHandler):
            def open(self):
                self.write_message(self.request.headers.get("X-Token", "-"))

        return [(r"/ws", H)]

    with Harness(handlers) as h:
        async def go():
            req = httpclient.HTTPRequest(h.url(), headers={"X-Token": "t0k"})
            conn = await websocket_connect(req)
            msg = await conn.read_message()
            conn.close()
            return msg

        assert h.run(go()) == "t0k"


def test_client_readers_all_see_none_after_close():
    def handlers(web):
        websocket = ws_module(web)

        class H(websocket.WebSocketHandler):
            def on_message(self, message):
                self.close()

        return [(r"/ws", H)]

    with Harness(handlers) as h:
        async def go():
            conn = await websocket_connect(h.url())
            r1, r2 = conn.read_message(), conn.read_message()
            await conn.write_message("close please")
            assert await r1 is None and await r2 is None
            assert await conn.read_message() is None  # and later reads too

        h.run(go())


def test_ping_timeout_is_capped_at_the_interval(caplog):
    proto = embedtornado.websocket.WebSocketProtocol13(
        None, False, embedtornado.websocket._WebSocketParams(ping_interval=2, ping_timeout=5))
    with caplog.at_level(logging.WARNING, "embedtornado.general"):
        assert proto.ping_timeout == 2
    assert "cannot be longer than the websocket_ping_interval" in caplog.text
    default = embedtornado.websocket.WebSocketProtocol13(
        None, False, embedtornado.websocket._WebSocketParams(ping_interval=3))
    assert (default.ping_interval, default.ping_timeout) == (3, 3)
    off = embedtornado.websocket.WebSocketProtocol13(
        None, False, embedtornado.websocket._WebSocketParams())
    assert (off.ping_interval, off.ping_timeout) == (0, 0)


def test_connect_callback_is_deprecated_and_set_nodelay():
    def handlers(web):
        websocket = ws_module(web)

        class H(websocket.WebSocketHandler):
            def open(self):
                self.set_nodelay(True)
                sock = self.ws_connection.stream.get_extra_info("socket")
                self.write_message(str(sock.getsockopt(socket.IPPROTO_TCP,
                                                       socket.TCP_NODELAY) != 0))

        return [(r"/ws", H)]

    with Harness(handlers) as h:
        async def go():
            called = []
            with pytest.warns(DeprecationWarning, match="callback argument"):
                fut = websocket_connect(h.url(), callback=called.append)
            conn = await fut
            await asyncio.sleep(0)
            assert called and called[0].result() is conn
            msg = await conn.read_message()
            conn.close()
            return msg

        assert h.run(go()) == "True"


# --------------------------------------------------------------------------- found by Tornado's suite


def _refusal_handlers(web: Any) -> list:
    class Plain(web.RequestHandler):
        def get(self):
            self.write("not a websocket")

    class Created(web.RequestHandler):
        def get(self):
            self.set_status(201)
            self.write("made")

    class Moved(web.RequestHandler):
        def get(self):
            self.redirect("/elsewhere")

    class Broken(web.RequestHandler):
        def get(self):
            self.set_status(503)
            self.write("down " * 1000)
            self.flush()  # chunked
            self.write("for maintenance")

    return [(r"/plain", Plain), (r"/created", Created), (r"/moved", Moved),
            (r"/broken", Broken)]


def _describe(exc: BaseException) -> tuple[Any, ...]:
    response = getattr(exc, "response", None)
    return (type(exc).__name__, str(exc), getattr(exc, "code", None),
            None if response is None else (response.code, response.reason, response.body,
                                           response.effective_url.split(":")[0]))


@pytest.mark.parametrize("path", ["/plain", "/created", "/moved", "/missing", "/broken"])
def test_non_101_answers_raise_what_tornado_raises(path, loop_kind):
    # Tornado 6.6.1: a 2xx answer is WebSocketError("Non-websocket response");
    # any other status is the HTTP client's HTTPClientError, whose response
    # carries the body (read to its end first).
    with Harness(_refusal_handlers, loop_kind=loop_kind, tornado_too=True) as h:
        async def go():
            with pytest.raises(Exception) as ours:
                await websocket_connect(h.url(path))
            with pytest.raises(Exception) as theirs:
                await tornado.websocket.websocket_connect(h.url(path, tornado=True))
            return _describe(ours.value), _describe(theirs.value)

        ours, theirs = h.run(go())
    assert ours == theirs
    if path in ("/plain", "/created"):
        assert ours[:2] == ("WebSocketError", "Non-websocket response")
    else:
        assert ours[0] == "HTTPClientError" and ours[3][2] == ours[3][2].strip()


def test_non_101_answer_with_a_body_running_to_the_close():
    # No length and not chunked: the body ends where the server closes.
    async def scenario():
        async def handle(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.0 403 Forbidden\r\n\r\nno ")
            await writer.drain()
            writer.write(b"entry")
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            with pytest.raises(Exception) as info:
                await websocket_connect("ws://127.0.0.1:%d/" % port)
            return info.value
        finally:
            server.close()
            await server.wait_closed()

    loop = new_loop("default")
    try:
        exc = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert _describe(exc) == ("HTTPClientError", "HTTP 403: Forbidden", 403,
                              (403, "Forbidden", b"no entry", "http"))


def test_connect_with_a_callback_while_the_loop_is_not_running_yet():
    # Tornado's test_websocket_callbacks: the IOLoop is current but not
    # running when websocket_connect(callback=...) is called.
    with Harness(echo_handlers) as h:
        asyncio.set_event_loop(h.loop)
        try:
            done: asyncio.Future = h.loop.create_future()
            with pytest.warns(DeprecationWarning, match="callback argument"):
                websocket_connect(h.url(), callback=done.set_result)

            async def go():
                conn = (await done).result()
                await conn.write_message("hi")
                msg = await conn.read_message()
                conn.close()
                return msg

            assert h.run(go()) == "hi"
        finally:
            asyncio.set_event_loop(None)


def _flood_handlers(counts: dict[str, Any]) -> Callable[[Any], list]:
    def handlers(web: Any) -> list:
        websocket = ws_module(web)

        class H(websocket.WebSocketHandler):
            def open(self):
                counts["handler"] = self

            def on_message(self, message):
                counts["messages"] += 1

            def on_ping(self, data):
                counts["pings"].append(data)

        return [(r"/ws", H)]

    return handlers


@pytest.mark.parametrize("tornado_server", [False, True], ids=["ours", "tornado"])
def test_many_small_frames_at_once_let_the_loop_run(tornado_server, loop_kind):
    # Tornado 6.6.1 gives the loop a turn after every 256 KiB of work, each
    # frame counting 1 KiB plus its size; 5000 tiny frames: about 19 turns.
    counts: dict[str, Any] = {"messages": 0, "pings": []}
    n = 5000
    with Harness(_flood_handlers(counts), loop_kind=loop_kind, tornado_too=True) as h:
        async def go():
            ticks = 0

            def tick():
                nonlocal ticks
                if counts["messages"] < n:
                    ticks += 1
                    h.loop.call_soon(tick)

            ws = await h.raw(tornado=tornado_server,
                             extra=b"\x82\x81\x00\x00\x00\x00x" * n)
            tick()
            while counts["messages"] < n:
                await asyncio.sleep(0.01)
            ws.send(frame(0x8, b"\x03\xe8"))
            await ws.read_close()
            return ticks

        ticks = h.run(go())
    assert ticks > 10


@pytest.mark.parametrize("tornado_server", [False, True], ids=["ours", "tornado"])
def test_pings_while_a_pong_is_pending_answer_only_the_newest(tornado_server):
    counts: dict[str, Any] = {"messages": 0, "pings": []}
    with Harness(_flood_handlers(counts), tornado_too=True) as h:
        async def go():
            ws = await h.raw(tornado=tornado_server)
            while "handler" not in counts:
                await asyncio.sleep(0.01)
            protocol = counts["handler"].ws_connection
            written: list[tuple[int, bytes]] = []
            futures: list[asyncio.Future] = []

            def write_frame(fin, opcode, data, flags=0):
                # Stands in for a transport above its mark: nothing completes.
                written.append((opcode, data))
                futures.append(h.loop.create_future())
                return futures[-1]

            protocol._write_frame = write_frame
            ws.send(frame(0x9, b"1") + frame(0x9, b"2") + frame(0x9, b"3"))
            while len(counts["pings"]) < 3:
                await asyncio.sleep(0.01)
            first = list(written)
            futures[0].set_result(None)
            await asyncio.sleep(0)
            second = list(written)
            futures[1].set_result(None)
            await asyncio.sleep(0)
            third = list(written)
            ws.send(frame(0x9, b"4"))
            while len(counts["pings"]) < 4:
                await asyncio.sleep(0.01)
            del protocol._write_frame
            counts["handler"].close()
            await ws.read_close()
            return first, second, third, written[-1]

        first, second, third, last = h.run(go())
    assert counts["pings"] == [b"1", b"2", b"3", b"4"]
    assert first == [(0xA, b"1")]
    assert second == third == [(0xA, b"1"), (0xA, b"3")]
    assert last == (0xA, b"4")
