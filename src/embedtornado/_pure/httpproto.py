"""HTTP/1.1 server protocol: joins parser events to Tornado's delegate interfaces.

This is the twin of ``embedtornado._speedups.httpproto``; setup.py compiles
this very file with Cython (single source), so the two cannot drift. It is an
asyncio protocol: the event loop hands it bytes, the request parser turns them
into events, and each request goes to an ``HTTPServerConnectionDelegate``
(an ``Application`` or ``HTTPServer``'s callback adapter) through Tornado's
``HTTPMessageDelegate`` calls::

    proto = HTTP1ServerProtocol(server, HTTP1ConnectionParameters(), context_factory)
    loop.create_server(lambda: proto, sock=sock)

    # per request, in order:
    delegate = server.start_request(proto, connection)   # connection: HTTP1Connection
    delegate.headers_received(start_line, headers)         # may return a Future
    delegate.data_received(chunk)                          # zero or more times
    delegate.finish()                                      # or on_connection_close()

The application answers through ``connection.write_headers/write/finish``.
Pipelined requests are answered strictly in order, one at a time; while a
response is pending, further bytes stay buffered (and reading pauses once
that buffer passes its limit).

Timeouts use one lazily re-armed timer per connection: the time allowed for a
request head (``header_timeout``, from when the connection became idle), for a
stalled or too slow body, and for a peer that stops reading its responses.

An error answer sent before the request was all read (a 431 to a client
still sending its head, say) is followed by a lingering close, as nginx's:
the sending side is shut down, and what still arrives is discarded for a
bounded time before the socket closes (see `_LINGER_TIME`), so that the
kernel does not answer the unread input with a reset that could destroy the
answer in flight.

A body can also come from a file: ``connection.write_file(file, offset,
count)`` sends that region with ``loop.sendfile`` (zero-copy ``sendfile(2)``)
on a plain socket, or reads and writes it in chunks elsewhere (TLS). Output
written meanwhile queues behind it, in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from asyncio.constants import _SendfileMode
from typing import TYPE_CHECKING, Any, Callable

from embedtornado import _accel
from embedtornado._httpdefs import (
    DATA,
    END,
    HEAD,
    NEED_DATA,
    HTTP1ConnectionParameters,
    HTTPInputError,
    HTTPOutputError,
)
from embedtornado.httputil import HTTPHeaders, RequestStartLine
from embedtornado.iostream import StreamClosedError

_tuple_new = tuple.__new__

if TYPE_CHECKING:
    from embedtornado._pure import httpparse
else:
    httpparse = _accel.load("httpparse")

__all__ = ["HTTP1ServerProtocol", "HTTP1Connection", "reset_log_limits"]

app_log = logging.getLogger("embedtornado.application")
gen_log = logging.getLogger("embedtornado.general")

# connection phases
_IDLE = 0  # waiting for a request head
_BODY = 1  # reading a request body
_HANDLER = 2  # request read; waiting for the response to finish
_CLOSED = 3

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_NO_BODY_STATUSES = (204, 304)

# What happens to the connection once the file being sent is out
# (HTTP1ServerProtocol._file_close).
_FILE_KEEP = 0  # nothing: carry on
_FILE_CLOSE_AFTER = 1  # the response is complete: close when the file is out
_FILE_CLOSE = 2  # closing: stop sending the file, then close the transport
_FILE_ABORT = 3  # aborting: stop sending the file, then abort the transport

#: write_file's zero-copy slices (one loop.sendfile call each): the first
#: size, and the bounds of the later ones (see _FileSender).
_SLICE_FIRST = 64 * 1024
_SLICE_MIN = 64 * 1024
_SLICE_MAX = 64 * 1024 * 1024
#: write_file's chunk size where it reads and writes (TLS), and the chunks
#: written per loop iteration at most.
_PUMP_CHUNK = 64 * 1024
_PUMP_BATCH = 16
_SendfileNotAvailableError = asyncio.SendfileNotAvailableError
_TRY_NATIVE = _SendfileMode.TRY_NATIVE

# Lingering close (as nginx's ``lingering_close``). Closing a socket with
# unread input makes the kernel reset the connection, and over a real network
# the reset can destroy the answer before the client has read it. So a
# connection closed while the request was not all read (an error answer to a
# client still sending) shuts down its sending side once the answer is out
# (``transport.write_eof()``), reads and discards what still arrives, and
# closes when the client closes its side, after _LINGER_TIME seconds in all,
# or after _LINGER_BYTES bytes, whichever comes first. At most
# _MAX_LINGERING connections (in the process) linger at once; beyond that,
# and where the transport cannot half-close (TLS), they close at once.
_LINGER_TIME = 2.0
_LINGER_BYTES = 1 << 20
_MAX_LINGERING = 64
_lingering: set[Any] = set()


class _RateLimitedLog:
    """Logs at most *burst* messages per *period* seconds; counts what it drops."""

    def __init__(self, logger: logging.Logger, level: int, period: float = 60.0,
                 burst: int = 10) -> None:
        self.logger = logger
        self.level = level
        self.period = period
        self.burst = burst
        self._window = 0.0
        self._count = 0
        self._dropped = 0

    def log(self, msg: str, *args: Any) -> None:
        if not self.logger.isEnabledFor(self.level):
            return
        now = time.monotonic()
        if now - self._window >= self.period:
            if self._dropped:
                self.logger.log(self.level, "%d similar messages suppressed", self._dropped)
            self._window = now
            self._count = 0
            self._dropped = 0
        if self._count < self.burst:
            self._count += 1
            self.logger.log(self.level, msg, *args)
        else:
            self._dropped += 1


    def reset(self) -> None:
        """Start a new period now, forgetting what was logged or dropped."""
        self._window = 0.0
        self._count = 0
        self._dropped = 0


_malformed_log = _RateLimitedLog(gen_log, logging.INFO)
_timeout_log = _RateLimitedLog(gen_log, logging.INFO)


def reset_log_limits() -> None:
    """Give the rate-limited logs (malformed requests, timeouts) a fresh burst.

    `embedtornado.testing` calls this before each test and on entering
    `ExpectLog`, so an expected line is never suppressed by earlier tests.
    """
    _malformed_log.reset()
    _timeout_log.reset()


def _content_length(value: str) -> int:
    """An outgoing Content-Length: ASCII digits only, as Tornado (``int`` takes ``+10``, ``1_0``)."""
    if not (value.isdigit() and value.isascii()):
        raise ValueError(f"Content-Length must be a non-negative integer, not {value!r}")
    return int(value)


#: Encoded status lines by (code, reason): a server sends few distinct ones.
_status_lines: dict[tuple[int, str], bytes] = {}
_MAX_STATUS_LINES = 256


def _status_line(code: int, reason: str) -> bytes:
    """``HTTP/1.1 <code> <reason>\\r\\n`` in UTF-8 (as Tornado writes it); ValueError on CR/LF."""
    key = (code, reason)
    try:
        return _status_lines[key]
    except (KeyError, TypeError):  # TypeError: an unhashable reason, checked below
        pass
    status = ("HTTP/1.1 %d %s\r\n" % (code, reason)).encode("utf-8")
    if status.count(b"\r") != 1 or status.count(b"\n") != 1:
        raise ValueError("Illegal characters (CR or LF) in status line: %r" % status)
    if (type(code) is int and type(reason) is str
            and len(_status_lines) < _MAX_STATUS_LINES):
        _status_lines[key] = status
    return status


# The finished future that _send returns, and its loop.
_done_future: Any = None
_done_future_loop: Any = None

# Idle parsers, newest last, as (params, parser): a connection takes one when
# bytes arrive and gives it back when it is idle again, so 10,000 idle
# keep-alive connections hold no parser buffers. Bounded; a parser is only
# reused for connections with the same parameters object (its limits).
_parser_pool: list[tuple[Any, Any]] = []
_PARSER_POOL_SIZE = 64


def _take_parser(params: HTTP1ConnectionParameters) -> Any:
    if _parser_pool:
        try:
            owner, parser = _parser_pool.pop()
        except IndexError:  # another thread's loop took the last one
            pass
        else:
            if owner is params:
                return parser
    return httpparse.RequestParser(
        max_header_size=params.max_header_size,
        max_body_size=params.max_body_size,
        max_request_line=params.max_request_line,
        max_header_count=params.max_header_count,
    )


def _give_back_parser(params: HTTP1ConnectionParameters, parser: Any) -> None:
    if len(_parser_pool) < _PARSER_POOL_SIZE:
        _parser_pool.append((params, parser))


def _chain(source: asyncio.Future, target: asyncio.Future) -> None:
    """Resolve ``target`` as ``source`` resolves (a failure is marked retrieved)."""
    if source.done():
        _copy_outcome(source, target)
    else:
        source.add_done_callback(lambda f: _copy_outcome(f, target))


def _copy_outcome(source: asyncio.Future, target: asyncio.Future) -> None:
    if target.done():
        return
    if source.cancelled() or source.exception() is not None:
        target.set_exception(StreamClosedError())
        target.exception()
    else:
        target.set_result(None)


def _error_response(code: int, reason: str) -> bytes:
    return ("HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            % (code, reason)).encode("latin-1")


class HTTP1Connection:
    """One request's side of the connection: what ``request.connection`` is.

    Implements Tornado's ``HTTPConnection`` (``write_headers``, ``write``,
    ``finish``) plus ``set_close_callback``, ``set_body_timeout``,
    ``set_max_body_size``, ``detach`` and the ``context`` attribute.
    """

    def __init__(self, proto: HTTP1ServerProtocol, method: str, version: str,
                 keep_alive: bool, request_headers: HTTPHeaders) -> None:
        self._proto = proto
        self.context = proto.context
        self.params = proto.params
        self._method = method
        self._version = version
        self._request_headers = request_headers
        self._disconnect_on_finish = not keep_alive
        self._chunking_output = False
        self._expected_content_remaining: int | None = None
        self._write_started = False
        self._write_finished = False
        self._switching = False  # the response is a 101 (Switching Protocols)
        self._close_callback: Callable[[], None] | None = None

    # --- Tornado's HTTPConnection interface -------------------------------------

    def write_headers(self, start_line: Any, headers: HTTPHeaders,
                      chunk: bytes | None = None) -> asyncio.Future:
        """Send the status line and headers (and optionally a first body chunk)."""
        if self._write_started:
            raise HTTPOutputError("write_headers called twice")
        self._write_started = True
        code = start_line.code
        http11 = self._version == "HTTP/1.1"
        method = self._method
        bodyless = method == "HEAD" or code in _NO_BODY_STATUSES or code < 200
        # An exact HTTPHeaders (what RequestHandler sends) is read and changed
        # through its name -> values dict: the names below are normalised
        # already, so this is what the mapping methods would do, minus the calls.
        as_list = headers._as_list if type(headers) is HTTPHeaders else None
        fields = headers if as_list is None else as_list
        has_length = "Content-Length" in fields
        self._chunking_output = (
            http11
            and not bodyless
            and not has_length
            and "Transfer-Encoding" not in fields
        )
        if bodyless:
            self._expected_content_remaining = 0
        elif has_length:
            values = as_list.get("Content-Length") if as_list is not None else None
            if values is not None and len(values) == 1:
                value = values[0]
                # (the common case inline: _content_length's check, without the call)
                if type(value) is str and value.isdigit() and value.isascii():
                    self._expected_content_remaining = int(value)
                else:
                    self._expected_content_remaining = _content_length(value)
            else:
                self._expected_content_remaining = _content_length(headers["Content-Length"])
        else:
            self._expected_content_remaining = None
            if not self._chunking_output:
                # The body ends when the connection does.
                self._disconnect_on_finish = True
        connection_value = None
        if code == 101:
            # Switching Protocols: the connection is about to be upgraded (see
            # upgrade()), so the keep-alive rule does not apply and the
            # handler's Connection header ("Upgrade") is sent as it is.
            self._switching = True
        elif http11:
            if self._disconnect_on_finish:
                connection_value = "close"
        elif not self._disconnect_on_finish:
            connection_value = "Keep-Alive"
        if connection_value is not None:
            if as_list is None:
                headers["Connection"] = connection_value
            else:
                as_list["Connection"] = [connection_value]
                headers._combined_cache.pop("Connection", None)
        if self._chunking_output:
            if as_list is None:
                headers["Transfer-Encoding"] = "chunked"
            else:
                as_list["Transfer-Encoding"] = ["chunked"]
                headers._combined_cache.pop("Transfer-Encoding", None)
        status = _status_line(code, start_line.reason)
        tail = self._format_chunk(chunk) if chunk else b""
        if type(tail) is not bytes:
            tail = bytes(tail)
        if as_list is not None:
            # The compiled encode_head writes the head in one bytes object;
            # None sends us the general way below, which names the problem.
            data = httpparse.encode_head(status, as_list, tail)
            if data is not None:
                return self._proto._send(data)
        # One join over name, ": ", value, CRLF, ... builds the block in one pass.
        parts = []
        n = 0
        if as_list is not None:
            for name, values in as_list.items():
                for v in values:
                    # (Four appends: compiled, each is an inline list append.)
                    parts.append(name)
                    parts.append(": ")
                    parts.append(v)
                    parts.append("\r\n")
                    n += 1
        else:
            for name, v in headers.get_all():
                parts += (name, ": ", v, "\r\n")
                n += 1
        parts.append("\r\n")
        block = "".join(parts)
        if block.count("\r") != n + 1 or block.count("\n") != n + 1:
            raise ValueError("Illegal characters (CR or LF) in header: %r" % block)
        return self._proto._send(status + block.encode("latin-1") + tail)

    def write(self, chunk: bytes) -> asyncio.Future:
        """Send a piece of the body (chunk-encoded when the response is chunked).

        As in Tornado, a response may instead (deprecated) skip `write_headers`
        and pass its own encoded status line and headers to the first
        ``write``; everything written is then sent as it is.

        .. note:: embedtornado differs from Tornado 6.6.1: such a connection
           is closed after `finish`, since the framing of what was written
           is not known here.
        """
        if not self._write_started:
            if self._write_finished:
                raise HTTPOutputError("write called after finish")
            self._write_started = True
            self._disconnect_on_finish = True
            return self._proto._send(chunk)
        if self._write_finished:
            raise HTTPOutputError("write called after finish")
        return self._proto._send(self._format_chunk(chunk))

    def write_file(self, file: Any, offset: int, count: int) -> asyncio.Future:
        """Send ``count`` bytes of ``file`` from ``offset`` as the next piece of the body.

        On a plain socket the bytes go from the file to the socket with
        ``loop.sendfile`` (``sendfile(2)``, no copy through Python); on other
        transports (TLS), for a file object without a file descriptor, or a
        file ``sendfile(2)`` cannot read, they are read and written in 64 KiB
        chunks. The response's framing applies as for `write` (chunk-encoded
        when chunked; counted against ``Content-Length``). Whatever is written
        while the file is being sent waits behind it.

        Returns a future that resolves when the bytes are sent (zero-copy) or
        handed to the transport, and fails with `.StreamClosedError` when the
        connection closes first. A file shorter than ``offset + count`` ends
        the connection (the body cannot be completed) and fails the future
        with `.HTTPOutputError`. The file is not closed, and its position
        afterwards is unspecified.
        """
        if not self._write_started:
            raise HTTPOutputError("write_file called before write_headers")
        if self._write_finished:
            raise HTTPOutputError("write_file called after finish")
        if type(offset) is not int or offset < 0:
            raise ValueError("offset must be a non-negative integer, not %r" % (offset,))
        if type(count) is not int or count <= 0:
            raise ValueError("count must be a positive integer, not %r" % (count,))
        remaining = self._expected_content_remaining
        if remaining is not None:
            remaining -= count
            self._expected_content_remaining = remaining
            if remaining < 0:
                self._proto._abort()
                raise HTTPOutputError("Tried to write more data than Content-Length")
        proto = self._proto
        if proto._closing:
            f = proto._loop.create_future()
            f.set_exception(StreamClosedError())
            f.exception()
            return f
        if self._chunking_output:
            proto._send(b"%x\r\n" % count)
        sender = _FileSender(self, file, offset, count, proto._can_sendfile(file))
        queue = proto._out_queue
        if queue is None:
            queue = proto._out_queue = []
        if proto._sender is None:
            proto._sender = sender
            sender.start()
        else:
            queue.append(sender)
        return sender.future

    def finish(self) -> None:
        """End the response; the connection then reads the next request or closes."""
        if self._write_finished:
            raise HTTPOutputError("finish called twice")
        remaining = self._expected_content_remaining
        if remaining is not None and remaining != 0 and not self._proto._closing:
            self._proto._abort()
            raise HTTPOutputError("Tried to write %d bytes less than Content-Length" % remaining)
        self._write_finished = True
        if self._chunking_output:
            self._proto._send(b"0\r\n\r\n")
        self._proto._response_finished(self)

    def _format_chunk(self, chunk: bytes) -> bytes:
        remaining = self._expected_content_remaining
        if remaining is not None:
            remaining -= len(chunk)
            self._expected_content_remaining = remaining
            if remaining < 0:
                self._proto._abort()
                raise HTTPOutputError("Tried to write more data than Content-Length")
        if self._chunking_output and chunk:
            return b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        return chunk

    # --- the rest of Tornado's HTTP1Connection API ------------------------------

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Call *callback* if the connection closes before this request is finished."""
        self._close_callback = callback

    def set_body_timeout(self, timeout: float) -> None:
        """Limit the time allowed to read this request's whole body."""
        proto = self._proto
        proto._body_timeout = timeout
        # The timer is re-armed lazily, when it fires; a deadline that moves
        # earlier than where it is set must re-arm it now.
        timer = proto._timer
        if timer is not None:
            d = proto._deadline()
            if d and d < timer.when():
                timer.cancel()
                proto._timer = None
                proto._arm_timer()

    def set_max_body_size(self, max_body_size: int) -> None:
        """Change the body size limit for this request (call before the body is read)."""
        parser = self._proto._parser
        if parser is not None:
            parser.max_body_size = max_body_size

    def push(self) -> None:
        """Hand what this connection has written to the kernel now.

        Not in Tornado. Responses are written with the compiled loop's
        batched write, which keeps small writes until the end of the loop
        iteration; `RequestHandler.flush` calls this, so that a flushed
        piece leaves even when the handler then blocks. Other transports
        send at once anyway.
        """
        send_now = getattr(self._proto.transport, "_send_now", None)
        if send_now is not None:
            send_now()

    def detach(self) -> Any:
        """Take the connection away from HTTP (WebSocket); returns the transport."""
        return self._proto._detach()

    def upgrade(self, protocol: asyncio.BaseProtocol) -> None:
        """Hand the connection to *protocol*: it leaves HTTP (WebSocket after a 101).

        The contract, which every server protocol twin keeps:

        1. Call it after the response (the 101) was written with
           ``write_headers``/``finish``; those bytes are already queued on
           the transport, ahead of anything *protocol* writes.
        2. HTTP processing stops for good: timers are cancelled, no
           delegate is called again, nothing more is parsed, and the server
           forgets the connection (its ``on_close`` is called now, so
           ``close_all_connections`` does not wait for upgraded ones).
        3. ``transport.set_protocol(protocol)``, then
           ``protocol.connection_made(transport)``, then
           ``protocol.pause_writing()`` if the transport's write buffer is
           above its high-water mark, then -- if the peer sent bytes after
           the request that HTTP had received but not parsed -- exactly one
           ``protocol.data_received(leftover)`` with all of them, in order.
        4. Reading is resumed if HTTP had paused it. From then on every
           transport event (data, EOF, ``connection_lost``) goes to *protocol*;
           the HTTP side never touches the transport again.

        ``detach()`` (Tornado's API) still returns the bare transport for
        callers that manage it themselves; unparsed bytes are lost there.

        A 101 is exempt from the keep-alive rule, as in Tornado: its
        ``Connection`` header goes out as the handler set it, and ``finish()``
        does not close the connection even when the request said ``close``
        (``Connection: Upgrade, close``). Only a 101 that is not upgraded by
        then is closed, on the next loop iteration.
        """
        proto = self._proto
        paused_reading = proto._reading_paused
        paused_writing = proto._writing_paused
        transport = proto._detach()
        leftover = proto._parser.take_buffer() if proto._parser is not None else b""
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if paused_writing:
            protocol.pause_writing()  # type: ignore[attr-defined]
        if leftover:
            protocol.data_received(leftover)  # type: ignore[attr-defined]
        if paused_reading and not transport.is_closing():
            transport.resume_reading()

    @property
    def stream(self) -> Any:
        """The underlying transport (Tornado returns its IOStream here)."""
        return self._proto.transport

    def close(self) -> None:
        """Close the connection."""
        self._proto._abort()

    def _on_connection_close(self) -> None:
        cb = self._close_callback
        if cb is not None:
            self._close_callback = None
            try:
                cb()
            except Exception:
                app_log.error("Exception in close callback", exc_info=True)


