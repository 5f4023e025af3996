# Stream socket transports (TCP and Unix), included by loop.pyx.
#
# `SocketTransport` implements `asyncio.Transport` as asyncio's selector
# transport does, with the loop's C dispatch instead of Handles: reads go
# straight from ``recv`` into ``data_received`` (or a BufferedProtocol's
# buffer), a write is sent at once when nothing is queued, and what the
# kernel did not take is queued and flushed on EPOLLOUT with one ``sendmsg``
# of many buffers.

from libc.string cimport memset
from posix.types cimport off_t

cdef extern from "<sys/sendfile.h>" nogil:
    ssize_t _c_sendfile "sendfile" (int out_fd, int in_fd, off_t *offset, size_t count)

cdef extern from "<unistd.h>" nogil:
    off_t _c_lseek "lseek" (int fd, off_t offset, int whence)
    enum:
        SEEK_SET

cdef extern from "<errno.h>" nogil:
    enum:
        ENOTCONN

cdef object _TransportSocket = _trsock.TransportSocket
cdef Py_ssize_t _LOG_THRESHOLD_FOR_CONNLOST_WRITES = _constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES

cdef enum:
    _IOV_BATCH = 64

#: Most bytes one ``sendfile(2)`` call is asked for, so that one connection
#: taking a large file gives the others a turn (nginx's sendfile_max_chunk).
cdef size_t _SENDFILE_MAX_CHUNK = 2 * 1024 * 1024

cdef object _SendfileNotAvailableError = asyncio.SendfileNotAvailableError

# asyncio.Server's _attach/_detach take the transport from Python 3.13 on.
cdef bint _ATTACH_TAKES_TRANSPORT = (
    asyncio.base_events.Server._attach.__code__.co_argcount > 1)


cdef enum:
    # Largest write() kept back for the end of the loop iteration.
    _DEFER_MAX = 16384


cdef object _oserror(int err):
    # OSError's constructor picks the subclass (ConnectionResetError ...).
    return OSError(err, os.strerror(err))


