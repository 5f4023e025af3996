"""Non-blocking streams over sockets and pipes (Tornado's ``tornado.iostream``).

An `IOStream` wraps a non-blocking socket and offers reads that complete
when a condition is met (a byte count, a delimiter, a regex, the peer
closing) and writes that complete when the data has left the buffer::

    import socket
    from embedtornado.iostream import IOStream
    from embedtornado.ioloop import IOLoop

    async def main():
        stream = IOStream(socket.socket())
        await stream.connect(("example.com", 80))
        await stream.write(b"GET / HTTP/1.0\\r\\nHost: example.com\\r\\n\\r\\n")
        head = await stream.read_until(b"\\r\\n\\r\\n", max_bytes=65536)
        body = await stream.read_until_close()
        stream.close()

    IOLoop.current().run_sync(main)

Streams are driven by the asyncio loop's fd readiness (``add_reader`` /
``add_writer``), so they run on embedtornado's compiled loop and on the
standard library's loop alike.

Every buffer a peer can fill is bounded: reads fail with
`StreamBufferFullError` (and the stream closes) once more than
``max_buffer_size`` bytes (100 MiB by default) would have to be held, and
`read_until` / `read_until_regex` close the stream (``real_error`` is an
`UnsatisfiableReadError`) when the delimiter is not found within
``max_bytes``. Writes beyond
``max_write_buffer_size`` raise `StreamBufferFullError` at once.

.. note:: embedtornado differs from Tornado 6.6.1: the HTTP server does not
   run on ``IOStream`` but on an asyncio protocol fed straight from the
   event loop; streams serve `TCPServer.handle_stream` subclasses, the HTTP
   client, `TCPClient` and `process.Subprocess`.
"""

from __future__ import annotations

import errno
import numbers
import os
import re
import socket
import ssl
import sys
from collections import deque
from typing import Any

from embedtornado import netutil
from embedtornado.concurrent import (
    Future,
    future_set_exception_unless_cancelled,
    future_set_result_unless_cancelled,
)
from embedtornado.ioloop import IOLoop
from embedtornado.log import gen_log

__all__ = [
    "BaseIOStream",
    "IOStream",
    "PipeIOStream",
    "SSLIOStream",
    "StreamBufferFullError",
    "StreamClosedError",
    "UnsatisfiableReadError",
]

_DEFAULT_MAX_BUFFER_SIZE = 104857600  # 100 MiB, as Tornado
_DEFAULT_READ_CHUNK_SIZE = 65536

# Errors that mean "the peer went away": they close the stream quietly.
_ERRNO_CONNRESET = (errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT)
_ERRNO_INPROGRESS = (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN)


class StreamClosedError(IOError):
    """The stream was closed while an operation was pending.

    ``real_error`` holds the exception that closed it, if any.
    """

    def __init__(self, real_error: BaseException | None = None) -> None:
        super().__init__("Stream is closed")
        self.real_error = real_error


class UnsatisfiableReadError(Exception):
    """A read cannot be satisfied, e.g. a delimiter was not found within ``max_bytes``."""


class StreamBufferFullError(Exception):
    """A buffer grew past its configured limit."""


def _is_connreset(exc: BaseException) -> bool:
    return isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)) or (
        isinstance(exc, OSError) and exc.errno in _ERRNO_CONNRESET
    )


# Kinds of pending read.
_R_BYTES, _R_UNTIL, _R_REGEX, _R_CLOSE, _R_INTO = range(5)


