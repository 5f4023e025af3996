"""HTTP/1.x connections: Tornado's ``tornado.http1connection`` names.

:class:`HTTP1Connection` and :class:`HTTP1ServerConnection` drive HTTP/1.x
over an `.IOStream`, as Tornado's do, for code that builds HTTP on streams
of its own (custom ``TCPServer`` subclasses, proxies, tests)::

    conn = HTTP1Connection(stream, True)        # the client side
    conn.write_headers(RequestStartLine("GET", "/", "HTTP/1.1"),
                       HTTPHeaders({"Host": "example.com"}))
    conn.finish()
    await conn.read_response(delegate)

    HTTP1ServerConnection(stream).start_serving(server_delegate)  # a server

Our `.HTTPServer` does not use them: it runs the compiled protocol
(``embedtornado._speedups.httpproto`` or its twin), whose request side is
what a request sees as ``request.connection``;
``isinstance(request.connection, HTTP1Connection)`` is true for it too::

    def handle(request):
        conn = request.connection
        conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"),
                           HTTPHeaders({"Content-Length": "2"}))
        conn.write(b"hi")
        conn.finish()

This module also holds :class:`HTTP1ConnectionParameters` and the delegate
that decodes gzip request bodies (``HTTPServer(decompress_request=True)``).
"""

from __future__ import annotations

import re
import zlib
from typing import TYPE_CHECKING, Any, Awaitable

from embedtornado import _accel
from embedtornado._httpdefs import (
    HTTP1ConnectionParameters,
    HTTPInputError,
    HTTPOutputError,
    PayloadTooLarge,
)
from embedtornado.httputil import HTTPHeaders, HTTPMessageDelegate
from embedtornado.util import GzipDecompressor

if TYPE_CHECKING:
    from embedtornado._pure import httpproto
else:
    httpproto = _accel.load("httpproto")

from embedtornado._http1stream import HTTP1Connection, HTTP1ServerConnection  # noqa: E402

__all__ = [
    "HTTP1Connection",
    "HTTP1ConnectionParameters",
    "HTTP1ServerConnection",
    "HTTPInputError",
    "HTTPOutputError",
]


#: Output header lines must not contain these (checked before anything is sent).
CR_OR_LF_RE = re.compile(b"\r|\n")
DIGITS = re.compile(r"[0-9]+")
HEXDIGITS = re.compile(r"[0-9a-fA-F]+")


def parse_int(s: str) -> int:
    """Parse a non-negative decimal integer; no sign, spaces or underscores (``ValueError``)."""
    if DIGITS.fullmatch(s) is None:
        raise ValueError("not an integer: %r" % s)
    return int(s)


def parse_hex_int(s: str) -> int:
    """Parse a non-negative hexadecimal integer; no prefix or sign (``ValueError``)."""
    if HEXDIGITS.fullmatch(s) is None:
        raise ValueError("not a hexadecimal integer: %r" % s)
    return int(s, 16)


def is_transfer_encoding_chunked(headers: HTTPHeaders) -> bool:
    """Whether *headers* ask for chunked framing.

    Raises `HTTPInputError` for Transfer-Encoding beside Content-Length or
    for any coding other than exactly ``chunked``. The server's parser
    applies the stricter rules of ``docs/http-strictness.md`` itself; this
    helper is kept for code written against Tornado's module.
    """
    if "Transfer-Encoding" not in headers:
        return False
    if "Content-Length" in headers:
        raise HTTPInputError("Message with both Transfer-Encoding and Content-Length")
    if headers["Transfer-Encoding"].lower() == "chunked":
        return True
    raise HTTPInputError("Unsupported Transfer-Encoding %s" % headers["Transfer-Encoding"])


class _GzipMessageDelegate(HTTPMessageDelegate):
    """Decodes ``Content-Encoding: gzip`` bodies before they reach *delegate*.

    The body may hold several gzip members (:rfc:`1952` section 2.2); all are
    decoded, as Tornado does. Bytes after the last member that do not start
    another one, and a body that ends inside a member, are a 400 logged as
    ``invalid gzip data: ...`` (Tornado's text). The decoded size counts
    against ``max_body_size`` (CVE-2026-49855).
    """

    def __init__(self, delegate: HTTPMessageDelegate, chunk_size: int, parser: Any) -> None:
        self._delegate = delegate
        self._chunk_size = chunk_size
        self._parser = parser
        self._decompressor: GzipDecompressor | None = None
        self._total = 0

    def headers_received(self, start_line: Any, headers: HTTPHeaders) -> Awaitable[None] | None:
        if headers.get("Content-Encoding", "").lower() == "gzip":
            self._decompressor = GzipDecompressor()
            # Downstream sees decoded bytes; say what was removed, as Tornado does.
            headers.add("X-Consumed-Content-Encoding", headers["Content-Encoding"])
            del headers["Content-Encoding"]
        return self._delegate.headers_received(start_line, headers)

    def _count(self, data: bytes) -> None:
        self._total += len(data)
        if self._total > self._parser.max_body_size:
            raise PayloadTooLarge("decompressed body too large")

    async def data_received(self, chunk: bytes) -> None:
        d = self._decompressor
        if d is None:
            r = self._delegate.data_received(chunk)
            if r is not None:
                await r
            return
        compressed = chunk
        while compressed:
            try:
                out = d.decompress(compressed, self._chunk_size)
            except zlib.error as e:
                raise HTTPInputError(f"invalid gzip data: {e}") from None
            if out:
                self._count(out)
                r = self._delegate.data_received(out)
                if r is not None:
                    await r
            tail = d.unconsumed_tail
            # A call that ends a member may return nothing, but it consumes input.
            if not out and len(tail) >= len(compressed):
                raise HTTPInputError("encountered unconsumed gzip data without making progress")
            compressed = tail

    def finish(self) -> Awaitable[None] | None:
        d = self._decompressor
        if d is not None:
            try:
                d.flush()  # data_received passed everything in: this only checks the end
            except zlib.error as e:
                # The wrapped delegate will not see finish(); the connection
                # closes in the handler phase, which does not tell a delegate.
                # So it hears of the close here, once (as in Tornado).
                self._delegate.on_connection_close()
                raise HTTPInputError(f"invalid gzip data: {e}") from None
        return self._delegate.finish()

    def on_connection_close(self) -> None:
        return self._delegate.on_connection_close()