class _FileSender:
    """One `HTTP1Connection.write_file` call: a file region on its way to the peer.

    Zero-copy (``native``): the region goes out in slices, each one
    ``loop.sendfile`` call. The connection's write timeout
    (``header_timeout``) applies to each slice, and each slice after the
    first is sized to take about a quarter of that timeout at the speed the
    peer has shown (within `_SLICE_MIN` and `_SLICE_MAX`), so a slow but
    steady reader is not cut off and a fast one costs few calls. Otherwise the
    region is read and written in `_PUMP_CHUNK` pieces, pausing while the
    transport's buffer is over its limit, like any other body.
    """

    def __init__(self, conn: HTTP1Connection, file: Any, offset: int, count: int,
                 native: bool) -> None:
        self.conn = conn
        self.proto = conn._proto
        self.file = file
        self.offset = offset
        self.remaining = count
        self.native = native
        self.future = self.proto._loop.create_future()
        self.task: Any = None
        self.slice = _SLICE_FIRST
        self.slice_len = 0
        self.slice_started = 0.0
        self.stopped = False

    def start(self) -> None:
        if self.native:
            self._next_slice()
        else:
            self.proto._loop.call_soon(self._pump)

    def stop(self) -> None:
        """Stop sending (the connection is closing); `HTTP1ServerProtocol._file_sent` follows."""
        if self.stopped:
            return
        self.stopped = True
        if self.task is not None:
            # Finished in _slice_done, once the loop has let go of the socket.
            self.task.cancel()
        else:
            self._done(StreamClosedError())

    # --- zero-copy ------------------------------------------------------------

    def _next_slice(self) -> None:
        proto = self.proto
        loop = proto._loop
        n = min(self.slice, self.remaining)
        self.slice_len = n
        self.slice_started = loop.time()
        proto._sendfile_since = self.slice_started
        proto._arm_timer()
        self.task = asyncio.ensure_future(
            loop.sendfile(proto.transport, self.file, self.offset, n, fallback=False))
        self.task.add_done_callback(self._slice_done)

    def _slice_done(self, task: asyncio.Future) -> None:
        self.task = None
        proto = self.proto
        proto._sendfile_since = 0.0
        if self.stopped or task.cancelled():
            self._done(StreamClosedError())
            return
        exc = task.exception()
        if exc is not None:
            if isinstance(exc, _SendfileNotAvailableError):
                # Nothing was sent: sendfile(2) cannot read this file.
                self.native = False
                self._pump()
            elif isinstance(exc, (OSError, RuntimeError)):
                # The connection broke, or the transport is closing.
                self._done(StreamClosedError(exc))
            else:
                self._done(exc)  # a bad argument (say, a file not opened in binary mode)
            return
        sent = task.result()
        self.offset += sent
        self.remaining -= sent
        if sent < self.slice_len:
            self._short()
            return
        if self.remaining <= 0:
            self._done(None)
            return
        header_timeout = proto.params.header_timeout
        if header_timeout:
            elapsed = proto._loop.time() - self.slice_started
            rate = sent / elapsed if elapsed > 0 else float(_SLICE_MAX)
            size = int(rate * header_timeout / 4)
            size = min(size, self.slice * 8)  # grow gradually
        else:
            size = _SLICE_MAX
        self.slice = max(_SLICE_MIN, min(size, _SLICE_MAX))
        self._next_slice()

    # --- read and write -----------------------------------------------------------

    def _pump(self) -> None:
        proto = self.proto
        transport = proto.transport
        for _ in range(_PUMP_BATCH):
            if self.stopped:
                return
            if self.remaining <= 0:
                self._done(None)
                return
            try:
                self.file.seek(self.offset)
                data = self.file.read(min(_PUMP_CHUNK, self.remaining))
            except Exception as e:
                app_log.error("Error reading %r for write_file", self.file, exc_info=True)
                self._done(HTTPOutputError("cannot read the file: %s" % e))
                return
            if not data:
                self._short()
                return
            n = len(data)
            self.offset += n
            self.remaining -= n
            transport.write(data)
            if proto._writing_paused:
                f = proto._loop.create_future()
                if proto._drain_waiters is None:
                    proto._drain_waiters = [f]
                else:
                    proto._drain_waiters.append(f)
                f.add_done_callback(self._drained)
                return
            if transport.is_closing():
                return  # a write failed: connection_lost stops this sender
        proto._loop.call_soon(self._pump)

    def _drained(self, f: asyncio.Future) -> None:
        if self.stopped:
            return
        if f.cancelled() or f.exception() is not None:
            self._done(StreamClosedError())
        else:
            self._pump()

    # --- the end ------------------------------------------------------------------

    def _short(self) -> None:
        self._done(HTTPOutputError("write_file: the file ended %d bytes early"
                                   % self.remaining))

    def _done(self, exc: BaseException | None, current: bool = True) -> None:
        """The end: ``exc`` None for success. ``current``: this was the file being sent."""
        if self.future.done():
            return
        self.stopped = True
        self.file = None
        if exc is None:
            if self.conn._chunking_output:
                self.proto.transport.write(b"\r\n")
            self.future.set_result(None)
            if current:
                self.proto._file_sent(None)
        else:
            if current:
                # The connection is closed first, so that (as on the chunked
                # path) connection_lost, and the handler's on_connection_close,
                # come before the caller learns that the write failed.
                self.proto._file_sent(exc)
            self.future.set_exception(exc)
            self.future.exception()  # mark retrieved: the caller may be gone


