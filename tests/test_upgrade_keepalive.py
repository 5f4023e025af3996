"""The keep-alive rule does not apply to a 101: the upgraded connection stays.

A WebSocket handshake whose ``Connection`` header also carries ``close``
(``Connection: Upgrade, close``) is still an upgrade: Tornado 6.6.1 answers the
101 with the handler's ``Connection: Upgrade`` and keeps the connection; so do we.
"""

from __future__ import annotations

import asyncio

from wstools import Harness, echo_handlers, frame


def _handshake_then_echo(h: Harness, tornado: bool) -> tuple[bytes, tuple[int, bytes]]:
    async def go() -> tuple[bytes, tuple[int, bytes]]:
        ws = await h.raw(headers={"Connection": "Upgrade, close"}, tornado=tornado)
        # Give a wrongly scheduled close the chance to happen before the frame.
        await asyncio.sleep(0.05)
        ws.send(frame(0x1, b"still here"))
        _, op, payload = await asyncio.wait_for(ws.read_frame(), 5)
        return ws.response_head, (op, payload)

    return h.run(go())  # type: ignore[no-any-return]


def _connection_headers(head: bytes) -> list[bytes]:
    return [ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"connection:")]


def test_upgrade_with_close_token_keeps_the_connection(loop_kind):
    with Harness(echo_handlers, loop_kind, tornado_too=True) as h:
        ours_head, ours_echo = _handshake_then_echo(h, tornado=False)
        theirs_head, theirs_echo = _handshake_then_echo(h, tornado=True)
    assert theirs_echo == ours_echo == (0x1, b"still here")
    assert _connection_headers(ours_head) == _connection_headers(theirs_head) \
        == [b"Connection: Upgrade"]


def test_a_101_nobody_takes_still_closes_when_asked():
    # A handler that answers 101 but never upgrades: with "Connection: close"
    # the connection is closed once finish() has returned (not left open).
    def handlers(web):
        class Fake(web.RequestHandler):
            def get(self):
                self.set_status(101)
                self.set_header("Connection", "Upgrade")
                self.finish()

        return [(r"/fake", Fake)]

    with Harness(handlers) as h:
        async def go() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
            writer.write(b"GET /fake HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = await asyncio.wait_for(reader.read(), 5)  # until EOF
            writer.close()
            return data

        assert h.run(go()).startswith(b"HTTP/1.1 101 ")
