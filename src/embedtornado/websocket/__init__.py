"""WebSocket (RFC 6455) with permessage-deflate (RFC 7692): server handler and client.

The API is Tornado 6.6.1's ``tornado.websocket``. A server endpoint is a
`WebSocketHandler` in the application's routing table::

    class EchoWebSocket(websocket.WebSocketHandler):
        def open(self):
            print("WebSocket opened")

        async def on_message(self, message):
            await self.write_message("You said: " + message)

        def on_close(self):
            print("WebSocket closed")

    app = web.Application([(r"/ws", EchoWebSocket)])

and a client is `websocket_connect`::

    conn = await websocket_connect("ws://127.0.0.1:8888/ws")
    await conn.write_message("hello")
    reply = await conn.read_message()      # None once the connection is closed

Design: the handshake is an ordinary HTTP request answered with ``101``;
then `HTTP1Connection.upgrade` hands the transport (and any bytes the
client sent after its request) to a `WebSocketProtocol13`, which is an
asyncio protocol. Frames are parsed from the bytes it is given -- nothing
here reads from a socket in the middle of a parse -- and each complete
message goes to the handler in order: when ``on_message`` returns an
awaitable, later frames wait (and reading pauses once a bounded amount is
buffered). Masking is the compiled ``wsmask`` twin (`util._websocket_mask`).

.. note:: embedtornado differs from Tornado 6.6.1 here (see docs/websocket.md):
   a protocol violation is answered with the close code RFC 6455 requires
   (1002, 1007, 1009) before the connection closes, where Tornado drops the
   connection without a close frame; a peer that reads too slowly cannot
   make the server buffer more than ``websocket_max_write_buffer_size``
   bytes; a bad handshake response to the client raises `WebSocketError`
   rather than ``AssertionError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from embedtornado import escape, httputil, web
from embedtornado.websocket._client import (
    WebSocketClientConnection,
    websocket_connect,
)
from embedtornado.websocket._protocol import (
    WebSocketClosedError,
    WebSocketError,
    WebSocketProtocol,
    WebSocketProtocol13,
    _default_max_message_size,
    _default_max_write_buffer_size,
    _WebSocketParams,
    gen_log,
)

__all__ = [
    "WebSocketClientConnection",
    "WebSocketClosedError",
    "WebSocketError",
    "WebSocketHandler",
    "WebSocketProtocol",
    "WebSocketProtocol13",
    "websocket_connect",
]


# --------------------------------------------------------------------------- server handler


def _raise_not_supported_for_websockets(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("Method not supported for Web Sockets")


class WebSocketHandler(web.RequestHandler):
    """Subclass this class to create a basic WebSocket handler.

    Override `on_message` to handle incoming messages, and use
    `write_message` to send messages to the client. You can also
    override `open` and `on_close` to handle opened and closed
    connections. Custom upgrade response headers can be sent by overriding
    `~.RequestHandler.set_default_headers` or `~.RequestHandler.prepare`.

    Application settings read here: ``websocket_ping_interval``,
    ``websocket_ping_timeout``, ``websocket_max_message_size`` (default
    10 MiB) and, an embedtornado addition, ``websocket_max_write_buffer_size``
    (default 16 MiB: a client that stops reading is dropped once this much
    output is queued).
    """

    def __init__(self, application: web.Application, request: httputil.HTTPServerRequest,
                 **kwargs: Any) -> None:
        super().__init__(application, request, **kwargs)
        self.ws_connection: WebSocketProtocol13 | None = None
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._on_close_called = False

    async def get(self, *args: Any, **kwargs: Any) -> None:
        self.open_args = args
        self.open_kwargs = kwargs

        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            self.set_status(400)
            log_msg = 'Can "Upgrade" only to "WebSocket".'
            self.finish(log_msg)
            gen_log.debug(log_msg)
            return

        connection = [s.strip().lower()
                      for s in self.request.headers.get("Connection", "").split(",")]
        if "upgrade" not in connection:
            self.set_status(400)
            log_msg = '"Connection" must be "Upgrade".'
            self.finish(log_msg)
            gen_log.debug(log_msg)
            return

        # Browsers do not apply the same-origin policy to WebSockets, so this
        # check always runs (after prepare(), which check_origin may rely on).
        error = self._check_cross_origin(self.check_origin)
        if error is not None:
            self.set_status(403)
            log_msg = "Cross origin websockets not allowed"
            self.finish(log_msg)
            gen_log.debug("%s: %s", log_msg, error)
            return

        self.ws_connection = self.get_websocket_protocol()
        if self.ws_connection:
            await self.ws_connection.accept_connection(self)
        else:
            self.set_status(426, "Upgrade Required")
            self.set_header("Sec-WebSocket-Version", "13")

    @property
    def ping_interval(self) -> float | None:
        """Seconds between pings (``websocket_ping_interval``); 0 or None disables."""
        return self.settings.get("websocket_ping_interval", None)

    @property
    def ping_timeout(self) -> float | None:
        """Close if no pong arrives within this many seconds (``websocket_ping_timeout``).

        Defaults to the ping interval, and cannot be longer than it.
        """
        return self.settings.get("websocket_ping_timeout", None)

    @property
    def max_message_size(self) -> int:
        """Largest message accepted (``websocket_max_message_size``, default 10 MiB).

        A larger one closes the connection with code 1009.
        """
        return self.settings.get("websocket_max_message_size", _default_max_message_size)

    def write_message(self, message: bytes | str | dict[str, Any],
                      binary: bool = False) -> asyncio.Future:
        """Send *message* to the client (a dict is sent as JSON).

        Raises `WebSocketClosedError` if the connection is closed. Returns a
        future for flow control: it resolves once the socket has taken the
        data (immediately, unless the output buffer is above its mark).
        """
        if self.ws_connection is None or self.ws_connection.is_closing():
            raise WebSocketClosedError()
        if isinstance(message, dict):
            message = escape.json_encode(message)
        return self.ws_connection.write_message(message, binary=binary)

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        """Override to pick one of the client's *subprotocols* (or None)."""
        return None

    @property
    def selected_subprotocol(self) -> str | None:
        """The subprotocol returned by `select_subprotocol`."""
        assert self.ws_connection is not None
        return self.ws_connection.selected_subprotocol

    def get_compression_options(self) -> dict[str, Any] | None:
        """Return a dict (even empty) to enable permessage-deflate; None disables it.

        Keys: ``compression_level`` and ``mem_level`` (see `zlib.compressobj`).
        """
        return None

    def _open(self, *args: str, **kwargs: str) -> Awaitable[None] | None:
        pass

    open: Callable[..., Awaitable[None] | None] = _open
    """Invoked when a new WebSocket is opened (may be a coroutine).

    `on_message` is not called until `open` has returned.
    """

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        """Handle an incoming message (must be overridden; may be a coroutine).

        Messages are processed in order: the next one waits for this one.
        """
        raise NotImplementedError

    def ping(self, data: str | bytes = b"") -> None:
        """Send a ping frame (up to 125 bytes of *data*)."""
        data = escape.utf8(data)
        if self.ws_connection is None or self.ws_connection.is_closing():
            raise WebSocketClosedError()
        self.ws_connection.write_ping(data)

    def on_pong(self, data: bytes) -> None:
        """Invoked when the response to a ping frame is received."""

    def on_ping(self, data: bytes) -> None:
        """Invoked when a ping frame is received (the pong is sent already)."""

    def on_close(self) -> None:
        """Invoked when the WebSocket is closed.

        ``self.close_code`` and ``self.close_reason`` hold what the client's
        close frame said, if it sent one.
        """

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close this WebSocket (``code`` from RFC 6455 7.4.1; ``reason`` text)."""
        if self.ws_connection:
            self.ws_connection.close(code, reason)
            self.ws_connection = None

    def check_origin(self, origin: str) -> bool:
        """Return True to accept a cross-origin request from *origin*.

        Only called for requests that look cross-origin (see Tornado 6.6's
        ``Sec-Fetch-Site``/``Origin``/``Host`` rules). The default accepts the
        ``trusted_origins`` application setting (`check_trusted_origin`).
        """
        return self.check_trusted_origin(origin)

    def set_nodelay(self, value: bool) -> None:
        """Set TCP_NODELAY on the connection (once it is established)."""
        assert self.ws_connection is not None
        self.ws_connection.set_nodelay(value)

    def on_connection_close(self) -> None:
        if self.ws_connection:
            self.ws_connection.on_connection_close()
            self.ws_connection = None
        if not self._on_close_called:
            self._on_close_called = True
            self.on_close()
            self._break_cycles()

    def on_ws_connection_close(self, close_code: int | None = None,
                               close_reason: str | None = None) -> None:
        self.close_code = close_code
        self.close_reason = close_reason
        self.on_connection_close()

    def _break_cycles(self) -> None:
        # finish() runs at the handshake; keep what render_string needs
        # until the connection has really closed.
        if self.get_status() != 101 or self._on_close_called:
            super()._break_cycles()

    def get_websocket_protocol(self) -> WebSocketProtocol13 | None:
        if self.request.headers.get("Sec-WebSocket-Version") == "13":
            params = _WebSocketParams(
                ping_interval=self.ping_interval,
                ping_timeout=self.ping_timeout,
                max_message_size=self.max_message_size,
                compression_options=self.get_compression_options(),
                max_write_buffer_size=self.settings.get("websocket_max_write_buffer_size",
                                                        _default_max_write_buffer_size),
            )
            return WebSocketProtocol13(self, False, params)
        return None

    def _detach_stream(self, protocol: asyncio.BaseProtocol | None = None) -> Any:
        """Leave HTTP: plain response methods now raise; *protocol* gets the connection."""
        for method in ("write", "redirect", "set_header", "set_cookie", "set_status",
                       "flush", "finish"):
            setattr(self, method, _raise_not_supported_for_websockets)
        if protocol is None:
            return self.detach()
        self._finished = True
        connection = self.request.connection
        connection.upgrade(protocol)  # type: ignore[union-attr]
        return connection.stream  # type: ignore[union-attr]