class BaseIOStream:
    """A stream over one file descriptor; subclasses say how to read and write it.

    Subclasses implement `fileno`, `close_fd`, `read_from_fd`, `write_to_fd`
    and may implement `get_fd_error`.

    Only one read may be pending at a time; writes may be issued freely and
    are sent in order. Each read and write method returns a `.Future`.

    :arg max_buffer_size: the most bytes held for reads (default 100 MiB).
    :arg read_chunk_size: how many bytes to ask the fd for at once (64 KiB).
    :arg max_write_buffer_size: the most unsent bytes `write` accepts
        (default: no limit, as Tornado).
    """

    def __init__(
        self,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
        max_write_buffer_size: int | None = None,
    ) -> None:
        self.io_loop = IOLoop.current()
        self._loop = self.io_loop.asyncio_loop
        self.max_buffer_size = max_buffer_size or _DEFAULT_MAX_BUFFER_SIZE
        # The chunk size never exceeds the buffer limit (Tornado does the same).
        self.read_chunk_size = min(read_chunk_size or _DEFAULT_READ_CHUNK_SIZE,
                                   self.max_buffer_size // 2 or 1)
        self.max_write_buffer_size = max_write_buffer_size
        #: The exception that closed the stream, if any.
        self.error: BaseException | None = None
        self._read_buffer = bytearray()
        self._scratch = bytearray(self.read_chunk_size)
        self._read_future: Future[Any] | None = None
        self._read_kind = -1
        self._read_arg: Any = None
        self._read_partial = False
        self._read_max_bytes: int | None = None
        self._into_filled = 0  # bytes a pending read_into has received so far
        self._scan_from = 0  # a pending read_until's delimiter is not before this
        self._write_buffer = bytearray()
        self._write_pos = 0
        self._total_written = 0  # bytes handed to write() so far
        self._total_sent = 0  # bytes that reached the fd so far
        self._write_futures: deque[tuple[int, Future[None]]] = deque()
        self._connect_future: Future[Any] | None = None
        self._connecting = False
        self._close_callback: Any = None
        self._closed = False
        self._reader_on = False
        self._writer_on = False
        self._fd_registered: int | None = None
        # Set once the fd has been watched (a read or write that had to wait,
        # a connect, a handshake, a close callback): from then on an idle
        # stream watches for reads, as Tornado's does.
        self._watched = False

    # -- what subclasses provide ------------------------------------------

    def fileno(self) -> Any:
        """Return the file descriptor (or object with ``fileno()``) of this stream."""
        raise NotImplementedError()

    def close_fd(self) -> None:
        """Close the underlying file descriptor."""
        raise NotImplementedError()

    def write_to_fd(self, data: memoryview) -> int:
        """Write what can be written of *data* without blocking; return the count."""
        raise NotImplementedError()

    def read_from_fd(self, buf: bytearray | memoryview) -> int | None:
        """Read into *buf* without blocking.

        Return the number of bytes read, ``0`` at end of file, or ``None``
        when nothing is available right now.
        """
        raise NotImplementedError()

    def get_fd_error(self) -> Exception | None:
        """Return the error pending on the fd, if the platform can tell."""
        return None

    # -- reads ---------------------------------------------------------------

    def read_until_regex(self, regex: bytes, max_bytes: int | None = None) -> Future[bytes]:
        """Read until *regex* matches; the result includes the match.

        If no match is found within *max_bytes*, the stream closes and the
        future fails with `StreamClosedError` whose ``real_error`` is an
        `UnsatisfiableReadError` (as in Tornado).

        :raises StreamClosedError: at once if the stream is closed and the
            buffered data cannot satisfy the read.
        """
        future = self._start_read(_R_REGEX, re.compile(regex))
        self._read_max_bytes = max_bytes
        self._inline_read(future)
        return future

    def read_until(self, delimiter: bytes, max_bytes: int | None = None) -> Future[bytes]:
        """Read until *delimiter*; the result includes it.

        If the delimiter is not found within *max_bytes*, the stream closes
        and the future fails with `StreamClosedError` whose ``real_error``
        is an `UnsatisfiableReadError` (as in Tornado).

        :raises StreamClosedError: at once if the stream is closed and the
            buffered data cannot satisfy the read.
        """
        future = self._start_read(_R_UNTIL, delimiter)
        self._read_max_bytes = max_bytes
        self._inline_read(future)
        return future

    def read_bytes(self, num_bytes: int, partial: bool = False) -> Future[bytes]:
        """Read *num_bytes* bytes; with *partial*, return as soon as any are available.

        :raises StreamClosedError: at once if the stream is closed and the
            buffered data cannot satisfy the read.
        """
        if not isinstance(num_bytes, numbers.Integral) or num_bytes < 0:
            raise ValueError(f"num_bytes must be a non-negative integer, not {num_bytes!r}")
        future = self._start_read(_R_BYTES, int(num_bytes))
        self._read_partial = partial
        self._inline_read(future)
        return future

    def read_into(self, buf: bytearray, partial: bool = False) -> Future[int]:
        """Fill *buf* (a writable buffer); the result is the number of bytes read.

        With *partial*, complete as soon as any bytes are available.

        As in Tornado, bytes already buffered are copied into *buf* at once
        and later bytes are received straight into it, so *buf* holds what
        has arrived so far even if the read then fails. The stream lets go
        of *buf* when the read completes or fails (it may be resized then).

        :raises StreamClosedError: at once if the stream is closed and the
            buffered data cannot satisfy the read.
        """
        future = self._start_read(_R_INTO, None)
        with memoryview(buf) as whole:
            view = whole.cast("B")
        self._read_arg = view
        k = min(len(view), len(self._read_buffer))
        if k:
            with memoryview(self._read_buffer) as src, src[:k] as part:
                view[:k] = part
            del self._read_buffer[:k]
        self._into_filled = k
        self._read_partial = partial
        self._inline_read(future)
        return future

    def read_until_close(self) -> Future[bytes]:
        """Read everything until the peer closes; the result is all of it.

        The data is bounded by ``max_buffer_size``. If the stream closes
        because of an error (other than a connection reset), the future
        fails with `StreamClosedError` rather than returning what was
        buffered, as in Tornado.
        """
        future = self._start_read(_R_CLOSE, None)
        if self._closed:
            self._finish_read(len(self._read_buffer))
            return future
        self._inline_read(future)
        return future

    def _start_read(self, kind: int, arg: Any) -> Future[Any]:
        if self._read_future is not None:
            # As Tornado: a read left pending on a closed stream is reported
            # as StreamClosedError, not as "Already reading".
            self._check_closed()
            raise AssertionError("Already reading")
        self._read_future = self._loop.create_future()
        self._read_kind = kind
        self._read_arg = arg
        self._read_partial = False
        self._read_max_bytes = None
        self._scan_from = 0
        return self._read_future

    def _inline_read(self, future: Future[Any]) -> None:
        """Run `_try_inline_read` for a read just started.

        As in Tornado, an error raised here (a closed stream, a read error)
        propagates to the caller; the read's future then stays pending until
        the stream is closed again, and its exception is marked retrieved.
        """
        try:
            self._try_inline_read()
        except BaseException:
            future.add_done_callback(_retrieve)
            self._release_into()
            raise

    def _try_inline_read(self) -> None:
        """Satisfy the pending read from the buffer, else from the fd, else wait."""
        try:
            pos = self._find_read_pos()
        except UnsatisfiableReadError as e:
            self._fail_unsatisfiable(e)
            return
        if pos is not None:
            self._finish_read(pos)
            return
        self._check_closed()
        try:
            self._read_from_fd_until_satisfied()
        except UnsatisfiableReadError as e:
            self._fail_unsatisfiable(e)
            return
        self._update_io_state()

    def _read_from_fd_until_satisfied(self) -> None:
        """Read while a read is pending and unsatisfied and the fd has data.

        As in Tornado, reading stops at the read's target size (its byte
        count, or ``max_bytes``), and the costlier search for a delimiter or
        regex runs after the first chunk and then each time the buffer has
        doubled, plus once when the fd runs dry: a TLS stream hands over one
        small record per call, and searching after each one would make a
        large `read_until_regex` quadratic.

        Raises what `_read_chunk` raises, and `UnsatisfiableReadError`.
        """
        kind = self._read_kind
        if kind == _R_BYTES:
            target: int | None = self._read_arg
        elif kind == _R_INTO:
            target = len(self._read_arg)
        else:
            target = self._read_max_bytes
        next_find = 0
        while self._read_future is not None and not self._closed:
            if not self._read_chunk():
                break
            size = self._into_filled if kind == _R_INTO else len(self._read_buffer)
            if target is not None and size >= target:
                break
            if size >= next_find:
                pos = self._find_read_pos()
                if pos is not None:
                    self._finish_read(pos)
                    return
                next_find = size * 2
        if self._read_future is not None and not self._closed:
            pos = self._find_read_pos()
            if pos is not None:
                self._finish_read(pos)

    def _read_chunk(self) -> int:
        """Read once from the fd; return the count, 0 when nothing came (or closed).

        A pending `read_into` receives straight into the caller's buffer;
        anything else goes through the stream's buffer. As in Tornado, end
        of file and a connection reset close the stream quietly, while any
        other `OSError` closes it and is raised, and so is
        `StreamBufferFullError` (after logging and closing).
        """
        if self._closed:
            return 0
        into = self._read_future is not None and self._read_kind == _R_INTO
        try:
            while True:
                try:
                    if into:
                        with self._read_arg[self._into_filled:] as view:
                            n = self.read_from_fd(view)
                    else:
                        n = self.read_from_fd(self._scratch)
                    break
                except InterruptedError:
                    continue
        except OSError as e:
            self.close(exc_info=e)
            if self._is_connreset(e):
                return 0
            raise
        if n is None:
            return 0
        if n == 0:
            self.close()
            return 0
        if into:
            self._into_filled += n
            return n
        with memoryview(self._scratch) as scratch, scratch[:n] as part:
            self._read_buffer += part
        if len(self._read_buffer) > self.max_buffer_size:
            gen_log.error("Reached maximum read buffer size")
            error = StreamBufferFullError("Reached maximum read buffer size")
            self.close(exc_info=error)
            raise error
        return n

    def _is_connreset(self, exc: BaseException) -> bool:
        """Return whether *exc* means the peer went away (closed quietly)."""
        return _is_connreset(exc)

    def _find_read_pos(self) -> int | None:
        """Return how many buffered bytes complete the pending read, or None."""
        kind = self._read_kind
        buf = self._read_buffer
        if self._read_future is None:
            return None
        if kind == _R_BYTES:
            want = self._read_arg
            if len(buf) >= want or (self._read_partial and buf):
                return min(want, len(buf))
            return None
        if kind == _R_INTO:
            if self._read_arg is None:
                return None  # released after a failed inline read
            got = self._into_filled
            if got >= len(self._read_arg) or (self._read_partial and got):
                return got
            return None
        if kind == _R_UNTIL:
            delim = self._read_arg
            # Resume where the last search of this read left off.
            loc = buf.find(delim, self._scan_from)
            if loc != -1:
                end = loc + len(delim)
                self._check_max_bytes(end)
                return end
            self._scan_from = max(0, len(buf) - len(delim) + 1)
            self._check_max_bytes(len(buf))
            return None
        if kind == _R_REGEX:
            m = self._read_arg.search(buf)
            if m is not None:
                self._check_max_bytes(m.end())
                return m.end()
            self._check_max_bytes(len(buf))
            return None
        return None  # _R_CLOSE completes only on close

    def _check_max_bytes(self, size: int) -> None:
        max_bytes = self._read_max_bytes
        if max_bytes is not None and size > max_bytes:
            raise UnsatisfiableReadError(
                f"delimiter {self._read_arg!r} not found within {max_bytes} bytes")

    def _release_into(self) -> None:
        """Let go of a `read_into` caller's buffer (so the caller may resize it)."""
        if self._read_kind == _R_INTO and isinstance(self._read_arg, memoryview):
            self._read_arg.release()
            self._read_arg = None
            self._into_filled = 0

    def _finish_read(self, size: int) -> None:
        future, kind = self._read_future, self._read_kind
        if kind == _R_INTO:
            self._release_into()
            result: Any = size
        else:
            if size == len(self._read_buffer):
                result = bytes(self._read_buffer)
            else:
                with memoryview(self._read_buffer) as view, view[:size] as part:
                    result = bytes(part)
            del self._read_buffer[:size]
        self._read_future = None
        self._read_arg = None
        if future is not None:
            future_set_result_unless_cancelled(future, result)
        self._update_io_state()

    def _fail_unsatisfiable(self, exc: UnsatisfiableReadError) -> None:
        # As in Tornado, the read fails with StreamClosedError whose
        # real_error is the UnsatisfiableReadError.
        gen_log.info("Unsatisfiable read, closing connection: %s", exc)
        self.close(exc_info=exc)

    # -- writes --------------------------------------------------------------

    def write(self, data: bytes | memoryview) -> Future[None]:
        """Queue *data* for sending; the future resolves once it has all been sent.

        :raises StreamClosedError: if the stream is closed.
        :raises StreamBufferFullError: if more than ``max_write_buffer_size``
            bytes would be waiting.
        """
        self._check_closed()
        if data:
            pending = len(self._write_buffer) - self._write_pos
            if (self.max_write_buffer_size is not None
                    and pending + len(data) > self.max_write_buffer_size):
                raise StreamBufferFullError("Reached maximum write buffer size")
            self._total_written += len(data)
            sent = 0
            if not self.writing() and self._can_write_now():
                # Nothing queued: send straight from the caller's buffer and
                # keep only what the kernel did not take (saves a copy).
                # Release the views before anything else can see them: an
                # error below keeps this frame alive in self.error's
                # traceback, and a live view would pin the caller's buffer.
                with memoryview(data) as view, view.cast("B") as flat:
                    sent = self._send(flat)
                if sent < 0:  # the stream closed on a write error
                    future0: Future[None] = self._loop.create_future()
                    future0.set_exception(StreamClosedError(real_error=self.error))
                    future0.exception()
                    return future0
                self._total_sent += sent
            if sent < len(data):
                self._write_buffer += data[sent:] if sent else data
        future: Future[None] = self._loop.create_future()
        future.add_done_callback(_retrieve)
        self._write_futures.append((self._total_written, future))
        if not self._connecting:
            self._handle_write()
            self._update_io_state()
        return future

    def _can_write_now(self) -> bool:
        return not self._connecting

    def _send(self, view: memoryview) -> int:
        """Write what the fd takes of *view*; -1 if that closed the stream."""
        while True:
            try:
                return self.write_to_fd(view) or 0
            except InterruptedError:
                continue
            except BlockingIOError:
                return 0
            except Exception as e:
                if not self._is_connreset(e):
                    gen_log.warning("Write error on %s: %s", self._fileno_int(), e)
                self.close(exc_info=e)
                return -1

    def _handle_write(self) -> None:
        while self._write_pos < len(self._write_buffer) and not self._closed:
            with memoryview(self._write_buffer) as whole, whole[self._write_pos:] as rest:
                n = self._send(rest)
            if n < 0:
                return
            if not n:
                break
            self._write_pos += n
            self._total_sent += n
        if self._write_pos >= len(self._write_buffer):
            self._write_buffer = bytearray()
            self._write_pos = 0
        elif self._write_pos > 65536 and self._write_pos * 2 > len(self._write_buffer):
            del self._write_buffer[:self._write_pos]
            self._write_pos = 0
        while self._write_futures and self._write_futures[0][0] <= self._total_sent:
            _, future = self._write_futures.popleft()
            future_set_result_unless_cancelled(future, None)

    # -- state ---------------------------------------------------------------

    def set_close_callback(self, callback: Any) -> None:
        """Call *callback* (no arguments) once the stream closes."""
        self._close_callback = callback
        self._update_io_state()

    def close(self, exc_info: Any = False) -> None:
        """Close the stream.

        :arg exc_info: an exception (or ``True`` for the one being handled)
            to keep in `error` as the reason for closing.
        """
        if not self._closed:
            if exc_info:
                if isinstance(exc_info, tuple):
                    exc_info = exc_info[1]
                elif not isinstance(exc_info, BaseException):
                    exc_info = sys.exc_info()[1]
                if isinstance(exc_info, BaseException):
                    self.error = exc_info
            self._closed = True
            self._unregister()
            self._resolve_read_on_close()
            try:
                self.close_fd()
            except OSError:
                pass
        # As in Tornado, this runs on every call: a read left pending by an
        # inline read that raised is failed by the next close().
        self._signal_closed()

    def _resolve_read_on_close(self) -> None:
        """Complete the pending read if what is buffered satisfies it.

        `read_until_close` returns the buffer when the stream closes cleanly
        or by a connection reset; after any other error it fails (in
        `_signal_closed`), so a body cut short is never passed off as whole.
        """
        if self._read_future is None:
            return
        if self._read_kind == _R_CLOSE:
            if self.error is None or self._is_connreset(self.error):
                self._finish_read(len(self._read_buffer))
            return
        try:
            pos = self._find_read_pos()
        except UnsatisfiableReadError:
            return
        if pos is not None:
            self._finish_read(pos)

    def _signal_closed(self) -> None:
        futures = []
        if self._read_future is not None:
            futures.append(self._read_future)
            self._read_future = None
            self._release_into()
            self._read_arg = None
        futures += [f for _, f in self._write_futures]
        self._write_futures.clear()
        if self._connect_future is not None:
            futures.append(self._connect_future)
            self._connect_future = None
        for future in futures:
            future_set_exception_unless_cancelled(future, StreamClosedError(real_error=self.error))
            # Mark the exception retrieved, as Tornado does, so a future
            # nobody awaits is not logged as "never retrieved".
            if not future.cancelled():
                future.exception()
        self._write_buffer = bytearray()
        self._write_pos = 0
        if self._close_callback is not None:
            cb, self._close_callback = self._close_callback, None
            self.io_loop.add_callback(cb)

    def closed(self) -> bool:
        """Return whether the stream is closed."""
        return self._closed

    def reading(self) -> bool:
        """Return whether a read is pending."""
        return self._read_future is not None

    def writing(self) -> bool:
        """Return whether data is waiting to be written."""
        return self._write_pos < len(self._write_buffer)

    def set_nodelay(self, value: bool) -> None:
        """Set ``TCP_NODELAY`` where that means something (sockets)."""

    def _check_closed(self) -> None:
        if self._closed:
            raise StreamClosedError(real_error=self.error)

    def _fileno_int(self) -> int:
        fd = self.fileno()
        return fd if isinstance(fd, int) else fd.fileno()

    # -- fd readiness --------------------------------------------------------

    def _wants(self) -> tuple[bool, bool]:
        """Return (want readable, want writable) for the current state."""
        if self._closed:
            return False, False
        if self._connecting:
            return False, True
        want_write = self.writing()
        # As Tornado: an idle stream (nothing to write, nothing buffered)
        # watches for reads once its fd has been watched at all, or when a
        # close callback wants to hear of the peer closing. It then reads
        # at most one chunk ahead, and consumes what the TLS layer sends
        # unasked (TLS 1.3 session tickets); left unread, those would make
        # close() reset the connection and lose data still in flight.
        want_read = self._read_future is not None or (
            not want_write and not self._read_buffer
            and (self._watched or self._close_callback is not None))
        return want_read, want_write

    def _update_io_state(self) -> None:
        if self._closed:
            return
        want_read, want_write = self._wants()
        if want_read == self._reader_on and want_write == self._writer_on:
            return
        fd = self._fileno_int()
        self._fd_registered = fd
        self._watched = True
        if want_read and not self._reader_on:
            self._loop.add_reader(fd, self._on_readable)
        elif not want_read and self._reader_on:
            self._loop.remove_reader(fd)
        if want_write and not self._writer_on:
            self._loop.add_writer(fd, self._on_writable)
        elif not want_write and self._writer_on:
            self._loop.remove_writer(fd)
        self._reader_on, self._writer_on = want_read, want_write

    def _unregister(self) -> None:
        fd = self._fd_registered
        if fd is None:
            return
        if self._reader_on:
            self._loop.remove_reader(fd)
        if self._writer_on:
            self._loop.remove_writer(fd)
        self._reader_on = self._writer_on = False
        self._fd_registered = None

    def _on_readable(self) -> None:
        try:
            if self._read_future is not None:
                self._read_from_fd_until_satisfied()
            else:
                # Idle: watch for the peer closing (bounded by max_buffer_size).
                self._read_chunk()
        except UnsatisfiableReadError as e:
            self._fail_unsatisfiable(e)
        except Exception as e:
            # Tornado's wording (its _handle_read); logged once, then closed.
            gen_log.warning("error on read: %s", e)
            self.close(exc_info=e)
        self._update_io_state()

    def _on_writable(self) -> None:
        try:
            if self._connecting:
                self._handle_connect()
            else:
                self._handle_write()
        except Exception:
            gen_log.error("Uncaught exception, closing connection.", exc_info=True)
            self.close(exc_info=True)
        self._update_io_state()

    def _handle_connect(self) -> None:
        raise NotImplementedError()


def _retrieve(future: Future[Any]) -> None:
    """Mark a write future's exception as seen: callers often do not await writes."""
    if not future.cancelled():
        future.exception()


class IOStream(BaseIOStream):
    """A stream over a non-blocking socket.

    The socket may be connected already (a server's accepted socket) or
    not yet, in which case call `connect`::

        stream = IOStream(socket.socket())
        await stream.connect(("127.0.0.1", 8888))
    """

    def __init__(self, socket: socket.socket, *args: Any, **kwargs: Any) -> None:
        self.socket = socket
        self.socket.setblocking(False)
        super().__init__(*args, **kwargs)

    def fileno(self) -> socket.socket:
        return self.socket

    def _fileno_int(self) -> int:
        return self.socket.fileno()

    def close_fd(self) -> None:
        self.socket.close()
        self.socket = None  # type: ignore[assignment]

    def get_fd_error(self) -> Exception | None:
        err = self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        return OSError(err, os.strerror(err)) if err else None

    def read_from_fd(self, buf: bytearray | memoryview) -> int | None:
        try:
            return self.socket.recv_into(buf, len(buf))
        except BlockingIOError:
            return None

    def write_to_fd(self, data: memoryview) -> int:
        return self.socket.send(data)

    def connect(self, address: Any, server_hostname: str | None = None) -> Future[IOStream]:
        """Connect the (not yet connected) socket to *address*.

        The future resolves to this stream once connected, or fails with
        `StreamClosedError` (``real_error`` says why). Writes issued before
        the connection completes are sent once it does.
        """
        self._connecting = True
        future: Future[IOStream] = self._loop.create_future()
        self._connect_future = future
        try:
            self.socket.connect(address)
        except BlockingIOError:
            pass
        except OSError as e:
            if e.errno not in _ERRNO_INPROGRESS:
                # Not logged (as Tornado): the future carries the error.
                self.close(exc_info=e)
                return future
        self._update_io_state()
        return future

    def _handle_connect(self) -> None:
        err = self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.error = OSError(err, os.strerror(err))
            self.close()
            return
        self._connecting = False
        future, self._connect_future = self._connect_future, None
        if future is not None:
            future_set_result_unless_cancelled(future, self)
        self._handle_write()

    def set_nodelay(self, value: bool) -> None:
        if self.socket is not None and self.socket.family in (socket.AF_INET, socket.AF_INET6):
            try:
                self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if value else 0)
            except OSError as e:
                # The peer may have closed already (EINVAL on some systems).
                if e.errno != errno.EINVAL and not _is_connreset(e):
                    raise

    def start_tls(
        self,
        server_side: bool,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> Future[SSLIOStream]:
        """Switch this connection to TLS and return a future `SSLIOStream`.

        This stream must have no reads or writes pending and nothing
        buffered; it is detached (not closed) and must not be used again.
        The future resolves once the handshake has completed.
        """
        if (self._read_future is not None or self.writing() or self._connect_future is not None
                or self._closed or self._read_buffer):
            raise ValueError("IOStream is not idle; cannot convert to SSL")
        if ssl_options is None:
            ssl_options = (netutil._server_ssl_defaults() if server_side
                           else netutil._client_ssl_defaults())
        sock = self.socket
        self._unregister()
        self.socket = None  # type: ignore[assignment]
        self._closed = True  # detached
        self._close_callback = None
        ssl_sock = netutil.ssl_wrap_socket(sock, ssl_options, server_hostname=server_hostname,
                                           server_side=server_side,
                                           do_handshake_on_connect=False)
        new = SSLIOStream(ssl_sock, ssl_options=ssl_options,
                          max_buffer_size=self.max_buffer_size,
                          read_chunk_size=self.read_chunk_size,
                          max_write_buffer_size=self.max_write_buffer_size)
        new._server_hostname = server_hostname
        future: Future[SSLIOStream] = self._loop.create_future()

        def done(f: Future[Any]) -> None:
            if future.done():
                return
            if f.cancelled():
                future.cancel()
            elif f.exception() is not None:
                future.set_exception(f.exception())  # type: ignore[arg-type]
            else:
                future.set_result(new)

        new.wait_for_handshake().add_done_callback(done)
        # A caller that gives up (a timeout) must not leak the new stream.
        future.add_done_callback(lambda f: new.close() if f.cancelled() else None)
        return future


class SSLIOStream(IOStream):
    """An `IOStream` over TLS.

    Give it an `ssl.SSLSocket` made with ``do_handshake_on_connect=False``,
    or a plain socket plus ``ssl_options`` (wrapped on `connect`). Reads and
    writes wait for the handshake; `wait_for_handshake` says when it is done.
    """

    socket: ssl.SSLSocket

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._ssl_options = kwargs.pop("ssl_options", netutil._client_ssl_defaults())
        super().__init__(*args, **kwargs)
        self._handshaking = True
        self._handshake_reading = False
        self._handshake_writing = False
        self._handshake_future: Future[SSLIOStream] | None = None
        self._server_hostname: str | None = None
        try:
            self.socket.getpeername()
        except OSError:
            pass
        else:
            # Already connected (a server's accepted socket): handshake now.
            if isinstance(self.socket, ssl.SSLSocket):
                self._start_handshake()

    def _start_handshake(self) -> None:
        self._handshake_reading = self._handshake_writing = False
        self._do_handshake()
        self._update_io_state()

    def _do_handshake(self) -> None:
        try:
            self.socket.do_handshake()
        except ssl.SSLWantReadError:
            self._handshake_reading, self._handshake_writing = True, False
            return
        except ssl.SSLWantWriteError:
            self._handshake_reading, self._handshake_writing = False, True
            return
        except ssl.SSLError as e:
            # As Tornado: EOF and close_notify during the handshake close
            # quietly; other TLS failures are logged with the peer.
            if e.args[0] not in (ssl.SSL_ERROR_EOF, ssl.SSL_ERROR_ZERO_RETURN):
                try:
                    peer = self.socket.getpeername()
                except Exception:
                    peer = "(not connected)"
                gen_log.warning("SSL Error on %s %s: %s", self._fileno_int(), peer, e)
            self.close(exc_info=e)
            return
        except OSError as e:
            # Port scans can make the handshake fail with EBADF or ENOTCONN
            # (or errno 0); like resets, those close quietly (as Tornado).
            if not (self._is_connreset(e) or e.args[0] in (0, errno.EBADF, errno.ENOTCONN)):
                gen_log.warning("SSL Error on %s: %s", self._fileno_int(), e)
            self.close(exc_info=e)
            return
        self._handshaking = False
        self._handshake_reading = self._handshake_writing = False
        future, self._handshake_future = self._handshake_future, None
        if future is not None:
            future_set_result_unless_cancelled(future, self)
        if self._read_future is not None:
            self._try_inline_read()
        self._handle_write()

    def _wants(self) -> tuple[bool, bool]:
        if not self._closed and not self._connecting and self._handshaking:
            return self._handshake_reading, self._handshake_writing
        return super()._wants()

    def reading(self) -> bool:
        return self._handshake_reading or super().reading()

    def writing(self) -> bool:
        return self._handshake_writing or super().writing()

    def _on_readable(self) -> None:
        if self._handshaking and not self._connecting:
            self._do_handshake()
            self._update_io_state()
            return
        super()._on_readable()

    def _on_writable(self) -> None:
        if self._handshaking and not self._connecting:
            self._do_handshake()
            self._update_io_state()
            return
        super()._on_writable()

    def _try_inline_read(self) -> None:
        if self._handshaking and not self._closed:
            # Serve what is buffered; otherwise wait for the handshake.
            try:
                pos = self._find_read_pos()
            except UnsatisfiableReadError as e:
                self._fail_unsatisfiable(e)
                return
            if pos is not None:
                self._finish_read(pos)
            return
        super()._try_inline_read()

    def _handle_write(self) -> None:
        if self._handshaking:
            return
        super()._handle_write()

    def _can_write_now(self) -> bool:
        return not self._handshaking and not self._connecting

    def connect(  # type: ignore[override]
        self, address: Any, server_hostname: str | None = None
    ) -> Future[SSLIOStream]:
        """Connect, then do the TLS handshake; resolves once both are done."""
        self._server_hostname = server_hostname
        # Wrap after the TCP connection is up (see _handle_connect).
        fut = super().connect(address)
        handshake = self.wait_for_handshake()
        fut.add_done_callback(_retrieve)
        return handshake

    def _handle_connect(self) -> None:
        err = self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.error = OSError(err, os.strerror(err))
            self.close()
            return
        self._connecting = False
        fut, self._connect_future = self._connect_future, None
        if not isinstance(self.socket, ssl.SSLSocket):
            plain = self.socket
            try:
                self.socket = netutil.ssl_wrap_socket(  # type: ignore[assignment]
                    plain, self._ssl_options, server_hostname=self._server_hostname,
                    do_handshake_on_connect=False, server_side=False)
            except Exception as e:
                self.socket = plain  # type: ignore[assignment]
                self.close(exc_info=e)
                return
        if fut is not None:
            future_set_result_unless_cancelled(fut, self)
        self._start_handshake()

    def wait_for_handshake(self) -> Future[SSLIOStream]:
        """Return a future resolved (to this stream) once the TLS handshake is done.

        If the handshake fails, the future fails with the error that closed
        the stream (an `ssl.SSLError`, for instance).
        """
        if self._handshake_future is not None:
            raise RuntimeError("Already waiting")
        future: Future[SSLIOStream] = self._loop.create_future()
        if self._closed:
            future.set_exception(StreamClosedError(real_error=self.error))
            future.exception()
        elif not self._handshaking:
            future.set_result(self)
        else:
            self._handshake_future = future
        return future

    def _signal_closed(self) -> None:
        future, self._handshake_future = self._handshake_future, None
        super()._signal_closed()
        if future is not None and not future.done():
            # As in Tornado, a failed handshake reports the real error
            # (typically an ssl.SSLError), not StreamClosedError.
            future.set_exception(self.error if self.error is not None else StreamClosedError())
            future.exception()

    def read_from_fd(self, buf: bytearray | memoryview) -> int | None:
        if self._handshaking:
            return None
        try:
            return self.socket.recv_into(buf, len(buf))
        except ssl.SSLWantReadError:
            return None
        except ssl.SSLWantWriteError:
            return None
        except BlockingIOError:
            return None

    def _is_connreset(self, exc: BaseException) -> bool:
        # As Tornado: a TLS peer that goes away without close_notify (an
        # SSL EOF) is a reset, closed quietly, not an error to log.
        return isinstance(exc, ssl.SSLEOFError) or super()._is_connreset(exc)

    def write_to_fd(self, data: memoryview) -> int:
        try:
            return self.socket.send(data)
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
            return 0

    def close_fd(self) -> None:
        sock = self.socket
        if sock is not None:
            sock.close()
        self.socket = None  # type: ignore[assignment]

    def set_nodelay(self, value: bool) -> None:
        super().set_nodelay(value)


class PipeIOStream(BaseIOStream):
    """A stream over a pipe (or any fd that ``os.read``/``os.write`` can use).

    The fd is made non-blocking and is closed with the stream::

        r, w = os.pipe()
        reader, writer = PipeIOStream(r), PipeIOStream(w)
        await writer.write(b"hello\\n")
        line = await reader.read_until(b"\\n")
    """

    def __init__(self, fd: int, *args: Any, **kwargs: Any) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        super().__init__(*args, **kwargs)

    def fileno(self) -> int:
        return self.fd

    def _fileno_int(self) -> int:
        return self.fd

    def close_fd(self) -> None:
        os.close(self.fd)

    def write_to_fd(self, data: memoryview) -> int:
        try:
            return os.write(self.fd, data)
        except BlockingIOError:
            return 0

    def read_from_fd(self, buf: bytearray | memoryview) -> int | None:
        try:
            return os.readv(self.fd, [buf])
        except BlockingIOError:
            return None