cdef class SocketTransport(NativeIO):
    """An `asyncio.Transport` over a connected stream socket.

    Created by the loop (`create_connection`, `create_server`,
    `connect_accepted_socket` ...); never instantiate it directly.
    """

    cdef:
        readonly LoopBase _loop
        object _sock
        int _fd
        object _protocol
        object _data_received
        object _get_buffer
        object _buffer_updated
        bint _buffered
        dict _extra
        object _server
        list _wbuf
        Py_ssize_t _wbuf_off
        Py_ssize_t _wsize
        Py_ssize_t _high
        Py_ssize_t _low
        bint _closing
        bint _eof
        bint _paused
        bint _started
        bint _reading
        bint _writing
        bint _deferred
        bint _protocol_connected
        public bint _protocol_paused
        int _conn_lost
        public object _empty_waiter
        # A native sendfile in progress (see _sendfile_start): its future,
        # the file (kept alive) and its fd, the next offset, the bytes
        # still wanted (-1: up to EOF) and sent, and whether reading
        # resumes afterwards.
        object _sf_fut
        object _sf_file
        int _sf_in
        off_t _sf_offset
        int64_t _sf_left
        int64_t _sf_total
        bint _sf_resume
        object __weakref__

    _start_tls_compatible = True
    _sendfile_compatible = _constants._SendfileMode.TRY_NATIVE

    def __init__(self):
        raise TypeError("transports are created by the event loop")

    def __repr__(self):
        info = [self.__class__.__name__]
        if self._sock is None:
            info.append("closed")
        elif self._closing:
            info.append("closing")
        info.append(f"fd={self._fd}")
        if self._sock is not None:
            info.append("read=" + ("polling" if self._reading else "idle"))
            info.append("write=<%s, bufsize=%d>" % ("polling" if self._writing else "idle",
                                                  self._wsize))
        return "<{}>".format(" ".join(info))

    def __del__(self):
        if self._sock is not None:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            self._sock.close()
            self._sock = None

    # -- protocol ------------------------------------------------------

    def set_protocol(self, protocol):
        """Switch the protocol that receives this transport's events."""
        if isinstance(protocol, _BufferedProtocol):
            self._buffered = True
            self._get_buffer = protocol.get_buffer
            self._buffer_updated = protocol.buffer_updated
            self._data_received = None
        else:
            self._buffered = False
            self._get_buffer = None
            self._buffer_updated = None
            self._data_received = protocol.data_received
        self._protocol = protocol
        self._protocol_connected = True

    def get_protocol(self):
        """Return the current protocol."""
        return self._protocol

    def get_extra_info(self, name, default=None):
        """Return transport information: ``socket``, ``sockname``, ``peername`` ..."""
        if name == "socket" and "socket" not in self._extra and self._sock is not None:
            self._extra["socket"] = _TransportSocket(self._sock)
        return self._extra.get(name, default)

    def is_closing(self):
        """Return True once the transport is closing or closed."""
        return self._closing

    def _start(self, waiter):
        # asyncio schedules connection_made, then start reading, then the
        # waiter; one callback does the three, in that order.
        self._started = True
        try:
            self._protocol.connection_made(self)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop._report(
                f"Exception in callback {type(self._protocol).__name__}.connection_made({self!r})",
                exc, {"transport": self, "protocol": self._protocol})
        if not self._paused and not self._closing:
            self._start_reading()
        if waiter is not None and not waiter.cancelled():
            waiter.set_result(None)

    # -- reading -------------------------------------------------------

    cdef int _start_reading(self) except -1:
        if self._reading or self._sock is None:
            return 0
        self._reading = True
        self._loop._set_native(self._fd, self, True, self._writing)
        return 0

    cdef int _stop_reading(self) except -1:
        if not self._reading:
            return 0
        self._reading = False
        if self._sock is not None:
            self._loop._set_native(self._fd, self, False, self._writing)
        return 0

    def is_reading(self):
        """Return True if the transport is receiving (not paused, not closing)."""
        return not self._paused and not self._closing

    def pause_reading(self):
        """Stop calling the protocol's ``data_received`` until `resume_reading`."""
        if self._closing or self._paused:
            return
        self._paused = True
        self._stop_reading()
        if self._loop._debug_flag:
            logger.debug("%r pauses reading", self)

    def resume_reading(self):
        """Resume receiving after `pause_reading`."""
        if self._closing or not self._paused:
            return
        self._paused = False
        if self._started:
            self._start_reading()
        if self._loop._debug_flag:
            logger.debug("%r resumes reading", self)

    cdef int _on_read(self) except -1:
        # One recv per readiness event, level-triggered on purpose: edge mode
        # (LoopBase.set_edge_triggered) would force a drain to EAGAIN, one
        # extra recv per event, to save epoll_ctl calls this path hardly makes
        # (measured: ~2 per connection, ADD and DEL, over 61k keep-alive
        # requests on 50 connections; 30 in 4,400 echo round trips).
        cdef ssize_t n
        cdef int err
        if self._buffered:
            return self._read_buffered()
        n = recv(self._fd, self._loop._rbuf, READ_BUF_SIZE, 0)
        if n > 0:
            data = PyBytes_FromStringAndSize(self._loop._rbuf, n)
            try:
                self._data_received(data)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal error: protocol.data_received() call failed.")
            return 0
        if n == 0:
            return self._on_eof()
        err = errno
        if err == EAGAIN or err == EINTR:
            return 0
        self._fatal_error(_oserror(err), "Fatal read error on socket transport")
        return 0

    cdef int _read_buffered(self) except -1:
        cdef Py_buffer view
        cdef ssize_t n
        cdef int err = 0
        try:
            buf = self._get_buffer(-1)
            if not len(buf):
                raise RuntimeError("get_buffer() returned an empty buffer")
            PyObject_GetBuffer(buf, &view, PyBUF_WRITABLE)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.get_buffer() call failed.")
            return 0
        n = recv(self._fd, view.buf, <size_t>view.len, 0)
        if n < 0:
            err = errno
        PyBuffer_Release(&view)
        if n < 0:
            if err == EAGAIN or err == EINTR:
                return 0
            self._fatal_error(_oserror(err), "Fatal read error on socket transport")
            return 0
        if n == 0:
            return self._on_eof()
        try:
            self._buffer_updated(n)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.buffer_updated() call failed.")
        return 0

    cdef int _on_eof(self) except -1:
        if self._loop._debug_flag:
            logger.debug("%r received EOF", self)
        try:
            keep_open = self._protocol.eof_received()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.eof_received() call failed.")
            return 0
        if keep_open:
            # We're keeping the connection open so the protocol can write
            # more, but we still can't receive more, so remove the reader.
            self._stop_reading()
        else:
            self.close()
        return 0

    # -- writing -------------------------------------------------------

    def write(self, data):
        """Send *data* (bytes-like): at once if possible, else buffered."""
        cdef Py_buffer view
        cdef ssize_t n
        cdef int err
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be a bytes-like object, "
                            f"not {type(data).__name__!r}")
        if self._eof:
            raise RuntimeError("Cannot call write() after write_eof()")
        if self._empty_waiter is not None or self._sf_fut is not None:
            raise RuntimeError("unable to write; sendfile is in progress")
        if not data:
            return
        if self._conn_lost:
            if self._conn_lost >= _LOG_THRESHOLD_FOR_CONNLOST_WRITES:
                logger.warning("socket.send() raised exception.")
            self._conn_lost += 1
            return
        if self._deferred:
            self._flush()  # what _write_batched kept goes first
        if len(self._wbuf) == 0:
            PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
            try:
                n = send(self._fd, view.buf, <size_t>view.len, MSG_NOSIGNAL)
                if n < 0:
                    err = errno
                    if err == EAGAIN or err == EINTR:
                        n = 0
                    else:
                        self._fatal_error(_oserror(err), "Fatal write error on socket transport")
                        return
                if n == view.len:
                    return
                if type(data) is bytes:
                    self._wbuf.append(data)
                    self._wbuf_off = n
                else:
                    self._wbuf.append(PyBytes_FromStringAndSize(<char *>view.buf + n,
                                                                view.len - n))
                    self._wbuf_off = 0
                self._wsize = view.len - n
            finally:
                PyBuffer_Release(&view)
            self._start_writing()
        else:
            if type(data) is not bytes:
                data = bytes(data)
            self._wbuf.append(data)
            self._wsize += PyBytes_GET_SIZE(data)
        self._maybe_pause_protocol()

    def _write_batched(self, data):
        """`write`, except that from a loop callback small writes wait for the end of the iteration.

        Not in asyncio: the HTTP server writes its responses with it. Bytes
        written this way during one loop iteration, up to 16 KiB (and the
        high-water mark), leave in one send at the end of the iteration,
        after every callback of the batch, so the peer is woken once per
        batch rather than once per response. Anything else goes through
        `write` (after what was kept, in order).
        """
        cdef Py_ssize_t n
        if (type(data) is bytes and self._loop._deferring and not self._writing
                and not self._eof and not self._conn_lost and self._sock is not None
                and self._empty_waiter is None and self._sf_fut is None
                and (self._deferred or len(self._wbuf) == 0)):
            n = PyBytes_GET_SIZE(data)
            if n and self._wsize + n <= min(<Py_ssize_t>_DEFER_MAX, self._high):
                if not self._deferred:
                    self._deferred = True
                    self._wbuf_off = 0
                    self._loop._flushq.append(self)
                self._wbuf.append(data)
                self._wsize += n
                return
        if self._deferred:
            self._flush()
        self.write(data)

    def _send_now(self):
        """Send what `_write_batched` kept back for the end of this iteration now.

        Not in asyncio; the HTTP server calls it for an explicit flush.
        """
        self._flush()

    cdef int _flush(self) except -1:
        # Send what _write_batched kept; what the socket does not take now
        # waits for EPOLLOUT as usual.
        if not self._deferred:
            return 0
        self._deferred = False
        if len(self._wbuf) == 0 or self._writing or self._sock is None:
            return 0
        self._on_write()
        if len(self._wbuf):
            self._start_writing()
        return 0

    def writelines(self, list_of_data):
        """Write the buffers of *list_of_data* in order, with one vectored send when idle.

        Equivalent to ``write(b"".join(list_of_data))`` without the copy.
        """
        cdef list bufs = []
        cdef Py_ssize_t total = 0
        for data in list_of_data:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(f"data argument must be a bytes-like object, "
                                f"not {type(data).__name__!r}")
            if type(data) is not bytes:
                data = bytes(data)
            if PyBytes_GET_SIZE(data):
                bufs.append(data)
                total += PyBytes_GET_SIZE(data)
        if self._eof:
            raise RuntimeError("Cannot call write() after write_eof()")
        if self._empty_waiter is not None or self._sf_fut is not None:
            raise RuntimeError("unable to write; sendfile is in progress")
        if not total:
            return
        if self._conn_lost:
            if self._conn_lost >= _LOG_THRESHOLD_FOR_CONNLOST_WRITES:
                logger.warning("socket.send() raised exception.")
            self._conn_lost += 1
            return
        if self._deferred:
            self._flush()  # what _write_batched kept goes first
        if len(self._wbuf) == 0:
            self._wbuf.extend(bufs)
            self._wbuf_off = 0
            self._wsize = total
            self._on_write()
            if len(self._wbuf) == 0:
                return
            self._start_writing()
        else:
            self._wbuf.extend(bufs)
            self._wsize += total
        self._maybe_pause_protocol()

    cdef int _start_writing(self) except -1:
        if self._writing or self._sock is None:
            return 0
        self._writing = True
        self._loop._set_native(self._fd, self, self._reading, True)
        return 0

    cdef int _stop_writing(self) except -1:
        if not self._writing:
            return 0
        self._writing = False
        if self._sock is not None:
            self._loop._set_native(self._fd, self, self._reading, False)
        return 0

    cdef ssize_t _send_wbuf(self):
        # One sendmsg() of the head of the buffer; its result (errno set on -1).
        cdef iovec iov[_IOV_BATCH]
        cdef msghdr msg
        cdef Py_ssize_t cnt, i
        cdef list wbuf = self._wbuf
        cnt = len(wbuf)
        if cnt == 1:
            # One buffer (the usual response): send(2) spares the kernel
            # copying in a msghdr and an iovec.
            b = wbuf[0]
            return send(self._fd, PyBytes_AS_STRING(b) + self._wbuf_off,
                        <size_t>(PyBytes_GET_SIZE(b) - self._wbuf_off), MSG_NOSIGNAL)
        if cnt > _IOV_BATCH:
            cnt = _IOV_BATCH
        for i in range(cnt):
            b = wbuf[i]
            if i == 0:
                iov[i].iov_base = PyBytes_AS_STRING(b) + self._wbuf_off
                iov[i].iov_len = <size_t>(PyBytes_GET_SIZE(b) - self._wbuf_off)
            else:
                iov[i].iov_base = PyBytes_AS_STRING(b)
                iov[i].iov_len = <size_t>PyBytes_GET_SIZE(b)
        memset(&msg, 0, sizeof(msg))
        msg.msg_iov = iov
        msg.msg_iovlen = <size_t>cnt
        return sendmsg(self._fd, &msg, MSG_NOSIGNAL)

    cdef int _on_write(self) except -1:
        cdef Py_ssize_t i, size
        cdef ssize_t n
        cdef int err
        cdef list wbuf = self._wbuf
        if self._conn_lost:
            return 0
        if len(wbuf) == 0 and self._sf_fut is not None:
            return self._sendfile_step()
        n = self._send_wbuf()
        if n < 0:
            err = errno
            if err == EAGAIN or err == EINTR:
                return 0
            self._stop_writing()
            wbuf.clear()
            self._wsize = 0
            exc = _oserror(err)
            if self._sf_fut is not None:
                # The buffer ahead of a sendfile could not be sent.
                self._sendfile_done(exc)
            self._fatal_error(exc, "Fatal write error on socket transport")
            if self._empty_waiter is not None and not self._empty_waiter.done():
                self._empty_waiter.set_exception(exc)
            return 0
        self._wsize -= n
        i = 0
        while n > 0:
            size = PyBytes_GET_SIZE(wbuf[i]) - self._wbuf_off
            if n >= size:
                n -= size
                self._wbuf_off = 0
                i += 1
            else:
                self._wbuf_off += n
                n = 0
        if i:
            del wbuf[:i]
        self._maybe_resume_protocol()  # May append to the buffer.
        if len(wbuf) == 0:
            if self._sf_fut is not None:
                # The buffer ahead of a sendfile is out: the file follows.
                return self._sendfile_step()
            self._stop_writing()
            if self._empty_waiter is not None:
                self._empty_waiter.set_result(None)
            if self._closing:
                self._call_connection_lost(None)
            elif self._eof:
                self._sock.shutdown(_socket.SHUT_WR)
        return 0

    def can_write_eof(self):
        """Return True: stream sockets support `write_eof`."""
        return True

    def write_eof(self):
        """Shut down the sending side once the buffer is flushed."""
        if self._closing or self._eof:
            return
        self._eof = True
        if len(self._wbuf) == 0:
            self._sock.shutdown(_socket.SHUT_WR)

    def get_write_buffer_size(self):
        """Return the number of bytes queued for sending."""
        return self._wsize

    def get_write_buffer_limits(self):
        """Return the ``(low, high)`` write buffer water marks."""
        return (self._low, self._high)

    def set_write_buffer_limits(self, high=None, low=None):
        """Set the water marks for ``pause_writing``/``resume_writing``.

        :arg high: pause the protocol above this many queued bytes
            (default 64 KiB, or ``4 * low``).
        :arg low: resume it at or below this (default ``high // 4``).
        """
        if high is None:
            if low is None:
                high = 64 * 1024
            else:
                high = 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high = high
        self._low = low
        self._maybe_pause_protocol()

    cdef int _maybe_pause_protocol(self) except -1:
        if self._wsize <= self._high:
            return 0
        if not self._protocol_paused:
            self._protocol_paused = True
            try:
                self._protocol.pause_writing()
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._loop.call_exception_handler({
                    "message": "protocol.pause_writing() failed",
                    "exception": exc,
                    "transport": self,
                    "protocol": self._protocol,
                })
        return 0

    cdef int _maybe_resume_protocol(self) except -1:
        if self._protocol_paused and self._wsize <= self._low:
            self._protocol_paused = False
            try:
                self._protocol.resume_writing()
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._loop.call_exception_handler({
                    "message": "protocol.resume_writing() failed",
                    "exception": exc,
                    "transport": self,
                    "protocol": self._protocol,
                })
        return 0

    # -- closing -------------------------------------------------------

    def close(self):
        """Close after the buffer is flushed; ``connection_lost(None)`` follows."""
        if self._closing:
            return
        self._closing = True
        self._stop_reading()
        if self._sf_fut is not None:
            self._sendfile_done(ConnectionError("the transport was closed during sendfile"))
        if len(self._wbuf) == 0:
            self._conn_lost += 1
            self._stop_writing()
            self._loop._call_soon(self._call_connection_lost, (None,), None)

    def abort(self):
        """Close at once, dropping buffered data."""
        self._force_close(None)

    def _fatal_error(self, exc, message="Fatal error on transport"):
        # Should be called from exception handler only.
        if isinstance(exc, OSError):
            if self._loop._debug_flag:
                logger.debug("%r: %s", self, message, exc_info=True)
        else:
            self._loop.call_exception_handler({
                "message": message,
                "exception": exc,
                "transport": self,
                "protocol": self._protocol,
            })
        self._force_close(exc)

    def _force_close(self, exc):
        if self._conn_lost:
            return
        if self._deferred:
            # What _write_batched kept for the end of this loop iteration
            # gets the one send that write() would have tried at once.
            self._deferred = False
            if self._sock is not None and len(self._wbuf):
                self._send_wbuf()
        if self._sf_fut is not None:
            self._sendfile_done(ConnectionError("the transport was closed during sendfile"))
        if len(self._wbuf):
            self._wbuf.clear()
            self._wsize = 0
            self._stop_writing()
        if not self._closing:
            self._closing = True
            self._stop_reading()
        self._conn_lost += 1
        self._loop._call_soon(self._call_connection_lost, (exc,), None)

    def _call_connection_lost(self, exc):
        try:
            if self._protocol_connected:
                self._protocol.connection_lost(exc)
        finally:
            # Later writes are dropped (never sent to a reused fd number).
            if not self._conn_lost:
                self._conn_lost = 1
            if self._sock is not None:
                self._loop._forget_fd(self._fd)
                self._reading = False
                self._writing = False
                self._sock.close()
                self._sock = None
            self._protocol = None
            self._data_received = None
            self._get_buffer = None
            self._buffer_updated = None
            server = self._server
            if server is not None:
                if _ATTACH_TAKES_TRANSPORT:
                    server._detach(self)
                else:
                    server._detach()
                self._server = None

    # -- native sendfile (loop.sendfile) ---------------------------------
    #
    # What asyncio's selector loop does in _sendfile_native and
    # sock_sendfile, without the coroutines: reading pauses, the write
    # buffer drains first (through _on_write), then sendfile(2) runs on
    # every writable event, at most _SENDFILE_MAX_CHUNK bytes a call,
    # until the count is reached or the file ends. close() and abort()
    # end it with ConnectionError (asyncio's loop leaves it pending);
    # cancelling the future stops it. Either way the file position is
    # left after the last byte sent, and reading resumes if it was on.

    cdef object _sendfile_start(self, object file, object offset, object count):
        cdef object fileno
        if self._sf_fut is not None or self._empty_waiter is not None:
            raise RuntimeError("Empty waiter is already set")
        if "b" not in getattr(file, "mode", "b"):
            raise ValueError("file should be opened in binary mode")
        if count is not None:
            if not isinstance(count, int):
                raise TypeError(f"count must be a positive integer (got {count!r})")
            if count <= 0:
                raise ValueError(f"count must be a positive integer (got {count!r})")
        if not isinstance(offset, int):
            raise TypeError(f"offset must be a non-negative integer (got {offset!r})")
        if offset < 0:
            raise ValueError(f"offset must be a non-negative integer (got {offset!r})")
        try:
            fileno = file.fileno()
        except (AttributeError, io.UnsupportedOperation):
            raise _SendfileNotAvailableError("not a regular file")
        try:
            fsize = os.fstat(fileno).st_size
        except OSError:
            raise _SendfileNotAvailableError("not a regular file")
        fut = self._loop.create_future()
        if not (count if count else fsize):
            fut.set_result(0)  # an empty file (asyncio's early return)
            return fut
        if self._closing or self._sock is None:
            raise RuntimeError("Transport is closing")
        self._sf_fut = fut
        self._sf_file = file
        self._sf_in = fileno
        self._sf_offset = offset
        self._sf_left = count if count is not None else -1
        self._sf_total = 0
        self._sf_resume = not self._paused
        self.pause_reading()
        fut.add_done_callback(self._sendfile_future_done)
        if len(self._wbuf) == 0:
            self._sendfile_step()
        # else _on_write flushes the buffer, then calls _sendfile_step.
        return fut

    cdef int _sendfile_step(self) except -1:
        cdef ssize_t n
        cdef size_t want
        cdef int err
        if self._sf_fut.done():  # cancelled; the done callback may not have run yet
            self._sendfile_end()
            return 0
        if 0 <= self._sf_left < <int64_t>_SENDFILE_MAX_CHUNK:
            want = <size_t>self._sf_left
        else:
            want = _SENDFILE_MAX_CHUNK
        n = _c_sendfile(self._fd, self._sf_in, &self._sf_offset, want)
        if n > 0:
            self._sf_total += n
            if self._sf_left > 0:
                self._sf_left -= n
                if self._sf_left == 0:
                    return self._sendfile_done(None)
            # More on the next writable event (epoll is level-triggered).
            self._start_writing()
            return 0
        if n == 0:
            return self._sendfile_done(None)  # the file ended
        err = errno
        if err == EAGAIN or err == EINTR:
            self._start_writing()
            return 0
        exc = _oserror(err)
        if self._sf_total == 0:
            # As asyncio: a first call that fails (often: not a file
            # sendfile(2) can read) means "use the fallback".
            new_exc = _SendfileNotAvailableError("os.sendfile call failed")
        elif err == ENOTCONN:
            new_exc = ConnectionError("socket is not connected", err)
        else:
            new_exc = exc
        if new_exc is not exc:
            new_exc.__cause__ = exc
        return self._sendfile_done(new_exc)

    cdef int _sendfile_done(self, object exc) except -1:
        fut = self._sf_fut
        total = self._sf_total
        self._sendfile_end()
        if not fut.done():
            if exc is None:
                fut.set_result(total)
            else:
                fut.set_exception(exc)
        return 0

    cdef int _sendfile_end(self) except -1:
        # Forget the sendfile; put the file position after the bytes sent.
        file = self._sf_file
        self._sf_fut = None
        self._sf_file = None
        if self._sf_total > 0 and not getattr(file, "closed", False):
            _c_lseek(self._sf_in, self._sf_offset, SEEK_SET)
        self._sf_total = 0
        if len(self._wbuf) == 0:
            self._stop_writing()
        if self._sf_resume:
            self._sf_resume = False
            self.resume_reading()
        return 0

    def _sendfile_future_done(self, fut):
        if fut is self._sf_fut:  # cancelled while running
            self._sendfile_end()

    # -- sendfile support (asyncio's fallback path) ----------------------

    def _make_empty_waiter(self):
        if self._empty_waiter is not None:
            raise RuntimeError("Empty waiter is already set")
        self._empty_waiter = self._loop.create_future()
        if len(self._wbuf) == 0:
            self._empty_waiter.set_result(None)
        return self._empty_waiter

    def _reset_empty_waiter(self):
        self._empty_waiter = None


