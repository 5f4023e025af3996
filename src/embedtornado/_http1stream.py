"""HTTP/1.x over an `.IOStream`: Tornado's stream-based ``HTTP1Connection``.

:mod:`embedtornado.http1connection` exports these classes as
``HTTP1Connection`` and ``HTTP1ServerConnection``, for code that speaks HTTP
on streams of its own (custom ``TCPServer`` subclasses, proxies, tests)::

    stream = IOStream(socket.socket())
    await stream.connect(("127.0.0.1", port))
    conn = HTTP1Connection(stream, True)
    conn.write_headers(RequestStartLine("GET", "/", "HTTP/1.1"),
                       HTTPHeaders({"Host": "example.com"}))
    conn.finish()
    await conn.read_response(delegate)   # delegate: an HTTPMessageDelegate

Our own `.HTTPServer` does not use them: it runs the compiled protocol of
``embedtornado._speedups.httpproto``, whose request connections still pass
``isinstance(request.connection, HTTP1Connection)``.

No parsing happens here. Requests go through the server's own push parser
(``httpparse.RequestParser``, so hostile input gets the answers our server
gives: 400, 413, 414, 431, 501 or 505, ``Connection: close``); responses
through `_ResponseReader` below, which takes bytes and returns events. This
module only moves bytes between the stream and the parsers and calls the
delegate. Bytes read past the end of a message stay with the connection and
go back to the stream on `HTTP1Connection.detach` (and after a response).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Awaitable, Callable

from embedtornado import _accel, httputil, iostream
from embedtornado._httpdefs import (
    DATA,
    END,
    HEAD,
    NEED_DATA,
    HTTP1ConnectionParameters,
    HTTPInputError,
    HTTPOutputError,
)
from embedtornado.concurrent import Future, future_set_result_unless_cancelled

__all__ = ["HTTP1Connection", "HTTP1ServerConnection"]

app_log = logging.getLogger("embedtornado.application")
gen_log = logging.getLogger("embedtornado.general")

httpparse = _accel.load("httpparse")
_httpproto = _accel.load("httpproto")

#: Most informational (1xx) responses accepted before the final one (Tornado's limit).
_MAX_1XX_RESPONSES = 10
#: Reading yields to the IOLoop after this much work, as Tornado's does; each
#: chunk of a chunked body counts as _CHUNK_YIELD_COST bytes.
_YIELD_THRESHOLD = 256 * 1024
_CHUNK_YIELD_COST = 1024

_CR_OR_LF = re.compile(b"\r|\n")
_DIGITS = re.compile(r"[0-9]+")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
#: chunk-size [ chunk-ext ] (RFC 9112 section 7.1); extensions are ignored.
_CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?")
_MAX_CHUNK_LINE = 1024


class _QuietException(Exception):
    """A delegate method raised; it has been logged (Tornado's ``_QuietException``)."""


async def _call(result: Awaitable[None] | None) -> None:
    if result is not None:
        await result


def _call_delegate(method: Callable[..., Any], *args: Any) -> Any:
    """Call a delegate method; log what it raises (but `HTTPInputError`) as Tornado does."""
    try:
        return method(*args)
    except HTTPInputError:
        raise
    except Exception:
        app_log.error("Uncaught exception", exc_info=True)
        raise _QuietException() from None


async def _await_delegate(result: Any) -> None:
    if result is not None:
        try:
            await result
        except HTTPInputError:
            raise
        except Exception:
            app_log.error("Uncaught exception", exc_info=True)
            raise _QuietException() from None


def _unread(stream: iostream.IOStream, data: bytes) -> None:
    """Put bytes read past the end of a message back in front of the stream's buffer."""
    if data:
        stream._read_buffer[:0] = data


def _error_response(code: int, reason: str) -> bytes:
    return ("HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            % (code, reason)).encode("latin-1")


class _ResponseReader:
    """Sans-I/O framing of one HTTP/1.x response body: bytes in, events out.

    `head` returns ``(start_line, headers, rest)`` once the buffer holds a
    whole head; `feed` returns body pieces and whether the body is complete.
    Framing follows :rfc:`9112` section 6.3 with Tornado's messages: chunk
    lines end in CRLF and hold 1-16 hex digits (extensions ignored), chunk
    data is followed by CRLF, trailers are bounded by ``max_header_size``
    and discarded; ``Content-Length`` and ``Transfer-Encoding`` together, a
    coding other than ``chunked`` and unequal lengths are errors.
    """

    def __init__(self, max_header_size: int) -> None:
        self.max_header_size = max_header_size
        self.buf = bytearray()
        self.remaining = 0  # bytes left of the Content-Length body or chunk
        self.mode = ""  # "length", "chunked", "close" or "" (no body)
        self.total = 0
        self.chunks = 0  # chunk headers seen (for yielding)
        self._state = 0  # chunked: 0 size line, 1 data, 2 CRLF, 3 trailers
        self._trailer = 0

    def head(self) -> tuple[httputil.ResponseStartLine, httputil.HTTPHeaders] | None:
        buf = self.buf
        start = 0
        while start < len(buf) and buf[start] in b"\r\n":
            start += 1
        if start:
            del buf[:start]
        m = _HEAD_END.search(buf, 0, self.max_header_size + 4)
        if m is None or m.start() > self.max_header_size:
            if len(buf) > self.max_header_size:
                raise HTTPInputError("response head too large")
            return None
        text = bytes(buf[:m.start()]).decode("latin-1")
        del buf[:m.end()]
        first, _, rest = text.partition("\n")
        start_line = httputil.parse_response_start_line(first.removesuffix("\r"))
        return start_line, httputil.HTTPHeaders.parse(rest)

    def frame(self, code: int, headers: httputil.HTTPHeaders, max_body_size: int) -> None:
        """Choose the body framing (Tornado's ``_read_body`` rules, stricter on codings)."""
        length: int | None = None
        if "Content-Length" in headers:
            value = headers["Content-Length"]
            if "," in value:
                pieces = re.split(r",[ \t]*", value)
                if any(p != pieces[0] for p in pieces):
                    raise HTTPInputError("Multiple unequal Content-Lengths: %r" % value)
                value = headers["Content-Length"] = pieces[0]
            if _DIGITS.fullmatch(value) is None:
                raise HTTPInputError("Only integer Content-Length is allowed: %s" % value)
            length = int(value)
            if length > max_body_size:
                raise HTTPInputError("Content-Length too long")
        chunked = False
        if "Transfer-Encoding" in headers:
            if length is not None:
                raise HTTPInputError("Message with both Transfer-Encoding and Content-Length")
            if headers["Transfer-Encoding"].lower() != "chunked":
                raise HTTPInputError("Unsupported Transfer-Encoding %s"
                                     % headers["Transfer-Encoding"])
            chunked = True
        if code == 204:
            if chunked or length not in (None, 0):
                raise HTTPInputError("Response with code %d should not have body" % code)
            length = 0
        if chunked:
            self.mode = "chunked"
        elif length is not None:
            self.mode = "length" if length else ""
            self.remaining = length
        else:
            self.mode = "close"

    def feed(self, max_body_size: int) -> tuple[list[bytes], bool]:
        """Decode what the buffer holds: ``(pieces, done)``."""
        buf = self.buf
        out: list[bytes] = []
        if self.mode == "length":
            take = bytes(buf[:self.remaining])
            del buf[:len(take)]
            self.remaining -= len(take)
            if take:
                out.append(take)
            return out, self.remaining == 0
        if self.mode == "close":
            if buf:
                self.total += len(buf)
                if self.total > max_body_size:
                    raise HTTPInputError("Body too long")
                out.append(bytes(buf))
                buf.clear()
            return out, False
        work = 0
        while True:  # chunked
            if work >= _YIELD_THRESHOLD:
                return out, False  # let the caller yield to the IOLoop
            state = self._state
            if state == 0:
                end = buf.find(b"\n", 0, _MAX_CHUNK_LINE + 1)
                if end < 0:
                    if len(buf) > _MAX_CHUNK_LINE:
                        raise HTTPInputError("invalid chunk size")
                    return out, False
                line = bytes(buf[:end])
                del buf[:end + 1]
                m = _CHUNK_LINE.fullmatch(line[:-1]) if line.endswith(b"\r") else None
                if m is None:
                    raise HTTPInputError("invalid chunk size")
                size = int(m.group(1), 16)
                self.chunks += 1
                work += _CHUNK_YIELD_COST
                if size == 0:
                    self._state = 3
                    continue
                self.total += size
                if self.total > max_body_size:
                    raise HTTPInputError("chunked body too large")
                self.remaining = size
                self._state = 1
            elif state == 1:
                if not buf:
                    return out, False
                take = bytes(buf[:self.remaining])
                del buf[:len(take)]
                out.append(take)
                work += len(take)
                self.remaining -= len(take)
                if not self.remaining:
                    self._state = 2
            elif state == 2:
                if len(buf) < 2:
                    if buf and buf[0] != 0x0D:
                        raise HTTPInputError("improperly terminated chunk")
                    return out, False
                if buf[:2] != b"\r\n":
                    raise HTTPInputError("improperly terminated chunk")
                del buf[:2]
                self._state = 0
            else:
                end = buf.find(b"\n")
                if end < 0:
                    if self._trailer + len(buf) > self.max_header_size:
                        raise HTTPInputError("trailers too large")
                    return out, False
                self._trailer += end + 1
                if self._trailer > self.max_header_size:
                    raise HTTPInputError("trailers too large")
                line = bytes(buf[:end + 1])
                del buf[:end + 1]
                if line == b"\r\n":
                    return out, True
                if not line.endswith(b"\r\n"):
                    raise HTTPInputError("improperly terminated chunked request")


class _BodyLimit:
    """What `_GzipMessageDelegate` reads ``max_body_size`` from: the connection's current limit."""

    __slots__ = ("_conn",)

    def __init__(self, conn: HTTP1Connection) -> None:
        self._conn = conn

    @property
    def max_body_size(self) -> int:
        return self._conn._max_body_size


class _CompatMeta(type):
    """Lets ``isinstance(x, HTTP1Connection)`` accept the compiled server's connections too."""

    _also: tuple[type, ...] = ()

    def __instancecheck__(cls, obj: Any) -> bool:
        return type.__instancecheck__(cls, obj) or isinstance(obj, cls._also)

    def __subclasscheck__(cls, sub: type) -> bool:
        return type.__subclasscheck__(cls, sub) or issubclass(sub, cls._also)


class HTTP1Connection(httputil.HTTPConnection, metaclass=_CompatMeta):
    """Implements HTTP/1.x over an `.IOStream` (Tornado's ``HTTP1Connection``).

    On its own for clients (`write_headers`, `write`, `finish`, then
    `read_response`), or through `HTTP1ServerConnection` for servers.

    :arg stream: an `.IOStream`.
    :arg is_client: client or server side.
    :arg params: an `.HTTP1ConnectionParameters` or ``None``.
    :arg context: an opaque object, available as ``connection.context``.

    ``isinstance(request.connection, HTTP1Connection)`` is also true for the
    request connections of our compiled server.

    .. note:: embedtornado differs from Tornado 6.6.1: a server-side
       connection parses requests as our `.HTTPServer` does and answers bad
       input with its status (400, 413, 414, 431, 501, 505) and
       ``Connection: close``; the interim response is ``HTTP/1.1 100 Continue``;
       a head over ``max_header_size`` is an `.HTTPInputError` (431 on a
       server), not a silent close.
    """

    def __init__(
        self,
        stream: iostream.IOStream,
        is_client: bool,
        params: HTTP1ConnectionParameters | None = None,
        context: object | None = None,
    ) -> None:
        self.is_client = is_client
        self.stream = stream
        if params is None:
            params = HTTP1ConnectionParameters()
        self.params = params
        self.context = context
        self.no_keep_alive = params.no_keep_alive
        self._max_body_size: int = (params.max_body_size if params.max_body_size is not None
                                    else stream.max_buffer_size)
        self._body_timeout = params.body_timeout
        self._write_finished = False
        self._write_started = False
        self._read_finished = False
        self._finish_future: Future[None] = Future()
        self._disconnect_on_finish = False
        self._request_start_line: httputil.RequestStartLine | None = None
        self._response_start_line: httputil.ResponseStartLine | None = None
        self._request_headers: httputil.HTTPHeaders | None = None
        self._chunking_output = False
        self._expected_content_remaining: int | None = None
        self._pending_write: Future[None] | None = None
        # Server side: the request parser (shared by HTTP1ServerConnection
        # across the requests of one connection). Client side: the response reader.
        self._parser: Any = None
        self._reader: _ResponseReader | None = None
        self._timed_out = ""
        self._clear_callbacks()

    # --- reading ----------------------------------------------------------------

    def read_response(self, delegate: httputil.HTTPMessageDelegate) -> Awaitable[bool]:
        """Read one message: a response (client) or a request (server).

        :arg delegate: an `.HTTPMessageDelegate`.

        Returns a future resolving to whether the stream is still usable.
        """
        if self.params.decompress:
            from embedtornado.http1connection import _GzipMessageDelegate

            delegate = _GzipMessageDelegate(delegate, self.params.chunk_size, _BodyLimit(self))
        return asyncio.ensure_future(self._read_message(delegate))

    async def _read_message(self, delegate: httputil.HTTPMessageDelegate) -> bool:
        try:
            return await self._read_message_inner(delegate)
        except _QuietException:
            self.close()
            return False

    def _start_timer(self, kind: str, timeout: float | None) -> object | None:
        if timeout is None:
            return None
        loop = self.stream.io_loop

        def expire() -> None:
            self._timed_out = kind
            if kind == "body":
                gen_log.info("Timeout reading body from %s", self.context)
            if not self.is_client and not self._write_started and self.stream is not None:
                # Our server's answer to a stalled request (http-strictness.md).
                if kind == "body" or (self._parser is not None and self._parser.in_message):
                    self.stream.write(_error_response(408, "Request Timeout"))
            if self.stream is not None:
                self.stream.close()

        return loop.call_at(loop.time() + timeout, expire)

    def _stop_timer(self, handle: object | None) -> None:
        if handle is not None:
            self.stream.io_loop.remove_timeout(handle)

    async def _fill(self, size: int) -> bytes:
        """Read what the stream has (up to *size* bytes), waiting for at least one."""
        return await self.stream.read_bytes(size, partial=True)

    async def _read_message_inner(self, delegate: httputil.HTTPMessageDelegate) -> bool:
        need_delegate_close = False
        timer = self._start_timer("header", self.params.header_timeout)
        try:
            try:
                if self.is_client:
                    start_line, headers, num_1xx = await self._read_response_head(delegate)
                else:
                    start_line, headers = await self._read_request_head()
            except iostream.StreamClosedError:
                if self._timed_out:
                    return False
                raise
            finally:
                self._stop_timer(timer)
                timer = None
            need_delegate_close = True
            await _await_delegate(_call_delegate(delegate.headers_received, start_line, headers))
            if self.stream is None:  # detached
                need_delegate_close = False
                return False
            if self.is_client:
                skip_body = ((self._request_start_line is not None
                              and self._request_start_line.method == "HEAD")
                             or start_line.code == 304)
            else:
                skip_body = False
                p = self._parser
                p.max_body_size = self._max_body_size
                if (p.expect_continue and not self._write_finished and not self._write_started
                        and not p.pending() and p.content_length != 0):
                    self.stream.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            if not skip_body:
                timer = self._start_timer("body", self._body_timeout)
                try:
                    if self.is_client:
                        await self._read_response_body(start_line.code, headers, delegate)
                    else:
                        await self._read_request_body(delegate)
                except iostream.StreamClosedError:
                    if self._timed_out:
                        return False
                    raise
                finally:
                    self._stop_timer(timer)
                    timer = None
            self._read_finished = True
            if not self._write_finished or self.is_client:
                _call_delegate(delegate.finish)
            # If finish raised, the delegate is told the connection closed (as Tornado).
            need_delegate_close = False
            if self.is_client and self._reader is not None and self.stream is not None:
                _unread(self.stream, bytes(self._reader.buf))
                self._reader.buf.clear()
            if (not self._finish_future.done() and self.stream is not None
                    and not self.stream.closed()):
                self.stream.set_close_callback(self._on_connection_close)
                await self._finish_future
            if self.is_client and self._disconnect_on_finish:
                self.close()
            if self.stream is None:
                return False
        except HTTPInputError as e:
            _malformed_log("Malformed HTTP message from %s: %s", self.context, e)
            if not self.is_client:
                if not self._write_started and self.stream is not None and not self.stream.closed():
                    await self.stream.write(_error_response(
                        getattr(e, "code", 400), getattr(e, "reason", "Bad Request")))
            else:
                need_delegate_close = True
            self.close()
            return False
        finally:
            self._stop_timer(timer)
            if need_delegate_close:
                try:
                    _call_delegate(delegate.on_connection_close)
                except _QuietException:
                    pass  # logged; the connection is closing anyway
            self._clear_callbacks()
        return True

    async def _read_request_head(self) -> tuple[httputil.RequestStartLine, httputil.HTTPHeaders]:
        p = self._parser
        if p is None:
            p = self._parser = _new_parser(self.params)
        p.max_body_size = self._max_body_size
        while True:
            ev = p.next_event()
            if ev == HEAD:
                break
            if ev != NEED_DATA:  # pragma: no cover - the parser never does this
                raise HTTPInputError("unexpected parser event")
            p.feed(await self._fill(self.params.chunk_size))
        start_line = httputil.RequestStartLine(p.method, p.target, p.version)
        headers = httputil.HTTPHeaders()
        for name, values in p.headers.items():
            for value in values:
                headers.add(name, value)
        self._request_start_line = start_line
        self._request_headers = headers
        self._disconnect_on_finish = self.params.no_keep_alive or not p.keep_alive
        return start_line, headers

    async def _read_request_body(self, delegate: httputil.HTTPMessageDelegate) -> None:
        p = self._parser
        chunk_size = self.params.chunk_size
        work = 0
        while True:
            ev = p.next_event()
            if ev == END:
                # Pipelined bytes go back to the stream, as Tornado leaves them
                # there: a stream holding unread bytes does not read ahead (and
                # so does not see the peer's EOF) while the response is written.
                _unread(self.stream, p.take_buffer())
                return
            if ev == DATA:
                data = p.data
                for i in range(0, len(data), chunk_size):
                    await self._deliver_body(delegate, data[i:i + chunk_size])
                work += len(data)
                if work >= _YIELD_THRESHOLD:
                    work = 0
                    await asyncio.sleep(0)
            else:
                p.feed(await self._fill(chunk_size))

    async def _read_response_head(
        self, delegate: httputil.HTTPMessageDelegate
    ) -> tuple[httputil.ResponseStartLine, httputil.HTTPHeaders, int]:
        reader = self._reader = _ResponseReader(self.params.max_header_size)
        num_1xx = 0
        while True:
            got = reader.head()
            if got is None:
                reader.buf += await self._fill(self.params.chunk_size)
                continue
            start_line, headers = got
            code = start_line.code
            if not 100 <= code < 200:
                break
            # As Tornado, the delegate sees each informational head too.
            await _await_delegate(_call_delegate(delegate.headers_received, start_line, headers))
            if self.stream is None:
                raise iostream.StreamClosedError()
            if "Content-Length" in headers or "Transfer-Encoding" in headers:
                raise HTTPInputError("Response code %d cannot have body" % code)
            if num_1xx >= _MAX_1XX_RESPONSES:
                raise HTTPInputError("Too many 1xx responses")
            num_1xx += 1
        self._response_start_line = start_line
        return start_line, headers, num_1xx

    async def _read_response_body(self, code: int, headers: httputil.HTTPHeaders,
                                  delegate: httputil.HTTPMessageDelegate) -> None:
        reader = self._reader
        assert reader is not None
        reader.frame(code, headers, self._max_body_size)
        if not reader.mode:
            return
        chunk_size = self.params.chunk_size
        pending = bytearray()
        work = 0
        chunks_seen = 0
        while True:
            pieces, done = reader.feed(self._max_body_size)
            for piece in pieces:
                if not pending and len(piece) == chunk_size:
                    await self._deliver_body(delegate, piece)
                else:
                    pending += piece
                    while len(pending) >= chunk_size:
                        data = bytes(pending[:chunk_size])
                        del pending[:chunk_size]
                        await self._deliver_body(delegate, data)
                work += len(piece)
            work += (reader.chunks - chunks_seen) * _CHUNK_YIELD_COST
            chunks_seen = reader.chunks
            if done:
                break
            if work >= _YIELD_THRESHOLD:
                work = 0
                await asyncio.sleep(0)
                continue
            # About to wait for the network: hand over what is pending first.
            if pending:
                data = bytes(pending)
                pending.clear()
                await self._deliver_body(delegate, data)
            want = chunk_size if reader.mode != "length" else min(chunk_size, reader.remaining)
            try:
                reader.buf += await self._fill(want)
            except iostream.StreamClosedError:
                if reader.mode == "close" and not self._timed_out:
                    return  # the close is the normal end of this body
                raise
        if pending:
            await self._deliver_body(delegate, bytes(pending))

    async def _deliver_body(self, delegate: httputil.HTTPMessageDelegate, data: bytes) -> None:
        if not self._write_finished or self.is_client:
            await _await_delegate(_call_delegate(delegate.data_received, data))

    # --- callbacks, close, detach -------------------------------------------------

    def _clear_callbacks(self) -> None:
        self._write_callback: Callable[[], None] | None = None
        self._write_future: Future[None] | None = None
        self._close_callback: Callable[[], None] | None = None
        if self.stream is not None:
            self.stream.set_close_callback(None)

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Run *callback* when the connection closes while no delegate is active."""
        self._close_callback = callback

    def _on_connection_close(self) -> None:
        if self._close_callback is not None:
            callback = self._close_callback
            self._close_callback = None
            callback()
        if not self._finish_future.done():
            future_set_result_unless_cancelled(self._finish_future, None)
        self._clear_callbacks()

    def close(self) -> None:
        """Close the stream."""
        if self.stream is not None:
            self.stream.close()
        self._clear_callbacks()
        if not self._finish_future.done():
            future_set_result_unless_cancelled(self._finish_future, None)

    def detach(self) -> iostream.IOStream:
        """Take the stream over and stop all HTTP processing.

        May only be called from `.HTTPMessageDelegate.headers_received` (or,
        as Tornado's tests do, from ``finish``). Bytes already read past the
        head go back to the stream, so the caller reads them next.
        """
        self._clear_callbacks()
        stream = self.stream
        if stream is not None:
            if self._parser is not None:
                _unread(stream, self._parser.take_buffer())
            elif self._reader is not None:
                _unread(stream, bytes(self._reader.buf))
                self._reader.buf.clear()
        self.stream = None  # type: ignore[assignment]
        if not self._finish_future.done():
            future_set_result_unless_cancelled(self._finish_future, None)
        return stream

    def set_body_timeout(self, timeout: float) -> None:
        """Set the body timeout of this message (overrides the parameters)."""
        self._body_timeout = timeout

    def set_max_body_size(self, max_body_size: int) -> None:
        """Set the body size limit of this message (overrides the parameters)."""
        self._max_body_size = max_body_size

    # --- writing ----------------------------------------------------------------

    def write_headers(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
        chunk: bytes | None = None,
    ) -> Future[None]:
        """Write the start line and headers (and optionally a first body piece)."""
        lines = []
        if self.is_client:
            assert isinstance(start_line, httputil.RequestStartLine)
            self._request_start_line = start_line
            lines.append(("%s %s HTTP/1.1" % (start_line[0], start_line[1])).encode("utf-8"))
            self._chunking_output = (start_line.method in ("POST", "PUT", "PATCH")
                                     and "Content-Length" not in headers)
        else:
            assert isinstance(start_line, httputil.ResponseStartLine)
            assert self._request_start_line is not None
            assert self._request_headers is not None
            self._response_start_line = start_line
            lines.append(("HTTP/1.1 %d %s" % (start_line[1], start_line[2])).encode("utf-8"))
            req = self._request_start_line
            code = start_line.code
            self._chunking_output = (
                req.version == "HTTP/1.1"
                and req.method != "HEAD"
                and code not in (204, 304)
                and not 100 <= code < 200
                and "Content-Length" not in headers
            )
            if req.version == "HTTP/1.1" and self._disconnect_on_finish:
                headers["Connection"] = "close"
            if (req.version == "HTTP/1.0"
                    and self._request_headers.get("Connection", "").lower() == "keep-alive"):
                headers["Connection"] = "Keep-Alive"
        if self._chunking_output:
            headers["Transfer-Encoding"] = "chunked"
        if not self.is_client and (self._request_start_line.method == "HEAD"  # type: ignore[union-attr]
                                   or start_line.code == 304):  # type: ignore[union-attr]
            self._expected_content_remaining = 0
        elif "Content-Length" in headers:
            value = headers["Content-Length"]
            if _DIGITS.fullmatch(value) is None:
                raise ValueError("not an integer: %r" % value)
            self._expected_content_remaining = int(value)
        else:
            self._expected_content_remaining = None
        lines.extend((str(n) + ": " + str(v)).encode("latin-1") for n, v in headers.get_all())
        for line in lines:
            if _CR_OR_LF.search(line):
                raise ValueError("Illegal characters (CR or LF) in header: %r" % line)
        future = self._write_future = Future()
        if self.stream.closed():
            future.set_exception(iostream.StreamClosedError())
            future.exception()
        else:
            data = b"\r\n".join(lines) + b"\r\n\r\n"
            if chunk:
                data += self._format_chunk(chunk)
            self._write_started = True
            self._pending_write = self.stream.write(data)
            self._pending_write.add_done_callback(self._on_write_complete)
        return future

    def _format_chunk(self, chunk: bytes) -> bytes:
        if self._expected_content_remaining is not None:
            self._expected_content_remaining -= len(chunk)
            if self._expected_content_remaining < 0:
                self.stream.close()
                raise HTTPOutputError("Tried to write more data than Content-Length")
        if self._chunking_output and chunk:
            return b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        return chunk

    def write(self, chunk: bytes) -> Future[None]:
        """Write a piece of the body."""
        future = self._write_future = Future()
        if self.stream.closed():
            future.set_exception(iostream.StreamClosedError())
            future.exception()
        else:
            self._write_started = True
            self._pending_write = self.stream.write(self._format_chunk(chunk))
            self._pending_write.add_done_callback(self._on_write_complete)
        return future

    def finish(self) -> None:
        """Mark the end of the outgoing message."""
        if (self._expected_content_remaining is not None
                and self._expected_content_remaining != 0
                and not self.stream.closed()):
            self.stream.close()
            raise HTTPOutputError("Tried to write %d bytes less than Content-Length"
                                  % self._expected_content_remaining)
        if self._chunking_output and not self.stream.closed():
            self._pending_write = self.stream.write(b"0\r\n\r\n")
            self._pending_write.add_done_callback(self._on_write_complete)
        self._write_finished = True
        if not self._read_finished:
            # Closing is the only way not to read the rest of the request body.
            self._disconnect_on_finish = True
        self.stream.set_nodelay(True)
        if self._pending_write is None:
            self._finish_request(None)
        else:
            self._pending_write.add_done_callback(self._finish_request)

    def _on_write_complete(self, future: Future[None]) -> None:
        exc = future.exception()
        if exc is not None and not isinstance(exc, iostream.StreamClosedError):
            future.result()
        if self._write_callback is not None:
            callback = self._write_callback
            self._write_callback = None
            self.stream.io_loop.add_callback(callback)
        if self._write_future is not None:
            f = self._write_future
            self._write_future = None
            future_set_result_unless_cancelled(f, None)

    def _finish_request(self, future: Future[None] | None) -> None:
        self._clear_callbacks()
        if not self.is_client and self._disconnect_on_finish:
            self.close()
            return
        if self.stream is not None:
            self.stream.set_nodelay(False)
        if not self._finish_future.done():
            future_set_result_unless_cancelled(self._finish_future, None)


class _RateLimit:
    """Log at most 10 malformed-message lines a minute (a peer can repeat them at will)."""

    def __init__(self) -> None:
        self._window = -1e9
        self._count = 0
        self._dropped = 0

    def __call__(self, msg: str, *args: Any) -> None:
        if not gen_log.isEnabledFor(logging.INFO):
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now - self._window >= 60.0:
            if self._dropped:
                gen_log.info("%d similar messages suppressed", self._dropped)
            self._window, self._count, self._dropped = now, 0, 0
        if self._count < 10:
            self._count += 1
            gen_log.info(msg, *args)
        else:
            self._dropped += 1


_malformed_log = _RateLimit()


def _new_parser(params: HTTP1ConnectionParameters) -> Any:
    return httpparse.RequestParser(
        max_header_size=params.max_header_size,
        max_body_size=params.max_body_size,
        max_request_line=getattr(params, "max_request_line", 8192),
        max_header_count=getattr(params, "max_header_count", 100),
    )


class _ServerMeta(type):
    """Lets ``isinstance(x, HTTP1ServerConnection)`` accept the compiled server protocol."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return type.__instancecheck__(cls, obj) or isinstance(obj, _httpproto.HTTP1ServerProtocol)

    def __subclasscheck__(cls, sub: type) -> bool:
        return (type.__subclasscheck__(cls, sub)
                or issubclass(sub, _httpproto.HTTP1ServerProtocol))


class HTTP1ServerConnection(metaclass=_ServerMeta):
    """An HTTP/1.x server over one `.IOStream` (Tornado's ``HTTP1ServerConnection``).

    :arg stream: an `.IOStream`.
    :arg params: an `.HTTP1ConnectionParameters` or ``None``.
    :arg context: an opaque object, available as ``connection.context``.
    """

    def __init__(
        self,
        stream: iostream.IOStream,
        params: HTTP1ConnectionParameters | None = None,
        context: object | None = None,
    ) -> None:
        self.stream = stream
        if params is None:
            params = HTTP1ConnectionParameters()
        self.params = params
        self.context = context
        self._serving_future: Future[None] | None = None

    async def close(self) -> None:
        """Close the connection; resolves once the serving loop has ended."""
        self.stream.close()
        assert self._serving_future is not None
        try:
            await self._serving_future
        except Exception:
            pass  # start_serving has logged it

    def start_serving(self, delegate: httputil.HTTPServerConnectionDelegate) -> None:
        """Serve requests on this connection, one after another (keep-alive).

        :arg delegate: an `.HTTPServerConnectionDelegate`.
        """
        assert isinstance(delegate, httputil.HTTPServerConnectionDelegate)
        fut = asyncio.ensure_future(self._server_request_loop(delegate))
        self._serving_future = fut
        self.stream.io_loop.add_future(fut, lambda f: f.result())

    async def _server_request_loop(self, delegate: httputil.HTTPServerConnectionDelegate) -> None:
        parser = _new_parser(self.params)
        try:
            while True:
                conn = HTTP1Connection(self.stream, False, self.params, self.context)
                conn._parser = parser
                request_delegate = delegate.start_request(self, conn)
                try:
                    ret = await conn.read_response(request_delegate)
                except (iostream.StreamClosedError, iostream.UnsatisfiableReadError,
                        asyncio.CancelledError):
                    return
                except Exception:
                    gen_log.error("Uncaught exception", exc_info=True)
                    conn.close()
                    return
                if not ret:
                    return
                await asyncio.sleep(0)
        finally:
            delegate.on_close(self)


HTTP1Connection._also = (_httpproto.HTTP1Connection,)
