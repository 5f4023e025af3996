"""A non-blocking, single-threaded HTTP/1.1 server (Tornado's ``tornado.httpserver``).

:class:`HTTPServer` serves an ``Application`` or any
``HTTPServerConnectionDelegate``, or a plain callback that gets each
complete ``HTTPServerRequest`` and answers through ``request.connection``::

    from embedtornado.httpserver import HTTPServer
    from embedtornado.httputil import HTTPHeaders, ResponseStartLine
    from embedtornado.ioloop import IOLoop

    def handle_request(request):
        body = b"Hello " + request.uri.encode()
        request.connection.write_headers(
            ResponseStartLine("HTTP/1.1", 200, "OK"),
            HTTPHeaders({"Content-Length": str(len(body))}))
        request.connection.write(body)
        request.connection.finish()

    server = HTTPServer(handle_request)
    server.listen(8888)
    IOLoop.current().start()

Each connection is an asyncio protocol driven by the compiled HTTP/1.1 parser;
keep-alive, pipelining (answered in order), ``Expect: 100-continue``, chunked
bodies both ways, ``xheaders`` and ``decompress_request`` work as in Tornado.

.. note:: embedtornado differs from Tornado 6.6.1 in its safer defaults:
   malformed requests get 400/413/414/431/501/505 (Tornado: 400 or a silent
   close) with ``Connection: close``; ``idle_connection_timeout`` defaults to
   60 seconds (Tornado: 3600) and an incomplete head then gets a 408; a body
   that stalls for that long is dropped; see ``docs/http-strictness.md``.
   ``max_connections`` (not in Tornado) caps the open connections; beyond
   it a new connection gets a 503 and a close.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable

from embedtornado import _accel, httputil, netutil
from embedtornado._httpdefs import HTTP1ConnectionParameters
from embedtornado.tcpserver import TCPServer
from embedtornado.util import Configurable

if TYPE_CHECKING:
    from embedtornado._pure import httpproto
else:
    httpproto = _accel.load("httpproto")

__all__ = ["HTTPServer", "HTTPRequest"]

_BUSY_BODY = b"Too many connections"
_BUSY_RESPONSE = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
                  b"Retry-After: 1\r\nContent-Type: text/plain\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY))


class HTTPServer(TCPServer, Configurable, httputil.HTTPServerConnectionDelegate):
    """Serves HTTP/1.x on the sockets given by ``listen``, ``bind``/``start`` or ``add_sockets``.

    :arg request_callback: an ``HTTPServerConnectionDelegate`` (such as
        ``web.Application``) or a callable taking an ``HTTPServerRequest``.
    :arg no_keep_alive: close every connection after one response.
    :arg xheaders: take the client address and scheme from ``X-Real-Ip`` /
        ``X-Forwarded-For`` and ``X-Scheme`` / ``X-Forwarded-Proto`` (behind a proxy).
    :arg trusted_downstream: proxy addresses to skip in ``X-Forwarded-For``.
    :arg ssl_options: an `ssl.SSLContext` or Tornado's dict form, to serve HTTPS.
    :arg protocol: the value of ``request.protocol`` (default ``http``/``https``).
    :arg decompress_request: decode gzip request bodies (the limit applies to
        the decoded size).
    :arg chunk_size: largest body piece passed to ``data_received``.
    :arg max_header_size: largest request head (431 beyond it).
    :arg max_body_size: largest request body (413 beyond it).
    :arg max_buffer_size: Tornado's read buffer size; the default for
        ``max_body_size`` when that is not given.
    :arg idle_connection_timeout: seconds to wait for a request head (and
        between body reads) before closing.
    :arg body_timeout: seconds allowed to read a whole request body.
    :arg max_request_line: longest request line (414 beyond it).
    :arg max_header_count: most header fields in a request (431 beyond it).
    :arg max_write_buffer: bytes of output buffered for a slow reader before
        the connection stops answering further pipelined requests.
    :arg ssl_handshake_timeout: seconds a TLS client has to send its first
        byte and finish the handshake (default 10; other clients are served
        meanwhile). A plain-HTTP request to a TLS port gets a 400 and a close.
        See ``docs/https.md``.
    :arg max_connections: most connections open at once (``None`` or ``0``:
        no limit, the default). Each accepted socket counts until it is
        closed, WebSockets and detached connections included (as nginx's
        ``worker_connections``). One more gets ``503 Service Unavailable``
        with ``Retry-After: 1`` and ``Connection: close`` before its request
        is read (a TLS one is just closed); a warning is logged at most once
        a minute. Also settable later as the attribute ``max_connections``.

    As in Tornado, `HTTPServer` is a `.util.Configurable`: the constructor's
    arguments go to `initialize` (which a subclass overrides instead of
    ``__init__``), and ``HTTPServer.configure(None, xheaders=True)`` sets
    default keyword arguments for every later ``HTTPServer(...)``.

    .. note:: embedtornado differs from Tornado 6.6.1: ``max_connections``
       is our addition; Tornado accepts every connection.
    """

    _busy_response = _BUSY_RESPONSE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # As in Tornado, HTTPServer is a Configurable: constructing one runs
        # `initialize` (from Configurable.__new__), and __init__ does nothing.
        pass

    def initialize(
        self,
        request_callback: httputil.HTTPServerConnectionDelegate
        | Callable[[httputil.HTTPServerRequest], None],
        no_keep_alive: bool = False,
        xheaders: bool = False,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        protocol: str | None = None,
        decompress_request: bool = False,
        chunk_size: int | None = None,
        max_header_size: int | None = None,
        idle_connection_timeout: float | None = None,
        body_timeout: float | None = None,
        max_body_size: int | None = None,
        max_buffer_size: int | None = None,
        trusted_downstream: list[str] | None = None,
        max_request_line: int | None = None,
        max_header_count: int | None = None,
        max_write_buffer: int | None = None,
        ssl_handshake_timeout: float | None = None,
        max_connections: int | None = None,
    ) -> None:
        self.request_callback = request_callback
        self.xheaders = xheaders
        self.protocol = protocol
        self.conn_params = HTTP1ConnectionParameters(
            decompress=decompress_request,
            chunk_size=chunk_size,
            max_header_size=max_header_size,
            header_timeout=idle_connection_timeout,
            max_body_size=max_body_size if max_body_size is not None else max_buffer_size,
            body_timeout=body_timeout,
            no_keep_alive=no_keep_alive,
            max_request_line=max_request_line,
            max_header_count=max_header_count,
            max_write_buffer=max_write_buffer,
        )
        TCPServer.__init__(self, ssl_options=ssl_options, max_buffer_size=max_buffer_size,
                           read_chunk_size=chunk_size)
        if ssl_handshake_timeout is not None:
            self.ssl_handshake_timeout = ssl_handshake_timeout
        if max_connections is not None:
            if max_connections < 0:
                raise ValueError("max_connections must be None, 0 (no limit) or positive")
            self.max_connections = max_connections
        self._connections: set[Any] = set()
        self.trusted_downstream = trusted_downstream
        self._is_delegate = isinstance(request_callback, httputil.HTTPServerConnectionDelegate)
        # One bound method for every connection (not one each), and the
        # trusted proxies as one shared set.
        self._context_factory = self._new_context
        self._trusted_from: Any = trusted_downstream
        self._trusted = frozenset(trusted_downstream or ())

    @classmethod
    def configurable_base(cls) -> type[Configurable]:
        return HTTPServer

    @classmethod
    def configurable_default(cls) -> type[Configurable]:
        return HTTPServer

    # --- connections -------------------------------------------------------------

    def _make_protocol(self) -> asyncio.BaseProtocol:
        return httpproto.HTTP1ServerProtocol(self, self.conn_params, self._context_factory)

    def _new_context(self, proto: Any, transport: Any) -> _HTTPRequestContext:
        self._connections.add(proto)
        if self.trusted_downstream is not self._trusted_from:  # reassigned since
            self._trusted_from = self.trusted_downstream
            self._trusted = frozenset(self.trusted_downstream or ())
        return _HTTPRequestContext(transport, self.protocol, self._trusted)

    async def close_all_connections(self) -> None:
        """Close every open connection and wait until they are gone.

        Use after :meth:`stop` for a full shutdown.
        """
        while self._connections:
            conns = list(self._connections)
            for conn in conns:
                conn._abort()
            await asyncio.sleep(0)

    # --- HTTPServerConnectionDelegate --------------------------------------------

    def start_request(self, server_conn: object,
                      request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        if self._is_delegate:
            delegate = self.request_callback.start_request(  # type: ignore[union-attr]
                server_conn, request_conn)
        else:
            delegate = _CallableAdapter(self.request_callback, request_conn)
        if self.xheaders:
            delegate = _ProxyAdapter(delegate, request_conn)
        return delegate

    def on_close(self, server_conn: object) -> None:
        self._connections.discard(server_conn)
        # A detached or upgraded connection is still open (and still counts
        # against max_connections until _sweep finds it closed); any other
        # is closing now, before its descriptor is released.
        if self._open and not getattr(server_conn, "_detached", True):
            transport = getattr(server_conn, "transport", None)
            sock = transport.get_extra_info("socket") if transport is not None else None
            if sock is not None:
                self._forget_fd(sock.fileno())


class _CallableAdapter(httputil.HTTPMessageDelegate):
    """Collects a whole request, then calls a plain ``callback(request)``."""

    def __init__(self, request_callback: Callable[[httputil.HTTPServerRequest], Any],
                 request_conn: httputil.HTTPConnection) -> None:
        self.connection = request_conn
        self.request_callback = request_callback
        self.request: httputil.HTTPServerRequest | None = None
        self._chunks: list[bytes] = []

    def headers_received(self, start_line: Any, headers: httputil.HTTPHeaders) -> None:
        self.request = httputil.HTTPServerRequest(
            connection=self.connection, start_line=start_line, headers=headers)

    def data_received(self, chunk: bytes) -> None:
        self._chunks.append(chunk)

    def finish(self) -> Awaitable[None] | None:
        request = self.request
        assert request is not None
        request.body = b"".join(self._chunks)
        self._chunks = []
        request._parse_body()
        return self.request_callback(request)

    def on_connection_close(self) -> None:
        self._chunks = []


class _HTTPRequestContext:
    """Per-connection facts a request reads: ``remote_ip``, ``protocol``, ``address``."""

    # One per open connection: slots instead of a __dict__ keep the idle
    # keep-alive connection small (bench_memory's c10k figure).
    __slots__ = ("address", "address_family", "remote_ip", "protocol", "_orig_remote_ip",
                 "_orig_protocol", "trusted_downstream")

    def __init__(self, transport: Any, protocol: str | None,
                 trusted_downstream: Iterable[str] | None = None) -> None:
        self.address = transport.get_extra_info("peername")
        sock = transport.get_extra_info("socket")
        self.address_family = sock.family if sock is not None else None
        if (self.address_family in (socket.AF_INET, socket.AF_INET6)
                and self.address is not None):
            self.remote_ip = self.address[0]
        else:
            # Unix sockets and the like have no IP; say so in a parseable way.
            self.remote_ip = "0.0.0.0"
        if protocol:
            self.protocol = protocol
        elif transport.get_extra_info("sslcontext") is not None:
            self.protocol = "https"
        else:
            self.protocol = "http"
        self._orig_remote_ip = self.remote_ip
        self._orig_protocol = self.protocol
        # Shared when the server passes its frozenset (no set per connection).
        self.trusted_downstream = (trusted_downstream if type(trusted_downstream) is frozenset
                                   else set(trusted_downstream or []))

    def __str__(self) -> str:
        if self.address_family in (socket.AF_INET, socket.AF_INET6):
            return self.remote_ip
        if isinstance(self.address, bytes):
            return self.address.decode("latin-1")
        return str(self.address)

    def _apply_xheaders(self, headers: httputil.HTTPHeaders) -> None:
        """Take the client address and scheme from proxy headers."""
        ip = headers.get("X-Forwarded-For", self.remote_ip)
        # The last address not added by a trusted proxy is the client.
        for candidate in reversed(ip.split(",")):
            ip = candidate.strip()
            if ip not in self.trusted_downstream:
                break
        ip = headers.get("X-Real-Ip", ip)
        if netutil.is_valid_ip(ip):
            self.remote_ip = ip
        scheme = headers.get("X-Scheme", headers.get("X-Forwarded-Proto", self.protocol))
        if scheme:
            scheme = scheme.split(",")[-1].strip()
        if scheme in ("http", "https"):
            self.protocol = scheme

    def _unapply_xheaders(self) -> None:
        self.remote_ip = self._orig_remote_ip
        self.protocol = self._orig_protocol


class _ProxyAdapter(httputil.HTTPMessageDelegate):
    """Applies ``xheaders`` for the duration of one request."""

    def __init__(self, delegate: httputil.HTTPMessageDelegate,
                 request_conn: httputil.HTTPConnection) -> None:
        self.connection = request_conn
        self.delegate = delegate

    def headers_received(self, start_line: Any,
                         headers: httputil.HTTPHeaders) -> Awaitable[None] | None:
        self.connection.context._apply_xheaders(headers)  # type: ignore[attr-defined]
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self.delegate.data_received(chunk)

    def finish(self) -> Awaitable[None] | None:
        result = self.delegate.finish()
        self._cleanup()
        return result

    def on_connection_close(self) -> None:
        self.delegate.on_connection_close()
        self._cleanup()

    def _cleanup(self) -> None:
        self.connection.context._unapply_xheaders()  # type: ignore[attr-defined]


#: Tornado's old name for the request class.
HTTPRequest = httputil.HTTPServerRequest
