"""The WebSocket client: `websocket_connect` and `WebSocketClientConnection`."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import ssl
import time
import urllib.parse
import warnings
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from embedtornado import escape, httputil
from embedtornado._httpdefs import HTTPInputError
from embedtornado._responseparse import ResponseParser
from embedtornado.websocket._protocol import (
    _MAX_REFUSAL_BODY,
    _MAX_RESPONSE_HEAD,
    WebSocketClosedError,
    WebSocketError,
    WebSocketProtocol13,
    _default_max_message_size,
    _WebSocketParams,
    app_log,
)

if TYPE_CHECKING:
    from embedtornado.netutil import Resolver

# --------------------------------------------------------------------------- client


class _HandshakeProtocol(asyncio.Protocol):
    """Sends the client's upgrade request and reads the response head.

    A response other than ``101`` is read to its end (body included, as
    Tornado's HTTP client does) and then reported to the connection.
    """

    def __init__(self, conn: WebSocketClientConnection, request_bytes: bytes) -> None:
        self._conn = conn
        self._request = request_bytes
        self._buf = bytearray()
        self.transport: Any = None
        self._done = False
        # Reads a refusal (a non-101 response); None until one arrives.
        self._refusal: ResponseParser | None = None
        self._refusal_head: tuple[Any, Any] | None = None
        self._refusal_body: list[bytes] = []

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        self.transport = transport
        transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        if self._refusal is not None:
            self._read_refusal(data, eof=False)
            return
        self._buf += data
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > _MAX_RESPONSE_HEAD:
                self._finish_error(WebSocketError("handshake response head too large"))
            return
        self._done = True
        head = bytes(self._buf[:end]).decode("latin-1")
        leftover = bytes(self._buf[end + 4:])
        if self._conn._on_response_head(self.transport, head, leftover):
            self._buf = bytearray()
            return
        self._done = False
        self._refusal = ResponseParser(max_header_size=_MAX_RESPONSE_HEAD,
                                       max_body_size=_MAX_REFUSAL_BODY)
        raw = bytes(self._buf)
        self._buf = bytearray()
        self._read_refusal(raw, eof=False)

    def _read_refusal(self, data: bytes, eof: bool) -> None:
        parser = self._refusal
        assert parser is not None
        try:
            events = parser.feed_eof() if eof else parser.feed(data)
        except HTTPInputError as e:
            self._finish_error(WebSocketError("bad handshake response: %s" % e))
            return
        for event in events:
            if event[0] == "head":
                self._refusal_head = (event[1], event[2])
            elif event[0] == "data":
                self._refusal_body.append(event[1])
        if parser.done and not self._done:
            self._done = True
            self.transport.abort()
            assert self._refusal_head is not None
            start_line, headers = self._refusal_head
            self._conn._on_refused(start_line.code, start_line.reason, headers,
                                   b"".join(self._refusal_body))

    def eof_received(self) -> bool:
        if not self._done:
            if self._refusal is not None:
                self._read_refusal(b"", eof=True)  # a body that runs to the close
            else:
                self._finish_error(WebSocketError("connection closed during the handshake"))
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self._done and self._refusal is not None and exc is None:
            self._read_refusal(b"", eof=True)
        if not self._done:
            self._done = True
            self._conn._on_handshake_error(
                WebSocketError("connection closed during the handshake: %s" % (exc,)))

    def _finish_error(self, exc: BaseException) -> None:
        self._done = True
        self.transport.abort()
        self._conn._on_handshake_error(exc)


class WebSocketClientConnection:
    """WebSocket client connection; create it with `websocket_connect`.

    Messages arrive through ``on_message_callback`` or `read_message`
    (``None`` means the connection closed).
    """

    protocol: WebSocketProtocol13 | None = None

    def __init__(self, request: Any, on_message_callback: Callable[[None | str | bytes], None]
                 | None = None, compression_options: dict[str, Any] | None = None,
                 ping_interval: float | None = None, ping_timeout: float | None = None,
                 max_message_size: int = _default_max_message_size,
                 subprotocols: list[str] | None = None, resolver: Resolver | None = None,
                 connect_timeout: float | None = None,
                 ssl_options: ssl.SSLContext | dict[str, Any] | None = None) -> None:
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            # Built before the loop runs (Tornado allows this: the IOLoop is
            # current, the connection starts once it runs).
            from embedtornado.ioloop import IOLoop

            self._loop = IOLoop.current().asyncio_loop
        self._start_time = time.time()
        self._start_monotonic = time.monotonic()
        self.connect_future: asyncio.Future[WebSocketClientConnection] = \
            self._loop.create_future()
        self.key = base64.b64encode(os.urandom(16))
        self._on_message_callback = on_message_callback
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.headers: httputil.HTTPHeaders | None = None
        self.params = _WebSocketParams(ping_interval=ping_interval, ping_timeout=ping_timeout,
                                       max_message_size=max_message_size,
                                       compression_options=compression_options)
        self._messages: deque[None | str | bytes] = deque()
        self._readers: deque[asyncio.Future] = deque()
        self._put_waiter: asyncio.Future | None = None
        self._closed = False
        self._transport: Any = None
        self._timeout_handle: Any = None
        self._resolver = resolver
        self.request = request
        url = request.url
        scheme = url.partition(":")[0]
        if scheme not in ("ws", "wss", "http", "https"):
            raise ValueError("Unsupported url scheme: %r" % url)
        self._secure = scheme in ("wss", "https")
        parsed = urllib.parse.urlsplit(url)
        if not parsed.hostname:
            raise ValueError("No host in url: %r" % url)
        self._host = parsed.hostname
        self._port = parsed.port or (443 if self._secure else 80)
        target = parsed.path or "/"
        if parsed.query:
            target += "?" + parsed.query
        headers = httputil.HTTPHeaders(getattr(request, "headers", None) or {})
        if "Host" not in headers:
            default_port = 443 if self._secure else 80
            host = parsed.hostname
            if ":" in host:
                host = "[%s]" % host
            headers["Host"] = host if self._port == default_port else "%s:%d" % (host,
                                                                                  self._port)
        if parsed.username is not None and "Authorization" not in headers:
            userpass = httputil.encode_username_password(
                urllib.parse.unquote(parsed.username), urllib.parse.unquote(parsed.password or ""))
            headers["Authorization"] = "Basic " + base64.b64encode(userpass).decode("ascii")
        headers.update({
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": self.key.decode("ascii"),
            "Sec-WebSocket-Version": "13",
        })
        if subprotocols is not None:
            headers["Sec-WebSocket-Protocol"] = ",".join(subprotocols)
        if compression_options is not None:
            # Offer to let the server choose our window size, as Tornado does.
            headers["Sec-WebSocket-Extensions"] = "permessage-deflate; client_max_window_bits"
        lines = ["GET %s HTTP/1.1" % target]
        for name, value in headers.get_all():
            lines.append("%s: %s" % (name, value))
        self._request_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if connect_timeout is None:
            connect_timeout = getattr(request, "connect_timeout", None) or 20.0
        self._connect_timeout = connect_timeout
        request_timeout = getattr(request, "request_timeout", None) or 20.0
        self._handshake_timeout = request_timeout
        if ssl_options is None:
            ssl_options = getattr(request, "ssl_options", None)
        self._ssl_options = ssl_options
        self._task = self._loop.create_task(self._connect())

    def __del__(self) -> None:
        if self.protocol is not None and not self.protocol._connection_lost:
            warnings.warn("Unclosed WebSocketClientConnection", ResourceWarning)

    async def _connect(self) -> None:
        ssl_ctx: Any = None
        if self._secure:
            opts = self._ssl_options
            if isinstance(opts, ssl.SSLContext):
                ssl_ctx = opts
            else:
                request = self.request
                ssl_ctx = ssl.create_default_context(cafile=getattr(request, "ca_certs", None))
                if getattr(request, "validate_cert", True) is False:
                    ssl_ctx.check_hostname = False
                    ssl_ctx.verify_mode = ssl.CERT_NONE
                if isinstance(opts, dict):
                    from embedtornado.netutil import ssl_options_to_context

                    ssl_ctx = ssl_options_to_context(opts, server_side=False)
        try:
            host: str = self._host
            family = 0
            if self._resolver is not None:
                addrs = await self._resolver.resolve(host, self._port)
                family, addr = addrs[0]
                host = addr[0]
            transport, _ = await asyncio.wait_for(
                self._loop.create_connection(
                    lambda: _HandshakeProtocol(self, self._request_bytes), host, self._port,
                    ssl=ssl_ctx, family=family,
                    server_hostname=self._host if ssl_ctx is not None else None),
                self._connect_timeout)
        except asyncio.TimeoutError:
            self._on_handshake_error(WebSocketError("Timeout while connecting"))
            return
        except (OSError, ValueError) as e:
            self._on_handshake_error(e)
            return
        self._transport = transport
        if self.connect_future.done():
            # The handshake finished (or failed) before this coroutine resumed.
            if self.connect_future.exception() is not None:
                transport.abort()
            return
        self._timeout_handle = self._loop.call_later(self._handshake_timeout,
                                                     self._on_handshake_timeout)

    def _on_handshake_timeout(self) -> None:
        self._timeout_handle = None
        if not self.connect_future.done():
            if self._transport is not None:
                self._transport.abort()
            self._on_handshake_error(WebSocketError("Timeout during the WebSocket handshake"))

    def _on_handshake_error(self, exc: BaseException) -> None:
        if self._timeout_handle is not None:
            self._timeout_handle.cancel()
            self._timeout_handle = None
        if not self.connect_future.done():
            self.connect_future.set_exception(exc)
        self._closed = True

    def _on_response_head(self, transport: Any, head: str, leftover: bytes) -> bool:
        """Take over after a 101; False for any other status (not handled yet)."""
        try:
            first, _, rest = head.partition("\r\n")
            start_line = httputil.parse_response_start_line(first)
            headers = httputil.HTTPHeaders.parse(rest + "\r\n")
        except (httputil.HTTPInputError, ValueError) as e:
            transport.abort()
            self._on_handshake_error(WebSocketError("bad handshake response: %s" % e))
            return True
        self.headers = headers
        if start_line.code != 101:
            return False  # the handshake protocol reads the rest, then _on_refused
        protocol = self.get_websocket_protocol()
        try:
            protocol._process_server_headers(self.key, headers)
        except (WebSocketError, ValueError) as e:
            transport.abort()
            self._on_handshake_error(e if isinstance(e, WebSocketError)
                                     else WebSocketError(str(e)))
            return True
        if self._timeout_handle is not None:
            self._timeout_handle.cancel()
            self._timeout_handle = None
        self.protocol = protocol
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol._ready = True
        protocol.start_pinging()
        if not self.connect_future.done():
            self.connect_future.set_result(self)
        if leftover:
            protocol.data_received(leftover)
        return True

    def _on_refused(self, code: int, reason: str, headers: httputil.HTTPHeaders,
                    body: bytes) -> None:
        """A complete non-101 response arrived: fail as Tornado's client does."""
        self.headers = headers
        self._on_handshake_error(_refusal_error(self.request, code, reason, headers, body,
                                                self._start_time,
                                                time.monotonic() - self._start_monotonic))

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close the connection (``code`` and ``reason`` as in `WebSocketHandler.close`)."""
        if self.protocol is not None:
            self.protocol.close(code, reason)
            self.protocol = None
        elif not self.connect_future.done():
            self._task.cancel()
            if self._transport is not None:
                self._transport.abort()
            self._on_handshake_error(WebSocketClosedError())

    def on_connection_close(self) -> None:
        if not self.connect_future.done():
            self.connect_future.set_exception(WebSocketClosedError())
        if not self._closed:
            self._closed = True
            self._on_message(None)

    def on_ws_connection_close(self, close_code: int | None = None,
                               close_reason: str | None = None) -> None:
        self.close_code = close_code
        self.close_reason = close_reason
        self.on_connection_close()

    def write_message(self, message: str | bytes | dict[str, Any],
                      binary: bool = False) -> asyncio.Future:
        """Send a message; raises `WebSocketClosedError` once closed."""
        if self.protocol is None:
            raise WebSocketClosedError("Client connection has been closed")
        return self.protocol.write_message(message, binary=binary)

    def read_message(self, callback: Callable[[asyncio.Future], None] | None = None
                     ) -> asyncio.Future:
        """Return a future for the next message (None when the connection is closed).

        With ``on_message_callback`` set, messages go there instead.
        """
        f: asyncio.Future = self._loop.create_future()
        if self._messages:
            msg = self._messages.popleft()
            f.set_result(msg)
            self._wake_putter()
        elif self._closed:
            f.set_result(None)  # closed: every later read says so too
        else:
            self._readers.append(f)
        if callback is not None:
            f.add_done_callback(callback)
        return f

    def _wake_putter(self) -> None:
        w = self._put_waiter
        if w is not None and len(self._messages) <= 1:
            self._put_waiter = None
            if not w.done():
                w.set_result(None)

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        return self._on_message(message)

    def _on_message(self, message: None | str | bytes) -> Awaitable[None] | None:
        if self._on_message_callback:
            self._on_message_callback(message)
            return None
        if message is None and self._readers:
            while self._readers:  # the connection closed: wake every reader
                f = self._readers.popleft()
                if not f.done():
                    f.set_result(None)
            return None
        while self._readers:
            f = self._readers.popleft()
            if not f.done():
                f.set_result(message)
                return None
        self._messages.append(message)
        if message is not None and len(self._messages) > 1:
            # Like Tornado's Queue(1): hold further input until the reader catches up.
            self._put_waiter = self._loop.create_future()
            return self._put_waiter
        return None

    def ping(self, data: bytes = b"") -> None:
        """Send a ping frame (up to 125 bytes of *data*)."""
        data = escape.utf8(data)
        if self.protocol is None:
            raise WebSocketClosedError()
        self.protocol.write_ping(data)

    def on_pong(self, data: bytes) -> None:
        pass

    def on_ping(self, data: bytes) -> None:
        pass

    def get_websocket_protocol(self) -> WebSocketProtocol13:
        return WebSocketProtocol13(self, mask_outgoing=True, params=self.params)

    @property
    def selected_subprotocol(self) -> str | None:
        """The subprotocol the server selected."""
        assert self.protocol is not None
        return self.protocol.selected_subprotocol

    def log_exception(self, typ: type[BaseException] | None, value: BaseException | None,
                      tb: TracebackType | None) -> None:
        assert typ is not None and value is not None
        app_log.error("Uncaught exception %s", value, exc_info=(typ, value, tb))


def _refusal_error(request: Any, code: int, reason: str, headers: httputil.HTTPHeaders,
                   body: bytes, start_time: float, request_time: float) -> Exception:
    """The error for a non-101 answer to the handshake, as in Tornado 6.6.1.

    A 2xx answer is ``WebSocketError("Non-websocket response")``; any other
    is `.HTTPClientError` with the code and an `.HTTPResponse` holding the
    headers and body (``WebSocketError("HTTP <code>: <reason>")`` when
    ``embedtornado.httpclient`` is not installed).
    """
    if 200 <= code < 300:
        return WebSocketError("Non-websocket response")
    try:
        from embedtornado.httpclient import HTTPResponse
    except ImportError:
        return WebSocketError("HTTP %d: %s" % (code, reason))
    # Tornado's client sends the handshake as an http(s) request.
    scheme, sep, rest = request.url.partition(":")
    effective_url = {"ws": "http", "wss": "https"}.get(scheme, scheme) + sep + rest
    response = HTTPResponse(request, code, headers=headers, buffer=io.BytesIO(body),
                            effective_url=effective_url, reason=reason,
                            request_time=request_time, start_time=start_time)
    assert response.error is not None
    return response.error  # type: ignore[return-value]


class _URLRequest:
    def __init__(self, url: str, connect_timeout: float | None) -> None:
        self.url = url
        self.headers: dict[str, str] = {}
        self.connect_timeout = connect_timeout
        self.request_timeout = None


def websocket_connect(
    url: Any,
    callback: Callable[[asyncio.Future], None] | None = None,
    connect_timeout: float | None = None,
    on_message_callback: Callable[[None | str | bytes], None] | None = None,
    compression_options: dict[str, Any] | None = None,
    ping_interval: float | None = None,
    ping_timeout: float | None = None,
    max_message_size: int = _default_max_message_size,
    subprotocols: list[str] | None = None,
    resolver: Resolver | None = None,
    *,
    ssl_options: ssl.SSLContext | dict[str, Any] | None = None,
) -> Awaitable[WebSocketClientConnection]:
    """Open a WebSocket client connection; returns a future for it.

    *url* is a ``ws://`` or ``wss://`` URL, or an ``HTTPRequest``-like object
    with ``url`` and ``headers`` (and optionally ``connect_timeout``,
    ``request_timeout``, ``ssl_options``). Read messages with
    `~WebSocketClientConnection.read_message` in a loop (None means closed),
    or pass ``on_message_callback``. ``compression_options`` enables
    permessage-deflate as in `WebSocketHandler.get_compression_options`.

    .. note:: embedtornado addition: ``ssl_options`` (an `ssl.SSLContext`
       or Tornado-style dict) for ``wss://`` URLs.

    .. deprecated:: 6.5
       The ``callback`` argument; use the returned future.
    """
    if isinstance(url, str):
        request: Any = _URLRequest(url, connect_timeout)
    else:
        request = url
    conn = WebSocketClientConnection(
        request, on_message_callback=on_message_callback,
        compression_options=compression_options, ping_interval=ping_interval,
        ping_timeout=ping_timeout, max_message_size=max_message_size,
        subprotocols=subprotocols, resolver=resolver, connect_timeout=connect_timeout,
        ssl_options=ssl_options)
    if callback is not None:
        warnings.warn("The callback argument to websocket_connect is deprecated. "
                      "Use the returned Future instead.", DeprecationWarning, stacklevel=2)
        from embedtornado.ioloop import IOLoop

        IOLoop.current().add_future(conn.connect_future, callback)
    return conn.connect_future
