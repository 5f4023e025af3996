"""WebSocket server: RFC 6455 framing, handshakes, the handler API, flow control and
compression, compared with Tornado 6.6.1.

Most tests speak raw bytes to the server (`RawWS`) so that hostile frames can be
sent. The ``loop_kind`` fixture runs the key tests on embedtornado's default
loop (compiled when built) and on the stdlib ``asyncio.SelectorEventLoop``.
Where the two frameworks should agree byte for byte (handshake answers, the
echoed close frame), the same handlers run under real Tornado in the same loop.
The client is tested in ``test_websocket_client.py``; the harness is ``wstools``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import zlib
from typing import Any

import pytest

from embedtornado.websocket import websocket_connect

from wstools import (
    ACCEPT, KEY, Harness, echo_handlers, frame, ws_module,
)


# --------------------------------------------------------------------------- basics


def test_echo_text_binary_json_both_loops(loop_kind):
    def handlers(web):
        websocket = ws_module(web)

        class H(websocket.WebSocketHandler):
            def on_message(self, message):
                if isinstance(message, str) and message == "json":
                    return self.write_message({"a": [1, "é"]})
                return self.write_message(message, binary=isinstance(message, bytes))

        return [(r"/ws", H)]

    with Harness(handlers, loop_kind) as h:
        async def go():
            conn = await websocket_connect(h.url())
            await conn.write_message("héllo")
            assert await conn.read_message() == "héllo"
            await conn.write_message(b"\x00\xff" * 40000, binary=True)
            assert await conn.read_message() == b"\x00\xff" * 40000
            await conn.write_message("json")
            assert await conn.read_message() == '{"a": [1, "\\u00e9"]}'
            conn.close()
            assert await conn.read_message() is None

        h.run(go())


def test_bytes_sent_with_the_upgrade_request_are_not_lost(loop_kind):
    # The client sends its first frame in the same write as the request: the
    # HTTP side has received it already and must hand it over.
    with Harness(echo_handlers, loop_kind) as h:
        async def go():
            ws = await h.raw(extra=frame(0x1, b"early") + frame(0x2, b"bird"))
            assert (await ws.read_frame())[1:] == (0x1, b"early")
            assert (await ws.read_frame())[1:] == (0x2, b"bird")

        h.run(go())


def test_handshake_response_matches_tornado():
    with Harness(echo_handlers, tornado_too=True) as h:
        async def go():
            ours = await h.raw()
            theirs = await h.raw(tornado=True)
            return ours.response_head, theirs.response_head

        ours, theirs = h.run(go())

    def norm(head: bytes) -> list[bytes]:
        return [ln for ln in head.split(b"\r\n") if not ln.lower().startswith((b"date:",
                                                                               b"server:"))]
    assert norm(ours) == norm(theirs)
    assert b"Sec-Websocket-Accept: " + ACCEPT.encode() in ours  # Tornado's spelling


UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": KEY,
           "Sec-WebSocket-Version": "13"}


def request(headers: dict[str, str | None], path: str = "/ws") -> bytes:
    h: dict[str, str | None] = {"Host": "127.0.0.1"}
    h.update(UPGRADE)
    h.update(headers)
    lines = ["GET %s HTTP/1.1" % path] + ["%s: %s" % (k, v) for k, v in h.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@pytest.mark.parametrize("headers", [
    {"Upgrade": None},
    {"Upgrade": "h2c"},
    {"Connection": "keep-alive"},
    {"Connection": None},
    {"Sec-WebSocket-Version": "8"},
    {"Sec-WebSocket-Version": None},
    {"Sec-WebSocket-Key": None},
    {"Origin": "http://evil.example"},
    {"Origin": "http://127.0.0.1"},
    {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-origin", "Origin": "http://evil.example"},
    {"Connection": "keep-alive, Upgrade", "Upgrade": "WebSocket"},
], ids=lambda d: ",".join("%s=%s" % kv for kv in d.items()))
def test_handshake_errors_match_tornado(headers):
    with Harness(echo_handlers, tornado_too=True) as h:
        async def go():
            return (await h.http(request(headers)), await h.http(request(headers), True))

        ours, theirs = h.run(go())

    def norm(raw: bytes) -> tuple[list[bytes], bytes]:
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = [ln for ln in head.split(b"\r\n")
                 if not ln.lower().startswith((b"date:", b"server:"))]
        return lines, body
    assert norm(ours) == norm(theirs)
    assert ours.split(b" ", 2)[1] in (b"101", b"400", b"403", b"426")


def test_handshake_error_bodies():
    with Harness(echo_handlers) as h:
        no_upgrade = h.run(h.http(request({"Upgrade": None})))
        bad_version = h.run(h.http(request({"Sec-WebSocket-Version": "8"})))
        cross = h.run(h.http(request({"Origin": "http://evil.example"})))
    assert no_upgrade.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert no_upgrade.endswith(b'\r\n\r\nCan "Upgrade" only to "WebSocket".')
    assert bad_version.startswith(b"HTTP/1.1 426 Upgrade Required\r\n")
    assert b"\r\nSec-Websocket-Version: 13\r\n" in bad_version
    assert cross.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert cross.endswith(b"Cross origin websockets not allowed")


def test_check_origin_override_and_trusted_origins():
    def handlers(web):
        websocket = ws_module(web)

        class Open(websocket.WebSocketHandler):
            def check_origin(self, origin):
                return origin.endswith(".good.example")

            def on_message(self, message):
                pass

        return [(r"/ws", Open)]

    with Harness(handlers) as h:
        good = h.run(h.http(request({"Origin": "http://a.good.example"})))
        bad = h.run(h.http(request({"Origin": "http://a.bad.example"})))
    assert good.startswith(b"HTTP/1.1 101 ")
    assert bad.startswith(b"HTTP/1.1 403 ")


# --------------------------------------------------------------------------- strict protocol


def _protocol_case(loop_kind: str, frames: bytes, expect_code: int, **settings: Any) -> None:
    with Harness(echo_handlers, loop_kind, **settings) as h:
        async def go():
            ws = await h.raw()
            ws.send(frames)
            code, _ = await ws.read_close()
            return code

        assert h.run(go()) == expect_code


def test_unmasked_client_frame_is_a_protocol_error(loop_kind):
    _protocol_case(loop_kind, frame(0x1, b"hello", mask=None), 1002)


@pytest.mark.parametrize("frames,code", [
    (frame(0x1, b"x", rsv=0x40), 1002),  # RSV1 without an extension
    (frame(0x1, b"x", rsv=0x20), 1002),
    (frame(0x1, b"x", rsv=0x10), 1002),
    (frame(0x9, b"p", fin=False), 1002),  # fragmented control frame
    (frame(0x9, b"p" * 126), 1002),  # control frame over 125 bytes
    (frame(0x8, b"\x03\xe8" + b"r" * 124), 1002),
    (frame(0x3, b""), 1002),  # reserved opcodes
    (frame(0xB, b""), 1002),
    (frame(0x0, b"x"), 1002),  # continuation with nothing to continue
    (frame(0x1, b"a", fin=False) + frame(0x1, b"b"), 1002),  # new message inside one
    (frame(0x1, b"a", fin=False) + frame(0x0, b"b", rsv=0x40), 1002),
    (frame(0x1, b"\xce\xba\xff"), 1007),  # invalid UTF-8
    (frame(0x1, b"\xed\xa0\x80"), 1007),  # a UTF-16 surrogate
    (frame(0x1, b"\xce", fin=False) + frame(0x0, b"\xba\xce"), 1007),  # ends mid-character
    (frame(0x8, b"\x03"), 1002),  # close body of one byte
    (frame(0x8, b"\x03\xe8\xff"), 1007),  # close reason not UTF-8
    (frame(0x8, struct.pack("!H", 999)), 1002),
    (frame(0x8, struct.pack("!H", 1005)), 1002),
    (frame(0x8, struct.pack("!H", 1006)), 1002),
    (frame(0x8, struct.pack("!H", 1016)), 1002),
    (frame(0x8, struct.pack("!H", 2999)), 1002),
    (frame(0x8, struct.pack("!H", 5000)), 1002),
    (frame(0x2, b"", length=2000), 1009),  # larger than the limit: refused from the header
], ids=lambda v: v.hex()[:24] if isinstance(v, bytes) else str(v))
def test_protocol_violations_close_with_the_rfc_code(frames, code):
    _protocol_case("default", frames, code, websocket_max_message_size=1000)


def test_too_large_across_fragments(loop_kind):
    frames = frame(0x2, b"a" * 600, fin=False) + frame(0x0, b"b" * 600)
    _protocol_case(loop_kind, frames, 1009, websocket_max_message_size=1000)


def test_max_message_size_default_is_10_mib():
    with Harness(echo_handlers) as h:
        async def go():
            ws = await h.raw()
            ws.send(frame(0x2, b"", length=10 * 1024 * 1024 + 1)[:14])
            return await ws.read_close()

        assert h.run(go())[0] == 1009


def test_invalid_utf8_fails_at_the_first_bad_fragment():
    # The final fragment is never sent: the server must judge the first one.
    with Harness(echo_handlers) as h:
        async def go():
            ws = await h.raw()
            ws.send(frame(0x1, b"ok", fin=False) + frame(0x0, b"\xf8\x88\x80", fin=False))
            return await ws.read_close()

        assert h.run(go())[0] == 1007


def test_invalid_utf8_fails_before_the_frame_is_complete():
    # Only part of the frame is sent; the bad byte is already in it.
    with Harness(echo_handlers) as h:
        async def go():
            ws = await h.raw()
            whole = frame(0x1, b"abc\xf4\x90" + b"x" * 100)
            ws.send(whole[:6 + 6])
            return await ws.read_close()

        assert h.run(go())[0] == 1007


def test_text_split_at_every_byte_still_arrives_whole(loop_kind):
    text = "κόsme €𝄞 ok"
    data = text.encode()
    with Harness(echo_handlers, loop_kind) as h:
        async def go():
            ws = await h.raw()
            single = frame(0x1, data)
            fragmented = frame(0x1, data[:5], fin=False) + frame(0x0, data[5:])
            for whole in (single, fragmented):
                for i in range(1, len(whole)):
                    ws.send(whole[:i])
                    await ws.writer.drain()
                    await asyncio.sleep(0.002)
                    ws.send(whole[i:])
                    assert (await ws.read_frame())[1:] == (0x1, data), i

        h.run(go())


def test_fragmented_message_with_interleaved_ping():
    with Harness(echo_handlers) as h:
        async def go():
            ws = await h.raw()
            ws.send(frame(0x1, "κό".encode()[:3], fin=False) + frame(0x9, b"hi")
                    + frame(0x0, "κό".encode()[3:], fin=False) + frame(0x0, b"sme"))
            assert (await ws.read_frame())[1:] == (0xA, b"hi")
            assert (await ws.read_frame())[1:] == (0x1, "κόsme".encode())

        h.run(go())


def test_valid_close_codes_are_echoed_like_tornado():
    with Harness(echo_handlers, tornado_too=True) as h:
        async def go(tornado: bool, code: int) -> tuple[bytes, bytes]:
            ws = await h.raw(tornado=tornado)
            ws.send(frame(0x8, struct.pack("!H", code) + b"bye"))
            b0, op, payload = await ws.read_frame()
            assert await ws.reader.read() == b""
            return bytes([b0]), payload

        for code in (1000, 1001, 1011, 3000, 4999):
            assert h.run(go(False, code)) == h.run(go(True, code)) == (b"\x88",
                                                                       struct.pack("!H", code))


def test_empty_close_is_echoed_empty():
    with Harness(echo_handlers) as h:
        async def go():
            ws = await h.raw()
            ws.send(frame(0x8, b""))
            return await ws.read_close()

        assert h.run(go()) == (None, b"")


# --------------------------------------------------------------------------- handler API


def test_open_async_on_message_in_order_and_on_close(loop_kind):
    events: list[Any] = []

    def handlers(web):
        websocket = ws_module(web)

        class H(websocket.WebSocketHandler):
            async def open(self, name):
                events.append(("open", name))
                await asyncio.sleep(0.05)
                events.append("opened")

            async def on_message(self, message):
                events.append(("start", message))
                await asyncio.sleep(0.01 if message == "1" else 0)
                events.append(("end", message))
                await self.write_message(message)

            def on_close(self):
                events.append(("close", self.close_code, self.close_reason))

        return [(r"/ws/(\w+)", H)]

    with Harness(handlers, loop_kind) as h:
        async def go():
            ws = await h.raw("/ws/abc", extra=frame(0x1, b"1"))
            ws.send(frame(0x1, b"2") + frame(0x1, b"3"))
            got = [(await ws.read_frame())[2] for _ in range(3)]
            ws.send(frame(0x8, struct.pack("!H", 1001) + b"gone"))
            code, _ = await ws.read_close()
            for _ in range(100):
                if events[-1][0] == "close":
                    break
                await asyncio.sleep(0.01)
            return got, code

        got, code = h.run(go())
    assert got == [b"1", b"2", b"3"]
    assert code == 1001
    assert events == [("open", "abc"), "opened", ("start", "1"), ("end", "1"),
                      ("start", "2"), ("end", "2"), ("start", "3"), ("end", "3"),
                      ("close", 1001, "gone")]


def test_server_close_with_code_and_reason_and_write_after_close():
    seen: dict[str, Any] = {}

    def handlers(web):
        websocket = ws_module(web)

        class H(websocket.WebSocketHandler):
            def on_message(self, message):
                self.close(4000, "done")
                try:
                    self.write_message("late")
                except websocket.WebSocketClosedError:
                    seen["raised"] = True

            def on_close(self):
                seen["close"] = (self.close_code, self.close_reason)

        return [(r"/ws", H)]

    with Harness(handlers) as h:
        async def go():
            conn = await websocket_connect(h.url())
            await conn.write_message("bye")
            assert await conn.read_message() is None
            for _ in range(100):
                if "close" in seen:
                    break
                await asyncio.sleep(0.01)
            return conn.close_code, conn.close_reason

        assert h.run(go()) == (4000, "done")
    # As in Tornado, close_code is the code of the close frame the peer sent (its echo).
    assert seen == {"raised": True, "close": (4000, None)}


def test_client_close_code_reaches_on_close(loop_kind):
    seen: list[Any] = []

    def handlers(web):
        websocket = ws_module(web)

        class H(websocket.WebSocketHandler):
            def on_message(self, message):
                pass

            def on_close(self):
                seen.append((self.close_code, self.close_reason))

        return [(r"/ws", H)]

    with Harness(handlers, loop_kind) as h:
        async def go():
            conn = await websocket_connect(h.url())
            conn.close(1001, "leaving")
            assert await conn.read_message() is None
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.01)
            return conn.close_code

        assert h.run(go()) == 1001  # the server echoes the code
    assert seen == [(1001, "leaving")]


def test_ping_pong_and_callbacks():
    seen: list[Any] = []

    def handlers(web):
        websocket = ws_module(web)

        class H(websocket.WebSocketHandler):
            def on_message(self, message):
                self.ping(message)

            def on_ping(self, data):
                seen.append(("ping", data))

            def on_pong(self, data):
                seen.append(("pong", data))

        return [(r"/ws", H)]

    with Harness(handlers) as h:
        async def go():
            ws = await h.raw()
            ws.send(frame(0x9, b"abc"))
            assert (await ws.read_frame())[1:] == (0xA, b"abc")
            ws.send(frame(0x1, b"x" * 10))
            assert (await ws.read_frame())[1:] == (0x9, b"x" * 10)
            ws.send(frame(0xA, b"x" * 10))
            ws.send(frame(0x8, b"\x03\xe8"))
            await ws.read_close()

        h.run(go())
    assert seen == [("ping", b"abc"), ("pong", b"x" * 10)]


def test_ping_interval_and_timeout_close_a_silent_peer():
    closed: list[Any] = []

    def handlers(web):
        websocket = ws_module(web)

        class H(websocket.WebSocketHandler):
            def on_message(self, message):
                pass

            def on_close(self):
                closed.append(True)

        return [(r"/ws", H)]

    with Harness(handlers, websocket_ping_interval=0.05, websocket_ping_timeout=0.05) as h:
        async def go():
            ws = await h.raw()
            # Never answer: after a ping and the timeout, the server closes.
            pings = 0
            while True:
                b0, op, payload = await ws.read_frame()
                if op != 0x9:
                    break
                pings += 1
            assert op == 0x8 and pings >= 1
            ws.send(frame(0x8, payload[:2]))  # complete the closing handshake
            assert await ws.reader.read() == b""
            return struct.unpack("!H", payload[:2])[0], payload[2:]

        assert h.run(go()) == (1000, b"ping timed out")


def test_subprotocol_selection():
    def handlers(web):
        websocket = ws_module(web)

        class H(websocket.WebSocketHandler):
            def select_subprotocol(self, subprotocols):
                self.offered = subprotocols
                return "chat" if "chat" in subprotocols else None

            def open(self):
                self.write_message("%s %s" % (self.offered, self.selected_subprotocol))

            def on_message(self, message):
                pass

        return [(r"/ws", H)]

    with Harness(handlers) as h:
        async def go():
            conn = await websocket_connect(h.url(), subprotocols=["x", "chat"])
            msg = await conn.read_message()
            sel = conn.selected_subprotocol
            conn.close()
            conn2 = await websocket_connect(h.url())
            msg2 = await conn2.read_message()
            sel2 = conn2.selected_subprotocol
            conn2.close()
            return msg, sel, msg2, sel2

        assert h.run(go()) == ("['x', 'chat'] chat", "chat", "[] None", None)


def test_open_raising_closes_and_logs(caplog):
    def handlers(web):
        websocket = ws_module(web)

        class H(websocket.WebSocketHandler):
            def open(self):
                raise ZeroDivisionError("boom")

        return [(r"/ws", H)]

    with Harness(handlers) as h, caplog.at_level(logging.ERROR, "embedtornado.application"):
        async def go():
            ws = await h.raw()
            assert await ws.reader.read() == b""

        h.run(go())
    assert any("boom" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_on_message_raising_aborts(caplog):
    def handlers(web):
        websocket = ws_module(web)

        class H(websocket.WebSocketHandler):
            async def on_message(self, message):
                raise ValueError("bad message")

        return [(r"/ws", H)]

    with Harness(handlers) as h, caplog.at_level(logging.ERROR, "embedtornado.application"):
        async def go():
            ws = await h.raw(extra=frame(0x1, b"x"))
            assert await ws.reader.read() == b""

        h.run(go())
    assert any(r.exc_info and isinstance(r.exc_info[1], ValueError) for r in caplog.records)


def test_http_methods_raise_after_upgrade():
    seen: list[str] = []

    def handlers(web):
        websocket = ws_module(web)

        class H(websocket.WebSocketHandler):
            def open(self):
                try:
                    self.set_header("X", "y")
                except RuntimeError as e:
                    seen.append(str(e))
                self.write_message("ok")

            def on_message(self, message):
                pass

        return [(r"/ws", H)]

    with Harness(handlers) as h:
        async def go():
            ws = await h.raw()
            return (await ws.read_frame())[2]

        assert h.run(go()) == b"ok"
    assert seen == ["Method not supported for Web Sockets"]


# --------------------------------------------------------------------------- flow control


def test_slow_reader_is_dropped_not_buffered_without_bound():
    result: dict[str, Any] = {}

    def handlers(web):
        websocket = ws_module(web)

        class Flood(websocket.WebSocketHandler):
            async def open(self):
                chunk = b"x" * 65536
                try:
                    for _ in range(1000):  # 64 MiB: more than the kernel and the limit take
                        self.write_message(chunk, binary=True)
                except websocket.WebSocketClosedError:
                    result["closed"] = True

            def on_message(self, message):
                pass

        return [(r"/ws", Flood)]

    with Harness(handlers, websocket_max_write_buffer_size=1 << 20) as h:
        async def go():
            _ws = await h.raw()  # and never read
            for _ in range(200):
                if result:
                    break
                await asyncio.sleep(0.01)

        h.run(go())
    assert result == {"closed": True}


def test_a_message_the_socket_takes_is_not_counted_against_the_write_limit():
    # The limit is for output the peer does not read. A 10 KB reply to a
    # reading client, with a limit of 4 KB, goes out (on our loop the frame
    # leaves at write_message time, not at the end of the loop iteration).
    def handlers(web):
        websocket = ws_module(web)

        class Echo(websocket.WebSocketHandler):
            def on_message(self, message):
                self.write_message(message * 1000)

        return [(r"/ws", Echo)]

    with Harness(handlers, websocket_max_write_buffer_size=4096) as h:
        async def go():
            ws = await h.raw()
            replies = []
            for text in (b"0123456789", b"abcdefghij"):  # the connection stays up
                ws.send(frame(0x1, text))
                replies.append(await asyncio.wait_for(ws.read_frame(), 5))
            return replies

        replies = h.run(go())
    assert [(op, payload) for _, op, payload in replies] == [
        (0x1, b"0123456789" * 1000), (0x1, b"abcdefghij" * 1000)]


def test_write_future_waits_while_the_peer_does_not_read():
    state: dict[str, Any] = {}

    def handlers(web):
        websocket = ws_module(web)

        class H(websocket.WebSocketHandler):
            async def open(self):
                chunk = b"y" * 65536
                n = 0
                while True:
                    fut = self.write_message(chunk, binary=True)
                    n += 1
                    if not fut.done():
                        break
                state["pending_after"] = n
                await fut
                state["resolved"] = True

            def on_message(self, message):
                pass

        return [(r"/ws", H)]

    with Harness(handlers) as h:
        async def go():
            ws = await h.raw()
            for _ in range(300):
                if "pending_after" in state:
                    break
                await asyncio.sleep(0.01)
            assert "resolved" not in state
            while "resolved" not in state:  # now read: the future resolves
                await ws.read_frame()
            return state["pending_after"]

        assert h.run(go()) < 1000  # it paused once the socket buffers were full


def test_reading_pauses_while_on_message_is_busy():
    gate: dict[str, Any] = {}

    def handlers(web):
        websocket = ws_module(web)

        class H(websocket.WebSocketHandler):
            async def on_message(self, message):
                if "ev" not in gate:
                    gate["ev"] = asyncio.Event()
                    gate["proto"] = self.ws_connection
                    await gate["ev"].wait()
                gate["n"] = gate.get("n", 0) + 1

        return [(r"/ws", H)]

    with Harness(handlers) as h:
        async def go():
            ws = await h.raw()
            msg = frame(0x2, b"z" * 8192)
            ws.send(msg)
            while "proto" not in gate:
                await asyncio.sleep(0.01)
            for _ in range(200):
                ws.send(msg)
            proto = gate["proto"]
            for _ in range(500):
                if proto._reading_paused:
                    break
                await asyncio.sleep(0.01)
            assert proto._reading_paused
            assert len(proto._buf) - proto._pos < 2 * 1024 * 1024
            gate["ev"].set()
            for _ in range(500):
                if gate.get("n") == 201:
                    break
                await asyncio.sleep(0.01)
            return gate.get("n")

        assert h.run(go()) == 201


# --------------------------------------------------------------------------- compression


def deflate_handlers(web: Any) -> list:
    return echo_handlers(web, compression={})


@pytest.mark.parametrize("offer", [
    "permessage-deflate",
    "permessage-deflate; client_max_window_bits",
    "permessage-deflate; client_max_window_bits=10; server_no_context_takeover",
    "permessage-deflate; server_max_window_bits=12; client_no_context_takeover",
    "x-webkit-deflate-frame, permessage-deflate",
])
def test_deflate_negotiation_matches_tornado(offer):
    with Harness(deflate_handlers, tornado_too=True) as h:
        async def go():
            hdr = {"Sec-WebSocket-Extensions": offer}
            ours = await h.raw(headers=hdr)
            theirs = await h.raw(headers=hdr, tornado=True)
            return ours.response_head, theirs.response_head

        ours, theirs = h.run(go())

    def ext(head: bytes) -> list[bytes]:
        return [ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"sec-websocket-extensions")]
    assert ext(ours) == ext(theirs)
    assert ext(ours)


def test_deflate_declines_what_it_cannot_do():
    with Harness(deflate_handlers) as h:
        async def go():
            bad = await h.raw(headers={"Sec-WebSocket-Extensions":
                                       "permessage-deflate; mystery=1, permessage-deflate; "
                                       "server_max_window_bits=99, permessage-deflate; "
                                       "server_max_window_bits=9"})
            return bad.response_head

        head = h.run(go())
    assert b"Sec-Websocket-Extensions: permessage-deflate; server_max_window_bits=9\r\n" in head


@pytest.mark.parametrize("opts", [{}, {"compression_level": 9, "mem_level": 9}])
def test_compressed_echo_with_our_client(loop_kind, opts):
    with Harness(deflate_handlers, loop_kind) as h:
        async def go():
            conn = await websocket_connect(h.url(), compression_options=opts)
            assert conn.protocol._compressor is not None
            for msg in ("a" * 5000, "b", "a" * 5000, "ünïcode " * 100):
                await conn.write_message(msg)
                assert await conn.read_message() == msg
            await conn.write_message(os.urandom(3000), binary=True)
            assert len(await conn.read_message()) == 3000
            conn.close()

        h.run(go())


def _deflate(data: bytes, wbits: int = 15) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -wbits)
    return (c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]


def test_decompression_bomb_closes_1009():
    with Harness(deflate_handlers, websocket_max_message_size=100_000) as h:
        async def go():
            ws = await h.raw(headers={"Sec-WebSocket-Extensions": "permessage-deflate"})
            bomb = _deflate(b"\x00" * 5_000_000)
            assert len(bomb) < 100_000
            ws.send(frame(0x2, bomb, rsv=0x40))
            return await ws.read_close()

        assert h.run(go())[0] == 1009


def test_compressed_frames_raw_and_bad_deflate():
    with Harness(deflate_handlers) as h:
        async def go():
            ws = await h.raw(headers={"Sec-WebSocket-Extensions": "permessage-deflate"})
            data = _deflate(b"hello hello hello")
            ws.send(frame(0x1, data[:3], rsv=0x40, fin=False) + frame(0x0, data[3:]))
            b0, op, payload = await ws.read_frame()
            assert b0 & 0x40 and op == 0x1
            assert zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff") == \
                b"hello hello hello"
            ws.send(frame(0x1, b"\xff\xff\xff\xff", rsv=0x40))
            return await ws.read_close()

        assert h.run(go())[0] == 1007