class HTTP1ServerProtocol:
    """The server side of one HTTP/1.x connection (Tornado's ``HTTP1ServerConnection``).

    An asyncio protocol by its methods (it does not derive from `asyncio.Protocol`,
    because the compiled build makes it an extension type).

    :arg server: the ``HTTPServerConnectionDelegate`` (``start_request``, ``on_close``).
    :arg params: an ``HTTP1ConnectionParameters``.
    :arg context_factory: called with the protocol and its transport once connected;
        returns the object exposed as ``request.connection.context`` (remote
        address, protocol, ...).
    """

    def __init__(self, server: Any, params: HTTP1ConnectionParameters,
                 context_factory: Callable[[Any, Any], Any] | None = None) -> None:
        self._server = server
        self.params = params
        self._context_factory = context_factory
        self.context: Any = None
        self.transport: Any = None
        self._loop: Any = None
        # The parser (and its buffer) is taken when bytes arrive and given
        # back while the connection is idle: see _take_parser.
        self._parser: httpparse.RequestParser | None = None
        self._max_pending = params.max_header_size + params.chunk_size
        self._phase = _IDLE
        self._phase_since = 0.0
        self._body_deadline = 0.0
        self._body_timeout = params.body_timeout
        self._timer: Any = None
        self._request: HTTP1Connection | None = None
        self._delegate: Any = None
        self._waiting = False
        self._reading_paused = False
        self._writing_paused = False
        self._paused_since = 0.0
        self._drain_waiters: list[asyncio.Future] | None = None
        self._closing = False
        self._detached = False
        self._scheduled = False
        self._continue_pending = False
        # A decoded body piece larger than chunk_size, handed to the delegate
        # chunk_size bytes at a time (as Tornado does): the piece and where
        # the next slice starts.
        self._rest: bytes | None = None
        self._rest_pos = 0
        # write_file: the file being sent, what was written behind it, when
        # its current zero-copy slice started, and what to do when it is out.
        self._sender: _FileSender | None = None
        self._out_queue: list[Any] | None = None
        self._sendfile_since = 0.0
        self._file_close = _FILE_KEEP
        # Closing: the request is not all read (an input error), so the close
        # lingers (see _close_transport); the peer sent its EOF; and while
        # lingering, its deadline timer and the bytes still to discard.
        self._unread = False
        self._peer_eof = False
        self._linger_timer: Any = None
        self._linger_left = 0

    # --- asyncio protocol callbacks --------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        # Responses go out with the compiled loop's batched write where the
        # transport has one (sent at the end of the loop iteration, one send
        # per connection per batch); elsewhere with write().
        self._write_out = getattr(transport, "_write_batched", None) or transport.write
        self._loop = asyncio.get_running_loop()
        transport.set_write_buffer_limits(high=self.params.max_write_buffer)
        if self._context_factory is not None:
            self.context = self._context_factory(self, transport)
        self._phase_since = self._loop.time()
        self._arm_timer()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            if self._linger_timer is not None:
                # Lingering: discarded, up to a limit.
                self._linger_left -= len(data)
                if self._linger_left <= 0:
                    self._linger_end()
            return
        parser = self._parser
        if parser is None:
            parser = self._parser = _take_parser(self.params)
        parser.feed(data)
        if (self._phase == _HANDLER or self._waiting or self._writing_paused
                or self._sender is not None):
            # (Paused already and still called: loop.sendfile resumed the
            # transport's reading after a file; pause it again.)
            if parser.pending() > self._max_pending:
                self._reading_paused = True
                self.transport.pause_reading()
            return
        if self._phase == _BODY:
            self._phase_since = self._loop.time()
        self._process()

    def eof_received(self) -> bool:
        # The peer will send no more. As in Tornado, that ends the connection,
        # even while a request is being handled (which then sees
        # on_connection_close); nothing can be answered after it.
        self._peer_eof = True
        if self._closing:
            return self._sender is not None  # (lingering: that ends here)
        if self._phase == _BODY or (self._phase == _IDLE and self._parser is not None
                                    and self._parser.in_message):
            _malformed_log.log("Connection from %s closed in the middle of a request",
                               self.context)
        self._close()
        # A file still being sent holds the socket until loop.sendfile lets
        # go of it; the transport is closed then (_file_sent), not now.
        return self._sender is not None

    def connection_lost(self, exc: BaseException | None) -> None:
        self._closing = True
        phase = self._phase
        self._phase = _CLOSED
        self._rest = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
            _lingering.discard(self)
        waiters = self._drain_waiters
        if waiters:
            self._drain_waiters = None
            for f in waiters:
                if not f.done():
                    f.set_exception(StreamClosedError(exc))
                    f.exception()  # mark retrieved: nobody may be waiting
        if self._sender is not None:
            self._sender.stop()
        request = self._request
        delegate = self._delegate
        self._request = None
        self._delegate = None
        if request is not None and not request._write_finished:
            if phase == _HANDLER:
                # The request was read; the application is still answering.
                request._on_connection_close()
            elif delegate is not None:
                # Cut off while reading: the delegate gets this instead of finish().
                try:
                    delegate.on_connection_close()
                except Exception:
                    app_log.error("Uncaught exception in on_connection_close", exc_info=True)
        if not self._detached:
            try:
                self._server.on_close(self)
            except Exception:
                app_log.error("Uncaught exception in on_close", exc_info=True)

    def pause_writing(self) -> None:
        self._writing_paused = True
        self._paused_since = self._loop.time()
        self._arm_timer()

    def resume_writing(self) -> None:
        self._writing_paused = False
        waiters = self._drain_waiters
        if waiters:
            self._drain_waiters = None
            for f in waiters:
                if not f.done():
                    f.set_result(None)
        if self._phase != _HANDLER and not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._resume)

    # --- request processing -------------------------------------------------------

    def _resume(self) -> None:
        self._scheduled = False
        if not self._closing and not self._waiting and self._phase != _HANDLER:
            self._arm_timer()
            self._process()

    def _process(self) -> None:
        """Pull parser events while the current request can take them."""
        parser = self._parser
        if parser is None or self._sender is not None:
            return  # (a file being sent: _file_sent resumes)
        while True:
            rest = self._rest
            if rest is not None:
                # The rest of a large piece, chunk_size bytes per call.
                pos = self._rest_pos
                end = pos + self.params.chunk_size
                if end >= len(rest):
                    self._rest = None
                    piece = rest[pos:]
                else:
                    self._rest_pos = end
                    piece = rest[pos:end]
                if self._request is not None and self._request._write_finished:
                    self._rest = None  # the response is out already; drop it
                else:
                    self._call(self._delegate.data_received, (piece,))
                    if self._closing or self._waiting or self._writing_paused:
                        return
                continue
            try:
                ev = parser.next_event()
            except HTTPInputError as e:
                self._input_error(e)
                return
            if ev == NEED_DATA:
                if self._reading_paused:
                    self._reading_paused = False
                    self.transport.resume_reading()
                return
            if ev == DATA:
                if self._request is not None and self._request._write_finished:
                    continue  # the response is out already; drop the rest of the body
                data = parser.data
                if len(data) > self.params.chunk_size:
                    self._rest = data
                    self._rest_pos = 0
                    continue
                self._call(self._delegate.data_received, (data,))
            elif ev == HEAD:
                self._on_head()
            else:  # END
                self._on_end()
                return
            if self._closing or self._waiting or self._writing_paused:
                return

    def _on_head(self) -> None:
        p = self._parser
        assert p is not None  # a head was parsed
        headers = HTTPHeaders._from_lists(p.headers)
        request = HTTP1Connection(self, p.method, p.version,
                                  p.keep_alive and not self.params.no_keep_alive, headers)
        self._request = request
        self._phase = _BODY
        now = self._loop.time()
        self._phase_since = now
        self._body_timeout = self.params.body_timeout
        self._body_deadline = now
        p.max_body_size = self.params.max_body_size
        try:
            delegate = self._server.start_request(self, request)
            if self.params.decompress:
                from embedtornado.http1connection import _GzipMessageDelegate

                delegate = _GzipMessageDelegate(delegate, self.params.chunk_size, p)
            self._delegate = delegate
        except Exception:
            app_log.error("Uncaught exception in start_request", exc_info=True)
            self._abort()
            return
        # tuple.__new__ builds the same named tuple without the Python-level
        # __new__ that NamedTuple generates (one call less per request).
        start_line = _tuple_new(RequestStartLine, (p.method, p.target, p.version))
        self._call(delegate.headers_received, (start_line, headers))
        if p.expect_continue and not self._closing:
            if self._waiting:
                self._continue_pending = True
            else:
                self._send_continue()

    def _send_continue(self) -> None:
        p = self._parser
        assert p is not None  # called while the head's request is current
        request = self._request
        if (request is not None and not request._write_started and not self._closing
                and (p.chunked or p.content_length <= p.max_body_size)
                and p.pending() == 0):
            self.transport.write(_CONTINUE)

    def _on_end(self) -> None:
        self._phase = _HANDLER
        request = self._request
        delegate = self._delegate
        if request is not None and request._write_finished:
            self._next_request()
            return
        self._call(delegate.finish, ())

    def _call(self, method: Callable[..., Any], args: tuple) -> None:
        """Call a delegate method; wait for it if it returns an awaitable."""
        try:
            result = method(*args)
        except HTTPInputError as e:
            self._input_error(e)
            return
        except Exception:
            app_log.error("Uncaught exception in %s", getattr(method, "__qualname__", method),
                          exc_info=True)
            self._abort()
            return
        if result is not None and not self._closing:
            future = asyncio.ensure_future(result)
            if future.done():
                self._delegate_done(future)
            else:
                self._waiting = True
                future.add_done_callback(self._delegate_done)

    def _delegate_done(self, future: asyncio.Future) -> None:
        self._waiting = False
        if future.cancelled():
            self._abort()
            return
        exc = future.exception()
        if exc is not None:
            if isinstance(exc, HTTPInputError):
                self._input_error(exc)
            else:
                app_log.error("Uncaught exception", exc_info=(type(exc), exc,
                                                             exc.__traceback__))
                self._abort()
            return
        if self._closing:
            return
        if self._continue_pending:
            self._continue_pending = False
            self._send_continue()
        if self._phase != _HANDLER:
            self._arm_timer()
            self._process()

    def _response_finished(self, request: HTTP1Connection) -> None:
        """Called by ``HTTP1Connection.finish``."""
        if request is not self._request or self._closing:
            return
        if request._switching and (request._disconnect_on_finish or self._phase != _HANDLER):
            # A 101 is followed by upgrade() (right after finish()), which
            # takes the connection: the keep-alive rule does not apply to it.
            # Only a 101 that nobody takes closes, once this call is over.
            request._disconnect_on_finish = True
            self._loop.call_soon(self._close)
            return
        if request._disconnect_on_finish:
            if self._sender is not None:
                self._file_close = _FILE_CLOSE_AFTER
            else:
                self._close()
            return
        if self._phase == _HANDLER:
            self._next_request()
        else:
            # Answered before the body was read: close once the answer is out.
            request._disconnect_on_finish = True
            self._close()

    def _next_request(self) -> None:
        self._request = None
        self._delegate = None
        self._phase = _IDLE
        self._phase_since = self._loop.time()
        if self._timer is None:
            self._arm_timer()
        parser = self._parser
        if parser is not None and not parser.pending() and not parser.in_message:
            # Idle: the parser goes back to the pool (an idle keep-alive
            # connection then holds no parser buffer).
            self._parser = None
            _give_back_parser(self.params, parser)
            parser = None
        if parser is not None and parser.pending() and not self._scheduled:
            # Pipelined bytes: answer them on the next loop iteration, so other
            # connections get a turn between requests.
            self._scheduled = True
            self._loop.call_soon(self._resume)
        elif self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()

    def _input_error(self, e: HTTPInputError) -> None:
        _malformed_log.log("Malformed HTTP message from %s: %s", self.context, e)
        request = self._request
        if request is None or not request._write_started:
            if not self._closing:
                self.transport.write(_error_response(e.code, e.reason))
        self._unread = True  # the rest of the request is not read
        self._close()

    # --- output ---------------------------------------------------------------

    def _send(self, data: bytes) -> asyncio.Future:
        if self._closing:
            f = self._loop.create_future()
            f.set_exception(StreamClosedError())
            f.exception()
            return f
        if self._sender is not None:
            # A file is being sent: this goes out after it.
            f = self._loop.create_future()
            self._out_queue.append((data, f))  # type: ignore[union-attr]
            return f
        self._write_out(data)
        if self._writing_paused:
            f = self._loop.create_future()
            if self._drain_waiters is None:
                self._drain_waiters = [f]
            else:
                self._drain_waiters.append(f)
            return f
        # One finished future per loop serves every write that is not held
        # back (not one per connection).
        global _done_future, _done_future_loop
        f = _done_future
        if f is None or _done_future_loop is not self._loop:
            f = self._loop.create_future()
            f.set_result(None)
            _done_future = f
            _done_future_loop = self._loop
        return f

    def _can_sendfile(self, file: Any) -> bool:
        """Whether write_file can send ``file`` zero-copy on this connection."""
        if getattr(self.transport, "_sendfile_compatible", None) is not _TRY_NATIVE:
            return False  # TLS, or a transport loop.sendfile knows nothing about
        try:
            file.fileno()
        except (AttributeError, OSError, ValueError):
            return False
        return True

    def _file_sent(self, exc: BaseException | None) -> None:
        """Called by the `_FileSender` that was sending once it is done."""
        self._sender = None
        self._sendfile_since = 0.0
        if exc is not None and not self._closing:
            # The body cannot be completed: the connection has to go.
            self._closing = True
            self._file_close = _FILE_ABORT
        queue = self._out_queue
        if self._closing:
            self._out_queue = None
            if queue:
                for item in queue:
                    if type(item) is tuple:
                        f = item[1]
                        if not f.done():
                            f.set_exception(StreamClosedError())
                            f.exception()
                    else:
                        item._done(StreamClosedError(), False)
            how = self._file_close
            self._file_close = _FILE_KEEP
            if self.transport is not None and not self._detached:
                if how == _FILE_CLOSE:
                    self._close_transport()
                else:
                    self.transport.abort()
            return
        # What waited behind the file goes out now, up to the next file.
        while queue and self._sender is None:
            item = queue.pop(0)
            if type(item) is tuple:
                data, f = item
                _chain(self._send(data), f)
            else:
                self._sender = item
                item.start()
        if self._sender is not None:
            return
        if self._file_close == _FILE_CLOSE_AFTER:
            self._file_close = _FILE_KEEP
            self._close()
            return
        if self._reading_paused:
            self.transport.pause_reading()  # loop.sendfile resumes reading after a file
        if self._phase != _HANDLER:
            # Waiting for a request head or body counts from now, not from
            # before the file.
            self._phase_since = self._loop.time()
            self._arm_timer()
            if not self._scheduled:
                self._scheduled = True
                self._loop.call_soon(self._resume)

    # --- closing ----------------------------------------------------------------

    def _close(self) -> None:
        """Close after the buffered output is sent."""
        if not self._closing:
            self._closing = True
            if self._sender is not None:
                # A file is being sent: stop it first (loop.sendfile must let
                # go of the socket before the transport closes it).
                self._file_close = _FILE_CLOSE
                self._sender.stop()
                return
            self._close_transport()

    def _close_transport(self) -> None:
        """Close the transport once its output is out; linger if the request is not all read.

        Lingering: see `_LINGER_TIME`. Only where input remains (an input
        error, an answer before the end of the body, bytes received and not
        parsed) and the peer has not closed its side; a connection closed
        between requests closes at once.
        """
        transport = self.transport
        parser = self._parser
        if (not self._peer_eof and not self._detached
                and (self._unread or self._phase == _BODY or self._reading_paused
                     or (parser is not None and (parser.in_message or parser.pending())))
                and self._linger()):
            return
        transport.close()

    def _linger(self) -> bool:
        """Half-close and start discarding input; False where that is not possible."""
        transport = self.transport
        try:
            if not transport.can_write_eof():
                return False  # TLS
        except (AttributeError, NotImplementedError):
            return False
        if len(_lingering) >= _MAX_LINGERING:
            # (Forget connections whose loop was closed while they lingered.)
            for proto in list(_lingering):  # (a copy: another thread's loop may change it)
                if proto._loop.is_closed():
                    _lingering.discard(proto)
            if len(_lingering) >= _MAX_LINGERING:
                return False
        try:
            transport.write_eof()
        except (OSError, RuntimeError):
            return False
        _lingering.add(self)
        self._linger_left = _LINGER_BYTES
        self._linger_timer = self._loop.call_later(_LINGER_TIME, self._linger_end)
        if self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()
        parser = self._parser
        if parser is not None:
            self._parser = None  # its buffer is not needed any more
        return True

    def _linger_end(self) -> None:
        """The lingering is over (time, or bytes): close."""
        timer = self._linger_timer
        if timer is None:
            return
        self._linger_timer = None
        timer.cancel()
        _lingering.discard(self)
        self.transport.close()

    def _abort(self) -> None:
        """Close now, dropping buffered output."""
        if not self._closing:
            self._closing = True
        if self._sender is not None:
            self._file_close = _FILE_ABORT
            self._sender.stop()
            return
        if self.transport is not None and not self._detached:
            self.transport.abort()

    def close(self) -> None:
        """Close the connection (Tornado's ``HTTP1ServerConnection.close``)."""
        self._close()

    def _detach(self) -> Any:
        if self._detached:
            return self.transport
        self._detached = True
        self._closing = True
        self._request = None
        self._delegate = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            self._server.on_close(self)
        except Exception:
            app_log.error("Uncaught exception in on_close", exc_info=True)
        return self.transport

    # --- timeouts -----------------------------------------------------------------

    def _deadline(self) -> float:
        """When the current phase times out (0 for never)."""
        if self._sendfile_since:
            # A zero-copy slice of a file (see _FileSender) being sent.
            return self._sendfile_since + self.params.header_timeout
        if self._writing_paused:
            return self._paused_since + self.params.header_timeout
        if self._sender is not None:
            return 0.0  # a file is going out; _file_sent re-arms the timer
        phase = self._phase
        if phase == _IDLE:
            return self._phase_since + self.params.header_timeout
        if phase == _BODY and not self._waiting:
            d = self._phase_since + self.params.header_timeout
            if self._body_timeout:
                d = min(d, self._body_deadline + self._body_timeout)
            return d
        return 0.0

    def _arm_timer(self) -> None:
        if self._closing or not self.params.header_timeout:
            return
        if self._timer is not None:
            return
        d = self._deadline()
        if d:
            self._timer = self._loop.call_at(d, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._closing:
            return
        d = self._deadline()
        if not d:
            return
        if self._loop.time() < d:
            self._timer = self._loop.call_at(d, self._on_timer)
            return
        if self._writing_paused or self._sendfile_since:
            _timeout_log.log("Timeout writing to %s", self.context)
            self._abort()
        elif self._phase == _IDLE:
            if self._parser is not None and self._parser.in_message:
                _timeout_log.log("Timeout reading request head from %s", self.context)
                self.transport.write(_error_response(408, "Request Timeout"))
                self._unread = True
            self._close()
        else:
            _timeout_log.log("Timeout reading body from %s", self.context)
            request = self._request
            if request is not None and not request._write_started:
                self.transport.write(_error_response(408, "Request Timeout"))
            self._unread = True
            self._close()
