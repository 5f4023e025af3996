"""The keep-alive rule does not apply to a 101: the upgraded connection stays.

A WebSocket handshake whose ``Connection`` header also carries ``close``
(``Connection: Upgrade, close``) is still an upgrade: Tornado 6.6.1 answers the
101 with the handler's ``Connection: Upgrade`` and keeps the connection; so do we.
"""

from __future__ import annotations

import asyncio

from test_websocket import Harness, echo_handlers, frame, loop_kind  # noqa: F401 (fixture)


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