# Thousands of idle connections each keep their addresses: every connection
# of one listener has the same local address, and clients often come from a
# few hosts. Equal values are shared with the previous connection's instead
# of kept once per connection (bench_memory's c10k figure).
cdef object _last_sockname = None
cdef object _last_peer_host = None


cdef object _shared_sockname(object name):
    global _last_sockname
    if name == _last_sockname:
        return _last_sockname
    _last_sockname = name
    return name


cdef object _shared_peer_host(object name):
    global _last_peer_host
    if type(name) is tuple and len(name) >= 2:
        host = name[0]
        if host == _last_peer_host:
            return (_last_peer_host,) + name[1:]
        _last_peer_host = host
    return name


cdef SocketTransport _new_socket_transport(LoopBase loop, object sock, object protocol,
                                           object waiter, object extra, object server):
    cdef SocketTransport t = SocketTransport.__new__(SocketTransport)
    t._loop = loop
    t._sock = sock
    t._fd = sock.fileno()
    t._extra = {} if extra is None else dict(extra)
    try:
        t._extra["sockname"] = _shared_sockname(sock.getsockname())
    except OSError:
        t._extra["sockname"] = None
    if "peername" not in t._extra:
        try:
            t._extra["peername"] = _shared_peer_host(sock.getpeername())
        except OSError:
            t._extra["peername"] = None
    t._wbuf = []
    t._high = 64 * 1024
    t._low = 16 * 1024
    t._server = server
    if sock.family in (_socket.AF_INET, _socket.AF_INET6):
        try:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        except OSError:
            pass
    t.set_protocol(protocol)
    if server is not None:
        if _ATTACH_TAKES_TRANSPORT:
            server._attach(t)
        else:
            server._attach()
    loop._call_soon(t._start, (waiter,), None)
    return t
